//! Running a lowered pipeline: every stage at once ([`execute`]) under one memory pool
//! ([`memory`], [`settings`]), reporting events and ending in an [`outcome`].

pub mod execute;
pub mod memory;
pub mod outcome;
pub mod settings;

pub use execute::{execute, execute_until};
pub use outcome::RunError;
pub use settings::{InvalidMemoryLimit, RunSettings, configure_types};
