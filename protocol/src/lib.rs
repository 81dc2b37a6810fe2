//! The wire types of Aqueducts: what the CLI, executors and orchestrators say to each
//! other, as serde types and nothing else.
//!
//! This crate is deliberately tiny and has no DataFusion dependency, so a client, a
//! server or a test can speak the protocol without linking a query engine. Plans travel
//! as opaque artifact bytes (see the runtime's `artifact` module); everything else is
//! JSON in WebSocket text frames: between a CLI and an executor ([`executor`]), between a
//! managed executor and its orchestrator ([`managed`]), and the orchestrator's HTTP API
//! ([`api`]); run progress and outcomes
//! ([`run`]) and the health reply ([`health`]) are shared by both.
//!
//! The protocol has its own version, [`PROTOCOL_VERSION`], independent of the artifact
//! format and of DataFusion's: a client sends it in [`PROTOCOL_HEADER`] and the server
//! repeats its own in its first message, so either side can refuse the other before
//! anything else is exchanged.

pub mod api;
pub mod executor;
pub mod health;
pub mod managed;
pub mod run;

pub use executor::{
    CancelOutcome, ClientMessage, DescribedColumn, ExecutorMessage, FileInfo, StoreAnswer, StoreOperation,
    get_reply_frame, parse_get_reply_frame,
};
pub use health::{Health, HealthDetails};
pub use run::{Event, Outcome, RunSummary};

/// The version of the messages in this crate. Raise it whenever a message changes in a
/// way an older peer would misread.
pub const PROTOCOL_VERSION: u32 = 1;

/// The route of the executor's WebSocket endpoint.
pub const CONNECT_PATH: &str = "/ws/connect";
/// The route of the health reply ([`Health`]).
pub const HEALTH_PATH: &str = "/api/health";
/// The header carrying the API key.
pub const API_KEY_HEADER: &str = "X-API-Key";
/// The header in which a client says which [`PROTOCOL_VERSION`] it speaks.
pub const PROTOCOL_HEADER: &str = "X-Aqueducts-Protocol";
