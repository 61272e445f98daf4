//! Case replays: what the export works out through the interview engine
//! for a completed case (which stored answers are on its path, the values
//! of its computed variables, the rows of its rosters), made once, when the
//! case is packed, and stored beside the pack.
//!
//! Rebuilding every case through the engine was half of the work of an
//! export. A replay is used only when this same build of vicor made it (a
//! fingerprint of the sources, [`FINGERPRINT`]), for the case's instrument
//! (its hash), on the interview date the export works out; otherwise the
//! export replays the case itself. The files are the same bytes either way
//! (a test holds them equal), and an engine fixed in a new build is the one
//! every export made with that build uses.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::instrument::Instrument;
use crate::instrument::hash::FastMap;
use crate::interview::walk::{Replay, Walk};
use crate::interview::{ItemPath, RowKey};
use crate::store::session::{engine_answers, interview_date};
use crate::store::{InstrumentStamp, Replayer, StoreOptions, StoredAnswer};

/// The fingerprint of the sources of this build (`build.rs`).
pub const FINGERPRINT: &str = env!("VICOR_BUILD_FINGERPRINT");

/// The first byte of a replay.
const FORMAT: u8 = 1;

/// A case's replay, read back; its texts are borrowed from the bytes.
#[derive(Debug, Default, PartialEq)]
pub struct Replayed<'b> {
    /// Paths of stored answers that are not on the path (usually none).
    pub off_path: Vec<&'b str>,
    /// The relevant computed variables: item, where its row keys are in
    /// `keys`, and the value as the export writes it.
    pub computed: Vec<(&'b str, std::ops::Range<usize>, &'b str)>,
    /// The row keys of the computed variables, one after the other.
    pub keys: Vec<i64>,
    /// Row keys of every relevant roster instance, as [`Walk::rows`].
    pub rows: FastMap<(Vec<RowKey>, String), Vec<i64>>,
}

/// The replay of a case with these stored answers, for the instrument of
/// `hash` (whose replay is `replay`), on `today`: the walk the export would
/// make. `None` when a path does not read, or is not spelled as vicor
/// spells it (the export then walks the case, and reports what it must).
pub fn make(
    replay: &Replay,
    stored: &[(String, StoredAnswer)],
    hash: &str,
    today: Date,
) -> Option<Vec<u8>> {
    let canonical = stored
        .iter()
        .all(|(path, _)| ItemPath::parse(path).is_some_and(|p| p.to_string() == *path));
    if !canonical {
        return None;
    }
    let (answers, _) = engine_answers(stored.iter().map(|(p, a)| (p, a)));
    let walk = replay.relevance(&answers, today);
    let off_path = stored
        .iter()
        .filter(|(path, _)| ItemPath::parse(path).is_some_and(|p| !walk.relevant.contains(&p)))
        .map(|(path, _)| path.as_str());
    Some(encode(&walk, off_path, hash, today))
}

/// The replay of `walk`, whose stored answers off the path are `off_path`.
fn encode<'p>(
    walk: &Walk,
    off_path: impl Iterator<Item = &'p str>,
    hash: &str,
    today: Date,
) -> Vec<u8> {
    let mut out = vec![FORMAT];
    text(FINGERPRINT, &mut out);
    text(hash, &mut out);
    text(&today.to_string(), &mut out);
    let off_path: Vec<&str> = off_path.collect();
    varint(off_path.len() as u64, &mut out);
    for path in off_path {
        text(path, &mut out);
    }
    varint(walk.computed.len() as u64, &mut out);
    for (path, value) in &walk.computed {
        text(&path.item, &mut out);
        varint(path.rows.len() as u64, &mut out);
        for row in &path.rows {
            signed(row.key, &mut out);
        }
        text(&super::tables::value_cell(value), &mut out);
    }
    varint(walk.rows.len() as u64, &mut out);
    for ((outer, roster), keys) in &walk.rows {
        varint(outer.len() as u64, &mut out);
        for row in outer {
            text(&row.roster, &mut out);
            signed(row.key, &mut out);
        }
        text(roster, &mut out);
        varint(keys.len() as u64, &mut out);
        for key in keys {
            signed(*key, &mut out);
        }
    }
    out
}

/// The replay, if it is current: made by this build, for the instrument of
/// `hash`, on `today`. A replay that does not read is not used either (the
/// export replays the case, whose answers are checked on their own).
pub fn decode<'b>(bytes: &'b [u8], hash: &str, today: Date) -> Option<Replayed<'b>> {
    let mut r = Reader { bytes, at: 0 };
    if r.byte()? != FORMAT || r.text()? != FINGERPRINT || r.text()? != hash {
        return None;
    }
    let mut day = [0u8; 16];
    if r.text()?.as_bytes() != date_text(today, &mut day) {
        return None;
    }
    let mut replayed = Replayed::default();
    let n = r.count()?;
    replayed.off_path.reserve(n);
    for _ in 0..n {
        replayed.off_path.push(r.text()?);
    }
    let n = r.count()?;
    replayed.computed.reserve(n);
    for _ in 0..n {
        let item = r.text()?;
        let start = replayed.keys.len();
        for _ in 0..r.count()? {
            replayed.keys.push(r.signed()?);
        }
        let keys = start..replayed.keys.len();
        replayed.computed.push((item, keys, r.text()?));
    }
    for _ in 0..r.count()? {
        let mut outer = Vec::new();
        for _ in 0..r.count()? {
            let roster = r.text()?.to_string();
            outer.push(RowKey {
                roster,
                key: r.signed()?,
            });
        }
        let roster = r.text()?.to_string();
        let keys = (0..r.count()?)
            .map(|_| r.signed())
            .collect::<Option<Vec<i64>>>()?;
        replayed.rows.insert((outer, roster), keys);
    }
    (r.at == bytes.len()).then_some(replayed)
}

/// `YYYY-MM-DD` (as `Date`'s `Display` for years 0 to 9999) in `buf`,
/// without allocating: every case's replay is checked against its date.
fn date_text(date: Date, buf: &mut [u8; 16]) -> &[u8] {
    use std::io::Write as _;
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    let written = write!(cursor, "{date}").is_ok();
    let len = if written {
        cursor.position() as usize
    } else {
        0
    };
    &buf[..len]
}

/// Whether a replay was made by this build (whatever its case).
fn made_here(bytes: &[u8]) -> bool {
    let mut r = Reader { bytes, at: 0 };
    r.byte() == Some(FORMAT) && r.text() == Some(FINGERPRINT)
}

/// The replayer a store uses when it packs a completed case: the engine of
/// this build, over the instruments it was given.
pub struct EngineReplayer {
    replays: HashMap<String, Replay<'static>>,
    tz: TimeZone,
}

impl EngineReplayer {
    /// A replayer for cases of `instruments`, ready for
    /// [`StoreOptions::replayer`](crate::store::StoreOptions). The
    /// instruments are kept for the rest of the program (a replay indexes
    /// its instrument, and a store keeps its replayer while it is open):
    /// make one per command, not one per case.
    pub fn shared(instruments: Vec<Instrument>) -> Arc<dyn Replayer> {
        let instruments: &'static [Instrument] = Vec::leak(instruments);
        Arc::new(EngineReplayer {
            replays: instruments
                .iter()
                .map(|i| (i.hash.clone(), Replay::new(i)))
                .collect(),
            tz: TimeZone::system(),
        })
    }

    /// The default store options, with a replayer for `instruments`: how
    /// the commands that interview open their store.
    pub fn store_options(instruments: Vec<Instrument>) -> StoreOptions {
        StoreOptions {
            replayer: Some(EngineReplayer::shared(instruments)),
            ..StoreOptions::default()
        }
    }
}

impl Replayer for EngineReplayer {
    fn replay(
        &self,
        stamp: &InstrumentStamp,
        created_utc: Timestamp,
        answers: &[(String, StoredAnswer)],
    ) -> Option<Vec<u8>> {
        let replay = self.replays.get(&stamp.hash)?;
        let today = interview_date(created_utc, &self.tz);
        make(replay, answers, &stamp.hash, today)
    }

    fn is_current(&self, replay: &[u8]) -> bool {
        made_here(replay)
    }
}

fn varint(mut n: u64, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn signed(n: i64, out: &mut Vec<u8>) {
    varint(((n << 1) ^ (n >> 63)) as u64, out);
}

fn text(s: &str, out: &mut Vec<u8>) {
    varint(s.len() as u64, out);
    out.extend_from_slice(s.as_bytes());
}

struct Reader<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl<'b> Reader<'b> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(n);
            }
        }
        None
    }

    /// A count of things still to read: no more than the bytes left, so
    /// that damage cannot ask for a huge allocation.
    fn count(&mut self) -> Option<usize> {
        let n = usize::try_from(self.varint()?).ok()?;
        (n <= self.bytes.len() - self.at).then_some(n)
    }

    fn signed(&mut self) -> Option<i64> {
        let n = self.varint()?;
        Some(((n >> 1) as i64) ^ -((n & 1) as i64))
    }

    fn text(&mut self) -> Option<&'b str> {
        let n = self.count()?;
        let s = std::str::from_utf8(&self.bytes[self.at..self.at + n]).ok()?;
        self.at += n;
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn example() -> Instrument {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        crate::instrument::validate(&root.join("instruments/example.yaml"))
            .instrument
            .expect("the example loads")
    }

    fn answers(pairs: &[(&str, StoredAnswer)]) -> Vec<(String, StoredAnswer)> {
        let mut stored: Vec<(String, StoredAnswer)> = pairs
            .iter()
            .map(|(p, a)| (p.to_string(), a.clone()))
            .collect();
        stored.sort_by(|a, b| a.0.cmp(&b.0));
        stored
    }

    fn day(text: &str) -> Date {
        text.parse().expect("a date")
    }

    /// Two members, and an answer left off the path: a theft asked about a
    /// vehicle type that is no longer ticked.
    fn case() -> Vec<(String, StoredAnswer)> {
        answers(&[
            ("consent", StoredAnswer::Int(1)),
            ("hh_size", StoredAnswer::Int(2)),
            ("members[1].name", StoredAnswer::Text("Ana".into())),
            ("members[1].sex", StoredAnswer::Int(2)),
            (
                "members[1].birth_date",
                StoredAnswer::Date(day("1980-05-01")),
            ),
            ("members[2].name", StoredAnswer::Text("Ben".into())),
            ("members[2].sex", StoredAnswer::Int(1)),
            (
                "members[2].birth_date",
                StoredAnswer::Date(day("2015-02-03")),
            ),
            ("vehicles", StoredAnswer::Codes(vec![1])),
            ("vehicle_thefts[1].stolen", StoredAnswer::Int(1)),
            ("vehicle_thefts[2].stolen", StoredAnswer::Int(1)),
        ])
    }

    fn walk_of(replay: &Replay, stored: &[(String, StoredAnswer)], today: Date) -> Walk {
        let (answers, _) = engine_answers(stored.iter().map(|(p, a)| (p, a)));
        replay.relevance(&answers, today)
    }

    #[test]
    fn a_walk_comes_back_from_its_replay() {
        let instrument = example();
        let replay = Replay::new(&instrument);
        let answers = case();
        let today = day("2026-11-26");
        let walk = walk_of(&replay, &answers, today);
        let bytes = make(&replay, &answers, &instrument.hash, today).expect("made");
        let back = decode(&bytes, &instrument.hash, today).expect("current");
        // The second vehicle type was not ticked: its answer is off the path.
        assert_eq!(back.off_path, ["vehicle_thefts[2].stolen"]);
        let mut computed: Vec<(String, Vec<i64>, String)> = back
            .computed
            .iter()
            .map(|(item, keys, cell)| {
                (
                    item.to_string(),
                    back.keys[keys.clone()].to_vec(),
                    cell.to_string(),
                )
            })
            .collect();
        computed.sort();
        let mut want: Vec<(String, Vec<i64>, String)> = walk
            .computed
            .iter()
            .map(|(p, v)| {
                let keys = p.rows.iter().map(|r| r.key).collect();
                (p.item.clone(), keys, crate::export::tables::value_cell(v))
            })
            .collect();
        want.sort();
        assert_eq!(computed, want);
        assert!(want.contains(&("age".into(), vec![1], "46".into())));
        assert_eq!(back.rows, walk.rows);
        let members = (Vec::new(), "members".to_string());
        assert_eq!(back.rows.get(&members), Some(&vec![1, 2]));
    }

    #[test]
    fn a_replay_of_another_build_instrument_or_day_is_not_used() {
        let instrument = example();
        let answers = case();
        let today = day("2026-11-26");
        let replay = Replay::new(&instrument);
        let bytes = make(&replay, &answers, &instrument.hash, today).expect("made");
        assert!(decode(&bytes, &instrument.hash, today).is_some());
        // A path spelled otherwise than vicor spells it: no replay.
        let mut odd = answers.clone();
        odd[0].0 = "members[01].sex".into();
        assert!(make(&replay, &odd, &instrument.hash, today).is_none());
        assert!(decode(&bytes, "0123456789abcdef", today).is_none());
        assert!(decode(&bytes, &instrument.hash, day("2026-11-27")).is_none());
        assert!(made_here(&bytes));
        let mut other = bytes.clone();
        other[2] ^= 1; // a byte of the fingerprint
        assert!(!made_here(&other));
        assert!(decode(&other, &instrument.hash, today).is_none());
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut], &instrument.hash, today).is_none());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer, &instrument.hash, today).is_none());
    }

    proptest! {
        #[test]
        fn any_bytes_decode_or_are_refused(
            tail in proptest::collection::vec(any::<u8>(), 0..48)
        ) {
            // A current header, then anything: no panic, no huge allocation.
            let today = day("2026-11-26");
            let mut bytes = vec![FORMAT];
            text(FINGERPRINT, &mut bytes);
            text("h", &mut bytes);
            text(&today.to_string(), &mut bytes);
            bytes.extend_from_slice(&tail);
            let _ = decode(&bytes, "h", today);
        }
    }
}
