//! The monitoring pages at 100,000 cases, on loopback: how long `/monitor`
//! and `/monitor/quality` take to answer, as headquarters (every team).
//!
//! The summary rows are generated in SQL (300 enumerators in 30 teams,
//! 2,000 areas in 10 regions, 100,000 assigned and pushed cases with spread
//! dispositions, durations and flags), not pushed: how cases get onto the
//! server is `benches/server_load.rs`; this times the page over the rows it
//! reads. `VICOR_BENCH_POSTGRES` (an admin URL) is required;
//! `VICOR_BENCH_CASES` (100,000) and `VICOR_BENCH_REQUESTS` (30) set the size.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vicor::server::auth::Role;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn psql(url: &str, sql: &str) {
    let out = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One request; (status, head, body).
fn get(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: &str,
    body: &str,
) -> (u16, String, usize) {
    let mut s = TcpStream::connect(addr).expect("connect");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nCookie: {cookie}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("send");
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read");
    let text = String::from_utf8_lossy(&out);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), rest.len())
}

fn main() {
    let Ok(admin) = std::env::var("VICOR_BENCH_POSTGRES") else {
        eprintln!("monitor: set VICOR_BENCH_POSTGRES to an admin URL");
        return;
    };
    let cases = env_or("VICOR_BENCH_CASES", 100_000);
    let requests = env_or("VICOR_BENCH_REQUESTS", 30).max(1);
    let name = format!("vicor_monitor_{}", std::process::id());
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    let url = format!("{base}/{name}");
    psql(&admin, &format!("CREATE DATABASE {name}"));
    vicor::server::add_user(&url, "hq", Role::Headquarters, None, "bench password hq")
        .expect("headquarters (and the schema)");
    let fill = Instant::now();
    psql(
        &url,
        &format!(
            "INSERT INTO users (name, role, password) SELECT 'sup' || t, 'supervisor', 'x' FROM generate_series(1, 30) t;
             INSERT INTO users (name, role, supervisor, password)
                 SELECT 'enum' || e, 'enumerator', 'sup' || (1 + e % 30), 'x' FROM generate_series(1, 300) e;
             INSERT INTO instruments (id, version, hash, files, loaded_by) VALUES ('victimization', '1.0', 'h', '[]', 'hq');
             INSERT INTO assignments (case_uuid, area, household, address, instrument_id, instrument_version, enumerator, region, design_weight)
                 SELECT 'c' || i, 'A' || (i % 2000), 'H' || i, 'x', 'victimization', '1.0', 'enum' || (1 + i % 300),
                        (1 + (i % 2000) % 10)::text, 50 + i % 200
                 FROM generate_series(1, {cases}) i;
             INSERT INTO monitor_cases SELECT 'c' || i, 'enum' || (1 + i % 300), (1 + (i % 2000) % 10)::text,
                 'A' || (i % 2000), 50 + i % 200, 'completed',
                 (ARRAY['complete','complete','complete','complete','complete','complete','refused','non_contact','partial','in_progress'])[1 + i % 10],
                 timestamptz '2026-10-05' + (i % 40) * interval '1 day' + (i % 600) * interval '1 minute',
                 timestamptz '2026-10-05' + (i % 40) * interval '1 day' + (i % 600 + 40) * interval '1 minute',
                 1200 + (i * 7919) % 2400, 150, (i * 31) % 40, (i * 17) % 12, 3, (i % 97 = 0)::int, (i % 211 = 0)::int,
                 i % 3 <> 0, CASE WHEN i % 3 <> 0 THEN i % 19 <> 0 END, (i % 4 = 0)::int, (i % 5 <> 0)::int,
                 (i % 23 = 0)::int, (i % 3 = 0)::int, CASE WHEN i % 3 = 0 THEN (i % 7 = 0)::int END, 1 + i % 4
                 FROM generate_series(1, {cases}) i;
             ANALYZE;"
        ),
    );
    eprintln!(
        "monitor: {cases} cases generated in {:.1} s",
        fill.elapsed().as_secs_f64()
    );
    let mut server = Command::new(env!("CARGO_BIN_EXE_vicor"))
        .args(["serve", "--database", &url, "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vicor serve");
    let stderr = server.stderr.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some((_, u)) = line.split_once("listening on http://") {
                let _ = tx.send(u.trim().to_string());
            }
        }
    });
    let addr: SocketAddr = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the server starts")
        .parse()
        .expect("an address");
    let (status, head, _) = get(
        addr,
        "POST",
        "/monitor/login",
        "",
        "user=hq&password=bench+password+hq",
    );
    assert_eq!(status, 303, "{head}");
    let cookie = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or(l.strip_prefix("Set-Cookie: "))
        })
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    for path in ["/monitor", "/monitor/quality"] {
        let mut times = Vec::new();
        let mut bytes = 0;
        for _ in 0..requests {
            let start = Instant::now();
            let (status, _, n) = get(addr, "GET", path, &cookie, "");
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(status, 200);
            bytes = n;
        }
        times.sort_by(f64::total_cmp);
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        println!(
            "{path}: {cases} cases, {requests} requests, {bytes} bytes: median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
            at(0.5),
            at(0.9),
            at(1.0)
        );
    }
    let _ = server.kill();
    let _ = server.wait();
    // VICOR_BENCH_KEEP=1 keeps the database, to EXPLAIN the page's queries.
    if std::env::var_os("VICOR_BENCH_KEEP").is_some() {
        eprintln!("monitor: kept {url}");
    } else {
        psql(&admin, &format!("DROP DATABASE {name} WITH (FORCE)"));
    }
}
