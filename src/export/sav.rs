//! SPSS system files (`.sav`) with bytecode compression, written from the
//! format as GNU PSPP's developers' guide documents it ("System File
//! Format").
//!
//! Records, in order: the file header (`$FL2`, the case size in 8-byte
//! elements, bytecode compression with bias 100, the case count), one variable record per
//! column (a string wider than 8 bytes adds one continuation record per
//! further 8 bytes), value labels (type 3, with their type 4 variable
//! index), the machine integer and float info (7.3, 7.4), display
//! parameters (7.11: labelled and text columns nominal, others scale), long
//! variable names (7.13), the character encoding (7.20, UTF-8), the
//! dictionary end (999), then the cases, compressed: each 8-byte element
//! becomes a code in a block of eight (a whole number from -99 to 151 is
//! the number plus 100, 255 system-missing, 254 eight blanks), with the
//! elements coded 253 following the block as they are. Survey data are
//! mostly small codes, so this is several times smaller.
//!
//! Numbers are doubles; an empty cell is system-missing; a DK or RF code is
//! kept and declared user-missing (the variable's discrete missing values),
//! labelled "Don't know" and "Refused". A date is an SPSS date (seconds
//! since 1582-10-14, `SDATE10`); a date answered DK or RF is
//! system-missing, as in `import.sps`. Text is a string of the column's
//! longest cell, at most 32,767 bytes (SPSS's limit; a longer cell is cut
//! there at a character boundary). A string wider than 255 bytes is a
//! "very long string": segments of 255 bytes (one per 252 bytes of width,
//! each with a short name of its own), the data packed 255 bytes to a
//! segment, and a very long string record (7.14) giving its width. A text
//! item answered DK or RF holds its code as text.
//!
//! Names: the long names are those of `import.sps` (the CSV header where
//! SPSS takes it, else a close name); each has a unique 8-byte short name
//! that the long-name record maps to it.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use super::ExportError;
use super::columns::{Cell, Kind, Table, cut_bytes, days_from_civil};

/// The widest string written (SPSS's limit).
const STR_MAX: usize = 32_767;
/// The widest segment of a string.
const SEGMENT: usize = 255;
/// Width of a very long string per segment.
const SEGMENT_WIDTH: usize = 252;
/// SPSS keeps 255 bytes of a variable label and 120 of a value label.
const VARIABLE_LABEL_BYTES: usize = 255;
const VALUE_LABEL_BYTES: usize = 120;

/// The system-missing value.
const SYSMIS: f64 = -f64::MAX;

/// Format types (PSPP's table of format type codes).
const FORMAT_A: u32 = 1;
const FORMAT_F: u32 = 5;
const FORMAT_SDATE: u32 = 39;

/// When the file was written, as the header records it.
#[derive(Debug, Clone)]
pub struct Stamp {
    /// `dd mmm yy`.
    pub date: String,
    /// `hh:mm:ss`.
    pub time: String,
}

impl Stamp {
    pub fn now() -> Stamp {
        let now = jiff::Timestamp::now();
        Stamp {
            date: now.strftime("%d %b %y").to_string(),
            time: now.strftime("%H:%M:%S").to_string(),
        }
    }
}

/// One column as the file lays it out.
struct Var {
    short: String,
    /// String width in bytes, or `None` for a number.
    width: Option<usize>,
    /// 8-byte elements of a case, all segments.
    elements: usize,
    /// One for a number or a string of at most 255 bytes.
    segments: Vec<Segment>,
    /// 1-based index of its first element.
    index: usize,
    /// A date: DK and RF are system-missing, not their codes.
    date: bool,
}

/// One variable record's worth of a column (a very long string has
/// several).
struct Segment {
    short: String,
    /// String width, 0 for a number.
    width: usize,
    elements: usize,
}

/// The segments of a string `width` bytes wide: (width, elements) each.
fn segments(width: usize) -> Vec<(usize, usize)> {
    if width <= SEGMENT {
        return vec![(width, width.div_ceil(8))];
    }
    let n = width.div_ceil(SEGMENT_WIDTH);
    (0..n)
        .map(|k| {
            let w = if k + 1 < n {
                SEGMENT
            } else {
                width - (n - 1) * SEGMENT_WIDTH
            };
            (w, w.div_ceil(8))
        })
        .collect()
}

/// A short name from `base` that `used` does not hold (added to it).
fn fresh_short(base: &str, used: &mut HashSet<String>) -> String {
    for n in 1.. {
        let suffix = if n == 1 {
            String::new()
        } else {
            format!("_{n}")
        };
        let short = format!("{}{suffix}", cut_bytes(base, 8 - suffix.len()));
        if used.insert(short.clone()) {
            return short;
        }
    }
    unreachable!("some suffix is free")
}

/// The 8-byte short names of `long` names, unique as SPSS compares them
/// (without case).
fn short_names(long: &[String]) -> Vec<String> {
    let mut used = HashSet::new();
    long.iter()
        .map(|name| fresh_short(&name.to_ascii_uppercase(), &mut used))
        .collect()
}

/// Writes `table` as a `.sav` file at `path`, labelled `label`; the SPSS
/// name of each column.
pub fn write(
    table: &Table,
    label: &str,
    stamp: &Stamp,
    path: &Path,
) -> Result<Vec<String>, ExportError> {
    let io = |source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let long = super::scripts::spss_names(
        &table
            .columns
            .iter()
            .map(|c| c.name.clone())
            .collect::<Vec<_>>(),
    );
    let short = short_names(&long);
    let mut used: HashSet<String> = short.iter().cloned().collect();
    let mut vars = Vec::with_capacity(table.columns.len());
    let mut index = 1;
    for ((c, w), s) in table.columns.iter().zip(&table.widths).zip(&short) {
        let width = (c.kind == Kind::Text).then(|| (*w).clamp(1, STR_MAX));
        let parts = width.map_or_else(|| vec![(0, 1)], segments);
        let segments: Vec<Segment> = parts
            .iter()
            .enumerate()
            .map(|(k, &(width, elements))| Segment {
                short: if k == 0 {
                    s.clone()
                } else {
                    let base = format!("{}{k}", cut_bytes(s, 8 - k.to_string().len()));
                    fresh_short(&base, &mut used)
                },
                width,
                elements,
            })
            .collect();
        let elements = segments.iter().map(|g| g.elements).sum();
        vars.push(Var {
            short: s.clone(),
            width,
            elements,
            segments,
            index,
            date: c.kind == Kind::Date,
        });
        index += elements;
    }
    let file = std::fs::File::create(path).map_err(io)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let dictionary = dictionary(table, &vars, &long, label, stamp);
    out.write_all(&dictionary).map_err(io)?;
    let numeric: Vec<bool> = vars
        .iter()
        .flat_map(|v| std::iter::repeat_n(v.width.is_none(), v.elements))
        .collect();
    let mut row = Vec::new();
    let mut packed = Vec::new();
    let mut compressor = Compressor::default();
    let mut failed = None;
    table.each_row(|_, cells| {
        row.clear();
        push_case(&mut row, cells, &vars);
        compressor.case(&row, &numeric, &mut packed);
        if packed.len() >= 1 << 16 {
            if failed.is_none()
                && let Err(e) = out.write_all(&packed)
            {
                failed = Some(e);
            }
            packed.clear();
        }
        Ok(())
    })?;
    compressor.finish(&mut packed);
    if let Some(e) = failed {
        return Err(io(e));
    }
    out.write_all(&packed).map_err(io)?;
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    Ok(long)
}

/// SPSS's bytecode compression, across cases: blocks of eight codes,
/// each block followed by the elements it codes 253.
#[derive(Default)]
struct Compressor {
    codes: Vec<u8>,
    literals: Vec<u8>,
}

/// The compression bias: code `n` (1–251) is the number `n - BIAS`.
const BIAS: f64 = 100.0;

impl Compressor {
    /// Compresses one uncompressed case (`numeric` says which of its
    /// 8-byte elements are numbers) onto `out`.
    fn case(&mut self, row: &[u8], numeric: &[bool], out: &mut Vec<u8>) {
        for (element, &number) in row.chunks_exact(8).zip(numeric) {
            let code = if number {
                let x = f64::from_le_bytes(element.try_into().expect("8 bytes"));
                if x == SYSMIS {
                    255
                } else if x.fract() == 0.0 && (1.0 - BIAS..=251.0 - BIAS).contains(&x) {
                    (x + BIAS) as u8
                } else {
                    253
                }
            } else if element == b"        " {
                254
            } else {
                253
            };
            self.codes.push(code);
            if code == 253 {
                self.literals.extend_from_slice(element);
            }
            if self.codes.len() == 8 {
                self.flush(out);
            }
        }
    }

    fn flush(&mut self, out: &mut Vec<u8>) {
        if self.codes.is_empty() {
            return;
        }
        // Code 0 is padding, ignored.
        self.codes.resize(8, 0);
        out.extend_from_slice(&self.codes);
        out.extend_from_slice(&self.literals);
        self.codes.clear();
        self.literals.clear();
    }

    /// Writes the last, partial block.
    fn finish(&mut self, out: &mut Vec<u8>) {
        self.flush(out);
    }
}

/// SPSS dates count seconds from 1582-10-14.
fn spss_seconds(days_since_1970: i64) -> f64 {
    ((days_since_1970 - days_from_civil(1582, 10, 14)) * 86_400) as f64
}

fn push_case(out: &mut Vec<u8>, cells: &[Cell], vars: &[Var]) {
    for (cell, var) in cells.iter().zip(vars) {
        if let Some(w) = var.width {
            let text = match cell {
                Cell::Text(t) => cut_bytes(t, w).as_bytes(),
                _ => b"",
            };
            // 255 bytes to a segment (the last takes the rest).
            let mut rest = text;
            let n = var.segments.len();
            for (k, segment) in var.segments.iter().enumerate() {
                let take = if k + 1 < n {
                    rest.len().min(SEGMENT)
                } else {
                    rest.len()
                };
                out.extend_from_slice(&rest[..take]);
                out.resize(out.len() + (segment.elements * 8 - take), b' ');
                rest = &rest[take..];
            }
            continue;
        }
        let x = match cell {
            Cell::Number(x) => *x,
            Cell::Date(d) => spss_seconds(*d),
            Cell::DontKnow(_) | Cell::Refused(_) if var.date => SYSMIS,
            Cell::DontKnow(code) | Cell::Refused(code) => *code as f64,
            Cell::Empty | Cell::Text(_) => SYSMIS,
        };
        out.extend_from_slice(&x.to_le_bytes());
    }
}

/// `text` in a field of `width` bytes, padded with spaces.
fn padded(out: &mut Vec<u8>, text: &str, width: usize) {
    let text = cut_bytes(text, width).as_bytes();
    out.extend_from_slice(text);
    out.resize(out.len() + (width - text.len()), b' ');
}

fn int(out: &mut Vec<u8>, n: i32) {
    out.extend_from_slice(&n.to_le_bytes());
}

fn format(kind: u32, width: usize, decimals: u32) -> i32 {
    ((kind << 16) | ((width as u32) << 8) | decimals) as i32
}

/// Every record before the cases.
fn dictionary(table: &Table, vars: &[Var], long: &[String], label: &str, stamp: &Stamp) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"$FL2");
    padded(&mut b, "@(#) SPSS DATA FILE vicor export", 60);
    int(&mut b, 2); // layout code
    let case_size: usize = vars.iter().map(|v| v.elements).sum();
    int(&mut b, case_size as i32);
    int(&mut b, 1); // bytecode compression
    int(&mut b, 0); // no weight variable
    int(&mut b, i32::try_from(table.rows).unwrap_or(-1));
    b.extend_from_slice(&BIAS.to_le_bytes());
    padded(&mut b, &stamp.date, 9);
    padded(&mut b, &stamp.time, 8);
    padded(&mut b, label, 64);
    b.extend_from_slice(&[0; 3]);
    for (c, v) in table.columns.iter().zip(vars) {
        for (k, segment) in v.segments.iter().enumerate() {
            let first = k == 0;
            int(&mut b, 2);
            int(&mut b, segment.width as i32);
            int(&mut b, i32::from(first)); // the first segment has the label
            let missing: Vec<i64> = match (c.kind, v.width) {
                (Kind::Number { .. }, None) => c.dont_know.into_iter().chain(c.refused).collect(),
                _ => Vec::new(),
            };
            int(&mut b, missing.len() as i32);
            let f = match (c.kind, v.width) {
                (_, Some(_)) => format(FORMAT_A, segment.width, 0),
                (Kind::Date, _) => format(FORMAT_SDATE, 10, 0),
                (Kind::Number { integer: true }, _) => format(FORMAT_F, 12, 0),
                _ => format(FORMAT_F, 24, 8),
            };
            int(&mut b, f);
            int(&mut b, f);
            padded(&mut b, &segment.short, 8);
            if first {
                let text = cut_bytes(&c.label, VARIABLE_LABEL_BYTES);
                let text = if text.is_empty() { &c.name } else { text };
                int(&mut b, text.len() as i32);
                padded(&mut b, text, text.len().div_ceil(4) * 4);
            }
            for m in missing {
                b.extend_from_slice(&(m as f64).to_le_bytes());
            }
            for _ in 1..segment.elements {
                int(&mut b, 2);
                int(&mut b, -1);
                int(&mut b, 0);
                int(&mut b, 0);
                int(&mut b, 0);
                int(&mut b, 0);
                padded(&mut b, "", 8);
            }
        }
    }
    for (c, v) in table.columns.iter().zip(vars) {
        // A date answered DK or RF is system-missing: nothing to label.
        if v.width.is_some() || c.kind == Kind::Date {
            continue;
        }
        let labels = c.value_labels();
        if labels.is_empty() {
            continue;
        }
        int(&mut b, 3);
        int(&mut b, labels.len() as i32);
        for (code, text) in &labels {
            b.extend_from_slice(&(*code as f64).to_le_bytes());
            let text = cut_bytes(text, VALUE_LABEL_BYTES);
            b.push(text.len() as u8);
            padded(&mut b, text, (1 + text.len()).div_ceil(8) * 8 - 1);
        }
        int(&mut b, 4);
        int(&mut b, 1);
        int(&mut b, v.index as i32);
    }
    // Machine integer info: PSPP-like version, IEEE 754, little-endian,
    // UTF-8 (code page 65001).
    for n in [7, 3, 4, 8, 1, 6, 0, -1, 1, 1, 2, 65001] {
        int(&mut b, n);
    }
    // Machine float info: system-missing, highest, lowest.
    for n in [7, 4, 8, 3] {
        int(&mut b, n);
    }
    for x in [SYSMIS, f64::MAX, f64::from_bits(0xffef_ffff_ffff_fffe)] {
        b.extend_from_slice(&x.to_le_bytes());
    }
    // Display parameters, one set per segment: measure (1 nominal, 3
    // scale), width, alignment (0 left, 1 right).
    let all: usize = vars.iter().map(|v| v.segments.len()).sum();
    for n in [7, 11, 4, 3 * all as i32] {
        int(&mut b, n);
    }
    for (c, v) in table.columns.iter().zip(vars) {
        for _ in &v.segments {
            let nominal = v.width.is_some() || !c.labels.is_empty();
            int(&mut b, if nominal { 1 } else { 3 });
            int(&mut b, v.width.map_or(10, |w| w.min(40)) as i32);
            int(&mut b, if v.width.is_some() { 0 } else { 1 });
        }
    }
    let names: Vec<String> = vars
        .iter()
        .zip(long)
        .map(|(v, l)| format!("{}={l}", v.short))
        .collect();
    let names = names.join("\t");
    for n in [7, 13, 1, names.len() as i32] {
        int(&mut b, n);
    }
    b.extend_from_slice(names.as_bytes());
    // Very long strings: `SHORT=width` (5 digits), each ended by NUL, tab.
    let long_strings: Vec<u8> = vars
        .iter()
        .filter_map(|v| v.width.filter(|w| *w > SEGMENT).map(|w| (v, w)))
        .flat_map(|(v, w)| format!("{}={w:05}\0\t", v.short).into_bytes())
        .collect();
    if !long_strings.is_empty() {
        for n in [7, 14, 1, long_strings.len() as i32] {
            int(&mut b, n);
        }
        b.extend_from_slice(&long_strings);
    }
    for n in [7, 20, 1, 5] {
        int(&mut b, n);
    }
    b.extend_from_slice(b"UTF-8");
    int(&mut b, 999);
    int(&mut b, 0);
    b
}

#[cfg(test)]
mod tests {
    use super::super::columns::Column;
    use super::*;

    fn column(name: &str, kind: Kind) -> Column {
        Column {
            name: name.into(),
            label: format!("label of {name}"),
            kind,
            labels: Vec::new(),
            dont_know: None,
            refused: None,
        }
    }

    /// Undoes the bytecode compression: the cases' elements as written
    /// uncompressed.
    fn decompress(mut b: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        while b.len() >= 8 {
            let (codes, rest) = b.split_at(8);
            b = rest;
            for &code in codes {
                match code {
                    0 => {}
                    1..=251 => out.extend_from_slice(&(f64::from(code) - BIAS).to_le_bytes()),
                    253 => {
                        out.extend_from_slice(&b[..8]);
                        b = &b[8..];
                    }
                    254 => out.extend_from_slice(b"        "),
                    255 => out.extend_from_slice(&SYSMIS.to_le_bytes()),
                    c => panic!("code {c}"),
                }
            }
        }
        assert!(b.is_empty(), "whole blocks");
        out
    }

    #[test]
    fn compression_gives_back_every_element() {
        let numbers = [
            1.0, -99.0, 151.0, 152.0, -100.0, 0.5, SYSMIS, 98.0, 1e300, 0.0,
        ];
        let mut row = Vec::new();
        let mut numeric = Vec::new();
        for x in numbers {
            row.extend_from_slice(&f64::to_le_bytes(x));
            numeric.push(true);
        }
        for text in [b"        ", b"abc     ", b"        "] {
            row.extend_from_slice(text);
            numeric.push(false);
        }
        let mut c = Compressor::default();
        let mut out = Vec::new();
        for _ in 0..3 {
            c.case(&row, &numeric, &mut out);
        }
        c.finish(&mut out);
        assert_eq!(decompress(&out), row.repeat(3));
        // 39 elements: 5 blocks of codes, 5 literals a case (152, -100,
        // 0.5, 1e300, abc).
        assert_eq!(out.len(), 5 * 8 + 3 * 5 * 8);
    }

    struct Reader<'b> {
        b: &'b [u8],
        at: usize,
    }

    impl Reader<'_> {
        fn bytes(&mut self, n: usize) -> &[u8] {
            self.at += n;
            &self.b[self.at - n..self.at]
        }
        fn int(&mut self) -> i32 {
            i32::from_le_bytes(self.bytes(4).try_into().expect("4"))
        }
        fn f64(&mut self) -> f64 {
            f64::from_le_bytes(self.bytes(8).try_into().expect("8"))
        }
        fn text(&mut self, n: usize) -> String {
            String::from_utf8_lossy(self.bytes(n)).into_owned()
        }
    }

    /// A small file, read back record by record as the format documents.
    #[test]
    fn the_records_follow_the_system_file_layout() {
        let dir = tempfile::tempdir().expect("tempdir");
        let csv = dir.path().join("t.csv");
        std::fs::write(
            &csv,
            "case_id,sex,born,a_rather_long_variable_name\nabcdefghij,1,1582-10-15,x\nk,98,,\n",
        )
        .expect("write");
        let mut sex = column("sex", Kind::Number { integer: true });
        sex.labels = vec![(1, "Male".into())];
        sex.dont_know = Some(98);
        sex.refused = Some(99);
        let columns = vec![
            column("case_id", Kind::Text),
            sex,
            column("born", Kind::Date),
            column("a_rather_long_variable_name", Kind::Text),
        ];
        let table = Table::scan(&csv, columns).expect("scan");
        let path = dir.path().join("t.sav");
        let stamp = Stamp {
            date: "07 Dec 26".into(),
            time: "05:40:00".into(),
        };
        let names = write(&table, "a label", &stamp, &path).expect("write");
        assert_eq!(names[3], "a_rather_long_variable_name");
        let b = std::fs::read(&path).expect("read");
        let mut r = Reader { b: &b, at: 0 };
        assert_eq!(r.text(4), "$FL2");
        assert!(r.text(60).starts_with("@(#) SPSS DATA FILE"));
        // case_id is 10 bytes: 2 elements; then sex, born, and 1 element.
        assert_eq!(
            [r.int(), r.int(), r.int(), r.int(), r.int()],
            [2, 5, 1, 0, 2]
        );
        assert_eq!(r.f64(), 100.0);
        assert_eq!(r.text(9), "07 Dec 26");
        assert_eq!(r.text(8), "05:40:00");
        assert!(r.text(64).starts_with("a label "));
        r.bytes(3);
        assert_eq!(r.at, 176);
        // case_id: a string of 10 with one continuation record.
        assert_eq!([r.int(), r.int(), r.int(), r.int()], [2, 10, 1, 0]);
        assert_eq!([r.int(), r.int()], [0x01_0a00, 0x01_0a00]);
        assert_eq!(r.text(8), "CASE_ID ");
        let len = r.int() as usize;
        assert_eq!(r.text(len.div_ceil(4) * 4), "label of case_id");
        assert_eq!([r.int(), r.int(), r.int(), r.int()], [2, -1, 0, 0]);
        r.bytes(16);
        // sex: numeric, two discrete missing values.
        assert_eq!([r.int(), r.int(), r.int(), r.int()], [2, 0, 1, 2]);
        assert_eq!([r.int(), r.int()], [0x05_0c00, 0x05_0c00]);
        assert_eq!(r.text(8), "SEX     ");
        let len = r.int() as usize;
        r.bytes(len.div_ceil(4) * 4);
        assert_eq!((r.f64(), r.f64()), (98.0, 99.0));
        // born: a date.
        assert_eq!([r.int(), r.int(), r.int(), r.int()], [2, 0, 1, 0]);
        assert_eq!(r.int(), 0x27_0a00);
        r.int();
        assert_eq!(r.text(8), "BORN    ");
        let len = r.int() as usize;
        r.bytes(len.div_ceil(4) * 4);
        // The long name: an 8-byte short name.
        assert_eq!([r.int(), r.int()], [2, 1]);
        r.bytes(16);
        assert_eq!(r.text(8), "A_RATHER");
        let len = r.int() as usize;
        r.bytes(len.div_ceil(4) * 4);
        // Value labels of sex (element 3): 1, 98, 99.
        assert_eq!([r.int(), r.int()], [3, 3]);
        assert_eq!(r.f64(), 1.0);
        assert_eq!(r.bytes(1), [4]);
        assert_eq!(r.text(7), "Male   ");
        assert_eq!(r.f64(), 98.0);
        assert_eq!(r.bytes(1), [10]);
        assert_eq!(r.text(15), "Don't know     ");
        assert_eq!(r.f64(), 99.0);
        assert_eq!(r.bytes(1), [7]);
        r.bytes(7);
        assert_eq!([r.int(), r.int(), r.int()], [4, 1, 3]);
        assert_eq!([r.int(), r.int(), r.int(), r.int()], [7, 3, 4, 8]);
        r.bytes(32);
        assert_eq!([r.int(), r.int(), r.int(), r.int()], [7, 4, 8, 3]);
        assert_eq!(r.f64(), SYSMIS);
        r.bytes(16);
        assert_eq!([r.int(), r.int(), r.int(), r.int()], [7, 11, 4, 12]);
        r.bytes(48);
        assert_eq!([r.int(), r.int(), r.int()], [7, 13, 1]);
        let len = r.int() as usize;
        assert_eq!(
            r.text(len),
            "CASE_ID=case_id\tSEX=sex\tBORN=born\tA_RATHER=a_rather_long_variable_name"
        );
        assert_eq!([r.int(), r.int(), r.int(), r.int()], [7, 20, 1, 5]);
        assert_eq!(r.text(5), "UTF-8");
        assert_eq!([r.int(), r.int()], [999, 0]);
        // Two cases of 5 elements, compressed.
        let cases = decompress(&b[r.at..]);
        assert_eq!(cases.len(), 2 * 5 * 8);
        let mut r = Reader { b: &cases, at: 0 };
        assert_eq!(r.text(16), "abcdefghij      ");
        assert_eq!(r.f64(), 1.0);
        assert_eq!(r.f64(), 86_400.0, "one day after the epoch");
        assert_eq!(r.text(8), "x       ");
        assert_eq!(r.text(16), "k               ");
        assert_eq!((r.f64(), r.f64()), (98.0, SYSMIS));
        assert_eq!(r.text(8), "        ");
    }

    /// The segments of PSPP's examples: a 256-byte string is 255 + 4, a
    /// 600-byte one 255 + 255 + 96; the data are packed 255 bytes to a
    /// segment, each segment padded to its 8-byte elements.
    #[test]
    fn a_very_long_string_is_cut_into_segments() {
        assert_eq!(segments(255), [(255, 32)]);
        assert_eq!(segments(256), [(255, 32), (4, 1)]);
        assert_eq!(segments(600), [(255, 32), (255, 32), (96, 12)]);
        assert_eq!(segments(STR_MAX).len(), 131);
        let dir = tempfile::tempdir().expect("tempdir");
        let csv = dir.path().join("t.csv");
        let text: String = (0..600)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        std::fs::write(&csv, format!("t\n{text}\nshort\n")).expect("write");
        let table = Table::scan(&csv, vec![column("t", Kind::Text)]).expect("scan");
        let path = dir.path().join("t.sav");
        let stamp = Stamp {
            date: "07 Dec 26".into(),
            time: "05:40:00".into(),
        };
        write(&table, "", &stamp, &path).expect("write");
        let b = std::fs::read(&path).expect("read");
        let find = |tag: &[u8]| b.windows(tag.len()).position(|w| w == tag);
        assert!(
            find(b"T=00600\0\t").is_some(),
            "the very long string record"
        );
        let end = b
            .windows(8)
            .position(|w| w == [0xe7, 3, 0, 0, 0, 0, 0, 0])
            .expect("999");
        let cases = &decompress(&b[end + 8..]);
        assert_eq!(cases.len(), 2 * 76 * 8);
        let first = &cases[..76 * 8];
        assert_eq!(&first[..255], &text.as_bytes()[..255]);
        assert_eq!(first[255], b' ');
        assert_eq!(&first[256..256 + 255], &text.as_bytes()[255..510]);
        assert_eq!(&first[512..512 + 90], &text.as_bytes()[510..]);
        assert!(first[602..].iter().all(|&c| c == b' '));
        assert!(cases[76 * 8..].starts_with(b"short   "));
    }

    #[test]
    fn short_names_are_unique_without_case() {
        let long: Vec<String> = ["vehicles_1", "vehicles_2", "Vehicles_3", "ab"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            short_names(&long),
            ["VEHICLES", "VEHICL_2", "VEHICL_3", "AB"]
        );
    }
}
