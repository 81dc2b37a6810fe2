//! docs/orchestrator.md names every option of `aqueducts-orchestrator`.

use std::process::Command;

#[test]
fn every_option_is_documented() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/orchestrator.md")).unwrap();
    for command in [vec!["--help"], vec!["keys", "create", "--help"]] {
        let help = Command::new(env!("CARGO_BIN_EXE_aqueducts-orchestrator")).args(&command).output().unwrap();
        let help = String::from_utf8(help.stdout).unwrap();
        let flags: Vec<&str> = help
            .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']' || c == '<')
            .filter(|word| word.starts_with("--") && word.len() > 2 && !["--help", "--version"].contains(word))
            .collect();
        assert!(flags.len() >= 3, "{help}");
        for flag in flags {
            assert!(docs.contains(&format!("`{flag}")), "docs/orchestrator.md does not document {flag}");
        }
    }
}
