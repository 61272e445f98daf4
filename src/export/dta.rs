//! Stata `.dta` files, format 118 (Stata 14 and later), written from the
//! published specification ("[P] File formats .dta", `help dta`).
//!
//! Layout: `<stata_dta>`, a header (release 118, byte order `LSF`, K
//! variables as 2 bytes, N observations as 8, a dataset label, no time
//! stamp so that the same export gives the same bytes), the map of the 14
//! file positions (rewritten once they are known), then variable types,
//! names (129 bytes each), an empty sort list, display formats (57 bytes),
//! value-label names (129), variable labels (321), no characteristics, the
//! data, the strLs and the value-label tables.
//!
//! Every number is a `double`: a DK or RF code is the extended missing
//! value `.a` or `.b` (labelled "Don't know" and "Refused"), an empty cell
//! is `.`; a date is a `%td` day count (days since 1960-01-01), a date
//! answered DK or RF `.a`/`.b` too. Text is `str#` of the column's longest
//! cell, or a `strL` when that is over 2,045 bytes: its cells are then
//! (v,o) references into `<strls>`, one GSO (UTF-8 text, type 130, with
//! its `\0`) per non-empty cell. A text item answered DK or RF holds its
//! code as text, as in the CSV.
//!
//! Names: Stata takes 32 characters of letters, digits and `_`, not
//! starting with a digit, and not a reserved word; another column gets a
//! close name (returned, so that the codebook lists the change).

use std::collections::HashSet;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use super::ExportError;
use super::columns::{Cell, Kind, Table, cut_bytes, days_from_civil};

/// The longest `str#`.
const STR_MAX: usize = 2045;
/// Variable labels and the dataset label keep 80 characters.
const LABEL_CHARS: usize = 80;
/// A value label's text keeps at most 32,000 bytes.
const VALUE_LABEL_BYTES: usize = 32_000;
/// Format 118 holds at most this many variables (119 more, for Stata/MP).
const MAX_VARIABLES: usize = 32_767;
/// Names keep 32 characters.
const NAME_CHARS: usize = 32;

const DOUBLE: u16 = 65526;
const STRL: u16 = 32768;
/// `.` as a double (+1.0000000000000X+3ff).
const MISSING: u64 = 0x7fe0_0000_0000_0000;
/// `.a`; `.b` is one step of 2^40 further.
const MISSING_A: u64 = 0x7fe0_0100_0000_0000;
const MISSING_B: u64 = 0x7fe0_0200_0000_0000;
/// `.a` and `.b` in a value-label table (their `long` codes).
const LABEL_A: i32 = 2_147_483_622;
const LABEL_B: i32 = 2_147_483_623;
/// The largest `long` that is not a missing value.
const LONG_MAX: i64 = 2_147_483_620;

/// Words Stata keeps for itself.
const RESERVED: [&str; 20] = [
    "_all", "_b", "byte", "_coef", "_cons", "double", "float", "if", "in", "int", "long", "_n",
    "_N", "_pi", "_pred", "_rc", "_skip", "strL", "using", "with",
];

fn is_stata_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= NAME_CHARS
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED.contains(&name)
        && !is_str_type(name)
}

/// `str1` … `str2045` are type names too.
fn is_str_type(name: &str) -> bool {
    name.strip_prefix("str")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The Stata names of a file's columns: the CSV header where Stata takes
/// it, else a close name (cut at 32 characters, `_2`, `_3`… when taken),
/// all different.
pub fn names(columns: &[String]) -> Vec<String> {
    let mut used: HashSet<String> = columns
        .iter()
        .filter(|c| is_stata_name(c))
        .cloned()
        .collect();
    columns
        .iter()
        .map(|c| {
            if is_stata_name(c) {
                return c.clone();
            }
            let mut base: String = c
                .chars()
                .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '_' })
                .collect();
            if !base.starts_with(|ch: char| ch.is_ascii_alphabetic() || ch == '_') {
                base.insert(0, 'v');
            }
            if RESERVED.contains(&base.as_str()) || is_str_type(&base) {
                base.push('_');
            }
            for n in 1.. {
                let suffix = if n == 1 {
                    String::new()
                } else {
                    format!("_{n}")
                };
                let name = format!("{}{suffix}", cut_bytes(&base, NAME_CHARS - suffix.len()));
                if is_stata_name(&name) && used.insert(name.clone()) {
                    return name;
                }
            }
            unreachable!("some suffix is free")
        })
        .collect()
}

/// Writes `table` as a `.dta` file at `path`, labelled `label`; the Stata
/// name of each column.
pub fn write(table: &Table, label: &str, path: &Path) -> Result<Vec<String>, ExportError> {
    let io = |source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    };
    if table.columns.len() > MAX_VARIABLES {
        return Err(io(std::io::Error::other(format!(
            "{} columns, where a Stata file of format 118 holds at most {MAX_VARIABLES}: export this level with --format csv or sav",
            table.columns.len()
        ))));
    }
    let file = std::fs::File::create(path).map_err(io)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let names = names(
        &table
            .columns
            .iter()
            .map(|c| c.name.clone())
            .collect::<Vec<_>>(),
    );
    let head = header(table, &names, label);
    out.write_all(&head.bytes).map_err(io)?;
    let mut map = head.map;
    let mut at = head.bytes.len() as u64;
    let widths = str_widths(table);
    let mut row = Vec::new();
    // The strLs follow the data: gathered as the rows are written.
    let mut strls = Vec::new();
    let mut obs = 0u64;
    let mut failed = None;
    table.each_row(|_, cells| {
        row.clear();
        obs += 1;
        push_row(&mut row, cells, &widths, obs, &mut strls);
        at += row.len() as u64;
        if failed.is_none()
            && let Err(e) = out.write_all(&row)
        {
            failed = Some(e);
        }
        Ok(())
    })?;
    if let Some(e) = failed {
        return Err(io(e));
    }
    let mut tail = Vec::new();
    tail.extend_from_slice(b"</data>");
    map[10] = at + tail.len() as u64;
    tail.extend_from_slice(b"<strls>");
    tail.extend_from_slice(&strls);
    tail.extend_from_slice(b"</strls>");
    map[11] = at + tail.len() as u64;
    tail.extend_from_slice(b"<value_labels>");
    push_value_labels(&mut tail, table, &names);
    tail.extend_from_slice(b"</value_labels>");
    map[12] = at + tail.len() as u64;
    tail.extend_from_slice(b"</stata_dta>");
    map[13] = at + tail.len() as u64;
    out.write_all(&tail).map_err(io)?;
    let mut file = out.into_inner().map_err(|e| io(e.into_error()))?;
    file.seek(SeekFrom::Start(head.map_at)).map_err(io)?;
    let mut bytes = Vec::with_capacity(14 * 8);
    for m in map {
        bytes.extend_from_slice(&m.to_le_bytes());
    }
    file.write_all(&bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(names)
}

/// How a column's cells are stored.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Double,
    /// `str#` of this many bytes.
    Str(usize),
    StrL,
}

/// Each column's field in the data.
fn str_widths(table: &Table) -> Vec<Field> {
    table
        .columns
        .iter()
        .zip(&table.widths)
        .map(|(c, &w)| match c.kind {
            Kind::Text if w > STR_MAX => Field::StrL,
            Kind::Text => Field::Str(w.max(1)),
            _ => Field::Double,
        })
        .collect()
}

/// Stata's `%td` counts days from 1960-01-01.
fn stata_days(days_since_1970: i64) -> f64 {
    (days_since_1970 - days_from_civil(1960, 1, 1)) as f64
}

/// One observation (`obs`, from 1) into `out`, its strLs into `strls`.
fn push_row(out: &mut Vec<u8>, cells: &[Cell], widths: &[Field], obs: u64, strls: &mut Vec<u8>) {
    for (v, (cell, width)) in cells.iter().zip(widths).enumerate() {
        match (cell, width) {
            (Cell::Text(t), Field::Str(w)) => {
                let t = cut_bytes(t, *w).as_bytes();
                out.extend_from_slice(t);
                out.resize(out.len() + (w - t.len()), 0);
            }
            (Cell::Text(t), Field::StrL) => {
                if t.is_empty() {
                    // (0,0) is the empty strL.
                    out.extend_from_slice(&[0; 8]);
                    continue;
                }
                // (v,o): v in 2 bytes, o in 6.
                let v = (v + 1) as u64;
                out.extend_from_slice(&(v | (obs << 16)).to_le_bytes());
                strls.extend_from_slice(b"GSO");
                strls.extend_from_slice(&(v as u32).to_le_bytes());
                strls.extend_from_slice(&obs.to_le_bytes());
                strls.push(130);
                strls.extend_from_slice(&(t.len() as u32 + 1).to_le_bytes());
                strls.extend_from_slice(t.as_bytes());
                strls.push(0);
            }
            (cell, _) => {
                let bits = match cell {
                    Cell::Number(x) => x.to_bits(),
                    Cell::Date(d) => stata_days(*d).to_bits(),
                    Cell::DontKnow(_) => MISSING_A,
                    Cell::Refused(_) => MISSING_B,
                    Cell::Empty | Cell::Text(_) => MISSING,
                };
                out.extend_from_slice(&bits.to_le_bytes());
            }
        }
    }
}

/// The bytes before the data, the map (with the positions known so far)
/// and where the map's numbers start.
struct Header {
    bytes: Vec<u8>,
    map: [u64; 14],
    map_at: u64,
}

/// A fixed-width, `\0`-padded field of `width` bytes holding `text`.
fn fixed(out: &mut Vec<u8>, text: &str, width: usize) {
    let text = cut_bytes(text, width - 1).as_bytes();
    out.extend_from_slice(text);
    out.resize(out.len() + (width - text.len()), 0);
}

fn chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

fn header(table: &Table, names: &[String], label: &str) -> Header {
    let k = table.columns.len();
    let mut b = Vec::new();
    let mut map = [0u64; 14];
    b.extend_from_slice(b"<stata_dta><header><release>118</release><byteorder>LSF</byteorder>");
    b.extend_from_slice(b"<K>");
    b.extend_from_slice(&(k as u16).to_le_bytes());
    b.extend_from_slice(b"</K><N>");
    b.extend_from_slice(&(table.rows as u64).to_le_bytes());
    b.extend_from_slice(b"</N><label>");
    let label = chars(label, LABEL_CHARS).as_bytes();
    b.extend_from_slice(&(label.len() as u16).to_le_bytes());
    b.extend_from_slice(label);
    b.extend_from_slice(b"</label><timestamp>\0</timestamp></header>");
    map[1] = b.len() as u64;
    b.extend_from_slice(b"<map>");
    let map_at = b.len() as u64;
    b.resize(b.len() + 14 * 8, 0);
    b.extend_from_slice(b"</map>");
    map[2] = b.len() as u64;
    b.extend_from_slice(b"<variable_types>");
    let widths = str_widths(table);
    for w in &widths {
        let t = match w {
            Field::Double => DOUBLE,
            Field::Str(w) => *w as u16,
            Field::StrL => STRL,
        };
        b.extend_from_slice(&t.to_le_bytes());
    }
    b.extend_from_slice(b"</variable_types>");
    map[3] = b.len() as u64;
    b.extend_from_slice(b"<varnames>");
    for n in names {
        fixed(&mut b, n, 129);
    }
    b.extend_from_slice(b"</varnames>");
    map[4] = b.len() as u64;
    b.extend_from_slice(b"<sortlist>");
    b.resize(b.len() + (k + 1) * 2, 0);
    b.extend_from_slice(b"</sortlist>");
    map[5] = b.len() as u64;
    b.extend_from_slice(b"<formats>");
    for (c, w) in table.columns.iter().zip(&widths) {
        let f = match (c.kind, w) {
            (Kind::Text, Field::Str(w)) => format!("%-{}s", w.min(&48)),
            (Kind::Text, _) => "%-48s".to_string(),
            (Kind::Date, _) => "%td".to_string(),
            (Kind::Number { integer: true }, _) => "%12.0g".to_string(),
            _ => "%10.0g".to_string(),
        };
        fixed(&mut b, &f, 57);
    }
    b.extend_from_slice(b"</formats>");
    map[6] = b.len() as u64;
    b.extend_from_slice(b"<value_label_names>");
    for (c, n) in table.columns.iter().zip(names) {
        let labelled = c.kind != Kind::Text && !c.value_labels().is_empty();
        fixed(&mut b, if labelled { n } else { "" }, 129);
    }
    b.extend_from_slice(b"</value_label_names>");
    map[7] = b.len() as u64;
    b.extend_from_slice(b"<variable_labels>");
    for c in &table.columns {
        let clean = c.label.replace(['\n', '\r'], " ");
        fixed(&mut b, chars(&clean, LABEL_CHARS), 321);
    }
    b.extend_from_slice(b"</variable_labels>");
    map[8] = b.len() as u64;
    b.extend_from_slice(b"<characteristics></characteristics>");
    map[9] = b.len() as u64;
    b.extend_from_slice(b"<data>");
    Header {
        bytes: b,
        map,
        map_at,
    }
}

/// One `<lbl>` table per labelled numeric column, named as the column.
/// Codes outside Stata's `long` range cannot be labelled and are left out.
fn push_value_labels(out: &mut Vec<u8>, table: &Table, names: &[String]) {
    for (c, name) in table.columns.iter().zip(names) {
        if c.kind == Kind::Text {
            continue;
        }
        let mut entries: Vec<(i32, &str)> = Vec::new();
        let labels = c.value_labels();
        for (code, text) in &labels {
            let value = if Some(*code) == c.dont_know {
                LABEL_A
            } else if Some(*code) == c.refused {
                LABEL_B
            } else if (-LONG_MAX..=LONG_MAX).contains(code) {
                *code as i32
            } else {
                continue;
            };
            if !entries.iter().any(|(v, _)| *v == value) {
                entries.push((value, cut_bytes(text, VALUE_LABEL_BYTES)));
            }
        }
        if entries.is_empty() {
            continue;
        }
        entries.sort_by_key(|(v, _)| *v);
        let mut txt = Vec::new();
        let mut offs = Vec::new();
        for (_, text) in &entries {
            offs.push(txt.len() as u32);
            txt.extend_from_slice(text.as_bytes());
            txt.push(0);
        }
        let n = entries.len();
        let len = 8 + 8 * n + txt.len();
        out.extend_from_slice(b"<lbl>");
        out.extend_from_slice(&(len as u32).to_le_bytes());
        fixed(out, name, 129);
        out.extend_from_slice(&[0; 3]);
        out.extend_from_slice(&(n as u32).to_le_bytes());
        out.extend_from_slice(&(txt.len() as u32).to_le_bytes());
        for o in offs {
            out.extend_from_slice(&o.to_le_bytes());
        }
        for (v, _) in &entries {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&txt);
        out.extend_from_slice(b"</lbl>");
    }
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

    /// A small file, read back field by field at the offsets the
    /// specification gives.
    #[test]
    fn the_bytes_follow_the_format_118_layout() {
        let dir = tempfile::tempdir().expect("tempdir");
        let csv = dir.path().join("t.csv");
        std::fs::write(&csv, "id,sex,born\nab,1,1960-01-02\nc,98,\n").expect("write");
        let mut sex = column("sex", Kind::Number { integer: true });
        sex.labels = vec![(1, "Male".into()), (2, "Female".into())];
        sex.dont_know = Some(98);
        let columns = vec![column("id", Kind::Text), sex, column("born", Kind::Date)];
        let table = Table::scan(&csv, columns).expect("scan");
        let path = dir.path().join("t.dta");
        let names = write(&table, "test file", &path).expect("write");
        assert_eq!(names, ["id", "sex", "born"]);
        let b = std::fs::read(&path).expect("read");
        let find = |tag: &[u8]| {
            b.windows(tag.len())
                .position(|w| w == tag)
                .unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(tag)))
        };
        let u16_at = |at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
        let u64_at = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8"));
        assert!(b.starts_with(b"<stata_dta><header><release>118</release><byteorder>LSF"));
        assert_eq!(u16_at(find(b"<K>") + 3), 3);
        assert_eq!(u64_at(find(b"<N>") + 3), 2);
        let label = find(b"<label>") + 7;
        assert_eq!(u16_at(label), 9);
        assert_eq!(&b[label + 2..label + 11], b"test file");
        // The map points at each section's opening tag.
        let map = find(b"<map>") + 5;
        let tags: [&[u8]; 13] = [
            b"<stata_dta>",
            b"<map>",
            b"<variable_types>",
            b"<varnames>",
            b"<sortlist>",
            b"<formats>",
            b"<value_label_names>",
            b"<variable_labels>",
            b"<characteristics>",
            b"<data>",
            b"<strls>",
            b"<value_labels>",
            b"</stata_dta>",
        ];
        for (i, tag) in tags.iter().enumerate() {
            assert_eq!(
                u64_at(map + 8 * i) as usize,
                find(tag),
                "map entry {}",
                i + 1
            );
        }
        assert_eq!(u64_at(map + 8 * 13) as usize, b.len());
        // Types: str2 (the longest id), double, double.
        let types = find(b"<variable_types>") + 16;
        assert_eq!(
            (u16_at(types), u16_at(types + 2), u16_at(types + 4)),
            (2, DOUBLE, DOUBLE)
        );
        let names_at = find(b"<varnames>") + 10;
        assert_eq!(&b[names_at + 129..names_at + 133], b"sex\0");
        let formats = find(b"<formats>") + 9;
        assert_eq!(&b[formats + 2 * 57..formats + 2 * 57 + 4], b"%td\0");
        let vl = find(b"<value_label_names>") + 19;
        assert_eq!(b[vl], 0, "text has no value labels");
        assert_eq!(&b[vl + 129..vl + 133], b"sex\0");
        let labels = find(b"<variable_labels>") + 17;
        assert_eq!(&b[labels + 321..labels + 334], b"label of sex\0");
        // Rows: 2 + 8 + 8 bytes each.
        let data = find(b"<data>") + 6;
        assert_eq!(find(b"</data>") - data, 2 * 18);
        assert_eq!(&b[data..data + 2], b"ab");
        let f = |at: usize| f64::from_le_bytes(b[at..at + 8].try_into().expect("8"));
        assert_eq!(f(data + 2), 1.0);
        assert_eq!(f(data + 10), 1.0, "1960-01-02 is day 1");
        let second = data + 18;
        assert_eq!(&b[second..second + 2], b"c\0");
        assert_eq!(u64_at(second + 2), MISSING_A);
        assert_eq!(u64_at(second + 10), MISSING);
        // One value-label table: 1, 2 and .a, sorted.
        let lbl = find(b"<lbl>") + 5;
        let len = u32::from_le_bytes(b[lbl..lbl + 4].try_into().expect("4")) as usize;
        assert_eq!(&b[lbl + 4..lbl + 8], b"sex\0");
        let t = lbl + 4 + 129 + 3;
        let u32_at = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().expect("4"));
        let txt = b"Male\0Female\0Don't know\0";
        assert_eq!((u32_at(t), u32_at(t + 4)), (3, txt.len() as u32));
        assert_eq!(len, 8 + 8 * 3 + txt.len());
        assert_eq!([u32_at(t + 8), u32_at(t + 12), u32_at(t + 16)], [0, 5, 12]);
        assert_eq!(
            [u32_at(t + 20), u32_at(t + 24), u32_at(t + 28)],
            [1, 2, LABEL_A as u32]
        );
        assert_eq!(&b[t + 32..t + 32 + txt.len()], txt);
        assert_eq!(&b[t + 32 + txt.len()..t + 38 + txt.len()], b"</lbl>");
    }

    #[test]
    fn names_stata_refuses_get_close_ones() {
        let long = "a".repeat(40);
        let columns: Vec<String> = [
            "ok",
            "in",
            "1st",
            "str12",
            long.as_str(),
            &format!("{long}b"),
            "x-y",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let got = names(&columns);
        assert_eq!(got[..4], ["ok", "in_", "v1st", "str12_"]);
        assert_eq!(got[4], "a".repeat(32));
        assert_eq!(got[5], format!("{}_2", "a".repeat(30)));
        assert_eq!(got[6], "x_y");
        assert!(got.iter().all(|n| is_stata_name(n)));
    }

    /// A text over 2,045 bytes makes its column a strL: (v,o) in the data,
    /// one GSO per non-empty cell in `<strls>`.
    #[test]
    fn long_text_is_a_strl() {
        let dir = tempfile::tempdir().expect("tempdir");
        let csv = dir.path().join("t.csv");
        let long = "é".repeat(STR_MAX);
        std::fs::write(&csv, format!("n,t\n1,{long}\n2,\n3,x\n")).expect("write");
        let columns = vec![
            column("n", Kind::Number { integer: true }),
            column("t", Kind::Text),
        ];
        let table = Table::scan(&csv, columns).expect("scan");
        let path = dir.path().join("t.dta");
        write(&table, "", &path).expect("write");
        let b = std::fs::read(&path).expect("read");
        let find = |tag: &[u8]| b.windows(tag.len()).position(|w| w == tag).expect("a tag");
        let types = find(b"<variable_types>") + 16;
        assert_eq!(u16::from_le_bytes([b[types + 2], b[types + 3]]), STRL);
        let data = find(b"<data>") + 6;
        let u64_at = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8"));
        // Rows of a double and a (v,o): v = 2 in the low 2 bytes, o = obs.
        assert_eq!(find(b"</data>") - data, 3 * 16);
        assert_eq!(u64_at(data + 8), 2 | (1 << 16));
        assert_eq!(u64_at(data + 24), 0, "an empty strL is (0,0)");
        assert_eq!(u64_at(data + 40), 2 | (3 << 16));
        let strls = find(b"<strls>") + 7;
        let u32_at = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().expect("4"));
        assert_eq!(&b[strls..strls + 3], b"GSO");
        assert_eq!(
            (u32_at(strls + 3), u64_at(strls + 7), b[strls + 15]),
            (2, 1, 130)
        );
        let len = u32_at(strls + 16) as usize;
        assert_eq!(len, long.len() + 1);
        assert_eq!(&b[strls + 20..strls + 20 + long.len()], long.as_bytes());
        assert_eq!(b[strls + 20 + long.len()], 0);
        let second = strls + 20 + len;
        assert_eq!(&b[second..second + 3], b"GSO");
        assert_eq!((u32_at(second + 3), u64_at(second + 7)), (2, 3));
        assert_eq!(&b[second + 20..second + 22], b"x\0");
        assert_eq!(&b[second + 22..second + 30], b"</strls>");
    }
}
