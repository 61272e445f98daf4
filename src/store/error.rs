//! The store's one error type.
//!
//! Every variant that concerns a file names it, and every message says what to
//! do. SQLite's own result codes are sorted here, in [`StoreError::sqlite`],
//! so that a locked, read-only or full store reads the same whichever
//! statement met it.

use std::io;
use std::path::PathBuf;

use rusqlite::ErrorCode;

use super::types::{CaseId, InstrumentStamp};

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[non_exhaustive]
pub enum StoreError {
    /// The store is encrypted and the key given is not its key.
    #[error(
        "the key does not open this store ({path}): check the passphrase, or that this is a vicor store"
    )]
    WrongKey { path: PathBuf },

    /// The store is encrypted (or not SQLite at all) and no key was given.
    #[error(
        "{path} is encrypted or is not a vicor store: give its key (see --key-env), or check the path"
    )]
    MissingKey { path: PathBuf },

    /// A key was given for a store that is not encrypted.
    #[error("{path} is not encrypted: open it without a key")]
    NotEncrypted { path: PathBuf },

    /// An empty passphrase would silently mean "no encryption".
    #[error("the key is empty: give a passphrase, or no key for an unencrypted store")]
    EmptyKey,

    /// A file too short or too broken to be any SQLite database.
    #[error("{path} is not a vicor store, nor any SQLite database: check the path")]
    NotAStore { path: PathBuf },

    /// A readable SQLite database that vicor did not write.
    #[error("{path} is an SQLite database but not a vicor store: check the path")]
    Foreign { path: PathBuf },

    #[error(
        "{path} was written by a newer vicor (schema version {found}; this vicor knows up to {supported}): upgrade vicor to open it"
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    #[error("{path} is read-only: make the file and its folder writable, or work on a copy")]
    ReadOnly { path: PathBuf },

    #[error(
        "the store {path} is locked by another program: close the other vicor (or program) using it and try again"
    )]
    Locked { path: PathBuf },

    #[error(
        "the disk holding {path} is full: free some space and try again (the last change was not saved; the store is as it was)"
    )]
    DiskFull { path: PathBuf },

    #[error("the store {path} is damaged: {detail}; restore it from a copy")]
    Corrupt { path: PathBuf, detail: String },

    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },

    #[error("no case {case} in {path}: list the cases with `vicor cases --db {path}`")]
    NoSuchCase { case: CaseId, path: PathBuf },

    #[error("{text:?} is not a case id: a case id is a UUID such as 0b5e…-…")]
    BadCaseId { text: String },

    #[error(
        "case {case} belongs to instrument {stored}, not {given}: open it with its own instrument"
    )]
    WrongInstrument {
        case: CaseId,
        stored: String,
        given: String,
    },

    #[error(
        "case {case} was started with instrument {} version {} (hash {}), but this instrument is version {} (hash {}): migrate the case to the new instrument, or use the version it was started with",
        stored.id, stored.version, stored.hash, given.version, given.hash
    )]
    InstrumentChanged {
        case: CaseId,
        stored: Box<InstrumentStamp>,
        given: Box<InstrumentStamp>,
    },

    /// The caller asked for something the store cannot record.
    #[error("invalid change: {reason}")]
    InvalidChange { reason: String },

    /// Any other SQLite failure: not the user's doing.
    #[error("sqlite failed on {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
}

impl StoreError {
    /// Sorts an SQLite failure on the store at `path` into the variant a user
    /// can act on.
    pub(crate) fn sqlite(path: &std::path::Path, source: rusqlite::Error) -> StoreError {
        let path = path.to_path_buf();
        match source.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                StoreError::Locked { path }
            }
            Some(ErrorCode::ReadOnly) => StoreError::ReadOnly { path },
            Some(ErrorCode::DiskFull) => StoreError::DiskFull { path },
            Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
                path,
                detail: source.to_string(),
            },
            _ => StoreError::Sqlite { path, source },
        }
    }

    /// True when the failure is a bug in vicor or SQLite rather than
    /// something about the user's files (the CLI exits 2 then).
    pub fn is_internal(&self) -> bool {
        matches!(self, StoreError::Sqlite { .. })
    }
}
