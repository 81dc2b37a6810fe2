//! [`PostgresArithmetic`]: decimal quotients and averages with PostgreSQL's precision,
//! mended before type coercion decides the types.
//!
//! DataFusion gives a decimal quotient four more decimals than the dividend
//! (`1121.46 / 7500.50` is `0.149518`), and so an `avg` of decimals; PostgreSQL gives
//! at least sixteen significant digits (`0.14951803213119125392`). The dividend (or the
//! averaged value) is cast to a larger scale first, so the quotient has up to twenty
//! decimals, as many as the 38 digits of a decimal leave room for: the integer digits
//! the quotient can have are kept, so nothing can overflow. (Interval arithmetic is
//! planned by [`crate::sql::planner`].)

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, LogicalPlan, Operator};
use datafusion::optimizer::AnalyzerRule;

use super::expressions::rewrite_expressions;

/// The most decimals a quotient gets.
const QUOTIENT_SCALE: i8 = 20;
/// Decimal128's digits.
const MAX_PRECISION: i8 = 38;

#[derive(Debug, Default)]
pub struct PostgresArithmetic;

impl AnalyzerRule for PostgresArithmetic {
    fn name(&self) -> &str {
        "aqueducts_postgres_arithmetic"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expressions(plan, &rewrite)
    }
}

fn rewrite(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::Divide, right }) => {
            // Types the expression does not have yet (an unknown column, say) are left
            // for type coercion to report.
            let wider = match (left.get_type(schema), right.get_type(schema)) {
                (Ok(l), Ok(r)) => widened_dividend(&l, &r),
                _ => None,
            };
            Ok(match wider {
                Some(wider) => Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
                    Box::new(left.cast_to(&wider, schema)?),
                    Operator::Divide,
                    right,
                ))),
                None => Transformed::no(Expr::BinaryExpr(BinaryExpr { left, op: Operator::Divide, right })),
            })
        }
        Expr::AggregateFunction(mut aggregate) if is_decimal_avg(&aggregate, schema) => {
            let arg = aggregate.params.args.remove(0);
            let (DataType::Decimal128(p, s) | DataType::Decimal256(p, s)) = arg.get_type(schema)? else {
                aggregate.params.args.insert(0, arg);
                return Ok(Transformed::no(Expr::AggregateFunction(aggregate)));
            };
            // `avg` adds four decimals and four digits to what it averages.
            let integer = p as i8 - s;
            let scale = QUOTIENT_SCALE.min(MAX_PRECISION - integer - 4);
            if scale <= s + 4 {
                aggregate.params.args.insert(0, arg);
                return Ok(Transformed::no(Expr::AggregateFunction(aggregate)));
            }
            let wider = DataType::Decimal128((integer + scale - 4) as u8, scale - 4);
            aggregate.params.args.insert(0, arg.cast_to(&wider, schema)?);
            Ok(Transformed::yes(Expr::AggregateFunction(aggregate)))
        }
        other => Ok(Transformed::no(other)),
    }
}

fn is_decimal_avg(aggregate: &AggregateFunction, schema: &DFSchema) -> bool {
    aggregate.func.name() == "avg"
        && aggregate.params.args.len() == 1
        && matches!(aggregate.params.args[0].get_type(schema), Ok(DataType::Decimal128(..)))
}

/// The type a decimal dividend is cast to so the quotient gets more decimals (Arrow
/// gives it the dividend's scale plus four), or `None` when it needs none.
fn widened_dividend(dividend: &DataType, divisor: &DataType) -> Option<DataType> {
    let (p1, s1) = match dividend {
        DataType::Decimal128(p, s) => (*p as i8, *s),
        t if t.is_integer() && matches!(divisor, DataType::Decimal128(..)) => (20, 0),
        _ => return None,
    };
    let s2 = match divisor {
        DataType::Decimal128(_, s) => *s,
        t if t.is_integer() => 0,
        _ => return None,
    };
    let integer = p1 - s1;
    // The quotient's digits are the dividend's integer digits, the divisor's decimals
    // and its own scale.
    let scale = QUOTIENT_SCALE.min(MAX_PRECISION - integer - s2);
    if scale <= s1 + 4 {
        return None;
    }
    Some(DataType::Decimal128((integer + scale - 4) as u8, scale - 4))
}

#[cfg(test)]
mod tests {
    use super::widened_dividend;
    use datafusion::arrow::datatypes::DataType;

    #[test]
    fn quotients_get_decimals_within_38_digits() {
        // sum(decimal(10,2)) / decimal(10,2): 18 integer digits, 2 of the divisor.
        assert_eq!(
            widened_dividend(&DataType::Decimal128(20, 2), &DataType::Decimal128(10, 2)),
            Some(DataType::Decimal128(32, 14))
        );
        assert_eq!(
            widened_dividend(&DataType::Decimal128(10, 2), &DataType::Int64),
            Some(DataType::Decimal128(24, 16))
        );
        // No room left: as DataFusion types it.
        assert_eq!(widened_dividend(&DataType::Decimal128(38, 2), &DataType::Decimal128(10, 2)), None);
        assert_eq!(widened_dividend(&DataType::Int64, &DataType::Int64), None);
    }
}
