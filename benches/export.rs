//! Export of a large store: `cargo bench --bench export` builds a store of
//! 100,000 victimization interviews (set `VICOR_BENCH_CASES` for another
//! number) and times `vicor::export::export` on it, the whole of what
//! `vicor export` does after parsing its arguments.
//!
//! Building 100,000 interviews through the engine would commit every answer
//! with an fsync (hours). So three scripted interviews (a victim, a refusal,
//! a respondent without privacy) go through the engine and the store's own
//! API, as `vicor run` stores them; then each is copied under fresh uuids
//! with plain SQL inside one transaction per 10,000 cases. Every copied case
//! is a real stored interview: export rebuilds it through the engine like
//! any other. Not a criterion bench: one export takes seconds, so it is
//! timed `VICOR_BENCH_RUNS` times (3) and each time printed, after a
//! breakdown of the time into reading the store and rebuilding the cases
//! (left out when `VICOR_BENCH_NO_PHASES` is set). Results go in
//! `docs/performance.md` under "Export".

use std::path::Path;
use std::time::Instant;

use vicor::interview::script::{Script, drive};
use vicor::interview::{Interview, Saved};
use vicor::store::Store;
use vicor::store::session::{CaseSession, case_seed};

const FIXTURES: [&str; 3] = ["victim.yaml", "refusal.yaml", "not_private.yaml"];
const BATCH: usize = 10_000;

fn template(db: &Path, instrument: &vicor::instrument::Instrument) -> Vec<String> {
    let mut store = Store::open(db, None).expect("bench store opens");
    let mut ids = Vec::new();
    for fixture in FIXTURES {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/instruments")
            .join(fixture);
        let text = std::fs::read_to_string(&path).expect("fixture reads");
        let script =
            Script::parse(instrument, &text).unwrap_or_else(|_| panic!("{fixture} parses"));
        let mut session = CaseSession {
            store: &mut store,
            instrument,
            enumerator: "bench".into(),
        };
        let id = session.create().expect("case");
        let today = jiff::civil::date(2026, 6, 15);
        let mut engine = Interview::new(instrument, today, case_seed(&id), Saved::default());
        drive(
            &mut engine,
            &script,
            &mut |_, update| session.commit(&id, update).map_err(|_| ()),
            &mut |_, _| {},
        )
        .expect("fixture runs");
        ids.push(id.to_string());
    }
    ids
}

fn columns(conn: &rusqlite::Connection, table: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare(&format!("PRAGMA table_info({table})"))
        .expect("table info");
    stmt.query_map([], |r| r.get::<_, String>(1))
        .expect("columns")
        .collect::<Result<_, _>>()
        .expect("column names")
}

/// `INSERT INTO t SELECT ?1, ... FROM t WHERE key = ?2`, the key column
/// replaced by the new uuid.
fn copy_sql(conn: &rusqlite::Connection, table: &str, key: &str) -> String {
    let cols = columns(conn, table);
    let select: Vec<String> = cols
        .iter()
        .map(|c| {
            if c == key {
                "?1".to_string()
            } else {
                c.clone()
            }
        })
        .collect();
    format!(
        "INSERT INTO {table} ({}) SELECT {} FROM {table} WHERE {key} = ?2",
        cols.join(", "),
        select.join(", ")
    )
}

fn grow(db: &Path, templates: &[String], cases: usize) {
    let mut conn = rusqlite::Connection::open(db).expect("sqlite opens");
    conn.execute_batch("PRAGMA synchronous = OFF;")
        .expect("pragma");
    let statements = [
        copy_sql(&conn, "cases", "uuid"),
        copy_sql(&conn, "answers", "case_uuid"),
        copy_sql(&conn, "events", "case_uuid"),
    ];
    let mut made = templates.len();
    while made < cases {
        let tx = conn.transaction().expect("transaction");
        {
            let mut prepared: Vec<_> = statements
                .iter()
                .map(|s| tx.prepare(s).expect("copy statement"))
                .collect();
            for _ in 0..BATCH.min(cases - made) {
                let from = &templates[made % templates.len()];
                let id = uuid::Uuid::new_v4().hyphenated().to_string();
                for stmt in &mut prepared {
                    stmt.execute([&id, from]).expect("copy");
                }
                made += 1;
            }
        }
        tx.commit().expect("commit");
    }
}

/// Where the time goes: reading the cases, then rebuilding them in the
/// engine (timed apart, case by case, without keeping them).
fn phases(store: &Store, instrument: &vicor::instrument::Instrument) {
    let cases = store.cases().expect("cases");
    let (mut reading, mut rebuilding) = (0.0, 0.0);
    let mut values = 0;
    for c in &cases {
        let start = Instant::now();
        let record = store.case(&c.id).expect("case");
        let events = store.events(&c.id).expect("events");
        let read = Instant::now();
        let r = vicor::store::session::restore(&record, &events);
        let engine = Interview::new(instrument, r.today, r.seed, r.saved);
        values += engine.relevant_answers().len() + engine.computed().len();
        reading += (read - start).as_secs_f64();
        rebuilding += read.elapsed().as_secs_f64();
    }
    println!(
        "phases: {} cases: reading the store {reading:.2} s; rebuilding in the engine {rebuilding:.2} s ({values} values)",
        cases.len()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is ignored.
    let cases: usize = std::env::var("VICOR_BENCH_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let instrument = vicor::instrument::validate(&root.join("instruments/victimization.yaml"))
        .instrument
        .expect("the victimization instrument loads");
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("bench dir");
    let db = dir.path().join("cases.db");
    let start = Instant::now();
    let templates = template(&db, &instrument);
    grow(&db, &templates, cases);
    eprintln!(
        "built a store of {cases} interviews in {:.1} s ({:.0} MB)",
        start.elapsed().as_secs_f64(),
        std::fs::metadata(&db).map_or(0, |m| m.len()) as f64 / 1e6
    );
    let store = Store::open_read_only(&db, None).expect("store opens");
    if std::env::var_os("VICOR_BENCH_NO_PHASES").is_none() {
        phases(&store, &instrument);
    }
    let instruments = [instrument];
    let runs: usize = std::env::var("VICOR_BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3);
    for run in 1..=runs {
        let out = dir.path().join(format!("export{run}"));
        let start = Instant::now();
        let summary = vicor::export::export(
            &store,
            &instruments,
            &out,
            &vicor::export::Options {
                status: vicor::export::StatusFilter::All,
                ..Default::default()
            },
        )
        .expect("export");
        let seconds = start.elapsed().as_secs_f64();
        let rows: usize = summary.files.iter().map(|(_, n)| n).sum();
        println!(
            "export {run}: {} interviews, {rows} rows in {} files: {seconds:.2} s ({:.0} interviews/s)",
            summary.cases,
            summary.files.len(),
            summary.cases as f64 / seconds
        );
        std::fs::remove_dir_all(&out).expect("cleanup");
    }
}
