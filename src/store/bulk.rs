//! Reading many cases at once, for export.
//!
//! [`Store::case`] and [`Store::events`] read one case with several
//! statements and parse every stored time and value into typed values; an
//! export of 100,000 cases (16 million events) spent most of its reading time
//! there, only to print the same times and values back as text. This reader
//! runs three prepared statements per case inside one read transaction (so
//! the export also sees one consistent snapshot of the store), reuses its
//! buffers from case to case, and hands over event values and times as
//! text in their canonical spelling: exactly what
//! `StoredAnswer::decode(text).encode()` and `Timestamp::to_string` of the
//! parsed time give, so the files are byte for byte those of the per-case
//! reader. Text already in that spelling (all that vicor writes) is copied
//! after a check; anything else is parsed and printed again, and text that
//! does not parse is reported as corruption, as the per-case reader does.

use std::fmt::Write as _;
use std::path::Path;

use jiff::Timestamp;

use super::types::{CaseId, EventKind, StoredAnswer};
use super::{Store, StoreError, answer_from_row};

/// The page cache of a bulk read, as SQLite's `cache_size` (negative: KiB).
const BULK_CACHE_KIB: i64 = -65_536;

/// One event as the export writes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventRow {
    pub seq: i64,
    /// `None` only before the row is filled.
    pub kind: Option<EventKind>,
    pub path: Option<String>,
    /// Old and new value in the canonical spelling of
    /// [`StoredAnswer::encode`].
    pub old: Option<String>,
    pub new: Option<String>,
    pub detail: Option<String>,
    /// The wall-clock time in the canonical spelling of `Timestamp`'s
    /// `Display` (RFC 3339, UTC, `Z`, no trailing zeros in the fraction).
    pub utc: String,
    pub monotonic_ns: u64,
    pub enumerator: String,
}

/// One note as the export writes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoteRow {
    pub seq: i64,
    pub path: Option<String>,
    pub text: String,
    pub enumerator: String,
    /// Canonical spelling, as [`EventRow::utc`].
    pub utc: String,
}

/// The stored rows of one case. The buffers are reused for the next case:
/// read what is needed inside the callback of [`Store::read_cases`] (or
/// take the answers, which are read afresh for each case).
#[derive(Debug, Default)]
pub struct CaseRows {
    /// Every stored answer, by path (the store's path order). Its buffers
    /// are reused for the next case too: to keep the answers, swap in
    /// another vector (whose buffers are then reused).
    pub answers: Vec<(String, StoredAnswer)>,
    events: Vec<EventRow>,
    events_len: usize,
    notes: Vec<NoteRow>,
    notes_len: usize,
    replay: Vec<u8>,
    has_replay: bool,
    /// A pack read but not yet decoded ([`ReadParts::unpack_later`]).
    packed_events: Vec<u8>,
    packed_answers: Vec<u8>,
    packed: bool,
    /// The previous case's answers while `answers` waits for
    /// [`CaseRows::unpack`], whose decoding reuses their buffers.
    answer_slots: Vec<(String, StoredAnswer)>,
}

impl CaseRows {
    /// The case's events, in `seq` order.
    pub fn events(&self) -> &[EventRow] {
        &self.events[..self.events_len]
    }

    /// The case's notes, in `seq` order (empty unless asked for).
    pub fn notes(&self) -> &[NoteRow] {
        &self.notes[..self.notes_len]
    }

    /// Decodes the pack read with [`ReadParts::unpack_later`] (if the case
    /// had one): until then its events and answers are empty. `store` and
    /// `id` name the case in the error a damaged pack gives.
    pub fn unpack(&mut self, store: &Path, id: &CaseId) -> Result<(), StoreError> {
        if !std::mem::take(&mut self.packed) {
            return Ok(());
        }
        let damaged = |_| StoreError::Corrupt {
            path: store.to_path_buf(),
            detail: format!("the packed case {id} cannot be read"),
        };
        self.events_len =
            super::pack::decode_events(&self.packed_events, &mut self.events).map_err(damaged)?;
        std::mem::swap(&mut self.answers, &mut self.answer_slots);
        super::pack::decode_answers(&self.packed_answers, &mut self.answers).map_err(damaged)?;
        Ok(())
    }

    /// The replay stored with the case's pack (see
    /// [`Replayer`](super::Replayer)), if it has one.
    pub fn replay(&self) -> Option<&[u8]> {
        self.has_replay.then_some(self.replay.as_slice())
    }
}

/// Which parts of each case to read.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadParts {
    pub notes: bool,
    /// Hand packed cases over undecoded: [`CaseRows::unpack`] decodes them,
    /// on whichever thread calls it.
    pub unpack_later: bool,
}

impl Store {
    /// Reads the cases `ids`, in that order, and calls `each` with the
    /// position of the case in `ids` and its rows. Everything is read in one
    /// read transaction. An unknown id gives [`StoreError::NoSuchCase`].
    pub fn read_cases<E: From<StoreError>>(
        &self,
        ids: &[CaseId],
        parts: ReadParts,
        mut each: impl FnMut(usize, &mut CaseRows) -> Result<(), E>,
    ) -> Result<(), E> {
        // Each case is a few seeks into three tables, in the order asked, not
        // the tables' order: a page cache that holds their interior pages
        // saves reading (and, keyed, decrypting) them again for every case.
        let cache: i64 = self
            .conn
            .pragma_query_value(None, "cache_size", |r| r.get(0))
            .map_err(self.err())?;
        self.conn
            .pragma_update(None, "cache_size", BULK_CACHE_KIB)
            .map_err(self.err())?;
        let read = self.read_cases_in(ids, parts, &mut each);
        let reset = self.conn.pragma_update(None, "cache_size", cache);
        read?;
        reset.map_err(self.err())?;
        Ok(())
    }

    fn read_cases_in<E: From<StoreError>>(
        &self,
        ids: &[CaseId],
        parts: ReadParts,
        each: &mut impl FnMut(usize, &mut CaseRows) -> Result<(), E>,
    ) -> Result<(), E> {
        let tx = self.conn.unchecked_transaction().map_err(self.err())?;
        let mut exists = tx
            .prepare("SELECT 1 FROM cases WHERE uuid = ?1")
            .map_err(self.err())?;
        let mut answers = tx.prepare(ANSWERS_SQL).map_err(self.err())?;
        let mut events = tx.prepare(EVENTS_SQL).map_err(self.err())?;
        // Stores from before packs (read without upgrading) have no table.
        let mut packs = match self.version {
            ..3 => None,
            3 => Some(
                tx.prepare(
                    "SELECT packed_events, packed_answers, NULL FROM case_packs
                     WHERE case_uuid = ?1",
                )
                .map_err(self.err())?,
            ),
            _ => Some(
                tx.prepare(
                    "SELECT packed_events, packed_answers, replay FROM case_packs
                     WHERE case_uuid = ?1",
                )
                .map_err(self.err())?,
            ),
        };
        let mut notes = tx
            .prepare(
                "SELECT seq, path, text, enumerator, utc FROM notes
                 WHERE case_uuid = ?1 ORDER BY seq",
            )
            .map_err(self.err())?;
        let mut rows = CaseRows::default();
        let mut key = String::with_capacity(36);
        for (i, id) in ids.iter().enumerate() {
            key.clear();
            write!(key, "{}", id.as_uuid().hyphenated()).expect("writing to a String");
            rows.has_replay = false;
            rows.packed = false;
            let packed = match packs.as_mut() {
                Some(packs) => self.read_pack(packs, &key, id, &mut rows, parts.unpack_later)?,
                None => false,
            };
            // A pack belongs to a case (a foreign key): only unpacked ids
            // need the look-up.
            if !packed {
                if !exists.exists([&key]).map_err(self.err())? {
                    return Err(StoreError::NoSuchCase {
                        case: *id,
                        path: self.path.clone(),
                    }
                    .into());
                }
                read_answer_rows(&mut answers, &key, id, &mut rows.answers, &self.path)?;
                rows.events_len =
                    read_event_rows(&mut events, &key, id, &mut rows.events, &self.path)?;
            }
            rows.notes_len = 0;
            if parts.notes {
                self.read_notes(&mut notes, &key, id, &mut rows)?;
            }
            each(i, &mut rows)?;
        }
        drop((exists, answers, events, packs, notes));
        tx.commit().map_err(self.err())?;
        Ok(())
    }

    /// Reads the case's pack into `rows`; `false` when it has none.
    fn read_pack(
        &self,
        stmt: &mut rusqlite::Statement<'_>,
        key: &str,
        id: &CaseId,
        rows: &mut CaseRows,
        later: bool,
    ) -> Result<bool, StoreError> {
        let mut cursor = stmt.query([key]).map_err(self.err())?;
        let Some(row) = cursor.next().map_err(self.err())? else {
            return Ok(false);
        };
        let blob = |i| row.get_ref(i).and_then(|v| Ok(v.as_blob()?));
        let damaged = |_| self.corrupt(format!("the packed case {id}"));
        let events = blob(0).map_err(self.err())?;
        let answers = blob(1).map_err(self.err())?;
        if !super::pack::is_current(events, answers) {
            return Ok(false);
        }
        if later {
            rows.packed_events.clear();
            rows.packed_events.extend_from_slice(events);
            rows.packed_answers.clear();
            rows.packed_answers.extend_from_slice(answers);
            rows.packed = true;
            rows.events_len = 0;
            // Empty until unpacked; the old answers' buffers wait aside.
            if rows.answer_slots.len() < rows.answers.len() {
                std::mem::swap(&mut rows.answers, &mut rows.answer_slots);
            }
            rows.answers.clear();
        } else {
            rows.events_len =
                super::pack::decode_events(events, &mut rows.events).map_err(damaged)?;
            super::pack::decode_answers(answers, &mut rows.answers).map_err(damaged)?;
        }
        if let rusqlite::types::ValueRef::Blob(replay) = row.get_ref(2).map_err(self.err())? {
            rows.replay.clear();
            rows.replay.extend_from_slice(replay);
            rows.has_replay = true;
        }
        Ok(true)
    }

    fn read_notes(
        &self,
        stmt: &mut rusqlite::Statement<'_>,
        key: &str,
        id: &CaseId,
        rows: &mut CaseRows,
    ) -> Result<(), StoreError> {
        let mut n = 0;
        let mut cursor = stmt.query([key]).map_err(self.err())?;
        while let Some(row) = cursor.next().map_err(self.err())? {
            if n == rows.notes.len() {
                rows.notes.push(NoteRow::default());
            }
            let note = &mut rows.notes[n];
            n += 1;
            note.seq = row.get(0).map_err(self.err())?;
            set(&mut note.path, text(row, 1).map_err(self.err())?);
            note.text.clear();
            note.text
                .push_str(text(row, 2).map_err(self.err())?.unwrap_or_default());
            note.enumerator.clear();
            note.enumerator
                .push_str(text(row, 3).map_err(self.err())?.unwrap_or_default());
            let utc = text(row, 4).map_err(self.err())?.unwrap_or_default();
            note.utc.clear();
            if !canonical_time(utc, &mut note.utc) {
                return Err(
                    self.corrupt(format!("note {} of case {id}: the time {utc:?}", note.seq))
                );
            }
        }
        rows.notes_len = n;
        Ok(())
    }
}

/// The answers of one case, as [`read_answer_rows`] reads them.
pub(crate) const ANSWERS_SQL: &str =
    "SELECT path, value_type, value, special FROM answers WHERE case_uuid = ?1 ORDER BY path";

/// Reads the answers of case `key` into `answers` with [`ANSWERS_SQL`],
/// reusing the slots (and their path buffers) already there.
pub(crate) fn read_answer_rows(
    stmt: &mut rusqlite::Statement<'_>,
    key: &str,
    id: &CaseId,
    answers: &mut Vec<(String, StoredAnswer)>,
    store: &Path,
) -> Result<(), StoreError> {
    let err = |e| StoreError::sqlite(store, e);
    let mut n = 0;
    let mut cursor = stmt.query([key]).map_err(err)?;
    while let Some(row) = cursor.next().map_err(err)? {
        let path = text(row, 0).map_err(err)?.unwrap_or_default();
        let answer = answer_from_row(row, 1)
            .map_err(err)?
            .ok_or_else(|| StoreError::Corrupt {
                path: store.to_path_buf(),
                detail: format!("answer {path} of {id} cannot be read"),
            })?;
        match answers.get_mut(n) {
            Some(slot) => {
                slot.0.clear();
                slot.0.push_str(path);
                slot.1 = answer;
            }
            None => answers.push((path.to_string(), answer)),
        }
        n += 1;
    }
    answers.truncate(n);
    Ok(())
}

/// The events of one case, in order, as [`read_event_rows`] reads them.
pub(crate) const EVENTS_SQL: &str =
    "SELECT seq, kind, path, old_value, new_value, detail, utc, monotonic_ns, enumerator
     FROM events WHERE case_uuid = ?1 ORDER BY seq";

/// Reads the events of case `key` into `events` (whose buffers are reused)
/// with [`EVENTS_SQL`], and returns how many there are.
pub(crate) fn read_event_rows(
    stmt: &mut rusqlite::Statement<'_>,
    key: &str,
    id: &CaseId,
    events: &mut Vec<EventRow>,
    store: &Path,
) -> Result<usize, StoreError> {
    let err = |e| StoreError::sqlite(store, e);
    let corrupt = |what: String| StoreError::Corrupt {
        path: store.to_path_buf(),
        detail: format!("{what} cannot be read"),
    };
    let mut n = 0;
    let mut cursor = stmt.query([key]).map_err(err)?;
    while let Some(row) = cursor.next().map_err(err)? {
        if n == events.len() {
            events.push(EventRow::default());
        }
        let e = &mut events[n];
        n += 1;
        e.seq = row.get(0).map_err(err)?;
        let seq = e.seq;
        let what = || format!("event {seq} of case {id}");
        let kind = text(row, 1).map_err(err)?.unwrap_or_default();
        e.kind = Some(EventKind::parse(kind).ok_or_else(|| StoreError::Corrupt {
            path: store.to_path_buf(),
            detail: format!(
                "{} has the kind {kind:?}, unknown to this vicor (written by a newer one?)",
                what()
            ),
        })?);
        set(&mut e.path, text(row, 2).map_err(err)?);
        for (column, slot) in [(3, &mut e.old), (4, &mut e.new)] {
            match text(row, column).map_err(err)? {
                None => *slot = None,
                Some(stored) => {
                    let out = slot.get_or_insert_with(String::new);
                    out.clear();
                    if !StoredAnswer::recode(stored, out) {
                        return Err(corrupt(what()));
                    }
                }
            }
        }
        set(&mut e.detail, text(row, 5).map_err(err)?);
        let utc = text(row, 6).map_err(err)?.unwrap_or_default();
        e.utc.clear();
        if !canonical_time(utc, &mut e.utc) {
            return Err(corrupt(format!("the time {utc:?}")));
        }
        let mono: i64 = row.get(7).map_err(err)?;
        e.monotonic_ns = u64::try_from(mono).map_err(|_| corrupt(what()))?;
        e.enumerator.clear();
        e.enumerator
            .push_str(text(row, 8).map_err(err)?.unwrap_or_default());
    }
    Ok(n)
}

/// A text column, borrowed from the row (`None` for NULL).
fn text<'r>(row: &'r rusqlite::Row<'_>, column: usize) -> rusqlite::Result<Option<&'r str>> {
    row.get_ref(column)?.as_str_or_null().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// Sets an optional string, reusing its buffer.
fn set(slot: &mut Option<String>, value: Option<&str>) {
    match value {
        None => *slot = None,
        Some(v) => {
            let s = slot.get_or_insert_with(String::new);
            s.clear();
            s.push_str(v);
        }
    }
}

/// Appends the canonical spelling of a stored time (what `Timestamp`'s
/// `Display` prints for the parsed time) to `out`; `false` when the text is
/// not a time. Text already canonical is copied after a check of its form.
pub(crate) fn canonical_time(text: &str, out: &mut String) -> bool {
    if is_canonical_time(text.as_bytes()) {
        out.push_str(text);
        return true;
    }
    match text.parse::<Timestamp>() {
        Ok(t) => {
            write!(out, "{t}").expect("writing to a String");
            true
        }
        Err(_) => false,
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.f]Z` with a real date, hour 00–23, minute and
/// second 00–59, and a fraction of 1–9 digits not ending in 0: the form
/// jiff prints, which parses back to itself.
fn is_canonical_time(b: &[u8]) -> bool {
    if b.len() < 20 || b[b.len() - 1] != b'Z' {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let punct = b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' && b[16] == b':';
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        digits(0..4),
        digits(5..7),
        digits(8..10),
        digits(11..13),
        digits(14..16),
        digits(17..19),
    ) else {
        return false;
    };
    if !punct || hour > 23 || minute > 59 || second > 59 || !(1..=12).contains(&month) {
        return false;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day == 0 || day > days {
        return false;
    }
    let rest = &b[19..b.len() - 1];
    match rest {
        [] => true,
        [b'.', fraction @ ..] => {
            (1..=9).contains(&fraction.len())
                && fraction.iter().all(u8::is_ascii_digit)
                && fraction.last() != Some(&b'0')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slow(text: &str) -> Option<String> {
        text.parse::<Timestamp>().ok().map(|t| t.to_string())
    }

    fn fast(text: &str) -> Option<String> {
        let mut out = String::new();
        canonical_time(text, &mut out).then_some(out)
    }

    #[test]
    fn times_read_as_jiff_prints_them() {
        for text in [
            "2026-06-15T10:00:00Z",
            "2026-06-15T10:00:00.5Z",
            "2026-06-15T10:00:00.123456789Z",
            "2026-06-15T10:00:00.120Z",
            "2026-06-15T10:00:00.000Z",
            "2024-02-29T23:59:59Z",
            "2023-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-06-31T00:00:00Z",
            "2026-06-15T24:00:00Z",
            "2026-06-15T23:59:60Z",
            "2026-06-15T10:00:00+02:00",
            "2026-06-15T10:00:00.1234567891Z",
            "2026-06-15 10:00:00Z",
            "0000-01-01T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2000-02-29T00:00:00Z",
            "not a time",
            "",
        ] {
            assert_eq!(fast(text), slow(text), "{text}");
        }
    }

    #[test]
    fn every_printed_time_is_taken_as_canonical() {
        let mut t = Timestamp::from_second(-62_000_000_000).expect("time");
        let step = jiff::SignedDuration::new(987_654_321, 123_456_789);
        while t < Timestamp::from_second(250_000_000_000).expect("time") {
            let text = t.to_string();
            assert!(is_canonical_time(text.as_bytes()), "{text}");
            t = t.checked_add(step).expect("in range");
        }
    }
}
