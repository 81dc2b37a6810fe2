//! [`CorrelationDomain`]: correlated subqueries whose correlation is not an equality,
//! made into ones DataFusion decorrelates.
//!
//! DataFusion turns a correlated subquery into a join by pulling its correlated
//! predicates up; across an aggregate, a sort or a limit it can pull only
//! equalities (`inner.k = outer.k`), so
//!
//! ```sql
//! (SELECT max(e2.salary) FROM employees e2
//!  WHERE e2.department = e.department AND e2.hired_on <= e.hired_on)
//! ```
//!
//! cannot be planned. The rule joins the subquery's input with the *domain* of the
//! outer values it reads (`SELECT DISTINCT department, hired_on` of the outer plan),
//! evaluates the correlated predicates against the domain's columns, and correlates
//! with the outer row only through equalities on the domain:
//!
//! ```text
//! Filter e2.department = e.department AND e2.hired_on <= e.hired_on   (outer)
//! becomes
//! Filter e2.department = d.department AND e2.hired_on <= d.hired_on
//!        AND d.department = e.department AND d.hired_on = e.hired_on   (outer)
//!   CrossJoin e2, d = DISTINCT department, hired_on of the outer plan
//! ```
//!
//! For an outer row, exactly one domain row passes, the one holding its values, so the
//! subquery sees the rows it saw before; DataFusion then pulls the equalities up (adding
//! the domain's columns to groups) and joins. An outer row with a NULL in
//! a correlated column matches no domain row, so the rule applies only where every
//! correlated predicate is NULL or false for such a row anyway (comparisons, not `IS
//! NULL` or `COALESCE`).

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{Column, Result};
use datafusion::logical_expr::utils::{conjunction, split_conjunction};
use datafusion::logical_expr::{Expr, Filter, LogicalPlan, LogicalPlanBuilder};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

use super::subqueries::{Kind, is_pullable_equality, map_subqueries, rejects_null_outer, with_plan};

#[derive(Debug, Default)]
pub struct CorrelationDomain;

impl OptimizerRule for CorrelationDomain {
    fn name(&self) -> &str {
        "aqueducts_correlation_domain"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(&self, plan: LogicalPlan, config: &dyn OptimizerConfig) -> Result<Transformed<LogicalPlan>> {
        map_subqueries(plan, &mut |subquery, outer, kind| {
            if !repeatable(outer)? {
                return Ok(None);
            }
            let domain = config.alias_generator().next("__aqueducts_domain");
            let above = Above { blocked: false, ungrouped_aggregate: false, kind };
            Ok(with_domain(&subquery.subquery, above, outer, &domain)?.map(|plan| with_plan(subquery, plan)))
        })
    }
}

/// Whether the outer plan gives the same rows when computed again for its domain: it
/// is not correlated further out, and holds no volatile function nor a limit (which
/// may pick other rows each time).
fn repeatable(outer: &LogicalPlan) -> Result<bool> {
    let unrepeatable = outer.exists(|node| {
        let volatile = node.expressions().iter().any(|e| e.is_volatile());
        Ok(volatile || node.contains_outer_reference() || matches!(node, LogicalPlan::Limit(_)))
    })?;
    Ok(!unrepeatable)
}

/// What lies above a node of the subquery.
#[derive(Clone, Copy)]
struct Above {
    /// An aggregate, sort or limit: what DataFusion pulls only equalities over.
    blocked: bool,
    /// An aggregate without groups, which gives a row even for no input.
    ungrouped_aggregate: bool,
    kind: Kind,
}

/// The subquery plan with its first filter that needs a domain rewritten, if any.
fn with_domain(plan: &LogicalPlan, above: Above, outer: &LogicalPlan, domain: &str) -> Result<Option<LogicalPlan>> {
    let below = match plan {
        LogicalPlan::Filter(filter) if above.blocked && needs_domain(filter) => {
            // An aggregate without groups answers for every outer row; joined by domain it
            // answers only for those with rows, which DataFusion repairs for scalar and
            // lateral subqueries but not for `EXISTS` and `IN`.
            if above.ungrouped_aggregate && above.kind == Kind::Predicate {
                return Ok(None);
            }
            return domain_filter(filter, outer, domain).map(Some);
        }
        LogicalPlan::Filter(_) | LogicalPlan::Projection(_) | LogicalPlan::SubqueryAlias(_) => above,
        LogicalPlan::Aggregate(aggregate) => Above {
            blocked: true,
            ungrouped_aggregate: above.ungrouped_aggregate || aggregate.group_expr.is_empty(),
            ..above
        },
        LogicalPlan::Limit(_) | LogicalPlan::Sort(_) => Above { blocked: true, ..above },
        // DataFusion pulls a correlated equality over a window without adding it to the
        // window's partition: the window would see every outer value's rows at once.
        _ => return Ok(None),
    };
    let [input] = plan.inputs()[..] else { return Ok(None) };
    match with_domain(input, below, outer, domain)? {
        Some(input) => Ok(Some(plan.with_new_exprs(plan.expressions(), vec![input])?)),
        None => Ok(None),
    }
}

/// A filter with correlated predicates DataFusion cannot pull up, all of which reject
/// an outer NULL.
fn needs_domain(filter: &Filter) -> bool {
    let correlated: Vec<&Expr> =
        split_conjunction(&filter.predicate).into_iter().filter(|e| e.contains_outer()).collect();
    !correlated.is_empty()
        && !correlated.iter().all(|e| is_pullable_equality(e))
        && correlated.iter().all(|e| rejects_null_outer(e))
}

fn domain_filter(filter: &Filter, outer: &LogicalPlan, domain: &str) -> Result<LogicalPlan> {
    let (correlated, local): (Vec<&Expr>, Vec<&Expr>) =
        split_conjunction(&filter.predicate).into_iter().partition(|e| e.contains_outer());
    // The outer columns read, each a column of the domain.
    let mut read: BTreeMap<Column, Expr> = BTreeMap::new();
    for predicate in &correlated {
        predicate.apply(|e| {
            if let Expr::OuterReferenceColumn(_, column) = e {
                read.entry(column.clone()).or_insert_with(|| e.clone());
            }
            Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
        })?;
    }
    let names: BTreeMap<Column, String> =
        read.keys().enumerate().map(|(i, column)| (column.clone(), format!("__aqueducts_d{i}"))).collect();
    let domain_column = |column: &Column| Expr::Column(Column::new(Some(domain), names[column].clone()));

    let values: Vec<Expr> = names.iter().map(|(column, name)| Expr::Column(column.clone()).alias(name)).collect();
    let domain_plan = LogicalPlanBuilder::from(outer.clone()).project(values)?.distinct()?.alias(domain)?.build()?;

    let mut predicates: Vec<Expr> = local.into_iter().cloned().collect();
    for predicate in correlated {
        let on_domain = predicate
            .clone()
            .transform(|e| match e {
                Expr::OuterReferenceColumn(_, column) => Ok(Transformed::yes(domain_column(&column))),
                other => Ok(Transformed::no(other)),
            })
            .data()?;
        predicates.push(on_domain);
    }
    for (column, reference) in &read {
        predicates.push(domain_column(column).eq(reference.clone()));
    }
    let original: Vec<Expr> = filter.input.schema().columns().into_iter().map(Expr::Column).collect();
    let joined = LogicalPlanBuilder::from(Arc::unwrap_or_clone(filter.input.clone())).cross_join(domain_plan)?;
    let Some(predicate) = conjunction(predicates) else { return joined.project(original)?.build() };
    joined.filter(predicate)?.project(original)?.build()
}
