//! Reading an .xlsx workbook into sheets of text cells that remember where
//! they stand (sheet, row, column), so that every later message can point
//! to the spreadsheet cell the form's author has to fix.
//!
//! Only this file names calamine. Cells are read as text: XLSForm holds
//! names, labels and expressions, and a number typed into a cell (a choice
//! name `1`, a `repeat_count` of `3`) is written back as Excel shows it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use calamine::{Data, Reader, Xlsx};

use crate::xlsform::{Finding, ImportError};

/// Where a cell stands: `sheet survey, row 12, column relevant`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct CellRef {
    pub sheet: String,
    /// 1-based, as the spreadsheet program numbers rows.
    pub row: u32,
    /// The column's header (`relevant`, `label::French (fr)`), or its letter
    /// when the header itself is meant.
    pub column: String,
}

impl CellRef {
    pub fn new(sheet: &str, row: u32, column: &str) -> CellRef {
        CellRef {
            sheet: sheet.to_string(),
            row,
            column: column.to_string(),
        }
    }
}

impl fmt::Display for CellRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sheet {}, row {}, column {}",
            self.sheet, self.row, self.column
        )
    }
}

/// A column of a sheet: its header as written and its lower-cased key.
#[derive(Debug, Clone)]
pub struct Column {
    /// The header as written, e.g. `label::English (en)`.
    pub header: String,
    /// Lower case, spaces around `::` removed: how columns are looked up.
    pub key: String,
}

/// One row under the header: the spreadsheet row number and a cell per
/// column (trimmed; empty cells are `None`).
#[derive(Debug, Clone)]
pub struct Row {
    pub number: u32,
    pub cells: Vec<Option<String>>,
}

/// A sheet read below its header row.
#[derive(Debug, Clone)]
pub struct Sheet {
    /// The sheet's name as written in the workbook.
    pub name: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
    /// The row number of the header (1 unless blank rows precede it).
    pub header_row: u32,
}

impl Sheet {
    /// The index of the column whose key is `key`.
    pub fn column(&self, key: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.key == key)
    }

    /// The non-empty cell of `row` in column `key`.
    pub fn get<'r>(&self, row: &'r Row, key: &str) -> Option<&'r str> {
        let i = self.column(key)?;
        row.cells.get(i).and_then(|c| c.as_deref())
    }

    /// The cell's place, for messages, with the header as written.
    pub fn at(&self, row: &Row, key: &str) -> CellRef {
        let header = self
            .column(key)
            .map(|i| self.columns[i].header.clone())
            .unwrap_or_else(|| key.to_string());
        CellRef::new(&self.name, row.number, &header)
    }
}

/// The sheets of a workbook, by lower-cased name.
#[derive(Debug, Clone, Default)]
pub struct Workbook {
    pub sheets: BTreeMap<String, Sheet>,
    /// Sheet names in workbook order, as written (for messages).
    pub names: Vec<String>,
}

impl Workbook {
    pub fn sheet(&self, name: &str) -> Option<&Sheet> {
        self.sheets.get(name)
    }
}

/// Reads every sheet of the workbook at `path`.
///
/// A file that is not a zip archive is refused before calamine sees it, so
/// that the message says what the file is not rather than what a zip reader
/// stumbled on.
pub fn read(path: &Path) -> Result<Workbook, ImportError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| ImportError::Io {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    if !bytes.starts_with(b"PK\x03\x04") && !bytes.starts_with(b"PK\x05\x06") {
        return Err(ImportError::NotZip { path: shown });
    }
    let mut book: Xlsx<_> =
        Xlsx::new(std::io::Cursor::new(bytes)).map_err(|e| ImportError::NotXlsx {
            path: shown.clone(),
            detail: e.to_string(),
        })?;
    let names = book.sheet_names();
    let mut out = Workbook {
        names: names.clone(),
        ..Workbook::default()
    };
    for name in names {
        let range = book
            .worksheet_range(&name)
            .map_err(|e| ImportError::NotXlsx {
                path: shown.clone(),
                detail: format!("sheet {name}: {e}"),
            })?;
        let sheet = from_range(&name, &range);
        out.sheets.insert(name.trim().to_lowercase(), sheet);
    }
    Ok(out)
}

fn from_range(name: &str, range: &calamine::Range<Data>) -> Sheet {
    let (row0, col0) = range.start().unwrap_or((0, 0));
    let mut rows = range.rows().enumerate().map(|(i, cells)| {
        let number = row0 + i as u32 + 1;
        (number, cells.iter().map(text).collect::<Vec<_>>())
    });
    // The header is the first row with anything in it.
    let mut header_row = 1;
    let mut columns = Vec::new();
    for (number, cells) in rows.by_ref() {
        if cells.iter().all(Option::is_none) {
            continue;
        }
        header_row = number;
        columns = cells
            .iter()
            .enumerate()
            .map(|(j, c)| {
                let header = c
                    .clone()
                    .unwrap_or_else(|| letter(col0 + j as u32).to_string());
                Column {
                    key: column_key(&header),
                    header,
                }
            })
            .collect();
        break;
    }
    let rows = rows
        .filter(|(_, cells)| cells.iter().any(Option::is_some))
        .map(|(number, cells)| Row { number, cells })
        .collect();
    Sheet {
        name: name.to_string(),
        columns,
        rows,
        header_row,
    }
}

/// The lookup key of a header: lower case, no spaces around `::`, and the
/// old single-colon spelling `label:English` read as `label::English`.
pub fn column_key(header: &str) -> String {
    let lower = header.trim().to_lowercase();
    let (base, rest) = match lower.split_once("::") {
        Some((b, r)) => (b.trim().to_string(), Some(r.trim().to_string())),
        None => match lower.split_once(':') {
            // `jr:constraintMsg` and `bind::jr:...` keep their colon.
            Some((b, r)) if !b.contains("jr") && !r.is_empty() => {
                (b.trim().to_string(), Some(r.trim().to_string()))
            }
            _ => (lower.clone(), None),
        },
    };
    match rest {
        Some(r) => format!("{base}::{r}"),
        None => base,
    }
}

/// A cell as text, the way the spreadsheet shows it.
fn text(cell: &Data) -> Option<String> {
    let s = match cell {
        Data::Empty => return None,
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.trim().to_string(),
        Data::Int(i) => i.to_string(),
        // Whole numbers typed into a cell come back as floats; `1`, not `1.0`.
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "true" } else { "false" }.to_string(),
        Data::DateTime(d) => d.as_f64().to_string(),
        Data::Error(e) => format!("#{e:?}"),
    };
    (!s.is_empty()).then_some(s)
}

/// The letter of a 0-based column index (0 → A, 26 → AA).
pub fn letter(mut index: u32) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII letters")
}

/// A finding at the header row of `sheet` (a missing column).
pub fn at_header(sheet: &Sheet, message: String, help: &str) -> Finding {
    Finding {
        cell: Some(CellRef::new(&sheet.name, sheet.header_row, "(header)")),
        message,
        help: help.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters_follow_the_spreadsheet() {
        assert_eq!(letter(0), "A");
        assert_eq!(letter(25), "Z");
        assert_eq!(letter(26), "AA");
        assert_eq!(letter(27), "AB");
        assert_eq!(letter(701), "ZZ");
        assert_eq!(letter(702), "AAA");
    }

    #[test]
    fn headers_are_looked_up_by_a_normalised_key() {
        assert_eq!(column_key("Label::English (en)"), "label::english (en)");
        assert_eq!(column_key(" label :: French "), "label::french");
        assert_eq!(column_key("label:Spanish"), "label::spanish");
        assert_eq!(column_key("relevant"), "relevant");
        assert_eq!(column_key("jr:constraintMsg"), "jr:constraintmsg");
    }

    #[test]
    fn whole_numbers_read_as_excel_shows_them() {
        assert_eq!(text(&Data::Float(3.0)).as_deref(), Some("3"));
        assert_eq!(text(&Data::Float(2.5)).as_deref(), Some("2.5"));
        assert_eq!(text(&Data::String("  ".into())), None);
    }
}
