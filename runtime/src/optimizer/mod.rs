//! Our physical optimizer rules and where they go among DataFusion's own.

pub mod dense_joins;

use std::sync::Arc;

use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;

/// DataFusion's physical optimizer rules, with [`dense_joins::CollectDenseJoins`] right
/// after the join selection whose choices it revisits (and before distribution is
/// enforced, which it relies on). Should a DataFusion upgrade rename that rule, the rule
/// is left out rather than run where it would be wrong, and the tests of `dense_joins`
/// fail.
pub fn physical_optimizer_rules() -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
    let mut rules = PhysicalOptimizer::new().rules;
    if let Some(at) = rules.iter().position(|rule| rule.name() == dense_joins::FOLLOWS) {
        rules.insert(at + 1, Arc::new(dense_joins::CollectDenseJoins));
    }
    rules
}
