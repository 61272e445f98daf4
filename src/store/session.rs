//! The bridge between the interview engine and the store: an engine
//! [`Update`] becomes the store's [`Change`]s, committed in one transaction,
//! and a stored case becomes the engine's [`Saved`] state.
//!
//! Both `vicor run` and the terminal interface go through [`CaseSession`],
//! so a scripted interview and a typed one are stored the same way.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;
use std::time::Instant;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::instrument::Instrument;
use crate::interview::{self, Answer, ItemPath, Saved, Update};
use crate::store::{
    AnswerChange, CaseId, CaseRecord, CaseStatus, Change, EventKind, EventTime, InstrumentStamp,
    NewCase, Outcome, Store, StoreError, StoredAnswer,
};

/// The store's stamp of an instrument.
pub fn stamp(instrument: &Instrument) -> InstrumentStamp {
    InstrumentStamp {
        id: instrument.id.clone(),
        version: instrument.version.clone(),
        hash: instrument.hash.clone(),
    }
}

/// Now, on the wall clock and on a monotonic clock started with the process.
pub fn now() -> EventTime {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = START.get_or_init(Instant::now);
    EventTime {
        utc: Timestamp::now(),
        monotonic_ns: u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX),
    }
}

pub fn to_stored(answer: &Answer) -> StoredAnswer {
    match answer {
        Answer::Int(i) => StoredAnswer::Int(*i),
        Answer::Decimal(x) => StoredAnswer::Decimal(*x),
        Answer::Text(s) => StoredAnswer::Text(s.clone()),
        Answer::Date(d) => StoredAnswer::Date(*d),
        Answer::Codes(c) => StoredAnswer::Codes(c.clone()),
        Answer::DontKnow => StoredAnswer::DontKnow,
        Answer::Refused => StoredAnswer::Refused,
    }
}

pub fn from_stored(answer: &StoredAnswer) -> Answer {
    match answer {
        StoredAnswer::Int(i) => Answer::Int(*i),
        StoredAnswer::Decimal(x) => Answer::Decimal(*x),
        StoredAnswer::Text(s) => Answer::Text(s.clone()),
        StoredAnswer::Date(d) => Answer::Date(*d),
        StoredAnswer::Codes(c) => Answer::Codes(c.clone()),
        StoredAnswer::DontKnow => Answer::DontKnow,
        StoredAnswer::Refused => Answer::Refused,
    }
}

pub fn to_store_outcome(outcome: interview::Outcome) -> Outcome {
    match outcome {
        interview::Outcome::Complete => Outcome::Complete,
        interview::Outcome::Partial => Outcome::Partial,
        interview::Outcome::Refused => Outcome::Refused,
        interview::Outcome::NonContact => Outcome::NonContact,
        interview::Outcome::Ineligible => Outcome::Ineligible,
        interview::Outcome::Other => Outcome::Other(String::new()),
    }
}

pub fn from_store_outcome(outcome: &Outcome) -> interview::Outcome {
    match outcome {
        Outcome::Complete => interview::Outcome::Complete,
        Outcome::Partial => interview::Outcome::Partial,
        Outcome::Refused => interview::Outcome::Refused,
        Outcome::NonContact => interview::Outcome::NonContact,
        Outcome::Ineligible => interview::Outcome::Ineligible,
        Outcome::Other(_) => interview::Outcome::Other,
    }
}

pub fn from_store_status(status: CaseStatus) -> interview::CaseStatus {
    match status {
        CaseStatus::New => interview::CaseStatus::New,
        CaseStatus::InProgress => interview::CaseStatus::InProgress,
        CaseStatus::Completed => interview::CaseStatus::Completed,
    }
}

/// The store's changes for one engine update, in the order they happened.
/// Each answer travels with the event that caused it; the last change
/// carries the resume position and, on completion, the status.
pub fn changes(update: &Update, enumerator: &str, at: EventTime) -> Vec<Change> {
    let mut answers: BTreeMap<&ItemPath, Option<&Answer>> = update
        .answers
        .iter()
        .map(|(p, a)| (p, a.as_ref()))
        .collect();
    let mut out = Vec::new();
    for event in &update.events {
        let kind = match event.kind {
            interview::EventKind::Answer => EventKind::Answer,
            interview::EventKind::Skipped | interview::EventKind::Restored => {
                EventKind::RelevanceChange
            }
            interview::EventKind::WarningConfirmed => EventKind::SoftCheckConfirmed,
            interview::EventKind::RandomSelection => EventKind::RandomSelection,
            interview::EventKind::Navigate => EventKind::Navigate,
            interview::EventKind::Complete => EventKind::Complete,
            interview::EventKind::Outcome => EventKind::Outcome,
            interview::EventKind::Language => EventKind::LanguageChange,
            interview::EventKind::Note => EventKind::Note,
        };
        let mut change = Change::event(kind, enumerator, at);
        if let Some(path) = &event.path {
            change = change.with_path(&path.to_string());
            // The answer this event sets, taken once.
            if matches!(
                event.kind,
                interview::EventKind::Answer | interview::EventKind::RandomSelection
            ) && let Some(answer) = answers.remove(path)
            {
                change = change.with_answer(match answer {
                    Some(a) => AnswerChange::Set(to_stored(a)),
                    None => AnswerChange::Clear,
                });
            }
        }
        let detail = match event.kind {
            interview::EventKind::Skipped => Some("skipped".to_string()),
            interview::EventKind::Restored => Some("restored".to_string()),
            interview::EventKind::WarningConfirmed => {
                let checks: Vec<String> = update
                    .confirmations
                    .iter()
                    .filter(|(p, _)| Some(p) == event.path.as_ref())
                    .map(|(_, i)| i.to_string())
                    .collect();
                Some(format!(
                    "checks {}: {}",
                    checks.join(","),
                    event.new.clone().unwrap_or_default()
                ))
            }
            interview::EventKind::RandomSelection
            | interview::EventKind::Language
            | interview::EventKind::Complete => event.new.clone(),
            _ => None,
        };
        if let Some(d) = detail {
            change = change.with_detail(&d);
        }
        out.push(change);
    }
    // Answers without an event of their own (none today; kept safe).
    for (path, answer) in answers {
        let change = match answer {
            Some(a) => Change::answer(&path.to_string(), to_stored(a), enumerator, at),
            None => Change::clear(&path.to_string(), enumerator, at),
        };
        out.push(change);
    }
    if out.is_empty() {
        out.push(Change::event(EventKind::Navigate, enumerator, at));
    }
    if let Some(last) = out.last_mut() {
        if let Some(position) = &update.position {
            last.resume = Some(position.to_string());
        }
        if update.completed.is_some() {
            last.status = Some(CaseStatus::Completed);
        }
    }
    out
}

/// What the engine needs from a stored case, and the problems met reading it.
pub struct Restored {
    pub saved: Saved,
    pub seed: u64,
    pub today: Date,
    /// Stored paths that do not parse (never expected; reported, not dropped).
    pub unreadable: Vec<String>,
}

/// The engine state of a stored case.
pub fn restore(record: &CaseRecord, events: &[crate::store::EventRecord]) -> Restored {
    let (answers, unreadable) = engine_answers(&record.answers);
    let mut confirmed = BTreeSet::new();
    for e in events
        .iter()
        .filter(|e| e.kind == EventKind::SoftCheckConfirmed)
    {
        let (Some(path), Some(detail)) = (e.path.as_deref().and_then(ItemPath::parse), &e.detail)
        else {
            continue;
        };
        let list = detail
            .strip_prefix("checks ")
            .and_then(|d| d.split(':').next())
            .unwrap_or("");
        for i in list.split(',').filter_map(|i| i.trim().parse().ok()) {
            confirmed.insert((path.clone(), i));
        }
    }
    let summary = &record.summary;
    Restored {
        saved: Saved {
            answers,
            confirmed,
            position: summary.resume.as_deref().and_then(ItemPath::parse),
            completed: summary.status == CaseStatus::Completed,
        },
        seed: case_seed(&summary.id),
        today: interview_date(summary.created_utc, &TimeZone::system()),
        unreadable,
    }
}

/// The engine's answers of a case's stored answers, and the stored paths
/// that do not parse (never expected; reported, not dropped).
pub fn engine_answers<'a, I>(stored: I) -> (BTreeMap<ItemPath, Answer>, Vec<String>)
where
    I: IntoIterator<Item = (&'a String, &'a StoredAnswer)>,
{
    let mut answers = BTreeMap::new();
    let mut unreadable = Vec::new();
    for (path, answer) in stored {
        match ItemPath::parse(path) {
            Some(p) => {
                answers.insert(p, from_stored(answer));
            }
            None => unreadable.push(path.clone()),
        }
    }
    (answers, unreadable)
}

/// The interview date of a case: the day it was created, in `tz` (the
/// device's zone).
pub fn interview_date(created_utc: Timestamp, tz: &TimeZone) -> Date {
    tz.to_datetime(created_utc).date()
}

/// The seed of a case's random selections: from its uuid, so it is fixed
/// for the case and differs between cases.
pub fn case_seed(id: &CaseId) -> u64 {
    let bytes = id.as_uuid().as_bytes();
    let mut seed = [0u8; 8];
    seed.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(seed) ^ u64::from_le_bytes(bytes[8..].try_into().unwrap_or([0; 8]))
}

/// One store used by one enumerator for one instrument.
pub struct CaseSession<'s> {
    pub store: &'s mut Store,
    pub instrument: &'s Instrument,
    pub enumerator: String,
}

impl CaseSession<'_> {
    pub fn create(&mut self) -> Result<CaseId, StoreError> {
        self.create_as(CaseId::random())
    }

    pub fn create_as(&mut self, id: CaseId) -> Result<CaseId, StoreError> {
        let s = stamp(self.instrument);
        self.store.create_case_as(
            id,
            &NewCase {
                instrument_id: s.id,
                instrument_version: s.version,
                instrument_hash: s.hash,
                enumerator: self.enumerator.clone(),
                created_utc: Timestamp::now(),
            },
        )
    }

    /// Opens a case of this instrument; refuses a case whose instrument
    /// changed (the store names both hashes).
    pub fn open(&self, id: &CaseId) -> Result<Restored, StoreError> {
        let record = self.store.open_case(id, &stamp(self.instrument))?;
        let events = self.store.events(id)?;
        Ok(restore(&record, &events))
    }

    /// Commits one engine update in one transaction; a completion then
    /// records the outcome `complete`.
    pub fn commit(&mut self, id: &CaseId, update: &Update) -> Result<(), StoreError> {
        let at = now();
        let changes = changes(update, &self.enumerator, at);
        self.store.record_all(id, &changes)?;
        if let Some(outcome) = update.completed {
            self.store
                .set_outcome(id, &to_store_outcome(outcome), &self.enumerator, at)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interview::{Event, EventKind as K};

    fn p(s: &str) -> ItemPath {
        ItemPath::parse(s).expect("path")
    }

    #[test]
    fn an_answer_travels_with_its_event_and_the_position() {
        let update = Update {
            answers: vec![(p("members[1].age"), Some(Answer::Int(30)))],
            confirmations: vec![(p("members[1].age"), 0)],
            events: vec![
                Event {
                    kind: K::Answer,
                    path: Some(p("members[1].age")),
                    old: None,
                    new: Some("30".into()),
                },
                Event {
                    kind: K::WarningConfirmed,
                    path: Some(p("members[1].age")),
                    old: None,
                    new: Some("old".into()),
                },
                Event {
                    kind: K::Skipped,
                    path: Some(p("members[1].job")),
                    old: None,
                    new: Some("2".into()),
                },
            ],
            position: Some(p("members[1].age")),
            completed: None,
        };
        let at = EventTime {
            utc: Timestamp::UNIX_EPOCH,
            monotonic_ns: 1,
        };
        let changes = changes(&update, "E1", at);
        assert_eq!(changes.len(), 3);
        assert_eq!(changes[0].answer, AnswerChange::Set(StoredAnswer::Int(30)));
        assert_eq!(changes[1].kind, EventKind::SoftCheckConfirmed);
        assert_eq!(changes[1].detail.as_deref(), Some("checks 0: old"));
        assert_eq!(changes[2].answer, AnswerChange::Keep);
        assert_eq!(changes[2].resume.as_deref(), Some("members[1].age"));
    }

    #[test]
    fn answers_convert_both_ways() {
        for a in [
            Answer::Int(3),
            Answer::Decimal(1.5),
            Answer::Text("x".into()),
            Answer::Date(jiff::civil::date(2020, 2, 29)),
            Answer::Codes(vec![1, 3]),
            Answer::DontKnow,
            Answer::Refused,
        ] {
            assert_eq!(from_stored(&to_stored(&a)), a);
        }
    }
}
