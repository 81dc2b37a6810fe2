//! The health reply of a server (`GET /api/health`).

use serde::{Deserialize, Serialize};

/// What `GET /api/health` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `ok` while the server serves.
    pub status: String,
    pub executor_id: String,
    /// The executor's package version.
    pub version: String,
    pub datafusion_version: String,
    /// The [`crate::PROTOCOL_VERSION`] it speaks (absent from executors that predate it).
    #[serde(default)]
    pub protocol_version: u32,
    /// Executions running now (0 or 1).
    pub running: usize,
    /// Executions waiting behind the running one.
    pub queued: usize,
}

#[cfg(test)]
mod tests {
    use super::Health;

    #[test]
    fn health_keeps_its_field_names() {
        let health = Health {
            status: "ok".into(),
            executor_id: "e".into(),
            version: "0.1.0".into(),
            datafusion_version: "55.2.0".into(),
            protocol_version: 1,
            running: 1,
            queued: 2,
        };
        let json = serde_json::to_string(&health).unwrap();
        assert_eq!(
            json,
            r#"{"status":"ok","executor_id":"e","version":"0.1.0","datafusion_version":"55.2.0","protocol_version":1,"running":1,"queued":2}"#
        );
        assert_eq!(serde_json::from_str::<Health>(&json).unwrap(), health);
    }
}
