//! `/api/runs`: submit, list, show and cancel runs, and follow a run's events.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use aqueducts_protocol::api::{CancelAnswer, RunEvent, RunInfo, RunList, SpecText, StreamedEvent, SubmitRun};
use aqueducts_protocol::managed::{OrchestratorMessage, is_plain_name};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use tokio::sync::mpsc;

use crate::auth::{Caller, Submitter};
use crate::compile::{self, CompileError};
use crate::db::keys::Role;
use crate::db::pipelines;
use crate::db::runs::{self, NewRun, Run, RunState, Work};
use crate::error::ApiFailure;
use crate::state::Orchestrator;

/// Runs per page at most.
pub const MAX_PAGE: i64 = 500;

pub async fn info(orchestrator: &Orchestrator, run: &Run) -> Result<RunInfo, ApiFailure> {
    let queue_position = match run.state {
        RunState::Queued => Some(runs::queue_position(&orchestrator.db, run.seq).await?),
        _ => None,
    };
    Ok(RunInfo {
        id: run.id.clone(),
        pipeline: run.pipeline.as_ref().map(|(name, _)| name.clone()),
        pipeline_version: run.pipeline.as_ref().map(|(_, version)| *version),
        trigger: run.trigger_kind.clone(),
        state: run.state.name().into(),
        attempt: run.attempt,
        retries: run.retries,
        executor_id: run.executor_id.clone(),
        labels: run.labels.clone(),
        params: super::shown::shown_params(&run.params),
        created_ms: run.created_ms,
        started_ms: run.started_ms,
        ended_ms: run.ended_ms,
        outcome: run.outcome.as_deref().and_then(|text| serde_json::from_str(text).ok()),
        queue_position,
        cancel_requested: run.cancel_requested,
        failure_report: None,
    })
}

fn bad_request(message: impl Into<String>) -> ApiFailure {
    ApiFailure::new(StatusCode::BAD_REQUEST, message)
}

pub fn check_labels(labels: &BTreeMap<String, String>) -> Result<(), ApiFailure> {
    match labels.iter().find(|(key, value)| !is_plain_name(key) || !is_plain_name(value)) {
        Some((key, value)) => Err(bad_request(format!(
            "`{key}={value}` is not a label: keys and values are 1 to 128 letters, digits, `.`, `_` or `-`"
        ))),
        None => Ok(()),
    }
}

/// `POST /api/runs`: a spec (JSON) or an artifact (octet-stream).
pub async fn submit(
    State(orchestrator): State<Arc<Orchestrator>>,
    Submitter(caller): Submitter,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, ApiFailure> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let new_run = if content_type.starts_with("application/octet-stream") {
        aqueducts_runtime::artifact::check_header(&body)
            .map_err(|error| bad_request(format!("not a plan artifact this orchestrator can run: {error}")))?;
        let (labels, retries) = artifact_query(query.as_deref().unwrap_or_default())?;
        NewRun {
            pipeline: None,
            trigger_kind: "api".into(),
            trigger_key: None,
            work: Work::Artifact(body.to_vec()),
            params: BTreeMap::new(),
            labels,
            retries,
        }
    } else if content_type.starts_with("application/json") {
        let submitted: SubmitRun =
            serde_json::from_slice(&body).map_err(|e| bad_request(format!("the body is not a run: {e}")))?;
        check_labels(&submitted.labels)?;
        match (submitted.spec, submitted.pipeline) {
            (Some(spec), None) => {
                let (format, name) = checked_spec(&orchestrator, &spec, &submitted.params, &submitted.labels).await?;
                NewRun {
                    pipeline: None,
                    trigger_kind: "api".into(),
                    trigger_key: None,
                    work: Work::Spec { text: spec.text, format, name },
                    params: submitted.params,
                    labels: submitted.labels,
                    retries: submitted.retries,
                }
            }
            (None, Some(pipeline)) => pipeline_run(&orchestrator, &pipeline, submitted.params, "api", None).await?,
            _ => return Err(bad_request("give either `spec` or `pipeline`")),
        }
    } else {
        return Err(ApiFailure::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send a spec as application/json or a plan artifact as application/octet-stream",
        ));
    };
    let run = queue(&orchestrator, &new_run).await?.ok_or_else(|| ApiFailure::internal("a run id repeated"))?;
    tracing::info!(run_id = %run.id, by = %caller.name, "run submitted");
    Ok((StatusCode::CREATED, Json(info(&orchestrator, &run).await?)).into_response())
}

/// Checks a spec against a connected executor its labels fit (when one is connected),
/// so that a broken spec is refused with its diagnostics; its format and name.
pub async fn checked_spec(
    orchestrator: &Arc<Orchestrator>,
    spec: &SpecText,
    params: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> Result<(String, String), ApiFailure> {
    let format = spec.format.to_ascii_lowercase();
    if aqueducts_compiler::SpecFormat::from_key(&format).is_none() {
        return Err(bad_request(format!("`{format}` is not a spec format: use yaml, json or toml")));
    }
    let name = spec.name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| format!("spec.{format}"));
    if let Some(executor) = orchestrator.executors.any_fitting(labels) {
        let compiled = compile::for_executor(orchestrator, &executor, &name, &spec.text, &format, params).await;
        if let Err(CompileError::Invalid(diagnostics, located)) = compiled {
            return Err(ApiFailure::invalid(format!("{name} has errors"), diagnostics, located));
        }
    }
    Ok((format, name))
}

/// A run of the current version of pipeline `name`, its parameters over the defaults.
pub async fn pipeline_run(
    orchestrator: &Orchestrator,
    name: &str,
    params: BTreeMap<String, String>,
    trigger_kind: &str,
    trigger_key: Option<String>,
) -> Result<NewRun, ApiFailure> {
    let version = pipelines::get(&orchestrator.db, name, None)
        .await?
        .ok_or_else(|| ApiFailure::not_found(format!("deployed pipeline `{name}`")))?;
    let mut merged = version.settings.params.clone();
    merged.extend(params);
    Ok(NewRun {
        pipeline: Some((version.name.clone(), version.version)),
        trigger_kind: trigger_kind.into(),
        trigger_key,
        work: Work::Spec { text: version.spec, format: version.spec_format, name: version.settings.spec_name.clone() },
        params: merged,
        labels: version.settings.labels.clone(),
        retries: version.settings.retries,
    })
}

/// Queues a run, records its place, and wakes the dispatcher; `None` when its trigger
/// key queued one already.
pub async fn queue(orchestrator: &Orchestrator, new_run: &NewRun) -> Result<Option<Run>, ApiFailure> {
    let Some(run) = orchestrator.events.queue(&orchestrator.db, new_run).await? else { return Ok(None) };
    orchestrator.wake.notify_one();
    Ok(Some(run))
}

fn artifact_query(query: &str) -> Result<(BTreeMap<String, String>, u32), ApiFailure> {
    let mut labels = BTreeMap::new();
    let mut retries = 0;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "label" => {
                let (k, v) = value
                    .split_once('=')
                    .ok_or_else(|| bad_request(format!("`label={value}`: write label=KEY=VALUE")))?;
                labels.insert(k.to_string(), v.to_string());
            }
            "retries" => {
                retries = value.parse().map_err(|_| bad_request(format!("`retries={value}` is not a number")))?
            }
            other => return Err(bad_request(format!("unknown query parameter `{other}`; use label or retries"))),
        }
    }
    check_labels(&labels)?;
    Ok((labels, retries))
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    state: Option<String>,
    pipeline: Option<String>,
    limit: Option<i64>,
    before: Option<i64>,
}

/// `GET /api/runs`: newest first, a page at a time.
pub async fn list(
    State(orchestrator): State<Arc<Orchestrator>>,
    _caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<RunList>, ApiFailure> {
    let state = match query.state.as_deref().filter(|s| !s.is_empty()) {
        Some(name) => Some(RunState::parse(name).ok_or_else(|| {
            bad_request(format!(
                "`{name}` is not a run state: use queued, assigned, running, succeeded, failed, cancelled or lost"
            ))
        })?),
        None => None,
    };
    let limit = query.limit.unwrap_or(50).clamp(1, MAX_PAGE);
    let pipeline = query.pipeline.as_deref().filter(|p| !p.is_empty());
    let found = runs::list(&orchestrator.db, state, pipeline, query.before, limit).await?;
    let next_before = (found.len() as i64 == limit).then(|| found.last().map(|run| run.seq)).flatten();
    let mut infos = Vec::with_capacity(found.len());
    for run in &found {
        infos.push(info(&orchestrator, run).await?);
    }
    Ok(Json(RunList { runs: infos, next_before }))
}

async fn find(orchestrator: &Orchestrator, id: &str) -> Result<Run, ApiFailure> {
    runs::get(&orchestrator.db, id).await?.ok_or_else(|| ApiFailure::not_found(format!("run `{id}`")))
}

/// `GET /api/runs/{id}`.
pub async fn show(
    State(orchestrator): State<Arc<Orchestrator>>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RunInfo>, ApiFailure> {
    let run = find(&orchestrator, &id).await?;
    let mut shown = info(&orchestrator, &run).await?;
    shown.failure_report = failure_report(&run, shown.outcome.as_ref());
    Ok(Json(shown))
}

/// A stage's failure quoted against the run's spec (not for artifacts, whose text is
/// unknown, nor for failures before any stage ran, whose message says it all).
fn failure_report(run: &Run, outcome: Option<&aqueducts_protocol::Outcome>) -> Option<String> {
    let Some(aqueducts_protocol::Outcome::Failed { stage: Some(stage), message, .. }) = outcome else { return None };
    let Work::Spec { text, format, name } = &run.work else { return None };
    let format = aqueducts_compiler::SpecFormat::from_key(format)?;
    let file = aqueducts_compiler::SourceFile::new(name.as_str(), text.as_str(), format);
    aqueducts_compiler::failure::run_failure_report(&file, stage, message)
}

/// `POST /api/runs/{id}/cancel`: a queued run is cancelled at once; a running one
/// when its executor has stopped it.
pub async fn cancel(
    State(orchestrator): State<Arc<Orchestrator>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CancelAnswer>, ApiFailure> {
    caller.require(Role::Operator, "cancel runs")?;
    let run = find(&orchestrator, &id).await?;
    let db = &orchestrator.db;
    if run.state == RunState::Queued
        && runs::transition(db, &run.id, run.attempt, RunState::Queued, RunState::Cancelled, None).await?
    {
        let ended =
            RunEvent::Ended { state: "cancelled".into(), outcome: Some(aqueducts_protocol::Outcome::Cancelled) };
        orchestrator.events.append(db, &run.id, run.attempt, None, &ended).await?;
        orchestrator.durations.record(RunState::Cancelled, None);
        tracing::info!(run_id = %run.id, by = %caller.name, "queued run cancelled");
        return Ok(Json(CancelAnswer { state: "cancelled".into() }));
    }
    if !runs::request_cancel(db, &run.id).await? {
        let state = find(&orchestrator, &id).await?.state;
        return Err(ApiFailure::new(StatusCode::CONFLICT, format!("run `{id}` has ended already ({})", state.name())));
    }
    orchestrator.events.append(db, &run.id, run.attempt, None, &RunEvent::CancelRequested).await?;
    // Sent now if its executor is connected, and again when it reconnects.
    let current = find(&orchestrator, &id).await?;
    if let Some(executor) = &current.executor_id {
        orchestrator.executors.send_json(executor, &OrchestratorMessage::Cancel { run_id: current.id.clone() });
    }
    tracing::info!(run_id = %run.id, by = %caller.name, "cancel requested");
    // Queued again in between (an executor was busy): cancelled now, if it still is.
    if current.state == RunState::Queued
        && runs::transition(db, &current.id, current.attempt, RunState::Queued, RunState::Cancelled, None).await?
    {
        orchestrator.durations.record(RunState::Cancelled, None);
        let ended =
            RunEvent::Ended { state: "cancelled".into(), outcome: Some(aqueducts_protocol::Outcome::Cancelled) };
        orchestrator.events.append(db, &current.id, current.attempt, None, &ended).await?;
        return Ok(Json(CancelAnswer { state: "cancelled".into() }));
    }
    Ok(Json(CancelAnswer { state: "cancelling".into() }))
}

#[derive(serde::Deserialize)]
pub struct EventsQuery {
    /// Events after this number (as `Last-Event-ID`).
    from: Option<i64>,
}

/// How many events are read from the database at a time.
const EVENT_PAGE: i64 = 500;
/// How long a stream waits for news before it looks at the run's state again.
const EVENT_POLL: Duration = Duration::from_secs(5);

/// `GET /api/runs/{id}/events`: server-sent events from the start (or after `from` /
/// `Last-Event-ID`), live until the run's `ended` event.
pub async fn events(
    State(orchestrator): State<Arc<Orchestrator>>,
    _caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiFailure> {
    find(&orchestrator, &id).await?;
    let resume = headers.get("last-event-id").and_then(|v| v.to_str().ok()?.trim().parse::<i64>().ok());
    let mut cursor = resume.or(query.from).unwrap_or(0);
    let (tx, rx) = mpsc::channel::<SseEvent>(64);
    tokio::spawn(async move {
        let mut changes = orchestrator.events.subscribe();
        loop {
            let batch = match runs::events(&orchestrator.db, &id, Some(cursor), EVENT_PAGE).await {
                Ok(batch) => batch,
                Err(error) => return tracing::error!(%error, "cannot read run events"),
            };
            let full = batch.len() as i64 == EVENT_PAGE;
            for stored in batch {
                cursor = stored.id;
                let Ok(event) = serde_json::from_str::<RunEvent>(&stored.body) else { continue };
                let end = match &event {
                    // A run taken for lost may get its true outcome later: only the
                    // `ended` that matches the run's state is the last.
                    RunEvent::Ended { state, .. } => runs::get(&orchestrator.db, &id)
                        .await
                        .ok()
                        .flatten()
                        .is_none_or(|run| run.state.name() == state.as_str()),
                    _ => false,
                };
                let streamed = StreamedEvent { id: stored.id, at_ms: stored.at_ms, event };
                let data = serde_json::to_string(&streamed).unwrap_or_default();
                if tx.send(SseEvent::default().id(stored.id.to_string()).data(data)).await.is_err() {
                    return; // the client left
                }
                if end {
                    return;
                }
            }
            if full {
                continue;
            }
            // Wait for news of this run (or look again after a while: a run that ended
            // without an `ended` event, after a crash between the two writes, ends too).
            let news = async {
                loop {
                    match changes.recv().await {
                        Ok(run) if run == id => return,
                        Ok(_) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => std::future::pending().await,
                    }
                }
            };
            tokio::select! {
                _ = news => {}
                _ = tx.closed() => return,
                _ = tokio::time::sleep(EVENT_POLL) => {
                    match runs::get(&orchestrator.db, &id).await {
                        Ok(Some(run)) if run.state.is_final() => {
                            let more = runs::events(&orchestrator.db, &id, Some(cursor), 1).await.unwrap_or_default();
                            if more.is_empty() {
                                return;
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|event| (Ok(event), rx)) });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
