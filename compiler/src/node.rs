//! A format-neutral, spanned value tree: what YAML, JSON and TOML parse into.
//!
//! Templating and deserialization work on this tree, so a parameter can only ever
//! replace the text of one string and every value keeps its place in the file.

use std::ops::Range;

use crate::source::PosMap;

/// One value of the spec file with the byte range it occupies.
#[derive(Debug, Clone)]
pub struct Node {
    pub value: Value,
    pub span: Range<usize>,
}

#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(Text),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// A key and its value in a mapping.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: String,
    pub key_span: Range<usize>,
    pub value: Node,
}

/// A string value: its decoded text and where each byte of it came from.
#[derive(Debug, Clone)]
pub struct Text {
    pub value: String,
    pub map: PosMap,
    /// An untyped YAML scalar (or a templated string): it may still be read as a number
    /// or a boolean where the spec expects one.
    pub untyped: bool,
    /// Templating failed for this string; later checks of its content are skipped
    /// because the failure was already reported.
    pub poisoned: bool,
}

impl Node {
    pub fn new(value: Value, span: Range<usize>) -> Self {
        Node { value, span }
    }

    /// A short description of the kind of value, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    pub fn get(&self, key: &str) -> Option<&Entry> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    /// Calls `f` on every string in the tree, depth first, in file order.
    pub fn for_each_text_mut(&mut self, f: &mut impl FnMut(&mut Text, &Range<usize>)) {
        match &mut self.value {
            Value::Str(text) => f(text, &self.span),
            Value::Seq(items) => items.iter_mut().for_each(|n| n.for_each_text_mut(f)),
            Value::Map(entries) => entries.iter_mut().for_each(|e| e.value.for_each_text_mut(f)),
            _ => {}
        }
    }
}

/// Resolves an untyped YAML scalar (`true`, `12`, `1.5`, `null`, ...) to its value.
pub fn resolve_plain_scalar(text: &str) -> Option<Value> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        _ => {}
    }
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i128>().ok().map(Value::Int);
    }
    let looks_numeric = digits.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && digits.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        && digits.bytes().any(|b| b.is_ascii_digit());
    if looks_numeric {
        return text.parse::<f64>().ok().map(Value::Float);
    }
    match digits {
        ".inf" | ".Inf" | ".INF" => {
            Some(Value::Float(if text.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY }))
        }
        ".nan" | ".NaN" | ".NAN" => Some(Value::Float(f64::NAN)),
        _ => None,
    }
}

impl Node {
    /// The tree as plain JSON (untyped YAML scalars resolved), for tools such as
    /// JSON-schema validation.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => i64::try_from(*i).map(J::from).unwrap_or_else(|_| J::from(*i as f64)),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(t) if t.untyped => match resolve_plain_scalar(t.value.trim()) {
                Some(v) => Node::new(v, self.span.clone()).to_json(),
                None => J::String(t.value.clone()),
            },
            Value::Str(t) => J::String(t.value.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(entries.iter().map(|e| (e.key.clone(), e.value.to_json())).collect()),
        }
    }
}
