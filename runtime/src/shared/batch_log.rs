//! A stream of batches written once and read by several readers at their own pace.
//!
//! Shared stages ([`crate::shared`]) and read-ahead inputs ([`super::read_ahead`]) put
//! their output in a [`BatchLog`]. Each batch stays until every reader has read it. While
//! the readers keep up, batches are kept in memory, accounted in the pool, up to a budget,
//! and the producer goes at the pace of the slowest reader that still reads. Once a
//! reader has read nothing for a while (it may be waiting for this very producer through
//! another input, so waiting longer could deadlock), or the budget cannot be had, further
//! batches go to an Arrow IPC spill file from the disk manager instead. So the output
//! never has to fit in memory, and a reader that stalls holds up nobody.

use std::fmt;
use std::fs::File;
use std::io::{Cursor, Write};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use std::collections::VecDeque;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::SpillFile;
use datafusion::execution::disk_manager::DiskManager;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryLimit, MemoryReservation};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::{FutureExt, StreamExt};
use std::panic::AssertUnwindSafe;
use tokio::sync::Notify;

use crate::run::outcome::RunError;

/// How much of a shared stage's output may wait in memory for its slowest reader without
/// a memory limit. Under a limit it is a sixteenth of the limit, at most this, and only
/// what the pool grants (the log is a spillable consumer: it spills new batches).
const IN_MEMORY_BYTES: usize = 64 * 1024 * 1024;

/// How long the producer waits for a reader that reads nothing before it puts further
/// batches in the spill file instead.
const STALLED_READER: Duration = Duration::from_millis(50);

/// Batches on their way from one producer to a known number of readers.
pub struct BatchLog {
    /// The shared stage whose output this is, for messages; `None` for a read-ahead input.
    stage: Option<String>,
    schema: SchemaRef,
    /// The most the kept batches may take in memory.
    budget: usize,
    state: Mutex<LogState>,
    /// A batch was appended or the log ended (readers wait on this).
    appended: Notify,
    /// The slowest reader moved on (the producer waits on this).
    released: Notify,
    /// The spill file, once a batch had to go there, and a handle to read it.
    spill: OnceLock<(Arc<dyn SpillFile>, File)>,
    disk_manager: Arc<DiskManager>,
}

struct LogState {
    /// Sequence number of `kept[0]`; every batch before it was read by every reader.
    first: usize,
    kept: VecDeque<Kept>,
    /// Per reader, the sequence number of the next batch it reads; `usize::MAX` once it
    /// stopped reading.
    cursors: Vec<usize>,
    /// Readers to come; batches are kept until this many have read them.
    expected: usize,
    /// How often the slowest reader moved on (to tell a slow reader from a stalled one).
    releases: u64,
    end: Option<End>,
    /// The memory of the batches kept in memory.
    reservation: MemoryReservation,
    /// Bytes written to the spill file.
    spilled: u64,
}

enum Kept {
    Memory {
        batch: RecordBatch,
        bytes: usize,
    },
    /// One IPC stream (schema and batch) at `offset` in the spill file.
    Disk {
        offset: u64,
        len: usize,
    },
}

enum End {
    Complete,
    Failed(Arc<DataFusionError>),
    /// The run stopped before the producer did (another stage failed, or an interrupt).
    Abandoned,
}

impl BatchLog {
    /// The log of shared stage `stage`, for `readers` readers (more may subscribe while
    /// nothing was let go).
    pub fn for_stage(stage: &str, schema: SchemaRef, readers: usize, runtime: &RuntimeEnv) -> Arc<Self> {
        let budget = match runtime.memory_pool.memory_limit() {
            MemoryLimit::Finite(limit) => (limit / 16).min(IN_MEMORY_BYTES),
            MemoryLimit::Infinite | MemoryLimit::Unknown => IN_MEMORY_BYTES,
        };
        Self::new(Some(stage.to_string()), schema, readers, budget, runtime)
    }

    /// The log of one partition of a read-ahead input, one of `partitions`: together they
    /// keep at most what one shared stage keeps, and nothing in memory under a memory
    /// limit (their reader is known not to read yet, and the sorts and joins around it
    /// need the pool more).
    pub fn for_read_ahead(schema: SchemaRef, partitions: usize, runtime: &RuntimeEnv) -> Arc<Self> {
        let budget = match runtime.memory_pool.memory_limit() {
            MemoryLimit::Finite(_) => 0,
            MemoryLimit::Infinite | MemoryLimit::Unknown => IN_MEMORY_BYTES / partitions.max(1),
        };
        Self::new(None, schema, 1, budget, runtime)
    }

    fn new(stage: Option<String>, schema: SchemaRef, readers: usize, budget: usize, runtime: &RuntimeEnv) -> Arc<Self> {
        let consumer = MemoryConsumer::new(format!("{} kept for its readers", stage.as_deref().unwrap_or("output")))
            .with_can_spill(budget > 0);
        Arc::new(BatchLog {
            stage,
            schema,
            budget,
            state: Mutex::new(LogState {
                first: 0,
                kept: VecDeque::new(),
                cursors: Vec::new(),
                expected: readers,
                releases: 0,
                end: None,
                reservation: consumer.register(&runtime.memory_pool),
                spilled: 0,
            }),
            appended: Notify::new(),
            released: Notify::new(),
            spill: OnceLock::new(),
            disk_manager: runtime.disk_manager.clone(),
        })
    }

    /// Bytes that went to the spill file so far.
    #[cfg(test)]
    fn spilled_bytes(&self) -> u64 {
        self.lock().spilled
    }

    fn lock(&self) -> MutexGuard<'_, LogState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads `input` into the log to its end and ends the log; returns the rows. Dropped
    /// before that, it tells the readers that the run was stopped. A panic while
    /// producing is an error like any other, for the readers and the caller alike.
    pub async fn fill(&self, input: Result<SendableRecordBatchStream>) -> Result<u64> {
        let _abandon_if_dropped = AbandonOnDrop(self);
        let produced = AssertUnwindSafe(self.produce(input)).catch_unwind().await;
        let outcome = produced.unwrap_or_else(|panic| {
            let cause = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("no message");
            Err(DataFusionError::Execution(format!("panicked: {cause}")))
        });
        let (end, outcome) = match outcome {
            Ok(rows) => (End::Complete, Ok(rows)),
            Err(error) => {
                let error = Arc::new(error);
                (End::Failed(error.clone()), Err(DataFusionError::Shared(error)))
            }
        };
        self.lock().end.get_or_insert(end);
        self.appended.notify_waiters();
        outcome
    }

    async fn produce(&self, input: Result<SendableRecordBatchStream>) -> Result<u64> {
        let mut input = input?;
        let mut appender = None;
        let mut stalled_at = None;
        let mut rows = 0u64;
        while let Some(batch) = input.next().await {
            let batch = batch?;
            rows += batch.num_rows() as u64;
            self.append(batch, &mut appender, &mut stalled_at).await?;
        }
        Ok(rows)
    }

    /// The producer's error, if it failed.
    pub fn failure(&self) -> Option<Arc<DataFusionError>> {
        match &self.lock().end {
            Some(End::Failed(error)) => Some(error.clone()),
            _ => None,
        }
    }

    /// Keeps a batch for the readers: in memory when it fits the budget (waiting for
    /// readers that read on), else in the spill file.
    async fn append(
        &self,
        batch: RecordBatch,
        appender: &mut Option<SpillAppender>,
        stalled_at: &mut Option<u64>,
    ) -> Result<()> {
        let bytes = batch.get_array_memory_size();
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            {
                let mut state = self.lock();
                if state.live_readers() == 0 {
                    // Every reader stopped: nobody reads it. It still counts, so that a
                    // reader coming later is refused rather than given a gap.
                    state.first += 1;
                    return Ok(());
                }
                let fits = state.reservation.size() + bytes <= self.budget;
                if fits && state.reservation.try_grow(bytes).is_ok() {
                    state.kept.push_back(Kept::Memory { batch, bytes });
                    drop(state);
                    self.appended.notify_waiters();
                    return Ok(());
                }
                // Waiting helps only when readers can free memory of this log, and not
                // for a reader that stalled here before and has not moved since: it is
                // busy with something else, maybe waiting for this producer elsewhere.
                let readers_can_free = state.reservation.size() > 0 && bytes <= self.budget;
                if !readers_can_free || *stalled_at == Some(state.releases) {
                    break;
                }
            }
            if tokio::time::timeout(STALLED_READER, released).await.is_err() {
                *stalled_at = Some(self.lock().releases);
                break;
            }
        }
        let (offset, len) = self.spill_batch(&batch, appender)?;
        let mut state = self.lock();
        state.kept.push_back(Kept::Disk { offset, len });
        state.spilled += len as u64;
        drop(state);
        self.appended.notify_waiters();
        Ok(())
    }

    fn spill_batch(&self, batch: &RecordBatch, appender: &mut Option<SpillAppender>) -> Result<(u64, usize)> {
        let appender = match appender {
            Some(appender) => appender,
            None => {
                let file = self.disk_manager.create_tmp_file("output kept for its readers")?;
                let path = file.path().ok_or_else(no_local_path)?;
                let writer = File::create(path)?;
                let reader = File::open(path)?;
                let _ = self.spill.set((file, reader));
                appender.insert(SpillAppender { file: writer, offset: 0 })
            }
        };
        let mut encoded = Vec::new();
        let mut writer = StreamWriter::try_new(&mut encoded, &self.schema)?;
        writer.write(batch)?;
        writer.finish()?;
        drop(writer);
        appender.file.write_all(&encoded)?;
        let offset = appender.offset;
        appender.offset += encoded.len() as u64;
        Ok((offset, encoded.len()))
    }

    /// A new reader from the first batch, as a stream of `projection`'s columns.
    pub fn reader(
        self: &Arc<Self>,
        schema: SchemaRef,
        projection: Option<Vec<usize>>,
    ) -> Result<SendableRecordBatchStream> {
        let reading = Reading { reader: self.subscribe()?, log: self.clone(), projection, done: false };
        let batches = futures::stream::unfold(reading, |mut reading| async move {
            if reading.done {
                return None;
            }
            match reading.log.next(reading.reader, reading.projection.as_ref()).await {
                Ok(Some(batch)) => Some((Ok(batch), reading)),
                Ok(None) => None,
                Err(error) => {
                    reading.done = true;
                    Some((Err(error), reading))
                }
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, batches)))
    }

    fn subscribe(&self) -> Result<usize> {
        let mut state = self.lock();
        if state.cursors.len() >= state.expected {
            // Read more often than planned for: fine while nothing was let go.
            if state.first > 0 {
                return Err(DataFusionError::Internal(format!(
                    "{} was read more often than its run planned for",
                    self.name()
                )));
            }
            state.expected += 1;
        }
        let first = state.first;
        state.cursors.push(first);
        Ok(state.cursors.len() - 1)
    }

    /// The next batch for `reader`, `None` at the end.
    async fn next(&self, reader: usize, projection: Option<&Vec<usize>>) -> Result<Option<RecordBatch>> {
        loop {
            let appended = self.appended.notified();
            tokio::pin!(appended);
            appended.as_mut().enable();
            let found = {
                let state = self.lock();
                let cursor = state.cursors[reader];
                match state.kept.get(cursor.wrapping_sub(state.first)) {
                    Some(Kept::Memory { batch, .. }) => Some(Ok(batch.clone())),
                    Some(Kept::Disk { offset, len }) => Some(Err((*offset, *len))),
                    None => match &state.end {
                        None => None,
                        Some(End::Complete) => return Ok(None),
                        Some(End::Failed(error)) => return Err(self.failed(error)),
                        Some(End::Abandoned) => return Err(self.stopped()),
                    },
                }
            };
            let batch = match found {
                None => {
                    appended.await;
                    continue;
                }
                Some(Ok(batch)) => match projection {
                    Some(columns) => batch.project(columns)?,
                    None => batch,
                },
                Some(Err((offset, len))) => self.read_spilled(offset, len, projection)?,
            };
            self.advance(reader, None);
            return Ok(Some(batch));
        }
    }

    /// The producer's error as its readers see it: named after the stage when there is
    /// one (a memory limit stays a memory limit), else the error itself.
    fn failed(&self, error: &Arc<DataFusionError>) -> DataFusionError {
        let Some(stage) = &self.stage else {
            return DataFusionError::Shared(error.clone());
        };
        let failure = RunError::of(stage, error);
        if failure.memory_limit {
            DataFusionError::ResourcesExhausted(failure.to_string())
        } else {
            DataFusionError::Execution(failure.to_string())
        }
    }

    fn stopped(&self) -> DataFusionError {
        DataFusionError::Execution(format!("{} was stopped", self.name()))
    }

    fn name(&self) -> String {
        match &self.stage {
            Some(stage) => format!("stage `{stage}`"),
            None => "an input".to_string(),
        }
    }

    fn read_spilled(&self, offset: u64, len: usize, projection: Option<&Vec<usize>>) -> Result<RecordBatch> {
        let (_, file) = self.spill.get().ok_or_else(no_local_path)?;
        let mut encoded = vec![0; len];
        file.read_exact_at(&mut encoded, offset)?;
        let mut reader = StreamReader::try_new(Cursor::new(encoded), projection.cloned())?;
        match reader.next() {
            Some(batch) => Ok(batch?),
            None => Err(DataFusionError::Internal("a spill file lost a batch".into())),
        }
    }

    /// Moves `reader` on (to `usize::MAX` when it stops) and lets go of what every
    /// reader has read.
    fn advance(&self, reader: usize, to: Option<usize>) {
        let mut state = self.lock();
        let cursor = &mut state.cursors[reader];
        *cursor = to.unwrap_or_else(|| cursor.saturating_add(1));
        let slowest = state.slowest();
        let mut released = false;
        while state.first < slowest {
            let Some(kept) = state.kept.pop_front() else { break };
            if let Kept::Memory { bytes, .. } = kept {
                state.reservation.shrink(bytes);
            }
            state.first += 1;
            released = true;
        }
        if released {
            state.releases += 1;
            drop(state);
            self.released.notify_one();
        }
    }
}

impl fmt::Debug for BatchLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchLog").field("stage", &self.stage).finish_non_exhaustive()
    }
}

impl LogState {
    /// The sequence number the slowest reader reads next (0 while a reader has yet to
    /// start).
    fn slowest(&self) -> usize {
        if self.cursors.len() < self.expected {
            return 0;
        }
        self.cursors.iter().copied().min().unwrap_or(usize::MAX)
    }

    fn live_readers(&self) -> usize {
        self.expected - self.cursors.iter().filter(|&&cursor| cursor == usize::MAX).count()
    }
}

/// The producer's end of the spill file.
struct SpillAppender {
    file: File,
    offset: u64,
}

/// Tells the readers the producer stopped, if it is dropped before it finished.
struct AbandonOnDrop<'a>(&'a BatchLog);

impl Drop for AbandonOnDrop<'_> {
    fn drop(&mut self) {
        self.0.lock().end.get_or_insert(End::Abandoned);
        self.0.appended.notify_waiters();
    }
}

/// One reader; when it stops (at the end, or dropped early by a LIMIT or a stopped run),
/// the log lets go of what only this reader still needed.
struct Reading {
    log: Arc<BatchLog>,
    reader: usize,
    projection: Option<Vec<usize>>,
    done: bool,
}

impl Drop for Reading {
    fn drop(&mut self) {
        self.log.advance(self.reader, Some(usize::MAX));
    }
}

fn no_local_path() -> DataFusionError {
    DataFusionError::Execution("the disk manager's spill file has no local path".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, Int64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;

    const BATCHES: i64 = 200;
    const ROWS: i64 = 1000;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]))
    }

    /// `BATCHES` batches of `ROWS` consecutive numbers (8 KB each), then `end`.
    fn numbers(end: Option<DataFusionError>) -> Result<SendableRecordBatchStream> {
        let batches = (0..BATCHES).map(|b| {
            let values = Int64Array::from_iter_values(b * ROWS..(b + 1) * ROWS);
            Ok(RecordBatch::try_new(schema(), vec![Arc::new(values)])?)
        });
        let stream = futures::stream::iter(batches.chain(end.map(Err)));
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema(), stream)))
    }

    /// A runtime whose pool leaves the log `budget` bytes.
    fn runtime(budget: usize) -> Arc<RuntimeEnv> {
        RuntimeEnvBuilder::new().with_memory_limit(budget * 16, 1.0).build_arc().unwrap()
    }

    async fn read_all(mut reader: SendableRecordBatchStream) -> Result<Vec<i64>> {
        let mut values = Vec::new();
        while let Some(batch) = reader.next().await {
            let batch = batch?;
            let column = batch.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            values.extend((0..column.len()).map(|i| column.value(i)));
        }
        Ok(values)
    }

    fn everything() -> Vec<i64> {
        (0..BATCHES * ROWS).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn readers_that_keep_up_read_everything_from_memory() {
        let runtime = runtime(64 * 1024);
        let log = BatchLog::for_stage("s", schema(), 2, &runtime);
        let (first, second) = (log.reader(schema(), None).unwrap(), log.reader(schema(), None).unwrap());
        let (rows, first, second) = tokio::join!(log.fill(numbers(None)), read_all(first), read_all(second));
        assert_eq!(rows.unwrap(), (BATCHES * ROWS) as u64);
        assert_eq!(first.unwrap(), everything());
        assert_eq!(second.unwrap(), everything());
        assert_eq!(log.spilled_bytes(), 0, "a 64 KiB budget holds what two readers keep up with");
        assert_eq!(runtime.memory_pool.reserved(), 0, "everything read is let go");
    }

    /// A reader that reads nothing until the producer is done (as a join's probe side
    /// waits for its build side) neither blocks the producer nor the other reader: what
    /// it has yet to read goes to the spill file, and it reads it from there, in order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reader_that_waits_for_the_end_reads_it_from_the_spill_file() {
        let runtime = runtime(64 * 1024);
        let log = BatchLog::for_stage("s", schema(), 2, &runtime);
        let (eager, waiting) = (log.reader(schema(), None).unwrap(), log.reader(schema(), None).unwrap());
        let (rows, eager) = tokio::join!(log.fill(numbers(None)), read_all(eager));
        assert_eq!(rows.unwrap(), (BATCHES * ROWS) as u64);
        assert_eq!(eager.unwrap(), everything());
        assert!(log.spilled_bytes() > 1_000_000, "{} bytes spilled", log.spilled_bytes());
        assert!(runtime.memory_pool.reserved() <= 64 * 1024, "memory stays within the budget");
        assert_eq!(read_all(waiting).await.unwrap(), everything());
        assert_eq!(runtime.memory_pool.reserved(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reader_that_stops_early_no_longer_holds_batches_back() {
        let runtime = runtime(64 * 1024);
        let log = BatchLog::for_stage("s", schema(), 2, &runtime);
        let (mut stopping, reading) = (log.reader(schema(), None).unwrap(), log.reader(schema(), None).unwrap());
        let stop_after_one = async move { stopping.next().await.is_some() };
        let (rows, read_one, all) = tokio::join!(log.fill(numbers(None)), stop_after_one, read_all(reading));
        assert!(read_one);
        assert_eq!(rows.unwrap(), (BATCHES * ROWS) as u64);
        assert_eq!(all.unwrap(), everything());
        assert_eq!(log.spilled_bytes(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn readers_fail_with_the_producers_error_and_its_kind() {
        let runtime = runtime(64 * 1024);
        let log = BatchLog::for_stage("s", schema(), 1, &runtime);
        let reader = log.reader(schema(), None).unwrap();
        let exhausted = DataFusionError::ResourcesExhausted("no memory left for the sort".into());
        let (rows, read) = tokio::join!(log.fill(numbers(Some(exhausted))), read_all(reader));
        assert!(rows.is_err());
        let error = read.unwrap_err();
        assert!(matches!(error, DataFusionError::ResourcesExhausted(_)), "{error}");
        assert!(error.to_string().contains("stage `s` failed: "), "{error}");
        let failure = RunError::of("s", &log.failure().unwrap());
        assert!(failure.memory_limit && failure.message.contains("no memory left for the sort"), "{failure:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_producer_is_an_error_for_its_readers() {
        let runtime = runtime(64 * 1024);
        let log = BatchLog::for_read_ahead(schema(), 1, &runtime);
        let reader = log.reader(schema(), None).unwrap();
        let panics = futures::stream::once(async { panic!("decoder gave up") });
        let input: SendableRecordBatchStream = Box::pin(RecordBatchStreamAdapter::new(schema(), panics));
        let (rows, read) = tokio::join!(log.fill(Ok(input)), read_all(reader));
        assert!(rows.unwrap_err().to_string().contains("panicked: decoder gave up"));
        let error = read.unwrap_err().to_string();
        assert!(error.contains("panicked: decoder gave up") && !error.contains("stopped"), "{error}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stopped_producer_is_reported_to_its_readers() {
        let runtime = runtime(64 * 1024);
        let log = BatchLog::for_stage("s", schema(), 1, &runtime);
        let reader = log.reader(schema(), None).unwrap();
        let never_ends = futures::stream::pending::<Result<RecordBatch>>();
        let input: SendableRecordBatchStream = Box::pin(RecordBatchStreamAdapter::new(schema(), never_ends));
        let filling = log.fill(Ok(input));
        let stopped = tokio::time::timeout(Duration::from_millis(20), filling).await;
        assert!(stopped.is_err(), "the producer never ends by itself");
        let error = read_all(reader).await.unwrap_err();
        assert!(error.to_string().contains("stage `s` was stopped"), "{error}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_read_more_than_planned_is_taken_until_batches_are_let_go() {
        let runtime = runtime(64 * 1024);
        let log = BatchLog::for_stage("s", schema(), 0, &runtime);
        let early = log.reader(schema(), None).unwrap();
        let (rows, all) = tokio::join!(log.fill(numbers(None)), read_all(early));
        assert_eq!(rows.unwrap(), (BATCHES * ROWS) as u64);
        assert_eq!(all.unwrap(), everything());
        let late = log.reader(schema(), Some(vec![0])).err().expect("its batches are gone");
        assert!(late.to_string().contains("read more often than its run planned for"), "{late}");
    }
}
