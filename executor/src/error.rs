//! [`ServeError`]: why the executor cannot start, or stopped serving.

use std::net::SocketAddr;

/// Why the executor cannot start or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    MemoryLimit(#[from] aqueducts_runtime::InvalidMemoryLimit),
    #[error("cannot read the working directory: {0}")]
    WorkingDirectory(std::io::Error),
    #[error(
        "the data directory would be `/` (the working directory): give --data-dir, or name what plans may use with --allow-location"
    )]
    RootDataDir,
    #[error("cannot use the data directory `{}`: {source}", path.display())]
    DataDir { path: std::path::PathBuf, source: std::io::Error },
    #[error("cannot resolve host `{host}`: {source}")]
    Resolve { host: String, source: std::io::Error },
    #[error("host `{host}` has no address")]
    NoAddress { host: String },
    #[error("cannot listen on {address}: {source}")]
    Listen { address: SocketAddr, source: std::io::Error },
    #[error("{0}")]
    Tls(String),
    #[error("the server stopped: {0}")]
    Stopped(std::io::Error),
}
