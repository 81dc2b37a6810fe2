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
    /// How the executor is deployed: `standalone` serves CLIs that connect to it;
    /// `managed` dials out to an orchestrator (`--orchestrator-url`) and runs what it assigns.
    #[arg(long, env = "EXECUTOR_MODE", default_value = "standalone", value_parser = parse_mode)]
    pub mode: Mode,

    /// Managed mode: the orchestrator's executor route, `ws://HOST:PORT/ws/executor/register`
    /// (or `wss://` for TLS).
    #[arg(long, env = "ORCHESTRATOR_URL", value_name = "URL")]
    pub orchestrator_url: Option<String>,

    /// Managed mode: a label the orchestrator matches runs' selectors against (repeat
    /// the option, or separate them with commas in the environment variable).
    #[arg(long = "label", env = "AQUEDUCTS_LABELS", value_delimiter = ',', value_parser = parse_label, value_name = "KEY=VALUE")]
    pub labels: Vec<(String, String)>,

    /// Managed mode: a certificate (PEM) to trust for a `wss://` orchestrator beyond the
    /// usual roots (a private or self-signed one).
    #[arg(long, env = "AQUEDUCTS_CA_CERT", value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,

    /// Managed mode: where run reports wait on disk while the orchestrator is unreachable
    /// and memory holds too many (default: a directory under the system's temporary one).
    #[arg(long, env = "AQUEDUCTS_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Standalone: the key clients send in the `X-API-Key` header. Managed: the
    /// orchestrator's executor key, which this executor presents.
    #[arg(long, env = "AQUEDUCTS_API_KEY", hide_env_values = true, value_parser = parse_api_key)]
    pub api_key: String,

    /// The address to listen on: an IP address or a host name.
    #[arg(long, env = "AQUEDUCTS_HOST", default_value = "0.0.0.0")]
    pub host: String,

    /// The port to listen on (0 picks a free one, logged at start). Default 3031 in
    /// standalone mode; a managed executor listens only when given one, for `/api/health`.
    #[arg(long, env = "AQUEDUCTS_PORT")]
    pub port: Option<u16>,

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
    Managed,
}

fn parse_mode(value: &str) -> Result<Mode, String> {
    match value {
        "standalone" => Ok(Mode::Standalone),
        "managed" => Ok(Mode::Managed),
        other => Err(format!("`{other}` is not a mode; use `standalone` or `managed`")),
    }
}

/// The port a standalone executor listens on by default.
pub const DEFAULT_PORT: u16 = 3031;

fn parse_label(value: &str) -> Result<(String, String), String> {
    let (key, label) = value
        .split_once('=')
        .ok_or_else(|| format!("`{value}` is not a label: write KEY=VALUE, for example `pool=eu`"))?;
    let (key, label) = (key.trim(), label.trim());
    for part in [key, label] {
        if !aqueducts_protocol::managed::is_plain_name(part) {
            return Err(format!(
                "`{value}` is not a label: keys and values are 1 to 128 letters, digits, `.`, `_` or `-`"
            ));
        }
    }
    Ok((key.to_string(), label.to_string()))
}

impl Options {
    /// What clap cannot say about combinations of options; the message is for the user.
    pub fn validate(&self) -> Result<(), String> {
        match self.mode {
            Mode::Managed => {
                let url = self.orchestrator_url.as_deref().ok_or(
                    "--mode managed needs --orchestrator-url (or ORCHESTRATOR_URL): the address of the orchestrator's /ws/executor/register",
                )?;
                if !(url.starts_with("ws://") || url.starts_with("wss://")) {
                    return Err(format!(
                        "--orchestrator-url `{url}` must start with ws:// or wss://, for example ws://orchestrator:3000/ws/executor/register"
                    ));
                }
                if self.ca_cert.is_some() && url.starts_with("ws://") {
                    return Err(format!(
                        "--ca-cert is for TLS, but `{url}` is not encrypted: use wss:// (the key would travel in clear text)"
                    ));
                }
                if self.labels.len() > aqueducts_protocol::managed::MAX_LABELS {
                    return Err(format!("at most {} labels", aqueducts_protocol::managed::MAX_LABELS));
                }
                if let Some(id) = &self.executor_id
                    && !aqueducts_protocol::managed::is_plain_name(id)
                {
                    return Err(format!(
                        "--executor-id `{id}`: a managed executor's id is 1 to 128 letters, digits, `.`, `_` or `-`"
                    ));
                }
                Ok(())
            }
            Mode::Standalone => {
                let managed_only = [
                    ("--orchestrator-url", self.orchestrator_url.is_some()),
                    ("--label", !self.labels.is_empty()),
                    ("--ca-cert", self.ca_cert.is_some()),
                    ("--state-dir", self.state_dir.is_some()),
                ];
                match managed_only.iter().find(|(_, given)| *given) {
                    Some((flag, _)) => Err(format!(
                        "{flag} is only for --mode managed; a standalone executor serves the CLIs that connect to it"
                    )),
                    None => Ok(()),
                }
            }
        }
    }

    /// The port to listen on, if any.
    pub fn listen_port(&self) -> Option<u16> {
        match self.mode {
            Mode::Standalone => Some(self.port.unwrap_or(DEFAULT_PORT)),
            Mode::Managed => self.port,
        }
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
            .field("orchestrator_url", &self.orchestrator_url.as_deref().map(without_userinfo))
            .field("labels", &self.labels)
            .field("ca_cert", &self.ca_cert)
            .field("state_dir", &self.state_dir)
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

/// A URL without the user and password it may carry.
pub fn without_userinfo(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn parse(args: &[&str]) -> Options {
        let mut all = vec!["aqueducts-executor", "--api-key", "0123456789abcdef"];
        all.extend_from_slice(args);
        Options::try_parse_from(all).unwrap()
    }

    #[test]
    fn managed_mode_needs_an_orchestrator() {
        let managed = parse(&["--mode", "managed"]);
        assert!(managed.validate().unwrap_err().contains("--mode managed needs --orchestrator-url"));
        let standalone = parse(&["--orchestrator-url", "ws://o:3000/ws/executor/register"]);
        assert!(standalone.validate().unwrap_err().contains("--orchestrator-url is only for --mode managed"));
        let ok = parse(&["--mode", "managed", "--orchestrator-url", "ws://o:3000/ws/executor/register"]);
        assert_eq!(ok.validate(), Ok(()));
        assert_eq!(ok.listen_port(), None);
        assert_eq!(parse(&[]).listen_port(), Some(DEFAULT_PORT));
        let http = parse(&["--mode", "managed", "--orchestrator-url", "http://o:3000"]);
        assert!(http.validate().unwrap_err().contains("must start with ws:// or wss://"));
    }

    #[test]
    fn labels_are_key_value_pairs() {
        let options = parse(&["--label", "pool=eu", "--label", "gpu=no"]);
        assert_eq!(options.labels, vec![("pool".into(), "eu".into()), ("gpu".into(), "no".into())]);
        assert!(Options::try_parse_from(["x", "--api-key", "0123456789abcdef", "--label", "pool"]).is_err());
        assert!(Options::try_parse_from(["x", "--api-key", "0123456789abcdef", "--label", "a b=c"]).is_err());
    }

    #[test]
    fn urls_are_logged_without_passwords() {
        assert_eq!(without_userinfo("wss://user:secret@o:3000/ws"), "wss://***@o:3000/ws");
        assert_eq!(without_userinfo("ws://o:3000/ws/executor/register"), "ws://o:3000/ws/executor/register");
    }
}
