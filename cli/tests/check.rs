//! `aqueducts check` end to end, through the binary.

mod common;

use common::{aqueducts, repo, text};

#[test]
fn shipped_examples_are_valid_in_every_format() {
    for example in ["examples/simple.yml", "examples/simple.json", "examples/simple.toml"] {
        let out = aqueducts(&repo(), &["check", "--file", example, "--param", "month=jan", "-p", "year=2024"]);
        assert_eq!(out.status.code(), Some(0), "{example}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(
            stdout.starts_with(&format!("ok: {example} is valid (2 sources, 2 stages, destination `results`")),
            "{stdout}"
        );
    }
}

#[test]
fn param_flag_spellings_are_equivalent() {
    for flags in [["--param", "--param"], ["--params", "--params"], ["-p", "-p"]] {
        let out =
            aqueducts(&repo(), &["check", "-f", "examples/simple.yml", flags[0], "month=feb", flags[1], "year=2024"]);
        assert_eq!(out.status.code(), Some(0), "{flags:?}: {}", text(&out.stderr));
    }
}

#[test]
fn errors_exit_1_and_point_at_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("broken.yml");
    let broken = "\
sources: []
stages:
  - name: a
    query: SELECT * FROM nowhere
";
    std::fs::write(&spec, broken).unwrap();
    let out = aqueducts(&repo(), &["check", "--file", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("[{}:4:26]", spec.display())), "{stderr}");
    assert!(stderr.contains("stage `a` reads unknown table `nowhere`"), "{stderr}");
    assert!(stderr.contains("has 1 error"), "{stderr}");
}

#[test]
fn json_format_reports_codes_and_positions() {
    // The corpus resolves its data files from the grammar-tests directory.
    let out =
        aqueducts(&repo().join("grammar-tests"), &["check", "--file", "cases/err_many_errors.yml", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(report["valid"], false);
    assert_eq!(report["errors"], 5);
    let diagnostics = report["diagnostics"].as_array().unwrap();
    let codes: Vec<&str> = diagnostics.iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["unknown-key", "sql-syntax", "unknown-table", "unknown-key", "sql-plan"]);
    let table = &diagnostics[2];
    assert_eq!((table["line"].as_u64(), table["column"].as_u64()), (Some(11), Some(26)));
    assert_eq!(table["labels"][0]["length"], 13);
    assert_eq!(table["file"], "cases/err_many_errors.yml");
}

#[test]
fn usage_errors_exit_2() {
    let cases: &[&[&str]] = &[
        &["check"],
        &["check", "--file", "examples/simple.yml", "--param", "novalue"],
        &["check", "--file", "examples/does-not-exist.yml"],
        &["check", "--file", "README.md"],
        &["frobnicate"],
    ];
    for args in cases {
        let out = aqueducts(&repo(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        assert!(!text(&out.stderr).is_empty(), "{args:?} should say why");
    }
}

#[test]
fn missing_parameters_are_all_reported() {
    let out = aqueducts(&repo(), &["check", "--file", "examples/simple.yml", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let messages: Vec<&str> =
        report["diagnostics"].as_array().unwrap().iter().map(|d| d["message"].as_str().unwrap()).collect();
    assert_eq!(messages, ["missing parameter `month`", "missing parameter `year`"]);
    // Each points at its uses in the original file: the source and the destination location.
    let month_labels = report["diagnostics"][0]["labels"].as_array().unwrap();
    assert_eq!(month_labels.len(), 2);
    assert_eq!(month_labels[0]["line"], 16);
}

#[test]
fn unused_parameter_is_a_warning() {
    let out = aqueducts(
        &repo(),
        &["check", "-f", "examples/simple.yml", "-p", "month=jan", "-p", "year=2024", "-p", "colour=red"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("parameter `colour` is not used"), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("1 warning"));
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let out = aqueducts(&repo(), &["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let committed = std::fs::read_to_string(repo().join("json_schema/aqueducts.schema.json")).unwrap();
    assert_eq!(text(&out.stdout), committed);
}
