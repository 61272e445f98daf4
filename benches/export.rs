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
//!
//! `VICOR_BENCH_FORMATS=csv,dta,sav,parquet` times those formats of the
//! level files instead of CSV alone (the `--format` of `vicor export`).
//!
//! The store is encrypted, as field stores are (`VICOR_BENCH_PLAIN` makes
//! an unencrypted one). `VICOR_BENCH_DB=PATH` keeps the store at PATH and
//! reuses it on the next run, to time the export alone. Times are printed
//! as wall time and as this thread's CPU time, which varies less when other
//! work shares the machine.

use std::path::Path;
use std::time::Instant;

use vicor::interview::script::{Script, drive};
use vicor::interview::{Interview, Saved};
use vicor::store::Store;
use vicor::store::session::{CaseSession, case_seed};

const FIXTURES: [&str; 3] = ["victim.yaml", "refusal.yaml", "not_private.yaml"];
const BATCH: usize = 10_000;
/// The passphrase of the bench store: field stores are encrypted, so the
/// bench reads through SQLCipher unless `VICOR_BENCH_PLAIN` is set.
const KEY: &str = "bench passphrase";

/// Opens a store as `vicor run` does: completed cases are replayed as they
/// are packed (`export::replay`).
fn replaying(instrument: &vicor::instrument::Instrument) -> vicor::store::StoreOptions {
    vicor::export::replay::EngineReplayer::store_options(vec![instrument.clone()])
}

fn template(
    db: &Path,
    instrument: &vicor::instrument::Instrument,
    key: Option<&str>,
) -> Vec<String> {
    let mut store = Store::open_with(db, key, &replaying(instrument)).expect("bench store opens");
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

fn grow(db: &Path, templates: &[String], cases: usize, key: Option<&str>) {
    let mut conn = rusqlite::Connection::open(db).expect("sqlite opens");
    if let Some(key) = key {
        // A store just made by vicor: its settings are the current ones.
        vicor::store::Cipher::Current
            .apply(&conn, key)
            .expect("cipher settings");
    }
    conn.execute_batch("PRAGMA synchronous = OFF;")
        .expect("pragma");
    let statements = [
        copy_sql(&conn, "cases", "uuid"),
        copy_sql(&conn, "answers", "case_uuid"),
        copy_sql(&conn, "events", "case_uuid"),
        copy_sql(&conn, "case_packs", "case_uuid"),
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

/// Seconds this thread has run on a CPU (Linux), or 0: with other builds
/// on the machine, the wall time varies much more than this.
fn cpu() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}

/// Seconds all threads of this process have run on a CPU (Linux, in
/// clock ticks of 10 ms), or 0.
fn process_cpu() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // The fields after the command name, which is in parentheses.
            let rest = &s[s.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
            Some((ticks(11)? + ticks(12)?) / 100.0)
        })
        .unwrap_or(0.0)
}

/// Where the time goes: reading the cases (the store's bulk reader), then
/// rebuilding them in the engine (one replay per instrument), timed apart
/// without writing anything.
fn phases(store: &Store, instrument: &vicor::instrument::Instrument) {
    let cases = store.cases().expect("cases");
    let ids: Vec<_> = cases.iter().map(|c| c.id).collect();
    let parts = vicor::store::ReadParts::default();
    let (start, cpu0) = (Instant::now(), cpu());
    let mut events = 0;
    store
        .read_cases(
            &ids,
            parts,
            |_, rows| -> Result<(), vicor::store::StoreError> {
                events += rows.events().len();
                Ok(())
            },
        )
        .expect("read");
    let reading = start.elapsed().as_secs_f64();
    let reading_cpu = cpu() - cpu0;
    let replay = vicor::interview::walk::Replay::new(instrument);
    let tz = jiff::tz::TimeZone::system();
    let (mut rebuilding, mut values) = (0.0, 0);
    let pass = cpu();
    store
        .read_cases(
            &ids,
            parts,
            |i, rows| -> Result<(), vicor::store::StoreError> {
                let start = Instant::now();
                let (answers, _) =
                    vicor::store::session::engine_answers(rows.answers.iter().map(|(p, a)| (p, a)));
                let today = vicor::store::session::interview_date(cases[i].created_utc, &tz);
                let walk = replay.walk(&answers, today);
                values += answers
                    .keys()
                    .filter(|p| walk.relevant.contains(*p))
                    .count()
                    + walk.computed.len();
                rebuilding += start.elapsed().as_secs_f64();
                Ok(())
            },
        )
        .expect("read");
    // The second pass read the store again.
    let rebuilding_cpu = cpu() - pass - reading_cpu;
    println!(
        "phases: {} cases: reading the store {reading:.2} s (cpu {reading_cpu:.2} s; {events} events); rebuilding in the engine {rebuilding:.2} s (cpu {rebuilding_cpu:.2} s; {values} values)",
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
    let key = match std::env::var_os("VICOR_BENCH_PLAIN") {
        Some(_) => None,
        None => Some(KEY),
    };
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("bench dir");
    // A store kept between runs (built when absent), to time the export alone.
    let db = std::env::var_os("VICOR_BENCH_DB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("cases.db"));
    if !db.exists() {
        let start = Instant::now();
        let templates = template(&db, &instrument, key);
        grow(&db, &templates, cases, key);
        eprintln!(
            "built a store of {cases} interviews in {:.1} s ({:.0} MB)",
            start.elapsed().as_secs_f64(),
            std::fs::metadata(&db).map_or(0, |m| m.len()) as f64 / 1e6
        );
    } else {
        // A kept store from an older vicor is brought up to this schema
        // (which packs its completed cases), and replays made by another
        // build are made again, before the export is timed.
        let start = Instant::now();
        let before = Store::open_read_only(&db, key)
            .expect("store opens")
            .schema_version();
        let mut store = Store::open_with(&db, key, &replaying(&instrument)).expect("store opens");
        let repacked = store.repack().expect("store repacks");
        drop(store);
        if before < vicor::store::SCHEMA_VERSION || repacked > 0 {
            eprintln!(
                "brought the kept store from schema {before} to {} (and its replays to this build; {repacked} re-packed after the upgrade) in {:.1} s",
                vicor::store::SCHEMA_VERSION,
                start.elapsed().as_secs_f64()
            );
        }
    }
    let store = Store::open_read_only(&db, key).expect("store opens");
    if std::env::var_os("VICOR_BENCH_NO_PHASES").is_none() {
        phases(&store, &instrument);
    }
    let instruments = [instrument];
    let formats: Vec<vicor::export::Format> = std::env::var("VICOR_BENCH_FORMATS")
        .unwrap_or_else(|_| "csv".into())
        .split(',')
        .map(|f| match f.trim() {
            "csv" => vicor::export::Format::Csv,
            "dta" => vicor::export::Format::Dta,
            "sav" => vicor::export::Format::Sav,
            "parquet" => vicor::export::Format::Parquet,
            other => {
                panic!("VICOR_BENCH_FORMATS: unknown format {other:?} (csv, dta, sav, parquet)")
            }
        })
        .collect();
    let runs: usize = std::env::var("VICOR_BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3);
    for run in 1..=runs {
        let out = dir.path().join(format!("export{run}"));
        let (start, cpu0, all0) = (Instant::now(), cpu(), process_cpu());
        let summary = vicor::export::export(
            &store,
            &instruments,
            &out,
            &vicor::export::Options {
                status: vicor::export::StatusFilter::All,
                formats: formats.clone(),
                ..Default::default()
            },
        )
        .expect("export");
        let seconds = start.elapsed().as_secs_f64();
        let cpu_seconds = cpu() - cpu0;
        let all_seconds = process_cpu() - all0;
        let rows: usize = summary.files.iter().map(|(_, n)| n).sum();
        println!(
            "export {run} ({formats:?}): {} interviews, {rows} rows in {} files: {seconds:.2} s (cpu {cpu_seconds:.2} s on this thread, {all_seconds:.2} s in all; {:.0} interviews/s)",
            summary.cases,
            summary.files.len(),
            summary.cases as f64 / seconds
        );
        std::fs::remove_dir_all(&out).expect("cleanup");
    }
}
