//! [`Sessions`]: who signed in to the web interface, in memory.
//!
//! Signing in with a key gives the browser a random session token in an HttpOnly,
//! SameSite=Strict cookie, and the page a second random value, the CSRF token, that it
//! sends in [`CSRF_HEADER`] with every request that changes something. A request that
//! carries the cookie but not the matching token is refused: another site can make a
//! browser send the cookie, but cannot read the token. Only digests of the session
//! tokens are kept. A session of a stored key holds the key's digest, so that revoking
//! the key ends the session at its next request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::db::keys::Role;

/// The session cookie's name.
pub const COOKIE: &str = "aq_session";
/// The header the page sends its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts after signing in.
pub const LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Sessions kept at most; signing in beyond it ends the session closest to expiry.
pub const MAX_SESSIONS: usize = 10_000;
/// Sessions of one key at most; its next sign-in ends its oldest session (so one key
/// holder cannot push everyone else's sessions out).
pub const MAX_SESSIONS_PER_KEY: usize = 16;

/// Who a session belongs to.
#[derive(Debug, Clone)]
pub struct Session {
    pub role: Role,
    pub name: String,
    /// The digest of the stored key it was opened with; `None` for the administrators' key.
    pub key_digest: Option<String>,
    pub csrf_token: String,
    expires_at: Instant,
}

impl Session {
    /// Whether `offered` is this session's CSRF token (compared in constant time).
    pub fn csrf_matches(&self, offered: &str) -> bool {
        let expected: [u8; 32] = Sha256::digest(self.csrf_token.as_bytes()).into();
        let offered: [u8; 32] = Sha256::digest(offered.as_bytes()).into();
        expected.ct_eq(&offered).into()
    }

    /// Seconds until it expires.
    pub fn expires_in(&self) -> Duration {
        self.expires_at.saturating_duration_since(Instant::now())
    }
}

#[derive(Default)]
pub struct Sessions {
    by_digest: Mutex<HashMap<[u8; 32], Session>>,
}

fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Sessions {
    fn inner(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.by_digest.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens a session; its token (for the cookie) and the session.
    pub fn open(&self, role: Role, name: String, key_digest: Option<String>) -> (String, Session) {
        let token = crate::db::keys::random_hex();
        let session = Session {
            role,
            name,
            key_digest,
            csrf_token: crate::db::keys::random_hex(),
            expires_at: Instant::now() + LIFETIME,
        };
        let mut sessions = self.inner();
        let of_key: Vec<([u8; 32], Instant)> = sessions
            .iter()
            .filter(|(_, other)| other.name == session.name && other.key_digest == session.key_digest)
            .map(|(digest, other)| (*digest, other.expires_at))
            .collect();
        if of_key.len() >= MAX_SESSIONS_PER_KEY
            && let Some((oldest, _)) = of_key.iter().min_by_key(|(_, expires_at)| *expires_at)
        {
            sessions.remove(oldest);
        }
        if sessions.len() >= MAX_SESSIONS {
            let now = Instant::now();
            sessions.retain(|_, session| session.expires_at > now);
        }
        if sessions.len() >= MAX_SESSIONS
            && let Some(soonest) =
                sessions.iter().min_by_key(|(_, session)| session.expires_at).map(|(digest, _)| *digest)
        {
            sessions.remove(&soonest);
        }
        sessions.insert(token_digest(&token), session.clone());
        (token, session)
    }

    /// The live session of `token`; an expired one is forgotten.
    pub fn get(&self, token: &str) -> Option<Session> {
        let digest = token_digest(token);
        let mut sessions = self.inner();
        match sessions.get(&digest) {
            Some(session) if session.expires_at > Instant::now() => Some(session.clone()),
            Some(_) => {
                sessions.remove(&digest);
                None
            }
            None => None,
        }
    }

    /// Ends the session of `token`.
    pub fn end(&self, token: &str) {
        self.inner().remove(&token_digest(token));
    }

    /// How many sessions are open (expired ones included until they are looked at).
    pub fn len(&self) -> usize {
        self.inner().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The session token in a request's `Cookie` headers, if any.
pub fn cookie_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
}

/// The `Set-Cookie` value that gives a browser `token`; `Secure` when served over TLS.
pub fn set_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}", LIFETIME.as_secs())
}

/// The `Set-Cookie` value that removes the cookie.
pub fn clear_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_found_by_its_token_only_until_it_ends() {
        let sessions = Sessions::default();
        let (token, session) = sessions.open(Role::Viewer, "ops".into(), Some("d".into()));
        assert_eq!(token.len(), 64);
        assert_ne!(token, session.csrf_token);
        let found = sessions.get(&token).expect("open session");
        assert_eq!((found.role, found.name.as_str()), (Role::Viewer, "ops"));
        assert!(found.csrf_matches(&session.csrf_token));
        assert!(!found.csrf_matches(&token));
        assert!(!found.csrf_matches(""));
        assert!(sessions.get(&session.csrf_token).is_none());
        sessions.end(&token);
        assert!(sessions.get(&token).is_none());
    }

    #[test]
    fn sessions_are_bounded_in_all_and_per_key() {
        let sessions = Sessions::default();
        let (first, _) = sessions.open(Role::Admin, "admin".into(), None);
        let (viewer, _) = sessions.open(Role::Viewer, "v".into(), Some("d".into()));
        for _ in 0..MAX_SESSIONS_PER_KEY * 3 {
            sessions.open(Role::Viewer, "v".into(), Some("d".into()));
        }
        assert_eq!(sessions.len(), 1 + MAX_SESSIONS_PER_KEY, "one key's sign-ins replace its own sessions");
        assert!(sessions.get(&viewer).is_none());
        assert!(sessions.get(&first).is_some(), "another key's session stays");
        for i in 0..MAX_SESSIONS {
            sessions.open(Role::Viewer, format!("key-{i}"), Some(format!("d{i}")));
        }
        assert_eq!(sessions.len(), MAX_SESSIONS);
        assert!(sessions.get(&first).is_none(), "the oldest session made room");
    }

    #[test]
    fn the_cookie_is_read_among_others_and_written_with_its_attributes() {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(axum::http::header::COOKIE, "theme=dark; aq_session=abc123; x=1".parse().unwrap());
        assert_eq!(cookie_token(&headers), Some("abc123"));
        headers.insert(axum::http::header::COOKIE, "aq_session=".parse().unwrap());
        assert_eq!(cookie_token(&headers), None);
        let cookie = set_cookie("t", true);
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.ends_with("; Secure"));
        assert!(!set_cookie("t", false).contains("Secure"));
        assert!(clear_cookie(false).contains("Max-Age=0"));
    }
}
