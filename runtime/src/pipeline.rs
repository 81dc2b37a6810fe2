//! A lowered pipeline: each stage's physical plans, in an order where inputs come first.
//! The compiler produces it, artifacts carry it, the runtime runs it.

use std::sync::Arc;

use datafusion::physical_plan::ExecutionPlan;

use crate::io::stores::StoreDescriptor;
use crate::output::write::Write;

/// What the runtime does for one stage. Stages whose result only feeds other stages
/// have nothing here: they are planned inside their readers.
#[derive(Debug)]
pub struct StagePlans {
    pub name: String,
    /// The stage's result, for what it prints (its schema, plan, rows, metrics).
    pub plan: Option<Arc<dyn ExecutionPlan>>,
    /// Rows to print (`show`; 0 was already turned into the default).
    pub show: Option<usize>,
    pub print_schema: bool,
    pub explain: bool,
    /// Run the stage (or its write) to completion, then print the plan with metrics.
    pub explain_analyze: bool,
    /// The write of the destination (a file sink targeting the destination path, or a database write).
    pub write: Option<Write>,
    /// For a stage read more than once: its id and the plan computed once, alongside the
    /// stages that read it ([`crate::shared`]).
    pub materialize: Option<(u32, Arc<dyn ExecutionPlan>)>,
}

/// A pipeline ready to run: its stages in an order where inputs come first.
#[derive(Debug)]
pub struct ExecutablePipeline {
    pub stages: Vec<StagePlans>,
    /// The object stores the plans read and write, registered before they are decoded.
    pub stores: Vec<StoreDescriptor>,
}
