//! Warnings about parts of a sound spec that nothing uses.

use super::context::Checker;
use crate::dag::{StageDag, Vertex};
use crate::diagnostic::{Code, Diagnostic};
use crate::spec::Pipeline;

impl Checker<'_> {
    pub(super) fn check_unused(&mut self, pipeline: &Pipeline, dag: &StageDag, final_stage: Option<usize>) {
        for (i, stage) in pipeline.stages.iter().enumerate() {
            let read = dag.readers(Vertex::Stage(i)).iter().any(|&r| r != i);
            let feeds_destination = pipeline.destination.is_some() && final_stage == Some(i);
            if read || feeds_destination || stage.prints() {
                continue;
            }
            let why = if pipeline.destination.is_some() {
                "nothing reads it, it does not feed the destination"
            } else {
                "nothing reads it, there is no destination"
            };
            self.diagnostics.push(
                Diagnostic::warning(
                    Code::UnusedStage,
                    format!("the result of stage `{}` is not used", stage.name.value),
                )
                .label(stage.name.span.clone(), format!("{why}, and it shows nothing"))
                .help("read it from another stage, set `show: 10` to print it, add a destination, or remove it"),
            );
        }
        for (i, source) in pipeline.sources.iter().enumerate() {
            if dag.readers(Vertex::Source(i)).is_empty() {
                self.diagnostics.push(
                    Diagnostic::warning(
                        Code::UnusedSource,
                        format!("source `{}` is not read by any stage", source.name().value),
                    )
                    .label(source.name().span.clone(), "never read")
                    .help("read it in a stage's query, or remove it"),
                );
            }
        }
    }
}
