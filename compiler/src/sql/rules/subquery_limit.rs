//! [`SubqueryLimit`]: the first rows of a correlated subquery for each outer row, as a
//! window over the subquery's input.
//!
//! ```sql
//! SELECT c.name, o.amount FROM customers c
//! CROSS JOIN LATERAL (SELECT amount FROM orders o WHERE o.customer_id = c.id
//!                     ORDER BY amount DESC LIMIT 2) o
//! ```
//!
//! DataFusion turns a correlated subquery (lateral, scalar, `EXISTS`, `IN`) into a join
//! by pulling its correlated filters up, which a `LIMIT` above the filter forbids: the
//! plan keeps its outer references and cannot be run. When every correlated predicate
//! is an equality between an expression of the subquery's input and one of the outer
//! row (`o.customer_id = c.id`), the rows an outer row sees are exactly one partition of
//! the input by those expressions. So the limit becomes `row_number()` over that
//! partition, in the sort's order, and a filter keeping the rows the limit kept, with
//! the correlated predicates above the window:
//!
//! ```text
//! Limit 2 → Sort amount DESC → Projection → Filter o.customer_id = outer c.id → orders
//! becomes
//! Projection → Filter o.customer_id = outer c.id AND row ≤ 2
//!   → Window row_number() PARTITION BY o.customer_id ORDER BY amount DESC → orders
//! ```
//!
//! which DataFusion's rules, run next, turn into a join. Correlations that are not
//! equalities get there through [`super::domain`] first. Other shapes (an aggregate or a
//! join between the limit and the filter) are left as they are; `check` reports those it
//! cannot plan.

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, Result, ScalarValue};
use datafusion::functions_aggregate::first_last::first_value;
use datafusion::functions_window::expr_fn::row_number;
use datafusion::logical_expr::expr::Sort as SortExpr;
use datafusion::logical_expr::logical_plan::{FetchType, SkipType};
use datafusion::logical_expr::utils::{conjunction, split_conjunction};
use datafusion::logical_expr::{
    BinaryExpr, Expr, ExprFunctionExt, Filter, Limit, LogicalPlan, LogicalPlanBuilder, Operator, Projection, Sort,
    Window, lit,
};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

use super::subqueries::{Kind, map_subqueries, with_plan};

/// The hidden column holding each row's place in its partition.
const ROW: &str = "__aqueducts_subquery_row";

#[derive(Debug, Default)]
pub struct SubqueryLimit;

impl OptimizerRule for SubqueryLimit {
    fn name(&self) -> &str {
        "aqueducts_subquery_limit"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(&self, plan: LogicalPlan, _config: &dyn OptimizerConfig) -> Result<Transformed<LogicalPlan>> {
        map_subqueries(plan, &mut |subquery, _outer, kind| {
            let Some(windowed) = limit_to_window(&subquery.subquery, kind)? else { return Ok(None) };
            Ok(Some(with_plan(subquery, windowed)))
        })
    }
}

/// The subquery plan with its limit as a window: projections and aliases above the
/// limit are kept as they are. A scalar subquery must show DataFusion that it gives at
/// most one row: only a limit of one is rewritten there, and the row it keeps is taken
/// by an aggregate (`first_value` of each column, over the one row or none).
fn limit_to_window(plan: &LogicalPlan, kind: Kind) -> Result<Option<LogicalPlan>> {
    match plan {
        LogicalPlan::Projection(_) | LogicalPlan::SubqueryAlias(_) if !plan.contains_outer_reference() => {
            let [input] = plan.inputs()[..] else { return Ok(None) };
            match limit_to_window(input, kind)? {
                Some(input) => Ok(Some(plan.with_new_exprs(plan.expressions(), vec![input])?)),
                None => Ok(None),
            }
        }
        LogicalPlan::Limit(limit) if kind != Kind::Scalar => windowed_limit(limit),
        LogicalPlan::Limit(limit) if matches!(limit.get_fetch_type(), Ok(FetchType::Literal(Some(1)))) => {
            let Some(windowed) = windowed_limit(limit)? else { return Ok(None) };
            let values: Vec<Expr> = windowed
                .schema()
                .columns()
                .into_iter()
                .map(|column| {
                    let name = column.name.clone();
                    first_value(Expr::Column(column), vec![]).alias(name)
                })
                .collect();
            Ok(Some(LogicalPlanBuilder::from(windowed).aggregate(Vec::<Expr>::new(), values)?.build()?))
        }
        _ => Ok(None),
    }
}

/// What lies between a limit and the correlated filter below it.
struct Between<'a> {
    /// Projections between the limit and the sort, the top one first.
    above_sort: Vec<&'a Projection>,
    sort: Option<&'a Sort>,
    /// Projections between the sort and the filter, the top one first.
    below_sort: Vec<&'a Projection>,
    filter: &'a Filter,
}

fn between(limit: &Limit) -> Option<Between<'_>> {
    let (mut above_sort, mut sort, mut below_sort) = (Vec::new(), None, Vec::new());
    let mut node = limit.input.as_ref();
    loop {
        if let LogicalPlan::Filter(filter) = node
            && filter.predicate.contains_outer()
        {
            return Some(Between { above_sort, sort, below_sort, filter });
        }
        if node.contains_outer_reference() {
            return None;
        }
        node = match node {
            LogicalPlan::Projection(projection) => {
                if sort.is_none() {
                    above_sort.push(projection);
                } else {
                    below_sort.push(projection);
                }
                projection.input.as_ref()
            }
            LogicalPlan::Sort(found) if sort.is_none() => {
                sort = Some(found);
                found.input.as_ref()
            }
            _ => return None,
        };
    }
}

fn windowed_limit(limit: &Limit) -> Result<Option<LogicalPlan>> {
    let (Ok(SkipType::Literal(skip)), Ok(FetchType::Literal(fetch))) = (limit.get_skip_type(), limit.get_fetch_type())
    else {
        return Ok(None);
    };
    let Some(Between { above_sort, sort, below_sort, filter }) = between(limit) else { return Ok(None) };
    if filter.input.exists(|node| Ok(node.contains_outer_reference()))? {
        return Ok(None);
    }
    let (correlated, local): (Vec<&Expr>, Vec<&Expr>) =
        split_conjunction(&filter.predicate).into_iter().partition(|e| e.contains_outer());
    let mut keys = Vec::new();
    for predicate in &correlated {
        match inner_side_of_equality(predicate) {
            Some(key) => keys.push(key.clone()),
            None => return Ok(None),
        }
    }

    // The input, filtered by what does not depend on the outer row.
    let mut plan = filter.input.clone();
    if let Some(local) = conjunction(local.into_iter().cloned()) {
        plan = Arc::new(LogicalPlan::Filter(Filter::try_new(local, plan)?));
    }
    // The projections up to the sort, carrying the columns the keys read.
    let needed: BTreeSet<Column> = keys.iter().flat_map(|k| k.column_refs()).cloned().collect();
    for projection in below_sort.iter().rev() {
        let mut exprs = projection.expr.clone();
        exprs.extend(needed.iter().filter(|c| !projection.schema.has_column(c)).map(|c| Expr::Column(c.clone())));
        plan = Arc::new(LogicalPlan::Projection(Projection::try_new(exprs, plan)?));
    }
    // Each row's place among the rows of its outer row, in the sort's order.
    let order: Vec<SortExpr> = sort.map(|s| s.expr.clone()).unwrap_or_default();
    let place = row_number().partition_by(keys).order_by(order).build()?.alias(ROW);
    plan = Arc::new(LogicalPlan::Window(Window::try_new(vec![place], plan)?));
    // The rows the limit kept, for the outer row the correlated predicates pick.
    let row = || Expr::Column(Column::from_name(ROW));
    let count = |n: usize| lit(ScalarValue::UInt64(Some(n as u64)));
    let mut kept: Vec<Expr> = correlated.into_iter().cloned().collect();
    if skip > 0 {
        kept.push(row().gt(count(skip)));
    }
    if let Some(fetch) = fetch {
        kept.push(row().lt_eq(count(skip + fetch)));
    }
    if let Some(kept) = conjunction(kept) {
        plan = Arc::new(LogicalPlan::Filter(Filter::try_new(kept, plan)?));
    }
    // The projections above the sort, or the columns the limit gave.
    if above_sort.is_empty() {
        let columns = limit.input.schema().columns().into_iter().map(Expr::Column).collect();
        plan = Arc::new(LogicalPlan::Projection(Projection::try_new(columns, plan)?));
    }
    for projection in above_sort.iter().rev() {
        plan = Arc::new(LogicalPlan::Projection(Projection::try_new(projection.expr.clone(), plan)?));
    }
    Ok(Some(Arc::unwrap_or_clone(plan)))
}

/// `inner = outer` or `outer = inner`, where `outer` reads only the outer row and
/// `inner` only the subquery's input: `inner`.
fn inner_side_of_equality(predicate: &Expr) -> Option<&Expr> {
    let Expr::BinaryExpr(BinaryExpr { left, op: Operator::Eq, right }) = predicate else { return None };
    let outer_only = |e: &Expr| e.contains_outer() && e.column_refs().is_empty();
    match (outer_only(left), outer_only(right)) {
        (false, true) if !left.contains_outer() => Some(left),
        (true, false) if !right.contains_outer() => Some(right),
        _ => None,
    }
}
