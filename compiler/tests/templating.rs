//! Parameters change string values only, never the structure of the document.

use std::collections::BTreeMap;

use aqueducts_compiler::{SourceFile, SpecFormat, spec_to_json};

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

const HOSTILE: &str = "x\"\n  injected: true # ': {'\n- [";

#[test]
fn hostile_values_stay_inside_their_string_in_every_format() {
    let specs = [
        (
            SpecFormat::Yaml,
            "\
stages:
  - name: ${v}
    query: SELECT '{{ v }}'
",
        ),
        (SpecFormat::Json, r#"{"stages": [{"name": "${v}", "query": "SELECT '{{ v }}'"}]}"#),
        (
            SpecFormat::Toml,
            r#"[[stages]]
name = "${v}"
query = "SELECT '{{ v }}'"
"#,
        ),
    ];
    for (format, text) in specs {
        let file = SourceFile::new("spec", text, format);
        let json = spec_to_json(&file, &params(&[("v", HOSTILE)])).unwrap();
        let stage = &json["stages"][0];
        assert_eq!(stage["name"], HOSTILE, "{format:?}");
        assert_eq!(stage["query"], format!("SELECT '{HOSTILE}'"), "{format:?}");
        assert_eq!(stage.as_object().unwrap().len(), 2, "{format:?}: no key was injected");
        assert!(json.get("injected").is_none());
    }
}

#[test]
fn loops_render_sql() {
    let text = "\
stages:
  - name: s
    query: |
      SELECT {% for c in cols | split(',') %}{{ c }}{% if not loop.last %}, {% endif %}{% endfor %} FROM t
";
    let file = SourceFile::new("spec", text, SpecFormat::Yaml);
    let json = spec_to_json(&file, &params(&[("cols", "a,b,c")])).unwrap();
    assert_eq!(json["stages"][0]["query"], "SELECT a, b, c FROM t\n");
}

#[test]
fn untyped_values_from_parameters_become_numbers() {
    let text = "\
stages:
  - name: s
    show: ${rows}
";
    let file = SourceFile::new("spec", text, SpecFormat::Yaml);
    let json = spec_to_json(&file, &params(&[("rows", "25")])).unwrap();
    assert_eq!(json["stages"][0]["show"], 25);
}
