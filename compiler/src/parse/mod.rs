//! Parsers from YAML, JSON and TOML text to the spanned [`Node`] tree.

mod common;
mod json;
mod toml;
mod yaml;

use crate::diagnostic::{Code, Diagnostic};
use crate::node::{Node, Value};
use crate::source::{SourceFile, SpecFormat};

/// Where the query of stage `name` is in the file (the whole stage when it has none), if
/// the file parses and has that stage; stages may be in v2 groups.
pub fn stage_query_span(file: &SourceFile, name: &str) -> Option<std::ops::Range<usize>> {
    fn find(node: &Node, name: &str) -> Option<std::ops::Range<usize>> {
        match &node.value {
            Value::Seq(items) => items.iter().find_map(|item| find(item, name)),
            Value::Map(_) => match &node.get("name")?.value.value {
                Value::Str(text) if text.value == name => {
                    Some(node.get("query").map_or_else(|| node.span.clone(), |query| query.value.span.clone()))
                }
                _ => None,
            },
            _ => None,
        }
    }
    let root = parse(file).ok()?;
    find(&root.get("stages")?.value, name)
}

/// Parses the file into a tree, or returns syntax diagnostics.
pub fn parse(file: &SourceFile) -> Result<Node, Vec<Diagnostic>> {
    let node = match file.format {
        SpecFormat::Yaml => yaml::parse(&file.text)?,
        SpecFormat::Json => json::parse(&file.text)?,
        SpecFormat::Toml => toml::parse(&file.text)?,
    };
    let mut duplicates = Vec::new();
    find_duplicate_keys(&node, &mut duplicates);
    if duplicates.is_empty() { Ok(node) } else { Err(duplicates) }
}

fn find_duplicate_keys(node: &Node, out: &mut Vec<Diagnostic>) {
    match &node.value {
        Value::Map(entries) => {
            for (i, entry) in entries.iter().enumerate() {
                if let Some(first) = entries[..i].iter().find(|e| e.key == entry.key) {
                    out.push(
                        Diagnostic::error(Code::DuplicateKey, format!("key `{}` is given twice", entry.key))
                            .label(entry.key_span.clone(), "given again here")
                            .label(first.key_span.clone(), "first given here")
                            .help("remove one of them: a mapping takes each key once"),
                    );
                }
                find_duplicate_keys(&entry.value, out);
            }
        }
        Value::Seq(items) => items.iter().for_each(|n| find_duplicate_keys(n, out)),
        _ => {}
    }
}
