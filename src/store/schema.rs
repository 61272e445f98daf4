//! The schema, as a list of numbered migrations.
//!
//! A store's `meta.schema_version` is the number of migrations applied to it.
//! Opening a store applies the missing ones, in order, inside the same
//! transaction that checks the version, so a store is always at one version
//! or the next, never between. Migrations only add (tables, columns with
//! defaults, indexes), or drop packs, which are derived from the rows: rows
//! written by an older vicor stay readable, which `merge` relies on when it
//! reads older stores without upgrading them.
//! A store whose version is above [`SCHEMA_VERSION`] is refused untouched.

use rusqlite::{Transaction, params};

/// One step of the schema.
pub(crate) struct Migration {
    pub version: i64,
    pub sql: &'static str,
}

/// `PRAGMA application_id` of every vicor store ("vico" in ASCII), so that a
/// foreign SQLite file is told apart before anything is written to it.
pub(crate) const APPLICATION_ID: i64 = 0x7669_636f;

/// Version 1: the interview data. Events are append-only (triggers refuse
/// UPDATE and DELETE). Times are RFC 3339 UTC text; monotonic clocks are
/// nanoseconds. Answers keep their type in `value_type` and a don't know or
/// refusal in `special` (then `value` is NULL).
const V1: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE cases (
    uuid               TEXT PRIMARY KEY,
    instrument_id      TEXT NOT NULL,
    instrument_version TEXT NOT NULL,
    instrument_hash    TEXT NOT NULL,
    enumerator         TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('new', 'in_progress', 'completed')),
    outcome            TEXT CHECK (outcome IN
                           ('complete', 'partial', 'refused', 'non_contact', 'ineligible', 'other')),
    outcome_text       TEXT,
    resume_position    TEXT,
    created_utc        TEXT NOT NULL,
    modified_utc       TEXT NOT NULL
) STRICT;

CREATE TABLE answers (
    case_uuid  TEXT NOT NULL REFERENCES cases (uuid),
    path       TEXT NOT NULL,
    value_type TEXT CHECK (value_type IN ('int', 'decimal', 'text', 'date', 'codes')),
    value      ANY,
    special    TEXT CHECK (special IN ('dont_know', 'refused')),
    CHECK ((value_type IS NULL) = (special IS NOT NULL)),
    PRIMARY KEY (case_uuid, path)
) STRICT, WITHOUT ROWID;

CREATE TABLE events (
    case_uuid    TEXT NOT NULL REFERENCES cases (uuid),
    seq          INTEGER NOT NULL CHECK (seq >= 1),
    kind         TEXT NOT NULL,
    path         TEXT,
    old_value    TEXT,
    new_value    TEXT,
    detail       TEXT,
    utc          TEXT NOT NULL,
    monotonic_ns INTEGER NOT NULL CHECK (monotonic_ns >= 0),
    enumerator   TEXT NOT NULL,
    PRIMARY KEY (case_uuid, seq)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

CREATE TABLE notes (
    case_uuid  TEXT NOT NULL REFERENCES cases (uuid),
    seq        INTEGER NOT NULL CHECK (seq >= 1),
    path       TEXT,
    text       TEXT NOT NULL,
    enumerator TEXT NOT NULL,
    utc        TEXT NOT NULL,
    PRIMARY KEY (case_uuid, seq)
) STRICT, WITHOUT ROWID;
";

/// Version 2: answers set aside when a case moves to a changed instrument
/// whose items no longer include theirs. They are kept, never deleted.
const V2: &str = "
CREATE TABLE orphan_answers (
    case_uuid    TEXT NOT NULL REFERENCES cases (uuid),
    path         TEXT NOT NULL,
    value_type   TEXT CHECK (value_type IN ('int', 'decimal', 'text', 'date', 'codes')),
    value        ANY,
    special      TEXT CHECK (special IN ('dont_know', 'refused')),
    from_version TEXT NOT NULL,
    from_hash    TEXT NOT NULL,
    moved_utc    TEXT NOT NULL,
    CHECK ((value_type IS NULL) = (special IS NOT NULL)),
    PRIMARY KEY (case_uuid, path, from_hash)
) STRICT, WITHOUT ROWID;
";

/// Version 3: the events and answers of each completed case, packed into
/// two blobs (`store/pack.rs`), so that an export reads one row per case.
/// Derived from the rows of `events` and `answers`, which stay the record:
/// any change to a case's events or answers drops its pack, which the
/// transaction then writes again if the case is completed.
const V3: &str = "
CREATE TABLE case_packs (
    case_uuid TEXT PRIMARY KEY REFERENCES cases (uuid),
    events    INTEGER NOT NULL CHECK (events >= 0),
    answers   INTEGER NOT NULL CHECK (answers >= 0),
    packed_events  BLOB NOT NULL,
    packed_answers BLOB NOT NULL
) STRICT;

CREATE TRIGGER events_unpack AFTER INSERT ON events
BEGIN DELETE FROM case_packs WHERE case_uuid = NEW.case_uuid; END;
CREATE TRIGGER answers_unpack_insert AFTER INSERT ON answers
BEGIN DELETE FROM case_packs WHERE case_uuid = NEW.case_uuid; END;
CREATE TRIGGER answers_unpack_update AFTER UPDATE ON answers
BEGIN DELETE FROM case_packs WHERE case_uuid IN (OLD.case_uuid, NEW.case_uuid); END;
CREATE TRIGGER answers_unpack_delete AFTER DELETE ON answers
BEGIN DELETE FROM case_packs WHERE case_uuid = OLD.case_uuid; END;
";

/// Version 4: a completed case's replay (what the export would otherwise
/// work out through the engine), made with its pack and dropped with it.
/// The bytes are the replayer's; the store does not read them.
const V4: &str = "
ALTER TABLE case_packs ADD COLUMN replay BLOB;
";

/// Version 5: packs of format 2 (`store/pack.rs`: kinds as codes, times as
/// nanosecond steps). Packs are derived data, so this drops the packs of
/// format 1, which this vicor passes over and would otherwise never write
/// again; the open that migrates packs every completed case afresh in the
/// same transaction (`pack::seal_all`, after any migration of a store that
/// had a version), so an upgraded store is read from packs at once. The
/// only migration that deletes: nothing it deletes is a record.
const V5: &str = "
DELETE FROM case_packs;
";

/// Version 6: what the laptop keeps for the central server (`store/sync.rs`):
/// its address and token, the cases assigned to this enumerator, and per
/// case the server's revision, the digest of the copy it accepted and the
/// supervisor's review. Apart from the case tables, which stay the record.
const V6: &str = "
CREATE TABLE sync_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE sync_assignments (
    case_uuid          TEXT PRIMARY KEY,
    area               TEXT NOT NULL,
    household          TEXT NOT NULL,
    address            TEXT NOT NULL,
    instrument_id      TEXT NOT NULL,
    instrument_version TEXT NOT NULL
) STRICT;

CREATE TABLE sync_cases (
    case_uuid       TEXT PRIMARY KEY REFERENCES cases (uuid),
    server_revision INTEGER,
    pushed_digest   TEXT,
    review_status   TEXT CHECK (review_status IN ('pending', 'approved', 'rejected')),
    review_comment  TEXT,
    reviewed_by     TEXT,
    reviewed_utc    TEXT,
    conflict        INTEGER NOT NULL DEFAULT 0
) STRICT;
";

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: V1,
    },
    Migration {
        version: 2,
        sql: V2,
    },
    Migration {
        version: 3,
        sql: V3,
    },
    Migration {
        version: 4,
        sql: V4,
    },
    Migration {
        version: 5,
        sql: V5,
    },
    Migration {
        version: 6,
        sql: V6,
    },
];

/// The version this vicor writes: the number of migrations.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings a store at version `from` (0 for an empty file) up to `to`, inside
/// the caller's transaction.
pub(crate) fn migrate(tx: &Transaction<'_>, from: i64, to: i64) -> rusqlite::Result<()> {
    for migration in MIGRATIONS
        .iter()
        .filter(|m| m.version > from && m.version <= to)
    {
        tx.execute_batch(migration.sql)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![migration.version.to_string()],
        )?;
    }
    if from == 0 {
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('application', 'vicor')",
            [],
        )?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_from_one_without_gaps() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1);
        }
        assert_eq!(SCHEMA_VERSION, MIGRATIONS.len() as i64);
    }

    #[test]
    fn every_step_applies_on_top_of_the_previous() {
        let mut conn = rusqlite::Connection::open_in_memory().expect("in-memory sqlite");
        for to in 1..=SCHEMA_VERSION {
            let tx = conn.transaction().expect("a transaction");
            migrate(&tx, to - 1, to).expect("the step applies");
            tx.commit().expect("commit");
            let version: String = conn
                .query_row(
                    "SELECT value FROM meta WHERE key = 'schema_version'",
                    [],
                    |r| r.get(0),
                )
                .expect("version row");
            assert_eq!(version, to.to_string());
        }
    }
}
