//! [`ProjectionPredicates`]: `EXISTS`, `IN` and `ANY`/`ALL` subqueries in a select list
//! (`SELECT c.id IN (SELECT ...) AS pending`, `CASE WHEN EXISTS (...) ...`).
//!
//! DataFusion decorrelates these predicates in filters only; in a projection they stay
//! subqueries that nothing can execute. Each becomes a `CASE` over counts, which are
//! scalar subqueries DataFusion turns into joins, with PostgreSQL's three-valued answer:
//!
//! ```text
//! EXISTS (S)         → count(S) > 0
//! x op ANY (S of y)  → CASE WHEN x IS NULL THEN (NULL if S has rows, else false)
//!                           WHEN count(S where x op y) > 0 THEN true
//!                           WHEN count(S where y IS NULL) > 0 THEN NULL
//!                           ELSE false END
//! x op ALL (S of y)  → the same with NOT (x op y), false and true swapped
//! x IN (S)           → x = ANY (S);   x NOT IN (S) → NOT (x = ANY (S))
//! ```
//!
//! Inside the counts, `x` is an outer reference, so the comparison is a correlated
//! predicate: an equality DataFusion pulls up, any other comparison one that
//! [`super::domain`] makes into equalities. Runs before DataFusion rewrites `ANY`/`ALL`
//! into `EXISTS` forms it cannot run in a projection.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema, ExprSchema, Result, ScalarValue};
use datafusion::functions_aggregate::count::count_all;
use datafusion::logical_expr::expr::{Case, Exists, InSubquery, SetComparison, SetQuantifier};
use datafusion::logical_expr::type_coercion::binary::comparison_coercion;
use datafusion::logical_expr::{
    BinaryExpr, Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder, Operator, Subquery, lit,
};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

use super::subqueries::with_plan;

#[derive(Debug, Default)]
pub struct ProjectionPredicates;

impl OptimizerRule for ProjectionPredicates {
    fn name(&self) -> &str {
        "aqueducts_projection_predicates"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(&self, plan: LogicalPlan, config: &dyn OptimizerConfig) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Projection(projection) = &plan else { return Ok(Transformed::no(plan)) };
        let schema = Arc::clone(projection.input.schema());
        plan.map_expressions(|expr| {
            expr.transform_down(|expr| {
                // The compared value under a name of its own: DataFusion mistakes an
                // outer reference for an inner column of the same qualified name.
                let name = || config.alias_generator().next("__aqueducts_value");
                let replaced = match expr {
                    Expr::Exists(Exists { subquery, negated }) => {
                        let rows = count(&subquery, None)?;
                        if negated { rows.eq(lit(0i64)) } else { rows.gt(lit(0i64)) }
                    }
                    Expr::InSubquery(InSubquery { expr, subquery, negated }) => {
                        let subquery = named_value(&subquery, name())?;
                        let any = quantified(*expr, &subquery, Operator::Eq, &SetQuantifier::Any, &schema)?;
                        if negated { Expr::Not(Box::new(any)) } else { any }
                    }
                    Expr::SetComparison(SetComparison { expr, subquery, op, quantifier }) => {
                        quantified(*expr, &named_value(&subquery, name())?, op, &quantifier, &schema)?
                    }
                    other => return Ok(Transformed::no(other)),
                };
                Ok(Transformed::new(replaced, true, TreeNodeRecursion::Jump))
            })
        })
    }
}

/// `x op ANY/ALL (subquery)` as a `CASE` over counts (see the module docs).
fn quantified(
    x: Expr,
    subquery: &Subquery,
    op: Operator,
    quantifier: &SetQuantifier,
    outer: &DFSchema,
) -> Result<Expr> {
    let inner = subquery.subquery.schema();
    let y = Expr::Column(Column::from(inner.qualified_field(0)));
    let (x_type, y_type) = (x.get_type(outer)?, y.get_type(inner)?);
    let common = comparison_coercion(&x_type, &y_type).unwrap_or(x_type.clone());
    let outer_x = as_outer(x.clone(), outer)?.cast_to(&common, outer)?;
    let comparison =
        Expr::BinaryExpr(BinaryExpr::new(Box::new(outer_x), op, Box::new(y.clone().cast_to(&common, inner)?)));
    let has_rows = count(subquery, None)?.gt(lit(0i64));
    let has_null = count(subquery, Some(y.is_null()))?.gt(lit(0i64));
    let unknown = Expr::Literal(ScalarValue::Boolean(None), None);
    let (decided, decided_when, otherwise) = match quantifier {
        SetQuantifier::Any => (count(subquery, Some(comparison))?.gt(lit(0i64)), true, false),
        SetQuantifier::All => (count(subquery, Some(Expr::Not(Box::new(comparison))))?.gt(lit(0i64)), false, true),
    };
    let when_null = Expr::Case(Case::new(
        None,
        vec![(Box::new(has_rows), Box::new(unknown.clone()))],
        Some(Box::new(lit(otherwise))),
    ));
    Ok(Expr::Case(Case::new(
        None,
        vec![
            (Box::new(x.is_null()), Box::new(when_null)),
            (Box::new(decided), Box::new(lit(decided_when))),
            (Box::new(has_null), Box::new(unknown)),
        ],
        Some(Box::new(lit(otherwise))),
    )))
}

/// The subquery with its (one) column called `name`.
fn named_value(subquery: &Subquery, name: String) -> Result<Subquery> {
    let value = Expr::Column(Column::from(subquery.subquery.schema().qualified_field(0))).alias(name);
    let plan =
        LogicalPlanBuilder::from(Arc::unwrap_or_clone(subquery.subquery.clone())).project(vec![value])?.build()?;
    Ok(with_plan(subquery, plan))
}

/// `(SELECT count(*) FROM subquery WHERE predicate)`.
fn count(subquery: &Subquery, predicate: Option<Expr>) -> Result<Expr> {
    let mut plan = LogicalPlanBuilder::from(Arc::unwrap_or_clone(subquery.subquery.clone()));
    if let Some(predicate) = predicate {
        plan = plan.filter(predicate)?;
    }
    let plan = plan.aggregate(Vec::<Expr>::new(), vec![count_all()])?.build()?;
    Ok(Expr::ScalarSubquery(with_plan(subquery, plan)))
}

/// `expr` with its columns read from the outer row.
fn as_outer(expr: Expr, outer: &DFSchema) -> Result<Expr> {
    expr.transform(|e| match e {
        Expr::Column(column) => {
            let field = Arc::clone(outer.field_from_column(&column)?);
            Ok(Transformed::yes(Expr::OuterReferenceColumn(field, column)))
        }
        other => Ok(Transformed::no(other)),
    })
    .data()
}
