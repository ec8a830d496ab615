//! Plan snapshots: for every tool and operation, in the world states that
//! matter (nothing there, everything there, half built), exactly what the
//! tool would run under `--dry-run` and what it would say.

#[path = "plans/world.rs"]
mod world;

#[path = "plans/artifact_registry.rs"]
mod artifact_registry;
