//! Delta Lake tables, read and written through `deltalake`'s Rust core.
//!
//! A table is opened through the object store DataFusion has registered for its
//! location ([`table`]), so Delta tables use the same stores, settings and secrets as
//! files. A source is planned at a pinned version and read by [`scan::DeltaSourceExec`],
//! which carries only the table's URL, the version and what the query pushed down; the
//! process that runs the plan opens that version again and scans it with `deltalake`.
//! `deltalake`'s own scan node cannot be stored in a plan artifact, and a plan that names
//! nothing but the table's URL is one the allow-list can judge. A destination is written
//! by [`sink::DeltaWriteExec`]: rows staged in the table's directory while the run runs,
//! one Delta commit when it succeeded.

pub mod scan;
pub mod sink;
pub mod table;

pub use scan::{DeltaSourceExec, DeltaSourceTable};
pub use sink::{DeltaWriteExec, DeltaWriteMode, DeltaWriteTarget, HeldDeltaWrite, HeldDeltaWrites};
pub use table::{DeltaOpenError, TablePoint, open_table, table_url};
