//! [`Arguments`]: a call's arguments as arrays of the types a function reads, and its
//! answer as a scalar when every argument was one.

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs};

/// The arguments of one call, as equal-length arrays.
pub struct Arguments {
    pub arrays: Vec<ArrayRef>,
    scalar: bool,
}

impl Arguments {
    /// The arguments cast to `shape` (a decoded plan may hold a call its types were
    /// never coerced for, so the function may downcast them); at least `required` of
    /// them, at most `shape.len()`.
    pub fn cast(name: &str, args: &ScalarFunctionArgs, shape: &[DataType], required: usize) -> Result<Self> {
        let count = args.args.len();
        if !(required..=shape.len()).contains(&count) {
            return match required == shape.len() {
                true => exec_err!("{name} takes {required} arguments, not {count}"),
                false => exec_err!("{name} takes {required} to {} arguments, not {count}", shape.len()),
            };
        }
        let scalar = args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = if scalar { 1 } else { args.number_rows };
        let arrays = args
            .args
            .iter()
            .zip(shape)
            .map(|(a, t)| Ok(datafusion::arrow::compute::cast(&a.to_array(rows)?, t)?))
            .collect::<Result<Vec<_>>>()?;
        Ok(Arguments { arrays, scalar })
    }

    /// The answer `out` (one row per argument row) as the call's value.
    pub fn finish(&self, out: ArrayRef) -> Result<ColumnarValue> {
        Ok(if self.scalar {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
        } else {
            ColumnarValue::Array(out)
        })
    }
}
