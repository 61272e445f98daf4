//! `vicor estimate` against R's `survey`: every case under
//! `tests/reference/cases/` (made by `tests/reference/make.R`) is run through
//! the binary with `--format json`, and every number is compared with R's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::util::{Dir, root, run, vicor};

/// Agreement with R, relative.
const REL_TOL: f64 = 1e-9;
/// Agreement with R where the value is near zero (absolute).
const ABS_TOL: f64 = 1e-12;

fn close(got: f64, want: f64) -> bool {
    let diff = (got - want).abs();
    diff <= ABS_TOL || diff <= REL_TOL * want.abs()
}

fn cases() -> Vec<PathBuf> {
    let dir = root().join("tests").join("reference").join("cases");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/reference/cases exists; run tests/reference/make.R")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

fn data_of(case: &Path) -> PathBuf {
    let text = std::fs::read_to_string(case.join("data.txt")).expect("data.txt");
    let rel = text
        .trim()
        .strip_prefix("# data: ")
        .expect("data.txt names the data");
    root().join(rel)
}

type Key = (String, String);

fn expected(case: &Path) -> Vec<(Key, HashMap<String, Option<f64>>)> {
    let text = std::fs::read_to_string(case.join("expected.csv")).expect("expected.csv");
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            let mut values = HashMap::new();
            for (h, c) in header.iter().zip(&cells).skip(2) {
                let v = if c.is_empty() || *c == "NA" || *c == "NaN" {
                    None
                } else {
                    Some(c.parse::<f64>().expect("a number"))
                };
                values.insert(h.to_string(), v);
            }
            ((cells[0].to_owned(), cells[1].to_owned()), values)
        })
        .collect()
}

fn run_case(case: &Path, dir: &Dir) -> serde_json::Value {
    let out = dir.join("out.json");
    let r = run(vicor()
        .arg("estimate")
        .arg("--data")
        .arg(data_of(case))
        .arg("--design")
        .arg(case.join("design.yaml"))
        .arg("--spec")
        .arg(case.join("spec.yaml"))
        .args(["--format", "json", "--out"])
        .arg(&out));
    r.assert_code(0);
    serde_json::from_str(&std::fs::read_to_string(out).expect("output written"))
        .expect("valid JSON")
}

fn by_key(row: &serde_json::Value) -> String {
    row["by"]
        .as_object()
        .expect("by is an object")
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().expect("by values are strings")))
        .collect::<Vec<_>>()
        .join(";")
}

/// A `by` key with its pairs sorted (JSON objects are read back unordered).
fn sorted_key(key: &str) -> String {
    let mut parts: Vec<&str> = key.split(';').filter(|p| !p.is_empty()).collect();
    parts.sort_unstable();
    parts.join(";")
}

#[test]
fn every_reference_case_matches_r() {
    let dir = Dir::new();
    let mut failures = Vec::new();
    let mut compared = 0usize;
    for case in cases() {
        let name = case
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let got = run_case(&case, &dir);
        let rows = got["estimates"].as_array().expect("estimates array");
        let want = expected(&case);
        if rows.len() != want.len() {
            failures.push(format!("{name}: {} rows, R has {}", rows.len(), want.len()));
        }
        let index: HashMap<Key, &serde_json::Value> = rows
            .iter()
            .map(|r| {
                (
                    (
                        r["name"].as_str().expect("name").to_owned(),
                        sorted_key(&by_key(r)),
                    ),
                    r,
                )
            })
            .collect();
        for (key, values) in &want {
            let Some(row) = index.get(&(key.0.clone(), sorted_key(&key.1))) else {
                failures.push(format!("{name}: no row for {key:?}"));
                continue;
            };
            for (field, want) in values {
                // R gives NaN for logit/beta bounds when SE = 0 and NA for
                // some deffs; vicor's own rule there is tested elsewhere.
                let Some(want) = want else { continue };
                let got = row[field.as_str()].as_f64();
                compared += 1;
                match got {
                    Some(g) if close(g, *want) => {}
                    _ => failures.push(format!(
                        "{name} {key:?} {field}: vicor {got:?}, R {want:.17}"
                    )),
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {compared} values differ from R:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(compared > 1000, "only {compared} values compared");
}

const SMALL: &str = "h,c,w,y,x,r1,r2,r3,r4\n\
1,1,10,1,0,20,0,10,10\n\
1,2,10,0,0,0,20,10,10\n\
2,3,20,1,1,20,20,40,0\n\
2,4,20,0,1,20,20,0,40\n";

const DESIGN: &str = "weight: w\nstrata: h\nclusters: [c]\n";
const SPEC: &str = "estimates:\n  - name: m\n    mean: y\n";

/// Runs `vicor estimate` on files written into a fresh directory.
fn estimate_with(data: &str, design: &str, spec: &str) -> crate::util::Run {
    let dir = Dir::new();
    let d = dir.write("data.csv", data);
    let g = dir.write("design.yaml", design);
    let s = dir.write("spec.yaml", spec);
    run(vicor()
        .arg("estimate")
        .arg("--data")
        .arg(d)
        .arg("--design")
        .arg(g)
        .arg("--spec")
        .arg(s)
        .args(["--format", "json"]))
}

fn assert_user_error(r: &crate::util::Run, phrases: &[&str]) {
    r.assert_code(1);
    // miette wraps long messages; compare with the wrapping undone.
    let flat = r
        .stderr
        .replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for p in phrases {
        assert!(flat.contains(p), "stderr lacks {p:?}:\n{}", r.stderr);
    }
}

#[test]
fn missing_design_column_is_named() {
    let r = estimate_with(SMALL, "weight: wt\nstrata: h\nclusters: [c]\n", SPEC);
    assert_user_error(&r, &["`wt`"]);
}

#[test]
fn calibration_block_errors_name_the_fix() {
    let cases = [
        // No input weight for a regression calibration.
        (
            "calibration: {method: linear, margins: [x]}\n",
            vec!["input_weight"],
        ),
        // A margin column that is not in the data.
        (
            "calibration: {method: rake, margins: [sex]}\n",
            vec!["`sex`"],
        ),
        // Several margins for post-stratification.
        (
            "calibration: {method: poststratify, input_weight: w, margins: [x, h]}\n",
            vec!["one margin", "[[sex, age]]"],
        ),
    ];
    for (block, phrases) in cases {
        let r = estimate_with(SMALL, &format!("{DESIGN}{block}"), SPEC);
        assert_user_error(&r, &phrases);
    }
}

#[test]
fn missing_spec_column_is_named() {
    let r = estimate_with(SMALL, DESIGN, "estimates:\n  - name: m\n    mean: income\n");
    assert_user_error(&r, &["`income`"]);
}

#[test]
fn non_numeric_weight_names_column_and_row() {
    let data = SMALL.replace("2,3,20,1", "2,3,abc,1");
    let r = estimate_with(&data, DESIGN, SPEC);
    assert_user_error(&r, &["`w`", "row 3", "abc"]);
}

#[test]
fn zero_and_negative_weights_name_the_row() {
    let r = estimate_with(&SMALL.replace("1,2,10,0", "1,2,0,0"), DESIGN, SPEC);
    assert_user_error(&r, &["`w`", "row 2", "positive"]);
    let r = estimate_with(&SMALL.replace("2,4,20,0", "2,4,-5,0"), DESIGN, SPEC);
    assert_user_error(&r, &["`w`", "row 4"]);
}

#[test]
fn empty_stratum_cell_names_column_and_row() {
    let r = estimate_with(&SMALL.replace("2,3,20,1", ",3,20,1"), DESIGN, SPEC);
    assert_user_error(&r, &["`h`", "row 3", "stratum"]);
}

#[test]
fn lonely_psu_under_fail_names_the_stratum() {
    let data = "h,c,w,y\n1,1,1,1\n1,2,1,0\n2,3,1,1\n";
    let r = estimate_with(data, DESIGN, SPEC);
    assert_user_error(&r, &["stratum `2`", "lonely_psu"]);
}

#[test]
fn domain_without_respondents_is_an_error() {
    let spec = "estimates:\n  - name: m\n    mean: y\n    domain: \"x == 5\"\n";
    let r = estimate_with(SMALL, DESIGN, spec);
    assert_user_error(&r, &["`m`", "x == 5", "no respondents"]);
}

#[test]
fn replicate_count_that_disagrees_is_an_error() {
    let design =
        "weight: w\nreplicates:\n  columns: [r1, r2, r3, r4]\n  type: jk1\n  replicates: 5\n";
    let r = estimate_with(SMALL, design, SPEC);
    assert_user_error(&r, &["replicates: 5", "4 columns"]);
    let design = "weight: w\nreplicates:\n  columns: [r1, r2, r3]\n  type: brr\n";
    let r = estimate_with(SMALL, design, SPEC);
    assert_user_error(&r, &["brr", "3 columns"]);
    let design =
        "weight: w\nreplicates:\n  columns: [r1, r2, r3, r4]\n  type: jkn\n  rscales: [0.5, 0.5]\n";
    let r = estimate_with(SMALL, design, SPEC);
    assert_user_error(&r, &["rscales", "4 replicate columns"]);
}

#[test]
fn zero_denominator_gives_null_estimate_and_flag() {
    let spec =
        "estimates:\n  - name: q\n    ratio: { numerator: y, denominator: x }\n    by: [h]\n";
    let r = estimate_with(SMALL, DESIGN, spec);
    r.assert_code(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
    let rows = v["estimates"].as_array().expect("rows");
    let h1 = rows
        .iter()
        .find(|r| r["by"]["h"] == "1")
        .expect("a row for stratum 1");
    assert!(h1["estimate"].is_null(), "{h1}");
    assert!(h1["se"].is_null(), "{h1}");
    let flags: Vec<&str> = h1["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .filter_map(|f| f.as_str())
        .collect();
    assert!(flags.contains(&"zero_denominator"), "{flags:?}");
    assert!(!r.stdout.contains("NaN"));
}

#[test]
fn table_and_csv_formats_carry_the_same_rows() {
    let spec = "estimates:\n  - name: m\n    mean: y\n    by: [h]\n";
    let dir = Dir::new();
    let d = dir.write("data.csv", SMALL);
    let g = dir.write("design.yaml", DESIGN);
    let s = dir.write("spec.yaml", spec);
    let out = |format: &str| {
        let r = run(vicor()
            .arg("estimate")
            .arg("--data")
            .arg(&d)
            .arg("--design")
            .arg(&g)
            .arg("--spec")
            .arg(&s)
            .args(["--format", format]));
        r.assert_code(0);
        r.stdout
    };
    let table = out("table");
    assert!(
        table.contains("\n  h=1") && table.contains("\n  h=2"),
        "{table}"
    );
    let csv = out("csv");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("name,h,estimate,se,ci_low,ci_high,level,df,cv,deff,n,weighted_n,flags")
    );
    assert_eq!(lines.count(), 3);
}

#[test]
fn replicate_writes_weights_that_estimate_reads_back() {
    let dir = Dir::new();
    let data = root().join("tests/fixtures/apistrat.csv");
    let design = dir.write("design.yaml", "weight: pw\nstrata: stype\nfpc: [fpc]\n");
    let out = dir.join("reps.csv");
    let design_out = dir.join("reps.yaml");
    run(vicor()
        .arg("replicate")
        .arg("--data")
        .arg(&data)
        .arg("--design")
        .arg(&design)
        .args(["--type", "jkn", "--out"])
        .arg(&out)
        .arg("--design-out")
        .arg(&design_out))
    .assert_code(0);
    let spec = dir.write(
        "spec.yaml",
        "estimates:\n  - name: api00\n    mean: api00\n",
    );
    let formed = dir.write(
        "formed.yaml",
        "weight: pw\nstrata: stype\nfpc: [fpc]\nreplicates:\n  form: jkn\n",
    );
    let get = |data: &Path, design: &Path| {
        let r = run(vicor()
            .arg("estimate")
            .arg("--data")
            .arg(data)
            .arg("--design")
            .arg(design)
            .arg("--spec")
            .arg(&spec)
            .args(["--format", "json"]));
        r.assert_code(0);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
        (
            v["estimates"][0]["se"].as_f64().expect("se"),
            v["estimates"][0]["df"].as_u64().expect("df"),
        )
    };
    let (se_cols, df_cols) = get(&out, &design_out);
    let (se_formed, df_formed) = get(&data, &formed);
    assert!(close(se_cols, se_formed), "{se_cols} vs {se_formed}");
    assert_eq!(df_cols, df_formed);
    // R: apistrat JKn with fpc reproduces the Taylor SE (estimation.md §6).
    let want = expected(&root().join("tests/reference/cases/apistrat_fpc"));
    let taylor = want[0].1["se"].expect("R's SE");
    assert!(close(se_cols, taylor), "{se_cols} vs R {taylor}");
}

#[test]
fn r_regenerates_identical_reference_files() {
    if !crate::util::have_r_survey() {
        return;
    }
    let dir = Dir::new();
    run(std::process::Command::new("Rscript")
        .arg("tests/reference/make.R")
        .current_dir(root())
        .env("VICOR_REFERENCE_OUT", dir.path()))
    .assert_code(0);
    let mut compared = 0;
    for case in cases() {
        let name = case.file_name().expect("case name").to_owned();
        for file in ["design.yaml", "spec.yaml", "expected.csv", "data.txt"] {
            let committed = std::fs::read(case.join(file)).expect("committed file");
            let fresh = std::fs::read(
                dir.path()
                    .join("tests/reference/cases")
                    .join(&name)
                    .join(file),
            )
            .expect("R wrote the file");
            assert!(
                committed == fresh,
                "{} differs when R regenerates it: run tests/reference/make.R and review",
                case.join(file).display()
            );
            compared += 1;
        }
    }
    for entry in std::fs::read_dir(root().join("tests/fixtures")).expect("fixtures") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "csv") {
            let fresh = std::fs::read(
                dir.path()
                    .join("tests/fixtures")
                    .join(path.file_name().expect("name")),
            )
            .expect("R wrote the fixture");
            assert!(
                std::fs::read(&path).expect("fixture") == fresh,
                "{} differs when R regenerates it",
                path.display()
            );
            compared += 1;
        }
    }
    assert!(compared > 100, "only {compared} files compared");
}
