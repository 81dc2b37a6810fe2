//! [`IntervalArithmetic`]: `interval * n`, `n * interval` and `interval / n`, which
//! DataFusion's SQL planner refuses (it types every operator as it plans it, before any
//! rule could step in). They call `interval_mul` (`aqueducts_runtime::functions::dates`),
//! which multiplies as PostgreSQL does: fractions of months spill into days (30 a
//! month) and fractions of days into time.

use std::sync::Arc;

use aqueducts_runtime::functions::dates::IntervalMul;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, Operator, ScalarUDF, lit};
use datafusion::sql::sqlparser::ast::BinaryOperator;

#[derive(Debug, Default)]
pub struct IntervalArithmetic;

impl ExprPlanner for IntervalArithmetic {
    fn plan_binary_op(&self, expr: RawBinaryExpr, schema: &DFSchema) -> Result<PlannerResult<RawBinaryExpr>> {
        let (Ok(left), Ok(right)) = (expr.left.get_type(schema), expr.right.get_type(schema)) else {
            return Ok(PlannerResult::Original(expr));
        };
        let interval = |t: &DataType| matches!(t, DataType::Interval(_));
        let call = |span: Expr, factor: Expr| {
            let udf = Arc::new(ScalarUDF::from(IntervalMul::new()));
            Expr::ScalarFunction(ScalarFunction::new_udf(udf, vec![span, factor]))
        };
        Ok(match expr.op {
            BinaryOperator::Multiply if interval(&left) && right.is_numeric() => {
                PlannerResult::Planned(call(expr.left, expr.right))
            }
            BinaryOperator::Multiply if left.is_numeric() && interval(&right) => {
                PlannerResult::Planned(call(expr.right, expr.left))
            }
            BinaryOperator::Divide if interval(&left) && right.is_numeric() => {
                let divisor = expr.right.cast_to(&DataType::Float64, schema)?;
                let reciprocal =
                    Expr::BinaryExpr(BinaryExpr::new(Box::new(lit(1.0f64)), Operator::Divide, Box::new(divisor)));
                PlannerResult::Planned(call(expr.left, reciprocal))
            }
            _ => PlannerResult::Original(expr),
        })
    }
}
