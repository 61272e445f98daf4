//! The server's PostgreSQL database: its schema as numbered migrations, a
//! small connection pool, and the case tables as the laptop's store has them.
//!
//! The case tables keep every column of the local store, with SQLite's
//! storage class of the loosely typed `value` columns beside them, so that a
//! case read back gives the laptop's rows byte for byte. Times stay the RFC
//! 3339 text the laptop wrote.

use std::sync::Mutex;

use tokio::sync::Semaphore;
use tokio_postgres::{Client, Config, NoTls};

use crate::store::sync::{CASE_TABLES, CaseCopy, Cell};

/// Migration N takes the database from version N-1 to N. Never edit one
/// that has shipped; add the next.
const MIGRATIONS: &[&str] = &[
    // 1: accounts, instruments, sample, cases, conflicts, audit.
    "
    CREATE TABLE vicor_meta (key text PRIMARY KEY, value text NOT NULL);

    CREATE TABLE users (
        name        text PRIMARY KEY,
        role        text NOT NULL CHECK (role IN ('headquarters', 'supervisor', 'enumerator')),
        supervisor  text REFERENCES users (name),
        password    text NOT NULL,
        created_utc timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE tokens (
        hash        text PRIMARY KEY,
        user_name   text NOT NULL REFERENCES users (name),
        device      text NOT NULL,
        created_utc timestamptz NOT NULL DEFAULT now(),
        expires_utc timestamptz NOT NULL,
        revoked_utc timestamptz
    );

    CREATE TABLE instruments (
        id          text NOT NULL,
        version     text NOT NULL,
        hash        text NOT NULL,
        files       text NOT NULL,  -- JSON: [{path, text}], the main file first
        loaded_by   text NOT NULL,
        loaded_utc  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (id, version)
    );

    CREATE TABLE assignments (
        case_uuid          text PRIMARY KEY,
        area               text NOT NULL,
        household          text NOT NULL UNIQUE,
        address            text NOT NULL,
        instrument_id      text NOT NULL,
        instrument_version text NOT NULL,
        enumerator         text NOT NULL REFERENCES users (name),
        FOREIGN KEY (instrument_id, instrument_version) REFERENCES instruments (id, version)
    );
    CREATE INDEX assignments_enumerator ON assignments (enumerator);

    CREATE TABLE cases (
        uuid               text PRIMARY KEY,
        instrument_id      text NOT NULL,
        instrument_version text NOT NULL,
        instrument_hash    text NOT NULL,
        enumerator         text NOT NULL,
        status             text NOT NULL,
        outcome            text,
        outcome_text       text,
        resume_position    text,
        created_utc        text NOT NULL,
        modified_utc       text NOT NULL,
        owner              text NOT NULL REFERENCES users (name),
        revision           bigint NOT NULL,
        digest             text NOT NULL,
        review_status      text NOT NULL DEFAULT 'pending'
                           CHECK (review_status IN ('pending', 'approved', 'rejected')),
        review_comment     text,
        reviewed_by        text,
        reviewed_utc       text,
        received_utc       timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX cases_owner ON cases (owner);

    CREATE TABLE answers (
        case_uuid     text NOT NULL REFERENCES cases (uuid),
        path          text NOT NULL,
        value_type    text,
        value         text,
        value_storage text,
        special       text,
        PRIMARY KEY (case_uuid, path)
    );

    CREATE TABLE events (
        case_uuid    text NOT NULL REFERENCES cases (uuid),
        seq          bigint NOT NULL,
        kind         text NOT NULL,
        path         text,
        old_value    text,
        new_value    text,
        detail       text,
        utc          text NOT NULL,
        monotonic_ns bigint NOT NULL,
        enumerator   text NOT NULL,
        PRIMARY KEY (case_uuid, seq)
    );

    CREATE TABLE notes (
        case_uuid  text NOT NULL REFERENCES cases (uuid),
        seq        bigint NOT NULL,
        path       text,
        text       text NOT NULL,
        enumerator text NOT NULL,
        utc        text NOT NULL,
        PRIMARY KEY (case_uuid, seq)
    );

    CREATE TABLE orphan_answers (
        case_uuid     text NOT NULL REFERENCES cases (uuid),
        path          text NOT NULL,
        value_type    text,
        value         text,
        value_storage text,
        special       text,
        from_version  text NOT NULL,
        from_hash     text NOT NULL,
        moved_utc     text NOT NULL,
        PRIMARY KEY (case_uuid, path, from_hash)
    );

    -- A laptop's copy that met a changed server copy: kept whole, never
    -- applied until a supervisor takes it.
    CREATE TABLE conflicts (
        id              bigserial PRIMARY KEY,
        case_uuid       text NOT NULL,
        digest          text NOT NULL,
        from_user       text NOT NULL,
        base_revision   bigint,
        server_revision bigint NOT NULL,
        copy            text NOT NULL,
        received_utc    timestamptz NOT NULL DEFAULT now(),
        resolved_utc    timestamptz,
        UNIQUE (case_uuid, digest)
    );

    -- Who did what, when, from where: every status change and every login.
    CREATE TABLE audit (
        id        bigserial PRIMARY KEY,
        utc       timestamptz NOT NULL DEFAULT now(),
        actor     text,
        address   text,
        action    text NOT NULL,
        case_uuid text,
        detail    text
    );
    CREATE INDEX audit_case ON audit (case_uuid);
    ",
    // 2: fieldwork monitoring. The sample may carry the region and the
    // design weight; `monitor_cases` holds one summary row per case, written
    // by the push in the transaction that stores the case (see
    // src/server/monitor/summary.rs). The server fills the rows of cases
    // pushed before this migration when it starts (`monitor::backfill`).
    "
    ALTER TABLE assignments ADD COLUMN region text;
    ALTER TABLE assignments ADD COLUMN design_weight double precision;

    CREATE TABLE monitor_cases (
        case_uuid       text PRIMARY KEY,
        enumerator      text NOT NULL,
        region          text,
        area            text NOT NULL,
        design_weight   double precision,
        status          text NOT NULL,
        disposition     text NOT NULL,
        start_utc       timestamptz,
        end_utc         timestamptz,
        duration_s      double precision,
        questions       integer NOT NULL,
        fast_answers    integer NOT NULL,
        changed_answers integer NOT NULL,
        grids           integer NOT NULL,
        straight_grids  integer NOT NULL,
        clock_jumps     integer NOT NULL,
        sensitive_done  boolean NOT NULL,
        self_completed  boolean,
        any_incident    smallint,
        safe_dark       smallint,
        physical        smallint,
        contact         smallint,
        bribe           smallint,
        eligible        integer
    );
    CREATE INDEX monitor_cases_enumerator ON monitor_cases (enumerator);
    ",
    // 3: the monitoring cells, the page's counts pre-aggregated by
    // enumerator, region, area and day of finishing, so the pages read a few
    // thousand rows at 100,000 cases. An enumerator's cells are recomputed
    // from its sample rows and summaries whenever either changes
    // (`monitor::data::refresh_cells`), and all of them when the server
    // starts. The index serves the list of the latest flagged interviews.
    "
    CREATE TABLE monitor_cells (
        enumerator     text NOT NULL,
        region         text NOT NULL,
        area           text NOT NULL,
        day            date,
        assigned       integer NOT NULL DEFAULT 0,
        started        integer NOT NULL DEFAULT 0,
        in_sample      integer NOT NULL DEFAULT 0,
        complete       integer NOT NULL DEFAULT 0,
        partial        integer NOT NULL DEFAULT 0,
        refused        integer NOT NULL DEFAULT 0,
        non_contact    integer NOT NULL DEFAULT 0,
        other          integer NOT NULL DEFAULT 0,
        ineligible     integer NOT NULL DEFAULT 0,
        incident_known integer NOT NULL DEFAULT 0,
        no_incident    integer NOT NULL DEFAULT 0,
        with_grids     integer NOT NULL DEFAULT 0,
        fast           integer NOT NULL DEFAULT 0,
        changed        integer NOT NULL DEFAULT 0,
        straight       integer NOT NULL DEFAULT 0,
        jumps          integer NOT NULL DEFAULT 0,
        sensitive      integer NOT NULL DEFAULT 0,
        not_self       integer NOT NULL DEFAULT 0,
        flagged        integer NOT NULL DEFAULT 0,
        weighted       integer NOT NULL DEFAULT 0,
        safe_w         double precision NOT NULL DEFAULT 0,
        safe_wy        double precision NOT NULL DEFAULT 0,
        safe_n         integer NOT NULL DEFAULT 0,
        physical_w     double precision NOT NULL DEFAULT 0,
        physical_wy    double precision NOT NULL DEFAULT 0,
        physical_n     integer NOT NULL DEFAULT 0,
        bribe_w        double precision NOT NULL DEFAULT 0,
        bribe_wy       double precision NOT NULL DEFAULT 0,
        bribe_n        integer NOT NULL DEFAULT 0
    );
    CREATE INDEX monitor_cells_enumerator ON monitor_cells (enumerator);
    CREATE INDEX monitor_cases_recent ON monitor_cases (end_utc DESC NULLS LAST, case_uuid);
    ",
];

/// The schema version this vicor writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "the database was set up by a newer vicor (schema version {found}; this vicor knows up to {supported}): upgrade vicor on the server"
    )]
    NewerSchema { found: i64, supported: i64 },
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
}

/// Brings the database up to [`SCHEMA_VERSION`], each step in the
/// transaction that records it; an advisory lock keeps two servers starting
/// at once from both migrating.
pub async fn migrate(client: &mut Client) -> Result<i64, DbError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock(7669636)", &[])
        .await?;
    let exists: bool = tx
        .query_one("SELECT to_regclass('vicor_meta') IS NOT NULL", &[])
        .await?
        .get(0);
    let found: i64 = if exists {
        tx.query_opt(
            "SELECT value FROM vicor_meta WHERE key = 'schema_version'",
            &[],
        )
        .await?
        .and_then(|r| r.get::<_, String>(0).parse().ok())
        .unwrap_or(0)
    } else {
        0
    };
    if found > SCHEMA_VERSION {
        return Err(DbError::NewerSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        if version <= found {
            continue;
        }
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO vicor_meta (key, value) VALUES ('schema_version', $1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&version.to_string()],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(SCHEMA_VERSION)
}

/// Connects once, in a task that drives the connection.
pub async fn connect(config: &Config) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        // The client sees the error on its next query; nothing to add here.
        let _ = connection.await;
    });
    Ok(client)
}

/// A fixed number of connections, opened as needed and reused. A connection
/// that broke is dropped, and the next request opens a fresh one.
pub struct Pool {
    config: Config,
    idle: Mutex<Vec<Client>>,
    permits: Semaphore,
}

pub struct Pooled<'a> {
    pool: &'a Pool,
    client: Option<Client>,
    _permit: tokio::sync::SemaphorePermit<'a>,
}

impl std::ops::Deref for Pooled<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client.as_ref().expect("a pooled client until dropped")
    }
}

impl std::ops::DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().expect("a pooled client until dropped")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take()
            && !client.is_closed()
            && let Ok(mut idle) = self.pool.idle.lock()
        {
            idle.push(client);
        }
    }
}

impl Pool {
    pub fn new(config: Config, size: usize) -> Pool {
        Pool {
            config,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(size),
        }
    }

    pub async fn get(&self) -> Result<Pooled<'_>, tokio_postgres::Error> {
        let permit = self
            .permits
            .acquire()
            .await
            .expect("the pool's semaphore is never closed");
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        let client = match idle {
            Some(c) if !c.is_closed() => c,
            _ => connect(&self.config).await?,
        };
        Ok(Pooled {
            pool: self,
            client: Some(client),
            _permit: permit,
        })
    }
}

/// How a column of a case table is kept in PostgreSQL.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Int,
    /// SQLite's `ANY`: the value as text and its storage class beside it.
    Any,
}

fn kind(table: &str, column: &str) -> Kind {
    match (table, column) {
        (_, "seq") | ("events", "monotonic_ns") => Kind::Int,
        ("answers" | "orphan_answers", "value") => Kind::Any,
        _ => Kind::Text,
    }
}

/// The PostgreSQL columns of a case table, `value` followed by
/// `value_storage`.
fn pg_columns(table: &str, columns: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for c in columns {
        out.push(c.to_string());
        if kind(table, c) == Kind::Any {
            out.push("value_storage".to_string());
        }
    }
    out
}

/// One column's values, ready to bind as a PostgreSQL array.
enum ColumnValues {
    Text(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
}

/// Inserts the rows of these copies' child tables (answers, events, notes,
/// set-aside answers), one statement per table for all of them.
pub async fn insert_children(
    tx: &tokio_postgres::Transaction<'_>,
    copies: &[&CaseCopy],
) -> Result<(), String> {
    for (t, (table, columns, _)) in CASE_TABLES.iter().enumerate().skip(1) {
        let mut values: Vec<ColumnValues> = Vec::new();
        for c in columns.iter() {
            match kind(table, c) {
                Kind::Text => values.push(ColumnValues::Text(Vec::new())),
                Kind::Int => values.push(ColumnValues::Int(Vec::new())),
                Kind::Any => {
                    values.push(ColumnValues::Text(Vec::new()));
                    values.push(ColumnValues::Text(Vec::new()));
                }
            }
        }
        let mut n = 0;
        for copy in copies {
            for row in &copy.tables[t] {
                n += 1;
                let mut v = 0;
                for (cell, c) in row.iter().zip(columns.iter()) {
                    match kind(table, c) {
                        Kind::Text => {
                            let ColumnValues::Text(col) = &mut values[v] else {
                                unreachable!()
                            };
                            col.push(match cell {
                                Cell::Null => None,
                                Cell::Text(s) => Some(s.clone()),
                                other => {
                                    return Err(format!(
                                        "{table}.{c} holds {other:?}, not text, in case {}",
                                        copy.uuid
                                    ));
                                }
                            });
                            v += 1;
                        }
                        Kind::Int => {
                            let ColumnValues::Int(col) = &mut values[v] else {
                                unreachable!()
                            };
                            col.push(match cell {
                                Cell::Null => None,
                                Cell::Int(i) => Some(*i),
                                other => {
                                    return Err(format!(
                                        "{table}.{c} holds {other:?}, not an integer, in case {}",
                                        copy.uuid
                                    ));
                                }
                            });
                            v += 1;
                        }
                        Kind::Any => {
                            let (value, storage) = match cell {
                                Cell::Null => (None, None),
                                Cell::Int(i) => (Some(i.to_string()), Some("integer")),
                                Cell::Real(r) => (Some(r.clone()), Some("real")),
                                Cell::Text(s) => (Some(s.clone()), Some("text")),
                            };
                            if let ColumnValues::Text(col) = &mut values[v] {
                                col.push(value);
                            }
                            if let ColumnValues::Text(col) = &mut values[v + 1] {
                                col.push(storage.map(str::to_string));
                            }
                            v += 2;
                        }
                    }
                }
            }
        }
        if n == 0 {
            continue;
        }
        let cols = pg_columns(table, columns);
        let arrays: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                ColumnValues::Text(_) => format!("${}::text[]", i + 1),
                ColumnValues::Int(_) => format!("${}::int8[]", i + 1),
            })
            .collect();
        let sql = format!(
            "INSERT INTO {table} ({}) SELECT * FROM unnest({})",
            cols.join(", "),
            arrays.join(", ")
        );
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = values
            .iter()
            .map(|v| match v {
                ColumnValues::Text(x) => x as &(dyn tokio_postgres::types::ToSql + Sync),
                ColumnValues::Int(x) => x as &(dyn tokio_postgres::types::ToSql + Sync),
            })
            .collect();
        tx.execute(&sql, &params)
            .await
            .map_err(|e| format!("storing {table}: {e}"))?;
    }
    Ok(())
}

/// The case-record columns of the `cases` table, as the laptop has them.
pub fn case_columns() -> &'static [&'static str] {
    CASE_TABLES[0].1
}

/// Reads whole copies of the cases given, in uuid order.
pub async fn read_copies(
    client: &Client,
    uuids: &[String],
) -> Result<Vec<CaseCopy>, tokio_postgres::Error> {
    let mut copies: Vec<CaseCopy> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for (t, (table, columns, order)) in CASE_TABLES.iter().enumerate() {
        let case_col = columns[0];
        let cols = pg_columns(table, columns);
        let sql = format!(
            "SELECT {} FROM {table} WHERE {case_col} = ANY($1) ORDER BY {case_col}, {order}",
            cols.join(", ")
        );
        for row in client.query(&sql, &[&uuids]).await? {
            let mut cells = Vec::with_capacity(columns.len());
            let mut j = 0;
            for c in columns.iter() {
                match kind(table, c) {
                    Kind::Text => {
                        let v: Option<String> = row.get(j);
                        cells.push(v.map_or(Cell::Null, Cell::Text));
                        j += 1;
                    }
                    Kind::Int => {
                        let v: Option<i64> = row.get(j);
                        cells.push(v.map_or(Cell::Null, Cell::Int));
                        j += 1;
                    }
                    Kind::Any => {
                        let v: Option<String> = row.get(j);
                        let storage: Option<String> = row.get(j + 1);
                        cells.push(match (v, storage.as_deref()) {
                            (Some(v), Some("integer")) => {
                                v.parse().map(Cell::Int).unwrap_or(Cell::Text(v))
                            }
                            (Some(v), Some("real")) => Cell::Real(v),
                            (Some(v), _) => Cell::Text(v),
                            (None, _) => Cell::Null,
                        });
                        j += 2;
                    }
                }
            }
            let uuid = cells[0].as_text().unwrap_or_default().to_string();
            if t == 0 {
                index.insert(uuid.clone(), copies.len());
                copies.push(CaseCopy {
                    uuid,
                    tables: vec![Vec::new(); CASE_TABLES.len()],
                });
                copies.last_mut().expect("just pushed").tables[0].push(cells);
            } else if let Some(&i) = index.get(&uuid) {
                copies[i].tables[t].push(cells);
            }
        }
    }
    Ok(copies)
}

/// The `cases` columns of one copy's record, as text (all are text).
pub fn case_record(copy: &CaseCopy) -> Vec<Option<String>> {
    copy.tables[0][0]
        .iter()
        .map(|c| match c {
            Cell::Text(s) => Some(s.clone()),
            Cell::Int(i) => Some(i.to_string()),
            Cell::Real(r) => Some(r.clone()),
            Cell::Null => None,
        })
        .collect()
}
