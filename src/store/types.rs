//! The store's own plain types: what goes in and what comes out.
//!
//! The interview engine is written apart from the store, so nothing here
//! names an engine type: the engine converts its values into these and back.
//! Every type that is written to the database has one text spelling, given by
//! `as_str`/`parse` pairs below; those spellings are the stored format
//! (`docs/store.md`), so changing one needs a migration.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::Date;
use uuid::Uuid;

use super::StoreError;

/// The identity of a case: a random UUID, the same in every store the case is
/// copied or merged into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaseId(Uuid);

impl CaseId {
    /// A fresh random (version 4) id.
    pub fn random() -> CaseId {
        CaseId(Uuid::new_v4())
    }

    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }

    /// The hyphenated lowercase spelling, as stored.
    pub(crate) fn key(&self) -> String {
        self.0.hyphenated().to_string()
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for CaseId {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<CaseId, StoreError> {
        Uuid::parse_str(s.trim())
            .map(CaseId)
            .map_err(|_| StoreError::BadCaseId {
                text: s.to_string(),
            })
    }
}

/// One answer as the store keeps it. Don't know and refused are answers of
/// their own, distinct from "no answer" (no row at all).
#[derive(Clone, Debug, PartialEq)]
pub enum StoredAnswer {
    Int(i64),
    /// A decimal; must be finite (SQLite would turn NaN into NULL).
    Decimal(f64),
    Text(String),
    Date(Date),
    /// The codes of a multiple choice, in the order the engine gives them.
    Codes(Vec<i64>),
    DontKnow,
    Refused,
}

impl StoredAnswer {
    /// The one-line spelling used in the events table (old and new values):
    /// `int:5`, `decimal:2.5`, `text:…`, `date:2024-06-01`, `codes:1,3`,
    /// `dont_know`, `refused`. Decimals use Rust's shortest round-trip form, so
    /// decoding gives back the same bits.
    pub fn encode(&self) -> String {
        match self {
            StoredAnswer::Int(v) => format!("int:{v}"),
            StoredAnswer::Decimal(v) => format!("decimal:{v:?}"),
            StoredAnswer::Text(t) => format!("text:{t}"),
            StoredAnswer::Date(d) => format!("date:{d}"),
            StoredAnswer::Codes(codes) => {
                let list: Vec<String> = codes.iter().map(i64::to_string).collect();
                format!("codes:{}", list.join(","))
            }
            StoredAnswer::DontKnow => "dont_know".to_string(),
            StoredAnswer::Refused => "refused".to_string(),
        }
    }

    /// Reads the spelling written by [`StoredAnswer::encode`]; `None` when the
    /// text is not one.
    pub fn decode(text: &str) -> Option<StoredAnswer> {
        match text {
            "dont_know" => return Some(StoredAnswer::DontKnow),
            "refused" => return Some(StoredAnswer::Refused),
            _ => {}
        }
        let (kind, rest) = text.split_once(':')?;
        match kind {
            "int" => rest.parse().ok().map(StoredAnswer::Int),
            "decimal" => rest.parse().ok().map(StoredAnswer::Decimal),
            "text" => Some(StoredAnswer::Text(rest.to_string())),
            "date" => rest.parse().ok().map(StoredAnswer::Date),
            "codes" if rest.is_empty() => Some(StoredAnswer::Codes(Vec::new())),
            "codes" => rest
                .split(',')
                .map(|c| c.parse().ok())
                .collect::<Option<Vec<i64>>>()
                .map(StoredAnswer::Codes),
            _ => None,
        }
    }

    /// Appends `decode(text)?.encode()` to `out` without building the
    /// value; `false` (and `out` unspecified) when `text` does not decode.
    /// The bulk reader uses it to hand event values to the export as text.
    pub(crate) fn recode(text: &str, out: &mut String) -> bool {
        use std::fmt::Write as _;
        let w = "writing to a String";
        if text == "dont_know" || text == "refused" {
            out.push_str(text);
            return true;
        }
        let Some((kind, rest)) = text.split_once(':') else {
            return false;
        };
        match kind {
            "int" => match rest.parse::<i64>() {
                Ok(v) => write!(out, "int:{v}").expect(w),
                Err(_) => return false,
            },
            "decimal" => match rest.parse::<f64>() {
                Ok(v) => write!(out, "decimal:{v:?}").expect(w),
                Err(_) => return false,
            },
            "text" => out.push_str(text),
            "date" => match rest.parse::<Date>() {
                Ok(d) => write!(out, "date:{d}").expect(w),
                Err(_) => return false,
            },
            "codes" => {
                out.push_str("codes:");
                if !rest.is_empty() {
                    for (i, code) in rest.split(',').enumerate() {
                        let Ok(c) = code.parse::<i64>() else {
                            return false;
                        };
                        if i > 0 {
                            out.push(',');
                        }
                        write!(out, "{c}").expect(w);
                    }
                }
            }
            _ => return false,
        }
        true
    }

    pub(crate) fn check(&self) -> Result<(), StoreError> {
        match self {
            StoredAnswer::Decimal(v) if !v.is_finite() => Err(StoreError::InvalidChange {
                reason: format!("a decimal answer must be finite, not {v}"),
            }),
            _ => Ok(()),
        }
    }
}

/// Where a case stands in the interview.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaseStatus {
    New,
    InProgress,
    Completed,
}

impl CaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::New => "new",
            CaseStatus::InProgress => "in_progress",
            CaseStatus::Completed => "completed",
        }
    }

    pub fn parse(s: &str) -> Option<CaseStatus> {
        Some(match s {
            "new" => CaseStatus::New,
            "in_progress" => CaseStatus::InProgress,
            "completed" => CaseStatus::Completed,
            _ => return None,
        })
    }
}

/// The final disposition of a case, after AAPOR's outcome classes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Complete,
    Partial,
    Refused,
    NonContact,
    Ineligible,
    /// Any other disposition, with the enumerator's words.
    Other(String),
}

impl Outcome {
    /// The stored code; `Other` keeps its text in a column of its own.
    pub fn code(&self) -> &'static str {
        match self {
            Outcome::Complete => "complete",
            Outcome::Partial => "partial",
            Outcome::Refused => "refused",
            Outcome::NonContact => "non_contact",
            Outcome::Ineligible => "ineligible",
            Outcome::Other(_) => "other",
        }
    }

    pub fn parse(code: &str, text: Option<String>) -> Option<Outcome> {
        Some(match code {
            "complete" => Outcome::Complete,
            "partial" => Outcome::Partial,
            "refused" => Outcome::Refused,
            "non_contact" => Outcome::NonContact,
            "ineligible" => Outcome::Ineligible,
            "other" => Outcome::Other(text.unwrap_or_default()),
            _ => return None,
        })
    }

    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            Outcome::Other(text) => Some(text),
            _ => None,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Other(text) => write!(f, "other: {text}"),
            other => f.write_str(other.code()),
        }
    }
}

/// What an event records. The spellings are stored; a new kind needs no
/// migration (the column is free text), but a reader older than the kind
/// reports the store as written by a newer vicor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// An answer was set.
    Answer,
    /// An answer was cleared by the enumerator.
    Clear,
    /// An item became relevant or not (and its answer may have been cleared).
    RelevanceChange,
    /// The enumerator confirmed a soft check.
    SoftCheckConfirmed,
    /// A random draw (e.g. the Kish selection of a respondent).
    RandomSelection,
    LanguageChange,
    Navigate,
    /// The interview reached its end.
    Complete,
    /// The outcome (disposition) was set.
    Outcome,
    Note,
    /// The interview was paused or resumed (closing and reopening the case).
    Pause,
    Resume,
    /// The case moved to a changed instrument ([`super::Store::migrate_case`]).
    InstrumentMigration,
}

impl EventKind {
    pub const ALL: [EventKind; 13] = [
        EventKind::Answer,
        EventKind::Clear,
        EventKind::RelevanceChange,
        EventKind::SoftCheckConfirmed,
        EventKind::RandomSelection,
        EventKind::LanguageChange,
        EventKind::Navigate,
        EventKind::Complete,
        EventKind::Outcome,
        EventKind::Note,
        EventKind::Pause,
        EventKind::Resume,
        EventKind::InstrumentMigration,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Answer => "answer",
            EventKind::Clear => "clear",
            EventKind::RelevanceChange => "relevance_change",
            EventKind::SoftCheckConfirmed => "soft_check_confirmed",
            EventKind::RandomSelection => "random_selection",
            EventKind::LanguageChange => "language_change",
            EventKind::Navigate => "navigate",
            EventKind::Complete => "complete",
            EventKind::Outcome => "outcome",
            EventKind::Note => "note",
            EventKind::Pause => "pause",
            EventKind::Resume => "resume",
            EventKind::InstrumentMigration => "instrument_migration",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// When something happened, as the caller's clocks saw it: wall-clock UTC,
/// which the device owner can change, and a monotonic count of nanoseconds,
/// which it cannot (durations in paradata come from the latter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventTime {
    pub utc: Timestamp,
    pub monotonic_ns: u64,
}

/// The instrument a case belongs to: its id, version and content hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstrumentStamp {
    pub id: String,
    pub version: String,
    /// A hash of the instrument's content; any change to the questionnaire
    /// changes it, whether or not the author changed the version.
    pub hash: String,
}

/// A case to be created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCase {
    pub instrument_id: String,
    pub instrument_version: String,
    pub instrument_hash: String,
    pub enumerator: String,
    pub created_utc: Timestamp,
}

/// What one change does to the case's answers.
#[derive(Clone, Debug, PartialEq)]
pub enum AnswerChange {
    /// The answers stay as they are (navigation, a note, a language switch).
    Keep,
    /// The item at the change's path takes this answer.
    Set(StoredAnswer),
    /// The item at the change's path loses its answer.
    Clear,
}

/// One move of the interview, recorded by [`super::Store::record`] in one
/// transaction: the answer change, the event that tells it, and the case's
/// resume position, status and modification time.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub kind: EventKind,
    /// The item the change is about (`members[3].age`); opaque to the store.
    pub path: Option<String>,
    pub answer: AnswerChange,
    /// Free text for the event (a language code, a selected line number, a
    /// soft check's name).
    pub detail: Option<String>,
    /// Where to resume the case; `None` keeps the stored position.
    pub resume: Option<String>,
    /// The case's new status; `None` keeps it, except that a `New` case
    /// becomes `InProgress` with its first change.
    pub status: Option<CaseStatus>,
    pub enumerator: String,
    pub at: EventTime,
}

impl Change {
    /// An event with no answer change; add the rest with the builder methods.
    pub fn event(kind: EventKind, enumerator: &str, at: EventTime) -> Change {
        Change {
            kind,
            path: None,
            answer: AnswerChange::Keep,
            detail: None,
            resume: None,
            status: None,
            enumerator: enumerator.to_string(),
            at,
        }
    }

    /// Sets the answer at `path` (an `answer` event).
    pub fn answer(path: &str, value: StoredAnswer, enumerator: &str, at: EventTime) -> Change {
        Change {
            path: Some(path.to_string()),
            answer: AnswerChange::Set(value),
            ..Change::event(EventKind::Answer, enumerator, at)
        }
    }

    /// Clears the answer at `path` (a `clear` event).
    pub fn clear(path: &str, enumerator: &str, at: EventTime) -> Change {
        Change {
            path: Some(path.to_string()),
            answer: AnswerChange::Clear,
            ..Change::event(EventKind::Clear, enumerator, at)
        }
    }

    pub fn with_path(mut self, path: &str) -> Change {
        self.path = Some(path.to_string());
        self
    }

    pub fn with_answer(mut self, answer: AnswerChange) -> Change {
        self.answer = answer;
        self
    }

    pub fn with_detail(mut self, detail: &str) -> Change {
        self.detail = Some(detail.to_string());
        self
    }

    pub fn with_resume(mut self, position: &str) -> Change {
        self.resume = Some(position.to_string());
        self
    }

    pub fn with_status(mut self, status: CaseStatus) -> Change {
        self.status = Some(status);
        self
    }
}

/// One line of the case list.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseSummary {
    pub id: CaseId,
    pub instrument: InstrumentStamp,
    pub enumerator: String,
    pub status: CaseStatus,
    pub outcome: Option<Outcome>,
    /// The position to resume at, as the engine last gave it.
    pub resume: Option<String>,
    pub created_utc: Timestamp,
    pub modified_utc: Timestamp,
}

/// A note the enumerator wrote on the case or on one item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// 1, 2, … within the case.
    pub seq: i64,
    pub path: Option<String>,
    pub text: String,
    pub enumerator: String,
    pub utc: Timestamp,
}

/// A whole case: its summary, every answer by item path, and its notes.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseRecord {
    pub summary: CaseSummary,
    pub answers: BTreeMap<String, StoredAnswer>,
    pub notes: Vec<Note>,
}

/// One row of paradata.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRecord {
    /// 1, 2, … within the case, without gaps.
    pub seq: i64,
    pub kind: EventKind,
    pub path: Option<String>,
    /// The answer before the change, read by the store inside the transaction.
    pub old: Option<StoredAnswer>,
    pub new: Option<StoredAnswer>,
    pub detail: Option<String>,
    pub at: EventTime,
    pub enumerator: String,
}

/// An answer set aside when its case moved to an instrument without its item.
#[derive(Clone, Debug, PartialEq)]
pub struct OrphanAnswer {
    pub path: String,
    pub value: StoredAnswer,
    /// The instrument version and hash the answer was given under.
    pub from_version: String,
    pub from_hash: String,
    pub moved_utc: Timestamp,
}

/// What [`super::Store::migrate_case`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationReport {
    pub case: CaseId,
    pub from: InstrumentStamp,
    pub to: InstrumentStamp,
    /// Paths whose items still exist: their answers stay.
    pub kept: Vec<String>,
    /// Paths whose items are gone: their answers moved to `orphan_answers`.
    pub set_aside: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_spelling_round_trips() {
        let date: Date = "2024-02-29".parse().expect("a valid date");
        let values = [
            StoredAnswer::Int(-42),
            StoredAnswer::Decimal(0.1 + 0.2),
            StoredAnswer::Decimal(1e300),
            StoredAnswer::Text("a: b, c".to_string()),
            StoredAnswer::Text(String::new()),
            StoredAnswer::Date(date),
            StoredAnswer::Codes(vec![3, 1, 99]),
            StoredAnswer::Codes(Vec::new()),
            StoredAnswer::DontKnow,
            StoredAnswer::Refused,
        ];
        for value in values {
            let text = value.encode();
            assert_eq!(StoredAnswer::decode(&text), Some(value), "{text}");
        }
    }

    #[test]
    fn recoding_is_decoding_then_encoding() {
        for text in [
            "int:-42",
            "int:007",
            "int:+5",
            "int:x",
            "decimal:0.30000000000000004",
            "decimal:1e300",
            "decimal:2",
            "decimal:1.50",
            "decimal:nan",
            "text:a: b, c",
            "text:",
            "date:2024-02-29",
            "date:2023-02-29",
            "codes:3,1,99",
            "codes:03,+1",
            "codes:",
            "codes:1,,2",
            "dont_know",
            "refused",
            "refused:",
            "other:1",
            "",
        ] {
            let mut out = String::from("kept ");
            let ok = StoredAnswer::recode(text, &mut out);
            let expected = StoredAnswer::decode(text).map(|a| format!("kept {}", a.encode()));
            assert_eq!(ok.then_some(out), expected, "{text}");
        }
    }

    #[test]
    fn malformed_answer_spellings_are_refused() {
        for text in [
            "",
            "int:",
            "int:x",
            "codes:1,,2",
            "bool:1",
            "date:2024-13-01",
        ] {
            assert_eq!(StoredAnswer::decode(text), None, "{text}");
        }
    }

    #[test]
    fn kinds_statuses_and_outcomes_round_trip() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
        }
        for status in [
            CaseStatus::New,
            CaseStatus::InProgress,
            CaseStatus::Completed,
        ] {
            assert_eq!(CaseStatus::parse(status.as_str()), Some(status));
        }
        let other = Outcome::Other("moved away".to_string());
        assert_eq!(
            Outcome::parse(other.code(), other.text().map(str::to_string)),
            Some(other)
        );
        assert_eq!(
            Outcome::parse("non_contact", None),
            Some(Outcome::NonContact)
        );
        assert_eq!(Outcome::parse("gone", None), None);
    }

    #[test]
    fn case_ids_parse_and_reject() {
        let id = CaseId::random();
        assert_eq!(id.to_string().parse::<CaseId>().expect("own spelling"), id);
        assert!(matches!(
            "not-a-uuid".parse::<CaseId>(),
            Err(StoreError::BadCaseId { .. })
        ));
    }
}
