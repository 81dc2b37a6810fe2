//! Planning: every source opened for its schema, then every stage planned with
//! DataFusion against its inputs' real schemas, in graph order.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::sync::Arc;

use aqueducts_runtime::io::odbc::OdbcError;
use aqueducts_runtime::io::stores;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::DataFusionError;

use super::context::Checker;
use crate::dag::{StageDag, Vertex};
use crate::diagnostic::{Code, Diagnostic};
use crate::plan::{
    Location, Planner, declared_schema, error_range, first_line, resolve_location, span_range, with_partitions,
};
use crate::spec::{Pipeline, Source, Stage};
use crate::sql::{ParsedQuery, normalize_name};
use crate::suggest;

impl Checker<'_> {
    /// Plans every stage against its inputs' schemas; returns the output schema of each
    /// stage and the file schema of each source, where known.
    pub(super) async fn plan(
        &mut self,
        pipeline: &Pipeline,
        parsed: &[Option<ParsedQuery>],
        dag: &StageDag,
        order: &[usize],
        planner: &Planner,
    ) -> (Vec<Option<SchemaRef>>, Vec<Option<SchemaRef>>) {
        let opened = self.open_sources(pipeline, dag, planner).await;
        let (schemas, blocked_by_unknown) = self.plan_stages(pipeline, parsed, dag, order, planner, &opened);
        self.report_unknown_schemas(pipeline, parsed, dag, &opened, &blocked_by_unknown);
        (schemas, opened.file_schemas)
    }

    /// Opens every source some stage reads and registers its schema with the planner.
    async fn open_sources(&mut self, pipeline: &Pipeline, dag: &StageDag, planner: &Planner) -> OpenedSources {
        let mut readable = vec![false; pipeline.sources.len()];
        let mut file_schemas: Vec<Option<SchemaRef>> = vec![None; pipeline.sources.len()];
        let mut unknown: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, source) in pipeline.sources.iter().enumerate() {
            let readers = dag.readers(Vertex::Source(i));
            if readers.is_empty() {
                continue;
            }
            if let Source::Delta(delta) = source {
                match self.open_delta_source(delta, planner).await {
                    Ok(None) => {}
                    Ok(Some((table, schema))) => {
                        planner.register_schema(&normalize_name(&source.name().value), schema.clone());
                        file_schemas[i] = Some(schema);
                        readable[i] = true;
                        self.delta_tables.insert(i, table);
                    }
                    Err(d) => self.diagnostics.push(d),
                }
                continue;
            }
            match self.source_schema(source, planner).await {
                Ok(Some((file_schema, schema))) => {
                    planner.register_schema(&normalize_name(&source.name().value), schema);
                    file_schemas[i] = Some(file_schema);
                    readable[i] = true;
                }
                Ok(None) => {
                    unknown.insert(i, readers);
                }
                Err(d) => self.diagnostics.push(d),
            }
        }

        OpenedSources { readable, file_schemas, unknown }
    }

    /// Plans the stages in graph order, each once its inputs are known; returns their
    /// schemas and the stages that wait on a source whose schema is known only at run time.
    fn plan_stages(
        &mut self,
        pipeline: &Pipeline,
        parsed: &[Option<ParsedQuery>],
        dag: &StageDag,
        order: &[usize],
        planner: &Planner,
        opened: &OpenedSources,
    ) -> (Vec<Option<SchemaRef>>, BTreeSet<usize>) {
        let mut schemas: Vec<Option<SchemaRef>> = vec![None; pipeline.stages.len()];
        let mut blocked_by_unknown: BTreeSet<usize> = BTreeSet::new();
        for &i in order {
            let Some(query) = &parsed[i] else { continue };
            let stage = &pipeline.stages[i];
            if query.reads.iter().any(|r| dag.lookup(&r.name).is_none()) {
                continue; // unknown table, reported
            }
            let inputs = dag.inputs(i);
            let mut ready = true;
            for input in &inputs {
                match *input {
                    Vertex::Source(s) if !opened.readable[s] => {
                        ready = false;
                        if opened.unknown.contains_key(&s) {
                            blocked_by_unknown.insert(i);
                        }
                    }
                    Vertex::Stage(s) if schemas[s].is_none() => {
                        ready = false;
                        if blocked_by_unknown.contains(&s) {
                            blocked_by_unknown.insert(i);
                        }
                    }
                    _ => {}
                }
            }
            if !ready {
                continue;
            }
            match planner.plan_stage(query) {
                Ok(plan) => {
                    schemas[i] = Some(Arc::new(plan.schema().as_arrow().clone()));
                    planner.register_stage(&normalize_name(&stage.name.value), &plan);
                }
                Err(error) => {
                    let d = self.plan_error(stage, &error);
                    self.diagnostics.push(d);
                }
            }
        }

        (schemas, blocked_by_unknown)
    }

    /// Advice on the stages checked without columns because a source they read has no
    /// known schema; only for a spec without errors.
    fn report_unknown_schemas(
        &mut self,
        pipeline: &Pipeline,
        parsed: &[Option<ParsedQuery>],
        dag: &StageDag,
        opened: &OpenedSources,
        blocked_by_unknown: &BTreeSet<usize>,
    ) {
        let sound = !self.diagnostics.iter().any(Diagnostic::is_error);
        for (&source_index, _) in opened.unknown.iter().filter(|_| sound) {
            let source = &pipeline.sources[source_index];
            let affected: Vec<String> = downstream(dag, Vertex::Source(source_index))
                .into_iter()
                .filter(|i| blocked_by_unknown.contains(i) && parsed[*i].is_some())
                .map(|i| format!("`{}`", pipeline.stages[i].name.value))
                .collect();
            if affected.is_empty() {
                continue;
            }
            let help = match source {
                Source::Odbc(_) => "declare `schema:` on the source to check the columns these stages use",
                Source::InMemory(_) => "the program that embeds Aqueducts provides this table when it runs",
                _ => "declare `schema:` in the format options to check the columns these stages use",
            };
            self.diagnostics.push(
                Diagnostic::advice(
                    Code::SchemaUnknown,
                    format!(
                        "the columns of source `{}` are not known before it runs, so {} were checked for syntax and table names only",
                        source.name().value,
                        affected.join(", ")
                    ),
                )
                .label(source.name().span.clone(), "schema not known here")
                .help(help),
            );
        }
    }

    /// The schema of a source's files, and the table's (with partition columns).
    pub(super) async fn source_schema(
        &self,
        source: &Source,
        planner: &Planner,
    ) -> Result<Option<(SchemaRef, SchemaRef)>, Diagnostic> {
        let (format, location, partitions, directory) = match source {
            Source::File(s) => (&s.format, &s.location, &[][..], false),
            Source::Directory(s) => (&s.format, &s.location, &s.partition_columns[..], true),
            Source::Odbc(s) if !s.schema.is_empty() => {
                return Ok(declared_schema(&s.schema).map(|s| {
                    let s = Arc::new(s);
                    (s.clone(), s)
                }));
            }
            Source::Odbc(s) => {
                if self.poisoned(&s.connection_string) || self.poisoned(&s.load_query) {
                    return Ok(None);
                }
                // Prepared and described by the database, not run.
                let (connection, query) = (s.connection_string.value.clone(), s.load_query.value.clone());
                let described = self.options.odbc_describer.describe(connection, query).await;
                return match described {
                    Ok(schema) => Ok(Some((schema.clone(), schema))),
                    Err(OdbcError::Query(message)) => {
                        Err(Diagnostic::error(Code::SourceUnreadable, format!("the database rejected the query of source `{}`", s.name.value))
                            .label(s.load_query.span.clone(), message)
                            .help("fix the query, or declare `schema:` on the source to check without the database"))
                    }
                    Err(error) => Err(Diagnostic::error(
                        Code::SourceUnreadable,
                        format!("cannot describe the query of source `{}`: {error}", s.name.value),
                    )
                    .label(s.connection_string.span.clone(), "used to connect here")
                    .help("check the connection string and that the database and its ODBC driver are reachable from where the plan runs, or declare `schema:` on the source")),
                };
            }
            _ => return Ok(None),
        };
        if self.poisoned(location) {
            return Ok(None);
        }
        let file_schema = if !format.schema().is_empty() {
            match declared_schema(format.schema()) {
                Some(schema) => Arc::new(schema),
                None => return Ok(None),
            }
        } else {
            match resolve_location(&location.value, &self.options.base_dir) {
                Location::Url(url) => {
                    // A store whose setup failed was reported already.
                    let Ok((url, _)) = stores::normalize_location(&url) else { return Ok(None) };
                    if !planner.has_store(&url) {
                        return Ok(None);
                    }
                    match planner.infer_url_schema(format, &url, directory).await {
                        Ok(schema) => schema,
                        Err(problem) => {
                            return Err(Diagnostic::error(Code::SourceUnreadable, problem.message)
                                .label(location.span.clone(), problem.label)
                                .help(problem.help));
                        }
                    }
                }
                Location::Local(path) => match planner.infer_file_schema(format, &path, directory).await {
                    Ok(schema) => schema,
                    Err(problem) => {
                        return Err(Diagnostic::error(Code::SourceUnreadable, problem.message)
                            .label(location.span.clone(), problem.label)
                            .help(format!(
                                "{} (working directory: {})",
                                problem.help,
                                self.options.base_dir.display()
                            )));
                    }
                },
            }
        };
        if partitions.is_empty() {
            return Ok(Some((file_schema.clone(), file_schema)));
        }
        Ok(with_partitions(&file_schema, partitions).map(|table| (file_schema, Arc::new(table))))
    }

    pub(super) fn plan_error(&self, stage: &Stage, error: &DataFusionError) -> Diagnostic {
        let sql = &stage.query.value;
        let diagnostic = error.diagnostic();
        let full = error.strip_backtrace();
        let mut message = match diagnostic {
            Some(d) => d.message.clone(),
            None => clean_datafusion_message(first_line(&full)),
        };
        // DataFusion names the subqueries it joins `__correlated_sq_N`; a column it
        // then cannot find was read from a query two or more levels out.
        let mut help: Vec<String> = Vec::new();
        if message.contains("__correlated_sq") || message.contains("__scalar_sq") {
            let column = full
                .split("No field named ")
                .nth(1)
                .and_then(|s| s.split(". Did you mean").next())
                .unwrap_or("a column");
            message =
                format!("a subquery reads `{column}` from a query more than one level out, which cannot be planned");
            help.push("read it in the subquery directly inside that query (join the inner subquery's table there), or compute the inner subquery as a CTE".into());
        }
        let range = error_range(error, sql).or_else(|| guess_range(&full, sql));
        let mut d = Diagnostic::error(Code::SqlPlan, format!("stage `{}`: {message}", stage.name.value));
        d = match range {
            Some(range) => d.label(self.range_in(&stage.query, range), message.clone()),
            None => {
                let first_line = sql.trim_end().find('\n').unwrap_or(sql.trim_end().len());
                d.label(self.range_in(&stage.query, 0..first_line), "in this query")
            }
        };
        if let Some(diag) = diagnostic {
            for note in &diag.notes {
                match note.span.and_then(|s| span_range(sql, s)) {
                    Some(range) => d = d.label(self.range_in(&stage.query, range), note.message.clone()),
                    None => help.push(note.message.clone()),
                }
            }
            help.extend(diag.helps.iter().map(|h| h.message.clone()));
        }
        if let Some(valid) = full.split("Valid fields are ").nth(1).filter(|_| help.is_empty()) {
            let fields = valid.trim_end_matches('.').trim();
            let missing = full.split("No field named ").nth(1).and_then(|s| s.split(['.', ' ']).next()).unwrap_or("");
            let candidates: Vec<&str> = fields.split(", ").map(|f| f.rsplit('.').next().unwrap_or(f)).collect();
            let missing = missing.trim_matches('"').rsplit('.').next().unwrap_or(missing);
            // `help` is empty here, so the suggestion comes first either way.
            help.push(
                suggest::help(missing, candidates.iter().copied())
                    .explained_or(|_| format!(" (columns here: {fields})"), format!("columns here: {fields}")),
            );
        }
        if help.is_empty() {
            help.push("check the query against the columns of the tables it reads (`print_schema: true` on a stage shows them)".into());
        }
        d.help(help.join("\n"))
    }
}

/// Every stage that reads `from`, directly or through other stages, in index order.
fn downstream(dag: &StageDag, from: Vertex) -> BTreeSet<usize> {
    let mut seen = BTreeSet::new();
    let mut todo = dag.readers(from);
    while let Some(stage) = todo.pop() {
        if seen.insert(stage) {
            todo.extend(dag.readers(Vertex::Stage(stage)));
        }
    }
    seen
}

/// Strips DataFusion's error-kind prefixes ("Error during planning: ...").
fn clean_datafusion_message(message: &str) -> String {
    let mut m = message;
    for prefix in ["Error during planning: ", "Schema error: ", "This feature is not implemented: ", "Internal error: "]
    {
        m = m.trim_start_matches(prefix);
    }
    m.split(" Valid fields are").next().unwrap_or(m).to_string()
}

/// Finds where an error without a span is about: the first quoted name it mentions.
fn guess_range(message: &str, sql: &str) -> Option<Range<usize>> {
    let name = message.split("No field named ").nth(1).map(|s| s.split([' ', ',']).next().unwrap_or(s))?;
    let name = name.trim_end_matches('.').trim_matches('"');
    let name = name.rsplit('.').next().unwrap_or(name).trim_matches('"');
    // ASCII folding keeps byte offsets, so the range fits the original text.
    let lower = sql.to_ascii_lowercase();
    let at = lower.find(&name.to_ascii_lowercase())?;
    Some(at..at + name.len())
}

/// What opening the sources found: which can be read, their file schemas, and the
/// sources whose schema is only known at run time (with the stages reading them).
struct OpenedSources {
    readable: Vec<bool>,
    file_schemas: Vec<Option<SchemaRef>>,
    unknown: BTreeMap<usize, Vec<usize>>,
}
