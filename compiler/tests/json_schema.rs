//! The committed JSON schema is generated from the spec types, and the shipped
//! examples validate against it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aqueducts_compiler::{SourceFile, SpecFormat, json_schema, spec_to_json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn committed_schema_is_up_to_date() {
    let committed = std::fs::read_to_string(repo().join("json_schema/aqueducts.schema.json")).unwrap_or_default();
    assert!(
        committed == json_schema(),
        "json_schema/aqueducts.schema.json is stale: regenerate it with\n  cargo run -p aqueducts-cli -- schema > json_schema/aqueducts.schema.json"
    );
}

#[test]
fn examples_validate_against_the_schema() {
    let schema: serde_json::Value = serde_json::from_str(&json_schema()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema itself is valid");
    let params: BTreeMap<String, String> =
        [("month", "jan"), ("year", "2024")].into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let mut checked = 0;
    for entry in std::fs::read_dir(repo().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        let Some(format) = SpecFormat::from_path(&path) else { continue };
        let file = SourceFile::new(path.display().to_string(), std::fs::read_to_string(&path).unwrap(), format);
        let value = spec_to_json(&file, &params).unwrap_or_else(|e| panic!("{}: {:?}", path.display(), e));
        let errors: Vec<String> =
            validator.iter_errors(&value).map(|e| format!("{e} at {}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{} does not match the schema:\n{}", path.display(), errors.join("\n"));
        checked += 1;
    }
    assert!(checked >= 3, "expected the YAML, JSON and TOML examples, found {checked}");
}

#[test]
fn schema_rejects_a_typo() {
    let schema: serde_json::Value = serde_json::from_str(&json_schema()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let bad = serde_json::json!({"sources": [], "stages": [{"name": "a", "querry": "SELECT 1"}]});
    assert!(!validator.is_valid(&bad));
    let good = serde_json::json!({"sources": [], "stages": [[{"name": "a", "query": "SELECT 1", "show": 0}]]});
    assert!(validator.is_valid(&good), "{:?}", validator.iter_errors(&good).map(|e| e.to_string()).collect::<Vec<_>>());
}
