//! The messages between the `aqueducts` CLI and an `aqueducts-executor`.
//!
//! One WebSocket connection carries everything of a remote run. Control messages are
//! JSON text frames ([`ClientMessage`], [`ExecutorMessage`]); a plan artifact is sent as a
//! binary frame; file bytes asked for while compiling come back as binary frames that
//! start with the request number (8 bytes, little endian). docs/executor.md describes
//! the order of messages.

use serde::{Deserialize, Serialize};

use crate::run::{Event, Outcome};

/// What a client sends in text frames.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Read access to the executor's files while compiling for it: schemas and file
    /// listings come from the executor's view of the data.
    Store { request: u64, operation: StoreOperation },
    /// Stop a queued or running execution (of any client).
    Cancel { execution_id: String },
}

/// A read of the executor's local files, by absolute path.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum StoreOperation {
    /// The size and modification time of a file.
    Head { path: String },
    /// Files under a directory: all of them (`recursive`), or the files and the
    /// sub-directories directly in it.
    List { prefix: String, recursive: bool },
    /// Bytes `start..end` of a file; answered with a binary frame.
    Get { path: String, start: u64, end: u64 },
    /// The columns of an ODBC query's result, asked of the database by the executor
    /// (prepared and described, not run), with secrets from the executor's environment.
    DescribeOdbc { connection_string: String, query: String },
}

/// A column of a described query result; `data_type` in Arrow's own notation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DescribedColumn {
    pub name: String,
    pub data_type: String,
    pub nullable: bool,
}

/// A file as the executor sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileInfo {
    pub path: String,
    pub size: u64,
    /// Milliseconds since the Unix epoch.
    pub modified_ms: i64,
}

/// The answer to a [`StoreOperation`] other than a successful `Get`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StoreAnswer {
    File(FileInfo),
    Listing {
        files: Vec<FileInfo>,
        directories: Vec<String>,
    },
    NotFound {
        path: String,
    },
    Refused {
        message: String,
    },
    /// The answer to [`StoreOperation::DescribeOdbc`].
    Described {
        columns: Vec<DescribedColumn>,
    },
    /// The database (or its driver) refused: `failure` is `query` when the query was
    /// rejected, `connect` when the database could not be reached, `other` otherwise.
    OdbcFailed {
        failure: String,
        message: String,
    },
}

/// What an executor sends in text frames.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExecutorMessage {
    /// The first message on every connection.
    Welcome {
        executor_id: String,
        version: String,
        datafusion_version: String,
        /// The [`crate::PROTOCOL_VERSION`] it speaks (0 from executors that predate it).
        #[serde(default)]
        protocol_version: u32,
        /// Relative locations of specs compiled for this executor resolve against it.
        working_directory: String,
        /// Larger messages are refused.
        max_message_bytes: usize,
    },
    StoreReply {
        request: u64,
        answer: StoreAnswer,
    },
    /// An artifact was accepted and queued under this id.
    Accepted {
        execution_id: String,
    },
    /// The execution waits behind `position - 1` others (1: it runs next).
    Queued {
        execution_id: String,
        position: usize,
    },
    Started {
        execution_id: String,
    },
    Progress {
        execution_id: String,
        event: Event,
    },
    /// The last message about an execution.
    Finished {
        execution_id: String,
        outcome: Outcome,
    },
    CancelReply {
        execution_id: String,
        outcome: CancelOutcome,
    },
    /// A request that could not be served; the connection stays usable unless said.
    Error {
        message: String,
    },
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CancelOutcome {
    /// It was queued or running and has been stopped.
    Cancelled,
    /// The executor knows no such execution (never, or it finished already).
    Unknown,
}

/// A binary frame answering a `Get`: the request number, then the bytes.
pub fn get_reply_frame(request: u64, bytes: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(8 + bytes.len());
    frame.extend_from_slice(&request.to_le_bytes());
    frame.extend_from_slice(bytes);
    frame
}

/// Splits a `Get` answer frame into request number and bytes.
pub fn parse_get_reply_frame(frame: &[u8]) -> Option<(u64, &[u8])> {
    let (head, bytes) = frame.split_at_checked(8)?;
    Some((u64::from_le_bytes(head.try_into().ok()?), bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_tagged_json() {
        let cancel = ClientMessage::Cancel { execution_id: "e1".into() };
        assert_eq!(serde_json::to_string(&cancel).unwrap(), r#"{"type":"cancel","execution_id":"e1"}"#);
        let store = r#"{"type":"store","request":7,"operation":{"op":"get","path":"/d/a.csv","start":0,"end":10}}"#;
        match serde_json::from_str::<ClientMessage>(store).unwrap() {
            ClientMessage::Store { request: 7, operation: StoreOperation::Get { path, start: 0, end: 10 } } => {
                assert_eq!(path, "/d/a.csv")
            }
            other => panic!("{other:?}"),
        }
        let queued = ExecutorMessage::Queued { execution_id: "e1".into(), position: 2 };
        assert_eq!(serde_json::to_string(&queued).unwrap(), r#"{"type":"queued","execution_id":"e1","position":2}"#);
    }

    #[test]
    fn get_frames_round_trip() {
        let frame = get_reply_frame(42, b"abc");
        assert_eq!(parse_get_reply_frame(&frame), Some((42, &b"abc"[..])));
        assert_eq!(parse_get_reply_frame(b"short"), None);
    }
}

#[cfg(test)]
mod fuzz {
    //! Any text a peer sends is a message or an error, never a panic; every message
    //! survives a round trip.

    use proptest::prelude::*;

    use super::*;

    fn json_like() -> impl Strategy<Value = String> {
        prop_oneof![
            "\\PC{0,200}",
            r#"\{"type":"(store|cancel|welcome|queued|finished|x)"(,"[a-z_]{1,12}":("[^"]{0,12}"|[0-9]{1,20}|-1|null|\{\}|\[\]))*\}"#,
        ]
    }

    proptest! {
        #[test]
        fn any_text_is_a_message_or_an_error(text in json_like()) {
            let _ = serde_json::from_str::<ClientMessage>(&text);
            let _ = serde_json::from_str::<ExecutorMessage>(&text);
            let _ = serde_json::from_str::<crate::Health>(&text);
            let _ = parse_get_reply_frame(text.as_bytes());
        }

        #[test]
        fn messages_round_trip(request in any::<u64>(), path in "\\PC{0,40}", start in any::<u64>(), end in any::<u64>(), id in "\\PC{0,20}") {
            let messages = [
                ClientMessage::Store { request, operation: StoreOperation::Get { path: path.clone(), start, end } },
                ClientMessage::Store { request, operation: StoreOperation::List { prefix: path.clone(), recursive: start % 2 == 0 } },
                ClientMessage::Cancel { execution_id: id.clone() },
            ];
            for message in messages {
                let text = serde_json::to_string(&message).unwrap();
                let back: ClientMessage = serde_json::from_str(&text).unwrap();
                prop_assert_eq!(serde_json::to_string(&back).unwrap(), text);
            }
            let frame = get_reply_frame(request, path.as_bytes());
            prop_assert_eq!(parse_get_reply_frame(&frame), Some((request, path.as_bytes())));
        }
    }
}
