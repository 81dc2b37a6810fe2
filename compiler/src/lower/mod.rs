//! Lowering a checked spec to the physical plans the runtime executes.
//!
//! Sources become DataFusion tables (listing tables over local files and directories,
//! with their schemas and hive partitions). Each stage is planned in graph order and
//! registered as a view, so a stage is planned inside the stages that read it and
//! DataFusion optimises across the boundary (projections and filters reach the files).
//! Stages that print get their own plans; the final stage is wrapped in a write to a
//! staging location that replaces the destination when the run succeeds.

mod errors;
mod sources;
mod writes;

use std::path::Path;
use std::sync::Arc;

use aqueducts_runtime::io::stores;
use aqueducts_runtime::output::Write;
use aqueducts_runtime::shared::{SharedStageExec, SharedTable};
use aqueducts_runtime::{ExecutablePipeline, StagePlans};
use datafusion::common::TableReference;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;

use crate::checked::Spec;
use crate::diagnostic::{Code, Diagnostic};
use crate::spec::{Destination, Spanned};
use crate::sql::normalize_name;
use errors::stage_error;
use sources::register_source;
use writes::{delta_rows, delta_write, odbc_write, sink_at_root, write_plan};

/// Rows printed by `show: 0`.
const SHOW_ALL_LIMIT: usize = 500;

/// Lowers a checked spec for a local run in `ctx` (whose runtime holds the memory pool).
pub async fn lower(spec: &Spec, ctx: &SessionContext, base_dir: &Path) -> Result<ExecutablePipeline, Vec<Diagnostic>> {
    let Prepared { plans, shared_plans } = prepare(spec, ctx, base_dir).await?;
    let pipeline = &spec.pipeline;
    let state = ctx.state();
    let mut stages = Vec::new();
    for &i in &spec.order {
        let stage = &pipeline.stages[i];
        let Some(plan) = plans[i].clone() else { continue };
        let is_final = spec.final_stage == Some(i) && pipeline.destination.is_some();
        // A final stage that also prints is computed once too, so the rows shown are
        // rows written, whatever `random()`, `now()` or ties in an ORDER BY do.
        let shared = is_shared(spec, i) || (is_final && stage.prints());
        if !stage.prints() && !is_final && !shared {
            continue;
        }
        let materialize = match (shared, &shared_plans[i]) {
            (false, _) => None,
            (true, Some(planned)) => Some((i as u32, planned.clone())),
            (true, None) => Some((i as u32, physical_plan(&state, plan.clone(), &stage.name).await?)),
        };
        let write = match (&pipeline.destination, is_final) {
            (Some(Destination::Odbc(d)), true) => {
                let input = if shared { shared_scan(i, &stage.name, &plan)? } else { plan.clone() };
                Some(Write::Database(odbc_write(d, physical_plan(&state, input, &stage.name).await?)))
            }
            (Some(Destination::Delta(d)), true) => {
                let input = if shared { shared_scan(i, &stage.name, &plan)? } else { plan.clone() };
                let input = delta_rows(d, input)?;
                let planned = physical_plan(&state, input, &stage.name).await?;
                Some(Write::Delta(delta_write(d, planned, base_dir)?))
            }
            (Some(destination), true) => {
                let input = if shared { shared_scan(i, &stage.name, &plan)? } else { plan.clone() };
                let planned = physical_plan(&state, write_plan(destination, input, base_dir)?, &stage.name).await?;
                let planned = sink_at_root(planned)
                    .map_err(|e| vec![stage_error(&stage.name, "cannot plan the write", &e.strip_backtrace())])?;
                let write = Write::from_plan(planned)
                    .map_err(|e| vec![stage_error(&stage.name, "cannot plan the write", &e.strip_backtrace())])?;
                Some(write)
            }
            _ => None,
        };
        // A shared stage prints what was computed, not a second computation.
        let printed = match (stage.prints(), shared) {
            (false, _) => None,
            (true, false) => Some(physical_plan(&state, plan, &stage.name).await?),
            (true, true) => {
                let schema = Arc::new(plan.schema().as_arrow().clone());
                let scan = SharedStageExec::new(i as u32, stage.name.value.clone(), schema, None)
                    .map_err(|e| vec![stage_error(&stage.name, "cannot plan this stage", &e.to_string())])?;
                Some(Arc::new(scan) as Arc<dyn ExecutionPlan>)
            }
        };
        stages.push(StagePlans {
            name: stage.name.value.clone(),
            plan: printed,
            show: stage.show.map(|rows| if rows == 0 { SHOW_ALL_LIMIT } else { rows }),
            print_schema: stage.print_schema,
            explain: stage.explain,
            explain_analyze: stage.explain_analyze,
            write,
            materialize,
        });
    }
    Ok(ExecutablePipeline { stages, stores: spec.stores.clone() })
}

/// The physical plan of every stage in run order (the final stage's as its write), for
/// `aqueducts plan --explain`.
pub async fn explain(
    spec: &Spec,
    ctx: &SessionContext,
    base_dir: &Path,
) -> Result<Vec<(String, Arc<dyn ExecutionPlan>)>, Vec<Diagnostic>> {
    let Prepared { plans, shared_plans } = prepare(spec, ctx, base_dir).await?;
    let state = ctx.state();
    let mut out = Vec::new();
    for &i in &spec.order {
        let stage = &spec.pipeline.stages[i];
        let Some(mut plan) = plans[i].clone() else { continue };
        let is_final = spec.final_stage == Some(i);
        if let (Some(Destination::Odbc(d)), true) = (&spec.pipeline.destination, is_final) {
            out.push((stage.name.value.clone(), odbc_write(d, physical_plan(&state, plan, &stage.name).await?)));
            continue;
        }
        if let (Some(Destination::Delta(d)), true) = (&spec.pipeline.destination, is_final) {
            let planned = physical_plan(&state, delta_rows(d, plan)?, &stage.name).await?;
            out.push((stage.name.value.clone(), delta_write(d, planned, base_dir)?));
            continue;
        }
        if let (Some(destination), true) = (&spec.pipeline.destination, is_final) {
            plan = write_plan(destination, plan, base_dir)?;
        } else if let Some(planned) = &shared_plans[i] {
            out.push((stage.name.value.clone(), planned.clone()));
            continue;
        }
        out.push((stage.name.value.clone(), physical_plan(&state, plan, &stage.name).await?));
    }
    Ok(out)
}

/// Planning runs behind a panic boundary like everything that handles user input.
async fn physical_plan(
    state: &datafusion::execution::SessionState,
    plan: LogicalPlan,
    name: &Spanned<String>,
) -> Result<Arc<dyn ExecutionPlan>, Vec<Diagnostic>> {
    let planned = std::panic::AssertUnwindSafe(state.create_physical_plan(&plan));
    match futures::FutureExt::catch_unwind(planned).await {
        Ok(result) => result.map_err(|e| vec![stage_error(name, "cannot plan this stage", &e.strip_backtrace())]),
        Err(_) => Err(vec![stage_error(name, "cannot plan this stage", "DataFusion panicked")]),
    }
}

/// Each stage's logical plan, and the physical plan of each shared stage.
struct Prepared {
    plans: Vec<Option<LogicalPlan>>,
    shared_plans: Vec<Option<Arc<dyn ExecutionPlan>>>,
}

/// Registers the sources as tables and the stages as views or shared tables.
async fn prepare(spec: &Spec, ctx: &SessionContext, base_dir: &Path) -> Result<Prepared, Vec<Diagnostic>> {
    let pipeline = &spec.pipeline;
    let mut problems = Vec::new();
    if let Err(e) = stores::register(ctx.runtime_env().as_ref(), &spec.stores) {
        let at = pipeline.sources.first().map(|s| s.name().span.clone()).unwrap_or(0..0);
        return Err(vec![
            Diagnostic::error(Code::SourceUnreadable, e.to_string())
                .label(at, "while setting up object stores")
                .help("check `storage_config` and the environment variables it reads"),
        ]);
    }
    for (i, source) in pipeline.sources.iter().enumerate() {
        if spec.dag.readers(crate::dag::Vertex::Source(i)).is_empty() {
            continue;
        }
        if let Err(d) = register_source(spec, i, source, ctx, base_dir).await {
            problems.push(d);
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let state = ctx.state();
    let mut plans: Vec<Option<LogicalPlan>> = vec![None; pipeline.stages.len()];
    let mut shared_plans: Vec<Option<Arc<dyn ExecutionPlan>>> = vec![None; pipeline.stages.len()];
    for &i in &spec.order {
        let stage = &pipeline.stages[i];
        let Some(query) = spec.queries.get(i).and_then(Option::as_ref) else { continue };
        let plan = query
            .plan(&state)
            .await
            .map_err(|e| vec![stage_error(&stage.name, "cannot plan this stage", &e.strip_backtrace())])?;
        // A stage read once is planned inside its reader (a view); a stage read more
        // than once is computed once and its readers scan the result.
        let table: Arc<dyn datafusion::catalog::TableProvider> = if is_shared(spec, i) {
            // Planned now, before its readers: they are planned with its estimates.
            let planned = physical_plan(&state, plan.clone(), &stage.name).await?;
            let schema = Arc::new(plan.schema().as_arrow().clone());
            let table = SharedTable::new(i as u32, stage.name.value.clone(), schema);
            let table = match estimated_output(planned.as_ref()) {
                Some(statistics) => table.with_statistics(statistics),
                None => table,
            };
            shared_plans[i] = Some(planned);
            Arc::new(table)
        } else {
            Arc::new(datafusion::catalog::view::ViewTable::new(plan.clone(), None))
        };
        let name = TableReference::bare(normalize_name(&stage.name.value));
        let _ = ctx.deregister_table(name.clone());
        ctx.register_table(name, table)
            .map_err(|e| vec![stage_error(&stage.name, "cannot register", &e.to_string())])?;
        plans[i] = Some(plan);
    }

    Ok(Prepared { plans, shared_plans })
}

/// What a physical plan estimates of its output (rows, bytes), if anything.
fn estimated_output(plan: &dyn ExecutionPlan) -> Option<datafusion::common::Statistics> {
    use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};
    let statistics = StatisticsContext::new().compute(plan, &StatisticsArgs::new()).ok()?;
    Some(statistics.as_ref().clone())
}

/// A logical scan of a shared stage's computed result.
fn shared_scan(stage: usize, name: &Spanned<String>, plan: &LogicalPlan) -> Result<LogicalPlan, Vec<Diagnostic>> {
    let schema = Arc::new(plan.schema().as_arrow().clone());
    let table = Arc::new(SharedTable::new(stage as u32, name.value.clone(), schema));
    LogicalPlanBuilder::scan(normalize_name(&name.value), datafusion::datasource::provider_as_source(table), None)
        .and_then(|b| b.build())
        .map_err(|e| vec![stage_error(name, "cannot plan this stage", &e.to_string())])
}

/// Whether a stage is read more than once (by several stages, or twice by one query).
fn is_shared(spec: &Spec, stage: usize) -> bool {
    let name = normalize_name(&spec.pipeline.stages[stage].name.value);
    let reads: usize = spec.queries.iter().flatten().map(|q| q.reads.iter().filter(|r| r.name == name).count()).sum();
    reads > 1
}
