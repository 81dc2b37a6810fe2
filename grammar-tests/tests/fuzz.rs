//! Property tests of the parsers and templating: any text, in any of the three formats
//! and with any parameter values, gets diagnostics or a spec, never a panic or a hang.
//!
//! Inputs are the corpus files with random edits (characters inserted, removed,
//! replaced) and arbitrary text. The budget is proptest's: 256 cases per property, more
//! with `PROPTEST_CASES` (see docs/diagnostics.md, "Fuzzing").

use std::collections::BTreeMap;
use std::path::Path;

use aqueducts_compiler::{CheckOptions, SourceFile, SpecFormat, check, spec_to_json};
use proptest::prelude::*;

/// The corpus cases, with their formats.
fn corpus() -> Vec<(SpecFormat, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
    let mut cases: Vec<(SpecFormat, String)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|entry| {
            let path = entry.unwrap().path();
            let format = SpecFormat::from_path(&path)?;
            Some((format, std::fs::read_to_string(&path).ok()?))
        })
        .collect();
    cases.sort_by(|a, b| a.1.cmp(&b.1));
    cases
}

/// One edit of a text: at a position (a fraction of its length), what to do.
#[derive(Debug, Clone)]
enum Edit {
    Insert(f64, String),
    Remove(f64, usize),
    Replace(f64, char),
}

fn edit() -> impl Strategy<Value = Edit> {
    let snippet = prop_oneof![
        Just("{{".to_string()),
        Just("}}".to_string()),
        Just("${x}".to_string()),
        Just("{% for i in range(3) %}".to_string()),
        Just("\n  - ".to_string()),
        Just(": [".to_string()),
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("&a *a".to_string()),
        Just("env(\"X\")".to_string()),
        ".{0,8}",
    ];
    prop_oneof![
        (0.0..1.0, snippet).prop_map(|(at, text)| Edit::Insert(at, text)),
        (0.0..1.0, 1usize..40).prop_map(|(at, n)| Edit::Remove(at, n)),
        (0.0..1.0, any::<char>()).prop_map(|(at, c)| Edit::Replace(at, c)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for edit in edits {
        let at = |fraction: f64| ((chars.len() as f64) * fraction) as usize;
        match edit {
            Edit::Insert(f, s) => {
                let i = at(*f).min(chars.len());
                chars.splice(i..i, s.chars());
            }
            Edit::Remove(f, n) => {
                let i = at(*f).min(chars.len());
                let end = (i + n).min(chars.len());
                chars.drain(i..end);
            }
            Edit::Replace(f, c) => {
                let i = at(*f);
                if i < chars.len() {
                    chars[i] = *c;
                }
            }
        }
    }
    chars.into_iter().collect()
}

/// `check` on threads with the stack the CLI gives planning.
fn check_text(format: SpecFormat, text: &str, params: BTreeMap<String, String>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_stack_size(256 * 1024 * 1024)
        .enable_all()
        .build()
        .unwrap();
    let file = SourceFile::new("fuzz", text, format);
    let options = CheckOptions::new(params, std::env::temp_dir());
    let report = runtime.block_on(runtime.spawn(async move {
        let report = check(&file, &options).await;
        let _ = aqueducts_compiler::diagnostic::render_plain(&report.diagnostics, &file);
        report.diagnostics.len()
    }));
    assert!(report.is_ok(), "check panicked on {format:?}:\n{text}");
}

proptest! {
    #[test]
    fn edited_corpus_files_get_diagnostics_not_panics(
        case in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let corpus = corpus();
        let (format, text) = &corpus[case.index(corpus.len())];
        check_text(*format, &apply(text, &edits), BTreeMap::new());
    }

    #[test]
    fn arbitrary_text_in_every_format(text in "\\PC{0,300}", format in 0..3u8) {
        let format = [SpecFormat::Yaml, SpecFormat::Json, SpecFormat::Toml][format as usize];
        let file = SourceFile::new("fuzz", text.as_str(), format);
        let _ = spec_to_json(&file, &BTreeMap::new());
    }

    #[test]
    fn any_parameter_value_renders_or_is_diagnosed(value in "\\PC{0,64}", template in prop_oneof![
        Just("${x}"), Just("{{ x }}"), Just("{{ x | upper }}"), Just("{% for c in x | split(',') %}{{ c }}{% endfor %}"),
        Just("{{ x ~ x }}"), Just("{% if x %}1{% endif %}"),
    ]) {
        for (format, text) in [
            (SpecFormat::Yaml, format!("stages:\n  - name: s\n    query: SELECT '{template}'\n")),
            (SpecFormat::Json, format!("{{\"stages\": [{{\"name\": \"s\", \"query\": \"SELECT '{template}'\"}}]}}")),
            (SpecFormat::Toml, format!("[[stages]]\nname = \"s\"\nquery = \"SELECT '{template}'\"\n")),
        ] {
            let params = BTreeMap::from([("x".to_string(), value.clone())]);
            let file = SourceFile::new("fuzz", text.as_str(), format);
            if let Ok(json) = spec_to_json(&file, &params) {
                // Templating never changes structure: one stage with its two keys.
                prop_assert_eq!(json["stages"].as_array().map(Vec::len), Some(1));
                prop_assert_eq!(json["stages"][0].as_object().map(|o| o.len()), Some(2));
            }
        }
    }
}
