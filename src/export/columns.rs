//! The typed columns of a level's file, for the binary formats (`.dta`,
//! `.sav`): what each column holds, its label and value labels, and how
//! its CSV cells read as values.
//!
//! The binary files are made from the level CSVs the export has just
//! written (in its staging folder), not from a second rendering of the
//! cases: a value is then the same in every format by construction, and
//! the CSV stays the one place where cells are made. Each CSV is read
//! twice: once to count rows and measure text widths (both formats put
//! them before the data), once to write.

use std::path::{Path, PathBuf};

use super::ExportError;
use super::layout::{CASE_COLUMNS, Layout, Level, VarType, Variable};

/// What a column's cells are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// A number; `integer` when only whole numbers can occur.
    Number {
        integer: bool,
    },
    /// `YYYY-MM-DD`.
    Date,
}

/// One column of a level's file.
#[derive(Debug, Clone)]
pub struct Column {
    /// The CSV header.
    pub name: String,
    /// The variable label, in the instrument's default language.
    pub label: String,
    pub kind: Kind,
    /// Value labels (code, text), in the instrument's order.
    pub labels: Vec<(i64, String)>,
    pub dont_know: Option<i64>,
    pub refused: Option<i64>,
}

/// Label of the don't-know code in the binary files (as in `import.do`).
pub const DONT_KNOW: &str = "Don't know";
/// Label of the refused code.
pub const REFUSED: &str = "Refused";

/// One cell, read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// Skipped, not asked, not computable.
    Empty,
    Number(f64),
    /// The don't-know code of the item.
    DontKnow(i64),
    Refused(i64),
    /// Days since 1970-01-01.
    Date(i64),
    Text(&'a str),
}

impl Column {
    /// Reads one CSV cell of this column; `Err` says why it does not read
    /// (a bug in vicor: the export wrote it).
    pub fn cell<'a>(&self, raw: &'a str) -> Result<Cell<'a>, String> {
        if self.kind == Kind::Text {
            return Ok(Cell::Text(raw));
        }
        if raw.is_empty() {
            return Ok(Cell::Empty);
        }
        if let Ok(code) = raw.parse::<i64>() {
            if Some(code) == self.dont_know {
                return Ok(Cell::DontKnow(code));
            }
            if Some(code) == self.refused {
                return Ok(Cell::Refused(code));
            }
        }
        match self.kind {
            Kind::Date => days_of(raw)
                .map(Cell::Date)
                .ok_or_else(|| format!("`{raw}` is not a date YYYY-MM-DD")),
            _ => raw
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .map(Cell::Number)
                .ok_or_else(|| format!("`{raw}` is not a number")),
        }
    }

    /// Whether the column carries value labels or missing codes to label.
    pub fn value_labels(&self) -> Vec<(i64, String)> {
        let mut out = self.labels.clone();
        if let Some(d) = self.dont_know {
            out.push((d, DONT_KNOW.to_string()));
        }
        if let Some(r) = self.refused {
            out.push((r, REFUSED.to_string()));
        }
        out
    }
}

/// The typed columns of a level, in file order.
pub fn level_columns(layout: &Layout, level: &Level, lang: &str) -> Vec<Column> {
    let mut out = Vec::with_capacity(level.columns.len());
    let plain = |name: &str, label: String, kind: Kind| Column {
        name: name.to_string(),
        label,
        kind,
        labels: Vec::new(),
        dont_know: None,
        refused: None,
    };
    out.push(plain(
        "case_id",
        "case identifier (UUID)".into(),
        Kind::Text,
    ));
    if level.chain.is_empty() {
        for name in CASE_COLUMNS {
            let label = match name {
                "instrument_version" => "instrument version",
                "status" => "case status",
                "outcome" => "case outcome",
                "enumerator" => "enumerator",
                "created_utc" => "case created (UTC)",
                _ => "case last modified (UTC)",
            };
            out.push(plain(name, label.into(), Kind::Text));
        }
    } else {
        for (roster, name) in level.chain.iter().zip(&level.columns[1..level.keys]) {
            let mut key = plain(
                name,
                format!("row key of roster {roster}"),
                Kind::Number { integer: true },
            );
            // The rows of a fixed roster are its list's codes: label them.
            if let Some(l) = layout.level_of(roster) {
                key.labels = layout.levels[l]
                    .row_labels
                    .iter()
                    .map(|r| (r.code, r.text.get(lang).to_string()))
                    .collect();
            }
            out.push(key);
        }
    }
    for &i in &level.variables {
        let v = &layout.variables[i];
        out.extend(variable_columns(v, lang));
    }
    debug_assert_eq!(out.len(), level.columns.len());
    out
}

fn variable_columns(v: &Variable, lang: &str) -> Vec<Column> {
    let label = label_text(v, lang);
    let column = |name: String, label: String, kind: Kind, labels: Vec<(i64, String)>| Column {
        name,
        label,
        kind,
        labels,
        dont_know: v.dont_know,
        refused: v.refused,
    };
    let own = |l: &[super::layout::Label]| -> Vec<(i64, String)> {
        l.iter()
            .map(|l| (l.code, l.text.get(lang).to_string()))
            .collect()
    };
    match v.var_type {
        VarType::MultipleChoice => v
            .columns()
            .into_iter()
            .zip(&v.labels)
            .map(|(name, option)| {
                column(
                    name,
                    format!("{label}: {}", option.text.get(lang)),
                    Kind::Number { integer: true },
                    vec![(1, "selected".into()), (0, "not selected".into())],
                )
            })
            .collect(),
        VarType::Categorical => vec![column(
            v.name.clone(),
            label,
            Kind::Number { integer: true },
            own(&v.labels),
        )],
        VarType::Boolean => vec![column(
            v.name.clone(),
            label,
            Kind::Number { integer: true },
            vec![(1, "true".into()), (0, "false".into())],
        )],
        VarType::Integer | VarType::RandomRow => vec![column(
            v.name.clone(),
            label,
            Kind::Number { integer: true },
            Vec::new(),
        )],
        VarType::Decimal => vec![column(
            v.name.clone(),
            label,
            Kind::Number { integer: false },
            Vec::new(),
        )],
        VarType::Date => vec![column(v.name.clone(), label, Kind::Date, Vec::new())],
        VarType::Text | VarType::CodeList => {
            vec![column(v.name.clone(), label, Kind::Text, Vec::new())]
        }
    }
}

/// The variable label of an item (as the import scripts give it).
pub fn label_text(v: &Variable, lang: &str) -> String {
    if let Some(t) = &v.text {
        return t.get(lang).to_string();
    }
    if let Some(c) = &v.computed {
        return format!("computed: {c}");
    }
    if let Some(r) = &v.draws_from {
        return format!("row of {r} drawn at random");
    }
    v.name.clone()
}

/// `s` cut to at most `max` bytes at a character boundary.
pub fn cut_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Days from 1970-01-01 to a `YYYY-MM-DD` date (proleptic Gregorian).
pub fn days_of(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |s: &str| s.parse::<i64>().ok();
    let (y, m, d) = (num(&text[..4])?, num(&text[5..7])?, num(&text[8..])?);
    jiff::civil::Date::new(
        i16::try_from(y).ok()?,
        i8::try_from(m).ok()?,
        i8::try_from(d).ok()?,
    )
    .ok()?;
    Some(days_from_civil(y, m, d))
}

/// Days from 1970-01-01 to year `y`, month `m`, day `d` (H. Hinnant's
/// algorithm, exact for every proleptic Gregorian date).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A level CSV of the staging folder, read as records.
pub struct Table {
    pub path: PathBuf,
    pub columns: Vec<Column>,
    /// Data rows (the header aside).
    pub rows: usize,
    /// Longest cell of each column, in bytes.
    pub widths: Vec<usize>,
}

impl Table {
    /// Reads `path` once, checking every cell, counting rows and
    /// measuring the text columns.
    pub fn scan(path: &Path, columns: Vec<Column>) -> Result<Table, ExportError> {
        let mut table = Table {
            path: path.to_path_buf(),
            widths: vec![0; columns.len()],
            columns,
            rows: 0,
        };
        let mut widths = std::mem::take(&mut table.widths);
        table.rows = table.each_row(|_, cells| {
            for (w, cell) in widths.iter_mut().zip(cells) {
                if let Cell::Text(t) = cell {
                    *w = (*w).max(t.len());
                }
            }
            Ok(())
        })?;
        table.widths = widths;
        Ok(table)
    }

    /// Calls `each` with every data row's line number (from 2) and cells;
    /// the number of rows.
    pub fn each_row(
        &self,
        mut each: impl FnMut(usize, &[Cell<'_>]) -> Result<(), ExportError>,
    ) -> Result<usize, ExportError> {
        let csv_error = |source| ExportError::Csv {
            path: self.path.clone(),
            source,
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_path(&self.path)
            .map_err(csv_error)?;
        let mut record = csv::StringRecord::new();
        let mut rows = 0;
        while reader.read_record(&mut record).map_err(csv_error)? {
            let line = record.position().map_or(rows + 2, |p| p.line() as usize);
            if record.len() != self.columns.len() {
                let why = format!(
                    "{} fields under a header of {}",
                    record.len(),
                    self.columns.len()
                );
                return Err(self.bad(line, 0, why));
            }
            let mut cells = Vec::with_capacity(self.columns.len());
            for (i, (column, raw)) in self.columns.iter().zip(record.iter()).enumerate() {
                cells.push(column.cell(raw).map_err(|why| self.bad(line, i, why))?);
            }
            each(line, &cells)?;
            rows += 1;
        }
        Ok(rows)
    }

    fn bad(&self, line: usize, column: usize, why: String) -> ExportError {
        ExportError::Convert {
            path: self.path.clone(),
            line,
            column: self
                .columns
                .get(column)
                .map_or_else(String::new, |c| c.name.clone()),
            why,
        }
    }
}

/// Whether a level file's column `i` is a variable column of `v`.
#[cfg(test)]
fn owner<'l>(layout: &'l Layout, level: &Level, i: usize) -> Option<&'l Variable> {
    level
        .variables
        .iter()
        .map(|&v| &layout.variables[v])
        .find(|v| i >= v.column && i < v.column + v.columns().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> crate::instrument::Instrument {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("instruments/example.yaml");
        crate::instrument::validate(&path)
            .instrument
            .expect("the example loads")
    }

    #[test]
    fn dates_count_days_as_jiff_does() {
        for text in [
            "1970-01-01",
            "1960-01-01",
            "1582-10-14",
            "2026-06-15",
            "2000-02-29",
        ] {
            let date: jiff::civil::Date = text.parse().expect("date");
            let want = (date - jiff::civil::date(1970, 1, 1)).get_days();
            assert_eq!(days_of(text), Some(i64::from(want)), "{text}");
        }
        assert_eq!(days_of("2026-02-30"), None);
        assert_eq!(days_of("98"), None);
    }

    #[test]
    fn cells_read_as_their_column_says() {
        let column = Column {
            name: "age".into(),
            label: "Age".into(),
            kind: Kind::Number { integer: true },
            labels: Vec::new(),
            dont_know: Some(98),
            refused: Some(99),
        };
        assert_eq!(column.cell(""), Ok(Cell::Empty));
        assert_eq!(column.cell("42"), Ok(Cell::Number(42.0)));
        assert_eq!(column.cell("98"), Ok(Cell::DontKnow(98)));
        assert_eq!(column.cell("99"), Ok(Cell::Refused(99)));
        assert!(column.cell("x").is_err());
        let date = Column {
            kind: Kind::Date,
            ..column.clone()
        };
        assert_eq!(date.cell("99"), Ok(Cell::Refused(99)));
        assert_eq!(date.cell("1970-01-02"), Ok(Cell::Date(1)));
        let text = Column {
            kind: Kind::Text,
            ..column
        };
        assert_eq!(text.cell("98"), Ok(Cell::Text("98")));
    }

    #[test]
    fn every_column_of_every_level_is_typed_in_file_order() {
        let inst = example();
        let layout = Layout::build(&[&inst], false).expect("layout");
        for level in &layout.levels {
            let columns = level_columns(&layout, level, "en");
            let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
            assert_eq!(names, level.columns, "{}", level.id);
            for (i, c) in columns.iter().enumerate().skip(level.keys) {
                let Some(v) = owner(&layout, level, i) else {
                    assert!(level.chain.is_empty() && i <= CASE_COLUMNS.len());
                    continue;
                };
                assert_eq!(
                    c.kind == Kind::Text || c.kind == Kind::Date,
                    !v.var_type.is_numeric(),
                    "{}",
                    c.name
                );
                assert_eq!((c.dont_know, c.refused), (v.dont_know, v.refused));
            }
        }
        let officials = layout.level_of("official_types").expect("official_types");
        let key = &level_columns(&layout, &layout.levels[officials], "en")[1];
        assert_eq!(key.labels.len(), layout.levels[officials].row_labels.len());
        assert!(!key.labels.is_empty());
    }
}
