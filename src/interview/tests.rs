//! Engine tests on the bundled example instrument: scripted interviews,
//! relevance, checks, rosters, random selection, and invariants under
//! random sequences of actions (proptest).

use std::collections::BTreeMap;
use std::path::Path;

use jiff::civil::date;
use proptest::prelude::*;

use crate::instrument::Instrument;
use crate::interview::script::{RunEnd, Script, drive};
use crate::interview::*;

fn example() -> Instrument {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let checked = crate::instrument::validate(&root.join("instruments/example.yaml"));
    assert!(!checked.has_errors(), "{}", checked.render());
    checked.instrument.expect("the example instrument loads")
}

fn script(instrument: &Instrument, text: &str) -> Script {
    Script::parse(instrument, text).unwrap_or_else(|d| panic!("bad script: {d:?}"))
}

/// Runs a script to its end, collecting every update.
fn run(instrument: &Instrument, text: &str) -> (RunEnd, Vec<Update>, BTreeMap<ItemPath, Answer>) {
    let mut interview = Interview::new(instrument, date(2026, 3, 15), 7, Saved::default());
    let mut updates = Vec::new();
    let end = drive::<()>(
        &mut interview,
        &script(instrument, text),
        &mut |_, u| {
            updates.push(u.clone());
            Ok(())
        },
        &mut |_, _| {},
    )
    .expect("the script runs");
    (end, updates, interview.answers().clone())
}

fn p(text: &str) -> ItemPath {
    ItemPath::parse(text).expect("a valid path")
}

#[test]
fn complete_script_completes() {
    let inst = example();
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/answers/example-complete.yaml"),
    )
    .expect("fixture");
    let (end, updates, answers) = run(&inst, &text);
    assert_eq!(end, RunEnd::Completed);
    assert_eq!(
        answers.get(&p("members[2].name")),
        Some(&Answer::Text("Ben".into()))
    );
    assert_eq!(
        answers.get(&p("vehicle_thefts[3].loss")),
        Some(&Answer::Decimal(120.5))
    );
    assert_eq!(
        answers.get(&p("official_types[3].contact")),
        Some(&Answer::DontKnow)
    );
    // Both adults are eligible; the Kish draw picked one of them and logged it.
    let drawn = answers.get(&p("respondent")).expect("respondent drawn");
    assert!(
        matches!(drawn, Answer::Int(1) | Answer::Int(2)),
        "{drawn:?}"
    );
    let selection = updates
        .iter()
        .flat_map(|u| &u.events)
        .find(|e| e.kind == EventKind::RandomSelection && e.path == Some(p("respondent")))
        .expect("selection event");
    assert!(
        selection
            .new
            .as_deref()
            .is_some_and(|n| n.contains("eligible=2")),
        "{selection:?}"
    );
    // Only the police contact had a bribe, so the bribery case is row 1.
    assert_eq!(answers.get(&p("bribe_case")), Some(&Answer::Int(1)));
    assert_eq!(
        updates.last().and_then(|u| u.completed),
        Some(Outcome::Complete)
    );
}

#[test]
fn script_stops_at_first_missing_answer() {
    let inst = example();
    let (end, _, _) = run(&inst, "consent: 1\nhh_size: 1\n");
    assert_eq!(end, RunEnd::NeedsAnswer(p("members[1].name")));
}

#[test]
fn refusal_to_consent_skips_everything() {
    let inst = example();
    let (end, updates, answers) = run(&inst, "consent: 2\n");
    assert_eq!(end, RunEnd::Completed);
    assert_eq!(answers.len(), 1);
    // The instrument's outcome rule: a refusal, not a complete interview.
    let last = updates.last().expect("a completion");
    assert_eq!(last.completed, Some(Outcome::Refused));
    let done = last
        .events
        .iter()
        .find(|e| e.kind == EventKind::Complete)
        .expect("the complete event");
    assert_eq!(done.new.as_deref(), Some("refused"));
}

#[test]
fn outcome_rules_are_read_in_order_and_default_to_complete() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let checked = crate::instrument::validate(&root.join("instruments/victimization.yaml"));
    let inst = checked
        .instrument
        .expect("the victimization instrument loads");
    let interview = |text: &str| {
        let mut i = Interview::new(&inst, date(2026, 3, 15), 7, Saved::default());
        drive::<()>(
            &mut i,
            &script(&inst, text),
            &mut |_, _| Ok(()),
            &mut |_, _| {},
        )
        .expect("the script runs");
        i
    };
    let door = interview("hh_region: 1\nhh_urban: 1\nhh_consent: 2\n");
    assert_eq!(door.outcome(), Outcome::Refused);
    // Before any rule can be decided (nothing answered): complete.
    assert_eq!(interview("").outcome(), Outcome::Complete);
    // The codes the loader accepts are the engine's outcomes.
    let known: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
    assert_eq!(known, crate::instrument::model::OUTCOME_CODES);
}

#[test]
fn hard_check_blocks_and_stores_nothing() {
    let inst = example();
    let mut answers = BTreeMap::new();
    answers.insert(p("consent"), Answer::Int(1));
    answers.insert(p("hh_size"), Answer::Int(1));
    answers.insert(p("members[1].name"), Answer::Text("Ana".into()));
    answers.insert(p("members[1].sex"), Answer::Int(2));
    answers.insert(p("members[1].birth_date"), Answer::Date(date(1990, 1, 1)));
    answers.insert(p("vehicles"), Answer::Codes(vec![]));
    answers.insert(p("official_types[1].contact"), Answer::Int(1));
    answers.insert(p("official_types[1].n_contacts"), Answer::Int(1));
    answers.insert(
        p("official_types[1].contacts[1].contact_date"),
        Answer::Date(date(2024, 1, 1)),
    );
    let mut interview = Interview::new(
        &inst,
        date(2026, 3, 15),
        7,
        Saved {
            answers,
            ..Saved::default()
        },
    );
    let bribe = p("official_types[1].contacts[1].bribe");
    let refusal = interview
        .answer_at(&bribe, Answer::Int(1), false)
        .expect_err("the rule blocks");
    assert!(
        matches!(refusal, Refusal::Blocked(ref m) if m[0].contains("reference period")),
        "{refusal:?}"
    );
    assert!(interview.answer_of(&bribe).is_none());
    // A "no" passes the same rule.
    let ok = interview
        .answer_at(&bribe, Answer::Int(2), false)
        .expect("no is fine");
    interview.apply(&ok);
    assert_eq!(interview.answer_of(&bribe), Some(&Answer::Int(2)));
}

#[test]
fn soft_check_needs_confirmation_and_is_recorded() {
    let inst = example();
    let mut interview = Interview::new(&inst, date(2026, 3, 15), 7, Saved::default());
    let u = interview.answer(Answer::Int(1), false).expect("consent");
    interview.apply(&u);
    let u = interview.next().expect("next");
    interview.apply(&u); // the note
    let u = interview.next().expect("next");
    interview.apply(&u);
    assert_eq!(interview.current(), Some(&p("hh_size")));
    let r = interview
        .answer(Answer::Int(20), false)
        .expect_err("20 people needs a confirmation");
    assert!(
        matches!(r, Refusal::NeedsConfirmation(ref m) if m[0].starts_with("20 people")),
        "{r:?}"
    );
    let u = interview.answer(Answer::Int(20), true).expect("confirmed");
    assert!(
        u.events
            .iter()
            .any(|e| e.kind == EventKind::WarningConfirmed)
    );
    interview.apply(&u);
    assert!(interview.is_confirmed(&p("hh_size"), 0));
}

#[test]
fn out_of_range_and_wrong_type_are_invalid() {
    let inst = example();
    let mut interview = Interview::new(&inst, date(2026, 3, 15), 7, Saved::default());
    assert!(matches!(
        interview.answer(Answer::Int(3), false),
        Err(Refusal::Invalid(_))
    ));
    assert_eq!(
        interview.answer(Answer::DontKnow, false),
        Err(Refusal::SpecialNotAllowed)
    );
    let u = interview.answer(Answer::Int(1), false).expect("consent");
    interview.apply(&u);
    let at_size = interview
        .jump(&p("hh_size"))
        .expect("hh_size is on the path");
    interview.apply(&at_size);
    assert!(matches!(
        interview.answer(Answer::Int(31), false),
        Err(Refusal::Invalid(crate::interview::engine::Invalid::AtMost(
            30.0
        )))
    ));
    assert!(matches!(
        interview.answer(Answer::Text("x".into()), false),
        Err(Refusal::Invalid(_))
    ));
}

#[test]
fn lowering_a_count_asks_before_dropping_rows() {
    let inst = example();
    let mut answers = BTreeMap::new();
    answers.insert(p("consent"), Answer::Int(1));
    answers.insert(p("hh_size"), Answer::Int(2));
    answers.insert(p("members[1].name"), Answer::Text("Ana".into()));
    answers.insert(p("members[2].name"), Answer::Text("Ben".into()));
    let mut interview = Interview::new(
        &inst,
        date(2026, 3, 15),
        7,
        Saved {
            answers,
            ..Saved::default()
        },
    );
    let size = p("hh_size");
    let r = interview
        .answer_at(&size, Answer::Int(1), false)
        .expect_err("row 2 has answers");
    assert_eq!(
        r,
        Refusal::RowsWouldBeLost {
            roster: "members".into(),
            rows: vec![2]
        }
    );
    // Raising it needs no confirmation.
    assert!(interview.answer_at(&size, Answer::Int(3), false).is_ok());
    let u = interview
        .answer_at(&size, Answer::Int(1), true)
        .expect("confirmed");
    assert!(
        u.events
            .iter()
            .any(|e| e.kind == EventKind::Skipped && e.path == Some(p("members[2].name")))
    );
    interview.apply(&u);
    // Not shown, not exported, but kept while the interview is open.
    assert_eq!(interview.answer_of(&p("members[2].name")), None);
    assert!(
        interview
            .relevant_answers()
            .iter()
            .all(|(p, _)| p.to_string() != "members[2].name")
    );
    assert!(interview.answers().contains_key(&p("members[2].name")));
    // Raising the count again brings Ben back.
    let u = interview
        .answer_at(&size, Answer::Int(2), false)
        .expect("raise");
    assert!(u.events.iter().any(|e| e.kind == EventKind::Restored));
    interview.apply(&u);
    assert_eq!(
        interview.answer_of(&p("members[2].name")),
        Some(&Answer::Text("Ben".into()))
    );
}

#[test]
fn fills_resolve_in_each_language() {
    let inst = example();
    let mut answers = BTreeMap::new();
    answers.insert(p("consent"), Answer::Int(1));
    answers.insert(p("hh_size"), Answer::Int(1));
    answers.insert(p("members[1].name"), Answer::Text("Ana".into()));
    let mut interview = Interview::new(
        &inst,
        date(2026, 3, 15),
        7,
        Saved {
            answers,
            ..Saved::default()
        },
    );
    let sex = interview.item("sex").expect("sex item");
    let rows = p("members[1].sex").rows;
    let text = sex.text.as_ref().expect("text");
    assert_eq!(interview.render(text, &rows), "Is Ana male or female?");
    let months = crate::tui::strings::FR.months;
    interview.set_language("fr", months.iter().map(|m| m.to_string()).collect());
    assert_eq!(
        interview.render(text, &rows),
        "Ana est-il un homme ou une femme ?"
    );
    let note = interview
        .item("interview_note")
        .expect("note")
        .text
        .as_ref()
        .expect("text");
    assert!(
        interview.render(note, &[]).contains("depuis mars 2025"),
        "{}",
        interview.render(note, &[])
    );
}

#[test]
fn resume_keeps_position_and_selection() {
    let inst = example();
    let text = "consent: 1\nhh_size: 2\nmembers:\n  - {name: A, sex: 2, birth_date: 1980-01-01}\n  - {name: B, sex: 1, birth_date: 1970-01-01}\n";
    let mut first = Interview::new(&inst, date(2026, 3, 15), 99, Saved::default());
    let _ = drive::<()>(
        &mut first,
        &script(&inst, text),
        &mut |_, _| Ok(()),
        &mut |_, _| {},
    );
    let saved = Saved {
        answers: first.answers().clone(),
        confirmed: Default::default(),
        position: first.current().cloned(),
        completed: false,
    };
    let chosen = first.answers().get(&p("respondent")).cloned();
    assert!(chosen.is_some());
    let again = Interview::new(&inst, date(2026, 3, 15), 99, saved);
    assert_eq!(again.current(), first.current());
    assert_eq!(again.answers().get(&p("respondent")).cloned(), chosen);
}

/// One step of a random sequence of actions.
#[derive(Debug, Clone)]
enum Action {
    Answer(i64),
    Dk,
    Next,
    Back,
    Jump(usize),
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => (0i64..4).prop_map(Action::Answer),
        1 => Just(Action::Dk),
        4 => Just(Action::Next),
        2 => Just(Action::Back),
        1 => (0usize..40).prop_map(Action::Jump),
    ]
}

/// A plausible answer for the current item from a small number.
fn answer_for(interview: &Interview, n: i64) -> Option<Answer> {
    use crate::instrument::model::ItemKind;
    let path = interview.current()?;
    let item = interview.item(&path.item)?;
    Some(match &item.kind {
        ItemKind::SingleChoice { .. } | ItemKind::YesNo => Answer::Int(1 + n % 2),
        ItemKind::MultipleChoice { .. } => Answer::Codes((1..=n.max(0)).collect()),
        ItemKind::Integer { .. } => Answer::Int(1 + n),
        ItemKind::Decimal { .. } => Answer::Decimal(n as f64 * 1.5),
        ItemKind::Text { .. } => Answer::Text(format!("t{n}")),
        ItemKind::Date { .. } => Answer::Date(date(2025, 1 + n as i8, 10)),
        _ => return None,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_actions_keep_the_invariants(actions in proptest::collection::vec(action(), 1..60)) {
        let inst = example();
        let mut interview = Interview::new(&inst, date(2026, 3, 15), 5, Saved::default());
        let mut stored: BTreeMap<ItemPath, Answer> = BTreeMap::new();
        let mut selections: BTreeMap<ItemPath, Answer> = BTreeMap::new();
        for action in actions {
            let update = match action {
                Action::Answer(n) => answer_for(&interview, n).and_then(|a| interview.answer(a, true).ok()),
                Action::Dk => interview.answer(Answer::DontKnow, true).ok(),
                Action::Next => interview.next().ok(),
                Action::Back => interview.back().ok(),
                Action::Jump(i) => {
                    let target = interview.path().get(i).map(|p| p.path.clone());
                    target.and_then(|t| interview.jump(&t).ok())
                }
            };
            let Some(update) = update else { continue };
            // "Commit": what the store would hold.
            for (path, answer) in &update.answers {
                match answer {
                    Some(a) => { stored.insert(path.clone(), a.clone()); }
                    None => { stored.remove(path); }
                }
            }
            let before: BTreeMap<ItemPath, Answer> = interview.answers().clone();
            interview.apply(&update);
            // Navigation never changes an answer.
            if update.answers.is_empty() {
                prop_assert_eq!(&before, interview.answers());
            }
            // Every answered relevant item has its stored value.
            for (path, answer) in interview.relevant_answers() {
                prop_assert_eq!(stored.get(&path), Some(&answer));
            }
            // The position is always on the path.
            if let Some(cur) = interview.current() {
                prop_assert!(interview.path().iter().any(|p| &p.path == cur));
            }
            // A random selection never changes once made.
            for (path, answer) in interview.answers() {
                let is_random = interview.item(&path.item).is_some_and(|i| matches!(i.kind, crate::instrument::model::ItemKind::Random(_)));
                if is_random {
                    let first = selections.entry(path.clone()).or_insert_with(|| answer.clone());
                    prop_assert_eq!(&*first, answer);
                }
            }
        }
    }

    #[test]
    fn next_then_back_returns(steps in 0usize..12) {
        let inst = example();
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/answers/example-complete.yaml"),
        ).expect("fixture");
        let mut interview = Interview::new(&inst, date(2026, 3, 15), 7, Saved::default());
        let _ = drive::<()>(&mut interview, &script(&inst, &text), &mut |_, _| Ok(()), &mut |_, _| {});
        // Random selections are drawn, not asked: back passes over them.
        let asked: Vec<ItemPath> = interview
            .path()
            .iter()
            .filter(|p| !matches!(interview.item(&p.path.item).map(|i| &i.kind), Some(crate::instrument::model::ItemKind::Random(_))))
            .map(|p| p.path.clone())
            .collect();
        let start = asked[steps.min(asked.len() - 2)].clone();
        let u = interview.jump(&start).expect("on path");
        interview.apply(&u);
        if let Ok(u) = interview.next() {
            interview.apply(&u);
            let u = interview.back().expect("back");
            interview.apply(&u);
            prop_assert_eq!(interview.current(), Some(&start));
        }
    }
}

/// A random selection is the draw on the roster as it stands: a correction
/// that makes the selected member ineligible draws again among those who
/// are (the old draw was kept, so a child could stay selected).
#[test]
fn a_selection_follows_a_corrected_roster() {
    let inst = example();
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/answers/example-complete.yaml"),
    )
    .expect("fixture");
    let mut interview = Interview::new(&inst, date(2026, 3, 15), 7, Saved::default());
    let end = drive::<()>(
        &mut interview,
        &script(&inst, &text),
        &mut |_, _| Ok(()),
        &mut |_, _| {},
    )
    .expect("the script runs");
    assert_eq!(end, RunEnd::Completed);
    let Some(Answer::Int(chosen)) = interview.answer_of(&p("respondent")).cloned() else {
        panic!("a respondent is drawn");
    };
    let other = 3 - chosen;
    // The selected member's birth date was wrong: a child.
    let update = interview
        .answer_at(
            &p(&format!("members[{chosen}].birth_date")),
            Answer::Date(date(2019, 5, 1)),
            true,
        )
        .expect("a valid correction");
    assert!(
        update
            .events
            .iter()
            .any(|e| e.kind == EventKind::RandomSelection
                && e.old.as_deref() == Some(&*chosen.to_string())),
        "the new draw is logged with the old one: {:?}",
        update.events
    );
    interview.apply(&update);
    for item in ["respondent", "respondent_alt"] {
        assert_eq!(
            interview.answer_of(&p(item)),
            Some(&Answer::Int(other)),
            "{item}: the only adult left is selected"
        );
    }
    // Back to the original roster, the original draw comes back (same seed).
    let update = interview
        .answer_at(
            &p(&format!("members[{chosen}].birth_date")),
            Answer::Date(if chosen == 1 {
                date(1980, 4, 2)
            } else {
                date(1975, 11, 30)
            }),
            true,
        )
        .expect("a valid correction");
    interview.apply(&update);
    assert_eq!(
        interview.answer_of(&p("respondent")),
        Some(&Answer::Int(chosen))
    );
}

/// An answer that was valid when given but whose option an earlier change
/// has hidden is reported at completion, like a failing hard check (it was
/// kept and the interview completed with a code the filter forbids).
#[test]
fn an_answer_hidden_by_a_later_option_filter_blocks_completion() {
    let inst = example();
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/answers/example-complete.yaml"),
    )
    .expect("fixture")
    .replace("vehicles: [3, 1]", "vehicles: [3, 1, 4]")
    .replace("  1: {stolen: 2}\n", "  1: {stolen: 2}\n  4: {stolen: 2}\n");
    let mut interview = Interview::new(&inst, date(2026, 3, 15), 7, Saved::default());
    let end = drive::<()>(
        &mut interview,
        &script(&inst, &text),
        &mut |_, _| Ok(()),
        &mut |_, _| {},
    )
    .expect("the script runs");
    assert_eq!(end, RunEnd::Completed);
    // Option 4 is shown only to households of two or more.
    let update = interview
        .answer_at(&p("hh_size"), Answer::Int(1), true)
        .expect("a valid answer");
    interview.apply(&update);
    let problems = interview.completion_problems();
    assert_eq!(
        problems.invalid.first().map(|(path, _)| path.clone()),
        Some(p("vehicles")),
        "{problems:?}"
    );
    assert!(matches!(interview.complete(), Err(Refusal::NotComplete(_))));
    assert_eq!(interview.first_invalid(), Some(p("vehicles")));
    let update = interview
        .answer_at(&p("vehicles"), Answer::Codes(vec![1, 3]), true)
        .expect("the visible options");
    interview.apply(&update);
    assert!(interview.invalid().is_empty(), "{:?}", interview.invalid());
}
