//! Runs every case of the corpus and compares its diagnostics with the snapshot.

use aqueducts_grammar_tests::{case_files, run_case};

#[tokio::test]
async fn corpus_matches_snapshots() {
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let files = case_files();
    assert!(files.len() >= 60, "the corpus should hold at least 60 cases, found {}", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let actual = run_case(path).await;
        let expected_path =
            path.with_extension(format!("{}.expected", path.extension().and_then(|e| e.to_str()).unwrap_or("")));
        if update {
            std::fs::write(&expected_path, &actual).expect("write snapshot");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            failures.push(format!("--- {} (expected)\n{expected}\n+++ actual\n{actual}", expected_path.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) differ from their snapshots (rerun with UPDATE_SNAPSHOTS=1 to accept):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Valid cases are named `ok_*`, broken ones `err_*`; the outcome must agree.
#[tokio::test]
async fn case_names_agree_with_outcomes() {
    for path in case_files() {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let out = run_case(&path).await;
        let valid = out.lines().last().is_some_and(|l| l.starts_with("result: valid"));
        if name.starts_with("ok_") {
            assert!(valid, "{name} should be valid:\n{out}");
        } else if name.starts_with("err_") {
            assert!(!valid, "{name} should have errors:\n{out}");
        }
    }
}

/// No input may panic: every case and example, cut short at many points, is checked.
#[tokio::test]
async fn truncated_inputs_never_panic() {
    use aqueducts_compiler::{CheckOptions, SourceFile, SpecFormat, check};
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut files = case_files();
    files.extend(std::fs::read_dir(examples).unwrap().filter_map(|e| e.ok().map(|e| e.path())));
    for path in files {
        let Some(format) = SpecFormat::from_path(&path) else { continue };
        let text = std::fs::read_to_string(&path).unwrap();
        let step = (text.len() / 40).max(1);
        for cut in (0..text.len()).step_by(step) {
            if !text.is_char_boundary(cut) {
                continue;
            }
            let file = SourceFile::new("cut", &text[..cut], format);
            let _ = check(&file, &CheckOptions::default()).await;
        }
    }
}

/// Hostile inputs get diagnostics, not panics or hangs.
#[tokio::test]
async fn hostile_inputs_are_diagnosed() {
    use aqueducts_compiler::{CheckOptions, SourceFile, SpecFormat, check};
    let deep_yaml = format!("sources: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let deep_json = format!("{{\"sources\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_toml = format!("sources = {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let laughs = {
        let mut s = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let items = vec![format!("*l{}", i - 1); 10].join(", ");
            s.push_str(&format!("l{i}: &l{i} [{items}]\n"));
        }
        s
    };
    let unicode = "sources: []\nstages:\n  - name: é\n    query: \"SELECT 'é', ü FROM ß\"\n".to_string();
    let runaway =
        "sources: []\nstages:\n  - name: a\n    query: \"{% for i in range(100000000) %}x{% endfor %}\"\n".to_string();
    let deep_sql =
        format!("sources: []\nstages:\n  - name: a\n    query: \"SELECT {}1{}\"\n", "(".repeat(5000), ")".repeat(5000));
    let long_chain =
        format!("sources: []\nstages:\n  - name: a\n    query: \"SELECT {}\"\n", vec!["1"; 100_000].join(" + "));
    let cases = [
        (SpecFormat::Yaml, long_chain),
        (SpecFormat::Yaml, deep_yaml),
        (SpecFormat::Json, deep_json),
        (SpecFormat::Toml, deep_toml),
        (SpecFormat::Yaml, laughs),
        (SpecFormat::Yaml, unicode),
        (SpecFormat::Yaml, runaway),
        (SpecFormat::Yaml, deep_sql),
        (SpecFormat::Json, "{\"stages\": \"\\ud800\"}".to_string()),
        (SpecFormat::Yaml, "\u{feff}\0\u{1}".to_string()),
    ];
    for (format, text) in cases {
        let file = SourceFile::new("hostile", text.as_str(), format);
        let report = check(&file, &CheckOptions::default()).await;
        assert!(report.has_errors(), "{format:?} input should be refused");
        // Rendering must not panic either (labels on multi-byte characters).
        let _ = aqueducts_compiler::diagnostic::render_plain(&report.diagnostics, &file);
    }
}
