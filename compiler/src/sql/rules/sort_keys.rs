//! [`SortKeys`]: DataFusion's `eliminate_duplicated_expr`, without dropping sort keys
//! that only seem to be determined by earlier ones.
//!
//! DataFusion removes an `ORDER BY` key when the schema's functional dependencies say
//! the earlier keys determine it. The dependencies an aggregate derives can be wider than
//! the truth: after `GROUP BY t.tier, s.status` over a cross join of two `DISTINCT`
//! relations, it records that `tier` determines every output column, `status`
//! included, and `ORDER BY t.tier, s.status` loses its second key. This rule keeps
//! DataFusion's behaviour for everything but sorts, and for sorts removes repeated keys
//! and those determined by dependencies that hold one row per key (`Single`: a primary
//! key, or a group whose keys are all determined), which the bug does not produce.

use std::collections::HashSet;

use datafusion::common::tree_node::Transformed;
use datafusion::common::{Dependency, Result};
use datafusion::logical_expr::{LogicalPlan, Sort};
use datafusion::optimizer::eliminate_duplicated_expr::EliminateDuplicatedExpr;
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

/// The name of the rule this one replaces.
pub const REPLACES: &str = "eliminate_duplicated_expr";

#[derive(Debug, Default)]
pub struct SortKeys {
    datafusion: EliminateDuplicatedExpr,
}

impl OptimizerRule for SortKeys {
    fn name(&self) -> &str {
        "aqueducts_sort_keys"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(&self, plan: LogicalPlan, config: &dyn OptimizerConfig) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Sort(sort) = plan else { return self.datafusion.rewrite(plan, config) };
        let fields = sort.input.schema().field_names();
        let dependencies = sort.input.schema().functional_dependencies().clone();
        let mut seen = Vec::new();
        let mut known: HashSet<usize> = HashSet::new();
        let mut kept = Vec::with_capacity(sort.expr.len());
        for key in &sort.expr {
            if seen.contains(&key.expr) {
                continue;
            }
            seen.push(key.expr.clone());
            let name = key.expr.schema_name().to_string();
            if let Some(field) = fields.iter().position(|f| *f == name) {
                let determined = dependencies.iter().any(|dependency| {
                    dependency.mode == Dependency::Single
                        && dependency.target_indices.contains(&field)
                        && dependency.source_indices.iter().all(|source| known.contains(source))
                });
                if determined {
                    continue;
                }
                known.insert(field);
            }
            kept.push(key.clone());
        }
        if kept.len() == sort.expr.len() {
            return Ok(Transformed::no(LogicalPlan::Sort(sort)));
        }
        Ok(Transformed::yes(LogicalPlan::Sort(Sort { expr: kept, input: sort.input, fetch: sort.fetch })))
    }
}
