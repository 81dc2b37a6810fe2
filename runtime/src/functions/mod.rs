//! SQL functions Aqueducts adds to DataFusion's: those PostgreSQL users expect and
//! DataFusion lacks, and those the compiler's PostgreSQL-compatible casts call.
//!
//! They live in the runtime, not the compiler, because plan artifacts name functions
//! rather than carry them: whoever decodes a plan (the CLI, an executor) must know every
//! function the compiler may have put in it. [`register`] adds them to a session;
//! every session of [`crate::RunSettings::session_context`] has them.

mod kept_values;
pub mod mode;
pub mod percentile_disc;
pub mod pg_text;
pub mod rint;

use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::SessionContext;

/// Adds our functions to `ctx`.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::from(rint::Rint::new()));
    ctx.register_udf(ScalarUDF::from(pg_text::PgText::new()));
    ctx.register_udaf(AggregateUDF::from(percentile_disc::PercentileDisc::new()));
    ctx.register_udaf(AggregateUDF::from(mode::Mode::new()));
}
