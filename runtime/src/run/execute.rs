//! Running the stages of a lowered pipeline and reporting what happens.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{Array, UInt64Array};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::error::DataFusionError;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::physical_plan::execution_plan::reset_plan_states;
use datafusion::physical_plan::{ExecutionPlan, displayable, execute_stream};
use datafusion::prelude::SessionContext;
use futures::StreamExt;

use datafusion::physical_plan::ExecutionPlanProperties;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::display::DisplayableExecutionPlan;
use datafusion::physical_plan::limit::GlobalLimitExec;

use aqueducts_protocol::{Event, RunSummary};

use super::outcome::RunError;
use crate::io::delta::sink::HeldDeltaWrites;
use crate::io::odbc::transactions::HeldTransactions;
use crate::output::repoint::stage_write;
use crate::output::staged::Staged;
use crate::output::write::Write;
use crate::pipeline::{ExecutablePipeline, StagePlans};
use crate::shared::batch_log::BatchLog;
use crate::shared::read_ahead::with_read_ahead;
use crate::shared::results;
use crate::shared::scan::count_reads;

/// Runs every stage, all at once. A stage read by several stages is computed once and
/// streamed to its readers as it goes ([`crate::shared`]); every other stage's plan
/// contains the stages it reads. Everything runs under one memory pool; a stage's
/// printed output is delivered whole, so outputs never interleave. On failure the other
/// stages are stopped and every destination keeps its previous content: staged output is
/// dropped, never committed.
pub async fn execute(
    pipeline: ExecutablePipeline,
    ctx: &SessionContext,
    on_event: &mut (dyn FnMut(Event) + Send),
) -> Result<RunSummary, RunError> {
    execute_until(pipeline, ctx, on_event, std::future::pending()).await
}

/// [`execute`], stopped when `stop` completes (a cancel, Ctrl-C, a time limit) unless
/// the destinations are being replaced already: then the commit goes on to its end and
/// the run reports what it did, so a stop never tears a commit. A run stopped before
/// its commit removes its staged output and returns a [`RunError`] marked `cancelled`.
pub async fn execute_until(
    mut pipeline: ExecutablePipeline,
    ctx: &SessionContext,
    on_event: &mut (dyn FnMut(Event) + Send),
    stop: impl std::future::Future<Output = ()>,
) -> Result<RunSummary, RunError> {
    let started = Instant::now();
    let stages = pipeline.stages.len();
    let on_event = std::sync::Mutex::new(on_event);
    let emit = |event: Event| {
        if let Ok(mut on_event) = on_event.lock() {
            on_event(event);
        }
    };
    let emit: &(dyn Fn(Event) + Sync) = &emit;
    for stage in &mut pipeline.stages {
        read_ahead_in(stage).map_err(|e| RunError::new(&stage.name, e))?;
    }
    // Every shared stage's log exists before anything runs, so that a reader finds it
    // whenever it starts, and knows how many reads to keep each batch for.
    let mut reads = HashMap::new();
    for stage in &pipeline.stages {
        for plan in executed_plans(stage) {
            count_reads(plan, &mut reads);
        }
    }
    // In pipeline order, where a stage comes after the stages it reads.
    let mut logs = Vec::new();
    for stage in &pipeline.stages {
        if let Some((id, plan)) = &stage.materialize {
            let expected = reads.get(id).copied().unwrap_or(0);
            let log = results::open(ctx, *id, &stage.name, plan.schema(), expected)
                .map_err(|e| RunError::new(&stage.name, e))?;
            logs.push((*id, stage.name.clone(), log));
        }
    }
    // Every staging area, from the moment it exists: a failure anywhere removes them all
    // (object stores have no drop-time cleanup), success commits them.
    let stagings: std::sync::Mutex<Vec<(String, Staged)>> = std::sync::Mutex::new(Vec::new());
    let stagings_ref = &stagings;
    let runs = pipeline.stages.into_iter().map(|stage| {
        let own = stage.materialize.as_ref().map(|(id, _)| *id);
        let log = logs.iter().find(|(id, _, _)| Some(*id) == own).map(|(_, _, log)| log.clone());
        run_stage(stage, log, ctx, emit, stagings_ref)
    });
    // Destinations are replaced only once every stage has succeeded: a failure anywhere
    // (or an interrupt) drops all staged output and leaves every destination as it was.
    let outcome = tokio::select! {
        outcome = futures::future::try_join_all(runs) => Some(outcome),
        () = stop => None,
    };
    let staged = std::mem::take(&mut *stagings.lock().unwrap_or_else(|p| p.into_inner()));
    let written = match outcome {
        Some(Ok(written)) => written,
        None => {
            // Stopped: the stages' work was dropped with their futures.
            for (_, area) in staged {
                area.abort().await;
            }
            return Err(RunError::cancelled());
        }
        Some(Err(error)) => {
            for (_, area) in staged {
                area.abort().await;
            }
            // Readers of a failed shared stage fail too (shared stages reading it included):
            // the cause is the first failed shared stage in pipeline order.
            let cause =
                logs.iter().find_map(|(_, stage, log)| log.failure().map(|failed| RunError::of(stage, &failed)));
            return Err(cause.unwrap_or(error));
        }
    };
    // From here on nothing stops the run: every destination is replaced, or the failure
    // says what changed.
    let mut rows_written = None;
    for (stage, area) in staged {
        let rows = written.iter().flatten().find(|(name, _)| *name == stage).map_or(0, |(_, rows)| *rows);
        let path = area.target();
        area.commit().await.map_err(|e| RunError {
            destination_changed: e.destination_changed,
            ..RunError::new(&stage, DataFusionError::Execution(format!("cannot replace `{path}`: {}", e.message)))
        })?;
        rows_written = Some(rows_written.unwrap_or(0) + rows);
        emit(Event::OutputWritten { stage, path, rows });
    }
    Ok(RunSummary { stages, rows_written, elapsed: started.elapsed() })
}

/// Starts later inputs that read a shared stage an earlier input reads ([`crate::shared::read_ahead`]).
fn read_ahead_in(stage: &mut StagePlans) -> datafusion::error::Result<()> {
    for plan in stage.plan.iter_mut().chain(stage.materialize.as_mut().map(|(_, plan)| plan)) {
        *plan = with_read_ahead(plan.clone())?;
    }
    if let Some(write) = stage.write.take() {
        stage.write = Some(write.map_plan(with_read_ahead)?);
    }
    Ok(())
}

/// The plans a stage executes: its shared computation, its write, the rows it shows, and
/// its plan for `explain_analyze` when nothing else runs it. ([`run_stage`] runs these.)
fn executed_plans(stage: &StagePlans) -> Vec<&Arc<dyn ExecutionPlan>> {
    let computed = stage.materialize.as_ref().map(|(_, plan)| plan);
    let shown = stage.plan.as_ref().filter(|_| stage.show.is_some());
    let write = stage.write.as_ref().map(Write::plan);
    computed.into_iter().chain(write).chain(shown).chain(run_for_analysis(stage)).collect()
}

/// The plan a stage runs only for `explain_analyze`: one that neither writes nor is
/// computed as a shared stage (whose metrics are on the plan that computed it).
fn run_for_analysis(stage: &StagePlans) -> Option<&Arc<dyn ExecutionPlan>> {
    let runs_anyway = stage.write.is_some() || stage.materialize.is_some();
    stage.plan.as_ref().filter(|_| stage.explain_analyze && !runs_anyway)
}

/// Runs one stage; a file write's staging area goes into `stagings` as soon as it
/// exists. A shared stage fills its `log` meanwhile, for its readers. Returns the
/// stage's name and the rows it wrote to a file destination.
async fn run_stage(
    stage: StagePlans,
    log: Option<Arc<BatchLog>>,
    ctx: &SessionContext,
    emit: &(dyn Fn(Event) + Sync),
    stagings: &std::sync::Mutex<Vec<(String, Staged)>>,
) -> Result<Option<(String, u64)>, RunError> {
    let prints = stage.print_schema || stage.explain || stage.explain_analyze || stage.show.is_some();
    let computing = match (&stage.materialize, log) {
        (Some((_, plan)), Some(log)) => Some((plan.clone(), log)),
        _ => None,
    };
    if stage.write.is_none() && !prints && computing.is_none() {
        return Ok(None);
    }
    let name = stage.name.clone();
    let stage_started = Instant::now();
    emit(Event::StageStarted { stage: name.clone() });
    let fill = async {
        match &computing {
            Some((plan, log)) => {
                let output = execute_stream(plan.clone(), ctx.task_ctx());
                log.fill(output).await.map(Some).map_err(|e| RunError::new(&name, e))
            }
            None => Ok(None),
        }
    };
    let (computed_rows, (mut text, rows)) = futures::try_join!(fill, print_and_write(&stage, ctx, stagings))?;
    // A shared stage's metrics are on the plan that computed it, complete once it has.
    if let (true, Some((plan, _))) = (stage.explain_analyze, &computing) {
        let analyzed = DisplayableExecutionPlan::with_metrics(plan.as_ref());
        text.push_str(&format!("analyzed plan of stage `{name}`:\n{}", analyzed.indent(true)));
    }
    if !text.is_empty() {
        emit(Event::StageOutput { stage: name.clone(), text });
    }
    let rows = rows.or(computed_rows);
    emit(Event::StageFinished { stage: name.clone(), rows, elapsed: stage_started.elapsed() });
    Ok(stage.write.is_some().then(|| (name, rows.unwrap_or(0))))
}

/// What a stage prints (but the analyzed plan of a shared stage) and its write. Returns
/// the text and the rows the stage wrote or ran.
async fn print_and_write(
    stage: &StagePlans,
    ctx: &SessionContext,
    stagings: &std::sync::Mutex<Vec<(String, Staged)>>,
) -> Result<(String, Option<u64>), RunError> {
    let name = &stage.name;
    let mut text = String::new();
    if let (true, Some(plan)) = (stage.print_schema, &stage.plan) {
        text.push_str(&format!("schema of stage `{name}`:\n"));
        for field in plan.schema().fields() {
            let nullable = if field.is_nullable() { "" } else { " not null" };
            text.push_str(&format!("  {}: {}{nullable}\n", field.name(), field.data_type()));
        }
    }
    // A shared stage's real plan is the one that computes it, not the scan of its result.
    let computed = stage.materialize.as_ref().map(|(_, plan)| plan);
    if let (true, Some(plan)) = (stage.explain, computed.or(stage.plan.as_ref())) {
        text.push_str(&format!("physical plan of stage `{name}`:\n{}", displayable(plan.as_ref()).indent(true)));
    }
    if let (Some(limit), Some(plan)) = (stage.show, &stage.plan) {
        // A global limit needs one input partition.
        let single: Arc<dyn ExecutionPlan> = if plan.output_partitioning().partition_count() > 1 {
            Arc::new(CoalescePartitionsExec::new(plan.clone()))
        } else {
            plan.clone()
        };
        let limited = Arc::new(GlobalLimitExec::new(single, 0, Some(limit)));
        let (batches, held) = collect_shown(limited, name, ctx).await.map_err(|e| RunError::new(name, e))?;
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        // The table pads every cell to its column's widest: its size is known before it
        // is made, and it is held in the pool like the rows.
        let size = shown_size(&batches).map_err(|e| RunError::new(name, e))?;
        if size > MAX_SHOWN_BYTES {
            let message = format!(
                "the {rows} rows it shows would print {} MiB (every cell padded to its column's widest value); show fewer rows or narrower columns (at most {} MiB)",
                size / (1024 * 1024),
                MAX_SHOWN_BYTES / (1024 * 1024)
            );
            return Err(RunError::new(name, DataFusionError::Execution(message)));
        }
        held.try_grow(size).map_err(|e| RunError::new(name, e))?;
        let table = pretty_format_batches(&batches).map_err(|e| RunError::new(name, e.into()))?;
        text.push_str(&format!("stage `{name}` ({rows} rows shown):\n{table}\n"));
        drop((batches, held));
    }

    let run = match (&stage.write, run_for_analysis(stage)) {
        // A database write is atomic by itself: one transaction, held open (see below).
        (Some(Write::Database(write)), _) => Some(write.clone()),
        // So is a Delta write: its rows are staged, committed in one Delta commit below.
        (Some(Write::Delta(write)), _) => Some(write.clone()),
        (Some(Write::File(write)), _) => {
            let (plan, area) = stage_write(write, ctx).await.map_err(|e| RunError::new(name, e))?;
            stagings.lock().unwrap_or_else(|p| p.into_inner()).push((name.clone(), area));
            Some(plan)
        }
        // `show` may have run this very plan: a fresh copy, so that joins do not reuse the
        // build side they collected then (and every read of a shared stage happens).
        (None, Some(plan)) => Some(reset_plan_states(plan.clone()).map_err(|e| RunError::new(name, e))?),
        (None, None) => None,
    };
    let mut rows = None;
    if let Some(plan) = &run {
        let counted = run_to_completion(plan.clone(), ctx, stage.write.is_some()).await;
        rows = Some(counted.map_err(|e| RunError::new(name, e))?);
        // A database write holds its transaction open until the whole run succeeded.
        if let Some(Write::Database(_)) = &stage.write
            && let Some(registry) = ctx.state().config().get_extension::<HeldTransactions>()
        {
            let mut stagings = stagings.lock().unwrap_or_else(|p| p.into_inner());
            stagings.extend(registry.take().into_iter().map(|t| (name.clone(), Staged::Database(t))));
        }
        if let Some(Write::Delta(_)) = &stage.write
            && let Some(registry) = ctx.state().config().get_extension::<HeldDeltaWrites>()
        {
            let mut stagings = stagings.lock().unwrap_or_else(|p| p.into_inner());
            stagings.extend(registry.take().into_iter().map(|w| (name.clone(), Staged::Delta(Box::new(w)))));
        }
        if stage.explain_analyze && computed.is_none() {
            let analyzed = DisplayableExecutionPlan::with_metrics(plan.as_ref());
            text.push_str(&format!("analyzed plan of stage `{name}`:\n{}", analyzed.indent(true)));
        }
    }
    Ok((text, rows))
}

/// The most text the rows a stage shows may print.
const MAX_SHOWN_BYTES: usize = 64 * 1024 * 1024;

/// The size of the table `pretty_format_batches` makes of `batches`: every row as wide
/// as the widest value (or name) of each column, plus the borders.
fn shown_size(batches: &[datafusion::arrow::record_batch::RecordBatch]) -> datafusion::error::Result<usize> {
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    let Some(first) = batches.first() else { return Ok(0) };
    // In bytes: at least the characters the table pads to, whatever the characters.
    let mut widths: Vec<usize> = first.schema().fields().iter().map(|f| f.name().len()).collect();
    let options = FormatOptions::default();
    let mut rows = 0usize;
    for batch in batches {
        rows += batch.num_rows();
        for (column, width) in batch.columns().iter().zip(widths.iter_mut()) {
            let formatter = ArrayFormatter::try_new(column.as_ref(), &options)?;
            for row in 0..batch.num_rows() {
                *width = (*width).max(formatter.value(row).to_string().len());
            }
        }
    }
    let line: usize = widths.iter().map(|w| w.saturating_add(3)).sum::<usize>() + 2;
    Ok(line.saturating_mul(rows.saturating_add(4)))
}

/// The rows a stage shows, held in the memory pool until they are printed: a `show` of
/// wide rows under a memory limit fails as a memory limit rather than outgrowing it.
async fn collect_shown(
    plan: Arc<dyn ExecutionPlan>,
    stage: &str,
    ctx: &SessionContext,
) -> datafusion::error::Result<(Vec<datafusion::arrow::record_batch::RecordBatch>, MemoryReservation)> {
    let reservation = MemoryConsumer::new(format!("rows shown by {stage}")).register(&ctx.runtime_env().memory_pool);
    let mut stream = execute_stream(plan, ctx.task_ctx())?;
    let mut batches = Vec::new();
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        reservation.try_grow(batch.get_array_memory_size())?;
        batches.push(batch);
    }
    Ok((batches, reservation))
}

/// Streams a plan to its end and counts rows; a write reports the rows it wrote in a
/// `count` column instead.
async fn run_to_completion(
    plan: Arc<dyn ExecutionPlan>,
    ctx: &SessionContext,
    is_write: bool,
) -> datafusion::error::Result<u64> {
    let mut stream = execute_stream(plan, ctx.task_ctx())?;
    let mut rows = 0u64;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        if is_write {
            if let Some(count) = batch.column(0).as_any().downcast_ref::<UInt64Array>() {
                rows += (0..count.len()).map(|i| count.value(i)).sum::<u64>();
            }
        } else {
            rows += batch.num_rows() as u64;
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::execute_until;
    use crate::RunSettings;
    use crate::output::write::Write;
    use crate::pipeline::{ExecutablePipeline, StagePlans};

    /// A pipeline whose one stage writes `rows` numbers to `target` (CSV).
    async fn writing(ctx: &datafusion::prelude::SessionContext, rows: u64, target: &str) -> ExecutablePipeline {
        let sql = format!("COPY (SELECT value FROM range({rows})) TO '{target}' STORED AS CSV");
        let plan = ctx.sql(&sql).await.unwrap().create_physical_plan().await.unwrap();
        let stage = StagePlans {
            name: "out".into(),
            plan: None,
            show: None,
            print_schema: false,
            explain: false,
            explain_analyze: false,
            write: Some(Write::from_plan(Arc::clone(&plan)).unwrap()),
            materialize: None,
        };
        ExecutablePipeline { stages: vec![stage], stores: vec![] }
    }

    #[tokio::test]
    async fn a_stop_before_the_commit_leaves_the_destination_and_no_debris() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        std::fs::write(&target, "previous\n").unwrap();
        let ctx = RunSettings::default().session_context().unwrap();
        let pipeline = writing(&ctx, 500_000_000, target.to_str().unwrap()).await;
        let stop = tokio::time::sleep(std::time::Duration::from_millis(200));
        let error = execute_until(pipeline, &ctx, &mut |_| {}, stop).await.unwrap_err();
        assert!(error.cancelled && !error.destination_changed, "{error}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "previous\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "staging and lock removed");
        // Without a stop the same run replaces the destination.
        let pipeline = writing(&ctx, 10, target.to_str().unwrap()).await;
        let summary = execute_until(pipeline, &ctx, &mut |_| {}, std::future::pending()).await.unwrap();
        assert_eq!(summary.rows_written, Some(10));
        assert_eq!(std::fs::read_to_string(&target).unwrap().lines().count(), 11);
    }

    #[tokio::test]
    async fn rows_shown_are_bounded_by_the_size_of_their_table() {
        /// One stage that shows `rows` rows of `plan`.
        fn showing(plan: Arc<dyn datafusion::physical_plan::ExecutionPlan>, rows: usize) -> ExecutablePipeline {
            let stage = StagePlans {
                name: "wide".into(),
                plan: Some(plan),
                show: Some(rows),
                print_schema: false,
                explain: false,
                explain_analyze: false,
                write: None,
                materialize: None,
            };
            ExecutablePipeline { stages: vec![stage], stores: vec![] }
        }
        let ctx = RunSettings::default().session_context().unwrap();
        let sql = "SELECT CASE WHEN value = 0 THEN repeat('x', 1000000) ELSE '' END AS wide FROM range(100)";
        let plan = ctx.sql(sql).await.unwrap().create_physical_plan().await.unwrap();
        let pipeline = showing(plan, 100);
        let error = execute_until(pipeline, &ctx, &mut |_| {}, std::future::pending()).await.unwrap_err();
        assert!(error.message.contains("would print 99 MiB"), "{error}");
        // Under a memory limit the table counts against it.
        let limited = RunSettings::from_gigabytes(0.03).unwrap().session_context().unwrap();
        let sql = "SELECT CASE WHEN value = 0 THEN repeat('x', 100000) ELSE '' END AS wide FROM range(400)";
        let plan = limited.sql(sql).await.unwrap().create_physical_plan().await.unwrap();
        let pipeline = showing(plan, 400);
        let error = execute_until(pipeline, &limited, &mut |_| {}, std::future::pending()).await.unwrap_err();
        assert!(error.memory_limit, "{error}");
    }
}
