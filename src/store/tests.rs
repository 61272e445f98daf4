//! Tests of the store: round trips, durability settings, encryption, every
//! refusal of bad input (each leaving the file as it was), migrations, and
//! merge.

use std::os::unix::fs::PermissionsExt;

use super::*;

const KEY: &str = "correct horse battery staple";
const SECRET: &str = "SECRET-ANSWER-the-mayor-took-a-bribe";

fn at(second: i64) -> EventTime {
    EventTime {
        utc: Timestamp::from_second(1_750_000_000 + second).expect("a valid time"),
        monotonic_ns: u64::try_from(second).expect("test seconds are positive") * 1_000_000_000,
    }
}

fn new_case(enumerator: &str) -> NewCase {
    NewCase {
        instrument_id: "victimization".to_string(),
        instrument_version: "1.0".to_string(),
        instrument_hash: "h1".to_string(),
        enumerator: enumerator.to_string(),
        created_utc: at(0).utc,
    }
}

fn stamp(version: &str, hash: &str) -> InstrumentStamp {
    InstrumentStamp {
        id: "victimization".to_string(),
        version: version.to_string(),
        hash: hash.to_string(),
    }
}

fn quick(read_only: bool) -> StoreOptions {
    StoreOptions {
        busy_timeout: Duration::from_millis(50),
        read_only,
        replayer: None,
    }
}

/// A store with one case holding a few answers.
fn filled(path: &Path, key: Option<&str>) -> (Store, CaseId) {
    let mut store = Store::open(path, key).expect("a new store opens");
    let id = store.create_case(&new_case("e1")).expect("case");
    store
        .record(
            &id,
            &Change::answer("q1", StoredAnswer::Int(3), "e1", at(1)),
        )
        .expect("q1");
    store
        .record(
            &id,
            &Change::answer("q2", StoredAnswer::Text(SECRET.to_string()), "e1", at(2))
                .with_resume("q3"),
        )
        .expect("q2");
    (store, id)
}

/// The store at `path` as plain SQLite, keyed as vicor keys new stores.
fn raw(path: &Path, key: Option<&str>) -> Connection {
    let conn = Connection::open(path).expect("raw sqlite");
    if let Some(key) = key {
        Cipher::Current.apply(&conn, key).expect("key");
    }
    conn
}

/// Writes a case row as an older vicor's schema has it.
fn old_case(tx: &rusqlite::Transaction<'_>, id: &CaseId, status: &str) {
    tx.execute(
        "INSERT INTO cases (uuid, instrument_id, instrument_version, instrument_hash,
                            enumerator, status, created_utc, modified_utc)
         VALUES (?1, 'victimization', '1.0', 'h1', 'e1', ?2, ?3, ?3)",
        params![id.key(), status, at(0).utc.to_string()],
    )
    .expect("case");
}

/// As [`raw`], with SQLCipher's own defaults: a store as vicor made them
/// before it chose its cipher settings.
fn raw_before_cipher_settings(path: &Path, key: &str) -> Connection {
    let conn = Connection::open(path).expect("raw sqlite");
    conn.pragma_update(None, "key", key).expect("key");
    conn
}

fn bytes(path: &Path) -> Vec<u8> {
    fs::read(path).expect("file readable")
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn companion(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

#[test]
fn answers_of_every_type_round_trip_with_their_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    let mut store = Store::open(&path, None).expect("open");
    let id = store.create_case(&new_case("e1")).expect("case");
    assert_eq!(
        store.case(&id).expect("case").summary.status,
        CaseStatus::New
    );
    let date: jiff::civil::Date = "2025-03-01".parse().expect("date");
    let values = [
        ("a", StoredAnswer::Int(-7)),
        ("b", StoredAnswer::Decimal(2.5e-3)),
        ("c", StoredAnswer::Text("é, ü: 'quotes'".to_string())),
        ("members[2].born", StoredAnswer::Date(date)),
        ("e", StoredAnswer::Codes(vec![4, 1])),
        ("f", StoredAnswer::DontKnow),
        ("g", StoredAnswer::Refused),
    ];
    for (i, (path, value)) in values.iter().enumerate() {
        let change = Change::answer(path, value.clone(), "e1", at(i as i64 + 1)).with_resume(path);
        store.record(&id, &change).expect("record");
    }
    store
        .record(
            &id,
            &Change::answer("a", StoredAnswer::Int(8), "e2", at(20)),
        )
        .expect("change a");
    store
        .record(&id, &Change::clear("g", "e2", at(21)))
        .expect("clear g");

    let record = store.case(&id).expect("case");
    assert_eq!(record.summary.status, CaseStatus::InProgress);
    assert_eq!(record.summary.resume.as_deref(), Some("g"));
    assert_eq!(record.summary.modified_utc, at(21).utc);
    assert_eq!(record.answers.len(), values.len() - 1);
    assert_eq!(record.answers["a"], StoredAnswer::Int(8));
    for (path, value) in &values[1..6] {
        assert_eq!(&record.answers[*path], value, "{path}");
    }
    assert!(!record.answers.contains_key("g"));

    let events = store.events(&id).expect("events");
    assert_eq!(events.len(), values.len() + 2);
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=events.len() as i64).collect::<Vec<_>>()
    );
    let change_a = &events[values.len()];
    assert_eq!(change_a.kind, EventKind::Answer);
    assert_eq!(change_a.old, Some(StoredAnswer::Int(-7)));
    assert_eq!(change_a.new, Some(StoredAnswer::Int(8)));
    assert_eq!(change_a.enumerator, "e2");
    assert_eq!(change_a.at, at(20));
    let clear_g = &events[values.len() + 1];
    assert_eq!(clear_g.kind, EventKind::Clear);
    assert_eq!(clear_g.old, Some(StoredAnswer::Refused));
    assert_eq!(clear_g.new, None);
}

#[test]
fn record_is_committed_when_it_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    let (_store, id) = filled(&path, None);
    // Another connection, as a crash-restarted process would be, sees it.
    let other = Store::open(&path, None).expect("second connection");
    let record = other.case(&id).expect("case");
    assert_eq!(record.answers["q1"], StoredAnswer::Int(3));
    assert_eq!(record.summary.resume.as_deref(), Some("q3"));
    assert_eq!(other.events(&id).expect("events").len(), 2);
}

#[test]
fn connection_uses_wal_full_sync_and_foreign_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("s.db"), None).expect("open");
    let get = |name: &str| -> String {
        store
            .conn
            .pragma_query_value(None, name, |r| r.get::<_, Value>(0))
            .map(|v| match v {
                Value::Integer(i) => i.to_string(),
                Value::Text(t) => t,
                other => format!("{other:?}"),
            })
            .expect("pragma")
    };
    assert_eq!(get("journal_mode"), "wal");
    assert_eq!(get("synchronous"), "2", "FULL is 2");
    assert_eq!(get("foreign_keys"), "1");
    assert_eq!(store.schema_version(), SCHEMA_VERSION);
}

#[test]
fn store_files_are_private_to_their_owner() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    let (_store, _) = filled(&path, Some(KEY));
    for file in [
        path.clone(),
        companion(&path, "-wal"),
        companion(&path, "-shm"),
    ] {
        let mode = fs::metadata(&file)
            .expect("file exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{}", file.display());
    }
}

#[test]
fn encrypted_store_holds_no_answer_text_in_file_or_wal() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The control: without a key the answer is plainly in the WAL.
    let plain = dir.path().join("plain.db");
    let (plain_store, _) = filled(&plain, None);
    assert!(contains(&bytes(&companion(&plain, "-wal")), SECRET));
    drop(plain_store);
    assert!(contains(&bytes(&plain), SECRET));

    let path = dir.path().join("secret.db");
    let (store, id) = filled(&path, Some(KEY));
    let wal = companion(&path, "-wal");
    assert!(fs::metadata(&wal).expect("wal exists").len() > 0);
    for file in [&path, &wal] {
        let b = bytes(file);
        assert!(!contains(&b, SECRET), "{}", file.display());
        assert!(!contains(&b, "victimization"), "{}", file.display());
        assert!(!contains(&b, "SQLite format 3"), "{}", file.display());
    }
    drop(store);
    assert!(!contains(&bytes(&path), SECRET));

    let store = Store::open(&path, Some(KEY)).expect("reopens with the key");
    assert_eq!(
        store.case(&id).expect("case").answers["q2"],
        StoredAnswer::Text(SECRET.to_string())
    );
}

#[test]
fn wrong_or_missing_key_is_refused_and_leaves_the_file_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    drop(filled(&path, Some(KEY)));
    let before = bytes(&path);
    assert!(matches!(
        Store::open(&path, Some("wrong")),
        Err(StoreError::WrongKey { .. })
    ));
    assert!(matches!(
        Store::open(&path, None),
        Err(StoreError::MissingKey { .. })
    ));
    assert!(matches!(
        Store::open_read_only(&path, Some("wrong")),
        Err(StoreError::WrongKey { .. })
    ));
    assert!(matches!(
        Store::open(&path, Some("")),
        Err(StoreError::EmptyKey)
    ));
    assert!(bytes(&path) == before, "the store file changed");
    let message = Store::open(&path, Some("wrong"))
        .expect_err("refused")
        .to_string();
    assert!(
        message.starts_with("the key does not open this store"),
        "{message}"
    );
}

#[test]
fn key_for_an_unencrypted_store_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    drop(filled(&path, None));
    let before = bytes(&path);
    assert!(matches!(
        Store::open(&path, Some(KEY)),
        Err(StoreError::NotEncrypted { .. })
    ));
    assert!(bytes(&path) == before, "the store file changed");
}

#[test]
fn store_from_a_newer_vicor_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    drop(filled(&path, Some(KEY)));
    raw(&path, Some(KEY))
        .execute(
            "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
            [(SCHEMA_VERSION + 1).to_string()],
        )
        .expect("bump the version");
    let before = bytes(&path);
    for result in [
        Store::open(&path, Some(KEY)),
        Store::open_read_only(&path, Some(KEY)),
    ] {
        match result {
            Err(StoreError::NewerSchema {
                found, supported, ..
            }) => {
                assert_eq!(found, SCHEMA_VERSION + 1);
                assert_eq!(supported, SCHEMA_VERSION);
            }
            Err(other) => panic!("wrong error: {other}"),
            Ok(_) => panic!("a newer store opened"),
        }
    }
    assert!(bytes(&path) == before, "the store file changed");
}

#[test]
fn read_only_file_is_reported_and_still_readable_read_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    let id = filled(&path, None).1;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).expect("chmod");
    let before = bytes(&path);
    let err = Store::open(&path, None).expect_err("refused");
    assert!(matches!(err, StoreError::ReadOnly { .. }), "{err}");
    assert!(err.to_string().contains("read-only"));
    let store = Store::open_read_only(&path, None).expect("read-only open");
    assert_eq!(store.case(&id).expect("case").answers.len(), 2);
    assert!(bytes(&path) == before, "the store file changed");
}

#[test]
fn locked_store_is_reported_and_nothing_is_half_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    let (mut store, id) = filled(&path, Some(KEY));
    let other = raw(&path, Some(KEY));
    other
        .execute_batch("BEGIN EXCLUSIVE")
        .expect("the other program locks");

    let err = Store::open_with(&path, Some(KEY), &quick(false)).expect_err("open refused");
    assert!(matches!(err, StoreError::Locked { .. }), "{err}");
    assert!(err.to_string().contains("locked by another program"));

    store
        .conn
        .busy_timeout(Duration::from_millis(50))
        .expect("short wait");
    let err = store
        .record(
            &id,
            &Change::answer("q9", StoredAnswer::Int(1), "e1", at(9)),
        )
        .expect_err("record refused");
    assert!(matches!(err, StoreError::Locked { .. }), "{err}");

    other.execute_batch("ROLLBACK").expect("unlock");
    assert!(!store.case(&id).expect("case").answers.contains_key("q9"));
    assert_eq!(store.events(&id).expect("events").len(), 2);
    store
        .record(
            &id,
            &Change::answer("q9", StoredAnswer::Int(1), "e1", at(9)),
        )
        .expect("works once unlocked");
}

#[test]
fn full_disk_is_reported_and_the_move_is_not_half_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    let (mut store, id) = filled(&path, None);
    // A page limit stands in for a full disk: SQLite answers SQLITE_FULL.
    let pages: i64 = store
        .conn
        .pragma_query_value(None, "page_count", |r| r.get(0))
        .expect("page count");
    store
        .conn
        .pragma_update(None, "max_page_count", pages)
        .expect("limit");
    let big = StoredAnswer::Text("x".repeat(64 * 1024));
    let before = store.case(&id).expect("case");
    let err = store
        .record(
            &id,
            &Change::answer("q1", big, "e1", at(5)).with_resume("end"),
        )
        .expect_err("refused");
    assert!(matches!(err, StoreError::DiskFull { .. }), "{err}");
    assert!(err.to_string().contains("full"));
    assert_eq!(store.case(&id).expect("case"), before);
    assert_eq!(store.events(&id).expect("events").len(), 2);
}

#[test]
fn foreign_and_garbage_files_are_refused_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let foreign = dir.path().join("other.sqlite");
    raw(&foreign, None)
        .execute_batch("CREATE TABLE things (x); INSERT INTO things VALUES (1);")
        .expect("a foreign database");
    let garbage = dir.path().join("notes.txt");
    fs::write(&garbage, "this is not a database at all, just some text\n").expect("write");
    let before = (bytes(&foreign), bytes(&garbage));

    assert!(matches!(
        Store::open(&foreign, None),
        Err(StoreError::Foreign { .. })
    ));
    assert!(matches!(
        Store::open_read_only(&foreign, None),
        Err(StoreError::Foreign { .. })
    ));
    assert!(matches!(
        Store::open(&garbage, None),
        Err(StoreError::MissingKey { .. })
    ));
    assert!(matches!(
        Store::open(&garbage, Some(KEY)),
        Err(StoreError::NotAStore { .. })
    ));
    let long_garbage = dir.path().join("noise.bin");
    fs::write(&long_garbage, vec![0xa5u8; 3 * 4096]).expect("write");
    assert!(matches!(
        Store::open(&long_garbage, Some(KEY)),
        Err(StoreError::WrongKey { .. })
    ));
    let tiny = dir.path().join("tiny.db");
    fs::write(&tiny, "x").expect("write");
    for key in [None, Some(KEY)] {
        assert!(Store::open(&tiny, key).is_err());
        assert!(Store::open_read_only(&tiny, key).is_err());
    }
    assert!(bytes(&tiny) == b"x", "a tiny file was written over");
    assert!(
        bytes(&long_garbage) == vec![0xa5u8; 3 * 4096],
        "noise was written over"
    );
    assert!(
        (bytes(&foreign), bytes(&garbage)) == before,
        "a refused file changed"
    );
    assert!(!companion(&foreign, "-wal").exists());
}

#[test]
fn store_at_version_1_is_migrated_and_keeps_its_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v1.db");
    let id = CaseId::random();
    {
        let mut conn = raw_before_cipher_settings(&path, KEY);
        let tx = conn.transaction().expect("tx");
        schema::migrate(&tx, 0, 1).expect("version 1");
        tx.execute(
            "INSERT INTO cases (uuid, instrument_id, instrument_version, instrument_hash,
                                enumerator, status, created_utc, modified_utc)
             VALUES (?1, 'victimization', '1.0', 'h1', 'e1', 'in_progress', ?2, ?2)",
            params![id.key(), at(0).utc.to_string()],
        )
        .expect("case");
        tx.execute(
            "INSERT INTO answers (case_uuid, path, value_type, value) VALUES (?1, 'q1', 'int', 5)",
            [id.key()],
        )
        .expect("answer");
        tx.commit().expect("commit");
    }
    let old = Store::open_read_only(&path, Some(KEY)).expect("read as it is");
    assert_eq!(old.schema_version(), 1);
    assert_eq!(old.orphans(&id).expect("no table, no orphans"), Vec::new());
    drop(old);

    let store = Store::open(&path, Some(KEY)).expect("migrates");
    assert_eq!(store.schema_version(), SCHEMA_VERSION);
    let record = store.case(&id).expect("case survives");
    assert_eq!(record.answers["q1"], StoredAnswer::Int(5));
    assert_eq!(record.summary.status, CaseStatus::InProgress);
    assert_eq!(store.orphans(&id).expect("table exists"), Vec::new());
    drop(store);
    // Opened and upgraded, it keeps its cipher settings.
    let version: String = raw_before_cipher_settings(&path, KEY)
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .expect("version");
    assert_eq!(version, SCHEMA_VERSION.to_string());
}

#[test]
fn changed_instrument_is_refused_then_migrated_explicitly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut store, id) = filled(&dir.path().join("s.db"), None);
    assert!(store.open_case(&id, &stamp("1.0", "h1")).is_ok());
    let err = store
        .open_case(&id, &stamp("1.1", "h2"))
        .expect_err("refused");
    assert!(matches!(err, StoreError::InstrumentChanged { .. }), "{err}");
    assert!(err.to_string().contains("version 1.0"));
    let other = InstrumentStamp {
        id: "corruption".to_string(),
        ..stamp("1.0", "h1")
    };
    assert!(matches!(
        store.open_case(&id, &other),
        Err(StoreError::WrongInstrument { .. })
    ));

    let report = store
        .migrate_case(&id, &stamp("1.1", "h2"), &|p| p == "q1", "sup", at(30))
        .expect("migrates");
    assert_eq!(report.kept, vec!["q1".to_string()]);
    assert_eq!(report.set_aside, vec!["q2".to_string()]);
    let record = store
        .open_case(&id, &stamp("1.1", "h2"))
        .expect("opens now");
    assert_eq!(record.answers.keys().collect::<Vec<_>>(), vec!["q1"]);
    let orphans = store.orphans(&id).expect("orphans");
    assert_eq!(orphans.len(), 1);
    assert_eq!(orphans[0].path, "q2");
    assert_eq!(orphans[0].value, StoredAnswer::Text(SECRET.to_string()));
    assert_eq!(orphans[0].from_hash, "h1");
    let last = store.events(&id).expect("events").pop().expect("an event");
    assert_eq!(last.kind, EventKind::InstrumentMigration);
    assert!(last.detail.expect("detail").contains("set aside: q2"));
}

#[test]
fn notes_and_outcomes_are_stored_with_their_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut store, id) = filled(&dir.path().join("s.db"), None);
    let first = store
        .add_note(&id, Some("q1"), "respondent hesitated", "e1", at(3))
        .expect("note");
    let second = store.add_note(&id, None, "dog", "e1", at(4)).expect("note");
    assert_eq!((first, second), (1, 2));
    let other = Outcome::Other("moved abroad".to_string());
    store
        .set_outcome(&id, &other, "e1", at(5))
        .expect("outcome");
    let record = store.case(&id).expect("case");
    assert_eq!(record.notes.len(), 2);
    assert_eq!(record.notes[0].path.as_deref(), Some("q1"));
    assert_eq!(record.notes[1].text, "dog");
    assert_eq!(record.summary.outcome, Some(other));
    let kinds: Vec<EventKind> = store
        .events(&id)
        .expect("events")
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds[2..],
        [EventKind::Note, EventKind::Note, EventKind::Outcome]
    );
    let listed = store.cases().expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0], record.summary);
}

#[test]
fn events_cannot_be_rewritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, _) = filled(&dir.path().join("s.db"), None);
    for sql in ["UPDATE events SET kind = 'navigate'", "DELETE FROM events"] {
        let err = store.conn.execute(sql, []).expect_err("refused");
        assert!(err.to_string().contains("append-only"), "{err}");
    }
}

#[test]
fn bad_changes_and_unknown_cases_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut store, id) = filled(&dir.path().join("s.db"), None);
    let nan = Change::answer("q1", StoredAnswer::Decimal(f64::NAN), "e1", at(5));
    assert!(matches!(
        store.record(&id, &nan),
        Err(StoreError::InvalidChange { .. })
    ));
    let no_path = Change::event(EventKind::Answer, "e1", at(5))
        .with_answer(AnswerChange::Set(StoredAnswer::Int(1)));
    assert!(matches!(
        store.record(&id, &no_path),
        Err(StoreError::InvalidChange { .. })
    ));
    let ghost = CaseId::random();
    let nav = Change::event(EventKind::Navigate, "e1", at(5));
    assert!(matches!(
        store.record(&ghost, &nav),
        Err(StoreError::NoSuchCase { .. })
    ));
    assert!(matches!(
        store.case(&ghost),
        Err(StoreError::NoSuchCase { .. })
    ));
    assert!(matches!(
        store.add_note(&ghost, None, "x", "e1", at(5)),
        Err(StoreError::NoSuchCase { .. })
    ));
    assert_eq!(store.events(&id).expect("events").len(), 2);
}

// ---- merge ----

/// Two enumerators' stores: e1 with one case, e2 with two.
fn two_stores(dir: &Path, key: Option<&str>) -> (PathBuf, PathBuf, Vec<CaseId>) {
    let a = dir.join("e1.db");
    let b = dir.join("e2.db");
    let (_, c1) = filled(&a, key);
    let (mut sb, c2) = filled(&b, key);
    let c3 = sb.create_case(&new_case("e2")).expect("case");
    (a, b, vec![c1, c2, c3])
}

fn ids(path: &Path, key: Option<&str>) -> Vec<CaseId> {
    let mut ids: Vec<CaseId> = Store::open_read_only(path, key)
        .expect("output opens")
        .cases()
        .expect("cases")
        .iter()
        .map(|c| c.id)
        .collect();
    ids.sort();
    ids
}

fn leftovers(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("merging"))
        .collect()
}

#[test]
fn merge_of_disjoint_stores_takes_every_case_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b, mut all) = two_stores(dir.path(), Some(KEY));
    let out = dir.path().join("all.db");
    let report = merge(&out, &[&a, &b], Some(KEY)).expect("merge");
    assert_eq!(report.cases, 3);
    assert_eq!(report.identical, 0);
    assert!(report.conflicts.is_empty());
    all.sort();
    assert_eq!(ids(&out, Some(KEY)), all);
    let merged = Store::open_read_only(&out, Some(KEY)).expect("open");
    let source = Store::open_read_only(&a, Some(KEY)).expect("open");
    assert_eq!(
        merged.case(&all_of(&source)).expect("case"),
        source.case(&all_of(&source)).expect("case")
    );
    assert_eq!(
        merged.events(&all_of(&source)).expect("events"),
        source.events(&all_of(&source)).expect("events")
    );
    assert!(!contains(&bytes(&out), SECRET));
    assert_eq!(
        fs::metadata(&out).expect("out").permissions().mode() & 0o777,
        0o600
    );
    assert!(leftovers(dir.path()).is_empty());
}

fn all_of(store: &Store) -> CaseId {
    store.cases().expect("cases")[0].id
}

#[test]
fn merge_takes_identical_copies_once_and_is_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b, _) = two_stores(dir.path(), None);
    let copy = dir.path().join("e1-copy.db");
    fs::copy(&a, &copy).expect("copy");
    let out = dir.path().join("all.db");
    let first = merge(&out, &[&a, &b, &copy], None).expect("merge");
    assert_eq!(first.cases, 3);
    assert_eq!(first.identical, 1);
    assert!(first.conflicts.is_empty());
    let after_first = ids(&out, None);
    let dump_first =
        merge::dump_store(&Store::open_read_only(&out, None).expect("open")).expect("dump");

    // Again, with the same inputs and an existing output (and a repeat).
    let second = merge(&out, &[&a, &b, &copy, &a], None).expect("merge again");
    assert!(second.out_existed);
    assert_eq!(second.cases, 3);
    assert_eq!(second.repeated, vec![a.clone()]);
    assert!(second.conflicts.is_empty());
    assert_eq!(ids(&out, None), after_first);
    let dump_second =
        merge::dump_store(&Store::open_read_only(&out, None).expect("open")).expect("dump");
    assert_eq!(dump_first, dump_second);
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn merge_reports_conflicting_copies_and_never_picks_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b, cases) = two_stores(dir.path(), None);
    let copy = dir.path().join("e1-copy.db");
    fs::copy(&a, &copy).expect("copy");
    // The two copies of case 0 go different ways.
    Store::open(&copy, None)
        .expect("open")
        .record(
            &cases[0],
            &Change::answer("q1", StoredAnswer::Int(4), "e1", at(9)),
        )
        .expect("diverge");
    Store::open(&a, None)
        .expect("open")
        .set_outcome(&cases[0], &Outcome::Refused, "e1", at(9))
        .expect("diverge");

    let out = dir.path().join("all.db");
    let report = merge(&out, &[&a, &b, &copy], None).expect("merge");
    assert_eq!(report.conflicts.len(), 1);
    let conflict = &report.conflicts[0];
    assert_eq!(conflict.case, cases[0]);
    assert_eq!(conflict.stores, vec![a.clone(), copy.clone()]);
    assert!(!conflict.kept_existing);
    let text = conflict.differences.join("\n");
    assert!(text.contains("answers differ at q1"), "{text}");
    assert!(text.contains("outcome"), "{text}");
    assert!(text.contains("events"), "{text}");
    assert!(!text.contains(SECRET));
    assert!(!ids(&out, None).contains(&cases[0]));
    assert_eq!(report.cases, 2);
    assert!(
        report
            .to_string()
            .contains(&format!("conflict: case {}", cases[0]))
    );

    // With the output holding a copy, the output keeps it.
    let kept = dir.path().join("kept.db");
    merge(&kept, &[&a], None).expect("first merge");
    let report = merge(&kept, &[&copy], None).expect("second merge");
    assert_eq!(report.conflicts.len(), 1);
    assert!(report.conflicts[0].kept_existing);
    let merged = Store::open_read_only(&kept, None).expect("open");
    assert_eq!(
        merged.case(&cases[0]).expect("kept").summary.outcome,
        Some(Outcome::Refused)
    );
}

#[test]
fn merge_with_a_bad_input_leaves_no_output_and_no_garbage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, _, _) = two_stores(dir.path(), None);
    let foreign = dir.path().join("foreign.db");
    raw(&foreign, None)
        .execute_batch("CREATE TABLE t (x)")
        .expect("foreign");
    let garbage = dir.path().join("garbage.db");
    fs::write(&garbage, b"not sqlite").expect("write");
    let out = dir.path().join("all.db");
    for bad in [&foreign, &garbage, &dir.path().join("missing.db")] {
        let err = merge(&out, &[&a, bad], None).expect_err("refused");
        assert!(err.to_string().contains(&*bad.to_string_lossy()), "{err}");
        assert!(!out.exists());
        assert!(leftovers(dir.path()).is_empty());
    }
    // An existing output stays as it was when an input is bad.
    merge(&out, &[&a], None).expect("merge");
    let before = bytes(&out);
    assert!(merge(&out, &[&garbage], None).is_err());
    assert!(bytes(&out) == before, "the output changed");
    // A wrong key for every store: refused before anything is written.
    let secret = dir.path().join("secret.db");
    drop(filled(&secret, Some(KEY)));
    let out2 = dir.path().join("out2.db");
    assert!(matches!(
        merge(&out2, &[&secret], Some("wrong")),
        Err(StoreError::WrongKey { .. })
    ));
    assert!(!out2.exists());
}

/// The child side of the kill test: records answers until killed, printing
/// each one's number only after `record` returned.
fn write_until_killed(path: &Path, id: &CaseId) -> ! {
    use std::io::Write;
    let mut store = Store::open(path, Some(KEY)).expect("child opens the store");
    let mut out = std::io::stdout();
    for i in 1i64.. {
        let change = Change::answer(&format!("q{i}"), StoredAnswer::Int(i), "e1", at(i))
            .with_resume(&format!("q{}", i + 1));
        store.record(id, &change).expect("child records");
        writeln!(out, "committed {i}").expect("stdout");
        out.flush().expect("stdout");
    }
    unreachable!("the loop runs until the process is killed")
}

#[test]
fn killed_writer_loses_no_acknowledged_answer() {
    use std::io::BufRead;
    const CHILD: &str = "VICOR_STORE_KILL_TEST_CHILD";
    if let Some(spec) = std::env::var_os(CHILD) {
        let spec = spec.to_string_lossy().into_owned();
        let (path, id) = spec.split_once('|').expect("path|case");
        write_until_killed(Path::new(path), &id.parse().expect("case id"));
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    let id = {
        let mut store = Store::open(&path, Some(KEY)).expect("open");
        store.create_case(&new_case("e1")).expect("case")
    };
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "store::tests::killed_writer_loses_no_acknowledged_answer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, format!("{}|{id}", path.display()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("child starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut acknowledged = 0i64;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("child output");
        if let Some(n) = line.strip_prefix("committed ") {
            acknowledged = n.parse().expect("a number");
            if acknowledged >= 150 {
                child.kill().expect("SIGKILL the writer mid-stream");
                break;
            }
        }
    }
    child.wait().expect("child reaped");
    assert!(acknowledged >= 150, "the child stopped early");

    let store = Store::open(&path, Some(KEY)).expect("reopens after the kill");
    let record = store.case(&id).expect("case");
    for i in 1..=acknowledged {
        assert_eq!(
            record.answers.get(&format!("q{i}")),
            Some(&StoredAnswer::Int(i)),
            "acknowledged answer q{i} lost"
        );
    }
    // Whatever got in after the last acknowledgement came in whole.
    let events = store.events(&id).expect("events");
    assert_eq!(events.len(), record.answers.len());
    let last = record.answers.len() as i64;
    assert_eq!(record.summary.resume, Some(format!("q{}", last + 1)));
    for (n, event) in (1..).zip(&events) {
        assert_eq!(event.seq, n);
        assert_eq!(event.new, Some(StoredAnswer::Int(n)));
    }
}

#[test]
fn merge_reads_the_output_once_when_it_is_also_given_as_an_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b, mut all) = two_stores(dir.path(), None);
    let out = dir.path().join("all.db");
    merge(&out, &[&a], None).expect("first merge");
    // Adding a store later, naming the output among the inputs as well.
    let report = merge(&out, &[&out, &b], None).expect("second merge");
    assert!(report.out_existed);
    assert_eq!(report.repeated, vec![out.clone()]);
    assert_eq!(report.identical, 0);
    assert_eq!(report.cases, 3);
    all.sort();
    assert_eq!(ids(&out, None), all);
}

#[test]
fn merge_into_a_missing_folder_names_the_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, _, _) = two_stores(dir.path(), None);
    let out = dir.path().join("no-such-folder").join("all.db");
    let err = merge(&out, &[&a], None).expect_err("refused");
    let message = err.to_string();
    assert!(message.contains("no-such-folder/all.db"), "{message}");
    assert!(message.contains("folder does not exist"), "{message}");
}

/// The events of a case as the bulk reader hands them over: from its pack
/// when it has one.
fn read_back(store: &Store, id: &CaseId) -> Vec<EventRow> {
    read_case_back(store, id).0
}

/// The events and answers of a case as the bulk reader hands them over.
fn read_case_back(store: &Store, id: &CaseId) -> (Vec<EventRow>, Vec<(String, StoredAnswer)>) {
    let mut out = (Vec::new(), Vec::new());
    store
        .read_cases(&[*id], ReadParts::default(), |_, rows| {
            out = (rows.events().to_vec(), rows.answers.clone());
            Ok::<(), StoreError>(())
        })
        .expect("the case reads");
    out
}

/// The answers of a case read from its rows, never from a pack.
fn answers_from_rows(store: &Store, id: &CaseId) -> Vec<(String, StoredAnswer)> {
    let mut stmt = store.conn.prepare(bulk::ANSWERS_SQL).expect("statement");
    let mut answers = Vec::new();
    bulk::read_answer_rows(&mut stmt, &id.key(), id, &mut answers, &store.path).expect("rows read");
    answers
}

/// The events of a case read from its rows, never from a pack.
fn from_rows(store: &Store, id: &CaseId) -> Vec<EventRow> {
    let mut stmt = store.conn.prepare(bulk::EVENTS_SQL).expect("statement");
    let mut rows = Vec::new();
    let n =
        bulk::read_event_rows(&mut stmt, &id.key(), id, &mut rows, &store.path).expect("rows read");
    rows.truncate(n);
    rows
}

/// A `navigate` event written with SQL, past the store's checks.
fn event_by_hand(store: &Store, id: &CaseId, seq: i64, utc: &str) {
    store
        .conn
        .execute(
            "INSERT INTO events (case_uuid, seq, kind, utc, monotonic_ns, enumerator)
             VALUES (?1, ?2, 'navigate', ?3, 1, 'e1')",
            params![id.key(), seq, utc],
        )
        .expect("an event by hand");
}

/// Records the case's completion at time `t`.
fn complete(store: &mut Store, id: &CaseId, t: i64) {
    store
        .record(
            id,
            &Change::event(EventKind::Complete, "e1", at(t)).with_status(CaseStatus::Completed),
        )
        .expect("completed");
}

/// The number of events in the case's pack, if it has one.
fn packed(store: &Store, id: &CaseId) -> Option<i64> {
    store
        .conn
        .query_row(
            "SELECT events FROM case_packs WHERE case_uuid = ?1",
            [id.key()],
            |r| r.get(0),
        )
        .optional()
        .expect("packs readable")
}

#[test]
fn a_completed_case_is_packed_and_the_pack_follows_its_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut store, id) = filled(&dir.path().join("s.db"), Some(KEY));
    assert_eq!(packed(&store, &id), None, "in progress: read from the rows");
    complete(&mut store, &id, 3);
    assert_eq!(packed(&store, &id), Some(3));
    let rows = from_rows(&store, &id);
    assert_eq!(rows.len(), 3);
    let answers = answers_from_rows(&store, &id);
    assert_eq!(answers.len(), 2);
    assert_eq!(read_case_back(&store, &id), (rows, answers));

    // An answer changed behind the store's back: the pack goes with it.
    store
        .conn
        .execute("UPDATE answers SET value = 4 WHERE path = 'q1'", [])
        .expect("changed by hand");
    assert_eq!(packed(&store, &id), None);
    assert_eq!(read_case_back(&store, &id).1[0].1, StoredAnswer::Int(4));
    store
        .add_note(&id, None, "repacked", "e1", at(3))
        .expect("note");
    assert_eq!(packed(&store, &id), Some(4));
    assert_eq!(
        read_case_back(&store, &id).1,
        answers_from_rows(&store, &id)
    );

    // Events after completion: the pack is made again, with them.
    store
        .add_note(&id, Some("q1"), "é, \"quoted\"", "e2", at(4))
        .expect("note");
    store
        .set_outcome(&id, &Outcome::Complete, "e2", at(5))
        .expect("outcome");
    assert_eq!(packed(&store, &id), Some(6));
    assert_eq!(read_back(&store, &id), from_rows(&store, &id));

    // Reopened: no pack, whatever writes the event.
    store
        .record(
            &id,
            &Change::answer("q1", StoredAnswer::Int(4), "e1", at(6))
                .with_status(CaseStatus::InProgress),
        )
        .expect("reopened");
    assert_eq!(packed(&store, &id), None);
    assert_eq!(
        read_case_back(&store, &id).1,
        answers_from_rows(&store, &id)
    );
    store
        .conn
        .execute(
            "INSERT INTO case_packs (case_uuid, events, answers, packed_events, packed_answers)
             VALUES (?1, 0, 0, x'0200', x'0200')",
            [id.key()],
        )
        .expect("a stale pack planted");
    event_by_hand(&store, &id, 8, "2026-01-01T00:00:00Z");
    assert_eq!(packed(&store, &id), None, "the trigger drops it");
    assert_eq!(read_back(&store, &id).len(), 8);
}

#[test]
fn a_case_whose_rows_do_not_read_still_completes_without_a_pack() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut store, id) = filled(&dir.path().join("s.db"), None);
    event_by_hand(&store, &id, 3, "not a time");
    store
        .record(
            &id,
            &Change::event(EventKind::Complete, "e1", at(3)).with_status(CaseStatus::Completed),
        )
        .expect("the interview still completes");
    assert_eq!(packed(&store, &id), None);
    assert_eq!(
        store.case(&id).expect("case").summary.status,
        CaseStatus::Completed
    );
    // The readers report the damage, as before packs.
    let err = store
        .read_cases(&[id], ReadParts::default(), |_, _| Ok::<(), StoreError>(()))
        .expect_err("refused");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
}

#[test]
fn a_damaged_pack_is_reported_as_damage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut store, id) = filled(&dir.path().join("s.db"), None);
    complete(&mut store, &id, 3);
    store
        .conn
        .execute("UPDATE case_packs SET packed_events = x'02ff'", [])
        .expect("damage");
    let err = store
        .read_cases(&[id], ReadParts::default(), |_, _| Ok::<(), StoreError>(()))
        .expect_err("refused");
    assert!(
        matches!(&err, StoreError::Corrupt { detail, .. } if detail.contains("packed case")),
        "{err}"
    );
    // A pack of another format (older or newer) is passed over: the rows
    // are read.
    for other in ["x'01'", "x'03'"] {
        store
            .conn
            .execute(
                &format!("UPDATE case_packs SET packed_events = {other}"),
                [],
            )
            .expect("another format");
        assert_eq!(read_back(&store, &id), from_rows(&store, &id));
    }
}

#[test]
fn a_store_from_before_packs_is_read_as_it_is_and_packed_on_upgrade() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v2.db");
    let (done, open) = (CaseId::random(), CaseId::random());
    {
        let mut conn = raw_before_cipher_settings(&path, KEY);
        let tx = conn.transaction().expect("tx");
        schema::migrate(&tx, 0, 2).expect("version 2");
        for (id, status) in [(&done, "completed"), (&open, "in_progress")] {
            old_case(&tx, id, status);
            for seq in 1..=3 {
                tx.execute(
                    "INSERT INTO events (case_uuid, seq, kind, path, new_value, utc,
                                         monotonic_ns, enumerator)
                     VALUES (?1, ?2, 'answer', 'q1', 'int:5', ?3, ?2, 'e1')",
                    params![id.key(), seq, at(seq).utc.to_string()],
                )
                .expect("event");
            }
        }
        tx.commit().expect("commit");
    }
    let old = Store::open_read_only(&path, Some(KEY)).expect("read as it is");
    assert_eq!(old.schema_version(), 2);
    let before = read_back(&old, &done);
    assert_eq!(before.len(), 3);
    drop(old);

    let store = Store::open(&path, Some(KEY)).expect("migrates");
    assert_eq!(packed(&store, &done), Some(3));
    assert_eq!(packed(&store, &open), None);
    assert_eq!(read_back(&store, &done), before);
    assert_eq!(read_back(&store, &open), from_rows(&store, &open));
}

/// The format byte of the case's events pack, if it has one.
fn pack_format(store: &Store, id: &CaseId) -> Option<u8> {
    store
        .conn
        .query_row(
            "SELECT substr(packed_events, 1, 1), substr(packed_answers, 1, 1)
             FROM case_packs WHERE case_uuid = ?1",
            [id.key()],
            |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?)),
        )
        .optional()
        .expect("packs readable")
        .map(|(events, answers)| {
            assert_eq!(events, answers, "both blobs of one format");
            events[0]
        })
}

#[test]
fn a_store_with_packs_of_format_1_is_packed_again_on_upgrade() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v4.db");
    let (done, open) = (CaseId::random(), CaseId::random());
    {
        let mut conn = raw_before_cipher_settings(&path, KEY);
        let tx = conn.transaction().expect("tx");
        schema::migrate(&tx, 0, 4).expect("version 4");
        for (id, status) in [(&done, "completed"), (&open, "in_progress")] {
            old_case(&tx, id, status);
            tx.execute(
                "INSERT INTO answers (case_uuid, path, value_type, value)
                 VALUES (?1, 'q1', 'int', 5)",
                [id.key()],
            )
            .expect("answer");
            for (seq, kind) in [(1, "navigate"), (2, "answer"), (3, "complete")] {
                tx.execute(
                    "INSERT INTO events (case_uuid, seq, kind, path, new_value, utc,
                                         monotonic_ns, enumerator)
                     VALUES (?1, ?2, ?3, 'q1', 'int:5', ?4, ?2, 'e1')",
                    params![id.key(), seq, kind, at(seq).utc.to_string()],
                )
                .expect("event");
            }
            // What a vicor of schema version 4 left: a pack of format 1.
            tx.execute(
                "INSERT INTO case_packs (case_uuid, events, answers, packed_events, packed_answers)
                 VALUES (?1, 0, 0, x'0100', x'0100')",
                [id.key()],
            )
            .expect("a format-1 pack");
        }
        tx.commit().expect("commit");
    }
    let old = Store::open_read_only(&path, Some(KEY)).expect("read as it is");
    assert_eq!(old.schema_version(), 4);
    assert_eq!(pack_format(&old, &done), Some(1));
    // Passed over: the case is read from its rows.
    let before = read_case_back(&old, &done);
    assert_eq!(before.0.len(), 3);
    assert_eq!(before.1.len(), 1);
    drop(old);

    let store = Store::open(&path, Some(KEY)).expect("migrates");
    assert_eq!(store.schema_version(), SCHEMA_VERSION);
    assert_eq!(packed(&store, &done), Some(3), "packed again");
    assert_eq!(pack_format(&store, &done), Some(2));
    assert_eq!(packed(&store, &open), None, "in progress: no pack");
    assert_eq!(read_case_back(&store, &done), before);
    assert_eq!(read_back(&store, &open), from_rows(&store, &open));
}

/// A replayer that writes the case's answers as text, tagged with a build.
struct Tagging(&'static str);

impl Replayer for Tagging {
    fn replay(
        &self,
        stamp: &InstrumentStamp,
        _: Timestamp,
        answers: &[(String, StoredAnswer)],
    ) -> Option<Vec<u8>> {
        let listed: Vec<String> = answers
            .iter()
            .map(|(p, a)| format!("{p}={}", a.encode()))
            .collect();
        Some(format!("{}|{}|{}", self.0, stamp.hash, listed.join(",")).into_bytes())
    }

    fn is_current(&self, replay: &[u8]) -> bool {
        replay.starts_with(self.0.as_bytes())
    }
}

fn replayed(store: &Store, id: &CaseId) -> Option<String> {
    let mut found = None;
    store
        .read_cases(&[*id], ReadParts::default(), |_, rows| {
            found = rows
                .replay()
                .map(|r| String::from_utf8_lossy(r).into_owned());
            Ok::<(), StoreError>(())
        })
        .expect("read");
    found
}

#[test]
fn a_completed_case_is_replayed_with_its_pack_and_dropped_with_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    drop(filled(&path, Some(KEY)));
    let build = |tag| StoreOptions {
        replayer: Some(Arc::new(Tagging(tag))),
        ..StoreOptions::default()
    };
    let mut store = Store::open_with(&path, Some(KEY), &build("a")).expect("opens");
    let id = store.cases().expect("cases")[0].id;
    complete(&mut store, &id, 3);
    let hash = store.cases().expect("cases")[0].instrument.hash.clone();
    assert_eq!(
        replayed(&store, &id),
        Some(format!("a|{hash}|q1=int:3,q2=text:{SECRET}"))
    );
    // Reopened and changed: no pack, no replay; completed again: both.
    store
        .record(
            &id,
            &Change::answer("q1", StoredAnswer::Int(4), "e1", at(4))
                .with_status(CaseStatus::InProgress),
        )
        .expect("reopened");
    assert_eq!(replayed(&store, &id), None);
    complete(&mut store, &id, 5);
    assert_eq!(
        replayed(&store, &id),
        Some(format!("a|{hash}|q1=int:4,q2=text:{SECRET}"))
    );
    drop(store);
    // Without a replayer the replay stays as it is; another build makes
    // its own when asked to repack.
    let mut store = Store::open(&path, Some(KEY)).expect("opens");
    assert_eq!(store.repack().expect("repack"), 0);
    drop(store);
    let mut store = Store::open_with(&path, Some(KEY), &build("a")).expect("opens");
    assert_eq!(store.repack().expect("repack"), 0, "current");
    drop(store);
    let mut store = Store::open_with(&path, Some(KEY), &build("b")).expect("opens");
    assert_eq!(store.repack().expect("repack"), 1);
    assert_eq!(
        replayed(&store, &id),
        Some(format!("b|{hash}|q1=int:4,q2=text:{SECRET}"))
    );
}

#[test]
fn a_merged_store_replays_its_completed_cases_with_the_replayer_given() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.db");
    let (mut store, id) = filled(&input, Some(KEY));
    complete(&mut store, &id, 3);
    let hash = store.cases().expect("cases")[0].instrument.hash.clone();
    drop(store);
    let plain = dir.path().join("plain.db");
    merge(&plain, &[&input], Some(KEY)).expect("merge");
    let merged = Store::open_read_only(&plain, Some(KEY)).expect("open");
    assert_eq!(replayed(&merged, &id), None, "no replayer, no replay");
    let out = dir.path().join("out.db");
    let replayer: Arc<dyn Replayer> = Arc::new(Tagging("m"));
    merge_with(&out, &[&input], Some(KEY), Some(replayer)).expect("merge");
    let merged = Store::open_read_only(&out, Some(KEY)).expect("open");
    assert_eq!(
        replayed(&merged, &id),
        Some(format!("m|{hash}|q1=int:3,q2=text:{SECRET}"))
    );
}

#[test]
fn new_stores_get_this_vicors_cipher_settings_and_older_ones_still_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("new.db");
    drop(filled(&path, Some(KEY)));
    let count = |conn: &Connection| {
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
    };
    // SQLCipher's defaults do not read it: its pages are 16 KiB, checked
    // with HMAC-SHA256.
    let err = count(&raw_before_cipher_settings(&path, KEY)).expect_err("other settings");
    assert_eq!(err.sqlite_error_code(), Some(ErrorCode::NotADatabase));
    assert!(count(&raw(&path, Some(KEY))).expect("this vicor's settings") > 0);

    // A store as vicor made them with SQLCipher's defaults.
    let old = dir.path().join("old.db");
    {
        let mut conn = raw_before_cipher_settings(&old, KEY);
        let tx = conn.transaction().expect("tx");
        schema::migrate(&tx, 0, SCHEMA_VERSION).expect("schema");
        tx.commit().expect("commit");
    }
    let (id, answer) = {
        let mut store = Store::open(&old, Some(KEY)).expect("an older store opens");
        let id = store.create_case(&new_case("e1")).expect("case");
        let change = Change::answer("q1", StoredAnswer::Int(7), "e1", at(1));
        store.record(&id, &change).expect("answer");
        (id, StoredAnswer::Int(7))
    };
    let store = Store::open(&old, Some(KEY)).expect("and opens again");
    assert_eq!(store.case(&id).expect("case").answers["q1"], answer);
    drop(store);
    // It kept its settings, and a wrong key is still told as such.
    assert!(count(&raw_before_cipher_settings(&old, KEY)).expect("same settings") > 0);
    assert!(matches!(
        Store::open(&old, Some("not the key")),
        Err(StoreError::WrongKey { .. })
    ));
}

#[test]
fn a_case_copy_written_into_another_store_reads_back_the_same() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut store, id) = filled(&dir.path().join("a.db"), None);
    store
        .record(
            &id,
            &Change::answer("q3", StoredAnswer::Decimal(0.1 + 0.2), "e1", at(3)),
        )
        .expect("q3");
    store
        .add_note(&id, None, "a note", "e1", at(4))
        .expect("note");
    let copies = store.case_copies(None).expect("copies");
    assert_eq!(copies.len(), 1);
    // The decimal travels as the text that reads back to the same bits.
    assert!(
        copies[0].tables[1]
            .iter()
            .any(|row| row[3] == sync::Cell::Real(format!("{:?}", 0.1 + 0.2)))
    );
    let json = serde_json::to_string(&copies[0]).expect("json");
    let back: sync::CaseCopy = serde_json::from_str(&json).expect("parse");
    assert_eq!(back.digest(), copies[0].digest());

    let mut other = Store::open(&dir.path().join("b.db"), Some(KEY)).expect("b");
    other.insert_copies(&[back]).expect("insert");
    let again = other.case_copies(None).expect("copies of b");
    assert_eq!(again, copies);
    assert_eq!(
        other.case(&id).expect("case"),
        store.case(&id).expect("case")
    );
    // A second insert of the same case is refused, and changes nothing.
    assert!(other.insert_copies(&again).is_err());
    assert_eq!(other.case_copies(None).expect("copies"), copies);
}

#[test]
fn sync_state_and_reviews_round_trip() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut store, id) = filled(&dir.path().join("a.db"), None);
    assert!(store.synced_cases().expect("none").is_empty());
    let review = sync::Review {
        status: "rejected".to_string(),
        comment: Some("re-ask q2".to_string()),
        by: Some("sup".to_string()),
        utc: Some("2026-12-07T10:00:00Z".to_string()),
    };
    let state = sync::SyncedCase {
        server_revision: Some(2),
        pushed_digest: Some("d".to_string()),
        review: Some(review.clone()),
        conflict: false,
    };
    store.set_synced(&[(id, state.clone())]).expect("set");
    assert_eq!(store.synced_cases().expect("read").get(&id), Some(&state));
    assert_eq!(store.reviews().expect("reviews").get(&id), Some(&review));
    store.set_sync_meta("token", "t1").expect("meta");
    store.set_sync_meta("token", "t2").expect("meta again");
    assert_eq!(
        store.sync_meta("token").expect("read"),
        Some("t2".to_string())
    );
}
