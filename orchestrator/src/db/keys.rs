//! User API keys beyond the admin key: each has a name and a role, and only its SHA-256
//! digest is stored. A key holds 244 random bits (two version-4 UUIDs), so a fast digest is enough to keep the
//! stored form from being used as a key.

use sha2::{Digest, Sha256};
use sqlx::Row;

use super::pool::{Db, DbError, now_ms};

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads runs, pipelines and executors.
    Viewer,
    /// Also submits, cancels, deploys and triggers.
    Operator,
    /// Everything (the orchestrator's `--api-key`).
    Admin,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        match name {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            _ => None,
        }
    }
}

/// A stored key, without the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub name: String,
    pub role: Role,
    pub created_ms: i64,
    pub revoked: bool,
}

/// The hex SHA-256 digest of `key`.
pub fn digest(key: &str) -> String {
    Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random key for `role`: `aq_<role>_` and 64 hex digits.
pub fn generate(role: Role) -> String {
    format!("aq_{}_{}", role.name(), random_hex())
}

/// 244 random bits (two version-4 UUIDs) as 64 hex digits: keys, session and CSRF tokens.
pub fn random_hex() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// Creates a key named `name`; returns the key, which is not stored and cannot be
/// shown again.
pub async fn create(db: &Db, name: &str, role: Role) -> Result<String, DbError> {
    let key = generate(role);
    sqlx::query("INSERT INTO api_keys (name, role, key_hash, created_ms, revoked) VALUES ($1, $2, $3, $4, 0)")
        .bind(name)
        .bind(role.name())
        .bind(digest(&key))
        .bind(now_ms())
        .execute(&db.pool)
        .await?;
    Ok(key)
}

/// The key's name and role, if it is a stored key that is not revoked.
pub async fn lookup(db: &Db, key: &str) -> Result<Option<(String, Role)>, DbError> {
    lookup_digest(db, &digest(key)).await
}

/// [`lookup`] by the key's digest (a web session remembers only that).
pub async fn lookup_digest(db: &Db, key_digest: &str) -> Result<Option<(String, Role)>, DbError> {
    let row = sqlx::query("SELECT name, role FROM api_keys WHERE key_hash = $1 AND revoked = 0")
        .bind(key_digest)
        .fetch_optional(&db.pool)
        .await?;
    row.map(|row| {
        let role: String = row.try_get(1)?;
        let role = Role::parse(&role).ok_or_else(|| DbError::Corrupt(format!("key role `{role}`")))?;
        Ok((row.try_get(0)?, role))
    })
    .transpose()
}

/// Every stored key, by name.
pub async fn list(db: &Db) -> Result<Vec<StoredKey>, DbError> {
    let rows =
        sqlx::query("SELECT name, role, created_ms, revoked FROM api_keys ORDER BY name").fetch_all(&db.pool).await?;
    rows.iter()
        .map(|row| {
            let role: String = row.try_get(1)?;
            Ok(StoredKey {
                name: row.try_get(0)?,
                role: Role::parse(&role).ok_or_else(|| DbError::Corrupt(format!("key role `{role}`")))?,
                created_ms: row.try_get(2)?,
                revoked: row.try_get::<i64, _>(3)? != 0,
            })
        })
        .collect()
}

/// Revokes the key named `name`; whether there was one.
pub async fn revoke(db: &Db, name: &str) -> Result<bool, DbError> {
    let done = sqlx::query("UPDATE api_keys SET revoked = 1 WHERE name = $1 AND revoked = 0")
        .bind(name)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() == 1)
}
