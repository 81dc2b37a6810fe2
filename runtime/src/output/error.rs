//! [`CommitError`]: a destination that could not be replaced, and whether it changed.

/// A commit that failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct CommitError {
    pub message: String,
    /// Part of the destination was replaced before the failure.
    pub destination_changed: bool,
}
