//! Answer commit latency: how long `Store::record` takes to put one answer,
//! its event and the resume position on disk, with `synchronous=FULL` (one
//! fsync of the WAL per answer), unencrypted and with SQLCipher.
//!
//! Criterion reports the mean; the engine cares about the tail (an enumerator
//! feels the slow answers), so the bench also prints p50 and p99 of single
//! commits. Results go in `docs/performance.md` under "Store". The store
//! lives under `CARGO_TARGET_TMPDIR`, on the same disk as the build, not in a
//! tmpfs where fsync costs nothing.

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use vicor::store::{
    CaseId, CaseStatus, Change, EventKind, EventTime, NewCase, Store, StoredAnswer,
};

/// Single commits timed for the percentiles.
const SAMPLES: usize = 2_000;

fn at(n: u64) -> EventTime {
    EventTime {
        utc: jiff::Timestamp::from_second(1_750_000_000 + n as i64).expect("a valid time"),
        monotonic_ns: n * 1_000_000,
    }
}

fn open(path: &Path, key: Option<&str>) -> (Store, CaseId) {
    let mut store = Store::open(path, key).expect("bench store opens");
    let id = new_case(&mut store);
    (store, id)
}

fn new_case(store: &mut Store) -> CaseId {
    store
        .create_case(&NewCase {
            instrument_id: "bench".to_string(),
            instrument_version: "1".to_string(),
            instrument_hash: "h".to_string(),
            enumerator: "e1".to_string(),
            created_utc: at(0).utc,
        })
        .expect("case")
}

/// One answer as the engine records it: a roster item, a text answer, the
/// resume position moved on.
fn answer(n: u64) -> Change {
    let path = format!("members[{}].occupation", n % 12);
    Change::answer(
        &path,
        StoredAnswer::Text(format!("answer number {n}")),
        "e1",
        at(n),
    )
    .with_resume(&path)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn record(c: &mut Criterion) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("bench dir");
    let mut group = c.benchmark_group("store_record");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(10));
    for (name, key) in [("plain", None), ("sqlcipher", Some("bench passphrase"))] {
        let (mut store, id) = open(&dir.path().join(format!("{name}.db")), key);
        let mut n = 1u64;

        let mut single = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let change = answer(n);
            n += 1;
            let start = Instant::now();
            store.record(&id, &change).expect("answer commits");
            single.push(start.elapsed());
        }
        single.sort();
        eprintln!(
            "store_record/{name}: {SAMPLES} single commits: p50 {:?}, p99 {:?}, max {:?}",
            percentile(&single, 0.50),
            percentile(&single, 0.99),
            single[SAMPLES - 1]
        );

        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let changes: Vec<Change> = (0..iters).map(|i| answer(n + i)).collect();
                n += iters;
                let start = Instant::now();
                for change in &changes {
                    store.record(&id, change).expect("answer commits");
                }
                start.elapsed()
            })
        });
    }
    group.finish();
}

/// Completing a case also packs its events and answers (`store/pack.rs`)
/// in the same transaction: the commit that completes a case of 150
/// answers (150 events), beside `store_record`'s plain commit.
fn complete(c: &mut Criterion) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("bench dir");
    let mut group = c.benchmark_group("store_complete");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    for (name, key) in [("plain", None), ("sqlcipher", Some("bench passphrase"))] {
        let (mut store, _) = open(&dir.path().join(format!("{name}.db")), key);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let id = new_case(&mut store);
                    let answers: Vec<Change> = (1..=150)
                        .map(|n| {
                            Change::answer(
                                &format!("q{n}"),
                                StoredAnswer::Text(format!("answer {n}")),
                                "e1",
                                at(n),
                            )
                        })
                        .collect();
                    store.record_all(&id, &answers).expect("answers commit");
                    let done = Change::event(EventKind::Complete, "e1", at(151))
                        .with_status(CaseStatus::Completed);
                    let start = Instant::now();
                    store.record(&id, &done).expect("completion commits");
                    timed += start.elapsed();
                }
                timed
            })
        });
    }
    group.finish();
}

criterion_group!(benches, record, complete);
criterion_main!(benches);
