//! Who may touch what: secrets that plans take from the environment of the process that
//! runs them ([`secrets`]), the locations a decoded plan touches ([`touched`]), and the
//! executor's allow-list of locations ([`allow_list`]).

pub mod allow_list;
pub mod secrets;
pub mod touched;

pub use allow_list::{AccessError, AllowList};
pub use touched::{ODBC_LOCATION, touched_locations};
