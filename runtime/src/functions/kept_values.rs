//! [`KeptValues`]: the non-NULL values of a group, kept whole until the group is
//! complete, for aggregates whose answer needs all of them in order (ordered-set
//! aggregates). Accounted by size, and carried between partial aggregates as a list.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, new_empty_array};
use datafusion::arrow::compute::{concat, filter};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::StateFieldsArgs;
use datafusion::logical_expr::utils::format_state_name;

#[derive(Debug)]
pub struct KeptValues {
    data_type: DataType,
    arrays: Vec<ArrayRef>,
}

impl KeptValues {
    pub fn new(data_type: DataType) -> Self {
        KeptValues { data_type, arrays: Vec::new() }
    }

    /// The state field of an aggregate that keeps its values: a list of them.
    pub fn state_field(args: &StateFieldsArgs) -> Result<FieldRef> {
        let Some(input) = args.input_fields.first() else {
            return plan_err!("{} takes its values from WITHIN GROUP (ORDER BY x)", args.name);
        };
        let item = Field::new_list_field(input.data_type().clone(), true);
        Ok(Arc::new(Field::new(format_state_name(args.name, "values"), DataType::List(Arc::new(item)), true)))
    }

    /// Keeps the non-NULL values of `values`.
    fn keep(&mut self, values: &ArrayRef) -> Result<()> {
        let values = match values.logical_nulls() {
            Some(nulls) if nulls.null_count() > 0 => filter(values, &BooleanArray::from(nulls.into_inner()))?,
            _ => values.clone(),
        };
        if !values.is_empty() {
            self.arrays.push(values);
        }
        Ok(())
    }

    /// Keeps the non-NULL values of the first argument.
    pub fn keep_first(&mut self, values: &[ArrayRef]) -> Result<()> {
        match values.first() {
            Some(values) => self.keep(values),
            None => exec_err!("an aggregate of kept values got no input"),
        }
    }

    /// Keeps the values of other partial aggregates' states (the first state column).
    pub fn merge_first(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(lists) = states.first().and_then(|s| s.as_list_opt::<i32>()) else {
            return exec_err!("an aggregate of kept values got states that are not lists");
        };
        for list in lists.iter().flatten() {
            self.keep(&list)?;
        }
        Ok(())
    }

    /// Every value kept, in one array.
    pub fn all(&self) -> Result<ArrayRef> {
        let arrays: Vec<&dyn Array> = self.arrays.iter().map(|a| a.as_ref()).collect();
        if arrays.is_empty() {
            return Ok(new_empty_array(&self.data_type));
        }
        Ok(concat(&arrays)?)
    }

    pub fn state(&self) -> Result<ScalarValue> {
        Ok(SingleRowListArrayBuilder::new(self.all()?).build_list_scalar())
    }

    /// The answer for a group without values.
    pub fn null(&self) -> Result<ScalarValue> {
        ScalarValue::try_from(&self.data_type)
    }

    pub fn size(&self) -> usize {
        self.arrays.iter().map(|a| a.get_array_memory_size()).sum()
    }
}
