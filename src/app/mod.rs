//! What every tool shares: the project file, the operation grammar, the
//! common flags and the driver, and converging pieces.

pub mod cidr;
pub mod cli;
pub mod complete;
pub mod config;
pub mod converge;
pub mod docs;
pub mod driver;
pub mod grammar;
pub mod wait;
pub mod yaml;
