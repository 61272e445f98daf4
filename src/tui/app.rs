//! The state of the enumerator's screen and what each action does to it.
//!
//! Drawing lives in `draw.rs` and only reads this state. Every change to the
//! interview goes through [`CaseStore::commit`] before the engine applies
//! it: if the store refuses (disk full, locked file), the screen stays where
//! it was and says so, and nothing is lost.

use jiff::civil::Date;

use crate::instrument::Instrument;
use crate::instrument::model::{ItemKind, Section};
use crate::interview::{Answer, CaseStatus, Interview, ItemPath, Outcome, Refusal, Saved, Update};
use crate::tui::keys::Action;
use crate::tui::strings::{self, Strings};

/// One line of the case list.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseRow {
    pub id: String,
    pub status: CaseStatus,
    pub outcome: Option<Outcome>,
    pub modified: String,
    pub enumerator: String,
    /// The supervisor's decision, once the case has been synced.
    pub review: Option<CaseReview>,
}

/// A supervisor's decision on a case, as the last `vicor sync` brought it.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseReview {
    pub decision: ReviewDecision,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewDecision {
    Pending,
    Approved,
    /// Sent back to the enumerator: the comment says what to redo.
    Rejected,
}

/// What the interview screen needs to resume a case.
#[derive(Debug, Clone)]
pub struct Opened {
    pub saved: Saved,
    pub seed: u64,
    pub today: Date,
}

/// Where cases are kept, as the screen sees it (the SQLite store in the
/// binary, a memory store in tests).
pub trait CaseStore {
    fn list(&mut self) -> Result<Vec<CaseRow>, String>;
    /// Starts a case; returns its id.
    fn create(&mut self) -> Result<String, String>;
    fn open(&mut self, case: &str) -> Result<Opened, String>;
    /// Commits an update in one transaction; returns only when it is on disk.
    fn commit(&mut self, case: &str, update: &Update, interview: &Interview) -> Result<(), String>;
    fn set_outcome(&mut self, case: &str, outcome: Outcome) -> Result<(), String>;
    fn add_note(&mut self, case: &str, path: &ItemPath, text: &str) -> Result<(), String>;
}

/// The full-screen views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Cases,
    Question,
}

/// Overlays on top of a screen.
#[derive(Debug, Clone, PartialEq)]
pub enum Popup {
    Help,
    Contents { selected: usize },
    Roster,
    Review { selected: usize },
    Note { text: String },
    Outcome { selected: usize },
    ConfirmComplete,
    ConfirmRows { answer: Answer },
}

/// How a message is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Info,
    Warning,
    Error,
}

/// Where self-completion stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelfCompletion {
    Off,
    /// Waiting for the respondent to take over section `usize`.
    Start(usize),
    /// The respondent answers section `usize` alone.
    Active(usize),
    /// Waiting for the enumerator to come back (typed id so far).
    Return {
        section: usize,
        typed: String,
    },
}

/// The interview in progress on screen.
pub struct Session<'i> {
    pub case: String,
    pub interview: Interview<'i>,
    /// What is typed in the answer field.
    pub input: String,
    /// Highlighted option (index into the visible options).
    pub highlight: usize,
    /// Ticked codes of a multiple-choice question being answered.
    pub ticked: Vec<i64>,
    /// An answer whose soft-check warning was shown; Enter again confirms.
    pub pending: Option<Answer>,
    pub self_completion: SelfCompletion,
    /// The section of the previous position, to notice entering a
    /// self-completion section (not merely standing in one).
    pub last_section: Option<usize>,
}

/// The whole application state.
pub struct App<'i> {
    pub instrument: &'i Instrument,
    pub store: Box<dyn CaseStore + 'i>,
    pub enumerator: String,
    pub language: String,
    pub screen: Screen,
    pub cases: Vec<CaseRow>,
    pub case_selected: usize,
    pub session: Option<Session<'i>>,
    pub popup: Option<Popup>,
    pub message: Option<(Tone, String)>,
    pub quit: bool,
}

impl<'i> App<'i> {
    pub fn new(
        instrument: &'i Instrument,
        store: Box<dyn CaseStore + 'i>,
        enumerator: &str,
        language: Option<&str>,
    ) -> App<'i> {
        let language = language
            .filter(|l| instrument.languages.iter().any(|x| x == l))
            .unwrap_or(&instrument.default_language)
            .to_string();
        let mut app = App {
            instrument,
            store,
            enumerator: enumerator.to_string(),
            language,
            screen: Screen::Cases,
            cases: Vec::new(),
            case_selected: 0,
            session: None,
            popup: None,
            message: None,
            quit: false,
        };
        app.refresh_cases();
        app
    }

    pub fn strings(&self) -> &'static Strings {
        strings::strings(&self.language)
    }

    fn refresh_cases(&mut self) {
        match self.store.list() {
            Ok(cases) => {
                self.cases = cases;
                self.case_selected = self.case_selected.min(self.cases.len().saturating_sub(1));
            }
            Err(e) => self.message = Some((Tone::Error, e)),
        }
    }

    /// Opens a case at its saved position.
    pub fn open_case(&mut self, case: &str) {
        match self.store.open(case) {
            Ok(opened) => {
                let mut interview =
                    Interview::new(self.instrument, opened.today, opened.seed, opened.saved);
                interview.set_language(&self.language, self.month_names());
                self.session = Some(Session {
                    case: case.to_string(),
                    interview,
                    input: String::new(),
                    highlight: 0,
                    ticked: Vec::new(),
                    pending: None,
                    self_completion: SelfCompletion::Off,
                    last_section: None,
                });
                self.screen = Screen::Question;
                self.popup = None;
                self.message = None;
                self.sync_position();
            }
            Err(e) => self.message = Some((Tone::Error, e)),
        }
    }

    fn month_names(&self) -> Vec<String> {
        self.strings()
            .months
            .iter()
            .map(|m| m.to_string())
            .collect()
    }

    /// Handles one action.
    pub fn handle(&mut self, action: Action) {
        if action == Action::Quit {
            self.quit = true;
            return;
        }
        if self.popup.is_some() {
            self.handle_popup(action);
            return;
        }
        match self.screen {
            Screen::Cases => self.handle_cases(action),
            Screen::Question => self.handle_question(action),
        }
    }

    fn hint(&mut self) {
        self.message = Some((Tone::Info, self.strings().key_not_here.to_string()));
    }

    fn handle_cases(&mut self, action: Action) {
        match action {
            Action::Up => self.case_selected = self.case_selected.saturating_sub(1),
            Action::Down => {
                if self.case_selected + 1 < self.cases.len() {
                    self.case_selected += 1;
                }
            }
            Action::Char('n') | Action::NewCase => match self.store.create() {
                Ok(id) => {
                    self.refresh_cases();
                    self.open_case(&id);
                }
                Err(e) => self.message = Some((Tone::Error, e)),
            },
            Action::Enter => {
                if let Some(case) = self.cases.get(self.case_selected).map(|c| c.id.clone()) {
                    self.open_case(&case);
                }
            }
            Action::Char('o') | Action::SetOutcome if !self.cases.is_empty() => {
                self.popup = Some(Popup::Outcome { selected: 0 });
            }
            Action::Char('q') => self.quit = true,
            Action::Help => self.popup = Some(Popup::Help),
            Action::Language => self.cycle_language(),
            _ => self.hint(),
        }
    }

    fn cycle_language(&mut self) {
        let langs = &self.instrument.languages;
        let i = langs.iter().position(|l| *l == self.language).unwrap_or(0);
        let next = langs[(i + 1) % langs.len()].clone();
        if let Some(s) = self.session.as_mut() {
            let update = s.interview.language_event(&next);
            if let Err(e) = self.store.commit(&s.case, &update, &s.interview) {
                self.message = Some((Tone::Error, e));
                return;
            }
        }
        self.language = next;
        let months = self.month_names();
        let language = self.language.clone();
        if let Some(s) = self.session.as_mut() {
            s.interview.set_language(&language, months);
        }
    }

    /// Shows that a selection was drawn again, over anything the move said:
    /// the person to interview may have changed.
    fn tell_redraw(&mut self, redrawn: Option<String>) {
        if let Some(text) = redrawn {
            self.message = Some((Tone::Warning, text));
        }
    }

    /// Commits and applies an update; false (with a message) when the store
    /// refused it, in which case nothing changed.
    fn commit(&mut self, update: Update) -> bool {
        let Some(s) = self.session.as_mut() else {
            return false;
        };
        match self.store.commit(&s.case, &update, &s.interview) {
            Ok(()) => {
                s.interview.apply(&update);
                true
            }
            Err(e) => {
                self.message = Some((Tone::Error, e));
                false
            }
        }
    }

    /// After a move: reset the field and start or end self-completion.
    fn sync_position(&mut self) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        s.input.clear();
        s.ticked.clear();
        s.pending = None;
        s.highlight = 0;
        let current = s.interview.current().cloned();
        if let Some(path) = &current {
            if let Some(Answer::Codes(codes)) = s.interview.answer_of(path) {
                s.ticked = codes.clone();
            }
            if let Some(Answer::Int(code)) = s.interview.answer_of(path) {
                let options = s.interview.visible_options(path);
                s.highlight = options.iter().position(|o| o.code == *code).unwrap_or(0);
            }
        }
        let section = current
            .as_ref()
            .and_then(|p| s.interview.path().iter().find(|x| &x.path == p))
            .map(|p| p.section);
        let self_section = section.filter(|i| self.instrument.sections[*i].self_completion);
        let entering = section != s.last_section;
        s.last_section = section;
        s.self_completion = match (&s.self_completion, self_section) {
            (SelfCompletion::Off, Some(i)) if entering => SelfCompletion::Start(i),
            (SelfCompletion::Active(a), Some(i)) if *a == i => SelfCompletion::Active(i),
            (SelfCompletion::Active(a), _) => SelfCompletion::Return {
                section: *a,
                typed: String::new(),
            },
            (other, _) => other.clone(),
        };
    }

    pub fn current_section(&self) -> Option<&'i Section> {
        let s = self.session.as_ref()?;
        let path = s.interview.current()?;
        let pos = s.interview.path().iter().find(|p| &p.path == path)?;
        self.instrument.sections.get(pos.section)
    }

    fn handle_question(&mut self, action: Action) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        // Self-completion gates take every key until passed.
        match &mut s.self_completion {
            SelfCompletion::Start(i) => {
                if action == Action::Enter {
                    s.self_completion = SelfCompletion::Active(*i);
                    self.message = None;
                }
                return;
            }
            SelfCompletion::Return { typed, .. } => {
                match action {
                    Action::Char(c) => typed.push(c),
                    Action::Backspace => {
                        typed.pop();
                    }
                    Action::Enter => {
                        let expected = if self.enumerator.is_empty() {
                            "ok"
                        } else {
                            self.enumerator.as_str()
                        };
                        if typed.trim() == expected {
                            s.self_completion = SelfCompletion::Off;
                            self.message = None;
                            let at_end = s.interview.next().is_err_and(|r| r == Refusal::AtEnd);
                            if at_end {
                                self.popup = Some(Popup::Review { selected: 0 });
                            }
                        } else {
                            typed.clear();
                            self.message = Some((Tone::Error, "?".into()));
                        }
                    }
                    _ => {}
                }
                return;
            }
            _ => {}
        }
        let in_self = matches!(s.self_completion, SelfCompletion::Active(_));
        match action {
            Action::Enter => self.enter(),
            Action::DontKnow => self.special(Answer::DontKnow),
            Action::Refused => self.special(Answer::Refused),
            Action::Back => {
                let s = self.session.as_ref().expect("session checked above");
                match s.interview.back() {
                    Ok(u) => {
                        if self.commit(u) {
                            self.message = None;
                            self.sync_position();
                        }
                    }
                    Err(r) => {
                        self.message = Some((Tone::Info, strings::refusal(&r, &self.language)))
                    }
                }
            }
            Action::Next => self.next(),
            Action::Up => {
                if let Some(s) = self.session.as_mut() {
                    s.highlight = s.highlight.saturating_sub(1);
                }
            }
            Action::Down => {
                if let Some(s) = self.session.as_mut() {
                    let n = s
                        .interview
                        .current()
                        .map(|p| s.interview.visible_options(p).len())
                        .unwrap_or(0);
                    if s.highlight + 1 < n {
                        s.highlight += 1;
                    }
                }
            }
            Action::Toggle => self.toggle_or_type(),
            Action::Char(c) => {
                if let Some(s) = self.session.as_mut() {
                    s.input.push(c);
                    s.pending = None;
                }
            }
            Action::Backspace => {
                if let Some(s) = self.session.as_mut() {
                    s.input.pop();
                }
            }
            Action::Contents if !in_self => self.popup = Some(Popup::Contents { selected: 0 }),
            Action::Roster if !in_self => self.popup = Some(Popup::Roster),
            Action::Review if !in_self => self.popup = Some(Popup::Review { selected: 0 }),
            Action::Note => {
                self.popup = Some(Popup::Note {
                    text: String::new(),
                })
            }
            Action::Language => self.cycle_language(),
            Action::Help => self.popup = Some(Popup::Help),
            Action::Escape if !in_self => {
                self.session = None;
                self.screen = Screen::Cases;
                self.refresh_cases();
            }
            _ => self.hint(),
        }
    }

    fn current_kind(&self) -> Option<&'i ItemKind> {
        let s = self.session.as_ref()?;
        let path = s.interview.current()?;
        s.interview.item(&path.item).map(|i| &i.kind)
    }

    fn toggle_or_type(&mut self) {
        let kind = self.current_kind();
        let Some(s) = self.session.as_mut() else {
            return;
        };
        match kind {
            Some(ItemKind::MultipleChoice { .. }) => {
                let Some(path) = s.interview.current().cloned() else {
                    return;
                };
                let options = s.interview.visible_options(&path);
                let code = match s.input.trim().parse::<i64>() {
                    Ok(code) => Some(code),
                    Err(_) => options.get(s.highlight).map(|o| o.code),
                };
                s.input.clear();
                if let Some(code) = code.filter(|c| options.iter().any(|o| o.code == *c)) {
                    if let Some(i) = s.ticked.iter().position(|c| *c == code) {
                        s.ticked.remove(i);
                    } else {
                        s.ticked.push(code);
                    }
                }
            }
            Some(ItemKind::Text { .. }) => s.input.push(' '),
            _ => {}
        }
    }

    /// Reads the typed field or the highlighted option into an answer.
    fn typed_answer(&mut self) -> Result<Option<Answer>, String> {
        let kind = self.current_kind();
        let s = self
            .session
            .as_ref()
            .expect("called on the question screen");
        let lang = self.language.as_str();
        let input = s.input.trim();
        let path = s.interview.current().cloned();
        Ok(match kind {
            Some(ItemKind::SingleChoice { .. }) | Some(ItemKind::YesNo) => {
                if input.is_empty() {
                    match kind {
                        Some(ItemKind::YesNo) => {
                            Some(Answer::Int(if s.highlight == 0 { 1 } else { 2 }))
                        }
                        _ => path
                            .and_then(|p| {
                                s.interview
                                    .visible_options(&p)
                                    .get(s.highlight)
                                    .map(|o| o.code)
                            })
                            .map(Answer::Int),
                    }
                } else {
                    Some(Answer::Int(
                        input
                            .parse()
                            .map_err(|_| strings::not_parsed("option", input, lang))?,
                    ))
                }
            }
            Some(ItemKind::MultipleChoice { .. }) => Some(Answer::Codes(s.ticked.clone())),
            Some(ItemKind::Integer { .. }) if !input.is_empty() => Some(Answer::Int(
                input
                    .parse()
                    .map_err(|_| strings::not_parsed("integer", input, lang))?,
            )),
            Some(ItemKind::Decimal { .. }) if !input.is_empty() => {
                let x: f64 = input
                    .replace(',', ".")
                    .parse()
                    .map_err(|_| strings::not_parsed("number", input, lang))?;
                if !x.is_finite() {
                    return Err(strings::not_parsed("number", input, lang));
                }
                Some(Answer::Decimal(x))
            }
            Some(ItemKind::Text { .. }) if !input.is_empty() => {
                Some(Answer::Text(input.to_string()))
            }
            Some(ItemKind::Date { .. }) if !input.is_empty() => Some(Answer::Date(
                input
                    .parse::<Date>()
                    .map_err(|_| strings::not_parsed("date", input, lang))?,
            )),
            _ => None,
        })
    }

    fn enter(&mut self) {
        let kind = self.current_kind();
        let answered = self
            .session
            .as_ref()
            .and_then(|s| {
                s.interview
                    .current()
                    .map(|p| s.interview.answer_of(p).is_some())
            })
            .unwrap_or(false);
        let is_question = kind.is_some_and(|k| k.is_question());
        if !is_question {
            return self.next();
        }
        let answer = match self.typed_answer() {
            Ok(a) => a,
            Err(m) => {
                self.message = Some((Tone::Error, m));
                return;
            }
        };
        let field_kind = matches!(
            kind,
            Some(
                ItemKind::Integer { .. }
                    | ItemKind::Decimal { .. }
                    | ItemKind::Text { .. }
                    | ItemKind::Date { .. }
            )
        );
        match answer {
            None if answered && field_kind => self.next(),
            None => {
                self.message = Some((
                    Tone::Error,
                    strings::refusal(&Refusal::Unanswered, &self.language),
                ))
            }
            Some(answer) => {
                let unchanged = self.session.as_ref().is_some_and(|s| {
                    s.interview.current().and_then(|p| s.interview.answer_of(p)) == Some(&answer)
                });
                if unchanged {
                    return self.next();
                }
                self.submit(answer);
            }
        }
    }

    fn special(&mut self, answer: Answer) {
        self.submit(answer);
    }

    fn submit(&mut self, answer: Answer) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let confirm = s.pending.as_ref() == Some(&answer);
        match s.interview.answer(answer.clone(), confirm) {
            Ok(update) => {
                let redrawn = strings::redrawn(&update, &self.language);
                if self.commit(update) {
                    self.message = None;
                    self.next();
                    self.tell_redraw(redrawn);
                }
            }
            Err(Refusal::NeedsConfirmation(messages)) => {
                s.pending = Some(answer);
                let text = format!("{} {}", messages.join(" "), self.strings().confirm_warning);
                self.message = Some((Tone::Warning, text));
            }
            Err(Refusal::RowsWouldBeLost { .. }) => {
                self.popup = Some(Popup::ConfirmRows { answer })
            }
            Err(r) => self.message = Some((Tone::Error, strings::refusal(&r, &self.language))),
        }
    }

    fn next(&mut self) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        match s.interview.next() {
            Ok(u) => {
                if self.commit(u) {
                    self.sync_position();
                }
            }
            Err(Refusal::AtEnd) => {
                // The end of a self-completion section hands the laptop back
                // before anything else is shown.
                if let Some(s) = self.session.as_mut()
                    && let SelfCompletion::Active(section) = s.self_completion
                {
                    s.self_completion = SelfCompletion::Return {
                        section,
                        typed: String::new(),
                    };
                    return;
                }
                self.popup = Some(Popup::Review { selected: 0 })
            }
            Err(r) => self.message = Some((Tone::Info, strings::refusal(&r, &self.language))),
        }
    }

    /// Jumps to a path (from the contents or the review).
    fn jump(&mut self, path: &ItemPath) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        match s.interview.jump(path) {
            Ok(u) => {
                if self.commit(u) {
                    self.popup = None;
                    self.message = None;
                    self.sync_position();
                }
            }
            Err(r) => self.message = Some((Tone::Error, strings::refusal(&r, &self.language))),
        }
    }

    /// Review entries: every problem with the path to jump to.
    pub fn review_entries(&self) -> Vec<(String, ItemPath, String)> {
        let Some(s) = self.session.as_ref() else {
            return Vec::new();
        };
        let t = self.strings();
        let p = s.interview.completion_problems();
        let mut out = Vec::new();
        for path in p.unanswered {
            out.push((t.unanswered.to_string(), path, String::new()));
        }
        for (path, m) in p.invalid {
            out.push((t.invalid.to_string(), path, m));
        }
        for (path, m) in p.critical {
            out.push((t.critical.to_string(), path, m));
        }
        out
    }

    /// Per section: (title, status text, path to jump to).
    pub fn contents(&self) -> Vec<(String, String, Option<ItemPath>)> {
        let Some(s) = self.session.as_ref() else {
            return Vec::new();
        };
        let t = self.strings();
        let invalid: Vec<ItemPath> = s.interview.invalid().into_iter().map(|(p, _)| p).collect();
        self.instrument
            .sections
            .iter()
            .enumerate()
            .map(|(i, section)| {
                let positions: Vec<_> = s
                    .interview
                    .path()
                    .iter()
                    .filter(|p| p.section == i)
                    .collect();
                let unanswered = positions
                    .iter()
                    .filter(|p| {
                        s.interview.answer_of(&p.path).is_none()
                            && s.interview
                                .item(&p.path.item)
                                .is_some_and(|it| it.kind.is_question())
                    })
                    .count();
                let errors = positions
                    .iter()
                    .filter(|p| invalid.contains(&p.path))
                    .count();
                let status = if positions.is_empty() {
                    t.status_not_started.to_string()
                } else if errors > 0 {
                    format!("{errors} {}", t.status_errors)
                } else if unanswered > 0 {
                    format!("{unanswered} {}", t.status_unanswered)
                } else {
                    t.status_complete.to_string()
                };
                let target = positions
                    .iter()
                    .find(|p| s.interview.answer_of(&p.path).is_none())
                    .or(positions.first())
                    .map(|p| p.path.clone());
                let title = s.interview.render(&section.title, &[]);
                (title, status, target)
            })
            .collect()
    }

    fn handle_popup(&mut self, action: Action) {
        let Some(popup) = self.popup.clone() else {
            return;
        };
        match (popup, action) {
            (_, Action::Escape) => self.popup = None,
            (Popup::Help, _) => self.popup = None,
            (Popup::Roster, _) => self.popup = None,
            (Popup::Contents { selected }, a) => {
                let entries = self.contents();
                match a {
                    Action::Up => {
                        self.popup = Some(Popup::Contents {
                            selected: selected.saturating_sub(1),
                        })
                    }
                    Action::Down => {
                        let n = entries.len();
                        self.popup = Some(Popup::Contents {
                            selected: (selected + 1).min(n.saturating_sub(1)),
                        })
                    }
                    Action::Enter => {
                        if let Some(path) = entries.get(selected).and_then(|e| e.2.clone()) {
                            self.jump(&path);
                        }
                    }
                    _ => {}
                }
            }
            (Popup::Review { selected }, a) => {
                let entries = self.review_entries();
                match a {
                    Action::Up => {
                        self.popup = Some(Popup::Review {
                            selected: selected.saturating_sub(1),
                        })
                    }
                    Action::Down => {
                        let n = entries.len();
                        self.popup = Some(Popup::Review {
                            selected: (selected + 1).min(n.saturating_sub(1)),
                        })
                    }
                    Action::Enter => {
                        if let Some(path) = entries.get(selected).map(|e| e.1.clone()) {
                            self.jump(&path);
                        }
                    }
                    Action::Char('c') | Action::Complete if entries.is_empty() => {
                        self.popup = Some(Popup::ConfirmComplete)
                    }
                    _ => {}
                }
            }
            (Popup::ConfirmComplete, Action::Char('y')) => {
                let update = self.session.as_ref().map(|s| s.interview.complete());
                match update {
                    Some(Ok(u)) => {
                        if self.commit(u) {
                            self.popup = None;
                            self.message = Some((Tone::Info, self.strings().completed.to_string()));
                        }
                    }
                    Some(Err(r)) => {
                        self.popup = None;
                        self.message = Some((Tone::Error, strings::refusal(&r, &self.language)));
                    }
                    None => self.popup = None,
                }
            }
            (Popup::ConfirmRows { answer }, Action::Char('y')) => {
                self.popup = None;
                let result = self
                    .session
                    .as_ref()
                    .map(|s| s.interview.answer(answer, true));
                match result {
                    Some(Ok(u)) => {
                        let redrawn = strings::redrawn(&u, &self.language);
                        let committed = self.commit(u);
                        if committed {
                            self.next();
                            self.tell_redraw(redrawn);
                        }
                    }
                    Some(Err(r)) => {
                        self.message = Some((Tone::Error, strings::refusal(&r, &self.language)))
                    }
                    None => {}
                }
            }
            (Popup::ConfirmComplete | Popup::ConfirmRows { .. }, Action::Char('n')) => {
                self.popup = None
            }
            (Popup::Note { mut text }, a) => match a {
                Action::Char(c) => {
                    text.push(c);
                    self.popup = Some(Popup::Note { text });
                }
                Action::Toggle => {
                    text.push(' ');
                    self.popup = Some(Popup::Note { text });
                }
                Action::Backspace => {
                    text.pop();
                    self.popup = Some(Popup::Note { text });
                }
                Action::Enter => {
                    let target = self
                        .session
                        .as_ref()
                        .and_then(|s| Some((s.case.clone(), s.interview.current()?.clone())));
                    if let Some((case, path)) = target
                        && !text.trim().is_empty()
                    {
                        if let Err(e) = self.store.add_note(&case, &path, text.trim()) {
                            self.message = Some((Tone::Error, e));
                            return;
                        }
                        self.message = Some((Tone::Info, self.strings().saved.to_string()));
                    }
                    self.popup = None;
                }
                _ => {}
            },
            (Popup::Outcome { selected }, a) => match a {
                Action::Up => {
                    self.popup = Some(Popup::Outcome {
                        selected: selected.saturating_sub(1),
                    })
                }
                Action::Down => {
                    self.popup = Some(Popup::Outcome {
                        selected: (selected + 1).min(Outcome::ALL.len() - 1),
                    })
                }
                Action::Enter => {
                    let case = self.cases.get(self.case_selected).map(|c| c.id.clone());
                    if let Some(case) = case
                        && let Err(e) = self.store.set_outcome(&case, Outcome::ALL[selected])
                    {
                        self.message = Some((Tone::Error, e));
                    }
                    self.popup = None;
                    self.refresh_cases();
                }
                _ => {}
            },
            _ => {}
        }
    }
}
