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
