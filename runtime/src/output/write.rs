//! [`Write`]: what a stage's write of the destination is, decided once, when the plan is
//! lowered or decoded, so that running and checking it never guess from the plan again.

use std::sync::Arc;

use datafusion::common::{DataFusionError, Result};
use datafusion::physical_plan::ExecutionPlan;

use super::repoint::{sink_config, target_url};
use crate::io::delta::sink::DeltaWriteExec;
use crate::io::odbc::sink::OdbcWriteExec;

/// A stage's write of the destination.
#[derive(Debug, Clone)]
pub enum Write {
    /// A DataFusion file sink writing the destination path (locally or on an object
    /// store). It runs into a staging location that replaces the destination only when
    /// every stage succeeded.
    File(Arc<dyn ExecutionPlan>),
    /// An [`OdbcWriteExec`]: one database transaction, held open until every stage
    /// succeeded.
    Database(Arc<dyn ExecutionPlan>),
    /// A [`DeltaWriteExec`]: rows staged in the table's directory, committed as one Delta
    /// commit once every stage succeeded.
    Delta(Arc<dyn ExecutionPlan>),
}

impl Write {
    /// The kind of write `plan` is; an error for a plan that writes no destination we
    /// know how to stage.
    pub fn from_plan(plan: Arc<dyn ExecutionPlan>) -> Result<Write> {
        if plan.as_ref().downcast_ref::<OdbcWriteExec>().is_some() {
            return Ok(Write::Database(plan));
        }
        if plan.as_ref().downcast_ref::<DeltaWriteExec>().is_some() {
            return Ok(Write::Delta(plan));
        }
        sink_config(&plan)?;
        Ok(Write::File(plan))
    }

    /// The plan that writes.
    pub fn plan(&self) -> &Arc<dyn ExecutionPlan> {
        match self {
            Write::File(plan) | Write::Database(plan) | Write::Delta(plan) => plan,
        }
    }

    /// The same kind of write over a transformed plan (read-ahead wrapping, which keeps
    /// the root node).
    pub fn map_plan(
        self,
        transform: impl FnOnce(Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>>,
    ) -> Result<Write> {
        let rebuilt = match self {
            Write::File(plan) => Write::File(transform(plan)?),
            Write::Database(plan) => Write::Database(transform(plan)?),
            Write::Delta(plan) => Write::Delta(transform(plan)?),
        };
        // Read-ahead only wraps inputs, never the root; a transform that replaced the
        // root would have to decide the kind again.
        match &rebuilt {
            Write::Database(plan) if plan.as_ref().downcast_ref::<OdbcWriteExec>().is_none() => {
                Err(DataFusionError::Internal("a database write lost its write node".into()))
            }
            Write::Delta(plan) if plan.as_ref().downcast_ref::<DeltaWriteExec>().is_none() => {
                Err(DataFusionError::Internal("a Delta write lost its write node".into()))
            }
            _ => Ok(rebuilt),
        }
    }

    /// The URL a file write targets (a Delta write: its table); `None` for a database write.
    pub fn target_url(&self) -> Result<Option<String>> {
        match self {
            Write::File(plan) => target_url(plan).map(Some),
            Write::Database(_) => Ok(None),
            Write::Delta(plan) => Ok(plan.as_ref().downcast_ref::<DeltaWriteExec>().map(|w| w.target().url.clone())),
        }
    }
}
