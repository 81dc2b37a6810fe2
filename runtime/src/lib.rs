//! The Aqueducts runtime: executes compiled pipelines on DataFusion.
//!
//! It takes stages already lowered to DataFusion physical plans ([`ExecutablePipeline`]),
//! runs them under one memory pool with spilling ([`run`]), streams stages read several
//! times to their readers ([`shared`]), and writes destinations through staging that
//! replaces the previous output only when the whole run succeeded ([`output`]). Plans
//! travel as artifacts ([`artifact`]); data is reached through object stores and ODBC
//! ([`io`]); what a plan may touch is checked by [`access`]. It never parses specs or SQL:
//! that is the compiler's job.

pub mod access;
pub mod artifact;
pub mod functions;
pub mod io;
mod node_macros;
pub mod optimizer;
pub mod output;
pub mod pipeline;
pub mod run;
pub mod shared;

pub use aqueducts_protocol as protocol;
pub use aqueducts_protocol::{Event, RunSummary};
pub use artifact::DATAFUSION_VERSION;
pub use pipeline::{ExecutablePipeline, StagePlans};
pub use run::{InvalidMemoryLimit, RunError, RunSettings, configure_types, execute, execute_until};
