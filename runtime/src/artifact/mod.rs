//! Plan artifacts: a compiled pipeline as one binary file ([`format`]), with our own plan
//! nodes carried by [`AqueductsCodec`] ([`codec`]) in the byte layouts of [`layout`], and
//! DataFusion's recursive-query nodes by the same codec ([`recursive`]).

pub mod codec;
pub mod format;
pub mod layout;
mod recursive;

pub use codec::AqueductsCodec;
pub use format::{
    ArtifactError, DATAFUSION_VERSION, FORMAT_VERSION, MAGIC, check_header, decode, decode_checked, encode, storable,
};
