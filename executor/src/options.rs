//! Command-line options, each also read from its environment variable (the command line
//! wins).

use std::path::PathBuf;

use clap::Parser;

#[derive(Parser, Clone)]
#[command(
    name = "aqueducts-executor",
    version,
    about = "Runs Aqueducts plan artifacts sent by `aqueducts run --executor`, one at a time",
    after_help = "Every option can also be set with the environment variable shown; the command line wins."
)]
pub struct Options {
    /// How the executor is deployed; only `standalone` exists so far.
    #[arg(long, env = "EXECUTOR_MODE", default_value = "standalone", value_parser = parse_mode)]
    pub mode: Mode,

    /// The key clients send in the `X-API-Key` header.
    #[arg(long, env = "AQUEDUCTS_API_KEY", hide_env_values = true, value_parser = parse_api_key)]
    pub api_key: String,

    /// The address to listen on: an IP address or a host name.
    #[arg(long, env = "AQUEDUCTS_HOST", default_value = "0.0.0.0")]
    pub host: String,

    /// The port to listen on (0 picks a free one, logged at start).
    #[arg(long, env = "AQUEDUCTS_PORT", default_value_t = 3031)]
    pub port: u16,

    /// The memory pool of each run, in GB (decimals allowed; 0 is unlimited).
    #[arg(long, env = "AQUEDUCTS_MAX_MEMORY", default_value_t = 0.0, value_name = "GB")]
    pub max_memory: f64,

    /// The executor's name in health replies and logs (default: generated).
    #[arg(long, env = "AQUEDUCTS_EXECUTOR_ID")]
    pub executor_id: Option<String>,

    /// How much to log.
    #[arg(long, env = "AQUEDUCTS_LOG_LEVEL", default_value = "info", value_parser = ["info", "debug", "trace"])]
    pub log_level: String,

    /// Only plans that read and write under these prefixes run (paths or URLs; repeat
    /// the option, or separate them with commas in the environment variable; `odbc://`
    /// for databases). Default: only the data directory. `*` allows every location.
    #[arg(long = "allow-location", env = "AQUEDUCTS_ALLOW_LOCATIONS", value_delimiter = ',', value_name = "PREFIX")]
    pub allow_locations: Vec<String>,

    /// The directory plans may read and write when no `--allow-location` is given, and
    /// the one relative locations of specs compiled for this executor resolve against.
    /// Default: the working directory.
    #[arg(long, env = "AQUEDUCTS_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Let database writes run the spec's own SQL (`pre_insert`, `insert`): a key holder
    /// can then run any statement the database user may.
    #[arg(long, env = "AQUEDUCTS_ALLOW_CUSTOM_SQL", value_parser = clap::builder::BoolishValueParser::new(), default_value_t = false, num_args = 0, default_missing_value = "true")]
    pub allow_custom_sql: bool,

    /// Runs allowed to wait behind the running one; more are refused as busy.
    #[arg(long, env = "AQUEDUCTS_MAX_QUEUE", default_value_t = 16)]
    pub max_queue: usize,

    /// Serve HTTPS and WSS with this certificate chain (PEM); needs `--tls-key`.
    #[arg(long, env = "AQUEDUCTS_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of `--tls-cert` (PEM).
    #[arg(long, env = "AQUEDUCTS_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Client connections served at once; more are refused (503) until one closes.
    #[arg(long, env = "AQUEDUCTS_MAX_CONNECTIONS", default_value_t = 64)]
    pub max_connections: usize,

    /// Stop a run that takes longer than this many seconds (0: no limit).
    #[arg(long, env = "AQUEDUCTS_MAX_RUN_DURATION", default_value_t = 0, value_name = "SECONDS")]
    pub max_run_duration: u64,

    /// Messages larger than this are refused (an artifact is one message).
    #[arg(long, env = "AQUEDUCTS_MAX_MESSAGE_MB", default_value_t = 256, value_name = "MB")]
    pub max_message_mb: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Standalone,
}

fn parse_mode(value: &str) -> Result<Mode, String> {
    match value {
        "standalone" => Ok(Mode::Standalone),
        "managed" => Err("managed mode is not available yet; use `standalone`".into()),
        other => Err(format!("`{other}` is not a mode; the executor runs in `standalone` mode")),
    }
}

/// Shorter keys are refused: a key is all that stands between a stranger and the data.
pub const MIN_KEY_LENGTH: usize = 16;

fn parse_api_key(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        return Err("the API key must not be empty".into());
    }
    if value.trim() != value {
        return Err("the API key starts or ends with whitespace (a newline from a secret file?); remove it".into());
    }
    if value.chars().count() < MIN_KEY_LENGTH {
        return Err(format!(
            "the API key has {} characters; use at least {MIN_KEY_LENGTH}, random (for example `openssl rand -hex 16`)",
            value.chars().count()
        ));
    }
    Ok(value.to_string())
}

impl std::fmt::Debug for Options {
    /// Everything but the API key, for the start-up log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("mode", &self.mode)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("max_memory", &self.max_memory)
            .field("executor_id", &self.executor_id)
            .field("log_level", &self.log_level)
            .field("allow_locations", &self.allow_locations)
            .field("data_dir", &self.data_dir)
            .field("allow_custom_sql", &self.allow_custom_sql)
            .field("max_queue", &self.max_queue)
            .field("tls", &self.tls_cert.is_some())
            .field("max_message_mb", &self.max_message_mb)
            .field("max_connections", &self.max_connections)
            .field("max_run_duration", &self.max_run_duration)
            .finish_non_exhaustive()
    }
}
