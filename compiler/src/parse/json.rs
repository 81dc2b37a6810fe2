//! A small JSON parser that keeps byte spans (serde_json does not expose them).

use super::common::{MAX_DEPTH, syntax_error, too_deep};
use crate::diagnostic::Diagnostic;
use crate::node::{Entry, Node, Text, Value};
use crate::source::align;

pub fn parse(text: &str) -> Result<Node, Vec<Diagnostic>> {
    let mut p = Parser { text, bytes: text.as_bytes(), pos: 0 };
    let result = p.value(0).and_then(|node| {
        p.skip_ws();
        if p.pos < p.bytes.len() {
            Err(p.error("unexpected text after the document", "expected the end of the file here"))
        } else {
            Ok(node)
        }
    });
    result.map_err(|d| vec![d])
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, message: &str, label: &str) -> Diagnostic {
        let end = (self.pos + 1).min(self.text.len());
        let end = crate::source::floor_char_boundary(self.text, end).max(self.pos);
        syntax_error("JSON", message, self.pos..end, label)
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, Diagnostic> {
        if depth > MAX_DEPTH {
            return Err(too_deep("JSON", self.pos..self.pos + 1));
        }
        self.skip_ws();
        let start = self.pos;
        match self.bytes.get(self.pos) {
            None => Err(self.error("unexpected end of file", "expected a value")),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => {
                let text = self.string()?;
                Ok(Node::new(Value::Str(text), start..self.pos))
            }
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("unexpected character", "expected a value")),
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Node, Diagnostic> {
        let start = self.pos;
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(Node::new(value, start..self.pos))
        } else {
            Err(self.error("unexpected word", "expected a value (strings need double quotes)"))
        }
    }

    fn number(&mut self) -> Result<Node, Diagnostic> {
        let start = self.pos;
        while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
        let raw = &self.text[start..self.pos];
        let value = if raw.contains(['.', 'e', 'E']) {
            raw.parse::<f64>().ok().map(Value::Float)
        } else {
            raw.parse::<i128>().ok().map(Value::Int)
        };
        match value {
            Some(v) => Ok(Node::new(v, start..self.pos)),
            None => {
                self.pos = start;
                Err(self.error(&format!("invalid number `{raw}`"), "not a number"))
            }
        }
    }

    fn string(&mut self) -> Result<Text, Diagnostic> {
        let start = self.pos;
        self.pos += 1;
        let mut value = String::new();
        loop {
            let Some(&b) = self.bytes.get(self.pos) else {
                self.pos = start;
                return Err(self.error("unterminated string", "this string is never closed"));
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    break;
                }
                b'\\' => {
                    let esc = self.bytes.get(self.pos + 1).copied();
                    let c = match esc {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            let c = self.unicode_escape()?;
                            value.push(c);
                            continue;
                        }
                        _ => return Err(self.error("invalid escape", "unknown escape sequence")),
                    };
                    value.push(c);
                    self.pos += 2;
                }
                b'\n' => {
                    return Err(self.error("line break inside a string", "use \\n for a line break in a JSON string"));
                }
                0..0x20 => {
                    return Err(self.error("control character inside a string", "escape it, for example \\t for a tab"));
                }
                _ => {
                    let c = self.text[self.pos..].chars().next().unwrap_or('\u{fffd}');
                    value.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
        let raw = &self.text[start..self.pos];
        let map = align(&value, raw, start, true);
        Ok(Text { value, map, untyped: false, poisoned: false })
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let hex = self.text.get(at..at + 4).filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))?;
        u32::from_str_radix(hex, 16).ok()
    }

    fn unicode_escape(&mut self) -> Result<char, Diagnostic> {
        let invalid = |p: &Self| p.error("invalid \\u escape", "expected four hex digits");
        let high = self.hex4(self.pos + 2).ok_or_else(|| invalid(self))?;
        self.pos += 6;
        if (0xD800..0xDC00).contains(&high) {
            if self.text[self.pos..].starts_with("\\u")
                && let Some(low) = self.hex4(self.pos + 2).filter(|l| (0xDC00..0xE000).contains(l))
            {
                self.pos += 6;
                let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                return char::from_u32(code).ok_or_else(|| invalid(self));
            }
            return Ok('\u{fffd}');
        }
        Ok(char::from_u32(high).unwrap_or('\u{fffd}'))
    }

    fn object(&mut self, depth: usize) -> Result<Node, Diagnostic> {
        let start = self.pos;
        self.pos += 1;
        let mut entries = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Node::new(Value::Map(entries), start..self.pos));
        }
        loop {
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b'"') {
                return Err(self.error("expected a key", "keys are strings in double quotes"));
            }
            let key_start = self.pos;
            let key = self.string()?;
            let key_span = key_start..self.pos;
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b':') {
                return Err(self.error("expected `:` after the key", "expected `:`"));
            }
            self.pos += 1;
            let value = self.value(depth + 1)?;
            entries.push(Entry { key: key.value, key_span, value });
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Node::new(Value::Map(entries), start..self.pos));
                }
                _ => return Err(self.error("expected `,` or `}`", "expected `,` or `}`")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Node, Diagnostic> {
        let start = self.pos;
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Node::new(Value::Seq(items), start..self.pos));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Node::new(Value::Seq(items), start..self.pos));
                }
                _ => return Err(self.error("expected `,` or `]`", "expected `,` or `]`")),
            }
        }
    }
}
