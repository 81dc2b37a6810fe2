//! Compiling a spec for the executor that will run it.
//!
//! The spec is checked and lowered here, in the orchestrator, with the executor's view
//! of its files and databases relayed over its connection ([`crate::relay`]): relative
//! paths resolve against the executor's working directory, listings and schemas are
//! the executor's. The executor receives only the artifact, as from a CLI.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use aqueducts_compiler::diagnostic::render_plain;
use aqueducts_compiler::lower::lower;
use aqueducts_compiler::remote::{RemoteDescriber, RemoteFiles};
use aqueducts_compiler::sql::compile_context;
use aqueducts_compiler::{CheckOptions, Code, Diagnostic, Severity, SourceFile, SpecFormat, check};
use aqueducts_protocol::api::{GraphSource, GraphStage, StageGraph, WireDiagnostic};
use aqueducts_runtime::{RunSettings, artifact};
use datafusion::execution::object_store::ObjectStoreUrl;

use crate::relay::LinkRelay;
use crate::state::Orchestrator;

/// Why a spec did not compile.
#[derive(Debug)]
pub enum CompileError {
    /// The spec has errors: its diagnostics, rendered against its text and as data.
    Invalid(String, Vec<WireDiagnostic>),
    /// Something else went wrong (the executor went away while being asked).
    Failed(String),
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompileError::Invalid(text, _) | CompileError::Failed(text) => f.write_str(text),
        }
    }
}

/// A spec compiled for an executor: the artifact it runs, the stage graph, and the
/// warnings `check` gives (rendered and as data; empty when there are none).
pub struct Compiled {
    pub artifact: Vec<u8>,
    pub graph: StageGraph,
    pub warnings: (String, Vec<WireDiagnostic>),
}

/// Compiles `text` (named `name`, in `format`) with `params` for `executor`.
pub async fn for_executor(
    orchestrator: &Arc<Orchestrator>,
    executor: &str,
    name: &str,
    text: &str,
    format: &str,
    params: &BTreeMap<String, String>,
) -> Result<Compiled, CompileError> {
    let hello = orchestrator
        .executors
        .hello(executor)
        .ok_or_else(|| CompileError::Failed(format!("executor {executor} is not connected")))?;
    let format = SpecFormat::from_key(format).ok_or_else(|| {
        CompileError::Invalid(format!("`{format}` is not a spec format: use yaml, json or toml"), Vec::new())
    })?;
    let file = SourceFile::new(name, text, format);
    let relay = Arc::new(LinkRelay { orchestrator: orchestrator.clone(), executor: executor.to_string() });
    let files = Arc::new(RemoteFiles::new(relay.clone(), executor.to_string()));
    let mut options = CheckOptions::new(params.clone(), PathBuf::from(&hello.working_directory));
    options.file_store = Some(files.clone());
    options.odbc_describer = Arc::new(RemoteDescriber::new(relay));
    let report = check(&file, &options).await;
    // Warnings too, as `aqueducts check` shows them: the CLI prints this text as is.
    let shown: Vec<Diagnostic> =
        report.diagnostics.iter().filter(|d| d.severity != Severity::Advice).cloned().collect();
    let has_errors = shown.iter().any(|d| d.severity == Severity::Error);
    let Some(spec) = report.spec.filter(|_| !has_errors) else {
        return Err(invalid(&shown, &file));
    };
    let ctx = compile_context(&RunSettings::default()).map_err(|e| CompileError::Failed(e.to_string()))?;
    ctx.register_object_store(ObjectStoreUrl::local_filesystem().as_ref(), files);
    let executable = lower(&spec, &ctx, &options.base_dir).await.map_err(|diagnostics| invalid(&diagnostics, &file))?;
    let artifact = artifact::encode(&executable).map_err(|error| {
        let diagnostic = Diagnostic::error(Code::Unsupported, error.to_string());
        invalid(&[diagnostic], &file)
    })?;
    let warnings = if shown.is_empty() { (String::new(), Vec::new()) } else { as_data(&shown, &file) };
    Ok(Compiled { artifact, graph: stage_graph(&spec), warnings })
}

/// The checked spec's graph, stages in the order they run.
pub fn stage_graph(spec: &aqueducts_compiler::checked::Spec) -> StageGraph {
    use aqueducts_compiler::dag::Vertex;
    let pipeline = &spec.pipeline;
    let vertex_name = |vertex: Vertex| match vertex {
        Vertex::Source(i) => pipeline.sources.get(i).map(|source| source.name().value.clone()),
        Vertex::Stage(i) => pipeline.stages.get(i).map(|stage| stage.name.value.clone()),
    };
    let writes = pipeline.destination.is_some().then_some(spec.final_stage).flatten();
    StageGraph {
        sources: pipeline
            .sources
            .iter()
            .map(|source| GraphSource { name: source.name().value.clone(), kind: source.kind().into() })
            .collect(),
        stages: spec
            .order
            .iter()
            .filter_map(|&i| {
                let stage = pipeline.stages.get(i)?;
                Some(GraphStage {
                    name: stage.name.value.clone(),
                    inputs: spec.dag.inputs(i).into_iter().filter_map(vertex_name).collect(),
                    writes_destination: writes == Some(i),
                })
            })
            .collect(),
    }
}

/// The diagnostics, rendered (as `aqueducts check` prints them) and as data.
fn invalid(diagnostics: &[Diagnostic], file: &SourceFile) -> CompileError {
    let (rendered, located) = as_data(diagnostics, file);
    CompileError::Invalid(rendered, located)
}

/// Diagnostics rendered as `aqueducts check` prints them, and as data.
fn as_data(diagnostics: &[Diagnostic], file: &SourceFile) -> (String, Vec<WireDiagnostic>) {
    let located = diagnostics.iter().filter_map(|d| serde_json::from_value(d.to_json(file)).ok()).collect();
    (render_plain(diagnostics, file), located)
}
