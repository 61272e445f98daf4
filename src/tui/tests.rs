//! Snapshot tests of every screen on an 80×24 `TestBackend`, driven by
//! actions as the key map would send them, with a memory store.

use std::collections::BTreeMap;
use std::path::Path;

use jiff::civil::date;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::instrument::Instrument;
use crate::interview::{Answer, CaseStatus, Interview, ItemPath, Outcome, Saved, Update};
use crate::tui::app::{
    App, CaseReview, CaseRow, CaseStore, Opened, ReviewDecision, Screen, SelfCompletion, Tone,
};
use crate::tui::draw::draw;
use crate::tui::keys::Action;

/// Cases kept in memory; commits can be made to fail.
#[derive(Default)]
struct MemoryStore {
    cases: Vec<(CaseRow, Saved)>,
    notes: Vec<(String, String, String)>,
    events: Vec<String>,
    fail: bool,
}

impl CaseStore for MemoryStore {
    fn list(&mut self) -> Result<Vec<CaseRow>, String> {
        Ok(self.cases.iter().map(|(r, _)| r.clone()).collect())
    }
    fn create(&mut self) -> Result<String, String> {
        let id = format!(
            "case{:04}-0000-4000-8000-000000000000",
            self.cases.len() + 1
        );
        let row = CaseRow {
            id: id.clone(),
            status: CaseStatus::New,
            outcome: None,
            modified: "2026-03-15 10:00".into(),
            enumerator: "E07".into(),
            review: None,
        };
        self.cases.push((row, Saved::default()));
        Ok(id)
    }
    fn open(&mut self, case: &str) -> Result<Opened, String> {
        let (_, saved) = self
            .cases
            .iter()
            .find(|(r, _)| r.id == case)
            .ok_or("no such case")?;
        Ok(Opened {
            saved: saved.clone(),
            seed: 11,
            today: date(2026, 3, 15),
        })
    }
    fn commit(&mut self, case: &str, update: &Update, _: &Interview) -> Result<(), String> {
        if self.fail {
            return Err("the store could not write: disk full".into());
        }
        let (row, saved) = self
            .cases
            .iter_mut()
            .find(|(r, _)| r.id == case)
            .ok_or("no such case")?;
        for (p, a) in &update.answers {
            match a {
                Some(a) => {
                    saved.answers.insert(p.clone(), a.clone());
                }
                None => {
                    saved.answers.remove(p);
                }
            }
        }
        if update.position.is_some() {
            saved.position = update.position.clone();
        }
        row.status = if update.completed.is_some() {
            CaseStatus::Completed
        } else {
            CaseStatus::InProgress
        };
        if update.completed.is_some() {
            row.outcome = Some(Outcome::Complete);
        }
        self.events
            .extend(update.events.iter().map(|e| e.kind.as_str().to_string()));
        Ok(())
    }
    fn set_outcome(&mut self, case: &str, outcome: Outcome) -> Result<(), String> {
        let (row, _) = self
            .cases
            .iter_mut()
            .find(|(r, _)| r.id == case)
            .ok_or("no such case")?;
        row.outcome = Some(outcome);
        Ok(())
    }
    fn add_note(&mut self, case: &str, path: &ItemPath, text: &str) -> Result<(), String> {
        self.notes
            .push((case.into(), path.to_string(), text.into()));
        Ok(())
    }
}

fn example() -> &'static Instrument {
    use std::sync::OnceLock;
    static INSTRUMENT: OnceLock<Instrument> = OnceLock::new();
    INSTRUMENT.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let checked = crate::instrument::validate(&root.join("instruments/example.yaml"));
        checked.instrument.expect("the example instrument loads")
    })
}

fn screen(app: &App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test terminal");
    terminal.draw(|f| draw(app, f)).expect("draw");
    format!("{}", terminal.backend())
}

fn small_screen(app: &App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(40, 12)).expect("test terminal");
    terminal.draw(|f| draw(app, f)).expect("draw");
    format!("{}", terminal.backend())
}

fn app_with(store: MemoryStore) -> App<'static> {
    App::new(example(), Box::new(store), "E07", None)
}

fn send(app: &mut App, actions: &[Action]) {
    for a in actions {
        app.handle(*a);
    }
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        app.handle(if c == ' ' {
            Action::Toggle
        } else {
            Action::Char(c)
        });
    }
    app.handle(Action::Enter);
}

/// A new case, answered up to the household size.
fn at_household_size() -> App<'static> {
    let mut app = app_with(MemoryStore::default());
    send(&mut app, &[Action::Char('n')]);
    typed(&mut app, "1"); // consent: yes
    send(&mut app, &[Action::Enter]); // the note
    app
}

fn current(app: &App) -> String {
    app.session
        .as_ref()
        .and_then(|s| s.interview.current().map(|p| p.to_string()))
        .unwrap_or_default()
}

#[test]
fn case_list_empty_and_full() {
    let app = app_with(MemoryStore::default());
    insta::assert_snapshot!("case_list_empty", screen(&app));
    let mut store = MemoryStore::default();
    store.create().expect("create");
    store.create().expect("create");
    store.cases[1].0.status = CaseStatus::Completed;
    store.cases[1].0.outcome = Some(Outcome::Complete);
    let mut app = app_with(store);
    send(&mut app, &[Action::Down]);
    insta::assert_snapshot!("case_list", screen(&app));
    insta::assert_snapshot!("case_list_small", small_screen(&app));
}

#[test]
fn case_list_shows_the_review_and_a_rejections_comment() {
    let mut store = MemoryStore::default();
    for _ in 0..3 {
        store.create().expect("create");
    }
    let review = |decision, comment: Option<&str>| {
        Some(CaseReview {
            decision,
            comment: comment.map(str::to_string),
        })
    };
    store.cases[0].0.review = review(ReviewDecision::Approved, None);
    store.cases[1].0.review = review(
        ReviewDecision::Rejected,
        Some("re-ask the value of the stolen bicycle"),
    );
    store.cases[2].0.review = review(ReviewDecision::Pending, None);
    let mut app = app_with(store);
    insta::assert_snapshot!("case_list_reviews", screen(&app));
    send(&mut app, &[Action::Down]);
    let shown = screen(&app);
    assert!(shown.contains("Sent back by the supervisor: re-ask the value"));
    insta::assert_snapshot!("case_list_rejected_selected", shown);
}

#[test]
fn yes_no_and_note_screens() {
    let mut app = app_with(MemoryStore::default());
    send(&mut app, &[Action::Char('n')]);
    insta::assert_snapshot!("yesno", screen(&app));
    typed(&mut app, "1");
    assert_eq!(current(&app), "interview_note");
    insta::assert_snapshot!("note", screen(&app));
}

#[test]
fn integer_field_with_instruction_and_inline_errors() {
    let mut app = at_household_size();
    assert_eq!(current(&app), "hh_size");
    send(&mut app, &[Action::Char('1'), Action::Char('2')]);
    insta::assert_snapshot!("integer", screen(&app));
    send(&mut app, &[Action::Backspace, Action::Backspace]);
    typed(&mut app, "abc");
    insta::assert_snapshot!("integer_not_a_number", screen(&app));
    assert_eq!(current(&app), "hh_size", "nothing stored until valid");
    send(
        &mut app,
        &[Action::Backspace, Action::Backspace, Action::Backspace],
    );
    typed(&mut app, "40");
    insta::assert_snapshot!("error_out_of_range", screen(&app));
}

#[test]
fn soft_warning_needs_a_second_enter() {
    let mut app = at_household_size();
    typed(&mut app, "20");
    insta::assert_snapshot!("warning", screen(&app));
    assert_eq!(current(&app), "hh_size");
    send(&mut app, &[Action::Enter]);
    assert_eq!(current(&app), "members[1].name");
}

#[test]
fn text_single_date_and_second_language() {
    let mut app = at_household_size();
    typed(&mut app, "2");
    typed(&mut app, "Ana Maria");
    assert_eq!(current(&app), "members[1].sex");
    insta::assert_snapshot!("single_choice", screen(&app));
    send(&mut app, &[Action::Down, Action::Enter]);
    assert_eq!(current(&app), "members[1].birth_date");
    typed(&mut app, "1980-02-30");
    insta::assert_snapshot!("date_impossible", screen(&app));
    send(&mut app, &[Action::Language, Action::Enter]);
    insta::assert_snapshot!("date_french", screen(&app));
}

/// Answers the household and stops at the vehicles question.
fn at_vehicles() -> App<'static> {
    let mut app = at_household_size();
    typed(&mut app, "1");
    typed(&mut app, "Ana");
    typed(&mut app, "2");
    typed(&mut app, "1980-04-02");
    app
}

#[test]
fn multiple_choice_and_decimal() {
    let mut app = at_vehicles();
    assert_eq!(current(&app), "vehicles");
    send(
        &mut app,
        &[Action::Toggle, Action::Char('3'), Action::Toggle],
    );
    insta::assert_snapshot!("multiple_choice", screen(&app));
    send(&mut app, &[Action::Enter]);
    assert_eq!(current(&app), "vehicle_thefts[1].stolen");
    typed(&mut app, "2");
    typed(&mut app, "1");
    typed(&mut app, "2");
    assert_eq!(current(&app), "vehicle_thefts[3].loss");
    send(
        &mut app,
        &[
            Action::Char('1'),
            Action::Char('2'),
            Action::Char(','),
            Action::Char('5'),
        ],
    );
    insta::assert_snapshot!("decimal", screen(&app));
}

#[test]
fn dont_know_back_and_roster_overview() {
    let mut app = at_vehicles();
    send(&mut app, &[Action::Back]);
    assert_eq!(current(&app), "members[1].birth_date");
    send(&mut app, &[Action::Roster]);
    insta::assert_snapshot!("roster_overview", screen(&app));
    send(&mut app, &[Action::Escape, Action::DontKnow]);
    assert_eq!(current(&app), "vehicles");
    let s = app.session.as_ref().expect("session");
    assert_eq!(
        s.interview
            .answer_of(&ItemPath::parse("members[1].birth_date").expect("path")),
        Some(&Answer::DontKnow)
    );
}

#[test]
fn contents_review_and_help() {
    let mut app = at_vehicles();
    send(&mut app, &[Action::Contents]);
    insta::assert_snapshot!("contents", screen(&app));
    send(&mut app, &[Action::Escape, Action::Review]);
    insta::assert_snapshot!("review", screen(&app));
    send(&mut app, &[Action::Escape, Action::Help]);
    insta::assert_snapshot!("help", screen(&app));
    // A review entry is a jump.
    send(&mut app, &[Action::Escape, Action::Review, Action::Enter]);
    assert_eq!(app.popup, None);
    assert_eq!(current(&app), "vehicles");
}

#[test]
fn self_completion_hides_and_returns() {
    let mut answers = BTreeMap::new();
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/answers/example-complete.yaml"),
    )
    .expect("fixture");
    let script = crate::interview::script::Script::parse(example(), &text).expect("script");
    for (p, a) in script.answers {
        if p.item != "harassed" && p.item != "bribe_reported" {
            answers.insert(p, a);
        }
    }
    answers.insert(ItemPath::top("respondent"), Answer::Int(1));
    answers.insert(ItemPath::top("respondent_alt"), Answer::Int(1));
    answers.insert(ItemPath::top("bribe_case"), Answer::Int(1));
    let mut store = MemoryStore::default();
    store.create().expect("create");
    store.cases[0].1 = Saved {
        answers,
        position: Some(ItemPath::top("bribe_reported")),
        ..Saved::default()
    };
    let mut app = app_with(store);
    send(&mut app, &[Action::Enter]);
    assert_eq!(current(&app), "bribe_reported");
    typed(&mut app, "2");
    assert_eq!(current(&app), "harassed");
    insta::assert_snapshot!("self_completion_start", screen(&app));
    send(&mut app, &[Action::Enter]);
    insta::assert_snapshot!("self_completion_active", screen(&app));
    // The contents and the roster are closed to the respondent.
    send(&mut app, &[Action::Contents]);
    assert_eq!(app.popup, None);
    send(&mut app, &[Action::Enter]); // yes highlighted; the last question
    insta::assert_snapshot!("self_completion_return", screen(&app));
    // Only the enumerator's id lets the earlier answers show again.
    send(&mut app, &[Action::Back, Action::Escape]);
    typed(&mut app, "X");
    assert!(matches!(
        app.session.as_ref().map(|s| &s.self_completion),
        Some(SelfCompletion::Return { .. })
    ));
    send(&mut app, &[Action::Backspace]);
    typed(&mut app, "E07");
    assert!(matches!(
        app.session.as_ref().map(|s| &s.self_completion),
        Some(SelfCompletion::Off)
    ));
    assert_eq!(current(&app), "harassed");
}

#[test]
fn a_failed_commit_keeps_the_screen_and_says_so() {
    let mut app = at_household_size();
    let failing = MemoryStore {
        fail: true,
        ..MemoryStore::default()
    };
    // Swap in a failing store with the same case.
    let _ = std::mem::replace(&mut app.store, Box::new(failing));
    typed(&mut app, "3");
    assert_eq!(current(&app), "hh_size");
    let s = app.session.as_ref().expect("session");
    assert_eq!(s.interview.answer_of(&ItemPath::top("hh_size")), None);
    assert!(matches!(&app.message, Some((_, m)) if m.contains("disk full")));
}

#[test]
fn outcome_of_a_non_interview() {
    let mut store = MemoryStore::default();
    store.create().expect("create");
    let mut app = app_with(store);
    send(&mut app, &[Action::Char('o'), Action::Down, Action::Down]);
    insta::assert_snapshot!("outcome_popup", screen(&app));
    send(&mut app, &[Action::Enter]);
    assert_eq!(app.cases[0].outcome, Some(Outcome::Refused));
    assert_eq!(app.screen, Screen::Cases);
}

#[test]
fn meaningless_keys_give_a_hint() {
    let mut app = app_with(MemoryStore::default());
    send(&mut app, &[Action::Char('z')]);
    assert!(app.message.is_some());
    assert!(app.popup.is_none());
}

#[test]
fn a_roster_correction_that_redraws_the_respondent_says_so() {
    let mut app = at_household_size();
    typed(&mut app, "2");
    for (name, sex, born) in [("Ana", "2", "1980-04-02"), ("Ben", "1", "1975-01-01")] {
        typed(&mut app, name);
        typed(&mut app, sex);
        typed(&mut app, born);
    }
    let respondent = |app: &App| {
        app.session.as_ref().and_then(|s| {
            s.interview
                .answer_of(&ItemPath::parse("respondent").expect("a path"))
                .cloned()
        })
    };
    assert_eq!(current(&app), "vehicles");
    assert_eq!(respondent(&app), Some(Answer::Int(1)));
    // Ana's birth date was wrong: she is a child, so Ben must be drawn.
    send(&mut app, &[Action::Back; 4]);
    assert_eq!(current(&app), "members[1].birth_date");
    for _ in 0.."1980-04-02".len() {
        app.handle(Action::Backspace);
    }
    typed(&mut app, "2015-01-01");
    assert_eq!(respondent(&app), Some(Answer::Int(2)));
    let (tone, text) = app.message.clone().expect("the enumerator is told");
    assert_eq!(tone, Tone::Warning);
    assert!(text.contains("row 2 instead of row 1"), "{text}");
    insta::assert_snapshot!("respondent_redrawn", screen(&app));
}
