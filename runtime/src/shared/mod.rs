//! Stages read more than once: computed once and streamed to each of their readers.
//!
//! A stage that one reader reads once is planned inside that reader. A stage read by
//! several readers (or twice by one query) is instead run once, alongside its readers:
//! its output goes into a [`BatchLog`] ([`batch_log`]) that keeps each batch until every
//! reader has read it, in memory while they keep up, in a spill file otherwise. The
//! run's logs live in [`SharedResults`] ([`results`]); readers are planned against a
//! [`SharedTable`] ([`table`]) and scan the log through [`SharedStageExec`] ([`scan`]),
//! our own plan node. [`read_ahead`] makes sure that one query reading a stage twice
//! reads both at once.

pub mod batch_log;
pub mod read_ahead;
pub mod results;
pub mod scan;
pub mod table;

pub use batch_log::BatchLog;
pub use results::{SharedResults, open};
pub use scan::{SharedStageExec, count_reads};
pub use table::SharedTable;
