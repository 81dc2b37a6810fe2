//! Object stores: each location's `storage_config` checked and turned into a store
//! descriptor, and the stores set up so that schemas and listings are read while checking.

use std::collections::BTreeMap;
use std::ops::Range;

use aqueducts_runtime::io::stores::{self, StoreDescriptor, StoreKind};

use super::context::Checker;
use crate::diagnostic::{Code, Diagnostic};
use crate::plan::{Location, Planner, redact_location, resolve_location};
use crate::spec::{Destination, Pipeline, Source, Spanned, StorageConfig};
use crate::suggest;

impl Checker<'_> {
    /// Checks the `storage_config` of every location on an object store and sets the
    /// stores up in `planner`, so that schemas and listings can be read while checking.
    pub(super) fn check_stores(
        &mut self,
        pipeline: &Pipeline,
        file_text: &str,
        planner: &Planner,
    ) -> Vec<StoreDescriptor> {
        let mut located: Vec<(&Spanned<String>, &StorageConfig, bool)> = Vec::new();
        for source in &pipeline.sources {
            match source {
                Source::File(s) => located.push((&s.location, &s.storage_config, false)),
                Source::Directory(s) => located.push((&s.location, &s.storage_config, false)),
                Source::Delta(s) => located.push((&s.location, &s.storage_config, false)),
                _ => {}
            }
        }
        match &pipeline.destination {
            Some(Destination::File(d)) => located.push((&d.location, &d.storage_config, true)),
            Some(Destination::Delta(d)) => located.push((&d.location, &d.storage_config, true)),
            _ => {}
        }
        let mut stores: Vec<StoreDescriptor> = Vec::new();
        for (location, config, written) in located {
            let Some(descriptor) = self.store_of(location, config, written, file_text) else { continue };
            match stores.iter().find(|d| d.url == descriptor.url) {
                Some(existing) if existing.options != descriptor.options => {
                    self.diagnostics.push(
                        Diagnostic::error(Code::InvalidValue, format!("`{}` is configured twice, with different `storage_config`", descriptor.url))
                            .label(location.span.clone(), "a second configuration of this store")
                            .help("every location on one bucket or container shares one store: give them the same `storage_config`"),
                    );
                    continue;
                }
                Some(_) => continue,
                None => {}
            }
            if let Err(error) = planner.register_store(&descriptor) {
                self.diagnostics.push(
                    Diagnostic::error(Code::SourceUnreadable, error.to_string())
                        .label(location.span.clone(), "this store")
                        .help("check `storage_config` and the environment variables it or the store's cloud reads"),
                );
                continue;
            }
            stores.push(descriptor);
        }
        stores
    }

    /// The store descriptor of one location on an object store, its settings checked;
    /// `None` for a local location or one already reported.
    fn store_of(
        &mut self,
        location: &Spanned<String>,
        config: &StorageConfig,
        written: bool,
        file_text: &str,
    ) -> Option<StoreDescriptor> {
        if self.poisoned(location) {
            return None;
        }
        let Location::Url(text) = resolve_location(&location.value, &self.options.base_dir) else { return None };
        let shown = redact_location(&text);
        let url = match stores::normalize_location(&text) {
            Ok((url, implied)) => (url, implied),
            Err(error) => {
                self.diagnostics.push(
                    Diagnostic::error(Code::InvalidValue, redact_location(&error.to_string()))
                        .label(location.span.clone(), "not a location Aqueducts can read or write")
                        .help(LOCATION_FORMS),
                );
                return None;
            }
        };
        let (url, implied) = url;
        let refuse = |label: &str, help: &str| {
            Diagnostic::error(Code::InvalidValue, format!("cannot use `{shown}` here"))
                .label(location.span.clone(), label.to_string())
                .help(help.to_string())
        };
        if !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
            self.diagnostics.push(refuse(
                "credentials or a query in the URL",
                "put credentials in `storage_config` (with `{{ env(\"NAME\") }}` for secrets), not in the location",
            ));
            return None;
        }
        if written && matches!(StoreKind::of(&url), Some(StoreKind::Http)) {
            self.diagnostics.push(refuse("HTTP locations are read-only", "write to a local path or an object store"));
            return None;
        }
        if written && url.path().trim_matches('/').is_empty() {
            self.diagnostics.push(refuse(
                "the root of a bucket or container",
                "write to a path inside the bucket (`s3://bucket/output/`): replacing the root would delete everything in it",
            ));
            return None;
        }
        let Some(kind) = StoreKind::of(&url) else {
            self.diagnostics.push(
                Diagnostic::error(Code::InvalidValue, format!("`{shown}` is not on a supported store"))
                    .label(location.span.clone(), format!("`{}://` is not supported", url.scheme()))
                    .help(LOCATION_FORMS),
            );
            return None;
        };
        let options = self.store_options(kind, implied, config, file_text)?;
        StoreDescriptor::for_url(&url, options)
    }

    /// A store's settings under their canonical names, with the settings its location
    /// implies; `None` when a key is unknown (each one reported where it is written).
    fn store_options(
        &mut self,
        kind: StoreKind,
        implied: Vec<(String, String)>,
        config: &StorageConfig,
        file_text: &str,
    ) -> Option<BTreeMap<String, String>> {
        let mut options: BTreeMap<String, String> = implied.into_iter().collect();
        let mut valid = true;
        for (key, value) in config {
            match stores::canonical_key(kind, key) {
                Some(canonical) => {
                    options.insert(canonical, value.value.clone());
                }
                None => {
                    valid = false;
                    let known = kind.known_keys();
                    let lowered = key.to_ascii_lowercase();
                    let help = suggest::help(&lowered, known.iter().copied()).explained_or(
                        |s| {
                            format!(
                                " Keys are object_store's configuration keys for {}, in any case (`{}` works too)",
                                kind.name(),
                                s.to_ascii_uppercase()
                            )
                        },
                        format!(
                            "keys are object_store's configuration keys for {}, in any case; see docs/object-stores.md",
                            kind.name()
                        ),
                    );
                    self.diagnostics.push(
                        Diagnostic::error(
                            Code::UnknownKey,
                            format!("unknown `storage_config` key `{key}` for {}", kind.name()),
                        )
                        .label(key_span(file_text, key, &value.span), "unknown key")
                        .help(help),
                    );
                }
            }
        }
        valid.then_some(options)
    }
}

/// The locations Aqueducts reads and writes, for help texts.
const LOCATION_FORMS: &str = "use a local path, `s3://bucket/path`, `gs://bucket/path`, `az://container/path`, \
`abfss://container@account.dfs.core.windows.net/path`, `https://account.blob.core.windows.net/container/path` \
or an `https://` URL (read only)";

/// Where `key` is written before its value (the last occurrence before `value`);
/// the value's span if it cannot be found.
fn key_span(file_text: &str, key: &str, value: &Range<usize>) -> Range<usize> {
    let window_start = value.start.saturating_sub(4096);
    let Some(window) = file_text.get(window_start..value.start) else { return value.clone() };
    match window.rfind(key) {
        Some(at) => window_start + at..window_start + at + key.len(),
        None => value.clone(),
    }
}
