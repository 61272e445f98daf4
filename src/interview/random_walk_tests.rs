//! Random walks: thousands of generated interviews through each bundled
//! instrument (`instruments/*.yaml`), to show that the engine and the
//! questionnaires never meet an engine error, a dead end or a text with an
//! unresolved fill, whatever path a respondent takes.
//!
//! Each interview is seeded (ChaCha8), so a failure names its instrument and
//! seed and can be replayed alone. At every position the walker picks a
//! random *valid* answer for the item kind: a visible option, a number in
//! the range, a date between the evaluated bounds, text within the length,
//! sometimes don't know or refused where allowed. It sometimes goes back,
//! jumps to an earlier position and changes an answer, confirms soft-check
//! warnings or not, and accepts or declines dropping roster rows. It drives
//! until the interview is completed.
//!
//! What is asserted:
//!
//! - **No unexpected refusal.** A generated answer is valid by construction,
//!   so `Invalid`, `SpecialNotAllowed` or `NotOnPath` is an engine or
//!   instrument bug. `Blocked` (a hard check) and `NeedsConfirmation` are
//!   answers of the questionnaire: the walker picks another answer or
//!   confirms.
//! - **No dead end.** Every interview either completes, or `complete()`
//!   lists only critical-rule problems that the generator caused and that
//!   are explained in [`EXPLAINED_CRITICAL`] (a random household roster may
//!   have no reference person, or no adult). A single-choice item with no
//!   visible option, a random selection that cannot draw, or a walk that
//!   does not end are dead ends.
//! - **No unresolved fill.** The engine renders a missing value as "…"
//!   (`format_value`). Here a fill is *unresolved* when its expression
//!   evaluates to a missing value (skipped, not yet asked, unknown, don't
//!   know or refused) at a position where the text is shown: a question
//!   text, an instruction, a visible option label, the row label of an
//!   enclosing roster row, in every language of the instrument. Every such
//!   fill is a failure, not only fills of answered items: a question that
//!   shows "…" to the enumerator is wrong even when the item it names was
//!   legitimately skipped, so the instrument must guard the text (or the
//!   item) instead. Check messages, which the engine renders itself on the
//!   state with the new answer, must not contain "…" or a brace.
//! - **Consistent state.** After every update the position is on the path
//!   and every random selection names an eligible row of its roster as it
//!   stands; a completed interview holds no choice whose option is hidden
//!   now; an interview rebuilt from its answers and position (a resumed
//!   case) has the same path, position and computed values.

use std::collections::BTreeSet;
use std::path::Path;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::instrument::Instrument;
use crate::instrument::expr::Value;
use crate::instrument::model::{ItemKind, Text};
use crate::interview::*;

/// Interviews per instrument in the default run. The engine re-walks the
/// whole instrument two or three times per action, which in a debug build
/// costs about 0.6 s per victimization interview (some 170 positions), 0.17 s
/// per corruption interview and 0.06 s per example interview. These counts
/// keep the three tests near 30 s of CPU on two shared cores; the ignored
/// test below runs 1,000 per instrument (3,000 interviews, every question
/// reached) and takes about three minutes on one core in debug (165 s
/// measured), too long for every `cargo test`: `.ci/run` runs it with
/// `cargo test --lib -- --ignored`.
/// `VICOR_WALKS=N` sets every count to N (a longer soak).
const QUICK: [(&str, u64); 3] = [
    ("victimization.yaml", 20),
    ("corruption.yaml", 50),
    ("example.yaml", 150),
];

/// Interviews per instrument in the full run.
const FULL: u64 = 1_000;

fn interviews(default: u64) -> u64 {
    std::env::var("VICOR_WALKS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// Steps after which a walk counts as not ending (a long interview has a
/// few hundred positions; back moves and re-answers add some).
const MAX_STEPS: usize = 20_000;

/// Critical rules the generator can break on purpose, with the reason.
const EXPLAINED_CRITICAL: &[(&str, &str)] = &[
    (
        "hh_n_eligible",
        "relationships are drawn at random, so a household may list no reference person or several",
    ),
    (
        "n_adults",
        "birth dates are drawn at random, so a household may have no adult",
    ),
];

fn load(name: &str) -> Instrument {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let checked = crate::instrument::validate(&root.join("instruments").join(name));
    assert!(!checked.has_errors(), "{}", checked.render());
    checked.instrument.expect("a bundled instrument loads")
}

/// How one generated interview ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    Completed,
    /// Only explained critical rules stand between it and completion.
    Critical,
}

/// Counts over all interviews of an instrument, to show the walks went deep.
#[derive(Debug, Default)]
struct Tally {
    completed: u64,
    critical: u64,
    positions: u64,
    fills: u64,
    blocked: u64,
    confirmed: u64,
    rows_dropped: u64,
    items_seen: BTreeSet<String>,
}

struct Walker<'a, 'i> {
    interview: Interview<'i>,
    rng: ChaCha8Rng,
    name: &'a str,
    seed: u64,
    tally: &'a mut Tally,
}

impl Walker<'_, '_> {
    fn fail(&self, what: String) -> ! {
        panic!(
            "{} seed {} at {:?}: {what}",
            self.name,
            self.seed,
            self.interview.current().map(ItemPath::to_string)
        )
    }

    /// Applies an update as the caller of the engine would after a commit,
    /// then checks the invariants of the new state.
    fn apply(&mut self, update: &Update) {
        self.interview.apply(update);
        if !self.interview.path().is_empty() && self.interview.current_index().is_none() {
            self.fail("the position is not on the path".into());
        }
        self.check_selections();
    }

    /// A completed interview holds no choice answer whose option is
    /// hidden now (an earlier answer changed after it was given).
    fn check_options(&self) {
        for pos in self.interview.path() {
            let codes = match self.interview.answer_of(&pos.path) {
                Some(Answer::Int(c)) => vec![*c],
                Some(Answer::Codes(c)) => c.clone(),
                _ => continue,
            };
            let item = self.interview.item(&pos.path.item).expect("an item");
            if item.kind.options().is_empty() {
                continue;
            }
            let visible = self.interview.visible_options(&pos.path);
            if let Some(c) = codes
                .iter()
                .find(|c| !visible.iter().any(|o| o.code == **c))
            {
                self.fail(format!("{} completes with hidden option {c}", pos.path));
            }
        }
    }

    /// Rebuilds the interview from its answers and position, as a resumed
    /// case is: the state is a function of the answers, so the path, the
    /// position and the computed values must be the same.
    fn resume(&mut self) {
        let saved = Saved {
            answers: self.interview.answers().clone(),
            confirmed: Default::default(),
            position: self.interview.current().cloned(),
            completed: self.interview.is_completed(),
        };
        let language = self.interview.language().to_string();
        let mut resumed = Interview::new(
            self.interview.instrument(),
            self.interview.today(),
            self.seed,
            saved,
        );
        resumed.set_language(&language, Vec::new());
        if resumed.path() != self.interview.path()
            || resumed.current() != self.interview.current()
            || resumed.computed() != self.interview.computed()
        {
            self.fail("a resumed interview differs from the live one".into());
        }
        // The export's replay (one index for all cases) walks the same way.
        let replay = crate::interview::walk::Replay::new(self.interview.instrument());
        let walk = replay.walk(resumed.answers(), resumed.today());
        let mut computed: Vec<_> = walk.computed.clone().into_iter().collect();
        computed.sort_by(|a, b| a.0.cmp(&b.0));
        let relevant: Vec<_> = resumed
            .answers()
            .iter()
            .filter(|(p, _)| walk.relevant.contains(*p))
            .map(|(p, a)| (p.clone(), a.clone()))
            .collect();
        if walk.path != resumed.path()
            || computed != resumed.computed()
            || relevant != resumed.relevant_answers()
        {
            self.fail("the export's replay differs from the resumed interview".into());
        }
        let bare = replay.relevance(resumed.answers(), resumed.today());
        if !bare.path.is_empty()
            || bare.relevant != walk.relevant
            || bare.skipped != walk.skipped
            || bare.computed != walk.computed
            || bare.rows != walk.rows
        {
            self.fail("the export's walk without positions differs from the full walk".into());
        }
        self.interview = resumed;
    }

    /// Every random selection on the path names an eligible row of its
    /// roster as it stands now.
    fn check_selections(&self) {
        for pos in self.interview.path() {
            let Some(item) = self.interview.item(&pos.path.item) else {
                continue;
            };
            let ItemKind::Random(selection) = &item.kind else {
                continue;
            };
            let Some(answer) = self.interview.answer_of(&pos.path) else {
                continue;
            };
            let Answer::Int(key) = answer else {
                self.fail(format!("{}: a selection holds {answer:?}", pos.path));
            };
            // The selections of the bundled instruments draw from top-level
            // rosters.
            let rows = self.interview.roster_rows(&[], &selection.roster);
            let row = [RowKey {
                roster: selection.roster.clone(),
                key: *key,
            }];
            let eligible = selection
                .eligible
                .as_ref()
                .is_none_or(|c| self.interview.eval(&row, &c.expr) == Value::Bool(true));
            if !rows.contains(key) || !eligible {
                self.fail(format!(
                    "{} selects row {key} of `{}`, which is not an eligible row now",
                    pos.path, selection.roster
                ));
            }
        }
    }

    fn run(&mut self) -> End {
        let mut force_answer = false;
        let mut completion_tries = 0;
        for _ in 0..MAX_STEPS {
            let Some(path) = self.interview.current().cloned() else {
                // An empty path: nothing to ask, so it must complete.
                return self
                    .finish(&mut completion_tries, &mut force_answer)
                    .unwrap_or_else(|| {
                        self.fail("an interview without a position does not complete".into())
                    });
            };
            self.check_texts(&path);
            let item = self
                .interview
                .item(&path.item)
                .expect("positions name items of the instrument");
            self.tally.positions += 1;
            self.tally.items_seen.insert(path.item.clone());
            if item.kind.is_question() {
                let answered = self.interview.answer_of(&path).is_some();
                if !answered || force_answer || self.rng.random_bool(0.05) {
                    self.answer(&path);
                    force_answer = false;
                }
            }
            // Now and then resume from what the store would hold.
            if self.rng.random_bool(0.01) {
                self.resume();
            }
            // Now and then go back, or jump to an earlier position and
            // change its answer.
            let roll: f64 = self.rng.random();
            if roll < 0.03 {
                if let Ok(update) = self.interview.back() {
                    self.apply(&update);
                }
                continue;
            }
            if roll < 0.05 {
                let here = self.interview.current_index().unwrap_or(0);
                let targets: Vec<ItemPath> = self.interview.path()[..here]
                    .iter()
                    .map(|p| p.path.clone())
                    .filter(|p| {
                        self.interview
                            .item(&p.item)
                            .is_some_and(|i| i.kind.is_question())
                    })
                    .collect();
                if !targets.is_empty() {
                    let target = targets[self.rng.random_range(0..targets.len())].clone();
                    match self.interview.jump(&target) {
                        Ok(update) => self.apply(&update),
                        Err(r) => self.fail(format!("jump to {target} refused: {r:?}")),
                    }
                    force_answer = true;
                }
                continue;
            }
            match self.interview.next() {
                Ok(update) => self.apply(&update),
                Err(Refusal::AtEnd) => {
                    if let Some(end) = self.finish(&mut completion_tries, &mut force_answer) {
                        return end;
                    }
                }
                Err(Refusal::SelectionNotReady) => {
                    // A random selection with an unanswered item before it
                    // (after a jump): answer that first. When everything
                    // before it is answered the selection must draw.
                    let here = self.interview.current_index().unwrap_or(0);
                    let gap = self.interview.first_unanswered();
                    let before = gap
                        .as_ref()
                        .and_then(|g| self.interview.path().iter().position(|p| &p.path == g))
                        .is_some_and(|g| g < here);
                    if !before {
                        self.fail("a random selection cannot draw (no eligible row)".into());
                    }
                    let gap = gap.expect("checked above");
                    let update = self.interview.jump(&gap).expect("a gap is on the path");
                    self.apply(&update);
                }
                Err(r) => self.fail(format!("next refused: {r:?}")),
            }
        }
        self.fail(format!("the walk did not end in {MAX_STEPS} steps"))
    }

    /// Tries to complete at the end of the path; `None` to walk on (the
    /// walker was sent to an unanswered or invalid position).
    fn finish(&mut self, tries: &mut usize, force_answer: &mut bool) -> Option<End> {
        *tries += 1;
        if *tries > 200 {
            self.fail("completion keeps failing".into());
        }
        match self.interview.complete() {
            Ok(update) => {
                self.check_options();
                self.apply(&update);
                if !self.interview.is_completed() {
                    self.fail("a completion update did not complete".into());
                }
                Some(End::Completed)
            }
            Err(Refusal::NotComplete(problems)) => {
                let target = problems
                    .unanswered
                    .first()
                    .cloned()
                    .or_else(|| problems.invalid.first().map(|(p, _)| p.clone()));
                if let Some(target) = target {
                    // Answers skipped by a jump, or hard checks broken by a
                    // changed earlier answer: go there and answer again.
                    match self.interview.jump(&target) {
                        Ok(update) => self.apply(&update),
                        Err(r) => self.fail(format!("{target} to fix is not reachable: {r:?}")),
                    }
                    *force_answer = problems.unanswered.is_empty();
                    return None;
                }
                for (path, message) in &problems.critical {
                    if !EXPLAINED_CRITICAL.iter().any(|(id, _)| *id == path.item) {
                        self.fail(format!("unexplained critical rule at {path}: {message}"));
                    }
                    self.check_message(message);
                }
                Some(End::Critical)
            }
            Err(r) => self.fail(format!("complete refused: {r:?}")),
        }
    }

    /// Answers the question at `path` with random valid answers until one
    /// is taken (hard checks may block some).
    fn answer(&mut self, path: &ItemPath) {
        for _ in 0..200 {
            let answer = self.generate(path);
            match self.interview.answer(answer.clone(), false) {
                Ok(update) => {
                    self.apply(&update);
                    return;
                }
                Err(Refusal::Blocked(messages)) => {
                    self.tally.blocked += 1;
                    messages.iter().for_each(|m| self.check_message(m));
                }
                Err(Refusal::NeedsConfirmation(messages)) => {
                    messages.iter().for_each(|m| self.check_message(m));
                    if self.rng.random_bool(0.7) {
                        self.tally.confirmed += 1;
                        self.confirm(path, answer);
                        return;
                    }
                }
                Err(Refusal::RowsWouldBeLost { .. }) => {
                    if self.rng.random_bool(0.5) {
                        self.tally.rows_dropped += 1;
                        self.confirm(path, answer);
                        return;
                    }
                }
                Err(r) => self.fail(format!("the valid answer {answer:?} was refused: {r:?}")),
            }
        }
        self.fail("no generated answer passes the hard checks".into())
    }

    fn confirm(&mut self, path: &ItemPath, answer: Answer) {
        match self.interview.answer(answer.clone(), true) {
            Ok(update) => self.apply(&update),
            Err(r) => self.fail(format!(
                "{path}: the confirmed {answer:?} was refused: {r:?}"
            )),
        }
    }

    /// A random answer that is valid for the item at `path` as it stands.
    fn generate(&mut self, path: &ItemPath) -> Answer {
        let item = self
            .interview
            .item(&path.item)
            .expect("positions name items");
        if item.allow_dont_know && self.rng.random_bool(0.04) {
            return Answer::DontKnow;
        }
        if item.allow_refused && self.rng.random_bool(0.04) {
            return Answer::Refused;
        }
        match &item.kind {
            ItemKind::SingleChoice { .. } => {
                let visible = self.interview.visible_options(path);
                if visible.is_empty() {
                    self.fail("a single-choice item with no visible option".into());
                }
                // The first option (often "yes, go on") half the time, so
                // that walks get past consent and into the deep sections.
                let i = if self.rng.random_bool(0.5) {
                    0
                } else {
                    self.rng.random_range(0..visible.len())
                };
                Answer::Int(visible[i].code)
            }
            ItemKind::MultipleChoice { .. } => {
                let visible = self.interview.visible_options(path);
                let p = (1.0 / visible.len().max(1) as f64).max(0.2);
                let codes = visible
                    .iter()
                    .filter(|_| self.rng.random_bool(p))
                    .map(|o| o.code)
                    .collect();
                Answer::Codes(codes)
            }
            ItemKind::YesNo => Answer::Int(if self.rng.random_bool(0.6) { 1 } else { 2 }),
            ItemKind::Integer { range } => {
                let min = range.min.unwrap_or(0.0) as i64;
                let max = range.max.map_or(min + 100, |m| m as i64);
                // Small values often (household sizes, counts), any value
                // in the range sometimes.
                let top = if self.rng.random_bool(0.6) {
                    max.min(min + 4)
                } else {
                    max
                };
                Answer::Int(self.rng.random_range(min..=top))
            }
            ItemKind::Decimal { range } => {
                let min = range.min.unwrap_or(-1000.0);
                let max = range.max.unwrap_or(min + 10_000.0);
                let x = min + (max - min) * self.rng.random::<f64>();
                Answer::Decimal(((x * 100.0).floor() / 100.0).clamp(min, max))
            }
            ItemKind::Text { max_length } => {
                let len = self.rng.random_range(1..=max_length.unwrap_or(20).min(20));
                let text: String = (0..len)
                    .map(|_| char::from(b'a' + self.rng.random_range(0..26u8)))
                    .collect();
                Answer::Text(text)
            }
            ItemKind::Date { range } => {
                let today = self.interview.today();
                let bound = |code: &Option<crate::instrument::model::Code>| {
                    code.as_ref()
                        .and_then(|c| match self.interview.eval(&path.rows, &c.expr) {
                            Value::Date(d) => Some(d),
                            _ => None,
                        })
                };
                let min = bound(&range.min).unwrap_or(jiff::civil::date(1920, 1, 1));
                let max = bound(&range.max).unwrap_or(today);
                if max < min {
                    self.fail(format!("an empty date range {min}..{max}"));
                }
                let span = min.until(max).expect("two civil dates").get_days();
                let offset = self.rng.random_range(0..=i64::from(span));
                Answer::Date(
                    min.checked_add(jiff::Span::new().days(offset))
                        .expect("a date inside the range"),
                )
            }
            ItemKind::Note | ItemKind::Computed { .. } | ItemKind::Random(_) => {
                self.fail("asked to answer an item that takes no answer".into())
            }
        }
    }

    /// Every text shown at `path`, in every language: no fill may be missing.
    fn check_texts(&mut self, path: &ItemPath) {
        let item = self.interview.item(&path.item).expect("an item");
        let mut texts: Vec<(&str, &Text)> = Vec::new();
        texts.extend(item.text.iter().map(|t| ("text", t)));
        texts.extend(item.instruction.iter().map(|t| ("instruction", t)));
        for option in self.interview.visible_options(path) {
            texts.push(("option", &option.label));
        }
        for text_kind in texts {
            self.check_fills(text_kind.0, text_kind.1, &path.rows, path);
        }
        // Row labels of the enclosing roster rows, each in its own row.
        for depth in 1..=path.rows.len() {
            let rows = &path.rows[..depth];
            let roster = &rows[depth - 1].roster;
            if let Some(label) = self
                .interview
                .roster(roster)
                .and_then(|r| r.row_label.as_ref())
            {
                // A row label shows the answers of its row once given; the
                // name item of the row is asked first inside the row, so
                // only positions after it are checked.
                let first = self
                    .interview
                    .path()
                    .iter()
                    .position(|p| p.path.rows == rows);
                let here = self.interview.current_index();
                if first.is_some() && first < here {
                    self.check_fills("row label", label, rows, path);
                }
            }
        }
    }

    fn check_fills(&mut self, what: &str, text: &Text, rows: &[RowKey], path: &ItemPath) {
        for (lang, fills) in &text.fills {
            for fill in fills {
                self.tally.fills += 1;
                let value = self.interview.eval(rows, &fill.expr);
                if let Value::Missing(m) = value {
                    let source = &text.get(lang)[fill.start..fill.end];
                    self.fail(format!(
                        "{path}: the {what} in `{lang}` shows \"…\" for {source} ({m:?}): {:?}",
                        text.get(lang)
                    ));
                }
            }
        }
    }

    fn check_message(&self, message: &str) {
        if message.contains('…') || message.contains('{') || message.contains('}') {
            self.fail(format!("a check message renders badly: {message:?}"));
        }
    }
}

/// Walks `n` generated interviews (seeds 0..n) through one instrument.
fn walk_instrument(instrument: &Instrument, name: &str, n: u64) -> Tally {
    let mut tally = Tally::default();
    for seed in 0..n {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Interview dates over four years: reference periods cross year
        // ends and leap days.
        let today = jiff::civil::date(2024, 1, 1)
            .checked_add(jiff::Span::new().days(rng.random_range(0..1461)))
            .expect("a date in range");
        let mut interview = Interview::new(instrument, today, seed, Saved::default());
        let languages = instrument.languages.clone();
        let lang = &languages[rng.random_range(0..languages.len())];
        interview.set_language(lang, Vec::new());
        let mut walker = Walker {
            interview,
            rng,
            name,
            seed,
            tally: &mut tally,
        };
        match walker.run() {
            End::Completed => tally.completed += 1,
            End::Critical => tally.critical += 1,
        }
    }
    tally
}

/// Every question of the instrument, by id.
fn questions(instrument: &Instrument) -> BTreeSet<String> {
    fn visit(nodes: &[crate::instrument::model::Node], out: &mut BTreeSet<String>) {
        for node in nodes {
            match node {
                crate::instrument::model::Node::Item(item) => {
                    if item.kind.is_question() {
                        out.insert(item.id.clone());
                    }
                }
                crate::instrument::model::Node::Roster(r) => visit(&r.nodes, out),
            }
        }
    }
    let mut out = BTreeSet::new();
    for section in &instrument.sections {
        visit(&section.nodes, &mut out);
    }
    out
}

/// Walks `n` interviews through `name`; with `every_question`, asserts
/// that the walks reached every question of the instrument.
fn assert_walks(name: &str, n: u64, every_question: bool) {
    let instrument = load(name);
    let n = interviews(n);
    let tally = walk_instrument(&instrument, name, n);
    if every_question {
        let never: Vec<String> = questions(&instrument)
            .difference(&tally.items_seen)
            .cloned()
            .collect();
        assert!(never.is_empty(), "{name}: never asked: {never:?}");
    }
    // Explained critical endings are allowed, but most walks complete.
    assert_eq!(tally.completed + tally.critical, n);
    assert!(
        tally.completed >= n / 4,
        "{name}: only {} of {n} completed",
        tally.completed
    );
    assert!(
        tally.fills > n && tally.positions > n * 5,
        "{name}: {tally:?}"
    );
}

fn quick(name: &str) -> u64 {
    QUICK
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, count)| *count)
        .expect("a quick count for every bundled instrument")
}

#[test]
fn random_walks_through_the_victimization_survey() {
    assert_walks("victimization.yaml", quick("victimization.yaml"), false);
}

#[test]
fn random_walks_through_the_corruption_survey() {
    assert_walks("corruption.yaml", quick("corruption.yaml"), false);
}

#[test]
fn random_walks_through_the_example() {
    assert_walks("example.yaml", quick("example.yaml"), false);
}

#[test]
#[ignore = "3,000 interviews, about three minutes in debug: .ci/run runs it"]
fn thousands_of_random_walks_reach_every_question() {
    for (name, _) in QUICK {
        assert_walks(name, FULL, true);
    }
}

/// The checker itself: a question whose fill names a skipped item is
/// reported, so a clean run means something.
#[test]
#[should_panic(expected = "shows \"…\" for {weapon}")]
fn a_fill_of_a_skipped_item_is_caught() {
    let text = r#"
id: t
version: "1"
title: {en: T}
languages: [en]
default_language: en
sections:
  - id: s
    title: {en: S}
    items:
      - id: attacked
        type: yesno
        text: {en: "Were you attacked?"}
        dk: false
        rf: false
      - id: weapon
        type: text
        when: "attacked == 1"
        text: {en: "With what?"}
        dk: false
        rf: false
      - id: again
        type: yesno
        text: {en: "Was it with {weapon} again?"}
        dk: false
        rf: false
"#;
    let checked = crate::instrument::validate_str("t.yaml", text);
    let instrument = checked.instrument.expect("the small instrument loads");
    walk_instrument(&instrument, "t.yaml", 50);
}
