//! `vicor import-xlsform`: an XLSForm questionnaire (.xlsx) into vicor's
//! YAML instrument language.
//!
//! The `survey`, `choices` and `settings` sheets are read with every cell's
//! place ([`sheet`]); groups become sections (or, nested, a condition on
//! their questions), repeats become rosters, and `relevant`, `constraint`,
//! `calculation` and `choice_filter` are translated ([`translate`]). What
//! has no equivalent is never dropped silently: it is returned as a
//! [`Finding`] with its sheet, row and column, and written as a comment at
//! the top of the YAML. The YAML is checked by vicor's own loader before
//! anything is written; problems found there are traced back to the cell.
//!
//! This module does no terminal output; `main.rs` prints the findings and
//! writes the file (to a temporary name, renamed on success).

pub mod sheet;
mod survey;
pub mod translate;

use std::fmt;
use std::path::Path;

pub use sheet::CellRef;

/// One thing to tell the form's author, at a cell when it has one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub cell: Option<CellRef>,
    pub message: String,
    /// What to do about it (may be empty).
    pub help: String,
}

impl Finding {
    pub fn at(cell: CellRef, message: impl Into<String>, help: impl Into<String>) -> Finding {
        Finding {
            cell: Some(cell),
            message: message.into(),
            help: help.into(),
        }
    }

    /// `FORM.xlsx: sheet survey, row 12, column relevant: message; help`.
    pub fn render(&self, file: &str) -> String {
        let mut s = match &self.cell {
            Some(c) => format!("{file}: {c}: {}", self.message),
            None => format!("{file}: {}", self.message),
        };
        if !self.help.is_empty() {
            s.push_str("; ");
            s.push_str(&self.help);
        }
        s
    }
}

/// Why a form could not be imported. Nothing is written in any of these.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file cannot be read (missing, no permission).
    #[error("cannot read {path}: {message}")]
    Io { path: String, message: String },
    /// Not a zip archive, so not .xlsx: an .xls, a CSV renamed, a text file.
    #[error(
        "{path} is not an .xlsx file (it is not a zip archive); save the form from the spreadsheet program as an Excel Workbook (.xlsx)"
    )]
    NotZip { path: String },
    /// A zip archive without an Excel workbook inside.
    #[error(
        "{path} is a zip archive but not an .xlsx workbook ({detail}); save the form as an Excel Workbook (.xlsx)"
    )]
    NotXlsx { path: String, detail: String },
    /// The workbook has no `survey` sheet, or that sheet lacks `type`/`name`.
    #[error("{}", render_all(path, findings))]
    NotXlsform {
        path: String,
        findings: Vec<Finding>,
    },
    /// The form is XLSForm but wrong: a missing choice list, a circular
    /// `relevant`, an unclosed group, a duplicate name.
    #[error("{}", render_all(path, findings))]
    Invalid {
        path: String,
        findings: Vec<Finding>,
    },
}

fn render_all(path: &str, findings: &[Finding]) -> String {
    let lines: Vec<String> = findings.iter().map(|f| f.render(path)).collect();
    let n = findings.len();
    format!(
        "{}\n{n} problem(s) in {path}; nothing was written",
        lines.join("\n")
    )
}

/// A translated form.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The instrument, ready to write.
    pub yaml: String,
    /// What was not translated, or translated with an adaptation, by cell.
    pub findings: Vec<Finding>,
    pub summary: Summary,
}

/// What the instrument holds, for the command's closing line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub sections: usize,
    pub rosters: usize,
    pub items: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} section(s), {} roster(s), {} item(s)",
            self.sections, self.rosters, self.items
        )
    }
}

/// Reads and translates the form at `path`; `out_name` is the file name the
/// YAML will have (used in its diagnostics).
pub fn import(path: &Path, out_name: &str) -> Result<Imported, ImportError> {
    let shown = path.display().to_string();
    let book = sheet::read(path)?;
    survey::convert(&shown, &book, out_name)
}

/// Writes `text` to `out` through a temporary file in the same directory,
/// renamed only once it is complete, so a failure leaves no half-written
/// instrument (and an existing one untouched).
pub fn write_atomically(out: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "instrument.yaml".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, out)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
