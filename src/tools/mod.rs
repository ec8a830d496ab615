//! One module per tool.
pub mod artifact_registry;
