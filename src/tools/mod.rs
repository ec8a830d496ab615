//! One module per tool.

pub mod kas;
