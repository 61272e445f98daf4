//! Packed cases: the events and answers of a completed case, in one row.
//!
//! The `events` table is the journal of the interview, one row per move,
//! written as the enumerator goes, and `answers` holds one row per item. An
//! export of 100,000 interviews has to step through some 15 million event
//! rows and 12 million answer rows (and, keyed, decrypt 2.6 GB of pages).
//! So when a case is completed, the transaction that completes it also
//! writes its events and answers, read back from those rows, packed into
//! two blobs in `case_packs`, about a sixth of their size. The rows stay:
//! they are the record, the pack is derived from them. Triggers drop a
//! case's pack as soon as an event is added to it or an answer changes (a
//! note after completion, a reopened case), so a pack always holds exactly
//! the case's rows, and a case without one (in progress, or stored by a
//! vicor before packs) is read from the rows.
//!
//! The events blob (format 2): a format byte ([`FORMAT`]), the number of
//! events, then per event a byte of flags, a byte for the kind, the step
//! from the previous `seq` (left out when it is 1), the path, old value, new
//! value and detail that the event has (the flags say which), the time, the
//! step of the monotonic clock, and the enumerator (left out when it is the
//! previous event's). Numbers are LEB128 varints, steps that may be
//! negative zigzag ones. The kind is a fixed code ([`code`]): kinds
//! alternate (navigate, answer, navigate), so their names shared little
//! with the previous event's. Each text column is stored as the number of
//! leading bytes it shares with the same column of the previous event and
//! the bytes that follow: consecutive events share most of their path and
//! values. The time is stored as the step in nanoseconds from the previous
//! time so stored (the first from 1970-01-01T00:00:00Z): three or four
//! bytes rather than ten of shared text, and decoding writes it back with
//! arithmetic, without checking or copying text. That holds only for a time
//! whose text [`push_utc`] writes back byte for byte (the spelling of
//! `Timestamp`'s `Display`, years 0000 to 9999) and whose step fits 64
//! bits; any other time is stored as text, as a text column, under a flag.
//! The text is what the bulk reader hands over (canonical values and
//! times), so a packed case exports byte for byte as its rows do.
//!
//! The answers blob: the format byte, the number of answers, then per
//! answer its path (sharing its start with the previous path, as above) and
//! its value spelled by [`StoredAnswer::encode`].
//!
//! Format 1 (schema version 4 and before) stored the kind and time as
//! shared text too, about 36 bytes an event; schema version 5 drops those
//! packs and packs the cases again.

use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

use super::bulk::{EventRow, read_answer_rows, read_event_rows};
use super::types::{CaseId, EventKind, InstrumentStamp, StoredAnswer};
use super::{CaseStatus, StoreError};
use jiff::Timestamp;

/// The first byte of every pack. A pack of another format (format 1, of a
/// vicor before kind codes and nanosecond times, or one day a newer one) is
/// passed over and the case read from its rows, which the pack only
/// repeats.
const FORMAT: u8 = 2;

/// Whether both blobs are packs of this vicor's format.
pub(crate) fn is_current(events: &[u8], answers: &[u8]) -> bool {
    events.first() == Some(&FORMAT) && answers.first() == Some(&FORMAT)
}

// The flags of an event: which optional columns it has, and which columns
// are spelled the short way.
const HAS_PATH: u8 = 1;
const HAS_OLD: u8 = 2;
const HAS_NEW: u8 = 4;
const HAS_DETAIL: u8 = 8;
/// The time is stored as text: `push_utc` does not write it back as it is,
/// or its step does not fit 64 bits.
const UTC_TEXT: u8 = 16;
/// `seq` is the previous one plus 1, and no step is stored.
const NEXT_SEQ: u8 = 32;
/// The enumerator is the previous event's, and is not stored.
const SAME_ENUMERATOR: u8 = 64;
const ALL_FLAGS: u8 =
    HAS_PATH | HAS_OLD | HAS_NEW | HAS_DETAIL | UTC_TEXT | NEXT_SEQ | SAME_ENUMERATOR;

/// The byte that stands for `kind` in a pack. These codes are part of the
/// stored format: never renumber one or give it to another kind (a new kind
/// takes the next free code, 14). 0 stands for no kind, which no stored
/// event has, and is refused when read.
fn code(kind: EventKind) -> u8 {
    match kind {
        EventKind::Answer => 1,
        EventKind::Clear => 2,
        EventKind::RelevanceChange => 3,
        EventKind::SoftCheckConfirmed => 4,
        EventKind::RandomSelection => 5,
        EventKind::LanguageChange => 6,
        EventKind::Navigate => 7,
        EventKind::Complete => 8,
        EventKind::Outcome => 9,
        EventKind::Note => 10,
        EventKind::Pause => 11,
        EventKind::Resume => 12,
        EventKind::InstrumentMigration => 13,
    }
}

/// The kind a [`code`] stands for.
fn from_code(code: u8) -> Option<EventKind> {
    Some(match code {
        1 => EventKind::Answer,
        2 => EventKind::Clear,
        3 => EventKind::RelevanceChange,
        4 => EventKind::SoftCheckConfirmed,
        5 => EventKind::RandomSelection,
        6 => EventKind::LanguageChange,
        7 => EventKind::Navigate,
        8 => EventKind::Complete,
        9 => EventKind::Outcome,
        10 => EventKind::Note,
        11 => EventKind::Pause,
        12 => EventKind::Resume,
        13 => EventKind::InstrumentMigration,
        _ => return None,
    })
}

const NANOS_PER_SECOND: i64 = 1_000_000_000;
/// Unix seconds of 0000-01-01T00:00:00Z and of 10000-01-01T00:00:00Z: the
/// times [`push_utc`] writes.
const FIRST_SECOND: i64 = -62_167_219_200;
const END_SECOND: i64 = 253_402_300_800;

/// Appends the time `second` (Unix seconds) and `nanos` (0 to 999,999,999)
/// as `Timestamp`'s `Display` writes it: `YYYY-MM-DDTHH:MM:SS`, then, when
/// the fraction is not zero, `.` and its nine digits without the trailing
/// zeros, then `Z`. Only years 0000 to 9999; `false` (and nothing written)
/// for any other time.
fn push_utc(second: i64, nanos: u32, out: &mut String) -> bool {
    UtcWriter::new().push(second, nanos, out)
}

/// The digits of 0 to 99, two by two.
const PAIRS: [[u8; 2]; 100] = {
    let mut pairs = [[0; 2]; 100];
    let mut i = 0;
    while i < 100 {
        pairs[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    pairs
};

/// Writes times as [`push_utc`] does, keeping the date of the last one:
/// the events of a case mostly fall on one day, and working the date out is
/// much of the work. The decoder writes all the times of a pack with one.
struct UtcWriter {
    /// Days since 1970 of `date` (`i64::MIN`: none yet).
    day: i64,
    /// `YYYY-MM-DD`.
    date: [u8; 10],
}

impl UtcWriter {
    fn new() -> UtcWriter {
        UtcWriter {
            day: i64::MIN,
            date: [0; 10],
        }
    }

    /// [`push_utc`].
    fn push(&mut self, second: i64, nanos: u32, out: &mut String) -> bool {
        if !(FIRST_SECOND..END_SECOND).contains(&second) || nanos >= 1_000_000_000 {
            return false;
        }
        // In range, every number below is small and not negative.
        let day = second.div_euclid(86_400);
        if day != self.day {
            let (year, month, of_month) = civil_from_days(day);
            let year = year as usize;
            self.date = *b"0000-00-00";
            self.date[0..2].copy_from_slice(&PAIRS[year / 100]);
            self.date[2..4].copy_from_slice(&PAIRS[year % 100]);
            self.date[5..7].copy_from_slice(&PAIRS[month as usize]);
            self.date[8..10].copy_from_slice(&PAIRS[of_month as usize]);
            self.day = day;
        }
        let of_day = second.rem_euclid(86_400) as usize;
        let mut b = *b"YYYY-MM-DDT00:00:00.000000000Z";
        b[..10].copy_from_slice(&self.date);
        b[11..13].copy_from_slice(&PAIRS[of_day / 3600]);
        b[14..16].copy_from_slice(&PAIRS[of_day / 60 % 60]);
        b[17..19].copy_from_slice(&PAIRS[of_day % 60]);
        let mut end = 19;
        if nanos != 0 {
            let n = nanos as usize;
            b[20] = b'0' + (n / 100_000_000) as u8;
            b[21..23].copy_from_slice(&PAIRS[n / 1_000_000 % 100]);
            b[23..25].copy_from_slice(&PAIRS[n / 10_000 % 100]);
            b[25..27].copy_from_slice(&PAIRS[n / 100 % 100]);
            b[27..29].copy_from_slice(&PAIRS[n % 100]);
            // Not zero: a digit other than 0 stops this before the '.'.
            end = 29;
            while b[end - 1] == b'0' {
                end -= 1;
            }
        }
        b[end] = b'Z';
        // Checking these 20 to 30 ASCII bytes costs less than pushing them
        // one by one as chars (and is never refused).
        match std::str::from_utf8(&b[..=end]) {
            Ok(text) => {
                out.push_str(text);
                true
            }
            Err(_) => false,
        }
    }
}

/// Year, month and day of the day `days` after 1970-01-01, in the
/// proleptic Gregorian calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of the era, 0..=146_096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // from March 1st, 0..=365
    let mp = (5 * doy + 2) / 153; // month from March, 0..=11
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// The time of `text` in nanoseconds since 1970, when `push_utc` writes it
/// back exactly as `text`. `scratch` is a buffer for that check.
fn utc_nanos(text: &str, scratch: &mut String) -> Option<i128> {
    let nanos = text.parse::<Timestamp>().ok()?.as_nanosecond();
    let (second, fraction) = split_nanos(nanos)?;
    scratch.clear();
    (push_utc(second, fraction, scratch) && scratch == text).then_some(nanos)
}

/// Seconds and the nanoseconds after them (never negative).
fn split_nanos(nanos: i128) -> Option<(i64, u32)> {
    let per = i128::from(NANOS_PER_SECOND);
    let second = i64::try_from(nanos.div_euclid(per)).ok()?;
    let fraction = u32::try_from(nanos.rem_euclid(per)).ok()?;
    Some((second, fraction))
}

/// Appends the pack of `events` to `out`.
pub(crate) fn encode_events(events: &[EventRow], out: &mut Vec<u8>) {
    out.push(FORMAT);
    varint(events.len() as u64, out);
    let none = EventRow::default();
    let mut prev = &none;
    // The time of the last event whose time is stored as a step.
    let mut prev_nanos: i128 = 0;
    let mut scratch = String::with_capacity(32);
    for e in events {
        let seq_step = e.seq.wrapping_sub(prev.seq);
        let utc_step = utc_nanos(&e.utc, &mut scratch).and_then(|nanos| {
            let step = i64::try_from(nanos - prev_nanos).ok()?;
            prev_nanos = nanos;
            Some(step)
        });
        let flags = flag(e.path.is_some(), HAS_PATH)
            | flag(e.old.is_some(), HAS_OLD)
            | flag(e.new.is_some(), HAS_NEW)
            | flag(e.detail.is_some(), HAS_DETAIL)
            | flag(utc_step.is_none(), UTC_TEXT)
            | flag(seq_step == 1, NEXT_SEQ)
            | flag(e.enumerator == prev.enumerator, SAME_ENUMERATOR);
        out.push(flags);
        out.push(e.kind.map(code).unwrap_or(0));
        if seq_step != 1 {
            varint(seq_step as u64, out);
        }
        for (before, now) in [
            (&prev.path, &e.path),
            (&prev.old, &e.old),
            (&prev.new, &e.new),
            (&prev.detail, &e.detail),
        ] {
            if let Some(now) = now {
                text(before.as_deref().unwrap_or_default(), now, out);
            }
        }
        match utc_step {
            Some(step) => varint(zigzag(step), out),
            None => text(&prev.utc, &e.utc, out),
        }
        varint(
            zigzag(e.monotonic_ns.wrapping_sub(prev.monotonic_ns) as i64),
            out,
        );
        if e.enumerator != prev.enumerator {
            text(&prev.enumerator, &e.enumerator, out);
        }
        prev = e;
    }
}

fn flag(set: bool, bit: u8) -> u8 {
    if set { bit } else { 0 }
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

/// `now` as the bytes it shares with `before` (cut back to a character
/// boundary) and the rest.
fn text(before: &str, now: &str, out: &mut Vec<u8>) {
    let mut shared = before
        .bytes()
        .zip(now.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    while !now.is_char_boundary(shared) {
        shared -= 1;
    }
    varint(shared as u64, out);
    let rest = &now.as_bytes()[shared..];
    varint(rest.len() as u64, out);
    out.extend_from_slice(rest);
}

fn varint(mut n: u64, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A pack that does not decode: damaged, or of a newer format.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BadPack;

/// Decodes an events pack into `rows` (whose buffers are reused) and
/// returns the number of events.
pub(crate) fn decode_events(blob: &[u8], rows: &mut Vec<EventRow>) -> Result<usize, BadPack> {
    let mut r = Reader { blob, at: 0 };
    // Every event takes at least 4 bytes: flags, kind, time and clock.
    let n = r.header(4)?;
    while rows.len() < n {
        rows.push(EventRow::default());
    }
    let none = EventRow::default();
    // The time of the last event whose time is stored as a step.
    let (mut second, mut nanos) = (0i64, 0u32);
    let mut writer = UtcWriter::new();
    // Values come and go from event to event (a navigation has no new
    // value, the answer after it has one): their buffers wait here rather
    // than being freed and allocated again.
    let mut spare: Vec<String> = Vec::new();
    for i in 0..n {
        let (done, rest) = rows.split_at_mut(i);
        let prev = done.last().unwrap_or(&none);
        let e = &mut rest[0];
        let flags = r.byte()?;
        if flags & !ALL_FLAGS != 0 {
            return Err(BadPack);
        }
        e.kind = Some(from_code(r.byte()?).ok_or(BadPack)?);
        let step = if flags & NEXT_SEQ != 0 {
            1
        } else {
            r.varint()? as i64
        };
        e.seq = prev.seq.checked_add(step).ok_or(BadPack)?;
        for (bit, before, now) in [
            (HAS_PATH, &prev.path, &mut e.path),
            (HAS_OLD, &prev.old, &mut e.old),
            (HAS_NEW, &prev.new, &mut e.new),
            (HAS_DETAIL, &prev.detail, &mut e.detail),
        ] {
            if flags & bit == 0 {
                if let Some(text) = now.take() {
                    spare.push(text);
                }
            } else {
                let out = now.get_or_insert_with(|| spare.pop().unwrap_or_default());
                r.text(before.as_deref().unwrap_or_default(), out)?;
            }
        }
        if flags & UTC_TEXT != 0 {
            r.text(&prev.utc, &mut e.utc)?;
        } else {
            // Whole seconds and the rest apart: no 128-bit division.
            let step = unzigzag(r.varint()?);
            nanos += step.rem_euclid(NANOS_PER_SECOND) as u32;
            second = second
                .checked_add(step.div_euclid(NANOS_PER_SECOND))
                .ok_or(BadPack)?;
            if nanos >= 1_000_000_000 {
                nanos -= 1_000_000_000;
                second = second.checked_add(1).ok_or(BadPack)?;
            }
            e.utc.clear();
            if !writer.push(second, nanos, &mut e.utc) {
                return Err(BadPack);
            }
        }
        let step = unzigzag(r.varint()?);
        e.monotonic_ns = prev.monotonic_ns.wrapping_add(step as u64);
        if flags & SAME_ENUMERATOR != 0 {
            e.enumerator.clear();
            e.enumerator.push_str(&prev.enumerator);
        } else {
            r.text(&prev.enumerator, &mut e.enumerator)?;
        }
    }
    if r.at != blob.len() {
        return Err(BadPack);
    }
    Ok(n)
}

/// Appends the pack of `answers` to `out`.
pub(crate) fn encode_answers(answers: &[(String, StoredAnswer)], out: &mut Vec<u8>) {
    out.push(FORMAT);
    varint(answers.len() as u64, out);
    let mut prev = "";
    for (path, answer) in answers {
        text(prev, path, out);
        text("", &answer.encode(), out);
        prev = path;
    }
}

/// Decodes an answers pack into `answers`, reusing the slots (and their
/// path buffers) already there.
pub(crate) fn decode_answers(
    blob: &[u8],
    answers: &mut Vec<(String, StoredAnswer)>,
) -> Result<(), BadPack> {
    let mut r = Reader { blob, at: 0 };
    // Every answer takes at least 5 bytes.
    let n = r.header(5)?;
    let mut value = String::new();
    let mut path = String::new();
    answers.truncate(n);
    for i in 0..n {
        let prev = if i == 0 {
            ""
        } else {
            answers[i - 1].0.as_str()
        };
        r.text(prev, &mut path)?;
        r.text("", &mut value)?;
        let answer = StoredAnswer::decode(&value).ok_or(BadPack)?;
        match answers.get_mut(i) {
            Some(slot) => {
                std::mem::swap(&mut slot.0, &mut path);
                slot.1 = answer;
            }
            None => answers.push((std::mem::take(&mut path), answer)),
        }
    }
    if r.at != blob.len() {
        return Err(BadPack);
    }
    Ok(())
}

struct Reader<'a> {
    blob: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    /// The format byte and the number of items, each taking at least
    /// `least` bytes: a count beyond what the blob can hold is damage, not
    /// a reason to allocate.
    fn header(&mut self, least: usize) -> Result<usize, BadPack> {
        if self.byte()? != FORMAT {
            return Err(BadPack);
        }
        let n = usize::try_from(self.varint()?).map_err(|_| BadPack)?;
        if n > self.blob.len() / least {
            return Err(BadPack);
        }
        Ok(n)
    }

    fn byte(&mut self) -> Result<u8, BadPack> {
        let b = *self.blob.get(self.at).ok_or(BadPack)?;
        self.at += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, BadPack> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(n);
            }
        }
        Err(BadPack)
    }

    /// Sets `out` to the shared start of `before` and the stored rest.
    fn text(&mut self, before: &str, out: &mut String) -> Result<(), BadPack> {
        let shared = usize::try_from(self.varint()?).map_err(|_| BadPack)?;
        let len = usize::try_from(self.varint()?).map_err(|_| BadPack)?;
        let end = self.at.checked_add(len).ok_or(BadPack)?;
        let rest = self.blob.get(self.at..end).ok_or(BadPack)?;
        let rest = std::str::from_utf8(rest).map_err(|_| BadPack)?;
        let start = before.get(..shared).ok_or(BadPack)?;
        self.at = end;
        out.clear();
        out.push_str(start);
        out.push_str(rest);
        Ok(())
    }
}

/// Works out, when a case is packed, what an export of the case would
/// otherwise rebuild through the interview engine (`export::replay` has the
/// one vicor uses). The store keeps the bytes beside the pack, drops them
/// with it, and never reads them: the export checks that they are still
/// what this build of vicor would make, and replays the case itself when
/// they are not.
pub trait Replayer: Send + Sync {
    /// The replay of a completed case, or `None` (its instrument is not one
    /// the replayer knows, or its answers do not read).
    fn replay(
        &self,
        stamp: &InstrumentStamp,
        created_utc: Timestamp,
        answers: &[(String, StoredAnswer)],
    ) -> Option<Vec<u8>>;

    /// Whether a replay made earlier is one this replayer would make (the
    /// same format and build); [`Store::repack`](super::Store::repack)
    /// makes the others again.
    fn is_current(&self, replay: &[u8]) -> bool;
}

/// Packs case `key` when it is completed and has no pack yet. Called at
/// the end of every transaction that adds events to a case or completes it.
pub(crate) fn seal(
    conn: &Connection,
    id: &CaseId,
    key: &str,
    path: &Path,
    replayer: Option<&dyn Replayer>,
) -> Result<(), StoreError> {
    let sql = |e| StoreError::sqlite(path, e);
    let state: Option<(String, bool)> = conn
        .prepare_cached(
            "SELECT status, EXISTS (SELECT 1 FROM case_packs WHERE case_uuid = ?1)
             FROM cases WHERE uuid = ?1",
        )
        .and_then(|mut s| {
            s.query_row([key], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(sql)?;
    match state {
        Some((status, false)) if status == CaseStatus::Completed.as_str() => {
            pack_case(conn, id, key, path, replayer)
        }
        _ => Ok(()),
    }
}

/// Packs every completed case that has no pack (stores written before
/// packs existed, on their upgrade, and a merged store) and, with a
/// replayer, every one whose replay is missing or out of date. Returns the
/// number of cases packed.
pub(crate) fn seal_all(
    conn: &Connection,
    path: &Path,
    replayer: Option<&dyn Replayer>,
) -> Result<usize, StoreError> {
    let sql = |e| StoreError::sqlite(path, e);
    let mut keys: Vec<String> = Vec::new();
    {
        // The replay is the last column of a pack's row: reading it reads the
        // whole pack, so only a replayer that will judge it asks for it.
        let replays = if replayer.is_some() {
            "p.replay"
        } else {
            "NULL"
        };
        let mut stmt = conn
            .prepare(&format!(
                "SELECT c.uuid, p.case_uuid IS NOT NULL, {replays}
                 FROM cases c LEFT JOIN case_packs p ON p.case_uuid = c.uuid
                 WHERE c.status = 'completed'"
            ))
            .map_err(sql)?;
        let mut rows = stmt.query([]).map_err(sql)?;
        while let Some(row) = rows.next().map_err(sql)? {
            let packed: bool = row.get(1).map_err(sql)?;
            let stale = match (replayer, row.get_ref(2).map_err(sql)?) {
                (None, _) => false,
                (Some(r), rusqlite::types::ValueRef::Blob(b)) => !r.is_current(b),
                (Some(_), _) => true,
            };
            if !packed || stale {
                keys.push(row.get(0).map_err(sql)?);
            }
        }
    }
    let mut packed = 0;
    for key in keys {
        // A case whose id does not parse is left to the readers to report.
        if let Ok(id) = key.parse::<CaseId>() {
            pack_case(conn, &id, &key, path, replayer)?;
            packed += 1;
        }
    }
    Ok(packed)
}

/// Packs one case. A case whose rows do not read (damaged, or written by a
/// newer vicor) gets no pack and is left to the readers to report: packing
/// must never stop an interview from completing or a store from opening.
fn pack_case(
    conn: &Connection,
    id: &CaseId,
    key: &str,
    path: &Path,
    replayer: Option<&dyn Replayer>,
) -> Result<(), StoreError> {
    match write_pack(conn, id, key, path, replayer) {
        Err(StoreError::Corrupt { .. }) => Ok(()),
        other => other,
    }
}

fn write_pack(
    conn: &Connection,
    id: &CaseId,
    key: &str,
    path: &Path,
    replayer: Option<&dyn Replayer>,
) -> Result<(), StoreError> {
    let sql = |e| StoreError::sqlite(path, e);
    let mut events = Vec::new();
    let n = {
        let mut stmt = conn.prepare_cached(super::bulk::EVENTS_SQL).map_err(sql)?;
        read_event_rows(&mut stmt, key, id, &mut events, path)?
    };
    let mut answers = Vec::new();
    {
        let mut stmt = conn.prepare_cached(super::bulk::ANSWERS_SQL).map_err(sql)?;
        read_answer_rows(&mut stmt, key, id, &mut answers, path)?;
    }
    let mut packed_events = Vec::with_capacity(64 * n);
    encode_events(&events[..n], &mut packed_events);
    let mut packed_answers = Vec::with_capacity(32 * answers.len());
    encode_answers(&answers, &mut packed_answers);
    let replay = match replayer {
        Some(r) => replay_case(conn, key, &answers, r).map_err(sql)?,
        None => None,
    };
    conn.prepare_cached(
        "INSERT INTO case_packs (case_uuid, events, answers, packed_events, packed_answers, replay)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (case_uuid) DO UPDATE SET
            events = excluded.events, answers = excluded.answers,
            packed_events = excluded.packed_events, packed_answers = excluded.packed_answers,
            replay = excluded.replay",
    )
    .and_then(|mut s| {
        s.execute(params![
            key,
            n as i64,
            answers.len() as i64,
            packed_events,
            packed_answers,
            replay
        ])
    })
    .map_err(sql)?;
    Ok(())
}

/// The replayer's bytes for the case, read with its instrument and
/// creation time.
fn replay_case(
    conn: &Connection,
    key: &str,
    answers: &[(String, StoredAnswer)],
    replayer: &dyn Replayer,
) -> rusqlite::Result<Option<Vec<u8>>> {
    let (stamp, created): (InstrumentStamp, String) = conn
        .prepare_cached(
            "SELECT instrument_id, instrument_version, instrument_hash, created_utc
             FROM cases WHERE uuid = ?1",
        )?
        .query_row([key], |r| {
            Ok((
                InstrumentStamp {
                    id: r.get(0)?,
                    version: r.get(1)?,
                    hash: r.get(2)?,
                },
                r.get(3)?,
            ))
        })?;
    // A time that does not parse is the readers' to report; no replay.
    Ok(match created.parse::<Timestamp>() {
        Ok(created) => replayer.replay(&stamp, created, answers),
        Err(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event(seq: i64, kind: EventKind, path: Option<&str>, utc: &str, ns: u64) -> EventRow {
        EventRow {
            seq,
            kind: Some(kind),
            path: path.map(str::to_string),
            old: None,
            new: None,
            detail: None,
            utc: utc.to_string(),
            monotonic_ns: ns,
            enumerator: "ana".to_string(),
        }
    }

    fn round_trip(events: &[EventRow]) -> Vec<EventRow> {
        let mut blob = Vec::new();
        encode_events(events, &mut blob);
        // Buffers left over from a longer case must not leak into this one.
        let mut rows = vec![event(9, EventKind::Note, Some("ü"), "x", 7); 3];
        let n = decode_events(&blob, &mut rows).expect("a pack decodes");
        rows.truncate(n);
        rows
    }

    #[test]
    fn a_case_comes_back_as_it_was_packed() {
        let mut events = vec![
            event(
                1,
                EventKind::Answer,
                Some("hh_size"),
                "2026-06-15T10:00:00.5Z",
                10,
            ),
            event(
                2,
                EventKind::Navigate,
                Some("hh_sizé"),
                "2026-06-15T10:00:01Z",
                5,
            ),
            event(
                3,
                EventKind::Complete,
                None,
                "2026-06-15T10:00:01.25Z",
                u64::MAX >> 1,
            ),
        ];
        events[0].new = Some("int:4".to_string());
        events[1].old = Some("text:é".to_string());
        events[1].new = Some("text:è".to_string());
        events[2].detail = Some("complete".to_string());
        events[2].enumerator = "anä".to_string();
        assert_eq!(round_trip(&events), events);
        assert_eq!(round_trip(&[]), Vec::<EventRow>::new());
    }

    #[test]
    fn damage_is_refused_not_read() {
        let events = [event(
            1,
            EventKind::Answer,
            Some("a"),
            "2026-06-15T10:00:00Z",
            1,
        )];
        let mut blob = Vec::new();
        encode_events(&events, &mut blob);
        let mut rows = Vec::new();
        for cut in 0..blob.len() {
            assert_eq!(
                decode_events(&blob[..cut], &mut rows),
                Err(BadPack),
                "cut at {cut}"
            );
        }
        let mut longer = blob.clone();
        longer.push(0);
        assert_eq!(decode_events(&longer, &mut rows), Err(BadPack));
        let mut newer = blob.clone();
        newer[0] = FORMAT + 1;
        assert_eq!(decode_events(&newer, &mut rows), Err(BadPack));
        // A huge count in a short blob.
        let huge = [FORMAT, 0xff, 0xff, 0xff, 0xff, 0x0f];
        assert_eq!(decode_events(&huge, &mut rows), Err(BadPack));
        assert_eq!(decode_answers(&huge, &mut Vec::new()), Err(BadPack));

        let answers = [("q1".to_string(), StoredAnswer::Int(3))];
        let mut blob = Vec::new();
        encode_answers(&answers, &mut blob);
        for cut in 0..blob.len() {
            assert_eq!(decode_answers(&blob[..cut], &mut Vec::new()), Err(BadPack));
        }
        // A value that is not a stored answer's spelling.
        let at = blob.len() - 5;
        blob[at..].copy_from_slice(b"int:x");
        assert_eq!(decode_answers(&blob, &mut Vec::new()), Err(BadPack));
    }

    #[test]
    fn every_kind_has_its_own_code_and_comes_back() {
        let mut seen = std::collections::HashSet::new();
        for kind in EventKind::ALL {
            let c = code(kind);
            assert_ne!(c, 0, "0 is no kind");
            assert!(seen.insert(c), "{kind:?} shares its code {c}");
            assert_eq!(from_code(c), Some(kind));
        }
        for c in 0..=u8::MAX {
            if let Some(kind) = from_code(c) {
                assert_eq!(code(kind), c);
            }
        }
        assert_eq!(from_code(0), None);
    }

    #[test]
    fn a_pack_is_spelled_as_format_2_says() {
        // Pinned bytes: a change here is a change of the stored format,
        // which needs a new format byte (and a migration to drop old packs).
        let first = event(
            1,
            EventKind::Navigate,
            Some("q1"),
            "1970-01-01T00:00:01Z",
            5,
        );
        let mut second = event(
            3,
            EventKind::Answer,
            Some("q2"),
            "2026-11-26T14:20:23.500Z",
            3,
        );
        second.new = Some("int:4".to_string());
        let events = [first, second];
        let mut blob = Vec::new();
        encode_events(&events, &mut blob);
        let mut expected = vec![FORMAT, 2];
        // Path, next seq; navigate; "q1"; a second from 1970; clock 5; "ana".
        expected.extend([33, 7, 0, 2, b'q', b'1', 128, 168, 214, 185, 7, 10]);
        expected.extend([0, 3, b'a', b'n', b'a']);
        // Path, new, time as text, same enumerator; answer; seq step 2;
        // "q" and "2"; "int:4"; the time's text; clock -2.
        expected.extend([85, 1, 2, 1, 1, b'2', 0, 5]);
        expected.extend(b"int:4");
        expected.extend([0, 24]);
        expected.extend(b"2026-11-26T14:20:23.500Z");
        expected.push(3);
        assert_eq!(blob, expected);
        assert_eq!(round_trip(&events), events);
    }

    fn utc(second: i64, nanos: u32) -> Option<String> {
        let mut out = String::from("left over");
        out.clear();
        push_utc(second, nanos, &mut out).then_some(out)
    }

    #[test]
    fn times_are_written_as_jiff_writes_them() {
        for text in [
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59.999999999Z",
            "0000-01-01T00:00:00Z",
            "0000-03-01T00:00:00.000000001Z",
            "2000-02-29T12:00:00.5Z",
            "2026-11-26T14:20:23.98454615Z",
            "2026-12-31T23:59:59.999999999Z",
            "2100-03-01T00:00:00.12Z",
            "9999-12-30T22:00:00.999999999Z",
        ] {
            let t: Timestamp = text.parse().expect("a time");
            let (second, nanos) = split_nanos(t.as_nanosecond()).expect("in range");
            assert_eq!(utc(second, nanos).as_deref(), Some(text));
            assert_eq!(t.to_string(), text);
        }
        // Beyond jiff's range but within years 0000 to 9999.
        assert_eq!(
            utc(END_SECOND - 1, 1).as_deref(),
            Some("9999-12-31T23:59:59.000000001Z")
        );
        // Outside years 0000 to 9999: nothing written.
        assert_eq!(utc(FIRST_SECOND - 1, 0), None);
        assert_eq!(utc(END_SECOND, 0), None);
        assert_eq!(utc(0, 1_000_000_000), None);
    }

    #[test]
    fn every_day_of_years_0_to_9999_is_named_as_jiff_names_it() {
        let mut date = jiff::civil::date(0, 1, 1);
        let mut days = FIRST_SECOND / 86_400;
        let last = jiff::civil::date(9999, 12, 31);
        loop {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(
                (y, m, d),
                (
                    i64::from(date.year()),
                    date.month() as u32,
                    date.day() as u32
                ),
                "{date}"
            );
            if date == last {
                break;
            }
            date = date.tomorrow().expect("a day after");
            days += 1;
        }
        assert_eq!(days, END_SECOND / 86_400 - 1);
    }

    #[test]
    fn every_time_comes_back_as_its_text() {
        let texts = [
            // Jiff's spelling: steps, but for year 0, more than 64 bits of
            // nanoseconds away from its neighbours, which is text.
            "2026-11-26T14:20:23.98454615Z",
            "2026-11-26T14:20:24Z",
            "2026-11-26T14:20:24.5Z",
            "2026-11-26T14:20:24.000000001Z",
            "1970-01-01T00:00:00Z",
            "2000-02-29T00:00:00.25Z",
            "2026-12-31T23:59:59.999999999Z",
            "0000-01-01T00:00:00Z",
            "2026-12-31T23:59:59.999999999Z",
            // Not jiff's spelling, or not a time jiff reads: text.
            "2026-11-26T14:20:23.500Z",
            "2026-11-26T14:20:23.000Z",
            "2026-11-26T14:20:23+00:00",
            "2026-11-26t14:20:23z",
            "2026-11-26 14:20:23Z",
            "-000001-06-15T00:00:00Z",
            "10000-01-01T00:00:00Z",
            "+010000-01-01T00:00:00Z",
            "not a time",
            "",
            "2026-11-26T14:20:23.98454615Z",
        ];
        let events: Vec<EventRow> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| event(i as i64 + 1, EventKind::Answer, None, t, 0))
            .collect();
        assert_eq!(round_trip(&events), events);
        let mut scratch = String::new();
        let steps = texts
            .iter()
            .filter(|t| utc_nanos(t, &mut scratch).is_some())
            .count();
        assert_eq!(steps, 10, "the first nine and the last parse and come back");
        // Each one alone, too (the first event steps from 1970).
        for t in texts {
            let one = [event(1, EventKind::Navigate, Some("q"), t, 1)];
            assert_eq!(round_trip(&one), one, "{t}");
        }
    }

    #[test]
    fn steps_too_long_for_64_bits_fall_back_to_text() {
        let events = [
            event(1, EventKind::Answer, None, "0000-01-01T00:00:00Z", 0),
            event(2, EventKind::Answer, None, "9999-12-30T22:00:00Z", 0),
            event(3, EventKind::Answer, None, "9999-12-30T22:00:00.5Z", 0),
        ];
        let mut blob = Vec::new();
        encode_events(&events, &mut blob);
        // Year 0 is more than 64 bits of nanoseconds from 1970, and so
        // year 9999 from year 0: both text, and the third steps from 1970.
        assert!(blob.windows(4).any(|w| w == b"0000"));
        assert!(blob.windows(4).any(|w| w == b"9999"));
        assert_eq!(round_trip(&events), events);
    }

    fn any_text() -> impl Strategy<Value = String> {
        // Few distinct characters, some of them multi-byte, so that
        // neighbours share starts that end inside and outside characters.
        proptest::string::string_regex("[ab:é😀]{0,6}").expect("a regex")
    }

    fn any_event() -> impl Strategy<Value = EventRow> {
        (
            1i64..1000,
            proptest::sample::select(EventKind::ALL.to_vec()),
            proptest::option::of(any_text()),
            proptest::option::of(any_text()),
            proptest::option::of(any_text()),
            proptest::option::of(any_text()),
            any_utc(),
            0u64..=(i64::MAX as u64),
            prop_oneof![Just("ana".to_string()), any_text()],
        )
            .prop_map(
                |(seq, kind, path, old, new, detail, utc, ns, who)| EventRow {
                    seq,
                    kind: Some(kind),
                    path,
                    old,
                    new,
                    detail,
                    utc,
                    monotonic_ns: ns,
                    enumerator: who,
                },
            )
    }

    /// Jiff's spelling of any time it has (mostly near one another, as in a
    /// case), and texts that are not.
    fn any_utc() -> impl Strategy<Value = String> {
        let (min, max) = (Timestamp::MIN.as_second(), Timestamp::MAX.as_second());
        let time = |seconds: std::ops::RangeInclusive<i64>| {
            (seconds, 0u32..1_000_000_000, 0u32..4).prop_map(|(s, n, zeros)| {
                // Fractions with trailing zeros, and none, are common.
                let n = n - n % 10u32.pow(zeros * 3);
                Timestamp::new(s, n as i32).map_or_else(|_| String::new(), |t| t.to_string())
            })
        };
        prop_oneof![
            4 => time(1_790_000_000..=1_790_000_009),
            2 => time(min..=max),
            // ".50Z" is not jiff's spelling, nor ":000Z" a time.
            1 => time(min..=max).prop_map(|t| t.replace('Z', "0Z")),
            1 => any_text(),
        ]
    }

    fn any_answer() -> impl Strategy<Value = StoredAnswer> {
        prop_oneof![
            any::<i64>().prop_map(StoredAnswer::Int),
            any::<f64>()
                .prop_filter("finite", |x| x.is_finite())
                .prop_map(StoredAnswer::Decimal),
            any_text().prop_map(StoredAnswer::Text),
            (1i16..9999, 1i8..=12, 1i8..=28)
                .prop_map(|(y, m, d)| { StoredAnswer::Date(jiff::civil::date(y, m, d)) }),
            proptest::collection::vec(any::<i64>(), 0..4).prop_map(StoredAnswer::Codes),
            Just(StoredAnswer::DontKnow),
            Just(StoredAnswer::Refused),
        ]
    }

    proptest! {
        #[test]
        fn any_answers_round_trip(
            answers in proptest::collection::btree_map(any_text(), any_answer(), 0..8)
        ) {
            let answers: Vec<(String, StoredAnswer)> = answers.into_iter().collect();
            let mut blob = Vec::new();
            encode_answers(&answers, &mut blob);
            // Slots left over from a longer case must not leak into this one.
            let mut back = vec![("left over".to_string(), StoredAnswer::Refused); 9];
            decode_answers(&blob, &mut back).expect("a pack decodes");
            prop_assert_eq!(back, answers);
        }

        #[test]
        fn any_events_round_trip(mut events in proptest::collection::vec(any_event(), 0..12)) {
            // Seq rises through the case, as the store keeps it.
            let mut seq = 0;
            for e in &mut events {
                seq += e.seq;
                e.seq = seq;
            }
            prop_assert_eq!(round_trip(&events), events);
        }

        #[test]
        fn any_bytes_decode_or_are_refused(
            blob in proptest::collection::vec(any::<u8>(), 0..64),
            n in 0u8..4,
        ) {
            // Whatever the bytes: no panic, and what decodes packs again
            // into events that decode the same.
            let mut rows = Vec::new();
            for blob in [blob.clone(), [vec![FORMAT, n], blob].concat()] {
                if let Ok(n) = decode_events(&blob, &mut rows) {
                    rows.truncate(n);
                    prop_assert_eq!(round_trip(&rows), rows.clone());
                }
            }
        }

        #[test]
        fn damaged_packs_decode_or_are_refused(
            events in proptest::collection::vec(any_event(), 1..6),
            damage in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        ) {
            let mut blob = Vec::new();
            encode_events(&events, &mut blob);
            for (at, byte) in damage {
                let at = at % blob.len();
                blob[at] = byte;
            }
            let mut rows = Vec::new();
            if let Ok(n) = decode_events(&blob, &mut rows) {
                rows.truncate(n);
                prop_assert_eq!(round_trip(&rows), rows);
            }
        }

        #[test]
        fn one_writer_writes_any_times_as_jiff_does(
            times in proptest::collection::vec(
                (FIRST_SECOND..=Timestamp::MAX.as_second(), 0u32..1_000_000_000, 0i64..3),
                1..20,
            ),
        ) {
            // Times of one day and of others, one after another.
            let mut writer = UtcWriter::new();
            let mut out = String::new();
            let mut last = 0;
            for (second, nanos, near) in times {
                let second = if near == 0 { second } else { last + near * 4000 };
                last = second;
                let Ok(t) = Timestamp::new(second, nanos as i32) else {
                    continue;
                };
                out.clear();
                prop_assert!(writer.push(second, nanos, &mut out));
                prop_assert_eq!(&out, &t.to_string());
            }
        }

        #[test]
        fn any_time_is_written_as_jiff_writes_it(
            second in FIRST_SECOND..=Timestamp::MAX.as_second(),
            nanos in 0u32..1_000_000_000,
            zeros in 0u32..4,
        ) {
            let nanos = nanos - nanos % 10u32.pow(zeros * 3);
            // Jiff's last second ends before the year 9999 does.
            let Ok(t) = Timestamp::new(second, nanos as i32) else {
                return Ok(());
            };
            prop_assert_eq!(utc(second, nanos), Some(t.to_string()));
            let mut scratch = String::new();
            prop_assert_eq!(
                utc_nanos(&t.to_string(), &mut scratch),
                Some(t.as_nanosecond())
            );
        }
    }
}
