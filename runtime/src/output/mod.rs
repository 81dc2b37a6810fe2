//! Writing destinations so that a failed run leaves them as they were.
//!
//! A stage's write is a [`Write`] ([`write`]): a file sink or a database write. A file
//! sink is re-pointed at a staging location just before it runs ([`repoint`]): a hidden
//! sibling on the local file system ([`local`], committed by renames) or on an object
//! store ([`object_store`], committed by copies). A database write is one transaction,
//! held open. Either way the output waits as a [`Staged`] ([`staged`]) that the run
//! commits only when every stage succeeded, and aborts otherwise; a commit that fails is
//! a [`CommitError`] ([`error`]) that says whether the destination changed.

pub mod error;
pub mod local;
pub mod object_store;
pub mod repoint;
pub mod staged;
pub mod write;

pub use error::CommitError;
pub use local::Staging;
pub use object_store::ObjectStaging;
pub use repoint::stage_write;
pub use staged::Staged;
pub use write::Write;
