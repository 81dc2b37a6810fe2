//! Plan artifacts: a compiled pipeline as one binary file ([`format`]), with our own plan
//! nodes carried by [`AqueductsCodec`] ([`codec`]) in the byte layouts of [`layout`].

pub mod codec;
pub mod format;
pub mod layout;

pub use codec::AqueductsCodec;
pub use format::{ArtifactError, DATAFUSION_VERSION, FORMAT_VERSION, MAGIC, decode, decode_checked, encode};
