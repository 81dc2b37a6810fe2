//! Secrets that a spec takes from the environment of the process that runs the plan.
//!
//! `{{ env("PG_PASSWORD") }}` in a spec does not put the password into the compiled plan:
//! the compiler writes a reference in its place, and the process that runs the plan (the
//! CLI for a local run, the executor for a remote one) replaces the reference with the
//! value of its own environment variable just before it opens the connection or store.
//! References are delimited by control characters that never occur in spec text, and
//! are shown as `{{ env("NAME") }}` wherever text is displayed.

/// Starts a reference; the variable name and [`CLOSE`] follow.
const OPEN: &str = "\u{2}env:";
const CLOSE: char = '\u{3}';

/// The reference to environment variable `name`, as the compiler stores it.
pub fn reference(name: &str) -> String {
    format!("{OPEN}{name}{CLOSE}")
}

/// Whether `name` can be an environment variable name (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether the text holds a reference.
pub fn has_references(text: &str) -> bool {
    text.contains(OPEN)
}

/// A referenced variable that is not set where the plan runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable `{name}` is not set (the spec asks for it with `env(\"{name}\")`)")]
pub struct MissingSecret {
    pub name: String,
}

/// Replaces every reference with the value `lookup` gives for its name.
pub fn resolve_with(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, MissingSecret> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let Some(end) = after.find(CLOSE) else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = &after[..end];
        out.push_str(&lookup(name).ok_or_else(|| MissingSecret { name: name.to_string() })?);
        rest = &after[end + CLOSE.len_utf8()..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The values, in this process, of the variables the text references (those that are
/// set), for [`scrub`].
pub fn referenced_values(text: &str) -> Vec<String> {
    let values = std::cell::RefCell::new(Vec::new());
    let _ = resolve_with(text, |name| {
        let value = std::env::var(name).ok();
        values.borrow_mut().extend(value.clone());
        value
    });
    values.into_inner()
}

/// The text with every occurrence of `values` (resolved secrets) replaced by `****`.
/// Values shorter than 3 characters are left: replacing them would garble messages
/// and hide nothing worth hiding.
pub fn scrub(text: &str, values: &[String]) -> String {
    let mut longest_first: Vec<&String> = values.iter().filter(|v| v.chars().count() >= 3).collect();
    longest_first.sort_by_key(|v| std::cmp::Reverse(v.len()));
    longest_first.into_iter().fold(text.to_string(), |text, value| text.replace(value.as_str(), "****"))
}

/// Whether an ODBC connection string attribute holds a credential, where an `env()`
/// secret may stand: `PWD`, `Password`, `UID`, `User`, `Token`, `AccessToken`, any
/// `...Secret...`, in any case.
pub fn is_connection_credential(attribute: &str) -> bool {
    let name = attribute.trim().to_ascii_lowercase();
    ["pwd", "uid", "user", "username", "user id"].contains(&name.as_str())
        || ["password", "token", "secret"].iter().any(|marker| name.contains(marker))
}

/// Replaces every reference with the value of its variable in this process.
pub fn resolve(text: &str) -> Result<String, MissingSecret> {
    resolve_with(text, |name| std::env::var(name).ok())
}

/// The text as users wrote it: each reference shown as `{{ env("NAME") }}`.
pub fn display(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let Some(end) = after.find(CLOSE) else { break };
        out.push_str(&format!("{{{{ env(\"{}\") }}}}", &after[..end]));
        rest = &after[end + CLOSE.len_utf8()..];
    }
    out.push_str(rest);
    out
}

/// The text with the values of `PWD=`, `Password=`, `Token=`, `AccessToken=` and
/// `...Secret=` (as in ODBC connection strings) replaced by `*`, byte for byte. A value
/// ends at `;`, a quote or the end of the line; a value in braces (`PWD={a;b}`) at the
/// closing brace, one in quotes (`PWD="a;b"`, quotes inside doubled) at the closing
/// quote. References to secrets and templates are left as they are.
pub fn mask_passwords(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut bytes = text.as_bytes().to_vec();
    for key in ["pwd", "password", "token", "secret"] {
        let mut from = 0;
        while let Some(found) = lower[from..].find(key) {
            let after_key = from + found + key.len();
            from = after_key;
            // `PWD = value`: spaces may surround the `=`.
            let rest = &text.as_bytes()[after_key..];
            let Some(equals) = rest.iter().position(|&b| b != b' ') else { break };
            if rest[equals] != b'=' {
                continue;
            }
            let spaces = rest[equals + 1..].iter().take_while(|&&b| b == b' ').count();
            let start = after_key + equals + 1 + spaces;
            let value = &text.as_bytes()[start..];
            // A secret reference or a template (`{{ env("X") }}`) is not a password.
            if value.starts_with(OPEN.as_bytes()) || value.starts_with(b"{{") {
                continue;
            }
            let (start, length) = match value.first() {
                Some(b'{') => (start, braced_length(value)),
                Some(&quote @ (b'"' | b'\'')) => (start + 1, quoted_value_length(&value[1..], quote)),
                _ => (
                    start,
                    value.iter().position(|&b| matches!(b, b';' | b'\'' | b'"' | b'\n' | b'\r')).unwrap_or(value.len()),
                ),
            };
            bytes[start..start + length].fill(b'*');
            from = start + length;
        }
    }
    // Only whole values between ASCII delimiters were replaced: still UTF-8.
    String::from_utf8(bytes).unwrap_or_else(|_| text.to_string())
}

/// The length of a quoted value up to its closing `quote` (a doubled quote is one quote
/// inside the value), or to the end of the line when it has none.
fn quoted_value_length(inside: &[u8], quote: u8) -> usize {
    let mut at = 0;
    while at < inside.len() {
        match inside[at] {
            b if b == quote && inside.get(at + 1) == Some(&quote) => at += 2,
            b if b == quote => return at,
            b'\n' | b'\r' => return at,
            _ => at += 1,
        }
    }
    at
}

/// Whether a setting of this name holds a credential (`aws_secret_access_key`,
/// `AZURE_STORAGE_ACCOUNT_KEY`, `sas_token`, ...), in any case. Identifiers
/// (`aws_access_key_id`) are not credentials.
pub fn is_credential_name(name: &str) -> bool {
    const MARKERS: &[&str] = &[
        "secret",
        "account_key",
        "access_key",
        "master_key",
        "customer_key",
        "private_key",
        "service_account_key",
        "sas_",
        "token",
        "password",
    ];
    let name = name.to_ascii_lowercase();
    MARKERS.iter().any(|m| name.contains(m)) && !name.ends_with("_id")
}

/// The text with the values of credential settings (`aws_secret_access_key: ...`,
/// `AZURE_STORAGE_ACCOUNT_KEY = "..."`, any `*token*`, `*sas*`, `*password*`) replaced by
/// `*`, byte for byte, in YAML, JSON and TOML alike. Templates and references are left.
pub fn mask_credential_settings(text: &str) -> String {
    let bytes_in = text.as_bytes();
    let mut bytes = bytes_in.to_vec();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < bytes_in.len() {
        if !is_word(bytes_in[i]) || (i > 0 && is_word(bytes_in[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes_in.len() && is_word(bytes_in[i]) {
            i += 1;
        }
        if !is_credential_name(&text[start..i]) {
            continue;
        }
        // `key: value`, `"key": "value"`, `key = "value"`.
        let mut j = i;
        while j < bytes_in.len() && matches!(bytes_in[j], b'"' | b'\'' | b' ' | b'\t') {
            j += 1;
        }
        if j >= bytes_in.len() || !matches!(bytes_in[j], b':' | b'=') {
            continue;
        }
        j += 1;
        while j < bytes_in.len() && matches!(bytes_in[j], b' ' | b'\t') {
            j += 1;
        }
        let value = &bytes_in[j..];
        let unquoted = if matches!(value.first(), Some(b'"' | b'\'')) { &value[1..] } else { value };
        if unquoted.starts_with(b"{{") || unquoted.starts_with(b"${") || unquoted.starts_with(OPEN.as_bytes()) {
            continue;
        }
        let (from, length) = match value.first() {
            Some(&quote) if quote == b'"' || quote == b'\'' => (j + 1, quoted_length(&value[1..], quote)),
            Some(b'|' | b'>') => {
                let indent = start - text[..start].rfind('\n').map_or(0, |p| p + 1);
                (j, block_scalar_length(value, indent))
            }
            _ => {
                let end =
                    value.iter().position(|&b| matches!(b, b',' | b'}' | b'\n' | b'\r' | b'#')).unwrap_or(value.len());
                let trimmed = value[..end].iter().rposition(|&b| b != b' ' && b != b'\t').map_or(0, |p| p + 1);
                (j, trimmed)
            }
        };
        // Line breaks and indentation stay, so a masked snippet keeps its lines.
        let mut line_start = false;
        for b in &mut bytes[from..from + length] {
            match *b {
                b'\n' | b'\r' => line_start = true,
                b' ' if line_start => {}
                _ => {
                    line_start = false;
                    *b = b'*';
                }
            }
        }
        i = from + length;
    }
    // Only whole values between ASCII delimiters were replaced: still UTF-8.
    String::from_utf8(bytes).unwrap_or_else(|_| text.to_string())
}

/// The length of a quoted value's inside, up to its closing `quote`: in double quotes a
/// backslash escapes the next character (JSON, TOML, YAML), in single quotes `''` stands
/// for a quote (YAML). Without a closing quote, up to the end of the line.
fn quoted_length(inside: &[u8], quote: u8) -> usize {
    let mut i = 0;
    while i < inside.len() {
        match inside[i] {
            b'\\' if quote == b'"' => i += 2,
            b'\'' if quote == b'\'' && inside.get(i + 1) == Some(&b'\'') => i += 2,
            b if b == quote => return i,
            _ => i += 1,
        }
    }
    inside.iter().position(|&b| b == b'\n').unwrap_or(inside.len())
}

/// The length of a YAML block scalar (`key: |` or `key: >` then lines indented deeper
/// than the key, at `key_indent`), from its indicator to the end of its last line.
fn block_scalar_length(value: &[u8], key_indent: usize) -> usize {
    let Some(first_break) = value.iter().position(|&b| b == b'\n') else { return value.len() };
    let mut end = first_break;
    let mut line_start = first_break + 1;
    while line_start < value.len() {
        let line_end = value[line_start..].iter().position(|&b| b == b'\n').map_or(value.len(), |p| line_start + p);
        let line = &value[line_start..line_end];
        let indent = line.iter().take_while(|&&b| b == b' ').count();
        let blank = line.iter().all(|&b| b == b' ' || b == b'\r');
        if !blank && indent <= key_indent {
            break;
        }
        end = line_end;
        line_start = line_end + 1;
    }
    end
}

/// The length of `{...}` where `}}` stands for a `}` inside (ODBC's escape).
fn braced_length(value: &[u8]) -> usize {
    let mut i = 1;
    while i < value.len() {
        match value[i] {
            b'}' if value.get(i + 1) == Some(&b'}') => i += 2,
            b'}' => return i + 1,
            b'\n' => return i,
            _ => i += 1,
        }
    }
    value.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_settings_are_masked_in_every_format() {
        let text = "a: { AWS_SECRET_ACCESS_KEY: 'abc', aws_access_key_id: AKIA, token: xyz }\n\
                    \"azure_storage_account_key\": \"k=1\",\nsas_token = \"q\"\naws_secret_access_key: '{{ env(\"X\") }}'\n";
        let masked = mask_credential_settings(text);
        assert_eq!(masked.len(), text.len());
        assert_eq!(
            masked,
            "a: { AWS_SECRET_ACCESS_KEY: '***', aws_access_key_id: AKIA, token: *** }\n\
             \"azure_storage_account_key\": \"***\",\nsas_token = \"*\"\naws_secret_access_key: '{{ env(\"X\") }}'\n"
        );
    }

    #[test]
    fn escaped_quotes_block_scalars_and_private_keys_are_masked_whole() {
        let json = r#"{"private_key": "-----BEGIN\n\"x\"-----", "private_key_id": "k1"}"#;
        assert_eq!(
            mask_credential_settings(json),
            r#"{"private_key": "**********************", "private_key_id": "k1"}"#
        );
        let yaml =
            "a:\n  aws_secret_access_key: 'it''s'\n  service_account_key: |\n    {\"k\": 1}\n\n    more\n  region: x\n";
        assert_eq!(
            mask_credential_settings(yaml),
            "a:\n  aws_secret_access_key: '*****'\n  service_account_key: *\n    ********\n\n    ****\n  region: x\n"
        );
        // A quote left open masks to the end of its line only.
        assert_eq!(mask_credential_settings("token: \"abc\nnext: 1"), "token: \"***\nnext: 1");
    }

    #[test]
    fn references_resolve_where_the_plan_runs() {
        let text = format!("Driver=PostgreSQL;UID=me;PWD={};Port=5432", reference("PG_PASSWORD"));
        assert!(has_references(&text));
        assert!(!text.contains("s3cret"));
        let lookup = |name: &str| (name == "PG_PASSWORD").then(|| "s3cret".to_string());
        assert_eq!(resolve_with(&text, lookup).unwrap(), "Driver=PostgreSQL;UID=me;PWD=s3cret;Port=5432");
        assert_eq!(display(&text), "Driver=PostgreSQL;UID=me;PWD={{ env(\"PG_PASSWORD\") }};Port=5432");
        let missing = resolve_with(&reference("NOPE"), |_| None).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "environment variable `NOPE` is not set (the spec asks for it with `env(\"NOPE\")`)"
        );
        assert_eq!(resolve_with("plain", |_| None).unwrap(), "plain");
    }

    #[test]
    fn every_spelling_of_a_connection_string_credential_is_masked() {
        let table = [
            ("PWD=hunter2;UID=me", "PWD=*******;UID=me"),
            ("pwd=hunter2", "pwd=*******"),
            ("Password=hunter2;Server=db", "Password=*******;Server=db"),
            ("PASSWORD = hunter2 ;X=1", "PASSWORD = ********;X=1"),
            ("Token=abc.def;Server=db", "Token=*******;Server=db"),
            ("AccessToken=abc.def", "AccessToken=*******"),
            ("ClientSecret=s3;Tenant=t", "ClientSecret=**;Tenant=t"),
            ("PWD=\"x;y\";Server=db", "PWD=\"***\";Server=db"),
            ("PWD='x;y';Server=db", "PWD='***';Server=db"),
            ("PWD=\"a\"\"b\";X=1", "PWD=\"****\";X=1"),
            ("PWD={a;b};X=1", "PWD=*****;X=1"),
            ("Uid=pwdadmin;Server=tokens", "Uid=pwdadmin;Server=tokens"),
        ];
        for (written, shown) in table {
            assert_eq!(mask_passwords(written), shown, "{written}");
        }
    }

    #[test]
    fn passwords_with_spaces_and_escaped_braces_are_masked() {
        assert_eq!(mask_passwords("UID=a; PWD = s3cret ;X=1"), "UID=a; PWD = *******;X=1");
        assert_eq!(mask_passwords("Pwd={a}}b;c};X=1"), "Pwd=********;X=1");
        assert_eq!(mask_passwords("PWD={{ env(\"P\") }}"), "PWD={{ env(\"P\") }}");
    }

    #[test]
    fn resolved_secrets_are_scrubbed_from_messages() {
        // SAFETY: a variable of this test alone.
        unsafe { std::env::set_var("AQ_SCRUB_TEST_SECRET", "hunter22") };
        let text = format!("Driver={};PWD=x", reference("AQ_SCRUB_TEST_SECRET"));
        let values = referenced_values(&text);
        assert_eq!(values, vec!["hunter22".to_string()]);
        assert_eq!(
            scrub("Can't open lib 'hunter22' : file not found", &values),
            "Can't open lib '****' : file not found"
        );
        assert_eq!(scrub("a b", &["a".to_string()]), "a b");
        assert!(is_connection_credential("PWD") && is_connection_credential(" AccessToken "));
        assert!(!is_connection_credential("Driver") && !is_connection_credential("Server"));
    }

    #[test]
    fn names_are_checked() {
        assert!(is_valid_name("AWS_SECRET_ACCESS_KEY"));
        assert!(is_valid_name("_x1"));
        assert!(!is_valid_name("1X"));
        assert!(!is_valid_name("A-B"));
        assert!(!is_valid_name(""));
    }
}
