//! `aqueducts`: check, plan and run Aqueducts pipelines from the command line.
//!
//! Exit codes: 0 success, 1 the pipeline has errors or the run failed, 2 usage errors
//! (bad flags, unreadable spec file); see [`error::CliError`].

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use aqueducts_compiler::diagnostic::render;
use aqueducts_compiler::{CheckOptions, Severity, SourceFile, SpecFormat, check};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "aqueducts", version, about = "Compile and run declarative SQL data pipelines")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
        #[arg(long, value_name = "ADDRESS")]
        executor: Option<String>,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Cancel a queued or running execution on an executor.
    Cancel {
        /// The executor: HOST:PORT, or an http(s):// or ws(s):// URL.
        #[arg(long, value_name = "ADDRESS")]
        executor: String,
        /// The id `aqueducts run --executor` printed.
        #[arg(long, value_name = "ID")]
        execution_id: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Print the JSON schema of the pipeline format.
    Schema,
}

#[derive(clap::Args)]
struct RemoteArgs {
    /// The executor's API key (sent in the X-API-Key header).
    #[arg(long, env = "AQUEDUCTS_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Trust this PEM certificate for wss:// and https:// executors (e.g. a self-signed one).
    #[arg(long, value_name = "PEM")]
    ca_cert: Option<PathBuf>,
}

#[derive(clap::Args)]
struct SpecArgs {
    /// The pipeline spec: .yml/.yaml, .json or .toml.
    #[arg(short, long)]
    file: PathBuf,
    /// A template parameter, `name=value` (repeatable).
    #[arg(short = 'p', long = "param", visible_alias = "params", value_name = "NAME=VALUE", value_parser = parse_param)]
    params: Vec<(String, String)>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum PlanFormat {
    Text,
    Dot,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum OutputFormat {
    Human,
    Json,
}

/// Runs a command on a runtime worker thread, whose stack is `PLANNING_STACK`.
fn on_worker(
    runtime: &tokio::runtime::Runtime,
    command: impl std::future::Future<Output = CliResult> + Send + 'static,
) -> CliResult {
    match runtime.block_on(runtime.spawn(command)) {
        Ok(result) => result,
        Err(_) => {
            eprintln!("error: aqueducts failed internally; please report it with the spec that shows it");
            Err(CliError::Failed)
        }
    }
}

fn parse_param(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => Ok((name.trim().to_string(), value.to_string())),
        _ => Err(format!("`{raw}` is not `name=value`")),
    }
}

mod error;
mod graph;
mod progress;
mod remote;
mod run;

use error::{CliError, CliResult};

fn load(spec: &SpecArgs) -> CliResult<(SourceFile, CheckOptions)> {
    let path = &spec.file;
    let format = SpecFormat::from_path(path).ok_or_else(|| {
        CliError::Usage(format!(
            "cannot tell the format of `{}`: use the extension .yml, .yaml, .json or .toml",
            path.display()
        ))
    })?;
    let text =
        std::fs::read_to_string(path).map_err(|e| CliError::Usage(format!("cannot read `{}`: {e}", path.display())))?;
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

const PLANNING_STACK: usize = 256 * 1024 * 1024;

fn main() -> ExitCode {
    // Before any thread starts: it sets an environment variable.
    aqueducts_runtime::io::odbc::prepare_driver_config();
    let cli = Cli::parse();
    // Planning recurses over the query's expressions: give the threads that plan room
    // for the longest operator chains the compiler accepts.
    let runtime =
        match tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(PLANNING_STACK).build() {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("error: cannot start the async runtime: {e}");
                return ExitCode::from(1);
            }
        };
    let result = match cli.command {
        Command::Check { spec, format } => on_worker(&runtime, async move { run_check(&spec, format).await }),
        Command::Plan { spec, out, explain, format } => {
            on_worker(&runtime, async move { run::plan(&spec, out, explain, format).await })
        }
        Command::Run { file, params, plan, max_memory, quiet, executor, remote } => {
            let input = match (file, plan) {
                (Some(file), None) => Ok(run::Input::Spec(SpecArgs { file, params })),
                (None, Some(plan)) if params.is_empty() => Ok(run::Input::Plan(plan)),
                (None, Some(_)) => {
                    Err(CliError::Usage("--param applies to --file; a plan artifact is already compiled".into()))
                }
                _ => Err(CliError::Usage("give either --file or --plan".into())),
            };
            match (input, executor) {
                (Err(e), _) => Err(e),
                (Ok(_), Some(_)) if max_memory > 0.0 => Err(CliError::Usage(
                    "--max-memory limits local runs; an executor's memory is set with its own --max-memory".into(),
                )),
                (Ok(input), Some(executor)) => {
                    let executor = remote::ExecutorArgs { executor, api_key: remote.api_key, ca_cert: remote.ca_cert };
                    on_worker(&runtime, remote::run(input, executor, quiet))
                }
                (Ok(input), None) => {
                    if remote.api_key.is_some() && std::env::var_os("AQUEDUCTS_API_KEY").is_none() {
                        eprintln!("warning: --api-key is only used with --executor");
                    }
                    on_worker(&runtime, run::run(input, max_memory, quiet))
                }
            }
        }
        Command::Cancel { executor, execution_id, remote } => {
            let executor = remote::ExecutorArgs { executor, api_key: remote.api_key, ca_cert: remote.ca_cert };
            on_worker(&runtime, remote::cancel(executor, execution_id))
        }
        Command::Schema => {
            print!("{}", aqueducts_compiler::json_schema());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if let CliError::Usage(message) = &error {
                eprintln!("error: {message}");
            }
            error.exit_code()
        }
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

async fn run_check(spec: &SpecArgs, format: OutputFormat) -> CliResult {
    let (file, options) = load(spec)?;
    let report = check(&file, &options).await;
    let errors = report.count(Severity::Error);
    let warnings = report.count(Severity::Warning);
    match format {
        OutputFormat::Json => {
            let out = serde_json::json!({
                "file": file.name,
                "valid": errors == 0,
                "errors": errors,
                "warnings": warnings,
                "diagnostics": report.diagnostics.iter().map(|d| d.to_json(&file)).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        }
        OutputFormat::Human => {
            if !report.diagnostics.is_empty() {
                eprint!("{}", render(&report.diagnostics, &file, std::io::stderr().is_terminal()));
            }
            let warn = match warnings {
                0 => String::new(),
                1 => ", 1 warning".to_string(),
                n => format!(", {n} warnings"),
            };
            match &report.spec {
                Some(spec) if errors == 0 => {
                    let p = &spec.pipeline;
                    let destination = match &p.destination {
                        Some(d) => format!("destination `{}`", d.name().value),
                        None => "no destination".to_string(),
                    };
                    println!(
                        "ok: {} is valid ({}, {}, {destination}{warn})",
                        file.name,
                        plural(p.sources.len(), "source"),
                        plural(p.stages.len(), "stage")
                    );
                }
                _ => {
                    let plural = if errors == 1 { "" } else { "s" };
                    eprintln!("error: {} has {errors} error{plural}{warn}", file.name);
                }
            }
        }
    }
    if errors == 0 { Ok(()) } else { Err(CliError::Failed) }
}
