//! How a run ends when it fails: a [`RunError`] naming the stage. (A run that succeeds
//! returns the protocol's `RunSummary`, so remote runs report the same.)

use datafusion::error::DataFusionError;

/// A run that failed, in which stage and why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("stage `{stage}` failed: {message}")]
pub struct RunError {
    pub stage: String,
    pub message: String,
    /// The memory pool was exhausted.
    pub memory_limit: bool,
    /// The run failed while replacing the destination, after part of it was replaced.
    pub destination_changed: bool,
    /// The run was stopped before it replaced anything (see `execute_until`).
    pub cancelled: bool,
}

impl RunError {
    pub(crate) fn new(stage: &str, error: DataFusionError) -> Self {
        Self::of(stage, &error)
    }

    /// `stage` failed with `error`: its first line, and whether the memory pool was
    /// exhausted.
    pub(crate) fn of(stage: &str, error: &DataFusionError) -> Self {
        let memory_limit = matches!(error.find_root(), DataFusionError::ResourcesExhausted(_));
        let message = error.strip_backtrace();
        let message = message.lines().next().unwrap_or(&message).to_string();
        RunError { stage: stage.to_string(), message, memory_limit, destination_changed: false, cancelled: false }
    }

    /// A run stopped before its commit; every destination is as it was.
    pub fn cancelled() -> Self {
        RunError {
            stage: String::new(),
            message: "the run was stopped; every destination was left as it was".into(),
            memory_limit: false,
            destination_changed: false,
            cancelled: true,
        }
    }
}
