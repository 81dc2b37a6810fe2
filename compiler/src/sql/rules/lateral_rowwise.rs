//! [`LateralRowwise`]: a `LATERAL` subquery without a `FROM`, computed row by row on its
//! left side.
//!
//! ```sql
//! FROM orders o,
//!   LATERAL (SELECT o.amount * (1 - o.discount) AS net) a,
//!   LATERAL (SELECT unnest(string_to_array(o.tags, ',')) AS tag) t
//! ```
//!
//! Such a subquery reads one row of nothing (`SELECT` without `FROM`) through
//! projections, filters, `unnest` and aliases, so joining it to each left row is
//! applying those same steps to the left rows: projections keep the left columns and
//! compute theirs with the outer references read as the left row's columns, and the
//! subquery's columns get its alias. DataFusion cannot decorrelate such subqueries (its
//! projections hold the outer references); after this rule there is nothing to
//! decorrelate. (`LATERAL generate_series(...)` and `LATERAL unnest(...)` reach this
//! shape through the front end's rewrite of table functions.)
//!
//! A `LEFT JOIN LATERAL ... ON true` keeps every left row, which projections do but a
//! filter or `unnest` may not: those are left to DataFusion.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{Column, Result, TableReference};
use datafusion::logical_expr::{Expr, Filter, JoinType, LogicalPlan, LogicalPlanBuilder, Projection};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

use super::subqueries::lateral;

#[derive(Debug, Default)]
pub struct LateralRowwise;

impl OptimizerRule for LateralRowwise {
    fn name(&self) -> &str {
        "aqueducts_lateral_rowwise"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(&self, plan: LogicalPlan, _config: &dyn OptimizerConfig) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Join(join) = &plan else { return Ok(Transformed::no(plan)) };
        let always = join.filter.as_ref().is_none_or(|f| matches!(f, Expr::Literal(v, _) if v == &true.into()));
        if !matches!(join.join_type, JoinType::Inner | JoinType::Left) || !join.on.is_empty() || !always {
            return Ok(Transformed::no(plan));
        }
        let Some((subquery, alias)) = lateral(&join.right) else { return Ok(Transformed::no(plan)) };
        let Some(steps) = steps(&subquery.subquery) else { return Ok(Transformed::no(plan)) };
        let keeps_rows =
            steps.iter().all(|step| matches!(step, LogicalPlan::Projection(_) | LogicalPlan::SubqueryAlias(_)));
        if join.join_type == JoinType::Left && !keeps_rows {
            return Ok(Transformed::no(plan));
        }
        // A name the left side also has, say, makes a step unplannable: then the join
        // stays as it was.
        match on_left(&steps, &join.left, alias) {
            Ok(rewritten) => Ok(Transformed::yes(rewritten)),
            Err(_) => Ok(Transformed::no(plan)),
        }
    }
}

/// The steps from the subquery's output down to its one row of nothing, top first.
fn steps(plan: &LogicalPlan) -> Option<Vec<&LogicalPlan>> {
    let mut found = Vec::new();
    let mut node = plan;
    loop {
        match node {
            LogicalPlan::EmptyRelation(empty) if empty.produce_one_row => return Some(found),
            // A lateral derived table that is the whole `FROM` of the subquery: its plan.
            LogicalPlan::Subquery(subquery) => node = subquery.subquery.as_ref(),
            LogicalPlan::Projection(_)
            | LogicalPlan::Filter(_)
            | LogicalPlan::Unnest(_)
            | LogicalPlan::SubqueryAlias(_) => {
                found.push(node);
                node = node.inputs()[0];
            }
            _ => return None,
        }
    }
}

/// The steps applied to the rows of `left`, the subquery's columns qualified by `alias`.
fn on_left(steps: &[&LogicalPlan], left: &Arc<LogicalPlan>, alias: Option<TableReference>) -> Result<LogicalPlan> {
    let left_columns: Vec<Column> = left.schema().columns();
    let passed = || left_columns.iter().cloned().map(Expr::Column);
    let mut plan = Arc::clone(left);
    for step in steps.iter().rev() {
        plan = Arc::new(match step {
            LogicalPlan::Projection(projection) => {
                let mut exprs: Vec<Expr> = passed().collect();
                for expr in &projection.expr {
                    exprs.push(read_outer_as_columns(expr.clone())?);
                }
                LogicalPlan::Projection(Projection::try_new(exprs, plan)?)
            }
            LogicalPlan::Filter(filter) => {
                LogicalPlan::Filter(Filter::try_new(read_outer_as_columns(filter.predicate.clone())?, plan)?)
            }
            LogicalPlan::Unnest(unnest) => LogicalPlanBuilder::from(Arc::unwrap_or_clone(plan))
                .unnest_columns_with_options(unnest.exec_columns.clone(), unnest.options.clone())?
                .build()?,
            LogicalPlan::SubqueryAlias(subquery_alias) => qualified(plan, &left_columns, &subquery_alias.alias)?,
            _ => return Err(datafusion::common::DataFusionError::Internal("not a row-wise step".into())),
        });
    }
    match alias {
        Some(alias) => qualified(plan, &left_columns, &alias),
        None => Ok(Arc::unwrap_or_clone(plan)),
    }
}

/// `plan` with the left columns as they are and the subquery's own qualified by `alias`.
fn qualified(plan: Arc<LogicalPlan>, left_columns: &[Column], alias: &TableReference) -> Result<LogicalPlan> {
    let exprs: Vec<Expr> = plan
        .schema()
        .columns()
        .into_iter()
        .map(|column| {
            if left_columns.contains(&column) {
                Expr::Column(column)
            } else {
                let name = column.name.clone();
                Expr::Column(column).alias_qualified(Some(alias.clone()), name)
            }
        })
        .collect();
    Ok(LogicalPlan::Projection(Projection::try_new(exprs, plan)?))
}

fn read_outer_as_columns(expr: Expr) -> Result<Expr> {
    expr.transform(|e| match e {
        Expr::OuterReferenceColumn(_, column) => Ok(Transformed::yes(Expr::Column(column))),
        other => Ok(Transformed::no(other)),
    })
    .data()
}
