//! TOML through the `toml` crate's spanned document tree.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::common::{MAX_DEPTH, syntax_error, too_deep};
use crate::diagnostic::Diagnostic;
use crate::node::{Entry, Node, Text, Value};
use crate::source::align;

pub fn parse(text: &str) -> Result<Node, Vec<Diagnostic>> {
    let (table, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return Err(errors
            .iter()
            .map(|e| {
                let span = e.span().unwrap_or(0..0);
                syntax_error("TOML", e.message().trim_end(), span, "here")
            })
            .collect());
    }
    let span = table.span();
    convert_table(text, table.into_inner(), span, 0)
}

fn convert_table(
    text: &str,
    table: DeTable<'_>,
    span: std::ops::Range<usize>,
    depth: usize,
) -> Result<Node, Vec<Diagnostic>> {
    if depth > MAX_DEPTH {
        return Err(vec![too_deep("TOML", span)]);
    }
    let mut entries = Vec::new();
    for (key, value) in table {
        let key_span = key.span();
        let value = convert(text, value, depth + 1)?;
        entries.push(Entry { key: key.into_inner().into_owned(), key_span, value });
    }
    // Tables keep file order only with `preserve_order`; sort by position to be sure.
    entries.sort_by_key(|e| e.key_span.start);
    Ok(Node::new(Value::Map(entries), span))
}

fn convert(text: &str, value: Spanned<DeValue<'_>>, depth: usize) -> Result<Node, Vec<Diagnostic>> {
    let span = value.span();
    let value = match value.into_inner() {
        DeValue::String(s) => {
            let raw = text.get(span.clone()).unwrap_or("");
            // Literal strings ('...') have no escapes; basic strings ("...") do.
            let escapes = raw.starts_with('"');
            let map = align(&s, raw, span.start, escapes);
            Value::Str(Text { value: s.into_owned(), map, untyped: false, poisoned: false })
        }
        DeValue::Integer(i) => {
            let digits = i.as_str().replace('_', "");
            let (negative, digits) = match digits.strip_prefix('-') {
                Some(rest) => (true, rest.to_string()),
                None => (false, digits.trim_start_matches('+').to_string()),
            };
            let digits = digits.trim_start_matches("0x").trim_start_matches("0o").trim_start_matches("0b");
            let parsed = i128::from_str_radix(digits, i.radix()).unwrap_or(0);
            Value::Int(if negative { -parsed } else { parsed })
        }
        DeValue::Float(f) => Value::Float(match f.as_str().replace('_', "").as_str() {
            "inf" | "+inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            "nan" | "+nan" | "-nan" => f64::NAN,
            other => other.parse().unwrap_or(0.0),
        }),
        DeValue::Boolean(b) => Value::Bool(b),
        DeValue::Datetime(d) => {
            let s = d.to_string();
            Value::Str(Text {
                map: crate::source::PosMap::identity(span.start, s.len()),
                value: s,
                untyped: false,
                poisoned: false,
            })
        }
        DeValue::Array(items) => {
            if depth > MAX_DEPTH {
                return Err(vec![too_deep("TOML", span)]);
            }
            let mut nodes = Vec::with_capacity(items.len());
            for item in items {
                nodes.push(convert(text, item, depth + 1)?);
            }
            Value::Seq(nodes)
        }
        DeValue::Table(table) => return convert_table(text, table, span, depth + 1),
    };
    Ok(Node::new(value, span))
}
