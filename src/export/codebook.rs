//! `codebook.json` (for programs) and `codebook.md` (for people): every
//! file, every variable with its type, question text and labels in every
//! language, DK/RF codes, level and universe.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value as Json, json};

use crate::instrument::Instrument;
use crate::instrument::model::Text;

use super::layout::{CASE_COLUMNS, Layout, VarType, Variable};
use super::tables::{DURATION_COLUMNS, NOTE_COLUMNS, PARADATA_COLUMNS};
use super::{ExportError, Options, StatusFilter, text_file};

/// What the codebook and the scripts say about the export as a whole.
pub struct Meta<'m> {
    /// The instrument versions the cases use, oldest given first.
    pub instruments: &'m [&'m Instrument],
    /// (version, hash, cases).
    pub versions: &'m [(String, String, usize)],
    pub options: &'m Options,
    pub cases: usize,
    /// (file, rows).
    pub files: &'m [(String, usize)],
    /// Rows of each level, in layout order.
    pub level_rows: &'m [usize],
    /// The formats of the level files.
    pub formats: &'m [super::Format],
    /// Columns a binary format names otherwise than the CSV.
    pub renamed: &'m [Renamed],
}

/// A column that a binary file names otherwise than the CSV header (a
/// name too long or not allowed there).
#[derive(Debug, Clone)]
pub struct Renamed {
    /// The file, e.g. `main.dta`.
    pub file: String,
    /// The CSV header (the codebook's column name).
    pub column: String,
    /// Its name in `file`.
    pub name: String,
}

/// The files written for a level (CSV and binary), in format order.
fn level_files(meta: &Meta, level: &str) -> Vec<String> {
    meta.formats
        .iter()
        .map(|f| format!("{level}.{}", f.extension()))
        .collect()
}

impl Meta<'_> {
    /// The newest instrument (the last given): its texts are used.
    pub fn instrument(&self) -> &Instrument {
        self.instruments
            .last()
            .expect("an export has at least one instrument")
    }
}

fn text_json(text: &Option<Text>) -> Json {
    match text {
        Some(t) => json!(t.by_language),
        None => Json::Null,
    }
}

/// A value label; `iccs` only where the option carries a code, so that
/// codebooks of instruments without ICCS codes read as before.
fn label_json(l: &super::layout::Label) -> Json {
    let mut label = json!({"code": l.code, "label": l.text.by_language});
    if let (Some(code), Json::Object(m)) = (&l.iccs, &mut label) {
        m.insert("iccs".into(), json!(code));
    }
    label
}

fn variable_json(layout: &Layout, v: &Variable) -> Json {
    let level = &layout.levels[v.level];
    let mut variable = json!({
        "name": v.name,
        "file": level.file(),
        "level": level.id,
        "type": v.var_type.as_str(),
        "item_kind": v.kind,
        "columns": v.columns(),
        "text": text_json(&v.text),
        "instruction": text_json(&v.instruction),
        "labels": v.labels.iter().map(label_json).collect::<Vec<_>>(),
        "missing_codes": {"dont_know": v.dont_know, "refused": v.refused},
        "universe": v.universe,
        "computed": v.computed,
        "draws_from": v.draws_from,
        "indicators": v.indicators,
        "wording_adapted": v.wording_adapted,
        "versions": v.versions,
    });
    // Absent where the item has no code, so that codebooks of instruments
    // without ICCS codes read as before.
    if let (Some(code), Json::Object(m)) = (&v.iccs, &mut variable) {
        m.insert("iccs".into(), json!(code));
    }
    variable
}

pub fn write(layout: &Layout, meta: &Meta, dir: &Path) -> Result<(), ExportError> {
    let inst = meta.instrument();
    let rows = |file: &str| {
        meta.files
            .iter()
            .find(|(f, _)| f == file)
            .map_or(0, |(_, n)| *n)
    };
    let mut files: Vec<Json> = layout
        .levels
        .iter()
        .zip(meta.level_rows)
        .map(|(l, &level_rows)| {
            json!({
                "file": l.file(),
                "level": l.id,
                "title": text_json(&l.title),
                "keys": l.columns[..l.keys].to_vec(),
                "parent": if l.chain.len() > 1 { Some(format!("{}.csv", l.chain[l.chain.len() - 2])) } else if l.chain.is_empty() { None } else { Some("main.csv".to_string()) },
                "row_labels": l.row_labels.iter().map(|r| json!({"code": r.code, "label": r.text.by_language})).collect::<Vec<_>>(),
                "rows": level_rows,
                "written": level_files(meta, &l.id),
                "columns": l.columns,
            })
        })
        .collect();
    files.push(json!({"file": "paradata.csv", "level": "event", "keys": ["case_id", "seq"], "rows": rows("paradata.csv"), "columns": PARADATA_COLUMNS}));
    files.push(json!({"file": "durations.csv", "level": "case", "keys": ["case_id"], "rows": rows("durations.csv"), "columns": DURATION_COLUMNS}));
    if meta.options.include_pii {
        files.push(json!({"file": "notes.csv", "level": "note", "keys": ["case_id", "seq"], "rows": rows("notes.csv"), "columns": NOTE_COLUMNS}));
    }
    let codebook = json!({
        "format": "vicor-codebook/1",
        "instrument": {
            "id": inst.id,
            "title": inst.title.by_language,
            "versions": meta.versions.iter().map(|(v, h, n)| json!({"version": v, "hash": h, "cases": n})).collect::<Vec<_>>(),
        },
        "languages": inst.languages,
        "default_language": inst.default_language,
        "special_codes": {"dont_know": inst.special.dont_know, "refused": inst.special.refused},
        "cases": meta.cases,
        "status": match meta.options.status { StatusFilter::Complete => "complete", StatusFilter::All => "all" },
        "include_pii": meta.options.include_pii,
        "left_out_pii": layout.left_out,
        "case_columns": CASE_COLUMNS,
        "selected_respondent": "main.csv has one row per case: the household's answers and those of the selected respondent, whose questions are items outside any roster; a random item (type random_row) holds the row key of the roster row drawn, e.g. the selected person's members_row",
        "formats": meta.formats.iter().map(|f| f.extension()).collect::<Vec<_>>(),
        "files": files,
        "renamed": meta.renamed.iter().map(|r| json!({"file": r.file, "column": r.column, "name": r.name})).collect::<Vec<_>>(),
        "variables": layout.variables.iter().map(|v| variable_json(layout, v)).collect::<Vec<_>>(),
    });
    let mut codebook = codebook;
    // An export in CSV alone keeps the codebook it had before `--format`.
    if meta.formats == [super::Format::Csv]
        && let Some(book) = codebook.as_object_mut()
    {
        book.remove("formats");
        book.remove("renamed");
        if let Some(Json::Array(files)) = book.get_mut("files") {
            for f in files.iter_mut().filter_map(Json::as_object_mut) {
                f.remove("written");
            }
        }
    }
    let text = serde_json::to_string_pretty(&codebook).expect("a JSON value always serializes");
    text_file(dir, "codebook.json", &(text + "\n"))?;
    text_file(dir, "codebook.md", &markdown(layout, meta))
}

/// A table cell: no pipes or line breaks.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn markdown(layout: &Layout, meta: &Meta) -> String {
    let inst = meta.instrument();
    let lang = inst.default_language.as_str();
    let mut s = String::new();
    let _ = writeln!(s, "# Codebook: {}\n", inst.title.get(lang));
    let versions: Vec<String> = meta
        .versions
        .iter()
        .map(|(v, h, n)| format!("version {v} (hash {h}): {n} cases"))
        .collect();
    let _ = writeln!(
        s,
        "Instrument `{}`; {}. Cases exported: {} ({}). Languages: {}.\n",
        inst.id,
        versions.join("; "),
        meta.cases,
        match meta.options.status {
            StatusFilter::Complete => "completed interviews only",
            StatusFilter::All => "every case, whatever its status",
        },
        inst.languages.join(", ")
    );
    let _ = writeln!(
        s,
        "**Missing values.** An empty cell is an item that was skipped (not on the case's path) or not asked. \
         Don't know is coded {}, refused {} (the instrument's codes), where the item allows them; \
         a multiple choice answered don't know or refused carries the code in each of its option columns. \
         A multiple choice is one 0/1 column per option (`item_code`).\n",
        inst.special.dont_know, inst.special.refused
    );
    let _ = writeln!(
        s,
        "**The selected respondent.** Random items (type `random_row`) hold the row key of the roster row drawn: \
         e.g. a Kish selection gives the line number of the selected person in the household roster file. \
         The respondent's own questions are items outside any roster, so they are in `main.csv`, \
         one row per case, beside the household's.\n"
    );
    if layout
        .variables
        .iter()
        .any(|v| v.iccs.is_some() || v.labels.iter().any(|l| l.iccs.is_some()))
    {
        let _ = writeln!(
            s,
            "**Crime types.** A question about a crime type, and an option that stands for one, \
             carries the code of its category in the ICCS (UNODC International Classification of Crime \
             for Statistical Purposes), e.g. `[ICCS 0401]` robbery, `[ICCS 05012]` burglary of a home.\n"
        );
    }
    if !layout.left_out.is_empty() {
        let _ = writeln!(
            s,
            "**Personal identifiers left out** (`pii` items; export with `--include-pii` to keep them): {}.\n",
            layout
                .left_out
                .iter()
                .map(|i| format!("`{i}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = writeln!(
        s,
        "## Files\n\n| file | one row per | keys | rows |\n|---|---|---|---|"
    );
    for l in &layout.levels {
        let what = match &l.title {
            _ if l.chain.is_empty() => "case (household and selected respondent)".to_string(),
            Some(t) => format!("row of roster `{}` ({})", l.id, cell(t.get(lang))),
            None => format!("row of roster `{}`", l.id),
        };
        let rows = layout
            .levels
            .iter()
            .position(|m| m.id == l.id)
            .and_then(|i| meta.level_rows.get(i))
            .copied()
            .unwrap_or(0);
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {} |",
            l.file(),
            what,
            l.columns[..l.keys].join(", "),
            rows
        );
    }
    let _ = writeln!(
        s,
        "| `paradata.csv` | event (append-only log of the interview) | case_id, seq | {} |",
        meta.files
            .iter()
            .find(|(f, _)| f == "paradata.csv")
            .map_or(0, |(_, n)| *n)
    );
    let _ = writeln!(
        s,
        "| `durations.csv` | case: wall-clock and active interview time | case_id | {} |\n",
        meta.cases
    );
    let _ = writeln!(
        s,
        "`main.csv` also has the case columns {}.\n",
        CASE_COLUMNS.map(|c| format!("`{c}`")).join(", ")
    );
    if meta.formats != [super::Format::Csv] {
        let written: Vec<String> = layout
            .levels
            .iter()
            .flat_map(|l| level_files(meta, &l.id))
            .map(|f| format!("`{f}`"))
            .collect();
        let _ = writeln!(
            s,
            "**Formats.** Each level is written as {} (the file names above are the levels' CSV names).\n",
            written.join(", ")
        );
    }
    if !meta.renamed.is_empty() {
        let _ = writeln!(
            s,
            "**Renamed columns.** These columns have another name in a binary file, \
             where the CSV name is too long or not allowed:\n\n| file | column | name there |\n|---|---|---|"
        );
        for r in meta.renamed {
            let _ = writeln!(s, "| `{}` | `{}` | `{}` |", r.file, r.column, r.name);
        }
        s.push('\n');
    }
    for l in &layout.levels {
        let _ = writeln!(s, "## {}\n", l.file());
        if !l.row_labels.is_empty() {
            let rows: Vec<String> = l
                .row_labels
                .iter()
                .map(|r| format!("{} = {}", r.code, cell(r.text.get(lang))))
                .collect();
            let _ = writeln!(s, "Rows (`{}_row`): {}.\n", l.id, rows.join("; "));
        }
        let _ = writeln!(
            s,
            "| variable | type | question | values | DK / RF | universe |\n|---|---|---|---|---|---|"
        );
        for &i in &l.variables {
            let v = &layout.variables[i];
            let mut question = v
                .text
                .as_ref()
                .map(|t| t.get(lang).to_string())
                .unwrap_or_default();
            if let Some(c) = &v.computed {
                question = format!("computed: `{c}`");
            }
            if let Some(r) = &v.draws_from {
                question = format!("row of `{r}` drawn at random");
            }
            if let Some(code) = &v.iccs {
                question = format!("{question} [ICCS {code}]");
            }
            let iccs = |l: &super::layout::Label| {
                l.iccs
                    .as_ref()
                    .map(|c| format!(" [ICCS {c}]"))
                    .unwrap_or_default()
            };
            let values = match v.var_type {
                VarType::MultipleChoice => v
                    .labels
                    .iter()
                    .map(|l| {
                        format!(
                            "`{}` {}{}",
                            super::layout::option_column(&v.name, l.code),
                            cell(l.text.get(lang)),
                            iccs(l)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                VarType::Boolean => "1 true, 0 false".into(),
                _ => v
                    .labels
                    .iter()
                    .map(|l| format!("{} {}{}", l.code, cell(l.text.get(lang)), iccs(l)))
                    .collect::<Vec<_>>()
                    .join("; "),
            };
            let special = match (v.dont_know, v.refused) {
                (Some(d), Some(r)) => format!("{d} / {r}"),
                (Some(d), None) => format!("{d} / –"),
                (None, Some(r)) => format!("– / {r}"),
                (None, None) => "–".into(),
            };
            let mut name = format!("`{}`", v.name);
            if v.versions.len() < meta.versions.len() {
                name.push_str(&format!(" (versions {})", v.versions.join(", ")));
            }
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                name,
                v.var_type.as_str(),
                cell(&question),
                values,
                special,
                v.universe
                    .as_deref()
                    .map(|u| format!("`{}`", cell(u)))
                    .unwrap_or_else(|| "all".into())
            );
        }
        let _ = writeln!(s);
    }
    s
}

/// The crime types of an exported codebook (`codebook.json`): for each
/// single-choice variable whose options carry ICCS codes, its values as the
/// CSV writes them (the option codes) → the code. `vicor estimate
/// --codebook` reads it to give estimates by crime type their ICCS codes.
pub fn crime_types(text: &str) -> Result<HashMap<String, HashMap<String, String>>, String> {
    let book: Json =
        serde_json::from_str(text).map_err(|e| format!("not a vicor codebook (JSON): {e}"))?;
    let Some(variables) = book.get("variables").and_then(Json::as_array) else {
        return Err("not a vicor codebook: it has no `variables` list".into());
    };
    let mut out = HashMap::new();
    for v in variables {
        let (Some(name), Some(labels)) = (
            v.get("name").and_then(Json::as_str),
            v.get("labels").and_then(Json::as_array),
        ) else {
            continue;
        };
        if v.get("type").and_then(Json::as_str) == Some(VarType::MultipleChoice.as_str()) {
            continue;
        }
        let codes: HashMap<String, String> = labels
            .iter()
            .filter_map(|l| {
                let code = l.get("code").and_then(Json::as_i64)?;
                let iccs = l.get("iccs").and_then(Json::as_str)?;
                Some((code.to_string(), iccs.to_string()))
            })
            .collect();
        if !codes.is_empty() {
            out.insert(name.to_string(), codes);
        }
    }
    Ok(out)
}
