//! `check`: every validation of a spec, in order, collecting all independent errors.
//!
//! Parse → template → read the spec types ([`read`]) → names and data types ([`names`])
//! → format options ([`options`]) → object stores ([`stores`]) → SQL syntax, table
//! references and the stage graph ([`sql`]) → plan every stage with DataFusion against
//! its inputs' real schemas ([`plan`], Delta tables opened at their version in [`delta`]) → the destination ([`destination`]) and warnings
//! about unused parts ([`unused`]). A later phase only looks at parts that earlier
//! phases found sound, so one mistake is reported once, where it is, and not again as a
//! consequence elsewhere.
//!
//! Every phase is an `impl Checker` block in its own file over the one state type of
//! [`context`], as rust-analyzer's type inference is split.

mod context;
mod delta;
mod destination;
mod names;
mod options;
mod plan;
mod read;
mod report;
mod sql;
mod stores;
mod unused;

use crate::checked::Spec;
use crate::diagnostic::Diagnostic;
use crate::plan::Planner;
use crate::source::SourceFile;
use crate::spec::de::DeContext;
use crate::sql::ParsedQuery;
use context::Checker;

pub use context::CheckOptions;
pub use report::CheckReport;

/// Checks a spec file. Never panics on any input.
pub async fn check(file: &SourceFile, options: &CheckOptions) -> CheckReport {
    let mut report = Checker::new(options).run(file).await;
    report.diagnostics.sort_by_key(|d| d.labels.first().map_or(usize::MAX, |l| l.span.start));
    report
}

impl Checker<'_> {
    async fn run(mut self, file: &SourceFile) -> CheckReport {
        let mut root = match crate::parse::parse(file) {
            Ok(root) => root,
            Err(diagnostics) => {
                self.diagnostics = diagnostics;
                return self.report(None);
            }
        };
        self.diagnostics.extend(crate::template::render_tree(&mut root, &self.options.params));
        self.diagnostics.extend(crate::template::check_secret_placement(&root));

        let cx = DeContext::default();
        let pipeline = self.read_pipeline(&root, &cx);
        self.diagnostics.extend(cx.diagnostics.into_inner());
        self.texts = cx.texts.into_inner();
        let Some(pipeline) = pipeline else { return self.report(None) };

        self.check_names(&pipeline);
        self.check_fields(&pipeline);
        self.check_options(&pipeline);

        let planner = Planner::new(self.options.file_store.clone());
        let stores = self.check_stores(&pipeline, &file.text, &planner);
        let state = planner.state();
        let parsed: Vec<Option<ParsedQuery>> =
            pipeline.stages.iter().map(|stage| self.parse_stage(stage, &state)).collect();

        let dag = self.build_dag(&pipeline, &parsed);
        let order = dag.topological_stages();
        let final_stage = dag.final_stage();
        let (stage_schemas, source_schemas) = self.plan(&pipeline, &parsed, &dag, &order, &planner).await;

        self.check_destination(&pipeline, final_stage, &stage_schemas);
        self.check_delta_destination(&pipeline, final_stage, &stage_schemas, &planner).await;
        // Unused parts are only worth a warning in an otherwise sound spec: a broken
        // query may well be the one that would have read them.
        if !self.diagnostics.iter().any(Diagnostic::is_error) {
            self.check_unused(&pipeline, &dag, final_stage);
        }

        let texts = std::mem::take(&mut self.texts);
        let delta_tables = std::mem::take(&mut self.delta_tables);
        self.report(Some(Spec {
            pipeline,
            texts,
            dag,
            order,
            final_stage,
            stage_schemas,
            queries: parsed,
            source_schemas,
            stores,
            delta_tables,
        }))
    }
}
