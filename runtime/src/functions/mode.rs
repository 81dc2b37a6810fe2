//! `mode() WITHIN GROUP (ORDER BY x)`: the most frequent non-NULL value of a group, as
//! in PostgreSQL; among equally frequent values, the first in the group's order.

use super::declare::function_type;
use std::mem::size_of_val;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::compute::kernels::partition::partition;
use datafusion::arrow::compute::{SortOptions, sort_to_indices, take};
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, ScalarValue, not_impl_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};

use super::kept_values::KeptValues;

function_type!(Mode, Signature::user_defined(Volatility::Immutable));

impl AggregateUDFImpl for Mode {
    fn name(&self) -> &str {
        "mode"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [value] => Ok(vec![value.clone()]),
            _ => plan_err!("mode takes no arguments of its own: mode() WITHIN GROUP (ORDER BY x)"),
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
            return not_impl_err!("mode(DISTINCT ...) is not supported");
        }
        let Some(value) = args.expr_fields.first() else {
            return plan_err!("mode takes its values from WITHIN GROUP (ORDER BY x)");
        };
        let descending = args.order_bys.first().is_some_and(|sort| sort.options.descending);
        let values = KeptValues::new(value.data_type().clone());
        Ok(Box::new(ModeAccumulator { values, descending }))
    }
}

#[derive(Debug)]
struct ModeAccumulator {
    values: KeptValues,
    descending: bool,
}

impl Accumulator for ModeAccumulator {
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
        if values.is_empty() {
            return self.values.null();
        }
        let options = SortOptions { descending: self.descending, nulls_first: false };
        let sorted = take(&values, &sort_to_indices(&values, Some(options), None)?, None)?;
        // Runs of equal values in order; the longest, the first of equals.
        let runs = partition(std::slice::from_ref(&sorted))?;
        let mut best: Option<std::ops::Range<usize>> = None;
        for run in runs.ranges() {
            if best.as_ref().is_none_or(|b| run.len() > b.len()) {
                best = Some(run);
            }
        }
        ScalarValue::try_from_array(&sorted, best.map_or(0, |run| run.start))
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.values.size()
    }
}
