//! `vicor export --format csv,dta,sav,parquet` through the real binary:
//! every `.dta` and `.sav` file of an export is read back in R (haven), the
//! `.sav` files in GNU PSPP and the `.parquet` files with pyarrow, and
//! every value, variable label, value label and missing code is compared
//! to what the CSV of the same export and the codebook say. The generated
//! Stata script is checked command by command (there is no Stata here). The expectations are built here from `codebook.json`
//! and the CSVs, not from the writers' own column model.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use crate::util::{Dir, fixture, root, run, vicor};

/// Don't know and refused on every kind of item (a multiple choice, a
/// single choice and a date in a roster, a fixed-roster item, a yes/no).
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

/// A name with a comma and quotes, a date answered don't know in a nested
/// roster.
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

fn run_script(answers: &Path, db: &Path) {
    run(vicor()
        .arg("run")
        .arg(root().join("instruments/example.yaml"))
        .arg("--answers")
        .arg(answers)
        .arg("--db")
        .arg(db))
    .assert_code(0);
}

/// An export in the three formats of four interviews of the example (one
/// refused at the door), with personal data so that text is exported.
fn exported(dir: &Dir) -> PathBuf {
    let db = dir.join("cases.db");
    run_script(&fixture("answers/example-complete.yaml"), &db);
    run_script(&dir.write("dkrf.yaml", DK_RF), &db);
    run_script(&dir.write("refusal.yaml", "consent: 2\n"), &db);
    run_script(&dir.write("odd.yaml", ODD_CELLS), &db);
    let out = dir.join("export");
    run(vicor()
        .arg("export")
        .arg("--db")
        .arg(&db)
        .arg("--out")
        .arg(&out)
        .args(["--format", "csv,dta,sav,parquet", "--include-pii"]))
    .assert_code(0);
    out
}

/// One CSV: header and rows.
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{} reads: {e}", path.display()));
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
    (header, rows)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Number,
    Date,
}

/// What the codebook says of one column of a level's file.
#[derive(Debug)]
struct Expected {
    name: String,
    kind: Kind,
    dont_know: Option<i64>,
    refused: Option<i64>,
    /// The variable label, for the columns of an item.
    label: Option<String>,
    /// Value labels other than DK and RF.
    labels: Vec<(i64, String)>,
    /// A decimal item (other numbers are whole).
    decimal: bool,
}

/// The columns of `file` (e.g. `main.csv`) as the codebook describes them.
fn expected_columns(book: &Json, file: &str) -> Vec<Expected> {
    let files = book["files"].as_array().expect("files");
    let entry = files
        .iter()
        .find(|f| f["file"] == file)
        .unwrap_or_else(|| panic!("{file} in the codebook"));
    let keys: Vec<&str> = entry["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k.as_str().expect("a key"))
        .collect();
    let case_columns: Vec<&str> = book["case_columns"]
        .as_array()
        .expect("case columns")
        .iter()
        .map(|c| c.as_str().expect("a column"))
        .collect();
    let en = |j: &Json| j["en"].as_str().unwrap_or_default().to_string();
    let mut out = Vec::new();
    for column in entry["columns"].as_array().expect("columns") {
        let name = column.as_str().expect("a column").to_string();
        let mut e = Expected {
            name: name.clone(),
            kind: Kind::Text,
            dont_know: None,
            refused: None,
            label: None,
            labels: Vec::new(),
            decimal: false,
        };
        if keys.contains(&name.as_str()) && name != "case_id" {
            // A roster's row key: its fixed rows' labels, if any.
            e.kind = Kind::Number;
            let roster = name.strip_suffix("_row").expect("a row key");
            let level = files
                .iter()
                .find(|f| f["level"] == roster)
                .expect("the roster's file");
            e.labels = level["row_labels"]
                .as_array()
                .expect("row labels")
                .iter()
                .map(|r| (r["code"].as_i64().expect("code"), en(&r["label"])))
                .collect();
        } else if name != "case_id" && !case_columns.contains(&name.as_str()) {
            let var = book["variables"]
                .as_array()
                .expect("variables")
                .iter()
                .find(|v| {
                    v["file"] == file
                        && v["columns"]
                            .as_array()
                            .is_some_and(|c| c.iter().any(|c| *c == name.as_str()))
                })
                .unwrap_or_else(|| panic!("the variable of {file} column {name}"));
            let text = if !var["text"].is_null() {
                en(&var["text"])
            } else if let Some(c) = var["computed"].as_str() {
                format!("computed: {c}")
            } else {
                format!(
                    "row of {} drawn at random",
                    var["draws_from"].as_str().expect("a random item")
                )
            };
            let labels: Vec<(i64, String)> = var["labels"]
                .as_array()
                .expect("labels")
                .iter()
                .map(|l| (l["code"].as_i64().expect("code"), en(&l["label"])))
                .collect();
            e.decimal = var["type"] == "decimal";
            e.dont_know = var["missing_codes"]["dont_know"].as_i64();
            e.refused = var["missing_codes"]["refused"].as_i64();
            match var["type"].as_str().expect("a type") {
                "text" | "code_list" => e.kind = Kind::Text,
                "date" => e.kind = Kind::Date,
                "multiple_choice" => {
                    e.kind = Kind::Number;
                    let columns = var["columns"].as_array().expect("columns");
                    let at = columns.iter().position(|c| *c == name.as_str());
                    let option = &labels[at.expect("its column")].1;
                    e.label = Some(format!("{text}: {option}"));
                    e.labels = vec![(1, "selected".into()), (0, "not selected".into())];
                }
                t => {
                    e.kind = Kind::Number;
                    e.labels = match t {
                        "boolean" => vec![(1, "true".into()), (0, "false".into())],
                        _ => labels,
                    };
                }
            }
            if e.label.is_none() {
                e.label = Some(text);
            }
        }
        out.push(e);
    }
    out
}

/// The name a binary file gives a CSV column (the codebook's `renamed`).
fn name_in(book: &Json, file: &str, column: &str) -> String {
    book["renamed"]
        .as_array()
        .expect("renamed")
        .iter()
        .find(|r| r["file"] == file && r["column"] == column)
        .map_or(column.to_string(), |r| {
            r["name"].as_str().expect("a name").to_string()
        })
}

fn same_number(got: &str, want: &str, tolerance: f64) -> bool {
    match (got.trim().parse::<f64>(), want.parse::<f64>()) {
        (Ok(g), Ok(w)) => (g - w).abs() <= tolerance * w.abs().max(1.0),
        _ => false,
    }
}

/// `s` cut to at most `max` bytes at a character boundary.
fn cut_bytes(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The first `n` characters of `s`.
fn chars(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// R reads every binary file with haven and writes, for each, its cells
/// (`.a`/`.b` for Stata's extended missing values, dates as `YYYY-MM-DD`,
/// numbers with 17 digits) and its labels and missing values.
const R_READER: &str = r#"
suppressMessages(library(haven))
dir <- commandArgs(TRUE)[1]
num <- function(v) sprintf("%.17g", v)
canon <- function(x) {
  base <- unclass(x)
  attributes(base) <- NULL
  if (is.character(base)) return(base)
  tag <- na_tag(base)
  out <- if (inherits(x, "Date")) format(as.Date(base, origin = "1970-01-01"), "%Y-%m-%d") else num(base)
  out[is.na(base)] <- ""
  out[!is.na(tag)] <- paste0(".", tag[!is.na(tag)])
  out
}
value <- function(v) {
  tag <- na_tag(v)
  ifelse(is.na(tag), num(v), paste0(".", tag))
}
for (f in list.files(dir, pattern = "\\.(dta|sav)$")) {
  path <- file.path(dir, f)
  d <- if (grepl("dta$", f)) read_dta(path) else read_sav(path, user_na = TRUE)
  cells <- do.call(rbind, c(
    list(data.frame(row = integer(0), column = character(0), cell = character(0))),
    lapply(names(d), function(n) data.frame(row = seq_len(nrow(d)),
      column = rep(n, nrow(d)), cell = canon(d[[n]]), stringsAsFactors = FALSE))))
  meta <- list(data.frame(column = names(d), what = "name", value = as.character(seq_along(d)), label = ""))
  for (n in names(d)) {
    x <- d[[n]]
    l <- attr(x, "label")
    meta[[length(meta) + 1]] <- data.frame(column = n, what = "label", value = "",
      label = if (is.null(l)) "" else l)
    vl <- attr(x, "labels")
    if (length(vl)) meta[[length(meta) + 1]] <- data.frame(column = n, what = "value_label",
      value = value(unname(unclass(vl))), label = names(vl))
    m <- attr(x, "na_values")
    if (length(m)) meta[[length(meta) + 1]] <- data.frame(column = n, what = "na_value",
      value = num(m), label = "")
  }
  write.csv(cells, file.path(dir, paste0("r-", f, "-cells.csv")), row.names = FALSE)
  write.csv(do.call(rbind, meta), file.path(dir, paste0("r-", f, "-meta.csv")), row.names = FALSE)
}
"#;

#[test]
fn the_dta_and_sav_files_read_back_in_r_as_the_csv_and_the_codebook_say() {
    if !crate::util::have_r_haven() {
        return;
    }
    let dir = Dir::new();
    let out = exported(&dir);
    let checked = check_in_r(&dir, &out);
    // Enough was compared for the test to mean something: every level, DK
    // and RF codes among the labels and missing values.
    assert!(checked.0 > 300, "{checked:?}");
    assert!(checked.1 > 50 && checked.2 > 20, "{checked:?}");
}

/// Reads every binary file of the export `out` in R and compares it with
/// the CSVs and the codebook; (cells, value labels, missing values)
/// compared.
fn check_in_r(dir: &Dir, out: &Path) -> (usize, usize, usize) {
    let script = dir.write("read.R", R_READER);
    run(std::process::Command::new("Rscript").arg(&script).arg(out)).assert_code(0);
    let book: Json = serde_json::from_str(
        &std::fs::read_to_string(out.join("codebook.json")).expect("codebook"),
    )
    .expect("JSON");
    let mut checked = (0, 0, 0);
    for entry in book["files"].as_array().expect("files") {
        let file = entry["file"].as_str().expect("file");
        // The levels list the files written; paradata and durations are
        // CSV only.
        if !entry["written"].is_array() {
            continue;
        }
        let level = file.strip_suffix(".csv").expect("a level's CSV name");
        let columns = expected_columns(&book, file);
        let (header, rows) = read_csv(&out.join(file));
        assert_eq!(
            header,
            columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>()
        );
        for format in ["dta", "sav"] {
            let binary = format!("{level}.{format}");
            let stata = format == "dta";
            let (_, cells) = read_csv(&out.join(format!("r-{binary}-cells.csv")));
            let (_, meta) = read_csv(&out.join(format!("r-{binary}-meta.csv")));
            let names: Vec<String> = columns
                .iter()
                .map(|c| name_in(&book, &binary, &c.name))
                .collect();
            let got_names: Vec<&str> = meta
                .iter()
                .filter(|m| m[1] == "name")
                .map(|m| m[0].as_str())
                .collect();
            assert_eq!(got_names, names, "{binary}: the columns in order");
            // Every cell.
            let by_cell: HashMap<(usize, &str), &str> = cells
                .iter()
                .map(|c| {
                    let row: usize = c[0].parse().expect("a row number");
                    ((row, c[1].as_str()), c[2].as_str())
                })
                .collect();
            assert_eq!(by_cell.len(), rows.len() * columns.len(), "{binary}");
            for (i, row) in rows.iter().enumerate() {
                for ((c, name), raw) in columns.iter().zip(&names).zip(row) {
                    let got = by_cell[&(i + 1, name.as_str())];
                    let code = raw.parse::<i64>().ok();
                    let special = match code {
                        Some(_) if c.kind == Kind::Text => None,
                        Some(k) if Some(k) == c.dont_know => Some(".a"),
                        Some(k) if Some(k) == c.refused => Some(".b"),
                        _ => None,
                    };
                    let ok = match (c.kind, special) {
                        (Kind::Text, _) => got == raw,
                        (_, _) if raw.is_empty() => got.is_empty(),
                        // Stata: extended missing; SPSS: the code kept (a
                        // number), or system-missing for a date.
                        (_, Some(tag)) if stata => got == tag,
                        (Kind::Date, Some(_)) => got.is_empty(),
                        (Kind::Date, None) => got == raw,
                        (Kind::Number, _) => same_number(got, raw, 0.0),
                    };
                    assert!(
                        ok,
                        "{binary} row {} column {name}: got {got:?}, CSV {raw:?}",
                        i + 1
                    );
                    checked.0 += 1;
                }
            }
            // Variable labels, value labels and missing values.
            for (c, name) in columns.iter().zip(&names) {
                let of = |what: &str| -> Vec<(&str, &str)> {
                    meta.iter()
                        .filter(|m| m[0] == *name && m[1] == what)
                        .map(|m| (m[2].as_str(), m[3].as_str()))
                        .collect()
                };
                if let Some(label) = &c.label {
                    let want = if stata {
                        chars(label, 80)
                    } else {
                        cut_bytes(label, 255).to_string()
                    };
                    assert_eq!(of("label"), [("", want.as_str())], "{binary} {name}");
                }
                // haven (ReadStat) drops a value label's trailing blanks;
                // SPSS keeps 120 bytes of one.
                let mut want: BTreeSet<(String, String)> = c
                    .labels
                    .iter()
                    .map(|(code, text)| {
                        let text = if stata { text } else { cut_bytes(text, 120) };
                        (code.to_string(), text.trim_end().to_string())
                    })
                    .collect();
                let specials = [
                    (c.dont_know, ".a", "Don't know"),
                    (c.refused, ".b", "Refused"),
                ];
                for (code, tag, text) in specials {
                    let labelled = c.kind == Kind::Number || (c.kind == Kind::Date && stata);
                    if let Some(code) = code
                        && labelled
                    {
                        let value = if stata {
                            tag.to_string()
                        } else {
                            code.to_string()
                        };
                        want.insert((value, text.to_string()));
                    }
                }
                let got: BTreeSet<(String, String)> = of("value_label")
                    .into_iter()
                    .map(|(v, l)| (v.to_string(), l.to_string()))
                    .collect();
                assert_eq!(got, want, "{binary} {name}: value labels");
                checked.1 += got.len();
                let missing: Vec<String> =
                    of("na_value").iter().map(|(v, _)| v.to_string()).collect();
                let want_missing: Vec<String> = if !stata && c.kind == Kind::Number {
                    c.dont_know
                        .into_iter()
                        .chain(c.refused)
                        .map(|k| k.to_string())
                        .collect()
                } else {
                    Vec::new()
                };
                assert_eq!(missing, want_missing, "{binary} {name}: missing values");
                checked.2 += missing.len();
            }
        }
    }
    checked
}

/// The tables of PSPP's CSV output (`pspp -o out.csv`): title and rows,
/// footnote lines left out.
fn pspp_tables(text: &str) -> Vec<(String, Vec<Vec<String>>)> {
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut lines = block.lines();
        let Some(title) = lines.next().and_then(|l| l.strip_prefix("Table: ")) else {
            continue;
        };
        let body: String = lines
            .filter(|l| !l.starts_with("Footnote: "))
            .map(|l| format!("{l}\n"))
            .collect();
        let rows = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(body.as_bytes())
            .records()
            .map(|r| r.expect("a CSV row").iter().map(str::to_string).collect())
            .collect();
        out.push((title.to_string(), rows));
    }
    out
}

#[test]
fn the_sav_files_read_in_pspp_give_every_value_label_and_missing_code() {
    if !crate::util::have_pspp() {
        return;
    }
    let dir = Dir::new();
    let out = exported(&dir);
    let checked = check_in_pspp(&dir, &out);
    assert!(
        checked.0 > 150 && checked.1 > 25 && checked.2 > 10,
        "{checked:?}"
    );
}

/// (value, label, whether a user-missing value) as PSPP lists them.
type ValueLabels = BTreeSet<(String, String, bool)>;

/// Reads every `.sav` of the export `out` in PSPP and compares its
/// dictionary and cases with the CSVs and the codebook; (cells, value
/// labels, missing values) compared.
fn check_in_pspp(dir: &Dir, out: &Path) -> (usize, usize, usize) {
    let book: Json = serde_json::from_str(
        &std::fs::read_to_string(out.join("codebook.json")).expect("codebook"),
    )
    .expect("JSON");
    let levels: Vec<String> = book["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter(|f| f["written"].is_array())
        .map(|f| f["level"].as_str().expect("level").to_string())
        .collect();
    let mut syntax = String::new();
    for level in &levels {
        syntax.push_str(&format!(
            "GET FILE=\"{}\".\nDISPLAY DICTIONARY.\nLIST.\n",
            out.join(format!("{level}.sav")).display()
        ));
    }
    let script = dir.write("check.sps", &syntax);
    let result = dir.join("result.csv");
    let r = run(std::process::Command::new("pspp")
        .arg("-o")
        .arg(&result)
        .arg(&script));
    r.assert_code(0);
    let output = std::fs::read_to_string(&result).expect("pspp wrote its output");
    for text in [&r.stdout, &r.stderr, &output] {
        assert!(
            !text.contains("warning:") && !text.contains("error:"),
            "PSPP complained:\n{text}"
        );
    }
    let tables = pspp_tables(&output);
    let mut at = 0;
    let mut checked = (0, 0, 0);
    for level in &levels {
        let file = format!("{level}.csv");
        let binary = format!("{level}.sav");
        let columns = expected_columns(&book, &file);
        let names: Vec<String> = columns
            .iter()
            .map(|c| name_in(&book, &binary, &c.name))
            .collect();
        let (header, rows) = read_csv(&out.join(&file));
        assert_eq!(header.len(), columns.len());
        // The dictionary: names, labels, missing values.
        let (title, vars) = &tables[at];
        assert_eq!(title, "Variables", "{binary}");
        let head = &vars[0];
        let col = |name: &str| head.iter().position(|h| h == name).expect(name);
        let (name_at, label_at, missing_at) = (col("Name"), col("Label"), col("Missing Values"));
        assert_eq!(vars.len() - 1, columns.len(), "{binary}: variables");
        for ((row, c), name) in vars[1..].iter().zip(&columns).zip(&names) {
            assert_eq!(&row[name_at], name, "{binary}");
            if let Some(label) = &c.label {
                // SPSS keeps 255 bytes; PSPP shows them without trailing
                // blanks.
                let want = cut_bytes(label, 255).trim_end();
                assert_eq!(row[label_at], want, "{binary} {name}");
            }
            let want = if c.kind == Kind::Number {
                c.dont_know
                    .into_iter()
                    .chain(c.refused)
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            } else {
                String::new()
            };
            assert_eq!(row[missing_at], want, "{binary} {name}: missing values");
            checked.2 += usize::from(!want.is_empty());
        }
        at += 1;
        // Value labels: one group per labelled variable, in order, opened
        // by the variable's label; user-missing values carry a footnote
        // mark.
        let labelled: Vec<(usize, ValueLabels)> = columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.kind == Kind::Number)
            .map(|(i, c)| {
                let mut set: ValueLabels = c
                    .labels
                    .iter()
                    .map(|(code, text)| (code.to_string(), cut_bytes(text, 120).to_string(), false))
                    .collect();
                for (code, text) in [(c.dont_know, "Don't know"), (c.refused, "Refused")] {
                    if let Some(code) = code {
                        set.insert((code.to_string(), text.to_string(), true));
                    }
                }
                (i, set)
            })
            .filter(|(_, set)| !set.is_empty())
            .collect();
        if !labelled.is_empty() {
            let (title, rows) = &tables[at];
            assert_eq!(title, "Value Labels", "{binary}");
            let mut groups: Vec<(String, ValueLabels)> = Vec::new();
            for row in &rows[1..] {
                if !row[0].is_empty() {
                    groups.push((row[0].clone(), BTreeSet::new()));
                }
                let (value, missing) = match row[1].split_once('[') {
                    Some((v, _)) => (v.to_string(), true),
                    None => (row[1].clone(), false),
                };
                // A decimal's labels print in its format (98.00000000).
                let value = match value.trim().parse::<f64>() {
                    Ok(x) if x.fract() == 0.0 => format!("{}", x as i64),
                    _ => value,
                };
                let group = groups.last_mut().expect("a group opens the table");
                group.1.insert((value, row[2].clone(), missing));
            }
            assert_eq!(groups.len(), labelled.len(), "{binary}: labelled variables");
            for ((label, got), (i, want)) in groups.iter().zip(&labelled) {
                let own = vars[1 + i][label_at].as_str();
                assert_eq!(label, own, "{binary}: the group of {}", names[*i]);
                assert_eq!(got, want, "{binary} {}: value labels", names[*i]);
                checked.1 += got.len();
            }
            at += 1;
        }
        // The cases, cell by cell.
        let (title, list) = &tables[at];
        assert_eq!(title, "Data List", "{binary}");
        assert_eq!(list[0], names, "{binary}: the list's columns");
        assert_eq!(list.len() - 1, rows.len(), "{binary}: cases");
        for (i, (got_row, row)) in list[1..].iter().zip(&rows).enumerate() {
            for ((c, raw), got) in columns.iter().zip(row).zip(got_row) {
                let sysmis = got.trim() == "." || got.is_empty();
                let special = raw
                    .parse::<i64>()
                    .ok()
                    .is_some_and(|k| Some(k) == c.dont_know || Some(k) == c.refused);
                let ok = match c.kind {
                    Kind::Text => got == raw,
                    _ if raw.is_empty() => sysmis,
                    Kind::Date if special => sysmis,
                    Kind::Date => got.replace('/', "-") == *raw,
                    // Decimals print as F24.8.
                    Kind::Number => same_number(got, raw, 1e-8),
                };
                assert!(
                    ok,
                    "{binary} case {} column {}: PSPP {got:?}, CSV {raw:?}",
                    i + 1,
                    c.name
                );
                checked.0 += 1;
            }
        }
        at += 1;
    }
    assert_eq!(at, tables.len(), "every table of PSPP's output was read");
    checked
}

/// An instrument with names Stata or SPSS cannot take as they are: SPSS's
/// reserved `to` and `by`, PSPP's `comment`, a leading `_`, option columns
/// of 72 characters; a question of 420 bytes with quotes and commas; and
/// (in the answers) a text of 2,520 bytes: a strL in Stata (a `str#` keeps
/// 2,045 bytes), a very long string in SPSS.
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
fn names_a_format_cannot_take_are_changed_and_listed_in_the_codebook() {
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
        format!(
            "to: 2\n_x: 4\ncomment: \"{}\"\n{long}: [2]\nby: 2020-02-02\n",
            "une réponse longue, ".repeat(120)
        ),
    ] {
        run(vicor()
            .arg("run")
            .arg(&inst)
            .arg("--answers")
            .arg(dir.write("answers.yaml", &answers))
            .arg("--db")
            .arg(&db))
        .assert_code(0);
    }
    let out = dir.join("export");
    run(vicor()
        .arg("export")
        .arg("--db")
        .arg(&db)
        .arg("--out")
        .arg(&out)
        .arg("--instrument")
        .arg(&inst)
        .args(["--format", "dta", "--format", "sav,csv"]))
    .assert_code(0);
    let book: Json = serde_json::from_str(
        &std::fs::read_to_string(out.join("codebook.json")).expect("codebook"),
    )
    .expect("JSON");
    let renamed: BTreeSet<(String, String, String)> = book["renamed"]
        .as_array()
        .expect("renamed")
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().expect("a text").to_string();
            (s("file"), s("column"), s("name"))
        })
        .collect();
    let x = |n: usize| "x".repeat(n);
    let want: BTreeSet<(String, String, String)> = [
        ("main.dta", format!("{long}_1"), x(32)),
        ("main.dta", format!("{long}_2"), format!("{}_2", x(30))),
        ("main.sav", "to".into(), "to_".into()),
        ("main.sav", "_x".into(), "v_x".into()),
        ("main.sav", "comment".into(), "comment_".into()),
        ("main.sav", format!("{long}_1"), x(64)),
        ("main.sav", format!("{long}_2"), format!("{}_2", x(62))),
        ("main.sav", "by".into(), "by_".into()),
    ]
    .into_iter()
    .map(|(f, c, n)| (f.to_string(), c, n))
    .collect();
    assert_eq!(renamed, want);
    let md = std::fs::read_to_string(out.join("codebook.md")).expect("codebook.md");
    assert!(md.contains("| `main.sav` | `to` | `to_` |"), "{md}");
    // The files read back under those names, every cell and label.
    if crate::util::have_r_haven() {
        let checked = check_in_r(&dir, &out);
        assert!(checked.0 >= 2 * 2 * 13, "{checked:?}");
    }
    if crate::util::have_pspp() {
        check_in_pspp(&dir, &out);
    }
}

/// One token of a Stata command line.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    /// A string, `"…"` or compound `` `"…"' ``, with its content.
    Str(String),
    Punct(char),
}

/// Splits one line of a do-file as Stata reads it. Refused: an unclosed
/// string or compound string, a macro (`` `name' `` or `$name`) anywhere,
/// which Stata would expand, unbalanced parentheses, and characters no
/// command of the script uses.
fn stata_tokens(line: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut depth = 0i32;
    let macro_free = |s: &str| -> Result<(), String> {
        let mut prev = ' ';
        for c in s.chars() {
            if c == '`' || (c == '$' && prev != '\\') {
                return Err(format!("a macro character {c:?} in {s:?}"));
            }
            prev = c;
        }
        Ok(())
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' => i += 1,
            '`' if chars.get(i + 1) == Some(&'"') => {
                // Compound quotes nest.
                let mut level = 1;
                let mut j = i + 2;
                let start = j;
                while level > 0 {
                    match (chars.get(j), chars.get(j + 1)) {
                        (Some('`'), Some('"')) => {
                            level += 1;
                            j += 2;
                        }
                        (Some('"'), Some('\'')) => {
                            level -= 1;
                            j += 2;
                        }
                        (Some(_), _) => j += 1,
                        (None, _) => return Err("an unclosed compound string".into()),
                    }
                }
                let text: String = chars[start..j - 2].iter().collect();
                macro_free(&text)?;
                out.push(Tok::Str(text));
                i = j;
            }
            '"' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&c| c == '"')
                    .ok_or("an unclosed string")?;
                let text: String = chars[i + 1..i + 1 + end].iter().collect();
                macro_free(&text)?;
                out.push(Tok::Str(text));
                i += end + 2;
            }
            '(' | ')' | ',' | '=' | '\\' => {
                depth += match c {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                if depth < 0 {
                    return Err("a ')' before its '('".into());
                }
                out.push(Tok::Punct(c));
                i += 1;
            }
            c if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '%' | '-') => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric()
                        || matches!(chars[i], '_' | '.' | '%' | '-'))
                {
                    i += 1;
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
            c => return Err(format!("an unexpected character {c:?}")),
        }
    }
    if depth != 0 {
        return Err("unbalanced parentheses".into());
    }
    Ok(out)
}

/// A valid Stata variable or label name (32 characters at most).
fn stata_name(t: &Tok) -> Result<&str, String> {
    match t {
        Tok::Word(w)
            if w.len() <= 32
                && w.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            Ok(w)
        }
        t => Err(format!("{t:?} is not a Stata name")),
    }
}

/// Checks `import.do` of the export in `dir` command by command against
/// the grammar of the commands it uses, tracking the variables of the
/// dataset in memory (the header of each CSV it imports) and the value
/// labels defined. Stata itself is not run.
fn check_stata_script(dir: &Path) -> Result<usize, String> {
    let script = std::fs::read_to_string(dir.join("import.do")).map_err(|e| e.to_string())?;
    let mut vars: Vec<String> = Vec::new();
    let mut labels: BTreeSet<String> = BTreeSet::new();
    let mut commands = 0;
    for (n, line) in script.lines().enumerate() {
        let at = |e: String| format!("import.do:{}: {e}\n  {line}", n + 1);
        if line.trim().is_empty() || line.starts_with('*') {
            continue;
        }
        let t = stata_tokens(line).map_err(at)?;
        let word = |i: usize| match t.get(i) {
            Some(Tok::Word(w)) => w.as_str(),
            _ => "",
        };
        let var = |i: usize, vars: &[String]| -> Result<String, String> {
            let name = stata_name(t.get(i).ok_or("a variable name is missing")?)?;
            if vars.iter().any(|v| v == name) {
                Ok(name.to_string())
            } else {
                Err(format!("no variable {name} in the dataset"))
            }
        };
        let punct = |i: usize, c: char| -> Result<(), String> {
            (t.get(i) == Some(&Tok::Punct(c)))
                .then_some(())
                .ok_or(format!("{c:?} expected at token {}", i + 1))
        };
        let end = |i: usize| -> Result<(), String> {
            (t.len() == i)
                .then_some(())
                .ok_or(format!("unexpected {:?}", t.get(i)))
        };
        let string = |i: usize| -> Result<&str, String> {
            match t.get(i) {
                Some(Tok::Str(s)) => Ok(s),
                other => Err(format!("a string expected, not {other:?}")),
            }
        };
        let checked: Result<(), String> = (|| match (word(0), word(1)) {
            ("version", v) => {
                v.parse::<u32>()
                    .map_err(|_| "a version number".to_string())?;
                end(2)
            }
            ("set", "more") if word(2) == "off" => end(3),
            ("import", "delimited") => {
                if word(2) != "using" {
                    return Err("import delimited using FILE".into());
                }
                let file = string(3)?;
                let (header, _) = read_csv(&dir.join(file));
                punct(4, ',')?;
                let mut i = 5;
                while i < t.len() {
                    let option = word(i);
                    match option {
                        "clear" => i += 1,
                        "varnames" | "case" | "encoding" | "bindquote" | "stringcols" => {
                            punct(i + 1, '(')?;
                            let close = t[i..]
                                .iter()
                                .position(|x| *x == Tok::Punct(')'))
                                .ok_or("an unclosed option")?
                                + i;
                            let args = &t[i + 2..close];
                            let ok = match option {
                                "varnames" => args == [Tok::Word("1".into())],
                                "case" => args == [Tok::Word("preserve".into())],
                                "encoding" => args == [Tok::Str("utf-8".into())],
                                "bindquote" => args == [Tok::Word("strict".into())],
                                _ => args.iter().all(|a| match a {
                                    Tok::Word(w) => w
                                        .parse::<usize>()
                                        .is_ok_and(|k| k >= 1 && k <= header.len()),
                                    _ => false,
                                }),
                            };
                            if !ok {
                                return Err(format!("bad {option}() arguments {args:?}"));
                            }
                            i = close + 1;
                        }
                        o => return Err(format!("unknown option {o:?}")),
                    }
                }
                vars = header;
                for v in &vars {
                    stata_name(&Tok::Word(v.clone()))
                        .map_err(|e| format!("{file}: column {v}: {e}; Stata renames it"))?;
                }
                Ok(())
            }
            ("label", "define") => {
                let name = stata_name(t.get(2).ok_or("a label name")?)?.to_string();
                let mut i = 3;
                let mut values = BTreeSet::new();
                while let Some(Tok::Word(v)) = t.get(i) {
                    let ok = v.parse::<i32>().is_ok()
                        || (v.len() == 2
                            && v.starts_with('.')
                            && v.as_bytes()[1].is_ascii_lowercase());
                    if !ok || !values.insert(v.clone()) {
                        return Err(format!("bad or repeated value {v:?}"));
                    }
                    string(i + 1)?;
                    i += 2;
                }
                punct(i, ',')?;
                if word(i + 1) != "replace" {
                    return Err("label define …, replace".into());
                }
                labels.insert(name);
                end(i + 2)
            }
            ("label", "values") => {
                var(2, &vars)?;
                let name = stata_name(t.get(3).ok_or("a label name")?)?;
                if !labels.contains(name) {
                    return Err(format!("value label {name} is not defined"));
                }
                end(4)
            }
            ("label", "variable") => {
                var(2, &vars)?;
                let text = string(3)?;
                if text.chars().count() > 80 {
                    return Err("a variable label over 80 characters".into());
                }
                end(4)
            }
            ("mvdecode", _) => {
                let mut i = 1;
                while let Some(Tok::Word(_)) = t.get(i) {
                    var(i, &vars)?;
                    i += 1;
                }
                if i == 1 {
                    return Err("mvdecode needs variables".into());
                }
                punct(i, ',')?;
                if word(i + 1) != "mv" {
                    return Err("mvdecode …, mv(…)".into());
                }
                punct(i + 2, '(')?;
                let mut j = i + 3;
                loop {
                    word(j).parse::<i64>().map_err(|_| "a code".to_string())?;
                    punct(j + 1, '=')?;
                    if !matches!(word(j + 2), ".a" | ".b") {
                        return Err("a code becomes .a or .b".into());
                    }
                    j += 3;
                    if t.get(j) == Some(&Tok::Punct('\\')) {
                        j += 1;
                        continue;
                    }
                    break;
                }
                punct(j, ')')?;
                end(j + 1)
            }
            ("generate", "double") => {
                let new = stata_name(t.get(2).ok_or("a new name")?)?.to_string();
                if vars.contains(&new) {
                    return Err(format!("{new} exists already"));
                }
                punct(3, '=')?;
                if word(4) != "date" {
                    return Err("only date() is generated".into());
                }
                punct(5, '(')?;
                var(6, &vars)?;
                punct(7, ',')?;
                if string(8)? != "YMD" {
                    return Err("date(…, \"YMD\")".into());
                }
                punct(9, ')')?;
                end(10)?;
                vars.push(new);
                Ok(())
            }
            ("format", _) => {
                var(1, &vars)?;
                if word(2) != "%td" {
                    return Err("format VAR %td".into());
                }
                end(3)
            }
            ("order", _) => {
                var(1, &vars)?;
                punct(2, ',')?;
                if word(3) != "after" {
                    return Err("order VAR, after(VAR)".into());
                }
                punct(4, '(')?;
                var(5, &vars)?;
                punct(6, ')')?;
                end(7)
            }
            ("drop", _) => {
                let v = var(1, &vars)?;
                vars.retain(|x| *x != v);
                end(2)
            }
            ("rename", _) => {
                let old = var(1, &vars)?;
                let new = stata_name(t.get(2).ok_or("a new name")?)?.to_string();
                if vars.contains(&new) {
                    return Err(format!("{new} exists already"));
                }
                for v in &mut vars {
                    if *v == old {
                        v.clone_from(&new);
                    }
                }
                end(3)
            }
            ("save", _) => {
                if !string(1)?.ends_with(".dta") {
                    return Err("save \"FILE.dta\"".into());
                }
                punct(2, ',')?;
                if word(3) != "replace" {
                    return Err("save …, replace".into());
                }
                end(4)
            }
            (c, _) => Err(format!("a command the script does not use: {c:?}")),
        })();
        checked.map_err(at)?;
        commands += 1;
    }
    Ok(commands)
}

/// Question texts with every character that could break a do-file: quotes,
/// a compound-quote closer, a backtick, a dollar, a backslash (braces are
/// fills; the example's texts have them).
fn tricky_instrument() -> String {
    "\
id: tricky
version: \"1\"
title: {en: Tricky}
languages: [en]
default_language: en
special_codes: {dont_know: 98, refused: 99}
sections:
  - id: s
    title: {en: S}
    items:
      - id: q1
        type: single
        text: {en: 'He said \"stop\"'' now, `x'' costs $HOME 100% \\ done'}
        options:
          - {code: 1, label: {en: 'a \"b\"'' `c'' $d'}}
          - {code: 2, label: {en: two}}
      - id: q2
        type: date
        text: {en: '`\"when\"'''}
      - id: q3
        type: text
        text: {en: any $1 comment}
"
    .to_string()
}

/// `import.do` is not run (there is no Stata here): each line is
/// tokenized as Stata would (strings, compound quotes, macros) and checked
/// against the grammar of the few commands the script uses, with the
/// dataset's variables and value labels followed from command to command.
/// What this does not prove: that Stata accepts every option (its
/// `import delimited` semantics, the encoding, `bindquote`), reads the
/// CSV's types as meant, or converts dates as `date(…, "YMD")` should.
#[test]
fn the_stata_script_parses_command_by_command() {
    let dir = Dir::new();
    let out = exported(&dir);
    let commands = check_stata_script(&out).unwrap_or_else(|e| panic!("{e}"));
    assert!(commands > 40, "{commands} commands");
    // Texts that could break the script are quoted safely.
    let inst = dir.write("tricky.yaml", &tricky_instrument());
    let db = dir.join("tricky.db");
    run(vicor()
        .arg("run")
        .arg(&inst)
        .arg("--answers")
        .arg(dir.write("t.yaml", "q1: 1\nq2: dk\nq3: \"it's $5, `ok'\"\n"))
        .arg("--db")
        .arg(&db))
    .assert_code(0);
    let tricky = dir.join("tricky");
    run(vicor()
        .arg("export")
        .arg("--db")
        .arg(&db)
        .arg("--out")
        .arg(&tricky)
        .arg("--instrument")
        .arg(&inst))
    .assert_code(0);
    check_stata_script(&tricky).unwrap_or_else(|e| panic!("{e}"));
    // The check is not a formality: it catches what Stata would stop on.
    for (bad, why) in [
        ("label variable q1 `\"a `b' c\"'", "macro"),
        ("label variable q1 \"costs $HOME\"", "macro"),
        ("label variable q1 `\"unclosed\"", "unclosed"),
        ("label values q1 nolabel", "not defined"),
        ("label variable nosuch \"x\"", "no variable"),
        ("mvdecode q1, mv(98=.a \\ 99=.b", "unbalanced"),
        ("tabulate q1", "does not use"),
    ] {
        let broken = dir.join(&format!("broken-{}", why.replace(' ', "-")));
        std::fs::create_dir_all(&broken).expect("mkdir");
        std::fs::copy(tricky.join("main.csv"), broken.join("main.csv")).expect("copy");
        std::fs::write(
            broken.join("import.do"),
            format!("import delimited using \"main.csv\", clear varnames(1)\n{bad}\n"),
        )
        .expect("write");
        let err = check_stata_script(&broken).expect_err(bad);
        assert!(err.contains(why), "{bad}: {err}");
    }
}

/// pyarrow reads every Parquet file and writes its column names, types,
/// cells (`<null>` for a null, floats in Python's shortest repr, dates ISO)
/// and key-value metadata.
const PY_READER: &str = r#"
import csv, glob, json, os, sys
import pyarrow.parquet as pq
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.parquet"))):
    t = pq.read_table(path)
    with open(path + "-py.csv", "w", newline="", encoding="utf-8") as out:
        w = csv.writer(out)
        w.writerow(t.column_names)
        w.writerow([str(f.type) for f in t.schema])
        columns = [t.column(i).to_pylist() for i in range(t.num_columns)]
        for r in range(t.num_rows):
            row = []
            for c in columns:
                v = c[r]
                if v is None:
                    row.append("<null>")
                elif isinstance(v, float):
                    row.append(repr(v))
                elif hasattr(v, "isoformat"):
                    row.append(v.isoformat())
                else:
                    row.append(str(v))
            w.writerow(row)
    meta = {k.decode(): v.decode() for k, v in (t.schema.metadata or {}).items()}
    with open(path + "-py.json", "w", encoding="utf-8") as out:
        json.dump(meta, out)
"#;

#[test]
fn the_parquet_files_read_in_pyarrow_give_every_value_and_label() {
    if !crate::util::have_pyarrow() {
        return;
    }
    let dir = Dir::new();
    let out = exported(&dir);
    let script = dir.write("read.py", PY_READER);
    run(std::process::Command::new("python3").arg(&script).arg(&out)).assert_code(0);
    let book: Json = serde_json::from_str(
        &std::fs::read_to_string(out.join("codebook.json")).expect("codebook"),
    )
    .expect("JSON");
    let mut checked = (0, 0);
    for entry in book["files"].as_array().expect("files") {
        if !entry["written"].is_array() {
            continue;
        }
        let file = entry["file"].as_str().expect("file");
        let level = file.strip_suffix(".csv").expect("a level's CSV");
        let binary = format!("{level}.parquet");
        let columns = expected_columns(&book, file);
        let (header, rows) = read_csv(&out.join(file));
        let (names, got) = read_csv(&out.join(format!("{binary}-py.csv")));
        assert_eq!(names, header, "{binary}: the CSV's names");
        let (types, cells) = got.split_first().expect("a row of types");
        assert_eq!(cells.len(), rows.len(), "{binary}: rows");
        for (c, t) in columns.iter().zip(types) {
            let want = match c.kind {
                Kind::Text => "string",
                Kind::Date => "date32[day]",
                Kind::Number if c.decimal => "double",
                Kind::Number => "int64",
            };
            assert_eq!(t, want, "{binary} {}", c.name);
        }
        for (i, (got_row, row)) in cells.iter().zip(&rows).enumerate() {
            for ((c, raw), got) in columns.iter().zip(row).zip(got_row) {
                let null = got == "<null>";
                let special = raw
                    .parse::<i64>()
                    .ok()
                    .is_some_and(|k| Some(k) == c.dont_know || Some(k) == c.refused);
                let ok = match c.kind {
                    _ if raw.is_empty() => null,
                    Kind::Text => got == raw,
                    Kind::Date if special => null,
                    Kind::Date => got == raw,
                    // DK and RF keep their codes, as in the CSV.
                    Kind::Number => same_number(got, raw, 0.0),
                };
                assert!(
                    ok,
                    "{binary} row {} column {}: pyarrow {got:?}, CSV {raw:?}",
                    i + 1,
                    c.name
                );
                checked.0 += 1;
            }
        }
        // The labels, in the metadata.
        let meta: Json = serde_json::from_str(
            &std::fs::read_to_string(out.join(format!("{binary}-py.json"))).expect("metadata"),
        )
        .expect("JSON");
        let described: Json =
            serde_json::from_str(meta["vicor.columns"].as_str().expect("vicor.columns"))
                .expect("JSON");
        let described = described.as_array().expect("columns");
        assert_eq!(described.len(), columns.len(), "{binary}");
        for (c, d) in columns.iter().zip(described) {
            assert_eq!(d["name"], c.name.as_str());
            if let Some(label) = &c.label {
                assert_eq!(d["label"], label.as_str(), "{binary} {}", c.name);
            }
            let labels: Vec<(i64, String)> = d["labels"]
                .as_array()
                .expect("labels")
                .iter()
                .map(|l| {
                    (
                        l["code"].as_i64().expect("code"),
                        l["label"].as_str().expect("label").to_string(),
                    )
                })
                .collect();
            assert_eq!(labels, c.labels, "{binary} {}", c.name);
            assert_eq!(
                (d["dont_know"].as_i64(), d["refused"].as_i64()),
                (c.dont_know, c.refused),
                "{binary} {}",
                c.name
            );
            checked.1 += labels.len();
        }
    }
    assert!(checked.0 > 150 && checked.1 > 30, "{checked:?}");
}

/// Without `csv`, the level CSVs the binary files were made from are not
/// kept, nor the import scripts that read them; the paradata and the
/// durations stay CSV, the design file is there, and the codebook says
/// what was written.
#[test]
fn an_export_without_csv_keeps_only_the_files_asked_for() {
    let dir = Dir::new();
    let db = dir.join("cases.db");
    run_script(&fixture("answers/example-complete.yaml"), &db);
    let out = dir.join("export");
    let r = run(vicor()
        .arg("export")
        .arg("--db")
        .arg(&db)
        .arg("--out")
        .arg(&out)
        .args(["--format", "parquet"]));
    r.assert_code(0);
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .expect("the export")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    let book: Json = serde_json::from_str(
        &std::fs::read_to_string(out.join("codebook.json")).expect("codebook"),
    )
    .expect("JSON");
    assert_eq!(book["formats"], serde_json::json!(["parquet"]));
    let mut want: Vec<String> = book["files"]
        .as_array()
        .expect("files")
        .iter()
        .flat_map(|f| match f["written"].as_array() {
            Some(w) => w
                .iter()
                .map(|n| n.as_str().expect("a name").to_string())
                .collect(),
            None => vec![f["file"].as_str().expect("a file").to_string()],
        })
        .chain(["codebook.json", "codebook.md", "design.yaml"].map(String::from))
        .collect();
    want.sort();
    assert_eq!(names, want);
    assert!(names.iter().any(|n| n == "main.parquet") && names.iter().any(|n| n == "paradata.csv"));
    assert!(
        !names
            .iter()
            .any(|n| n == "main.csv" || n.starts_with("import."))
    );
    // The summary names the files written, with their rows.
    assert!(
        r.stdout.contains("main.parquet") && !r.stdout.contains("main.csv"),
        "{}",
        r.stdout
    );
}
