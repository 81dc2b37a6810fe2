//! The store operations of a compiling peer (a CLI, or an orchestrator compiling for this
//! executor), served in the order they come and bounded in what waits.
//!
//! Each request is served on a blocking thread ([`crate::files::serve`]: the allow-list,
//! reads of at most `files::MAX_GET_BYTES`, ODBC descriptions); at most [`IN_FLIGHT`]
//! answers wait to be written, each holding a permit its writer releases once the answer
//! is on the socket, so a peer that does not read stops its own requests, not the
//! executor.

use std::sync::Arc;

use aqueducts_protocol::{StoreAnswer, StoreOperation, get_reply_frame};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::files::{Served, serve as serve_files};
use crate::state::Executor;

/// Answers of one connection that may wait to be written, and requests that may wait
/// to be served.
pub const IN_FLIGHT: usize = 2;

/// An answer to send: a message, or the bytes of a read in a `get_reply_frame`.
pub enum StoreReply {
    Answer { request: u64, answer: StoreAnswer },
    Bytes(Vec<u8>),
}

/// Serves requests sent to the returned channel one after the other; `reply` sends each
/// answer and drops the permit once it is written.
pub fn serve(
    executor: Arc<Executor>,
    reply: impl Fn(StoreReply, OwnedSemaphorePermit) + Send + 'static,
) -> mpsc::Sender<(u64, StoreOperation)> {
    let (requests, mut incoming) = mpsc::channel::<(u64, StoreOperation)>(IN_FLIGHT);
    let unwritten = Arc::new(Semaphore::new(IN_FLIGHT));
    tokio::spawn(async move {
        while let Some((request, operation)) = incoming.recv().await {
            let Ok(permit) = unwritten.clone().acquire_owned().await else { return };
            let executor = executor.clone();
            let served =
                tokio::task::spawn_blocking(move || serve_files(&operation, &executor.allowed, &executor.databases))
                    .await;
            let answer = match served {
                Ok(Served::Answer(answer)) => StoreReply::Answer { request, answer },
                Ok(Served::Bytes(bytes)) => StoreReply::Bytes(get_reply_frame(request, &bytes)),
                Err(_) => StoreReply::Answer {
                    request,
                    answer: StoreAnswer::Refused { message: "the request failed on the executor".into() },
                },
            };
            reply(answer, permit);
        }
    });
    requests
}
