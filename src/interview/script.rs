//! Scripted interviews: an answers file driven through the real engine.
//!
//! `vicor run` and the tests use this to interview without a screen. The
//! answers file maps item ids to values; a roster's value is a list of rows
//! (row keys 1, 2, ... for count rosters, the option codes in order for fixed
//! and list rosters) or a mapping from row key to row. `dk` and `rf` are the
//! special answers. Every problem in the file is reported with its line and
//! column before anything is written.
//!
//! ```yaml
//! consent: 1
//! hh_size: 2
//! members:
//!   - {name: Ana, sex: 2, birth_date: 1980-04-02}
//!   - {name: Ben, sex: 1, birth_date: dk}
//! official_types:
//!   1: {contact: 1, n_contacts: 1}
//! ```

use std::collections::BTreeMap;

use jiff::civil::Date;

use crate::instrument::diag::{Diagnostic, offset_of};
use crate::instrument::model::*;
use crate::instrument::yaml::{self, ByteSpan, Node as YNode, Value as YValue};
use crate::interview::answer::Answer;
use crate::interview::engine::{Interview, Refusal, Update};
use crate::interview::path::{ItemPath, RowKey};

/// Answers read from a file, by item path.
#[derive(Debug, Default, Clone)]
pub struct Script {
    pub answers: BTreeMap<ItemPath, Answer>,
}

impl Script {
    /// Reads an answers file against an instrument. Errors carry `file` 0
    /// (the answers file) and a span in `text`.
    pub fn parse(instrument: &Instrument, text: &str) -> Result<Script, Vec<Diagnostic>> {
        let root = yaml::parse(text).map_err(|e| {
            let at = offset_of(text, e.line, e.column);
            vec![Diagnostic::error(
                "vicor::answers::yaml",
                Origin {
                    file: 0,
                    span: ByteSpan {
                        start: at,
                        end: at + 1,
                    },
                },
                format!("invalid YAML: {}", e.message),
            )]
        })?;
        let mut reader = Reader {
            instrument,
            items: BTreeMap::new(),
            rosters: BTreeMap::new(),
            diags: Vec::new(),
            script: Script::default(),
        };
        for section in &instrument.sections {
            reader.index(&section.nodes, &mut Vec::new());
        }
        match &root.value {
            YValue::Map(entries) => reader.scope(entries, &[], &[]),
            YValue::Null => {}
            other => reader.error(
                &root,
                format!(
                    "expected a mapping of item ids to answers, found {}",
                    other.describe()
                ),
            ),
        }
        if reader.diags.is_empty() {
            Ok(reader.script)
        } else {
            Err(reader.diags)
        }
    }
}

struct Reader<'a> {
    instrument: &'a Instrument,
    /// Items by id with their roster chain.
    items: BTreeMap<&'a str, (&'a Item, Vec<String>)>,
    rosters: BTreeMap<&'a str, (&'a Roster, Vec<String>)>,
    diags: Vec<Diagnostic>,
    script: Script,
}

impl<'a> Reader<'a> {
    fn index(&mut self, nodes: &'a [Node], chain: &mut Vec<String>) {
        for node in nodes {
            match node {
                Node::Item(item) => {
                    self.items.insert(&item.id, (item, chain.clone()));
                }
                Node::Roster(roster) => {
                    self.rosters.insert(&roster.id, (roster, chain.clone()));
                    chain.push(roster.id.clone());
                    self.index(&roster.nodes, chain);
                    chain.pop();
                }
            }
        }
    }

    fn error(&mut self, node: &YNode, message: String) {
        self.diags.push(Diagnostic::error(
            "vicor::answers",
            Origin {
                file: 0,
                span: node.span,
            },
            message,
        ));
    }

    /// One mapping of answers in the scope of `rows` (chain = roster ids).
    fn scope(&mut self, entries: &[(YNode, YNode)], rows: &[RowKey], chain: &[String]) {
        for (k, v) in entries {
            let YValue::Str(name) = &k.value else {
                self.error(
                    k,
                    format!("expected an item id, found {}", k.value.describe()),
                );
                continue;
            };
            if let Some((item, item_chain)) = self.items.get(name.as_str()).cloned() {
                if item_chain != chain {
                    self.error(
                        k,
                        format!(
                            "`{name}` does not belong here: it is inside roster(s) [{}]",
                            item_chain.join(", ")
                        ),
                    );
                    continue;
                }
                if !item.kind.is_question() {
                    self.error(
                        k,
                        format!(
                            "`{name}` is a {} item and takes no answer",
                            item.kind.name()
                        ),
                    );
                    continue;
                }
                if let Some(answer) = self.answer(item, v) {
                    self.script
                        .answers
                        .insert(ItemPath::new(rows, name), answer);
                }
            } else if let Some((roster, roster_chain)) = self.rosters.get(name.as_str()).cloned() {
                if roster_chain != chain {
                    self.error(k, format!("roster `{name}` does not belong here"));
                    continue;
                }
                self.roster(roster, v, rows, chain);
            } else {
                self.error(
                    k,
                    format!(
                        "unknown item `{name}` (not in instrument `{}`)",
                        self.instrument.id
                    ),
                );
            }
        }
    }

    fn roster(&mut self, roster: &Roster, node: &YNode, rows: &[RowKey], chain: &[String]) {
        let fixed_keys: Option<Vec<i64>> = match &roster.rows {
            RosterRows::Fixed(choices) => Some(choices.iter().map(|c| c.code).collect()),
            _ => None,
        };
        let mut inner_chain = chain.to_vec();
        inner_chain.push(roster.id.clone());
        let visit = |this: &mut Reader, key: i64, row: &YNode| {
            let mut inner = rows.to_vec();
            inner.push(RowKey {
                roster: roster.id.clone(),
                key,
            });
            match &row.value {
                YValue::Map(entries) => this.scope(entries, &inner, &inner_chain),
                other => this.error(
                    row,
                    format!(
                        "expected a row (a mapping of answers), found {}",
                        other.describe()
                    ),
                ),
            }
        };
        match &node.value {
            YValue::Seq(list) => {
                for (i, row) in list.iter().enumerate() {
                    let key = match &fixed_keys {
                        Some(keys) => match keys.get(i) {
                            Some(k) => *k,
                            None => {
                                self.error(
                                    row,
                                    format!("roster `{}` has only {} rows", roster.id, keys.len()),
                                );
                                continue;
                            }
                        },
                        None => i as i64 + 1,
                    };
                    visit(self, key, row);
                }
            }
            YValue::Map(entries) => {
                for (k, row) in entries {
                    let YValue::Int(key) = k.value else {
                        self.error(
                            k,
                            format!(
                                "expected a row key (an integer), found {}",
                                k.value.describe()
                            ),
                        );
                        continue;
                    };
                    visit(self, key, row);
                }
            }
            other => self.error(
                node,
                format!(
                    "expected the rows of roster `{}` (a list or a mapping), found {}",
                    roster.id,
                    other.describe()
                ),
            ),
        }
    }

    fn answer(&mut self, item: &Item, node: &YNode) -> Option<Answer> {
        if let YValue::Str(s) = &node.value {
            match s.as_str() {
                "dk" => return Some(Answer::DontKnow),
                "rf" => return Some(Answer::Refused),
                _ => {}
            }
        }
        let id = &item.id;
        let answer = match (&item.kind, &node.value) {
            (
                ItemKind::SingleChoice { .. } | ItemKind::YesNo | ItemKind::Integer { .. },
                YValue::Int(i),
            ) => Answer::Int(*i),
            (ItemKind::YesNo, YValue::Str(s)) if s == "yes" => Answer::Int(1),
            (ItemKind::YesNo, YValue::Str(s)) if s == "no" => Answer::Int(2),
            (ItemKind::Decimal { .. }, YValue::Int(i)) => Answer::Decimal(*i as f64),
            (ItemKind::Decimal { .. }, YValue::Float(x)) => Answer::Decimal(*x),
            (ItemKind::Text { .. }, YValue::Str(s)) => Answer::Text(s.clone()),
            (ItemKind::Text { .. }, YValue::Int(i)) => Answer::Text(i.to_string()),
            (ItemKind::Date { .. }, YValue::Str(s)) => match s.parse::<Date>() {
                Ok(d) => Answer::Date(d),
                Err(_) => {
                    self.error(
                        node,
                        format!("`{id}` needs a date as YYYY-MM-DD; `{s}` is not one"),
                    );
                    return None;
                }
            },
            (ItemKind::MultipleChoice { .. }, YValue::Seq(codes)) => {
                let mut out = Vec::new();
                for c in codes {
                    match c.value {
                        YValue::Int(i) => out.push(i),
                        ref other => {
                            self.error(
                                c,
                                format!("expected an option code, found {}", other.describe()),
                            );
                            return None;
                        }
                    }
                }
                Answer::Codes(out)
            }
            (kind, other) => {
                self.error(
                    node,
                    format!(
                        "`{id}` is a {} item; {} is not an answer to it",
                        kind.name(),
                        other.describe()
                    ),
                );
                return None;
            }
        };
        Some(answer)
    }
}

/// How a scripted run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEnd {
    /// Every position answered and the interview completed.
    Completed,
    /// Stopped at an item the script has no answer for.
    NeedsAnswer(ItemPath),
    /// Completion refused (e.g. a critical rule).
    NotComplete(Vec<String>),
}

/// What went wrong while driving the script.
#[derive(Debug, Clone, PartialEq)]
pub enum RunError<E> {
    /// The script's answer was refused by a check or the item's rules.
    Rejected { path: ItemPath, reason: String },
    /// Committing an update failed.
    Commit(E),
}

/// Drives `script` through `interview`; every update goes through `commit`
/// before it is applied. Soft-check warnings are confirmed and passed to
/// `warn`.
pub fn drive<E>(
    interview: &mut Interview,
    script: &Script,
    commit: &mut dyn FnMut(&Interview, &Update) -> Result<(), E>,
    warn: &mut dyn FnMut(&ItemPath, &str),
) -> Result<RunEnd, RunError<E>> {
    if correct(interview, script, commit, warn)? {
        // A correction can open questions the case never had: go to the first.
        if let Some(first) = interview.first_unanswered() {
            let update = interview.jump(&first).map_err(|r| rejected(&first, r))?;
            commit(interview, &update).map_err(RunError::Commit)?;
            interview.apply(&update);
        }
    }
    let mut guard = 0usize;
    loop {
        guard += 1;
        if guard > 100_000 {
            // The path is finite; this only protects against a logic bug.
            return Ok(RunEnd::NotComplete(vec![
                "the interview did not end".into(),
            ]));
        }
        let Some(path) = interview.current().cloned() else {
            return finish(interview, commit);
        };
        let item = interview
            .item(&path.item)
            .expect("positions name items of the instrument");
        let answered = interview.answer_of(&path).is_some();
        if item.kind.is_question() && !answered {
            let Some(answer) = script.answers.get(&path) else {
                return Ok(RunEnd::NeedsAnswer(path));
            };
            let update = match interview.answer(answer.clone(), false) {
                Ok(u) => u,
                Err(Refusal::NeedsConfirmation(messages)) => {
                    for m in &messages {
                        warn(&path, m);
                    }
                    interview
                        .answer(answer.clone(), true)
                        .map_err(|r| rejected(&path, r))?
                }
                Err(Refusal::RowsWouldBeLost { .. }) => interview
                    .answer(answer.clone(), true)
                    .map_err(|r| rejected(&path, r))?,
                Err(r) => return Err(rejected(&path, r)),
            };
            commit(interview, &update).map_err(RunError::Commit)?;
            interview.apply(&update);
        }
        match interview.next() {
            Ok(update) => {
                commit(interview, &update).map_err(RunError::Commit)?;
                interview.apply(&update);
            }
            Err(Refusal::AtEnd) => return finish(interview, commit),
            Err(Refusal::SelectionNotReady) | Err(Refusal::Unanswered) => {
                let missing = interview.first_unanswered().unwrap_or(path);
                return Ok(RunEnd::NeedsAnswer(missing));
            }
            Err(r) => return Err(rejected(&path, r)),
        }
    }
}

/// Replaces every saved answer that the script gives differently, in path
/// order: how a case sent back by the supervisor is corrected from a file.
/// Returns whether anything changed.
fn correct<E>(
    interview: &mut Interview,
    script: &Script,
    commit: &mut dyn FnMut(&Interview, &Update) -> Result<(), E>,
    warn: &mut dyn FnMut(&ItemPath, &str),
) -> Result<bool, RunError<E>> {
    let mut changed = false;
    let mut i = 0;
    while let Some(path) = interview.path().get(i).map(|p| p.path.clone()) {
        i += 1;
        let (Some(answer), Some(saved)) = (script.answers.get(&path), interview.answer_of(&path))
        else {
            continue;
        };
        if saved == answer {
            continue;
        }
        let update = match interview.answer_at(&path, answer.clone(), false) {
            Ok(u) => u,
            Err(Refusal::NeedsConfirmation(messages)) => {
                for m in &messages {
                    warn(&path, m);
                }
                interview
                    .answer_at(&path, answer.clone(), true)
                    .map_err(|r| rejected(&path, r))?
            }
            Err(Refusal::RowsWouldBeLost { .. }) => interview
                .answer_at(&path, answer.clone(), true)
                .map_err(|r| rejected(&path, r))?,
            Err(r) => return Err(rejected(&path, r)),
        };
        commit(interview, &update).map_err(RunError::Commit)?;
        interview.apply(&update);
        changed = true;
    }
    Ok(changed)
}

fn finish<E>(
    interview: &mut Interview,
    commit: &mut dyn FnMut(&Interview, &Update) -> Result<(), E>,
) -> Result<RunEnd, RunError<E>> {
    if let Some(missing) = interview.first_unanswered() {
        return Ok(RunEnd::NeedsAnswer(missing));
    }
    match interview.complete() {
        Ok(update) => {
            commit(interview, &update).map_err(RunError::Commit)?;
            interview.apply(&update);
            Ok(RunEnd::Completed)
        }
        Err(Refusal::NotComplete(problems)) => {
            let mut lines: Vec<String> = problems
                .critical
                .iter()
                .chain(problems.invalid.iter())
                .map(|(p, m)| format!("{p}: {m}"))
                .collect();
            lines.extend(
                problems
                    .unanswered
                    .iter()
                    .map(|p| format!("{p}: not answered")),
            );
            Ok(RunEnd::NotComplete(lines))
        }
        Err(r) => Ok(RunEnd::NotComplete(vec![describe(&r)])),
    }
}

fn rejected<E>(path: &ItemPath, r: Refusal) -> RunError<E> {
    RunError::Rejected {
        path: path.clone(),
        reason: describe(&r),
    }
}

/// A refusal in words.
pub fn describe(r: &Refusal) -> String {
    match r {
        Refusal::NoPosition => "there is no current question".into(),
        Refusal::Invalid(m) => m.to_string(),
        Refusal::Blocked(m) => m.join("; "),
        Refusal::NeedsConfirmation(m) => format!("needs confirmation: {}", m.join("; ")),
        Refusal::RowsWouldBeLost { roster, rows } => {
            format!("rows {rows:?} of roster `{roster}` hold answers that would be dropped")
        }
        Refusal::SpecialNotAllowed => "don't know / refused is not allowed here".into(),
        Refusal::Unanswered => "this question needs an answer first".into(),
        Refusal::SelectionNotReady => {
            "answer every earlier question before the random selection".into()
        }
        Refusal::AtStart => "already at the first question".into(),
        Refusal::AtEnd => "already at the last question".into(),
        Refusal::NotOnPath => "that question is not on the interview's path".into(),
        Refusal::NotComplete(p) => format!(
            "not complete: {} unanswered, {} invalid, {} critical",
            p.unanswered.len(),
            p.invalid.len(),
            p.critical.len()
        ),
    }
}
