//! `aqueducts run`: check, lower and execute a pipeline on this machine.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use aqueducts_compiler::diagnostic::render;
use aqueducts_compiler::lower::lower;
use aqueducts_compiler::{Severity, check};
use aqueducts_runtime::{Event, RunSettings, execute};

use crate::{SpecArgs, UsageError, load};

pub async fn run(spec: &SpecArgs, max_memory: f64, quiet: bool) -> Result<ExitCode, UsageError> {
    let settings = RunSettings::from_gigabytes(max_memory).map_err(UsageError)?;
    let (file, options) = load(spec)?;
    let color = std::io::stderr().is_terminal();

    let report = check(&file, &options).await;
    let shown: Vec<_> = report.diagnostics.iter().filter(|d| d.severity != Severity::Advice).cloned().collect();
    if !shown.is_empty() {
        eprint!("{}", render(&shown, &file, color));
    }
    let Some(checked) = report.spec else {
        eprintln!("error: {} has errors; nothing was run", file.name);
        return Ok(ExitCode::from(1));
    };

    let ctx = match settings.session_context() {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("error: cannot set up the runtime: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let executable = match lower(&checked, &ctx, &options.base_dir).await {
        Ok(executable) => executable,
        Err(diagnostics) => {
            eprint!("{}", render(&diagnostics, &file, color));
            eprintln!("error: {} cannot run; nothing was written", file.name);
            return Ok(ExitCode::from(1));
        }
    };

    let mut on_event = move |event: Event| report_event(event, quiet);
    let run = execute(executable, &ctx, &mut on_event);
    // Ctrl-C drops the run: DataFusion's tasks stop with it, and the staged output is
    // removed, so the destination keeps its previous content.
    let outcome = tokio::select! {
        outcome = run => outcome,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted: the run was stopped and the destination left as it was");
            return Ok(ExitCode::from(1));
        }
    };
    match outcome {
        Ok(summary) => {
            if !quiet {
                eprintln!("done: {} in {}", plural_stages(summary.stages), seconds(summary.elapsed));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("error: {error}");
            if error.memory_limit {
                let limit = if max_memory > 0.0 {
                    format!("the limit of {max_memory} GB")
                } else {
                    "the memory available".into()
                };
                eprintln!(
                    "help: this stage needs more memory than {limit}; raise `--max-memory`, or reduce what the stage holds at once (fewer groups, a narrower join)"
                );
            }
            eprintln!("the destination was left as it was");
            Ok(ExitCode::from(1))
        }
    }
}

fn report_event(event: Event, quiet: bool) {
    match event {
        Event::StageOutput { text, .. } => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }
        _ if quiet => {}
        Event::StageStarted { stage } => eprintln!("stage `{stage}`: running"),
        Event::StageFinished { stage, rows, elapsed } => match rows {
            Some(rows) => eprintln!("stage `{stage}`: done, {rows} rows in {}", seconds(elapsed)),
            None => eprintln!("stage `{stage}`: done in {}", seconds(elapsed)),
        },
        Event::OutputWritten { path, rows, .. } => eprintln!("wrote {rows} rows to {path}"),
    }
}

fn plural_stages(n: usize) -> String {
    if n == 1 { "1 stage".into() } else { format!("{n} stages") }
}

fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) { format!("{} ms", d.as_millis()) } else { format!("{:.2} s", d.as_secs_f64()) }
}
