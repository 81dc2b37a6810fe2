//! Reaching data: object stores built from their descriptors ([`stores`]), databases
//! through ODBC ([`odbc`]) and Delta Lake tables ([`delta`]).

pub mod delta;
pub mod odbc;
pub mod stores;
