//! [`Managed`]: what every connection of a managed executor shares (the executor, the
//! outbox, the run under way) and the hello it says.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aqueducts_protocol::PROTOCOL_VERSION;
use aqueducts_protocol::managed::{Features, Hello, RunRef};

use super::outbox::Outbox;
use crate::state::Executor;

/// What every connection of a managed executor shares.
pub struct Managed {
    pub executor: Arc<Executor>,
    pub outbox: Arc<Outbox>,
    pub boot_id: String,
    pub labels: BTreeMap<String, String>,
    pub running: Mutex<Option<RunRef>>,
}

impl Managed {
    pub fn hello(&self) -> Hello {
        let executor = &self.executor;
        Hello {
            executor_id: executor.id.clone(),
            boot_id: self.boot_id.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
            protocol_version: PROTOCOL_VERSION,
            artifact_format_version: aqueducts_runtime::artifact::FORMAT_VERSION,
            datafusion_version: aqueducts_runtime::DATAFUSION_VERSION.into(),
            max_memory_bytes: executor.settings.max_memory.map(|bytes| bytes as u64),
            labels: self.labels.clone(),
            features: Features {
                odbc: !aqueducts_runtime::io::odbc::registered_drivers().is_empty(),
                object_stores: vec!["s3".into(), "gcs".into(), "azure".into()],
                custom_sql: executor.databases.allows_custom_sql(),
            },
            working_directory: executor.working_directory.display().to_string(),
            max_message_bytes: executor.max_message_bytes as u64,
            held: self.outbox.held(),
        }
    }

    pub fn running(&self) -> Option<RunRef> {
        self.running.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
