//! [`CliError`]: why a command did not succeed, and the exit code that says so.
//!
//! Exit codes: 0 success, 1 the pipeline has errors or the run failed (what went wrong is
//! printed where it is found: diagnostics, a failed stage), 2 usage errors (bad flags, an
//! unreadable spec file), printed by `main` as one line.

use std::process::ExitCode;

/// Why a command stopped short.
#[derive(Debug)]
pub enum CliError {
    /// Bad flags or an unreadable input: printed as `error: ...`, exit code 2.
    Usage(String),
    /// The spec has errors or the run failed; it was reported already. Exit code 1.
    Failed,
}

impl CliError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Usage(_) => ExitCode::from(2),
            CliError::Failed => ExitCode::from(1),
        }
    }
}

/// What every command returns.
pub type CliResult<T = ()> = Result<T, CliError>;
