//! The data files: one CSV per level, the paradata, the durations and (with
//! personal data) the notes, written one case at a time.
//!
//! Each case is rebuilt through the interview engine (or read from its
//! stored replay of that walk), so its cells are the answers relevant on its
//! path: the rows of a roster are the rows the engine walks (a relevant
//! roster instance), and an answer the store keeps for an item that became
//! irrelevant is not written.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use std::fmt::Write as _;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::instrument::Instrument;
use crate::instrument::expr::Value;
use crate::instrument::hash::FastSet;
use crate::instrument::model::Node;
use crate::interview::walk::{Replay, Walk};
use crate::interview::{Answer, ItemPath, RowKey};
use crate::store::session::{engine_answers, from_stored, interview_date};
use crate::store::{
    CaseId, CaseRows, CaseSummary, EventKind, EventRow, ReadParts, Store, StoreError,
};

use super::layout::{Layout, VarType};
use super::{CsvOut, ExportError, Lines, csv_file, push_int};

/// Rows written per file.
pub struct Counts {
    pub levels: Vec<usize>,
    pub events: usize,
    pub notes: usize,
}

/// Columns of `paradata.csv`.
pub const PARADATA_COLUMNS: [&str; 11] = [
    "case_id",
    "seq",
    "kind",
    "path",
    "item",
    "old_value",
    "new_value",
    "detail",
    "utc",
    "monotonic_ns",
    "enumerator",
];

/// The columns of `paradata.csv` that never need quotes: the case id (a
/// UUID), `seq`, `kind` (one of vicor's names) and `monotonic_ns`.
const PARADATA_PLAIN: [bool; 11] = [
    true, true, true, false, false, false, false, false, false, true, false,
];

/// Columns of `durations.csv`.
pub const DURATION_COLUMNS: [&str; 7] = [
    "case_id",
    "first_utc",
    "last_utc",
    "elapsed_s",
    "active_s",
    "sessions",
    "events",
];

/// Columns of `notes.csv` (written only with personal data).
pub const NOTE_COLUMNS: [&str; 6] = ["case_id", "seq", "path", "text", "enumerator", "utc"];

/// Writes the data files of `cases`.
///
/// This thread reads the store (where SQLCipher decrypts) and hands the
/// cases over in batches, in turn, to [`FORMATTERS`] threads; each rebuilds
/// its cases through the engine and turns them into CSV lines, and a writer
/// takes the batches back in the same turn, so cases keep their order in
/// every file.
pub fn write(
    store: &Store,
    cases: &[CaseSummary],
    by_hash: &HashMap<String, &Instrument>,
    layout: &Layout,
    dir: &Path,
    include_pii: bool,
) -> Result<Counts, ExportError> {
    let files = Files::create(layout, dir, include_pii)?;
    let pii: FastSet<&str> = layout.left_out.iter().map(String::as_str).collect();
    // One index per instrument version, not one per case.
    let replays: HashMap<&str, Replay> = by_hash
        .iter()
        .map(|(hash, instrument)| (hash.as_str(), Replay::new(instrument)))
        .collect();
    let shared = Shared {
        cases,
        replays: &replays,
        layout,
        pii: &pii,
        tz: TimeZone::system(),
        dir,
        store: store.path(),
        include_pii,
    };
    let ids: Vec<CaseId> = cases.iter().map(|c| c.id).collect();
    // The formatters decode the packs: the reader only reads and decrypts.
    let parts = ReadParts {
        notes: include_pii,
        unpack_later: true,
    };
    let (read, written) = std::thread::scope(|scope| {
        // Spent batches go back to the reader to be filled again, and their
        // cases' buffers go to the same formatter next time: freeing or
        // growing on one thread what another allocated is slow in glibc.
        let mut spent = Vec::new();
        let mut to_formatters = Vec::new();
        let mut from_formatters = Vec::new();
        let mut recycle = Vec::new();
        for k in 0..FORMATTERS {
            let (send, receive) = std::sync::mpsc::sync_channel::<Batch>(IN_FLIGHT);
            let (done, rendered) =
                std::sync::mpsc::sync_channel::<Result<Rendered, ExportError>>(IN_FLIGHT);
            // Room for every batch this formatter can have out, so that the
            // writer never drops one (and its buffers) on its own thread.
            let (reuse, reusable) = std::sync::mpsc::sync_channel::<Rendered>(2 * IN_FLIGHT + 2);
            let (give_back, returned) = std::sync::mpsc::channel::<Batch>();
            spent.push(returned);
            let shared = &shared;
            let spawned = std::thread::Builder::new()
                .name(format!("export-format-{k}"))
                .spawn_scoped(scope, move || {
                    let mut formatter = Formatter::new(shared);
                    for mut batch in receive {
                        let mut out = reusable
                            .try_recv()
                            .unwrap_or_else(|_| Rendered::new(shared.layout));
                        let result = formatter.batch(&mut batch, &mut out).map(|()| out);
                        let failed = result.is_err();
                        // A closed channel: the writer stopped; so do we.
                        if done.send(result).is_err() || failed {
                            return;
                        }
                        let _ = give_back.send(batch);
                    }
                });
            if let Err(source) = spawned {
                let io = ExportError::Io {
                    path: dir.to_path_buf(),
                    source,
                };
                return (Err(Stop::Export(io)), None);
            }
            to_formatters.push(send);
            from_formatters.push(rendered);
            recycle.push(reuse);
        }
        let writer = std::thread::Builder::new()
            .name("export-write".into())
            .spawn_scoped(scope, move || -> Result<Files, ExportError> {
                let mut files = files;
                // Batch n came from formatter n % FORMATTERS.
                for n in 0.. {
                    let k = n % FORMATTERS;
                    let Ok(rendered) = from_formatters[k].recv() else {
                        break;
                    };
                    let mut rendered = rendered?;
                    files.append(&rendered)?;
                    rendered.clear();
                    let _ = recycle[k].try_send(rendered);
                }
                Ok(files)
            });
        let writer = match writer {
            Ok(w) => w,
            Err(source) => {
                let io = ExportError::Io {
                    path: dir.to_path_buf(),
                    source,
                };
                return (Err(Stop::Export(io)), None);
            }
        };
        // Per formatter, the cases' buffers it has given back.
        let mut pools: Vec<Vec<CaseRows>> = (0..FORMATTERS).map(|_| Vec::new()).collect();
        let mut batch = Batch::new();
        let mut sent = 0;
        let mut read = store.read_cases(&ids, parts, |i, rows| -> Result<(), Stop> {
            batch.cases.push((i, std::mem::take(rows)));
            if batch.cases.len() == BATCH {
                let full = std::mem::replace(&mut batch, Batch::new());
                to_formatters[sent % FORMATTERS]
                    .send(full)
                    .map_err(|_| Stop::Worker)?;
                sent += 1;
            }
            // The next case is read into buffers of the formatter it goes to.
            let k = sent % FORMATTERS;
            if pools[k].is_empty() {
                while let Ok(mut old) = spent[k].try_recv() {
                    pools[k].extend(old.cases.drain(..).map(|(_, rows)| rows));
                }
            }
            *rows = pools[k].pop().unwrap_or_default();
            Ok(())
        });
        if read.is_ok() && !batch.cases.is_empty() {
            read = to_formatters[sent % FORMATTERS]
                .send(batch)
                .map_err(|_| Stop::Worker);
        }
        drop(to_formatters);
        let written = match writer.join() {
            Ok(w) => Some(w),
            Err(panic) => std::panic::resume_unwind(panic),
        };
        (read, written)
    });
    // A failed formatter or writer stops the reader; its error is the one
    // to report.
    let files = match (read, written) {
        (Err(Stop::Export(e)), _) => return Err(e),
        (_, Some(Err(e))) => return Err(e),
        (Ok(()), Some(Ok(files))) => files,
        (Err(Stop::Worker), _) | (Ok(()), None) => {
            unreachable!("the writer stops early only with an error")
        }
    };
    files.finish()
}

/// Cases handed to a formatter at once.
const BATCH: usize = 64;

/// Threads turning cases into lines.
const FORMATTERS: usize = 2;

/// Batches in flight between two threads.
const IN_FLIGHT: usize = 2;

/// What every formatter reads.
struct Shared<'a> {
    cases: &'a [CaseSummary],
    replays: &'a HashMap<&'a str, Replay<'a>>,
    layout: &'a Layout,
    pii: &'a FastSet<&'a str>,
    tz: TimeZone,
    dir: &'a Path,
    store: &'a Path,
    include_pii: bool,
}

/// Consecutive cases read from the store, with their positions in `cases`.
struct Batch {
    cases: Vec<(usize, CaseRows)>,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            cases: Vec::with_capacity(BATCH),
        }
    }
}

/// Why the reader stopped.
enum Stop {
    Export(ExportError),
    /// A formatter or the writer is gone (it failed; its error is reported).
    Worker,
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Stop {
        Stop::Export(e.into())
    }
}

/// The lines of one batch, file by file.
struct Rendered {
    levels: Vec<Lines>,
    paradata: Lines,
    durations: Lines,
    notes: Lines,
}

impl Rendered {
    fn new(layout: &Layout) -> Rendered {
        Rendered {
            levels: layout
                .levels
                .iter()
                .map(|l| Lines::new(l.columns.len()))
                .collect(),
            paradata: Lines::new(PARADATA_COLUMNS.len()),
            durations: Lines::new(DURATION_COLUMNS.len()),
            notes: Lines::new(NOTE_COLUMNS.len()),
        }
    }

    fn clear(&mut self) {
        for l in &mut self.levels {
            l.clear();
        }
        self.paradata.clear();
        self.durations.clear();
        self.notes.clear();
    }
}

/// One formatter's buffers for the number cells of a line.
struct Formatter<'a> {
    shared: &'a Shared<'a>,
    id: String,
    seq: String,
    ns: String,
    /// The cells of the case at hand, whose buffers serve the next one.
    cells: CaseCells,
}

impl<'a> Formatter<'a> {
    fn new(shared: &'a Shared<'a>) -> Formatter<'a> {
        Formatter {
            shared,
            id: String::new(),
            seq: String::new(),
            ns: String::new(),
            cells: CaseCells::default(),
        }
    }

    fn batch(&mut self, batch: &mut Batch, out: &mut Rendered) -> Result<(), ExportError> {
        for (i, rows) in &mut batch.cases {
            let summary = &self.shared.cases[*i];
            rows.unpack(self.shared.store, &summary.id)?;
            self.paradata(summary, rows, out)?;
            let replay = self
                .shared
                .replays
                .get(summary.instrument.hash.as_str())
                .expect("every case was matched to an instrument");
            rebuild(replay, summary, rows, self.shared, &mut self.cells)?;
            let cells = &self.cells;
            for (level, level_rows) in cells.levels.iter().enumerate() {
                let lines = &mut out.levels[level];
                for row in level_rows.values() {
                    lines.row(cells.cells(row)).map_err(|w| {
                        w.at(&self
                            .shared
                            .dir
                            .join(self.shared.layout.levels[level].file()))
                    })?;
                }
            }
        }
        Ok(())
    }

    /// One case's paradata, duration and notes.
    fn paradata(
        &mut self,
        summary: &CaseSummary,
        rows: &CaseRows,
        out: &mut Rendered,
    ) -> Result<(), ExportError> {
        let dir = self.shared.dir;
        let wrong = |file: &'static str| move |w: super::WrongWidth| w.at(&dir.join(file));
        self.id.clear();
        write!(self.id, "{}", summary.id).expect("writing to a String");
        let events = rows.events();
        for e in events {
            let cells = paradata_row(&self.id, e, self.shared.pii, &mut self.seq, &mut self.ns);
            out.paradata
                .row_plain(cells, PARADATA_PLAIN)
                .map_err(wrong("paradata.csv"))?;
        }
        out.durations
            .row(duration_row(&self.id, events))
            .map_err(wrong("durations.csv"))?;
        if self.shared.include_pii {
            for note in rows.notes() {
                self.seq.clear();
                write!(self.seq, "{}", note.seq).expect("writing to a String");
                out.notes
                    .row([
                        self.id.as_str(),
                        &self.seq,
                        note.path.as_deref().unwrap_or_default(),
                        &note.text,
                        &note.enumerator,
                        &note.utc,
                    ])
                    .map_err(wrong("notes.csv"))?;
            }
        }
        Ok(())
    }
}

/// One case's rows, per level: from its stored replay when that is
/// current, else rebuilt through the engine.
fn rebuild(
    replay: &Replay,
    summary: &CaseSummary,
    rows: &CaseRows,
    shared: &Shared,
    cells: &mut CaseCells,
) -> Result<(), ExportError> {
    let stored = &rows.answers;
    let today = interview_date(summary.created_utc, &shared.tz);
    let replayed = rows
        .replay()
        .and_then(|bytes| super::replay::decode(bytes, &summary.instrument.hash, today));
    // The replay was made from these very answers (a change drops it), so
    // they all read; should one not, the walk below reports it.
    if let Some(replayed) = replayed
        && let Some(paths) = split_paths(stored)
    {
        let case = ReplayedCase {
            instrument: replay.instrument(),
            replayed: &replayed,
            answers: stored,
            paths: &paths,
        };
        case_rows_into(&case, summary, shared.layout, cells);
        return Ok(());
    }
    let (answers, unreadable) = engine_answers(stored.iter().map(|(p, a)| (p, a)));
    if !unreadable.is_empty() {
        return Err(ExportError::Unreadable {
            case: summary.id.to_string(),
            paths: unreadable.join(", "),
        });
    }
    let walk = replay.relevance(&answers, today);
    let case = Case {
        instrument: replay.instrument(),
        walk: &walk,
        answers: &answers,
    };
    case_rows_into(&case, summary, shared.layout, cells);
    Ok(())
}

/// The stored answers' paths, split into items and row keys (all the keys
/// in one vector); `None` if one does not read.
fn split_paths(stored: &[(String, crate::store::StoredAnswer)]) -> Option<SplitPaths<'_>> {
    let mut split = SplitPaths {
        items: Vec::with_capacity(stored.len()),
        keys: Vec::new(),
    };
    let mut keys = Vec::new();
    for (path, _) in stored {
        let item = ItemPath::split(path, &mut keys)?;
        let start = split.keys.len();
        split.keys.extend_from_slice(&keys);
        split.items.push((item, start..split.keys.len()));
    }
    Some(split)
}

/// Stored answers' paths as items and row keys.
struct SplitPaths<'a> {
    items: Vec<(&'a str, std::ops::Range<usize>)>,
    keys: Vec<i64>,
}

/// A case read with its stored replay (see [`super::replay`]).
struct ReplayedCase<'a> {
    instrument: &'a Instrument,
    replayed: &'a super::replay::Replayed<'a>,
    answers: &'a [(String, crate::store::StoredAnswer)],
    /// The answers' paths, split, in the same order.
    paths: &'a SplitPaths<'a>,
}

impl Rebuilt for ReplayedCase<'_> {
    fn instrument(&self) -> &Instrument {
        self.instrument
    }

    fn relevant(&self, each: &mut dyn FnMut(&str, &[i64], &Answer)) {
        for ((path, answer), (item, keys)) in self.answers.iter().zip(&self.paths.items) {
            if self.replayed.off_path.contains(&path.as_str()) {
                continue;
            }
            each(item, &self.paths.keys[keys.clone()], &from_stored(answer));
        }
    }

    fn computed(&self, each: &mut dyn FnMut(&str, &[i64], &str)) {
        for (item, keys, cell) in &self.replayed.computed {
            each(item, &self.replayed.keys[keys.clone()], cell);
        }
    }

    fn roster_rows(&self, outer: &[RowKey], roster: &str) -> Vec<i64> {
        self.replayed
            .rows
            .get(&(outer.to_vec(), roster.to_string()))
            .cloned()
            .unwrap_or_default()
    }
}

/// The data files and their row counts.
struct Files {
    levels: Vec<CsvOut>,
    level_rows: Vec<usize>,
    paradata: CsvOut,
    durations: CsvOut,
    notes: Option<CsvOut>,
    events: usize,
    notes_written: usize,
}

impl Files {
    fn create(layout: &Layout, dir: &Path, include_pii: bool) -> Result<Files, ExportError> {
        let mut levels = Vec::new();
        for level in &layout.levels {
            let mut out = csv_file(dir, &level.file())?;
            out.row(&level.columns)?;
            levels.push(out);
        }
        let mut paradata = csv_file(dir, "paradata.csv")?;
        paradata.row(PARADATA_COLUMNS)?;
        let mut durations = csv_file(dir, "durations.csv")?;
        durations.row(DURATION_COLUMNS)?;
        let notes = if include_pii {
            let mut n = csv_file(dir, "notes.csv")?;
            n.row(NOTE_COLUMNS)?;
            Some(n)
        } else {
            None
        };
        Ok(Files {
            level_rows: vec![0; levels.len()],
            levels,
            paradata,
            durations,
            notes,
            events: 0,
            notes_written: 0,
        })
    }

    fn append(&mut self, r: &Rendered) -> Result<(), ExportError> {
        for (level, lines) in r.levels.iter().enumerate() {
            self.levels[level].append(lines)?;
            self.level_rows[level] += lines.rows;
        }
        self.paradata.append(&r.paradata)?;
        self.events += r.paradata.rows;
        self.durations.append(&r.durations)?;
        if let Some(n) = self.notes.as_mut() {
            n.append(&r.notes)?;
            self.notes_written += r.notes.rows;
        }
        Ok(())
    }

    fn finish(self) -> Result<Counts, ExportError> {
        for f in self.levels {
            f.finish()?;
        }
        self.paradata.finish()?;
        self.durations.finish()?;
        if let Some(n) = self.notes {
            n.finish()?;
        }
        Ok(Counts {
            levels: self.level_rows,
            events: self.events,
            notes: self.notes_written,
        })
    }
}

/// What the export reads of a case rebuilt through the engine: its
/// instrument, its walk and its stored answers.
pub struct Case<'a> {
    pub instrument: &'a Instrument,
    pub walk: &'a Walk,
    pub answers: &'a BTreeMap<ItemPath, Answer>,
}

/// A case rebuilt through the engine, as the rows need it (a [`Case`];
/// the tests also read an [`Interview`](crate::interview::Interview)).
pub trait Rebuilt {
    fn instrument(&self) -> &Instrument;
    /// The answers relevant on the path (as `Interview::relevant_answers`),
    /// each with its item and row keys.
    fn relevant(&self, each: &mut dyn FnMut(&str, &[i64], &Answer));
    /// The values of the relevant computed variables, as cells, each with
    /// its item and row keys.
    fn computed(&self, each: &mut dyn FnMut(&str, &[i64], &str));
    /// Row keys of a relevant roster instance (as `Interview::roster_rows`).
    fn roster_rows(&self, outer: &[RowKey], roster: &str) -> Vec<i64>;
}

impl Rebuilt for Case<'_> {
    fn instrument(&self) -> &Instrument {
        self.instrument
    }

    fn relevant(&self, each: &mut dyn FnMut(&str, &[i64], &Answer)) {
        for (path, answer) in self.answers {
            if self.walk.relevant.contains(path) {
                each(&path.item, &row_keys(path), answer);
            }
        }
    }

    fn computed(&self, each: &mut dyn FnMut(&str, &[i64], &str)) {
        for (path, value) in &self.walk.computed {
            each(&path.item, &row_keys(path), &value_cell(value));
        }
    }

    fn roster_rows(&self, outer: &[RowKey], roster: &str) -> Vec<i64> {
        self.walk
            .rows
            .get(&(outer.to_vec(), roster.to_string()))
            .cloned()
            .unwrap_or_default()
    }
}

/// One case's rows, per level, keyed by their roster row keys. Each cell is
/// a span of one text buffer: a case has hundreds of cells, and a `String`
/// for each was most of the allocations of an export.
#[derive(Default)]
pub struct CaseCells {
    text: String,
    pub levels: Vec<BTreeMap<Vec<i64>, Vec<Span>>>,
    /// Rows of an earlier case, to be filled again.
    spare: Vec<Vec<Span>>,
}

/// A cell: where its text starts and ends in [`CaseCells`]'s buffer.
pub type Span = (u32, u32);

impl CaseCells {
    /// The cells of a row.
    pub fn cells<'c>(&'c self, row: &'c [Span]) -> impl Iterator<Item = &'c str> + 'c {
        row.iter()
            .map(|&(start, end)| &self.text[start as usize..end as usize])
    }

    /// A row of `width` empty cells, made of a spare one when there is one.
    fn blank_row(&mut self, width: usize) -> Vec<Span> {
        let mut row = self.spare.pop().unwrap_or_default();
        row.clear();
        row.resize(width, (0, 0));
        row
    }

    /// Appends `write`'s text to the buffer; its span.
    fn put(&mut self, write: impl FnOnce(&mut String)) -> Span {
        let start = self.text.len() as u32;
        write(&mut self.text);
        (start, self.text.len() as u32)
    }
}

/// The rows of one case, per level, keyed by their roster row keys, into
/// `c`, whose buffers (from an earlier case) are reused.
pub fn case_rows_into(
    case: &dyn Rebuilt,
    summary: &CaseSummary,
    layout: &Layout,
    c: &mut CaseCells,
) {
    c.text.clear();
    let CaseCells { levels, spare, .. } = &mut *c;
    for level in levels.iter_mut() {
        while let Some((_, row)) = level.pop_first() {
            spare.push(row);
        }
    }
    levels.resize_with(layout.levels.len(), BTreeMap::new);
    let id = c.put(|t| write!(t, "{}", summary.id).expect("writing to a String"));
    let mut main = c.blank_row(layout.levels[0].columns.len());
    main[0] = id;
    main[1] = c.put(|t| t.push_str(&summary.instrument.version));
    main[2] = c.put(|t| t.push_str(summary.status.as_str()));
    main[3] = c.put(|t| {
        if let Some(o) = &summary.outcome {
            t.push_str(o.code());
        }
    });
    main[4] = c.put(|t| t.push_str(&summary.enumerator));
    main[5] = c.put(|t| write!(t, "{}", summary.created_utc).expect("writing to a String"));
    main[6] = c.put(|t| write!(t, "{}", summary.modified_utc).expect("writing to a String"));
    c.levels[0].insert(Vec::new(), main);
    // Every relevant roster row, even one without answers.
    let mut outer = Vec::new();
    for section in &case.instrument().sections {
        roster_rows(case, &section.nodes, &mut outer, layout, id, c);
    }
    let (one, zero) = (c.put(|t| t.push('1')), c.put(|t| t.push('0')));
    case.relevant(&mut |item, keys, answer| {
        let Some(var) = layout.variable(item) else {
            return; // a note, or an item left out as personal data
        };
        let cell = match (answer, var.var_type) {
            (Answer::Codes(codes), VarType::MultipleChoice) => {
                let cells = row_for(c, layout, var.level, id, keys);
                for (i, label) in var.labels.iter().enumerate() {
                    cells[var.column + i] = if codes.contains(&label.code) {
                        one
                    } else {
                        zero
                    };
                }
                return;
            }
            (Answer::DontKnow | Answer::Refused, _) => {
                let code = if *answer == Answer::DontKnow {
                    var.dont_know
                } else {
                    var.refused
                };
                // An instrument forbidding DK/RF never stores one; should an
                // old version have allowed it, the instrument's code is used.
                let code = code.unwrap_or_else(|| special_code(case.instrument(), answer));
                let span = c.put(|t| push_int(t, code));
                let width = var.columns().len();
                let cells = row_for(c, layout, var.level, id, keys);
                for cell in &mut cells[var.column..var.column + width] {
                    *cell = span;
                }
                return;
            }
            (a, _) => c.put(|t| answer_cell(a, t)),
        };
        row_for(c, layout, var.level, id, keys)[var.column] = cell;
    });
    case.computed(&mut |item, keys, value| {
        let Some(var) = layout.variable(item) else {
            return;
        };
        let cell = c.put(|t| t.push_str(value));
        row_for(c, layout, var.level, id, keys)[var.column] = cell;
    });
}

/// The row keys of a path, outermost first.
fn row_keys(path: &ItemPath) -> Vec<i64> {
    path.rows.iter().map(|r| r.key).collect()
}

fn special_code(instrument: &Instrument, answer: &Answer) -> i64 {
    if *answer == Answer::DontKnow {
        instrument.special.dont_know
    } else {
        instrument.special.refused
    }
}

/// The row of `keys` at `level`, made (with its keys) if it is new.
fn row_for<'r>(
    c: &'r mut CaseCells,
    layout: &Layout,
    level: usize,
    id: Span,
    keys: &[i64],
) -> &'r mut Vec<Span> {
    if !c.levels[level].contains_key(keys) {
        let mut cells = c.blank_row(layout.levels[level].columns.len());
        cells[0] = id;
        for (i, k) in keys.iter().enumerate() {
            cells[1 + i] = c.put(|t| push_int(t, *k));
        }
        c.levels[level].insert(keys.to_vec(), cells);
    }
    c.levels[level]
        .get_mut(keys)
        .expect("the row was just made")
}

fn roster_rows(
    case: &dyn Rebuilt,
    nodes: &[Node],
    outer: &mut Vec<RowKey>,
    layout: &Layout,
    id: Span,
    c: &mut CaseCells,
) {
    for node in nodes {
        let Node::Roster(roster) = node else {
            continue;
        };
        let Some(level) = layout.level_of(&roster.id) else {
            continue;
        };
        for key in case.roster_rows(outer, &roster.id) {
            outer.push(RowKey {
                roster: roster.id.clone(),
                key,
            });
            let keys: Vec<i64> = outer.iter().map(|r| r.key).collect();
            row_for(c, layout, level, id, &keys);
            roster_rows(case, &roster.nodes, outer, layout, id, c);
            outer.pop();
        }
    }
}

/// A decimal in Rust's shortest form that reads back to the same number.
fn decimal(x: f64) -> String {
    format!("{x}")
}

fn answer_cell(answer: &Answer, out: &mut String) {
    match answer {
        Answer::Int(i) => push_int(out, *i),
        Answer::Decimal(x) => write!(out, "{x}").expect("writing to a String"),
        Answer::Text(s) => out.push_str(s),
        Answer::Date(d) => write!(out, "{d}").expect("writing to a String"),
        Answer::Codes(c) => {
            for (i, code) in c.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                push_int(out, *code);
            }
        }
        Answer::DontKnow | Answer::Refused => {}
    }
}

pub(super) fn value_cell(value: &Value) -> String {
    match value {
        Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Decimal(x) if x.is_finite() => decimal(*x),
        Value::Decimal(_) => String::new(),
        Value::Text(s) => s.clone(),
        Value::Date(d) => d.to_string(),
        Value::Codes(c) => c.iter().map(i64::to_string).collect::<Vec<_>>().join(" "),
        Value::Missing(_) => String::new(),
    }
}

/// The cells of one line of `paradata.csv`; `seq` and `ns` are buffers for
/// the numbers.
fn paradata_row<'e>(
    id: &'e str,
    e: &'e EventRow,
    pii: &FastSet<&str>,
    seq: &'e mut String,
    ns: &'e mut String,
) -> [&'e str; 11] {
    // The last part of the path (a short scan from the end).
    let item = e.path.as_deref().map_or("", |p| {
        p.bytes()
            .rposition(|b| b == b'.')
            .map_or(p, |dot| &p[dot + 1..])
    });
    let private = !pii.is_empty() && pii.contains(item);
    let value = |v: &'e Option<String>| -> &'e str {
        match v {
            Some(v) if !private => v,
            _ => "",
        }
    };
    let kind = e.kind.expect("the store fills every event row");
    let detail = match (&e.detail, kind) {
        (None, _) => "",
        (Some(_), _) if private => "",
        // A confirmed warning's rendered message may carry fills such as a
        // name: keep only which checks were confirmed.
        (Some(d), EventKind::SoftCheckConfirmed) if !pii.is_empty() => {
            d.split(':').next().unwrap_or("")
        }
        (Some(d), _) => d.as_str(),
    };
    seq.clear();
    push_int(seq, e.seq);
    ns.clear();
    match i64::try_from(e.monotonic_ns) {
        Ok(n) => push_int(ns, n),
        Err(_) => write!(ns, "{}", e.monotonic_ns).expect("writing to a String"),
    }
    [
        id,
        seq,
        kind.as_str(),
        e.path.as_deref().unwrap_or_default(),
        item,
        value(&e.old),
        value(&e.new),
        detail,
        &e.utc,
        ns,
        &e.enumerator,
    ]
}

/// Wall-clock span of the events, and active time: the sum over sessions of
/// the monotonic span, a session ending where the monotonic clock goes back
/// (another process) or the enumerator changes, or at a pause event.
fn duration_row(id: &str, events: &[EventRow]) -> [String; 7] {
    let (Some(first), Some(last)) = (events.first(), events.last()) else {
        return [
            id.to_string(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            "0".into(),
            "0".into(),
        ];
    };
    let time =
        |e: &EventRow| -> Timestamp { e.utc.parse().expect("the store checked every event time") };
    let elapsed = time(last).duration_since(time(first)).as_secs_f64();
    let mut active: u128 = 0;
    let mut sessions = 1;
    for pair in events.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let same = b.monotonic_ns >= a.monotonic_ns
            && a.enumerator == b.enumerator
            && a.kind != Some(EventKind::Pause);
        if same {
            active += u128::from(b.monotonic_ns - a.monotonic_ns);
        } else {
            sessions += 1;
        }
    }
    [
        id.to_string(),
        first.utc.clone(),
        last.utc.clone(),
        decimal(elapsed),
        decimal(active as f64 / 1e9),
        sessions.to_string(),
        events.len().to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interview::Interview;
    use crate::store::session::{CaseSession, case_seed, restore};
    use crate::store::{Change, EventRecord, StoredAnswer};
    use std::collections::HashSet;

    impl Rebuilt for Interview<'_> {
        fn instrument(&self) -> &Instrument {
            Interview::instrument(self)
        }

        fn relevant(&self, each: &mut dyn FnMut(&str, &[i64], &Answer)) {
            for (path, answer) in self.relevant_answers() {
                each(&path.item, &row_keys(&path), &answer);
            }
        }

        fn computed(&self, each: &mut dyn FnMut(&str, &[i64], &str)) {
            for (path, value) in Interview::computed(self) {
                each(&path.item, &row_keys(&path), &value_cell(&value));
            }
        }

        fn roster_rows(&self, outer: &[RowKey], roster: &str) -> Vec<i64> {
            Interview::roster_rows(self, outer, roster)
        }
    }

    /// The data files as the export wrote them before the bulk reader: each
    /// case read with `Store::case` and `Store::events`, restored and
    /// rebuilt by `Interview::new`, every time and value parsed and printed.
    fn write_per_case(
        store: &Store,
        cases: &[CaseSummary],
        by_hash: &HashMap<String, &Instrument>,
        layout: &Layout,
        dir: &Path,
        include_pii: bool,
    ) -> Counts {
        let mut files = Files::create(layout, dir, include_pii).expect("files");
        let pii: HashSet<&str> = layout.left_out.iter().map(String::as_str).collect();
        for summary in cases {
            let instrument = by_hash[&summary.instrument.hash];
            let record = store.case(&summary.id).expect("case");
            let events = store.events(&summary.id).expect("events");
            let restored = restore(&record, &events);
            assert!(restored.unreadable.is_empty());
            let engine = Interview::new(instrument, restored.today, restored.seed, restored.saved);
            let mut cells = CaseCells::default();
            case_rows_into(&engine, summary, layout, &mut cells);
            for (level, rows) in cells.levels.iter().enumerate() {
                files.level_rows[level] += rows.len();
                for row in rows.values() {
                    files.levels[level].row(cells.cells(row)).expect("row");
                }
            }
            let id = summary.id.to_string();
            for e in &events {
                files
                    .paradata
                    .row(old_paradata_row(&id, e, &pii))
                    .expect("row");
            }
            files.events += events.len();
            files
                .durations
                .row(old_duration_row(&id, &events))
                .expect("row");
            if let Some(n) = files.notes.as_mut() {
                for note in &record.notes {
                    n.row([
                        id.clone(),
                        note.seq.to_string(),
                        note.path.clone().unwrap_or_default(),
                        note.text.clone(),
                        note.enumerator.clone(),
                        note.utc.to_string(),
                    ])
                    .expect("row");
                    files.notes_written += 1;
                }
            }
        }
        files.finish().expect("finish")
    }

    fn old_paradata_row(id: &str, e: &EventRecord, pii: &HashSet<&str>) -> [String; 11] {
        let item = e
            .path
            .as_deref()
            .and_then(|p| p.rsplit('.').next())
            .unwrap_or("");
        let private = pii.contains(item);
        let value = |v: &Option<StoredAnswer>| match v {
            Some(_) if private => String::new(),
            Some(v) => v.encode(),
            None => String::new(),
        };
        let detail = match (&e.detail, e.kind) {
            (None, _) => String::new(),
            (Some(_), _) if private => String::new(),
            (Some(d), EventKind::SoftCheckConfirmed) if !pii.is_empty() => {
                d.split(':').next().unwrap_or("").to_string()
            }
            (Some(d), _) => d.clone(),
        };
        [
            id.to_string(),
            e.seq.to_string(),
            e.kind.as_str().to_string(),
            e.path.clone().unwrap_or_default(),
            item.to_string(),
            value(&e.old),
            value(&e.new),
            detail,
            e.at.utc.to_string(),
            e.at.monotonic_ns.to_string(),
            e.enumerator.clone(),
        ]
    }

    fn old_duration_row(id: &str, events: &[EventRecord]) -> [String; 7] {
        let (Some(first), Some(last)) = (events.first(), events.last()) else {
            return [
                id.to_string(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                "0".into(),
                "0".into(),
            ];
        };
        let elapsed = last.at.utc.duration_since(first.at.utc).as_secs_f64();
        let mut active: u128 = 0;
        let mut sessions = 1;
        for pair in events.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if b.at.monotonic_ns >= a.at.monotonic_ns
                && a.enumerator == b.enumerator
                && a.kind != EventKind::Pause
            {
                active += u128::from(b.at.monotonic_ns - a.at.monotonic_ns);
            } else {
                sessions += 1;
            }
        }
        [
            id.to_string(),
            first.at.utc.to_string(),
            last.at.utc.to_string(),
            decimal(elapsed),
            decimal(active as f64 / 1e9),
            sessions.to_string(),
            events.len().to_string(),
        ]
    }

    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    /// The example instrument, and a version 1.1 of it with one more item.
    fn two_versions(dir: &Path) -> (Instrument, Instrument) {
        let example = root().join("instruments/example.yaml");
        let text = std::fs::read_to_string(&example).expect("example");
        let v11 = text.replacen("version: \"1.0\"", "version: \"1.1\"", 1).replacen(
            "      - id: hh_size\n",
            "      - id: hh_phone\n        type: yesno\n        when: consent == 1\n        text:\n          en: A telephone?\n          fr: Un téléphone ?\n      - id: hh_size\n",
            1,
        );
        let modules = dir.join("modules");
        std::fs::create_dir_all(&modules).expect("mkdir");
        std::fs::copy(
            root().join("instruments/modules/officials.yaml"),
            modules.join("officials.yaml"),
        )
        .expect("module");
        std::fs::write(dir.join("example.yaml"), v11).expect("write");
        let load = |p: &Path| crate::instrument::validate(p).instrument.expect("loads");
        (load(&example), load(&dir.join("example.yaml")))
    }

    fn interview(store: &mut Store, instrument: &Instrument, answers: &str) -> CaseId {
        let script = crate::interview::script::Script::parse(instrument, answers).expect("script");
        let mut session = CaseSession {
            store,
            instrument,
            enumerator: "e7".into(),
        };
        let id = session.create().expect("case");
        let today = jiff::civil::date(2026, 6, 15);
        let mut engine = Interview::new(instrument, today, case_seed(&id), Default::default());
        crate::interview::script::drive(
            &mut engine,
            &script,
            &mut |_, update| session.commit(&id, update).map_err(|_| ()),
            &mut |_, _| {},
        )
        .expect("runs");
        id
    }

    /// Cases of two versions, complete, with don't know and refused, refused
    /// at the door, in progress with an answer that became irrelevant, with
    /// notes and confirmed warnings: the bulk reader and the shared index
    /// give the very bytes of the per-case path, with and without personal
    /// data.
    #[test]
    fn the_bulk_path_writes_the_files_of_the_per_case_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (v10, v11) = two_versions(&dir.path().join("v11"));
        let db = dir.path().join("cases.db");
        // Completed cases are replayed as they are packed, as `vicor run`
        // stores them.
        let options =
            super::super::replay::EngineReplayer::store_options(vec![v10.clone(), v11.clone()]);
        let mut store = Store::open_with(&db, Some("k"), &options).expect("store");
        let complete =
            std::fs::read_to_string(root().join("tests/fixtures/answers/example-complete.yaml"))
                .expect("answers");
        let dk_rf = "consent: 1\nhh_size: 1\nmembers:\n  - {name: Zoe, sex: rf, birth_date: 1990-01-01}\nvehicles: dk\nofficial_types:\n  - {contact: 2}\n  - {contact: rf}\n  - {contact: 2}\nharassed: rf\n";
        let a = interview(&mut store, &v10, &complete);
        interview(&mut store, &v10, dk_rf);
        interview(&mut store, &v10, "consent: 2\n");
        interview(
            &mut store,
            &v11,
            &complete.replacen("hh_size: 2", "hh_phone: 1\nhh_size: 2", 1),
        );
        store
            .add_note(
                &a,
                Some("members[1].name"),
                "spelled \"Ana\", not Anna",
                "e8",
                crate::store::session::now(),
            )
            .expect("note");
        store
            .add_note(
                &a,
                None,
                "dog, bell broken",
                "e7",
                crate::store::session::now(),
            )
            .expect("note");
        // In progress: hh_size answered, then consent changed to no.
        let mut session = CaseSession {
            store: &mut store,
            instrument: &v11,
            enumerator: "e9".into(),
        };
        let open = session.create().expect("case");
        for (path, value) in [
            ("consent", StoredAnswer::Int(1)),
            ("hh_size", StoredAnswer::Int(3)),
            ("members[1].sex", StoredAnswer::Int(2)),
            ("consent", StoredAnswer::Int(2)),
        ] {
            store
                .record(
                    &open,
                    &Change::answer(path, value, "e9", crate::store::session::now()),
                )
                .expect("answer");
        }
        drop(store);
        let store = Store::open_read_only(&db, Some("k")).expect("store");
        let cases = store.cases().expect("cases");
        assert_eq!(cases.len(), 5);
        let instruments = [v10, v11];
        // Every completed case has a current replay, so the export reads
        // them rather than walking.
        let tz = TimeZone::system();
        let replayed = replayed_cases(&store, &cases, &tz);
        let completed = cases
            .iter()
            .filter(|c| c.status == crate::store::CaseStatus::Completed)
            .count();
        assert_eq!((replayed, completed), (4, 4));
        same_files_both_ways(&store, &cases, &instruments, dir.path(), "replayed");
        drop(store);
        // Replays another build made are not used: the export walks.
        let foreign = crate::store::StoreOptions {
            replayer: Some(std::sync::Arc::new(Foreign)),
            ..crate::store::StoreOptions::default()
        };
        let mut store = Store::open_with(&db, Some("k"), &foreign).expect("store");
        assert_eq!(store.repack().expect("repack"), 4);
        drop(store);
        let store = Store::open_read_only(&db, Some("k")).expect("store");
        assert_eq!(replayed_cases(&store, &cases, &tz), 0);
        same_files_both_ways(&store, &cases, &instruments, dir.path(), "walked");
    }

    /// Cases whose stored replay the export can use.
    fn replayed_cases(store: &Store, cases: &[CaseSummary], tz: &TimeZone) -> usize {
        let ids: Vec<CaseId> = cases.iter().map(|c| c.id).collect();
        let mut n = 0;
        store
            .read_cases(
                &ids,
                ReadParts::default(),
                |i, rows| -> Result<(), StoreError> {
                    let today = interview_date(cases[i].created_utc, tz);
                    let hash = &cases[i].instrument.hash;
                    if rows
                        .replay()
                        .and_then(|r| super::super::replay::decode(r, hash, today))
                        .is_some()
                    {
                        n += 1;
                    }
                    Ok(())
                },
            )
            .expect("read");
        n
    }

    /// A replayer of another build: its replays are never current.
    struct Foreign;

    impl crate::store::Replayer for Foreign {
        fn replay(
            &self,
            _: &crate::store::InstrumentStamp,
            _: Timestamp,
            _: &[(String, StoredAnswer)],
        ) -> Option<Vec<u8>> {
            Some(b"\x01\x03old".to_vec())
        }

        fn is_current(&self, replay: &[u8]) -> bool {
            replay == b"\x01\x03old"
        }
    }

    /// The files of the export's path and of the old per-case path, with
    /// and without personal data, are the same bytes.
    fn same_files_both_ways(
        store: &Store,
        cases: &[CaseSummary],
        instruments: &[Instrument],
        dir: &Path,
        label: &str,
    ) {
        let (used, by_hash) = super::super::match_instruments(cases, instruments).expect("match");
        for pii in [false, true] {
            let layout = Layout::build(&used, pii).expect("layout");
            let (fast, slow) = (
                dir.join(format!("fast-{label}-{pii}")),
                dir.join(format!("slow-{label}-{pii}")),
            );
            std::fs::create_dir(&fast).expect("mkdir");
            std::fs::create_dir(&slow).expect("mkdir");
            let got = write(store, cases, &by_hash, &layout, &fast, pii).expect("bulk");
            let want = write_per_case(store, cases, &by_hash, &layout, &slow, pii);
            assert_eq!(
                (got.levels, got.events, got.notes),
                (want.levels, want.events, want.notes)
            );
            let mut names: Vec<_> = std::fs::read_dir(&slow)
                .expect("ls")
                .map(|e| e.expect("entry").file_name())
                .collect();
            names.sort();
            assert_eq!(names.len(), layout.levels.len() + 2 + usize::from(pii));
            for name in names {
                let want = std::fs::read(slow.join(&name)).expect("read");
                let got = std::fs::read(fast.join(&name)).expect("read");
                assert!(want.len() > 40, "{name:?} has rows");
                assert_eq!(
                    String::from_utf8_lossy(&got),
                    String::from_utf8_lossy(&want),
                    "{label} {name:?}"
                );
            }
        }
    }

    fn event(seq: i64, kind: EventKind, ns: u64, path: Option<&str>) -> EventRow {
        EventRow {
            seq,
            kind: Some(kind),
            path: path.map(str::to_string),
            old: None,
            new: Some("text:Ana".into()),
            detail: None,
            utc: Timestamp::from_second(1_700_000_000 + seq)
                .expect("time")
                .to_string(),
            monotonic_ns: ns,
            enumerator: "e1".into(),
        }
    }

    #[test]
    fn active_time_adds_sessions_and_skips_the_gaps() {
        let events = [
            event(1, EventKind::Answer, 1_000_000_000, None),
            event(2, EventKind::Answer, 3_000_000_000, None),
            event(3, EventKind::Answer, 500_000_000, None), // a new process
            event(4, EventKind::Answer, 1_500_000_000, None),
        ];
        let row = duration_row("c", &events);
        assert_eq!(row[3], "3");
        assert_eq!(row[4], "3");
        assert_eq!(row[5], "2");
        assert_eq!(row[6], "4");
    }

    #[test]
    fn paradata_hides_the_values_of_personal_items() {
        let pii: FastSet<&str> = ["name"].into_iter().collect();
        let (mut seq, mut ns) = (String::new(), String::new());
        let private = event(1, EventKind::Answer, 1, Some("members[1].name"));
        let row = paradata_row("c", &private, &pii, &mut seq, &mut ns);
        assert_eq!(row[4], "name");
        assert_eq!(row[6], "");
        let (mut seq, mut ns) = (String::new(), String::new());
        let city = event(1, EventKind::Answer, 1, Some("city"));
        let open = paradata_row("c", &city, &pii, &mut seq, &mut ns);
        assert_eq!(open[6], "text:Ana");
    }

    #[test]
    fn cells_keep_every_digit() {
        let mut cell = String::new();
        answer_cell(&Answer::Decimal(0.1 + 0.2), &mut cell);
        assert_eq!(cell, "0.30000000000000004");
        cell.clear();
        answer_cell(&Answer::Codes(vec![1, 3]), &mut cell);
        assert_eq!(cell, "1 3");
        assert_eq!(value_cell(&Value::Bool(true)), "1");
        assert_eq!(value_cell(&Value::Decimal(f64::NAN)), "");
    }
}
