//! Columnar microdata read from CSV.
//!
//! The statistics modules work on whole columns (slices), never on rows of
//! strings, so the CSV is read once, streaming, into typed columns:
//!
//! - a **number** column (`Column::Number`) holds `f64`, with `NaN` for an
//!   empty cell (missing). A cell that reads as `NaN` or an infinity is not a
//!   number here, so `NaN` always means missing;
//! - a **small** column (`Column::Small`) holds whole numbers from −127 to
//!   127 (codes, 0/1 indicators: most survey variables) in one byte each;
//!   it reads the same as a number column through [`Frame::numbers`];
//! - a **text** column (`Column::Text`) holds dictionary codes: one `u32` per
//!   row indexing `levels` (in order of first appearance), `MISSING` for an
//!   empty cell. Codes keep a 1,000,000-row column of region names small.
//!
//! A column is a number column when every non-empty cell parses as a finite
//! number, unless the caller asks for it as text ([`ReadOptions::text`]),
//! which keeps values exactly as they appear (`"01"` stays `"01"`).
//! Only the columns a job names are kept ([`ReadOptions::columns`]), so a wide
//! file costs the memory of the columns used.
//!
//! Invariants: every column has `n_rows` entries; names are unique (a
//! duplicate header is an error). Errors name the column, and the row as the
//! 1-based data row (the header is not counted; the line in the file is one
//! more).

pub mod eval;
mod parallel;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Code of a missing cell in a text column.
pub const MISSING: u32 = u32::MAX;

/// Why microdata could not be read or a column could not be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The CSV is malformed (e.g. a row with a different number of fields).
    #[error("malformed CSV at row {row}: {message}")]
    Csv { row: u64, message: String },
    /// The header names a column twice.
    #[error("column `{column}` appears twice in the header; rename one of them")]
    DuplicateColumn { column: String },
    /// A column named in the design or spec is not in the data.
    #[error("column `{column}` is not in the data (columns: {available})")]
    MissingColumn { column: String, available: String },
    /// A column that must hold numbers holds text.
    #[error("column `{column}` must be numeric but row {row} holds `{value}`")]
    NotNumeric {
        column: String,
        row: u64,
        value: String,
    },
}

/// Code of a missing cell in a small-integer column.
pub const SMALL_MISSING: i8 = i8::MIN;

/// One column of the frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Numbers, `NaN` where the cell was empty.
    Number(Vec<f64>),
    /// Whole numbers from −127 to 127 (codes, 0/1 indicators) in one byte
    /// each, `SMALL_MISSING` where the cell was empty: an eighth of the
    /// memory of `Number`, with the same values.
    Small(Vec<i8>),
    /// Dictionary-coded text.
    Text(TextColumn),
}

/// Text values as codes into `levels`; `MISSING` for an empty cell.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TextColumn {
    pub codes: Vec<u32>,
    pub levels: Vec<String>,
}

impl TextColumn {
    /// The value of row `i`, `None` when missing.
    pub fn get(&self, i: usize) -> Option<&str> {
        match self.codes[i] {
            MISSING => None,
            c => Some(self.levels[c as usize].as_str()),
        }
    }
}

impl Column {
    pub fn len(&self) -> usize {
        match self {
            Column::Number(v) => v.len(),
            Column::Small(v) => v.len(),
            Column::Text(t) => t.codes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when row `i` is missing.
    pub fn is_missing(&self, i: usize) -> bool {
        match self {
            Column::Number(v) => v[i].is_nan(),
            Column::Small(v) => v[i] == SMALL_MISSING,
            Column::Text(t) => t.codes[i] == MISSING,
        }
    }

    /// The cell as it reads in text (numbers in Rust's shortest form).
    pub fn display(&self, i: usize) -> Option<String> {
        match self {
            Column::Number(v) => (!v[i].is_nan()).then(|| format_number(v[i])),
            Column::Small(v) => (v[i] != SMALL_MISSING).then(|| v[i].to_string()),
            Column::Text(t) => t.get(i).map(str::to_owned),
        }
    }
}

/// Shortest text that reads back as the same `f64` (`1` for 1.0).
pub fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// Microdata as named columns of equal length.
#[derive(Debug, Clone, Default)]
pub struct Frame {
    names: Vec<String>,
    columns: Vec<Column>,
    index: HashMap<String, usize>,
    n_rows: usize,
}

/// Which columns to keep and how to type them.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Keep only these columns (all when `None`). Each must be in the header.
    pub columns: Option<Vec<String>>,
    /// Read these columns as text whatever they hold.
    pub text: HashSet<String>,
}

impl Frame {
    /// Builds a frame from columns (for tests and for callers that make data).
    ///
    /// # Panics
    ///
    /// When columns differ in length or a name repeats: both are bugs in the
    /// caller, not input errors.
    pub fn from_columns(columns: Vec<(String, Column)>) -> Frame {
        let n_rows = columns.first().map_or(0, |(_, c)| c.len());
        let mut frame = Frame {
            n_rows,
            ..Frame::default()
        };
        for (name, column) in columns {
            assert_eq!(column.len(), n_rows, "column {name} has the wrong length");
            let prev = frame.index.insert(name.clone(), frame.names.len());
            assert!(prev.is_none(), "column {name} given twice");
            frame.names.push(name);
            frame.columns.push(column);
        }
        frame
    }

    /// Reads a CSV file; see [`Frame::read`].
    pub fn read_path(
        path: &Path,
        options: &ReadOptions,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Frame, FrameError> {
        let io = |source| FrameError::Io {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        let size = file.metadata().map_or(0, |m| m.len());
        if cores > 1 && size >= parallel::MIN_BYTES {
            // The whole file in memory, parsed on every core.
            let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            std::io::Read::read_to_end(&mut &file, &mut bytes).map_err(io)?;
            return parallel::read(&bytes, options, cores, progress);
        }
        Frame::read(
            std::io::BufReader::with_capacity(1 << 20, file),
            options,
            progress,
        )
    }

    /// Reads CSV with a header row, streaming, into typed columns.
    ///
    /// `progress` is called now and then with the number of bytes read so far.
    pub fn read<R: Read>(
        reader: R,
        options: &ReadOptions,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Frame, FrameError> {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .buffer_capacity(1 << 20)
            .from_reader(reader);
        let layout = Layout::from_header(&mut csv, options)?;
        let mut builders = layout.builders(options);
        let mut record = csv::ByteRecord::new();
        let mut row: u64 = 0;
        loop {
            match csv.read_byte_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(csv_error(e, row + 1)),
            }
            row += 1;
            layout.push(&mut builders, &record);
            if row & 0xFFFF == 0 {
                progress(record.position().map_or(0, |p| p.byte()));
            }
        }
        progress(csv.position().byte());
        Ok(layout.finish(builders))
    }

    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Result<&Column, FrameError> {
        match self.index.get(name) {
            Some(&i) => Ok(&self.columns[i]),
            None => Err(FrameError::MissingColumn {
                column: name.to_owned(),
                available: self.names.join(", "),
            }),
        }
    }

    /// True when the frame has a column called `name`.
    pub fn has(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// The column `name` as numbers (`NaN` for missing); an error names the
    /// first row that is not a number.
    pub fn numbers(&self, name: &str) -> Result<Cow<'_, [f64]>, FrameError> {
        match self.column(name)? {
            Column::Number(v) => Ok(Cow::Borrowed(v)),
            Column::Small(v) => Ok(Cow::Owned(small_to_f64(v))),
            Column::Text(t) => {
                let (row, value) = t
                    .codes
                    .iter()
                    .enumerate()
                    .find_map(|(i, &c)| {
                        let v = t.levels.get(c as usize)?;
                        parse_number(v.as_bytes())
                            .is_none()
                            .then(|| (i as u64 + 1, v.clone()))
                    })
                    .unwrap_or((0, String::new()));
                Err(FrameError::NotNumeric {
                    column: name.to_owned(),
                    row,
                    value,
                })
            }
        }
    }

    /// Adds or replaces a column (the length must match).
    ///
    /// # Panics
    ///
    /// When the length differs from the frame's rows: a caller bug.
    pub fn insert(&mut self, name: &str, column: Column) {
        assert!(
            self.names.is_empty() || column.len() == self.n_rows,
            "column {name} has the wrong length"
        );
        if self.names.is_empty() {
            self.n_rows = column.len();
        }
        match self.index.get(name) {
            Some(&i) => self.columns[i] = column,
            None => {
                self.index.insert(name.to_owned(), self.names.len());
                self.names.push(name.to_owned());
                self.columns.push(column);
            }
        }
    }
}

/// Which header columns are kept, where they sit in a record, and their names.
struct Layout {
    /// Number of fields in the header (every record must have as many).
    width: usize,
    wanted: Vec<String>,
    positions: Vec<usize>,
}

impl Layout {
    /// Reads the header row and checks it against the options.
    fn from_header<R: Read>(
        csv: &mut csv::Reader<R>,
        options: &ReadOptions,
    ) -> Result<Layout, FrameError> {
        let header = csv
            .byte_headers()
            .map_err(|e| csv_error(e, 0))?
            .iter()
            .map(|h| String::from_utf8_lossy(h).trim().to_owned())
            .collect::<Vec<_>>();
        let mut seen = HashSet::new();
        for name in &header {
            if !seen.insert(name.as_str()) {
                return Err(FrameError::DuplicateColumn {
                    column: name.clone(),
                });
            }
        }
        let wanted: Vec<String> = match &options.columns {
            Some(cols) => {
                let mut out: Vec<String> = Vec::new();
                for c in cols {
                    if !header.contains(c) {
                        return Err(FrameError::MissingColumn {
                            column: c.clone(),
                            available: header.join(", "),
                        });
                    }
                    if !out.contains(c) {
                        out.push(c.clone());
                    }
                }
                out
            }
            None => header.clone(),
        };
        let positions: Vec<usize> = wanted
            .iter()
            .map(|w| {
                header
                    .iter()
                    .position(|h| h == w)
                    .expect("every wanted column was found in the header")
            })
            .collect();
        Ok(Layout {
            width: header.len(),
            wanted,
            positions,
        })
    }

    fn builders(&self, options: &ReadOptions) -> Vec<Builder> {
        self.wanted
            .iter()
            .map(|w| {
                if options.text.contains(w) {
                    Builder::Text(TextBuilder::default())
                } else {
                    Builder::Small(Vec::new())
                }
            })
            .collect()
    }

    fn push(&self, builders: &mut [Builder], record: &csv::ByteRecord) {
        for (b, &p) in builders.iter_mut().zip(&self.positions) {
            b.push(trim(record.get(p).unwrap_or(b"")));
        }
    }

    fn finish(&self, builders: Vec<Builder>) -> Frame {
        let columns = self
            .wanted
            .iter()
            .cloned()
            .zip(builders)
            .map(|(name, b)| (name, b.finish()))
            .collect();
        Frame::from_columns(columns)
    }
}

fn csv_error(e: csv::Error, row: u64) -> FrameError {
    let row = e
        .position()
        .map_or(row, |p| p.record().saturating_sub(0).max(1));
    FrameError::Csv {
        row,
        message: e.to_string(),
    }
}

fn trim(cell: &[u8]) -> &[u8] {
    let start = cell
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(cell.len());
    let end = cell
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &cell[start..end]
}

/// Small integers as doubles, `NaN` for missing.
pub fn small_to_f64(v: &[i8]) -> Vec<f64> {
    v.iter()
        .map(|&x| {
            if x == SMALL_MISSING {
                f64::NAN
            } else {
                f64::from(x)
            }
        })
        .collect()
}

/// A finite number, or `None`.
pub fn parse_number(cell: &[u8]) -> Option<f64> {
    // Fast path: short integers, most cells of survey microdata.
    if !cell.is_empty() && cell.len() <= 15 {
        let (neg, digits) = match cell[0] {
            b'-' => (true, &cell[1..]),
            _ => (false, cell),
        };
        if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
            let v = digits
                .iter()
                .fold(0i64, |a, &d| a * 10 + i64::from(d - b'0'));
            // Exact: |v| < 10^15 < 2^53.
            return Some(if neg { -(v as f64) } else { v as f64 });
        }
    }
    let s = std::str::from_utf8(cell).ok()?;
    let x: f64 = s.parse().ok()?;
    x.is_finite().then_some(x)
}

enum Builder {
    Small(Vec<i8>),
    Number(Vec<f64>),
    Text(TextBuilder),
}

#[derive(Default)]
struct TextBuilder {
    codes: Vec<u32>,
    levels: Vec<String>,
    lookup: HashMap<Vec<u8>, u32, std::hash::BuildHasherDefault<FxHasher>>,
    /// Some levels were written back from parsed numbers (`1.50` read as
    /// 1.5 and stored as `1.5`) when the column turned out to hold text.
    from_numbers: bool,
}

/// The Fx hash (rustc's): fast for short keys; cell values are not
/// adversarial input for a hash table.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn finish(&self) -> u64 {
        // The table takes its bucket from the low bits, but a product's low
        // bits only see the input's low bits, which are all zero in the bit
        // pattern of a whole-number f64 (every numeric PSU id). Rotating the
        // well-mixed high bits down keeps 100,000 PSUs from sharing a bucket.
        self.0.rotate_left(26)
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(buf));
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u32(&mut self, x: u32) {
        self.write_u64(u64::from(x));
    }
    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }
}

impl TextBuilder {
    fn push(&mut self, cell: &[u8]) {
        if cell.is_empty() {
            self.codes.push(MISSING);
            return;
        }
        if let Some(&c) = self.lookup.get(cell) {
            self.codes.push(c);
            return;
        }
        let c = self.levels.len() as u32;
        self.levels.push(String::from_utf8_lossy(cell).into_owned());
        self.lookup.insert(cell.to_vec(), c);
        self.codes.push(c);
    }
}

impl TextBuilder {
    /// A number read before the column turned out to hold text.
    fn push_number(&mut self, x: f64) {
        if x.is_nan() {
            self.push(b"");
        } else {
            self.push(format_number(x).as_bytes());
            self.from_numbers = true;
        }
    }

    /// The values of `later`, read after those of `self`.
    fn append(&mut self, later: TextBuilder) {
        let recode: Vec<u32> = later
            .levels
            .iter()
            .map(|level| match self.lookup.get(level.as_bytes()) {
                Some(&c) => c,
                None => {
                    let c = self.levels.len() as u32;
                    self.lookup.insert(level.as_bytes().to_vec(), c);
                    self.levels.push(level.clone());
                    c
                }
            })
            .collect();
        self.codes.extend(later.codes.iter().map(|&c| {
            if c == MISSING {
                MISSING
            } else {
                recode[c as usize]
            }
        }));
        self.from_numbers |= later.from_numbers;
    }
}

impl Builder {
    fn len(&self) -> usize {
        match self {
            Builder::Small(v) => v.len(),
            Builder::Number(v) => v.len(),
            Builder::Text(t) => t.codes.len(),
        }
    }

    fn all_missing(&self) -> bool {
        match self {
            Builder::Small(v) => v.iter().all(|&x| x == SMALL_MISSING),
            Builder::Number(v) => v.iter().all(|x| x.is_nan()),
            Builder::Text(t) => t.codes.iter().all(|&c| c == MISSING),
        }
    }

    fn push(&mut self, cell: &[u8]) {
        match self {
            Builder::Small(v) => {
                if cell.is_empty() {
                    v.push(SMALL_MISSING);
                    return;
                }
                match parse_number(cell) {
                    Some(x) if (-127.0..=127.0).contains(&x) && f64::from(x as i8) == x => {
                        v.push(x as i8)
                    }
                    _ => {
                        let mut wide = small_to_f64(v);
                        wide.reserve(v.capacity().saturating_sub(v.len()));
                        *self = Builder::Number(wide);
                        self.push(cell);
                    }
                }
            }
            Builder::Number(v) => {
                if cell.is_empty() {
                    v.push(f64::NAN);
                } else if let Some(x) = parse_number(cell) {
                    v.push(x);
                } else {
                    // The column holds text: recode what was read so far.
                    let mut t = TextBuilder::default();
                    v.iter().for_each(|&x| t.push_number(x));
                    t.push(cell);
                    *self = Builder::Text(t);
                }
            }
            Builder::Text(t) => t.push(cell),
        }
    }

    fn finish(self) -> Column {
        match self {
            Builder::Small(v) => Column::Small(v),
            Builder::Number(v) => Column::Number(v),
            Builder::Text(t) => Column::Text(TextColumn {
                codes: t.codes,
                levels: t.levels,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(csv: &str, options: &ReadOptions) -> Result<Frame, FrameError> {
        Frame::read(csv.as_bytes(), options, &mut |_| {})
    }

    /// Low 16 bits of the hash, as a 65,536-bucket table would use them.
    fn buckets<K: std::hash::Hash>(keys: impl Iterator<Item = K>) -> usize {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let build = BuildHasherDefault::<FxHasher>::default();
        let seen: std::collections::HashSet<u64> =
            keys.map(|k| build.hash_one(k) & 0xffff).collect();
        seen.len()
    }

    #[test]
    fn whole_number_ids_spread_over_buckets() {
        // 60,000 PSU ids as f64 bit patterns, alone and paired with a stratum:
        // without the final rotation they all fell into a handful of buckets.
        let ids = || (1..=60_000u32).map(|i| f64::from(i).to_bits());
        assert!(buckets(ids()) > 30_000, "{}", buckets(ids()));
        let nested = ids().enumerate().map(|(i, b)| ((i / 7_500) as u64, b));
        assert!(buckets(nested) > 30_000);
    }

    #[test]
    fn numbers_text_and_missing_are_typed() {
        let f = read("a,b,c\n1,x,\n2.5,,7\n,y,8\n", &ReadOptions::default()).expect("valid csv");
        assert_eq!(f.n_rows(), 3);
        let a = f.numbers("a").expect("a is numeric");
        assert_eq!(a[0], 1.0);
        assert_eq!(a[1], 2.5);
        assert!(a[2].is_nan());
        match f.column("b").expect("b exists") {
            Column::Text(t) => {
                assert_eq!(t.get(0), Some("x"));
                assert_eq!(t.get(1), None);
                assert_eq!(t.get(2), Some("y"));
            }
            other => panic!("b should be text, got {other:?}"),
        }
        assert!(f.column("c").expect("c exists").is_missing(0));
    }

    #[test]
    fn text_option_keeps_values_as_written() {
        let options = ReadOptions {
            text: ["a".to_owned()].into_iter().collect(),
            ..ReadOptions::default()
        };
        let f = read("a\n01\n1\n", &options).expect("valid csv");
        assert_eq!(f.column("a").expect("a").display(0).as_deref(), Some("01"));
        assert_eq!(f.column("a").expect("a").display(1).as_deref(), Some("1"));
    }

    #[test]
    fn mixed_column_becomes_text_and_numbers_names_the_row() {
        let f = read("w\n1\n2\nabc\n", &ReadOptions::default()).expect("valid csv");
        let err = f.numbers("w").expect_err("w holds text");
        let msg = err.to_string();
        assert!(
            msg.contains("`w`") && msg.contains("row 3") && msg.contains("abc"),
            "{msg}"
        );
    }

    #[test]
    fn missing_selected_column_is_named() {
        let options = ReadOptions {
            columns: Some(vec!["zz".to_owned()]),
            ..ReadOptions::default()
        };
        let err = read("a\n1\n", &options).expect_err("zz is absent");
        assert!(err.to_string().contains("`zz`"));
    }

    #[test]
    fn ragged_row_is_an_error_with_its_row() {
        let err = read("a,b\n1,2\n3\n", &ReadOptions::default()).expect_err("ragged");
        assert!(matches!(err, FrameError::Csv { .. }), "{err}");
    }

    #[test]
    fn nan_text_is_not_a_number() {
        let f = read("a\nNaN\n", &ReadOptions::default()).expect("valid csv");
        assert!(matches!(f.column("a").expect("a"), Column::Text(_)));
    }
}
