//! The schema, as numbered migrations applied in order, each in one transaction.
//!
//! The statements are written once for SQLite and PostgreSQL, with three placeholders
//! for what their dialects spell differently: `{INT}` (a 64-bit integer), `{SERIAL}`
//! (an increasing 64-bit primary key) and `{BLOB}` (bytes). sqlx's `Any` driver refuses
//! SQLite columns declared as types it has no kind for (`BOOLEAN`, `DATE`...), so only
//! integers, text and bytes are declared.

use sqlx::Row;

use super::pool::{Backend, Db, DbError, now_ms};

/// Every migration, by version. Append only: a released migration never changes.
pub const MIGRATIONS: &[(i64, &str)] = &[(1, V1), (2, V2), (3, V3)];

const V1: &str = r#"
CREATE TABLE pipelines (
    name TEXT PRIMARY KEY,
    current_version {INT} NOT NULL,
    deleted {INT} NOT NULL DEFAULT 0,
    created_ms {INT} NOT NULL,
    updated_ms {INT} NOT NULL
);
CREATE TABLE pipeline_versions (
    name TEXT NOT NULL,
    version {INT} NOT NULL,
    spec TEXT NOT NULL,
    spec_format TEXT NOT NULL,
    spec_hash TEXT NOT NULL,
    settings TEXT NOT NULL,
    created_ms {INT} NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE runs (
    seq {SERIAL},
    id TEXT NOT NULL UNIQUE,
    pipeline TEXT,
    pipeline_version {INT},
    trigger_kind TEXT NOT NULL,
    trigger_key TEXT,
    state TEXT NOT NULL,
    spec TEXT,
    spec_format TEXT,
    spec_name TEXT,
    artifact {BLOB},
    params TEXT NOT NULL,
    labels TEXT NOT NULL,
    retries {INT} NOT NULL,
    attempt {INT} NOT NULL,
    executor_id TEXT,
    not_before_ms {INT} NOT NULL,
    created_ms {INT} NOT NULL,
    started_ms {INT},
    ended_ms {INT},
    outcome TEXT,
    diagnostics TEXT
);
CREATE UNIQUE INDEX runs_by_trigger ON runs (pipeline, trigger_key);
CREATE INDEX runs_by_state ON runs (state, seq);
CREATE INDEX runs_by_pipeline ON runs (pipeline, seq);
CREATE TABLE run_events (
    id {SERIAL},
    run_id TEXT NOT NULL,
    attempt {INT} NOT NULL,
    source_seq {INT},
    at_ms {INT} NOT NULL,
    body TEXT NOT NULL
);
CREATE UNIQUE INDEX run_events_by_source ON run_events (run_id, attempt, source_seq);
CREATE INDEX run_events_by_run ON run_events (run_id, id);
CREATE TABLE api_keys (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_ms {INT} NOT NULL,
    revoked {INT} NOT NULL DEFAULT 0
);
CREATE TABLE schedules (
    id {SERIAL},
    pipeline TEXT NOT NULL,
    cron TEXT NOT NULL,
    timezone TEXT NOT NULL,
    catch_up {INT} NOT NULL,
    next_fire_ms {INT} NOT NULL,
    last_fire_ms {INT}
);
CREATE TABLE seen_files (
    trigger_key TEXT NOT NULL,
    path TEXT NOT NULL,
    seen_ms {INT} NOT NULL,
    PRIMARY KEY (trigger_key, path)
);
"#;

/// Managed executors and the attempts of runs: which executor made each attempt, so
/// that only it may report on it; cancels asked for while a run goes.
const V2: &str = r#"
ALTER TABLE runs ADD COLUMN cancel_requested {INT} NOT NULL DEFAULT 0;
CREATE TABLE run_attempts (
    run_id TEXT NOT NULL,
    attempt {INT} NOT NULL,
    executor_id TEXT NOT NULL,
    state TEXT NOT NULL,
    assigned_ms {INT} NOT NULL,
    started_ms {INT},
    ended_ms {INT},
    outcome TEXT,
    PRIMARY KEY (run_id, attempt)
);
CREATE TABLE executors (
    id TEXT PRIMARY KEY,
    boot_id TEXT NOT NULL,
    hello TEXT NOT NULL,
    first_seen_ms {INT} NOT NULL,
    last_seen_ms {INT} NOT NULL,
    state TEXT NOT NULL
);
"#;

/// File-arrival triggers of deployed pipelines (one per pipeline). The files a trigger
/// has seen are in `seen_files`, under the key `pipeline|location`.
const V3: &str = r#"
CREATE TABLE file_triggers (
    pipeline TEXT PRIMARY KEY,
    location TEXT NOT NULL,
    interval_ms {INT} NOT NULL,
    param TEXT NOT NULL,
    storage_config TEXT NOT NULL,
    include_existing {INT} NOT NULL,
    next_poll_ms {INT} NOT NULL
);
"#;

/// The statements of `migration` for `backend`.
pub fn dialect(migration: &str, backend: Backend) -> String {
    let (int, serial, blob) = match backend {
        Backend::Sqlite => ("INTEGER", "INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB"),
        Backend::Postgres => ("BIGINT", "BIGSERIAL PRIMARY KEY", "BYTEA"),
    };
    migration.replace("{INT}", int).replace("{SERIAL}", serial).replace("{BLOB}", blob)
}

/// Brings the schema to the last version; refuses a database of a newer orchestrator.
pub async fn migrate(db: &Db) -> Result<(), DbError> {
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_versions (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)")
        .execute(&db.pool)
        .await?;
    let current: i64 = sqlx::query("SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM schema_versions")
        .fetch_one(&db.pool)
        .await?
        .try_get(0)?;
    let latest = MIGRATIONS.last().map_or(0, |(version, _)| *version);
    if current > latest {
        return Err(DbError::NewerSchema(db.display_url.clone(), current, latest));
    }
    for (version, migration) in MIGRATIONS.iter().filter(|(version, _)| *version > current) {
        let mut transaction = db.pool.begin().await?;
        for statement in dialect(migration, db.backend).split(';').map(str::trim).filter(|s| !s.is_empty()) {
            sqlx::query(statement).execute(&mut *transaction).await?;
        }
        // A second orchestrator migrating at the same moment fails here and rolls back.
        sqlx::query("INSERT INTO schema_versions (version, applied_ms) VALUES ($1, $2)")
            .bind(version)
            .bind(now_ms())
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
    }
    Ok(())
}
