//! The monitoring pages of `vicor serve` against PostgreSQL, with simulated
//! fieldwork pushed through the real API: roles, an outlying enumerator
//! found, and the pages in headless chromium (no console errors, figures
//! equal to ones computed from the database with psql, screenshots kept in
//! `docs/`).
//!
//! Skipped (with a line saying so) without `VICOR_TEST_POSTGRES` or
//! chromium; `VICOR_REQUIRE_POSTGRES=1` / `VICOR_REQUIRE_BROWSER=1` make a
//! missing one a failure.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;

use vicor::instrument::model::{ItemKind, Node};
use vicor::store::Store;
use vicor::store::sync::{CaseCopy, Cell};
use vicor::sync::wire::PushCase;

use crate::server::{Office, psql};
use crate::util::{browser, root};

const TEAM_1: [&str; 4] = ["ana", "ben", "cai", "eve"];
/// The enumerator whose interviews all report no incident.
const OUTLIER: &str = "eve";

/// One request over a fresh connection: (status, head, body).
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<&str>,
) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).expect("the server accepts");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(c) = cookie {
        req.push_str(&format!("Cookie: {c}\r\n"));
    }
    if let Some(body) = form {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    } else {
        req.push_str("\r\n");
    }
    s.write_all(req.as_bytes()).expect("request sent");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("response read");
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

/// Logs in through the form; the session cookie (`name=value`) or the status.
fn login(addr: SocketAddr, user: &str) -> Result<String, u16> {
    let password = Office::password(user).replace(' ', "+");
    let (status, head, _) = http(
        addr,
        "POST",
        "/monitor/login",
        None,
        Some(&format!("user={user}&password={password}")),
    );
    if status != 303 {
        return Err(status);
    }
    let line = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .expect("a session cookie");
    assert!(
        line.contains("HttpOnly") && line.contains("SameSite=Strict"),
        "{line}"
    );
    Ok(line["set-cookie:".len()..]
        .trim()
        .split(';')
        .next()
        .expect("name=value")
        .to_string())
}

/// The `data-value` of the cell `figure` in the element whose opening tag
/// holds `marker`.
fn figure(html: &str, marker: &str, figure: &str) -> Option<f64> {
    let at = html.find(marker)?;
    let row = &html[at..];
    let row = &row[..row.find("</tr>").or_else(|| row.find("</div></div>"))?];
    let cell = &row[row.find(&format!("data-figure=\"{figure}\""))?..];
    let value = &cell[cell.find("data-value=\"")? + 12..];
    value[..value.find('"')?].parse().ok()
}

/// A loopback proxy that adds the session cookie to every request and
/// closes after one: chromium's `--dump-dom` cannot fill a login form.
fn cookie_proxy(target: SocketAddr, cookie: String) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let addr = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        for client in listener.incoming().map_while(Result::ok) {
            let cookie = cookie.clone();
            std::thread::spawn(move || {
                let mut client = client;
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match client.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let mut lines: Vec<&str> = head
                    .trim_end()
                    .lines()
                    .filter(|l| {
                        let l = l.to_ascii_lowercase();
                        !l.starts_with("cookie:") && !l.starts_with("connection:")
                    })
                    .collect();
                let extra = format!("Cookie: {cookie}");
                lines.insert(1, &extra);
                lines.insert(2, "Connection: close");
                let Ok(mut server) = TcpStream::connect(target) else {
                    return;
                };
                let request = format!("{}\r\n\r\n", lines.join("\r\n"));
                if server.write_all(request.as_bytes()).is_err() {
                    return;
                }
                let _ = std::io::copy(&mut server, &mut client);
            });
        }
    });
    addr
}

/// Simulated interviews of the victimization survey, as a laptop stores them.
fn simulated_interviews(dir: &std::path::Path) -> Vec<CaseCopy> {
    let instrument = vicor::instrument::validate(&root().join("instruments/victimization.yaml"))
        .instrument
        .expect("the bundled instrument loads");
    let mut store = Store::open(&dir.join("simulated.db"), None).expect("a store");
    let settings = vicor::simulate::Settings {
        country: vicor::simulate::CountrySize { areas: 300 },
        sample: vicor::simulate::SampleSize {
            areas_per_stratum: 2,
            households_per_area: 8,
        },
        threads: 2,
        ..vicor::simulate::Settings::default()
    };
    vicor::simulate::run(&settings, &instrument, &mut store, &mut |_, _| {}).expect("simulated");
    store.case_copies(None).expect("copies")
}

/// The crime screeners of the instrument (yes/no items with an ICCS code).
fn screeners() -> Vec<String> {
    let instrument = vicor::instrument::validate(&root().join("instruments/victimization.yaml"))
        .instrument
        .expect("loads");
    fn walk(nodes: &[Node], out: &mut Vec<String>) {
        for n in nodes {
            match n {
                Node::Item(i) if i.iccs.is_some() && matches!(i.kind, ItemKind::YesNo) => {
                    out.push(i.id.clone())
                }
                Node::Item(_) => {}
                Node::Roster(r) => walk(&r.nodes, out),
            }
        }
    }
    let mut out = Vec::new();
    for s in &instrument.sections {
        walk(&s.nodes, &mut out);
    }
    out
}

fn reports_an_incident(copy: &CaseCopy, screeners: &[String]) -> bool {
    copy.tables[1].iter().any(|row| {
        let item = row[1]
            .as_text()
            .unwrap_or("")
            .rsplit('.')
            .next()
            .unwrap_or("");
        screeners.iter().any(|s| s == item) && matches!(&row[3], Cell::Int(1))
    })
}

/// A copy of an interview under the assignment's case id and enumerator,
/// with 10 s between screens instead of the simulation's 1 s.
fn as_case(copy: &CaseCopy, uuid: &str, enumerator: &str) -> CaseCopy {
    let mut c = copy.clone();
    c.uuid = uuid.to_string();
    for row in c.tables.iter_mut().flatten() {
        row[0] = Cell::Text(uuid.to_string());
    }
    c.tables[0][0][4] = Cell::Text(enumerator.to_string());
    for row in &mut c.tables[2] {
        if let Cell::Int(ns) = row[8] {
            row[8] = Cell::Int(ns * 10);
        }
        row[9] = Cell::Text(enumerator.to_string());
    }
    c
}

#[test]
fn the_monitoring_pages_show_the_database_s_figures_and_find_the_outlier() {
    let Some(office) = Office::new() else { return };
    office.add_user("hq", "headquarters", None);
    office.add_user("sup1", "supervisor", None);
    office.add_user("sup2", "supervisor", None);
    for e in TEAM_1 {
        office.add_user(e, "enumerator", Some("sup1"));
    }
    office.add_user("dan", "enumerator", Some("sup2"));
    let hq = office.token("hq");
    office.publish(&hq, &root().join("instruments/victimization.yaml"));

    // The sample: 60 households per enumerator in 5 areas of 2 regions.
    let enumerators: Vec<&str> = TEAM_1.iter().copied().chain(["dan"]).collect();
    let mut csv = String::from(
        "area,household,address,instrument_id,instrument_version,enumerator,region,design_weight\n",
    );
    for (k, e) in enumerators.iter().enumerate() {
        for h in 0..60 {
            let area = format!("A{}{}", k, h % 5);
            let region = 1 + (h % 5) % 2;
            csv.push_str(&format!(
                "{area},HH-{e}-{h:03},{h} Secret Lane,victimization,1.0,{e},{region},{}\n",
                100.0 + 10.0 * (h % 7) as f64
            ));
        }
    }
    let sample = office.dir.write("sample.csv", &csv);
    office
        .as_holder(&hq, &["assign", &sample.to_string_lossy()])
        .assert_code(0);

    let interviews = simulated_interviews(office.dir.path());
    let screeners = screeners();
    let quiet: Vec<&CaseCopy> = interviews
        .iter()
        .filter(|c| !reports_an_incident(c, &screeners))
        .collect();
    assert!(
        quiet.len() >= 10 && quiet.len() < interviews.len(),
        "{} of {} without incident",
        quiet.len(),
        interviews.len()
    );
    let assignments = psql(
        &office.db.url,
        "SELECT enumerator, case_uuid FROM assignments ORDER BY enumerator, household",
    );
    let mut by_enumerator: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in assignments.lines() {
        let (e, uuid) = line.split_once('|').expect("two columns");
        by_enumerator.entry(e.into()).or_default().push(uuid.into());
    }
    // 50 of each enumerator's 60 households are interviewed; the outlier's
    // all report no incident.
    let mut next = 0;
    for (e, uuids) in &by_enumerator {
        let token = office.token(e);
        let client = office.client(&token);
        let cases: Vec<PushCase> = uuids[..50]
            .iter()
            .enumerate()
            .map(|(i, uuid)| {
                let template = if e == OUTLIER {
                    quiet[i % quiet.len()]
                } else {
                    next += 1;
                    &interviews[next % interviews.len()]
                };
                PushCase {
                    base_revision: None,
                    copy: as_case(template, uuid, e),
                }
            })
            .collect();
        client.push(cases).expect("the push is stored");
    }
    // A corrected copy replaces the case: its summary row is replaced, not
    // added (an upsert in the push's transaction).
    let pushed = (50 * enumerators.len()).to_string();
    let ana = office.client(&office.token("ana"));
    let first = &by_enumerator["ana"][0];
    let mut corrected = ana.case(first).expect("the case");
    corrected.tables[0][0][10] = Cell::Text("2026-11-30T10:00:00Z".into());
    let answer = ana
        .push(vec![PushCase {
            base_revision: Some(1),
            copy: corrected,
        }])
        .expect("pushed again");
    assert_eq!(answer.results[0].revision, 2, "{:?}", answer.results[0]);
    let count = "SELECT count(*) FROM monitor_cases";
    assert_eq!(psql(&office.db.url, count), pushed);
    // A database whose cases have no summary (stored before migration 2)
    // gets it when a server starts.
    psql(
        &office.db.url,
        &format!("DELETE FROM monitor_cases WHERE case_uuid = '{first}'"),
    );
    let second = crate::server::Server::start(&office.db.url, &[]);
    assert!(
        second
            .log()
            .contains("monitoring summary filled for 1 cases"),
        "{}",
        second.log()
    );
    assert_eq!(psql(&office.db.url, count), pushed);
    drop(second);

    // A household not yet visited moves from ana to ben: both their cells
    // are recomputed (the overview's counts are checked against the sample
    // below).
    let moved = csv.replace(
        "HH-ana-059,59 Secret Lane,victimization,1.0,ana,",
        "HH-ana-059,59 Secret Lane,victimization,1.0,ben,",
    );
    assert_ne!(moved, csv);
    let sample = office.dir.write("sample.csv", &moved);
    office
        .as_holder(&hq, &["assign", &sample.to_string_lossy()])
        .assert_code(0);
    assert_eq!(
        psql(
            &office.db.url,
            "SELECT sum(assigned) FROM monitor_cells WHERE enumerator = 'ben'"
        ),
        "61"
    );

    let addr = office.server.addr();
    // Roles: an enumerator is refused, no session goes to the login form.
    assert_eq!(login(addr, "dan"), Err(403));
    assert_eq!(http(addr, "GET", "/monitor", None, None).0, 303);
    let sup2 = login(addr, "sup2").expect("supervisor logs in");
    let (status, _, page) = http(addr, "GET", "/monitor", Some(&sup2), None);
    assert_eq!(status, 200);
    assert!(page.contains("data-key=\"dan\""));
    for e in TEAM_1 {
        assert!(
            !page.contains(&format!("data-key=\"{e}\"")),
            "sup2 sees {e}"
        );
    }

    // A region's page lists all of its areas and no other region's.
    let (status, _, page) = http(addr, "GET", "/monitor?region=2", Some(&sup2), None);
    assert_eq!(status, 200);
    let areas: Vec<&str> = page
        .split("data-level=\"area\" data-key=\"")
        .skip(1)
        .map(|r| &r[..r.find('"').unwrap_or(0)])
        .collect();
    // dan's areas A4h with h % 5 odd are region 2: A41 and A43.
    assert_eq!(areas, ["A41", "A43"], "{page}");
    assert!(page.contains("Areas of region 2"));

    // The outlier, on the quality page, and no one else.
    let sup1 = login(addr, "sup1").expect("supervisor logs in");
    let (_, _, quality) = http(addr, "GET", "/monitor/quality", Some(&sup1), None);
    for e in TEAM_1 {
        let flagged =
            format!("data-outlier=\"{e}\" data-rate=\"no incident\" data-flagged=\"true\"");
        let tested = format!("data-outlier=\"{e}\" data-rate=\"no incident\"");
        assert!(quality.contains(&tested), "{e} is not tested");
        assert_eq!(quality.contains(&flagged), e == OUTLIER, "{e}");
    }

    // In the browser, as headquarters.
    let Some(chromium) = browser() else { return };
    let cookie = login(addr, "hq").expect("headquarters logs in");
    let proxy = cookie_proxy(addr, cookie);
    let docs = root().join("docs");
    for (name, path) in [("overview", "/monitor"), ("quality", "/monitor/quality")] {
        let url = format!("http://{proxy}{path}");
        let run = |args: &[String]| {
            let profile = tempfile::tempdir().expect("a profile folder");
            Command::new(&chromium)
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--enable-logging=stderr",
                    "--v=0",
                ])
                .arg(format!("--user-data-dir={}", profile.path().display()))
                .args(args)
                .arg(&url)
                .output()
                .expect("chromium runs")
        };
        let dom = run(&["--dump-dom".to_string()]);
        assert!(
            dom.status.success(),
            "{}",
            String::from_utf8_lossy(&dom.stderr)
        );
        let html = String::from_utf8_lossy(&dom.stdout).to_string();
        let log = String::from_utf8_lossy(&dom.stderr);
        let console: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
            .collect();
        assert!(console.is_empty(), "{path}: console messages: {console:?}");
        // No respondent identity: household ids and addresses stay out.
        assert!(
            !html.contains("HH-") && !html.contains("Secret Lane"),
            "{path}"
        );
        if name == "overview" {
            check_overview_figures(&office, &html);
        } else {
            assert!(html.contains(&format!(
                "data-outlier=\"{OUTLIER}\" data-rate=\"no incident\" data-flagged=\"true\""
            )));
            check_quality_figures(&office, &html);
        }
        let shot = docs.join(format!("monitor-{name}.png"));
        let s = run(&[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000".to_string(),
        ]);
        assert!(s.status.success(), "{}", String::from_utf8_lossy(&s.stderr));
        let png = std::fs::read(&shot).expect("a screenshot");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
}

/// The overview's figures against ones computed with psql from the case
/// tables and the sample (not from the summary table).
fn check_overview_figures(office: &Office, html: &str) {
    let db = &office.db.url;
    let rows = psql(
        db,
        "SELECT a.enumerator, count(*), count(c.uuid),
                count(*) FILTER (WHERE c.status = 'completed' AND c.outcome = 'complete')
         FROM assignments a LEFT JOIN cases c ON c.uuid = a.case_uuid
         GROUP BY 1 ORDER BY 1",
    );
    for line in rows.lines() {
        let v: Vec<&str> = line.split('|').collect();
        let marker = format!("data-level=\"enumerator\" data-key=\"{}\"", v[0]);
        for (k, name) in [(1, "assigned"), (2, "started"), (3, "complete")] {
            let expected: f64 = v[k].parse().expect("a count");
            assert_eq!(
                figure(html, &marker, name),
                Some(expected),
                "{} {name}",
                v[0]
            );
        }
        let rr1 = v[3].parse::<f64>().expect("n") / v[1].parse::<f64>().expect("n");
        let shown = figure(html, &marker, "rr1").expect("RR1");
        assert!((shown - rr1).abs() < 1e-12, "{} RR1 {shown} {rr1}", v[0]);
    }
    // Regions and areas, from the sample and the case table.
    let rows = psql(
        db,
        "SELECT 'region', coalesce(a.region, '?'), count(*), count(c.uuid),
                count(*) FILTER (WHERE c.status = 'completed' AND c.outcome = 'complete')
         FROM assignments a LEFT JOIN cases c ON c.uuid = a.case_uuid GROUP BY 2
         UNION ALL
         SELECT 'area', a.area, count(*), count(c.uuid),
                count(*) FILTER (WHERE c.status = 'completed' AND c.outcome = 'complete')
         FROM assignments a LEFT JOIN cases c ON c.uuid = a.case_uuid GROUP BY 2",
    );
    assert_eq!(rows.lines().count(), 2 + 5 * 5, "{rows}");
    for line in rows.lines() {
        let v: Vec<&str> = line.split('|').collect();
        let marker = format!("data-level=\"{}\" data-key=\"{}\"", v[0], v[1]);
        for (k, name) in [(2, "assigned"), (3, "started"), (4, "complete")] {
            let expected: f64 = v[k].parse().expect("a count");
            assert_eq!(figure(html, &marker, name), Some(expected), "{line} {name}");
        }
    }
    // Duration quartiles: PostgreSQL's percentile_cont over the summaries
    // against the page's, computed in Rust.
    let rows = psql(
        db,
        "SELECT enumerator, percentile_cont(0.25) WITHIN GROUP (ORDER BY duration_s) / 60,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_s) / 60,
                percentile_cont(0.75) WITHIN GROUP (ORDER BY duration_s) / 60
         FROM monitor_cases WHERE disposition = 'complete' GROUP BY 1",
    );
    assert_eq!(rows.lines().count(), 5, "{rows}");
    for line in rows.lines() {
        let v: Vec<&str> = line.split('|').collect();
        let marker = format!("<tr data-key=\"{}\">", v[0]);
        for (k, name) in [(1, "q1_min"), (2, "median_min"), (3, "q3_min")] {
            let expected: f64 = v[k].parse().expect("minutes");
            let shown = figure(html, &marker, name).expect("a quartile");
            assert!(
                (shown - expected).abs() <= 1e-12 * expected,
                "{} {name}: {shown} {expected}",
                v[0]
            );
        }
    }
    // 16.1.4 from the raw answers, by its definition (instruments/README.md):
    // safe_dark 1 or 2 is safe, anything else answered (3-5, DK, RF) is not;
    // weight: household design weight times the adults (18+) on the roster.
    let expected: f64 = psql(
        db,
        "WITH r AS (
             SELECT c.uuid, a.design_weight AS w,
                    (SELECT count(*) FROM answers m WHERE m.case_uuid = c.uuid
                       AND m.path LIKE 'members[%].age' AND m.value::int >= 18) AS adults,
                    CASE WHEN s.value IN ('1', '2') THEN 1 ELSE 0 END AS safe
             FROM cases c JOIN assignments a ON a.case_uuid = c.uuid
             JOIN answers s ON s.case_uuid = c.uuid AND s.path = 'safe_dark'
             WHERE c.status = 'completed' AND c.outcome = 'complete')
         SELECT sum(w * adults * safe) / sum(w * adults) FROM r",
    )
    .parse()
    .expect("a share");
    let shown = figure(html, "data-indicator=\"16.1.4\"", "estimate").expect("16.1.4");
    assert!(
        (shown - expected).abs() < 1e-9 * expected,
        "16.1.4 {shown} {expected}"
    );
}

/// The quality page's flag counts against the flags' definitions written
/// out in SQL over the summaries (docs/monitoring.md), medians by
/// `percentile_cont`: the page takes its counts from the cells and its
/// medians from Rust.
fn check_quality_figures(office: &Office, html: &str) {
    let flags = "WITH med AS (
             SELECT enumerator, percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_s) AS md
             FROM monitor_cases WHERE disposition = 'complete' GROUP BY 1),
         overall AS (
             SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_s) AS md
             FROM monitor_cases WHERE disposition = 'complete'),
         f AS (
             SELECT m.enumerator,
                    coalesce(m.disposition = 'complete' AND (m.duration_s < 0.5 * med.md
                        OR m.duration_s < 0.5 * overall.md), false) AS short,
                    m.fast_answers >= 5 AND m.fast_answers >= 0.25 * m.questions AS fast,
                    m.changed_answers >= 10 AS changed,
                    m.disposition = 'complete' AND m.straight_grids > 0 AS straight,
                    m.clock_jumps > 0 AS jump,
                    coalesce(m.sensitive_done AND m.self_completed = false, false) AS not_self
             FROM monitor_cases m LEFT JOIN med USING (enumerator) CROSS JOIN overall)";
    let rows = psql(
        &office.db.url,
        &format!(
            "{flags} SELECT enumerator, count(*), count(*) FILTER (WHERE short),
                    count(*) FILTER (WHERE fast), count(*) FILTER (WHERE changed),
                    count(*) FILTER (WHERE straight), count(*) FILTER (WHERE jump)
             FROM f GROUP BY 1"
        ),
    );
    assert_eq!(rows.lines().count(), 5, "{rows}");
    let flags_table = &html[html.find("data-table=\"flags\"").expect("the flags table")..];
    for line in rows.lines() {
        let v: Vec<&str> = line.split('|').collect();
        let marker = format!("<tr data-key=\"{}\">", v[0]);
        for (k, name) in [
            (1, "started"),
            (2, "short"),
            (3, "fast"),
            (4, "changed"),
            (5, "straight"),
            (6, "jumps"),
        ] {
            let expected: f64 = v[k].parse().expect("a count");
            assert_eq!(
                figure(flags_table, &marker, name),
                Some(expected),
                "{} {name}",
                v[0]
            );
        }
    }
    let total: f64 = psql(
        &office.db.url,
        &format!(
            "{flags} SELECT count(*) FROM f WHERE short OR fast OR changed OR jump OR not_self"
        ),
    )
    .parse()
    .expect("a count");
    let shown = html
        .split("data-figure=\"flagged_total\" data-value=\"")
        .nth(1)
        .and_then(|v| v[..v.find('"')?].parse::<f64>().ok());
    assert_eq!(shown, Some(total));
    let listed = html.matches("<tr data-case=").count();
    assert_eq!(listed as f64, total.min(200.0), "flagged rows listed");
}
