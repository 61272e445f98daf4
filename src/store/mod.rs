//! The interview store: one SQLite file per device (or per merge), encrypted
//! with SQLCipher whenever a key is given.
//!
//! This is the only module that names `rusqlite`. It exists so that no answer
//! is ever lost and none is readable without the key: the interview engine
//! calls [`Store::record`] for each move, and `record` returns only after the
//! answer, the event that tells it, and the case's resume position are
//! committed together, in one transaction, in a WAL journal synced with
//! `synchronous=FULL`. A crash at any point leaves either the whole move or
//! none of it.
//!
//! The store does not know the engine. It has plain types of its own
//! ([`StoredAnswer`], [`Change`], …) and treats item paths (`members[3].age`)
//! as opaque strings; the engine converts. It reads no clock: every time comes
//! from the caller, as UTC and as a monotonic count.
//!
//! Invariants:
//! - Files the store creates have mode 0600 from their first byte. SQLite gives
//!   the `-wal` and `-shm` files the mode of the database file (`os_unix.c`,
//!   `findCreateFileMode`), so creating the database file ourselves with
//!   `OpenOptions::mode(0o600)` covers all three without touching the
//!   process-wide umask (which other threads share).
//! - Nothing is written to a file before it is known to be a vicor store this
//!   vicor can read with the key given: a wrong key, a foreign or newer file is
//!   refused untouched, and a file the failed open created is removed.
//! - Events are append-only (SQL triggers refuse UPDATE and DELETE); `seq`
//!   runs 1, 2, … per case without gaps.
//! - Errors name the file and the fix ([`StoreError`]); nothing here prints.
//!
//! Key handling: the passphrase goes to SQLCipher's `PRAGMA key`, which derives
//! the key with PBKDF2-HMAC-SHA512 over 256 000 iterations and a random
//! per-file salt. New stores have 16 KiB pages authenticated with
//! HMAC-SHA256; stores made before with SQLCipher 4's defaults still open
//! ([`Cipher`]). We pin the rest with `PRAGMA cipher_compatibility = 4` so
//! that a future SQLCipher with other defaults still opens today's stores.
//! See `docs/store.md`.

mod error;
pub mod import;
mod merge;
mod pack;
mod schema;
pub mod session;
pub mod sync;
mod types;

// Reading many cases at once, for export.
mod bulk;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::types::Value;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};

pub use bulk::{CaseRows, EventRow, NoteRow, ReadParts};
pub use error::StoreError;
pub use merge::{Conflict, MergeReport, merge, merge_with};
pub use pack::Replayer;
pub use schema::SCHEMA_VERSION;
pub use types::{
    AnswerChange, CaseId, CaseRecord, CaseStatus, CaseSummary, Change, EventKind, EventRecord,
    EventTime, InstrumentStamp, MigrationReport, NewCase, Note, OrphanAnswer, Outcome,
    StoredAnswer,
};

/// The first 16 bytes of every unencrypted SQLite file. SQLCipher encrypts
/// the whole first page, so an encrypted store never starts with them.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// How SQLCipher protects the pages of a store. Both derive the key from
/// the passphrase with PBKDF2-HMAC-SHA512 (256,000 iterations, a random salt
/// per file) and encrypt with AES-256-CBC; they differ in how pages are
/// checked. `docs/store.md` says why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cipher {
    /// Stores made by this vicor: 16 KiB pages, each authenticated with
    /// HMAC-SHA256. An export, which reads and checks every page of every
    /// case, reads with about half the CPU it needed with the defaults.
    Current,
    /// Stores made before: SQLCipher 4's defaults throughout (4 KiB pages,
    /// HMAC-SHA512). They open and work as they are.
    Sqlcipher4,
}

impl Cipher {
    /// Keys `conn` with these settings (before its first read). For tools
    /// that open a store's file with SQLite directly, as the benchmarks do.
    pub fn apply(self, conn: &Connection, key: &str) -> rusqlite::Result<()> {
        conn.pragma_update(None, "key", key)?;
        // SQLCipher logs a failed page check to stderr by default; the
        // library must not print, and the error says it all.
        conn.pragma_update(None, "cipher_log_level", "NONE")?;
        // Pinned, so that a future SQLCipher with other defaults still opens
        // today's stores.
        conn.pragma_update(None, "cipher_compatibility", 4)?;
        if self == Cipher::Current {
            conn.pragma_update(None, "cipher_page_size", 16_384)?;
            conn.pragma_update(None, "cipher_hmac_algorithm", "HMAC_SHA256")?;
        }
        Ok(())
    }
}

/// How to open a store; [`Store::open`] uses the defaults.
#[derive(Clone)]
pub struct StoreOptions {
    /// How long to wait for another connection's lock before reporting
    /// [`StoreError::Locked`].
    pub busy_timeout: Duration,
    /// Open for reading only: nothing is created, migrated or written, and an
    /// older schema is read as it is.
    pub read_only: bool,
    /// Replays each case as it is packed, so that an export need not (see
    /// [`Replayer`]); without one, the export replays the case itself.
    pub replayer: Option<Arc<dyn Replayer>>,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            busy_timeout: Duration::from_secs(5),
            read_only: false,
            replayer: None,
        }
    }
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field("busy_timeout", &self.busy_timeout)
            .field("read_only", &self.read_only)
            .field("replayer", &self.replayer.is_some())
            .finish()
    }
}

/// One open store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    version: i64,
    replayer: Option<Arc<dyn Replayer>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("schema_version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Removes a store file that a failed open created, with its companions, so
/// that no half-made file is left behind.
struct CreatedFile<'a> {
    path: Option<&'a Path>,
}

impl CreatedFile<'_> {
    fn keep(mut self) {
        self.path = None;
    }
}

impl Drop for CreatedFile<'_> {
    fn drop(&mut self) {
        if let Some(path) = self.path {
            remove_with_companions(path);
        }
    }
}

/// Removes a database file and its `-wal`, `-shm` and `-journal` files,
/// ignoring those that do not exist.
pub(crate) fn remove_with_companions(path: &Path) {
    let _ = fs::remove_file(path);
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_os_string();
        name.push(suffix);
        let _ = fs::remove_file(PathBuf::from(name));
    }
}

impl Store {
    /// Opens the store at `path` for reading and writing, creating it (mode
    /// 0600) when absent and migrating an older schema. `key` is the
    /// passphrase of an encrypted store; `None` opens or creates an
    /// unencrypted one.
    pub fn open(path: &Path, key: Option<&str>) -> Result<Store, StoreError> {
        Store::open_with(path, key, &StoreOptions::default())
    }

    /// Opens an existing store for reading only (export, merge inputs).
    pub fn open_read_only(path: &Path, key: Option<&str>) -> Result<Store, StoreError> {
        let options = StoreOptions {
            read_only: true,
            ..StoreOptions::default()
        };
        Store::open_with(path, key, &options)
    }

    pub fn open_with(
        path: &Path,
        key: Option<&str>,
        options: &StoreOptions,
    ) -> Result<Store, StoreError> {
        if key == Some("") {
            return Err(StoreError::EmptyKey);
        }
        let created = if options.read_only {
            None
        } else {
            create_private(path)?
        };
        let guard = CreatedFile { path: created };
        let store = Store::open_existing(path, key, options)?;
        guard.keep();
        Ok(store)
    }

    fn open_existing(
        path: &Path,
        key: Option<&str>,
        options: &StoreOptions,
    ) -> Result<Store, StoreError> {
        let to_path = || path.to_path_buf();
        let io = |action| {
            move |source| StoreError::Io {
                action,
                path: path.to_path_buf(),
                source,
            }
        };
        let meta = fs::metadata(path).map_err(io("open the store"))?;
        if meta.len() > 0 {
            let mut header = [0u8; 16];
            let mut file = fs::File::open(path).map_err(io("read the store"))?;
            let read = file.read(&mut header).map_err(io("read the store"))?;
            let plain = read == header.len() && &header == SQLITE_MAGIC;
            match (key, plain) {
                (Some(_), true) => return Err(StoreError::NotEncrypted { path: to_path() }),
                (None, false) => return Err(StoreError::MissingKey { path: to_path() }),
                _ => {}
            }
            // SQLite takes a file shorter than one page for an empty
            // database, and would write a store over it. Pages are at least
            // 512 bytes, and SQLCipher's at least 4096 (16 KiB for stores
            // made now).
            let one_page = if key.is_some() { 4096 } else { 512 };
            if meta.len() < one_page {
                return Err(StoreError::NotAStore { path: to_path() });
            }
        }
        if !options.read_only && meta.permissions().readonly() {
            return Err(StoreError::ReadOnly { path: to_path() });
        }

        // No SQLITE_OPEN_CREATE: the file exists (we made it, or it was there).
        let flags = if options.read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let sql = |e| StoreError::sqlite(path, e);
        // A new file gets this vicor's settings; an existing one may have
        // been made with SQLCipher 4's defaults, which nothing in the file
        // tells apart from a wrong key but a failed first read.
        let ciphers: &[Cipher] = match key {
            None => &[],
            Some(_) if meta.len() == 0 => &[Cipher::Current],
            Some(_) => &[Cipher::Current, Cipher::Sqlcipher4],
        };
        let mut attempt = 0;
        let (conn, objects) = loop {
            let conn = Connection::open_with_flags(path, flags).map_err(sql)?;
            conn.busy_timeout(options.busy_timeout).map_err(sql)?;
            if let (Some(key), Some(cipher)) = (key, ciphers.get(attempt)) {
                cipher.apply(&conn, key).map_err(sql)?;
            }
            // The first read decrypts page 1: a wrong key fails here, before
            // any write could touch the file.
            match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            }) {
                Ok(objects) => break (conn, objects),
                Err(e) if e.sqlite_error_code() == Some(ErrorCode::NotADatabase) => {
                    attempt += 1;
                    if attempt < ciphers.len() {
                        continue;
                    }
                    return Err(if key.is_some() {
                        StoreError::WrongKey { path: to_path() }
                    } else {
                        StoreError::Corrupt {
                            path: to_path(),
                            detail: "the SQLite header is there but the file cannot be read"
                                .to_string(),
                        }
                    });
                }
                Err(e) => return Err(StoreError::sqlite(path, e)),
            }
        };
        let version = if objects == 0 {
            0
        } else {
            read_version(&conn, path)?
        };
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: to_path(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if options.read_only {
            if version == 0 {
                return Err(StoreError::NotAStore { path: to_path() });
            }
            return Ok(Store {
                conn,
                path: to_path(),
                version,
                replayer: options.replayer.clone(),
            });
        }
        if conn.is_readonly("main").map_err(sql)? {
            return Err(StoreError::ReadOnly { path: to_path() });
        }

        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))
            .map_err(sql)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt {
                path: to_path(),
                detail: format!("the journal cannot be switched to WAL (it stays {mode})"),
            });
        }
        conn.execute_batch(
            "PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = ON;
             PRAGMA temp_store = MEMORY;",
        )
        .map_err(sql)?;

        let mut store = Store {
            conn,
            path: to_path(),
            version,
            replayer: options.replayer.clone(),
        };
        store.upgrade()?;
        Ok(store)
    }

    /// Applies missing migrations under the write lock. Taking the lock here
    /// also means a store that another program holds is reported at open,
    /// not at the first answer.
    fn upgrade(&mut self) -> Result<(), StoreError> {
        let path = &self.path;
        let replayer = self.replayer.as_deref();
        let sql = |e| StoreError::sqlite(path, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        // Read again under the lock: another process may have migrated.
        let objects: i64 = tx
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(sql)?;
        let version = if objects == 0 {
            0
        } else {
            read_version(&tx, path)?
        };
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: path.clone(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if version < SCHEMA_VERSION {
            schema::migrate(&tx, version, SCHEMA_VERSION).map_err(sql)?;
            // Completed cases of an older store get their packs (and, with
            // a replayer, their replays) now, in the same transaction as the
            // new tables.
            if version > 0 {
                pack::seal_all(&tx, path, replayer)?;
            }
        }
        tx.commit().map_err(sql)?;
        self.version = SCHEMA_VERSION;
        Ok(())
    }

    /// Packs every completed case that has no pack and, with the store's
    /// replayer, makes again every replay that is missing or was made by
    /// another build of vicor, in one transaction. Returns the number of
    /// cases packed.
    pub fn repack(&mut self) -> Result<usize, StoreError> {
        let path = &self.path;
        let replayer = self.replayer.as_deref();
        let sql = |e| StoreError::sqlite(path, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let packed = pack::seal_all(&tx, path, replayer)?;
        tx.commit().map_err(sql)?;
        Ok(packed)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the file (below [`SCHEMA_VERSION`] only for an
    /// older store opened read-only).
    pub fn schema_version(&self) -> i64 {
        self.version
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |e| StoreError::sqlite(&self.path, e)
    }

    /// Starts a new case with a fresh random id.
    pub fn create_case(&mut self, new: &NewCase) -> Result<CaseId, StoreError> {
        self.create_case_as(CaseId::random(), new)
    }

    /// SQLite's own consistency check of the whole file; the problems it
    /// finds, or an empty list for a sound store.
    pub fn integrity_check(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("PRAGMA integrity_check")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(self.err())?
            .collect::<Result<Vec<String>, _>>()
            .map_err(self.err())?;
        Ok(rows.into_iter().filter(|r| r != "ok").collect())
    }

    /// Creates a case under an id chosen beforehand (a scripted run checks
    /// its answers with the case's own random seed before storing anything).
    pub fn create_case_as(&mut self, id: CaseId, new: &NewCase) -> Result<CaseId, StoreError> {
        import::insert_case(&self.conn, &id.key(), new).map_err(self.err())?;
        Ok(id)
    }

    /// Every case, oldest first.
    pub fn cases(&self) -> Result<Vec<CaseSummary>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{SUMMARY_SELECT} ORDER BY created_utc, uuid"))
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], raw_summary)
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        rows.into_iter().map(|raw| raw.parse(&self.path)).collect()
    }

    fn summary(&self, id: &CaseId) -> Result<CaseSummary, StoreError> {
        let raw = self
            .conn
            .prepare_cached(&format!("{SUMMARY_SELECT} WHERE uuid = ?1"))
            .and_then(|mut stmt| stmt.query_row([id.key()], raw_summary).optional())
            .map_err(self.err())?
            .ok_or_else(|| StoreError::NoSuchCase {
                case: *id,
                path: self.path.clone(),
            })?;
        raw.parse(&self.path)
    }

    /// A whole case: summary, answers by path, notes.
    pub fn case(&self, id: &CaseId) -> Result<CaseRecord, StoreError> {
        let summary = self.summary(id)?;
        let key = id.key();
        let mut answers = BTreeMap::new();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT path, value_type, value, special FROM answers WHERE case_uuid = ?1",
            )
            .map_err(self.err())?;
        let mut rows = stmt.query([&key]).map_err(self.err())?;
        while let Some(row) = rows.next().map_err(self.err())? {
            let path: String = row.get(0).map_err(self.err())?;
            let answer = answer_from_row(row, 1).map_err(self.err())?;
            let answer = answer.ok_or_else(|| self.corrupt(format!("answer {path} of {id}")))?;
            answers.insert(path, answer);
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, path, text, enumerator, utc FROM notes
                 WHERE case_uuid = ?1 ORDER BY seq",
            )
            .map_err(self.err())?;
        let raw = stmt
            .query_map([&key], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .map_err(self.err())?
            .collect::<Result<Vec<(i64, Option<String>, String, String, String)>, _>>()
            .map_err(self.err())?;
        let notes = raw
            .into_iter()
            .map(|(seq, path, text, enumerator, utc)| {
                Ok(Note {
                    seq,
                    path,
                    text,
                    enumerator,
                    utc: self.timestamp(&utc)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(CaseRecord {
            summary,
            answers,
            notes,
        })
    }

    /// A case, for the engine to continue it with `instrument`: refuses when
    /// the case belongs to another instrument, or when the instrument changed
    /// since the case was started (its hash differs). The engine then either
    /// stops with that message or calls [`Store::migrate_case`].
    pub fn open_case(
        &self,
        id: &CaseId,
        instrument: &InstrumentStamp,
    ) -> Result<CaseRecord, StoreError> {
        let record = self.case(id)?;
        check_instrument(id, &record.summary.instrument, instrument)?;
        Ok(record)
    }

    /// Moves a case to a changed version of its instrument, in one
    /// transaction: answers whose items still exist (`item_exists(path)`)
    /// stay; the others are moved to `orphan_answers` (kept, not deleted);
    /// an `instrument_migration` event records what happened.
    pub fn migrate_case(
        &mut self,
        id: &CaseId,
        to: &InstrumentStamp,
        item_exists: &dyn Fn(&str) -> bool,
        enumerator: &str,
        at: EventTime,
    ) -> Result<MigrationReport, StoreError> {
        let from = self.summary(id)?.instrument;
        if from.id != to.id {
            return Err(StoreError::WrongInstrument {
                case: *id,
                stored: from.id,
                given: to.id.clone(),
            });
        }
        let paths: Vec<String> = self.case(id)?.answers.into_keys().collect();
        let (kept, set_aside): (Vec<String>, Vec<String>) =
            paths.into_iter().partition(|p| item_exists(p));
        let report = MigrationReport {
            case: *id,
            from: from.clone(),
            to: to.clone(),
            kept,
            set_aside,
        };
        if from.hash == to.hash {
            return Ok(report);
        }
        let mono = monotonic(at.monotonic_ns)?;
        let key = id.key();
        let utc = at.utc.to_string();
        let path = &self.path;
        let replayer = self.replayer.as_deref();
        let sql = |e| StoreError::sqlite(path, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        for item in &report.set_aside {
            tx.execute(
                "INSERT OR REPLACE INTO orphan_answers
                     (case_uuid, path, value_type, value, special, from_version, from_hash, moved_utc)
                 SELECT case_uuid, path, value_type, value, special, ?3, ?4, ?5
                 FROM answers WHERE case_uuid = ?1 AND path = ?2",
                params![key, item, from.version, from.hash, utc],
            )
            .map_err(sql)?;
            tx.execute(
                "DELETE FROM answers WHERE case_uuid = ?1 AND path = ?2",
                params![key, item],
            )
            .map_err(sql)?;
        }
        let detail = format!(
            "version {} (hash {}) to version {} (hash {}); set aside: {}",
            from.version,
            from.hash,
            to.version,
            to.hash,
            if report.set_aside.is_empty() {
                "none".to_string()
            } else {
                report.set_aside.join(", ")
            }
        );
        insert_event(
            &tx,
            &key,
            EventKind::InstrumentMigration,
            None,
            None,
            None,
            Some(&detail),
            &utc,
            mono,
            enumerator,
        )
        .map_err(sql)?;
        tx.execute(
            "UPDATE cases SET instrument_version = ?2, instrument_hash = ?3, modified_utc = ?4
             WHERE uuid = ?1",
            params![key, to.version, to.hash, utc],
        )
        .map_err(sql)?;
        pack::seal(&tx, id, &key, path, replayer)?;
        tx.commit().map_err(sql)?;
        Ok(report)
    }

    /// Records one move of the interview in one transaction: the answer
    /// change (if any), its event, and the case's resume position, status and
    /// modification time. Returns only after the commit is on disk; on any
    /// error nothing of the move is stored.
    pub fn record(&mut self, case: &CaseId, change: &Change) -> Result<(), StoreError> {
        self.record_all(case, std::slice::from_ref(change))
    }

    /// Records several changes that belong to one step of the engine (an
    /// answer with the relevance changes and confirmations it causes, or a
    /// move that draws a random selection) in one transaction: all of them
    /// are on disk when this returns, or none.
    pub fn record_all(&mut self, case: &CaseId, changes: &[Change]) -> Result<(), StoreError> {
        for change in changes {
            if change.path.is_none() && change.answer != AnswerChange::Keep {
                return Err(StoreError::InvalidChange {
                    reason: "an answer change needs the item's path".to_string(),
                });
            }
            if let AnswerChange::Set(value) = &change.answer {
                value.check()?;
            }
            monotonic(change.at.monotonic_ns)?;
        }
        let key = case.key();
        let path = &self.path;
        let replayer = self.replayer.as_deref();
        let sql = |e| StoreError::sqlite(path, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        for change in changes {
            record_in(&tx, case, &key, change, path)?;
        }
        pack::seal(&tx, case, &key, path, replayer)?;
        tx.commit().map_err(sql)
    }

    /// Adds a note on the case (`path` `None`) or on one item, with its
    /// `note` event; returns the note's number within the case.
    pub fn add_note(
        &mut self,
        case: &CaseId,
        path: Option<&str>,
        text: &str,
        enumerator: &str,
        at: EventTime,
    ) -> Result<i64, StoreError> {
        let mono = monotonic(at.monotonic_ns)?;
        let key = case.key();
        let utc = at.utc.to_string();
        let store_path = &self.path;
        let replayer = self.replayer.as_deref();
        let sql = |e| StoreError::sqlite(store_path, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let touched = tx
            .execute(
                "UPDATE cases SET modified_utc = ?2 WHERE uuid = ?1",
                params![key, utc],
            )
            .map_err(sql)?;
        if touched == 0 {
            return Err(StoreError::NoSuchCase {
                case: *case,
                path: store_path.clone(),
            });
        }
        let seq: i64 = tx
            .query_row(
                "SELECT coalesce(max(seq), 0) + 1 FROM notes WHERE case_uuid = ?1",
                [&key],
                |r| r.get(0),
            )
            .map_err(sql)?;
        tx.execute(
            "INSERT INTO notes (case_uuid, seq, path, text, enumerator, utc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![key, seq, path, text, enumerator, utc],
        )
        .map_err(sql)?;
        let detail = format!("note {seq}");
        insert_event(
            &tx,
            &key,
            EventKind::Note,
            path,
            None,
            None,
            Some(&detail),
            &utc,
            mono,
            enumerator,
        )
        .map_err(sql)?;
        pack::seal(&tx, case, &key, store_path, replayer)?;
        tx.commit().map_err(sql)?;
        Ok(seq)
    }

    /// Sets the case's outcome (disposition), with its `outcome` event. The
    /// status is left to the engine.
    pub fn set_outcome(
        &mut self,
        case: &CaseId,
        outcome: &Outcome,
        enumerator: &str,
        at: EventTime,
    ) -> Result<(), StoreError> {
        let path = &self.path;
        let replayer = self.replayer.as_deref();
        let sql = |e| StoreError::sqlite(path, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        import::outcome_in(&tx, case, outcome, enumerator, at, path)?;
        pack::seal(&tx, case, &case.key(), path, replayer)?;
        tx.commit().map_err(sql)
    }

    /// The case's paradata, in order.
    pub fn events(&self, case: &CaseId) -> Result<Vec<EventRecord>, StoreError> {
        self.summary(case)?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, kind, path, old_value, new_value, detail, utc, monotonic_ns,
                        enumerator
                 FROM events WHERE case_uuid = ?1 ORDER BY seq",
            )
            .map_err(self.err())?;
        type Raw = (
            i64,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            String,
            i64,
            String,
        );
        let raw = stmt
            .query_map([case.key()], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ))
            })
            .map_err(self.err())?
            .collect::<Result<Vec<Raw>, _>>()
            .map_err(self.err())?;
        raw.into_iter()
            .map(|(seq, kind, path, old, new, detail, utc, mono, enumerator)| {
                let what = || format!("event {seq} of case {case}");
                let value = |text: Option<String>| match text {
                    None => Ok(None),
                    Some(text) => StoredAnswer::decode(&text)
                        .map(Some)
                        .ok_or_else(|| self.corrupt(what())),
                };
                Ok(EventRecord {
                    seq,
                    kind: EventKind::parse(&kind).ok_or_else(|| StoreError::Corrupt {
                        path: self.path.clone(),
                        detail: format!(
                            "{} has the kind {kind:?}, unknown to this vicor (written by a newer one?)",
                            what()
                        ),
                    })?,
                    path,
                    old: value(old)?,
                    new: value(new)?,
                    detail,
                    at: EventTime {
                        utc: self.timestamp(&utc)?,
                        monotonic_ns: u64::try_from(mono).map_err(|_| self.corrupt(what()))?,
                    },
                    enumerator,
                })
            })
            .collect()
    }

    /// Answers set aside by [`Store::migrate_case`], oldest move first.
    pub fn orphans(&self, case: &CaseId) -> Result<Vec<OrphanAnswer>, StoreError> {
        self.summary(case)?;
        if self.version < 2 {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT path, value_type, value, special, from_version, from_hash, moved_utc
                 FROM orphan_answers WHERE case_uuid = ?1 ORDER BY moved_utc, path",
            )
            .map_err(self.err())?;
        let mut rows = stmt.query([case.key()]).map_err(self.err())?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(self.err())? {
            let path: String = row.get(0).map_err(self.err())?;
            let value = answer_from_row(row, 1)
                .map_err(self.err())?
                .ok_or_else(|| self.corrupt(format!("set-aside answer {path} of {case}")))?;
            let moved: String = row.get(6).map_err(self.err())?;
            out.push(OrphanAnswer {
                path,
                value,
                from_version: row.get(4).map_err(self.err())?,
                from_hash: row.get(5).map_err(self.err())?,
                moved_utc: self.timestamp(&moved)?,
            });
        }
        Ok(out)
    }

    fn corrupt(&self, what: String) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            detail: format!("{what} cannot be read"),
        }
    }

    fn timestamp(&self, text: &str) -> Result<Timestamp, StoreError> {
        text.parse()
            .map_err(|_| self.corrupt(format!("the time {text:?}")))
    }
}

/// Creates `path` with mode 0600 if it does not exist; returns it when it
/// was created here.
fn create_private(path: &Path) -> Result<Option<&Path>, StoreError> {
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(Some(path)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(None),
        Err(source) => Err(StoreError::Io {
            action: "create the store",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The schema version of a non-empty database, or the reason it is not a
/// vicor store.
fn read_version(conn: &Connection, path: &Path) -> Result<i64, StoreError> {
    let sql = |e| StoreError::sqlite(path, e);
    let app: i64 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(sql)?;
    if app != schema::APPLICATION_ID {
        return Err(StoreError::Foreign {
            path: path.to_path_buf(),
        });
    }
    let text: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql)?;
    text.and_then(|t| t.parse().ok())
        .ok_or_else(|| StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: "meta.schema_version is missing or not a number".to_string(),
        })
}

fn monotonic(ns: u64) -> Result<i64, StoreError> {
    i64::try_from(ns).map_err(|_| StoreError::InvalidChange {
        reason: format!("the monotonic clock {ns} ns is beyond 292 years"),
    })
}

/// The columns of `answers` (and `orphan_answers`) for one answer: value
/// type, value, special code. Codes are a JSON array, so SQLite's `json_each`
/// can read them.
fn answer_columns(answer: &StoredAnswer) -> (Option<&'static str>, Value, Option<&'static str>) {
    match answer {
        StoredAnswer::Int(v) => (Some("int"), Value::Integer(*v), None),
        StoredAnswer::Decimal(v) => (Some("decimal"), Value::Real(*v), None),
        StoredAnswer::Text(t) => (Some("text"), Value::Text(t.clone()), None),
        StoredAnswer::Date(d) => (Some("date"), Value::Text(d.to_string()), None),
        StoredAnswer::Codes(codes) => {
            let list: Vec<String> = codes.iter().map(i64::to_string).collect();
            (
                Some("codes"),
                Value::Text(format!("[{}]", list.join(","))),
                None,
            )
        }
        StoredAnswer::DontKnow => (None, Value::Null, Some("dont_know")),
        StoredAnswer::Refused => (None, Value::Null, Some("refused")),
    }
}

/// Reads the three answer columns starting at `first`; `None` when they do
/// not spell an answer.
fn answer_from_row(
    row: &rusqlite::Row<'_>,
    first: usize,
) -> rusqlite::Result<Option<StoredAnswer>> {
    let value_type: Option<String> = row.get(first)?;
    let value: Value = row.get(first + 1)?;
    let special: Option<String> = row.get(first + 2)?;
    Ok(match (value_type.as_deref(), value, special.as_deref()) {
        (None, Value::Null, Some("dont_know")) => Some(StoredAnswer::DontKnow),
        (None, Value::Null, Some("refused")) => Some(StoredAnswer::Refused),
        (Some("int"), Value::Integer(v), None) => Some(StoredAnswer::Int(v)),
        (Some("decimal"), Value::Real(v), None) => Some(StoredAnswer::Decimal(v)),
        (Some("text"), Value::Text(t), None) => Some(StoredAnswer::Text(t)),
        (Some("date"), Value::Text(t), None) => t.parse().ok().map(StoredAnswer::Date),
        (Some("codes"), Value::Text(t), None) => {
            serde_json::from_str(&t).ok().map(StoredAnswer::Codes)
        }
        _ => None,
    })
}

fn read_answer(
    conn: &Connection,
    key: &str,
    item: &str,
    path: &Path,
) -> Result<Option<StoredAnswer>, StoreError> {
    let sql = |e| StoreError::sqlite(path, e);
    let mut stmt = conn
        .prepare_cached(
            "SELECT value_type, value, special FROM answers WHERE case_uuid = ?1 AND path = ?2",
        )
        .map_err(sql)?;
    let mut rows = stmt.query(params![key, item]).map_err(sql)?;
    match rows.next().map_err(sql)? {
        None => Ok(None),
        Some(row) => answer_from_row(row, 0)
            .map_err(sql)?
            .map(Some)
            .ok_or_else(|| StoreError::Corrupt {
                path: path.to_path_buf(),
                detail: format!("answer {item} of case {key} cannot be read"),
            }),
    }
}

#[allow(clippy::too_many_arguments)]
fn insert_event(
    conn: &Connection,
    key: &str,
    kind: EventKind,
    path: Option<&str>,
    old: Option<&str>,
    new: Option<&str>,
    detail: Option<&str>,
    utc: &str,
    monotonic_ns: i64,
    enumerator: &str,
) -> rusqlite::Result<()> {
    let seq: i64 = conn
        .prepare_cached("SELECT coalesce(max(seq), 0) + 1 FROM events WHERE case_uuid = ?1")?
        .query_row([key], |r| r.get(0))?;
    conn.prepare_cached(
        "INSERT INTO events (case_uuid, seq, kind, path, old_value, new_value, detail, utc,
                             monotonic_ns, enumerator)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        key,
        seq,
        kind.as_str(),
        path,
        old,
        new,
        detail,
        utc,
        monotonic_ns,
        enumerator
    ])?;
    Ok(())
}

fn check_instrument(
    id: &CaseId,
    stored: &InstrumentStamp,
    given: &InstrumentStamp,
) -> Result<(), StoreError> {
    if stored.id != given.id {
        return Err(StoreError::WrongInstrument {
            case: *id,
            stored: stored.id.clone(),
            given: given.id.clone(),
        });
    }
    if stored.hash != given.hash {
        return Err(StoreError::InstrumentChanged {
            case: *id,
            stored: Box::new(stored.clone()),
            given: Box::new(given.clone()),
        });
    }
    Ok(())
}

const SUMMARY_SELECT: &str = "SELECT uuid, instrument_id, instrument_version, instrument_hash,
        enumerator, status, outcome, outcome_text, resume_position, created_utc, modified_utc
    FROM cases";

/// A `cases` row as stored, before its text is parsed.
struct RawSummary {
    uuid: String,
    instrument: InstrumentStamp,
    enumerator: String,
    status: String,
    outcome: Option<String>,
    outcome_text: Option<String>,
    resume: Option<String>,
    created: String,
    modified: String,
}

fn raw_summary(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawSummary> {
    Ok(RawSummary {
        uuid: r.get(0)?,
        instrument: InstrumentStamp {
            id: r.get(1)?,
            version: r.get(2)?,
            hash: r.get(3)?,
        },
        enumerator: r.get(4)?,
        status: r.get(5)?,
        outcome: r.get(6)?,
        outcome_text: r.get(7)?,
        resume: r.get(8)?,
        created: r.get(9)?,
        modified: r.get(10)?,
    })
}

impl RawSummary {
    fn parse(self, path: &Path) -> Result<CaseSummary, StoreError> {
        let bad = |what: &str| StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: format!("case {}: {what} cannot be read", self.uuid),
        };
        let outcome = match &self.outcome {
            None => None,
            Some(code) => Some(
                Outcome::parse(code, self.outcome_text.clone()).ok_or_else(|| bad("outcome"))?,
            ),
        };
        Ok(CaseSummary {
            id: self.uuid.parse().map_err(|_| bad("the id"))?,
            status: CaseStatus::parse(&self.status).ok_or_else(|| bad("the status"))?,
            outcome,
            created_utc: self.created.parse().map_err(|_| bad("the creation time"))?,
            modified_utc: self
                .modified
                .parse()
                .map_err(|_| bad("the modification time"))?,
            instrument: self.instrument,
            enumerator: self.enumerator,
            resume: self.resume,
        })
    }
}

/// One change inside an open transaction (see [`Store::record_all`]).
fn record_in(
    tx: &rusqlite::Transaction,
    case: &CaseId,
    key: &str,
    change: &Change,
    path: &Path,
) -> Result<(), StoreError> {
    let mono = monotonic(change.at.monotonic_ns)?;
    let utc = change.at.utc.to_string();
    let sql = |e| StoreError::sqlite(path, e);
    let status: String = tx
        .prepare_cached("SELECT status FROM cases WHERE uuid = ?1")
        .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
        .map_err(sql)?
        .ok_or_else(|| StoreError::NoSuchCase {
            case: *case,
            path: path.to_path_buf(),
        })?;
    let (old, new) = match (&change.answer, &change.path) {
        (AnswerChange::Set(value), Some(item)) => {
            let old = read_answer(tx, key, item, path)?;
            let (value_type, stored, special) = answer_columns(value);
            tx.prepare_cached(
                "INSERT INTO answers (case_uuid, path, value_type, value, special)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (case_uuid, path) DO UPDATE SET
                        value_type = excluded.value_type,
                        value = excluded.value,
                        special = excluded.special",
            )
            .and_then(|mut s| s.execute(params![key, item, value_type, stored, special]))
            .map_err(sql)?;
            (old, Some(value))
        }
        (AnswerChange::Clear, Some(item)) => {
            let old = read_answer(tx, key, item, path)?;
            tx.prepare_cached("DELETE FROM answers WHERE case_uuid = ?1 AND path = ?2")
                .and_then(|mut s| s.execute(params![key, item]))
                .map_err(sql)?;
            (old, None)
        }
        _ => (None, None),
    };
    insert_event(
        tx,
        key,
        change.kind,
        change.path.as_deref(),
        old.map(|a| a.encode()).as_deref(),
        new.map(StoredAnswer::encode).as_deref(),
        change.detail.as_deref(),
        &utc,
        mono,
        &change.enumerator,
    )
    .map_err(sql)?;
    let status = match change.status {
        Some(status) => status,
        None if status == CaseStatus::New.as_str() => CaseStatus::InProgress,
        None => CaseStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: format!("case {case} has the unknown status {status:?}"),
        })?,
    };
    tx.prepare_cached(
        "UPDATE cases SET status = ?2, resume_position = coalesce(?3, resume_position),
                              modified_utc = ?4
             WHERE uuid = ?1",
    )
    .and_then(|mut s| s.execute(params![key, status.as_str(), change.resume, utc]))
    .map_err(sql)?;
    Ok(())
}

#[cfg(test)]
mod tests;
