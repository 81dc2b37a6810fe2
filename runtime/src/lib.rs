//! The Aqueducts runtime: executes compiled pipelines on DataFusion.
//!
//! This crate will decode plan artifacts, register object stores, run stages under a
//! memory pool and write destinations. It never parses specs or SQL: that is the
//! compiler's job, and the executor links only this crate.

/// The DataFusion version plans are compiled and run with; artifacts are stamped with it.
pub const DATAFUSION_VERSION: &str = datafusion::DATAFUSION_VERSION;
