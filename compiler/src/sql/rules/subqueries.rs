//! What the subquery rules share: finding the subqueries of one plan node together with
//! the plan their outer references read (the node's input, or a lateral join's left
//! side), and telling correlated predicates apart.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::expr::{Exists, InSubquery, SetComparison};
use datafusion::logical_expr::{BinaryExpr, Expr, Join, JoinType, LogicalPlan, Operator, Subquery, SubqueryAlias};

/// Where a subquery is, which decides how many rows it may give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A value: at most one row.
    Scalar,
    /// `EXISTS`, `IN`, `ANY`, `ALL`: any number of rows.
    Predicate,
    /// The right side of a lateral join: any number of rows.
    Lateral,
}

/// Rewrites one subquery given the plan its outer references read and its kind; `None`
/// leaves it as it is.
pub type SubqueryRewrite<'a> = dyn FnMut(&Subquery, &LogicalPlan, Kind) -> Result<Option<Subquery>> + 'a;

/// Applies `rewrite` to every subquery of `plan` (those in a filter's or a projection's
/// expressions, and a lateral join's right side), giving it the plan its outer
/// references read and its kind. `rewrite` answers `None` to leave a subquery as it is.
pub fn map_subqueries(plan: LogicalPlan, rewrite: &mut SubqueryRewrite<'_>) -> Result<Transformed<LogicalPlan>> {
    match plan {
        LogicalPlan::Join(join) if matches!(join.join_type, JoinType::Inner | JoinType::Left) => {
            let Some((subquery, alias)) = lateral(&join.right) else {
                return Ok(Transformed::no(LogicalPlan::Join(join)));
            };
            let Some(subquery) = rewrite(&subquery, &join.left, Kind::Lateral)? else {
                return Ok(Transformed::no(LogicalPlan::Join(join)));
            };
            let mut right = LogicalPlan::Subquery(subquery);
            if let Some(alias) = alias {
                right = LogicalPlan::SubqueryAlias(SubqueryAlias::try_new(Arc::new(right), alias)?);
            }
            Ok(Transformed::yes(LogicalPlan::Join(Join { right: Arc::new(right), ..join })))
        }
        LogicalPlan::Filter(_) | LogicalPlan::Projection(_) => {
            let Some(outer) = plan.inputs().first().map(|input| (*input).clone()) else {
                return Ok(Transformed::no(plan));
            };
            plan.map_expressions(|expr| {
                expr.transform_down(|expr| {
                    let replaced = match &expr {
                        Expr::ScalarSubquery(subquery) => {
                            rewrite(subquery, &outer, Kind::Scalar)?.map(Expr::ScalarSubquery)
                        }
                        Expr::Exists(Exists { subquery, negated }) => rewrite(subquery, &outer, Kind::Predicate)?
                            .map(|subquery| Expr::Exists(Exists::new(subquery, *negated))),
                        Expr::InSubquery(InSubquery { expr: tested, subquery, negated }) => {
                            rewrite(subquery, &outer, Kind::Predicate)?
                                .map(|subquery| Expr::InSubquery(InSubquery::new(tested.clone(), subquery, *negated)))
                        }
                        Expr::SetComparison(SetComparison { expr: tested, subquery, op, quantifier }) => {
                            rewrite(subquery, &outer, Kind::Predicate)?.map(|subquery| {
                                Expr::SetComparison(SetComparison::new(tested.clone(), subquery, *op, *quantifier))
                            })
                        }
                        _ => return Ok(Transformed::no(expr)),
                    };
                    Ok(match replaced {
                        Some(replaced) => Transformed::new(replaced, true, TreeNodeRecursion::Jump),
                        None => Transformed::new(expr, false, TreeNodeRecursion::Jump),
                    })
                })
            })
        }
        other => Ok(Transformed::no(other)),
    }
}

/// The subquery of a lateral join's right side, and its alias.
pub fn lateral(right: &LogicalPlan) -> Option<(Subquery, Option<datafusion::common::TableReference>)> {
    match right {
        LogicalPlan::Subquery(subquery) => Some((subquery.clone(), None)),
        LogicalPlan::SubqueryAlias(SubqueryAlias { input, alias, .. }) => match input.as_ref() {
            LogicalPlan::Subquery(subquery) => Some((subquery.clone(), Some(alias.clone()))),
            _ => None,
        },
        _ => None,
    }
}

/// A subquery with a new plan, its outer references listed anew.
pub fn with_plan(subquery: &Subquery, plan: LogicalPlan) -> Subquery {
    let outer_ref_columns = plan.all_out_ref_exprs();
    Subquery { subquery: Arc::new(plan), outer_ref_columns, spans: subquery.spans.clone() }
}

/// `column = outer` (or mirrored, a cast allowed around the column): the correlated
/// predicates DataFusion pulls out of a subquery, through aggregates too.
pub fn is_pullable_equality(predicate: &Expr) -> bool {
    let Expr::BinaryExpr(BinaryExpr { left, op: Operator::Eq, right }) = predicate else { return false };
    let column = |e: &Expr| match e {
        Expr::Column(_) => true,
        Expr::Cast(cast) => matches!(cast.expr.as_ref(), Expr::Column(_)),
        _ => false,
    };
    (column(left) && !right.any_column_refs()) || (column(right) && !left.any_column_refs())
}

/// Whether a predicate is NULL or false whenever an outer reference in it is NULL, so
/// that an outer row with a NULL there sees no rows of the subquery either way.
pub fn rejects_null_outer(predicate: &Expr) -> bool {
    fn value(e: &Expr) -> bool {
        match e {
            Expr::Column(_) | Expr::OuterReferenceColumn(..) | Expr::Literal(..) => true,
            Expr::Cast(cast) => value(&cast.expr),
            Expr::TryCast(cast) => value(&cast.expr),
            Expr::Negative(inner) => value(inner),
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                matches!(
                    op,
                    Operator::Plus | Operator::Minus | Operator::Multiply | Operator::Divide | Operator::Modulo
                ) && value(left)
                    && value(right)
            }
            _ => false,
        }
    }
    match predicate {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            matches!(op, Operator::Eq | Operator::NotEq | Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq)
                && value(left)
                && value(right)
        }
        Expr::Between(between) => {
            !between.negated && value(&between.expr) && value(&between.low) && value(&between.high)
        }
        // `IS TRUE` and `IS FALSE` of NULL are false; `NOT` of a NULL comparison is NULL,
        // but `NOT` of an `IS TRUE` is true, so `NOT` takes a comparison only.
        Expr::IsTrue(inner) | Expr::IsFalse(inner) => rejects_null_outer(inner),
        Expr::Not(inner) => {
            !matches!(inner.as_ref(), Expr::IsTrue(_) | Expr::IsFalse(_) | Expr::Not(_)) && rejects_null_outer(inner)
        }
        _ => false,
    }
}
