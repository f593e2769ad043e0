//! The call-log writer: requests hand their entries to a bounded queue ([`CallLogQueue`], the
//! domain's `CallLogSink`) and never wait; one background task ([`CallLogWriter`]) writes them
//! in batches, with the last use of each gateway key.
//!
//! While the database is away the entries stay in memory and the batch is retried with
//! backoff; past `memory_capacity` the oldest go to the spill file, as does everything still
//! unwritten when the server stops, and a full queue spills at once rather than drop. Once the
//! database takes a batch again (and when the writer starts) the spill file is replayed. Every
//! insert does nothing on a duplicate id, so a batch retried after a lost acknowledgement or a
//! replay run twice leaves each entry in the table once.

mod rows;
mod spill;

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use switchyard_domain::StoreError;
use switchyard_domain::gateway::{CallLogCounts, CallLogEntry, CallLogFilter, CallLogReader, CallLogSink};
use switchyard_domain::kernel::ids::UserId;
use switchyard_domain::kernel::page::{Cursor, Page, PageRequest};
use switchyard_domain::usage::Rollups;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tracing::instrument;
use uuid::Uuid;

use rows::from_row;
pub use spill::SPILL_FILE;
use spill::{SpillFile, SpillReader};

use crate::entity::{api_call_logs, api_keys};
use crate::error::store_error;
use crate::page::paginate;
use crate::usage_store;

/// The most rows one insert carries (26 columns each, inside every backend's parameter limit).
pub const MAX_BATCH: usize = 1000;
/// The first wait before a failed batch is retried; it doubles up to `retry_max`.
const FIRST_RETRY: Duration = Duration::from_millis(100);
/// How long the last flush at shutdown may try before what is left is spilled.
const FINAL_FLUSH: Duration = Duration::from_secs(2);
/// How long one insert may take before it counts as failed.
const INSERT_TIMEOUT: Duration = Duration::from_secs(10);

/// How the writer batches and how much it holds.
#[derive(Debug, Clone)]
pub struct CallLogSettings {
    /// Entries the queue holds before `record` spills to the file.
    pub queue_capacity: usize,
    /// Rows per insert (at most [`MAX_BATCH`]).
    pub batch_size: usize,
    /// How long an entry may wait for its batch to fill.
    pub flush_interval: Duration,
    /// Entries kept in memory while the database is away; older ones are spilled.
    pub memory_capacity: usize,
    /// The longest wait between two attempts while the database is away.
    pub retry_max: Duration,
}

impl Default for CallLogSettings {
    fn default() -> Self {
        Self {
            queue_capacity: 10_000,
            batch_size: 500,
            flush_interval: Duration::from_millis(200),
            memory_capacity: 10_000,
            retry_max: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Default)]
struct Stats {
    written: AtomicU64,
    pending: AtomicU64,
    spilled: AtomicU64,
    replayed: AtomicU64,
    failed_batches: AtomicU64,
}

/// The entries' way in: never blocks, never drops (a full queue spills to the file).
#[derive(Debug, Clone)]
pub struct CallLogQueue {
    sender: mpsc::Sender<CallLogEntry>,
    spill: Arc<SpillFile>,
    stats: Arc<Stats>,
    /// Wakes the writer when a batch's worth waits (it is not woken entry by entry).
    full: Arc<Notify>,
    /// Queued entries that wake it: a batch's worth, or half the queue when that is smaller.
    wake_at: usize,
}

impl CallLogSink for CallLogQueue {
    fn record(&self, entry: CallLogEntry) {
        let entry = match self.sender.try_send(entry) {
            Ok(()) => {
                if self.sender.max_capacity() - self.sender.capacity() >= self.wake_at {
                    self.full.notify_one();
                }
                return;
            }
            Err(mpsc::error::TrySendError::Full(entry) | mpsc::error::TrySendError::Closed(entry)) => entry,
        };
        let (spill, stats) = (self.spill.clone(), self.stats.clone());
        let write = move || match spill.append(std::slice::from_ref(&entry)) {
            Ok(()) => {
                stats.spilled.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(request_id = %entry.request_id, "the call-log queue is full; the entry went to the spill file");
            }
            Err(error) => tracing::error!(
                request_id = %entry.request_id,
                %error,
                path = %spill.path().display(),
                "a call-log entry was lost: the queue is full and the spill file cannot be written; check the data directory"
            ),
        };
        // The file write (and its sync) happens off the request's thread.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(write)),
            Err(_) => write(),
        }
    }

    fn counts(&self) -> CallLogCounts {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        CallLogCounts {
            written: read(&self.stats.written),
            pending: read(&self.stats.pending)
                + u64::try_from(self.sender.max_capacity() - self.sender.capacity()).unwrap_or(0),
            spilled: read(&self.stats.spilled),
            replayed: read(&self.stats.replayed),
            failed_batches: read(&self.stats.failed_batches),
        }
    }
}

/// The background task that writes what the queue takes.
#[derive(Debug)]
pub struct CallLogWriter {
    db: DatabaseConnection,
    settings: CallLogSettings,
    receiver: mpsc::Receiver<CallLogEntry>,
    spill: Arc<SpillFile>,
    stats: Arc<Stats>,
    full: Arc<Notify>,
    pending: VecDeque<CallLogEntry>,
    /// When the oldest pending entry arrived (its batch is due a flush interval later).
    oldest: Option<Instant>,
    /// While the database is away: when to try again, and the wait after that.
    retry: Option<(Instant, Duration)>,
}

/// The queue and its writer; the writer's spill file is in `data_dir`.
pub fn call_log(db: DatabaseConnection, settings: CallLogSettings, data_dir: &Path) -> (CallLogQueue, CallLogWriter) {
    let settings = CallLogSettings {
        batch_size: settings.batch_size.clamp(1, MAX_BATCH),
        queue_capacity: settings.queue_capacity.max(1),
        ..settings
    };
    let (sender, receiver) = mpsc::channel(settings.queue_capacity);
    let spill = Arc::new(SpillFile::in_dir(data_dir));
    let stats = Arc::new(Stats::default());
    let full = Arc::new(Notify::new());
    let queue = CallLogQueue {
        sender,
        spill: spill.clone(),
        stats: stats.clone(),
        full: full.clone(),
        wake_at: settings.batch_size.min(settings.queue_capacity / 2).max(1),
    };
    let writer = CallLogWriter {
        db,
        settings,
        receiver,
        spill,
        stats,
        full,
        pending: VecDeque::new(),
        oldest: None,
        retry: None,
    };
    (queue, writer)
}

impl CallLogWriter {
    /// Writes until `stop` completes, then writes or spills everything left.
    pub async fn run(mut self, stop: impl Future<Output = ()> + Send) {
        tokio::pin!(stop);
        self.replay().await;
        let mut received = Vec::with_capacity(self.settings.batch_size);
        loop {
            if self.retry.is_none() && self.pending.len() >= self.settings.batch_size {
                self.write_batch().await;
                continue;
            }
            let due = match (self.retry, self.oldest) {
                (Some((at, _)), _) => Some(at),
                (None, Some(oldest)) => Some(oldest + self.settings.flush_interval),
                (None, None) => None,
            };
            if self.pending.is_empty() && self.retry.is_none() {
                // Idle: the first entry starts a batch.
                tokio::select! {
                    biased;
                    () = &mut stop => break,
                    count = self.receiver.recv_many(&mut received, self.settings.batch_size) => {
                        if count == 0 {
                            break;
                        }
                        self.accept(received.drain(..));
                    }
                }
                continue;
            }
            // A batch is forming: the writer sleeps until it is due (or a batch's worth waits),
            // then takes everything queued meanwhile — not woken by every request.
            let timed_out = tokio::select! {
                biased;
                () = &mut stop => break,
                () = self.full.notified() => false,
                () = sleep_until(due) => true,
            };
            if !self.take_queued(&mut received) {
                break;
            }
            if timed_out {
                self.write_batch().await;
            }
        }
        self.finish().await;
    }

    /// Moves what the queue holds into `pending`; `false` once the queue is closed and empty.
    fn take_queued(&mut self, received: &mut Vec<CallLogEntry>) -> bool {
        loop {
            match self.receiver.try_recv() {
                Ok(entry) => received.push(entry),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.accept(received.drain(..));
                    return false;
                }
            }
            if received.len() >= self.settings.batch_size {
                self.accept(received.drain(..));
            }
        }
        self.accept(received.drain(..));
        true
    }

    fn accept(&mut self, entries: impl Iterator<Item = CallLogEntry>) {
        for entry in entries {
            if self.pending.is_empty() {
                self.oldest = Some(Instant::now());
            }
            self.pending.push_back(entry);
        }
        let over = self.pending.len().saturating_sub(self.settings.memory_capacity);
        if over > 0 {
            let oldest: Vec<CallLogEntry> = self.pending.drain(..over).collect();
            self.spill_entries(&oldest);
        }
        self.stats.pending.store(self.pending.len() as u64, Ordering::Relaxed);
    }

    fn spill_entries(&self, entries: &[CallLogEntry]) {
        match self.spill.append(entries) {
            Ok(()) => {
                self.stats.spilled.fetch_add(entries.len() as u64, Ordering::Relaxed);
            }
            Err(error) => tracing::error!(
                entries = entries.len(),
                %error,
                path = %self.spill.path().display(),
                "call-log entries were lost: the spill file cannot be written; check the data directory"
            ),
        }
    }

    /// Writes the oldest batch; on failure keeps it and sets the next attempt.
    async fn write_batch(&mut self) {
        let size = self.pending.len().min(self.settings.batch_size);
        if size == 0 {
            // Only the spill file was waiting for the database (a failed replay sets the next
            // attempt itself, a successful one clears it).
            self.oldest = None;
            self.replay().await;
            return;
        }
        let batch: Vec<CallLogEntry> = self.pending.iter().take(size).cloned().collect();
        match insert(&self.db, &batch).await {
            Ok(()) => {
                self.pending.drain(..size);
                self.stats.written.fetch_add(size as u64, Ordering::Relaxed);
                self.stats.pending.store(self.pending.len() as u64, Ordering::Relaxed);
                self.oldest = (!self.pending.is_empty()).then(Instant::now);
                if self.retry.take().is_some() {
                    tracing::info!("the database takes call-log entries again");
                }
                if self.spill.has_entries() {
                    self.replay().await;
                }
            }
            Err(error) => self.failed(&error),
        }
    }

    /// A batch (or a replay) failed: the next attempt waits twice as long as the last one, up
    /// to `retry_max`.
    fn failed(&mut self, error: &DbErr) {
        self.stats.failed_batches.fetch_add(1, Ordering::Relaxed);
        if self.retry.is_none() {
            tracing::warn!(%error, pending = self.pending.len(), "the database refused call-log entries; they are kept and retried");
        }
        self.back_off();
    }

    /// Sets the next attempt: twice the last wait, up to `retry_max`.
    fn back_off(&mut self) {
        let wait = match self.retry {
            None => FIRST_RETRY,
            Some((_, wait)) => (wait * 2).min(self.settings.retry_max),
        };
        self.retry = Some((Instant::now() + wait, wait));
    }

    /// Inserts the spill file's entries; stops at the first failure (the file stays for the
    /// next attempt, which starts over).
    async fn replay(&mut self) {
        if !self.spill.has_entries() {
            return;
        }
        let path = match self.spill.take_for_replay() {
            Ok(Some(path)) => path,
            Ok(None) => return,
            Err(error) => {
                tracing::error!(%error, "cannot move the call-log spill file aside to replay it");
                // Tried again later, not in a loop.
                self.back_off();
                return;
            }
        };
        let mut reader = match SpillReader::open(&path) {
            Ok(reader) => reader,
            Err(error) => {
                tracing::error!(%error, path = %path.display(), "cannot read the call-log spill file");
                // Tried again later, not in a loop.
                self.back_off();
                return;
            }
        };
        let mut replayed = 0u64;
        loop {
            let batch = match reader.next_batch(self.settings.batch_size) {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::error!(%error, path = %path.display(), "cannot read the call-log spill file");
                    // Tried again later, not in a loop.
                    self.back_off();
                    return;
                }
            };
            if batch.is_empty() {
                break;
            }
            if let Err(error) = insert(&self.db, &batch).await {
                tracing::debug!(%error, "replaying the call-log spill file stopped; it starts over when the database is back");
                self.failed(&error);
                return;
            }
            replayed += batch.len() as u64;
        }
        if reader.skipped > 0 {
            tracing::warn!(
                skipped = reader.skipped,
                "lines of the call-log spill file did not read and were skipped"
            );
        }
        if let Err(error) = self.spill.finish_replay(&path) {
            tracing::error!(%error, path = %path.display(), "cannot remove the replayed spill file; its entries are in the table and a replay will skip them");
        }
        self.stats.replayed.fetch_add(replayed, Ordering::Relaxed);
        self.stats.written.fetch_add(replayed, Ordering::Relaxed);
        if self.retry.take().is_some() {
            tracing::info!("the database takes call-log entries again");
        }
        tracing::info!(replayed, "the call-log spill file was replayed");
    }

    /// Takes what the queue still holds, writes it while the database answers (within
    /// [`FINAL_FLUSH`]), and spills the rest.
    async fn finish(mut self) {
        self.receiver.close();
        while let Some(entry) = self.receiver.recv().await {
            self.pending.push_back(entry);
        }
        let deadline = Instant::now() + FINAL_FLUSH;
        while !self.pending.is_empty() && Instant::now() < deadline {
            let size = self.pending.len().min(self.settings.batch_size);
            let batch: Vec<CallLogEntry> = self.pending.iter().take(size).cloned().collect();
            match tokio::time::timeout_at(deadline, insert(&self.db, &batch)).await {
                Ok(Ok(())) => {
                    self.pending.drain(..size);
                    self.stats.written.fetch_add(size as u64, Ordering::Relaxed);
                }
                _ => break,
            }
        }
        if !self.pending.is_empty() {
            let left: Vec<CallLogEntry> = self.pending.drain(..).collect();
            tracing::warn!(
                entries = left.len(),
                "the database did not take the last call-log entries; they were spilled for the next start"
            );
            self.spill_entries(&left);
        }
        self.stats.pending.store(0, Ordering::Relaxed);
    }
}

/// Reads the call log back: pages for the API, everything for operators' tools and tests.
#[derive(Debug, Clone)]
pub struct SqlCallLogs {
    db: DatabaseConnection,
}

impl SqlCallLogs {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// The database's plan for a page of the log (benchmarks name a slow query's plan).
    pub async fn plan(&self, filter: &CallLogFilter, page: PageRequest) -> Result<String, StoreError> {
        use sea_orm::QueryTrait;
        let select = paginate(
            page_select(filter),
            api_call_logs::Column::CreatedAt,
            api_call_logs::Column::Id,
            page,
        );
        crate::database::explain(&self.db, select.build(self.db.get_database_backend())).await
    }

    /// Every entry, oldest first.
    pub async fn all(&self) -> Result<Vec<CallLogEntry>, StoreError> {
        let rows = api_call_logs::Entity::find()
            .order_by_asc(api_call_logs::Column::CreatedAt)
            .order_by_asc(api_call_logs::Column::Id)
            .all(&self.db)
            .await
            .map_err(store_error)?;
        entries(rows)
    }
}

/// The entries a filter keeps, before paging.
fn page_select(filter: &CallLogFilter) -> sea_orm::Select<api_call_logs::Entity> {
    use api_call_logs::Column;
    let mut select = api_call_logs::Entity::find();
    if let Some(from) = filter.from {
        select = select.filter(Column::CreatedAt.gte(from));
    }
    if let Some(to) = filter.to {
        select = select.filter(Column::CreatedAt.lt(to));
    }
    for (column, id) in [
        (Column::UserId, filter.user.map(|id| id.0)),
        (Column::ApiKeyId, filter.api_key.map(|id| id.0)),
        (Column::ModelId, filter.model.map(|id| id.0)),
        (Column::SupplierId, filter.supplier.map(|id| id.0)),
    ] {
        if let Some(id) = id {
            select = select.filter(column.eq(id));
        }
    }
    if let Some(status) = filter.status {
        select = select.filter(Column::StatusCode.eq(i16::try_from(status).unwrap_or(i16::MAX)));
    }
    if let Some(code) = &filter.error_code {
        select = select.filter(Column::ErrorCode.eq(code.as_str()));
    }
    if let Some(stream) = filter.stream {
        select = select.filter(Column::Stream.eq(stream));
    }
    select
}

fn entries(rows: Vec<api_call_logs::Model>) -> Result<Vec<CallLogEntry>, StoreError> {
    rows.into_iter()
        .map(|row| {
            let id = row.id;
            from_row(row).ok_or_else(|| StoreError::Other(format!("call log {id} has an unknown endpoint")))
        })
        .collect()
}

#[async_trait]
impl CallLogReader for SqlCallLogs {
    #[instrument(skip_all, err)]
    async fn page(&self, filter: &CallLogFilter, page: PageRequest) -> Result<Page<CallLogEntry>, StoreError> {
        use api_call_logs::Column;
        let select = page_select(filter);
        let rows = paginate(select, Column::CreatedAt, Column::Id, page)
            .all(&self.db)
            .await
            .map_err(store_error)?;
        Ok(Page::from_rows(entries(rows)?, page.limit, |entry| Cursor {
            created_at: entry.created_at,
            id: entry.id,
        }))
    }

    #[instrument(skip(self), err)]
    async fn by_request(&self, request_id: &str, user: Option<UserId>) -> Result<Vec<CallLogEntry>, StoreError> {
        use api_call_logs::Column;
        let mut select = api_call_logs::Entity::find().filter(Column::RequestId.eq(request_id));
        if let Some(user) = user {
            select = select.filter(Column::UserId.eq(user.0));
        }
        let rows = select
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Id)
            // A client's request id may repeat; a page's worth is plenty for one request.
            .limit(PageRequest::MAX_LIMIT)
            .all(&self.db)
            .await
            .map_err(store_error)?;
        entries(rows)
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Inserts a batch within [`INSERT_TIMEOUT`]: a database that stops answering (a partition
/// drops packets rather than refusing them) is a failed batch, retried, never a stuck writer.
async fn insert(db: &DatabaseConnection, batch: &[CallLogEntry]) -> Result<(), DbErr> {
    match tokio::time::timeout(INSERT_TIMEOUT, insert_now(db, batch)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(DbErr::Custom(format!(
            "the database did not take {} call-log entries within {INSERT_TIMEOUT:?}",
            batch.len()
        ))),
    }
}

/// What the writer does with one batch (for benchmarks that fill the log the way the server
/// does): the rows, their rollups and the keys' last use, in one transaction.
pub async fn write_batch_now(db: &DatabaseConnection, batch: &[CallLogEntry]) -> Result<(), StoreError> {
    insert_now(db, batch).await.map_err(store_error)
}

/// Inserts a batch with its rollups and moves each gateway key's last use forward, in one
/// transaction. An entry whose id is already in the table (a batch retried after a lost
/// acknowledgement, a replay run twice) is neither inserted nor added to the rollups again.
async fn insert_now(db: &DatabaseConnection, batch: &[CallLogEntry]) -> Result<(), DbErr> {
    let txn = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        })
        .await?;
    match write_batch(&txn, batch).await {
        Ok(()) => txn.commit().await,
        Err(error) => {
            if let Err(rollback) = txn.rollback().await {
                tracing::warn!(error = %rollback, "rolling back a failed call-log batch failed");
            }
            Err(error)
        }
    }
}

async fn write_batch(txn: &DatabaseTransaction, batch: &[CallLogEntry]) -> Result<(), DbErr> {
    let present: HashSet<Uuid> = api_call_logs::Entity::find()
        .select_only()
        .column(api_call_logs::Column::Id)
        .filter(api_call_logs::Column::Id.is_in(batch.iter().map(|entry| entry.id)))
        .into_tuple::<Uuid>()
        .all(txn)
        .await?
        .into_iter()
        .collect();
    let mut seen = HashSet::new();
    let fresh: Vec<&CallLogEntry> = batch
        .iter()
        .filter(|entry| !present.contains(&entry.id) && seen.insert(entry.id))
        .collect();
    if fresh.is_empty() {
        return Ok(());
    }
    api_call_logs::Entity::insert_many(fresh.iter().map(|entry| rows::to_row(entry)))
        .exec_without_returning(txn)
        .await?;
    let mut rollups = Rollups::default();
    for entry in &fresh {
        rollups.add(rows::usage_key(entry), entry.upstream_key_id, &rows::call(entry));
    }
    usage_store::add(txn, &rollups).await?;
    let mut last_use: HashMap<Uuid, DateTime<Utc>> = HashMap::new();
    for entry in &fresh {
        if let Some(key) = entry.api_key_id {
            let at = last_use.entry(key.0).or_insert(entry.created_at);
            *at = (*at).max(entry.created_at);
        }
    }
    let mut last_use: Vec<(Uuid, DateTime<Utc>)> = last_use.into_iter().collect();
    last_use.sort_by_key(|(key, _)| *key);
    for (key, at) in last_use {
        api_keys::Entity::update_many()
            .col_expr(api_keys::Column::LastUsedAt, Expr::value(at))
            .filter(api_keys::Column::Id.eq(key))
            .filter(
                Condition::any()
                    .add(api_keys::Column::LastUsedAt.is_null())
                    .add(api_keys::Column::LastUsedAt.lt(at)),
            )
            .exec(txn)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Database, DatabaseOptions};
    use sea_orm::PaginatorTrait;
    use switchyard_domain::gateway::{Endpoint, Usage};

    fn entry(n: i64) -> CallLogEntry {
        CallLogEntry {
            id: Uuid::now_v7(),
            request_id: format!("req-{n}"),
            user_id: None,
            api_key_id: None,
            model_id: None,
            supplier_id: None,
            upstream_key_id: None,
            upstream_model: Some("gpt-4o".into()),
            endpoint: Endpoint::ChatCompletions,
            stream: false,
            status_code: 200,
            error_code: None,
            error_summary: Some("é".repeat(400)),
            usage: Usage {
                prompt_tokens: n,
                completion_tokens: 1,
                ..Usage::default()
            },
            cost_nanos: n * 10,
            currency: Some("USD".into()),
            time_to_first_token_ms: None,
            latency_ms: 5,
            client_ip: None,
            attempt: 1,
            byok: false,
            created_at: chrono::DateTime::from_timestamp(1_790_000_000 + n, 0).unwrap_or_default(),
        }
    }

    async fn database(dir: &Path) -> Database {
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.display());
        let db = Database::connect(&DatabaseOptions::new(url)).await.expect("connect");
        db.migrate_up().await.expect("migrations");
        db
    }

    async fn rows(db: &Database) -> Vec<api_call_logs::Model> {
        api_call_logs::Entity::find().all(db.connection()).await.expect("rows")
    }

    #[tokio::test]
    async fn entries_are_written_in_batches_and_flushed_at_shutdown() {
        let dir = tempfile::tempdir().expect("a directory");
        let db = database(dir.path()).await;
        let settings = CallLogSettings {
            batch_size: 3,
            flush_interval: Duration::from_secs(3600),
            ..CallLogSettings::default()
        };
        let (queue, writer) = call_log(db.connection().clone(), settings, dir.path());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(writer.run(async move {
            let _ = stopped.await;
        }));
        for n in 0..7 {
            queue.record(entry(n));
        }
        // Two full batches go without waiting for the (hour-long) flush interval.
        for _ in 0..200 {
            if rows(&db).await.len() == 6 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(rows(&db).await.len(), 6);
        let _ = stop.send(());
        task.await.expect("the writer stops");
        let rows = rows(&db).await;
        assert_eq!(rows.len(), 7, "the last entry is flushed at shutdown");
        assert_eq!(queue.counts().written, 7);
        let back = from_row(rows.into_iter().find(|row| row.request_id == "req-3").expect("req-3")).expect("an entry");
        assert_eq!(back.usage.prompt_tokens, 3);
        assert_eq!(
            back.error_summary.map(|text| text.chars().count()),
            Some(300),
            "cut to the column"
        );
        assert!(!dir.path().join(SPILL_FILE).exists());
    }

    #[tokio::test]
    async fn spilled_entries_are_replayed_once_even_when_some_are_already_in() {
        let dir = tempfile::tempdir().expect("a directory");
        let db = database(dir.path()).await;
        let entries: Vec<CallLogEntry> = (0..5).map(entry).collect();
        // An earlier writer wrote two of them and spilled all five (a lost acknowledgement).
        insert(db.connection(), &entries[..2]).await.expect("inserted");
        SpillFile::in_dir(dir.path()).append(&entries).expect("spilled");
        let (queue, writer) = call_log(db.connection().clone(), CallLogSettings::default(), dir.path());
        let task = tokio::spawn(writer.run(std::future::ready(())));
        task.await.expect("the writer stops");
        assert_eq!(rows(&db).await.len(), 5);
        assert_eq!(queue.counts().replayed, 5);
        assert!(
            !SpillFile::in_dir(dir.path()).has_entries(),
            "the replayed file is gone"
        );
        let count = api_call_logs::Entity::find()
            .count(db.connection())
            .await
            .expect("count");
        assert_eq!(count, 5);
    }

    #[tokio::test]
    async fn a_batch_adds_to_the_rollups_once_however_often_it_is_written() {
        use switchyard_domain::usage::{Period, RollupQuery, UsageFilter, UsageStore};
        let dir = tempfile::tempdir().expect("a directory");
        let db = database(dir.path()).await;
        let mut entries: Vec<CallLogEntry> = (0..6).map(entry).collect();
        entries[5].status_code = 502;
        entries[5].error_code = Some("upstream_error".into());
        entries[4].error_code = Some("client_closed".into());
        entries[3].currency = Some("CNY".into());
        insert(db.connection(), &entries[..4]).await.expect("inserted");
        // Retried after a lost acknowledgement, with more entries (one twice).
        let mut again = entries.clone();
        again.push(entries[5].clone());
        insert(db.connection(), &again).await.expect("inserted again");
        let store = crate::SqlUsageStore::new(db.connection().clone());
        let period = Period {
            from: chrono::DateTime::from_timestamp(1_789_990_000, 0).unwrap_or_default(),
            to: chrono::DateTime::from_timestamp(1_790_010_000, 0).unwrap_or_default(),
        };
        let query = RollupQuery {
            period,
            filter: UsageFilter::default(),
            group: None,
            by_hour: false,
            days_suffice: true,
        };
        let mut rollups = store.usage(&query).await.expect("rollups");
        rollups.sort_by(|a, b| a.currency.cmp(&b.currency));
        assert_eq!(rollups.len(), 2, "{rollups:?}");
        assert_eq!(rollups[0].currency.as_deref(), Some("CNY"));
        assert_eq!(rollups[0].measures.requests, 1);
        assert_eq!(rollups[0].measures.cost_nanos, 30);
        let usd = &rollups[1].measures;
        assert_eq!(usd.requests, 5);
        assert_eq!(usd.errors, 1, "the client that left is no error");
        assert_eq!(usd.tokens.prompt, 1 + 2 + 4 + 5);
        assert_eq!(usd.cost_nanos, 120);
        assert_eq!(usd.latency[0], 5);
        assert_eq!(rows(&db).await.len(), 6);
        // Retention removes raw rows oldest first, in chunks, and rollups by their hour.
        let before = chrono::DateTime::from_timestamp(1_790_000_003, 0).unwrap_or_default();
        assert_eq!(store.purge_calls(before, 2).await.expect("purged"), 2);
        assert_eq!(store.purge_calls(before, 2).await.expect("purged"), 1);
        assert_eq!(store.purge_calls(before, 2).await.expect("purged"), 0);
        assert_eq!(rows(&db).await.len(), 3);
        assert_eq!(store.usage(&query).await.expect("rollups").len(), 2, "rollups stay");
        // The hour's two buckets (USD and CNY), in full and per model; their day is not past.
        assert_eq!(store.purge_rollups(period.to, 10).await.expect("purged"), 4);
        assert!(store.usage(&query).await.expect("rollups").is_empty());
    }

    #[tokio::test]
    async fn a_full_queue_spills_instead_of_dropping() {
        let dir = tempfile::tempdir().expect("a directory");
        let db = database(dir.path()).await;
        let settings = CallLogSettings {
            queue_capacity: 2,
            ..CallLogSettings::default()
        };
        // The writer is not running yet: the queue fills.
        let (queue, writer) = call_log(db.connection().clone(), settings, dir.path());
        for n in 0..5 {
            queue.record(entry(n));
        }
        // The spill is written off the caller's thread.
        for _ in 0..200 {
            if queue.counts().spilled == 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(queue.counts().spilled, 3);
        writer.run(std::future::ready(())).await;
        assert_eq!(
            rows(&db).await.len(),
            5,
            "two from the queue at shutdown, three replayed at start"
        );
    }
}
