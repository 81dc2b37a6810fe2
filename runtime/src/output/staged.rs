//! [`Staged`]: a write's output waiting for the run to succeed, whatever kind of
//! destination it replaces; committed or aborted as one.

use super::error::CommitError;
use super::local::Staging;
use super::object_store::ObjectStaging;
use crate::io::delta::sink::HeldDeltaWrite;
use crate::io::odbc::transactions::HeldTransaction;

/// Where a write's output waits until the whole run succeeded.
pub enum Staged {
    /// Next to a destination on the local file system; swapped in by renames.
    Local(Staging),
    /// Next to a destination on an object store; copied into place.
    Object(ObjectStaging),
    /// Rows inserted into a database table in a transaction not yet committed.
    Database(HeldTransaction),
    /// Rows staged in a Delta table's directory, not yet committed.
    Delta(Box<HeldDeltaWrite>),
}

impl Staged {
    /// The destination, for messages.
    pub fn target(&self) -> String {
        match self {
            Staged::Local(s) => s.target().display().to_string(),
            Staged::Object(s) => s.target_url(),
            Staged::Database(t) => format!("table {}", t.table),
            Staged::Delta(w) => w.table().to_string(),
        }
    }

    /// Replaces the destination with the staged output. On failure, says whether the
    /// destination was left as it was: a local swap is undone, a database transaction
    /// is rolled back, but an object-store directory may be partly copied.
    pub async fn commit(self) -> std::result::Result<(), CommitError> {
        let unchanged = |message: String| CommitError { message, destination_changed: false };
        match self {
            Staged::Local(s) => s.commit().map_err(|e| unchanged(e.to_string())),
            Staged::Object(s) => s.commit().await,
            Staged::Database(t) => t.commit().await.map_err(|e| unchanged(e.to_string())),
            // One Delta commit: it happened or the table is at its version.
            Staged::Delta(w) => w
                .commit()
                .await
                .map(|_| ())
                .map_err(|e| CommitError { destination_changed: e.table_changed, message: e.message }),
        }
    }

    /// Removes the staged output; the destination stays as it was.
    pub async fn abort(self) {
        match self {
            Staged::Local(s) => s.abort().await,
            Staged::Object(s) => s.abort().await,
            Staged::Database(t) => t.roll_back(),
            Staged::Delta(w) => w.abort().await,
        }
    }
}
