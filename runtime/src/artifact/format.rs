//! The plan artifact: a compiled pipeline as one binary file.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! "AQDUCTS\0"            magic, 8 bytes
//! u32                    artifact format version (FORMAT_VERSION)
//! u16 + bytes            the DataFusion version the plans were encoded with
//! [u8; 32]               SHA-256 of the body
//! body: u32 + JSON        the object stores (see [`crate::io::stores`]), length 0 for none
//!       u32 stage count, then per stage:
//!   u16 + bytes          stage name
//!   u8                   flags: 1 print_schema, 2 explain, 4 explain_analyze, 8 has show
//!   u64                  rows to show (when flag 8)
//!   u32 + bytes          the stage's physical plan (datafusion-proto), or length 0
//!   u32 + bytes          the write of the destination (datafusion-proto), or length 0
//!   u32 + bytes          a shared stage's plan, computed once (datafusion-proto), or length 0
//!   u32                  the shared stage's id (when the plan above is present)
//! ```
//!
//! Our own plan nodes (shared stage scans, ODBC scans and writes) are stored through
//! [`AqueductsCodec`].
//!
//! datafusion-proto encodings are only readable by the same DataFusion version, so the
//! version is checked before anything is decoded; the hash catches corruption. Decoding
//! runs behind a panic boundary, because hostile bytes can make the decoder panic.

use std::sync::Arc;

use datafusion::execution::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::bytes::{
    physical_plan_from_bytes_with_extension_codec, physical_plan_to_bytes_with_extension_codec,
};

use sha2::{Digest, Sha256};

use super::codec::AqueductsCodec;
use crate::access::{AccessError, AllowList};
use crate::io::stores::{self, StoreDescriptor, StoreError};
use crate::output::write::Write;
use crate::pipeline::{ExecutablePipeline, StagePlans};

/// The DataFusion version plans are compiled and run with, stamped into every artifact.
pub const DATAFUSION_VERSION: &str = datafusion::DATAFUSION_VERSION;

pub const MAGIC: &[u8; 8] = b"AQDUCTS\0";
pub const FORMAT_VERSION: u32 = 3;

const PRINT_SCHEMA: u8 = 1;
const EXPLAIN: u8 = 2;
const EXPLAIN_ANALYZE: u8 = 4;
const SHOW: u8 = 8;

/// Why an artifact cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("stage `{stage}` cannot be stored in a plan artifact: {message}")]
    Unserializable { stage: String, message: String },
    #[error("this is not an Aqueducts plan artifact")]
    NotAnArtifact,
    #[error("this plan artifact has format version {found}; this aqueducts reads version {FORMAT_VERSION}")]
    FormatVersion { found: u32 },
    #[error(
        "this plan was compiled with DataFusion {found}, but this aqueducts runs DataFusion {DATAFUSION_VERSION}; compile it again with this version (`aqueducts plan --file ... --out ...`)"
    )]
    DataFusionVersion { found: String },
    #[error("the plan artifact is corrupted (its content does not match its hash)")]
    Corrupted,
    #[error("the plan artifact is truncated or malformed: {0}")]
    Malformed(String),
    #[error("stage `{stage}` of the plan artifact cannot be decoded: {message}")]
    Decode { stage: String, message: String },
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Refused(#[from] AccessError),
}

/// Whether a plan can travel in an artifact: it is encoded as [`encode`] would, and the
/// error says which node cannot be. `check` asks this of every stage's plan.
pub fn storable(plan: &Arc<dyn ExecutionPlan>) -> datafusion::error::Result<()> {
    physical_plan_to_bytes_with_extension_codec(plan.clone(), &AqueductsCodec::default()).map(|_| ())
}

/// Encodes a lowered pipeline.
pub fn encode(pipeline: &ExecutablePipeline) -> Result<Vec<u8>, ArtifactError> {
    let mut body = Vec::new();
    if pipeline.stores.is_empty() {
        put_u32(&mut body, 0);
    } else {
        let stores = serde_json::to_vec(&pipeline.stores).map_err(|e| ArtifactError::Malformed(e.to_string()))?;
        put_u32(&mut body, stores.len() as u32);
        body.extend_from_slice(&stores);
    }
    put_u32(&mut body, pipeline.stages.len() as u32);
    for stage in &pipeline.stages {
        if stage.name.len() > u16::MAX as usize {
            let message = "its name is longer than 65535 bytes".into();
            return Err(ArtifactError::Unserializable { stage: stage.name.chars().take(40).collect(), message });
        }
        put_bytes16(&mut body, stage.name.as_bytes());
        let mut flags = 0;
        if stage.print_schema {
            flags |= PRINT_SCHEMA;
        }
        if stage.explain {
            flags |= EXPLAIN;
        }
        if stage.explain_analyze {
            flags |= EXPLAIN_ANALYZE;
        }
        if stage.show.is_some() {
            flags |= SHOW;
        }
        body.push(flags);
        body.extend_from_slice(&(stage.show.unwrap_or(0) as u64).to_le_bytes());
        let write = stage.write.as_ref().map(|write| write.plan().clone());
        let shared = stage.materialize.as_ref().map(|(_, plan)| plan.clone());
        for plan in [&stage.plan, &write, &shared] {
            let bytes = match plan {
                Some(plan) => physical_plan_to_bytes_with_extension_codec(plan.clone(), &AqueductsCodec::default())
                    .map_err(|e| ArtifactError::Unserializable {
                        stage: stage.name.clone(),
                        message: first_line(&e.strip_backtrace()),
                    })?,
                None => Default::default(),
            };
            let len = u32::try_from(bytes.len()).map_err(|_| ArtifactError::Unserializable {
                stage: stage.name.clone(),
                message: "its plan is larger than 4 GiB".into(),
            })?;
            put_u32(&mut body, len);
            body.extend_from_slice(&bytes);
        }
        put_u32(&mut body, stage.materialize.as_ref().map_or(0, |(id, _)| *id));
    }
    let mut out = Vec::with_capacity(body.len() + 64);
    out.extend_from_slice(MAGIC);
    put_u32(&mut out, FORMAT_VERSION);
    put_bytes16(&mut out, DATAFUSION_VERSION.as_bytes());
    out.extend_from_slice(&Sha256::digest(&body));
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decodes an artifact into plans bound to `ctx`, after building the object stores the
/// plans read or write from this process's environment and registering them in `ctx`.
/// For a process running its own user's plans (the CLI): nothing is refused.
pub fn decode(bytes: &[u8], ctx: &TaskContext) -> Result<ExecutablePipeline, ArtifactError> {
    decode_with(bytes, ctx, None)
}

/// [`decode`], with the artifact's object stores checked against `allowed` before any is
/// built (an executor refuses stores its allow-list does not permit). The locations the
/// decoded plans touch are for the caller to check ([`AllowList::check_pipeline`]).
pub fn decode_checked(
    bytes: &[u8],
    ctx: &TaskContext,
    allowed: &AllowList,
) -> Result<ExecutablePipeline, ArtifactError> {
    decode_with(bytes, ctx, Some(allowed))
}

/// Checks what can be checked without decoding: the artifact's magic, format and
/// DataFusion versions, and its hash. For a process that stores artifacts for others to
/// run (an orchestrator), so that a wrong one is refused when it is submitted.
pub fn check_header(bytes: &[u8]) -> Result<(), ArtifactError> {
    let mut r = Reader { bytes, at: 0 };
    header(&mut r)?;
    let hash = r.take(32)?;
    if Sha256::digest(&bytes[r.at..]).as_slice() != hash {
        return Err(ArtifactError::Corrupted);
    }
    Ok(())
}

fn header(r: &mut Reader<'_>) -> Result<(), ArtifactError> {
    if r.take(MAGIC.len()).ok() != Some(&MAGIC[..]) {
        return Err(ArtifactError::NotAnArtifact);
    }
    let version = r.u32()?;
    if version != FORMAT_VERSION {
        return Err(ArtifactError::FormatVersion { found: version });
    }
    let df_version = String::from_utf8_lossy(r.bytes16()?).into_owned();
    if df_version != DATAFUSION_VERSION {
        return Err(ArtifactError::DataFusionVersion { found: df_version });
    }
    Ok(())
}

fn decode_with(
    bytes: &[u8],
    ctx: &TaskContext,
    allowed: Option<&AllowList>,
) -> Result<ExecutablePipeline, ArtifactError> {
    let mut r = Reader { bytes, at: 0 };
    header(&mut r)?;
    let hash = r.take(32)?;
    let body = &bytes[r.at..];
    if Sha256::digest(body).as_slice() != hash {
        return Err(ArtifactError::Corrupted);
    }
    let mut r = Reader { bytes: body, at: 0 };
    let stores: Vec<StoreDescriptor> = match r.bytes32()? {
        [] => Vec::new(),
        json => serde_json::from_slice(json).map_err(|_| malformed("store descriptors"))?,
    };
    if let Some(allowed) = allowed {
        allowed.check_stores(&stores)?;
    }
    stores::register(ctx.runtime_env().as_ref(), &stores)?;
    let count = r.u32()?;
    let mut stages = Vec::with_capacity(count.min(10_000) as usize);
    let mut shared_ids = std::collections::HashSet::new();
    for _ in 0..count {
        let name = String::from_utf8_lossy(r.bytes16()?).into_owned();
        let flags = r.take(1)?[0];
        let show = u64::from_le_bytes(r.take(8)?.try_into().map_err(|_| malformed("show"))?);
        let plan = decode_plan(&name, r.bytes32()?, ctx)?;
        let write = match decode_plan(&name, r.bytes32()?, ctx)? {
            Some(plan) => Some(Write::from_plan(plan).map_err(|e| ArtifactError::Decode {
                stage: name.clone(),
                message: first_line(&e.strip_backtrace()),
            })?),
            None => None,
        };
        let shared = decode_plan(&name, r.bytes32()?, ctx)?;
        let shared_id = r.u32()?;
        // Each shared stage is computed once, under its own id.
        if shared.is_some() && !shared_ids.insert(shared_id) {
            return Err(malformed("two shared stages with one id"));
        }
        stages.push(StagePlans {
            name,
            plan,
            show: (flags & SHOW != 0).then_some(show as usize),
            print_schema: flags & PRINT_SCHEMA != 0,
            explain: flags & EXPLAIN != 0,
            explain_analyze: flags & EXPLAIN_ANALYZE != 0,
            write,
            materialize: shared.map(|plan| (shared_id, plan)),
        });
    }
    if r.at != body.len() {
        return Err(malformed("unexpected bytes after the last stage"));
    }
    Ok(ExecutablePipeline { stages, stores })
}

fn decode_plan(stage: &str, bytes: &[u8], ctx: &TaskContext) -> Result<Option<Arc<dyn ExecutionPlan>>, ArtifactError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        physical_plan_from_bytes_with_extension_codec(bytes, ctx, &AqueductsCodec::default())
    }));
    match decoded {
        Ok(Ok(plan)) => Ok(Some(plan)),
        Ok(Err(e)) => {
            Err(ArtifactError::Decode { stage: stage.to_string(), message: first_line(&e.strip_backtrace()) })
        }
        Err(_) => {
            Err(ArtifactError::Decode { stage: stage.to_string(), message: "the decoder failed on these bytes".into() })
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).to_string()
}

fn malformed(what: &str) -> ArtifactError {
    ArtifactError::Malformed(what.to_string())
}

fn put_u32(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(&n.to_le_bytes());
}

fn put_bytes16(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = bytes.len().min(u16::MAX as usize);
    out.extend_from_slice(&(len as u16).to_le_bytes());
    out.extend_from_slice(&bytes[..len]);
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ArtifactError> {
        let end =
            self.at.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or_else(|| malformed("unexpected end"))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, ArtifactError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().map_err(|_| malformed("u32"))?))
    }

    fn bytes16(&mut self) -> Result<&'a [u8], ArtifactError> {
        let len = u16::from_le_bytes(self.take(2)?.try_into().map_err(|_| malformed("u16"))?);
        self.take(len as usize)
    }

    fn bytes32(&mut self) -> Result<&'a [u8], ArtifactError> {
        let len = self.u32()?;
        self.take(len as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let ctx = datafusion::prelude::SessionContext::new();
        let plan = futures::executor::block_on(async {
            ctx.sql("SELECT 1 AS one").await.unwrap().create_physical_plan().await.unwrap()
        });
        let stage = StagePlans {
            name: "s".into(),
            plan: Some(plan),
            show: Some(3),
            print_schema: true,
            explain: false,
            explain_analyze: false,
            write: None,
            materialize: None,
        };
        encode(&ExecutablePipeline { stages: vec![stage], stores: vec![] }).unwrap()
    }

    #[test]
    fn round_trip_keeps_stages_and_flags() {
        let ctx = datafusion::prelude::SessionContext::new();
        let decoded = decode(&sample(), &ctx.task_ctx()).unwrap();
        let stage = &decoded.stages[0];
        assert_eq!((stage.name.as_str(), stage.show, stage.print_schema, stage.explain), ("s", Some(3), true, false));
        assert_eq!(stage.plan.as_ref().unwrap().schema().field(0).name(), "one");
        assert!(stage.write.is_none());
    }

    #[test]
    fn plans_with_nodes_no_codec_knows_are_not_storable() {
        let ctx = datafusion::prelude::SessionContext::new();
        let plan = futures::executor::block_on(async {
            ctx.sql("SELECT 1 AS one").await.unwrap().create_physical_plan().await.unwrap()
        });
        assert!(storable(&plan).is_ok());
        // A node of ours that only exists while a run is set up.
        let wrapped: Arc<dyn ExecutionPlan> = Arc::new(crate::shared::read_ahead::ReadAheadExec::new(plan));
        let error = storable(&wrapped).unwrap_err().strip_backtrace();
        assert!(error.contains("ReadAheadExec cannot be stored in a plan artifact"), "{error}");
    }

    #[test]
    fn damaged_artifacts_are_refused_clearly() {
        let ctx = datafusion::prelude::SessionContext::new().task_ctx();
        let good = sample();
        assert!(matches!(decode(b"garbage", &ctx), Err(ArtifactError::NotAnArtifact)));
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        assert!(matches!(decode(&flipped, &ctx), Err(ArtifactError::Corrupted)));
        let mut version = good.clone();
        version[8] = 9;
        assert!(matches!(decode(&version, &ctx), Err(ArtifactError::FormatVersion { found: 9 })));
        let mut other_df = good.clone();
        other_df[14] = b'9'; // first digit of the DataFusion version
        let err = decode(&other_df, &ctx).unwrap_err();
        assert!(err.to_string().contains("compiled with DataFusion 9"), "{err}");
        for cut in 0..good.len() {
            assert!(decode(&good[..cut], &ctx).is_err());
        }
    }

    mod fuzz {
        //! Damaged artifacts, with their hash made right again so the damage reaches the
        //! decoders behind it, are refused or decoded, never a panic or a hang.

        use proptest::prelude::*;
        use sha2::{Digest, Sha256};

        use super::*;

        /// Where the body starts: magic, version, DataFusion version, hash.
        fn body_start(artifact: &[u8]) -> usize {
            let df_len = u16::from_le_bytes([artifact[12], artifact[13]]) as usize;
            14 + df_len + 32
        }

        /// The artifact with its body replaced and its hash computed again.
        fn rehashed(artifact: &[u8], body: &[u8]) -> Vec<u8> {
            let start = body_start(artifact);
            let mut out = artifact[..start - 32].to_vec();
            out.extend_from_slice(&Sha256::digest(body));
            out.extend_from_slice(body);
            out
        }

        proptest! {
            #[test]
            fn damaged_bodies_are_refused_not_panicked_on(
                edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..12),
            ) {
                let good = sample();
                let mut body = good[body_start(&good)..].to_vec();
                for (at, byte, kind) in edits {
                    if body.is_empty() {
                        break;
                    }
                    let i = at.index(body.len());
                    match kind {
                        0 => body[i] = byte,
                        1 => body.insert(i, byte),
                        _ => body.truncate(i),
                    }
                }
                let ctx = datafusion::prelude::SessionContext::new();
                let damaged = rehashed(&good, &body);
                let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode(&damaged, &ctx.task_ctx())));
                prop_assert!(decoded.is_ok(), "the decoder panicked outside its boundary");
            }

            #[test]
            fn arbitrary_bytes_are_not_artifacts(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
                let ctx = datafusion::prelude::SessionContext::new();
                prop_assert!(decode(&bytes, &ctx.task_ctx()).is_err());
            }
        }
    }
}
