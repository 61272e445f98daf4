//! The interview state machine.
//!
//! [`Interview`] holds the answers and the current position; every action
//! (answer, don't know, refuse, next, back, jump, complete) is first
//! *prepared* into an [`Update`]: the answers to write, the events to log and
//! the new position. The caller commits the update to the store and only
//! then [`Interview::apply`]s it, so the screen never shows a move that is
//! not on disk. Nothing here reads a clock or touches a terminal or a file.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::Date;

use crate::instrument::check::Index;
use crate::instrument::expr::{self, Value};
use crate::instrument::model::*;
use crate::interview::answer::Answer;
use crate::interview::path::{ItemPath, RowKey};
use crate::interview::select::{self, Candidate};
use crate::interview::walk::{Context, Position, Walk, is_true};

/// What happened, for the append-only event log (paradata).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Answer,
    /// An answered item left the path (its answer is kept, not exported).
    Skipped,
    /// An answered item came back onto the path.
    Restored,
    WarningConfirmed,
    RandomSelection,
    Navigate,
    Complete,
    Outcome,
    Language,
    Note,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Answer => "answer",
            EventKind::Skipped => "skipped",
            EventKind::Restored => "restored",
            EventKind::WarningConfirmed => "warning_confirmed",
            EventKind::RandomSelection => "random_selection",
            EventKind::Navigate => "navigate",
            EventKind::Complete => "complete",
            EventKind::Outcome => "outcome",
            EventKind::Language => "language",
            EventKind::Note => "note",
        }
    }
}

/// One event to log.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    pub path: Option<ItemPath>,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// The result of an interview, as recorded on the case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Complete,
    Partial,
    Refused,
    NonContact,
    Ineligible,
    Other,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Complete,
        Outcome::Partial,
        Outcome::Refused,
        Outcome::NonContact,
        Outcome::Ineligible,
        Outcome::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Complete => "complete",
            Outcome::Partial => "partial",
            Outcome::Refused => "refused",
            Outcome::NonContact => "non_contact",
            Outcome::Ineligible => "ineligible",
            Outcome::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// Where a case is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

/// A prepared change: commit it, then apply it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Update {
    /// Answers to write (`None` removes one).
    pub answers: Vec<(ItemPath, Option<Answer>)>,
    /// Soft checks confirmed: (item path, check index).
    pub confirmations: Vec<(ItemPath, usize)>,
    pub events: Vec<Event>,
    /// The position after the update.
    pub position: Option<ItemPath>,
    /// Set when the update completes the interview.
    pub completed: Option<Outcome>,
}

/// Why an action was not taken. Each carries what the screen shows.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// No current position (the path is empty or finished).
    NoPosition,
    /// The value is not acceptable here (type, range, option).
    Invalid(Invalid),
    /// Hard checks fail; the messages in the current language.
    Blocked(Vec<String>),
    /// Soft checks fail; answer again with confirmation to accept.
    NeedsConfirmation(Vec<String>),
    /// The change would drop answered roster rows; answer again with
    /// confirmation to accept.
    RowsWouldBeLost { roster: String, rows: Vec<i64> },
    /// Don't know or refused is not allowed for this item.
    SpecialNotAllowed,
    /// The current item needs an answer before moving on.
    Unanswered,
    /// A random selection needs every earlier item answered first.
    SelectionNotReady,
    /// Already at the first position.
    AtStart,
    /// Already at the last position.
    AtEnd,
    /// The path does not hold that item now.
    NotOnPath,
    /// Completion is not allowed yet.
    NotComplete(CompletionProblems),
}

/// Why a value is not acceptable for an item; the screen words it in the
/// interface language, `Display` gives the English.
#[derive(Debug, Clone, PartialEq)]
pub enum Invalid {
    /// Notes, computed and random items take no answer.
    NotAQuestion,
    NotAnOption(i64),
    NotYesNo,
    Empty,
    TooLong(usize),
    AtLeast(f64),
    AtMost(f64),
    DateBefore(Date),
    DateAfter(Date),
    /// A value of the wrong kind (e.g. text for a number item).
    WrongKind {
        answer: String,
        kind: &'static str,
    },
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Invalid::NotAQuestion => write!(f, "this item takes no answer"),
            Invalid::NotAnOption(c) => write!(f, "{c} is not one of the options"),
            Invalid::NotYesNo => write!(f, "answer 1 (yes) or 2 (no)"),
            Invalid::Empty => write!(f, "the answer is empty"),
            Invalid::TooLong(n) => write!(f, "at most {n} characters"),
            Invalid::AtLeast(x) => write!(f, "the answer must be at least {x}"),
            Invalid::AtMost(x) => write!(f, "the answer must be at most {x}"),
            Invalid::DateBefore(d) => write!(f, "the date must be on or after {d}"),
            Invalid::DateAfter(d) => write!(f, "the date must be on or before {d}"),
            Invalid::WrongKind { answer, kind } => {
                write!(f, "{answer} is not a valid answer to a {kind} item")
            }
        }
    }
}

/// What stands between the interview and its completion.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CompletionProblems {
    pub unanswered: Vec<ItemPath>,
    pub invalid: Vec<(ItemPath, String)>,
    pub critical: Vec<(ItemPath, String)>,
}

impl CompletionProblems {
    pub fn is_empty(&self) -> bool {
        self.unanswered.is_empty() && self.invalid.is_empty() && self.critical.is_empty()
    }
}

/// English month names, the default for fills.
pub use crate::instrument::expr::ENGLISH_MONTHS;

/// One interview in progress.
pub struct Interview<'i> {
    instrument: &'i Instrument,
    index: Index<'i>,
    today: Date,
    /// Seed of the case, from which each random item's seed derives.
    case_seed: u64,
    answers: BTreeMap<ItemPath, Answer>,
    confirmed: BTreeSet<(ItemPath, usize)>,
    language: String,
    month_names: Vec<String>,
    walk: Walk,
    /// The state an answer just prepared would lead to, with its walk.
    prepared: RefCell<Option<(BTreeMap<ItemPath, Answer>, Walk)>>,
    current: Option<ItemPath>,
    completed: bool,
}

/// What is stored of an interview, to resume it.
#[derive(Debug, Clone, Default)]
pub struct Saved {
    pub answers: BTreeMap<ItemPath, Answer>,
    pub confirmed: BTreeSet<(ItemPath, usize)>,
    pub position: Option<ItemPath>,
    pub completed: bool,
}

impl<'i> Interview<'i> {
    /// Starts (or resumes, with `saved`) an interview. `today` is the
    /// interview date; `case_seed` seeds random selections.
    pub fn new(
        instrument: &'i Instrument,
        today: Date,
        case_seed: u64,
        saved: Saved,
    ) -> Interview<'i> {
        let mut sink = Vec::new();
        let index = Index::build(instrument, &mut sink);
        let mut interview = Interview {
            instrument,
            index,
            today,
            case_seed,
            answers: saved.answers,
            confirmed: saved.confirmed,
            language: instrument.default_language.clone(),
            month_names: ENGLISH_MONTHS.iter().map(|m| m.to_string()).collect(),
            walk: Walk::default(),
            prepared: RefCell::new(None),
            current: None,
            completed: saved.completed,
        };
        interview.walk = interview.walk_over(&interview.answers);
        interview.current = match saved.position {
            Some(p) if interview.walk.position_of(&p).is_some() => Some(p),
            _ => interview
                .first_unanswered()
                .or_else(|| interview.walk.path.first().map(|p| p.path.clone())),
        };
        interview
    }

    pub fn instrument(&self) -> &'i Instrument {
        self.instrument
    }

    pub fn today(&self) -> Date {
        self.today
    }

    pub fn language(&self) -> &str {
        &self.language
    }

    /// Sets the language of texts and the month names used in fills.
    pub fn set_language(&mut self, language: &str, month_names: Vec<String>) {
        self.language = language.to_string();
        self.prepared.borrow_mut().take();
        if month_names.len() == 12 {
            self.month_names = month_names;
        }
    }

    /// An update that logs a language change.
    pub fn language_event(&self, new: &str) -> Update {
        Update {
            events: vec![Event {
                kind: EventKind::Language,
                path: self.current.clone(),
                old: Some(self.language.clone()),
                new: Some(new.to_string()),
            }],
            position: self.current.clone(),
            ..Update::default()
        }
    }

    pub fn path(&self) -> &[Position] {
        &self.walk.path
    }

    pub fn current(&self) -> Option<&ItemPath> {
        self.current.as_ref()
    }

    pub fn current_index(&self) -> Option<usize> {
        self.current.as_ref().and_then(|c| self.walk.position_of(c))
    }

    pub fn is_completed(&self) -> bool {
        self.completed
    }

    /// Every stored answer, relevant or not (what the store holds).
    pub fn answers(&self) -> &BTreeMap<ItemPath, Answer> {
        &self.answers
    }

    /// The answer shown for a path: only when the item is on the path now.
    pub fn answer_of(&self, path: &ItemPath) -> Option<&Answer> {
        if self.walk.relevant.contains(path) {
            self.answers.get(path)
        } else {
            None
        }
    }

    /// Answers that would be exported: relevant ones, plus computed values.
    pub fn relevant_answers(&self) -> Vec<(ItemPath, Answer)> {
        self.answers
            .iter()
            .filter(|(p, _)| self.walk.relevant.contains(*p))
            .map(|(p, a)| (p.clone(), a.clone()))
            .collect()
    }

    /// Values of the relevant computed variables.
    pub fn computed(&self) -> Vec<(ItemPath, Value)> {
        let mut out: Vec<_> = self
            .walk
            .computed
            .iter()
            .map(|(p, v)| (p.clone(), v.clone()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    pub fn item(&self, id: &str) -> Option<&'i Item> {
        self.index.items.get(id).map(|(item, _)| *item)
    }

    /// The roster chain of an item (outermost first).
    pub fn item_chain(&self, id: &str) -> Option<&[String]> {
        self.index
            .items
            .get(id)
            .map(|(_, info)| info.chain.as_slice())
    }

    pub fn roster(&self, id: &str) -> Option<&'i Roster> {
        self.index.rosters.get(id).map(|(r, _)| *r)
    }

    /// Row keys of a roster instance now.
    pub fn roster_rows(&self, outer: &[RowKey], roster: &str) -> Vec<i64> {
        self.walk
            .rows
            .get(&(outer.to_vec(), roster.to_string()))
            .cloned()
            .unwrap_or_default()
    }

    fn context<'a>(&'a self, answers: &'a BTreeMap<ItemPath, Answer>) -> Context<'a> {
        Context {
            instrument: self.instrument,
            index: &self.index,
            answers,
            today: self.today,
            month_names: &self.month_names,
        }
    }

    fn walk_over(&self, answers: &BTreeMap<ItemPath, Answer>) -> Walk {
        Walk::run(&self.context(answers))
    }

    /// Evaluates an expression in the scope of `rows` on the current state.
    pub fn eval(&self, rows: &[RowKey], expr: &expr::Expr) -> Value {
        self.walk.eval(&self.context(&self.answers), rows, expr)
    }

    /// A text in the current language with its fills resolved.
    pub fn render(&self, text: &Text, rows: &[RowKey]) -> String {
        self.render_in(&self.walk, &self.answers, text, rows)
    }

    /// Renders a text on some state (the current one, or a trial one while
    /// an answer is being checked).
    fn render_in(
        &self,
        walk: &Walk,
        answers: &BTreeMap<ItemPath, Answer>,
        text: &Text,
        rows: &[RowKey],
    ) -> String {
        let lang = if text.by_language.contains_key(&self.language) {
            self.language.clone()
        } else {
            self.instrument.default_language.clone()
        };
        let raw = text.get(&lang);
        let Some(fills) = text.fills.get(&lang) else {
            return unescape(raw);
        };
        let ctx = self.context(answers);
        let mut out = String::new();
        let mut last = 0;
        for fill in fills {
            out.push_str(&unescape(&raw[last..fill.start]));
            let value = walk.eval(&ctx, rows, &fill.expr);
            out.push_str(&self.fill_text(walk, answers, rows, &fill.expr, value));
            last = fill.end;
        }
        out.push_str(&unescape(&raw[last..]));
        out
    }

    fn fill_text(
        &self,
        walk: &Walk,
        answers: &BTreeMap<ItemPath, Answer>,
        rows: &[RowKey],
        expr: &expr::Expr,
        value: Value,
    ) -> String {
        // A bare choice item shows its label, not its code.
        if let Some(item) = self.item(&expr.to_string())
            && let Value::Int(code) = value
            && let Some(o) = item.kind.options().iter().find(|o| o.code == code)
        {
            return self.render_in(walk, answers, &o.label, rows);
        }
        format_value(&value)
    }

    /// The options of a choice item at a position, after option filters.
    pub fn visible_options(&self, path: &ItemPath) -> Vec<&'i Choice> {
        let Some(item) = self.item(&path.item) else {
            return Vec::new();
        };
        item.kind
            .options()
            .iter()
            .filter(|o| match &o.when {
                Some(code) => is_true(&self.eval(&path.rows, &code.expr)),
                None => true,
            })
            .collect()
    }

    // ---- answering ----

    /// Prepares an answer to the current item.
    pub fn answer(&self, answer: Answer, confirm: bool) -> Result<Update, Refusal> {
        let path = self.current.clone().ok_or(Refusal::NoPosition)?;
        self.answer_at(&path, answer, confirm)
    }

    /// Prepares an answer to any item on the path.
    pub fn answer_at(
        &self,
        path: &ItemPath,
        answer: Answer,
        confirm: bool,
    ) -> Result<Update, Refusal> {
        if self.walk.position_of(path).is_none() {
            return Err(Refusal::NotOnPath);
        }
        let item = self.item(&path.item).ok_or(Refusal::NotOnPath)?;
        if !item.kind.is_question() {
            return Err(Refusal::Invalid(Invalid::NotAQuestion));
        }
        match answer {
            Answer::DontKnow if !item.allow_dont_know => return Err(Refusal::SpecialNotAllowed),
            Answer::Refused if !item.allow_refused => return Err(Refusal::SpecialNotAllowed),
            _ => {}
        }
        let answer = self.validate(item, path, answer)?;
        let mut trial = self.answers.clone();
        trial.insert(path.clone(), answer.clone());
        let mut trial_walk = self.walk_over(&trial);
        let redrawn = self.redraw(&mut trial, &mut trial_walk);
        let ctx = self.context(&trial);

        // Checks of this item on the state with the new answer.
        let mut blocked = Vec::new();
        let mut soft = Vec::new();
        let mut confirmations = Vec::new();
        for (i, check) in item.checks.iter().enumerate() {
            if check.severity == Severity::Critical {
                continue;
            }
            if matches!(
                trial_walk.eval(&ctx, &path.rows, &check.rule.expr),
                Value::Bool(false)
            ) {
                let message = self.render_in(&trial_walk, &trial, &check.message, &path.rows);
                match check.severity {
                    Severity::Error => blocked.push(message),
                    _ => {
                        soft.push(message);
                        confirmations.push((path.clone(), i));
                    }
                }
            }
        }
        if !blocked.is_empty() {
            return Err(Refusal::Blocked(blocked));
        }
        if !soft.is_empty() && !confirm {
            return Err(Refusal::NeedsConfirmation(soft));
        }

        // Roster rows that would leave the path with answers in them.
        if !confirm {
            for ((outer, roster), keys) in &self.walk.rows {
                let after = trial_walk.rows.get(&(outer.clone(), roster.clone()));
                let lost: Vec<i64> = keys
                    .iter()
                    .filter(|k| after.is_none_or(|a| !a.contains(k)))
                    .filter(|k| {
                        let mut row = outer.clone();
                        row.push(RowKey {
                            roster: roster.clone(),
                            key: **k,
                        });
                        self.answers
                            .keys()
                            .any(|p| p.within(&row) && self.walk.relevant.contains(p))
                    })
                    .copied()
                    .collect();
                if !lost.is_empty() {
                    return Err(Refusal::RowsWouldBeLost {
                        roster: roster.clone(),
                        rows: lost,
                    });
                }
            }
        }

        let old = self.answers.get(path).map(Answer::to_string);
        let mut events = vec![Event {
            kind: EventKind::Answer,
            path: Some(path.clone()),
            old,
            new: Some(answer.to_string()),
        }];
        for (p, _) in &confirmations {
            events.push(Event {
                kind: EventKind::WarningConfirmed,
                path: Some(p.clone()),
                old: None,
                new: Some(soft.join(" | ")),
            });
        }
        let mut answers = vec![(path.clone(), Some(answer))];
        for (p, a, event) in redrawn {
            answers.push((p, a));
            events.push(event);
        }
        events.extend(self.relevance_events(&trial, &trial_walk));
        // Applying this update reaches exactly the trial state: keep its
        // walk so `apply` need not walk again.
        *self.prepared.borrow_mut() = Some((trial, trial_walk));
        Ok(Update {
            answers,
            confirmations,
            events,
            position: Some(path.clone()),
            completed: None,
        })
    }

    /// Draws again every random selection already made whose draw on the
    /// roster as it stands now differs (a corrected age, sex or eligibility,
    /// rows added or dropped), updating `answers` and `walk`. A selection is
    /// thus always the draw on the current roster with the item's own seed,
    /// so an unchanged roster keeps its draw and a selected member who is no
    /// longer eligible is never kept. Returns the changes with their events
    /// (a selection left without any eligible row is cleared).
    fn redraw(
        &self,
        answers: &mut BTreeMap<ItemPath, Answer>,
        walk: &mut Walk,
    ) -> Vec<(ItemPath, Option<Answer>, Event)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < walk.path.len() {
            let path = walk.path[i].path.clone();
            i += 1;
            let Some(old) = answers.get(&path).cloned() else {
                continue;
            };
            if !self.is_random(&path) {
                continue;
            }
            let drawn = self.draw(&self.context(answers), walk, &path);
            let (new, mut event) = match drawn {
                Some((a, _)) if a == old => continue,
                Some((a, event)) => (Some(a), event),
                None => (
                    None,
                    Event {
                        kind: EventKind::RandomSelection,
                        path: Some(path.clone()),
                        old: None,
                        new: Some("cleared: no eligible row".into()),
                    },
                ),
            };
            event.old = Some(old.to_string());
            match &new {
                Some(a) => answers.insert(path.clone(), a.clone()),
                None => answers.remove(&path),
            };
            *walk = self.walk_over(answers);
            out.push((path, new, event));
        }
        out
    }

    /// Events for answered items that leave or rejoin the path.
    fn relevance_events(&self, answers: &BTreeMap<ItemPath, Answer>, after: &Walk) -> Vec<Event> {
        let mut events = Vec::new();
        for (path, answer) in answers {
            let before = self.walk.relevant.contains(path);
            let now = after.relevant.contains(path);
            if before != now {
                events.push(Event {
                    kind: if now {
                        EventKind::Restored
                    } else {
                        EventKind::Skipped
                    },
                    path: Some(path.clone()),
                    old: None,
                    new: Some(answer.to_string()),
                });
            }
        }
        events
    }

    /// Checks type, range and options; normalises (e.g. codes in option order).
    fn validate(&self, item: &Item, path: &ItemPath, answer: Answer) -> Result<Answer, Refusal> {
        if answer.is_special() {
            return Ok(answer);
        }
        let invalid = |m: Invalid| Err(Refusal::Invalid(m));
        match (&item.kind, answer) {
            (ItemKind::SingleChoice { .. }, Answer::Int(code)) => {
                if self.visible_options(path).iter().any(|o| o.code == code) {
                    Ok(Answer::Int(code))
                } else {
                    invalid(Invalid::NotAnOption(code))
                }
            }
            (ItemKind::YesNo, Answer::Int(code)) => match code {
                1 | 2 => Ok(Answer::Int(code)),
                _ => invalid(Invalid::NotYesNo),
            },
            (ItemKind::MultipleChoice { .. }, Answer::Codes(codes)) => {
                let visible = self.visible_options(path);
                if let Some(bad) = codes
                    .iter()
                    .find(|c| !visible.iter().any(|o| o.code == **c))
                {
                    return invalid(Invalid::NotAnOption(*bad));
                }
                let ordered = visible
                    .iter()
                    .map(|o| o.code)
                    .filter(|c| codes.contains(c))
                    .collect();
                Ok(Answer::Codes(ordered))
            }
            (ItemKind::Integer { range }, Answer::Int(v)) => {
                in_range(range, v as f64).map(|_| Answer::Int(v))
            }
            (ItemKind::Decimal { range }, Answer::Decimal(v)) if v.is_finite() => {
                in_range(range, v).map(|_| Answer::Decimal(v))
            }
            (ItemKind::Decimal { range }, Answer::Int(v)) => {
                in_range(range, v as f64).map(|_| Answer::Decimal(v as f64))
            }
            (ItemKind::Text { max_length }, Answer::Text(s)) => {
                let s = s.trim().to_string();
                if s.is_empty() {
                    return invalid(Invalid::Empty);
                }
                match max_length {
                    Some(max) if s.chars().count() > *max => invalid(Invalid::TooLong(*max)),
                    _ => Ok(Answer::Text(s)),
                }
            }
            (ItemKind::Date { range }, Answer::Date(d)) => {
                for (bound, is_min) in [(&range.min, true), (&range.max, false)] {
                    if let Some(code) = bound
                        && let Value::Date(limit) = self.eval(&path.rows, &code.expr)
                    {
                        if is_min && d < limit {
                            return invalid(Invalid::DateBefore(limit));
                        }
                        if !is_min && d > limit {
                            return invalid(Invalid::DateAfter(limit));
                        }
                    }
                }
                Ok(Answer::Date(d))
            }
            (kind, other) => invalid(Invalid::WrongKind {
                answer: other.to_string(),
                kind: kind.name(),
            }),
        }
    }

    // ---- navigation ----

    fn is_answered(&self, pos: &Position) -> bool {
        let Some(item) = self.item(&pos.path.item) else {
            return true;
        };
        match item.kind {
            ItemKind::Note => true,
            _ => self.answers.contains_key(&pos.path),
        }
    }

    /// Prepares a move to the next position. Random selections passed on
    /// the way are drawn (once) and recorded.
    pub fn next(&self) -> Result<Update, Refusal> {
        let i = self.current_index().ok_or(Refusal::NoPosition)?;
        let here = &self.walk.path[i];
        if !self.is_answered(here) {
            return Err(if self.is_random(&here.path) {
                Refusal::SelectionNotReady
            } else {
                Refusal::Unanswered
            });
        }
        let mut update = Update::default();
        // Copies of the state are made only when a random draw changes it;
        // a plain move reads the current walk.
        let mut answers = Cow::Borrowed(&self.answers);
        let mut walk = Cow::Borrowed(&self.walk);
        let mut at = i;
        loop {
            if at + 1 >= walk.path.len() {
                if update.answers.is_empty() {
                    return Err(Refusal::AtEnd);
                }
                break;
            }
            at += 1;
            let pos = walk.path[at].clone();
            if !self.is_random(&pos.path) || answers.contains_key(&pos.path) {
                break;
            }
            // A random item: draw now if everything before it is answered.
            let ready = walk.path[..at].iter().all(|p| {
                self.item(&p.path.item)
                    .is_some_and(|it| matches!(it.kind, ItemKind::Note))
                    || answers.contains_key(&p.path)
            });
            if !ready {
                break;
            }
            let ctx = self.context(&answers);
            match self.draw(&ctx, &walk, &pos.path) {
                Some((answer, event)) => {
                    update
                        .answers
                        .push((pos.path.clone(), Some(answer.clone())));
                    update.events.push(event);
                    answers.to_mut().insert(pos.path.clone(), answer);
                    let new_walk = self.walk_over(&answers);
                    update
                        .events
                        .extend(self.relevance_events(&answers, &new_walk));
                    walk = Cow::Owned(new_walk);
                    at = walk.position_of(&pos.path).unwrap_or(at);
                }
                None => break,
            }
        }
        let target = walk.path.get(at).map(|p| p.path.clone());
        update.events.push(Event {
            kind: EventKind::Navigate,
            path: target.clone(),
            old: self.current.as_ref().map(ItemPath::to_string),
            new: target.as_ref().map(ItemPath::to_string),
        });
        update.position = target;
        Ok(update)
    }

    fn is_random(&self, path: &ItemPath) -> bool {
        self.item(&path.item)
            .is_some_and(|i| matches!(i.kind, ItemKind::Random(_)))
    }

    /// Draws a random item at `path`; `None` when no row is eligible.
    fn draw(&self, ctx: &Context, walk: &Walk, path: &ItemPath) -> Option<(Answer, Event)> {
        let item = self.item(&path.item)?;
        let ItemKind::Random(selection) = &item.kind else {
            return None;
        };
        let (_, info) = self.index.rosters.get(selection.roster.as_str())?;
        let outer: Vec<RowKey> = path.rows.get(..info.chain.len())?.to_vec();
        let keys = walk.rows.get(&(outer.clone(), selection.roster.clone()))?;
        let mut candidates = Vec::new();
        for key in keys {
            let mut rows = outer.clone();
            rows.push(RowKey {
                roster: selection.roster.clone(),
                key: *key,
            });
            let eligible = match &selection.eligible {
                Some(code) => is_true(&walk.eval(ctx, &rows, &code.expr)),
                None => true,
            };
            if !eligible {
                continue;
            }
            let number = |id: &str| match walk.eval_name(ctx, &rows, id) {
                Value::Int(i) => Some(i as f64),
                Value::Decimal(x) => Some(x),
                _ => None,
            };
            let (sex, age, birth_date) = match &selection.method {
                SelectionMethod::Kish { sex, age, .. } => {
                    (number(sex).map(|s| s as i64), number(age), None)
                }
                SelectionMethod::NextBirthday { birth_date } => {
                    match walk.eval_name(ctx, &rows, birth_date) {
                        Value::Date(d) => (None, None, Some(d)),
                        _ => (None, None, None),
                    }
                }
                SelectionMethod::Uniform => (None, None, None),
            };
            candidates.push(Candidate {
                key: *key,
                sex,
                age,
                birth_date,
            });
        }
        let seed = self.seed_for(path);
        let draw = select::draw(&selection.method, &candidates, seed, self.today)?;
        let event = Event {
            kind: EventKind::RandomSelection,
            path: Some(path.clone()),
            old: None,
            new: Some(format!(
                "selected={}; eligible={}; seed={}; {}",
                draw.key, draw.eligible, draw.seed, draw.detail
            )),
        };
        Some((Answer::Int(draw.key), event))
    }

    /// The seed of one random item in this case.
    pub fn seed_for(&self, path: &ItemPath) -> u64 {
        let mut h = self.case_seed ^ 0xcbf2_9ce4_8422_2325;
        for b in path.to_string().bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    }

    /// Prepares a move to the previous position.
    pub fn back(&self) -> Result<Update, Refusal> {
        let i = self.current_index().ok_or(Refusal::NoPosition)?;
        // Random selections are passed over: they are drawn, not asked.
        let previous = self.walk.path[..i]
            .iter()
            .rev()
            .find(|p| !self.is_random(&p.path));
        match previous {
            Some(p) => Ok(self.move_to(p.path.clone())),
            None => Err(Refusal::AtStart),
        }
    }

    /// Prepares a jump to any position on the path.
    pub fn jump(&self, path: &ItemPath) -> Result<Update, Refusal> {
        if self.walk.position_of(path).is_none() {
            return Err(Refusal::NotOnPath);
        }
        Ok(self.move_to(path.clone()))
    }

    fn move_to(&self, target: ItemPath) -> Update {
        Update {
            events: vec![Event {
                kind: EventKind::Navigate,
                path: Some(target.clone()),
                old: self.current.as_ref().map(ItemPath::to_string),
                new: Some(target.to_string()),
            }],
            position: Some(target),
            ..Update::default()
        }
    }

    /// The first position on the path without an answer.
    pub fn first_unanswered(&self) -> Option<ItemPath> {
        self.walk
            .path
            .iter()
            .find(|p| !self.is_answered(p))
            .map(|p| p.path.clone())
    }

    /// Answers on the path now that are no longer acceptable (an earlier
    /// answer may have changed since they were accepted): a choice whose
    /// option is now hidden by its filter, a date outside bounds that moved,
    /// and hard-check failures.
    pub fn invalid(&self) -> Vec<(ItemPath, String)> {
        let mut out = Vec::new();
        for pos in &self.walk.path {
            let Some(item) = self.item(&pos.path.item) else {
                continue;
            };
            let Some(answer) = self.answers.get(&pos.path) else {
                continue;
            };
            // Random selections hold a row key, not an answer to validate.
            if item.kind.is_question()
                && let Err(Refusal::Invalid(why)) = self.validate(item, &pos.path, answer.clone())
            {
                out.push((pos.path.clone(), why.to_string()));
            }
            for check in &item.checks {
                if check.severity == Severity::Error
                    && matches!(
                        self.eval(&pos.path.rows, &check.rule.expr),
                        Value::Bool(false)
                    )
                {
                    out.push((
                        pos.path.clone(),
                        self.render(&check.message, &pos.path.rows),
                    ));
                }
            }
        }
        out
    }

    /// The first position whose hard checks fail.
    pub fn first_invalid(&self) -> Option<ItemPath> {
        self.invalid().into_iter().next().map(|(p, _)| p)
    }

    /// Critical rules that fail now (checked at completion).
    pub fn critical(&self) -> Vec<(ItemPath, String)> {
        let mut out = Vec::new();
        let mut visit = |path: &ItemPath, item: &Item| {
            for check in &item.checks {
                if check.severity == Severity::Critical
                    && !is_true(&self.eval(&path.rows, &check.rule.expr))
                {
                    out.push((path.clone(), self.render(&check.message, &path.rows)));
                }
            }
        };
        let mut relevant: Vec<&ItemPath> = self.walk.relevant.iter().collect();
        relevant.sort();
        for path in relevant {
            if let Some(item) = self.item(&path.item) {
                visit(path, item);
            }
        }
        out
    }

    /// Everything that stands between the interview and completion.
    pub fn completion_problems(&self) -> CompletionProblems {
        CompletionProblems {
            unanswered: self
                .walk
                .path
                .iter()
                .filter(|p| !self.is_answered(p))
                .map(|p| p.path.clone())
                .collect(),
            invalid: self.invalid(),
            critical: self.critical(),
        }
    }

    /// The disposition the interview would be completed with now: the first
    /// of the instrument's `outcomes:` rules that holds, otherwise
    /// `complete`.
    pub fn outcome(&self) -> Outcome {
        let ctx = self.context(&self.answers);
        self.instrument
            .outcomes
            .iter()
            .find(|rule| is_true(&self.walk.eval(&ctx, &[], &rule.when.expr)))
            .and_then(|rule| Outcome::parse(&rule.outcome))
            .unwrap_or(Outcome::Complete)
    }

    /// Prepares the completion of the interview.
    pub fn complete(&self) -> Result<Update, Refusal> {
        let problems = self.completion_problems();
        if !problems.is_empty() {
            return Err(Refusal::NotComplete(problems));
        }
        let outcome = self.outcome();
        Ok(Update {
            events: vec![Event {
                kind: EventKind::Complete,
                path: None,
                old: None,
                new: Some(outcome.as_str().into()),
            }],
            position: self.current.clone(),
            completed: Some(outcome),
            ..Update::default()
        })
    }

    /// Applies a committed update.
    pub fn apply(&mut self, update: &Update) {
        for (path, answer) in &update.answers {
            match answer {
                Some(a) => {
                    self.answers.insert(path.clone(), a.clone());
                }
                None => {
                    self.answers.remove(path);
                }
            }
        }
        for c in &update.confirmations {
            self.confirmed.insert(c.clone());
        }
        if !update.answers.is_empty() {
            let prepared = self.prepared.borrow_mut().take();
            self.walk = match prepared {
                Some((answers, walk)) if answers == self.answers => walk,
                _ => self.walk_over(&self.answers),
            };
        }
        if let Some(p) = &update.position
            && self.walk.position_of(p).is_some()
        {
            self.current = Some(p.clone());
        }
        if self
            .current
            .as_ref()
            .is_none_or(|c| self.walk.position_of(c).is_none())
        {
            self.current = self
                .first_unanswered()
                .or_else(|| self.walk.path.last().map(|p| p.path.clone()));
        }
        if update.completed.is_some() {
            self.completed = true;
        }
    }

    /// Share of the path answered, from 0 to 1.
    pub fn progress(&self) -> f64 {
        let total = self.walk.path.len();
        if total == 0 {
            return 1.0;
        }
        let done = self
            .walk
            .path
            .iter()
            .filter(|p| self.is_answered(p))
            .count();
        done as f64 / total as f64
    }

    /// Whether a soft check of this path was confirmed.
    pub fn is_confirmed(&self, path: &ItemPath, check: usize) -> bool {
        self.confirmed.contains(&(path.clone(), check))
    }
}

impl Walk {
    /// The value of a named item in the scope of `rows`.
    pub fn eval_name(&self, ctx: &Context, rows: &[RowKey], name: &str) -> Value {
        use crate::instrument::expr::Env;
        let scope = crate::interview::walk::Scope {
            walk: self,
            ctx,
            rows: std::borrow::Cow::Borrowed(rows),
        };
        scope.value(name)
    }
}

fn in_range(range: &Range, v: f64) -> Result<(), Refusal> {
    if let Some(min) = range.min
        && v < min
    {
        return Err(Refusal::Invalid(Invalid::AtLeast(min)));
    }
    if let Some(max) = range.max
        && v > max
    {
        return Err(Refusal::Invalid(Invalid::AtMost(max)));
    }
    Ok(())
}

/// `{{` and `}}` in texts stand for single braces.
fn unescape(s: &str) -> String {
    s.replace("{{", "{").replace("}}", "}")
}

/// How a value reads inside a question text.
pub fn format_value(value: &Value) -> String {
    match value {
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Decimal(x) => {
            let s = format!("{x:.2}");
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        }
        Value::Text(s) => s.clone(),
        Value::Date(d) => d.to_string(),
        Value::Codes(c) => c.iter().map(i64::to_string).collect::<Vec<_>>().join(", "),
        Value::Missing(_) => "…".to_string(),
    }
}
