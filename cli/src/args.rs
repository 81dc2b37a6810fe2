//! The command line as clap reads it, and the spec file an argument names.

use std::collections::BTreeMap;
use std::path::PathBuf;

use aqueducts_compiler::{CheckOptions, SourceFile, SpecFormat};
use clap::{Parser, Subcommand, ValueEnum};

use crate::error::{CliError, CliResult};

#[derive(Parser)]
#[command(name = "aqueducts", version, about = "Compile and run declarative SQL data pipelines")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Validate a pipeline spec and report every problem with its location.
    Check {
        #[command(flatten)]
        spec: SpecArgs,
        /// Output format for diagnostics.
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        format: OutputFormat,
    },
    /// Compile a pipeline into a plan artifact, or show what it compiles to.
    Plan {
        #[command(flatten)]
        spec: SpecArgs,
        /// Write the compiled plan artifact here (run it with `aqueducts run --plan`).
        #[arg(long, value_name = "PLAN")]
        out: Option<PathBuf>,
        /// Print the stage graph and every stage's physical plan.
        #[arg(long)]
        explain: bool,
        /// With `--explain`: `text` (default) or `dot` (the stage graph as Graphviz).
        #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
    },
    /// Check, compile and run a pipeline locally, or run a plan artifact.
    Run {
        /// The pipeline spec: .yml/.yaml, .json or .toml.
        #[arg(short, long, required_unless_present = "plan", conflicts_with = "plan")]
        file: Option<PathBuf>,
        /// A template parameter, `name=value` (repeatable).
        #[arg(short = 'p', long = "param", visible_alias = "params", value_name = "NAME=VALUE", value_parser = parse_param)]
        params: Vec<(String, String)>,
        /// A plan artifact written by `aqueducts plan --out`.
        #[arg(long, value_name = "PLAN")]
        plan: Option<PathBuf>,
        /// Memory limit in GB for the whole run (decimals allowed; 0 = unlimited). Sorts,
        /// aggregates and joins spill to disk to stay under it.
        #[arg(long, value_name = "GB", default_value_t = 0.0)]
        max_memory: f64,
        /// Print only what stages ask to show, and errors.
        #[arg(short, long)]
        quiet: bool,
        /// Run on this executor instead of here: HOST:PORT, or an http(s):// or ws(s):// URL.
        #[arg(long, value_name = "ADDRESS", conflicts_with = "orchestrator")]
        executor: Option<String>,
        /// Run through this orchestrator, on one of its executors: HOST:PORT or an
        /// http(s):// URL.
        #[arg(long, value_name = "URL")]
        orchestrator: Option<String>,
        /// With --orchestrator: a label the executor must carry, `key=value` (repeatable).
        #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_param, requires = "orchestrator")]
        labels: Vec<(String, String)>,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Cancel a queued or running execution on an executor, or a run of an orchestrator.
    #[command(group(clap::ArgGroup::new("target").required(true).args(["executor", "orchestrator"])))]
    Cancel {
        /// The executor: HOST:PORT, or an http(s):// or ws(s):// URL.
        #[arg(long, value_name = "ADDRESS")]
        executor: Option<String>,
        /// The orchestrator: HOST:PORT or an http(s):// URL.
        #[arg(long, value_name = "URL")]
        orchestrator: Option<String>,
        /// The id `aqueducts run --executor` or `--orchestrator` printed.
        #[arg(long, value_name = "ID")]
        execution_id: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Deploy a pipeline to an orchestrator as a new version of NAME, after checking it
    /// on one of its executors.
    Deploy {
        #[command(flatten)]
        spec: SpecArgs,
        /// The pipeline's name (letters, digits, `.`, `_`, `-`).
        #[arg(long)]
        name: String,
        /// The orchestrator: HOST:PORT or an http(s):// URL.
        #[arg(long, value_name = "URL")]
        orchestrator: String,
        /// A label the executors of its runs must carry, `key=value` (repeatable).
        #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_param)]
        labels: Vec<(String, String)>,
        /// Tries on another executor when an executor is lost.
        #[arg(long, default_value_t = 0)]
        retries: u32,
        /// Runs of it at once, at most.
        #[arg(long, default_value_t = 1)]
        max_concurrent: u32,
        /// Run it on this cron schedule: 5 fields (minute hour day month weekday), or 6
        /// with seconds first (repeatable).
        #[arg(long = "schedule", value_name = "CRON")]
        schedules: Vec<String>,
        /// The time zone of the schedules (an IANA name).
        #[arg(long, default_value = "UTC", value_name = "ZONE")]
        timezone: String,
        /// Skip ticks missed while the orchestrator was down, instead of running once.
        #[arg(long)]
        no_catch_up: bool,
        /// Run it once for every new file under this location (a directory of the
        /// orchestrator, or an object store prefix such as s3://bucket/incoming/).
        #[arg(long, value_name = "LOCATION")]
        trigger_files: Option<String>,
        /// How often the orchestrator looks at --trigger-files, in seconds.
        #[arg(long, default_value_t = 10, value_name = "SECONDS", requires = "trigger_files")]
        trigger_interval: u64,
        /// The parameter that receives a new file's path.
        #[arg(long, default_value = "path", value_name = "NAME", requires = "trigger_files")]
        trigger_param: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// The run history of an orchestrator, newest first; `runs show ID` for one run.
    Runs {
        #[command(subcommand)]
        command: Option<RunsCommand>,
        /// Only runs of this deployed pipeline.
        #[arg(long)]
        pipeline: Option<String>,
        /// Only runs in this state: queued, assigned, running, succeeded, failed,
        /// cancelled or lost.
        #[arg(long)]
        state: Option<String>,
        /// At most this many runs (up to 500).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// The orchestrator: HOST:PORT or an http(s):// URL.
        #[arg(long, value_name = "URL", env = "AQUEDUCTS_ORCHESTRATOR", global = true)]
        orchestrator: Option<String>,
        /// A key of the orchestrator (sent in the X-API-Key header).
        #[arg(long, env = "AQUEDUCTS_API_KEY", hide_env_values = true, global = true)]
        api_key: Option<String>,
        /// Trust this PEM certificate for an https:// orchestrator.
        #[arg(long, value_name = "PEM", global = true)]
        ca_cert: Option<PathBuf>,
    },
    /// Print the JSON schema of the pipeline format.
    Schema,
}

#[derive(clap::Subcommand)]
pub enum RunsCommand {
    /// One run: its state, executor, outcome and events.
    Show {
        /// The run's id.
        id: String,
    },
}

#[derive(clap::Args)]
pub struct RemoteArgs {
    /// The executor's or orchestrator's API key (sent in the X-API-Key header).
    #[arg(long, env = "AQUEDUCTS_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Trust this PEM certificate for wss:// and https:// executors and orchestrators
    /// (e.g. a self-signed one).
    #[arg(long, value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct SpecArgs {
    /// The pipeline spec: .yml/.yaml, .json or .toml.
    #[arg(short, long)]
    pub file: PathBuf,
    /// A template parameter, `name=value` (repeatable).
    #[arg(short = 'p', long = "param", visible_alias = "params", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum PlanFormat {
    Text,
    Dot,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OutputFormat {
    Human,
    Json,
}

fn parse_param(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => Ok((name.trim().to_string(), value.to_string())),
        _ => Err(format!("`{raw}` is not `name=value`")),
    }
}

impl SpecArgs {
    /// The spec file and the options to check it with (its parameters, the working
    /// directory); a file that cannot be read is a usage error.
    pub fn load(&self) -> CliResult<(SourceFile, CheckOptions)> {
        let spec = self;
        let path = &spec.file;
        let format = SpecFormat::from_path(path).ok_or_else(|| {
            CliError::Usage(format!(
                "cannot tell the format of `{}`: use the extension .yml, .yaml, .json or .toml",
                path.display()
            ))
        })?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::Usage(format!("cannot read `{}`: {e}", path.display())))?;
        let mut file = SourceFile::new(path.display().to_string(), text, format);
        file.path = Some(path.clone());
        let mut params = BTreeMap::new();
        for (name, value) in &spec.params {
            params.insert(name.clone(), value.clone());
        }
        let base_dir =
            std::env::current_dir().map_err(|e| CliError::Usage(format!("cannot read the working directory: {e}")))?;
        Ok((file, CheckOptions::new(params, base_dir)))
    }
}
