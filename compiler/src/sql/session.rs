//! The session that compiles SQL: the runtime's session for the same settings (memory,
//! physical rules, our functions) with the front end's logical rules added where they
//! belong among DataFusion's. `check` plans with it and lowering does, so that what
//! `check` accepts is what `plan` and `run` plan.

use std::sync::Arc;

use aqueducts_runtime::RunSettings;
use datafusion::error::Result;
use datafusion::execution::SessionStateBuilder;
use datafusion::optimizer::OptimizerRule;
use datafusion::prelude::SessionContext;

use super::rules::casts::PostgresCasts;
use super::rules::lateral_limit::LateralLimit;
use super::rules::set_all::SetOperationsAll;
use super::rules::sort_keys::{self, SortKeys};

/// The name of DataFusion's rule that turns lateral subqueries into joins, which
/// [`LateralLimit`] prepares for.
const DECORRELATE_LATERAL: &str = "decorrelate_lateral_join";

/// A session for compiling (and running) with `settings`.
pub fn compile_context(settings: &RunSettings) -> Result<SessionContext> {
    let state = settings.session_context()?.state();
    let mut optimizer_rules: Vec<Arc<dyn OptimizerRule + Send + Sync>> = state.optimizers().to_vec();
    // Should a DataFusion upgrade rename the rule, ours goes first, which is still
    // before it; the lateral corpus cases tell if it no longer helps.
    let at = optimizer_rules.iter().position(|rule| rule.name() == DECORRELATE_LATERAL).unwrap_or(0);
    optimizer_rules.insert(at, Arc::new(LateralLimit));
    for rule in optimizer_rules.iter_mut().filter(|rule| rule.name() == sort_keys::REPLACES) {
        *rule = Arc::new(SortKeys::default());
    }
    let mut analyzer_rules = state.analyzer().rules.clone();
    analyzer_rules.push(Arc::new(PostgresCasts));
    analyzer_rules.push(Arc::new(SetOperationsAll));
    let state = SessionStateBuilder::new_from_existing(state)
        .with_optimizer_rules(optimizer_rules)
        .with_analyzer_rules(analyzer_rules)
        .build();
    Ok(SessionContext::new_with_state(state))
}
