//! Deployed pipelines and their versions. Each deploy is a new version; a run of a
//! pipeline records the version it ran. Deleting a pipeline hides it and keeps its
//! history.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::pool::{Db, DbError, now_ms};

/// What a version runs with, beyond its spec (stored as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub retries: u32,
    /// Runs of the pipeline at once, at most.
    #[serde(default = "one")]
    pub max_concurrent: u32,
    /// The executor the spec was checked on when deployed.
    #[serde(default)]
    pub checked_on: Option<String>,
    /// Who deployed it (a key's name).
    #[serde(default)]
    pub deployed_by: String,
    /// The spec's file name, for diagnostics.
    #[serde(default)]
    pub spec_name: String,
    /// Whether a tick missed while the orchestrator was down runs once when it is back.
    #[serde(default = "yes")]
    pub catch_up: bool,
}

fn yes() -> bool {
    true
}

fn one() -> u32 {
    1
}

/// A stored version of a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    pub name: String,
    pub version: i64,
    pub spec: String,
    pub spec_format: String,
    pub spec_hash: String,
    pub settings: Settings,
    pub created_ms: i64,
}

/// Stores a new version of `name` (the first creates the pipeline); its number.
pub async fn deploy(
    db: &Db,
    name: &str,
    spec: &str,
    spec_format: &str,
    spec_hash: &str,
    settings: &Settings,
) -> Result<i64, DbError> {
    let now = now_ms();
    let mut transaction = db.pool.begin().await?;
    let current: Option<i64> = sqlx::query("SELECT current_version FROM pipelines WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *transaction)
        .await?
        .map(|row| row.try_get(0))
        .transpose()?;
    // Numbers keep growing across a delete: a version number names one spec forever.
    let last: i64 =
        sqlx::query("SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM pipeline_versions WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *transaction)
            .await?
            .try_get(0)?;
    let version = last + 1;
    sqlx::query(
        "INSERT INTO pipeline_versions (name, version, spec, spec_format, spec_hash, settings, created_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(name)
    .bind(version)
    .bind(spec)
    .bind(spec_format)
    .bind(spec_hash)
    .bind(serde_json::to_string(settings).unwrap_or_default())
    .bind(now)
    .execute(&mut *transaction)
    .await?;
    let upsert = if current.is_some() {
        "UPDATE pipelines SET current_version = $2, deleted = 0, updated_ms = $3 WHERE name = $1"
    } else {
        "INSERT INTO pipelines (name, current_version, deleted, created_ms, updated_ms) VALUES ($1, $2, 0, $3, $3)"
    };
    sqlx::query(upsert).bind(name).bind(version).bind(now).execute(&mut *transaction).await?;
    transaction.commit().await?;
    Ok(version)
}

fn version_from(row: &sqlx::any::AnyRow) -> Result<Version, DbError> {
    let settings: String = row.try_get("settings")?;
    Ok(Version {
        name: row.try_get("name")?,
        version: row.try_get("version")?,
        spec: row.try_get("spec")?,
        spec_format: row.try_get("spec_format")?,
        spec_hash: row.try_get("spec_hash")?,
        settings: serde_json::from_str(&settings).map_err(|e| DbError::Corrupt(format!("pipeline settings: {e}")))?,
        created_ms: row.try_get("created_ms")?,
    })
}

const VERSION_COLUMNS: &str = "v.name, v.version, v.spec, v.spec_format, v.spec_hash, v.settings, v.created_ms";

/// Version `version` of `name` (its current one when `None`), unless it was deleted.
pub async fn get(db: &Db, name: &str, version: Option<i64>) -> Result<Option<Version>, DbError> {
    let row = sqlx::query(&format!(
        "SELECT {VERSION_COLUMNS} FROM pipelines p JOIN pipeline_versions v ON v.name = p.name \
         WHERE p.name = $1 AND p.deleted = 0 AND v.version = COALESCE($2, p.current_version)"
    ))
    .bind(name)
    .bind(version)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(version_from).transpose()
}

/// Version `version` of `name`, deleted or not (its runs may still wait).
pub async fn version(db: &Db, name: &str, version: i64) -> Result<Option<Version>, DbError> {
    let row =
        sqlx::query(&format!("SELECT {VERSION_COLUMNS} FROM pipeline_versions v WHERE v.name = $1 AND v.version = $2"))
            .bind(name)
            .bind(version)
            .fetch_optional(&db.pool)
            .await?;
    row.as_ref().map(version_from).transpose()
}

/// Every version of `name`, newest first (without the spec texts' use in mind: they
/// come along, for diffs).
pub async fn versions(db: &Db, name: &str) -> Result<Vec<Version>, DbError> {
    let rows = sqlx::query(&format!(
        "SELECT {VERSION_COLUMNS} FROM pipeline_versions v WHERE v.name = $1 ORDER BY v.version DESC"
    ))
    .bind(name)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(version_from).collect()
}

/// The current version of every pipeline not deleted, by name.
pub async fn list(db: &Db) -> Result<Vec<Version>, DbError> {
    let rows = sqlx::query(&format!(
        "SELECT {VERSION_COLUMNS} FROM pipelines p JOIN pipeline_versions v \
         ON v.name = p.name AND v.version = p.current_version WHERE p.deleted = 0 ORDER BY p.name"
    ))
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(version_from).collect()
}

/// Hides `name`; its versions and runs stay. Whether it existed.
pub async fn delete(db: &Db, name: &str) -> Result<bool, DbError> {
    let done = sqlx::query("UPDATE pipelines SET deleted = 1, updated_ms = $2 WHERE name = $1 AND deleted = 0")
        .bind(name)
        .bind(now_ms())
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// How many runs of `name` are assigned or running.
pub async fn running(db: &Db, name: &str) -> Result<u32, DbError> {
    let row = sqlx::query(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM runs WHERE pipeline = $1 AND state IN ('assigned', 'running')",
    )
    .bind(name)
    .fetch_one(&db.pool)
    .await?;
    Ok(row.try_get::<i64, _>(0)?.clamp(0, u32::MAX as i64) as u32)
}

/// A schedule whose tick has come.
#[derive(Debug, Clone)]
pub struct DueSchedule {
    pub id: i64,
    pub pipeline: String,
    pub cron: String,
    pub timezone: String,
    pub catch_up: bool,
    pub next_fire_ms: i64,
}

/// A schedule of a pipeline's deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSchedule {
    pub cron: String,
    pub timezone: String,
    pub catch_up: bool,
    pub next_fire_ms: i64,
}

/// Replaces the schedules of `name` (none: it runs only when asked).
pub async fn set_schedules(db: &Db, name: &str, schedules: &[NewSchedule]) -> Result<(), DbError> {
    let mut transaction = db.pool.begin().await?;
    sqlx::query("DELETE FROM schedules WHERE pipeline = $1").bind(name).execute(&mut *transaction).await?;
    for schedule in schedules {
        sqlx::query(
            "INSERT INTO schedules (pipeline, cron, timezone, catch_up, next_fire_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(name)
        .bind(&schedule.cron)
        .bind(&schedule.timezone)
        .bind(i64::from(schedule.catch_up))
        .bind(schedule.next_fire_ms)
        .execute(&mut *transaction)
        .await?;
    }
    transaction.commit().await?;
    Ok(())
}

/// The schedules of `name`: (cron, time zone, catch up, next tick).
pub async fn schedules(db: &Db, name: &str) -> Result<Vec<NewSchedule>, DbError> {
    let rows = sqlx::query(
        "SELECT cron, timezone, catch_up, next_fire_ms FROM schedules WHERE pipeline = $1 AND next_fire_ms >= 0 ORDER BY id",
    )
    .bind(name)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(NewSchedule {
                cron: row.try_get(0)?,
                timezone: row.try_get(1)?,
                catch_up: row.try_get::<i64, _>(2)? != 0,
                next_fire_ms: row.try_get(3)?,
            })
        })
        .collect()
}

/// Schedules of pipelines not deleted whose tick is at or before `now_ms`.
pub async fn due_schedules(db: &Db, now_ms: i64) -> Result<Vec<DueSchedule>, DbError> {
    let rows = sqlx::query(
        "SELECT s.id, s.pipeline, s.cron, s.timezone, s.catch_up, s.next_fire_ms FROM schedules s \
         JOIN pipelines p ON p.name = s.pipeline WHERE p.deleted = 0 AND s.next_fire_ms >= 0 AND s.next_fire_ms <= $1 \
         ORDER BY s.next_fire_ms",
    )
    .bind(now_ms)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(DueSchedule {
                id: row.try_get(0)?,
                pipeline: row.try_get(1)?,
                cron: row.try_get(2)?,
                timezone: row.try_get(3)?,
                catch_up: row.try_get::<i64, _>(4)? != 0,
                next_fire_ms: row.try_get(5)?,
            })
        })
        .collect()
}

/// Moves schedule `id` from tick `from_ms` to `next_ms` (none: it never fires again);
/// false when another move came first.
pub async fn move_schedule(db: &Db, id: i64, from_ms: i64, next_ms: Option<i64>) -> Result<bool, DbError> {
    let done =
        sqlx::query("UPDATE schedules SET last_fire_ms = $2, next_fire_ms = $3 WHERE id = $1 AND next_fire_ms = $2")
            .bind(id)
            .bind(from_ms)
            .bind(next_ms.unwrap_or(-1))
            .execute(&db.pool)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// A pipeline's file-arrival trigger as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct FileTrigger {
    pub pipeline: String,
    pub location: String,
    pub interval_ms: i64,
    pub param: String,
    pub storage_config: BTreeMap<String, String>,
    pub include_existing: bool,
    pub next_poll_ms: i64,
}

impl FileTrigger {
    /// The key its seen files are remembered under: redeploying with the same location
    /// keeps them.
    pub fn key(&self) -> String {
        format!("{}|{}", self.pipeline, self.location)
    }
}

/// Replaces the file trigger of `name` (`None`: it has none).
pub async fn set_file_trigger(db: &Db, name: &str, trigger: Option<&FileTrigger>) -> Result<(), DbError> {
    let mut transaction = db.pool.begin().await?;
    sqlx::query("DELETE FROM file_triggers WHERE pipeline = $1").bind(name).execute(&mut *transaction).await?;
    if let Some(trigger) = trigger {
        sqlx::query(
            "INSERT INTO file_triggers (pipeline, location, interval_ms, param, storage_config, include_existing, next_poll_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(name)
        .bind(&trigger.location)
        .bind(trigger.interval_ms)
        .bind(&trigger.param)
        .bind(serde_json::to_string(&trigger.storage_config).unwrap_or_default())
        .bind(i64::from(trigger.include_existing))
        .bind(trigger.next_poll_ms)
        .execute(&mut *transaction)
        .await?;
    }
    transaction.commit().await?;
    Ok(())
}

fn trigger_from(row: &sqlx::any::AnyRow) -> Result<FileTrigger, DbError> {
    let config: String = row.try_get(4)?;
    Ok(FileTrigger {
        pipeline: row.try_get(0)?,
        location: row.try_get(1)?,
        interval_ms: row.try_get(2)?,
        param: row.try_get(3)?,
        storage_config: serde_json::from_str(&config).map_err(|e| DbError::Corrupt(format!("storage_config: {e}")))?,
        include_existing: row.try_get::<i64, _>(5)? != 0,
        next_poll_ms: row.try_get(6)?,
    })
}

const TRIGGER_COLUMNS: &str =
    "t.pipeline, t.location, t.interval_ms, t.param, t.storage_config, t.include_existing, t.next_poll_ms";

/// The file trigger of `name`, if it has one.
pub async fn file_trigger(db: &Db, name: &str) -> Result<Option<FileTrigger>, DbError> {
    let row = sqlx::query(&format!("SELECT {TRIGGER_COLUMNS} FROM file_triggers t WHERE t.pipeline = $1"))
        .bind(name)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(trigger_from).transpose()
}

/// File triggers of pipelines not deleted that are due for a look.
pub async fn due_file_triggers(db: &Db, now_ms: i64) -> Result<Vec<FileTrigger>, DbError> {
    let rows = sqlx::query(&format!(
        "SELECT {TRIGGER_COLUMNS} FROM file_triggers t JOIN pipelines p ON p.name = t.pipeline \
         WHERE p.deleted = 0 AND t.next_poll_ms <= $1"
    ))
    .bind(now_ms)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(trigger_from).collect()
}

/// The next look of `name`'s trigger.
pub async fn poll_again(db: &Db, name: &str, at_ms: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE file_triggers SET next_poll_ms = $2 WHERE pipeline = $1")
        .bind(name)
        .bind(at_ms)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Which of `paths` trigger `key` has seen (asked in batches: a trigger's history may be
/// far longer than one listing).
pub async fn seen_among(db: &Db, key: &str, paths: &[String]) -> Result<std::collections::HashSet<String>, DbError> {
    let mut seen = std::collections::HashSet::new();
    for batch in paths.chunks(200) {
        let placeholders: Vec<String> = (0..batch.len()).map(|i| format!("${}", i + 2)).collect();
        let sql =
            format!("SELECT path FROM seen_files WHERE trigger_key = $1 AND path IN ({})", placeholders.join(", "));
        let mut query = sqlx::query(&sql).bind(key);
        for path in batch {
            query = query.bind(path);
        }
        for row in query.fetch_all(&db.pool).await? {
            seen.insert(row.try_get(0)?);
        }
    }
    Ok(seen)
}

/// Forgets what trigger `key` has seen (its pipeline was deleted: a redeploy starts over
/// from what is there then).
pub async fn forget_seen(db: &Db, key: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM seen_files WHERE trigger_key = $1").bind(key).execute(&db.pool).await?;
    Ok(())
}

/// Remembers that trigger `key` has seen `path`.
pub async fn see_file(db: &Db, key: &str, path: &str) -> Result<(), DbError> {
    sqlx::query("INSERT INTO seen_files (trigger_key, path, seen_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(key)
        .bind(path)
        .bind(now_ms())
        .execute(&db.pool)
        .await?;
    Ok(())
}
