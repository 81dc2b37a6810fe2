//! The messages between a managed `aqueducts-executor` and an `aqueducts-orchestrator`.
//!
//! In managed mode the executor dials out: it opens a WebSocket to the orchestrator's
//! [`REGISTER_PATH`] with the executor key in [`crate::API_KEY_HEADER`], says [`Hello`] and
//! waits to be accepted or refused. Afterwards both sides send heartbeats; the
//! orchestrator assigns runs (a binary frame: [`assign_frame`]), cancels them, and relays
//! the store operations of its compiler ([`StoreOperation`], answered as on a CLI's
//! connection, `Get` bytes in a [`crate::get_reply_frame`]).
//!
//! Run reports carry a sequence number per run attempt and stay in the executor's outbox
//! until the orchestrator acknowledges them ([`OrchestratorMessage::Ack`]): a connection
//! that breaks loses nothing, the executor sends what was not acknowledged after it
//! reconnects, and the orchestrator ignores what it has seen already.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::executor::{CancelOutcome, StoreAnswer, StoreOperation};
use crate::run::{Event, Outcome};

/// The orchestrator's WebSocket route for executors.
pub const REGISTER_PATH: &str = "/ws/executor/register";

/// The largest number of labels an executor may carry.
pub const MAX_LABELS: usize = 64;

/// What an executor sends in text frames.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExecutorReport {
    /// The first message on every connection.
    Hello(Hello),
    /// Sent every heartbeat interval; any message counts as a sign of life.
    Heartbeat {
        /// The run this executor is working on, if any.
        running: Option<RunRef>,
        /// Reports not yet acknowledged.
        unacknowledged: u64,
    },
    /// The answer to an assignment.
    AssignReply {
        run: RunRef,
        answer: AssignAnswer,
    },
    /// Something about a run, numbered from 1 within the run attempt.
    RunReport {
        run: RunRef,
        seq: u64,
        report: RunReport,
    },
    CancelReply {
        run_id: String,
        outcome: CancelOutcome,
    },
    StoreReply {
        request: u64,
        answer: StoreAnswer,
    },
}

/// Who an executor is and what it can run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Hello {
    pub executor_id: String,
    /// Different for every start of the executor process: a reconnect with the same
    /// boot id is the same process coming back.
    pub boot_id: String,
    /// The executor's release.
    pub version: String,
    pub protocol_version: u32,
    /// The plan artifact format the executor reads.
    pub artifact_format_version: u32,
    pub datafusion_version: String,
    /// The executor's memory limit in bytes (none: unlimited).
    pub max_memory_bytes: Option<u64>,
    pub labels: BTreeMap<String, String>,
    pub features: Features,
    /// Relative locations of specs compiled for this executor resolve against it.
    pub working_directory: String,
    /// Larger assignments are refused.
    pub max_message_bytes: u64,
    /// Runs this process accepted whose last report is not acknowledged yet.
    pub held: Vec<HeldRun>,
}

/// What an executor supports beyond running plans.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Features {
    /// Whether ODBC sources and destinations are built in.
    pub odbc: bool,
    /// The object stores it reaches (`s3`, `gcs`, `azure`).
    pub object_stores: Vec<String>,
    /// Whether custom SQL against databases is allowed (`--allow-custom-sql`).
    pub custom_sql: bool,
}

/// One attempt at a run: the orchestrator's run id and the attempt number (from 1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RunRef {
    pub run_id: String,
    pub attempt: u32,
}

/// A run an executor still holds when it says hello.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HeldRun {
    pub run: RunRef,
    /// Whether it has ended (its outcome waits to be delivered).
    pub finished: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum AssignAnswer {
    /// It runs now; reports follow.
    Accepted,
    /// The executor is running something else.
    Busy,
    /// The artifact cannot run here (another format, a location it does not allow...).
    Refused { message: String },
}

/// What happened to a run attempt.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RunReport {
    Started,
    Progress {
        event: Event,
    },
    /// The last report of an attempt.
    Finished {
        outcome: Outcome,
    },
}

/// What an orchestrator sends in text frames.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrchestratorMessage {
    /// The executor is registered; heartbeats go at `heartbeat_interval_ms`, and a side
    /// that hears nothing for `heartbeat_timeout_ms` gives the connection up.
    Welcome {
        orchestrator_version: String,
        heartbeat_interval_ms: u64,
        heartbeat_timeout_ms: u64,
        /// For each held run, the last report the orchestrator has: the executor sends
        /// only what follows.
        delivered: Vec<Delivered>,
    },
    /// The executor cannot register; the orchestrator closes the connection.
    Refused {
        reason: String,
    },
    Heartbeat,
    Cancel {
        run_id: String,
    },
    /// Every report of `run` up to `seq` is recorded.
    Ack {
        run: RunRef,
        seq: u64,
    },
    Store {
        request: u64,
        operation: StoreOperation,
    },
    Error {
        message: String,
    },
}

/// How far the orchestrator has recorded a run attempt's reports.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Delivered {
    pub run: RunRef,
    pub seq: u64,
}

/// A binary frame assigning a run: the attempt (run id length as 2 bytes little endian,
/// the id, the attempt as 4 bytes little endian), then the plan artifact. `None` for a
/// run id longer than 65535 bytes, which the frame cannot hold.
pub fn assign_frame(run: &RunRef, artifact: &[u8]) -> Option<Vec<u8>> {
    let id = run.run_id.as_bytes();
    let length = u16::try_from(id.len()).ok()?;
    let mut frame = Vec::with_capacity(6 + id.len() + artifact.len());
    frame.extend_from_slice(&length.to_le_bytes());
    frame.extend_from_slice(id);
    frame.extend_from_slice(&run.attempt.to_le_bytes());
    frame.extend_from_slice(artifact);
    Some(frame)
}

/// Splits an assignment frame into the run attempt and the artifact.
pub fn parse_assign_frame(frame: &[u8]) -> Option<(RunRef, &[u8])> {
    let (length, rest) = frame.split_at_checked(2)?;
    let length = u16::from_le_bytes(length.try_into().ok()?) as usize;
    let (id, rest) = rest.split_at_checked(length)?;
    let (attempt, artifact) = rest.split_at_checked(4)?;
    let run_id = std::str::from_utf8(id).ok()?.to_string();
    Some((RunRef { run_id, attempt: u32::from_le_bytes(attempt.try_into().ok()?) }, artifact))
}

/// Whether `name` may be an executor id or a label key or value: 1 to 128 characters
/// from letters, digits, `.`, `_` and `-`.
pub fn is_plain_name(name: &str) -> bool {
    (1..=128).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> RunRef {
        RunRef { run_id: "r-1".into(), attempt: 2 }
    }

    #[test]
    fn messages_are_tagged_json() {
        let reply = ExecutorReport::AssignReply { run: run(), answer: AssignAnswer::Busy };
        assert_eq!(
            serde_json::to_string(&reply).unwrap(),
            r#"{"type":"assign_reply","run":{"run_id":"r-1","attempt":2},"answer":{"answer":"busy"}}"#
        );
        let report = ExecutorReport::RunReport { run: run(), seq: 3, report: RunReport::Started };
        assert_eq!(
            serde_json::to_string(&report).unwrap(),
            r#"{"type":"run_report","run":{"run_id":"r-1","attempt":2},"seq":3,"report":{"kind":"started"}}"#
        );
        let ack = OrchestratorMessage::Ack { run: run(), seq: 3 };
        assert_eq!(
            serde_json::to_string(&ack).unwrap(),
            r#"{"type":"ack","run":{"run_id":"r-1","attempt":2},"seq":3}"#
        );
        assert_eq!(serde_json::to_string(&OrchestratorMessage::Heartbeat).unwrap(), r#"{"type":"heartbeat"}"#);
    }

    #[test]
    fn hello_round_trips() {
        let hello = Hello {
            executor_id: "exec-1".into(),
            boot_id: "b".into(),
            version: "0.1.0".into(),
            protocol_version: crate::PROTOCOL_VERSION,
            artifact_format_version: 3,
            datafusion_version: "55.2.0".into(),
            max_memory_bytes: Some(4 << 30),
            labels: BTreeMap::from([("pool".into(), "a".into())]),
            features: Features { odbc: true, object_stores: vec!["s3".into()], custom_sql: false },
            working_directory: "/data".into(),
            max_message_bytes: 64 << 20,
            held: vec![HeldRun { run: run(), finished: true }],
        };
        let text = serde_json::to_string(&ExecutorReport::Hello(hello.clone())).unwrap();
        assert!(text.starts_with(r#"{"type":"hello","executor_id":"exec-1""#), "{text}");
        match serde_json::from_str::<ExecutorReport>(&text).unwrap() {
            ExecutorReport::Hello(back) => assert_eq!(back, hello),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn assign_frames_round_trip() {
        let frame = assign_frame(&run(), b"ARTIFACT").unwrap();
        assert_eq!(parse_assign_frame(&frame), Some((run(), &b"ARTIFACT"[..])));
        assert_eq!(parse_assign_frame(&frame[..4]), None);
        assert_eq!(parse_assign_frame(&[5, 0, b'a']), None);
        assert_eq!(parse_assign_frame(&[2, 0, 0xff, 0xfe, 1, 0, 0, 0]), None);
        assert_eq!(assign_frame(&RunRef { run_id: "x".repeat(70_000), attempt: 1 }, b""), None);
    }

    #[test]
    fn plain_names() {
        assert!(is_plain_name("exec-1.eu_west"));
        assert!(!is_plain_name(""));
        assert!(!is_plain_name("a b"));
        assert!(!is_plain_name(&"x".repeat(129)));
    }
}

#[cfg(test)]
mod fuzz {
    //! Any text or frame a peer sends is a message or an error, never a panic.

    use proptest::prelude::*;

    use super::*;

    fn json_like() -> impl Strategy<Value = String> {
        prop_oneof![
            "\\PC{0,200}",
            r#"\{"type":"(hello|heartbeat|assign_reply|run_report|ack|welcome|refused|cancel|x)"(,"[a-z_]{1,12}":("[^"]{0,12}"|[0-9]{1,20}|-1|null|\{\}|\[\]))*\}"#,
        ]
    }

    proptest! {
        #[test]
        fn any_text_is_a_message_or_an_error(text in json_like()) {
            let _ = serde_json::from_str::<ExecutorReport>(&text);
            let _ = serde_json::from_str::<OrchestratorMessage>(&text);
        }

        #[test]
        fn any_frame_parses_or_is_refused(frame in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Some((run, artifact)) = parse_assign_frame(&frame) {
                prop_assert_eq!(assign_frame(&run, artifact), Some(frame));
            }
        }

        #[test]
        fn assignments_round_trip(id in "\\PC{0,40}", attempt in any::<u32>(), artifact in proptest::collection::vec(any::<u8>(), 0..64)) {
            let run = RunRef { run_id: id, attempt };
            let frame = assign_frame(&run, &artifact).unwrap();
            prop_assert_eq!(parse_assign_frame(&frame), Some((run, &artifact[..])));
        }
    }
}
