//! Reading the spec types from the templated tree: the top-level keys, each source,
//! stage and the destination, each on its own so that every broken part is reported.

use std::ops::Range;

use serde::Deserialize;

use super::context::Checker;
use crate::diagnostic::{Code, Diagnostic};
use crate::node::{Entry, Node, Value, resolve_plain_scalar};
use crate::spec::de::{DeContext, NodeDeserializer, unknown_key};
use crate::spec::{Destination, Pipeline, Source, Spanned, Stage};
use crate::sql::normalize_name;

impl Checker<'_> {
    /// The pipeline with every part that could be read. Later phases run on what could
    /// be read, so independent mistakes are all reported; names of parts that could not
    /// be read are remembered, so that queries reading them are not reported again as
    /// reading unknown tables.
    pub(super) fn read_pipeline(&mut self, root: &Node, cx: &DeContext) -> Option<Pipeline> {
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
                let unknown = unknown_key(&entry.key, KEYS, " in the pipeline");
                self.diagnostics.push(unknown.into_diagnostic(entry.key_span.clone()));
            }
        }
        let get = |key: &str| entries.iter().find(|e| e.key == key);
        // Where a missing key is reported: the first key of the pipeline.
        let first_key = entries.first().map_or(0..0, |e| e.key_span.clone());
        let version = get("version").and_then(|entry| self.read_version(entry, cx));
        let sources = self.read_sources(get("sources"), &first_key, cx);
        let stages = self.read_stages(get("stages"), &first_key, cx);
        let destination = match get("destination") {
            Some(entry) if !is_null(&entry.value) => self.read_destination(entry, cx),
            _ => None,
        };
        Some(Pipeline { schema_hint: None, version, sources, stages, destination })
    }

    /// `version:`, which may only be "v2".
    fn read_version(&mut self, entry: &Entry, cx: &DeContext) -> Option<Spanned<String>> {
        match Spanned::<String>::deserialize(NodeDeserializer::new(&entry.value, cx)) {
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
        }
    }

    /// Every source that can be read, each on its own.
    fn read_sources(&mut self, entry: Option<&Entry>, first_key: &Range<usize>, cx: &DeContext) -> Vec<Source> {
        let mut sources = Vec::new();
        let Some(entry) = entry else {
            let help = "add `sources:` with the tables the stages read (it may be `[]`)";
            self.diagnostics.push(missing_key("sources", first_key, help));
            return sources;
        };
        match &entry.value.value {
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
                    Diagnostic::error(Code::InvalidType, format!("`sources` is a list, found {}", entry.value.kind()))
                        .label(entry.value.span.clone(), "expected a list of sources")
                        .help("write each source as a list item starting with `- type: ...`"),
                );
            }
        }
        sources
    }

    /// Every stage that can be read, each on its own, in a flat list or v2 groups.
    fn read_stages(&mut self, entry: Option<&Entry>, first_key: &Range<usize>, cx: &DeContext) -> Vec<Stage> {
        let mut stages = Vec::new();
        let Some(entry) = entry else {
            let help = "add `stages:` with at least one `- name: ...` and `query: ...`";
            self.diagnostics.push(missing_key("stages", first_key, help));
            return stages;
        };
        let no_stages = |at: Range<usize>| {
            Diagnostic::error(Code::NoStages, "the pipeline has no stages")
                .label(at, "empty")
                .help("add a stage: `- name: result` with `query: SELECT * FROM <source>`")
        };
        match &entry.value.value {
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
                    self.diagnostics.push(no_stages(entry.value.span.clone()));
                }
            }
            _ if is_null(&entry.value) => self.diagnostics.push(no_stages(entry.key_span.clone())),
            _ => {
                self.diagnostics.push(
                    Diagnostic::error(Code::InvalidType, format!("`stages` is a list, found {}", entry.value.kind()))
                        .label(entry.value.span.clone(), "expected a list of stages")
                        .help("write each stage as a list item: `- name: ...` with `query: ...`"),
                );
            }
        }
        stages
    }

    fn read_destination(&mut self, entry: &Entry, cx: &DeContext) -> Option<Destination> {
        match Destination::deserialize(NodeDeserializer::new(&entry.value, cx)) {
            Ok(d) => Some(d),
            Err(e) => {
                self.diagnostics.push(e.into_diagnostic(entry.value.span.clone()));
                None
            }
        }
    }

    fn remember_broken(&mut self, node: &Node) {
        if let Some(Value::Str(name)) = node.get("name").map(|e| &e.value.value) {
            self.broken_names.insert(normalize_name(&name.value));
        }
    }
}

/// `sources:` with nothing after it (or `~`, `null`) counts as absent content.
fn is_null(node: &Node) -> bool {
    match &node.value {
        Value::Null => true,
        Value::Str(t) => t.untyped && matches!(resolve_plain_scalar(t.value.trim()), Some(Value::Null)),
        _ => false,
    }
}

fn missing_key(key: &str, at: &Range<usize>, help: &str) -> Diagnostic {
    Diagnostic::error(Code::MissingKey, format!("missing required key `{key}`"))
        .label(at.clone(), format!("this pipeline has no `{key}`"))
        .help(help.to_string())
}
