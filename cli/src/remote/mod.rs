//! Runs on an `aqueducts-executor`: `run --executor` and `cancel`.
//!
//! One connection carries a remote run: the executor greets with its working directory,
//! the spec is compiled against the executor's files (`aqueducts_compiler::remote`,
//! answered over this connection), the artifact goes over as one binary message, and
//! the executor's progress, stage output and outcome come back and are shown as for a
//! local run. Ctrl-C cancels the execution on the executor.

pub mod connection;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aqueducts_compiler::remote::{RemoteDescriber, RemoteFiles};
use aqueducts_compiler::sql::compile_context;
use aqueducts_protocol::{CancelOutcome, ClientMessage, ExecutorMessage, Outcome};
use aqueducts_runtime::RunSettings;
use datafusion::execution::object_store::ObjectStoreUrl;

use crate::error::{CliError, CliResult};
use crate::progress::Progress;
use crate::run::{Input, Target as CompileTarget, compile, progress_mode, report_failure, report_success};
use connection::{Connection, Target, websocket_url};

/// How to reach an executor, from `--executor`, `--api-key` and `--ca-cert`.
pub struct ExecutorArgs {
    pub executor: String,
    pub api_key: Option<String>,
    pub ca_cert: Option<PathBuf>,
}

impl ExecutorArgs {
    fn target(&self) -> CliResult<Target> {
        let url = websocket_url(&self.executor).map_err(CliError::Usage)?;
        let api_key = match &self.api_key {
            Some(key) if !key.is_empty() => key.clone(),
            _ => return Err(CliError::Usage("--api-key is needed with --executor (or set AQUEDUCTS_API_KEY)".into())),
        };
        Ok(Target { url, api_key, ca_cert: self.ca_cert.clone() })
    }
}

/// Connects, or says why not (exit code 1).
async fn open(executor: &ExecutorArgs) -> CliResult<Connection> {
    match Connection::open(&executor.target()?).await {
        Ok(connection) => Ok(connection),
        Err(message) => {
            eprintln!("error: {message}");
            Err(CliError::Failed)
        }
    }
}

pub async fn run(input: Input, executor: ExecutorArgs, quiet: bool) -> CliResult {
    let mut connection = open(&executor).await?;
    let welcome = connection.welcome.clone();
    let bytes = match input {
        Input::Spec(spec) => {
            let ctx = compile_context(&RunSettings::default()).map_err(|e| CliError::Usage(e.to_string()))?;
            let files = Arc::new(RemoteFiles::new(Arc::new(connection.requests.clone()), welcome.executor_id.clone()));
            ctx.register_object_store(ObjectStoreUrl::local_filesystem().as_ref(), files.clone());
            let describer = Arc::new(RemoteDescriber::new(Arc::new(connection.requests.clone())));
            let target = CompileTarget::Executor {
                working_directory: PathBuf::from(&welcome.working_directory),
                files,
                describer,
            };
            compile(&spec, &ctx, &target).await?
        }
        Input::Plan(path) => {
            std::fs::read(&path).map_err(|e| CliError::Usage(format!("cannot read `{}`: {e}", path.display())))?
        }
    };
    if bytes.len() > welcome.max_message_bytes {
        eprintln!(
            "error: the plan artifact has {} bytes; executor {} accepts at most {}",
            bytes.len(),
            welcome.executor_id,
            welcome.max_message_bytes
        );
        return Err(CliError::Failed);
    }
    if let Err(message) = connection.requests.send_bytes(bytes) {
        eprintln!("error: {message}");
        return Err(CliError::Failed);
    }
    follow(&mut connection, quiet).await
}

/// Shows what the executor reports until the execution's final message.
async fn follow(connection: &mut Connection, quiet: bool) -> CliResult {
    let mut progress = Progress::new(progress_mode(quiet));
    let mut execution: Option<String> = None;
    let mut interrupted = false;
    let executor_id = connection.welcome.executor_id.clone();
    loop {
        let message = tokio::select! {
            message = connection.next() => message,
            _ = tokio::signal::ctrl_c() => {
                if interrupted {
                    // A second Ctrl-C does not wait for the executor: closing the
                    // connection cancels the execution there too.
                    progress.finish();
                    eprintln!("interrupted again: leaving without waiting for the executor");
                    return Err(CliError::Failed);
                }
                interrupted = true;
                match &execution {
                    Some(id) => {
                        let _ = connection.requests.send(&ClientMessage::Cancel { execution_id: id.clone() });
                        progress.note("interrupted: cancelling the execution on the executor");
                        continue;
                    }
                    None => {
                        // Closing the connection cancels anything it submitted.
                        eprintln!("interrupted before the executor accepted the run");
                        return Err(CliError::Failed);
                    }
                }
            }
        };
        let Some(message) = message else {
            progress.finish();
            eprintln!("error: the connection to executor {executor_id} was lost; the run was cancelled there");
            return Err(CliError::Failed);
        };
        match message {
            ExecutorMessage::Accepted { execution_id } => {
                // Printed even with --quiet: it is what `aqueducts cancel` needs.
                eprintln!("execution {execution_id} on executor {executor_id}");
                execution = Some(execution_id);
            }
            ExecutorMessage::Queued { position, .. } => {
                let ahead = position.saturating_sub(1);
                progress.note(&format!("queued: position {position} ({ahead} ahead)"));
            }
            ExecutorMessage::Started { .. } => progress.note("started"),
            ExecutorMessage::Progress { event, .. } => progress.on_event(event),
            ExecutorMessage::Finished { outcome, .. } => {
                progress.finish();
                return match outcome {
                    Outcome::Succeeded { summary } => report_success(&summary, quiet),
                    Outcome::Failed { message, memory_limit, destination_changed, .. } => {
                        report_failure(&message, memory_limit, destination_changed, "the executor's --max-memory")
                    }
                    Outcome::Cancelled => {
                        eprintln!("cancelled: the execution was stopped and the destination left as it was");
                        Err(CliError::Failed)
                    }
                };
            }
            ExecutorMessage::Error { message } => {
                progress.finish();
                eprintln!("error: executor {executor_id}: {message}");
                return Err(CliError::Failed);
            }
            ExecutorMessage::Welcome { .. }
            | ExecutorMessage::StoreReply { .. }
            | ExecutorMessage::CancelReply { .. } => {}
        }
    }
}

/// `aqueducts cancel`: asks the executor to stop an execution and reports what happened.
pub async fn cancel(executor: ExecutorArgs, execution_id: String) -> CliResult {
    let mut connection = open(&executor).await?;
    if let Err(message) = connection.requests.send(&ClientMessage::Cancel { execution_id: execution_id.clone() }) {
        eprintln!("error: {message}");
        return Err(CliError::Failed);
    }
    let answer = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match connection.next().await {
                Some(ExecutorMessage::CancelReply { outcome, .. }) => return Some(Ok(outcome)),
                Some(ExecutorMessage::Error { message }) => return Some(Err(message)),
                Some(_) => continue,
                None => return None,
            }
        }
    })
    .await;
    let executor_id = &connection.welcome.executor_id;
    match answer {
        Ok(Some(Ok(CancelOutcome::Cancelled))) => {
            println!("cancelled execution {execution_id} on executor {executor_id}");
            Ok(())
        }
        Ok(Some(Ok(CancelOutcome::Unknown))) => {
            eprintln!(
                "error: executor {executor_id} has no queued or running execution `{execution_id}` (it may have finished already)"
            );
            Err(CliError::Failed)
        }
        Ok(Some(Err(message))) => {
            eprintln!("error: executor {executor_id}: {message}");
            Err(CliError::Failed)
        }
        Ok(None) => {
            eprintln!("error: executor {executor_id} closed the connection without answering");
            Err(CliError::Failed)
        }
        Err(_) => {
            eprintln!("error: executor {executor_id} did not answer within 30 s");
            Err(CliError::Failed)
        }
    }
}
