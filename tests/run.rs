//! `vicor run` and `vicor cases` through the real binary: scripted
//! interviews, bad answers files, encryption, and the crash test that kills
//! the binary at hundreds of points and proves nothing committed is lost.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use vicor::interview::{Interview, ItemPath};
use vicor::store::Store;
use vicor::store::session::{CaseSession, from_stored};

use crate::util::{Dir, fixture, root, run, vicor};

fn example() -> std::path::PathBuf {
    root().join("instruments/example.yaml")
}

fn instrument() -> vicor::instrument::Instrument {
    vicor::instrument::validate(&example())
        .instrument
        .expect("example loads")
}

fn only_case(db: &Path, key: Option<&str>) -> vicor::store::CaseId {
    let store = Store::open(db, key).expect("store opens");
    let cases = store.cases().expect("cases");
    assert_eq!(cases.len(), 1, "{cases:?}");
    cases[0].id
}

#[test]
fn a_complete_script_is_stored_completed() {
    let dir = Dir::new();
    let db = dir.join("cases.db");
    let out = run(vicor()
        .arg("run")
        .arg(example())
        .arg("--answers")
        .arg(fixture("answers/example-complete.yaml"))
        .arg("--db")
        .arg(&db));
    out.assert_code(0);
    assert!(out.stdout.contains(": completed"), "{}", out.stdout);
    let listed = run(vicor().arg("cases").arg("--db").arg(&db));
    listed.assert_code(0);
    assert!(
        listed.stdout.contains("completed    complete"),
        "{}",
        listed.stdout
    );
    let id = only_case(&db, None);
    let store = Store::open(&db, None).expect("open");
    let record = store.case(&id).expect("case");
    assert_eq!(
        record.answers.get("members[2].name").map(from_stored),
        Some(vicor::interview::Answer::Text("Ben".into()))
    );
    // The Kish draw is an event with its seed and the number eligible.
    let events = store.events(&id).expect("events");
    assert!(events.iter().any(|e| {
        e.detail
            .as_deref()
            .is_some_and(|d| d.contains("eligible=2; seed="))
    }));
}

#[test]
fn a_refusal_at_the_door_is_stored_as_refused() {
    let dir = Dir::new();
    let db = dir.join("cases.db");
    let out = run(vicor()
        .arg("run")
        .arg(root().join("instruments/victimization.yaml"))
        .arg("--answers")
        .arg(fixture("instruments/refusal.yaml"))
        .arg("--db")
        .arg(&db));
    out.assert_code(0);
    let listed = run(vicor().arg("cases").arg("--db").arg(&db));
    listed.assert_code(0);
    assert!(
        listed.stdout.contains("completed    refused"),
        "{}",
        listed.stdout
    );
    let store = Store::open(&db, None).expect("open");
    let id = only_case(&db, None);
    let complete = store
        .events(&id)
        .expect("events")
        .into_iter()
        .find(|e| e.kind == vicor::store::EventKind::Complete)
        .expect("a complete event");
    assert_eq!(complete.detail.as_deref(), Some("refused"));
}

#[test]
fn a_short_script_leaves_the_case_partial_and_names_the_item() {
    let dir = Dir::new();
    let db = dir.join("cases.db");
    let answers = dir.write(
        "a.yaml",
        "consent: 1\nhh_size: 2\nmembers:\n  - {name: Ana}\n",
    );
    let out = run(vicor()
        .arg("run")
        .arg(example())
        .arg("--answers")
        .arg(&answers)
        .arg("--db")
        .arg(&db));
    out.assert_code(0);
    assert!(
        out.stdout.contains("partial; stopped at members[1].sex"),
        "{}",
        out.stdout
    );
    // Continuing the same case with more answers completes it.
    let id = only_case(&db, None);
    let full = fixture("answers/example-complete.yaml");
    let out = run(vicor()
        .arg("run")
        .arg(example())
        .arg("--answers")
        .arg(&full)
        .arg("--db")
        .arg(&db)
        .arg("--case")
        .arg(id.to_string()));
    assert!(
        out.stdout.contains(": completed"),
        "{}{}",
        out.stdout,
        out.stderr
    );
}

#[test]
fn bad_answers_files_store_nothing() {
    let dir = Dir::new();
    let db = dir.join("cases.db");
    let cases: &[(&str, &str)] = &[
        (
            "consent: 1\nhh_sise: 2\n",
            "2:1: error: unknown item `hh_sise`",
        ),
        (
            "consent: 1\nhh_size: two\n",
            "2:10: error: `hh_size` is a integer item; a string is not an answer to it",
        ),
        (
            "consent: 1\nhh_size: 2\nmembers:\n  - {birth_date: 1980-13-01}\n",
            "4:18: error: `birth_date` needs a date as YYYY-MM-DD",
        ),
        (
            "consent: 1\nhh_size: 40\n",
            "the answer to hh_size was refused: the answer must be at most 30; nothing was stored",
        ),
        (
            "consent: 1\nhh_size: 1\nmembers:\n  - {name: A, sex: 7}\n",
            "the answer to members[1].sex was refused: 7 is not one of the options",
        ),
    ];
    for (text, want) in cases {
        let answers = dir.write("bad.yaml", text);
        let out = run(vicor()
            .arg("run")
            .arg(example())
            .arg("--answers")
            .arg(&answers)
            .arg("--db")
            .arg(&db));
        assert_eq!(out.code, 1, "{text}: {}", out.stderr);
        assert!(
            out.stderr.contains(want),
            "{text}: wanted {want}\n{}",
            out.stderr
        );
    }
    if db.exists() {
        let store = Store::open(&db, None).expect("open");
        assert!(
            store.cases().expect("cases").is_empty(),
            "a refused script left a case behind"
        );
    }
}

#[test]
fn an_encrypted_store_holds_no_answer_text() {
    let dir = Dir::new();
    let db = dir.join("secret.db");
    let answers = dir.write(
        "a.yaml",
        "consent: 1\nhh_size: 1\nmembers:\n  - {name: Zebulonia, sex: 2, birth_date: 1970-01-01}\n",
    );
    let out = run(vicor()
        .env("FIELD_KEY", "correct horse battery staple")
        .args(["run", "--key-env", "FIELD_KEY", "--answers"])
        .arg(&answers)
        .arg("--db")
        .arg(&db)
        .arg(example()));
    out.assert_code(0);
    for file in [db.clone(), dir.join("secret.db-wal")] {
        if let Ok(bytes) = std::fs::read(&file) {
            assert!(
                !bytes.windows(9).any(|w| w == b"Zebulonia"),
                "{} holds the answer in clear",
                file.display()
            );
        }
    }
    let no_key = run(vicor().arg("cases").arg("--db").arg(&db));
    no_key.assert_code(1);
    let wrong = run(vicor()
        .env("K", "wrong")
        .args(["cases", "--key-env", "K", "--db"])
        .arg(&db));
    wrong.assert_code(1);
    assert!(!wrong.stderr.contains("panicked"), "{}", wrong.stderr);
    let right = run(vicor()
        .env("K", "correct horse battery staple")
        .args(["cases", "--key-env", "K", "--db"])
        .arg(&db));
    right.assert_code(0);
}

/// A long interview: twelve members (the size warning fires and is
/// confirmed), so there are many commits to interrupt.
fn long_script() -> String {
    let mut text = String::from("consent: 1\nhh_size: 12\nmembers:\n");
    for i in 0..12 {
        text.push_str(&format!(
            "  - {{name: P{i}, sex: {}, birth_date: 19{:02}-0{}-1{}}}\n",
            1 + i % 2,
            50 + i * 3,
            1 + i % 9,
            i % 9
        ));
    }
    text.push_str("vehicles: [1, 2, 3]\nvehicle_thefts:\n  1: {stolen: 2}\n  2: {stolen: 1, theft_count: 2, loss: 300}\n  3: {stolen: 2}\n");
    text.push_str(
        "official_types:\n  - {contact: 2}\n  - {contact: 2}\n  - {contact: 2}\nharassed: 2\n",
    );
    text
}

/// A `--progress` line: `saved PATH = VALUE`.
fn saved_line(line: &str) -> Option<(String, String)> {
    let rest = line.trim_end().strip_prefix("saved ")?;
    let (p, v) = rest.split_once(" = ")?;
    Some((p.to_string(), v.to_string()))
}

#[test]
fn killed_at_any_point_nothing_committed_is_lost() {
    let dir = Dir::new();
    let answers = dir.write("long.yaml", &long_script());
    let instrument = instrument();
    let script =
        vicor::interview::script::Script::parse(&instrument, &long_script()).expect("script");
    let bin = env!("CARGO_BIN_EXE_vicor");
    let runs = 200;
    let mut killed_inside = 0;
    for i in 0..runs {
        let db = dir.join(&format!("crash{i}.db"));
        let mut child = Command::new(bin)
            .args(["run", "--progress", "--answers"])
            .arg(&answers)
            .arg("--db")
            .arg(&db)
            .arg(example())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("vicor starts");
        // Read k committed answers, wait a little (often landing inside the
        // next commit), then SIGKILL.
        let k = i % 30;
        let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
        let mut committed: Vec<(String, String)> = Vec::new();
        let mut line = String::new();
        while committed.len() < k {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            committed.extend(saved_line(&line));
        }
        std::thread::sleep(Duration::from_micros(((i * 373) % 2500) as u64));
        let _ = child.kill();
        let _ = child.wait();
        // Lines the child wrote before it died were committed too.
        let mut rest = String::new();
        while reader.read_line(&mut rest).unwrap_or(0) > 0 {
            committed.extend(saved_line(&rest));
            rest.clear();
        }
        if !db.exists() {
            assert!(
                committed.is_empty(),
                "answers reported saved without a store"
            );
            continue;
        }
        let mut store = Store::open(&db, None).expect("the store reopens after SIGKILL");
        assert_eq!(
            store.integrity_check().expect("integrity check runs"),
            Vec::<String>::new()
        );
        let cases = store.cases().expect("cases");
        if cases.is_empty() {
            assert!(committed.is_empty());
            continue;
        }
        let id = cases[0].id;
        let record = store.case(&id).expect("case");
        for (path, value) in &committed {
            let stored = record.answers.get(path).map(|a| from_stored(a).to_string());
            assert_eq!(
                stored.as_deref(),
                Some(value.as_str()),
                "run {i}: {path} was reported saved"
            );
        }
        if record.answers.len() > committed.len() {
            killed_inside += 1;
        }
        // The case resumes where it was left, and nothing before that
        // point is unanswered.
        let resume = record.summary.resume.as_deref().and_then(ItemPath::parse);
        let session = CaseSession {
            store: &mut store,
            instrument: &instrument,
            enumerator: "t".into(),
        };
        let restored = session.open(&id).expect("case opens");
        let engine = Interview::new(&instrument, restored.today, restored.seed, restored.saved);
        if let Some(resume) = &resume {
            assert_eq!(
                engine.current(),
                Some(resume),
                "run {i}: resumes at the wrong item"
            );
            let at = |p: &ItemPath| engine.path().iter().position(|x| &x.path == p);
            if let Some(gap) = engine.first_unanswered() {
                assert!(
                    at(&gap) >= at(resume),
                    "run {i}: {gap} is unanswered before {resume}"
                );
            }
        }
        // And the answers stored are the script's.
        for (path, answer) in &record.answers {
            let p = ItemPath::parse(path).expect("stored paths parse");
            if let Some(want) = script.answers.get(&p) {
                let got = from_stored(answer);
                let same = got == *want
                    || matches!(
                        (&got, want),
                        (
                            vicor::interview::Answer::Codes(_),
                            vicor::interview::Answer::Codes(_)
                        )
                    );
                assert!(
                    same,
                    "run {i}: {path} holds {got:?}, the script says {want:?}"
                );
            }
        }
    }
    eprintln!("{runs} kills; {killed_inside} landed after a commit the parent had not yet read");
}

#[test]
fn an_answer_that_differs_from_the_saved_one_corrects_the_case() {
    let dir = Dir::new();
    let db = dir.join("cases.db");
    run(vicor()
        .arg("run")
        .arg(example())
        .arg("--answers")
        .arg(fixture("answers/example-complete.yaml"))
        .arg("--db")
        .arg(&db))
    .assert_code(0);
    let id = only_case(&db, None);
    // The supervisor sent it back: the loss is re-asked and is 150.
    let corrected = dir.write(
        "corrected.yaml",
        &std::fs::read_to_string(fixture("answers/example-complete.yaml"))
            .expect("fixture")
            .replace("loss: 120.5", "loss: 150"),
    );
    let out = run(vicor()
        .arg("run")
        .arg(example())
        .arg("--answers")
        .arg(&corrected)
        .arg("--db")
        .arg(&db)
        .arg("--case")
        .arg(id.to_string()));
    out.assert_code(0);
    assert!(out.stdout.contains(": completed"), "{}", out.stdout);
    let store = Store::open(&db, None).expect("open");
    let record = store.case(&id).expect("case");
    assert_eq!(
        record
            .answers
            .get("vehicle_thefts[3].loss")
            .map(from_stored),
        Some(vicor::interview::Answer::Decimal(150.0))
    );
    // Every other answer is as it was, and the change is an event.
    assert_eq!(
        record.answers.get("members[2].name").map(from_stored),
        Some(vicor::interview::Answer::Text("Ben".into()))
    );
    let events = store.events(&id).expect("events");
    assert!(
        events
            .iter()
            .any(|e| e.path.as_deref() == Some("vehicle_thefts[3].loss")
                && e.old.as_ref().map(from_stored)
                    == Some(vicor::interview::Answer::Decimal(120.5))
                && e.new.as_ref().map(from_stored)
                    == Some(vicor::interview::Answer::Decimal(150.0))),
        "{events:?}"
    );
}
