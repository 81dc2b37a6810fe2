//! The web interface's files, embedded in the binary at build time from `web/`.

use std::collections::HashMap;
use std::sync::LazyLock;

use sha2::{Digest, Sha256};

/// An embedded file: its path under `/assets/` (`index.html` is served at `/`).
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! assets {
    ($($path:literal => $content_type:literal),* $(,)?) => {
        &[$(Asset {
            path: $path,
            content_type: $content_type,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $path)),
        }),*]
    };
}

/// Every file the page uses.
pub static ASSETS: &[Asset] = assets![
    "index.html" => "text/html; charset=utf-8",
    "app.css" => "text/css; charset=utf-8",
    "js/app.js" => "text/javascript; charset=utf-8",
    "js/api.js" => "text/javascript; charset=utf-8",
    "js/dom.js" => "text/javascript; charset=utf-8",
    "js/graph.js" => "text/javascript; charset=utf-8",
    "js/editor.js" => "text/javascript; charset=utf-8",
    "js/pages/overview.js" => "text/javascript; charset=utf-8",
    "js/pages/runs.js" => "text/javascript; charset=utf-8",
    "js/pages/run.js" => "text/javascript; charset=utf-8",
    "js/pages/pipelines.js" => "text/javascript; charset=utf-8",
    "js/pages/compose.js" => "text/javascript; charset=utf-8",
    "vendor/codemirror.js" => "text/javascript; charset=utf-8",
    "vendor/dagre.min.js" => "text/javascript; charset=utf-8",
    "vendor/diff.min.js" => "text/javascript; charset=utf-8",
    "favicon.svg" => "image/svg+xml",
];

static BY_PATH: LazyLock<HashMap<&'static str, (&'static Asset, String)>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| {
            let digest = Sha256::digest(asset.bytes);
            let etag = format!("\"{}\"", digest[..12].iter().map(|b| format!("{b:02x}")).collect::<String>());
            (asset.path, (asset, etag))
        })
        .collect()
});

pub fn find(path: &str) -> Option<&'static Asset> {
    BY_PATH.get(path).map(|(asset, _)| *asset)
}

/// The file's entity tag: a digest of its bytes.
pub fn etag(asset: &Asset) -> String {
    BY_PATH.get(asset.path).map(|(_, etag)| etag.clone()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const JS: &str = "text/javascript; charset=utf-8";

    #[test]
    fn every_asset_is_found_and_scripts_are_javascript() {
        for asset in ASSETS {
            assert!(find(asset.path).is_some(), "{}", asset.path);
            assert!(!asset.bytes.is_empty(), "{} is empty", asset.path);
            if asset.path.ends_with(".js") {
                assert_eq!(asset.content_type, JS, "{}", asset.path);
            }
        }
        assert!(find("../Cargo.toml").is_none());
        assert!(find("js/../index.html").is_none());
    }
}
