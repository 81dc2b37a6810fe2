//! The spec file as the user wrote it, and the positions inside it.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The syntax of a spec file, chosen by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecFormat {
    Yaml,
    Json,
    Toml,
}

impl SpecFormat {
    /// Picks the format from a file name: `.yml`/`.yaml`, `.json` or `.toml`.
    pub fn from_path(path: &Path) -> Option<SpecFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "yml" | "yaml" => Some(SpecFormat::Yaml),
            "json" => Some(SpecFormat::Json),
            "toml" => Some(SpecFormat::Toml),
            _ => None,
        }
    }

    /// The format's name on the wire and in APIs: `yaml`, `json` or `toml`.
    pub fn key(self) -> &'static str {
        match self {
            SpecFormat::Yaml => "yaml",
            SpecFormat::Json => "json",
            SpecFormat::Toml => "toml",
        }
    }

    /// The format named `key` (any case; `yml` too), as [`SpecFormat::key`] writes it.
    pub fn from_key(key: &str) -> Option<SpecFormat> {
        match key.to_ascii_lowercase().as_str() {
            "yaml" | "yml" => Some(SpecFormat::Yaml),
            "json" => Some(SpecFormat::Json),
            "toml" => Some(SpecFormat::Toml),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SpecFormat::Yaml => "YAML",
            SpecFormat::Json => "JSON",
            SpecFormat::Toml => "TOML",
        }
    }
}

/// A spec file: its display name, its text exactly as read, and its format.
///
/// Every span in the compiler is a byte range into `text`, so diagnostics always
/// point into the original file, never into a templated copy.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    pub path: Option<PathBuf>,
    pub text: Arc<str>,
    pub format: SpecFormat,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>, format: SpecFormat) -> Self {
        SourceFile { name: name.into(), path: None, text: text.into(), format }
    }

    /// The 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        line_col(&self.text, offset)
    }
}

/// The 1-based line and column (in characters) of a byte offset in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = text[line_start..offset].chars().count() + 1;
    (line, col)
}

/// The byte offset of a 1-based line and column (in characters), clamped to the text.
pub fn offset_of(text: &str, line: usize, col: usize) -> usize {
    let mut offset = 0;
    for _ in 1..line.max(1) {
        match text[offset..].find('\n') {
            Some(i) => offset += i + 1,
            None => return text.len(),
        }
    }
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let mut chars = text[offset..line_end].char_indices();
    match chars.nth(col.saturating_sub(1)) {
        Some((i, _)) => offset + i,
        None => line_end,
    }
}

pub(crate) fn ceil_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset < text.len() && !text.is_char_boundary(offset) {
        offset += 1;
    }
    offset
}

pub(crate) fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Maps byte offsets of a decoded string value back to byte offsets in the source file.
///
/// A YAML block scalar, a JSON string with escapes or a templated query differ from the
/// text in the file; the map keeps one source offset per decoded byte (plus one for the
/// end), so a SQL error at byte 17 of a query lands on the right character of the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PosMap {
    offsets: Vec<usize>,
}

impl PosMap {
    /// A string that sits in the file exactly as written, starting at `start`.
    pub fn identity(start: usize, len: usize) -> Self {
        PosMap { offsets: (start..=start + len).collect() }
    }

    /// Every byte of the value maps to the same place (for values with no better map).
    pub fn constant(at: usize, len: usize) -> Self {
        PosMap { offsets: vec![at; len + 1] }
    }

    pub fn from_offsets(offsets: Vec<usize>) -> Self {
        PosMap { offsets }
    }

    /// The source offset of byte `i` of the value.
    pub fn get(&self, i: usize) -> usize {
        match self.offsets.get(i) {
            Some(&o) => o,
            None => self.offsets.last().copied().unwrap_or(0),
        }
    }

    /// The source range of the value's bytes `range`.
    pub fn range(&self, range: Range<usize>) -> Range<usize> {
        let start = self.get(range.start);
        let end = if range.end > range.start { self.get(range.end - 1) + 1 } else { start };
        start..end.max(start)
    }

    /// Composes two maps: `self` maps a rendered string onto a template, `outer` maps
    /// the template onto the file.
    pub fn then(&self, outer: &PosMap) -> PosMap {
        PosMap { offsets: self.offsets.iter().map(|&o| outer.get(o)).collect() }
    }
}

/// Aligns a decoded string with the raw text it was decoded from.
///
/// Walks both strings: equal characters map to each other; a backslash escape (when
/// `escapes` is set, as in JSON, TOML basic and YAML double-quoted strings) maps its
/// decoded character to the backslash; a space folded from a line break maps to the
/// break; other raw characters (quotes, indentation, block headers) are skipped.
pub fn align(decoded: &str, raw: &str, raw_start: usize, escapes: bool) -> PosMap {
    let raw_bytes = raw.as_bytes();
    let mut offsets = Vec::with_capacity(decoded.len() + 1);
    let mut p = 0usize;
    for c in decoded.chars() {
        let resume = p;
        let mut exact = false;
        let at = loop {
            if p >= raw.len() {
                // No raw character matches (should not happen): point at where the
                // search started and keep going from there, so later characters still
                // find their places.
                p = resume;
                break resume.min(raw.len());
            }
            let rc = raw[p..].chars().next().unwrap_or(' ');
            if escapes
                && rc == '\\'
                && let Some((value, len)) = decode_escape(&raw[p..])
            {
                match value {
                    Some(v) if v == c => {
                        let at = p;
                        p += len;
                        break at;
                    }
                    None => {
                        // A line continuation: produces nothing.
                        p += len;
                        continue;
                    }
                    Some(_) => {}
                }
            }
            if rc == c {
                let at = p;
                p += rc.len_utf8();
                exact = true;
                break at;
            }
            if c == ' ' && (rc == '\n' || rc == '\r') {
                let at = p;
                p += 1;
                if rc == '\r' && raw_bytes.get(p) == Some(&b'\n') {
                    p += 1;
                }
                break at;
            }
            p += rc.len_utf8();
        };
        // Each byte of a character written as is maps to the same byte in the file, so
        // ranges end after whole characters.
        for k in 0..c.len_utf8() {
            offsets.push(raw_start + at + if exact { k } else { 0 });
        }
    }
    offsets.push(raw_start + p.min(raw.len()));
    PosMap { offsets }
}

/// Decodes one backslash escape at the start of `s`: the character it stands for
/// (`None` for a line continuation) and its length in bytes.
fn decode_escape(s: &str) -> Option<(Option<char>, usize)> {
    let mut chars = s.char_indices().skip(1);
    let (_, e) = chars.next()?;
    let simple = match e {
        'n' => Some('\n'),
        't' => Some('\t'),
        'r' => Some('\r'),
        'b' => Some('\u{8}'),
        'f' => Some('\u{c}'),
        'e' => Some('\u{1b}'),
        '0' => Some('\0'),
        'a' => Some('\u{7}'),
        'v' => Some('\u{b}'),
        '"' | '\\' | '/' | ' ' | '\'' => Some(e),
        '_' => Some('\u{a0}'),
        'N' => Some('\u{85}'),
        'L' => Some('\u{2028}'),
        'P' => Some('\u{2029}'),
        _ => None,
    };
    if let Some(c) = simple {
        return Some((Some(c), 1 + e.len_utf8()));
    }
    let hex_len = match e {
        'x' => 2,
        'u' => 4,
        'U' => 8,
        '\n' | '\r' | '\t' => {
            // Line continuation: skip the break and the indentation after it.
            let rest = &s[1..];
            let skipped = rest.len() - rest.trim_start_matches([' ', '\t', '\n', '\r']).len();
            return Some((None, 1 + skipped));
        }
        _ => return None,
    };
    let hex = s.get(2..2 + hex_len).filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))?;
    let code = u32::from_str_radix(hex, 16).ok()?;
    // A UTF-16 surrogate pair (JSON) decodes to one character from two escapes.
    if (0xD800..0xDC00).contains(&code) {
        let pair = s
            .get(2 + hex_len..2 + hex_len + 6)
            .and_then(|low| low.strip_prefix("\\u"))
            .and_then(|low| u32::from_str_radix(low, 16).ok())
            .and_then(|low| char::from_u32(0x10000 + ((code - 0xD800) << 10) + low.checked_sub(0xDC00)?));
        return Some(match pair {
            Some(c) => (Some(c), 2 + hex_len + 6),
            None => (Some('\u{fffd}'), 2 + hex_len), // a lone surrogate decodes to U+FFFD
        });
    }
    Some((Some(char::from_u32(code).unwrap_or('\u{fffd}')), 2 + hex_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let text = "ab\nçd\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 3), (2, 1));
        assert_eq!(line_col(text, 5), (2, 2));
        assert_eq!(offset_of(text, 2, 2), 5);
    }

    #[test]
    fn align_literal_block() {
        let raw = "|\n  SELECT a\n  FROM t\n";
        let decoded = "SELECT a\nFROM t\n";
        let map = align(decoded, raw, 100, false);
        assert_eq!(map.get(0), 104);
        assert_eq!(map.get(9), 115); // 'F'
    }

    #[test]
    fn align_maps_whole_characters_and_survives_lone_surrogates() {
        let map = align("café x", "\"café x\"", 0, true);
        assert_eq!(map.range(0..5), 1..6); // `café` ends after the two bytes of é
        let map = align("\u{fffd}z", "\"\\ud800z\"", 0, true);
        assert_eq!(map.get(3), 7); // `z` still found after the lone surrogate
    }

    #[test]
    fn align_folded_and_escaped() {
        let raw = "\"a\\nb\\u00e9 c\"";
        let map = align("a\nbé c", raw, 0, true);
        assert_eq!(map.get(1), 2);
        assert_eq!(map.get(2), 4);
        assert_eq!(map.get(3), 5);
        assert_eq!(map.get(6), 12);
        let map = align("a b", "a\n   b", 0, false);
        assert_eq!(map.get(1), 1);
        assert_eq!(map.get(2), 5);
    }
}
