//! [`LateralLimit`]: the first rows of a `LATERAL` subquery for each outer row, as a
//! window over the subquery's input.
//!
//! ```sql
//! SELECT c.name, o.amount FROM customers c
//! CROSS JOIN LATERAL (SELECT amount FROM orders o WHERE o.customer_id = c.id
//!                     ORDER BY amount DESC LIMIT 2) o
//! ```
//!
//! DataFusion turns a lateral subquery into a join by pulling its correlated filters up
//! (`decorrelate_lateral_join`), which a `LIMIT` above the filter forbids: the plan keeps
//! its outer references and cannot be run. When every correlated predicate is an
//! equality between an expression of the subquery's input and one of the outer row
//! (`o.customer_id = c.id`), the rows an outer row sees are exactly one partition of
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
//! which DataFusion's rule, run next, turns into a join. Other shapes (a correlation that
//! is not an equality, an aggregate or a join between the limit and the filter) are left
//! as they are; `check` reports those it cannot plan.

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, Result, ScalarValue};
use datafusion::functions_window::expr_fn::row_number;
use datafusion::logical_expr::expr::Sort as SortExpr;
use datafusion::logical_expr::logical_plan::{FetchType, SkipType};
use datafusion::logical_expr::utils::{conjunction, split_conjunction};
use datafusion::logical_expr::{
    BinaryExpr, Expr, ExprFunctionExt, Filter, Join, JoinType, Limit, LogicalPlan, Operator, Projection, Sort,
    Subquery, SubqueryAlias, Window, lit,
};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

/// The hidden column holding each row's place in its partition.
const ROW: &str = "__aqueducts_lateral_row";

#[derive(Debug, Default)]
pub struct LateralLimit;

impl OptimizerRule for LateralLimit {
    fn name(&self) -> &str {
        "aqueducts_lateral_limit"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(&self, plan: LogicalPlan, _config: &dyn OptimizerConfig) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Join(join) = plan else { return Ok(Transformed::no(plan)) };
        if !matches!(join.join_type, JoinType::Inner | JoinType::Left) {
            return Ok(Transformed::no(LogicalPlan::Join(join)));
        }
        match lateral_with_window(&join.right)? {
            Some(right) => Ok(Transformed::yes(LogicalPlan::Join(Join { right: Arc::new(right), ..join }))),
            None => Ok(Transformed::no(LogicalPlan::Join(join))),
        }
    }
}

/// The right side of a lateral join with its limit turned into a window, if it has one
/// of the shape this rule handles.
fn lateral_with_window(right: &LogicalPlan) -> Result<Option<LogicalPlan>> {
    let windowed = |subquery: &Subquery| -> Result<Option<Subquery>> {
        Ok(limit_to_window(&subquery.subquery)?.map(|plan| Subquery {
            subquery: Arc::new(plan),
            outer_ref_columns: subquery.outer_ref_columns.clone(),
            spans: subquery.spans.clone(),
        }))
    };
    match right {
        LogicalPlan::Subquery(subquery) => Ok(windowed(subquery)?.map(LogicalPlan::Subquery)),
        LogicalPlan::SubqueryAlias(SubqueryAlias { input, alias, .. }) => {
            let LogicalPlan::Subquery(subquery) = input.as_ref() else { return Ok(None) };
            match windowed(subquery)? {
                Some(subquery) => Ok(Some(LogicalPlan::SubqueryAlias(SubqueryAlias::try_new(
                    Arc::new(LogicalPlan::Subquery(subquery)),
                    alias.clone(),
                )?))),
                None => Ok(None),
            }
        }
        _ => Ok(None),
    }
}

/// The subquery plan with its limit as a window: projections and aliases above the
/// limit are kept as they are.
fn limit_to_window(plan: &LogicalPlan) -> Result<Option<LogicalPlan>> {
    match plan {
        LogicalPlan::Projection(_) | LogicalPlan::SubqueryAlias(_) if !plan.contains_outer_reference() => {
            let [input] = plan.inputs()[..] else { return Ok(None) };
            match limit_to_window(input)? {
                Some(input) => Ok(Some(plan.with_new_exprs(plan.expressions(), vec![input])?)),
                None => Ok(None),
            }
        }
        LogicalPlan::Limit(limit) => windowed_limit(limit),
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
