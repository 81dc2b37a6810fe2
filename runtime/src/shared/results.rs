//! Where a run keeps its shared stages' logs, so that the plan nodes reading them find
//! them through their task context.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::{DataFusionError, Result};
use datafusion::prelude::SessionContext;

use super::batch_log::BatchLog;

/// The logs of a run's shared stages, by id. Lives in the session config, so plan
/// nodes find them through their task context.
#[derive(Default)]
pub struct SharedResults {
    logs: Mutex<HashMap<u32, Arc<BatchLog>>>,
}

impl SharedResults {
    pub(crate) fn get(&self, id: u32) -> Option<Arc<BatchLog>> {
        self.logs.lock().ok()?.get(&id).cloned()
    }
}

/// Opens the log of shared stage `id`, read `reads` times by the plans of this run, so
/// that its readers find it whenever they start. Call before running anything.
pub fn open(ctx: &SessionContext, id: u32, stage: &str, schema: SchemaRef, reads: usize) -> Result<Arc<BatchLog>> {
    let results = ctx
        .state()
        .config()
        .get_extension::<SharedResults>()
        .ok_or_else(|| DataFusionError::Internal("the session has no shared stage results".into()))?;
    let log = BatchLog::for_stage(stage, schema, reads, &ctx.runtime_env());
    let mut logs = results.logs.lock().map_err(|_| DataFusionError::Internal("shared stage logs poisoned".into()))?;
    logs.insert(id, log.clone());
    Ok(log)
}
