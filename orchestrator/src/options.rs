//! Command-line options, each also read from its environment variable (the command line
//! wins).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "aqueducts-orchestrator",
    version,
    about = "Queues, schedules and records Aqueducts runs on managed executors",
    after_help = "Without a command it serves: the HTTP API for users and the WebSocket route for executors.\nEvery option can also be set with the environment variable shown; the command line wins."
)]
pub struct Options {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub storage: Storage,

    #[command(flatten)]
    pub serve: ServeOptions,
}

/// What serving needs beyond the storage.
#[derive(Args, Clone)]
pub struct ServeOptions {
    /// The address to listen on: an IP address or a host name.
    #[arg(long, env = "AQUEDUCTS_HOST", default_value = "0.0.0.0")]
    pub host: String,

    /// The port to listen on (0 picks a free one, logged at start).
    #[arg(long, env = "AQUEDUCTS_PORT", default_value_t = 3000)]
    pub port: u16,

    /// The administrators' key (users send it in `X-API-Key`): every right. Other
    /// users get keys of their own with `keys create`.
    #[arg(long, env = "AQUEDUCTS_API_KEY", hide_env_values = true, value_name = "KEY")]
    pub api_key: Option<String>,

    /// The shared secret managed executors present; it opens only the executor route.
    /// Must differ from `--api-key`.
    #[arg(long, env = "AQUEDUCTS_EXECUTOR_KEY", hide_env_values = true, value_name = "KEY")]
    pub executor_key: Option<String>,

    /// Serve HTTPS and WSS with this certificate chain (PEM); needs `--tls-key`.
    #[arg(long, env = "AQUEDUCTS_TLS_CERT", requires = "tls_key", value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of `--tls-cert` (PEM).
    #[arg(long, env = "AQUEDUCTS_TLS_KEY", requires = "tls_cert", value_name = "PEM")]
    pub tls_key: Option<PathBuf>,

    /// Seconds without a sign of life after which an executor is offline and its run lost.
    #[arg(long, env = "AQUEDUCTS_HEARTBEAT_TIMEOUT", default_value_t = 30, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub heartbeat_timeout: u64,

    /// How much to log.
    #[arg(long, env = "AQUEDUCTS_LOG_LEVEL", default_value = "info", value_parser = ["info", "debug", "trace"])]
    pub log_level: String,
}

/// Shorter keys are refused: a key is all that stands between a stranger and the runs.
pub const MIN_KEY_LENGTH: usize = 16;

impl ServeOptions {
    /// The keys, checked: both given, long enough, without stray whitespace, different.
    pub fn keys(&self) -> Result<(String, String), String> {
        let check = |flag: &str, env: &str, key: Option<&String>| -> Result<String, String> {
            let key = key.ok_or_else(|| format!("{flag} (or {env}) is required to serve"))?;
            if key.trim() != key || key.is_empty() {
                return Err(format!(
                    "{flag} is empty or starts or ends with whitespace (a newline from a secret file?)"
                ));
            }
            if key.chars().count() < MIN_KEY_LENGTH {
                return Err(format!(
                    "{flag} has {} characters; use at least {MIN_KEY_LENGTH}, random (for example `openssl rand -hex 16`)",
                    key.chars().count()
                ));
            }
            Ok(key.clone())
        };
        let admin = check("--api-key", "AQUEDUCTS_API_KEY", self.api_key.as_ref())?;
        let executor = check("--executor-key", "AQUEDUCTS_EXECUTOR_KEY", self.executor_key.as_ref())?;
        if admin == executor {
            return Err("--executor-key must differ from --api-key: executors must not get the users' rights".into());
        }
        Ok((admin, executor))
    }
}

impl std::fmt::Debug for ServeOptions {
    /// Everything but the keys, for the start-up log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls_cert.is_some())
            .field("heartbeat_timeout", &self.heartbeat_timeout)
            .field("log_level", &self.log_level)
            .finish_non_exhaustive()
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// User API keys with a role (`viewer` reads, `operator` also runs and deploys).
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysAction {
    /// Creates a key and prints it once; only its digest is stored.
    Create {
        /// A name for the key (letters, digits, `.`, `_`, `-`).
        #[arg(long)]
        name: String,
        /// `viewer` (reads only) or `operator` (also submits, cancels and deploys).
        #[arg(long, value_parser = ["viewer", "operator"])]
        role: String,
    },
    /// Lists the keys (names and roles, never the keys).
    List,
    /// Revokes the key with this name.
    Revoke {
        #[arg(long)]
        name: String,
    },
}

/// Where the orchestrator keeps what it must not forget.
#[derive(Args, Clone)]
pub struct Storage {
    /// The orchestrator's directory: the default SQLite database lives in it.
    #[arg(long, env = "AQUEDUCTS_DATA_DIR", default_value = "./aqueducts-data", value_name = "DIR", global = true)]
    pub data_dir: PathBuf,

    /// The database: `sqlite://PATH` or `postgres://USER:PASSWORD@HOST/DB` (default: a
    /// SQLite file in the data directory).
    #[arg(long, env = "AQUEDUCTS_DATABASE", hide_env_values = true, value_name = "URL", global = true)]
    pub database: Option<String>,
}

impl Storage {
    /// The database URL, creating the data directory for the default SQLite file.
    pub fn database_url(&self) -> std::io::Result<String> {
        match &self.database {
            Some(url) => Ok(url.clone()),
            None => {
                std::fs::create_dir_all(&self.data_dir)?;
                Ok(crate::db::Db::sqlite_url(&std::fs::canonicalize(&self.data_dir)?))
            }
        }
    }
}

impl std::fmt::Debug for Storage {
    /// The database URL without its password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("data_dir", &self.data_dir)
            .field("database", &self.database.as_deref().map(crate::db::redact))
            .finish()
    }
}
