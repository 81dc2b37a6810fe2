//! Parsers from YAML, JSON and TOML text to the spanned [`Node`] tree.

mod common;
mod json;
mod toml;
mod yaml;

use crate::diagnostic::{Code, Diagnostic};
use crate::node::{Node, Value};
use crate::source::{SourceFile, SpecFormat};

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
