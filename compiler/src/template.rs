//! Parameter templating of string values: `${name}` (v2) and minijinja `{{ ... }}` / `{% ... %}`.
//!
//! Templating runs on each string of the parsed tree, never on the file text, so a
//! parameter value (with quotes, colons, `#` or newlines) can only change the string it
//! lands in, never the document's structure. Each rendered string keeps a position map
//! back into the file, so later diagnostics (a SQL error, say) point at the original.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use minijinja::{Environment, UndefinedBehavior};

use crate::diagnostic::{Code, Diagnostic};
use crate::node::{Node, Text, Value};
use crate::source::PosMap;

/// Names that templates may use without a parameter.
const BUILTIN_NAMES: &[&str] =
    &["range", "dict", "namespace", "debug", "loop", "true", "false", "none", "True", "False", "None", "env"];

/// Where `{{ env("NAME") }}` may be used: values resolved by the process that runs the
/// plan (connection strings and store settings), never SQL, names or locations.
const SECRET_KEYS: &[&str] = &["connection_string"];
const SECRET_PARENTS: &[&str] = &["storage_config", "storage_options"];

/// Rendering budget: enough for any sensible loop, small enough that a runaway one
/// fails quickly instead of hanging `check`.
const FUEL: u64 = 1_000_000;

/// Renders every templated string of `root` with `params`.
///
/// Returns diagnostics for missing parameters (each use located), template syntax
/// errors, and a warning per unused parameter. Strings that fail to render are marked
/// `poisoned` so that later checks skip them.
pub fn render_tree(root: &mut Node, params: &BTreeMap<String, String>) -> Vec<Diagnostic> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    let mut syntax = minijinja::syntax::SyntaxConfig::builder();
    syntax.keep_trailing_newline(true);
    if let Ok(syntax) = syntax.build() {
        env.set_syntax(syntax);
    }
    // `env("NAME")` becomes a reference, resolved where the plan runs (never here).
    env.add_function("env", |name: String| -> Result<String, minijinja::Error> {
        if !aqueducts_runtime::access::secrets::is_valid_name(&name) {
            return Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("`{name}` is not an environment variable name"),
            ));
        }
        Ok(aqueducts_runtime::access::secrets::reference(&name))
    });

    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut missing: BTreeMap<String, Vec<Range<usize>>> = BTreeMap::new();
    let mut diagnostics = Vec::new();

    root.for_each_text_mut(&mut |text, _span| {
        if !is_template(&text.value) {
            return;
        }
        let template = Template::parse(&text.value);
        let names = template.names(&env);
        let mut absent = Vec::new();
        for name in &names {
            if params.contains_key(name) {
                used.insert(name.clone());
            } else if !BUILTIN_NAMES.contains(&name.as_str()) {
                absent.push(name.clone());
            }
        }
        if !absent.is_empty() {
            for name in absent {
                let uses = missing.entry(name.clone()).or_default();
                for range in template.uses_of(&name) {
                    uses.push(text.map.range(range));
                }
            }
            text.poisoned = true;
            return;
        }
        match template.render(&env, params) {
            Ok((rendered, map)) => {
                text.map = map.then(&text.map);
                text.value = rendered;
                text.untyped = true;
            }
            Err(error) => {
                let span = error.range().map(|r| template.to_original(r)).unwrap_or(0..text.value.len());
                let detail = error.detail().map(str::to_string).unwrap_or_else(|| error.kind().to_string());
                diagnostics.push(
                    Diagnostic::error(Code::InvalidTemplate, format!("template error: {detail}"))
                        .label(text.map.range(span), error.kind().to_string())
                        .help("templates use `${name}` or minijinja syntax: `{{ name }}`, `{% for x in items %}...{% endfor %}`"),
                );
                text.poisoned = true;
            }
        }
    });

    for (name, uses) in missing {
        let mut d = Diagnostic::error(Code::MissingParameter, format!("missing parameter `{name}`"));
        for (i, span) in uses.into_iter().enumerate() {
            d = d.label(span, if i == 0 { "used here" } else { "and here" });
        }
        diagnostics.push(d.help(format!("pass a value with `--param {name}=...`")));
    }
    for name in params.keys().filter(|k| !used.contains(*k)) {
        diagnostics.push(
            Diagnostic::warning(Code::UnusedParameter, format!("parameter `{name}` is not used by this pipeline"))
                .help(format!(
                    "remove `--param {name}=...`, or use it in the spec as `{{{{ {name} }}}}` or `${{{name}}}`"
                )),
        );
    }
    diagnostics
}

/// Errors for `env()` secrets used where nothing resolves them at run time.
pub fn check_secret_placement(root: &Node) -> Vec<Diagnostic> {
    fn walk(node: &Node, key: Option<&str>, parent: Option<&str>, out: &mut Vec<Diagnostic>) {
        match &node.value {
            Value::Str(text) if aqueducts_runtime::access::secrets::has_references(&text.value) => {
                let allowed = key.is_some_and(|k| SECRET_KEYS.contains(&k))
                    || parent.is_some_and(|p| SECRET_PARENTS.contains(&p));
                if allowed
                    && key == Some("connection_string")
                    && let Some(attribute) = aqueducts_runtime::io::odbc::misplaced_secret(&text.value)
                {
                    out.push(
                        Diagnostic::error(
                            Code::InvalidTemplate,
                            format!("`env(...)` secrets can only stand in a credential of a connection string, not in `{attribute}`"),
                        )
                        .label(node.span.clone(), format!("a secret in `{attribute}`"))
                        .help("write secrets as `PWD={{ env(\"NAME\") }}` (or `UID=`, `Token=`); a driver may repeat other parts in its errors, so write them in the spec or pass them with `--param`"),
                    );
                }
                if !allowed {
                    out.push(
                        Diagnostic::error(
                            Code::InvalidTemplate,
                            "`env(...)` secrets can only be used in `connection_string` and `storage_config` values",
                        )
                        .label(node.span.clone(), "resolved nowhere here")
                        .help("secrets are resolved by the process that runs the plan when it opens a connection or store; elsewhere use a parameter (`--param`)"),
                    );
                }
            }
            Value::Seq(items) => items.iter().for_each(|n| walk(n, None, key, out)),
            Value::Map(entries) => entries.iter().for_each(|e| walk(&e.value, Some(&e.key), key, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(root, None, None, &mut out);
    out
}

fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#") || s.contains("${")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PieceKind {
    Literal,
    /// `{{ ... }}`, `{% ... %}` or `{# ... #}`
    Tag,
    /// `${name}`
    Dollar,
}

#[derive(Debug)]
struct Piece {
    kind: PieceKind,
    range: Range<usize>,
}

/// A template split into literal text and tags, and its minijinja form (where
/// `${name}` became `{{ name }}`) with a map back to the original offsets.
struct Template<'a> {
    source: &'a str,
    pieces: Vec<Piece>,
    jinja: String,
    jinja_to_original: Vec<usize>,
}

impl<'a> Template<'a> {
    fn parse(source: &'a str) -> Self {
        let mut pieces = Vec::new();
        let bytes = source.as_bytes();
        let mut literal_start = 0;
        let mut i = 0;
        while i + 1 < bytes.len() {
            let close = match (bytes[i], bytes[i + 1]) {
                (b'{', b'{') => Some(("}}", PieceKind::Tag)),
                (b'{', b'%') => Some(("%}", PieceKind::Tag)),
                (b'{', b'#') => Some(("#}", PieceKind::Tag)),
                (b'$', b'{') => Some(("}", PieceKind::Dollar)),
                _ => None,
            };
            if let Some((close, kind)) = close {
                let found = source[i + 2..].find(close);
                let end = found.map_or(source.len(), |j| i + 2 + j + close.len());
                // `${` is only a parameter when closed around a plain name; an unclosed
                // `{{` is left to minijinja, which reports it.
                let is_dollar_name = kind != PieceKind::Dollar
                    || (found.is_some() && {
                        let inner = source[i + 2..end.saturating_sub(1).max(i + 2)].trim();
                        !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    });
                if is_dollar_name {
                    if literal_start < i {
                        pieces.push(Piece { kind: PieceKind::Literal, range: literal_start..i });
                    }
                    pieces.push(Piece { kind, range: i..end });
                    literal_start = end;
                    i = end;
                    continue;
                }
            }
            i += 1;
        }
        if literal_start < source.len() {
            pieces.push(Piece { kind: PieceKind::Literal, range: literal_start..source.len() });
        }

        let mut jinja = String::with_capacity(source.len() + 8);
        let mut jinja_to_original = Vec::with_capacity(source.len() + 8);
        for piece in &pieces {
            let text = &source[piece.range.clone()];
            if piece.kind == PieceKind::Dollar {
                let name = text[2..text.len().saturating_sub(1).max(2)].trim();
                let converted = format!("{{{{ {name} }}}}");
                jinja_to_original.extend(std::iter::repeat_n(piece.range.start, converted.len()));
                jinja.push_str(&converted);
            } else {
                jinja_to_original.extend(piece.range.clone());
                jinja.push_str(text);
            }
        }
        jinja_to_original.push(source.len());
        Template { source, pieces, jinja, jinja_to_original }
    }

    fn to_original(&self, range: Range<usize>) -> Range<usize> {
        let at = |i: usize| self.jinja_to_original.get(i).copied().unwrap_or(self.source.len());
        let start = at(range.start);
        let end = if range.end > range.start { at(range.end - 1) + 1 } else { start };
        start..end.max(start)
    }

    /// The variables the template reads that it does not define itself.
    fn names(&self, env: &Environment) -> BTreeSet<String> {
        match env.template_from_str(&self.jinja) {
            Ok(t) => t.undeclared_variables(false).into_iter().collect(),
            // The syntax error is reported when rendering; meanwhile every word in a
            // tag counts as read, so no parameter is called unused because of it.
            Err(_) => self
                .pieces
                .iter()
                .filter(|p| p.kind != PieceKind::Literal)
                .flat_map(|p| self.source[p.range.clone()].split(|c: char| !(c.is_alphanumeric() || c == '_')))
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }

    /// Where `name` is used: inside `${...}` or as a whole word inside a tag.
    fn uses_of(&self, name: &str) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        for piece in self.pieces.iter().filter(|p| p.kind != PieceKind::Literal) {
            let text = &self.source[piece.range.clone()];
            let mut from = 0;
            while let Some(i) = text[from..].find(name) {
                let at = from + i;
                let before = text[..at].chars().next_back();
                let after = text[at + name.len()..].chars().next();
                let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
                if !is_word(before) && !after.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    let start = piece.range.start + at;
                    out.push(start..start + name.len());
                }
                from = at + name.len();
            }
        }
        if out.is_empty() {
            out.push(0..self.source.len());
        }
        out
    }

    /// Renders and maps each byte of the output back to the template: literal text
    /// maps to itself, the output of a tag to the tag.
    fn render(
        &self,
        env: &Environment,
        params: &BTreeMap<String, String>,
    ) -> Result<(String, PosMap), minijinja::Error> {
        let rendered = env.render_str(&self.jinja, params)?;
        Ok((rendered.clone(), self.align(&rendered)))
    }

    fn align(&self, rendered: &str) -> PosMap {
        let mut offsets = Vec::with_capacity(rendered.len() + 1);
        let mut r = 0;
        let mut last_tag = 0;
        for piece in &self.pieces {
            if piece.kind != PieceKind::Literal {
                last_tag = piece.range.start;
                continue;
            }
            let literal = &self.source[piece.range.clone()];
            let Some(found) = rendered[r..].find(literal) else { continue };
            offsets.extend(std::iter::repeat_n(last_tag, found));
            offsets.extend(piece.range.clone());
            r += found + literal.len();
            last_tag = piece.range.end.saturating_sub(1);
        }
        offsets.extend(std::iter::repeat_n(last_tag, rendered.len() - r));
        offsets.push(self.source.len());
        PosMap::from_offsets(offsets)
    }
}

/// Renders one string outside a spec tree (used by tests and tools).
pub fn render_str(source: &str, params: &BTreeMap<String, String>) -> Result<String, Vec<Diagnostic>> {
    let mut node = Node::new(
        crate::node::Value::Str(Text {
            value: source.into(),
            map: PosMap::identity(0, source.len()),
            untyped: false,
            poisoned: false,
        }),
        0..source.len(),
    );
    let diagnostics: Vec<_> = render_tree(&mut node, params).into_iter().filter(|d| d.is_error()).collect();
    match node.value {
        crate::node::Value::Str(t) if diagnostics.is_empty() => Ok(t.value),
        _ => Err(diagnostics),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn env_secrets_become_references() {
        let rendered = render_str("PWD={{ env(\"PG_PASSWORD\") }};UID=me", &params(&[])).unwrap();
        assert!(aqueducts_runtime::access::secrets::has_references(&rendered));
        assert_eq!(aqueducts_runtime::access::secrets::display(&rendered), "PWD={{ env(\"PG_PASSWORD\") }};UID=me");
        let resolved = aqueducts_runtime::access::secrets::resolve_with(&rendered, |_| Some("s3cret".into())).unwrap();
        assert_eq!(resolved, "PWD=s3cret;UID=me");
        assert!(render_str("{{ env(\"not a name\") }}", &params(&[])).is_err());
    }

    #[test]
    fn dollar_and_jinja_render() {
        let p = params(&[("month", "jan"), ("year", "2024")]);
        assert_eq!(render_str("./t_${month}_{{ year }}.csv", &p).unwrap(), "./t_jan_2024.csv");
        assert_eq!(
            render_str("{% for c in ['a','b'] %}{{ c }}{% if not loop.last %}, {% endif %}{% endfor %}", &p).unwrap(),
            "a, b"
        );
    }

    #[test]
    fn missing_parameters_are_each_located() {
        let err = render_str("${a} and {{ b }} and ${a}", &params(&[])).unwrap_err();
        assert_eq!(err.len(), 2);
        assert_eq!(err[0].message, "missing parameter `a`");
        assert_eq!(err[0].labels.iter().map(|l| l.span.clone()).collect::<Vec<_>>(), vec![2..3, 23..24]);
        assert_eq!(err[1].labels[0].span, 12..13);
    }

    #[test]
    fn rendered_positions_map_back() {
        let source = "SELECT {{ col }} FROM t WHERE x";
        let template = Template::parse(source);
        let env = Environment::new();
        let (out, map) = template.render(&env, &params(&[("col", "abc")])).unwrap();
        assert_eq!(out, "SELECT abc FROM t WHERE x");
        assert_eq!(map.get(11), source.find("FROM").unwrap());
        assert_eq!(map.get(7), 7);
    }
}
