//! The spec: its types ([`types`], re-exported here), values with their positions
//! ([`spanned`]), and the serde deserializer that reads them from the spanned tree and
//! reports every problem where it is ([`de`]).

pub mod de;
pub mod spanned;
pub(crate) mod tagged;
pub mod types;

pub use spanned::Spanned;
pub use types::*;
