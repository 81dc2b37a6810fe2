//! SQL: each stage's query parsed, the tables it reads resolved, and the stage graph
//! built from them (unknown tables and cycles reported where they are read).

use datafusion::execution::SessionState;

use super::context::Checker;
use crate::dag::StageDag;
use crate::diagnostic::{Code, Diagnostic};
use crate::spec::{Pipeline, Stage};
use crate::sql::{MAX_OPERATOR_CHAIN, ParsedQuery, SqlProblem, normalize_name, parse_query};
use crate::suggest;

impl Checker<'_> {
    pub(super) fn parse_stage(&mut self, stage: &Stage, state: &SessionState) -> Option<ParsedQuery> {
        if self.poisoned(&stage.query) {
            return None;
        }
        match parse_query(&stage.query.value, state) {
            Ok(parsed) => Some(parsed),
            Err(problem) => {
                let d = match problem {
                    SqlProblem::Syntax { message, range } => Diagnostic::error(
                        Code::SqlSyntax,
                        format!("SQL syntax error in stage `{}`: {message}", stage.name.value),
                    )
                    .label(self.range_in(&stage.query, range), message.clone())
                    .help(sql_syntax_help(&message)),
                    SqlProblem::NotAQuery { what, range } => Diagnostic::error(
                        Code::UnsupportedStatement,
                        format!("stage `{}` must be a query, not `{what}`", stage.name.value),
                    )
                    .label(self.range_in(&stage.query, range), "not a query")
                    .help("a stage is one SELECT (or WITH ... SELECT, VALUES); write results through `destination:`"),
                    SqlProblem::Empty => {
                        Diagnostic::error(Code::SqlSyntax, format!("stage `{}` has an empty query", stage.name.value))
                            .label(stage.query.span.clone(), "empty")
                            .help("write a query, for example `SELECT * FROM <source>`")
                    }
                    SqlProblem::TooComplex { operators } => Diagnostic::error(
                        Code::UnsupportedStatement,
                        format!("stage `{}` chains {operators} operators in one expression", stage.name.value),
                    )
                    .label(stage.query.span.clone(), "too long to plan safely")
                    .help(format!(
                        "at most {} operators may be chained at one level; use IN (...) lists, parentheses or several stages",
                        MAX_OPERATOR_CHAIN
                    )),
                    SqlProblem::Unsupported { message, range } => Diagnostic::error(
                        Code::Unsupported,
                        format!("stage `{}`: {message}", stage.name.value),
                    )
                    .label(self.range_in(&stage.query, range), "not supported")
                    .help("docs/sql.md lists what Aqueducts runs and how it differs from PostgreSQL"),
                    SqlProblem::Several { range } => Diagnostic::error(
                        Code::UnsupportedStatement,
                        format!("stage `{}` holds more than one statement", stage.name.value),
                    )
                    .label(self.range_in(&stage.query, range), "a second statement")
                    .help("a stage is one query; split it into several stages that read each other by name"),
                };
                self.diagnostics.push(d);
                None
            }
        }
    }

    pub(super) fn build_dag(&mut self, pipeline: &Pipeline, parsed: &[Option<ParsedQuery>]) -> StageDag {
        let source_names: Vec<String> = pipeline.sources.iter().map(|s| normalize_name(&s.name().value)).collect();
        let stage_names: Vec<String> = pipeline.stages.iter().map(|s| normalize_name(&s.name.value)).collect();
        let mut dag = StageDag::new(source_names.iter().map(String::as_str), stage_names.iter().map(String::as_str));
        let known: Vec<String> = pipeline
            .sources
            .iter()
            .map(|s| s.name().value.clone())
            .chain(pipeline.stages.iter().map(|s| s.name.value.clone()))
            .collect();

        for (i, query) in parsed.iter().enumerate() {
            let Some(query) = query else { continue };
            let stage = &pipeline.stages[i];
            for read in &query.reads {
                match dag.lookup(&read.name) {
                    Some(vertex) => dag.add_read(i, vertex),
                    None if self.broken_names.contains(&read.name) => {}
                    None => {
                        let otherwise = if known.is_empty() {
                            "define a source or a stage with this name".to_string()
                        } else {
                            format!(
                                "queries can read sources and stages by name: {}",
                                known.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                            )
                        };
                        let help = suggest::help(&read.name, known.iter().map(String::as_str)).or(otherwise);
                        self.diagnostics.push(
                            Diagnostic::error(
                                Code::UnknownTable,
                                format!("stage `{}` reads unknown table `{}`", stage.name.value, read.name),
                            )
                            .label(self.range_in(&stage.query, read.range.clone()), "not a source or a stage")
                            .help(help),
                        );
                    }
                }
            }
        }

        for cycle in dag.cycles() {
            let names: Vec<&str> = cycle.iter().map(|&i| pipeline.stages[i].name.value.as_str()).collect();
            let mut path = names.join(" → ");
            path.push_str(" → ");
            path.push_str(names[0]);
            let mut d = Diagnostic::error(Code::DependencyCycle, format!("stages read each other in a cycle: {path}"));
            for (k, &reader) in cycle.iter().enumerate() {
                let input = cycle[(k + cycle.len() - 1) % cycle.len()];
                let input_name = normalize_name(&pipeline.stages[input].name.value);
                let reader_stage = &pipeline.stages[reader];
                if let Some(read) = parsed[reader].as_ref().and_then(|q| q.reads.iter().find(|r| r.name == input_name))
                {
                    d = d.label(
                        self.range_in(&reader_stage.query, read.range.clone()),
                        format!("`{}` reads `{}` here", reader_stage.name.value, pipeline.stages[input].name.value),
                    );
                }
            }
            self.diagnostics
                .push(d.help("a stage can only read sources and stages that do not depend on it; break the cycle"));
        }
        dag
    }
}

fn sql_syntax_help(message: &str) -> String {
    if message.contains("found: EOF") {
        "the query ends too early: something is missing at its end".into()
    } else if message.contains("Expected: end of statement") {
        "a stage holds one query; check for a missing comma or operator before this point".into()
    } else if message.contains("found: EXCLUDE") {
        "window frames cannot EXCLUDE rows here; take the current row out by hand instead, as in `sum(x) OVER (...) - x` (docs/sql.md)".into()
    } else {
        "Aqueducts reads PostgreSQL's SQL; docs/sql.md says what it runs and where it differs".into()
    }
}
