//! `/api/pipelines`: deploy (with schedules), show, list and delete named pipelines, and
//! run one from a webhook.

use std::collections::BTreeMap;
use std::sync::Arc;

use aqueducts_protocol::api::{
    FileTriggerSpec, PipelineDeploy, PipelineInfo, RunEvent, ScheduleInfo, SpecText, TriggerRun, VersionInfo,
};
use aqueducts_protocol::managed::is_plain_name;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::runs::{checked_spec, info, pipeline_run, queue};
use crate::auth::{Caller, Deployer, Triggerer};
use crate::db::keys::Role;
use crate::db::pipelines::{self, FileTrigger, Settings, Version};
use crate::db::runs::{self, RunState};
use crate::error::ApiFailure;
use crate::file_trigger::Watched;
use crate::schedule::Schedule;
use crate::state::Orchestrator;

fn pipeline_info(version: Version, schedules: Vec<pipelines::NewSchedule>) -> PipelineInfo {
    let settings = version.settings;
    let schedules = schedules
        .into_iter()
        .map(|s| ScheduleInfo { cron: s.cron, timezone: s.timezone, next_fire_ms: s.next_fire_ms })
        .collect();
    PipelineInfo {
        name: version.name,
        version: version.version,
        spec_hash: super::shown::shown_hash(&version.spec, &version.spec_hash),
        spec: SpecText {
            text: super::shown::shown_spec(&version.spec),
            format: version.spec_format,
            name: Some(settings.spec_name),
        },
        params: super::shown::shown_params(&settings.params),
        labels: settings.labels,
        retries: settings.retries,
        max_concurrent: settings.max_concurrent,
        checked_on: settings.checked_on,
        deployed_ms: version.created_ms,
        deployed_by: settings.deployed_by,
        catch_up: settings.catch_up,
        schedules,
        file_trigger: None,
        versions: Vec::new(),
    }
}

async fn with_schedules(orchestrator: &Orchestrator, version: Version) -> Result<PipelineInfo, ApiFailure> {
    let schedules = pipelines::schedules(&orchestrator.db, &version.name).await?;
    let trigger = pipelines::file_trigger(&orchestrator.db, &version.name).await?;
    let mut info = pipeline_info(version, schedules);
    info.file_trigger = trigger.map(|t| FileTriggerSpec {
        location: t.location,
        interval_seconds: (t.interval_ms / 1000).max(0) as u64,
        param: t.param,
        // Shown without values: they may be secrets.
        storage_config: t.storage_config.into_keys().map(|key| (key, "***".to_string())).collect(),
        include_existing: t.include_existing,
    });
    Ok(info)
}

fn check_name(name: &str) -> Result<(), ApiFailure> {
    if is_plain_name(name) {
        return Ok(());
    }
    Err(ApiFailure::new(
        StatusCode::BAD_REQUEST,
        format!("`{name}` cannot name a pipeline: use 1 to 128 letters, digits, `.`, `_` or `-`"),
    ))
}

#[derive(serde::Deserialize)]
pub struct DeployQuery {
    /// `false` deploys without checking the spec on an executor.
    check: Option<bool>,
}

/// `PUT /api/pipelines/{name}`: a new version, checked first on an executor its labels
/// fit.
pub async fn deploy(
    State(orchestrator): State<Arc<Orchestrator>>,
    Deployer(caller): Deployer,
    Path(name): Path<String>,
    Query(query): Query<DeployQuery>,
    body: Bytes,
) -> Result<Json<PipelineInfo>, ApiFailure> {
    check_name(&name)?;
    let deploy: PipelineDeploy = serde_json::from_slice(&body)
        .map_err(|e| ApiFailure::new(StatusCode::BAD_REQUEST, format!("the body is not a deployment: {e}")))?;
    let max_concurrent = deploy.max_concurrent.unwrap_or(1);
    if max_concurrent == 0 {
        return Err(ApiFailure::new(StatusCode::BAD_REQUEST, "max_concurrent must be at least 1"));
    }
    // Schedules are checked before anything is stored.
    let mut parsed = Vec::new();
    for spec in &deploy.schedules {
        let schedule = Schedule::parse(&spec.cron, &spec.timezone)
            .map_err(|message| ApiFailure::new(StatusCode::BAD_REQUEST, message))?;
        parsed.push((spec, schedule));
    }
    let catch_up = deploy.catch_up.unwrap_or(true);
    if let Some(trigger) = &deploy.file_trigger {
        let bad = |message: String| ApiFailure::new(StatusCode::BAD_REQUEST, message);
        if trigger.interval_seconds == 0 {
            return Err(bad("the file trigger's interval_seconds must be at least 1".into()));
        }
        if !is_plain_name(&trigger.param) {
            return Err(bad(format!("`{}` cannot name a parameter", trigger.param)));
        }
        Watched::open(&trigger.location, &trigger.storage_config, &orchestrator.data_dir)
            .map_err(|message| bad(format!("the file trigger's location: {message}")))?;
    }
    let checked_on = if query.check.unwrap_or(true) {
        let Some(executor) = orchestrator.executors.any_fitting(&deploy.labels) else {
            return Err(ApiFailure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no connected executor fits the pipeline's labels to check it on; start one, or deploy with ?check=false",
            ));
        };
        Some(executor)
    } else {
        None
    };
    let (format, spec_name) = match &checked_on {
        Some(_) => checked_spec(&orchestrator, &deploy.spec, &deploy.params, &deploy.labels).await?,
        None => {
            let format = deploy.spec.format.to_ascii_lowercase();
            (format.clone(), deploy.spec.name.clone().unwrap_or_else(|| format!("{name}.{format}")))
        }
    };
    let hash: String = Sha256::digest(deploy.spec.text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let settings = Settings {
        params: deploy.params,
        labels: deploy.labels,
        retries: deploy.retries,
        max_concurrent,
        checked_on,
        deployed_by: caller.name.clone(),
        spec_name,
        catch_up,
    };
    let version = pipelines::deploy(&orchestrator.db, &name, &deploy.spec.text, &format, &hash, &settings).await?;
    let now = crate::db::now_ms();
    // A schedule the new version keeps keeps its next tick: a redeploy neither skips
    // nor repeats one.
    let kept: BTreeMap<(String, String), i64> = pipelines::schedules(&orchestrator.db, &name)
        .await?
        .into_iter()
        .map(|s| ((s.cron, s.timezone), s.next_fire_ms))
        .collect();
    let schedules: Vec<pipelines::NewSchedule> = parsed
        .iter()
        .map(|(spec, schedule)| pipelines::NewSchedule {
            cron: spec.cron.clone(),
            timezone: spec.timezone.clone(),
            catch_up,
            next_fire_ms: kept
                .get(&(spec.cron.clone(), spec.timezone.clone()))
                .copied()
                .unwrap_or_else(|| schedule.next_after(now).unwrap_or(-1)),
        })
        .collect();
    pipelines::set_schedules(&orchestrator.db, &name, &schedules).await?;
    let trigger = deploy.file_trigger.as_ref().map(|trigger| FileTrigger {
        pipeline: name.clone(),
        location: trigger.location.clone(),
        interval_ms: (trigger.interval_seconds.min(86_400) * 1000) as i64,
        param: trigger.param.clone(),
        storage_config: trigger.storage_config.clone(),
        include_existing: trigger.include_existing,
        next_poll_ms: now,
    });
    pipelines::set_file_trigger(&orchestrator.db, &name, trigger.as_ref()).await?;
    tracing::info!(pipeline = %name, version, by = %caller.name, "pipeline deployed");
    let stored = pipelines::get(&orchestrator.db, &name, Some(version))
        .await?
        .ok_or_else(|| ApiFailure::internal("a deployed version is gone"))?;
    Ok(Json(with_schedules(&orchestrator, stored).await?))
}

/// `GET /api/pipelines`: the current version of each.
pub async fn list(
    State(orchestrator): State<Arc<Orchestrator>>,
    _caller: Caller,
) -> Result<Json<Vec<PipelineInfo>>, ApiFailure> {
    let mut infos = Vec::new();
    for version in pipelines::list(&orchestrator.db).await? {
        infos.push(with_schedules(&orchestrator, version).await?);
    }
    Ok(Json(infos))
}

#[derive(serde::Deserialize)]
pub struct ShowQuery {
    version: Option<i64>,
}

/// `GET /api/pipelines/{name}[?version=N]`: a version and the list of all versions.
pub async fn show(
    State(orchestrator): State<Arc<Orchestrator>>,
    _caller: Caller,
    Path(name): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Result<Json<PipelineInfo>, ApiFailure> {
    let version = pipelines::get(&orchestrator.db, &name, query.version).await?.ok_or_else(|| {
        ApiFailure::not_found(match query.version {
            Some(v) => format!("version {v} of pipeline `{name}`"),
            None => format!("deployed pipeline `{name}`"),
        })
    })?;
    let mut shown = with_schedules(&orchestrator, version).await?;
    shown.versions = pipelines::versions(&orchestrator.db, &name)
        .await?
        .into_iter()
        .map(|v| VersionInfo {
            version: v.version,
            spec_hash: super::shown::shown_hash(&v.spec, &v.spec_hash),
            deployed_ms: v.created_ms,
            deployed_by: v.settings.deployed_by,
        })
        .collect();
    Ok(Json(shown))
}

/// `DELETE /api/pipelines/{name}`: hidden from now on; its history stays.
pub async fn delete(
    State(orchestrator): State<Arc<Orchestrator>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiFailure> {
    caller.require(Role::Operator, "delete pipelines")?;
    if !pipelines::delete(&orchestrator.db, &name).await? {
        return Err(ApiFailure::not_found(format!("deployed pipeline `{name}`")));
    }
    let trigger = pipelines::file_trigger(&orchestrator.db, &name).await?;
    pipelines::set_schedules(&orchestrator.db, &name, &[]).await?;
    pipelines::set_file_trigger(&orchestrator.db, &name, None).await?;
    if let Some(trigger) = trigger {
        pipelines::forget_seen(&orchestrator.db, &trigger.key()).await?;
    }
    // Its queued runs are cancelled: a deleted pipeline starts nothing more.
    let db = &orchestrator.db;
    loop {
        let queued = runs::list(db, Some(RunState::Queued), Some(&name), None, 500).await?;
        for run in &queued {
            if runs::transition(db, &run.id, run.attempt, RunState::Queued, RunState::Cancelled, None).await? {
                orchestrator.durations.record(RunState::Cancelled, None);
                let ended = RunEvent::Ended {
                    state: "cancelled".into(),
                    outcome: Some(aqueducts_protocol::Outcome::Cancelled),
                };
                orchestrator.events.append(db, &run.id, run.attempt, None, &ended).await?;
            }
        }
        if queued.len() < 500 {
            break;
        }
    }
    tracing::info!(pipeline = %name, by = %caller.name, "pipeline deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/pipelines/{name}/trigger`: a run of the current version, parameters from
/// the body; with an `Idempotency-Key` header, one run per key.
pub async fn trigger(
    State(orchestrator): State<Arc<Orchestrator>>,
    Triggerer(caller): Triggerer,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiFailure> {
    let triggered: TriggerRun = if body.is_empty() {
        TriggerRun::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiFailure::new(StatusCode::BAD_REQUEST, format!("the body is not a trigger: {e}")))?
    };
    let key = match headers.get("idempotency-key") {
        Some(value) => {
            let value = value.to_str().ok().filter(|v| !v.is_empty() && v.len() <= 200).ok_or_else(|| {
                ApiFailure::new(
                    StatusCode::BAD_REQUEST,
                    "the Idempotency-Key header must be 1 to 200 visible characters",
                )
            })?;
            Some(format!("webhook:{value}"))
        }
        None => None,
    };
    let new_run = pipeline_run(&orchestrator, &name, triggered.params, "webhook", key).await?;
    match queue(&orchestrator, &new_run).await? {
        Some(run) => {
            tracing::info!(run_id = %run.id, pipeline = %name, by = %caller.name, "pipeline triggered");
            Ok((StatusCode::CREATED, Json(info(&orchestrator, &run).await?)).into_response())
        }
        None => Err(ApiFailure::new(StatusCode::CONFLICT, "a run with this Idempotency-Key was triggered already")),
    }
}
