//! `vicor import-xlsform` through the real binary: three forms imported,
//! validated and interviewed with `vicor run`; bad workbooks refused with
//! the sheet, row and column, and no output left behind. The .xlsx files
//! are written by `tests/fixtures/xlsform/make.py`.

use std::path::{Path, PathBuf};

use vicor::interview::Answer;
use vicor::store::Store;
use vicor::store::session::from_stored;

use crate::util::{Dir, Run, fixture, run, vicor};

fn form(name: &str) -> PathBuf {
    fixture(&format!("xlsform/{name}.xlsx"))
}

fn import(form: &Path, out: &Path) -> Run {
    run(vicor()
        .arg("import-xlsform")
        .arg(form)
        .arg("--out")
        .arg(out))
}

/// Imports `name`, validates it, runs its answers file, and returns the
/// saved answers of the one case.
fn import_validate_and_run(name: &str) -> (String, std::collections::BTreeMap<String, Answer>) {
    let dir = Dir::new();
    let yaml = dir.join(&format!("{name}.yaml"));
    let out = import(&form(name), &yaml);
    out.assert_code(0);
    assert!(out.stdout.contains("wrote"), "{}", out.stdout);
    run(vicor().arg("validate").arg(&yaml)).assert_code(0);
    let db = dir.join("cases.db");
    let ran = run(vicor()
        .arg("run")
        .arg(&yaml)
        .arg("--answers")
        .arg(fixture(&format!("xlsform/{name}.answers.yaml")))
        .arg("--db")
        .arg(&db));
    ran.assert_code(0);
    assert!(ran.stdout.contains(": completed"), "{}", ran.stdout);
    let store = Store::open(&db, None).expect("store opens");
    let cases = store.cases().expect("cases");
    assert_eq!(cases.len(), 1);
    let record = store.case(&cases[0].id).expect("case");
    let answers = record
        .answers
        .iter()
        .map(|(k, v)| (k.clone(), from_stored(v)))
        .collect();
    let text = std::fs::read_to_string(&yaml).expect("instrument written");
    (text, answers)
}

#[test]
fn every_column_form_imports_validates_and_runs() {
    let (yaml, answers) = import_validate_and_run("every_column");
    // Labels in both languages, settings carried over.
    assert!(yaml.contains("languages: [en, fr]"), "{yaml}");
    assert!(yaml.contains("id: every_column"), "{yaml}");
    assert!(yaml.contains("fr: \"Quel âge a {name} ?\""), "{yaml}");
    // relevant, constraint, required, calculation, choice_filter, repeat_count.
    assert!(yaml.contains("when: \"consent == 1\""), "{yaml}");
    assert!(
        yaml.contains("- error: \"hh_size >= 1 and hh_size <= 30\""),
        "{yaml}"
    );
    assert!(yaml.contains("value: \"hh_size - 1\""), "{yaml}");
    assert!(yaml.contains("when: \"1 == region\""), "{yaml}");
    assert!(yaml.contains("count: \"hh_size\""), "{yaml}");
    assert!(
        yaml.contains("when: \"selected(crimes, 1) and count_selected(crimes) >= 1\""),
        "{yaml}"
    );
    // The untranslated appearance cell is listed in the file.
    assert!(
        yaml.contains("sheet survey, row 14, column appearance"),
        "{yaml}"
    );
    assert_eq!(answers.get("members[2].age"), Some(&Answer::Int(12)));
    assert_eq!(answers.get("district"), Some(&Answer::Int(1)));
}

#[test]
fn victimization_form_runs_with_household_roster_and_incident() {
    let (yaml, answers) = import_validate_and_run("victimization");
    assert!(yaml.contains("- roster: roster"), "{yaml}");
    assert!(
        yaml.contains("when: \"burglary == 1 or robbery == 1 or assault == 1\""),
        "{yaml}"
    );
    assert_eq!(
        answers.get("roster[1].member_name"),
        Some(&Answer::Text("Ana".into()))
    );
    assert_eq!(answers.get("why_not"), Some(&Answer::Int(3)));
    // Satisfaction with the police is asked only of those who reported.
    assert!(!answers.contains_key("satisfied"), "{answers:?}");
}

#[test]
fn bribery_form_runs_with_choice_names_as_codes() {
    let (yaml, answers) = import_validate_and_run("bribery");
    // Choice names that are not numbers get codes 1, 2, ... with the name beside.
    assert!(yaml.contains("- code: 3  # tax"), "{yaml}");
    assert!(
        yaml.contains("- error: \"count_selected(paid_to) >= 1\""),
        "{yaml}"
    );
    assert!(yaml.contains("value: \"if(paid == 1, 1, 0)\""), "{yaml}");
    assert_eq!(answers.get("paid"), Some(&Answer::Int(1)));
    assert_eq!(answers.get("remarks"), Some(&Answer::Text("none".into())));
}

#[test]
fn what_does_not_translate_is_listed_by_cell_and_the_rest_runs() {
    let dir = Dir::new();
    let yaml = dir.join("u.yaml");
    let out = import(&form("untranslatable"), &yaml);
    out.assert_code(0);
    let listed = [
        "sheet survey, row 2, column type: type `start` is not translated",
        "sheet survey, row 4, column relevant: `string-length(${name}) > 0` is not translated",
        "sheet survey, row 5, column type: type `geopoint` is not translated",
        "sheet survey, row 8, column type: group `inner` inside another is merged",
        "sheet survey, row 12, column repeat_count: repeat `visits` has no repeat_count",
        "sheet survey, row 15, column calculation: calculation of `half` is not translated",
    ];
    let text = std::fs::read_to_string(&yaml).expect("written");
    for line in listed {
        assert!(out.stderr.contains(line), "{line}\n{}", out.stderr);
        assert!(text.contains(line), "{line}\n{text}");
    }
    assert!(
        out.stdout.contains("6 cell(s) not translated"),
        "{}",
        out.stdout
    );
    // The inner group's condition moved onto its question; or_other added
    // an option and a question.
    assert!(text.contains("when: \"age >= 18\""), "{text}");
    assert!(text.contains("when: \"place == 3\""), "{text}");
    let (_, answers) = import_validate_and_run("untranslatable");
    assert_eq!(
        answers.get("place_other"),
        Some(&Answer::Text("market".into()))
    );
    assert_eq!(answers.get("visits_count"), Some(&Answer::Int(1)));
}

/// Imports a bad form and checks it fails with `message`, leaving nothing.
fn refused(name: &str, message: &str) {
    let dir = Dir::new();
    let yaml = dir.join("out.yaml");
    let out = import(&form(name), &yaml);
    out.assert_code(1);
    assert!(out.stderr.contains(message), "{}", out.stderr);
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

#[test]
fn circular_relevance_points_to_the_cell() {
    refused(
        "bad_circular",
        "bad_circular.xlsx: sheet survey, row 2, column relevant: circular `relevant`: a → b → a",
    );
}

#[test]
fn missing_choice_list_points_to_the_type_cell() {
    refused(
        "bad_missing_list",
        "sheet survey, row 3, column type: list `yesno` is not in the choices sheet (lists there: yn)",
    );
}

#[test]
fn a_workbook_without_survey_sheet_is_not_xlsform() {
    refused(
        "bad_not_xlsform",
        "no sheet named `survey`, so this is not an XLSForm (sheets: Sheet1)",
    );
}

#[test]
fn a_zip_that_is_not_a_workbook_is_refused() {
    refused(
        "bad_zip_not_xlsx",
        "is a zip archive but not an .xlsx workbook",
    );
}

#[test]
fn a_file_that_is_not_a_zip_is_refused() {
    refused(
        "bad_not_zip",
        "is not an .xlsx file (it is not a zip archive)",
    );
}

#[test]
fn a_failed_import_keeps_the_previous_instrument() {
    let dir = Dir::new();
    let yaml = dir.write("out.yaml", "previous\n");
    import(&form("bad_circular"), &yaml).assert_code(1);
    assert_eq!(
        std::fs::read_to_string(&yaml).expect("still there"),
        "previous\n"
    );
}

#[test]
fn the_fixtures_are_what_make_py_writes() {
    // make.py is deterministic: running it again changes no fixture.
    let dir = Dir::new();
    let src = fixture("xlsform/make.py");
    std::fs::copy(&src, dir.join("make.py")).expect("copy");
    let made = std::process::Command::new("python3")
        .arg("make.py")
        .current_dir(dir.path())
        .status();
    let Ok(status) = made else {
        eprintln!("skipped: python3 is not installed");
        return;
    };
    assert!(status.success());
    for name in [
        "every_column",
        "victimization",
        "bribery",
        "untranslatable",
        "bad_circular",
    ] {
        let file = format!("{name}.xlsx");
        assert_eq!(
            std::fs::read(dir.join(&file)).expect("made"),
            std::fs::read(form(name)).expect("committed"),
            "{file} differs from what make.py writes"
        );
    }
}
