//! Regular-expression functions of PostgreSQL that DataFusion lacks:
//!
//! - `regexp_split_to_array(text, pattern [, flags])`: the pieces between matches.
//! - `regexp_substr(text, pattern [, start [, n [, flags [, group]]]])`: the `n`th match
//!   at or after character `start` (or its `group`th parenthesised part), NULL if none.
//!
//! Flags are PostgreSQL's: `i` ignores case, `c` respects it; `.` matches a newline and
//! `^`/`$` match only at the ends unless `n` (newline-sensitive), `p` or `w` say
//! otherwise; `x` allows spaces and comments in the pattern. Compiled patterns are kept
//! for the batch.

use super::arguments::Arguments;
use super::declare::function_type;
use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, ListBuilder, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use regex::{Regex, RegexBuilder};

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null)
}

/// Compiled patterns by their text and flags.
#[derive(Default)]
struct Patterns(HashMap<(String, String), Regex>);

impl Patterns {
    fn get(&mut self, pattern: &str, flags: &str) -> Result<&Regex> {
        let key = (pattern.to_string(), flags.to_string());
        if !self.0.contains_key(&key) {
            let mut builder = RegexBuilder::new(pattern);
            // PostgreSQL's default: `.` matches a newline, `^` and `$` only the ends.
            builder.size_limit(10 << 20).dot_matches_new_line(true);
            for flag in flags.chars() {
                match flag {
                    'i' => builder.case_insensitive(true),
                    'c' => builder.case_insensitive(false),
                    's' => builder.dot_matches_new_line(true).multi_line(false),
                    'n' => builder.dot_matches_new_line(false).multi_line(true),
                    'p' => builder.dot_matches_new_line(false).multi_line(false),
                    'w' => builder.dot_matches_new_line(true).multi_line(true),
                    'x' => builder.ignore_whitespace(true),
                    'g' => &mut builder,
                    other => return exec_err!("unknown regular expression flag '{other}'"),
                };
            }
            let compiled = builder.build().map_err(|e| {
                datafusion::error::DataFusionError::Execution(format!("invalid regular expression '{pattern}': {e}"))
            })?;
            self.0.insert(key.clone(), compiled);
        }
        Ok(&self.0[&key])
    }
}

/// Arguments as arrays of one length, with a text or an integer at a row.
struct Rows(Arguments);

impl Rows {
    fn new(name: &str, args: &ScalarFunctionArgs, shape: &[DataType], required: usize) -> Result<Self> {
        Arguments::cast(name, args, shape, required).map(Rows)
    }

    fn len(&self) -> usize {
        self.0.arrays.first().map_or(0, |a| a.len())
    }

    fn text(&self, arg: usize, row: usize) -> Option<&str> {
        let array = self.0.arrays.get(arg)?.as_string::<i32>();
        array.is_valid(row).then(|| array.value(row))
    }

    fn int(&self, arg: usize, row: usize) -> Option<i64> {
        let array = self.0.arrays.get(arg)?.as_primitive::<Int64Type>();
        array.is_valid(row).then(|| array.value(row))
    }

    fn finish(self, out: ArrayRef) -> Result<ColumnarValue> {
        self.0.finish(out)
    }
}

/// The argument types of `regexp_substr(text, pattern, start, n, flags, group)`.
const SUBSTR_SHAPE: [DataType; 6] =
    [DataType::Utf8, DataType::Utf8, DataType::Int64, DataType::Int64, DataType::Utf8, DataType::Int64];

function_type!(RegexpSplitToArray, Signature::user_defined(Volatility::Immutable));

impl ScalarUDFImpl for RegexpSplitToArray {
    fn name(&self) -> &str {
        "regexp_split_to_array"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(2..=3).contains(&arg_types.len()) || !arg_types.iter().all(is_text) {
            return plan_err!("regexp_split_to_array takes a text, a pattern and optional flags");
        }
        Ok(vec![DataType::Utf8; arg_types.len()])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = Rows::new("regexp_split_to_array", &args, &[DataType::Utf8, DataType::Utf8, DataType::Utf8], 2)?;
        let mut patterns = Patterns::default();
        let mut out = ListBuilder::new(StringBuilder::new());
        for row in 0..rows.len() {
            let (Some(text), Some(pattern)) = (rows.text(0, row), rows.text(1, row)) else {
                out.append_null();
                continue;
            };
            let flags = rows.text(2, row).unwrap_or("");
            if flags.contains('g') {
                return exec_err!("regexp_split_to_array does not take the 'g' flag");
            }
            let regex = patterns.get(pattern, flags)?;
            for piece in split(regex, text) {
                out.values().append_value(piece);
            }
            out.append(true);
        }
        rows.finish(Arc::new(out.finish()))
    }
}

/// PostgreSQL's split: pieces between matches, where an empty match splits between
/// characters but neither at the start nor at the end of the text.
fn split<'a>(regex: &Regex, text: &'a str) -> Vec<&'a str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for found in regex.find_iter(text) {
        if found.is_empty() && (found.start() == 0 || found.start() >= text.len()) {
            continue;
        }
        if found.is_empty() && found.start() == start {
            // An empty match right after the previous one: take one character.
            let next = text[start..].chars().next().map_or(text.len(), |c| start + c.len_utf8());
            if next >= text.len() {
                break;
            }
            pieces.push(&text[start..next]);
            start = next;
            continue;
        }
        pieces.push(&text[start..found.start()]);
        start = found.end();
    }
    pieces.push(&text[start..]);
    pieces
}

function_type!(RegexpSubstr, Signature::user_defined(Volatility::Immutable));

impl ScalarUDFImpl for RegexpSubstr {
    fn name(&self) -> &str {
        "regexp_substr"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let shape: &[fn(&DataType) -> bool] = &[is_text, is_text, is_int, is_int, is_text, is_int];
        if !(2..=6).contains(&arg_types.len()) || !arg_types.iter().zip(shape).all(|(t, ok)| ok(t)) {
            return plan_err!(
                "regexp_substr takes a text, a pattern, and optionally a start, an occurrence, flags and a group"
            );
        }
        Ok(SUBSTR_SHAPE[..arg_types.len()].to_vec())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = Rows::new("regexp_substr", &args, &SUBSTR_SHAPE, 2)?;
        let mut patterns = Patterns::default();
        let mut out = StringBuilder::new();
        for row in 0..rows.len() {
            let (Some(text), Some(pattern)) = (rows.text(0, row), rows.text(1, row)) else {
                out.append_null();
                continue;
            };
            let given =
                |arg: usize, default: i64| if arg < rows.0.arrays.len() { rows.int(arg, row) } else { Some(default) };
            let (Some(start), Some(occurrence), Some(group)) = (given(2, 1), given(3, 1), given(5, 0)) else {
                out.append_null();
                continue;
            };
            if start < 1 || occurrence < 1 || group < 0 {
                return exec_err!("regexp_substr: start and occurrence must be positive, the group not negative");
            }
            let flags = if rows.0.arrays.len() > 4 { rows.text(4, row).unwrap_or("") } else { "" };
            let regex = patterns.get(pattern, flags)?;
            let from = text.char_indices().nth(start as usize - 1).map_or(text.len(), |(i, _)| i);
            let found = regex
                .captures_iter(&text[from..])
                .nth(occurrence as usize - 1)
                .and_then(|captures| captures.get(group as usize).map(|m| m.as_str()));
            match found {
                Some(found) => out.append_value(found),
                None => out.append_null(),
            }
        }
        rows.finish(Arc::new(out.finish()))
    }
}

fn is_int(t: &DataType) -> bool {
    t.is_integer() || t.is_null()
}

#[cfg(test)]
mod tests {
    use super::{Regex, split};

    #[test]
    fn splits_as_postgres() {
        let comma = Regex::new(",").unwrap();
        assert_eq!(split(&comma, "a,b,,c"), vec!["a", "b", "", "c"]);
        assert_eq!(split(&comma, ""), vec![""]);
        let spaces = Regex::new(r"\s+").unwrap();
        assert_eq!(split(&spaces, "the quick  fox"), vec!["the", "quick", "fox"]);
        let nothing = Regex::new("").unwrap();
        assert_eq!(split(&nothing, "abc"), vec!["a", "b", "c"]);
    }
}
