//! [`Outbox`]: run reports waiting for the orchestrator's acknowledgement.
//!
//! Every report of a run attempt gets the next sequence number of that attempt (from 1)
//! and stays here until the orchestrator acknowledges it: a broken connection loses
//! nothing, because the next connection sends everything not acknowledged, in the order
//! it was produced, and the orchestrator ignores what it has recorded already.
//!
//! Memory is bounded: past `memory_limit` bytes, reports go to a spill file in the
//! state directory and are read back when their turn to be sent comes. Past
//! `disk_limit` bytes on disk, progress reports (stage output, mostly) are dropped
//! and counted; a run's start and outcome are always kept.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use aqueducts_protocol::managed::{Delivered, ExecutorReport, HeldRun, RunRef, RunReport};
use tokio::sync::Notify;

/// Reports kept in memory before they go to disk.
pub const MEMORY_LIMIT: usize = 8 << 20;
/// Reports kept on disk before progress reports are dropped.
pub const DISK_LIMIT: u64 = 1 << 30;

pub struct Outbox {
    inner: Mutex<Inner>,
    changed: Notify,
    memory_limit: usize,
    disk_limit: u64,
    spill_path: PathBuf,
}

struct Inner {
    /// Every report not acknowledged yet, in the order they were produced.
    entries: VecDeque<Entry>,
    /// How many of `entries` went out on the current connection.
    sent: usize,
    memory_bytes: usize,
    spill: Option<Spill>,
    next_seq: HashMap<RunRef, u64>,
    /// Runs accepted by this process whose last report is not acknowledged, with the
    /// sequence number of their outcome once they have one.
    held: BTreeMap<RunRef, Option<u64>>,
    dropped: u64,
}

struct Entry {
    run: RunRef,
    seq: u64,
    body: Body,
}

enum Body {
    Memory(Arc<str>),
    Disk { offset: u64, length: usize },
}

struct Spill {
    file: File,
    length: u64,
}

impl Outbox {
    /// An empty outbox spilling to `state_dir` (created when first needed).
    pub fn new(state_dir: &Path, memory_limit: usize, disk_limit: u64) -> Self {
        let spill_path = state_dir.join(format!("outbox-{}.jsonl", uuid::Uuid::new_v4().simple()));
        Outbox {
            inner: Mutex::new(Inner {
                entries: VecDeque::new(),
                sent: 0,
                memory_bytes: 0,
                spill: None,
                next_seq: HashMap::new(),
                held: BTreeMap::new(),
                dropped: 0,
            }),
            changed: Notify::new(),
            memory_limit,
            disk_limit,
            spill_path,
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Nothing panics while holding the lock except on an I/O error path that leaves
        // the collections consistent.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts holding a run accepted by this process.
    pub fn hold(&self, run: &RunRef) {
        self.inner().held.entry(run.clone()).or_insert(None);
    }

    /// Whether this process holds `run` (it accepted it and its outcome is not
    /// acknowledged).
    pub fn holds(&self, run: &RunRef) -> bool {
        self.inner().held.contains_key(run)
    }

    /// The runs to name in a hello.
    pub fn held(&self) -> Vec<HeldRun> {
        self.inner().held.iter().map(|(run, end)| HeldRun { run: run.clone(), finished: end.is_some() }).collect()
    }

    /// Reports not acknowledged yet.
    pub fn unacknowledged(&self) -> u64 {
        self.inner().entries.len() as u64
    }

    /// Progress reports dropped because the disk limit was reached.
    pub fn dropped(&self) -> u64 {
        self.inner().dropped
    }

    /// Adds a report of `run`; returns its sequence number (`None` when it was dropped).
    pub fn push(&self, run: &RunRef, report: RunReport) -> Option<u64> {
        let mut inner = self.inner();
        let seq = *inner.next_seq.get(run).unwrap_or(&0) + 1;
        let finished = matches!(report, RunReport::Finished { .. });
        let droppable = matches!(report, RunReport::Progress { .. });
        let text: Arc<str> = match serde_json::to_string(&ExecutorReport::RunReport { run: run.clone(), seq, report }) {
            Ok(text) => text.into(),
            Err(_) => return None,
        };
        let body = if inner.memory_bytes + text.len() <= self.memory_limit {
            inner.memory_bytes += text.len();
            Body::Memory(text)
        } else {
            let on_disk = inner.spill.as_ref().map_or(0, |spill| spill.length);
            if droppable && on_disk + text.len() as u64 > self.disk_limit {
                inner.dropped += 1;
                return None;
            }
            match self.spill(&mut inner, &text) {
                Ok(body) => body,
                // The disk refuses: keep what must not be lost in memory.
                Err(_) if !droppable => {
                    inner.memory_bytes += text.len();
                    Body::Memory(text)
                }
                Err(error) => {
                    if inner.dropped == 0 {
                        tracing::warn!(%error, "cannot spill run reports to disk; dropping progress reports");
                    }
                    inner.dropped += 1;
                    return None;
                }
            }
        };
        inner.next_seq.insert(run.clone(), seq);
        if finished {
            inner.held.insert(run.clone(), Some(seq));
        }
        inner.entries.push_back(Entry { run: run.clone(), seq, body });
        drop(inner);
        self.changed.notify_waiters();
        Some(seq)
    }

    fn spill(&self, inner: &mut Inner, text: &str) -> std::io::Result<Body> {
        if inner.spill.is_none() {
            if let Some(dir) = self.spill_path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let file = File::options().create(true).truncate(true).read(true).write(true).open(&self.spill_path)?;
            inner.spill = Some(Spill { file, length: 0 });
        }
        let spill = inner.spill.as_mut().expect("opened above");
        let offset = spill.length;
        spill.file.write_all_at(text.as_bytes(), offset)?;
        spill.length += text.len() as u64;
        Ok(Body::Disk { offset, length: text.len() })
    }

    /// The orchestrator has recorded every report of `run` up to `seq`.
    pub fn ack(&self, run: &RunRef, seq: u64) {
        let mut inner = self.inner();
        Self::ack_locked(&mut inner, run, seq);
        self.tidy(&mut inner);
    }

    fn ack_locked(inner: &mut Inner, run: &RunRef, seq: u64) {
        let sent = inner.sent;
        let mut removed_sent = 0;
        let mut freed = 0;
        let mut index = 0;
        inner.entries.retain(|entry| {
            let acknowledged = entry.run == *run && entry.seq <= seq;
            if acknowledged {
                if let Body::Memory(text) = &entry.body {
                    freed += text.len();
                }
                if index < sent {
                    removed_sent += 1;
                }
            }
            index += 1;
            !acknowledged
        });
        inner.sent -= removed_sent;
        inner.memory_bytes -= freed;
        if inner.held.get(run).copied().flatten().is_some_and(|end| end <= seq) {
            inner.held.remove(run);
            inner.next_seq.remove(run);
        }
    }

    /// Empties the spill file once nothing in it waits.
    fn tidy(&self, inner: &mut Inner) {
        let spilled = inner.entries.iter().any(|entry| matches!(entry.body, Body::Disk { .. }));
        if !spilled && inner.spill.is_some() {
            inner.spill = None;
            let _ = std::fs::remove_file(&self.spill_path);
        }
    }

    /// A new connection: what the orchestrator has recorded is acknowledged, and
    /// everything else goes out again, in order.
    pub fn rewind(&self, delivered: &[Delivered]) {
        let mut inner = self.inner();
        for delivered in delivered {
            Self::ack_locked(&mut inner, &delivered.run, delivered.seq);
        }
        inner.sent = 0;
        self.tidy(&mut inner);
        drop(inner);
        self.changed.notify_waiters();
    }

    /// The next report to send on this connection, when there is one.
    pub async fn next_unsent(&self) -> String {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(text) = self.take_unsent() {
                return text;
            }
            notified.await;
        }
    }

    fn take_unsent(&self) -> Option<String> {
        let mut inner = self.inner();
        loop {
            let index = inner.sent;
            let entry = inner.entries.get(index)?;
            let text = match &entry.body {
                Body::Memory(text) => Some(text.to_string()),
                Body::Disk { offset, length } => {
                    let mut buffer = vec![0; *length];
                    let read = inner.spill.as_ref().map(|spill| spill.file.read_exact_at(&mut buffer, *offset));
                    match read {
                        Some(Ok(())) => String::from_utf8(buffer).ok(),
                        _ => None,
                    }
                }
            };
            inner.sent += 1;
            match text {
                Some(text) => return Some(text),
                // Unreadable from disk: nothing to send for it; the orchestrator sees a gap.
                None => tracing::warn!("a spilled run report could not be read back; skipped"),
            }
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.spill_path);
    }
}

/// Removes spill files of executor processes that are gone (each process writes its own).
pub fn remove_stale_spills(state_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(state_dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("outbox-") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use aqueducts_protocol::{Event, Outcome};

    use super::*;

    fn run(attempt: u32) -> RunRef {
        RunRef { run_id: "r".into(), attempt }
    }

    fn output(text: &str) -> RunReport {
        RunReport::Progress { event: Event::StageOutput { stage: "s".into(), text: text.into() } }
    }

    fn seq_of(text: &str) -> u64 {
        match serde_json::from_str::<ExecutorReport>(text).unwrap() {
            ExecutorReport::RunReport { seq, .. } => seq,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn reports_spill_past_the_memory_limit_and_come_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path(), 1024, DISK_LIMIT);
        let r = run(1);
        outbox.hold(&r);
        assert_eq!(outbox.push(&r, RunReport::Started), Some(1));
        for i in 0..50 {
            outbox.push(&r, output(&format!("{i:0>60}")));
        }
        outbox.push(&r, RunReport::Finished { outcome: Outcome::Cancelled });
        let spill = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(spill, 1, "reports past 1 KiB went to a spill file");
        // A first connection sends ten, then breaks; the orchestrator recorded five.
        for expected in 1..=10 {
            assert_eq!(seq_of(&outbox.next_unsent().await), expected);
        }
        outbox.rewind(&[Delivered { run: r.clone(), seq: 5 }]);
        let mut seqs = Vec::new();
        while let Some(text) = outbox.take_unsent() {
            seqs.push(seq_of(&text));
        }
        assert_eq!(seqs, (6..=52).collect::<Vec<_>>());
        assert_eq!(outbox.held(), vec![HeldRun { run: r.clone(), finished: true }]);
        outbox.ack(&r, 52);
        assert_eq!(outbox.unacknowledged(), 0);
        assert!(outbox.held().is_empty());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the spill file is removed once acknowledged");
    }

    #[test]
    fn past_the_disk_limit_only_progress_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path(), 0, 300);
        let r = run(2);
        outbox.push(&r, RunReport::Started);
        for _ in 0..10 {
            outbox.push(&r, output(&"x".repeat(100)));
        }
        let finished = outbox.push(&r, RunReport::Finished { outcome: Outcome::Cancelled });
        assert!(outbox.dropped() > 0);
        assert!(finished.is_some(), "an outcome is never dropped");
        assert_eq!(outbox.unacknowledged(), 10 + 2 - outbox.dropped());
    }
}
