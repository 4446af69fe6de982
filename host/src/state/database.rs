//! The database and its writer thread.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, mpsc};

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

use super::records::{ComponentBytes, ComponentDigest, SubclusterRecord};
use super::{MAX_KEY, MAX_KEYS_PAGE, MAX_VALUE};

/// Why a store operation failed. Nothing of a failed write is kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("the vat's store would exceed its {0} bytes (`limits.store`)")]
    Quota(u64),
    #[error("a key is longer than {0} bytes")]
    KeyTooLong(u32),
    #[error("a value is larger than {0} bytes")]
    ValueTooLarge(u32),
    #[error("the state database is unavailable: {0}")]
    Unavailable(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Unavailable(error.to_string())
    }
}

/// Which vat's state: its subcluster's id and its name (`s3/counter`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VatKey(Arc<str>);

impl VatKey {
    pub fn new(subcluster: impl std::fmt::Display, vat: &str) -> Self {
        Self(Arc::from(format!("{subcluster}/{vat}")))
    }

    fn subcluster_prefix(subcluster: impl std::fmt::Display) -> String {
        format!("{subcluster}/")
    }
}

/// What one vat's store may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    /// Bytes of keys and values together.
    pub total: u64,
}

enum Operation {
    Get(String),
    Keys {
        prefix: String,
        after: Option<String>,
        limit: u32,
    },
    Write {
        sets: Vec<(String, Vec<u8>)>,
        deletes: Vec<String>,
    },
    /// Deletes every vat's state of one subcluster.
    Forget,
    /// Keeps a subcluster's record and the components it names.
    Record(SubclusterRecord, Vec<ComponentBytes>),
    /// Deletes a subcluster's record (and components no record names).
    Unrecord(u64),
    /// A vat of a recorded subcluster runs another component now.
    RecordUpgrade {
        id: u64,
        vat: String,
        component: ComponentBytes,
    },
    Records,
    Component(ComponentDigest),
    /// Deletes the state of every vat whose subcluster has no record.
    ForgetUnrecorded,
}

enum Reply {
    Value(Option<Vec<u8>>),
    Keys(Vec<String>),
    Records(Vec<SubclusterRecord>),
    Done,
}

struct Request {
    /// The vat, or for `Forget` the subcluster prefix.
    owner: Arc<str>,
    limits: StoreLimits,
    operation: Operation,
    reply: oneshot::Sender<Result<Reply, StoreError>>,
}

/// The host's state database. Cheap to share; the writer thread ends when
/// the last handle is dropped.
pub struct Database {
    requests: Mutex<mpsc::Sender<Request>>,
    /// Bytes each vat's state holds, as of the last commit.
    usage: Arc<Mutex<HashMap<Arc<str>, u64>>>,
}

/// Requests committed in one transaction at most: a bound on the time one
/// batch holds the replies of its first request.
const MAX_BATCH: usize = 4096;

impl Database {
    /// Opens (creating) the database at `path`, or one in memory.
    pub fn open(path: Option<&Path>) -> Result<Arc<Self>, StoreError> {
        let connection = match path {
            Some(path) => Connection::open(path)?,
            None => Connection::open_in_memory()?,
        };
        // WAL with synchronous=NORMAL: a commit is in the log, in the
        // operating system's hands, when it returns, so it survives the host
        // being killed or crashing; the log is synced at checkpoints, so an
        // OS crash or power loss may lose the last commits. FULL (a sync per
        // commit) measured 21,000 writes/s from 10 vats here, NORMAL
        // (BENCHMARKS.md) well over the 50,000 asked.
        // Small pages: a commit writes each page it changed to the log, and
        // a batch of small writes changes one page per vat (set before the
        // file has any; later opens keep the file's own).
        connection.pragma_update(None, "page_size", 1024)?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        // Checkpoints (which sync) every 10,000 pages (about 40 MiB of log)
        // rather than every 1,000.
        connection.pragma_update(None, "wal_autocheckpoint", 10_000)?;
        connection.execute_batch(
            "CREATE TABLE IF NOT EXISTS vat_state (
                 vat TEXT NOT NULL,
                 key TEXT NOT NULL,
                 value BLOB NOT NULL,
                 PRIMARY KEY (vat, key)
             ) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS subclusters (
                 id INTEGER PRIMARY KEY,
                 name TEXT NOT NULL,
                 config TEXT NOT NULL,
                 base BLOB NOT NULL
             );
             CREATE TABLE IF NOT EXISTS subcluster_components (
                 subcluster INTEGER NOT NULL REFERENCES subclusters (id) ON DELETE CASCADE,
                 vat TEXT NOT NULL,
                 digest TEXT NOT NULL,
                 PRIMARY KEY (subcluster, vat)
             ) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS components (
                 digest TEXT PRIMARY KEY,
                 bytes BLOB NOT NULL
             ) WITHOUT ROWID;
             PRAGMA foreign_keys = ON;",
        )?;
        let usage: HashMap<Arc<str>, u64> = {
            let mut statement = connection.prepare(
                "SELECT vat, SUM(LENGTH(CAST(key AS BLOB)) + LENGTH(value)) FROM vat_state GROUP BY vat",
            )?;
            let rows = statement.query_map([], |row| {
                Ok((
                    Arc::from(row.get::<_, String>(0)?),
                    row.get::<_, i64>(1)?.unsigned_abs(),
                ))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let usage = Arc::new(Mutex::new(usage));
        let (requests, receiver) = mpsc::channel();
        let writer = Writer {
            connection,
            usage: usage.clone(),
        };
        std::thread::Builder::new()
            .name("vathost-state".to_owned())
            .spawn(move || writer.serve(&receiver))
            .map_err(|error| {
                StoreError::Unavailable(format!("cannot start its thread: {error}"))
            })?;
        Ok(Arc::new(Self {
            requests: Mutex::new(requests),
            usage,
        }))
    }

    async fn request(
        &self,
        owner: Arc<str>,
        limits: StoreLimits,
        operation: Operation,
    ) -> Result<Reply, StoreError> {
        let (reply, replied) = oneshot::channel();
        let sent = self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(Request {
                owner,
                limits,
                operation,
                reply,
            });
        if sent.is_err() {
            return Err(StoreError::Unavailable("its thread has ended".to_owned()));
        }
        replied
            .await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("its thread has ended".to_owned())))
    }

    pub async fn get(&self, vat: &VatKey, key: String) -> Result<Option<Vec<u8>>, StoreError> {
        check_key(&key)?;
        match self
            .request(vat.0.clone(), StoreLimits { total: 0 }, Operation::Get(key))
            .await?
        {
            Reply::Value(value) => Ok(value),
            _ => Err(StoreError::Unavailable("mismatched reply".to_owned())),
        }
    }

    pub async fn keys(
        &self,
        vat: &VatKey,
        prefix: String,
        after: Option<String>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        let operation = Operation::Keys {
            prefix,
            after,
            limit: limit.min(MAX_KEYS_PAGE),
        };
        match self
            .request(vat.0.clone(), StoreLimits { total: 0 }, operation)
            .await?
        {
            Reply::Keys(keys) => Ok(keys),
            _ => Err(StoreError::Unavailable("mismatched reply".to_owned())),
        }
    }

    /// Sets and deletes atomically; durable when it returns.
    pub async fn write(
        &self,
        vat: &VatKey,
        limits: StoreLimits,
        sets: Vec<(String, Vec<u8>)>,
        deletes: Vec<String>,
    ) -> Result<(), StoreError> {
        for (key, value) in &sets {
            check_key(key)?;
            if value.len() > MAX_VALUE {
                return Err(StoreError::ValueTooLarge(MAX_VALUE as u32));
            }
        }
        for key in &deletes {
            check_key(key)?;
        }
        self.request(vat.0.clone(), limits, Operation::Write { sets, deletes })
            .await
            .map(|_| ())
    }

    /// Deletes the state of every vat of `subcluster`.
    pub async fn forget(&self, subcluster: impl std::fmt::Display) -> Result<(), StoreError> {
        let prefix = Arc::from(VatKey::subcluster_prefix(subcluster));
        self.request(prefix, StoreLimits { total: 0 }, Operation::Forget)
            .await
            .map(|_| ())
    }

    async fn command(&self, operation: Operation) -> Result<Reply, StoreError> {
        self.request(Arc::from(""), StoreLimits { total: 0 }, operation)
            .await
    }

    /// Keeps `record` and the bytes of the components it names; durable
    /// when it returns.
    pub async fn record(
        &self,
        record: SubclusterRecord,
        components: Vec<ComponentBytes>,
    ) -> Result<(), StoreError> {
        self.command(Operation::Record(record, components))
            .await
            .map(|_| ())
    }

    /// Records that vat `vat` of subcluster `id` runs `component` now.
    pub async fn record_upgrade(
        &self,
        id: u64,
        vat: &str,
        component: ComponentBytes,
    ) -> Result<(), StoreError> {
        self.command(Operation::RecordUpgrade {
            id,
            vat: vat.to_owned(),
            component,
        })
        .await
        .map(|_| ())
    }

    pub async fn unrecord(&self, id: u64) -> Result<(), StoreError> {
        self.command(Operation::Unrecord(id)).await.map(|_| ())
    }

    /// Every subcluster record, by id.
    pub async fn records(&self) -> Result<Vec<SubclusterRecord>, StoreError> {
        match self.command(Operation::Records).await? {
            Reply::Records(records) => Ok(records),
            _ => Err(StoreError::Unavailable("mismatched reply".to_owned())),
        }
    }

    /// The bytes of a recorded component.
    pub async fn component(&self, digest: &ComponentDigest) -> Result<Option<Vec<u8>>, StoreError> {
        match self.command(Operation::Component(digest.clone())).await? {
            Reply::Value(bytes) => Ok(bytes),
            _ => Err(StoreError::Unavailable("mismatched reply".to_owned())),
        }
    }

    /// Deletes the state of every vat whose subcluster has no record.
    pub async fn forget_unrecorded(&self) -> Result<(), StoreError> {
        self.command(Operation::ForgetUnrecorded).await.map(|_| ())
    }

    /// Bytes the vat's state holds.
    pub fn usage(&self, vat: &VatKey) -> u64 {
        self.usage
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&vat.0)
            .copied()
            .unwrap_or(0)
    }
}

fn check_key(key: &str) -> Result<(), StoreError> {
    if key.len() > MAX_KEY {
        return Err(StoreError::KeyTooLong(MAX_KEY as u32));
    }
    Ok(())
}

/// Owns the connection; runs on its own thread.
struct Writer {
    connection: Connection,
    usage: Arc<Mutex<HashMap<Arc<str>, u64>>>,
}

impl Writer {
    fn serve(mut self, requests: &mpsc::Receiver<Request>) {
        while let Ok(first) = requests.recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match requests.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            self.commit(batch);
        }
    }

    /// Applies a batch in one transaction and replies once it is committed.
    fn commit(&mut self, batch: Vec<Request>) {
        let mut usage = self
            .usage
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut replies = Vec::with_capacity(batch.len());
        let committed = (|| -> Result<(), rusqlite::Error> {
            // A refused request executes nothing; a database error fails
            // the whole batch, which is rolled back.
            let transaction = self.connection.transaction()?;
            for request in batch {
                let result = apply(&transaction, &mut usage, &request)?;
                replies.push((request.reply, result));
            }
            transaction.commit()
        })();
        match committed {
            Ok(()) => {
                *self.usage.lock().unwrap_or_else(PoisonError::into_inner) = usage;
                for (reply, result) in replies {
                    let _ = reply.send(result);
                }
            }
            Err(error) => {
                let error = StoreError::from(error);
                for (reply, _) in replies {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }
}

fn apply(
    connection: &Connection,
    usage: &mut HashMap<Arc<str>, u64>,
    request: &Request,
) -> Result<Result<Reply, StoreError>, rusqlite::Error> {
    let owner = &*request.owner;
    match &request.operation {
        Operation::Get(key) => Ok(Ok(Reply::Value(
            connection
                .query_row(
                    "SELECT value FROM vat_state WHERE vat = ?1 AND key = ?2",
                    params![owner, key],
                    |row| row.get(0),
                )
                .optional()?,
        ))),
        Operation::Keys {
            prefix,
            after,
            limit,
        } => {
            // Keys from max(prefix, after) upward while they keep the prefix.
            let start = match after {
                Some(after) if after.as_str() >= prefix.as_str() => after.clone(),
                _ => prefix.clone(),
            };
            let inclusive = after
                .as_ref()
                .is_none_or(|after| after.as_str() < prefix.as_str());
            let mut statement = connection.prepare_cached(if inclusive {
                "SELECT key FROM vat_state WHERE vat = ?1 AND key >= ?2 ORDER BY key LIMIT ?3"
            } else {
                "SELECT key FROM vat_state WHERE vat = ?1 AND key > ?2 ORDER BY key LIMIT ?3"
            })?;
            let mut keys = Vec::new();
            let mut rows = statement.query(params![owner, start, limit])?;
            while let Some(row) = rows.next()? {
                let key: String = row.get(0)?;
                if !key.starts_with(prefix.as_str()) {
                    break;
                }
                keys.push(key);
            }
            Ok(Ok(Reply::Keys(keys)))
        }
        Operation::Write { sets, deletes } => {
            // The new size first, from the sizes now stored: past the quota
            // nothing is executed.
            let mut sizes: HashMap<&str, u64> = HashMap::new();
            let mut bytes = usage.get(owner).copied().unwrap_or(0);
            for key in deletes.iter().chain(sets.iter().map(|(key, _)| key)) {
                if sizes.contains_key(key.as_str()) {
                    continue;
                }
                let stored: Option<i64> = connection
                    .prepare_cached(
                        "SELECT LENGTH(value) FROM vat_state WHERE vat = ?1 AND key = ?2",
                    )?
                    .query_row(params![owner, key], |row| row.get(0))
                    .optional()?;
                sizes.insert(
                    key,
                    stored.map_or(0, |length| key.len() as u64 + length.unsigned_abs()),
                );
            }
            for key in deletes {
                if let Some(size) = sizes.get_mut(key.as_str()) {
                    bytes = bytes.saturating_sub(std::mem::take(size));
                }
            }
            for (key, value) in sets {
                let size = key.len() as u64 + value.len() as u64;
                if let Some(stored) = sizes.get_mut(key.as_str()) {
                    bytes = bytes.saturating_sub(std::mem::replace(stored, size)) + size;
                }
            }
            if bytes > request.limits.total {
                return Ok(Err(StoreError::Quota(request.limits.total)));
            }
            for key in deletes {
                connection
                    .prepare_cached("DELETE FROM vat_state WHERE vat = ?1 AND key = ?2")?
                    .execute(params![owner, key])?;
            }
            for (key, value) in sets {
                connection
                    .prepare_cached(
                        "INSERT INTO vat_state (vat, key, value) VALUES (?1, ?2, ?3)
                         ON CONFLICT (vat, key) DO UPDATE SET value = excluded.value",
                    )?
                    .execute(params![owner, key, value])?;
            }
            usage.insert(request.owner.clone(), bytes);
            Ok(Ok(Reply::Done))
        }
        Operation::Record(record, components) => {
            for (digest, bytes) in components {
                connection
                    .prepare_cached(
                        "INSERT OR IGNORE INTO components (digest, bytes) VALUES (?1, ?2)",
                    )?
                    .execute(params![digest.0, &bytes[..]])?;
            }
            connection
                .prepare_cached(
                    "INSERT OR REPLACE INTO subclusters (id, name, config, base) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![
                    sql_id(record.id),
                    record.name,
                    record.config,
                    std::os::unix::ffi::OsStrExt::as_bytes(record.base.as_os_str()),
                ])?;
            for (vat, digest) in &record.components {
                connection
                    .prepare_cached(
                        "INSERT OR REPLACE INTO subcluster_components (subcluster, vat, digest) VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![sql_id(record.id), vat, digest.0])?;
            }
            Ok(Ok(Reply::Done))
        }
        Operation::RecordUpgrade {
            id,
            vat,
            component: (digest, bytes),
        } => {
            connection
                .prepare_cached("INSERT OR IGNORE INTO components (digest, bytes) VALUES (?1, ?2)")?
                .execute(params![digest.0, &bytes[..]])?;
            connection
                .prepare_cached(
                    "UPDATE subcluster_components SET digest = ?3 WHERE subcluster = ?1 AND vat = ?2",
                )?
                .execute(params![sql_id(*id), vat, digest.0])?;
            forget_unused_components(connection)?;
            Ok(Ok(Reply::Done))
        }
        Operation::Unrecord(id) => {
            connection
                .prepare_cached("DELETE FROM subclusters WHERE id = ?1")?
                .execute(params![sql_id(*id)])?;
            forget_unused_components(connection)?;
            Ok(Ok(Reply::Done))
        }
        Operation::Records => {
            let mut records = Vec::new();
            let mut statement = connection
                .prepare_cached("SELECT id, name, config, base FROM subclusters ORDER BY id")?;
            let mut rows = statement.query([])?;
            while let Some(row) = rows.next()? {
                let base: Vec<u8> = row.get(3)?;
                records.push(SubclusterRecord {
                    id: row.get::<_, i64>(0)?.unsigned_abs(),
                    name: row.get(1)?,
                    config: row.get(2)?,
                    base: std::path::PathBuf::from(
                        <std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(base),
                    ),
                    components: Vec::new(),
                });
            }
            let mut statement = connection.prepare_cached(
                "SELECT vat, digest FROM subcluster_components WHERE subcluster = ?1 ORDER BY vat",
            )?;
            for record in &mut records {
                let rows = statement.query_map(params![sql_id(record.id)], |row| {
                    Ok((row.get::<_, String>(0)?, ComponentDigest(row.get(1)?)))
                })?;
                record.components = rows.collect::<Result<_, _>>()?;
            }
            Ok(Ok(Reply::Records(records)))
        }
        Operation::Component(digest) => Ok(Ok(Reply::Value(
            connection
                .query_row(
                    "SELECT bytes FROM components WHERE digest = ?1",
                    params![digest.0],
                    |row| row.get(0),
                )
                .optional()?,
        ))),
        Operation::ForgetUnrecorded => {
            connection
                .prepare_cached(
                    "DELETE FROM vat_state WHERE NOT EXISTS (
                         SELECT 1 FROM subclusters WHERE substr(vat_state.vat, 1, length('s' || id || '/')) = 's' || id || '/'
                     )",
                )?
                .execute([])?;
            let recorded: Vec<String> = {
                let mut statement = connection.prepare_cached("SELECT id FROM subclusters")?;
                let rows =
                    statement.query_map([], |row| Ok(format!("s{}/", row.get::<_, i64>(0)?)))?;
                rows.collect::<Result<_, _>>()?
            };
            usage.retain(|vat, _| {
                recorded
                    .iter()
                    .any(|prefix| vat.starts_with(prefix.as_str()))
            });
            Ok(Ok(Reply::Done))
        }
        Operation::Forget => {
            connection
                .prepare_cached("DELETE FROM vat_state WHERE substr(vat, 1, length(?1)) = ?1")?
                .execute(params![owner])?;
            usage.retain(|vat, _| !vat.starts_with(owner));
            Ok(Ok(Reply::Done))
        }
    }
}

/// A subcluster id as SQLite stores it.
fn sql_id(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

/// Deletes the bytes of components no record names any more.
fn forget_unused_components(connection: &Connection) -> Result<(), rusqlite::Error> {
    connection
        .prepare_cached(
            "DELETE FROM components WHERE digest NOT IN (SELECT digest FROM subcluster_components)",
        )?
        .execute([])?;
    Ok(())
}
