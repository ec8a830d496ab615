//! The execution layer: commands as values and the one place they run.

pub mod base64;
pub mod cmd;
pub mod environment;
pub mod interrupt;
pub mod lock;
pub mod ports;
pub mod programs;
pub mod runner;
pub mod stream;
pub mod ui;
pub mod wait;
