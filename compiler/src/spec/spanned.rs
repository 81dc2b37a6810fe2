//! [`Spanned`]: a spec value with the byte range it came from, read through the
//! deserializer's private struct protocol ([`SPANNED_NAME`]).

use std::borrow::Cow;
use std::ops::Range;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

/// A value with the byte range it came from in the spec file.
///
/// `text` indexes the spec's string table, which keeps the position map of a string
/// value (see [`crate::checked::Spec::text`]), so positions inside a SQL query can be found.
#[derive(Debug, Clone)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Range<usize>,
    pub text: Option<usize>,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Range<usize>) -> Self {
        Spanned { value, span, text: None }
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Serialize> Serialize for Spanned<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// The struct name through which [`super::de`] recognises a [`Spanned`] value.
pub(crate) const SPANNED_NAME: &str = "$aqueducts::Spanned";
pub(crate) const SPANNED_FIELDS: &[&str] = &["$start", "$end", "$text", "$value"];

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
            type Value = Spanned<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a value")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Spanned<T>, A::Error> {
                let mut start = 0usize;
                let mut end = 0usize;
                let mut text = None;
                let mut value = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "$start" => start = map.next_value()?,
                        "$end" => end = map.next_value()?,
                        "$text" => {
                            let index: i64 = map.next_value()?;
                            text = usize::try_from(index).ok();
                        }
                        _ => value = Some(map.next_value()?),
                    }
                }
                let value = value.ok_or_else(|| serde::de::Error::custom("internal: spanned value missing"))?;
                Ok(Spanned { value, span: start..end, text })
            }
        }
        d.deserialize_struct(SPANNED_NAME, SPANNED_FIELDS, V(std::marker::PhantomData))
    }
}
