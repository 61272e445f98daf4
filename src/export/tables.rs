//! The data files: one CSV per level, the paradata, the durations and (with
//! personal data) the notes, written one case at a time.
//!
//! Each case is rebuilt through the interview engine, so its cells are the
//! answers relevant on its path: the rows of a roster are the rows the
//! engine walks (a relevant roster instance), and an answer the store keeps
//! for an item that became irrelevant is not written.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use crate::instrument::Instrument;
use crate::instrument::expr::Value;
use crate::instrument::model::Node;
use crate::interview::{Answer, Interview, RowKey};
use crate::store::session::restore;
use crate::store::{CaseSummary, EventKind, EventRecord, Store};

use super::layout::{Layout, VarType};
use super::{ExportError, csv_file};

/// Rows written per file.
pub struct Counts {
    pub levels: Vec<usize>,
    pub events: usize,
    pub notes: usize,
}

/// Columns of `paradata.csv`.
pub const PARADATA_COLUMNS: [&str; 11] = [
    "case_id",
    "seq",
    "kind",
    "path",
    "item",
    "old_value",
    "new_value",
    "detail",
    "utc",
    "monotonic_ns",
    "enumerator",
];

/// Columns of `durations.csv`.
pub const DURATION_COLUMNS: [&str; 7] = [
    "case_id",
    "first_utc",
    "last_utc",
    "elapsed_s",
    "active_s",
    "sessions",
    "events",
];

/// Columns of `notes.csv` (written only with personal data).
pub const NOTE_COLUMNS: [&str; 6] = ["case_id", "seq", "path", "text", "enumerator", "utc"];

pub fn write(
    store: &Store,
    cases: &[CaseSummary],
    by_hash: &HashMap<String, &Instrument>,
    layout: &Layout,
    dir: &Path,
    include_pii: bool,
) -> Result<Counts, ExportError> {
    let mut files = Vec::new();
    for level in &layout.levels {
        let mut out = csv_file(dir, &level.file())?;
        out.row(&level.columns)?;
        files.push(out);
    }
    let mut paradata = csv_file(dir, "paradata.csv")?;
    paradata.row(PARADATA_COLUMNS)?;
    let mut durations = csv_file(dir, "durations.csv")?;
    durations.row(DURATION_COLUMNS)?;
    let mut notes = if include_pii {
        let mut n = csv_file(dir, "notes.csv")?;
        n.row(NOTE_COLUMNS)?;
        Some(n)
    } else {
        None
    };
    let pii: HashSet<&str> = layout.left_out.iter().map(String::as_str).collect();
    let mut counts = Counts {
        levels: vec![0; layout.levels.len()],
        events: 0,
        notes: 0,
    };
    for summary in cases {
        let instrument = by_hash
            .get(&summary.instrument.hash)
            .expect("every case was matched to an instrument");
        let record = store.case(&summary.id)?;
        let events = store.events(&summary.id)?;
        let restored = restore(&record, &events);
        if !restored.unreadable.is_empty() {
            return Err(ExportError::Unreadable {
                case: summary.id.to_string(),
                paths: restored.unreadable.join(", "),
            });
        }
        let engine = Interview::new(instrument, restored.today, restored.seed, restored.saved);
        let rows = case_rows(&engine, summary, layout);
        for (level, level_rows) in rows.into_iter().enumerate() {
            counts.levels[level] += level_rows.len();
            for cells in level_rows.into_values() {
                files[level].row(&cells)?;
            }
        }
        let id = summary.id.to_string();
        for e in &events {
            paradata.row(paradata_row(&id, e, &pii))?;
        }
        counts.events += events.len();
        durations.row(duration_row(&id, &events))?;
        if let Some(n) = notes.as_mut() {
            for note in &record.notes {
                n.row([
                    id.clone(),
                    note.seq.to_string(),
                    note.path.clone().unwrap_or_default(),
                    note.text.clone(),
                    note.enumerator.clone(),
                    note.utc.to_string(),
                ])?;
                counts.notes += 1;
            }
        }
    }
    for f in files {
        f.finish()?;
    }
    paradata.finish()?;
    durations.finish()?;
    if let Some(n) = notes {
        n.finish()?;
    }
    Ok(counts)
}

/// The rows of one case, per level, keyed by their roster row keys.
pub fn case_rows(
    engine: &Interview,
    summary: &CaseSummary,
    layout: &Layout,
) -> Vec<BTreeMap<Vec<i64>, Vec<String>>> {
    let id = summary.id.to_string();
    let mut rows: Vec<BTreeMap<Vec<i64>, Vec<String>>> = vec![BTreeMap::new(); layout.levels.len()];
    let mut main = vec![String::new(); layout.levels[0].columns.len()];
    main[0] = id.clone();
    main[1] = summary.instrument.version.clone();
    main[2] = summary.status.as_str().to_string();
    main[3] = summary
        .outcome
        .as_ref()
        .map(|o| o.code().to_string())
        .unwrap_or_default();
    main[4] = summary.enumerator.clone();
    main[5] = summary.created_utc.to_string();
    main[6] = summary.modified_utc.to_string();
    rows[0].insert(Vec::new(), main);
    // Every relevant roster row, even one without answers.
    let mut outer = Vec::new();
    for section in &engine.instrument().sections {
        roster_rows(engine, &section.nodes, &mut outer, layout, &id, &mut rows);
    }
    for (path, answer) in engine.relevant_answers() {
        let Some(var) = layout.variable(&path.item) else {
            continue; // a note, or an item left out as personal data
        };
        let keys: Vec<i64> = path.rows.iter().map(|r| r.key).collect();
        let cells = row_for(&mut rows, layout, var.level, &id, &keys);
        match (&answer, var.var_type) {
            (Answer::Codes(codes), VarType::MultipleChoice) => {
                for (i, label) in var.labels.iter().enumerate() {
                    cells[var.column + i] = if codes.contains(&label.code) {
                        "1"
                    } else {
                        "0"
                    }
                    .to_string();
                }
            }
            (Answer::DontKnow | Answer::Refused, _) => {
                let code = if answer == Answer::DontKnow {
                    var.dont_know
                } else {
                    var.refused
                };
                // An instrument forbidding DK/RF never stores one; should an
                // old version have allowed it, the instrument's code is used.
                let code = code
                    .unwrap_or_else(|| special_code(engine.instrument(), &answer))
                    .to_string();
                let width = var.columns().len();
                for c in &mut cells[var.column..var.column + width] {
                    c.clone_from(&code);
                }
            }
            (a, _) => cells[var.column] = answer_cell(a),
        }
    }
    for (path, value) in engine.computed() {
        let Some(var) = layout.variable(&path.item) else {
            continue;
        };
        let keys: Vec<i64> = path.rows.iter().map(|r| r.key).collect();
        let cells = row_for(&mut rows, layout, var.level, &id, &keys);
        cells[var.column] = value_cell(&value);
    }
    rows
}

fn special_code(instrument: &Instrument, answer: &Answer) -> i64 {
    if *answer == Answer::DontKnow {
        instrument.special.dont_know
    } else {
        instrument.special.refused
    }
}

fn row_for<'r>(
    rows: &'r mut [BTreeMap<Vec<i64>, Vec<String>>],
    layout: &Layout,
    level: usize,
    id: &str,
    keys: &[i64],
) -> &'r mut Vec<String> {
    rows[level].entry(keys.to_vec()).or_insert_with(|| {
        let mut cells = vec![String::new(); layout.levels[level].columns.len()];
        cells[0] = id.to_string();
        for (i, k) in keys.iter().enumerate() {
            cells[1 + i] = k.to_string();
        }
        cells
    })
}

fn roster_rows(
    engine: &Interview,
    nodes: &[Node],
    outer: &mut Vec<RowKey>,
    layout: &Layout,
    id: &str,
    rows: &mut [BTreeMap<Vec<i64>, Vec<String>>],
) {
    for node in nodes {
        let Node::Roster(roster) = node else {
            continue;
        };
        let Some(level) = layout.level_of(&roster.id) else {
            continue;
        };
        for key in engine.roster_rows(outer, &roster.id) {
            outer.push(RowKey {
                roster: roster.id.clone(),
                key,
            });
            let keys: Vec<i64> = outer.iter().map(|r| r.key).collect();
            row_for(rows, layout, level, id, &keys);
            roster_rows(engine, &roster.nodes, outer, layout, id, rows);
            outer.pop();
        }
    }
}

/// A decimal in Rust's shortest form that reads back to the same number.
fn decimal(x: f64) -> String {
    format!("{x}")
}

fn answer_cell(answer: &Answer) -> String {
    match answer {
        Answer::Int(i) => i.to_string(),
        Answer::Decimal(x) => decimal(*x),
        Answer::Text(s) => s.clone(),
        Answer::Date(d) => d.to_string(),
        Answer::Codes(c) => c.iter().map(i64::to_string).collect::<Vec<_>>().join(" "),
        Answer::DontKnow | Answer::Refused => String::new(),
    }
}

fn value_cell(value: &Value) -> String {
    match value {
        Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Decimal(x) if x.is_finite() => decimal(*x),
        Value::Decimal(_) => String::new(),
        Value::Text(s) => s.clone(),
        Value::Date(d) => d.to_string(),
        Value::Codes(c) => c.iter().map(i64::to_string).collect::<Vec<_>>().join(" "),
        Value::Missing(_) => String::new(),
    }
}

fn paradata_row(id: &str, e: &EventRecord, pii: &HashSet<&str>) -> [String; 11] {
    let item = e
        .path
        .as_deref()
        .and_then(|p| p.rsplit('.').next())
        .unwrap_or("");
    let private = pii.contains(item);
    let value = |v: &Option<crate::store::StoredAnswer>| match v {
        Some(_) if private => String::new(),
        Some(v) => v.encode(),
        None => String::new(),
    };
    let detail = match (&e.detail, e.kind) {
        (None, _) => String::new(),
        (Some(_), _) if private => String::new(),
        // A confirmed warning's rendered message may carry fills such as a
        // name: keep only which checks were confirmed.
        (Some(d), EventKind::SoftCheckConfirmed) if !pii.is_empty() => {
            d.split(':').next().unwrap_or("").to_string()
        }
        (Some(d), _) => d.clone(),
    };
    [
        id.to_string(),
        e.seq.to_string(),
        e.kind.as_str().to_string(),
        e.path.clone().unwrap_or_default(),
        item.to_string(),
        value(&e.old),
        value(&e.new),
        detail,
        e.at.utc.to_string(),
        e.at.monotonic_ns.to_string(),
        e.enumerator.clone(),
    ]
}

/// Wall-clock span of the events, and active time: the sum over sessions of
/// the monotonic span, a session ending where the monotonic clock goes back
/// (another process) or the enumerator changes, or at a pause event.
fn duration_row(id: &str, events: &[EventRecord]) -> [String; 7] {
    let (Some(first), Some(last)) = (events.first(), events.last()) else {
        return [
            id.to_string(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            "0".into(),
            "0".into(),
        ];
    };
    let elapsed = last.at.utc.duration_since(first.at.utc).as_secs_f64();
    let mut active: u128 = 0;
    let mut sessions = 1;
    for pair in events.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let same = b.at.monotonic_ns >= a.at.monotonic_ns
            && a.enumerator == b.enumerator
            && a.kind != EventKind::Pause;
        if same {
            active += u128::from(b.at.monotonic_ns - a.at.monotonic_ns);
        } else {
            sessions += 1;
        }
    }
    [
        id.to_string(),
        first.at.utc.to_string(),
        last.at.utc.to_string(),
        decimal(elapsed),
        decimal(active as f64 / 1e9),
        sessions.to_string(),
        events.len().to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EventTime;

    fn event(seq: i64, kind: EventKind, ns: u64, path: Option<&str>) -> EventRecord {
        EventRecord {
            seq,
            kind,
            path: path.map(str::to_string),
            old: None,
            new: Some(crate::store::StoredAnswer::Text("Ana".into())),
            detail: None,
            at: EventTime {
                utc: jiff::Timestamp::from_second(1_700_000_000 + seq).expect("time"),
                monotonic_ns: ns,
            },
            enumerator: "e1".into(),
        }
    }

    #[test]
    fn active_time_adds_sessions_and_skips_the_gaps() {
        let events = [
            event(1, EventKind::Answer, 1_000_000_000, None),
            event(2, EventKind::Answer, 3_000_000_000, None),
            event(3, EventKind::Answer, 500_000_000, None), // a new process
            event(4, EventKind::Answer, 1_500_000_000, None),
        ];
        let row = duration_row("c", &events);
        assert_eq!(row[3], "3");
        assert_eq!(row[4], "3");
        assert_eq!(row[5], "2");
        assert_eq!(row[6], "4");
    }

    #[test]
    fn paradata_hides_the_values_of_personal_items() {
        let pii: HashSet<&str> = ["name"].into_iter().collect();
        let row = paradata_row(
            "c",
            &event(1, EventKind::Answer, 1, Some("members[1].name")),
            &pii,
        );
        assert_eq!(row[4], "name");
        assert_eq!(row[6], "");
        let open = paradata_row("c", &event(1, EventKind::Answer, 1, Some("city")), &pii);
        assert_eq!(open[6], "text:Ana");
    }

    #[test]
    fn cells_keep_every_digit() {
        assert_eq!(
            answer_cell(&Answer::Decimal(0.1 + 0.2)),
            "0.30000000000000004"
        );
        assert_eq!(value_cell(&Value::Bool(true)), "1");
        assert_eq!(value_cell(&Value::Decimal(f64::NAN)), "");
    }
}
