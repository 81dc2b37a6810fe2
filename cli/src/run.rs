//! `aqueducts plan` and `aqueducts run`: compile a pipeline to a plan artifact, and
//! execute artifacts on this machine.
//!
//! `run --file` compiles and then runs the artifact it just encoded, exactly as
//! `run --plan` would: both paths decode the same bytes, so their outputs are identical,
//! and a stage that cannot be stored in an artifact is found before anything runs.

use std::io::IsTerminal;
use std::path::PathBuf;

use aqueducts_compiler::diagnostic::{Diagnostic, render};
use aqueducts_compiler::lower::{explain, lower};
use aqueducts_compiler::sql::compile_context;
use aqueducts_compiler::{Severity, SourceFile, Spec, check};
use aqueducts_runtime::io::odbc::Describer;
use aqueducts_runtime::{Event, RunSettings, RunSummary, artifact, execute_until};
use object_store::ObjectStore;
use std::sync::Arc;

use crate::progress::{Mode, Progress, plural, seconds};
use datafusion::physical_plan::displayable;
use datafusion::prelude::SessionContext;

use crate::args::{PlanFormat, SpecArgs};
use crate::error::{CliError, CliResult};

pub enum Input {
    Spec(SpecArgs),
    Plan(PathBuf),
}

/// Where a compiled pipeline will run, which decides what its paths mean.
pub enum Target {
    /// This machine: relative paths resolve against the working directory.
    Local,
    /// An executor: relative paths resolve against its working directory, and local
    /// paths are read (listings, schemas) through it.
    Executor {
        working_directory: PathBuf,
        files: Arc<dyn ObjectStore>,
        /// Describes ODBC queries on the executor.
        describer: Arc<dyn Describer>,
    },
}

/// A spec checked and ready to lower, or the reason it is not (already printed).
async fn checked(spec: &SpecArgs, target: &Target) -> CliResult<(SourceFile, Spec, PathBuf)> {
    let (file, mut options) = spec.load()?;
    if let Target::Executor { working_directory, files, describer } = target {
        options.base_dir = working_directory.clone();
        options.file_store = Some(files.clone());
        options.odbc_describer = describer.clone();
    }
    let report = check(&file, &options).await;
    let shown: Vec<Diagnostic> =
        report.diagnostics.iter().filter(|d| d.severity != Severity::Advice).cloned().collect();
    if !shown.is_empty() {
        eprint!("{}", render(&shown, &file, std::io::stderr().is_terminal()));
    }
    match report.spec {
        Some(spec) => Ok((file, spec, options.base_dir)),
        None => {
            eprintln!("error: {} has errors", file.name);
            Err(CliError::Failed)
        }
    }
}

/// Compiles a spec to artifact bytes, reporting problems located in the spec. `ctx`
/// reads local paths from where the plan will run (see [`Target`]).
pub async fn compile(spec: &SpecArgs, ctx: &SessionContext, target: &Target) -> CliResult<Vec<u8>> {
    let (file, checked, base_dir) = checked(spec, target).await?;
    let color = std::io::stderr().is_terminal();
    let executable = match lower(&checked, ctx, &base_dir).await {
        Ok(executable) => executable,
        Err(diagnostics) => {
            eprint!("{}", render(&diagnostics, &file, color));
            eprintln!("error: {} cannot be compiled", file.name);
            return Err(CliError::Failed);
        }
    };
    match artifact::encode(&executable) {
        Ok(bytes) => Ok(bytes),
        Err(error) => {
            let mut diagnostic = Diagnostic::error(aqueducts_compiler::Code::Unsupported, error.to_string()).help(
                "rewrite the query without that construct (for example a recursive CTE), or split it into stages",
            );
            if let artifact::ArtifactError::Unserializable { stage, .. } = &error
                && let Some(s) = checked.pipeline.stages.iter().find(|s| &s.name.value == stage)
            {
                diagnostic =
                    diagnostic.label(s.query.span.clone(), "this query cannot be compiled into a plan artifact");
            }
            eprint!("{}", render(&[diagnostic], &file, color));
            Err(CliError::Failed)
        }
    }
}

pub async fn plan(spec: &SpecArgs, out: Option<PathBuf>, explain_plan: bool, format: PlanFormat) -> CliResult {
    if out.is_none() && !explain_plan && format == PlanFormat::Text {
        return Err(CliError::Usage(
            "say what to do: `--out PLAN` writes the artifact, `--explain` prints the plans, `--format dot` the graph"
                .into(),
        ));
    }
    let ctx = compile_context(&RunSettings::default()).map_err(|e| CliError::Usage(e.to_string()))?;
    if format == PlanFormat::Dot {
        let (_, checked, _) = checked(spec, &Target::Local).await?;
        print!("{}", crate::graph::dot(&checked));
    } else if explain_plan {
        let (file, checked, base_dir) = checked(spec, &Target::Local).await?;
        print!("{}", crate::graph::text(&checked));
        match explain(&checked, &ctx, &base_dir).await {
            Ok(plans) => {
                for (name, plan) in plans {
                    println!("\nstage `{name}`:\n{}", displayable(plan.as_ref()).indent(true));
                }
            }
            Err(diagnostics) => {
                eprint!("{}", render(&diagnostics, &file, std::io::stderr().is_terminal()));
                return Err(CliError::Failed);
            }
        }
    }
    if let Some(out) = out {
        let bytes = compile(spec, &ctx, &Target::Local).await?;
        let partial = out.with_extension("partial");
        let written = std::fs::write(&partial, &bytes).and_then(|()| std::fs::rename(&partial, &out));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&partial);
            return Err(CliError::Usage(format!("cannot write `{}`: {e}", out.display())));
        }
        eprintln!("wrote {} ({} bytes)", out.display(), bytes.len());
    }
    Ok(())
}

pub async fn run(input: Input, max_memory: f64, quiet: bool) -> CliResult {
    let settings = RunSettings::from_gigabytes(max_memory).map_err(|e| CliError::Usage(e.to_string()))?;
    // Compiles and runs: the compiling session is the running one with the SQL front
    // end's rules added.
    let ctx = match compile_context(&settings) {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("error: cannot set up the runtime: {e}");
            return Err(CliError::Failed);
        }
    };
    let bytes = match input {
        Input::Spec(spec) => compile(&spec, &ctx, &Target::Local).await?,
        Input::Plan(path) => {
            std::fs::read(&path).map_err(|e| CliError::Usage(format!("cannot read `{}`: {e}", path.display())))?
        }
    };
    let executable = match artifact::decode(&bytes, &ctx.task_ctx()) {
        Ok(executable) => executable,
        Err(error) => {
            eprintln!("error: {error}");
            return Err(CliError::Failed);
        }
    };

    let progress = std::sync::Arc::new(std::sync::Mutex::new(Progress::new(progress_mode(quiet))));
    let events = progress.clone();
    let mut on_event = move |event: Event| {
        if let Ok(mut progress) = events.lock() {
            progress.on_event(event);
        }
    };
    // Ctrl-C stops the run: DataFusion's tasks stop, and the staged output is removed,
    // so the destination keeps its previous content; once the destination is being
    // replaced, the replacement finishes first.
    let interrupted = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let outcome = execute_until(executable, &ctx, &mut on_event, interrupted).await;
    if matches!(&outcome, Err(error) if error.cancelled) {
        eprintln!("interrupted: the run was stopped and the destination left as it was");
        return Err(CliError::Failed);
    }
    if let Ok(mut progress) = progress.lock() {
        progress.finish();
    }
    match outcome {
        Ok(summary) => report_success(&summary, quiet),
        Err(error) => {
            let limit =
                if max_memory > 0.0 { format!("the limit of {max_memory} GB") } else { "the memory available".into() };
            report_failure(&error.to_string(), error.memory_limit, error.destination_changed, &limit)
        }
    }
}

/// Live on a terminal, lines otherwise, nothing with `--quiet`.
pub fn progress_mode(quiet: bool) -> Mode {
    if quiet {
        Mode::Quiet
    } else if std::io::stderr().is_terminal() {
        Mode::Live
    } else {
        Mode::Lines
    }
}

pub fn report_success(summary: &RunSummary, quiet: bool) -> CliResult {
    if !quiet {
        eprintln!("done: {} in {}", plural(summary.stages, "stage"), seconds(summary.elapsed));
    }
    Ok(())
}

/// Prints a failed run; `limit` names the memory limit that applied.
pub fn report_failure(message: &str, memory_limit: bool, destination_changed: bool, limit: &str) -> CliResult {
    eprintln!("error: {message}");
    if memory_limit {
        eprintln!(
            "help: this stage needs more memory than {limit}; raise `--max-memory`, or reduce what the stage holds at once (fewer groups, a narrower join)"
        );
    }
    if destination_changed {
        eprintln!(
            "the destination holds part of the new output: some of its objects were replaced before the failure; run again to replace it whole"
        );
    } else {
        eprintln!("the destination was left as it was");
    }
    Err(CliError::Failed)
}
