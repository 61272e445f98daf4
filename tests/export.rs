//! `vicor export` through the real binary: scripted interviews exported and
//! read back (every answer, DK/RF code and roster row exactly once), the
//! generated R script run on an export, several instrument versions, and
//! hostile inputs that must leave nothing behind. The generated SPSS script
//! is run in GNU PSPP.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use vicor::store::{Change, EventTime, NewCase, Store, StoredAnswer};

use crate::util::{Dir, fixture, root, run, vicor};

fn example() -> PathBuf {
    root().join("instruments/example.yaml")
}

/// A second interview: don't know and refused on every kind of item (a
/// multiple choice, a single choice in a roster, a fixed-roster item, a
/// yes/no at the top level).
const DK_RF: &str = "\
consent: 1
hh_size: 1
members:
  - {name: Zoe, sex: rf, birth_date: 1990-01-01}
vehicles: dk
official_types:
  - {contact: 2}
  - {contact: rf}
  - {contact: 2}
harassed: rf
";

/// A refusal at the door: one answer, everything else skipped.
const REFUSAL: &str = "consent: 2\n";

fn run_script(instrument: &Path, answers: &Path, db: &Path) {
    run(vicor()
        .arg("run")
        .arg(instrument)
        .arg("--answers")
        .arg(answers)
        .arg("--db")
        .arg(db))
    .assert_code(0);
}

/// A store with three scripted interviews of the example.
fn three_cases(dir: &Dir) -> PathBuf {
    let db = dir.join("cases.db");
    run_script(&example(), &fixture("answers/example-complete.yaml"), &db);
    run_script(&example(), &dir.write("dkrf.yaml", DK_RF), &db);
    run_script(&example(), &dir.write("refusal.yaml", REFUSAL), &db);
    db
}

fn export(db: &Path, out: &Path, extra: &[&str]) -> crate::util::Run {
    run(vicor()
        .arg("export")
        .arg("--db")
        .arg(db)
        .arg("--out")
        .arg(out)
        .args(extra))
}

/// One CSV file: its header and rows.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn read_csv(path: &Path) -> Table {
    let mut reader = csv::Reader::from_path(path).expect("the export's CSV reads");
    let header = reader
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_string)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.expect("a CSV row").iter().map(str::to_string).collect())
        .collect();
    Table { header, rows }
}

fn codebook(out: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(out.join("codebook.json")).expect("codebook.json");
    serde_json::from_str(&text).expect("codebook.json is JSON")
}

/// Where an item's cells are, read from the codebook.
struct Var {
    file: String,
    columns: Vec<String>,
    options: Vec<i64>,
    computed: bool,
}

fn variables(book: &serde_json::Value) -> HashMap<String, Var> {
    book["variables"]
        .as_array()
        .expect("variables")
        .iter()
        .map(|v| {
            let name = v["name"].as_str().expect("name").to_string();
            let var = Var {
                file: v["file"].as_str().expect("file").to_string(),
                columns: v["columns"]
                    .as_array()
                    .expect("columns")
                    .iter()
                    .map(|c| c.as_str().expect("a column name").to_string())
                    .collect(),
                options: if v["type"] == "multiple_choice" {
                    v["labels"]
                        .as_array()
                        .expect("labels")
                        .iter()
                        .map(|l| l["code"].as_i64().expect("code"))
                        .collect()
                } else {
                    Vec::new()
                },
                computed: !v["computed"].is_null(),
            };
            (name, var)
        })
        .collect()
}

/// The cells one stored answer must give, column by column.
fn expected_cells(answer: &StoredAnswer, var: &Var) -> Vec<String> {
    match answer {
        StoredAnswer::Int(i) => vec![i.to_string()],
        StoredAnswer::Decimal(x) => vec![format!("{x}")],
        StoredAnswer::Text(t) => vec![t.clone()],
        StoredAnswer::Date(d) => vec![d.to_string()],
        StoredAnswer::Codes(codes) => var
            .options
            .iter()
            .map(|o| if codes.contains(o) { "1" } else { "0" }.to_string())
            .collect(),
        StoredAnswer::DontKnow => vec!["98".to_string(); var.columns.len()],
        StoredAnswer::Refused => vec!["99".to_string(); var.columns.len()],
    }
}

/// Reads the export back and checks it against the store: every stored
/// answer in exactly one cell (or one cell per option), every roster row
/// once, and no other non-empty cell except computed variables.
fn assert_round_trip(db: &Path, out: &Path, pii: &[&str]) -> usize {
    let book = codebook(out);
    let vars = variables(&book);
    let mut tables: HashMap<String, Table> = HashMap::new();
    for f in book["files"].as_array().expect("files") {
        let file = f["file"].as_str().expect("file");
        tables.insert(file.to_string(), read_csv(&out.join(file)));
    }
    // Row index by (file, keys), each key seen once.
    let mut rows: HashMap<(String, Vec<String>), usize> = HashMap::new();
    for f in book["files"].as_array().expect("files") {
        let file = f["file"].as_str().expect("file").to_string();
        if file == "paradata.csv" || file == "durations.csv" || file == "notes.csv" {
            continue;
        }
        let keys = f["keys"].as_array().expect("keys").len();
        for (i, row) in tables[&file].rows.iter().enumerate() {
            let key = (file.clone(), row[..keys].to_vec());
            assert!(
                rows.insert(key.clone(), i).is_none(),
                "row {key:?} appears twice"
            );
        }
    }
    let store = Store::open_read_only(db, None).expect("store opens");
    let mut used: HashSet<(String, usize, usize)> = HashSet::new();
    let mut checked = 0;
    for case in store.cases().expect("cases") {
        let record = store.case(&case.id).expect("case");
        for (path, answer) in &record.answers {
            let parsed = vicor::interview::ItemPath::parse(path).expect("a stored path parses");
            if pii.contains(&parsed.item.as_str()) {
                assert!(!vars.contains_key(&parsed.item), "{path} is exported");
                continue;
            }
            let var = &vars[&parsed.item];
            let mut key = vec![case.id.to_string()];
            key.extend(parsed.rows.iter().map(|r| r.key.to_string()));
            let row = *rows
                .get(&(var.file.clone(), key.clone()))
                .unwrap_or_else(|| panic!("no row {key:?} in {} for {path}", var.file));
            let table = &tables[&var.file];
            let want = expected_cells(answer, var);
            for (column, want) in var.columns.iter().zip(want) {
                let c = table
                    .header
                    .iter()
                    .position(|h| h == column)
                    .unwrap_or_else(|| panic!("no column {column} in {}", var.file));
                assert_eq!(table.rows[row][c], want, "{path} in {}:{column}", var.file);
                assert!(
                    used.insert((var.file.clone(), row, c)),
                    "{path} shares a cell"
                );
                checked += 1;
            }
        }
    }
    // Every other non-empty variable cell is a computed variable's.
    let computed_columns: HashSet<(String, String)> = vars
        .values()
        .filter(|v| v.computed)
        .flat_map(|v| v.columns.iter().map(|c| (v.file.clone(), c.clone())))
        .collect();
    for f in book["files"].as_array().expect("files") {
        let file = f["file"].as_str().expect("file").to_string();
        if ["paradata.csv", "durations.csv", "notes.csv"].contains(&file.as_str()) {
            continue;
        }
        let table = &tables[&file];
        let first_var = if file == "main.csv" {
            7
        } else {
            f["keys"].as_array().expect("keys").len()
        };
        for (r, row) in table.rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate().skip(first_var) {
                if cell.is_empty() || used.contains(&(file.clone(), r, c)) {
                    continue;
                }
                assert!(
                    computed_columns.contains(&(file.clone(), table.header[c].clone())),
                    "{file} row {r} column {} holds {cell:?}, which no stored answer gave",
                    table.header[c]
                );
            }
        }
    }
    checked
}

#[test]
fn every_answer_dk_rf_and_roster_row_comes_back_exactly_once() {
    let dir = Dir::new();
    let db = three_cases(&dir);
    let out = dir.join("export");
    let done = export(&db, &out, &["--status", "all"]);
    done.assert_code(0);
    assert!(done.stdout.contains("exported 3 cases"), "{}", done.stdout);
    let checked = assert_round_trip(&db, &out, &["name"]);
    assert!(checked > 30, "only {checked} cells checked");
    let main = read_csv(&out.join("main.csv"));
    assert_eq!(main.rows.len(), 3);
    // The DK multiple choice carries 98 in each option column.
    let col = |t: &Table, name: &str| {
        t.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let v1 = col(&main, "vehicles_1");
    assert!(main.rows.iter().any(|r| r[v1] == "98"));
    // The refusal at the door has no roster rows and empty items.
    let members = read_csv(&out.join("members.csv"));
    assert_eq!(members.rows.len(), 3, "two members, then one");
    let types = read_csv(&out.join("official_types.csv"));
    assert_eq!(
        types.rows.len(),
        6,
        "three official types in each of two cases"
    );
    assert!(!members.header.contains(&"name".to_string()));
    // Paradata: one row per stored event, values of pii items blanked.
    let paradata = read_csv(&out.join("paradata.csv"));
    let store = Store::open_read_only(&db, None).expect("store");
    let events: usize = store
        .cases()
        .expect("cases")
        .iter()
        .map(|c| store.events(&c.id).expect("events").len())
        .sum();
    assert_eq!(paradata.rows.len(), events);
    let item = col(&paradata, "item");
    let new = col(&paradata, "new_value");
    for row in paradata.rows.iter().filter(|r| r[item] == "name") {
        assert_eq!(row[new], "", "a name leaked into the paradata");
    }
    assert!(
        !std::fs::read_to_string(out.join("paradata.csv"))
            .expect("paradata")
            .contains("Zoe")
    );
    let durations = read_csv(&out.join("durations.csv"));
    assert_eq!(durations.rows.len(), 3);
}

#[test]
fn include_pii_keeps_names_and_completed_is_the_default() {
    let dir = Dir::new();
    let db = three_cases(&dir);
    let out = dir.join("export");
    let done = export(&db, &out, &["--include-pii"]);
    done.assert_code(0);
    let main = read_csv(&out.join("main.csv"));
    let status = main
        .header
        .iter()
        .position(|h| h == "status")
        .expect("status");
    assert!(main.rows.iter().all(|r| r[status] == "completed"));
    let members = read_csv(&out.join("members.csv"));
    let name = members
        .header
        .iter()
        .position(|h| h == "name")
        .expect("name kept");
    assert!(members.rows.iter().any(|r| r[name] == "Ana"));
    assert_round_trip_for_completed(&db, &out, &main);
}

/// With the default status filter, the rows are those of completed cases.
fn assert_round_trip_for_completed(db: &Path, out: &Path, main: &Table) {
    let store = Store::open_read_only(db, None).expect("store");
    let completed: HashSet<String> = store
        .cases()
        .expect("cases")
        .into_iter()
        .filter(|c| c.status == vicor::store::CaseStatus::Completed)
        .map(|c| c.id.to_string())
        .collect();
    let exported: HashSet<String> = main.rows.iter().map(|r| r[0].clone()).collect();
    assert_eq!(exported, completed);
    assert!(out.join("notes.csv").exists());
}

fn at(second: i64) -> EventTime {
    EventTime {
        utc: jiff::Timestamp::from_second(1_750_000_000 + second).expect("a valid time"),
        monotonic_ns: 1_000 * u64::try_from(second).expect("positive"),
    }
}

#[test]
fn an_answer_that_became_irrelevant_is_not_exported() {
    let dir = Dir::new();
    let db = dir.join("cases.db");
    let inst = vicor::instrument::validate(&example())
        .instrument
        .expect("example loads");
    let mut store = Store::open(&db, None).expect("store");
    let id = store
        .create_case(&NewCase {
            instrument_id: inst.id.clone(),
            instrument_version: inst.version.clone(),
            instrument_hash: inst.hash.clone(),
            enumerator: "e1".into(),
            created_utc: at(0).utc,
        })
        .expect("case");
    // hh_size and a member were answered, then consent changed to "no":
    // the store keeps them, the interview no longer asks them.
    for (i, (path, value)) in [
        ("consent", StoredAnswer::Int(1)),
        ("hh_size", StoredAnswer::Int(3)),
        ("members[1].sex", StoredAnswer::Int(2)),
        ("consent", StoredAnswer::Int(2)),
    ]
    .into_iter()
    .enumerate()
    {
        store
            .record(&id, &Change::answer(path, value, "e1", at(i as i64 + 1)))
            .expect("answer");
    }
    drop(store);
    let out = dir.join("export");
    export(&db, &out, &["--status", "all"]).assert_code(0);
    let main = read_csv(&out.join("main.csv"));
    let col = |n: &str| main.header.iter().position(|h| h == n).expect("column");
    assert_eq!(main.rows[0][col("consent")], "2");
    assert_eq!(main.rows[0][col("hh_size")], "");
    assert!(read_csv(&out.join("members.csv")).rows.is_empty());
}

#[test]
fn the_generated_r_script_builds_the_design_and_the_labels() {
    if !crate::util::have_r_survey() {
        return;
    }
    let dir = Dir::new();
    let db = three_cases(&dir);
    let out = dir.join("export");
    export(&db, &out, &["--status", "all"]).assert_code(0);
    // A design over the export: weights and design columns by case_id.
    let main = read_csv(&out.join("main.csv"));
    let mut weights = String::from("case_id,w,stratum,psu\n");
    let mut expected_weights = BTreeMap::new();
    for (i, row) in main.rows.iter().enumerate() {
        let w = 100.0 + 25.5 * i as f64;
        weights.push_str(&format!("{},{w},{},{}\n", row[0], 1 + i % 2, i));
        expected_weights.insert(row[0].clone(), w);
    }
    std::fs::write(out.join("weights.csv"), weights).expect("weights.csv");
    std::fs::write(
        out.join("design.yaml"),
        "weight: w\nclusters: [psu]\nnest: false\nlonely_psu: adjust\n",
    )
    .expect("design.yaml");
    let check = dir.write(
        "check.R",
        &format!(
            "source({:?})\n\
             stopifnot(inherits(design, \"survey.design2\"))\n\
             w <- weights(design)\n\
             ids <- design$variables$case_id\n\
             for (i in seq_along(ids)) cat(\"weight\", ids[i], format(w[i], digits = 17), \"\\n\")\n\
             sex <- vicor_data$members$sex\n\
             stopifnot(is.factor(sex))\n\
             cat(\"levels\", paste(levels(sex), collapse = \"|\"), \"\\n\")\n\
             cat(\"label\", attr(sex, \"label\"), \"\\n\")\n\
             tab <- table(sex)\n\
             for (l in names(tab)) cat(\"count\", l, tab[[l]], \"\\n\")\n\
             cat(\"vehicles_1\", paste(vicor_data$main$vehicles_1, collapse = \" \"), \"\\n\")\n",
            out.join("import.R").display().to_string()
        ),
    );
    let r = run(std::process::Command::new("Rscript").arg(&check));
    r.assert_code(0);
    for (id, w) in &expected_weights {
        let line = r
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("weight {id} ")))
            .unwrap_or_else(|| panic!("no weight for {id}:\n{}", r.stdout));
        let got: f64 = line
            .split_whitespace()
            .nth(2)
            .and_then(|x| x.parse().ok())
            .expect("a number");
        assert_eq!(got, *w, "weight of {id}");
    }
    assert!(
        r.stdout.contains("levels Male|Female|Don't know|Refused"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("label Is {name} male or female?"),
        "{}",
        r.stdout
    );
    // Two members in the first case (one Female, one Male), one refused.
    for want in [
        "count Male 1",
        "count Female 1",
        "count Refused 1",
        "count Don't know 0",
    ] {
        assert!(r.stdout.contains(want), "{want} missing:\n{}", r.stdout);
    }
}

/// A fourth interview for the SPSS import: a name with a comma and quotes,
/// and a contact date answered "don't know" (98 in a date column).
const ODD_CELLS: &str = "\
consent: 1
hh_size: 1
members:
  - {name: \"O'Brien, \\\"Jo\\\"\", sex: 1, birth_date: 1970-05-05}
vehicles: dk
official_types:
  - contact: 1
    n_contacts: 1
    contacts:
      - {contact_date: dk, bribe: 2}
  - {contact: 2}
  - {contact: 2}
harassed: 1
";

#[test]
fn the_generated_spss_script_runs_in_pspp() {
    if !crate::util::have_pspp() {
        return;
    }
    let dir = Dir::new();
    let db = three_cases(&dir);
    run_script(&example(), &dir.write("odd.yaml", ODD_CELLS), &db);
    let out = dir.join("export");
    export(&db, &out, &["--status", "all", "--include-pii"]).assert_code(0);
    // Run as the script's header says: INSERT with CD=YES, from elsewhere.
    // The checks read the saved files back as CSV, values with their
    // labels for main, plain values for the rest.
    let wrapper = dir.write(
        "check.sps",
        &format!(
            "INSERT FILE=\"{}\" CD=YES ENCODING=\"UTF8\".\n\
             GET FILE=\"main.sav\".\n\
             DISPLAY DICTIONARY.\n\
             COMPUTE harassed_um = MISSING(harassed) AND NOT SYSMIS(harassed).\n\
             COMPUTE vehicles_1_um = MISSING(vehicles_1) AND NOT SYSMIS(vehicles_1).\n\
             SAVE TRANSLATE /OUTFILE=\"check-main.csv\" /TYPE=CSV /FIELDNAMES /CELLS=LABELS /REPLACE.\n\
             GET FILE=\"members.sav\".\n\
             SAVE TRANSLATE /OUTFILE=\"check-members.csv\" /TYPE=CSV /FIELDNAMES /REPLACE.\n\
             GET FILE=\"contacts.sav\".\n\
             SAVE TRANSLATE /OUTFILE=\"check-contacts.csv\" /TYPE=CSV /FIELDNAMES /REPLACE.\n\
             GET FILE=\"durations.sav\".\n\
             SAVE TRANSLATE /OUTFILE=\"check-durations.csv\" /TYPE=CSV /FIELDNAMES /REPLACE.\n",
            out.join("import.sps").display()
        ),
    );
    let result = dir.join("result.csv");
    let r = run(std::process::Command::new("pspp")
        .arg("-o")
        .arg(&result)
        .arg(&wrapper)
        .current_dir(dir.path()));
    r.assert_code(0);
    let output = std::fs::read_to_string(&result).expect("pspp wrote its output");
    for text in [&r.stdout, &r.stderr, &output] {
        assert!(
            !text.contains("warning:") && !text.contains("error:"),
            "PSPP complained:\n{text}"
        );
    }
    let book = codebook(&out);
    let vars = book["variables"].as_array().expect("variables");
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("{name} in the codebook"))
    };
    let label = |name: &str, code: &str| {
        var(name)["labels"]
            .as_array()
            .expect("labels")
            .iter()
            .find(|l| l["code"].as_i64() == code.parse().ok())
            .map(|l| l["label"]["en"].as_str().expect("a label").to_string())
    };

    // Every case read, each cell as in main.csv, with its value label.
    let main = read_csv(&out.join("main.csv"));
    let saved = read_csv(&out.join("check-main.csv"));
    assert_eq!(saved.rows.len(), main.rows.len(), "cases read by PSPP");
    assert_eq!(saved.rows.len(), 4);
    let col = |t: &Table, name: &str| {
        t.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let by_id: HashMap<&str, &Vec<String>> =
        saved.rows.iter().map(|r| (r[0].as_str(), r)).collect();
    let mut specials = 0;
    for row in &main.rows {
        let got = by_id[row[0].as_str()];
        for name in ["harassed", "consent", "vehicles_1"] {
            let cell = &row[col(&main, name)];
            let shown = got[col(&saved, name)].trim();
            let want = match cell.as_str() {
                "" => String::new(),
                "98" => "Don't know".to_string(),
                "99" => "Refused".to_string(),
                "0" if name == "vehicles_1" => "Not selected".into(),
                "1" if name == "vehicles_1" => "Selected".into(),
                code => label(name, code).unwrap_or_else(|| panic!("{name} {code} has a label")),
            };
            assert_eq!(shown, want, "{name} of case {}", row[0]);
        }
        // Don't know and refused are user-missing; nothing else is.
        for name in ["harassed", "vehicles_1"] {
            let special = ["98", "99"].contains(&row[col(&main, name)].as_str());
            specials += usize::from(special);
            let flag = got[col(&saved, &format!("{name}_um"))].trim();
            assert_eq!(
                flag,
                if special { "1" } else { "0" },
                "{name} of case {}",
                row[0]
            );
        }
    }
    assert!(specials >= 3, "the store has DK and RF cells ({specials})");

    // Variable labels are the questions (DISPLAY DICTIONARY, as CSV).
    let mut dictionary = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(output.as_bytes());
    let labels: HashMap<String, String> = dictionary
        .records()
        .map(|r| r.expect("PSPP's CSV output parses"))
        .filter(|r| r.len() > 3)
        .map(|r| (r[0].to_string(), r[2].to_string()))
        .collect();
    for name in ["consent", "harassed", "hh_size"] {
        assert_eq!(
            labels.get(name).map(String::as_str),
            var(name)["text"]["en"].as_str(),
            "variable label of {name}"
        );
    }

    // Texts with commas and quotes come back whole; dates are dates, and a
    // date answered "don't know" is empty (system-missing).
    let members = read_csv(&out.join("members.csv"));
    let saved = read_csv(&out.join("check-members.csv"));
    assert_eq!(saved.rows.len(), members.rows.len());
    let names: HashSet<&str> = saved
        .rows
        .iter()
        .map(|r| r[col(&saved, "name")].trim())
        .collect();
    assert!(names.contains("O'Brien, \"Jo\""), "{names:?}");
    let contacts = read_csv(&out.join("contacts.csv"));
    let saved = read_csv(&out.join("check-contacts.csv"));
    assert_eq!(saved.rows.len(), contacts.rows.len());
    let (date, saved_date) = (col(&contacts, "contact_date"), col(&saved, "contact_date"));
    for (csv_row, pspp_row) in contacts.rows.iter().zip(&saved.rows) {
        let cell = &csv_row[date];
        let want = match cell.split('-').collect::<Vec<_>>()[..] {
            [y, m, d] => format!("{m}/{d}/{y}"),
            _ => String::new(),
        };
        assert_eq!(pspp_row[saved_date].trim(), want, "contact_date {cell}");
    }
    assert!(contacts.rows.iter().any(|r| r[date] == "98"));
    let durations = read_csv(&out.join("check-durations.csv"));
    assert_eq!(durations.rows.len(), 4);
}

/// Item ids SPSS or PSPP cannot take as names, and texts over SPSS's limits.
fn awkward_instrument(label: &str) -> String {
    format!(
        "\
id: awkward
version: \"1\"
title: {{en: Awkward}}
languages: [en]
default_language: en
special_codes: {{dont_know: 98, refused: 99}}
sections:
  - id: s
    title: {{en: S}}
    items:
      - id: to
        type: single
        text: {{en: '{label}'}}
        options:
          - {{code: 1, label: {{en: '{label}'}}}}
          - {{code: 2, label: {{en: two}}}}
      - id: _x
        type: integer
        text: {{en: x}}
      - id: comment
        type: text
        text: {{en: any comment}}
      - id: {long}
        type: multiple
        text: {{en: pick}}
        options:
          - {{code: 1, label: {{en: one}}}}
          - {{code: 2, label: {{en: two}}}}
      - id: by
        type: date
        text: {{en: when}}
",
        long = "x".repeat(70)
    )
}

#[test]
fn the_generated_spss_script_renames_what_spss_cannot_take() {
    if !crate::util::have_pspp() {
        return;
    }
    let dir = Dir::new();
    let label = "Très \"long\" texte, ".repeat(20);
    let inst = dir.write(
        "awkward.yaml",
        &awkward_instrument(&label.replace('\'', "''")),
    );
    let db = dir.join("cases.db");
    let long = "x".repeat(70);
    for answers in [
        format!("to: 1\n_x: dk\ncomment: dk\n{long}: [1]\nby: rf\n"),
        format!("to: 2\n_x: 4\ncomment: \"fine, thanks\"\n{long}: [2]\nby: 2020-02-02\n"),
    ] {
        run_script(&inst, &dir.write("answers.yaml", &answers), &db);
    }
    let out = dir.join("export");
    export(&db, &out, &["--instrument", &inst.display().to_string()]).assert_code(0);
    let script = std::fs::read_to_string(out.join("import.sps")).expect("import.sps");
    assert!(
        script.lines().all(|l| l.len() < 256),
        "a line too long for SPSS"
    );
    // Run from a shell in the folder, as the header says.
    let wrapper = out.join("check.sps");
    std::fs::write(
        &wrapper,
        "INSERT FILE=\"import.sps\".\nGET FILE=\"main.sav\".\nDISPLAY DICTIONARY.\n\
         SAVE TRANSLATE /OUTFILE=\"check-main.csv\" /TYPE=CSV /FIELDNAMES /REPLACE.\n",
    )
    .expect("check.sps");
    let result = dir.join("result.csv");
    let r = run(std::process::Command::new("pspp")
        .arg("-o")
        .arg(&result)
        .arg("check.sps")
        .current_dir(&out));
    r.assert_code(0);
    let output = std::fs::read_to_string(&result).expect("pspp wrote its output");
    assert!(
        !output.contains("warning:") && !output.contains("error:"),
        "PSPP complained:\n{output}"
    );
    let saved = read_csv(&out.join("check-main.csv"));
    let x64 = "x".repeat(64);
    let x62 = format!("{}_2", "x".repeat(62));
    for name in ["to_", "v_x", "comment_", "by_", &x64, &x62] {
        assert!(
            saved.header.iter().any(|h| h == name),
            "no {name} in {:?}",
            saved.header
        );
    }
    assert_eq!(saved.rows.len(), 2);
    // The question is cut to 255 bytes at a character boundary; a text
    // answered DK keeps its code, declared user-missing.
    let mut dictionary = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(output.as_bytes());
    let rows: HashMap<String, csv::StringRecord> = dictionary
        .records()
        .map(|r| r.expect("PSPP's CSV output parses"))
        .filter(|r| r.len() > 3)
        .map(|r| (r[0].to_string(), r))
        .collect();
    let mut cut = 255;
    while !label.is_char_boundary(cut) {
        cut -= 1;
    }
    assert_eq!(&rows["to_"][2], label[..cut].trim_end());
    let comment_missing = rows["comment_"]
        .iter()
        .next_back()
        .expect("a missing-values cell");
    assert!(
        comment_missing.contains("98") && comment_missing.contains("99"),
        "{:?}",
        rows["comment_"]
    );
    let comment = saved
        .header
        .iter()
        .position(|h| h == "comment_")
        .expect("comment_");
    let texts: HashSet<&str> = saved.rows.iter().map(|r| r[comment].trim()).collect();
    assert_eq!(texts, HashSet::from(["98", "fine, thanks"]));
}

/// A date column whose only cell is a don't-know code: R's `as.Date` without
/// a format guesses one from the first non-empty cell and stops on "98".
#[test]
fn the_generated_r_script_reads_a_dont_know_date_as_na() {
    if !crate::util::have_r_survey() {
        return;
    }
    let dir = Dir::new();
    let db = dir.join("cases.db");
    run_script(&example(), &dir.write("odd.yaml", ODD_CELLS), &db);
    let out = dir.join("export");
    export(&db, &out, &[]).assert_code(0);
    let contacts = read_csv(&out.join("contacts.csv"));
    assert_eq!(contacts.rows.len(), 1);
    let check = dir.write(
        "check.R",
        &format!(
            "source({:?})\n\
             d <- vicor_data$contacts$contact_date\n\
             stopifnot(inherits(d, \"Date\"))\n\
             cat(\"na\", is.na(d), \"\\n\")\n\
             cat(\"birth\", format(vicor_data$members$birth_date), \"\\n\")\n",
            out.join("import.R").display().to_string()
        ),
    );
    let r = run(std::process::Command::new("Rscript").arg(&check));
    r.assert_code(0);
    assert!(r.stdout.contains("na TRUE"), "{}", r.stdout);
    assert!(r.stdout.contains("birth 1970-05-05"), "{}", r.stdout);
}

#[test]
fn a_folder_with_other_files_is_refused_unless_forced() {
    let dir = Dir::new();
    let db = three_cases(&dir);
    let out = dir.join("export");
    std::fs::create_dir(&out).expect("mkdir");
    std::fs::write(out.join("mine.txt"), "keep me").expect("write");
    let refused = export(&db, &out, &[]);
    refused.assert_code(1);
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    assert_eq!(
        std::fs::read_to_string(out.join("mine.txt")).expect("kept"),
        "keep me"
    );
    assert_eq!(std::fs::read_dir(&out).expect("ls").count(), 1);
    export(&db, &out, &["--force"]).assert_code(0);
    assert!(!out.join("mine.txt").exists());
    assert!(out.join("main.csv").exists());
    assert_no_leftovers(
        dir.path(),
        &["cases.db", "export", "dkrf.yaml", "refusal.yaml"],
    );
}

/// Only the named entries (and SQLite's companions) remain in `dir`.
fn assert_no_leftovers(dir: &Path, allowed: &[&str]) {
    for entry in std::fs::read_dir(dir).expect("ls") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let base = name.trim_end_matches("-wal").trim_end_matches("-shm");
        assert!(allowed.contains(&base), "left behind: {name}");
    }
}

#[test]
fn unreadable_and_foreign_files_are_refused_and_leave_nothing() {
    let dir = Dir::new();
    let junk = dir.write("junk.db", &"not a database at all ".repeat(100));
    let out = dir.join("export");
    let r = export(&junk, &out, &[]);
    r.assert_code(1);
    assert!(r.stderr.contains("not a vicor store"), "{}", r.stderr);
    let foreign = dir.join("foreign.db");
    {
        let conn = rusqlite::Connection::open(&foreign).expect("sqlite");
        conn.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
            .expect("a table");
    }
    let r = export(&foreign, &out, &[]);
    r.assert_code(1);
    assert!(r.stderr.contains("not a vicor store"), "{}", r.stderr);
    let r = export(&dir.join("absent.db"), &out, &[]);
    r.assert_code(1);
    assert!(!dir.join("absent.db").exists(), "export created a store");
    assert_no_leftovers(dir.path(), &["junk.db", "foreign.db"]);
}

#[test]
fn an_encrypted_store_needs_its_key() {
    let dir = Dir::new();
    let db = dir.join("cases.db");
    run(vicor()
        .arg("run")
        .arg(example())
        .arg("--answers")
        .arg(fixture("answers/example-complete.yaml"))
        .arg("--db")
        .arg(&db)
        .args(["--key-env", "VICOR_TEST_KEY"])
        .env("VICOR_TEST_KEY", "a long passphrase"))
    .assert_code(0);
    let out = dir.join("export");
    let r = export(&db, &out, &[]);
    r.assert_code(1);
    assert!(r.stderr.contains("--key-env"), "{}", r.stderr);
    assert!(!out.exists());
    run(vicor()
        .args(["export", "--key-env", "VICOR_TEST_KEY", "--db"])
        .arg(&db)
        .arg("--out")
        .arg(&out)
        .env("VICOR_TEST_KEY", "a long passphrase"))
    .assert_code(0);
    assert_eq!(read_csv(&out.join("main.csv")).rows.len(), 1);
}

/// A copy of the example instrument as version 1.1 with one more question.
fn example_v11(dir: &Dir) -> PathBuf {
    let text = std::fs::read_to_string(example()).expect("example");
    let text = text.replacen("version: \"1.0\"", "version: \"1.1\"", 1).replacen(
        "      - id: hh_size\n",
        "      - id: hh_phone\n        type: yesno\n        when: consent == 1\n        text:\n          en: Does the household have a telephone?\n          fr: Le ménage a-t-il un téléphone ?\n      - id: hh_size\n",
        1,
    );
    let officials =
        std::fs::read_to_string(root().join("instruments/modules/officials.yaml")).expect("module");
    dir.write("v11/modules/officials.yaml", &officials);
    dir.write("v11/example.yaml", &text)
}

#[test]
fn cases_of_two_versions_share_one_export_or_are_refused_by_name() {
    let dir = Dir::new();
    let db = dir.join("cases.db");
    run_script(&example(), &fixture("answers/example-complete.yaml"), &db);
    let v11 = example_v11(&dir);
    let answers = std::fs::read_to_string(fixture("answers/example-complete.yaml"))
        .expect("answers")
        .replacen("hh_size: 2", "hh_phone: 1\nhh_size: 2", 1);
    run_script(&v11, &dir.write("v11.yaml", &answers), &db);
    // Only the old version given: the new case is refused by name.
    let out = dir.join("export");
    let r = export(
        &db,
        &out,
        &["--instrument", &example().display().to_string()],
    );
    r.assert_code(1);
    assert!(r.stderr.contains("version 1.1 (hash"), "{}", r.stderr);
    assert!(!out.exists());
    // Both versions: one export, the new item empty for the old case.
    let r = export(
        &db,
        &out,
        &[
            "--instrument",
            &example().display().to_string(),
            "--instrument",
            &v11.display().to_string(),
        ],
    );
    r.assert_code(0);
    let main = read_csv(&out.join("main.csv"));
    let col = |n: &str| main.header.iter().position(|h| h == n).expect("column");
    let mut by_version: Vec<(String, String)> = main
        .rows
        .iter()
        .map(|r| {
            (
                r[col("instrument_version")].clone(),
                r[col("hh_phone")].clone(),
            )
        })
        .collect();
    by_version.sort();
    assert_eq!(
        by_version,
        [
            ("1.0".to_string(), String::new()),
            ("1.1".to_string(), "1".to_string())
        ]
    );
    let book = codebook(&out);
    let phone = book["variables"]
        .as_array()
        .expect("variables")
        .iter()
        .find(|v| v["name"] == "hh_phone")
        .expect("hh_phone in the codebook");
    assert_eq!(phone["versions"], serde_json::json!(["1.1"]));
    assert_round_trip(&db, &out, &["name"]);
}

#[test]
fn a_store_without_completed_cases_says_so() {
    let dir = Dir::new();
    let db = dir.join("cases.db");
    run_script(
        &example(),
        &dir.write("a.yaml", "consent: 1\nhh_size: 2\n"),
        &db,
    );
    let out = dir.join("export");
    let r = export(&db, &out, &[]);
    r.assert_code(1);
    assert!(r.stderr.contains("--status all"), "{}", r.stderr);
    assert!(!out.exists());
    export(&db, &out, &["--status", "all"]).assert_code(0);
}

/// Issue 18, part 3: the crime types of the bundled instrument carry their
/// ICCS codes into the codebook, and `vicor estimate --codebook` gives the
/// rows of an estimate by crime type (the incident form's `inc_crime`) the
/// code of each value; without the codebook the output has no code.
#[test]
fn crime_types_carry_their_iccs_codes_into_the_codebook_and_estimates() {
    let dir = Dir::new();
    let db = dir.join("cases.db");
    let victimization = root().join("instruments/victimization.yaml");
    for who in [
        "assault-reported",
        "robbery-not-reported",
        "household-burglary-cartheft",
        "no-privacy",
    ] {
        run_script(
            &victimization,
            &fixture(&format!("respondents/{who}.yaml")),
            &db,
        );
    }
    let out = dir.join("export");
    export(&db, &out, &[]).assert_code(0);
    let book = codebook(&out);
    let variable = |name: &str| {
        book["variables"]
            .as_array()
            .expect("variables")
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("{name} in the codebook"))
            .clone()
    };
    assert_eq!(variable("rob_5y")["iccs"], "0401");
    assert_eq!(variable("burg_5y")["iccs"], "05012");
    assert_eq!(variable("cor_paid")["iccs"], "07031");
    assert!(
        variable("resp_age").get("iccs").is_none(),
        "not a crime type"
    );
    let inc_crime = variable("inc_crime");
    let label = |code: i64| {
        inc_crime["labels"]
            .as_array()
            .expect("labels")
            .iter()
            .find(|l| l["code"] == code)
            .unwrap_or_else(|| panic!("option {code}"))["iccs"]
            .clone()
    };
    assert_eq!(label(11), "0401");
    assert_eq!(label(13), "02011");
    assert_eq!(label(5), "05012");
    let markdown = std::fs::read_to_string(out.join("codebook.md")).expect("codebook.md");
    assert!(
        markdown.contains("13 Physical assault [ICCS 02011]"),
        "{markdown}"
    );

    let design = dir.write("design.yaml", "clusters: []\n");
    let spec = dir.write(
        "spec.yaml",
        "estimates:\n  - name: age_by_crime\n    mean: resp_age\n    by: inc_crime\n  - name: bribe\n    proportion: \"sdg_1651_bribe == 1\"\n    iccs: \"07031\"\n",
    );
    let estimate = |extra: &[&std::ffi::OsStr]| {
        let r = run(vicor()
            .arg("estimate")
            .arg("--data")
            .arg(out.join("main.csv"))
            .arg("--design")
            .arg(&design)
            .arg("--spec")
            .arg(&spec)
            .arg("--format")
            .arg("json")
            .args(extra));
        r.assert_code(0);
        let json: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
        json["estimates"].as_array().expect("rows").clone()
    };
    let codebook_path = out.join("codebook.json");
    let rows = estimate(&["--codebook".as_ref(), codebook_path.as_os_str()]);
    let code_of = |rows: &[serde_json::Value], crime: &str| {
        rows.iter()
            .find(|r| r["by"]["inc_crime"] == crime)
            .unwrap_or_else(|| panic!("a row for inc_crime {crime}"))
            .get("iccs")
            .cloned()
    };
    assert_eq!(code_of(&rows, "11"), Some("0401".into()));
    assert_eq!(code_of(&rows, "13"), Some("02011".into()));
    assert_eq!(code_of(&rows, "14"), Some("02012".into()));
    assert_eq!(code_of(&rows, "5"), Some("05012".into()));
    assert_eq!(
        rows[0].get("iccs"),
        None,
        "the whole population has no crime type"
    );
    let bribe = rows
        .iter()
        .find(|r| r["name"] == "bribe")
        .expect("bribe row");
    assert_eq!(bribe["iccs"], "07031", "the estimate's own code");
    // Without the codebook only the estimate's own code is written.
    let plain = estimate(&[]);
    assert_eq!(code_of(&plain, "11"), None);
    assert_eq!(plain.len(), rows.len());
}
