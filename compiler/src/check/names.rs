//! Names and data types: every source and stage has a name of its own, and every
//! declared column type parses.

use std::collections::HashMap;
use std::ops::Range;

use super::context::Checker;
use crate::datatype::parse_data_type;
use crate::diagnostic::{Code, Diagnostic};
use crate::spec::{Destination, Field, Pipeline, Source};
use crate::sql::normalize_name;

impl Checker<'_> {
    pub(super) fn check_names(&mut self, pipeline: &Pipeline) {
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

    pub(super) fn check_fields(&mut self, pipeline: &Pipeline) {
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
}
