//! `vicor merge`: the command line over `store::merge`, with the key read
//! from an environment variable and the exit status set by conflicts.

use std::path::Path;

use vicor::store::{CaseId, Change, EventTime, NewCase, Store, StoredAnswer};

use crate::util::{Dir, run, vicor};

const KEY: &str = "a shared team passphrase";

fn at(second: i64) -> EventTime {
    EventTime {
        utc: jiff::Timestamp::from_second(1_750_000_000 + second).expect("a valid time"),
        monotonic_ns: 1_000 * u64::try_from(second).expect("positive"),
    }
}

/// A store at `path` with one case answered `q1 = value`.
fn store_with_case(path: &Path, key: Option<&str>, value: i64) -> CaseId {
    let mut store = Store::open(path, key).expect("store opens");
    let id = store
        .create_case(&NewCase {
            instrument_id: "victimization".to_string(),
            instrument_version: "1".to_string(),
            instrument_hash: "h".to_string(),
            enumerator: "e1".to_string(),
            created_utc: at(0).utc,
        })
        .expect("case");
    store
        .record(
            &id,
            &Change::answer("q1", StoredAnswer::Int(value), "e1", at(1)),
        )
        .expect("answer");
    id
}

fn case_ids(path: &Path, key: Option<&str>) -> Vec<CaseId> {
    let mut ids: Vec<CaseId> = Store::open_read_only(path, key)
        .expect("merged store opens")
        .cases()
        .expect("cases")
        .into_iter()
        .map(|c| c.id)
        .collect();
    ids.sort();
    ids
}

#[test]
fn merge_of_encrypted_stores_reads_the_key_from_the_environment() {
    let dir = Dir::new();
    let a = dir.join("e1.db");
    let b = dir.join("e2.db");
    let mut want = vec![
        store_with_case(&a, Some(KEY), 1),
        store_with_case(&b, Some(KEY), 2),
    ];
    want.sort();
    let out = dir.join("all.db");
    let result = run(vicor()
        .env("VICOR_TEST_KEY", KEY)
        .args(["merge", "--key-env", "VICOR_TEST_KEY", "--out"])
        .arg(&out)
        .arg(&a)
        .arg(&b));
    result.assert_code(0);
    assert!(result.stdout.contains("wrote 2 cases"), "{}", result.stdout);
    assert_eq!(case_ids(&out, Some(KEY)), want);

    // The same merge again changes nothing.
    let again = run(vicor()
        .env("VICOR_TEST_KEY", KEY)
        .args(["merge", "--key-env=VICOR_TEST_KEY", "--out"])
        .arg(&out)
        .arg(&a)
        .arg(&b));
    again.assert_code(0);
    assert!(again.stdout.contains("wrote 2 cases"), "{}", again.stdout);
    assert_eq!(case_ids(&out, Some(KEY)), want);
}

#[test]
fn merge_without_the_key_variable_says_what_to_set() {
    let dir = Dir::new();
    let a = dir.join("e1.db");
    store_with_case(&a, Some(KEY), 1);
    let out = dir.join("all.db");
    let result = run(vicor()
        .env_remove("VICOR_TEST_MISSING")
        .args(["merge", "--key-env", "VICOR_TEST_MISSING", "--out"])
        .arg(&out)
        .arg(&a));
    result.assert_code(1);
    assert!(
        result.stderr.contains("VICOR_TEST_MISSING is not set"),
        "{}",
        result.stderr
    );

    let no_key = run(vicor().args(["merge", "--out"]).arg(&out).arg(&a));
    no_key.assert_code(1);
    assert!(no_key.stderr.contains("encrypted"), "{}", no_key.stderr);
    assert!(!out.exists());
}

#[test]
fn merge_conflict_exits_1_and_names_the_case() {
    let dir = Dir::new();
    let a = dir.join("e1.db");
    let id = store_with_case(&a, None, 1);
    let b = dir.join("e1-copy.db");
    std::fs::copy(&a, &b).expect("copy");
    Store::open(&b, None)
        .expect("open")
        .record(
            &id,
            &Change::answer("q1", StoredAnswer::Int(2), "e1", at(5)),
        )
        .expect("diverge");
    let out = dir.join("all.db");
    let result = run(vicor().args(["merge", "--out"]).arg(&out).arg(&a).arg(&b));
    result.assert_code(1);
    assert!(
        result.stdout.contains(&format!("conflict: case {id}")),
        "{}",
        result.stdout
    );
    assert!(
        result.stdout.contains("answers differ at q1"),
        "{}",
        result.stdout
    );
    assert!(
        result.stderr.contains("1 conflicting cases"),
        "{}",
        result.stderr
    );
    assert!(case_ids(&out, None).is_empty());
}

#[test]
fn merge_of_a_file_that_is_not_a_store_leaves_nothing_behind() {
    let dir = Dir::new();
    let a = dir.join("e1.db");
    store_with_case(&a, None, 1);
    let junk = dir.write("junk.db", "name,age\nA,3\n");
    let out = dir.join("all.db");
    let result = run(vicor()
        .args(["merge", "--out"])
        .arg(&out)
        .arg(&a)
        .arg(&junk));
    result.assert_code(1);
    assert!(result.stderr.contains("junk.db"), "{}", result.stderr);
    // Neither the output nor its temporary file is left (SQLite may leave
    // the input's empty -wal/-shm after a read-only open).
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("all.db"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
