//! Loading many finished interviews at once (the simulation's fieldwork):
//! every case, its changes and its outcome in one transaction, so a few
//! thousand interviews cost one sync to disk instead of three each. The
//! rows written are the same as `create_case_as` + `record_all` +
//! `set_outcome` write one by one.

use rusqlite::TransactionBehavior;
use rusqlite::params;

use super::{
    CaseId, Change, EventKind, EventTime, NewCase, Outcome, Store, StoreError, insert_event,
    monotonic, record_in,
};

/// One finished interview to load.
pub struct FinishedCase<'a> {
    pub id: CaseId,
    pub new: &'a NewCase,
    pub changes: &'a [Change],
    pub outcome: Outcome,
    pub finished: EventTime,
}

impl Store {
    /// Writes every case in one transaction: all of them are stored when
    /// this returns, or none.
    pub fn import_finished(&mut self, cases: &[FinishedCase]) -> Result<(), StoreError> {
        for case in cases {
            for change in case.changes {
                if let crate::store::AnswerChange::Set(value) = &change.answer {
                    value.check()?;
                }
                monotonic(change.at.monotonic_ns)?;
            }
        }
        let path = &self.path;
        let replayer = self.replayer.as_deref();
        let sql = |e| StoreError::sqlite(path, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        for case in cases {
            let key = case.id.key();
            insert_case(&tx, &key, case.new).map_err(sql)?;
            for change in case.changes {
                record_in(&tx, &case.id, &key, change, path)?;
            }
            outcome_in(
                &tx,
                &case.id,
                &case.outcome,
                &case.new.enumerator,
                case.finished,
                path,
            )?;
            super::pack::seal(&tx, &case.id, &key, path, replayer)?;
        }
        tx.commit().map_err(sql)
    }
}

/// The row of a new case.
pub(super) fn insert_case(
    conn: &rusqlite::Connection,
    key: &str,
    new: &NewCase,
) -> rusqlite::Result<usize> {
    let utc = new.created_utc.to_string();
    conn.execute(
        "INSERT INTO cases (uuid, instrument_id, instrument_version, instrument_hash,
                            enumerator, status, created_utc, modified_utc)
         VALUES (?1, ?2, ?3, ?4, ?5, 'new', ?6, ?6)",
        params![
            key,
            new.instrument_id,
            new.instrument_version,
            new.instrument_hash,
            new.enumerator,
            utc
        ],
    )
}

/// Sets a case's outcome with its `outcome` event, inside `tx`.
pub(super) fn outcome_in(
    tx: &rusqlite::Transaction,
    case: &CaseId,
    outcome: &Outcome,
    enumerator: &str,
    at: EventTime,
    path: &std::path::Path,
) -> Result<(), StoreError> {
    let mono = monotonic(at.monotonic_ns)?;
    let key = case.key();
    let utc = at.utc.to_string();
    let sql = |e| StoreError::sqlite(path, e);
    let touched = tx
        .execute(
            "UPDATE cases SET outcome = ?2, outcome_text = ?3, modified_utc = ?4
             WHERE uuid = ?1",
            params![key, outcome.code(), outcome.text(), utc],
        )
        .map_err(sql)?;
    if touched == 0 {
        return Err(StoreError::NoSuchCase {
            case: *case,
            path: path.to_path_buf(),
        });
    }
    let detail = outcome.to_string();
    insert_event(
        tx,
        &key,
        EventKind::Outcome,
        None,
        None,
        None,
        Some(&detail),
        &utc,
        mono,
        enumerator,
    )
    .map_err(sql)?;
    Ok(())
}
