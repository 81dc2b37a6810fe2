//! A serde `Deserializer` over the spanned [`Node`] tree.
//!
//! Errors carry the span of the value (or key) they are about. Unknown keys are
//! recorded and skipped rather than fatal, so one pass reports all of them with a
//! "did you mean" each. Tagged enums (see `tagged_enum!` in [`super::tagged`]) accept
//! their tag in any case (`file`, `File`) and v2's aliases (`dir`, `memory`, `database`).

use std::cell::RefCell;
use std::fmt;
use std::ops::Range;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use super::spanned::{SPANNED_FIELDS, SPANNED_NAME};
use crate::diagnostic::{Code, Diagnostic};
use crate::node::{Entry, Node, Text, Value, resolve_plain_scalar};
use crate::suggest;

/// What deserialization collects besides the values: recoverable errors and the
/// position maps of strings wrapped in `Spanned`.
#[derive(Default)]
pub struct DeContext {
    pub diagnostics: RefCell<Vec<Diagnostic>>,
    pub texts: RefCell<Vec<Text>>,
}

/// A deserialization error with the place it is about.
#[derive(Debug, Clone)]
pub struct DeError {
    pub code: Code,
    pub message: String,
    pub label: Option<String>,
    pub help: Option<String>,
    pub span: Option<Range<usize>>,
    /// For a missing key: which one.
    pub missing: Option<&'static str>,
}

impl DeError {
    fn new(code: Code, message: String) -> Self {
        DeError { code, message, label: None, help: None, span: None, missing: None }
    }

    fn at(mut self, span: &Range<usize>) -> Self {
        if self.span.is_none() {
            self.span = Some(span.clone());
        }
        self
    }

    pub fn into_diagnostic(self, fallback: Range<usize>) -> Diagnostic {
        let mut d = Diagnostic::error(self.code, self.message);
        d = d.label(self.span.unwrap_or(fallback), self.label.unwrap_or_else(|| "here".into()));
        d.help = self.help;
        d
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::new(Code::InvalidValue, msg.to_string())
    }

    fn invalid_type(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        let mut e = DeError::new(Code::InvalidType, format!("expected {exp}, found {}", describe_unexpected(&unexp)));
        e.label = Some(format!("expected {exp}"));
        e
    }

    fn invalid_value(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        let mut e = DeError::new(Code::InvalidValue, format!("invalid value {unexp}, expected {exp}"));
        e.label = Some(format!("expected {exp}"));
        e
    }

    fn invalid_length(len: usize, exp: &dyn de::Expected) -> Self {
        let items = if len == 1 { "item" } else { "items" };
        let mut e = DeError::new(Code::InvalidValue, format!("expected {exp}, found {len} {items}"));
        e.label = Some(format!("expected {exp}"));
        e
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let mut e = DeError::new(Code::InvalidValue, format!("unknown value `{variant}`"));
        e.label = Some(format!("expected one of {}", quoted_list(expected)));
        e.help =
            Some(suggest::help(variant, expected.iter().copied()).or(format!("use one of {}", quoted_list(expected))));
        e
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        unknown_key(field, expected, "")
    }

    fn missing_field(field: &'static str) -> Self {
        let mut e = DeError::new(Code::MissingKey, format!("missing required key `{field}`"));
        e.label = Some(format!("`{field}` is missing here"));
        e.help = Some(format!("add `{field}: ...`"));
        e.missing = Some(field);
        e
    }

    fn duplicate_field(field: &'static str) -> Self {
        DeError::new(Code::DuplicateKey, format!("`{field}` is given twice"))
    }
}

fn describe_unexpected(unexp: &de::Unexpected) -> String {
    match unexp {
        de::Unexpected::Map => "a mapping".into(),
        de::Unexpected::Seq => "a list".into(),
        de::Unexpected::Unit => "null".into(),
        // The value itself is not repeated: it may be a secret (a password, a key).
        de::Unexpected::Str(_) => "a string".into(),
        other => other.to_string(),
    }
}

pub(crate) fn quoted_list(items: &[&str]) -> String {
    items.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
}

/// v2 spellings that are accepted but not advertised: (alias, key it stands for).
const ALIASES: &[(&str, &str)] = &[
    ("file_type", "format"),
    ("storage_options", "storage_config"),
    ("partition_cols", "partition_columns"),
    ("query", "load_query"),
    ("mode", "write_mode"),
    ("type", "data_type"),
    ("custom_metadata", "metadata"),
];

/// The keys worth showing a user: without the aliases of keys that are listed.
fn advertised<'a>(keys: &[&'a str]) -> Vec<&'a str> {
    keys.iter()
        .copied()
        .filter(|k| !ALIASES.iter().any(|(alias, primary)| alias == k && keys.contains(primary)))
        .collect()
}

/// An unknown key (`what` says where, as " in this CSV options"), with the closest valid
/// key and the list of valid ones. `check` reports unknown top-level keys through it too.
pub(crate) fn unknown_key(field: &str, expected: &[&str], what: &str) -> DeError {
    let mut e = DeError::new(Code::UnknownKey, format!("unknown key `{field}`{what}"));
    e.label = Some("unknown key".into());
    let listed = quoted_list(&advertised(expected));
    let otherwise = if expected.is_empty() {
        "remove it: no keys are accepted here".to_string()
    } else {
        format!("valid keys here: {listed}")
    };
    e.help = Some(
        suggest::help(field, expected.iter().copied()).explained_or(|_| format!(" (valid keys: {listed})"), otherwise),
    );
    e
}

/// "FileSource" -> "file source"; used to say what a mapping is in messages.
fn describe_struct(name: &str) -> String {
    match name {
        "SchemaOptions" | "JsonDestinationOptions" => return "format options".into(),
        "CsvSourceOptions" | "CsvDestinationOptions" => return "CSV options".into(),
        _ => {}
    }
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// Deserializes one node.
pub struct NodeDeserializer<'a> {
    pub node: &'a Node,
    pub cx: &'a DeContext,
}

impl<'a> NodeDeserializer<'a> {
    pub fn new(node: &'a Node, cx: &'a DeContext) -> Self {
        NodeDeserializer { node, cx }
    }

    fn invalid<V>(&self, exp: &dyn de::Expected) -> Result<V, DeError> {
        let unexp = match &self.node.value {
            Value::Null => de::Unexpected::Unit,
            Value::Bool(b) => de::Unexpected::Bool(*b),
            Value::Int(i) => match i64::try_from(*i) {
                Ok(i) => de::Unexpected::Signed(i),
                Err(_) => de::Unexpected::Other("a large integer"),
            },
            Value::Float(f) => de::Unexpected::Float(*f),
            Value::Str(t) => de::Unexpected::Str(&t.value),
            Value::Seq(_) => de::Unexpected::Seq,
            Value::Map(_) => de::Unexpected::Map,
        };
        Err(<DeError as de::Error>::invalid_type(unexp, exp).at(&self.node.span))
    }

    /// The scalar this node resolves to when it is an untyped YAML scalar.
    fn resolved(&self) -> Option<Value> {
        match &self.node.value {
            Value::Str(t) if t.untyped => resolve_plain_scalar(t.value.trim()),
            _ => None,
        }
    }

    /// The node as a scalar: typed values as they are, untyped YAML scalars resolved.
    fn scalar(&self) -> Option<Value> {
        match &self.node.value {
            Value::Bool(b) => Some(Value::Bool(*b)),
            Value::Int(i) => Some(Value::Int(*i)),
            Value::Float(f) => Some(Value::Float(*f)),
            Value::Null => Some(Value::Null),
            _ => self.resolved(),
        }
    }

    fn integer(&self) -> Option<i128> {
        match &self.node.value {
            Value::Int(i) => Some(*i),
            _ => match self.resolved() {
                Some(Value::Int(i)) => Some(i),
                _ => None,
            },
        }
    }

    fn map_access(&self, entries: &'a [Entry], fields: Option<&'static [&'static str]>, what: &str) -> MapAccess<'a> {
        let mut kept = Vec::with_capacity(entries.len());
        for entry in entries {
            if let Some(fields) = fields
                && !fields.contains(&entry.key.as_str())
            {
                let e = unknown_key(&entry.key, fields, what).at(&entry.key_span);
                self.cx.diagnostics.borrow_mut().push(e.into_diagnostic(entry.key_span.clone()));
                continue;
            }
            kept.push(entry);
        }
        MapAccess { entries: kept.into_iter(), value: None, cx: self.cx }
    }
}

macro_rules! deserialize_integer {
    ($($method:ident => $visit:ident : $ty:ty),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
                match self.integer() {
                    Some(i) => match <$ty>::try_from(i) {
                        Ok(v) => visitor.$visit(v).map_err(|e: DeError| e.at(&self.node.span)),
                        Err(_) => {
                            let mut e = DeError::new(Code::InvalidValue, format!("{i} is out of range for this key"));
                            e.label = Some(if i < 0 && <$ty>::MIN == 0 {
                                "expected a whole number of 0 or more".to_string()
                            } else {
                                format!("expected a value between {} and {}", <$ty>::MIN, <$ty>::MAX)
                            });
                            Err(e.at(&self.node.span))
                        }
                    },
                    None => self.invalid(&"an integer"),
                }
            }
        )*
    };
}

impl<'de, 'a> de::Deserializer<'de> for NodeDeserializer<'a> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let span = self.node.span.clone();
        let result = match &self.node.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => match i64::try_from(*i) {
                Ok(i) => visitor.visit_i64(i),
                Err(_) => visitor.visit_i128(*i),
            },
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(t) => match self.resolved() {
                Some(Value::Null)
                    if t.value.trim().is_empty() || t.value == "~" || t.value.eq_ignore_ascii_case("null") =>
                {
                    visitor.visit_unit()
                }
                _ => visitor.visit_str(&t.value),
            },
            Value::Seq(items) => visitor.visit_seq(SeqAccess { items: items.iter(), cx: self.cx }),
            Value::Map(entries) => visitor.visit_map(self.map_access(entries, None, "")),
        };
        result.map_err(|e| e.at(&span))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.scalar() {
            Some(Value::Bool(b)) => visitor.visit_bool(b),
            _ => self.invalid(&"`true` or `false`"),
        }
    }

    deserialize_integer! {
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_i128 => visit_i128: i128,
        deserialize_u128 => visit_u128: u128,
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.scalar() {
            Some(Value::Float(f)) => visitor.visit_f64(f),
            Some(Value::Int(i)) => visitor.visit_f64(i as f64),
            _ => self.invalid(&"a number"),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if let Value::Str(t) = &self.node.value {
            let mut chars = t.value.chars();
            if let (Some(c), None) = (chars.next(), chars.next()) {
                return visitor.visit_char(c);
            }
            let mut e = DeError::new(Code::InvalidValue, format!("expected a single character, found \"{}\"", t.value));
            e.label = Some("expected one character".into());
            e.help = Some("write one character, for example `delimiter: \";\"` (quote it in YAML)".into());
            return Err(e.at(&self.node.span));
        }
        self.invalid(&"a single character")
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result = match &self.node.value {
            Value::Str(t) => visitor.visit_str(&t.value),
            // A scalar where text is expected: keep the text (`value: 2024` means "2024").
            Value::Int(i) => visitor.visit_str(&i.to_string()),
            Value::Float(f) => visitor.visit_str(&f.to_string()),
            Value::Bool(b) => visitor.visit_str(if *b { "true" } else { "false" }),
            _ => return self.invalid(&"a string"),
        };
        result.map_err(|e: DeError| e.at(&self.node.span))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match (&self.node.value, self.resolved()) {
            (Value::Null, _) | (_, Some(Value::Null)) => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match (&self.node.value, self.resolved()) {
            (Value::Null, _) | (_, Some(Value::Null)) => visitor.visit_unit(),
            _ => self.invalid(&"null"),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Seq(items) => {
                visitor.visit_seq(SeqAccess { items: items.iter(), cx: self.cx }).map_err(|e| e.at(&self.node.span))
            }
            _ => self.invalid(&"a list"),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Map(entries) => {
                visitor.visit_map(self.map_access(entries, None, "")).map_err(|e| e.at(&self.node.span))
            }
            // `options:` with nothing after it reads as an empty mapping.
            Value::Null => visitor.visit_map(MapAccess { entries: Vec::new().into_iter(), value: None, cx: self.cx }),
            _ => match self.resolved() {
                Some(Value::Null) => {
                    visitor.visit_map(MapAccess { entries: Vec::new().into_iter(), value: None, cx: self.cx })
                }
                _ => self.invalid(&"a mapping"),
            },
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == SPANNED_NAME {
            let text = match &self.node.value {
                Value::Str(t) => {
                    let mut texts = self.cx.texts.borrow_mut();
                    texts.push(t.clone());
                    Some(texts.len() - 1)
                }
                _ => None,
            };
            return visitor.visit_map(SpannedAccess { node: self.node, cx: self.cx, text, step: 0 });
        }
        let noun = describe_struct(name);
        let what = if noun.ends_with("options") { format!(" in the {noun}") } else { format!(" in this {noun}") };
        let empty = Vec::new();
        let entries = match &self.node.value {
            Value::Map(entries) => entries,
            Value::Null => &empty,
            _ if matches!(self.resolved(), Some(Value::Null)) => &empty,
            _ => return self.invalid(&format!("a mapping (a {})", describe_struct(name)).as_str()),
        };
        let anchor = entries.first().map_or(self.node.span.clone(), |e| e.key_span.clone());
        visitor.visit_map(self.map_access(entries, Some(fields), &what)).map_err(|mut e| {
            if let (Some(field), None) = (e.missing, &e.span) {
                e.message.push_str(&what);
                e.label = Some(format!("no `{field}`{what}"));
            }
            e.at(&anchor)
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let mut parts = name.split(':');
        let what = parts.next().unwrap_or("value");
        let tag_key = parts.next().unwrap_or("type");
        let content_key = parts.next();

        let (tag_text, tag_span, content) = match &self.node.value {
            Value::Str(t) => (t.value.clone(), self.node.span.clone(), Content::None),
            Value::Map(entries) => {
                let Some(tag) = entries.iter().find(|e| e.key == tag_key) else {
                    let mut e = DeError::new(Code::MissingKey, format!("missing `{tag_key}` for this {what}"));
                    e.label = Some(format!("needs `{tag_key}: ...`"));
                    e.help = Some(format!("add `{tag_key}:` with one of {}", quoted_list(variants)));
                    let anchor = entries.first().map_or(self.node.span.clone(), |e| e.key_span.clone());
                    return Err(e.at(&anchor));
                };
                let Value::Str(t) = &tag.value.value else {
                    return NodeDeserializer::new(&tag.value, self.cx)
                        .invalid(&format!("one of {}", quoted_list(variants)).as_str());
                };
                let rest: Vec<&Entry> = entries.iter().filter(|e| e.key != tag_key).collect();
                let content = match content_key {
                    Some(key) => {
                        for extra in rest.iter().filter(|e| e.key != key) {
                            let expected: &[&str] = &[tag_key, key];
                            let e = unknown_key(&extra.key, expected, &format!(" in this {what}")).at(&extra.key_span);
                            self.cx.diagnostics.borrow_mut().push(e.into_diagnostic(extra.key_span.clone()));
                        }
                        match rest.iter().find(|e| e.key == key) {
                            Some(entry) => Content::Node(&entry.value),
                            None => Content::None,
                        }
                    }
                    None => Content::Entries(rest, self.node.span.clone()),
                };
                (t.value.clone(), tag.value.span.clone(), content)
            }
            _ => return self.invalid(&format!("a mapping with `{tag_key}: ...`").as_str()),
        };

        let Some(variant) = canonical_variant(&tag_text, variants) else {
            let mut e = <DeError as de::Error>::unknown_variant(&tag_text, variants);
            e.message = format!("unknown {what} {tag_key} `{tag_text}`");
            return Err(e.at(&tag_span));
        };
        visitor.visit_enum(EnumAccess { variant, tag_span, content, cx: self.cx })
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

/// Matches a tag leniently: exact, case-insensitive, PascalCase for snake_case
/// (`InMemory` for `in_memory`), and the aliases of v2.
fn canonical_variant(tag: &str, variants: &'static [&'static str]) -> Option<&'static str> {
    let folded: String = tag.trim().chars().filter(|c| *c != '_' && *c != '-').collect::<String>().to_lowercase();
    let alias = match folded.as_str() {
        "dir" => "directory",
        "memory" => "inmemory",
        "database" => "odbc",
        other => other,
    };
    variants.iter().copied().find(|v| v.replace('_', "") == alias)
}

enum Content<'a> {
    None,
    Node(&'a Node),
    Entries(Vec<&'a Entry>, Range<usize>),
}

struct EnumAccess<'a> {
    variant: &'static str,
    tag_span: Range<usize>,
    content: Content<'a>,
    cx: &'a DeContext,
}

impl<'de, 'a> de::EnumAccess<'de> for EnumAccess<'a> {
    type Error = DeError;
    type Variant = VariantAccess<'a>;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, VariantAccess<'a>), DeError> {
        let value = seed.deserialize(self.variant.into_deserializer())?;
        Ok((value, VariantAccess { content: self.content, tag_span: self.tag_span, cx: self.cx }))
    }
}

struct VariantAccess<'a> {
    content: Content<'a>,
    tag_span: Range<usize>,
    cx: &'a DeContext,
}

impl<'de, 'a> de::VariantAccess<'de> for VariantAccess<'a> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.content {
            Content::None => Ok(()),
            Content::Node(node) => match &node.value {
                Value::Null => Ok(()),
                Value::Map(entries) if entries.is_empty() => Ok(()),
                Value::Seq(items) if items.is_empty() => Ok(()),
                Value::Str(t) if t.untyped && matches!(resolve_plain_scalar(t.value.trim()), Some(Value::Null)) => {
                    Ok(())
                }
                _ => {
                    let mut e = DeError::new(Code::InvalidValue, "this option takes no settings".to_string());
                    e.label = Some("not used".into());
                    e.help = Some("remove it".into());
                    Err(e.at(&node.span))
                }
            },
            Content::Entries(entries, _) => match entries.first() {
                None => Ok(()),
                Some(extra) => Err(unknown_key(&extra.key, &[], " here").at(&extra.key_span)),
            },
        }
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, DeError> {
        match self.content {
            Content::Node(node) => seed.deserialize(NodeDeserializer::new(node, self.cx)),
            Content::None => {
                let empty = Node::new(Value::Null, self.tag_span.clone());
                seed.deserialize(NodeDeserializer::new(&empty, self.cx))
            }
            Content::Entries(entries, span) => {
                let node = Node::new(Value::Map(entries.into_iter().cloned().collect()), span);
                seed.deserialize(NodeDeserializer::new(&node, self.cx))
            }
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, DeError> {
        self.newtype_variant_seed(SeqSeed(visitor))
    }

    fn struct_variant<V: Visitor<'de>>(self, fields: &'static [&'static str], visitor: V) -> Result<V::Value, DeError> {
        self.newtype_variant_seed(StructSeed(fields, visitor))
    }
}

struct SeqSeed<V>(V);

impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for SeqSeed<V> {
    type Value = V::Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        d.deserialize_seq(self.0)
    }
}

struct StructSeed<V>(&'static [&'static str], V);

impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for StructSeed<V> {
    type Value = V::Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        d.deserialize_struct("variant", self.0, self.1)
    }
}

struct SeqAccess<'a> {
    items: std::slice::Iter<'a, Node>,
    cx: &'a DeContext,
}

impl<'de, 'a> de::SeqAccess<'de> for SeqAccess<'a> {
    type Error = DeError;

    fn next_element_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>, DeError> {
        match self.items.next() {
            Some(node) => {
                seed.deserialize(NodeDeserializer::new(node, self.cx)).map(Some).map_err(|e| e.at(&node.span))
            }
            None => Ok(None),
        }
    }
}

struct MapAccess<'a> {
    entries: std::vec::IntoIter<&'a Entry>,
    value: Option<&'a Node>,
    cx: &'a DeContext,
}

impl<'de, 'a> de::MapAccess<'de> for MapAccess<'a> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            Some(entry) => {
                self.value = Some(&entry.value);
                let key: de::value::StrDeserializer<DeError> = entry.key.as_str().into_deserializer();
                seed.deserialize(key).map(Some).map_err(|e| e.at(&entry.key_span))
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let node =
            self.value.take().ok_or_else(|| DeError::new(Code::InvalidValue, "internal: value before key".into()))?;
        seed.deserialize(NodeDeserializer::new(node, self.cx)).map_err(|e| e.at(&node.span))
    }
}

/// Feeds a [`super::Spanned`] its span, its string-table index and its value.
struct SpannedAccess<'a> {
    node: &'a Node,
    cx: &'a DeContext,
    text: Option<usize>,
    step: usize,
}

impl<'de, 'a> de::MapAccess<'de> for SpannedAccess<'a> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        let Some(&key) = SPANNED_FIELDS.get(self.step) else { return Ok(None) };
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let step = self.step;
        self.step += 1;
        match step {
            0 => seed.deserialize((self.node.span.start as u64).into_deserializer()),
            1 => seed.deserialize((self.node.span.end as u64).into_deserializer()),
            2 => match self.text {
                Some(i) => seed.deserialize((i as i64).into_deserializer()),
                None => seed.deserialize((-1i64).into_deserializer()),
            },
            _ => seed.deserialize(NodeDeserializer::new(self.node, self.cx)),
        }
    }
}
