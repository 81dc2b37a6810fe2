//! Databases through ODBC: connections ([`connection`]), describing a query's columns
//! while compiling ([`describe`]), sources ([`scan`]), destinations ([`sink`]) and their
//! transactions ([`transactions`]), and the system's driver registrations
//! ([`driver_config`]).

pub mod connection;
pub mod describe;
pub mod driver_config;
pub mod scan;
pub mod sink;
pub mod transactions;

pub use connection::{ConnectionString, MAX_TEXT_BYTES, OdbcError, environment, misplaced_secret};
pub use describe::{Describer, LocalDescriber, columns_to_schema, describe, schema_to_columns};
pub use driver_config::{prepare_driver_config, prepare_server_driver_config, registered_drivers};
pub use scan::{OdbcScanExec, OdbcTable};
pub use sink::{OdbcWriteExec, WriteMode, WriteTarget, quote_identifier, quote_table_name};
pub use transactions::{HeldTransaction, HeldTransactions};
