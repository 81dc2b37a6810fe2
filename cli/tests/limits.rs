//! Memory limits and killed runs, on generated data large enough to matter.

mod common;

use common::{aqueducts, text};

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// `rows` rows of `id,key,payload` in a scrambled order (a fixed linear congruential
/// sequence), about 60 bytes a row.
fn write_events(path: &Path, rows: u64) {
    let mut csv = String::with_capacity(rows as usize * 64);
    csv.push_str("id,key,payload\n");
    let mut x: u64 = 42;
    for _ in 0..rows {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let id = x >> 20;
        let _ = writeln!(csv, "{id},k{},{:040x}", id % 1000, x);
    }
    std::fs::write(path, csv).unwrap();
}

const SORT_SPEC: &str = "sources:
  - type: file
    name: events
    format: {type: csv, options: {}}
    location: ./events.csv
stages:
  - name: sorted
    query: SELECT id, key, payload FROM events ORDER BY payload
destination:
  type: file
  name: out
  location: ./out/sorted.csv
  format: {type: csv, options: {}}
";

#[test]
fn a_sort_larger_than_the_memory_limit_completes_by_spilling() {
    let dir = tempfile::tempdir().unwrap();
    write_events(&dir.path().join("events.csv"), 300_000);
    let spec = SORT_SPEC.replace("ORDER BY payload\n", "ORDER BY payload\n    explain_analyze: true\n");
    std::fs::write(dir.path().join("sort.yml"), spec).unwrap();
    // 30 MiB for a sort of 17 MiB of CSV (more as Arrow arrays), split over the
    // partitions: each sort must spill, and the final merge still has room.
    let out = aqueducts(dir.path(), &["run", "-f", "sort.yml", "--max-memory", "0.03"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let analyzed = text(&out.stdout);
    let spills: u64 = analyzed
        .split("spill_count=")
        .skip(1)
        .filter_map(|s| s.split(|c: char| !c.is_ascii_digit()).next()?.parse::<u64>().ok())
        .sum();
    assert!(spills > 0, "the sort spilled: {analyzed}");
    let sorted = std::fs::read_to_string(dir.path().join("out/sorted.csv")).unwrap();
    let payloads: Vec<&str> = sorted.lines().skip(1).map(|l| l.rsplit(',').next().unwrap()).collect();
    assert_eq!(payloads.len(), 300_000);
    assert!(payloads.windows(2).all(|w| w[0] <= w[1]), "output is sorted");
}

#[test]
fn exceeding_the_memory_limit_fails_clearly_and_keeps_the_destination() {
    let dir = tempfile::tempdir().unwrap();
    write_events(&dir.path().join("events.csv"), 200_000);
    std::fs::create_dir_all(dir.path().join("out")).unwrap();
    std::fs::write(dir.path().join("out/sorted.csv"), "previous\n").unwrap();
    // A hash join build side does not spill: with 1 MiB it cannot complete.
    let spec = SORT_SPEC.replace(
        "SELECT id, key, payload FROM events ORDER BY payload",
        "SELECT a.id, b.payload FROM events a JOIN events b ON a.payload = b.payload",
    );
    std::fs::write(dir.path().join("join.yml"), spec).unwrap();
    let out = aqueducts(dir.path(), &["run", "-f", "join.yml", "--max-memory", "0.001"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error: stage `sorted` failed:"), "{stderr}");
    assert!(stderr.contains("help: this stage needs more memory than the limit of 0.001 GB"), "{stderr}");
    assert_eq!(std::fs::read_to_string(dir.path().join("out/sorted.csv")).unwrap(), "previous\n");
}

#[test]
fn a_killed_run_leaves_the_previous_output_and_its_debris_is_swept() {
    let dir = tempfile::tempdir().unwrap();
    write_events(&dir.path().join("events.csv"), 300_000);
    std::fs::write(dir.path().join("sort.yml"), SORT_SPEC).unwrap();
    std::fs::create_dir_all(dir.path().join("out")).unwrap();
    std::fs::write(dir.path().join("out/sorted.csv"), "previous\n").unwrap();

    for delay in [50, 150, 300] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aqueducts"))
            .args(["run", "-f", "sort.yml", "--quiet"])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        let content = std::fs::read_to_string(dir.path().join("out/sorted.csv")).unwrap();
        // Whenever the kill lands, the destination is the previous output or the whole new
        // one (the run may have committed just before it was killed), never a part.
        let previous = content == "previous\n";
        let complete = content.lines().count() == 300_001;
        assert!(previous || complete, "killed after {delay} ms ({status}): {} lines", content.lines().count());
        if complete {
            std::fs::write(dir.path().join("out/sorted.csv"), "previous\n").unwrap();
        }
    }
    // The next run sweeps whatever a killed run left and writes the new output.
    let out = aqueducts(dir.path(), &["run", "-f", "sort.yml", "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let entries: Vec<String> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries, ["sorted.csv"], "no staging debris");
    assert_eq!(std::fs::read_to_string(dir.path().join("out/sorted.csv")).unwrap().lines().count(), 300_001);
}

#[test]
fn ctrl_c_stops_the_run_and_keeps_the_destination() {
    let dir = tempfile::tempdir().unwrap();
    write_events(&dir.path().join("events.csv"), 300_000);
    std::fs::write(dir.path().join("sort.yml"), SORT_SPEC).unwrap();
    std::fs::create_dir_all(dir.path().join("out")).unwrap();
    std::fs::write(dir.path().join("out/sorted.csv"), "previous\n").unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_aqueducts"))
        .args(["run", "-f", "sort.yml"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(150));
    let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    let out = child.wait_with_output().unwrap();
    let content = std::fs::read_to_string(dir.path().join("out/sorted.csv")).unwrap();
    let complete = content.lines().count() == 300_001;
    if out.status.success() || complete {
        assert!(complete, "finished before the interrupt, so the output is whole");
    } else {
        assert_eq!(out.status.code(), Some(1));
        assert!(text(&out.stderr).contains("interrupted"), "{}", text(&out.stderr));
        assert!(content == "previous\n", "interrupted: the previous output stays");
    }
    let entries: Vec<String> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries, ["sorted.csv"], "no staging debris after an interrupt");
}

/// A destination whose file system fills up during the write keeps its previous content
/// and gets no debris. Needs root to mount a small tmpfs (CI runs as root).
#[test]
fn a_full_file_system_keeps_the_previous_output() {
    let dir = tempfile::tempdir().unwrap();
    write_events(&dir.path().join("events.csv"), 300_000);
    let small = dir.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs", small.to_str().unwrap()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(&small);
    std::fs::write(small.join("sorted.csv"), "previous\n").unwrap();
    std::fs::write(dir.path().join("sort.yml"), SORT_SPEC.replace("./out/sorted.csv", "./small/sorted.csv")).unwrap();
    let out = aqueducts(dir.path(), &["run", "-f", "sort.yml"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error: stage `sorted` failed:"), "{stderr}");
    assert_eq!(std::fs::read_to_string(small.join("sorted.csv")).unwrap(), "previous\n");
    let entries: Vec<String> =
        std::fs::read_dir(&small).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(entries, ["sorted.csv"], "no staging debris on the full file system");
}
