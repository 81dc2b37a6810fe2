//! [`SetOperationsAll`]: `INTERSECT ALL` and `EXCEPT ALL` with PostgreSQL's counts.
//!
//! A row that appears `m` times on the left and `n` times on the right appears
//! `min(m, n)` times in `INTERSECT ALL` and `max(m - n, 0)` times in `EXCEPT ALL`.
//! DataFusion plans both as a semi or anti join of the two sides on every column, which
//! keeps all `m` copies (or none). Numbering the copies of each row on both sides
//! (`row_number()` over a partition by every column) and joining on the number as well
//! gives the counts: copy `k` of a row survives `INTERSECT ALL` when the right side has
//! a copy `k`, and `EXCEPT ALL` when it has not.
//!
//! An analyzer rule (after type coercion), because before the optimizer a semi or anti
//! join whose keys are equal when both are NULL and whose left side is not made
//! distinct is how DataFusion's SQL planner writes exactly these two operations.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult};
use datafusion::common::{Column, NullEquality, Result};
use datafusion::functions_window::expr_fn::row_number;
use datafusion::logical_expr::{Expr, ExprFunctionExt, Join, JoinType, LogicalPlan, LogicalPlanBuilder, Window};
use datafusion::optimizer::AnalyzerRule;

#[derive(Debug, Default)]
pub struct SetOperationsAll;

impl AnalyzerRule for SetOperationsAll {
    fn name(&self) -> &str {
        "aqueducts_set_operations_all"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|plan| match plan {
            LogicalPlan::Join(join) if is_set_operation_all(&join) => counted(join).map(Transformed::yes),
            other => Ok(Transformed::no(other)),
        })
        .data()
    }
}

/// A semi or anti join as the SQL planner writes `INTERSECT ALL` and `EXCEPT ALL`.
fn is_set_operation_all(join: &Join) -> bool {
    let columns = join.left.schema().fields().len();
    matches!(join.join_type, JoinType::LeftSemi | JoinType::LeftAnti)
        && join.null_equality == NullEquality::NullEqualsNull
        && join.filter.is_none()
        && join.on.len() == columns
        && columns == join.right.schema().fields().len()
        && !matches!(join.left.as_ref(), LogicalPlan::Distinct(_))
}

/// The join with each row's copy number on both sides as one more key.
fn counted(join: Join) -> Result<LogicalPlan> {
    let output: Vec<Expr> = join.left.schema().columns().into_iter().map(Expr::Column).collect();
    let left = numbered(join.left, "__aqueducts_copy_left")?;
    let right = numbered(join.right, "__aqueducts_copy_right")?;
    let mut on = join.on;
    on.push((
        Expr::Column(Column::from_name("__aqueducts_copy_left")),
        Expr::Column(Column::from_name("__aqueducts_copy_right")),
    ));
    let joined = Join::try_new(
        Arc::new(left),
        Arc::new(right),
        on,
        None,
        join.join_type,
        join.join_constraint,
        NullEquality::NullEqualsNull,
        join.null_aware,
    )?;
    LogicalPlanBuilder::from(LogicalPlan::Join(joined)).project(output)?.build()
}

/// `plan` with a column numbering the copies of each distinct row.
fn numbered(plan: Arc<LogicalPlan>, name: &str) -> Result<LogicalPlan> {
    let every_column: Vec<Expr> = plan.schema().columns().into_iter().map(Expr::Column).collect();
    let copy = row_number().partition_by(every_column).build()?.alias(name);
    Ok(LogicalPlan::Window(Window::try_new(vec![copy], plan)?))
}
