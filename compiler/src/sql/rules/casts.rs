//! [`PostgresCasts`]: casts that answer as PostgreSQL's do, where Arrow's differ.
//!
//! Runs in the analyzer after type coercion, so it sees every cast: those written
//! (`CAST(x AS INTEGER)`, `x::text`) and those coercion adds (`'at ' || ts`). It replaces
//!
//! - a float cast to an integer type by a cast of `rint(x)`: PostgreSQL rounds to the
//!   nearest integer, halves to even (`2.7` → 3, `2.5` → 2), Arrow truncates;
//! - a decimal cast to an integer type by a cast of `round(x)`: PostgreSQL rounds halves
//!   away from zero (`2.5` → 3), Arrow truncates;
//! - a timestamp, time, interval or float cast to text by `pg_text(x)`, PostgreSQL's text
//!   (`2023-01-01 02:11:59`, not `2023-01-01T02:11:59`).
//!
//! The functions come from `aqueducts_runtime::functions`, which every session that
//! decodes a plan has. Names are kept, so a cast column is called as it was.

use std::sync::Arc;

use aqueducts_runtime::functions::pg_text::PgText;
use aqueducts_runtime::functions::rint::Rint;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::{Cast, ScalarFunction, TryCast};
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, ScalarUDF};
use datafusion::optimizer::AnalyzerRule;

use super::expressions::rewrite_expressions;

#[derive(Debug, Default)]
pub struct PostgresCasts;

impl AnalyzerRule for PostgresCasts {
    fn name(&self) -> &str {
        "aqueducts_postgres_casts"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        let functions = Functions::new();
        rewrite_expressions(plan, &|expr, schema| rewrite_expr(expr, schema, &functions))
    }
}

/// The functions the rewritten casts call.
struct Functions {
    rint: Arc<ScalarUDF>,
    round: Arc<ScalarUDF>,
    pg_text: Arc<ScalarUDF>,
}

impl Functions {
    fn new() -> Self {
        Functions {
            rint: Arc::new(ScalarUDF::from(Rint::new())),
            round: datafusion::functions::math::round(),
            pg_text: Arc::new(ScalarUDF::from(PgText::new())),
        }
    }

    fn call(udf: &Arc<ScalarUDF>, arg: Expr) -> Expr {
        Expr::ScalarFunction(ScalarFunction::new_udf(udf.clone(), vec![arg]))
    }
}

fn rewrite_expr(expr: Expr, schema: &DFSchema, functions: &Functions) -> Result<Transformed<Expr>> {
    let (inner, field, try_cast) = match &expr {
        Expr::Cast(Cast { expr: inner, field }) => (inner, field, false),
        Expr::TryCast(TryCast { expr: inner, field }) => (inner, field, true),
        _ => return Ok(Transformed::no(expr)),
    };
    let to = field.data_type();
    let from = inner.get_type(schema)?;
    let replaced = if is_text(to) && PgText::formats(&from) {
        Functions::call(&functions.pg_text, (**inner).clone())
    } else if to.is_integer() && from.is_floating() && !calls(inner, "rint") {
        // `rint` takes 32- and 64-bit floats.
        let float = if from == DataType::Float16 {
            (**inner).clone().cast_to(&DataType::Float32, schema)?
        } else {
            (**inner).clone()
        };
        Functions::call(&functions.rint, float)
    } else if to.is_integer() && from.is_decimal() && !calls(inner, "round") {
        Functions::call(&functions.round, (**inner).clone())
    } else {
        return Ok(Transformed::no(expr));
    };
    // `pg_text` gives `Utf8`; the cast that stays makes the type the one asked for.
    let cast = if to == &DataType::Utf8 && matches!(replaced, Expr::ScalarFunction(ref f) if f.func.name() == "pg_text")
    {
        replaced
    } else if try_cast {
        Expr::TryCast(TryCast { expr: Box::new(replaced), field: field.clone() })
    } else {
        Expr::Cast(Cast::new_from_field(Box::new(replaced), field.clone()))
    };
    Ok(Transformed::yes(cast))
}

fn is_text(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// Whether `expr` already calls `name` (a plan analysed twice is rewritten once).
fn calls(expr: &Expr, name: &str) -> bool {
    matches!(expr, Expr::ScalarFunction(f) if f.func.name() == name)
}
