//! Database writes held open until the whole run succeeded: each is one transaction,
//! kept on a thread of its own until the run says commit or roll back.

use super::connection::{OdbcError, driver_message};

pub(crate) fn commit(connection: &arrow_odbc::odbc_api::Connection<'static>) -> Result<(), OdbcError> {
    connection.commit().map_err(|e| OdbcError::Commit(format!("commit failed: {}", driver_message(e))))
}

/// What a held transaction is told: commit (`true`) or roll back, and where to answer.
pub(crate) type Decision = (bool, tokio::sync::oneshot::Sender<Result<(), OdbcError>>);

/// Database writes whose rows are all inserted, waiting for the whole run to succeed
/// before they commit. A session holds one registry (a config extension); without it
/// a write commits as soon as its rows are in.
#[derive(Debug, Default)]
pub struct HeldTransactions {
    held: std::sync::Mutex<Vec<HeldTransaction>>,
}

impl HeldTransactions {
    pub(crate) fn hold(&self, transaction: HeldTransaction) {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).push(transaction);
    }

    /// Every transaction held so far.
    pub fn take(&self) -> Vec<HeldTransaction> {
        std::mem::take(&mut *self.held.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// One database write, inserted and not committed. Dropping it rolls it back.
#[derive(Debug)]
pub struct HeldTransaction {
    pub table: String,
    pub(crate) decide: std::sync::mpsc::Sender<Decision>,
}

impl HeldTransaction {
    pub async fn commit(self) -> Result<(), OdbcError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let lost = |when: &str| OdbcError::Commit(format!("the database connection was lost {when} the commit"));
        self.decide.send((true, answer)).map_err(|_| lost("before"))?;
        answered.await.map_err(|_| lost("during"))?
    }

    pub fn roll_back(self) {
        let (answer, _) = tokio::sync::oneshot::channel();
        let _ = self.decide.send((false, answer));
    }
}
