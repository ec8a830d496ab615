//! One module per tool.

pub mod publish_wheel;
