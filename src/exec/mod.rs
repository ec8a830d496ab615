//! The execution layer: commands as values and the one place they run.

pub mod cmd;
pub mod environment;
pub mod interrupt;
pub mod lock;
pub mod programs;
pub mod runner;
pub mod ui;
