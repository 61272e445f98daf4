//! `vicor serve` on a real PostgreSQL and `vicor sync` from laptops, through
//! the real binaries: the fieldwork loop end to end, the security rules, bad
//! input, TLS, and syncs cut by network drops and by a killed server.
//!
//! Each test gets a database of its own in the cluster that
//! `VICOR_TEST_POSTGRES` names (an admin URL; `.ci/run` starts a throwaway
//! cluster and sets it). Without it the tests say they were skipped; with
//! `VICOR_REQUIRE_POSTGRES=1` (CI) a missing cluster is a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use vicor::store::Store;
use vicor::store::sync::{CaseCopy, Cell};
use vicor::sync::Client;
use vicor::sync::wire::PushCase;

use crate::util::{Dir, Run, fixture, root, run, vicor};

/// The admin URL of the test cluster, or `None` (and a line saying the
/// tests were skipped) when there is none.
pub(crate) fn postgres() -> Option<String> {
    match std::env::var("VICOR_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var_os("VICOR_REQUIRE_POSTGRES").is_some() {
                panic!("VICOR_REQUIRE_POSTGRES is set but VICOR_TEST_POSTGRES is not");
            }
            eprintln!(
                "skipped: no PostgreSQL for the server tests (set VICOR_TEST_POSTGRES to an admin URL; .ci/run starts a cluster)"
            );
            None
        }
    }
}

/// A database of its own for one test, dropped at the end.
pub(crate) struct Database {
    admin: String,
    name: String,
    pub(crate) url: String,
}

impl Database {
    fn new(admin: &str) -> Database {
        let name = format!("vicor_test_{}", uuid::Uuid::new_v4().simple());
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
        let db = Database {
            admin: admin.to_string(),
            url: format!("{base}/{name}"),
            name,
        };
        psql(&db.admin, &format!("CREATE DATABASE {}", db.name));
        db
    }

    /// Runs SQL in this database and returns what psql printed (unaligned).
    pub(crate) fn sql(&self, sql: &str) -> String {
        psql(&self.url, sql)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-X", "-q", "-d", &self.admin, "-c"])
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .output();
    }
}

pub(crate) fn psql(url: &str, sql: &str) -> String {
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
        .expect("psql runs (Debian package postgresql-client)");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A running `vicor serve`, with everything it wrote on stderr.
pub(crate) struct Server {
    child: Child,
    pub(crate) url: String,
    log: Arc<Mutex<String>>,
}

impl Server {
    pub(crate) fn start(database: &str, extra: &[&str]) -> Server {
        Server::try_start(database, extra).unwrap_or_else(|log| panic!("vicor serve: {log}"))
    }

    /// Starts the server on a free loopback port; the error is its output.
    fn try_start(database: &str, extra: &[&str]) -> Result<Server, String> {
        let mut child = vicor()
            .args(["serve", "--database", database, "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("vicor serve starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some((_, url)) = line.split_once("listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
                let mut log = sink.lock().unwrap_or_else(|e| e.into_inner());
                log.push_str(&line);
                log.push('\n');
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => Ok(Server { child, url, log }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                Err(log.lock().unwrap_or_else(|e| e.into_inner()).clone())
            }
        }
    }

    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        let hostport = self.url.split("://").nth(1).expect("a URL");
        hostport.parse().expect("host:port")
    }

    /// SIGKILL: no shutdown, no flush, as a power cut would.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

const KEY: &str = "laptop passphrase for the tests";

/// A survey office in miniature: a database, a server, and the people.
pub(crate) struct Office {
    pub(crate) dir: Dir,
    pub(crate) db: Database,
    pub(crate) server: Server,
}

impl Office {
    /// None when there is no PostgreSQL (the test is then skipped).
    pub(crate) fn new() -> Option<Office> {
        Office::with_server_args(&[])
    }

    fn with_server_args(extra: &[&str]) -> Option<Office> {
        let admin = postgres()?;
        let db = Database::new(&admin);
        let server = Server::start(&db.url, extra);
        Some(Office {
            dir: Dir::new(),
            db,
            server,
        })
    }

    pub(crate) fn password(name: &str) -> String {
        format!("a long password of {name}")
    }

    pub(crate) fn add_user(&self, name: &str, role: &str, supervisor: Option<&str>) {
        let mut cmd = vicor();
        cmd.args([
            "users",
            "--database",
            &self.db.url,
            "add",
            name,
            "--role",
            role,
        ])
        .args(["--password-env", "PW"])
        .env("PW", Office::password(name));
        if let Some(s) = supervisor {
            cmd.args(["--supervisor", s]);
        }
        run(&mut cmd).assert_code(0);
    }

    /// A token for a headquarters or supervisor account.
    pub(crate) fn token(&self, name: &str) -> String {
        let out = run(vicor()
            .args(["login", "--server", &self.server.url, "--user", name])
            .args(["--password-env", "PW", "--device", "office"])
            .env("PW", Office::password(name)));
        out.assert_code(0);
        out.stdout.trim().to_string()
    }

    /// A command of someone holding `token`, as `--server URL --token-env T`.
    pub(crate) fn as_holder(&self, token: &str, args: &[&str]) -> Run {
        run(vicor()
            .args(args)
            .args(["--server", &self.server.url, "--token-env", "T"])
            .env("T", token))
    }

    pub(crate) fn publish(&self, hq: &str, instrument: &Path) {
        let path = instrument.to_string_lossy().into_owned();
        self.as_holder(hq, &["publish", &path]).assert_code(0);
    }

    /// Writes the sample and loads it as headquarters.
    fn assign(&self, hq: &str, rows: &[(&str, &str, &str)]) -> Run {
        let mut csv =
            String::from("area,household,address,instrument_id,instrument_version,enumerator\n");
        for (area, household, enumerator) in rows {
            csv.push_str(&format!(
                "{area},{household},{household} Long Road,example,1.0,{enumerator}\n"
            ));
        }
        let sample = self.dir.write("sample.csv", &csv);
        self.as_holder(hq, &["assign", &sample.to_string_lossy()])
    }

    /// An enumerator's laptop, logged in, with an encrypted store.
    fn laptop(&self, name: &str) -> Laptop {
        let laptop = Laptop {
            db: self.dir.join(&format!("{name}/cases.db")),
            name: name.to_string(),
            key: Some(KEY),
        };
        std::fs::create_dir_all(laptop.db.parent().expect("a folder")).expect("folder");
        laptop.login(&self.server.url).assert_code(0);
        laptop
    }

    /// A client for in-process requests with `token`.
    pub(crate) fn client(&self, token: &str) -> Client {
        Client::new(&self.server.url, None)
            .expect("a loopback URL")
            .with_token(token.to_string())
    }
}

struct Laptop {
    db: PathBuf,
    name: String,
    key: Option<&'static str>,
}

impl Laptop {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = vicor();
        cmd.args(args).arg("--db").arg(&self.db);
        if let Some(key) = self.key {
            cmd.args(["--key-env", "K"]).env("K", key);
        }
        cmd
    }

    fn login(&self, server: &str) -> Run {
        run(self
            .command(&["login", "--server", server, "--user", &self.name])
            .args(["--password-env", "PW", "--device", "laptop"])
            .env("PW", Office::password(&self.name)))
    }

    fn sync(&self) -> Run {
        run(&mut self.command(&["sync"]))
    }

    fn sync_via(&self, server: &str) -> Run {
        run(&mut self.command(&["sync", "--server", server]))
    }

    fn store(&self) -> Store {
        Store::open(&self.db, self.key).expect("the laptop's store opens")
    }

    /// The laptop's cases, oldest first by household id where assigned.
    fn case_ids(&self) -> Vec<String> {
        let store = self.store();
        let mut ids: Vec<String> = store
            .cases()
            .expect("cases")
            .iter()
            .map(|c| c.id.to_string())
            .collect();
        ids.sort();
        ids
    }

    /// The synced instrument, where `vicor sync` put it.
    fn instrument(&self) -> PathBuf {
        let path = self
            .db
            .parent()
            .expect("a folder")
            .join("instruments/example-1.0/example.yaml");
        assert!(path.exists(), "{} was not written by sync", path.display());
        path
    }

    fn interview(&self, case: &str, answers: &Path) {
        let instrument = self.instrument();
        run(self
            .command(&["run", &instrument.to_string_lossy(), "--case", case])
            .arg("--answers")
            .arg(answers)
            .args(["--enumerator", &self.name]))
        .assert_code(0);
    }

    fn digests(&self) -> BTreeMap<String, String> {
        digests(&self.store().case_copies(None).expect("copies"))
    }
}

fn digests(copies: &[CaseCopy]) -> BTreeMap<String, String> {
    copies
        .iter()
        .map(|c| (c.uuid.clone(), c.digest()))
        .collect()
}

fn example() -> PathBuf {
    root().join("instruments/example.yaml")
}

/// Every file under `dir`, by relative path, with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("readable folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path.strip_prefix(base).expect("inside").to_path_buf();
                out.insert(rel, std::fs::read(&path).expect("readable file"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The answers of the partial interview: consent, then nothing.
fn partial_answers(dir: &Dir) -> PathBuf {
    dir.write("partial.yaml", "consent: 1\n")
}

/// The complete interview with the theft loss re-asked (the correction).
fn corrected_answers(dir: &Dir) -> PathBuf {
    let text = std::fs::read_to_string(fixture("answers/example-complete.yaml"))
        .expect("fixture")
        .replace("loss: 120.5", "loss: 150");
    assert!(text.contains("loss: 150"));
    dir.write("corrected.yaml", &text)
}

#[test]
fn fieldwork_end_to_end_gives_the_merged_local_export() {
    let Some(office) = Office::new() else { return };
    office.add_user("hq", "headquarters", None);
    office.add_user("sup1", "supervisor", None);
    office.add_user("ana", "enumerator", Some("sup1"));
    office.add_user("ben", "enumerator", Some("sup1"));
    let hq = office.token("hq");
    let sup = office.token("sup1");
    office.publish(&hq, &example());
    let rows = [
        ("A1", "H001", "ana"),
        ("A1", "H002", "ana"),
        ("A2", "H003", "ben"),
        ("A2", "H004", "ben"),
    ];
    let loaded = office.assign(&hq, &rows);
    loaded.assert_code(0);
    assert!(loaded.stdout.contains("4 new"), "{}", loaded.stdout);
    // Loading the same sample again changes nothing.
    let again = office.assign(&hq, &rows);
    assert!(again.stdout.contains("4 unchanged"), "{}", again.stdout);

    let ana = office.laptop("ana");
    let ben = office.laptop("ben");
    for laptop in [&ana, &ben] {
        let first = laptop.sync();
        first.assert_code(0);
        assert!(
            first.stdout.contains("fetched instrument example 1.0")
                && first.stdout.contains("2 assignments (2 new cases)"),
            "{}",
            first.stdout
        );
        let ids = laptop.case_ids();
        assert_eq!(ids.len(), 2);
        // One complete interview and one stopped after the consent.
        laptop.interview(&ids[0], &fixture("answers/example-complete.yaml"));
        laptop.interview(&ids[1], &partial_answers(&office.dir));
        let pushed = laptop.sync();
        pushed.assert_code(0);
        assert!(
            pushed.stdout.contains("pushed 2 cases"),
            "{}",
            pushed.stdout
        );
        // A second sync has nothing to do.
        let idle = laptop.sync();
        assert!(
            idle.stdout.contains("0 new cases); pushed 0 cases"),
            "{}",
            idle.stdout
        );
    }

    // The supervisor rejects ana's complete interview.
    let rejected = ana.case_ids()[0].clone();
    let listed = office.as_holder(&sup, &["review"]);
    listed.assert_code(0);
    assert_eq!(
        listed.stdout.matches("pending").count(),
        4,
        "{}",
        listed.stdout
    );
    office
        .as_holder(
            &sup,
            &[
                "review",
                &rejected,
                "--reject",
                "--comment",
                "re-ask the value of the stolen bicycle",
            ],
        )
        .assert_code(0);
    let told = ana.sync();
    told.assert_code(0);
    assert!(
        told.stdout.contains(&format!(
            "rejected by the supervisor: case {rejected}: re-ask the value of the stolen bicycle"
        )),
        "{}",
        told.stdout
    );
    // The laptop keeps the review for the case list.
    let review = ana.store().reviews().expect("reviews");
    let id: vicor::store::CaseId = rejected.parse().expect("id");
    assert_eq!(review[&id].status, "rejected");
    let listed = run(&mut ana.command(&["cases"]));
    assert!(
        listed
            .stdout
            .contains("rejected: re-ask the value of the stolen bicycle"),
        "{}",
        listed.stdout
    );

    // The enumerator corrects it and syncs: back to pending, with the new value.
    ana.interview(&rejected, &corrected_answers(&office.dir));
    let corrected = ana.sync();
    corrected.assert_code(0);
    assert!(
        corrected.stdout.contains("pushed 1 cases"),
        "{}",
        corrected.stdout
    );
    let listed = office.as_holder(&sup, &["review"]);
    assert!(!listed.stdout.contains("rejected"), "{}", listed.stdout);
    let on_server = office.client(&hq).case(&rejected).expect("the case");
    assert_eq!(on_server.digest(), ana.digests()[&rejected]);
    let answers = &on_server.tables[1];
    assert!(
        answers
            .iter()
            .any(|row| row[1].as_text() == Some("vehicle_thefts[3].loss")
                && row[3] == Cell::Real("150.0".into())),
        "{answers:?}"
    );

    // Every case on both laptops is on the server, with the same rows.
    let mut laptops = ana.digests();
    laptops.extend(ben.digests());
    let server = digests(&office.client(&hq).all_cases().expect("all cases"));
    assert_eq!(server, laptops);

    // The server export equals the export of the laptops merged by hand.
    let merged = office.dir.join("merged.db");
    run(vicor()
        .args(["merge", "--out"])
        .arg(&merged)
        .arg(&ana.db)
        .arg(&ben.db)
        .args(["--key-env", "K"])
        .env("K", KEY))
    .assert_code(0);
    for status in ["complete", "all"] {
        let local = office.dir.join(&format!("local-{status}"));
        let remote = office.dir.join(&format!("remote-{status}"));
        run(vicor()
            .args(["export", "--status", status, "--db"])
            .arg(&merged)
            .args(["--key-env", "K", "--out"])
            .arg(&local)
            .env("K", KEY))
        .assert_code(0);
        office
            .as_holder(
                &hq,
                &[
                    "export",
                    "--status",
                    status,
                    "--out",
                    &remote.to_string_lossy(),
                ],
            )
            .assert_code(0);
        let (local, remote) = (files(&local), files(&remote));
        assert!(local.len() > 3, "{:?}", local.keys());
        assert_eq!(
            local.keys().collect::<Vec<_>>(),
            remote.keys().collect::<Vec<_>>()
        );
        for (path, bytes) in &local {
            assert!(
                remote[path] == *bytes,
                "{} differs between the server export and the local one",
                path.display()
            );
        }
    }

    // Every status change is in the audit, with who and from where.
    let audit = office
        .db
        .sql("SELECT action || ' ' || coalesce(actor, '') || ' ' || coalesce(address, '') FROM audit ORDER BY id");
    for want in [
        "publish_instrument hq 127.0.0.1",
        "reject sup1 127.0.0.1",
        "push ana 127.0.0.1",
    ] {
        assert!(audit.contains(want), "{want:?} not in the audit:\n{audit}");
    }
}

#[test]
fn each_user_sees_and_changes_only_what_the_role_allows() {
    let Some(office) = Office::new() else { return };
    office.add_user("hq", "headquarters", None);
    office.add_user("sup1", "supervisor", None);
    office.add_user("sup2", "supervisor", None);
    office.add_user("ana", "enumerator", Some("sup1"));
    office.add_user("carl", "enumerator", Some("sup2"));
    let hq = office.token("hq");
    office.publish(&hq, &example());
    office
        .assign(&hq, &[("A1", "H001", "ana"), ("A2", "H002", "carl")])
        .assert_code(0);
    let ana = office.laptop("ana");
    let carl = office.laptop("carl");
    for laptop in [&ana, &carl] {
        laptop.sync().assert_code(0);
        let id = laptop.case_ids()[0].clone();
        laptop.interview(&id, &fixture("answers/example-complete.yaml"));
        laptop.sync().assert_code(0);
    }
    let ana_case = ana.case_ids()[0].clone();
    let carl_case = carl.case_ids()[0].clone();
    let ana_token = ana
        .store()
        .sync_meta(vicor::sync::TOKEN_KEY)
        .expect("meta")
        .expect("a token");

    // An enumerator cannot read another's case: the same 404 as no case.
    let as_ana = office.client(&ana_token);
    let read = as_ana.case(&carl_case).expect_err("another's case");
    assert_eq!(read.status(), Some(404), "{read}");
    let missing = as_ana
        .case(&uuid::Uuid::new_v4().to_string())
        .expect_err("no such case");
    assert_eq!(missing.status(), Some(404));
    // Nor overwrite it, even with a copy of its own making.
    let mut forged = carl.store().case_copies(None).expect("copies").remove(0);
    let before = office.client(&hq).case(&carl_case).expect("case").digest();
    if let Some(Cell::Text(status)) = forged.tables[0][0].get_mut(5) {
        *status = "refused".into();
    }
    let write = as_ana
        .push(vec![PushCase {
            copy: forged,
            base_revision: Some(1),
        }])
        .expect_err("another's case");
    assert_eq!(write.status(), Some(403), "{write}");
    let after = office.client(&hq).case(&carl_case).expect("case").digest();
    assert_eq!(before, after);
    // Nor review, publish, or export.
    let review = office.as_holder(&ana_token, &["review", &ana_case, "--approve"]);
    review.assert_code(1);
    assert!(review.stderr.contains("403"), "{}", review.stderr);
    let out = office.dir.join("ana-export");
    let export = office.as_holder(&ana_token, &["export", "--out", &out.to_string_lossy()]);
    export.assert_code(1);
    assert!(export.stderr.contains("403"), "{}", export.stderr);
    assert!(!out.exists());

    // A supervisor sees only its team.
    let sup2 = office.token("sup2");
    let listed = office.as_holder(&sup2, &["review"]);
    listed.assert_code(0);
    assert!(listed.stdout.contains(&carl_case), "{}", listed.stdout);
    assert!(!listed.stdout.contains(&ana_case), "{}", listed.stdout);
    let reject = office.as_holder(&sup2, &["review", &ana_case, "--reject", "--comment", "x"]);
    reject.assert_code(1);
    assert!(reject.stderr.contains("404"), "{}", reject.stderr);
    let read = office
        .client(&sup2)
        .case(&ana_case)
        .expect_err("not its team");
    assert_eq!(read.status(), Some(404));

    // A revoked token is refused, by the CLI and over the API alike.
    office
        .client(&hq)
        .revoke("ana")
        .expect("headquarters revokes");
    let refused = ana.sync();
    refused.assert_code(1);
    assert!(
        refused.stderr.contains("401") && refused.stderr.contains("vicor login"),
        "{}",
        refused.stderr
    );
    assert_eq!(as_ana.state().expect_err("revoked").status(), Some(401));
    // Logging in again gives a new token that works.
    ana.login(&office.server.url).assert_code(0);
    ana.sync().assert_code(0);

    // Wrong passwords: five are answered 401, then even the right one 429.
    for _ in 0..5 {
        let wrong = run(vicor()
            .args(["login", "--server", &office.server.url, "--user", "carl"])
            .args(["--password-env", "PW"])
            .env("PW", "not the password"));
        wrong.assert_code(1);
        assert!(wrong.stderr.contains("401"), "{}", wrong.stderr);
    }
    let locked = carl.login(&office.server.url);
    locked.assert_code(1);
    assert!(
        locked.stderr.contains("429") && locked.stderr.contains("too many wrong passwords"),
        "{}",
        locked.stderr
    );

    // The server's log names paths, never a respondent's data or a secret.
    let log = office.server.log();
    assert!(log.contains("POST /api/v1/push"), "{log}");
    for secret in [
        "Ana",
        "Ben",
        "120.5",
        "1980-04-02",
        "H001",
        "Long Road",
        &ana_token,
        &Office::password("carl"),
    ] {
        assert!(
            !log.contains(secret),
            "{secret:?} is in the server log:\n{log}"
        );
    }
}

#[test]
fn bad_input_is_named_with_what_to_do_and_nothing_is_lost() {
    let Some(office) = Office::new() else { return };
    office.add_user("hq", "headquarters", None);
    office.add_user("ana", "enumerator", None);
    let hq = office.token("hq");

    // A sample with the same household twice: both rows named, nothing loaded.
    office.publish(&hq, &example());
    let dup = office.assign(&hq, &[("A1", "H001", "ana"), ("A1", "H001", "ana")]);
    dup.assert_code(1);
    assert!(
        dup.stderr.contains("row 3") && dup.stderr.contains("row 2"),
        "{}",
        dup.stderr
    );
    assert_eq!(office.db.sql("SELECT count(*) FROM assignments"), "0");

    // Not a URL, nothing listening, and plain http off loopback.
    let ana = office.laptop("ana");
    let bad = ana.sync_via("htp:/nowhere");
    bad.assert_code(1);
    assert!(
        bad.stderr.contains("is not a server address"),
        "{}",
        bad.stderr
    );
    let down = ana.sync_via("http://127.0.0.1:9");
    down.assert_code(1);
    assert!(
        down.stderr.contains("cannot reach the server") && down.stderr.contains("nothing was lost"),
        "{}",
        down.stderr
    );
    let plain = ana.sync_via("http://192.0.2.7:8470");
    plain.assert_code(1);
    assert!(plain.stderr.contains("use https"), "{}", plain.stderr);
    // A URL that is not a vicor server (the right host, a wrong path).
    let wrong = ana.sync_via(&format!("{}/not-vicor", office.server.url));
    wrong.assert_code(1);
    assert!(wrong.stderr.contains("404"), "{}", wrong.stderr);

    // A case of an instrument the server does not know: refused whole.
    ana.sync().assert_code(0);
    let other = office.dir.write(
        "other.yaml",
        &std::fs::read_to_string(example())
            .expect("example")
            .replace("version: \"1.0\"", "version: \"9.9\""),
    );
    std::fs::create_dir_all(office.dir.join("modules")).expect("folder");
    for entry in std::fs::read_dir(root().join("instruments/modules")).expect("modules") {
        let path = entry.expect("entry").path();
        std::fs::copy(
            &path,
            office
                .dir
                .join("modules")
                .join(path.file_name().expect("name")),
        )
        .expect("copy");
    }
    run(ana
        .command(&["run", &other.to_string_lossy()])
        .arg("--answers")
        .arg(fixture("answers/example-complete.yaml")))
    .assert_code(0);
    let unknown = ana.sync();
    unknown.assert_code(1);
    assert!(
        unknown
            .stderr
            .contains("version 9.9, unknown to the server")
            && unknown.stderr.contains("vicor publish"),
        "{}",
        unknown.stderr
    );
    assert_eq!(office.db.sql("SELECT count(*) FROM cases"), "0");
    assert_eq!(ana.case_ids().len(), 1, "the laptop keeps the case");
    // Once headquarters publishes it, the same sync goes through.
    office.publish(&hq, &other);
    ana.sync().assert_code(0);
    assert_eq!(office.db.sql("SELECT count(*) FROM cases"), "1");

    // A password in the database URL is refused without echoing it.
    let with_password = office.db.url.replacen("postgres@", "postgres:hunter22@", 1);
    let refused = run(vicor().args(["serve", "--database", &with_password]));
    refused.assert_code(1);
    assert!(
        refused.stderr.contains("PGPASSWORD") && !refused.stderr.contains("hunter22"),
        "{}",
        refused.stderr
    );
    // Plain HTTP on a public address needs --insecure.
    let public = run(vicor().args([
        "serve",
        "--database",
        &office.db.url,
        "--listen",
        "0.0.0.0:0",
    ]));
    public.assert_code(1);
    assert!(public.stderr.contains("--insecure"), "{}", public.stderr);
    // A database migrated by a newer vicor is left alone.
    office
        .db
        .sql("UPDATE vicor_meta SET value = '999' WHERE key = 'schema_version'");
    let newer = Server::try_start(&office.db.url, &[])
        .err()
        .expect("refused");
    assert!(newer.contains("upgrade vicor"), "{newer}");
    let users = run(vicor()
        .args([
            "users",
            "--database",
            &office.db.url,
            "add",
            "x",
            "--role",
            "enumerator",
        ])
        .args(["--password-env", "PW"])
        .env("PW", "a long enough password"));
    users.assert_code(1);
    assert!(users.stderr.contains("upgrade vicor"), "{}", users.stderr);
}

#[test]
fn an_expired_token_says_to_log_in_again() {
    let Some(office) = Office::with_server_args(&["--token-days", "0"]) else {
        return;
    };
    office.add_user("ana", "enumerator", None);
    let ana = office.laptop("ana");
    let expired = ana.sync();
    expired.assert_code(1);
    assert!(
        expired.stderr.contains("expired") && expired.stderr.contains("vicor login"),
        "{}",
        expired.stderr
    );
}

/// A certificate authority and a server certificate for 127.0.0.1, made by
/// openssl; returns (ca.pem, server.pem, server.key).
fn certificates(dir: &Dir) -> (PathBuf, PathBuf, PathBuf) {
    let (ca, ca_key) = (dir.join("ca.pem"), dir.join("ca.key"));
    let (cert, key, csr) = (
        dir.join("server.pem"),
        dir.join("server.key"),
        dir.join("server.csr"),
    );
    let ext = dir.write(
        "server.ext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    );
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let p = |p: &PathBuf| p.to_string_lossy().into_owned();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=vicor test CA",
        "-keyout",
        &p(&ca_key),
        "-out",
        &p(&ca),
    ]);
    openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &p(&key),
        "-out",
        &p(&csr),
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        &p(&csr),
        "-CA",
        &p(&ca),
        "-CAkey",
        &p(&ca_key),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        &p(&ext),
        "-out",
        &p(&cert),
    ]);
    (ca, cert, key)
}

#[test]
fn tls_with_a_certificate_the_laptop_trusts() {
    let Some(admin) = postgres() else { return };
    let dir = Dir::new();
    let (ca, cert, key) = certificates(&dir);
    let db = Database::new(&admin);
    let server = Server::start(
        &db.url,
        &[
            "--tls-cert",
            &cert.to_string_lossy(),
            "--tls-key",
            &key.to_string_lossy(),
        ],
    );
    assert!(server.url.starts_with("https://"), "{}", server.url);
    run(vicor()
        .args([
            "users",
            "--database",
            &db.url,
            "add",
            "ana",
            "--role",
            "enumerator",
        ])
        .args(["--password-env", "PW"])
        .env("PW", Office::password("ana")))
    .assert_code(0);
    let laptop = Laptop {
        db: dir.join("ana.db"),
        name: "ana".into(),
        key: Some(KEY),
    };
    // Without the CA the laptop does not trust the server, and says so.
    let untrusted = laptop.login(&server.url);
    untrusted.assert_code(1);
    assert!(
        untrusted.stderr.contains("cannot reach the server"),
        "{}",
        untrusted.stderr
    );
    assert!(
        untrusted.stderr.to_lowercase().contains("certificate"),
        "{}",
        untrusted.stderr
    );
    let ca = ca.to_string_lossy().into_owned();
    run(laptop
        .command(&[
            "login",
            "--server",
            &server.url,
            "--user",
            "ana",
            "--ca-cert",
            &ca,
        ])
        .args(["--password-env", "PW"])
        .env("PW", Office::password("ana")))
    .assert_code(0);
    let synced = run(&mut laptop.command(&["sync", "--ca-cert", &ca]));
    synced.assert_code(0);
    assert!(synced.stdout.contains("0 assignments"), "{}", synced.stdout);
    // Plain HTTP to the TLS port is not answered with data.
    let plain = laptop.sync_via(&server.url.replace("https://", "http://"));
    plain.assert_code(1);
}

/// A copy of a case under a new id, as if another household had answered
/// the same: a fresh case to push without interviewing again.
fn clone_case(copy: &CaseCopy) -> CaseCopy {
    let uuid = uuid::Uuid::new_v4().to_string();
    let mut clone = copy.clone();
    clone.uuid = uuid.clone();
    for row in clone.tables.iter_mut().flatten() {
        row[0] = Cell::Text(uuid.clone());
    }
    clone
}

/// A laptop (unencrypted, to keep each run short) with one real interview
/// of the example, and a server that knows the instrument.
fn fault_office() -> Option<(Office, Laptop, CaseCopy)> {
    let office = Office::new()?;
    office.add_user("hq", "headquarters", None);
    office.add_user("ana", "enumerator", None);
    let hq = office.token("hq");
    office.publish(&hq, &example());
    let ana = Laptop {
        db: office.dir.join("ana.db"),
        name: "ana".into(),
        key: None,
    };
    ana.login(&office.server.url).assert_code(0);
    run(ana
        .command(&["run", &example().to_string_lossy()])
        .arg("--answers")
        .arg(fixture("answers/example-complete.yaml")))
    .assert_code(0);
    let interview = ana.store().case_copies(None).expect("copies").remove(0);
    Some((office, ana, interview))
}

fn add_clones(laptop: &Laptop, interview: &CaseCopy, n: usize) {
    let clones: Vec<CaseCopy> = (0..n).map(|_| clone_case(interview)).collect();
    laptop
        .store()
        .insert_copies(&clones)
        .expect("clones stored");
}

/// Every case of the laptop is on the server exactly once, row for row.
fn assert_all_on_server(office: &Office, laptop: &Laptop) {
    let hq = office.token("hq");
    let copies = office.client(&hq).all_cases().expect("all cases");
    let uuids: BTreeSet<&str> = copies.iter().map(|c| c.uuid.as_str()).collect();
    assert_eq!(uuids.len(), copies.len(), "a case is on the server twice");
    assert_eq!(digests(&copies), laptop.digests());
    let answers: usize = laptop
        .store()
        .case_copies(None)
        .expect("copies")
        .iter()
        .map(|c| c.tables[1].len())
        .sum();
    assert_eq!(
        office.db.sql("SELECT count(*) FROM answers"),
        answers.to_string()
    );
    assert_eq!(
        office
            .db
            .sql("SELECT count(*) FROM (SELECT DISTINCT case_uuid, path FROM answers) a"),
        answers.to_string()
    );
    assert_eq!(office.db.sql("SELECT count(*) FROM conflicts"), "0");
}

/// A loopback TCP proxy that forwards both ways and, with a budget, cuts
/// every connection once that many bytes (both ways together) have passed.
struct CutProxy {
    addr: SocketAddr,
    passed: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl CutProxy {
    fn start(target: SocketAddr, budget: Option<usize>) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let addr = listener.local_addr().expect("address");
        let passed = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (Arc::clone(&passed), Arc::clone(&stop));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                for (from, to) in [(&client, &server), (&server, &client)] {
                    let ends = [
                        from.try_clone().expect("clone"),
                        to.try_clone().expect("clone"),
                    ];
                    let p = Arc::clone(&p);
                    std::thread::spawn(move || pump(ends, &p, budget));
                }
            }
        });
        CutProxy { addr, passed, stop }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn pump([mut from, mut to]: [TcpStream; 2], passed: &AtomicUsize, budget: Option<usize>) {
    let mut buf = [0u8; 4096];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let before = passed.fetch_add(n, Ordering::SeqCst);
        let allowed = budget.map_or(n, |b| n.min(b.saturating_sub(before)));
        if to.write_all(&buf[..allowed]).is_err() || allowed < n {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

#[test]
fn a_sync_cut_at_100_random_bytes_loses_and_doubles_nothing() {
    let Some((office, ana, interview)) = fault_office() else {
        return;
    };
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    // The bytes of one whole sync, from a sync that is never cut.
    let whole = CutProxy::start(office.server.addr(), None);
    ana.sync_via(&whole.url()).assert_code(0);
    let mut total = whole.passed.load(Ordering::SeqCst);
    let mut cut_short = 0;
    for _ in 0..100 {
        add_clones(&ana, &interview, 2);
        let cut = CutProxy::start(office.server.addr(), Some(rng.random_range(0..total)));
        let broken = ana.sync_via(&cut.url());
        if broken.code != 0 {
            cut_short += 1;
            assert_eq!(broken.code, 1, "{}", broken.stderr);
            assert!(
                broken.stderr.contains("nothing was lost")
                    || broken.stderr.contains("could not be read"),
                "{}",
                broken.stderr
            );
        }
        // Running it again finishes the job; its size bounds the next cut.
        let whole = CutProxy::start(office.server.addr(), None);
        ana.sync_via(&whole.url()).assert_code(0);
        total = whole.passed.load(Ordering::SeqCst).max(1);
    }
    assert!(cut_short > 50, "only {cut_short} of 100 syncs were cut");
    assert_all_on_server(&office, &ana);
    let idle = ana.sync_via(&office.server.url);
    assert!(idle.stdout.contains("pushed 0 cases"), "{}", idle.stdout);
}

#[test]
fn a_server_killed_at_50_points_of_a_push_loses_and_doubles_nothing() {
    let Some((mut office, ana, interview)) = fault_office() else {
        return;
    };
    let mut rng = ChaCha8Rng::seed_from_u64(23);
    ana.sync_via(&office.server.url).assert_code(0);
    let mut took = Duration::from_millis(200);
    let mut killed_mid_sync = 0;
    for _ in 0..50 {
        add_clones(&ana, &interview, 30);
        let mut sync = ana
            .command(&["sync", "--server", &office.server.url])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sync starts");
        let delay = took.mul_f64(rng.random_range(0.0..1.0));
        std::thread::sleep(delay);
        office.server.kill();
        let status = sync.wait().expect("sync ends");
        if !status.success() {
            killed_mid_sync += 1;
            assert_eq!(status.code(), Some(1));
        }
        office.server = Server::start(&office.db.url, &[]);
        let start = Instant::now();
        ana.sync_via(&office.server.url).assert_code(0);
        took = start.elapsed();
    }
    assert!(
        killed_mid_sync > 25,
        "only {killed_mid_sync} of 50 syncs were cut"
    );
    assert_all_on_server(&office, &ana);
}
