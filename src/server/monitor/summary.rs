//! The per-case monitoring summary: one row of `monitor_cases` computed from
//! a case's copy (record, answers, paradata) and facts of its instrument.
//!
//! Pure: no database, no clock. The push stores the row in the transaction
//! that stores the copy, so the monitoring page reads a table of one row per
//! case instead of the events (about 7 s at 100,000 cases when it did).
//! Every rule and threshold here is defined in `docs/monitoring.md`.

use std::collections::{HashMap, HashSet};

use crate::instrument::Instrument;
use crate::instrument::expr::eval::Value;
use crate::instrument::model::{ItemKind, Node};
use crate::interview::{Interview, Saved};
use crate::store::session::{case_seed, engine_answers, interview_date};
use crate::store::sync::{CASE_TABLES, CaseCopy, Cell};
use crate::store::{CaseId, StoredAnswer};

/// Reading speed above which a question cannot have been read out: 4 words
/// a second (240 a minute; reading aloud runs at 150 to 180).
pub const WORDS_PER_SECOND: f64 = 4.0;
/// No question is read in less than this, however short.
pub const MIN_READING_S: f64 = 1.0;
/// A gap between two events longer than this is a pause, not interview time.
pub const PAUSE_S: f64 = 30.0 * 60.0;
/// The wall clock and the monotonic clock disagreeing by more than this
/// between two events is a clock jump (a changed device clock).
pub const CLOCK_JUMP_S: f64 = 120.0;
/// A grid is this many consecutive single-choice questions or more with the
/// same answer options.
pub const GRID_MIN_ITEMS: usize = 4;

/// What the summary needs to know of an instrument, computed once per
/// version and cached by the server.
#[derive(Debug, Default)]
pub struct InstrumentFacts {
    /// Minimum reading time of each question, by item id, in seconds.
    pub reading_s: HashMap<String, f64>,
    /// Grids: runs of single-choice questions sharing their options.
    pub grids: Vec<Vec<String>>,
    /// Crime screeners (items with an ICCS code): a "yes" (1) is an incident.
    pub screeners: HashSet<String>,
    /// The instrument itself: the indicator inputs are computed variables,
    /// which the store does not keep, so the engine recomputes them.
    pub instrument: Option<Instrument>,
}

impl InstrumentFacts {
    pub fn of(instrument: &Instrument) -> InstrumentFacts {
        let mut facts = InstrumentFacts {
            instrument: Some(instrument.clone()),
            ..InstrumentFacts::default()
        };
        let language = instrument.default_language.as_str();
        fn walk(nodes: &[Node], language: &str, facts: &mut InstrumentFacts) {
            // The current run of single-choice items and their option codes.
            let mut run: Vec<String> = Vec::new();
            let mut run_codes: Option<Vec<i64>> = None;
            let close = |run: &mut Vec<String>, facts: &mut InstrumentFacts| {
                if run.len() >= GRID_MIN_ITEMS {
                    facts.grids.push(std::mem::take(run));
                }
                run.clear();
            };
            for node in nodes {
                match node {
                    Node::Item(item) => {
                        if item.kind.is_question()
                            && let Some(text) = &item.text
                        {
                            let words = text.get(language).split_whitespace().count();
                            let s = (words as f64 / WORDS_PER_SECOND).max(MIN_READING_S);
                            facts.reading_s.insert(item.id.clone(), s);
                        }
                        if item.iccs.is_some() && matches!(item.kind, ItemKind::YesNo) {
                            facts.screeners.insert(item.id.clone());
                        }
                        match &item.kind {
                            ItemKind::SingleChoice { options } => {
                                let codes: Vec<i64> = options.iter().map(|o| o.code).collect();
                                if run_codes.as_ref() != Some(&codes) {
                                    close(&mut run, facts);
                                    run_codes = Some(codes);
                                }
                                run.push(item.id.clone());
                            }
                            // Notes and computed items do not break a grid.
                            ItemKind::Note | ItemKind::Computed { .. } => {}
                            _ => {
                                close(&mut run, facts);
                                run_codes = None;
                            }
                        }
                    }
                    Node::Roster(roster) => {
                        close(&mut run, facts);
                        run_codes = None;
                        walk(&roster.nodes, language, facts);
                    }
                }
            }
            close(&mut run, facts);
        }
        for section in &instrument.sections {
            walk(&section.nodes, language, &mut facts);
        }
        facts
    }
}

/// One case as the monitoring page counts it.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseSummary {
    pub uuid: String,
    pub enumerator: String,
    pub status: String,
    /// `complete`, `partial`, `refused`, `non_contact`, `ineligible`,
    /// `other`, or `in_progress` for a case not yet finished.
    pub disposition: String,
    pub start_utc: Option<String>,
    pub end_utc: Option<String>,
    /// Interview time: monotonic time between events, pauses left out.
    pub duration_s: Option<f64>,
    pub questions: i32,
    pub fast_answers: i32,
    pub changed_answers: i32,
    pub grids: i32,
    pub straight_grids: i32,
    pub clock_jumps: i32,
    /// The sensitive sections were entered (`privacy_ok` = 1).
    pub sensitive_done: bool,
    /// Their mode: by the respondent alone (`sc_mode` = 1) or read aloud.
    pub self_completed: Option<bool>,
    /// Any crime screener answered yes; `None` if no screener was answered.
    pub any_incident: Option<i16>,
    pub region_answer: Option<String>,
    /// The indicator inputs (0/1, `None` when missing), see docs.
    pub safe_dark: Option<i16>,
    pub physical: Option<i16>,
    pub contact: Option<i16>,
    pub bribe: Option<i16>,
    /// Eligible members of the household (the within-household weight).
    pub eligible: Option<i32>,
}

fn column(table: usize, name: &str) -> usize {
    CASE_TABLES[table]
        .1
        .iter()
        .position(|c| *c == name)
        .expect("a column of the case tables")
}

fn text(cell: Option<&Cell>) -> Option<String> {
    match cell? {
        Cell::Text(s) => Some(s.clone()),
        Cell::Int(i) => Some(i.to_string()),
        Cell::Real(r) => Some(r.clone()),
        Cell::Null => None,
    }
}

fn number(cell: Option<&Cell>) -> Option<f64> {
    match cell? {
        Cell::Int(i) => Some(*i as f64),
        Cell::Real(r) | Cell::Text(r) => r.parse().ok(),
        Cell::Null => None,
    }
}

/// The item id of an answer path (`roster[key].item` gives `item`).
fn item_of(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

/// A stored answer of a copy's `answers` row (value type, value, special).
fn stored_answer(row: &[Cell]) -> Option<StoredAnswer> {
    let (kind, value, special) = (row.get(2)?, row.get(3)?, row.get(4)?);
    Some(match (kind.as_text(), value, special.as_text()) {
        (None, Cell::Null, Some("dont_know")) => StoredAnswer::DontKnow,
        (None, Cell::Null, Some("refused")) => StoredAnswer::Refused,
        (Some("int"), Cell::Int(v), None) => StoredAnswer::Int(*v),
        (Some("decimal"), Cell::Real(v), None) => StoredAnswer::Decimal(v.parse().ok()?),
        (Some("text"), Cell::Text(t), None) => StoredAnswer::Text(t.clone()),
        (Some("date"), Cell::Text(t), None) => StoredAnswer::Date(t.parse().ok()?),
        (Some("codes"), Cell::Text(t), None) => StoredAnswer::Codes(serde_json::from_str(t).ok()?),
        _ => return None,
    })
}

/// The computed variables of a finished case, by name (top level only),
/// as the engine derives them from the stored answers.
fn computed(
    copy: &CaseCopy,
    facts: &InstrumentFacts,
    created: Option<&str>,
) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    let (Some(instrument), Ok(id)) = (&facts.instrument, copy.uuid.parse::<CaseId>()) else {
        return out;
    };
    let stored: Vec<(String, StoredAnswer)> = copy
        .tables
        .get(1)
        .into_iter()
        .flatten()
        .filter_map(|row| Some((row.get(1)?.as_text()?.to_string(), stored_answer(row)?)))
        .collect();
    let (answers, _) = engine_answers(stored.iter().map(|(p, a)| (p, a)));
    let created: jiff::Timestamp = created
        .and_then(|c| c.parse().ok())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let today = interview_date(created, &jiff::tz::TimeZone::system());
    let saved = Saved {
        answers,
        completed: true,
        ..Saved::default()
    };
    let engine = Interview::new(instrument, today, case_seed(&id), saved);
    for (path, value) in engine.computed() {
        let v = match value {
            Value::Int(i) => i as f64,
            Value::Decimal(x) => x,
            Value::Bool(b) => f64::from(u8::from(b)),
            _ => continue,
        };
        let name = path.to_string();
        if !name.contains('[') {
            out.insert(name, v);
        }
    }
    out
}

fn seconds_between(a: &str, b: &str) -> Option<f64> {
    let a: jiff::Timestamp = a.parse().ok()?;
    let b: jiff::Timestamp = b.parse().ok()?;
    Some(b.duration_since(a).as_secs_f64())
}

/// The summary of one case.
pub fn summarize(copy: &CaseCopy, facts: &InstrumentFacts) -> CaseSummary {
    let record = copy.tables.first().and_then(|t| t.first());
    let field = |name: &str| text(record.and_then(|r| r.get(column(0, name))));
    let status = field("status").unwrap_or_default();
    let disposition = match (status.as_str(), field("outcome")) {
        ("completed", Some(o)) => o,
        ("completed", None) => "complete".to_string(),
        _ => "in_progress".to_string(),
    };

    // Answers: the final values, by item for top-level items.
    let (a_path, a_value) = (column(1, "path"), column(1, "value"));
    let mut values: HashMap<&str, f64> = HashMap::new();
    let mut region_answer = None;
    let mut any_incident: Option<i16> = None;
    let mut questions = 0;
    for row in copy.tables.get(1).into_iter().flatten() {
        let Some(Cell::Text(path)) = row.get(a_path) else {
            continue;
        };
        let value = number(row.get(a_value));
        let item = item_of(path);
        if facts.reading_s.contains_key(item) {
            questions += 1;
        }
        if facts.screeners.contains(item)
            && let Some(v) = value
        {
            let yes = i16::from(v == 1.0);
            any_incident = Some(any_incident.unwrap_or(0).max(yes));
        }
        if path == "hh_region" {
            region_answer = text(row.get(a_value));
        }
        if let Some(v) = value
            && !path.contains('[')
        {
            values.insert(path.as_str(), v);
        }
    }
    // Only finished cases need the indicator inputs (and the engine's time).
    let derived = if status == "completed" {
        computed(copy, facts, field("created_utc").as_deref())
    } else {
        HashMap::new()
    };
    let indicator = |name: &str| {
        derived
            .get(name)
            .filter(|v| **v == 0.0 || **v == 1.0)
            .map(|v| *v as i16)
    };
    let grids = facts
        .grids
        .iter()
        .filter(|g| g.iter().filter(|i| values.contains_key(i.as_str())).count() >= GRID_MIN_ITEMS);
    let (mut n_grids, mut straight) = (0, 0);
    for grid in grids {
        n_grids += 1;
        let answered: Vec<f64> = grid
            .iter()
            .filter_map(|i| values.get(i.as_str()).copied())
            .collect();
        if answered.len() == grid.len() && answered.windows(2).all(|w| w[0] == w[1]) {
            straight += 1;
        }
    }

    // Paradata: times between consecutive events of one sitting.
    let (e_kind, e_path, e_old, e_new, e_utc, e_mono) = (
        column(2, "kind"),
        column(2, "path"),
        column(2, "old_value"),
        column(2, "new_value"),
        column(2, "utc"),
        column(2, "monotonic_ns"),
    );
    let events = copy.tables.get(2).map(Vec::as_slice).unwrap_or(&[]);
    let (mut duration, mut fast, mut changed, mut jumps) = (0.0, 0, 0, 0);
    let mut previous: Option<(String, i64)> = None;
    for row in events {
        let kind = text(row.get(e_kind)).unwrap_or_default();
        let utc = text(row.get(e_utc)).unwrap_or_default();
        let mono = match row.get(e_mono) {
            Some(Cell::Int(n)) => *n,
            _ => 0,
        };
        if kind == "clear" {
            changed += 1;
        }
        if kind == "answer" {
            let old = text(row.get(e_old));
            if old.is_some() && old != text(row.get(e_new)) {
                changed += 1;
            }
        }
        // A resume starts a new sitting (and maybe a new monotonic clock).
        if let Some((p_utc, p_mono)) = previous.as_ref().filter(|_| kind != "resume") {
            let gap = (mono - p_mono) as f64 / 1e9;
            if (0.0..=PAUSE_S).contains(&gap) {
                duration += gap;
                if let Some(wall) = seconds_between(p_utc, &utc)
                    && (wall - gap).abs() > CLOCK_JUMP_S
                {
                    jumps += 1;
                }
                if kind == "answer"
                    && let Some(Cell::Text(path)) = row.get(e_path)
                    && let Some(min) = facts.reading_s.get(item_of(path))
                    && gap < *min
                {
                    fast += 1;
                }
            }
        }
        previous = Some((utc, mono));
    }
    let first_utc = events.first().and_then(|r| text(r.get(e_utc)));
    let last_utc = events.last().and_then(|r| text(r.get(e_utc)));
    CaseSummary {
        uuid: copy.uuid.clone(),
        enumerator: field("enumerator").unwrap_or_default(),
        status,
        disposition,
        start_utc: first_utc,
        end_utc: last_utc,
        duration_s: (events.len() > 1).then_some(duration),
        questions,
        fast_answers: fast,
        changed_answers: changed,
        grids: n_grids,
        straight_grids: straight,
        clock_jumps: jumps,
        sensitive_done: values.get("privacy_ok") == Some(&1.0),
        self_completed: values.get("sc_mode").map(|m| *m == 1.0),
        any_incident,
        region_answer,
        safe_dark: indicator("sdg_1614_safe"),
        physical: indicator("sdg_1613_physical"),
        contact: indicator("sdg_1651_contact"),
        bribe: indicator("sdg_1651_bribe"),
        eligible: derived
            .get("sdg_n_eligible")
            .or(values.get("hh_n_eligible"))
            .map(|m| *m as i32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(answers: &[(&str, Cell)], events: &[(&str, Option<&str>, &str, i64)]) -> CaseCopy {
        let uuid = "7d0c5b0e-3b8e-4a51-9d55-0d5b8a7c2f10".to_string();
        let t = |s: &str| Cell::Text(s.to_string());
        let mut record = vec![Cell::Null; CASE_TABLES[0].1.len()];
        record[0] = t(&uuid);
        record[column(0, "enumerator")] = t("ana");
        record[column(0, "status")] = t("completed");
        record[column(0, "outcome")] = t("complete");
        let answers = answers
            .iter()
            .map(|(p, v)| vec![t(&uuid), t(p), t("integer"), v.clone(), Cell::Null])
            .collect();
        let events = events
            .iter()
            .enumerate()
            .map(|(i, (kind, path, utc, mono))| {
                let mut row = vec![Cell::Null; CASE_TABLES[2].1.len()];
                row[0] = t(&uuid);
                row[column(2, "seq")] = Cell::Int(i as i64 + 1);
                row[column(2, "kind")] = t(kind);
                row[column(2, "path")] = path.map_or(Cell::Null, t);
                row[column(2, "utc")] = t(utc);
                row[column(2, "monotonic_ns")] = Cell::Int(mono * 1_000_000_000);
                row
            })
            .collect();
        CaseCopy {
            uuid,
            tables: vec![vec![record], answers, events, vec![], vec![]],
        }
    }

    fn facts() -> InstrumentFacts {
        let mut f = InstrumentFacts::default();
        for (item, s) in [("q1", 3.0), ("q2", 3.0), ("g1", 1.0), ("g2", 1.0)] {
            f.reading_s.insert(item.to_string(), s);
        }
        f.grids = vec![vec!["g1".into(), "g2".into(), "g3".into(), "g4".into()]];
        f.screeners.insert("q2".into());
        f
    }

    #[test]
    fn an_answer_given_before_the_question_can_be_read_is_fast() {
        let c = copy(
            &[("q1", Cell::Int(1)), ("q2", Cell::Int(2))],
            &[
                ("navigate", None, "2026-10-05T09:00:00Z", 0),
                ("answer", Some("q1"), "2026-10-05T09:00:05Z", 5),
                ("answer", Some("q2"), "2026-10-05T09:00:06Z", 6),
            ],
        );
        let s = summarize(&c, &facts());
        assert_eq!((s.questions, s.fast_answers), (2, 1));
        assert_eq!(s.duration_s, Some(6.0));
        assert_eq!(s.any_incident, Some(0), "q2 is a screener answered no");
        assert_eq!(s.clock_jumps, 0);
    }

    #[test]
    fn a_wall_clock_that_moves_apart_from_the_monotonic_one_is_a_jump() {
        let c = copy(
            &[],
            &[
                ("navigate", None, "2026-10-05T09:00:00Z", 0),
                ("navigate", None, "2026-10-05T11:00:10Z", 10),
                ("navigate", None, "2026-10-05T11:00:20Z", 20),
            ],
        );
        assert_eq!(summarize(&c, &facts()).clock_jumps, 1);
    }

    #[test]
    fn pauses_do_not_count_as_interview_time_and_resume_starts_a_sitting() {
        let c = copy(
            &[],
            &[
                ("navigate", None, "2026-10-05T09:00:00Z", 0),
                ("navigate", None, "2026-10-05T09:10:00Z", 600),
                ("pause", None, "2026-10-05T09:10:00Z", 600),
                // The laptop restarted: a new monotonic clock.
                ("resume", None, "2026-10-06T09:00:00Z", 5),
                ("navigate", None, "2026-10-06T09:01:00Z", 65),
            ],
        );
        let s = summarize(&c, &facts());
        assert_eq!(s.duration_s, Some(660.0));
        assert_eq!(s.clock_jumps, 0);
    }

    #[test]
    fn a_grid_answered_with_one_code_throughout_is_straight_lined() {
        let same: Vec<(&str, Cell)> = ["g1", "g2", "g3", "g4"]
            .iter()
            .map(|g| (*g, Cell::Int(3)))
            .collect();
        let s = summarize(&copy(&same, &[]), &facts());
        assert_eq!((s.grids, s.straight_grids), (1, 1));
        let mut varied = same.clone();
        varied[2].1 = Cell::Int(2);
        let s = summarize(&copy(&varied, &[]), &facts());
        assert_eq!((s.grids, s.straight_grids), (1, 0));
    }

    #[test]
    fn changed_and_cleared_answers_are_counted() {
        let mut c = copy(
            &[],
            &[
                ("answer", Some("q1"), "2026-10-05T09:00:00Z", 0),
                ("answer", Some("q1"), "2026-10-05T09:00:10Z", 10),
                ("clear", Some("q1"), "2026-10-05T09:00:20Z", 20),
            ],
        );
        let old = column(2, "old_value");
        let new = column(2, "new_value");
        c.tables[2][0][new] = Cell::Text("1".into());
        c.tables[2][1][old] = Cell::Text("1".into());
        c.tables[2][1][new] = Cell::Text("2".into());
        assert_eq!(summarize(&c, &facts()).changed_answers, 2);
    }
}
