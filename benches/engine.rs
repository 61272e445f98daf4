//! One engine step on an instrument of 500 items with rosters (target:
//! under 1 ms), and the interface: keystroke to finished frame on the
//! largest bundled instrument (target: under 5 ms) and start-up to the first
//! frame (target: under 200 ms, terminal set-up aside).

use std::fmt::Write;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::civil::date;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use vicor::interview::{Answer, Interview, ItemPath, Outcome, Saved, Update};
use vicor::tui::{App, CaseRow, CaseStore, Opened, draw, keys::Action};

/// 20 sections of 20 items, and a roster of 5 rows × 20 items: 500 items
/// on the path, each with a relevance condition on the one before.
fn big_instrument() -> String {
    let mut y =
        String::from("id: big\nversion: \"1\"\ntitle: {en: Big}\nlanguages: [en]\nsections:\n");
    for s in 0..20 {
        let _ = write!(
            y,
            "  - id: s{s}\n    title: {{en: Section {s}}}\n    items:\n"
        );
        for i in 0..20 {
            let id = format!("q{s}_{i}");
            let when = if i > 0 {
                format!(
                    "\n        when: not answered(q{s}_{p}) or q{s}_{p} != 99",
                    p = i - 1
                )
            } else {
                String::new()
            };
            let _ = write!(
                y,
                "      - id: {id}\n        type: integer{when}\n        text: {{en: \"Question {id} ({{q{s}_0}})\"}}\n        range: {{min: 0, max: 50}}\n"
            );
        }
    }
    y.push_str("  - id: r\n    title: {en: Roster}\n    items:\n      - roster: people\n        title: {en: People}\n        count: 5\n        items:\n");
    for i in 0..20 {
        let _ = write!(
            y,
            "          - id: p{i}\n            type: integer\n            text: {{en: P{i}}}\n"
        );
    }
    y.push_str("      - id: total\n        type: computed\n        value: sum(people, p0)\n");
    y
}

fn engine_step(c: &mut Criterion) {
    let checked = vicor::instrument::validate_str("big.yaml", &big_instrument());
    assert!(!checked.has_errors(), "{}", checked.render());
    let instrument = checked.instrument.expect("loads");
    // Half the questionnaire answered.
    let mut saved = Saved::default();
    for s in 0..10 {
        for i in 0..20 {
            saved
                .answers
                .insert(ItemPath::top(&format!("q{s}_{i}")), Answer::Int(i));
        }
    }
    saved.position = Some(ItemPath::top("q10_0"));
    let interview = Interview::new(&instrument, date(2026, 3, 1), 1, saved);
    assert!(
        interview.path().len() >= 500,
        "{} positions",
        interview.path().len()
    );
    c.bench_function("engine step (500 items): answer + apply + next", |b| {
        b.iter_batched(
            || {
                Interview::new(
                    &instrument,
                    date(2026, 3, 1),
                    1,
                    Saved {
                        answers: interview.answers().clone(),
                        position: interview.current().cloned(),
                        ..Saved::default()
                    },
                )
            },
            |mut engine| {
                let u = engine.answer(Answer::Int(7), false).expect("valid");
                engine.apply(&u);
                let n = engine.next().expect("next");
                engine.apply(&n);
                engine
            },
            criterion::BatchSize::SmallInput,
        )
    });
}

/// Cases in memory, for timing the interface without a disk.
struct Memory(Vec<(CaseRow, Saved)>);

impl CaseStore for Memory {
    fn list(&mut self) -> Result<Vec<CaseRow>, String> {
        Ok(self.0.iter().map(|c| c.0.clone()).collect())
    }
    fn create(&mut self) -> Result<String, String> {
        let id = format!("case{}", self.0.len());
        self.0.push((
            CaseRow {
                id: id.clone(),
                status: vicor::interview::CaseStatus::New,
                outcome: None,
                modified: String::new(),
                enumerator: "B".into(),
                review: None,
            },
            Saved::default(),
        ));
        Ok(id)
    }
    fn open(&mut self, _: &str) -> Result<Opened, String> {
        Ok(Opened {
            saved: Saved::default(),
            seed: 1,
            today: date(2026, 3, 1),
        })
    }
    fn commit(&mut self, _: &str, _: &Update, _: &Interview) -> Result<(), String> {
        Ok(())
    }
    fn set_outcome(&mut self, _: &str, _: Outcome) -> Result<(), String> {
        Ok(())
    }
    fn add_note(&mut self, _: &str, _: &ItemPath, _: &str) -> Result<(), String> {
        Ok(())
    }
}

fn interface(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("instruments/victimization.yaml");
    let instrument = vicor::instrument::validate(&path)
        .instrument
        .expect("bundled instrument loads");
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test terminal");
    let mut app = App::new(&instrument, Box::new(Memory(Vec::new())), "B", None);
    app.handle(Action::Char('n'));
    c.bench_function("keystroke to frame (victimization)", |b| {
        b.iter(|| {
            app.handle(Action::Char('1'));
            app.handle(Action::Backspace);
            terminal.draw(|f| draw::draw(&app, f)).expect("draw");
        })
    });
    c.bench_function("start-up to first frame (victimization)", |b| {
        b.iter(|| {
            let instrument = vicor::instrument::validate(&path)
                .instrument
                .expect("loads");
            let app = App::new(&instrument, Box::new(Memory(Vec::new())), "B", None);
            let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test terminal");
            terminal.draw(|f| draw::draw(&app, f)).expect("draw");
        })
    });
}

criterion_group!(benches, engine_step, interface);
criterion_main!(benches);
