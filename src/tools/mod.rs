//! One module per tool.

pub mod kubectl_ray;
