//! Command-line options, each also read from its environment variable (the command line
//! wins).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "aqueducts-orchestrator",
    version,
    about = "Queues, schedules and records Aqueducts runs on managed executors",
    after_help = "Every option can also be set with the environment variable shown; the command line wins."
)]
pub struct Options {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// User API keys with a role (`viewer` reads, `operator` also runs and deploys).
    Keys {
        #[command(flatten)]
        storage: Storage,
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
