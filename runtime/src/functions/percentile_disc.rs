//! `percentile_disc(f) WITHIN GROUP (ORDER BY x)`: the first value, in the group's
//! order, whose position reaches the fraction `f` of the group (NULLs left out), as in
//! PostgreSQL. It works for every type that sorts (numbers, text, dates, timestamps) and
//! answers with a value of the group, never an interpolation.

use super::declare::function_type;
use std::mem::size_of_val;
use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::compute::{SortOptions, sort_to_indices};
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err, not_impl_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};
use datafusion::physical_expr::expressions::Literal;
use datafusion::physical_plan::PhysicalExpr;

use super::kept_values::KeptValues;

function_type!(PercentileDisc, Signature::user_defined(Volatility::Immutable));

impl AggregateUDFImpl for PercentileDisc {
    fn name(&self) -> &str {
        "percentile_disc"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [value, fraction] if fraction.is_numeric() || fraction.is_null() => {
                Ok(vec![value.clone(), DataType::Float64])
            }
            [_, other] => plan_err!("percentile_disc takes a fraction between 0 and 1, not a value of type {other}"),
            _ => plan_err!("percentile_disc takes a fraction: percentile_disc(0.5) WITHIN GROUP (ORDER BY x)"),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types.first().cloned().unwrap_or(DataType::Null))
    }

    fn supports_within_group_clause(&self) -> bool {
        true
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![KeptValues::state_field(&args)?])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if args.is_distinct {
            return not_impl_err!("percentile_disc(DISTINCT ...) is not supported");
        }
        let (Some(fraction), Some(value)) = (args.exprs.get(1), args.expr_fields.first()) else {
            return plan_err!("percentile_disc takes a fraction: percentile_disc(0.5) WITHIN GROUP (ORDER BY x)");
        };
        let fraction = literal_fraction(fraction)?;
        let descending = args.order_bys.first().is_some_and(|sort| sort.options.descending);
        let values = KeptValues::new(value.data_type().clone());
        Ok(Box::new(DiscreteAccumulator { values, fraction, descending }))
    }
}

/// The fraction, which must be a constant between 0 and 1.
fn literal_fraction(expr: &Arc<dyn PhysicalExpr>) -> Result<f64> {
    let value = expr.downcast_ref::<Literal>().map(|literal| literal.value().clone());
    match value {
        Some(ScalarValue::Float64(Some(f))) if (0.0..=1.0).contains(&f) => Ok(f),
        Some(ScalarValue::Float64(Some(f))) => plan_err!("percentile_disc takes a fraction between 0 and 1, not {f}"),
        _ => plan_err!("percentile_disc takes a constant fraction between 0 and 1"),
    }
}

/// Picks the answer from the group's non-NULL values once the group is complete.
#[derive(Debug)]
struct DiscreteAccumulator {
    values: KeptValues,
    fraction: f64,
    descending: bool,
}

impl Accumulator for DiscreteAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.values.keep_first(values)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.values.merge_first(states)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.values.state()?])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let values = self.values.all()?;
        let count = values.len();
        if count == 0 {
            return self.values.null();
        }
        // PostgreSQL's position: the first row whose cumulative share reaches the fraction.
        let position = ((self.fraction * count as f64).ceil() as usize).clamp(1, count);
        let options = SortOptions { descending: self.descending, nulls_first: false };
        let order = sort_to_indices(&values, Some(options), Some(position))?;
        if order.len() < position {
            return exec_err!("percentile_disc lost rows while sorting");
        }
        ScalarValue::try_from_array(&values, order.value(position - 1) as usize)
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.values.size()
    }
}
