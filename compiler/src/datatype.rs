//! The data-type strings of field schemas (`int64`, `decimal<10,2>`, `list<struct<a:int32>>`, ...).

use std::ops::Range;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Fields, TimeUnit};

use crate::suggest;

/// A data-type string that does not parse, with the bytes at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataTypeError {
    pub message: String,
    pub range: Range<usize>,
    pub help: String,
}

const SIMPLE: &[&str] = &[
    "bool",
    "boolean",
    "int8",
    "int16",
    "int32",
    "int",
    "integer",
    "int64",
    "long",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float",
    "float64",
    "double",
    "string",
    "utf8",
    "large_string",
    "large_utf8",
    "binary",
    "large_binary",
    "date32",
    "date",
    "date64",
    "null",
];
const GENERIC: &[&str] = &[
    "list",
    "large_list",
    "fixed_list",
    "fixed_binary",
    "decimal",
    "decimal256",
    "timestamp",
    "time32",
    "time64",
    "duration",
    "struct",
    "map",
];

/// Parses a data-type string into an Arrow type.
pub fn parse_data_type(text: &str) -> Result<DataType, DataTypeError> {
    let mut p = TypeParser { text, pos: 0, depth: 0 };
    p.skip_ws();
    let ty = p.data_type()?;
    p.skip_ws();
    if p.pos < text.len() {
        return Err(p.error(p.pos..text.len(), "unexpected text after the type", "remove it"));
    }
    Ok(ty)
}

struct TypeParser<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
}

/// Nesting deeper than this is refused rather than risking the stack.
const MAX_NESTING: usize = 32;

impl TypeParser<'_> {
    fn error(&self, range: Range<usize>, message: impl Into<String>, help: impl Into<String>) -> DataTypeError {
        DataTypeError { message: message.into(), range, help: help.into() }
    }

    fn skip_ws(&mut self) {
        while self.text[self.pos..].starts_with(char::is_whitespace) {
            self.pos += self.text[self.pos..].chars().next().map_or(1, char::len_utf8);
        }
    }

    fn word(&mut self) -> (String, Range<usize>) {
        self.skip_ws();
        let start = self.pos;
        while let Some(c) = self.text[self.pos..].chars().next() {
            if c.is_alphanumeric() || c == '_' || c == '/' || c == '+' || c == '-' {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
        (self.text[start..self.pos].to_string(), start..self.pos)
    }

    fn expect(&mut self, c: char, what: &str) -> Result<(), DataTypeError> {
        self.skip_ws();
        if self.text[self.pos..].starts_with(c) {
            self.pos += c.len_utf8();
            Ok(())
        } else {
            let end = (self.pos + 1).min(self.text.len());
            Err(self.error(self.pos..end.max(self.pos), format!("expected `{c}` {what}"), format!("write `{c}` here")))
        }
    }

    fn peek(&mut self, c: char) -> bool {
        self.skip_ws();
        self.text[self.pos..].starts_with(c)
    }

    fn number<T: std::str::FromStr>(&mut self, what: &str) -> Result<T, DataTypeError> {
        let (word, range) = self.word();
        word.parse().map_err(|_| self.error(range, format!("expected {what}, found `{word}`"), format!("write {what}")))
    }

    fn positive(&mut self, what: &str) -> Result<i32, DataTypeError> {
        let start = self.pos;
        let n = self.number::<i32>(what)?;
        if n <= 0 {
            return Err(self.error(
                start..self.pos,
                format!("{what} must be positive, found {n}"),
                format!("write {what} of 1 or more"),
            ));
        }
        Ok(n)
    }

    fn unit(&mut self) -> Result<(TimeUnit, Range<usize>), DataTypeError> {
        let (word, range) = self.word();
        let unit = match word.to_lowercase().as_str() {
            "second" | "s" => TimeUnit::Second,
            "millisecond" | "ms" => TimeUnit::Millisecond,
            "microsecond" | "us" => TimeUnit::Microsecond,
            "nanosecond" | "ns" => TimeUnit::Nanosecond,
            _ => {
                return Err(self.error(
                    range,
                    format!("unknown time unit `{word}`"),
                    "use second (s), millisecond (ms), microsecond (us) or nanosecond (ns)",
                ));
            }
        };
        Ok((unit, range))
    }

    fn data_type(&mut self) -> Result<DataType, DataTypeError> {
        self.depth += 1;
        let result = self.data_type_inner();
        self.depth -= 1;
        result
    }

    fn data_type_inner(&mut self) -> Result<DataType, DataTypeError> {
        if self.depth > MAX_NESTING {
            let end = self.text.len();
            return Err(self.error(
                self.pos..end,
                format!("types nested deeper than {MAX_NESTING} levels"),
                "flatten the type",
            ));
        }
        let (word, range) = self.word();
        if word.is_empty() {
            let end = (self.pos + 1).min(self.text.len());
            return Err(self.error(
                self.pos..end.max(self.pos),
                "expected a data type",
                "write a type such as `int64` or `string`",
            ));
        }
        let name = word.to_lowercase();
        let simple = match name.as_str() {
            "bool" | "boolean" => Some(DataType::Boolean),
            "int8" => Some(DataType::Int8),
            "int16" => Some(DataType::Int16),
            "int32" | "int" | "integer" => Some(DataType::Int32),
            "int64" | "long" => Some(DataType::Int64),
            "uint8" => Some(DataType::UInt8),
            "uint16" => Some(DataType::UInt16),
            "uint32" => Some(DataType::UInt32),
            "uint64" => Some(DataType::UInt64),
            "float16" => Some(DataType::Float16),
            "float32" | "float" => Some(DataType::Float32),
            "float64" | "double" => Some(DataType::Float64),
            "string" | "utf8" => Some(DataType::Utf8),
            "large_string" | "large_utf8" => Some(DataType::LargeUtf8),
            "binary" => Some(DataType::Binary),
            "large_binary" => Some(DataType::LargeBinary),
            "date32" | "date" => Some(DataType::Date32),
            "date64" => Some(DataType::Date64),
            "null" => Some(DataType::Null),
            _ => None,
        };
        if let Some(ty) = simple {
            if self.peek('<') {
                let end = self.text.len();
                return Err(self.error(
                    self.pos..end,
                    format!("`{word}` takes no parameters"),
                    format!("write just `{word}`"),
                ));
            }
            return Ok(ty);
        }
        if !GENERIC.contains(&name.as_str()) {
            let all = SIMPLE.iter().chain(GENERIC).copied();
            let help = suggest::help(&name, all).or("see the list of data types in docs/format.md");
            return Err(self.error(range, format!("unknown data type `{word}`"), help));
        }
        if !self.peek('<') {
            let example = match name.as_str() {
                "list" | "large_list" => "list<int32>",
                "fixed_list" => "fixed_list<float32, 3>",
                "fixed_binary" => "fixed_binary<16>",
                "decimal" | "decimal256" => "decimal<10, 2>",
                "timestamp" => "timestamp<millisecond, UTC>",
                "time32" => "time32<millisecond>",
                "time64" => "time64<microsecond>",
                "duration" => "duration<second>",
                "struct" => "struct<a: int32, b: string>",
                _ => "map<string, int64>",
            };
            return Err(self.error(range, format!("`{word}` needs parameters"), format!("for example `{example}`")));
        }
        self.expect('<', "")?;
        let ty = match name.as_str() {
            "list" => DataType::List(Arc::new(Field::new("item", self.data_type()?, true))),
            "large_list" => DataType::LargeList(Arc::new(Field::new("item", self.data_type()?, true))),
            "fixed_list" => {
                let item = self.data_type()?;
                self.expect(',', "before the list size")?;
                let size = self.positive("a list size")?;
                DataType::FixedSizeList(Arc::new(Field::new("item", item, true)), size)
            }
            "fixed_binary" => DataType::FixedSizeBinary(self.positive("a byte width")?),
            "decimal" | "decimal256" => {
                let start = self.pos;
                let precision = self.number::<u8>("a precision")?;
                self.expect(',', "between precision and scale")?;
                let scale = self.number::<i8>("a scale")?;
                let max = if name == "decimal" { 38 } else { 76 };
                if precision == 0 || precision > max || scale as i16 > precision as i16 {
                    return Err(self.error(
                        start..self.pos,
                        format!("invalid precision and scale {precision}, {scale}"),
                        format!("precision is 1 to {max} and scale at most the precision"),
                    ));
                }
                if name == "decimal" {
                    DataType::Decimal128(precision, scale)
                } else {
                    DataType::Decimal256(precision, scale)
                }
            }
            "timestamp" => {
                let (unit, _) = self.unit()?;
                let tz = if self.peek(',') {
                    self.pos += 1;
                    self.skip_ws();
                    let start = self.pos;
                    let end = self.text[start..].find('>').map_or(self.text.len(), |i| start + i);
                    self.pos = end;
                    let tz = self.text[start..end].trim();
                    if tz.parse::<datafusion::arrow::array::timezone::Tz>().is_err() {
                        return Err(self.error(
                            start..end.max(start + 1).min(self.text.len()),
                            format!("unknown time zone `{tz}`"),
                            "use an IANA name such as `UTC` or `Europe/Vienna`, or an offset such as `+02:00`",
                        ));
                    }
                    Some(tz.into())
                } else {
                    None
                };
                DataType::Timestamp(unit, tz)
            }
            "time32" => match self.unit()? {
                (u @ (TimeUnit::Second | TimeUnit::Millisecond), _) => DataType::Time32(u),
                (_, range) => {
                    return Err(self.error(range, "time32 takes second or millisecond", "use time64 for finer units"));
                }
            },
            "time64" => match self.unit()? {
                (u @ (TimeUnit::Microsecond | TimeUnit::Nanosecond), _) => DataType::Time64(u),
                (_, range) => {
                    return Err(self.error(
                        range,
                        "time64 takes microsecond or nanosecond",
                        "use time32 for coarser units",
                    ));
                }
            },
            "duration" => DataType::Duration(self.unit()?.0),
            "struct" => {
                let mut fields = Vec::new();
                loop {
                    let (field, _) = self.word();
                    if field.is_empty() {
                        let end = (self.pos + 1).min(self.text.len());
                        return Err(self.error(
                            self.pos..end.max(self.pos),
                            "expected a field name",
                            "write `name: type`",
                        ));
                    }
                    self.expect(':', "after the field name")?;
                    fields.push(Field::new(field, self.data_type()?, true));
                    if !self.peek(',') {
                        break;
                    }
                    self.pos += 1;
                }
                DataType::Struct(Fields::from(fields))
            }
            _ => {
                let key = self.data_type()?;
                self.expect(',', "between key and value types")?;
                let value = self.data_type()?;
                let entries = Field::new(
                    "entries",
                    DataType::Struct(Fields::from(vec![
                        Field::new("key", key, false),
                        Field::new("value", value, true),
                    ])),
                    false,
                );
                DataType::Map(Arc::new(entries), false)
            }
        };
        self.expect('>', &format!("to close `{word}<`"))?;
        Ok(ty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v2_types() {
        assert_eq!(parse_data_type("int64").unwrap(), DataType::Int64);
        assert_eq!(parse_data_type(" decimal<10, 2> ").unwrap(), DataType::Decimal128(10, 2));
        assert_eq!(
            parse_data_type("timestamp<millisecond, UTC>").unwrap(),
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
        );
        let nested = parse_data_type("list<struct<a:int32,b:map<string,double>>>").unwrap();
        assert!(matches!(nested, DataType::List(_)));
        assert!(matches!(parse_data_type("fixed_list<float32, 3>").unwrap(), DataType::FixedSizeList(_, 3)));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = format!("{}int32{}", "list<".repeat(100_000), ">".repeat(100_000));
        assert!(parse_data_type(&deep).unwrap_err().message.contains("nested deeper"));
    }

    #[test]
    fn errors_point_at_the_culprit() {
        let e = parse_data_type("list<strng>").unwrap_err();
        assert_eq!(e.range, 5..10);
        assert_eq!(e.help, "did you mean `string`?");
        let e = parse_data_type("timestamp<hour>").unwrap_err();
        assert_eq!(e.range, 10..14);
        let e = parse_data_type("decimal<10 2>").unwrap_err();
        assert_eq!(e.message, "expected `,` between precision and scale");
    }
}
