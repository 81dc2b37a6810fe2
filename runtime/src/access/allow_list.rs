//! [`AllowList`]: the locations an executor lets plans and compiling clients touch.
//!
//! An executor started with `--allow-location` refuses, before running anything, a plan
//! that touches a location outside the allowed prefixes ([`super::touched`] finds them
//! in the decoded plans), object stores whose settings would send requests or read files
//! elsewhere, and file requests outside the prefixes. The executor (and later the
//! orchestrator) parse the entries here, the same way.

use std::path::Path;

use super::secrets;
use super::touched::{ODBC_LOCATION, touched_locations};
use crate::io::stores::{StoreDescriptor, StoreKind, normalize_location};
use crate::output::repoint::percent_decode;
use crate::pipeline::ExecutablePipeline;

/// Why the allow-list refused something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// A store's settings (an endpoint, a credential file, a secret outside credentials).
    #[error("{0}")]
    Store(String),
    /// A location a plan reads or writes.
    #[error("refused the plan: the plan touches `{location}`, outside the locations this executor allows ({allowed})")]
    Location { location: String, allowed: String },
    /// A plan node whose locations nobody can tell.
    #[error("refused the plan: the plan has {what}, outside the locations this executor allows ({allowed})")]
    Unknown { what: String, allowed: String },
}

/// The prefixes (paths or URLs) plans must stay under; empty allows everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    entries: Vec<String>,
}

impl AllowList {
    /// Allows everything.
    pub fn everything() -> Self {
        AllowList::default()
    }

    /// The entries as users write them (`--allow-location`): relative paths resolve
    /// against `working_directory`, and URLs in any form users write (`abfss://c@account...`,
    /// `s3a://`) become the normalized form plans use. An Azure entry that names its
    /// account also allows that account, in the `https://` form the store check looks for.
    /// Blank entries are ignored.
    pub fn parse(entries: &[String], working_directory: &Path) -> Self {
        let entries = entries
            .iter()
            .map(|entry| entry.trim())
            .filter(|entry| !entry.is_empty())
            .flat_map(|prefix| {
                if !prefix.contains("://") && !prefix.starts_with('/') {
                    return vec![working_directory.join(prefix).display().to_string()];
                }
                match normalize_location(prefix) {
                    Ok((url, implied)) => {
                        let mut entries = vec![url.to_string()];
                        if let Some((_, account)) = implied.iter().find(|(k, _)| k == "azure_storage_account_name") {
                            let path = url.path();
                            entries.push(format!(
                                "https://{account}.blob.core.windows.net/{}{path}",
                                url.host_str().unwrap_or_default()
                            ));
                        }
                        entries
                    }
                    Err(_) => vec![prefix.to_string()],
                }
            })
            .collect();
        AllowList { entries }
    }

    /// The normalized entries, for logs and messages.
    pub fn entries(&self) -> &[String] {
        &self.entries
    }

    pub fn allows_everything(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `location` (a URL) may be touched.
    pub fn allows(&self, location: &str) -> bool {
        self.allows_everything() || is_allowed(location, &self.entries)
    }

    /// Whether plans may read and write databases ([`ODBC_LOCATION`]).
    pub fn allows_databases(&self) -> bool {
        self.allows(ODBC_LOCATION)
    }

    /// What an executor with an allow-list accepts of a plan's stores, checked before any
    /// store is built (see [`check_stores`]).
    pub fn check_stores(&self, descriptors: &[StoreDescriptor]) -> Result<(), AccessError> {
        if self.allows_everything() {
            return Ok(());
        }
        check_stores(descriptors, &self.entries).map_err(AccessError::Store)
    }

    /// Every location the decoded pipeline touches must be allowed.
    pub fn check_pipeline(&self, pipeline: &ExecutablePipeline) -> Result<(), AccessError> {
        if self.allows_everything() {
            return Ok(());
        }
        let allowed = || self.entries.join(", ");
        match touched_locations(pipeline) {
            Ok(locations) => match locations.into_iter().find(|l| !self.allows(l)) {
                Some(location) => Err(AccessError::Location { location, allowed: allowed() }),
                None => Ok(()),
            },
            Err(unknown) => Err(AccessError::Unknown { what: unknown.to_string(), allowed: allowed() }),
        }
    }
}

/// Whether `location` (a URL) lies under one of the allowed prefixes (paths or URLs).
/// Prefixes match whole path segments, and a location with `.` or `..` segments (after
/// percent-decoding) never matches.
fn is_allowed(location: &str, allowed: &[String]) -> bool {
    let location = percent_decode(location);
    let Some((scheme, rest)) = location.split_once("://") else { return false };
    if rest.split('/').any(|segment| segment == ".." || segment == ".") {
        return false;
    }
    allowed.iter().any(|prefix| {
        let prefix = if prefix.contains("://") { prefix.clone() } else { format!("file://{prefix}") };
        let Some((prefix_scheme, prefix_rest)) = prefix.split_once("://") else { return false };
        if !prefix_scheme.eq_ignore_ascii_case(scheme) {
            return false;
        }
        let prefix_rest = prefix_rest.trim_end_matches('/');
        rest == prefix_rest || rest.strip_prefix(prefix_rest).is_some_and(|tail| tail.starts_with('/'))
    })
}

/// Keys that send a store's requests (and the credentials with them) somewhere else, or
/// make the store read files of the machine it is built on.
const REDIRECTING_KEYS: &[&str] = &[
    "aws_endpoint",
    "aws_endpoint_url_s3",
    "aws_endpoint_url_sts",
    "aws_metadata_endpoint",
    "aws_container_credentials_relative_uri",
    "aws_container_credentials_full_uri",
    "aws_container_authorization_token_file",
    "aws_web_identity_token_file",
    "google_base_url",
    "google_service_account",
    "google_application_credentials",
    "azure_storage_endpoint",
    "azure_storage_use_emulator",
    "azure_storage_authority_host",
    "azure_msi_endpoint",
    "azure_federated_token_file",
    "azure_use_azure_cli",
    "proxy_url",
    "proxy_ca_certificate",
];

/// What an executor with an allow-list accepts of a plan's stores, checked before any
/// store is built: settings that redirect requests or read local files only with values
/// the allow-list names (an endpoint such as `http://minio:9000`, a path), and secrets
/// of the executor's environment only as credentials, never as settings that travel
/// elsewhere in clear text (a key id, a user agent, a region, an account name that
/// becomes a host name), where a server's error message could echo them back.
fn check_stores(descriptors: &[StoreDescriptor], allowed: &[String]) -> Result<(), String> {
    for descriptor in descriptors {
        if descriptor.kind == StoreKind::Azure {
            check_azure_account(descriptor, allowed)?;
        }
        for (key, value) in &descriptor.options {
            if key == "google_service_account_key" {
                check_key_endpoint(&descriptor.url, value, allowed)?;
            }
            if secrets::has_references(value) && !secrets::is_credential_name(key) {
                return Err(format!(
                    "the store `{}` takes `{key}` from the executor's environment; only credentials may be",
                    descriptor.url
                ));
            }
            // Switches that point a store at a fixed local endpoint: off is harmless.
            if matches!(key.as_str(), "azure_storage_use_emulator" | "azure_use_azure_cli") {
                if value.eq_ignore_ascii_case("false") {
                    continue;
                }
                return Err(format!(
                    "the store `{}` sets `{key}`, which an executor with --allow-location does not allow",
                    descriptor.url
                ));
            }
            if REDIRECTING_KEYS.contains(&key.as_str()) {
                let location = if value.contains("://") { value.clone() } else { format!("file://{value}") };
                if secrets::has_references(value) || !is_allowed(&location, allowed) {
                    return Err(format!(
                        "the store `{}` sets `{key}` to `{}`, which this executor does not allow (allow it with --allow-location)",
                        descriptor.url,
                        secrets::display(value)
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A service account key may name its own endpoint (`gcs_base_url`), which object_store
/// uses when `google_base_url` is not set: it must be allowed like the setting. The key
/// is read as JSON, as object_store reads it (escapes and all), with the executor's
/// secrets left out; a key entirely from the executor's environment is the executor's.
fn check_key_endpoint(store: &str, key: &str, allowed: &[String]) -> Result<(), String> {
    let refused = |why: &str| format!("the store `{store}` has a service account key that {why}");
    let written = secrets::resolve_with(key, |_| Some(String::new())).map_err(|e| refused(&e.to_string()))?;
    if written.trim().is_empty() {
        return Ok(());
    }
    let parsed: serde_json::Value = serde_json::from_str(&written).map_err(|_| refused("is not a JSON object"))?;
    match parsed.get("gcs_base_url") {
        None => Ok(()),
        Some(serde_json::Value::String(url)) if is_allowed(url, allowed) => Ok(()),
        Some(_) => Err(refused(
            "names its own endpoint (`gcs_base_url`), which this executor does not allow (allow it with --allow-location)",
        )),
    }
}

/// An Azure store whose account the plan names (the account is not part of `az://`
/// locations) needs an allow-list entry in a form that names that account, for that
/// container: `abfss://container@account.dfs.core.windows.net/...` or
/// `https://account.blob.core.windows.net/container/...`.
fn check_azure_account(descriptor: &StoreDescriptor, allowed: &[String]) -> Result<(), String> {
    let Some(account) = descriptor.options.get("azure_storage_account_name") else { return Ok(()) };
    let container = descriptor.url.trim_start_matches("az://").trim_end_matches('/');
    let entry = format!("https://{account}.blob.core.windows.net/{container}");
    let named = allowed.iter().any(|a| a == &entry || a.starts_with(&format!("{entry}/")));
    if named {
        return Ok(());
    }
    Err(format!(
        "the store `{}` names the storage account `{}`, which this executor does not allow (allow it with --allow-location abfss://{container}@ACCOUNT.dfs.core.windows.net/)",
        descriptor.url,
        secrets::display(account)
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{check_stores, is_allowed};
    use crate::io::stores::{StoreDescriptor, StoreKind};

    #[test]
    fn prefixes_match_whole_segments() {
        let allowed = vec!["/data".to_string(), "s3://bucket/in/".to_string()];
        assert!(is_allowed("file:///data/x.csv", &allowed));
        assert!(is_allowed("file:///data", &allowed));
        assert!(!is_allowed("file:///database/x.csv", &allowed));
        assert!(!is_allowed("file:///etc/passwd", &allowed));
        assert!(is_allowed("s3://bucket/in/part-1.parquet", &allowed));
        assert!(!is_allowed("s3://bucket/out/part-1.parquet", &allowed));
        assert!(!is_allowed("gs://bucket/in/x", &allowed));
    }

    #[test]
    fn databases_must_be_allowed_by_name() {
        assert!(!is_allowed(super::ODBC_LOCATION, &["/data".to_string()]));
        assert!(is_allowed(super::ODBC_LOCATION, &["/data".to_string(), "odbc://".to_string()]));
    }

    #[test]
    fn parent_segments_never_match() {
        let allowed = vec!["/data".to_string()];
        assert!(!is_allowed("file:///data/../etc/passwd", &allowed));
        assert!(!is_allowed("file:///data/%2E%2E/etc/passwd", &allowed));
        assert!(!is_allowed("file:///data/./x", &allowed));
    }

    #[test]
    fn executors_with_an_allow_list_refuse_redirecting_stores() {
        let store = |key: &str, value: &str| StoreDescriptor {
            url: "s3://b".into(),
            kind: StoreKind::S3,
            options: BTreeMap::from([(key.to_string(), value.to_string())]),
        };
        let allowed = vec!["s3://b/in".to_string(), "http://127.0.0.1:9000".to_string()];
        assert!(check_stores(&[store("aws_endpoint", "http://127.0.0.1:9000")], &allowed).is_ok());
        assert!(check_stores(&[store("aws_endpoint", "http://evil.example")], &allowed).is_err());
        assert!(check_stores(&[store("google_service_account", "/etc/passwd")], &allowed).is_err());
        let secret = crate::access::secrets::reference("S3_SECRET");
        assert!(check_stores(&[store("aws_secret_access_key", &secret)], &allowed).is_ok());
        assert!(check_stores(&[store("user_agent", &secret)], &allowed).is_err());
        // A key id travels in clear text, and servers echo unknown ones in their errors.
        assert!(check_stores(&[store("aws_access_key_id", &secret)], &allowed).is_err());
        assert!(check_stores(&[store("azure_storage_account_name", &secret)], &allowed).is_err());
        // A service account key naming its own endpoint is checked like `google_base_url`.
        let key = |url: &str| format!(r#"{{"disable_oauth": true, "gcs_base_url": "{url}"}}"#);
        assert!(check_stores(&[store("google_service_account_key", &key("http://evil.example"))], &allowed).is_err());
        assert!(check_stores(&[store("google_service_account_key", &key("http://127.0.0.1:9000"))], &allowed).is_ok());
        let templated = format!(r#"{{"gcs_base_url": "http://evil.example", "private_key": "{secret}"}}"#);
        assert!(check_stores(&[store("google_service_account_key", &templated)], &allowed).is_err());
        // JSON escapes do not hide the endpoint; a key wholly from the environment is the executor's.
        let escaped = format!(r#"{{"gcs\u005fbase_url": "http://evil.example", "private_key": "{secret}"}}"#);
        assert!(check_stores(&[store("google_service_account_key", &escaped)], &allowed).is_err());
        assert!(check_stores(&[store("google_service_account_key", &secret)], &allowed).is_ok());
        // On/off switches: off is fine, on points at a fixed endpoint.
        assert!(check_stores(&[store("azure_storage_use_emulator", "false")], &allowed).is_ok());
        assert!(check_stores(&[store("azure_use_azure_cli", "true")], &allowed).is_err());
        // An Azure account named by the plan must be named by the allow-list.
        let azure = |account: &str| StoreDescriptor {
            url: "az://data".into(),
            kind: StoreKind::Azure,
            options: BTreeMap::from([("azure_storage_account_name".to_string(), account.to_string())]),
        };
        let allowed = vec!["az://data/in".to_string(), "https://trusted.blob.core.windows.net/data/in".to_string()];
        assert!(check_stores(&[azure("trusted")], &allowed).is_ok());
        assert!(check_stores(&[azure("attacker")], &allowed).is_err());
        assert!(format!("{:?}", store("aws_secret_access_key", "hunter2")).contains("****"));
    }
}
