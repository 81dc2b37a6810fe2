//! SQL functions Aqueducts adds to DataFusion's: those PostgreSQL users expect and
//! DataFusion lacks, and those the compiler's PostgreSQL-compatible casts call.
//!
//! They live in the runtime, not the compiler, because plan artifacts name functions
//! rather than carry them: whoever decodes a plan (the CLI, an executor) must know every
//! function the compiler may have put in it. [`register`] adds them to a session;
//! every session of [`crate::RunSettings::session_context`] has them.

mod arguments;
pub mod dates;
mod declare;
mod kept_values;
pub mod mode;
pub mod percentile_disc;
pub mod pg_format;
pub mod pg_text;
pub mod regex;
pub mod rint;

use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::SessionContext;

/// Adds our functions to `ctx`, and PostgreSQL's names for some of DataFusion's
/// (`sign` for `signum`, `variance` for `var_samp`).
pub fn register(ctx: &SessionContext) {
    let scalar = [
        ScalarUDF::from(rint::Rint::new()),
        ScalarUDF::from(pg_text::PgText::new()),
        ScalarUDF::from(dates::Age::new()),
        ScalarUDF::from(dates::MakeTimestamp::new()),
        ScalarUDF::from(dates::IntervalMul::new()),
        ScalarUDF::from(regex::RegexpSplitToArray::new()),
        ScalarUDF::from(regex::RegexpSubstr::new()),
        ScalarUDF::from(pg_format::PgPatterns::to_char()),
        ScalarUDF::from(pg_format::PgPatterns::to_date()),
        ScalarUDF::from(pg_format::PgPatterns::to_timestamp()),
        datafusion::functions::math::signum().as_ref().clone().with_aliases(["sign"]),
    ];
    for udf in scalar {
        ctx.register_udf(udf);
    }
    let aggregate = [
        AggregateUDF::from(percentile_disc::PercentileDisc::new()),
        AggregateUDF::from(mode::Mode::new()),
        datafusion::functions_aggregate::variance::var_samp_udaf().as_ref().clone().with_aliases(["variance"]),
    ];
    for udaf in aggregate {
        ctx.register_udaf(udaf);
    }
}
