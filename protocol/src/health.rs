//! The health reply of a server (`GET /api/health`): its status for anyone, and what it
//! is and does only for a caller with the key.

use serde::{Deserialize, Serialize};

/// What `GET /api/health` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `ok` while the server serves.
    pub status: String,
    /// Only for a request with a valid key.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub details: Option<HealthDetails>,
}

/// What a server tells a caller with the key about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthDetails {
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
    use super::{Health, HealthDetails};

    #[test]
    fn health_keeps_its_field_names() {
        let details = HealthDetails {
            executor_id: "e".into(),
            version: "0.1.0".into(),
            datafusion_version: "55.2.0".into(),
            protocol_version: 1,
            running: 1,
            queued: 2,
        };
        let health = Health { status: "ok".into(), details: Some(details) };
        let json = serde_json::to_string(&health).unwrap();
        assert_eq!(
            json,
            r#"{"status":"ok","executor_id":"e","version":"0.1.0","datafusion_version":"55.2.0","protocol_version":1,"running":1,"queued":2}"#
        );
        assert_eq!(serde_json::from_str::<Health>(&json).unwrap(), health);
        let anonymous = Health { status: "ok".into(), details: None };
        assert_eq!(serde_json::to_string(&anonymous).unwrap(), r#"{"status":"ok"}"#);
        assert_eq!(serde_json::from_str::<Health>(r#"{"status":"ok"}"#).unwrap(), anonymous);
    }
}
