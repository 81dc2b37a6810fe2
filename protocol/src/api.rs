//! The orchestrator's HTTP API: the JSON bodies of its routes and the events of a run
//! as its event stream delivers them.
//!
//! Every route but `GET /api/health` needs a user key in [`crate::API_KEY_HEADER`];
//! errors are an [`ApiError`]. A run's events ([`StreamedEvent`]) are numbered by the
//! orchestrator; a client that lost its stream resumes after the last number it saw.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::managed::{Features, RunRef};
use crate::run::{Event, Outcome};

/// The route of runs; a run is `RUNS_PATH/{id}`.
pub const RUNS_PATH: &str = "/api/runs";
/// The route of executors; one is `EXECUTORS_PATH/{id}`.
pub const EXECUTORS_PATH: &str = "/api/executors";

/// `POST /api/runs` with a JSON body: a spec to compile for the executor that runs it.
/// (An artifact is posted as `application/octet-stream` instead, with the selector
/// and retries in the query: `?label=pool=eu&retries=1`.)
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SubmitRun {
    /// The spec to run; or `pipeline`.
    #[serde(default)]
    pub spec: Option<SpecText>,
    /// A deployed pipeline to run (its current version, its parameters overridden by
    /// `params`); or `spec`.
    #[serde(default)]
    pub pipeline: Option<String>,
    /// Template parameters (`--param`).
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// The labels the executor must carry.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// How many times to try again on another executor when an executor is lost.
    #[serde(default)]
    pub retries: u32,
}

/// `PUT /api/pipelines/{name}`: a new version of a deployed pipeline.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PipelineDeploy {
    pub spec: SpecText,
    /// Default parameters of its runs.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// The labels an executor must carry to run it.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Tries on another executor after an executor is lost.
    #[serde(default)]
    pub retries: u32,
    /// Runs of it at once, at most (default 1: runs never overlap).
    #[serde(default)]
    pub max_concurrent: Option<u32>,
    /// When it runs by itself.
    #[serde(default)]
    pub schedules: Vec<ScheduleSpec>,
    /// Whether a tick missed while the orchestrator was down runs once when it is back
    /// (default true).
    #[serde(default)]
    pub catch_up: Option<bool>,
    /// Runs it once for every new file under a location.
    #[serde(default)]
    pub file_trigger: Option<FileTriggerSpec>,
}

/// A file-arrival trigger: the orchestrator lists `location` every `interval_seconds`,
/// and each new file starts one run with its path (or URL) in parameter `param`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileTriggerSpec {
    /// A directory under the orchestrator's data directory (relative to it) or an object
    /// store prefix (`s3://bucket/incoming/`).
    pub location: String,
    #[serde(default = "ten")]
    pub interval_seconds: u64,
    #[serde(default = "path_param")]
    pub param: String,
    /// The store's settings, with the keys of a spec's `storage_config`; values are used
    /// as written (and stored by the orchestrator): credentials are better left to the
    /// orchestrator's environment.
    #[serde(default)]
    pub storage_config: BTreeMap<String, String>,
    /// Whether files present when the trigger is first deployed start runs too.
    #[serde(default)]
    pub include_existing: bool,
}

fn ten() -> u64 {
    10
}

fn path_param() -> String {
    "path".into()
}

/// A cron schedule: 5 fields (minute hour day month weekday), or 6 with seconds first,
/// in an IANA time zone.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScheduleSpec {
    pub cron: String,
    #[serde(default = "utc")]
    pub timezone: String,
}

fn utc() -> String {
    "UTC".into()
}

/// A schedule of a deployed pipeline, with its next tick.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScheduleInfo {
    pub cron: String,
    pub timezone: String,
    pub next_fire_ms: i64,
}

/// A deployed pipeline's version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PipelineInfo {
    pub name: String,
    pub version: i64,
    pub spec_hash: String,
    pub spec: SpecText,
    pub params: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub retries: u32,
    pub max_concurrent: u32,
    /// The executor the spec was checked on when deployed.
    pub checked_on: Option<String>,
    pub deployed_ms: i64,
    pub deployed_by: String,
    pub catch_up: bool,
    /// Its schedules (those of its current version).
    #[serde(default)]
    pub schedules: Vec<ScheduleInfo>,
    #[serde(default)]
    pub file_trigger: Option<FileTriggerSpec>,
    /// Its versions, newest first (with `GET /api/pipelines/{name}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<VersionInfo>,
}

/// One version in a pipeline's history.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VersionInfo {
    pub version: i64,
    pub spec_hash: String,
    pub deployed_ms: i64,
    pub deployed_by: String,
}

/// `POST /api/pipelines/{name}/trigger`: a run of the current version.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TriggerRun {
    /// Parameters over the pipeline's defaults.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
}

/// A spec's text as the user wrote it: diagnostics point into it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SpecText {
    pub text: String,
    /// `yaml`, `json` or `toml`.
    pub format: String,
    /// The file name, for messages.
    #[serde(default)]
    pub name: Option<String>,
}

/// An error answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiError {
    pub error: String,
    /// A spec that does not check: its diagnostics, rendered against its text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<String>,
    /// The same diagnostics as data, with their positions in the spec's text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub located: Vec<WireDiagnostic>,
}

/// A diagnostic as data (what `aqueducts check --format json` prints for each).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WireDiagnostic {
    /// Its code, such as `aqueducts::unknown-table`.
    pub code: String,
    /// `error`, `warning` or `advice`.
    pub severity: String,
    pub message: String,
    pub file: String,
    /// Where its first label starts (1-based line and column, in characters).
    pub line: Option<usize>,
    pub column: Option<usize>,
    #[serde(default)]
    pub labels: Vec<WireLabel>,
    pub help: Option<String>,
}

/// A span a diagnostic points at.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WireLabel {
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    /// Byte offset and length in the spec's text.
    pub offset: usize,
    pub length: usize,
    pub text: Option<String>,
}

/// An executor as the orchestrator knows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExecutorInfo {
    pub executor_id: String,
    /// `idle`, `busy`, `disconnected` (it may come back within the heartbeat timeout)
    /// or `offline`.
    pub state: String,
    pub labels: BTreeMap<String, String>,
    pub version: String,
    pub datafusion_version: String,
    pub max_memory_bytes: Option<u64>,
    pub features: Features,
    /// The run it works on.
    pub running: Option<RunRef>,
    /// When it was last heard from (milliseconds since the Unix epoch).
    pub last_heard_ms: i64,
    /// When its current connection opened, or when it went offline.
    pub since_ms: i64,
}

/// A run as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    pub id: String,
    pub pipeline: Option<String>,
    pub pipeline_version: Option<i64>,
    /// What started it: `api`, `schedule`, `webhook` or `file`.
    pub trigger: String,
    /// `queued`, `assigned`, `running`, `succeeded`, `failed`, `cancelled` or `lost`.
    pub state: String,
    /// The attempt under way or last made (0 before the first).
    pub attempt: u32,
    pub retries: u32,
    pub executor_id: Option<String>,
    /// The labels an executor must carry to run it.
    pub labels: BTreeMap<String, String>,
    pub params: BTreeMap<String, String>,
    pub created_ms: i64,
    pub started_ms: Option<i64>,
    pub ended_ms: Option<i64>,
    pub outcome: Option<Outcome>,
    /// Its place in the queue (1: next) while it waits.
    pub queue_position: Option<u64>,
    /// For one run (not in lists) that failed in a stage of a spec: the failure rendered
    /// as a diagnostic quoting the stage's query, as `aqueducts check` renders them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_report: Option<String>,
    /// Whether a cancel was asked for.
    pub cancel_requested: bool,
}

/// A page of runs, newest first; `next_before` fetches the next page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunList {
    pub runs: Vec<RunInfo>,
    pub next_before: Option<i64>,
}

/// Something that happened to a run, as stored and streamed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RunEvent {
    /// Queued, at this place.
    Queued { position: u64 },
    /// Sent to an executor.
    Assigned { executor_id: String, attempt: u32 },
    /// Compiled for the attempt's executor: the stage graph it runs.
    Planned { attempt: u32, graph: StageGraph },
    /// The executor started it.
    Started { attempt: u32 },
    /// Progress of the attempt under way.
    Progress { attempt: u32, event: Event },
    /// A cancel was asked for.
    CancelRequested,
    /// The executor of the attempt went away.
    Lost { executor_id: String, attempt: u32, reason: String },
    /// It waits to be tried again, not before this time.
    Retrying { attempt: u32, not_before_ms: i64 },
    /// The last event: its final state, and the executor's outcome when there is one.
    Ended { state: String, outcome: Option<Outcome> },
}

impl RunEvent {
    pub fn is_end(&self) -> bool {
        matches!(self, RunEvent::Ended { .. })
    }
}

/// A run's stage graph as compiled: its sources, and its stages in the order they run
/// with the sources and stages each reads (edges of the inferred DAG).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageGraph {
    pub sources: Vec<GraphSource>,
    pub stages: Vec<GraphStage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphSource {
    pub name: String,
    /// `file`, `directory`, `odbc`, `delta` or `in_memory`.
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphStage {
    pub name: String,
    /// The sources and stages it reads, by name.
    pub inputs: Vec<String>,
    /// It is the final stage and its result goes to the destination.
    pub writes_destination: bool,
}

/// `POST /api/check`: a spec checked as it would be compiled for an executor the labels fit.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    pub spec: SpecText,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// The answer to a check: the diagnostics (errors and warnings) as `check --format json`
/// gives them, rendered too, and the executor the spec was checked against.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckAnswer {
    pub ok: bool,
    pub executor_id: String,
    pub rendered: String,
    pub located: Vec<WireDiagnostic>,
}

/// A run event with its number (increasing within a run) and time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamedEvent {
    pub id: i64,
    pub at_ms: i64,
    #[serde(flatten)]
    pub event: RunEvent,
}

/// The answer to a cancel: `cancelled` when it was still queued, `cancelling` while the
/// executor stops it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CancelAnswer {
    pub state: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_events_are_flat_json() {
        let event =
            StreamedEvent { id: 7, at_ms: 1, event: RunEvent::Assigned { executor_id: "e".into(), attempt: 1 } };
        let text = serde_json::to_string(&event).unwrap();
        assert_eq!(text, r#"{"id":7,"at_ms":1,"kind":"assigned","executor_id":"e","attempt":1}"#);
        let back: StreamedEvent = serde_json::from_str(&text).unwrap();
        assert!(matches!(back.event, RunEvent::Assigned { attempt: 1, .. }));
        let end =
            serde_json::to_string(&RunEvent::Ended { state: "cancelled".into(), outcome: Some(Outcome::Cancelled) })
                .unwrap();
        assert_eq!(end, r#"{"kind":"ended","state":"cancelled","outcome":{"status":"cancelled"}}"#);
    }
}
