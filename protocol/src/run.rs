//! What a run reports while it goes ([`Event`]) and how it ended ([`Outcome`],
//! [`RunSummary`]): the same types for a local run's progress display and for the
//! messages of a remote one.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Something that happened during a run, for progress displays.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    StageStarted {
        stage: String,
    },
    /// Text a stage asked to print (`show`, `print_schema`, `explain`, `explain_analyze`),
    /// delivered whole so that outputs never interleave.
    StageOutput {
        stage: String,
        text: String,
    },
    StageFinished {
        stage: String,
        rows: Option<u64>,
        elapsed: Duration,
    },
    OutputWritten {
        stage: String,
        path: String,
        rows: u64,
    },
}

/// What a successful run did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunSummary {
    pub stages: usize,
    pub rows_written: Option<u64>,
    pub elapsed: Duration,
}

/// How an execution ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Succeeded {
        summary: RunSummary,
    },
    Failed {
        /// The stage that failed, when one did (not for a refused artifact).
        stage: Option<String>,
        message: String,
        memory_limit: bool,
        /// The run failed while replacing the destination, after part of it was
        /// replaced (absent from executors that predate it).
        #[serde(default)]
        destination_changed: bool,
    },
    Cancelled,
}
