//! An executor's files and databases as the compiler sees them, for compiling a
//! pipeline that runs there.
//!
//! Whoever compiles for an executor (the CLI over its connection, an orchestrator over
//! the executor's registration) relays store operations to it through a [`StoreRelay`].
//! [`RemoteFiles`], registered as the `file://` store of the compiling session, makes
//! DataFusion list source directories and read schemas and Parquet footers on the
//! executor: paths, listings and schemas in the plan are the executor's. Reads fetch
//! what DataFusion consumes, in pieces of at most [`CHUNK`] bytes; nothing can be
//! written. [`RemoteDescriber`] asks the executor for the columns of ODBC queries.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use aqueducts_runtime::protocol::{FileInfo, StoreAnswer, StoreOperation};
use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetRange, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

use aqueducts_runtime::io::odbc::{Describer, OdbcError, columns_to_schema};
use datafusion::arrow::datatypes::SchemaRef;

/// The largest piece one request fetches.
pub const CHUNK: u64 = 1024 * 1024;

/// The answer to a store operation.
pub enum Reply {
    Answer(StoreAnswer),
    /// The bytes a `Get` asked for.
    Bytes(Bytes),
}

/// Sends store operations to an executor and waits for its answers; an error is why
/// none came (the connection is gone, the answer took too long).
pub trait StoreRelay: Send + Sync + 'static {
    fn store(&self, operation: StoreOperation) -> BoxFuture<'static, std::result::Result<Reply, String>>;
}

/// The executor's files, read through a relay.
#[derive(Clone)]
pub struct RemoteFiles {
    relay: Arc<dyn StoreRelay>,
    executor: String,
}

impl RemoteFiles {
    /// The files of the executor named `executor` (for messages).
    pub fn new(relay: Arc<dyn StoreRelay>, executor: String) -> Self {
        RemoteFiles { relay, executor }
    }

    async fn ask(&self, operation: StoreOperation) -> Result<Reply> {
        self.relay.store(operation).await.map_err(|message| generic(message.into()))
    }

    async fn head_path(&self, location: &Path) -> Result<ObjectMeta> {
        match self.ask(StoreOperation::Head { path: absolute(location) }).await? {
            Reply::Answer(StoreAnswer::File(info)) => Ok(meta(&info)),
            other => Err(unexpected(other, location)),
        }
    }

    async fn listing(&self, prefix: Option<&Path>, recursive: bool) -> Result<(Vec<FileInfo>, Vec<String>)> {
        let path = prefix.map(absolute).unwrap_or_else(|| "/".into());
        match self.ask(StoreOperation::List { prefix: path, recursive }).await? {
            Reply::Answer(StoreAnswer::Listing { files, directories }) => Ok((files, directories)),
            other => Err(unexpected(other, prefix.unwrap_or(&Path::default()))),
        }
    }
}

/// `data/x.csv` (object store paths have no leading slash) to `/data/x.csv`.
fn absolute(location: &Path) -> String {
    format!("/{location}")
}

fn meta(info: &FileInfo) -> ObjectMeta {
    ObjectMeta {
        location: Path::from(info.path.trim_start_matches('/')),
        last_modified: DateTime::<Utc>::from_timestamp_millis(info.modified_ms).unwrap_or_default(),
        size: info.size,
        e_tag: None,
        version: None,
    }
}

fn generic(source: Box<dyn std::error::Error + Send + Sync>) -> object_store::Error {
    object_store::Error::Generic { store: "executor", source }
}

fn unexpected(reply: Reply, location: &Path) -> object_store::Error {
    match reply {
        Reply::Answer(StoreAnswer::NotFound { path }) => {
            object_store::Error::NotFound { path, source: "not found on the executor".into() }
        }
        Reply::Answer(StoreAnswer::Refused { message }) => generic(message.into()),
        _ => generic(format!("the executor answered oddly about `/{location}`").into()),
    }
}

fn read_only() -> object_store::Error {
    object_store::Error::NotSupported { source: "the executor's files are only read while compiling".into() }
}

impl fmt::Display for RemoteFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "files of executor {}", self.executor)
    }
}

impl fmt::Debug for RemoteFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RemoteFiles({})", self.executor)
    }
}

#[async_trait]
impl ObjectStore for RemoteFiles {
    async fn put_opts(&self, _: &Path, _: PutPayload, _: PutOptions) -> Result<PutResult> {
        Err(read_only())
    }

    async fn put_multipart_opts(&self, _: &Path, _: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        Err(read_only())
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let meta = self.head_path(location).await?;
        let range: Range<u64> = match &options.range {
            None => 0..meta.size,
            Some(GetRange::Bounded(r)) => r.start.min(meta.size)..r.end.min(meta.size),
            Some(GetRange::Offset(start)) => (*start).min(meta.size)..meta.size,
            Some(GetRange::Suffix(n)) => meta.size.saturating_sub(*n)..meta.size,
        };
        let payload = if options.head {
            GetResultPayload::Stream(stream::empty().boxed())
        } else {
            let (store, path) = (self.clone(), absolute(location));
            let pieces = stream::unfold(range.start, move |at| {
                let (store, path) = (store.clone(), path.clone());
                let end = range.end;
                async move {
                    if at >= end {
                        return None;
                    }
                    let until = at.saturating_add(CHUNK).min(end);
                    let piece = match store.ask(StoreOperation::Get { path: path.clone(), start: at, end: until }).await
                    {
                        Ok(Reply::Bytes(bytes)) if !bytes.is_empty() => Ok(bytes),
                        Ok(Reply::Bytes(_)) => Err(generic(format!("`{path}` is shorter than expected").into())),
                        Ok(other) => Err(unexpected(other, &Path::from(path.trim_start_matches('/')))),
                        Err(e) => Err(e),
                    };
                    let next = match &piece {
                        Ok(bytes) => at + bytes.len() as u64,
                        Err(_) => end, // stop after the error
                    };
                    Some((piece, next))
                }
            });
            // Fused: some readers poll a stream again after its end.
            GetResultPayload::Stream(pieces.fuse().boxed())
        };
        Ok(GetResult { payload, meta, range, attributes: Default::default() })
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let mut out = Vec::with_capacity(ranges.len());
        for range in ranges {
            let options = GetOptions { range: Some(GetRange::Bounded(range.clone())), ..Default::default() };
            out.push(self.get_opts(location, options).await?.bytes().await?);
        }
        Ok(out)
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        locations.map(|_| Err(read_only())).boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let (store, prefix) = (self.clone(), prefix.cloned());
        stream::once(async move {
            match store.listing(prefix.as_ref(), true).await {
                Ok((files, _)) => stream::iter(files.iter().map(|f| Ok(meta(f))).collect::<Vec<_>>()).boxed(),
                // A directory that is not there lists as empty, as on a local file system.
                Err(object_store::Error::NotFound { .. }) => stream::empty().boxed(),
                Err(e) => stream::once(async move { Err(e) }).boxed(),
            }
        })
        .flatten()
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let (files, directories) = self.listing(prefix, false).await?;
        Ok(ListResult {
            common_prefixes: directories.iter().map(|d| Path::from(d.trim_start_matches('/'))).collect(),
            objects: files.iter().map(meta).collect(),
        })
    }

    async fn copy_opts(&self, _: &Path, _: &Path, _: CopyOptions) -> Result<()> {
        Err(read_only())
    }
}

/// ODBC queries described by the executor, with its drivers, network and secrets.
#[derive(Clone)]
pub struct RemoteDescriber {
    relay: Arc<dyn StoreRelay>,
}

impl RemoteDescriber {
    pub fn new(relay: Arc<dyn StoreRelay>) -> Self {
        RemoteDescriber { relay }
    }
}

impl fmt::Debug for RemoteDescriber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RemoteDescriber")
    }
}

impl Describer for RemoteDescriber {
    fn describe(
        &self,
        connection_string: String,
        query: String,
    ) -> futures::future::BoxFuture<'static, std::result::Result<SchemaRef, OdbcError>> {
        let relay = self.relay.clone();
        Box::pin(async move {
            match relay.store(StoreOperation::DescribeOdbc { connection_string, query }).await {
                Ok(Reply::Answer(StoreAnswer::Described { columns })) => columns_to_schema(&columns),
                Ok(Reply::Answer(StoreAnswer::OdbcFailed { failure, message })) => Err(match failure.as_str() {
                    "query" => OdbcError::Query(message),
                    "connect" => OdbcError::Connect(format!("{message} (on the executor)")),
                    _ => OdbcError::Read(format!("{message} (on the executor)")),
                }),
                Ok(Reply::Answer(StoreAnswer::Refused { message })) => Err(OdbcError::Connect(message)),
                Ok(_) => Err(OdbcError::Read("the executor answered the description with something else".into())),
                Err(message) => Err(OdbcError::Connect(message)),
            }
        })
    }
}
