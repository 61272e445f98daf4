//! Load on `vicor serve`: many enumerators syncing their finished
//! interviews at once, on loopback (run it with `bench/server-load.sh`, which
//! starts a throwaway PostgreSQL cluster and builds in release).
//!
//! Every enumerator is a laptop store of its own, filled with copies (fresh
//! uuids) of three real victimization interviews that `vicor run` stored. The
//! timed part is the syncs only: up to `VICOR_BENCH_CONCURRENCY` at once
//! (32), each the library's `vicor::sync::sync`, as `vicor sync` runs it.
//! Afterwards every case is checked on the server: there exactly once, with
//! the digest of the laptop's rows.
//!
//! `VICOR_BENCH_POSTGRES` (an admin URL) is required; `VICOR_BENCH_ENUMERATORS`
//! (300) and `VICOR_BENCH_CASES` (100,000) set the size.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vicor::server::auth::Role;
use vicor::store::Store;
use vicor::store::sync::{CaseCopy, Cell};
use vicor::sync::Client;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-tA",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn password(name: &str) -> String {
    format!("load test password of {name}")
}

/// Three real interviews of the victimization instrument, as `vicor run`
/// stores them.
fn templates(dir: &Path) -> Vec<CaseCopy> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let db = dir.join("templates.db");
    for answers in ["victim.yaml", "refusal.yaml", "not_private.yaml"] {
        let out = Command::new(env!("CARGO_BIN_EXE_vicor"))
            .arg("run")
            .arg(root.join("instruments/victimization.yaml"))
            .arg("--answers")
            .arg(root.join("tests/fixtures/instruments").join(answers))
            .arg("--db")
            .arg(&db)
            .output()
            .expect("vicor run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Store::open(&db, None)
        .expect("store")
        .case_copies(None)
        .expect("copies")
}

fn clone_case(copy: &CaseCopy, enumerator: &str) -> CaseCopy {
    let uuid = uuid::Uuid::new_v4().to_string();
    let mut clone = copy.clone();
    clone.uuid = uuid.clone();
    for row in clone.tables.iter_mut().flatten() {
        row[0] = Cell::Text(uuid.clone());
    }
    // The case record's enumerator column (index 4).
    clone.tables[0][0][4] = Cell::Text(enumerator.to_string());
    clone
}

/// The status of a request line in the server log
/// (`2026-12-07T15:00:00Z POST /api/v1/push 200 3.1ms`).
fn status(line: &str) -> Option<u16> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    match fields.as_slice() {
        [_, _, path, status, _] if path.starts_with('/') => status.parse().ok(),
        _ => None,
    }
}

/// Resident memory of a process in kB: (now, peak).
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn main() {
    let Ok(admin) = std::env::var("VICOR_BENCH_POSTGRES") else {
        eprintln!(
            "server_load: set VICOR_BENCH_POSTGRES to an admin URL (bench/server-load.sh does)"
        );
        return;
    };
    let enumerators = env_or("VICOR_BENCH_ENUMERATORS", 300);
    let cases = env_or("VICOR_BENCH_CASES", 100_000);
    let concurrency = env_or("VICOR_BENCH_CONCURRENCY", 32);
    let work = tempfile::tempdir().expect("temporary folder");
    let name = format!("vicor_load_{}", std::process::id());
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    let url = format!("{base}/{name}");
    psql(&admin, &format!("CREATE DATABASE {name}"));

    let setup = Instant::now();
    let names: Vec<String> = (1..=enumerators).map(|i| format!("enum{i:03}")).collect();
    vicor::server::add_user(&url, "hq", Role::Headquarters, None, &password("hq"))
        .expect("headquarters");
    for n in &names {
        vicor::server::add_user(&url, n, Role::Enumerator, None, &password(n)).expect("enumerator");
    }
    let mut server = Command::new(env!("CARGO_BIN_EXE_vicor"))
        .args(["serve", "--database", &url, "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vicor serve");
    let stderr = server.stderr.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    let requests = Arc::new(AtomicU64::new(0));
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    {
        let (requests, errors) = (Arc::clone(&requests), Arc::clone(&errors));
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some((_, u)) = line.split_once("listening on ") {
                    let _ = tx.send(u.trim().to_string());
                } else if status(&line).is_some_and(|s| s >= 400) {
                    errors.lock().expect("lock").push(line);
                }
                requests.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    let server_url = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server starts");
    let hq = Client::new(&server_url, None).expect("client");
    let token = hq
        .login("hq", &password("hq"), "bench")
        .expect("login")
        .token;
    let hq = hq.with_token(token);
    let instrument = vicor::instrument::validate(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("instruments/victimization.yaml"),
    )
    .instrument
    .expect("the victimization instrument loads");
    hq.publish(vicor::sync::bundle(&instrument).expect("bundle"))
        .expect("publish");

    let templates = templates(work.path());
    let mut laptops = Vec::new();
    let mut expected: HashMap<String, String> = HashMap::new();
    for (i, n) in names.iter().enumerate() {
        let share = cases / enumerators + usize::from(i < cases % enumerators);
        let copies: Vec<CaseCopy> = (0..share)
            .map(|k| clone_case(&templates[(i + k) % templates.len()], n))
            .collect();
        for c in &copies {
            expected.insert(c.uuid.clone(), c.digest());
        }
        let db = work.path().join(format!("{n}.db"));
        let mut store = Store::open(&db, None).expect("laptop store");
        store.insert_copies(&copies).expect("cases");
        let login = Client::new(&server_url, None)
            .expect("client")
            .login(n, &password(n), "laptop")
            .expect("login");
        store
            .set_sync_meta(vicor::sync::TOKEN_KEY, &login.token)
            .expect("token");
        laptops.push((db, login.token));
    }
    let rows: usize = templates
        .iter()
        .map(|t| t.tables.iter().map(Vec::len).sum::<usize>())
        .sum::<usize>()
        * cases
        / templates.len();
    eprintln!(
        "setup: {} enumerators, {} cases (about {rows} rows) in {:.0?}",
        enumerators,
        expected.len(),
        setup.elapsed()
    );

    // The timed part: every laptop syncs once, `concurrency` at a time.
    let pid = server.id();
    let done = AtomicBool::new(false);
    let peak = AtomicU64::new(0);
    let next = AtomicUsize::new(0);
    let latencies = Mutex::new(Vec::new());
    let failures = Mutex::new(Vec::new());
    let pushed = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(memory(pid).0, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let workers: Vec<_> = (0..concurrency)
            .map(|_| {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((db, token)) = laptops.get(i) else {
                            break;
                        };
                        let began = Instant::now();
                        let result = Store::open(db, None).map_err(|e| e.to_string()).and_then(
                            |mut store| {
                                let client = Client::new(&server_url, None)
                                    .map_err(|e| e.to_string())?
                                    .with_token(token.clone());
                                vicor::sync::sync(
                                    &mut store,
                                    &client,
                                    &work.path().join(format!("instruments-{i}")),
                                )
                                .map_err(|e| e.to_string())
                            },
                        );
                        match result {
                            Ok(report) => {
                                pushed.fetch_add(report.pushed, Ordering::Relaxed);
                                latencies
                                    .lock()
                                    .expect("lock")
                                    .push(began.elapsed().as_secs_f64());
                            }
                            Err(e) => failures.lock().expect("lock").push(e),
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            let _ = w.join();
        }
        done.store(true, Ordering::Relaxed);
    });
    let wall = start.elapsed().as_secs_f64();
    let (_, hwm) = memory(pid);

    let mut latencies = latencies.into_inner().expect("lock");
    latencies.sort_by(f64::total_cmp);
    let quantile = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let failures = failures.into_inner().expect("lock");
    println!(
        "{enumerators} enumerators, {} cases, {concurrency} syncs at a time: all synced in {wall:.1} s ({:.0} cases/s, {:.0} rows/s)",
        expected.len(),
        expected.len() as f64 / wall,
        rows as f64 / wall
    );
    println!(
        "sync latency: p50 {:.2} s, p99 {:.2} s, max {:.2} s; {} requests",
        quantile(0.5),
        quantile(0.99),
        quantile(1.0),
        requests.load(Ordering::Relaxed)
    );
    println!(
        "server memory: peak RSS {:.0} MB (sampled every 100 ms: {:.0} MB)",
        hwm as f64 / 1024.0,
        peak.load(Ordering::Relaxed) as f64 / 1024.0
    );
    println!(
        "errors: {} failed syncs, {} requests answered 4xx or 5xx",
        failures.len(),
        errors.lock().expect("lock").len()
    );
    for f in failures.iter().take(5) {
        println!("  {f}");
    }
    for line in errors.lock().expect("lock").iter().take(5) {
        println!("  {line}");
    }

    // Every case on the server exactly once, with the laptop's digest.
    let listed = psql(&url, "SELECT uuid || ' ' || digest FROM cases");
    let on_server: Vec<(&str, &str)> = listed.lines().filter_map(|l| l.split_once(' ')).collect();
    let distinct: std::collections::HashSet<&str> = on_server.iter().map(|(u, _)| *u).collect();
    let wrong = on_server
        .iter()
        .filter(|(u, d)| expected.get(*u).map(String::as_str) != Some(*d))
        .count();
    println!(
        "check: {} cases on the server ({} distinct), {} pushed, {} missing, {} with another digest",
        on_server.len(),
        distinct.len(),
        pushed.load(Ordering::Relaxed),
        expected.len().saturating_sub(distinct.len()),
        wrong
    );
    let _ = server.kill();
    let _ = server.wait();
    psql(&admin, &format!("DROP DATABASE {name} WITH (FORCE)"));
    let refused = errors.lock().expect("lock").len();
    if !failures.is_empty() || refused > 0 || wrong > 0 || distinct.len() != expected.len() {
        std::process::exit(1);
    }
}
