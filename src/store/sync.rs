//! What the laptop's store keeps for the central server (`vicor sync`), and
//! whole copies of cases to send to it or to take from it.
//!
//! A [`CaseCopy`] is every row of one case (the case record, answers,
//! events, notes, set-aside answers) in fixed column order, with SQLite's
//! own storage class for each value, so that a copy written back into a
//! store gives the same rows, byte for byte. Its [`CaseCopy::digest`] is
//! what both sides compare to tell whether a case changed.
//!
//! The sync state lives in three tables of their own (schema version 6),
//! beside the case tables and never mixed into them: `merge` and `export`
//! do not see it.
//! - `sync_meta`: the server's address and this device's token (the store is
//!   encrypted, so the token is too);
//! - `sync_assignments`: the cases headquarters gave this enumerator;
//! - `sync_cases`: per case, the server's revision and the digest of the
//!   copy last accepted by the server, and the supervisor's review.

use std::collections::BTreeMap;

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, TransactionBehavior, params, params_from_iter};
use serde::{Deserialize, Serialize};

use super::{CaseId, Store, StoreError};

/// The case tables in insertion order, each with its columns in the order a
/// [`CaseCopy`] holds them (schema version 6), and the row order.
pub const CASE_TABLES: [(&str, &[&str], &str); 5] = [
    (
        "cases",
        &[
            "uuid",
            "instrument_id",
            "instrument_version",
            "instrument_hash",
            "enumerator",
            "status",
            "outcome",
            "outcome_text",
            "resume_position",
            "created_utc",
            "modified_utc",
        ],
        "uuid",
    ),
    (
        "answers",
        &["case_uuid", "path", "value_type", "value", "special"],
        "path",
    ),
    (
        "events",
        &[
            "case_uuid",
            "seq",
            "kind",
            "path",
            "old_value",
            "new_value",
            "detail",
            "utc",
            "monotonic_ns",
            "enumerator",
        ],
        "seq",
    ),
    (
        "notes",
        &["case_uuid", "seq", "path", "text", "enumerator", "utc"],
        "seq",
    ),
    (
        "orphan_answers",
        &[
            "case_uuid",
            "path",
            "value_type",
            "value",
            "special",
            "from_version",
            "from_hash",
            "moved_utc",
        ],
        "path, from_hash",
    ),
];

/// One stored value with its SQLite storage class. A real travels as the
/// text Rust writes for it (the shortest that reads back to the same bits),
/// never as a JSON number, which a reader may round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cell {
    Null,
    Int(i64),
    Real(String),
    Text(String),
}

impl Cell {
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Cell::Text(t) => Some(t),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Cell::Int(i) => Some(*i),
            _ => None,
        }
    }

    fn from_value(v: Value) -> Result<Cell, String> {
        Ok(match v {
            Value::Null => Cell::Null,
            Value::Integer(i) => Cell::Int(i),
            Value::Real(r) => Cell::Real(format!("{r:?}")),
            Value::Text(t) => Cell::Text(t),
            Value::Blob(_) => return Err("a blob in a case table".to_string()),
        })
    }

    fn to_value(&self) -> Result<Value, String> {
        Ok(match self {
            Cell::Null => Value::Null,
            Cell::Int(i) => Value::Integer(*i),
            Cell::Real(r) => Value::Real(
                r.parse::<f64>()
                    .map_err(|_| format!("{r:?} is not a real number"))?,
            ),
            Cell::Text(t) => Value::Text(t.clone()),
        })
    }
}

/// Every row of one case, table by table in the order of [`CASE_TABLES`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseCopy {
    pub uuid: String,
    pub tables: Vec<Vec<Vec<Cell>>>,
}

impl CaseCopy {
    /// SHA-256 of the copy's JSON, in hex: equal digests, equal rows.
    pub fn digest(&self) -> String {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        hex(ring::digest::digest(&ring::digest::SHA256, &bytes).as_ref())
    }

    /// The value of a column of the case record.
    pub fn case_field(&self, column: &str) -> Option<&Cell> {
        let i = CASE_TABLES[0].1.iter().position(|c| *c == column)?;
        self.tables.first()?.first()?.get(i)
    }

    /// Checks the shape: five tables, each row as wide as its columns, one
    /// case record, every row of this case. Returns what is wrong.
    pub fn check(&self) -> Result<(), String> {
        if self.uuid.parse::<CaseId>().is_err() {
            return Err(format!("{:?} is not a case id", self.uuid));
        }
        if self.tables.len() != CASE_TABLES.len() {
            return Err(format!(
                "{} tables, not {}",
                self.tables.len(),
                CASE_TABLES.len()
            ));
        }
        for (rows, (table, columns, _)) in self.tables.iter().zip(CASE_TABLES) {
            for row in rows {
                if row.len() != columns.len() {
                    return Err(format!(
                        "a row of {table} has {} values, not {}",
                        row.len(),
                        columns.len()
                    ));
                }
                if row[0].as_text() != Some(self.uuid.as_str()) {
                    return Err(format!("a row of {table} belongs to another case"));
                }
            }
        }
        if self.tables[0].len() != 1 {
            return Err("the case record is missing".to_string());
        }
        Ok(())
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The local sync state of one case.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncedCase {
    /// The server's revision of the case when this device last agreed with it.
    pub server_revision: Option<i64>,
    /// The digest of the copy the server last accepted (or sent).
    pub pushed_digest: Option<String>,
    pub review: Option<Review>,
    /// The server holds another version of this case than the laptop (both
    /// changed): reported, both kept, settled by a supervisor.
    pub conflict: bool,
}

/// A supervisor's decision on a case, as the laptop last heard it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    pub comment: Option<String>,
    pub by: Option<String>,
    pub utc: Option<String>,
}

/// A case headquarters assigned to this enumerator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub case: String,
    pub area: String,
    pub household: String,
    pub address: String,
    pub instrument_id: String,
    pub instrument_version: String,
}

fn corrupt(store: &Store, detail: String) -> StoreError {
    StoreError::Corrupt {
        path: store.path.clone(),
        detail,
    }
}

impl Store {
    /// Whole copies of cases: all of them, or those given.
    pub fn case_copies(&self, only: Option<&[CaseId]>) -> Result<Vec<CaseCopy>, StoreError> {
        let sql = self.err();
        let mut copies: BTreeMap<String, CaseCopy> = BTreeMap::new();
        let wanted: Option<Vec<String>> = only.map(|ids| ids.iter().map(|i| i.key()).collect());
        for (t, (table, columns, order)) in CASE_TABLES.iter().enumerate() {
            let case_col = columns[0];
            let filter = match &wanted {
                Some(w) => format!(
                    " WHERE {case_col} IN ({})",
                    vec!["?"; w.len().max(1)].join(", ")
                ),
                None => String::new(),
            };
            let mut stmt = self
                .conn
                .prepare(&format!(
                    "SELECT {} FROM {table}{filter} ORDER BY {case_col}, {order}",
                    columns.join(", ")
                ))
                .map_err(&sql)?;
            let binds: Vec<String> = match &wanted {
                Some(w) if w.is_empty() => vec![String::new()],
                Some(w) => w.clone(),
                None => Vec::new(),
            };
            let mut rows = stmt.query(params_from_iter(binds.iter())).map_err(&sql)?;
            while let Some(row) = rows.next().map_err(&sql)? {
                let mut cells = Vec::with_capacity(columns.len());
                for j in 0..columns.len() {
                    let v: Value = row.get(j).map_err(&sql)?;
                    cells.push(Cell::from_value(v).map_err(|d| corrupt(self, d))?);
                }
                let Some(uuid) = cells[0].as_text().map(str::to_string) else {
                    return Err(corrupt(self, format!("a row of {table} has no case id")));
                };
                let copy = if t == 0 {
                    copies.entry(uuid.clone()).or_insert_with(|| CaseCopy {
                        uuid: uuid.clone(),
                        tables: vec![Vec::new(); CASE_TABLES.len()],
                    })
                } else {
                    copies.get_mut(&uuid).ok_or_else(|| {
                        corrupt(
                            self,
                            format!("{table} holds rows of a case {uuid} that does not exist"),
                        )
                    })?
                };
                copy.tables[t].push(cells);
            }
        }
        Ok(copies.into_values().collect())
    }

    /// Writes whole copies of cases the store does not hold, in one
    /// transaction (all or none). A case it holds already is an error.
    pub fn insert_copies(&mut self, copies: &[CaseCopy]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = |e| StoreError::sqlite(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        for copy in copies {
            copy.check().map_err(|detail| StoreError::Corrupt {
                path: path.clone(),
                detail: format!("case {}: {detail}", copy.uuid),
            })?;
            for (rows, (table, columns, _)) in copy.tables.iter().zip(CASE_TABLES) {
                let marks = vec!["?"; columns.len()].join(", ");
                let mut stmt = tx
                    .prepare_cached(&format!(
                        "INSERT INTO {table} ({}) VALUES ({marks})",
                        columns.join(", ")
                    ))
                    .map_err(sql)?;
                for row in rows {
                    let values = row
                        .iter()
                        .map(Cell::to_value)
                        .collect::<Result<Vec<Value>, String>>()
                        .map_err(|detail| StoreError::Corrupt {
                            path: path.clone(),
                            detail: format!("case {}: {detail}", copy.uuid),
                        })?;
                    stmt.execute(params_from_iter(values.iter())).map_err(sql)?;
                }
            }
        }
        super::pack::seal_all(&tx, &path, self.replayer.as_deref())?;
        tx.commit().map_err(sql)?;
        Ok(())
    }

    /// A value of `sync_meta` (the server address, the device token).
    pub fn sync_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT value FROM sync_meta WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.err())
    }

    pub fn set_sync_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO sync_meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(drop)
            .map_err(self.err())
    }

    /// The sync state of every case that has one.
    pub fn synced_cases(&self) -> Result<BTreeMap<CaseId, SyncedCase>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT case_uuid, server_revision, pushed_digest, review_status,
                        review_comment, reviewed_by, reviewed_utc, conflict
                 FROM sync_cases",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                let status: Option<String> = r.get(3)?;
                Ok((
                    r.get::<_, String>(0)?,
                    SyncedCase {
                        server_revision: r.get(1)?,
                        pushed_digest: r.get(2)?,
                        review: match status {
                            Some(status) => Some(Review {
                                status,
                                comment: r.get(4)?,
                                by: r.get(5)?,
                                utc: r.get(6)?,
                            }),
                            None => None,
                        },
                        conflict: r.get::<_, i64>(7)? != 0,
                    },
                ))
            })
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        let mut out = BTreeMap::new();
        for (uuid, state) in rows {
            out.insert(uuid.parse()?, state);
        }
        Ok(out)
    }

    /// Records, in one transaction, what the server now holds of these cases.
    pub fn set_synced(&mut self, states: &[(CaseId, SyncedCase)]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = |e| StoreError::sqlite(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO sync_cases (case_uuid, server_revision, pushed_digest,
                         review_status, review_comment, reviewed_by, reviewed_utc, conflict)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (case_uuid) DO UPDATE SET
                         server_revision = excluded.server_revision,
                         pushed_digest = excluded.pushed_digest,
                         review_status = excluded.review_status,
                         review_comment = excluded.review_comment,
                         reviewed_by = excluded.reviewed_by,
                         reviewed_utc = excluded.reviewed_utc,
                         conflict = excluded.conflict",
                )
                .map_err(sql)?;
            for (id, s) in states {
                let r = s.review.as_ref();
                stmt.execute(params![
                    id.key(),
                    s.server_revision,
                    s.pushed_digest,
                    r.map(|r| r.status.as_str()),
                    r.and_then(|r| r.comment.as_deref()),
                    r.and_then(|r| r.by.as_deref()),
                    r.and_then(|r| r.utc.as_deref()),
                    i64::from(s.conflict),
                ])
                .map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)
    }

    /// The reviews of the cases that have one, for the case list.
    pub fn reviews(&self) -> Result<BTreeMap<CaseId, Review>, StoreError> {
        Ok(self
            .synced_cases()?
            .into_iter()
            .filter_map(|(id, s)| s.review.map(|r| (id, r)))
            .collect())
    }

    /// Stores assignments and starts a `new` case for each one the store
    /// does not hold yet, in one transaction.
    pub fn take_assignments(
        &mut self,
        assignments: &[(Assignment, super::NewCase)],
    ) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let sql = |e| StoreError::sqlite(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let mut created = 0;
        for (a, new) in assignments {
            tx.execute(
                "INSERT INTO sync_assignments
                     (case_uuid, area, household, address, instrument_id, instrument_version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (case_uuid) DO UPDATE SET area = excluded.area,
                     household = excluded.household, address = excluded.address,
                     instrument_id = excluded.instrument_id,
                     instrument_version = excluded.instrument_version",
                params![
                    a.case,
                    a.area,
                    a.household,
                    a.address,
                    a.instrument_id,
                    a.instrument_version
                ],
            )
            .map_err(sql)?;
            let exists: Option<i64> = tx
                .query_row("SELECT 1 FROM cases WHERE uuid = ?1", [&a.case], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(sql)?;
            if exists.is_none() {
                super::import::insert_case(&tx, &a.case, new).map_err(sql)?;
                created += 1;
            }
        }
        tx.commit().map_err(sql)?;
        Ok(created)
    }
}
