//! [`AllowList`]: the locations an executor lets plans and compiling clients touch.
//!
//! An executor allows only its data directory unless told otherwise (`--allow-location`,
//! with `*` for everything). Before running anything it refuses a plan that touches a
//! location outside the allowed prefixes ([`super::touched`] finds them in the decoded
//! plans), object stores whose settings would send requests or read files elsewhere,
//! and file requests outside the prefixes. Local paths are compared after following
//! symbolic links; loopback, link-local and cloud metadata addresses are refused unless
//! an entry names them, even under `*`. The executor (and later the orchestrator) parse
//! the entries here, the same way.

use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};

use super::secrets;
use super::touched::{ODBC_LOCATION, Touched, touched};
use crate::io::stores::{StoreDescriptor, StoreKind, canonical_key, normalize_location};
use crate::output::repoint::percent_decode;
use crate::pipeline::ExecutablePipeline;

/// The entry that allows every location.
pub const EVERYTHING: &str = "*";

/// Why the allow-list refused something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// A store's settings (an endpoint, a credential file, a secret outside credentials).
    #[error("{0}")]
    Store(String),
    /// A location a plan reads or writes.
    #[error("refused the plan: the plan touches `{location}`, outside the locations this executor allows ({allowed})")]
    Location { location: String, allowed: String },
    /// A destination that is an allowed prefix itself: its staging and its previous copy
    /// would be kept beside it, outside the prefix.
    #[error(
        "refused the plan: the plan replaces `{location}`, which is an allowed location itself; write to a path inside it ({allowed})"
    )]
    WholePrefix { location: String, allowed: String },
    /// A plan node whose locations nobody can tell.
    #[error("refused the plan: the plan has {what}, outside the locations this executor allows ({allowed})")]
    Unknown { what: String, allowed: String },
    /// A database feature this executor does not allow.
    #[error("refused the plan: {0}")]
    Database(String),
}

/// The prefixes (paths or URLs) plans must stay under, or everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList {
    /// `*` was given: every location (internal addresses still only when named).
    everything: bool,
    /// Normalized prefixes; local paths both as written and with links resolved.
    entries: Vec<String>,
}

impl AllowList {
    /// Every location (internal addresses only when named: there are no names).
    pub fn everything() -> Self {
        AllowList { everything: true, entries: Vec::new() }
    }

    /// The entries as users write them (`--allow-location`). No entries allow only
    /// `data_dir`; `*` allows everything. Relative paths resolve against `data_dir`,
    /// local paths are kept as written and with symbolic links resolved, and URLs in
    /// any form users write (`abfss://c@account...`, `s3a://`) become the normalized form
    /// plans use. An Azure entry that names its account also allows that account, in the
    /// `https://` form the store check looks for. Blank entries are ignored.
    pub fn parse(entries: &[String], data_dir: &Path) -> Self {
        let given: Vec<&str> = entries.iter().map(|entry| entry.trim()).filter(|entry| !entry.is_empty()).collect();
        let everything = given.contains(&EVERYTHING);
        let defaults = [data_dir.display().to_string()];
        let given: Vec<&str> = if given.is_empty() { defaults.iter().map(String::as_str).collect() } else { given };
        let entries = given
            .into_iter()
            .filter(|entry| *entry != EVERYTHING)
            .flat_map(|prefix| {
                if !prefix.contains("://") {
                    let path = data_dir.join(prefix);
                    let mut forms = vec![path.display().to_string()];
                    forms.extend(resolve_links(&path).map(|p| p.display().to_string()));
                    forms.dedup();
                    return forms;
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
        AllowList { everything, entries }
    }

    /// The normalized entries (with `*` first when given), for logs and messages.
    pub fn entries(&self) -> Vec<String> {
        let everything = self.everything.then(|| EVERYTHING.to_string());
        everything.into_iter().chain(self.entries.iter().cloned()).collect()
    }

    pub fn allows_everything(&self) -> bool {
        self.everything
    }

    /// Whether `location` (a URL) may be touched. A local path must be allowed both as
    /// written and with its links resolved; an internal address (loopback, link-local,
    /// cloud metadata) only when an entry names it.
    pub fn allows(&self, location: &str) -> bool {
        if names_kernel_files(location) || canonical_file_url(location).is_some_and(|c| names_kernel_files(&c)) {
            return false;
        }
        if names_internal_address(location) {
            return is_allowed(location, &self.entries);
        }
        if self.everything {
            return true;
        }
        if !is_allowed(location, &self.entries) {
            return false;
        }
        match canonical_file_url(location) {
            Some(canonical) => is_allowed(&canonical, &self.entries),
            None => true,
        }
    }

    /// Whether `location` may be replaced: allowed, and inside an allowed prefix rather
    /// than one itself (its staging and previous copy are kept beside it).
    fn allows_replacing(&self, location: &str) -> Result<(), AccessError> {
        if !self.allows(location) {
            return Err(AccessError::Location { location: location.to_string(), allowed: self.shown() });
        }
        if self.everything {
            return Ok(());
        }
        let canonical = canonical_file_url(location);
        let forms = [Some(location.to_string()), canonical];
        let whole = forms.iter().flatten().any(|form| self.entries.iter().any(|entry| same_location(form, entry)));
        if whole {
            return Err(AccessError::WholePrefix { location: location.to_string(), allowed: self.shown() });
        }
        Ok(())
    }

    /// Whether plans may read and write databases ([`ODBC_LOCATION`]).
    pub fn allows_databases(&self) -> bool {
        self.allows(ODBC_LOCATION)
    }

    fn shown(&self) -> String {
        self.entries().join(", ")
    }

    /// What an executor accepts of a plan's stores, checked before any store is built
    /// (see [`check_stores`]); under `*`, settings may point anywhere but at internal
    /// addresses that no entry names.
    pub fn check_stores(&self, descriptors: &[StoreDescriptor]) -> Result<(), AccessError> {
        if self.everything {
            return check_internal_endpoints(descriptors, &self.entries).map_err(AccessError::Store);
        }
        for descriptor in descriptors {
            let store = descriptor.url.trim_end_matches('/');
            let named = self.entries.iter().any(|entry| entry == store || entry.starts_with(&format!("{store}/")));
            if !named {
                return Err(AccessError::Store(format!(
                    "the plan uses the store `{store}`, which this executor does not allow (allowed: {})",
                    self.shown()
                )));
            }
        }
        check_stores(descriptors, &self.entries).map_err(AccessError::Store)
    }

    /// Every location the decoded pipeline touches must be allowed, every destination
    /// must lie inside an allowed prefix, and databases must be allowed. Returns what the
    /// pipeline touches, for the checks of [`super::databases`].
    pub fn check_pipeline(&self, pipeline: &ExecutablePipeline) -> Result<Touched, AccessError> {
        let touched = touched(pipeline)
            .map_err(|unknown| AccessError::Unknown { what: unknown.to_string(), allowed: self.shown() })?;
        if let Some(location) = touched.read.iter().find(|l| !self.allows(l)) {
            return Err(AccessError::Location { location: location.clone(), allowed: self.shown() });
        }
        for location in &touched.written {
            self.allows_replacing(location)?;
        }
        if !touched.databases.is_empty() && !self.allows_databases() {
            return Err(AccessError::Location { location: ODBC_LOCATION.to_string(), allowed: self.shown() });
        }
        Ok(touched)
    }
}

/// The longest existing ancestor of `path` with its links resolved, and the rest of the
/// path after it; `None` if nothing of it exists or it has `.`/`..` components.
fn resolve_links(path: &Path) -> Option<PathBuf> {
    if path.components().any(|c| matches!(c, Component::CurDir | Component::ParentDir)) {
        return None;
    }
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(resolved) = std::fs::canonicalize(&existing) {
            return Some(rest.iter().rev().fold(resolved, |path: PathBuf, part| path.join(part)));
        }
        rest.push(existing.file_name()?.to_os_string());
        existing = existing.parent()?.to_path_buf();
    }
}

/// A `file://` location with its links resolved (as far as the path exists).
fn canonical_file_url(location: &str) -> Option<String> {
    let path = location.strip_prefix("file://")?;
    let decoded = percent_decode(path);
    let resolved = resolve_links(Path::new(&decoded))?;
    // Back to a URL: a `%` in the resolved name is a character, not an escape.
    let mut url = format!("file://{}", resolved.display().to_string().replace('%', "%25"));
    if path.ends_with('/') && !url.ends_with('/') {
        url.push('/');
    }
    Some(url)
}

/// The same location, `/` at the end or not (entries are paths or URLs).
fn same_location(location: &str, entry: &str) -> bool {
    let entry = if entry.contains("://") { entry.to_string() } else { format!("file://{entry}") };
    percent_decode(location).trim_end_matches('/') == entry.trim_end_matches('/')
}

/// Kernel file systems describe the executor process (its environment, its memory),
/// never a pipeline's data: refused even under `*`.
fn names_kernel_files(location: &str) -> bool {
    let Some(path) = location.strip_prefix("file://") else { return false };
    let path = percent_decode(path);
    ["/proc", "/sys", "/dev"].iter().any(|root| path == *root || path.starts_with(&format!("{root}/")))
}

/// Whether a URL's host is a loopback, link-local, unspecified or cloud metadata
/// address, which a plan may reach only when an allow-list entry names it.
pub fn names_internal_address(location: &str) -> bool {
    let Ok(url) = url::Url::parse(location) else { return false };
    if !matches!(url.scheme(), "http" | "https") {
        return false;
    }
    match url.host() {
        Some(url::Host::Ipv4(ip)) => is_internal_ip(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_internal_ip(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost"
                || name.ends_with(".localhost")
                || ["metadata", "metadata.google.internal", "instance-data", "instance-data.ec2.internal"]
                    .contains(&name.as_str())
        }
        None => false,
    }
}

fn is_internal_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_link_local() || v4.is_unspecified(),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal_ip(IpAddr::V4(v4));
            }
            // fe80::/10 link-local; fd00:ec2::254 is the EC2 metadata service over IPv6.
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6 == std::net::Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)
        }
    }
}

/// Under `*`: store settings that send requests somewhere may not name an internal
/// address that no entry names, and secrets of the executor's environment stand only in
/// credentials (a region or an endpoint would carry them to whoever reads the errors).
fn check_internal_endpoints(descriptors: &[StoreDescriptor], named: &[String]) -> Result<(), String> {
    for descriptor in descriptors {
        for (key, value) in &descriptor.options {
            check_canonical(descriptor, key)?;
            if secrets::has_references(value) && !secrets::is_credential_name(key) {
                return Err(format!(
                    "the store `{}` takes `{key}` from the executor's environment; only credentials may be",
                    descriptor.url
                ));
            }
            if REGION_KEYS.contains(&key.as_str()) {
                check_region(descriptor, key, value)?;
            }
            // Any URL-valued setting (endpoints, metadata and token services) counts.
            if names_internal_address(value) && !is_allowed(value, named) {
                return Err(format!(
                    "the store `{}` sets `{key}` to the internal address `{}`, which this executor allows only when named (allow it with --allow-location)",
                    descriptor.url,
                    secrets::display(value)
                ));
            }
        }
    }
    Ok(())
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

/// Settings whose value is where a store sends its requests (or a file it reads):
/// allowed only when an allow-list entry names the value.
const REDIRECTING_KEYS: &[&str] = &[
    "aws_endpoint",
    "aws_endpoint_url_s3",
    "google_base_url",
    "google_service_account",
    "google_service_account_path",
    "google_application_credentials",
    "azure_storage_endpoint",
    "proxy_url",
];

/// Switches a plan may only turn off (on, they point a store at a fixed endpoint).
const OFF_ONLY_KEYS: &[&str] = &["azure_storage_use_emulator", "azure_use_azure_cli"];

/// Settings that are values of their own: credentials, and choices that change how the
/// store talks to the endpoint it was given, not which one. Everything else (metadata
/// and token services, credential files of other kinds, role assumption, other buckets
/// or containers) is refused.
const PLAIN_KEYS: &[&str] = &[
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_virtual_hosted_style_request",
    "aws_unsigned_payload",
    "aws_checksum_algorithm",
    "aws_skip_signature",
    "aws_s3_express",
    "aws_request_payer",
    "aws_disable_tagging",
    "aws_server_side_encryption",
    "aws_sse_kms_key_id",
    "aws_sse_bucket_key_enabled",
    "aws_sse_customer_key_base64",
    "google_service_account_key",
    "google_skip_signature",
    "azure_storage_account_name",
    "azure_storage_account_key",
    "azure_storage_sas_key",
    "azure_storage_token",
    "azure_skip_signature",
    "azure_disable_tagging",
    "allow_http",
    "allow_invalid_certificates",
    "connect_timeout",
    "default_content_type",
    "http1_only",
    "http2_only",
    "pool_idle_timeout",
    "pool_max_idle_per_host",
    "proxy_ca_certificate",
    "proxy_excludes",
    "timeout",
    "user_agent",
];

/// Settings that become part of a host name: a region that is not a region would send
/// requests (and credentials) to another host.
const REGION_KEYS: &[&str] = &["aws_region", "aws_default_region"];

/// Every setting must be written as its canonical key (the form the compiler writes):
/// an alias object_store also accepts (`endpoint`, `metadata_endpoint`) would pass any
/// check of the canonical names unseen.
fn check_canonical(descriptor: &StoreDescriptor, key: &str) -> Result<(), String> {
    if canonical_key(descriptor.kind, key).as_deref() == Some(key) {
        return Ok(());
    }
    Err(format!(
        "the store `{}` has the setting `{key}`, which is not a {} setting in its canonical form (`aqueducts plan` writes only those)",
        descriptor.url,
        descriptor.kind.name()
    ))
}

/// A region as the clouds name them (`eu-west-1`): letters, digits and dashes.
fn check_region(descriptor: &StoreDescriptor, key: &str, value: &str) -> Result<(), String> {
    let written = secrets::resolve_with(value, |_| Some("x".into())).unwrap_or_default();
    if !written.is_empty() && written.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return Ok(());
    }
    Err(format!("the store `{}` sets `{key}` to something that is not a region", descriptor.url))
}

/// What an executor with an allow-list accepts of a plan's stores, checked before any
/// store is built: only settings it knows to be harmless ([`PLAIN_KEYS`]), regions that
/// are regions, settings that redirect requests or read local files only with values
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
            check_canonical(descriptor, key)?;
            if key == "google_service_account_key" {
                check_key_endpoint(&descriptor.url, value, allowed)?;
            }
            if secrets::has_references(value) && !secrets::is_credential_name(key) {
                return Err(format!(
                    "the store `{}` takes `{key}` from the executor's environment; only credentials may be",
                    descriptor.url
                ));
            }
            if REGION_KEYS.contains(&key.as_str()) {
                check_region(descriptor, key, value)?;
                continue;
            }
            // Switches that point a store at a fixed local endpoint: off is harmless.
            if OFF_ONLY_KEYS.contains(&key.as_str()) {
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
                // A credential file is checked where its links lead, too.
                let resolved = canonical_file_url(&location);
                let outside = !is_allowed(&location, allowed) || resolved.is_some_and(|r| !is_allowed(&r, allowed));
                if secrets::has_references(value) || outside {
                    return Err(format!(
                        "the store `{}` sets `{key}` to `{}`, which this executor does not allow (allow it with --allow-location)",
                        descriptor.url,
                        secrets::display(value)
                    ));
                }
                continue;
            }
            if !PLAIN_KEYS.contains(&key.as_str()) {
                return Err(format!(
                    "the store `{}` sets `{key}`, which this executor does not allow (it sends requests or reads files elsewhere)",
                    descriptor.url
                ));
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
    use std::sync::Arc;

    use datafusion::datasource::file_format::csv::CsvSink;
    use datafusion::datasource::sink::DataSinkExec;
    use datafusion::execution::object_store::ObjectStoreUrl;
    use datafusion::physical_plan::ExecutionPlan;

    use super::{AccessError, AllowList, check_stores, is_allowed, names_internal_address};
    use crate::io::stores::{StoreDescriptor, StoreKind};
    use crate::output::repoint::sink_config;
    use crate::output::write::Write;
    use crate::pipeline::{ExecutablePipeline, StagePlans};

    /// The physical plan of `sql` (a `COPY` is a file sink).
    fn physical(sql: &str) -> Arc<dyn ExecutionPlan> {
        let ctx = datafusion::prelude::SessionContext::new();
        futures::executor::block_on(async { ctx.sql(sql).await.unwrap().create_physical_plan().await.unwrap() })
    }

    fn stage(plan: Option<Arc<dyn ExecutionPlan>>, write: Option<Write>) -> ExecutablePipeline {
        let stage = StagePlans {
            name: "s".into(),
            plan,
            show: Some(1),
            print_schema: false,
            explain: false,
            explain_analyze: false,
            write,
            materialize: None,
        };
        ExecutablePipeline { stages: vec![stage], stores: vec![] }
    }

    fn copy_to(target: &str) -> Arc<dyn ExecutionPlan> {
        physical(&format!("COPY (SELECT 1 AS a) TO '{target}' STORED AS CSV"))
    }

    #[test]
    fn an_executor_without_entries_allows_only_its_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let allowed = AllowList::parse(&[], dir.path());
        assert!(!allowed.allows_everything());
        assert!(allowed.allows(&format!("file://{}/in/a.csv", dir.path().display())));
        assert!(!allowed.allows("file:///etc/passwd"));
        assert!(!allowed.allows_databases());
        let everything = AllowList::parse(&["*".to_string()], dir.path());
        assert!(everything.allows_everything() && everything.allows("file:///etc/passwd"));
        assert!(!everything.allows("file:///proc/self/environ") && !everything.allows("file:///%70roc/1/mem"));
        assert_eq!(everything.entries(), vec!["*".to_string()]);
    }

    #[test]
    fn links_are_followed_before_checking() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("etc")).unwrap();
        let allowed = AllowList::parse(&[], dir.path());
        assert!(!allowed.allows(&format!("file://{}/etc/passwd", dir.path().display())));
        // A destination that does not exist yet is checked through its existing parent.
        assert!(!allowed.allows(&format!("file://{}/etc/new/out.csv", dir.path().display())));
        assert!(allowed.allows(&format!("file://{}/new/out.csv", dir.path().display())));
    }

    #[test]
    fn sinks_inside_a_stages_plan_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let allowed = AllowList::parse(&["*".to_string()], dir.path());
        let nested = copy_to(&format!("{}/x.csv", dir.path().display()));
        let refused = allowed.check_pipeline(&stage(Some(nested), None)).unwrap_err();
        assert!(
            matches!(&refused, AccessError::Unknown { what, .. } if what.contains("outside its compiled write")),
            "{refused}"
        );
        let write = Write::from_plan(copy_to(&format!("{}/x.csv", dir.path().display()))).unwrap();
        let touched = allowed.check_pipeline(&stage(None, Some(write))).unwrap();
        assert_eq!(touched.written, vec![format!("file://{}/x.csv", dir.path().display())]);
    }

    #[test]
    fn a_write_through_another_store_than_its_path_names_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let sink = copy_to(&format!("{}/x.csv", dir.path().display()));
        let exec = sink.as_ref().downcast_ref::<DataSinkExec>().unwrap();
        let mut config = sink_config(&sink).unwrap();
        config.object_store_url = ObjectStoreUrl::parse("s3://other").unwrap();
        let csv = exec.sink().downcast_ref::<CsvSink>().unwrap();
        let redirected = Arc::new(CsvSink::new(config, csv.writer_options().clone()));
        let plan = Arc::new(DataSinkExec::new(exec.input().clone(), redirected, None));
        let allowed = AllowList::parse(&[], dir.path());
        let refused = allowed.check_pipeline(&stage(None, Some(Write::File(plan)))).unwrap_err();
        assert!(refused.to_string().contains("through the store `s3://other/`"), "{refused}");
    }

    #[test]
    fn a_destination_may_not_be_an_allowed_prefix_itself() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let allowed = AllowList::parse(&[out.display().to_string()], dir.path());
        let whole = Write::from_plan(copy_to(&format!("{}/", out.display()))).unwrap();
        let refused = allowed.check_pipeline(&stage(None, Some(whole))).unwrap_err();
        assert!(matches!(refused, AccessError::WholePrefix { .. }), "{refused}");
        let inside = Write::from_plan(copy_to(&format!("{}/part.csv", out.display()))).unwrap();
        assert!(allowed.check_pipeline(&stage(None, Some(inside))).is_ok());
    }

    #[test]
    fn internal_addresses_only_when_named() {
        for internal in [
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/latest",
            "http://127.0.0.1:9000/bucket",
            "https://localhost/x",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://[::ffff:127.0.0.1]/x",
            "http://[fe80::1]/x",
            "http://0.0.0.0:80/",
        ] {
            assert!(names_internal_address(internal), "{internal}");
            assert!(!AllowList::everything().allows(internal), "{internal}");
        }
        assert!(!names_internal_address("https://example.com/data.csv"));
        assert!(AllowList::everything().allows("https://example.com/data.csv"));
        let dir = tempfile::tempdir().unwrap();
        let named = AllowList::parse(&["*".to_string(), "http://127.0.0.1:9000".to_string()], dir.path());
        assert!(named.allows("http://127.0.0.1:9000/bucket/x.csv"));
        assert!(!named.allows("http://127.0.0.1:9001/bucket/x.csv"));
        let endpoint = |value: &str| StoreDescriptor {
            url: "s3://b".into(),
            kind: StoreKind::S3,
            options: BTreeMap::from([("aws_endpoint".to_string(), value.to_string())]),
        };
        assert!(AllowList::everything().check_stores(&[endpoint("http://169.254.169.254")]).is_err());
        let region = StoreDescriptor {
            url: "s3://b".into(),
            kind: StoreKind::S3,
            options: BTreeMap::from([("aws_region".to_string(), crate::access::secrets::reference("SECRET"))]),
        };
        assert!(AllowList::everything().check_stores(&[region]).is_err(), "secrets only in credentials, even under *");
        assert!(AllowList::everything().check_stores(&[endpoint("https://s3.example.com")]).is_ok());
        assert!(named.check_stores(&[endpoint("http://127.0.0.1:9000")]).is_ok());
    }

    #[test]
    fn stores_must_be_named_by_an_entry() {
        let dir = tempfile::tempdir().unwrap();
        let allowed = AllowList::parse(&["s3://bucket/in".to_string()], dir.path());
        let store = |url: &str| StoreDescriptor { url: url.into(), kind: StoreKind::S3, options: BTreeMap::new() };
        assert!(allowed.check_stores(&[store("s3://bucket")]).is_ok());
        let refused = allowed.check_stores(&[store("s3://other")]).unwrap_err();
        assert!(refused.to_string().contains("the store `s3://other`"), "{refused}");
        assert!(AllowList::parse(&[], dir.path()).check_stores(&[store("s3://bucket")]).is_err());
    }

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
        let gcs = |key: &str, value: &str| StoreDescriptor {
            url: "gs://b".into(),
            kind: StoreKind::Gcs,
            options: BTreeMap::from([(key.to_string(), value.to_string())]),
        };
        let azure_switch = |key: &str, value: &str| StoreDescriptor {
            url: "az://data".into(),
            kind: StoreKind::Azure,
            options: BTreeMap::from([(key.to_string(), value.to_string())]),
        };
        let allowed = vec!["s3://b/in".to_string(), "http://127.0.0.1:9000".to_string()];
        assert!(check_stores(&[store("aws_endpoint", "http://127.0.0.1:9000")], &allowed).is_ok());
        assert!(check_stores(&[store("aws_endpoint", "http://evil.example")], &allowed).is_err());
        assert!(check_stores(&[gcs("google_service_account", "/etc/passwd")], &allowed).is_err());
        let secret = crate::access::secrets::reference("S3_SECRET");
        assert!(check_stores(&[store("aws_secret_access_key", &secret)], &allowed).is_ok());
        assert!(check_stores(&[store("user_agent", &secret)], &allowed).is_err());
        // A key id travels in clear text, and servers echo unknown ones in their errors.
        assert!(check_stores(&[store("aws_access_key_id", &secret)], &allowed).is_err());
        assert!(check_stores(&[azure_switch("azure_storage_account_name", &secret)], &allowed).is_err());
        // A service account key naming its own endpoint is checked like `google_base_url`.
        let key = |url: &str| format!(r#"{{"disable_oauth": true, "gcs_base_url": "{url}"}}"#);
        assert!(check_stores(&[gcs("google_service_account_key", &key("http://evil.example"))], &allowed).is_err());
        assert!(check_stores(&[gcs("google_service_account_key", &key("http://127.0.0.1:9000"))], &allowed).is_ok());
        let templated = format!(r#"{{"gcs_base_url": "http://evil.example", "private_key": "{secret}"}}"#);
        assert!(check_stores(&[gcs("google_service_account_key", &templated)], &allowed).is_err());
        // JSON escapes do not hide the endpoint; a key wholly from the environment is the executor's.
        let escaped = format!(r#"{{"gcs\u005fbase_url": "http://evil.example", "private_key": "{secret}"}}"#);
        assert!(check_stores(&[gcs("google_service_account_key", &escaped)], &allowed).is_err());
        assert!(check_stores(&[gcs("google_service_account_key", &secret)], &allowed).is_ok());
        // On/off switches: off is fine, on points at a fixed endpoint.
        assert!(check_stores(&[azure_switch("azure_storage_use_emulator", "false")], &allowed).is_ok());
        assert!(check_stores(&[azure_switch("azure_use_azure_cli", "true")], &allowed).is_err());
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
        // Aliases, settings that send requests or read files elsewhere, and regions that
        // are host names are refused.
        for (key, value) in [
            ("endpoint", "http://evil.example"),
            ("metadata_endpoint", "http://evil.example"),
            ("aws_metadata_endpoint", "http://evil.example"),
            ("aws_web_identity_token_file", "/etc/shadow"),
            ("aws_container_credentials_full_uri", "http://evil.example"),
            ("aws_endpoint_url_sts", "http://evil.example"),
            ("aws_bucket", "other"),
            ("aws_region", "attacker.example/"),
        ] {
            assert!(check_stores(&[store(key, value)], &allowed).is_err(), "{key}");
        }
        assert!(check_stores(&[store("aws_region", "eu-west-1")], &allowed).is_ok());
        assert!(check_stores(&[store("aws_session_token", &secret)], &allowed).is_ok());
    }
}
