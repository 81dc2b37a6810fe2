//! The CLI against an orchestrator: `run --orchestrator`, `cancel --orchestrator`,
//! `deploy`, `runs` and `runs show`.
//!
//! A spec is sent as text and compiled by the orchestrator for the executor that runs
//! it; its diagnostics come back rendered against the same text, so they read exactly
//! as `aqueducts check` prints them. The run's events are followed over the API's event
//! stream, resumed after the last one seen when the stream breaks, and shown with the
//! same progress display as a local run.

mod client;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use aqueducts_protocol::Outcome;
use aqueducts_protocol::api::{
    CancelAnswer, PipelineDeploy, PipelineInfo, RunEvent, RunInfo, RunList, ScheduleSpec, SpecText, SubmitRun,
};
use client::{ApiFailure, Client};
use reqwest::Method;

use crate::error::{CliError, CliResult};
use crate::progress::{Mode, Progress};
use crate::run::{Input, progress_mode, report_failure, report_success};

/// Where the orchestrator is and how to prove who we are.
pub struct OrchestratorArgs {
    pub orchestrator: String,
    pub api_key: Option<String>,
    pub ca_cert: Option<PathBuf>,
}

impl OrchestratorArgs {
    fn client(&self) -> CliResult<Client> {
        let key = self.api_key.as_deref().ok_or_else(|| {
            CliError::Usage("--orchestrator needs --api-key (or AQUEDUCTS_API_KEY): a key of the orchestrator".into())
        })?;
        Client::new(&self.orchestrator, key, self.ca_cert.as_deref()).map_err(CliError::Usage)
    }
}

fn failed(failure: ApiFailure) -> CliError {
    eprintln!("error: {failure}");
    CliError::Failed
}

/// Whether a run in `state` has ended.
fn is_final(state: &str) -> bool {
    ["succeeded", "failed", "cancelled", "lost"].contains(&state)
}

/// How many times a broken event stream is resumed before giving up.
const RESUMES: u32 = 30;

/// `aqueducts run --orchestrator`: submits, follows, and exits as a local run would.
pub async fn run(input: Input, target: OrchestratorArgs, labels: Vec<(String, String)>, quiet: bool) -> CliResult {
    let client = target.client()?;
    let labels: BTreeMap<String, String> = labels.into_iter().collect();
    let submitted = match input {
        Input::Spec(spec) => {
            let (file, options) = spec.load()?;
            let format = file.format.key();
            let body = SubmitRun {
                spec: Some(SpecText {
                    text: file.text.to_string(),
                    format: format.into(),
                    name: Some(file.name.clone()),
                }),
                pipeline: None,
                params: options.params,
                labels,
                retries: 0,
            };
            let body = serde_json::to_vec(&body).map_err(|e| CliError::Usage(e.to_string()))?;
            match client.call::<RunInfo>(Method::POST, "/api/runs", Some(("application/json", body))).await {
                Err(ApiFailure::Status { diagnostics: Some(diagnostics), .. }) => {
                    eprint!("{diagnostics}");
                    eprintln!("error: {} has errors", file.name);
                    return Err(CliError::Failed);
                }
                other => other.map_err(failed)?,
            }
        }
        Input::Plan(path) => {
            let bytes =
                std::fs::read(&path).map_err(|e| CliError::Usage(format!("cannot read `{}`: {e}", path.display())))?;
            let query: String = labels
                .iter()
                .map(|(key, value)| format!("label={}", url_encode(&format!("{key}={value}"))))
                .collect::<Vec<_>>()
                .join("&");
            let path = if query.is_empty() { "/api/runs".to_string() } else { format!("/api/runs?{query}") };
            client
                .call::<RunInfo>(Method::POST, &path, Some(("application/octet-stream", bytes)))
                .await
                .map_err(failed)?
        }
    };
    // Printed even with --quiet: it is what `aqueducts cancel` needs.
    eprintln!("run {} on orchestrator {}", submitted.id, client.base());
    follow(&client, &submitted.id, quiet).await
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Shows a run's events until it ends; Ctrl-C asks the orchestrator to cancel it.
async fn follow(client: &Client, run_id: &str, quiet: bool) -> CliResult {
    // Shared by the event stream and the Ctrl-C handling (never at the same moment;
    // locks because the future moves between worker threads).
    let progress = Mutex::new(Progress::new(progress_mode(quiet)));
    let last = AtomicI64::new(0);
    let end: Mutex<Option<(String, Option<Outcome>)>> = Mutex::new(None);
    // One listener for the whole run: a Ctrl-C pressed while nothing waits for it (during
    // the cancel call, between two streams) is not lost.
    let (pressed, mut interrupts) = tokio::sync::mpsc::unbounded_channel::<()>();
    let listener = tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            if pressed.send(()).is_err() {
                break;
            }
        }
    });
    let _stop_listening = AbortOnDrop(listener);
    let mut interrupted = false;
    let mut breaks = 0;
    let ended =
        |end: &Mutex<Option<(String, Option<Outcome>)>>| end.lock().unwrap_or_else(|p| p.into_inner()).is_some();
    while !ended(&end) {
        let before = last.load(Ordering::Relaxed);
        let stream = client.follow_events(run_id, before, |event| {
            last.store(event.id, Ordering::Relaxed);
            show(
                &mut progress.lock().unwrap_or_else(|p| p.into_inner()),
                event.event,
                &mut end.lock().unwrap_or_else(|p| p.into_inner()),
            );
        });
        let result = tokio::select! {
            result = stream => result,
            Some(()) = interrupts.recv() => {
                interrupt(client, run_id, &mut interrupted, &progress).await?;
                continue;
            }
        };
        if last.load(Ordering::Relaxed) > before {
            breaks = 0;
        }
        match result {
            Ok(_) if ended(&end) => break,
            Ok(_) => {
                // The stream ended without the run's end (written apart after a crash,
                // perhaps): the run itself says how it ended.
                if let Ok(run) = client.call::<RunInfo>(Method::GET, &format!("/api/runs/{run_id}"), None).await
                    && is_final(&run.state)
                {
                    *end.lock().unwrap_or_else(|p| p.into_inner()) = Some((run.state, run.outcome));
                    break;
                }
                breaks += 1;
            }
            Err(ApiFailure::Transport(_)) => breaks += 1,
            Err(ApiFailure::Status { status, .. }) if status.is_server_error() => breaks += 1,
            Err(failure) => {
                progress.lock().unwrap_or_else(|p| p.into_inner()).finish();
                return Err(failed(failure));
            }
        }
        if breaks > RESUMES {
            progress.lock().unwrap_or_else(|p| p.into_inner()).finish();
            eprintln!(
                "error: the orchestrator's event stream of run {run_id} keeps breaking; see `aqueducts runs show {run_id}`"
            );
            return Err(CliError::Failed);
        }
        // The orchestrator may be restarting: a moment, then resume after the last event.
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            Some(()) = interrupts.recv() => interrupt(client, run_id, &mut interrupted, &progress).await?,
        }
    }
    progress.lock().unwrap_or_else(|p| p.into_inner()).finish();
    let (state, outcome) = end.lock().unwrap_or_else(|p| p.into_inner()).take().unwrap_or_default();
    match (state.as_str(), outcome) {
        (_, Some(Outcome::Succeeded { summary })) => report_success(&summary, quiet),
        (_, Some(Outcome::Failed { message, memory_limit, destination_changed, .. })) => {
            report_failure(&message, memory_limit, destination_changed, "the executor's --max-memory")
        }
        (_, Some(Outcome::Cancelled)) | ("cancelled", None) => {
            eprintln!("cancelled: the run was stopped and the destination left as it was");
            Err(CliError::Failed)
        }
        ("lost", _) => {
            eprintln!(
                "error: the run was lost: its executor went away and it had no retries left; its destination is as it was"
            );
            Err(CliError::Failed)
        }
        (state, None) => {
            eprintln!("error: the run ended {state}");
            Err(CliError::Failed)
        }
    }
}

/// A Ctrl-C: the first asks the orchestrator to cancel the run (the stream goes on and
/// shows the end); a second leaves at once.
async fn interrupt(client: &Client, run_id: &str, interrupted: &mut bool, progress: &Mutex<Progress>) -> CliResult {
    if *interrupted {
        progress.lock().unwrap_or_else(|p| p.into_inner()).finish();
        eprintln!("interrupted again: leaving; the orchestrator goes on cancelling run {run_id}");
        return Err(CliError::Failed);
    }
    *interrupted = true;
    let path = format!("/api/runs/{run_id}/cancel");
    let note =
        match tokio::time::timeout(Duration::from_secs(10), client.call::<CancelAnswer>(Method::POST, &path, None))
            .await
        {
            Ok(Ok(_)) => "interrupted: cancelling the run".to_string(),
            Ok(Err(failure)) => format!("interrupted, but the cancel failed: {failure}"),
            Err(_) => "interrupted, but the orchestrator did not answer the cancel within 10 s".to_string(),
        };
    progress.lock().unwrap_or_else(|p| p.into_inner()).note(&note);
    Ok(())
}

/// Stops a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn show(progress: &mut Progress, event: RunEvent, end: &mut Option<(String, Option<Outcome>)>) {
    match event {
        RunEvent::Queued { position } => {
            let ahead = position.saturating_sub(1);
            progress.note(&format!("queued: position {position} ({ahead} ahead)"));
        }
        RunEvent::Assigned { executor_id, attempt } => {
            progress.note(&format!("running on executor {executor_id} (attempt {attempt})"))
        }
        // The stage graph is for the web interface; the stage lines say the same here.
        RunEvent::Planned { .. } => {}
        RunEvent::Started { .. } => progress.note("started"),
        RunEvent::Progress { event, .. } => progress.on_event(event),
        RunEvent::CancelRequested => progress.note("cancel requested"),
        RunEvent::Lost { executor_id, reason, .. } => {
            progress.note(&format!("executor {executor_id} was lost: {reason}"))
        }
        RunEvent::Retrying { attempt, .. } => progress.note(&format!("the run waits for attempt {attempt}")),
        RunEvent::Ended { state, outcome } => *end = Some((state, outcome)),
    }
}

/// What a deployment sets besides the spec.
pub struct DeploySettings {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub retries: u32,
    pub max_concurrent: u32,
    pub schedules: Vec<String>,
    pub timezone: String,
    pub catch_up: bool,
    pub file_trigger: Option<aqueducts_protocol::api::FileTriggerSpec>,
}

/// `aqueducts deploy`: a new version, checked by the orchestrator on an executor first.
pub async fn deploy(spec: crate::args::SpecArgs, target: OrchestratorArgs, settings: DeploySettings) -> CliResult {
    let client = target.client()?;
    let (file, options) = spec.load()?;
    let body = PipelineDeploy {
        spec: SpecText { text: file.text.to_string(), format: file.format.key().into(), name: Some(file.name.clone()) },
        params: options.params,
        labels: settings.labels.into_iter().collect(),
        retries: settings.retries,
        max_concurrent: Some(settings.max_concurrent),
        schedules: settings
            .schedules
            .iter()
            .map(|cron| ScheduleSpec { cron: cron.clone(), timezone: settings.timezone.clone() })
            .collect(),
        catch_up: Some(settings.catch_up),
        file_trigger: settings.file_trigger,
    };
    let body = serde_json::to_vec(&body).map_err(|e| CliError::Usage(e.to_string()))?;
    let path = format!("/api/pipelines/{}", url_encode(&settings.name));
    match client.call::<PipelineInfo>(Method::PUT, &path, Some(("application/json", body))).await {
        Ok(deployed) => {
            let checked = deployed.checked_on.map(|on| format!(" checked on executor {on}")).unwrap_or_default();
            println!(
                "deployed {} version {} (sha256 {}){checked}",
                deployed.name, deployed.version, deployed.spec_hash
            );
            for schedule in &deployed.schedules {
                let next = timestamp(schedule.next_fire_ms);
                println!("schedule `{}` ({}): next run {next}", schedule.cron, schedule.timezone);
            }
            Ok(())
        }
        Err(ApiFailure::Status { diagnostics: Some(diagnostics), .. }) => {
            eprint!("{diagnostics}");
            eprintln!("error: {} has errors", file.name);
            Err(CliError::Failed)
        }
        Err(failure) => Err(failed(failure)),
    }
}

/// `aqueducts cancel --orchestrator`.
pub async fn cancel(target: OrchestratorArgs, run_id: String) -> CliResult {
    let client = target.client()?;
    let answer =
        client.call::<CancelAnswer>(Method::POST, &format!("/api/runs/{run_id}/cancel"), None).await.map_err(failed)?;
    if answer.state == "cancelled" {
        println!("cancelled run {run_id}");
        return Ok(());
    }
    // Running: wait (a while) for its executor to stop it.
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        let run = client.call::<RunInfo>(Method::GET, &format!("/api/runs/{run_id}"), None).await.map_err(failed)?;
        if is_final(&run.state) {
            if run.state == "cancelled" {
                println!("cancelled run {run_id}");
                return Ok(());
            }
            eprintln!("error: run {run_id} ended {} before it could be cancelled", run.state);
            return Err(CliError::Failed);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("error: run {run_id} is still being cancelled after 30 s; see `aqueducts runs show {run_id}`");
    Err(CliError::Failed)
}

/// `aqueducts runs`: the history, newest first.
pub async fn list(target: OrchestratorArgs, pipeline: Option<String>, state: Option<String>, limit: u32) -> CliResult {
    let client = target.client()?;
    let mut query = vec![format!("limit={limit}")];
    if let Some(pipeline) = pipeline {
        query.push(format!("pipeline={}", url_encode(&pipeline)));
    }
    if let Some(state) = state {
        query.push(format!("state={}", url_encode(&state)));
    }
    let list =
        client.call::<RunList>(Method::GET, &format!("/api/runs?{}", query.join("&")), None).await.map_err(failed)?;
    println!("{:<36}  {:<20}  {:<9}  {:<16}  {:<24}  DURATION", "ID", "PIPELINE", "STATE", "EXECUTOR", "CREATED");
    for run in list.runs {
        let duration = match (run.started_ms, run.ended_ms) {
            (Some(start), Some(end)) => format!("{:.1} s", (end - start) as f64 / 1000.0),
            _ => "-".into(),
        };
        println!(
            "{:<36}  {:<20}  {:<9}  {:<16}  {:<24}  {duration}",
            run.id,
            run.pipeline.as_deref().unwrap_or("-"),
            run.state,
            run.executor_id.as_deref().unwrap_or("-"),
            timestamp(run.created_ms),
        );
    }
    Ok(())
}

/// `aqueducts runs show ID`: a run and its events.
pub async fn show_run(target: OrchestratorArgs, run_id: String) -> CliResult {
    let client = target.client()?;
    let run = client.call::<RunInfo>(Method::GET, &format!("/api/runs/{run_id}"), None).await.map_err(failed)?;
    println!("run        {}", run.id);
    println!("state      {}", run.state);
    if let Some(pipeline) = &run.pipeline {
        println!("pipeline   {pipeline} (version {})", run.pipeline_version.unwrap_or_default());
    }
    println!("trigger    {}", run.trigger);
    println!(
        "executor   {} (attempt {} of {})",
        run.executor_id.as_deref().unwrap_or("-"),
        run.attempt,
        run.retries + 1
    );
    println!("created    {}", timestamp(run.created_ms));
    if let Some(position) = run.queue_position {
        println!("queued     position {position}");
    }
    if !run.labels.is_empty() {
        let labels: Vec<String> = run.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!("labels     {}", labels.join(", "));
    }
    if let Some(outcome) = &run.outcome {
        match outcome {
            Outcome::Succeeded { summary } => println!(
                "outcome    succeeded: {} stages, {} rows written",
                summary.stages,
                summary.rows_written.map_or("-".into(), |rows| rows.to_string())
            ),
            Outcome::Failed { stage, message, .. } => {
                println!(
                    "outcome    failed{}: {message}",
                    stage.as_ref().map(|s| format!(" in stage {s}")).unwrap_or_default()
                )
            }
            Outcome::Cancelled => println!("outcome    cancelled"),
        }
    }
    // The stored events, replayed as a run shows them (a live run is not waited for).
    let mut progress = Progress::new(Mode::Lines);
    let mut end = None;
    if is_final(&run.state) {
        client.follow_events(&run_id, 0, |event| show(&mut progress, event.event, &mut end)).await.map_err(failed)?;
    }
    progress.finish();
    Ok(())
}

/// Milliseconds since the epoch, as an RFC 3339 time in UTC.
fn timestamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map_or_else(|| ms.to_string(), |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
}
