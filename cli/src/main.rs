//! `aqueducts`: check, plan and run Aqueducts pipelines from the command line.
//!
//! Exit codes: 0 success, 1 the pipeline has errors or the run failed, 2 usage errors
//! (bad flags, unreadable spec file); see [`error::CliError`].

use std::io::IsTerminal;
use std::process::ExitCode;

use aqueducts_compiler::diagnostic::render;
use aqueducts_compiler::{Severity, check};
use clap::Parser;

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

mod args;
mod error;
mod graph;
mod orchestrator;
mod progress;
mod remote;
mod run;

use args::{Cli, Command, OutputFormat, SpecArgs};
use error::{CliError, CliResult};
use progress::plural;

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
        Command::Run { file, params, plan, max_memory, quiet, executor, orchestrator, labels, remote } => {
            let input = match (file, plan) {
                (Some(file), None) => Ok(run::Input::Spec(SpecArgs { file, params })),
                (None, Some(plan)) if params.is_empty() => Ok(run::Input::Plan(plan)),
                (None, Some(_)) => {
                    Err(CliError::Usage("--param applies to --file; a plan artifact is already compiled".into()))
                }
                _ => Err(CliError::Usage("give either --file or --plan".into())),
            };
            let remote_run = executor.is_some() || orchestrator.is_some();
            match (input, executor) {
                (Err(e), _) => Err(e),
                (Ok(_), _) if max_memory > 0.0 && remote_run => Err(CliError::Usage(
                    "--max-memory limits local runs; an executor's memory is set with its own --max-memory".into(),
                )),
                (Ok(input), None) if orchestrator.is_some() => {
                    let target = orchestrator::OrchestratorArgs {
                        orchestrator: orchestrator.unwrap_or_default(),
                        api_key: remote.api_key,
                        ca_cert: remote.ca_cert,
                    };
                    on_worker(&runtime, orchestrator::run(input, target, labels, quiet))
                }
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
        Command::Cancel { executor, orchestrator, execution_id, remote } => match (executor, orchestrator) {
            (Some(executor), _) => {
                let executor = remote::ExecutorArgs { executor, api_key: remote.api_key, ca_cert: remote.ca_cert };
                on_worker(&runtime, remote::cancel(executor, execution_id))
            }
            (None, orchestrator) => {
                let target = orchestrator::OrchestratorArgs {
                    orchestrator: orchestrator.unwrap_or_default(),
                    api_key: remote.api_key,
                    ca_cert: remote.ca_cert,
                };
                on_worker(&runtime, orchestrator::cancel(target, execution_id))
            }
        },
        Command::Deploy {
            spec,
            name,
            orchestrator,
            labels,
            retries,
            max_concurrent,
            schedules,
            timezone,
            no_catch_up,
            trigger_files,
            trigger_interval,
            trigger_param,
            remote,
        } => {
            let target =
                orchestrator::OrchestratorArgs { orchestrator, api_key: remote.api_key, ca_cert: remote.ca_cert };
            let settings = orchestrator::DeploySettings {
                name,
                labels,
                retries,
                max_concurrent,
                schedules,
                timezone,
                catch_up: !no_catch_up,
                file_trigger: trigger_files.map(|location| aqueducts_protocol::api::FileTriggerSpec {
                    location,
                    interval_seconds: trigger_interval,
                    param: trigger_param,
                    storage_config: Default::default(),
                    include_existing: false,
                }),
            };
            on_worker(&runtime, orchestrator::deploy(spec, target, settings))
        }
        Command::Runs { command, pipeline, state, limit, orchestrator, api_key, ca_cert } => match orchestrator {
            None => Err(CliError::Usage(
                "`runs` needs --orchestrator (or AQUEDUCTS_ORCHESTRATOR): the orchestrator's address".into(),
            )),
            Some(orchestrator) => {
                let target = orchestrator::OrchestratorArgs { orchestrator, api_key, ca_cert };
                match command {
                    Some(args::RunsCommand::Show { id }) => on_worker(&runtime, orchestrator::show_run(target, id)),
                    None => on_worker(&runtime, orchestrator::list(target, pipeline, state, limit)),
                }
            }
        },
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

async fn run_check(spec: &SpecArgs, format: OutputFormat) -> CliResult {
    let (file, options) = spec.load()?;
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
