//! `aqueducts-orchestrator keys`: a key is printed once and only its digest is stored.

use std::process::{Command, Output};

fn orchestrator(args: &[&str], data_dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aqueducts-orchestrator"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("AQUEDUCTS_DATABASE")
        .output()
        .unwrap()
}

#[test]
fn a_created_key_is_shown_once_and_stored_as_a_digest() {
    let dir = tempfile::tempdir().unwrap();
    let created = orchestrator(&["keys", "create", "--name", "ci-viewer", "--role", "viewer"], dir.path());
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let key = String::from_utf8(created.stdout).unwrap().trim().to_string();
    assert!(key.starts_with("aq_viewer_") && key.len() == 74, "{key}");
    assert!(String::from_utf8_lossy(&created.stderr).contains("shown once"));

    // Nowhere in the database's files (main file and write-ahead log) is the key.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(key.len()).any(|w| w == key.as_bytes()), "the key is stored in clear");
    }

    let listed = orchestrator(&["keys", "list"], dir.path());
    assert_eq!(String::from_utf8(listed.stdout).unwrap(), "ci-viewer\tviewer\tactive\n");
    let again = orchestrator(&["keys", "create", "--name", "ci-viewer", "--role", "operator"], dir.path());
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("a key named `ci-viewer` exists already"));
    let bad = orchestrator(&["keys", "create", "--name", "two words", "--role", "viewer"], dir.path());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cannot name a key"));

    let revoked = orchestrator(&["keys", "revoke", "--name", "ci-viewer"], dir.path());
    assert!(revoked.status.success());
    let listed = orchestrator(&["keys", "list"], dir.path());
    assert_eq!(String::from_utf8(listed.stdout).unwrap(), "ci-viewer\tviewer\trevoked\n");
    let unknown = orchestrator(&["keys", "revoke", "--name", "ci-viewer"], dir.path());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no active key named `ci-viewer`"));
}
