//! Runs, the persistent queue, and each run's events.
//!
//! A run moves through [`RunState`]s; every move is an `UPDATE ... WHERE state = <the
//! state it was seen in>`, so two writers never both move one run (the second sees no
//! row changed). Queued runs are taken oldest first. A run's events are numbered by the
//! database; those reported by an executor also carry the executor's sequence number
//! for the attempt, and one reported twice (after a reconnect) is stored once.

use std::collections::BTreeMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::pool::{Db, DbError, now_ms};

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Queued,
    /// Sent to an executor, not yet accepted.
    Assigned,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// Its executor went away and did not come back with its outcome.
    Lost,
}

impl RunState {
    pub const ALL: [RunState; 7] = [
        RunState::Queued,
        RunState::Assigned,
        RunState::Running,
        RunState::Succeeded,
        RunState::Failed,
        RunState::Cancelled,
        RunState::Lost,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Assigned => "assigned",
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
            RunState::Lost => "lost",
        }
    }

    pub fn parse(name: &str) -> Option<RunState> {
        RunState::ALL.into_iter().find(|state| state.name() == name)
    }

    /// Whether nothing more happens to the run.
    pub fn is_final(self) -> bool {
        matches!(self, RunState::Succeeded | RunState::Failed | RunState::Cancelled | RunState::Lost)
    }
}

/// What a run runs: a spec compiled for its executor, or a compiled artifact.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    Spec {
        text: String,
        format: String,
        name: String,
    },
    /// The artifact's bytes; empty when the run was read without them (lists and the
    /// queue leave them in the database: [`artifact`] reads them).
    Artifact(Vec<u8>),
}

/// A run to queue.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub pipeline: Option<(String, i64)>,
    /// `api`, `schedule`, `webhook` or `file`.
    pub trigger_kind: String,
    /// Unique per pipeline: a trigger that fires twice for one cause queues one run.
    pub trigger_key: Option<String>,
    pub work: Work,
    pub params: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub retries: u32,
}

/// A stored run.
#[derive(Debug, Clone)]
pub struct Run {
    pub seq: i64,
    pub id: String,
    pub pipeline: Option<(String, i64)>,
    pub trigger_kind: String,
    pub state: RunState,
    pub work: Work,
    pub params: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub retries: u32,
    pub attempt: u32,
    pub executor_id: Option<String>,
    pub created_ms: i64,
    pub started_ms: Option<i64>,
    pub ended_ms: Option<i64>,
    /// The outcome as the executor reported it (JSON).
    pub outcome: Option<String>,
    pub cancel_requested: bool,
}

const RUN_COLUMNS: &str = "seq, id, pipeline, pipeline_version, trigger_kind, state, spec, spec_format, spec_name, \
     artifact, params, labels, retries, attempt, executor_id, created_ms, started_ms, ended_ms, outcome, \
     cancel_requested";

fn json_map(text: &str) -> Result<BTreeMap<String, String>, DbError> {
    serde_json::from_str(text).map_err(|e| DbError::Corrupt(format!("a run's map: {e}")))
}

/// [`RUN_COLUMNS`] without the artifact's bytes (which may be hundreds of MiB), for
/// reading many runs.
fn light_columns() -> String {
    RUN_COLUMNS.replace("artifact,", "CASE WHEN artifact IS NULL THEN NULL ELSE CAST(1 AS BIGINT) END AS has_artifact,")
}

fn run_from(row: &AnyRow) -> Result<Run, DbError> {
    let state: String = row.try_get("state")?;
    let artifact: Option<Vec<u8>> = match row.try_get::<Option<i64>, _>("has_artifact") {
        Ok(marker) => marker.map(|_| Vec::new()),
        Err(_) => row.try_get("artifact")?,
    };
    let work = match artifact {
        Some(bytes) => Work::Artifact(bytes),
        None => Work::Spec {
            text: row.try_get::<Option<String>, _>("spec")?.unwrap_or_default(),
            format: row.try_get::<Option<String>, _>("spec_format")?.unwrap_or_default(),
            name: row.try_get::<Option<String>, _>("spec_name")?.unwrap_or_default(),
        },
    };
    let pipeline: Option<String> = row.try_get("pipeline")?;
    let version: Option<i64> = row.try_get("pipeline_version")?;
    Ok(Run {
        seq: row.try_get("seq")?,
        id: row.try_get("id")?,
        pipeline: pipeline.zip(version),
        trigger_kind: row.try_get("trigger_kind")?,
        state: RunState::parse(&state).ok_or_else(|| DbError::Corrupt(format!("run state `{state}`")))?,
        work,
        params: json_map(&row.try_get::<String, _>("params")?)?,
        labels: json_map(&row.try_get::<String, _>("labels")?)?,
        retries: row.try_get::<i64, _>("retries")?.clamp(0, u32::MAX as i64) as u32,
        attempt: row.try_get::<i64, _>("attempt")?.clamp(0, u32::MAX as i64) as u32,
        executor_id: row.try_get("executor_id")?,
        created_ms: row.try_get("created_ms")?,
        started_ms: row.try_get("started_ms")?,
        ended_ms: row.try_get("ended_ms")?,
        outcome: row.try_get("outcome")?,
        cancel_requested: row.try_get::<i64, _>("cancel_requested")? != 0,
    })
}

/// Queues a run, with `first_event` (JSON) as its first event in the same
/// transaction; `None` when its trigger key has queued one already.
pub async fn insert(db: &Db, run: &NewRun, first_event: Option<&str>) -> Result<Option<Run>, DbError> {
    let id = uuid::Uuid::new_v4().to_string();
    let (spec, format, name, artifact) = match &run.work {
        Work::Spec { text, format, name } => (Some(text.as_str()), Some(format.as_str()), Some(name.as_str()), None),
        Work::Artifact(bytes) => (None, None, None, Some(bytes.clone())),
    };
    let now = now_ms();
    let mut transaction = db.pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO runs (id, pipeline, pipeline_version, trigger_kind, trigger_key, state, spec, spec_format, \
         spec_name, artifact, params, labels, retries, attempt, not_before_ms, created_ms) \
         VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7, $8, $9, $10, $11, $12, 0, 0, $13) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&id)
    .bind(run.pipeline.as_ref().map(|(name, _)| name.clone()))
    .bind(run.pipeline.as_ref().map(|(_, version)| *version))
    .bind(&run.trigger_kind)
    .bind(run.trigger_key.clone())
    .bind(spec.map(str::to_string))
    .bind(format.map(str::to_string))
    .bind(name.map(str::to_string))
    .bind(artifact)
    .bind(serde_json::to_string(&run.params).unwrap_or_default())
    .bind(serde_json::to_string(&run.labels).unwrap_or_default())
    .bind(i64::from(run.retries))
    .bind(now)
    .execute(&mut *transaction)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(None);
    }
    if let Some(body) = first_event {
        sqlx::query("INSERT INTO run_events (run_id, attempt, source_seq, at_ms, body) VALUES ($1, 0, NULL, $2, $3)")
            .bind(&id)
            .bind(now)
            .bind(body)
            .execute(&mut *transaction)
            .await?;
    }
    transaction.commit().await?;
    get(db, &id).await
}

/// How many runs are queued.
pub async fn queued_count(db: &Db) -> Result<u64, DbError> {
    let row =
        sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM runs WHERE state = 'queued'").fetch_one(&db.pool).await?;
    Ok(row.try_get::<i64, _>(0)?.max(0) as u64)
}

/// The run `id`.
pub async fn get(db: &Db, id: &str) -> Result<Option<Run>, DbError> {
    let row =
        sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1")).bind(id).fetch_optional(&db.pool).await?;
    row.as_ref().map(run_from).transpose()
}

/// The artifact of run `id`, if it runs one.
pub async fn artifact(db: &Db, id: &str) -> Result<Option<Vec<u8>>, DbError> {
    let row = sqlx::query("SELECT artifact FROM runs WHERE id = $1").bind(id).fetch_optional(&db.pool).await?;
    Ok(row.map(|row| row.try_get::<Option<Vec<u8>>, _>(0)).transpose()?.flatten())
}

/// Queued runs that may start now, oldest first, after sequence number `after`
/// (without their artifacts' bytes).
pub async fn queued(db: &Db, after: i64, limit: i64) -> Result<Vec<Run>, DbError> {
    let rows = sqlx::query(&format!(
        "SELECT {} FROM runs WHERE state = 'queued' AND not_before_ms <= $1 AND seq > $2 ORDER BY seq LIMIT $3",
        light_columns()
    ))
    .bind(now_ms())
    .bind(after)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(run_from).collect()
}

/// Runs in `state` (any when `None`) of `pipeline` (any when `None`), newest first,
/// older than `before` (a `seq`) when given.
pub async fn list(
    db: &Db,
    state: Option<RunState>,
    pipeline: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Run>, DbError> {
    let rows = sqlx::query(&format!(
        "SELECT {} FROM runs WHERE ($1 IS NULL OR state = $1) AND ($2 IS NULL OR pipeline = $2) \
         AND seq < $3 ORDER BY seq DESC LIMIT $4",
        light_columns()
    ))
    .bind(state.map(|s| s.name().to_string()))
    .bind(pipeline.map(str::to_string))
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(run_from).collect()
}

/// Hands a queued run to `executor` as its next attempt; the attempt's number, `None`
/// when the run was no longer queued.
pub async fn assign(db: &Db, id: &str, executor: &str) -> Result<Option<u32>, DbError> {
    let mut transaction = db.pool.begin().await?;
    let row = sqlx::query(
        "UPDATE runs SET state = 'assigned', attempt = attempt + 1, executor_id = $2 \
         WHERE id = $1 AND state = 'queued' RETURNING attempt",
    )
    .bind(id)
    .bind(executor)
    .fetch_optional(&mut *transaction)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let attempt: i64 = row.try_get(0)?;
    sqlx::query(
        "INSERT INTO run_attempts (run_id, attempt, executor_id, state, assigned_ms) VALUES ($1, $2, $3, 'assigned', $4)",
    )
    .bind(id)
    .bind(attempt)
    .bind(executor)
    .bind(now_ms())
    .execute(&mut *transaction)
    .await?;
    transaction.commit().await?;
    Ok(Some(attempt.clamp(0, u32::MAX as i64) as u32))
}

/// Takes back an assignment the executor could not take (it was busy): the run is
/// queued again as if the attempt had not been made.
pub async fn unassign(db: &Db, id: &str, attempt: u32) -> Result<bool, DbError> {
    let mut transaction = db.pool.begin().await?;
    let done = sqlx::query(
        "UPDATE runs SET state = 'queued', attempt = attempt - 1, executor_id = NULL \
         WHERE id = $1 AND attempt = $2 AND state = 'assigned'",
    )
    .bind(id)
    .bind(i64::from(attempt))
    .execute(&mut *transaction)
    .await?;
    if done.rows_affected() == 1 {
        sqlx::query("DELETE FROM run_attempts WHERE run_id = $1 AND attempt = $2")
            .bind(id)
            .bind(i64::from(attempt))
            .execute(&mut *transaction)
            .await?;
    }
    transaction.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// The executor that made attempt `attempt` of run `id`.
pub async fn attempt_executor(db: &Db, id: &str, attempt: u32) -> Result<Option<String>, DbError> {
    let row = sqlx::query("SELECT executor_id FROM run_attempts WHERE run_id = $1 AND attempt = $2")
        .bind(id)
        .bind(i64::from(attempt))
        .fetch_optional(&db.pool)
        .await?;
    row.map(|row| row.try_get(0)).transpose().map_err(DbError::from)
}

/// A stored attempt of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub attempt: u32,
    pub executor_id: String,
    pub state: RunState,
    pub assigned_ms: i64,
    pub started_ms: Option<i64>,
    pub ended_ms: Option<i64>,
}

/// Every attempt of run `id`, first first.
pub async fn attempts(db: &Db, id: &str) -> Result<Vec<Attempt>, DbError> {
    let rows = sqlx::query(
        "SELECT attempt, executor_id, state, assigned_ms, started_ms, ended_ms FROM run_attempts \
         WHERE run_id = $1 ORDER BY attempt",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|row| {
            let state: String = row.try_get(2)?;
            Ok(Attempt {
                attempt: row.try_get::<i64, _>(0)?.clamp(0, u32::MAX as i64) as u32,
                executor_id: row.try_get(1)?,
                state: RunState::parse(&state).ok_or_else(|| DbError::Corrupt(format!("attempt state `{state}`")))?,
                assigned_ms: row.try_get(3)?,
                started_ms: row.try_get(4)?,
                ended_ms: row.try_get(5)?,
            })
        })
        .collect()
}

/// Records that a cancel was asked for a run that is not final; false when it is.
pub async fn request_cancel(db: &Db, id: &str) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE runs SET cancel_requested = 1 WHERE id = $1 AND state IN ('queued', 'assigned', 'running')",
    )
    .bind(id)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The place of the queued run with sequence number `seq` in the queue (1: next).
pub async fn queue_position(db: &Db, seq: i64) -> Result<u64, DbError> {
    let row = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM runs WHERE state = 'queued' AND seq <= $1")
        .bind(seq)
        .fetch_one(&db.pool)
        .await?;
    Ok(row.try_get::<i64, _>(0)?.max(0) as u64)
}

/// Runs an executor was given and has not ended (assigned or running), oldest first.
pub async fn in_flight(db: &Db) -> Result<Vec<Run>, DbError> {
    let rows =
        sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE state IN ('assigned', 'running') ORDER BY seq"))
            .fetch_all(&db.pool)
            .await?;
    rows.iter().map(run_from).collect()
}

/// Moves attempt `attempt` of run `id` from `from` to `to`; false when the run was not
/// in `from` at that attempt (someone else moved it). A final state records the end
/// time and `outcome`.
pub async fn transition(
    db: &Db,
    id: &str,
    attempt: u32,
    from: RunState,
    to: RunState,
    outcome: Option<&str>,
) -> Result<bool, DbError> {
    let now = now_ms();
    let mut transaction = db.pool.begin().await?;
    let done = sqlx::query(
        "UPDATE runs SET state = $4, \
         started_ms = CASE WHEN $4 = 'running' AND started_ms IS NULL THEN $5 ELSE started_ms END, \
         ended_ms = CASE WHEN $6 = 1 THEN $5 ELSE ended_ms END, \
         outcome = COALESCE($7, outcome) \
         WHERE id = $1 AND attempt = $2 AND state = $3",
    )
    .bind(id)
    .bind(i64::from(attempt))
    .bind(from.name())
    .bind(to.name())
    .bind(now)
    .bind(i64::from(to.is_final()))
    .bind(outcome.map(str::to_string))
    .execute(&mut *transaction)
    .await?;
    if done.rows_affected() == 1 && attempt > 0 {
        record_attempt(&mut transaction, id, attempt, to, outcome).await?;
    }
    transaction.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Records what became of attempt `attempt` of run `id`, whatever the run's state (a
/// superseded attempt's true outcome included).
pub async fn record_attempt(
    connection: &mut sqlx::AnyConnection,
    id: &str,
    attempt: u32,
    state: RunState,
    outcome: Option<&str>,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE run_attempts SET state = $3, \
         started_ms = CASE WHEN $3 = 'running' AND started_ms IS NULL THEN $4 ELSE started_ms END, \
         ended_ms = CASE WHEN $5 = 1 THEN $4 ELSE ended_ms END, \
         outcome = COALESCE($6, outcome) \
         WHERE run_id = $1 AND attempt = $2",
    )
    .bind(id)
    .bind(i64::from(attempt))
    .bind(state.name())
    .bind(now_ms())
    .bind(i64::from(state.is_final()))
    .bind(outcome.map(str::to_string))
    .execute(connection)
    .await?;
    Ok(())
}

/// Puts a run whose attempt was lost back in the queue (its end and outcome cleared,
/// the attempt recorded as lost), not to start before `not_before_ms`; false when it
/// was not in `from` at that attempt.
pub async fn requeue(db: &Db, id: &str, attempt: u32, from: RunState, not_before_ms: i64) -> Result<bool, DbError> {
    let mut transaction = db.pool.begin().await?;
    let done = sqlx::query(
        "UPDATE runs SET state = 'queued', executor_id = NULL, not_before_ms = $4, ended_ms = NULL, outcome = NULL \
         WHERE id = $1 AND attempt = $2 AND state = $3",
    )
    .bind(id)
    .bind(i64::from(attempt))
    .bind(from.name())
    .bind(not_before_ms)
    .execute(&mut *transaction)
    .await?;
    if done.rows_affected() == 1 {
        record_attempt(&mut transaction, id, attempt, RunState::Lost, None).await?;
    }
    transaction.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// How many runs are in each state.
pub async fn counts(db: &Db) -> Result<BTreeMap<String, i64>, DbError> {
    let rows =
        sqlx::query("SELECT state, CAST(COUNT(*) AS BIGINT) FROM runs GROUP BY state").fetch_all(&db.pool).await?;
    rows.iter().map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).collect()
}

/// A stored event of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub id: i64,
    pub attempt: u32,
    pub at_ms: i64,
    /// The event as JSON.
    pub body: String,
}

/// Appends an event to run `run_id`; with the executor's `source_seq`, an event stored
/// already is not stored again. Returns the new event's id, `None` for a repeat.
pub async fn append_event(
    db: &Db,
    run_id: &str,
    attempt: u32,
    source_seq: Option<u64>,
    body: &str,
) -> Result<Option<i64>, DbError> {
    let row = sqlx::query(
        "INSERT INTO run_events (run_id, attempt, source_seq, at_ms, body) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(run_id)
    .bind(i64::from(attempt))
    .bind(source_seq.map(|seq| seq.min(i64::MAX as u64) as i64))
    .bind(now_ms())
    .bind(body)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|row| row.try_get(0)).transpose().map_err(DbError::from)
}

/// The events of run `run_id` after event `after` (all when `None`), oldest first.
pub async fn events(db: &Db, run_id: &str, after: Option<i64>, limit: i64) -> Result<Vec<StoredEvent>, DbError> {
    let rows = sqlx::query(
        "SELECT id, attempt, at_ms, body FROM run_events WHERE run_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(run_id)
    .bind(after.unwrap_or(0))
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(StoredEvent {
                id: row.try_get(0)?,
                attempt: row.try_get::<i64, _>(1)?.clamp(0, u32::MAX as i64) as u32,
                at_ms: row.try_get(2)?,
                body: row.try_get(3)?,
            })
        })
        .collect()
}
