//! Expressions that DataFusion parses or plans differently from PostgreSQL, each
//! rewritten into one it plans as PostgreSQL means it:
//!
//! - `a IS [NOT] DISTINCT FROM b AND c`: the parser reads `b AND c` as the right
//!   operand; PostgreSQL binds `IS` tighter than `AND` and `OR`.
//! - `mod(a, b)` is `a % b`.
//! - `substring(s FROM 'pattern')` is PostgreSQL's regular-expression substring: the
//!   first parenthesised group of the first match, or the whole match
//!   (`regexp_match(s, 'pattern')[1]`); DataFusion takes a text `FROM` as a position.
//! - `LIKE 'p' ESCAPE 'c'` with another escape character than DataFusion's backslash:
//!   the pattern is rewritten for the backslash.
//! - `SIMILAR TO 'p'` must match the whole text, with `%` and `_` as wildcards and `.`
//!   as itself: it becomes an anchored regular expression (`~ '(?s)^(?:...)$'`).
//! - `agg(x) FILTER (WHERE c) OVER (...)`: DataFusion ignores a window aggregate's
//!   filter. For aggregates that skip NULLs it is `agg(CASE WHEN c THEN x END)`; others
//!   are refused rather than answered wrong.
//! - `x op ANY/ALL (SELECT y ...)`: DataFusion compares `x` with a column of the same
//!   qualified name as `y` instead of `y` when both come from the same table; `y` gets
//!   an alias of its own.
//! - `percentile_cont(ARRAY[f1, f2]) WITHIN GROUP (...)` is the array of each fraction's
//!   percentile.
//! - Regular expressions (`~`, `~*`, `!~`, `!~*`, `regexp_replace`, `regexp_like`,
//!   `regexp_match`, `regexp_count`, `regexp_instr`): `.` matches a newline in
//!   PostgreSQL's patterns and not in Rust's, so each pattern with a `.` (and
//!   `substring(s FROM pattern)`'s) starts with `(?s)`, unless flags ask for
//!   newline-sensitive matching (`m`, `n`, `p`) or are known only when the query runs.

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, Spanned, Value,
};

use super::outcome::Unsupported;
use super::syntax::{HIDDEN, expression, function_name, plain_arguments, rename_select_items, string, string_literal};

/// Rewrites one expression whose parts are already rewritten.
pub fn rewrite(expr: &mut Expr) -> Result<(), Unsupported> {
    let replacement = match expr {
        Expr::IsDistinctFrom(..) | Expr::IsNotDistinctFrom(..) => distinct_from_precedence(expr),
        Expr::Function(function) => function_call(function)?,
        Expr::Substring { expr: text, substring_from: Some(from), substring_for: None, .. }
            if string_literal(from).is_some() =>
        {
            let mut pattern = (**from).clone();
            dot_matches_newline(&mut pattern)?;
            Some(expression("regexp_match($0, $1)[1]", vec![(**text).clone(), pattern])?)
        }
        Expr::Like { escape_char: Some(escape), pattern, .. }
        | Expr::ILike { escape_char: Some(escape), pattern, .. } => {
            let (Value::SingleQuotedString(escape_text), Some(text)) = (&escape.value, string_literal(pattern)) else {
                return Ok(());
            };
            let Some(escape_char) = single_char(escape_text) else { return Ok(()) };
            if escape_char != '\\' {
                let converted = backslash_pattern(text, escape_char);
                **pattern = string(&converted);
                if let Expr::Like { escape_char, .. } | Expr::ILike { escape_char, .. } = expr {
                    *escape_char = None;
                }
            }
            None
        }
        Expr::SimilarTo { negated, expr: text, pattern, escape_char } => {
            let Some(pattern_text) = string_literal(pattern) else { return Ok(()) };
            let escape = match escape_char.as_ref().map(|e| &e.value) {
                None => Some('\\'),
                Some(Value::SingleQuotedString(e)) if e.is_empty() => None,
                Some(Value::SingleQuotedString(e)) => match single_char(e) {
                    Some(c) => Some(c),
                    None => return Ok(()),
                },
                Some(_) => return Ok(()),
            };
            let regex = similar_to_regex(pattern_text, escape);
            let op = if *negated { BinaryOperator::PGRegexNotMatch } else { BinaryOperator::PGRegexMatch };
            Some(Expr::Nested(Box::new(Expr::BinaryOp { left: text.clone(), op, right: Box::new(string(&regex)) })))
        }
        Expr::BinaryOp {
            op:
                BinaryOperator::PGRegexMatch
                | BinaryOperator::PGRegexIMatch
                | BinaryOperator::PGRegexNotMatch
                | BinaryOperator::PGRegexNotIMatch,
            right,
            ..
        } => {
            dot_matches_newline(right)?;
            None
        }
        Expr::AnyOp { right, .. } | Expr::AllOp { right, .. } => {
            if let Expr::Subquery(query) = right.as_mut() {
                rename_select_items(query, &[Ident::new(format!("{HIDDEN}value"))]);
            }
            None
        }
        _ => None,
    };
    if let Some(replacement) = replacement {
        *expr = replacement;
    }
    Ok(())
}

/// `a IS DISTINCT FROM (b AND c)` as parsed → `(a IS DISTINCT FROM b) AND c`, down the
/// left spine of the `AND`/`OR` chain the parser took for the right operand.
fn distinct_from_precedence(expr: &Expr) -> Option<Expr> {
    let (left, right, negated) = match expr {
        Expr::IsDistinctFrom(l, r) => (l, r, false),
        Expr::IsNotDistinctFrom(l, r) => (l, r, true),
        _ => return None,
    };
    fn rotate(left: &Expr, right: &Expr, negated: bool) -> Expr {
        match right {
            Expr::BinaryOp { left: inner, op: op @ (BinaryOperator::And | BinaryOperator::Or), right: rest } => {
                Expr::BinaryOp { left: Box::new(rotate(left, inner, negated)), op: op.clone(), right: rest.clone() }
            }
            operand if negated => Expr::IsNotDistinctFrom(Box::new(left.clone()), Box::new(operand.clone())),
            operand => Expr::IsDistinctFrom(Box::new(left.clone()), Box::new(operand.clone())),
        }
    }
    matches!(right.as_ref(), Expr::BinaryOp { op: BinaryOperator::And | BinaryOperator::Or, .. })
        .then(|| rotate(left, right, negated))
}

fn function_call(function: &mut Function) -> Result<Option<Expr>, Unsupported> {
    let Some(name) = function_name(function) else { return Ok(None) };
    let plain = function.filter.is_none() && function.over.is_none() && function.within_group.is_empty();
    match (name.as_str(), plain_arguments(function).as_deref()) {
        ("mod", Some([a, b])) if plain => {
            return Ok(Some(expression("($0 % $1)", vec![(*a).clone(), (*b).clone()])?));
        }
        ("percentile_cont" | "percentile_disc", Some([Expr::Array(array)])) if !function.within_group.is_empty() => {
            let mut each = Vec::with_capacity(array.elem.len());
            for fraction in &array.elem {
                let mut single = function.clone();
                if let FunctionArguments::List(list) = &mut single.args {
                    list.args = vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(fraction.clone()))];
                }
                each.push(Expr::Function(single));
            }
            let mut array = array.clone();
            array.elem = each;
            // PostgreSQL answers NULL, not an array of NULLs, for a group without values.
            let Some(value) = function.within_group.first().map(|order| order.expr.clone()) else { return Ok(None) };
            let answer = match function.filter.as_deref() {
                Some(filter) => expression(
                    "CASE WHEN count($0) FILTER (WHERE $2) = 0 THEN NULL ELSE $1 END",
                    vec![value, Expr::Array(array), filter.clone()],
                )?,
                None => expression("CASE WHEN count($0) = 0 THEN NULL ELSE $1 END", vec![value, Expr::Array(array)])?,
            };
            return Ok(Some(answer));
        }
        _ => {}
    }
    if let Some((pattern_at, flags_at)) = regex_arguments(&name)
        && let FunctionArguments::List(list) = &mut function.args
    {
        let flags = list.args.get(flags_at);
        let newline_sensitive = match flags {
            None => false,
            Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(flags))) => match string_literal(flags) {
                Some(flags) => flags.contains(['m', 'n', 'p']),
                // Flags only known when the query runs: leave the pattern as given.
                None => true,
            },
            Some(_) => true,
        };
        if !newline_sensitive
            && let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(pattern))) = list.args.get_mut(pattern_at)
        {
            dot_matches_newline(pattern)?;
        }
    }
    if function.over.is_some() && function.filter.is_some() {
        window_filter(function, &name)?;
    }
    Ok(None)
}

/// Where DataFusion's regular-expression functions take the pattern and the flags.
fn regex_arguments(name: &str) -> Option<(usize, usize)> {
    match name {
        "regexp_like" | "regexp_match" => Some((1, 2)),
        "regexp_replace" | "regexp_count" => Some((1, 3)),
        "regexp_instr" => Some((1, 4)),
        _ => None,
    }
}

/// Makes `.` in `pattern` match a newline, as it does in PostgreSQL.
fn dot_matches_newline(pattern: &mut Expr) -> Result<(), Unsupported> {
    const DOT_ALL: &str = "(?s)";
    match string_literal(pattern) {
        // A literal without a `.` means the same either way (and keeps its column name).
        Some(text) if text.starts_with(DOT_ALL) || !text.contains('.') => {}
        Some(text) => *pattern = string(&format!("{DOT_ALL}{text}")),
        None => *pattern = expression("($0 || $1)", vec![string(DOT_ALL), pattern.clone()])?,
    }
    Ok(())
}

/// Aggregates whose answer ignores NULL inputs, so that filtering their input and
/// turning the filtered-out inputs into NULLs give the same answer.
const SKIP_NULLS: &[&str] = &[
    "sum",
    "avg",
    "mean",
    "min",
    "max",
    "count",
    "stddev",
    "stddev_samp",
    "stddev_pop",
    "variance",
    "var_samp",
    "var_pop",
    "var",
    "bool_and",
    "bool_or",
    "every",
    "bit_and",
    "bit_or",
    "bit_xor",
    "string_agg",
    "median",
];

/// `agg(x) FILTER (WHERE c) OVER w` → `agg(CASE WHEN c THEN x END) OVER w`.
fn window_filter(function: &mut Function, name: &str) -> Result<(), Unsupported> {
    let Some(condition) = function.filter.take() else { return Ok(()) };
    if !SKIP_NULLS.contains(&name) {
        return Err(Unsupported {
            message: format!(
                "FILTER on the window function {name} is not supported; filter its input with CASE WHEN ... END"
            ),
            span: condition.span(),
        });
    }
    let FunctionArguments::List(list) = &mut function.args else { return Ok(()) };
    for (position, arg) in list.args.iter_mut().enumerate() {
        // `string_agg(x, ', ')`: only the value is filtered, not the separator.
        if position > 0 && name == "string_agg" {
            break;
        }
        let value = match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(value)) => value.clone(),
            // `count(*)` counts the rows that pass: anything not NULL for them.
            FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => Expr::value(Value::Number("1".into(), false)),
            _ => continue,
        };
        let filtered = expression("CASE WHEN $0 THEN $1 END", vec![(*condition).clone(), value])?;
        *arg = FunctionArg::Unnamed(FunctionArgExpr::Expr(filtered));
    }
    Ok(())
}

fn single_char(text: &str) -> Option<char> {
    let mut chars = text.chars();
    let c = chars.next()?;
    chars.next().is_none().then_some(c)
}

/// A `LIKE` pattern written for `escape` rewritten for the backslash: `escape` + `c`
/// becomes `\c`, a backslash (an ordinary character under another escape) `\\`.
fn backslash_pattern(pattern: &str, escape: char) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == escape {
            if let Some(next) = chars.next() {
                out.push('\\');
                out.push(next);
            }
        } else if c == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    out
}

/// A `SIMILAR TO` pattern as an anchored regular expression, as PostgreSQL converts it:
/// `%` is `.*`, `_` is `.`, the escape character quotes the next one, `.`, `^`, `$` and
/// `\` are themselves; the standard's regular-expression operators pass through.
fn similar_to_regex(pattern: &str, escape: Option<char>) -> String {
    // `%` spans newlines, as `.` does in PostgreSQL's regular expressions.
    let mut out = String::from("(?s)^(?:");
    let mut chars = pattern.chars();
    let mut in_brackets = false;
    while let Some(c) = chars.next() {
        if Some(c) == escape {
            if let Some(next) = chars.next() {
                push_literal(&mut out, next);
            }
            continue;
        }
        if in_brackets {
            out.push(c);
            in_brackets = c != ']';
            continue;
        }
        match c {
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            '[' => {
                out.push('[');
                in_brackets = true;
            }
            '.' | '^' | '$' | '\\' => push_literal(&mut out, c),
            other => out.push(other),
        }
    }
    out.push_str(")$");
    out
}

fn push_literal(out: &mut String, c: char) {
    if "\\.^$|?*+()[]{}".contains(c) {
        out.push('\\');
    }
    out.push(c);
}

#[cfg(test)]
mod tests {
    use super::{backslash_pattern, similar_to_regex};

    #[test]
    fn like_and_similar_patterns_convert() {
        assert_eq!(backslash_pattern("%!%%", '!'), "%\\%%");
        assert_eq!(backslash_pattern("a\\b!_", '!'), "a\\\\b\\_");
        assert_eq!(similar_to_regex("(snake|camel)[a-z_]*", Some('\\')), "(?s)^(?:(snake|camel)[a-z_]*)$");
        assert_eq!(similar_to_regex("a%b_c.", Some('\\')), "(?s)^(?:a.*b.c\\.)$");
        assert_eq!(similar_to_regex("50\\%", Some('\\')), "(?s)^(?:50%)$");
    }
}
