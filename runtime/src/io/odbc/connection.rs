//! Connecting to a database: the process's ODBC environment, connection strings (shown
//! only masked), secrets resolved at the last moment, and the errors that come back in
//! the driver's own words.

use std::fmt;
use std::sync::OnceLock;

use arrow_odbc::odbc_api::{ConnectionOptions, Environment};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::DataFusionError;

use crate::access::secrets;

/// The largest text or binary value of a column without a length (`TEXT`, `VARCHAR`).
pub const MAX_TEXT_BYTES: usize = 1024 * 1024;

/// The process-wide ODBC environment (unixODBC allows one per process).
pub fn environment() -> Result<&'static Environment, OdbcError> {
    static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();
    ENVIRONMENT
        .get_or_init(|| Environment::new().map_err(|e| format!("cannot set up ODBC: {e}")))
        .as_ref()
        .map_err(|message| OdbcError::Connect(message.clone()))
}

/// Why a database could not be reached or queried. Messages never contain the connection
/// string (it may hold a password); they carry the driver's own words.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OdbcError {
    #[error("{0}")]
    Secret(#[from] secrets::MissingSecret),
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("the database rejected the query: {0}")]
    Query(String),
    #[error("cannot read the result: {0}")]
    Read(String),
    /// The commit of a write failed, or its connection was lost before it.
    #[error("{0}")]
    Commit(String),
    #[error(
        "`env(...)` secrets may only stand in a credential of a connection string (PWD, UID, Token, ...), not in `{attribute}`"
    )]
    SecretPlacement { attribute: String },
}

impl From<OdbcError> for DataFusionError {
    fn from(error: OdbcError) -> Self {
        DataFusionError::External(Box::new(error))
    }
}

/// The driver's diagnostic: its own message where ODBC's wrapping names one.
pub(crate) fn driver_message(error: impl fmt::Display) -> String {
    let text = error.to_string().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
    match text.split_once("Message: ") {
        Some((_, message)) => message.split("; No query has been executed").next().unwrap_or(message).to_string(),
        None => text,
    }
}

/// Connects with the connection string's secrets resolved from this process's
/// environment. A secret may stand only in a credential attribute (see
/// [`misplaced_secret`]), and the driver's words are scrubbed of every resolved value:
/// a driver that repeats what it was given (`can't open lib '...'`) repeats no secret.
pub(crate) fn connect(connection_string: &str) -> Result<arrow_odbc::odbc_api::Connection<'static>, OdbcError> {
    if let Some(attribute) = misplaced_secret(connection_string) {
        return Err(OdbcError::SecretPlacement { attribute });
    }
    let resolved = secrets::resolve(connection_string)?;
    let values = secrets::referenced_values(connection_string);
    let environment = environment()?;
    environment
        .connect_with_connection_string(&resolved, ConnectionOptions::default())
        .map_err(|e| OdbcError::Connect(secrets::scrub(&driver_message(e), &values)))
}

/// The attribute of a connection string that holds an `env()` reference although it is
/// not a credential (`Driver=`, `Server=`, a key itself), if any: references are
/// resolved only where a secret belongs, never where a driver would echo it back.
pub fn misplaced_secret(connection_string: &str) -> Option<String> {
    // A string that cannot be read strictly cannot show where its secrets are.
    let Ok(attributes) = attributes(connection_string) else { return Some("the whole string".into()) };
    attributes.into_iter().find_map(|(key, value)| {
        let misplaced = secrets::has_references(&key)
            || (secrets::has_references(&value) && !secrets::is_connection_credential(&key));
        misplaced.then(|| secrets::display(&key))
    })
}

/// The `key=value` attributes of an ODBC connection string, read strictly: a value in
/// braces (which may hold `;`, and `}}` for a brace) starts right after the `=` and is
/// followed by `;` or the end; any other value holds no brace. Anything else is an
/// error: the driver manager reads such text its own way (it resumes right after a
/// closing brace, and does not skip spaces before an opening one), so a string that
/// means one thing here could mean another there (a second `Driver=` hidden in a value).
pub(crate) fn attributes(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ';' || c.is_whitespace());
        if rest.is_empty() {
            return Ok(out);
        }
        let Some((key, after)) = rest.split_once('=') else {
            return Err("an attribute without `=`".into());
        };
        let key = key.trim();
        if key.is_empty() || key.contains(['{', '}', ';']) {
            return Err("an attribute name with braces or without a name".into());
        }
        let (value, next) = if let Some(braced) = after.strip_prefix('{') {
            let mut value = String::new();
            let mut chars = braced.char_indices().peekable();
            let mut end = None;
            while let Some((at, c)) = chars.next() {
                if c == '}' {
                    if chars.peek().is_some_and(|(_, next)| *next == '}') {
                        chars.next();
                        value.push('}');
                        continue;
                    }
                    end = Some(at + 1);
                    break;
                }
                value.push(c);
            }
            let end = end.ok_or_else(|| format!("the value of `{key}` opens a brace it never closes"))?;
            let tail = &braced[end..];
            let trimmed = tail.trim_start_matches([' ', '\t']);
            if !(trimmed.is_empty() || trimmed.starts_with(';')) {
                return Err(format!("text after the closing brace of `{key}`"));
            }
            (value, trimmed)
        } else {
            let (value, next) = after.split_once(';').unwrap_or((after, ""));
            if value.contains(['{', '}']) {
                return Err(format!("a brace inside the value of `{key}` (write the whole value in braces)"));
            }
            (value.trim().to_string(), next)
        };
        out.push((key.to_string(), value));
        rest = next;
    }
}

/// A connection for reading query results. psqlodbc reports `text` and unbounded
/// `varchar` columns with its `MaxLongVarcharSize` (8190 bytes) and fails on longer
/// values; with `UnknownSizes=2` it reports the longest value of the result instead, so
/// they are read whole (up to [`MAX_TEXT_BYTES`]). A connection string that sets either
/// option keeps its choice.
pub(crate) fn connect_for_reading(
    connection_string: &str,
) -> Result<arrow_odbc::odbc_api::Connection<'static>, OdbcError> {
    let connection = connect(connection_string)?;
    let lowered = connection_string.to_ascii_lowercase();
    let sizes_chosen = lowered.contains("unknownsizes") || lowered.contains("maxlongvarcharsize");
    let is_postgres = connection.database_management_system_name().is_ok_and(|name| name == "PostgreSQL");
    if !is_postgres || sizes_chosen {
        return Ok(connection);
    }
    drop(connection);
    let separator = if connection_string.trim_end().ends_with(';') { "" } else { ";" };
    connect(&format!("{connection_string}{separator}UnknownSizes=2;"))
}

/// The schema with types arrow-odbc reads: string and binary views become plain strings
/// and binaries.
pub(crate) fn readable(schema: &Schema) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            let data_type = match f.data_type() {
                DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
                DataType::BinaryView | DataType::LargeBinary => DataType::Binary,
                other => other.clone(),
            };
            f.as_ref().clone().with_data_type(data_type)
        })
        .collect();
    Schema::new(fields)
}

/// A connection string as written in the spec (secrets as references). It is shown,
/// debug-printed included, only with passwords masked.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ConnectionString(String);

impl ConnectionString {
    pub fn new(text: impl Into<String>) -> Self {
        ConnectionString(text.into())
    }

    /// The text to connect with (secret references still to be resolved).
    pub(crate) fn as_written(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&secrets::display(&secrets::mask_passwords(&self.0)))
    }
}

impl fmt::Debug for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}", self = self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_read_braces() {
        assert_eq!(
            attributes("Driver={A;B}}};Pwd=x;;Uid = u").unwrap(),
            vec![("Driver".into(), "A;B}".into()), ("Pwd".into(), "x".into()), ("Uid".into(), "u".into())]
        );
        // What the driver manager would read differently is refused.
        for ambiguous in [
            "Driver={PostgreSQL Unicode}Driver=/data/x.so;Server=h",
            "Pwd= {a;Driver=/tmp/x.so;}",
            "Pwd={a;Driver=/tmp/x.so;",
            "Server=h{x};Driver=y",
            "{Driver}=x",
            "Driver",
        ] {
            assert!(attributes(ambiguous).is_err(), "{ambiguous}");
        }
    }

    #[test]
    fn secrets_stand_only_in_credentials() {
        let secret = secrets::reference("S");
        for placed in [
            format!("Driver=x;PWD={secret}"),
            format!("UID={secret};Token={{{secret}}}"),
            format!("AccessToken={secret}"),
        ] {
            assert_eq!(misplaced_secret(&placed), None, "{placed}");
        }
        assert_eq!(misplaced_secret(&format!("Driver={secret};PWD=x")).as_deref(), Some("Driver"));
        assert_eq!(misplaced_secret(&format!("Server=h{secret};PWD=x")).as_deref(), Some("Server"));
        assert!(misplaced_secret(&format!("{secret}=x")).is_some());
        let refused = connect(&format!("Driver={secret}")).unwrap_err();
        assert!(matches!(refused, OdbcError::SecretPlacement { .. }), "{refused}");
    }
}
