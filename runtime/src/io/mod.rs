//! Reaching data: object stores built from their descriptors ([`stores`]) and databases
//! through ODBC ([`odbc`]).

pub mod odbc;
pub mod stores;
