//! Object stores: S3, Google Cloud Storage, Azure Blob Storage and plain HTTP(S).
//!
//! A compiled plan never holds a store or its credentials. It holds
//! [`StoreDescriptor`]s: the store's URL (`s3://bucket`) and the `storage_config` of the
//! spec with canonical key names, where secrets are still `env(...)` references. The
//! process that runs the plan builds the stores from them ([`build`]), starting from
//! the usual environment variables of each cloud (`AWS_*`, `GOOGLE_*`, `AZURE_*`) and
//! resolving secret references from its own environment, and registers them before the
//! plans are decoded (Parquet scans look their store up while decoding).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use datafusion::execution::runtime_env::RuntimeEnv;
use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::http::HttpBuilder;
use object_store::{ClientConfigKey, ObjectStoreScheme};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::access::secrets;

/// Which kind of object store a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    S3,
    Gcs,
    Azure,
    Http,
}

impl StoreKind {
    /// The kind of store behind `url`; `None` for local files and unknown schemes.
    pub fn of(url: &Url) -> Option<StoreKind> {
        match ObjectStoreScheme::parse(url).ok()?.0 {
            ObjectStoreScheme::AmazonS3 => Some(StoreKind::S3),
            ObjectStoreScheme::GoogleCloudStorage => Some(StoreKind::Gcs),
            ObjectStoreScheme::MicrosoftAzure => Some(StoreKind::Azure),
            ObjectStoreScheme::Http => Some(StoreKind::Http),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            StoreKind::S3 => "S3",
            StoreKind::Gcs => "Google Cloud Storage",
            StoreKind::Azure => "Azure Blob Storage",
            StoreKind::Http => "HTTP",
        }
    }

    /// The canonical spellings of this store's configuration keys (for suggestions).
    pub fn known_keys(self) -> Vec<&'static str> {
        let own: &[&str] = match self {
            StoreKind::S3 => S3_KEYS,
            StoreKind::Gcs => GCS_KEYS,
            StoreKind::Azure => AZURE_KEYS,
            StoreKind::Http => &[],
        };
        own.iter().chain(CLIENT_KEYS).copied().collect()
    }
}

const S3_KEYS: &[&str] = &[
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_region",
    "aws_default_region",
    "aws_bucket",
    "aws_endpoint",
    "aws_endpoint_url_s3",
    "aws_session_token",
    "aws_imdsv1_fallback",
    "aws_virtual_hosted_style_request",
    "aws_s3_express",
    "aws_metadata_endpoint",
    "aws_unsigned_payload",
    "aws_checksum_algorithm",
    "aws_container_credentials_relative_uri",
    "aws_container_credentials_full_uri",
    "aws_container_authorization_token_file",
    "aws_web_identity_token_file",
    "aws_role_arn",
    "aws_role_session_name",
    "aws_endpoint_url_sts",
    "aws_skip_signature",
    "aws_copy_if_not_exists",
    "aws_conditional_put",
    "aws_disable_tagging",
    "aws_request_payer",
    "aws_server_side_encryption",
    "aws_sse_kms_key_id",
    "aws_sse_bucket_key_enabled",
    "aws_sse_customer_key_base64",
];
const GCS_KEYS: &[&str] = &[
    "google_service_account",
    "google_service_account_path",
    "google_service_account_key",
    "google_bucket",
    "google_base_url",
    "google_application_credentials",
    "google_skip_signature",
];
const AZURE_KEYS: &[&str] = &[
    "azure_storage_account_name",
    "azure_storage_account_key",
    "azure_storage_client_id",
    "azure_storage_client_secret",
    "azure_storage_tenant_id",
    "azure_storage_authority_host",
    "azure_storage_sas_key",
    "azure_storage_token",
    "azure_storage_use_emulator",
    "azure_use_fabric_endpoint",
    "azure_storage_endpoint",
    "azure_msi_endpoint",
    "azure_object_id",
    "azure_msi_resource_id",
    "azure_federated_token_file",
    "azure_use_azure_cli",
    "azure_skip_signature",
    "azure_container_name",
    "azure_disable_tagging",
];
const CLIENT_KEYS: &[&str] = &[
    "allow_http",
    "allow_invalid_certificates",
    "connect_timeout",
    "default_content_type",
    "http1_only",
    "http2_only",
    "pool_idle_timeout",
    "pool_max_idle_per_host",
    "proxy_url",
    "proxy_ca_certificate",
    "proxy_excludes",
    "timeout",
    "user_agent",
];

/// The canonical name of a `storage_config` key. Keys are accepted in any case, so
/// the environment-variable spelling of the cloud's docs (`AWS_ACCESS_KEY_ID`) works
/// as well as object_store's (`aws_access_key_id`) and the short one (`access_key_id`).
pub fn canonical_key(kind: StoreKind, key: &str) -> Option<String> {
    let lowered = key.trim().to_ascii_lowercase();
    let client = |prefix: &str| {
        lowered.strip_prefix(prefix).unwrap_or(&lowered).parse::<ClientConfigKey>().ok().map(|k| k.as_ref().to_string())
    };
    match kind {
        StoreKind::S3 => lowered.parse::<AmazonS3ConfigKey>().ok().map(|k| k.as_ref().to_string()),
        StoreKind::Gcs => lowered.parse::<GoogleConfigKey>().ok().map(|k| k.as_ref().to_string()),
        StoreKind::Azure => lowered.parse::<AzureConfigKey>().ok().map(|k| k.as_ref().to_string()),
        StoreKind::Http => client(""),
    }
}

/// How a location is written in a compiled plan, and the settings its form implies.
///
/// Azure locations become `az://container/path` (with the account as a setting):
/// DataFusion finds a plan's store by scheme and host, so the container must be the
/// host. `s3a://` is S3.
pub fn normalize_location(location: &str) -> Result<(Url, Vec<(String, String)>), LocationError> {
    let invalid = |e: url::ParseError| LocationError(format!("`{location}` is not a valid URL: {e}"));
    let url = Url::parse(location).map_err(invalid)?;
    let mut implied = Vec::new();
    let rebuilt = match (url.scheme(), url.host_str()) {
        ("s3a", Some(bucket)) => format!("s3://{bucket}{}", url.path()),
        ("abfs" | "abfss" | "az" | "adl" | "azure", Some(host)) if host.contains('.') => {
            let (account, _) = host.split_once('.').unwrap_or((host, ""));
            if url.username().is_empty() {
                return Err(LocationError(format!(
                    "`{location}` names no container: write `{}://CONTAINER@{host}/path` or `az://CONTAINER/path`",
                    url.scheme()
                )));
            }
            implied.push(("azure_storage_account_name".to_string(), account.to_string()));
            format!("az://{}{}", url.username(), url.path())
        }
        ("https", Some(host))
            if host.ends_with(".blob.core.windows.net") || host.ends_with(".dfs.core.windows.net") =>
        {
            let account = host.split('.').next().unwrap_or_default();
            let mut segments = url.path().trim_start_matches('/').splitn(2, '/');
            let container = segments.next().filter(|c| !c.is_empty()).ok_or_else(|| {
                LocationError(format!("`{location}` names no container: write `https://{host}/CONTAINER/path`"))
            })?;
            implied.push(("azure_storage_account_name".to_string(), account.to_string()));
            format!("az://{container}/{}", segments.next().unwrap_or(""))
        }
        ("abfs" | "abfss" | "adl" | "azure", Some(container)) => format!("az://{container}{}", url.path()),
        _ => return Ok((url, implied)),
    };
    let url = Url::parse(&rebuilt).map_err(invalid)?;
    Ok((url, implied))
}

/// A location that is not a URL of a store Aqueducts can name; the message says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LocationError(pub String);

/// What the process running a plan needs to build one object store.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreDescriptor {
    /// Scheme and authority (`s3://bucket`), as DataFusion looks stores up.
    pub url: String,
    pub kind: StoreKind,
    /// `storage_config` with canonical keys; values may be `env(...)` references.
    pub options: BTreeMap<String, String>,
}

impl StoreDescriptor {
    /// The descriptor of the store holding `url` (already normalized).
    pub fn for_url(url: &Url, options: BTreeMap<String, String>) -> Option<StoreDescriptor> {
        let kind = StoreKind::of(url)?;
        Some(StoreDescriptor { url: store_url(url), kind, options })
    }

    /// The options as shown to people: credentials masked, references kept.
    pub fn shown_options(&self) -> BTreeMap<String, String> {
        self.options
            .iter()
            .map(|(k, v)| {
                let shown = if secrets::is_credential_name(k) && !secrets::has_references(v) {
                    "****".into()
                } else {
                    secrets::display(v)
                };
                (k.clone(), shown)
            })
            .collect()
    }
}

/// Credentials masked: descriptors may end up in debug output.
impl fmt::Debug for StoreDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreDescriptor")
            .field("url", &self.url)
            .field("kind", &self.kind)
            .field("options", &self.shown_options())
            .finish()
    }
}

impl fmt::Display for StoreDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.url, self.kind.name())
    }
}

/// `scheme://authority` of a URL: the key DataFusion registers stores under.
pub fn store_url(url: &Url) -> String {
    let mut out = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    out
}

/// Why a store could not be built. Messages never contain option values.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Secret(#[from] secrets::MissingSecret),
    #[error("`{key}` is not a configuration key of {store}")]
    UnknownKey { store: &'static str, key: String },
    #[error("cannot set up the store for `{url}`: {message}")]
    Build { url: String, message: String },
}

/// Builds the store a descriptor describes, from this process's environment.
pub fn build(descriptor: &StoreDescriptor) -> Result<Arc<dyn ObjectStore>, StoreError> {
    let mut resolved = Vec::with_capacity(descriptor.options.len());
    let mut secret_values = Vec::new();
    for (key, value) in &descriptor.options {
        resolved.push((key.as_str(), secrets::resolve(value)?));
        secret_values.extend(secrets::referenced_values(value));
    }
    let unknown = |key: &str| StoreError::UnknownKey { store: descriptor.kind.name(), key: key.to_string() };
    // A builder that rejects a value may repeat it: never a resolved secret.
    let failed = |e: object_store::Error| StoreError::Build {
        url: descriptor.url.clone(),
        message: secrets::scrub(&e.to_string(), &secret_values),
    };
    // Every builder takes the same steps with its own key type.
    macro_rules! configured {
        ($builder:expr) => {{
            let mut builder = $builder;
            for (key, value) in resolved {
                builder = builder.with_config(key.parse().map_err(|_| unknown(key))?, value);
            }
            Arc::new(builder.build().map_err(failed)?)
        }};
    }
    let store: Arc<dyn ObjectStore> = match descriptor.kind {
        StoreKind::S3 => configured!(AmazonS3Builder::from_env().with_url(&descriptor.url)),
        StoreKind::Gcs => configured!(GoogleCloudStorageBuilder::from_env().with_url(&descriptor.url)),
        StoreKind::Azure => configured!(MicrosoftAzureBuilder::from_env().with_url(&descriptor.url)),
        StoreKind::Http => configured!(HttpBuilder::new().with_url(&descriptor.url)),
    };
    Ok(store)
}

/// Builds every store and registers it where DataFusion looks plans' stores up.
pub fn register(env: &RuntimeEnv, descriptors: &[StoreDescriptor]) -> Result<(), StoreError> {
    for descriptor in descriptors {
        let store = build(descriptor)?;
        let url = Url::parse(&descriptor.url)
            .map_err(|e| StoreError::Build { url: descriptor.url.clone(), message: e.to_string() })?;
        env.register_object_store(&url, store);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_accepted_in_every_spelling_users_copy() {
        let s3 = |k| canonical_key(StoreKind::S3, k);
        assert_eq!(s3("AWS_ACCESS_KEY_ID").as_deref(), Some("aws_access_key_id"));
        assert_eq!(s3("access_key_id").as_deref(), Some("aws_access_key_id"));
        assert_eq!(s3("AWS_REGION").as_deref(), Some("aws_region"));
        assert_eq!(s3("aws_endpoint").as_deref(), Some("aws_endpoint"));
        assert_eq!(s3("AWS_ALLOW_HTTP").as_deref(), Some("allow_http"));
        assert_eq!(s3("aws_regoin"), None);
        let azure = |k| canonical_key(StoreKind::Azure, k);
        assert_eq!(azure("AZURE_STORAGE_ACCOUNT_NAME").as_deref(), Some("azure_storage_account_name"));
        assert_eq!(azure("account_key").as_deref(), Some("azure_storage_account_key"));
        let gcs = |k| canonical_key(StoreKind::Gcs, k);
        assert_eq!(gcs("GOOGLE_SERVICE_ACCOUNT_PATH").as_deref(), Some("google_service_account"));
        assert_eq!(canonical_key(StoreKind::Http, "ALLOW_HTTP").as_deref(), Some("allow_http"));
        for kind in [StoreKind::S3, StoreKind::Gcs, StoreKind::Azure, StoreKind::Http] {
            for key in kind.known_keys() {
                assert!(canonical_key(kind, key).is_some(), "{key} of {kind:?}");
            }
        }
    }

    #[test]
    fn azure_forms_become_container_urls() {
        let n = |l: &str| {
            let (url, implied) = normalize_location(l).unwrap();
            (url.to_string(), implied.into_iter().map(|(_, v)| v).collect::<Vec<_>>())
        };
        assert_eq!(
            n("abfss://data@acct.dfs.core.windows.net/a/b.csv"),
            ("az://data/a/b.csv".into(), vec!["acct".into()])
        );
        assert_eq!(n("https://acct.blob.core.windows.net/data/a/"), ("az://data/a/".into(), vec!["acct".into()]));
        assert_eq!(n("abfs://data/x"), ("az://data/x".into(), vec![]));
        assert_eq!(n("s3a://bucket/k"), ("s3://bucket/k".into(), vec![]));
        assert_eq!(n("gs://bucket/k"), ("gs://bucket/k".into(), vec![]));
        assert!(normalize_location("https://acct.blob.core.windows.net/").is_err());
    }

    #[test]
    fn credentials_are_masked_when_shown() {
        let options = BTreeMap::from([
            ("aws_access_key_id".to_string(), "AKIA".to_string()),
            ("aws_secret_access_key".to_string(), "hunter2".to_string()),
            ("aws_region".to_string(), "eu-west-1".to_string()),
        ]);
        let d = StoreDescriptor { url: "s3://b".into(), kind: StoreKind::S3, options };
        let shown = d.shown_options();
        assert_eq!(shown["aws_secret_access_key"], "****");
        assert_eq!(shown["aws_region"], "eu-west-1");
    }
}
