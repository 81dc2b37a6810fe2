//! `rint(x)`: a float rounded to the nearest integer, halves to even, as C's `rint` and
//! PostgreSQL's casts from `double precision` to integers round (`CAST(2.5 AS INTEGER)`
//! is 2, `CAST(3.5 AS INTEGER)` is 4). The compiler's casts call it before casting a
//! float to an integer type, where Arrow would truncate.

use super::declare::function_type;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Float32Type, Float64Type};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};

function_type!(
    Rint,
    Signature::one_of(
        vec![TypeSignature::Exact(vec![DataType::Float64]), TypeSignature::Exact(vec![DataType::Float32])],
        Volatility::Immutable,
    )
);

impl ScalarUDFImpl for Rint {
    fn name(&self) -> &str {
        "rint"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types.first().cloned().unwrap_or(DataType::Float64))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [value] = args.args.as_slice() else { return exec_err!("rint takes one argument") };
        let array = value.to_array(args.number_rows)?;
        let rounded: ArrayRef = match array.data_type() {
            DataType::Float64 => {
                Arc::new(array.as_primitive::<Float64Type>().unary::<_, Float64Type>(f64::round_ties_even))
            }
            DataType::Float32 => {
                Arc::new(array.as_primitive::<Float32Type>().unary::<_, Float32Type>(f32::round_ties_even))
            }
            other => return exec_err!("rint takes a float, not {other}"),
        };
        Ok(match value {
            ColumnarValue::Scalar(_) => {
                ColumnarValue::Scalar(datafusion::common::ScalarValue::try_from_array(&rounded, 0)?)
            }
            ColumnarValue::Array(_) => ColumnarValue::Array(rounded),
        })
    }
}
