//! [`DatabasePolicy`]: what an executor lets plans do on databases. A connection
//! string may load only a driver registered in the system's `odbcinst.ini` (never a
//! library by path, never one named by a file DSN), and a write may run the spec's own
//! SQL (`pre_insert`, `insert`) only where the executor says so (`--allow-custom-sql`).

use super::allow_list::AccessError;
use super::touched::DatabaseUse;
use crate::io::odbc::connection::{ConnectionString, attributes};

/// Connection string keywords that make the driver manager read a file of the client's
/// choosing (which may name any driver library) or write one.
const FILE_KEYWORDS: &[&str] = &["filedsn", "savefile"];

/// The database rules of one executor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabasePolicy {
    allow_custom_sql: bool,
    /// The driver names of `odbcinst.ini`, as written there.
    drivers: Vec<String>,
}

impl DatabasePolicy {
    pub fn new(allow_custom_sql: bool, registered_drivers: Vec<String>) -> Self {
        DatabasePolicy { allow_custom_sql, drivers: registered_drivers }
    }

    /// Whether database writes may run the spec's own SQL.
    pub fn allows_custom_sql(&self) -> bool {
        self.allow_custom_sql
    }

    /// Every database use of a plan.
    pub fn check(&self, uses: &[DatabaseUse]) -> Result<(), AccessError> {
        for use_ in uses {
            self.check_connection_string(&use_.connection_string)?;
            if use_.custom_sql && !self.allow_custom_sql {
                return Err(AccessError::Database(
                    "a database write with its own SQL (`pre_insert`/`insert`), which this executor does not allow (start it with --allow-custom-sql)"
                        .into(),
                ));
            }
        }
        Ok(())
    }

    /// A connection string may name a registered driver (or a DSN) and no file DSN.
    pub fn check_connection_string(&self, connection_string: &ConnectionString) -> Result<(), AccessError> {
        let attributes = attributes(connection_string.as_written()).map_err(|why| {
            AccessError::Database(format!("the connection string cannot be read unambiguously ({why})"))
        })?;
        for (key, value) in attributes {
            let key = key.to_ascii_lowercase();
            if FILE_KEYWORDS.contains(&key.as_str()) {
                return Err(AccessError::Database(format!(
                    "the connection string uses `{key}`, which this executor does not allow; name a DSN or a registered driver"
                )));
            }
            if key == "driver" && !self.drivers.iter().any(|d| d.eq_ignore_ascii_case(value.trim())) {
                let registered = if self.drivers.is_empty() {
                    "none is registered".to_string()
                } else {
                    format!("registered: {}", self.drivers.join(", "))
                };
                return Err(AccessError::Database(format!(
                    "the connection string names a driver that is not registered in this executor's odbcinst.ini ({registered})"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> DatabasePolicy {
        DatabasePolicy::new(false, vec!["PostgreSQL Unicode".into(), "MariaDB".into()])
    }

    fn check(text: &str) -> Result<(), AccessError> {
        policy().check_connection_string(&ConnectionString::new(text))
    }

    #[test]
    fn only_registered_drivers_load() {
        assert!(check("Driver={PostgreSQL Unicode};Server=db;Pwd={a;b}").is_ok());
        assert!(check("DRIVER=mariadb;Server=db").is_ok());
        assert!(check("DSN=warehouse;Uid=u").is_ok());
        for hostile in [
            "Driver=/tmp/evil.so;Server=db",
            "Driver={/home/me/libevil.so}",
            "Server=db;driver = ./evil.so",
            "FILEDSN=/tmp/x.dsn",
            "SaveFile=/tmp/out.dsn;DSN=warehouse",
            "Driver={PostgreSQL Unicode}}evil};Server=db",
            "Driver={PostgreSQL Unicode}Driver=/data/x.so;Server=h",
            "Pwd= {a;Driver=/tmp/x.so;}",
        ] {
            assert!(check(hostile).is_err(), "{hostile}");
        }
        let message = check("Driver=/tmp/evil.so").unwrap_err().to_string();
        assert!(message.contains("registered: PostgreSQL Unicode, MariaDB"), "{message}");
        assert!(!message.contains("evil"), "the refusal does not repeat the string: {message}");
    }

    #[test]
    fn custom_sql_needs_the_executors_consent() {
        let custom = DatabaseUse { connection_string: ConnectionString::new("DSN=w"), custom_sql: true };
        assert!(policy().check(std::slice::from_ref(&custom)).is_err());
        assert!(DatabasePolicy::new(true, vec![]).check(&[custom]).is_ok());
    }
}
