//! `check`: every validation of a spec, in order, collecting all independent errors.
//!
//! Parse → template → read the spec types → names and data types → SQL syntax and
//! table references → stage graph (cycles, final stage) → plan every stage with
//! DataFusion against its inputs' real schemas → destination checks and warnings.
//! A later phase only looks at parts that earlier phases found sound, so one mistake
//! is reported once, where it is, and not again as a consequence elsewhere.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use serde::Deserialize;

use crate::dag::{StageDag, Vertex};
use crate::datatype::parse_data_type;
use crate::de::{DeContext, NodeDeserializer, quoted_list};
use crate::diagnostic::{Code, Diagnostic};
use crate::node::{Node, Text, Value};
use crate::plan::{
    Location, Planner, declared_schema, error_range, first_line, redact_location, resolve_location, span_range,
    with_partitions,
};
use aqueducts_runtime::stores::{self, StoreDescriptor, StoreKind};
use object_store::ObjectStore;

use crate::source::SourceFile;
use crate::spec::{Destination, Field, Pipeline, Source, Spanned, Stage};
use crate::sql::{ParsedQuery, SqlProblem, normalize_name, parse_query};
use crate::suggest::did_you_mean;

/// What `check` needs besides the file.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Template parameters (`--param k=v`).
    pub params: BTreeMap<String, String>,
    /// Relative locations resolve against this directory (the working directory).
    pub base_dir: PathBuf,
    /// Where local paths are read from while checking: `None` is this machine's file
    /// system; compiling for an executor passes a store that reads the executor's files.
    pub file_store: Option<Arc<dyn ObjectStore>>,
    /// Who describes ODBC queries without a declared schema: this machine, or the
    /// executor the plan is compiled for.
    pub odbc_describer: Arc<dyn aqueducts_runtime::odbc::Describer>,
}

impl CheckOptions {
    pub fn new(params: BTreeMap<String, String>, base_dir: PathBuf) -> Self {
        CheckOptions {
            params,
            base_dir,
            file_store: None,
            odbc_describer: Arc::new(aqueducts_runtime::odbc::LocalDescriber),
        }
    }
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions::new(BTreeMap::new(), std::env::current_dir().unwrap_or_default())
    }
}

/// A spec that passed every check, with what the checks learned about it.
pub struct Spec {
    pub pipeline: Pipeline,
    /// Position maps of the spec's strings (see [`Spanned::text`]).
    pub texts: Vec<Text>,
    pub dag: StageDag,
    /// The stages in an order where each comes after its inputs.
    pub order: Vec<usize>,
    /// The stage the destination receives.
    pub final_stage: Option<usize>,
    /// The output schema of each stage, where it could be planned.
    pub stage_schemas: Vec<Option<SchemaRef>>,
    /// The parsed query of each stage.
    pub queries: Vec<Option<ParsedQuery>>,
    /// The schema of each source's files (without partition columns), where known.
    pub source_schemas: Vec<Option<SchemaRef>>,
    /// The object stores that locations name, with their checked settings.
    pub stores: Vec<StoreDescriptor>,
}

impl Spec {
    /// The position map of a spanned string.
    pub fn text<T>(&self, spanned: &Spanned<T>) -> Option<&Text> {
        spanned.text.and_then(|i| self.texts.get(i))
    }
}

/// The outcome of `check`: diagnostics sorted by position, and the spec when valid.
pub struct CheckReport {
    pub diagnostics: Vec<Diagnostic>,
    pub spec: Option<Spec>,
}

impl CheckReport {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn count(&self, severity: crate::diagnostic::Severity) -> usize {
        self.diagnostics.iter().filter(|d| d.severity == severity).count()
    }
}

/// Checks a spec file. Never panics on any input.
pub async fn check(file: &SourceFile, options: &CheckOptions) -> CheckReport {
    let mut report = Checker::new(options).run(file).await;
    report.diagnostics.sort_by_key(|d| d.labels.first().map_or(usize::MAX, |l| l.span.start));
    report
}

struct Checker<'a> {
    options: &'a CheckOptions,
    diagnostics: Vec<Diagnostic>,
    texts: Vec<Text>,
    /// Names of sources and stages that could not be read (already reported).
    broken_names: BTreeSet<String>,
}

impl<'a> Checker<'a> {
    fn new(options: &'a CheckOptions) -> Self {
        Checker { options, diagnostics: Vec::new(), texts: Vec::new(), broken_names: BTreeSet::new() }
    }

    fn report(self, spec: Option<Spec>) -> CheckReport {
        let spec = if self.diagnostics.iter().any(Diagnostic::is_error) { None } else { spec };
        CheckReport { diagnostics: self.diagnostics, spec }
    }

    fn text<T>(&self, spanned: &Spanned<T>) -> Option<&Text> {
        spanned.text.and_then(|i| self.texts.get(i))
    }

    /// The file range of bytes `range` of a spanned string's value.
    fn range_in<T>(&self, spanned: &Spanned<T>, range: Range<usize>) -> Range<usize> {
        match self.text(spanned) {
            Some(text) => text.map.range(range),
            None => spanned.span.clone(),
        }
    }

    fn poisoned<T>(&self, spanned: &Spanned<T>) -> bool {
        self.text(spanned).is_some_and(|t| t.poisoned)
    }

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
        // Unused parts are only worth a warning in an otherwise sound spec: a broken
        // query may well be the one that would have read them.
        if !self.diagnostics.iter().any(Diagnostic::is_error) {
            self.check_unused(&pipeline, &dag, final_stage);
        }

        let texts = std::mem::take(&mut self.texts);
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
        }))
    }

    // ---- reading the spec types -------------------------------------------------

    fn read_pipeline(&mut self, root: &Node, cx: &DeContext) -> Option<Pipeline> {
        let Value::Map(entries) = &root.value else {
            let at = if root.span.is_empty() { 0..0 } else { root.span.clone() };
            self.diagnostics.push(
                Diagnostic::error(Code::InvalidType, format!("a pipeline spec is a mapping, found {}", root.kind()))
                    .label(at, "expected `sources:`, `stages:` and optionally `destination:`")
                    .help("start from an example in examples/ or see docs/format.md"),
            );
            return None;
        };
        const KEYS: &[&str] = &["version", "sources", "stages", "destination"];
        for entry in entries {
            if !KEYS.contains(&entry.key.as_str()) && entry.key != "$schema" {
                let help = match did_you_mean(&entry.key, KEYS.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`? (valid keys: {})", quoted_list(KEYS)),
                    None => format!("valid keys here: {}", quoted_list(KEYS)),
                };
                self.diagnostics.push(
                    Diagnostic::error(Code::UnknownKey, format!("unknown key `{}` in the pipeline", entry.key))
                        .label(entry.key_span.clone(), "unknown key")
                        .help(help),
                );
            }
        }
        // `sources:` with nothing after it (or `~`, `null`) counts as absent content.
        let get = |key: &str| entries.iter().find(|e| e.key == key);
        let is_null = |node: &Node| match &node.value {
            Value::Null => true,
            Value::Str(t) => {
                t.untyped && matches!(crate::node::resolve_plain_scalar(t.value.trim()), Some(Value::Null))
            }
            _ => false,
        };
        let missing = |key: &str, what: &str| {
            Diagnostic::error(Code::MissingKey, format!("missing required key `{key}`"))
                .label(entries.first().map_or(0..0, |e| e.key_span.clone()), format!("this pipeline has no `{key}`"))
                .help(what.to_string())
        };

        let version = match get("version") {
            None => None,
            Some(entry) => match Spanned::<String>::deserialize(NodeDeserializer::new(&entry.value, cx)) {
                Ok(v) if v.value.trim() == "v2" => Some(v),
                Ok(v) => {
                    self.diagnostics.push(
                        Diagnostic::error(Code::InvalidValue, format!("unsupported version `{}`", v.value))
                            .label(v.span.clone(), "only \"v2\" is supported")
                            .help("write `version: \"v2\"`, or leave `version` out"),
                    );
                    None
                }
                Err(e) => {
                    self.diagnostics.push(e.into_diagnostic(entry.value.span.clone()));
                    None
                }
            },
        };

        let mut sources = Vec::new();
        match get("sources") {
            None => {
                self.diagnostics
                    .push(missing("sources", "add `sources:` with the tables the stages read (it may be `[]`)"));
            }
            Some(entry) => match &entry.value.value {
                Value::Seq(items) => {
                    for item in items {
                        match Source::deserialize(NodeDeserializer::new(item, cx)) {
                            Ok(source) => sources.push(source),
                            Err(e) => {
                                self.remember_broken(item);
                                self.diagnostics.push(e.into_diagnostic(item.span.clone()));
                            }
                        }
                    }
                }
                _ if is_null(&entry.value) => {}
                _ => {
                    self.diagnostics.push(
                        Diagnostic::error(
                            Code::InvalidType,
                            format!("`sources` is a list, found {}", entry.value.kind()),
                        )
                        .label(entry.value.span.clone(), "expected a list of sources")
                        .help("write each source as a list item starting with `- type: ...`"),
                    );
                }
            },
        }

        let mut stages = Vec::new();
        match get("stages") {
            None => {
                self.diagnostics
                    .push(missing("stages", "add `stages:` with at least one `- name: ...` and `query: ...`"));
            }
            Some(entry) => match &entry.value.value {
                Value::Seq(items) => {
                    let mut read_stage =
                        |node: &Node, this: &mut Self| match Stage::deserialize(NodeDeserializer::new(node, cx)) {
                            Ok(stage) => stages.push(stage),
                            Err(e) => {
                                this.remember_broken(node);
                                this.diagnostics.push(e.into_diagnostic(node.span.clone()));
                            }
                        };
                    for item in items {
                        match &item.value {
                            // The v2 nesting: a list of groups.
                            Value::Seq(group) => group.iter().for_each(|node| read_stage(node, self)),
                            _ => read_stage(item, self),
                        }
                    }
                    if items.is_empty() {
                        self.diagnostics.push(
                            Diagnostic::error(Code::NoStages, "the pipeline has no stages")
                                .label(entry.value.span.clone(), "empty")
                                .help("add a stage: `- name: result` with `query: SELECT * FROM <source>`"),
                        );
                    }
                }
                _ if is_null(&entry.value) => {
                    self.diagnostics.push(
                        Diagnostic::error(Code::NoStages, "the pipeline has no stages")
                            .label(entry.key_span.clone(), "empty")
                            .help("add a stage: `- name: result` with `query: SELECT * FROM <source>`"),
                    );
                }
                _ => {
                    self.diagnostics.push(
                        Diagnostic::error(
                            Code::InvalidType,
                            format!("`stages` is a list, found {}", entry.value.kind()),
                        )
                        .label(entry.value.span.clone(), "expected a list of stages")
                        .help("write each stage as a list item: `- name: ...` with `query: ...`"),
                    );
                }
            },
        }

        let destination = match get("destination") {
            None => None,
            Some(entry) if is_null(&entry.value) => None,
            Some(entry) => match Destination::deserialize(NodeDeserializer::new(&entry.value, cx)) {
                Ok(d) => Some(d),
                Err(e) => {
                    self.diagnostics.push(e.into_diagnostic(entry.value.span.clone()));
                    None
                }
            },
        };

        // Later phases run on what could be read, so independent mistakes are all
        // reported; names of parts that could not be read are remembered, so that
        // queries reading them are not reported again as reading unknown tables.
        Some(Pipeline { schema_hint: None, version, sources, stages, destination })
    }

    fn remember_broken(&mut self, node: &Node) {
        if let Some(Value::Str(name)) = node.get("name").map(|e| &e.value.value) {
            self.broken_names.insert(normalize_name(&name.value));
        }
    }

    // ---- names, fields, options ------------------------------------------------

    fn check_names(&mut self, pipeline: &Pipeline) {
        let mut seen: HashMap<String, (&'static str, Range<usize>)> = HashMap::new();
        let names = pipeline
            .sources
            .iter()
            .map(|s| ("source", s.name()))
            .chain(pipeline.stages.iter().map(|s| ("stage", &s.name)));
        for (kind, name) in names {
            if name.value.trim().is_empty() {
                self.diagnostics.push(
                    Diagnostic::error(Code::InvalidValue, format!("a {kind} needs a name"))
                        .label(name.span.clone(), "empty name")
                        .help("give it a name: queries read it by that name"),
                );
                continue;
            }
            let normalized = normalize_name(&name.value);
            match seen.get(&normalized) {
                Some((first_kind, first_span)) => {
                    self.diagnostics.push(
                        Diagnostic::error(Code::DuplicateName, format!("the name `{}` is used twice", name.value))
                            .label(name.span.clone(), format!("this {kind} takes it again"))
                            .label(first_span.clone(), format!("first taken by this {first_kind}"))
                            .help("sources and stages share one namespace (they are table names in SQL, compared without case); rename one"),
                    );
                }
                None => {
                    seen.insert(normalized, (kind, name.span.clone()));
                }
            }
        }
    }

    fn check_fields(&mut self, pipeline: &Pipeline) {
        let mut fields: Vec<&Field> = Vec::new();
        let mut partitions = Vec::new();
        for source in &pipeline.sources {
            match source {
                Source::File(s) => fields.extend(s.format.schema()),
                Source::Directory(s) => {
                    fields.extend(s.format.schema());
                    partitions.extend(s.partition_columns.iter().map(|p| &p.data_type));
                }
                Source::Odbc(s) => fields.extend(&s.schema),
                Source::Delta(_) | Source::InMemory(_) => {}
            }
        }
        if let Some(Destination::Delta(d)) = &pipeline.destination {
            fields.extend(&d.schema);
        }
        let types = fields.iter().map(|f| &f.data_type).chain(partitions);
        let mut problems = Vec::new();
        for data_type in types {
            if self.poisoned(data_type) {
                continue;
            }
            if let Err(e) = parse_data_type(&data_type.value) {
                let range = self.range_in(data_type, e.range.clone());
                problems.push(
                    Diagnostic::error(
                        Code::InvalidDataType,
                        format!("invalid data type `{}`: {}", data_type.value.trim(), e.message),
                    )
                    .label(range, e.message)
                    .help(e.help),
                );
            }
        }
        self.diagnostics.extend(problems);
    }

    /// Checks the `storage_config` of every location on an object store and sets the
    /// stores up in `planner`, so that schemas and listings can be read while checking.
    fn check_stores(&mut self, pipeline: &Pipeline, file_text: &str, planner: &Planner) -> Vec<StoreDescriptor> {
        let mut located: Vec<(&Spanned<String>, &crate::spec::StorageConfig, bool)> = Vec::new();
        for source in &pipeline.sources {
            match source {
                Source::File(s) => located.push((&s.location, &s.storage_config, false)),
                Source::Directory(s) => located.push((&s.location, &s.storage_config, false)),
                _ => {}
            }
        }
        if let Some(Destination::File(d)) = &pipeline.destination {
            located.push((&d.location, &d.storage_config, true));
        }
        let mut stores: Vec<StoreDescriptor> = Vec::new();
        for (location, config, written) in located {
            if self.poisoned(location) {
                continue;
            }
            let Location::Url(text) = resolve_location(&location.value, &self.options.base_dir) else { continue };
            let shown = redact_location(&text);
            let url = match stores::normalize_location(&text) {
                Ok((url, implied)) => (url, implied),
                Err(message) => {
                    self.diagnostics.push(
                        Diagnostic::error(Code::InvalidValue, redact_location(&message))
                            .label(location.span.clone(), "not a location Aqueducts can read or write")
                            .help(LOCATION_FORMS),
                    );
                    continue;
                }
            };
            let (url, implied) = url;
            let refuse = |label: &str, help: &str| {
                Diagnostic::error(Code::InvalidValue, format!("cannot use `{shown}` here"))
                    .label(location.span.clone(), label.to_string())
                    .help(help.to_string())
            };
            if !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
                self.diagnostics.push(refuse(
                    "credentials or a query in the URL",
                    "put credentials in `storage_config` (with `{{ env(\"NAME\") }}` for secrets), not in the location",
                ));
                continue;
            }
            if written && matches!(StoreKind::of(&url), Some(StoreKind::Http)) {
                self.diagnostics
                    .push(refuse("HTTP locations are read-only", "write to a local path or an object store"));
                continue;
            }
            if written && url.path().trim_matches('/').is_empty() {
                self.diagnostics.push(refuse(
                    "the root of a bucket or container",
                    "write to a path inside the bucket (`s3://bucket/output/`): replacing the root would delete everything in it",
                ));
                continue;
            }
            let Some(kind) = StoreKind::of(&url) else {
                self.diagnostics.push(
                    Diagnostic::error(Code::InvalidValue, format!("`{shown}` is not on a supported store"))
                        .label(location.span.clone(), format!("`{}://` is not supported", url.scheme()))
                        .help(LOCATION_FORMS),
                );
                continue;
            };
            let mut options: BTreeMap<String, String> = implied.into_iter().collect();
            let mut valid = true;
            for (key, value) in config {
                match stores::canonical_key(kind, key) {
                    Some(canonical) => {
                        options.insert(canonical, value.value.clone());
                    }
                    None => {
                        valid = false;
                        let known = kind.known_keys();
                        let lowered = key.to_ascii_lowercase();
                        let help = match did_you_mean(&lowered, known.iter().copied()) {
                            Some(s) => format!(
                                "did you mean `{s}`? Keys are object_store's configuration keys for {}, in any case (`{}` works too)",
                                kind.name(),
                                s.to_ascii_uppercase()
                            ),
                            None => format!(
                                "keys are object_store's configuration keys for {}, in any case; see docs/object-stores.md",
                                kind.name()
                            ),
                        };
                        self.diagnostics.push(
                            Diagnostic::error(
                                Code::UnknownKey,
                                format!("unknown `storage_config` key `{key}` for {}", kind.name()),
                            )
                            .label(key_span(file_text, key, &value.span), "unknown key")
                            .help(help),
                        );
                    }
                }
            }
            if !valid {
                continue;
            }
            let Some(descriptor) = StoreDescriptor::for_url(&url, options) else { continue };
            match stores.iter().find(|d| d.url == descriptor.url) {
                Some(existing) if existing.options != descriptor.options => {
                    self.diagnostics.push(
                        Diagnostic::error(Code::InvalidValue, format!("`{}` is configured twice, with different `storage_config`", descriptor.url))
                            .label(location.span.clone(), "a second configuration of this store")
                            .help("every location on one bucket or container shares one store: give them the same `storage_config`"),
                    );
                    continue;
                }
                Some(_) => continue,
                None => {}
            }
            if let Err(message) = planner.register_store(&descriptor) {
                self.diagnostics.push(
                    Diagnostic::error(Code::SourceUnreadable, message)
                        .label(location.span.clone(), "this store")
                        .help("check `storage_config` and the environment variables it or the store's cloud reads"),
                );
                continue;
            }
            stores.push(descriptor);
        }
        stores
    }

    fn check_options(&mut self, pipeline: &Pipeline) {
        let mut problems = Vec::new();
        for source in &pipeline.sources {
            let format = match source {
                Source::File(s) => Some(&s.format),
                Source::Directory(s) => Some(&s.format),
                _ => None,
            };
            if let Some(crate::spec::SourceFileFormat::Csv(o)) = format {
                problems.extend(check_delimiter(&o.delimiter));
            }
            if let Source::Delta(d) = source {
                if let Some(ts) = &d.timestamp
                    && chrono::DateTime::parse_from_rfc3339(ts.value.trim()).is_err()
                    && !self.poisoned(ts)
                {
                    problems.push(
                        Diagnostic::error(Code::InvalidValue, format!("`{}` is not an RFC 3339 timestamp", ts.value))
                            .label(ts.span.clone(), "not RFC 3339")
                            .help("write a time with its offset, for example `2024-05-01T12:00:00Z`"),
                    );
                }
                if d.version.is_some() && d.timestamp.is_some() {
                    problems.push(
                        Diagnostic::error(
                            Code::InvalidValue,
                            "a delta source takes `version` or `timestamp`, not both",
                        )
                        .label(d.name.span.clone(), "in this source")
                        .help("remove one of them"),
                    );
                }
            }
        }
        if let Some(Destination::File(d)) = &pipeline.destination
            && let crate::spec::DestinationFileFormat::Parquet(settings) = &d.format
            && let Err(problem) = crate::lower::parquet_options(settings)
        {
            problems.push(problem);
        }
        if let Some(Destination::File(d)) = &pipeline.destination
            && let crate::spec::DestinationFileFormat::Csv(o) = &d.format
        {
            problems.extend(check_delimiter(&o.delimiter));
            if let Some(c) = &o.compression {
                const CODECS: &[&str] = &["gzip", "bzip2", "xz", "zstd", "uncompressed"];
                if !CODECS.contains(&c.value.to_lowercase().as_str()) {
                    let help = match did_you_mean(&c.value, CODECS.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("use one of {}", quoted_list(CODECS)),
                    };
                    problems.push(
                        Diagnostic::error(Code::InvalidValue, format!("unknown CSV compression `{}`", c.value))
                            .label(c.span.clone(), "unknown compression")
                            .help(help),
                    );
                }
            }
        }
        self.diagnostics.extend(problems);
    }

    // ---- SQL --------------------------------------------------------------------

    fn parse_stage(&mut self, stage: &Stage, state: &datafusion::execution::SessionState) -> Option<ParsedQuery> {
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
                        crate::sql::MAX_OPERATOR_CHAIN
                    )),
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

    fn build_dag(&mut self, pipeline: &Pipeline, parsed: &[Option<ParsedQuery>]) -> StageDag {
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
                        let help = match did_you_mean(&read.name, known.iter().map(String::as_str)) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None if known.is_empty() => "define a source or a stage with this name".to_string(),
                            None => format!(
                                "queries can read sources and stages by name: {}",
                                known.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                            ),
                        };
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

    // ---- planning ---------------------------------------------------------------

    async fn plan(
        &mut self,
        pipeline: &Pipeline,
        parsed: &[Option<ParsedQuery>],
        dag: &StageDag,
        order: &[usize],
        planner: &Planner,
    ) -> (Vec<Option<SchemaRef>>, Vec<Option<SchemaRef>>) {
        // Only sources that some stage reads are opened.
        let mut source_ok = vec![false; pipeline.sources.len()];
        let mut file_schemas: Vec<Option<SchemaRef>> = vec![None; pipeline.sources.len()];
        let mut unknown_sources: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, source) in pipeline.sources.iter().enumerate() {
            let readers = dag.readers(Vertex::Source(i));
            if readers.is_empty() {
                continue;
            }
            match self.source_schema(source, planner).await {
                Ok(Some((file_schema, schema))) => {
                    planner.register_schema(&normalize_name(&source.name().value), schema);
                    file_schemas[i] = Some(file_schema);
                    source_ok[i] = true;
                }
                Ok(None) => {
                    unknown_sources.insert(i, readers);
                }
                Err(d) => self.diagnostics.push(d),
            }
        }

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
                    Vertex::Source(s) if !source_ok[s] => {
                        ready = false;
                        if unknown_sources.contains_key(&s) {
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
                    if let Some(d) = self.unserializable(stage, &plan) {
                        self.diagnostics.push(d);
                    }
                }
                Err(error) => {
                    let d = self.plan_error(stage, &error);
                    self.diagnostics.push(d);
                }
            }
        }

        let sound = !self.diagnostics.iter().any(Diagnostic::is_error);
        for (source_index, _) in unknown_sources.into_iter().filter(|_| sound) {
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
                Source::Delta(_) => "the table is read when the pipeline runs; its columns are checked then",
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
        (schemas, file_schemas)
    }

    /// The schema of a source's files, and the table's (with partition columns).
    async fn source_schema(
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
                    Err(aqueducts_runtime::odbc::OdbcError::Query(message)) => {
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

    /// Plans that DataFusion cannot store in a plan artifact, found before `plan` or `run`
    /// would fail on them.
    fn unserializable(&self, stage: &Stage, plan: &datafusion::logical_expr::LogicalPlan) -> Option<Diagnostic> {
        use datafusion::common::tree_node::TreeNode;
        let recursive =
            plan.exists(|p| Ok(matches!(p, datafusion::logical_expr::LogicalPlan::RecursiveQuery(_)))).ok()?;
        if !recursive {
            return None;
        }
        // ASCII folding keeps byte offsets, so the range fits the original text.
        let sql = stage.query.value.to_ascii_lowercase();
        let range = sql.find("recursive").map_or(0..0, |at| at..at + "recursive".len());
        Some(
            Diagnostic::error(
                Code::Unsupported,
                format!("stage `{}` uses a recursive CTE, which cannot be compiled into a plan artifact", stage.name.value),
            )
            .label(self.range_in(&stage.query, range), "recursive queries cannot be compiled")
            .help("compute the recursion another way (a join over a generated series, for example), or precompute it into a file source"),
        )
    }

    fn plan_error(&self, stage: &Stage, error: &datafusion::error::DataFusionError) -> Diagnostic {
        let sql = &stage.query.value;
        let diagnostic = error.diagnostic();
        let full = error.strip_backtrace();
        let message = match diagnostic {
            Some(d) => d.message.clone(),
            None => clean_datafusion_message(first_line(&full)),
        };
        let range = error_range(error, sql).or_else(|| guess_range(&full, sql));
        let mut help: Vec<String> = Vec::new();
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
            match did_you_mean(missing, candidates.iter().copied()) {
                Some(s) => help.insert(0, format!("did you mean `{s}`? (columns here: {fields})")),
                None => help.push(format!("columns here: {fields}")),
            }
        }
        if help.is_empty() {
            help.push("check the query against the columns of the tables it reads (`print_schema: true` on a stage shows them)".into());
        }
        d.help(help.join("\n"))
    }

    // ---- destination and warnings ---------------------------------------------

    fn check_destination(&mut self, pipeline: &Pipeline, final_stage: Option<usize>, schemas: &[Option<SchemaRef>]) {
        let Some(destination) = &pipeline.destination else { return };
        let Some(stage) = final_stage else { return };
        let Some(schema) = &schemas[stage] else { return };
        let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        for column in destination.partition_columns() {
            if columns.contains(&column.value.as_str()) {
                continue;
            }
            let help = match did_you_mean(&column.value, columns.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("columns of `{}`: {}", pipeline.stages[stage].name.value, quoted_list(&columns)),
            };
            self.diagnostics.push(
                Diagnostic::error(
                    Code::UnknownPartitionColumn,
                    format!(
                        "partition column `{}` is not a column of stage `{}`, which the destination writes",
                        column.value, pipeline.stages[stage].name.value
                    ),
                )
                .label(column.span.clone(), "no such column")
                .label(pipeline.stages[stage].name.span.clone(), "the destination writes this stage")
                .help(help),
            );
        }
    }

    fn check_unused(&mut self, pipeline: &Pipeline, dag: &StageDag, final_stage: Option<usize>) {
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

fn check_delimiter(delimiter: &Spanned<char>) -> Option<Diagnostic> {
    (!delimiter.value.is_ascii()).then(|| {
        Diagnostic::error(
            Code::InvalidValue,
            format!("the CSV delimiter `{}` is not an ASCII character", delimiter.value),
        )
        .label(delimiter.span.clone(), "not ASCII")
        .help("use an ASCII delimiter such as `,`, `;`, `|` or a tab")
    })
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

fn sql_syntax_help(message: &str) -> String {
    if message.contains("found: EOF") {
        "the query ends too early: something is missing at its end".into()
    } else if message.contains("Expected: end of statement") {
        "a stage holds one query; check for a missing comma or operator before this point".into()
    } else {
        "DataFusion speaks ANSI SQL with PostgreSQL-like extensions; see https://datafusion.apache.org/user-guide/sql/"
            .into()
    }
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

/// The locations Aqueducts reads and writes, for help texts.
const LOCATION_FORMS: &str = "use a local path, `s3://bucket/path`, `gs://bucket/path`, `az://container/path`, \
`abfss://container@account.dfs.core.windows.net/path`, `https://account.blob.core.windows.net/container/path` \
or an `https://` URL (read only)";

/// Where `key` is written before its value (the last occurrence before `value`);
/// the value's span if it cannot be found.
fn key_span(file_text: &str, key: &str, value: &Range<usize>) -> Range<usize> {
    let window_start = value.start.saturating_sub(4096);
    let Some(window) = file_text.get(window_start..value.start) else { return value.clone() };
    match window.rfind(key) {
        Some(at) => window_start + at..window_start + at + key.len(),
        None => value.clone(),
    }
}
