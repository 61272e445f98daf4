//! Microdata export: what leaves vicor for R, Stata and SPSS.
//!
//! The store keeps every answer ever given, including answers that later
//! became irrelevant (skipped by a changed filter). The export must give the
//! *interview's* data, so each case is walked through the interview engine
//! (one `interview::walk::Replay` per instrument version) and only the
//! answers relevant on its path and its computed values are written: a
//! skipped answer kept in the store never leaks into a file. A case whose
//! store kept a current replay of that walk ([`replay`]) is read from it
//! instead, with the same result.
//!
//! Invariants (tested by `tests/export.rs`):
//! - every relevant answer, DK/RF code and roster row of every exported case
//!   appears exactly once, in the file of its level, keyed by `case_id` and
//!   its roster row keys;
//! - skipped and not-asked cells are empty; DK/RF are the declared codes;
//! - items marked `pii` (and their values in the paradata, and notes) are
//!   left out unless asked for;
//! - the output folder appears whole or not at all: everything is written
//!   into a temporary folder beside it and renamed at the end.
//!
//! No terminal code: the binary prints the [`Summary`].

mod codebook;
mod columns;
mod dta;
pub mod layout;
mod parquet;
pub mod replay;
mod sav;
mod scripts;
mod sink;
mod tables;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::instrument::Instrument;
use crate::store::{CaseStatus, CaseSummary, Store, StoreError};

pub use codebook::crime_types;
pub use layout::{Layout, VarType};

/// Why an export failed. Nothing is left behind in any case.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[non_exhaustive]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),

    /// A case's instrument hash matches none of the instruments given.
    #[error(
        "case {case} was interviewed with instrument {id} version {version} (hash {hash}), which matches no instrument given: pass that version's file with --instrument"
    )]
    NoInstrument {
        case: String,
        id: String,
        version: String,
        hash: String,
    },

    /// The store holds cases of different questionnaires.
    #[error(
        "the store holds cases of several instruments ({ids}): an export holds one instrument; split the store, or merge only one instrument's stores"
    )]
    SeveralInstruments { ids: String },

    /// An item changed kind or roster between versions.
    #[error(
        "item `{item}` differs between instrument versions {first} and {second} (its type or its roster changed): migrate the cases to one version before exporting"
    )]
    VersionsDiffer {
        item: String,
        first: String,
        second: String,
    },

    /// Two columns of one file would have the same name.
    #[error(
        "column `{column}` of {file} would come from both {first} and {second}: rename one of the items in the instrument"
    )]
    ColumnClash {
        column: String,
        file: String,
        first: String,
        second: String,
    },

    #[error("the store holds no {what} cases: nothing to export{hint}")]
    NoCases {
        what: &'static str,
        hint: &'static str,
    },

    /// The output folder exists and holds files.
    #[error(
        "{path} already exists and is not empty: choose a new folder, or pass --force to replace it"
    )]
    OutputExists { path: PathBuf },

    #[error("{path} exists and is not a folder: choose another --out")]
    OutputNotFolder { path: PathBuf },

    #[error("cannot write the export into {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot write {path}: {source}")]
    Csv { path: PathBuf, source: csv::Error },

    /// A cell of a level CSV that does not read as its column's type while
    /// the binary files are made from it (a bug in vicor).
    #[error(
        "{path}:{line}: column `{column}`: {why}, where the binary formats need its column's type (a bug in vicor: please report it; --format csv alone avoids it)"
    )]
    Convert {
        path: PathBuf,
        line: usize,
        column: String,
        why: String,
    },

    /// A stored path that the engine cannot read (a damaged store).
    #[error(
        "case {case} has answers at paths that are not item paths ({paths}): the store may be damaged; check it with a copy of vicor that wrote it"
    )]
    Unreadable { case: String, paths: String },
}

/// Which cases to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusFilter {
    /// Completed interviews only.
    #[default]
    Complete,
    /// Every case, whatever its status (the status is a column).
    All,
}

/// What to export.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub include_pii: bool,
    pub status: StatusFilter,
    /// Replace an existing non-empty output folder.
    pub force: bool,
    /// The formats of the level files; empty means CSV alone.
    pub formats: Vec<Format>,
}

/// A file format of the level files (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Format {
    /// One CSV per level, with the R, Stata and SPSS import scripts.
    Csv,
    /// Stata `.dta`, format 118 (Stata 14 and later).
    Dta,
    /// SPSS system file `.sav`, uncompressed.
    Sav,
    /// Parquet, labels in the key-value metadata.
    Parquet,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Dta => "dta",
            Format::Sav => "sav",
            Format::Parquet => "parquet",
        }
    }
}

impl Options {
    /// The formats asked for, each once, CSV first; CSV alone by default.
    pub fn formats(&self) -> Vec<Format> {
        let mut f = self.formats.clone();
        if f.is_empty() {
            f.push(Format::Csv);
        }
        f.sort();
        f.dedup();
        f
    }
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Summary {
    pub out: PathBuf,
    pub cases: usize,
    /// Rows per file, in file order.
    pub files: Vec<(String, usize)>,
    /// Items left out as personal identifiers.
    pub left_out: Vec<String>,
    /// Cases left out by the status filter.
    pub filtered: usize,
}

/// Exports the store's cases into the folder `out`.
///
/// `instruments` are the questionnaires the cases may have been interviewed
/// with; each case is matched to one by its stored content hash. Cases of
/// several versions of one instrument share one export (see [`layout`]).
pub fn export(
    store: &Store,
    instruments: &[Instrument],
    out: &Path,
    options: &Options,
) -> Result<Summary, ExportError> {
    check_output(out, options.force)?;
    let all = store.cases()?;
    let total = all.len();
    let cases: Vec<CaseSummary> = all
        .into_iter()
        .filter(|c| options.status == StatusFilter::All || c.status == CaseStatus::Completed)
        .collect();
    if cases.is_empty() {
        return Err(match options.status {
            StatusFilter::Complete => ExportError::NoCases {
                what: "completed",
                hint: " (--status all exports cases in progress too)",
            },
            StatusFilter::All => ExportError::NoCases { what: "", hint: "" },
        });
    }
    let (used, by_hash) = match_instruments(&cases, instruments)?;
    let layout = Layout::build(&used, options.include_pii)?;
    let staging = Staging::new(out)?;
    let counts = tables::write(
        store,
        &cases,
        &by_hash,
        &layout,
        staging.path(),
        options.include_pii,
    )?;
    let formats = options.formats();
    let binary = binary_files(&layout, &used, &formats, &counts.levels, staging.path())?;
    let mut files: Vec<(String, usize)> = Vec::new();
    for (level, rows) in layout.levels.iter().zip(counts.levels.iter().copied()) {
        if formats.contains(&Format::Csv) {
            files.push((level.file(), rows));
        } else {
            // Written only to make the binary files from.
            let path = staging.path().join(level.file());
            std::fs::remove_file(&path).map_err(|source| ExportError::Io { path, source })?;
        }
        for f in &binary.files {
            if f.level == level.id {
                files.push((f.file.clone(), rows));
            }
        }
    }
    files.push(("paradata.csv".into(), counts.events));
    files.push(("durations.csv".into(), cases.len()));
    if options.include_pii {
        files.push(("notes.csv".into(), counts.notes));
    }
    let versions = version_counts(&cases);
    let meta = codebook::Meta {
        instruments: &used,
        versions: &versions,
        options,
        cases: cases.len(),
        files: &files,
        level_rows: &counts.levels,
        formats: &formats,
        renamed: &binary.renamed,
    };
    codebook::write(&layout, &meta, staging.path())?;
    // The import scripts read the CSVs; the design file serves any format.
    if formats.contains(&Format::Csv) {
        scripts::write(&layout, &meta, staging.path())?;
    } else {
        text_file(staging.path(), "design.yaml", scripts::DESIGN_TEMPLATE)?;
    }
    staging.finish(options.force)?;
    Ok(Summary {
        out: out.to_path_buf(),
        cases: cases.len(),
        files,
        left_out: layout.left_out.clone(),
        filtered: total - cases.len(),
    })
}

/// The binary files written, and the columns they had to rename.
struct Binary {
    files: Vec<BinaryFile>,
    renamed: Vec<codebook::Renamed>,
}

struct BinaryFile {
    level: String,
    file: String,
}

/// Writes each level's `.dta`, `.sav` and `.parquet` (as asked) from its CSV in the
/// staging folder.
fn binary_files(
    layout: &Layout,
    used: &[&Instrument],
    formats: &[Format],
    rows: &[usize],
    dir: &Path,
) -> Result<Binary, ExportError> {
    let mut out = Binary {
        files: Vec::new(),
        renamed: Vec::new(),
    };
    if formats.iter().all(|f| *f == Format::Csv) {
        return Ok(out);
    }
    let inst = used.last().expect("an export has at least one instrument");
    let lang = inst.default_language.as_str();
    let stamp = sav::Stamp::now();
    for (level, &want) in layout.levels.iter().zip(rows) {
        let columns = columns::level_columns(layout, level, lang);
        let table = columns::Table::scan(&dir.join(level.file()), columns)?;
        debug_assert_eq!(table.rows, want, "{}", level.file());
        let label = match &level.title {
            Some(t) => format!("{} {}: {}", inst.id, level.id, t.get(lang)),
            None => format!("{} {}: {}", inst.id, level.id, inst.title.get(lang)),
        };
        for &f in formats {
            let file = format!("{}.{}", level.id, f.extension());
            let path = dir.join(&file);
            let names = match f {
                Format::Csv => continue,
                Format::Dta => dta::write(&table, &label, &path)?,
                Format::Sav => sav::write(&table, &label, &stamp, &path)?,
                Format::Parquet => {
                    parquet::write(&table, &label, &path)?;
                    table.columns.iter().map(|c| c.name.clone()).collect()
                }
            };
            for (column, name) in table.columns.iter().zip(names) {
                if column.name != name {
                    out.renamed.push(codebook::Renamed {
                        file: file.clone(),
                        column: column.name.clone(),
                        name,
                    });
                }
            }
            out.files.push(BinaryFile {
                level: level.id.clone(),
                file,
            });
        }
    }
    Ok(out)
}

/// (version, hash) → number of cases, in first-seen order.
fn version_counts(cases: &[CaseSummary]) -> Vec<(String, String, usize)> {
    let mut out: Vec<(String, String, usize)> = Vec::new();
    for c in cases {
        match out.iter_mut().find(|v| v.1 == c.instrument.hash) {
            Some(v) => v.2 += 1,
            None => out.push((c.instrument.version.clone(), c.instrument.hash.clone(), 1)),
        }
    }
    out
}

/// The instruments the cases use (in the order given) and each by hash.
fn match_instruments<'i>(
    cases: &[CaseSummary],
    instruments: &'i [Instrument],
) -> Result<(Vec<&'i Instrument>, HashMap<String, &'i Instrument>), ExportError> {
    let ids: BTreeMap<&str, ()> = cases
        .iter()
        .map(|c| (c.instrument.id.as_str(), ()))
        .collect();
    if ids.len() > 1 {
        return Err(ExportError::SeveralInstruments {
            ids: ids.keys().copied().collect::<Vec<_>>().join(", "),
        });
    }
    let mut by_hash = HashMap::new();
    for c in cases {
        if by_hash.contains_key(&c.instrument.hash) {
            continue;
        }
        let found = instruments
            .iter()
            .find(|i| i.id == c.instrument.id && i.hash == c.instrument.hash)
            .ok_or_else(|| ExportError::NoInstrument {
                case: c.id.to_string(),
                id: c.instrument.id.clone(),
                version: c.instrument.version.clone(),
                hash: c.instrument.hash.clone(),
            })?;
        by_hash.insert(c.instrument.hash.clone(), found);
    }
    let used: Vec<&Instrument> = instruments
        .iter()
        .filter(|i| by_hash.values().any(|u| std::ptr::eq(*u, *i)))
        .collect();
    Ok((used, by_hash))
}

/// Refuses an output that is a file, or a folder with files (unless forced).
fn check_output(out: &Path, force: bool) -> Result<(), ExportError> {
    match std::fs::metadata(out) {
        Err(_) => Ok(()),
        Ok(m) if !m.is_dir() => Err(ExportError::OutputNotFolder {
            path: out.to_path_buf(),
        }),
        Ok(_) => {
            let empty = std::fs::read_dir(out)
                .map_err(|source| ExportError::Io {
                    path: out.to_path_buf(),
                    source,
                })?
                .next()
                .is_none();
            if empty || force {
                Ok(())
            } else {
                Err(ExportError::OutputExists {
                    path: out.to_path_buf(),
                })
            }
        }
    }
}

/// A temporary folder beside the target, removed unless [`Staging::finish`]
/// renamed it into place.
struct Staging {
    tmp: PathBuf,
    target: PathBuf,
    done: bool,
}

impl Staging {
    fn new(target: &Path) -> Result<Staging, ExportError> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "export".into());
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let tmp = parent.join(format!(".{name}.vicor-export-{}.tmp", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|source| ExportError::Io {
            path: target.to_path_buf(),
            source,
        })?;
        Ok(Staging {
            tmp,
            target: target.to_path_buf(),
            done: false,
        })
    }

    fn path(&self) -> &Path {
        &self.tmp
    }

    /// Puts the finished folder in place of the target.
    fn finish(mut self, force: bool) -> Result<(), ExportError> {
        let io = |source| ExportError::Io {
            path: self.target.clone(),
            source,
        };
        if self.target.exists() {
            // Checked empty (or forced) before any work; move the old folder
            // aside so that a failed rename leaves it as it was.
            let old = self.tmp.with_extension("old");
            let _ = std::fs::remove_dir_all(&old);
            std::fs::rename(&self.target, &old).map_err(io)?;
            if let Err(e) = std::fs::rename(&self.tmp, &self.target) {
                let _ = std::fs::rename(&old, &self.target);
                return Err(io(e));
            }
            if force {
                let _ = std::fs::remove_dir_all(&old);
            } else {
                let _ = std::fs::remove_dir(&old);
            }
        } else {
            std::fs::rename(&self.tmp, &self.target).map_err(io)?;
        }
        self.done = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// A CSV writer on a file of the staging folder.
pub(crate) fn csv_file(dir: &Path, name: &str) -> Result<CsvOut, ExportError> {
    let path = dir.join(name);
    let file = sink::Sink::create(&path).map_err(|source| ExportError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(CsvOut {
        file,
        line: Vec::with_capacity(FLUSH_AT + (FLUSH_AT >> 2)),
        path,
        width: None,
    })
}

/// Bytes gathered before a write to the file.
const FLUSH_AT: usize = 1 << 20;

/// CSV as the `csv` crate writes it by default (RFC 4180: fields quoted
/// only when they hold a comma, a quote or a line break, quotes doubled,
/// lines ended by `\n`), written straight into one buffer: the paradata of
/// 100,000 interviews is 15 million lines, and going through `csv::Writer`
/// cost more than building them. A test holds the two to the same bytes.
pub(crate) struct CsvOut {
    file: sink::Sink,
    line: Vec<u8>,
    path: PathBuf,
    /// Fields in the first line (the header); every line must have as many.
    width: Option<usize>,
}

impl CsvOut {
    pub fn row<I, T>(&mut self, fields: I) -> Result<(), ExportError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let count = push_line(&mut self.line, fields);
        let width = *self.width.get_or_insert(count);
        if width != count {
            return Err(WrongWidth { count, width }.at(&self.path));
        }
        if self.line.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    /// Appends lines built elsewhere (after the header).
    pub fn append(&mut self, lines: &Lines) -> Result<(), ExportError> {
        if self.width.is_some_and(|w| w != lines.width) {
            let width = self.width.unwrap_or_default();
            return Err(WrongWidth {
                count: lines.width,
                width,
            }
            .at(&self.path));
        }
        if self.line.len() + lines.bytes.len() < FLUSH_AT {
            self.line.extend_from_slice(&lines.bytes);
            return Ok(());
        }
        self.flush()?;
        self.write(&lines.bytes)
    }

    fn flush(&mut self) -> Result<(), ExportError> {
        let line = std::mem::take(&mut self.line);
        let written = self.write(&line);
        self.line = line;
        self.line.clear();
        written
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), ExportError> {
        self.file
            .write_all(bytes)
            .map_err(|source| ExportError::Io {
                path: self.path.clone(),
                source,
            })
    }

    pub fn finish(mut self) -> Result<(), ExportError> {
        self.flush()?;
        self.file.finish().map_err(|source| ExportError::Io {
            path: self.path.clone(),
            source,
        })
    }
}

/// CSV lines of a known width built in memory, for [`CsvOut::append`]: the
/// export renders batches of cases on several threads and one thread writes
/// them in order.
pub(crate) struct Lines {
    pub bytes: Vec<u8>,
    width: usize,
    /// Lines in `bytes`.
    pub rows: usize,
}

impl Lines {
    pub fn new(width: usize) -> Lines {
        Lines {
            bytes: Vec::new(),
            width,
            rows: 0,
        }
    }

    pub fn row<I, T>(&mut self, fields: I) -> Result<(), WrongWidth>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let count = push_line(&mut self.bytes, fields);
        if count != self.width {
            return Err(WrongWidth {
                count,
                width: self.width,
            });
        }
        self.rows += 1;
        Ok(())
    }

    /// As [`Lines::row`], for a line of `N` fields of which those marked
    /// `plain` are known to need no quotes (numbers, ids, kinds that vicor
    /// wrote itself) and are copied without the check.
    pub fn row_plain<const N: usize>(
        &mut self,
        fields: [&str; N],
        plain: [bool; N],
    ) -> Result<(), WrongWidth> {
        if N != self.width {
            return Err(WrongWidth {
                count: N,
                width: self.width,
            });
        }
        // One capacity check for the line (quotes aside) rather than one per
        // field.
        let len: usize = fields.iter().map(|f| f.len()).sum();
        self.bytes.reserve(len + N + 3);
        for (i, (field, plain)) in fields.iter().zip(plain).enumerate() {
            if i > 0 {
                self.bytes.push(b',');
            }
            if plain {
                debug_assert!(!needs_quotes(field.as_bytes()), "{field:?}");
                self.bytes.extend_from_slice(field.as_bytes());
            } else {
                push_field(&mut self.bytes, field.as_bytes());
            }
        }
        if N == 1 && fields[0].is_empty() {
            self.bytes.extend_from_slice(b"\"\"");
        }
        self.bytes.push(b'\n');
        self.rows += 1;
        Ok(())
    }

    pub fn clear(&mut self) {
        self.bytes.clear();
        self.rows = 0;
    }
}

/// Writes `n` in decimal to `out`: the paradata has two numbers in each of
/// its 15 million lines, and `fmt` took longer than the rest of the line.
pub(crate) fn push_int(out: &mut String, n: i64) {
    let mut digits = [b'-'; 20];
    let mut at = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        // Already a '-' there.
        at -= 1;
    }
    // One copy of ASCII bytes, rather than a push (and a capacity check)
    // for each digit.
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

/// A line with another number of fields than its header: a bug in vicor.
#[derive(Debug)]
pub(crate) struct WrongWidth {
    count: usize,
    width: usize,
}

impl WrongWidth {
    pub fn at(&self, path: &Path) -> ExportError {
        ExportError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(format!(
                "a line of {} fields under a header of {} (a bug in vicor)",
                self.count, self.width
            )),
        }
    }
}

/// Appends one CSV line to `out`; the number of fields.
fn push_line<I, T>(out: &mut Vec<u8>, fields: I) -> usize
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    let start = out.len();
    let mut count = 0;
    for field in fields {
        if count > 0 {
            out.push(b',');
        }
        push_field(out, field.as_ref());
        count += 1;
    }
    // A line of one empty field would read back as an empty line.
    if count == 1 && out.len() == start {
        out.extend_from_slice(b"\"\"");
    }
    out.push(b'\n');
    count
}

/// Whether a field holds a comma, a quote or a line break, looked for
/// eight bytes at a time: most fields are short (sequence numbers, kinds,
/// codes), so the tail is padded into one more word rather than checked
/// byte by byte.
fn needs_quotes(field: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Whether a byte of `x` is `c`: a byte of x ^ c is zero (exact).
    let has = |x: u64, c: u8| {
        let v = x ^ (ONES * u64::from(c));
        v.wrapping_sub(ONES) & !v & HIGH != 0
    };
    let special = |x: u64| has(x, b',') | has(x, b'"') | has(x, b'\n') | has(x, b'\r');
    let word = |w: &[u8]| u64::from_le_bytes(w.try_into().expect("8 bytes"));
    if field.len() < 8 {
        return field
            .iter()
            .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'));
    }
    let mut words = field.chunks_exact(8);
    for w in &mut words {
        if special(word(w)) {
            return true;
        }
    }
    // The last word again, overlapping the ones before: no copy into a
    // padded buffer (a call to memcpy for every field).
    !words.remainder().is_empty() && special(word(&field[field.len() - 8..]))
}

fn push_field(out: &mut Vec<u8>, field: &[u8]) {
    if !needs_quotes(field) {
        out.extend_from_slice(field);
        return;
    }
    out.push(b'"');
    for part in field.split_inclusive(|b| *b == b'"') {
        out.extend_from_slice(part);
        if part.last() == Some(&b'"') {
            out.push(b'"');
        }
    }
    out.push(b'"');
}

/// Writes a whole text file into the staging folder.
pub(crate) fn text_file(dir: &Path, name: &str, text: &str) -> Result<(), ExportError> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|source| ExportError::Io { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn numbers_are_written_as_fmt_writes_them(n in any::<i64>()) {
            let mut ours = String::new();
            push_int(&mut ours, n);
            prop_assert_eq!(ours, n.to_string());
        }

        #[test]
        fn the_word_check_finds_exactly_the_bytes_that_need_quotes(
            field in proptest::collection::vec(any::<u8>(), 0..40)
        ) {
            let plain = field.iter().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'));
            prop_assert_eq!(needs_quotes(&field), plain);
        }

        #[test]
        fn lines_are_the_bytes_the_csv_crate_writes(
            lines in (1usize..5).prop_flat_map(|width| proptest::collection::vec(
                proptest::collection::vec("[a,\"\r\n é-]{0,20}", width),
                0..6,
            ))
        ) {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut ours = csv_file(dir.path(), "ours.csv").expect("file");
            let mut theirs = csv::Writer::from_writer(Vec::new());
            for line in &lines {
                ours.row(line).expect("written");
                theirs.write_record(line).expect("written");
            }
            ours.finish().expect("closed");
            let theirs = theirs.into_inner().expect("flushed");
            let ours = std::fs::read(dir.path().join("ours.csv")).expect("read back");
            prop_assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs));
        }
    }

    #[test]
    fn a_folder_with_files_is_refused_unless_forced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        assert!(check_output(&out, false).is_ok());
        std::fs::create_dir(&out).expect("mkdir");
        assert!(check_output(&out, false).is_ok(), "an empty folder is fine");
        std::fs::write(out.join("x.txt"), "x").expect("write");
        let err = check_output(&out, false).expect_err("refused");
        assert!(err.to_string().contains("--force"), "{err}");
        assert!(check_output(&out, true).is_ok());
        let file = dir.path().join("f");
        std::fs::write(&file, "x").expect("write");
        assert!(matches!(
            check_output(&file, true),
            Err(ExportError::OutputNotFolder { .. })
        ));
    }

    #[test]
    fn an_unfinished_staging_folder_is_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        let tmp = {
            let staging = Staging::new(&out).expect("staging");
            text_file(staging.path(), "a.csv", "x").expect("write");
            staging.path().to_path_buf()
        };
        assert!(!tmp.exists());
        assert!(!out.exists());
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 0);
    }

    #[test]
    fn a_forced_export_replaces_the_old_folder_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        std::fs::create_dir(&out).expect("mkdir");
        std::fs::write(out.join("old.txt"), "x").expect("write");
        let staging = Staging::new(&out).expect("staging");
        text_file(staging.path(), "new.csv", "y").expect("write");
        staging.finish(true).expect("finish");
        assert!(out.join("new.csv").exists());
        assert!(!out.join("old.txt").exists());
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 1);
    }
}
