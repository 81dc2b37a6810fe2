//! Who may touch what: secrets that plans take from the environment of the process that
//! runs them ([`secrets`]), what a decoded plan touches ([`touched`]), the executor's
//! allow-list of locations ([`allow_list`]) and what plans may do on databases
//! ([`databases`]).

pub mod allow_list;
pub mod databases;
pub mod secrets;
pub mod touched;

pub use allow_list::{AccessError, AllowList, EVERYTHING, names_internal_address};
pub use databases::DatabasePolicy;
pub use touched::{DatabaseUse, ODBC_LOCATION, Touched, touched};
