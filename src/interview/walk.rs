//! The walk: from the instrument and the answers so far, the interview's
//! path (every position that is asked now, in order), which items are
//! relevant or skipped, the values of computed variables and the rows of
//! every roster.
//!
//! The walk is recomputed from scratch after every answer. That is simple to
//! get right (no incremental invalidation) and cheap: one pass over the
//! instrument, evaluating each condition once in order, so an item only ever
//! sees the state of items before it, as the enumerator did.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::interview::hash::{FastMap, FastSet};

use jiff::civil::Date;

use crate::instrument::check::Index;
use crate::instrument::expr::{self, Env, Missing, Value};
use crate::instrument::model::*;
use crate::interview::answer::Answer;
use crate::interview::path::{ItemPath, RowKey};

/// Most rows a count roster may have, whatever the count says.
pub const MAX_ROWS: i64 = 100;

/// One stop on the path: a question, a note or a random selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub path: ItemPath,
    /// Index of the section in the instrument.
    pub section: usize,
}

/// The derived state of an interview.
#[derive(Debug, Default, Clone)]
pub struct Walk {
    /// Positions asked now, in interview order.
    pub path: Vec<Position>,
    /// Every relevant item path (questions, notes, computed, random).
    pub relevant: FastSet<ItemPath>,
    /// Item paths visited and found not relevant.
    pub skipped: FastSet<ItemPath>,
    /// Values of relevant computed variables.
    pub computed: FastMap<ItemPath, Value>,
    /// Row keys of every relevant roster instance: (enclosing rows, roster).
    pub rows: FastMap<(Vec<RowKey>, String), Vec<i64>>,
}

/// Everything a walk reads.
pub struct Context<'a> {
    pub instrument: &'a Instrument,
    pub index: &'a Index<'a>,
    pub answers: &'a BTreeMap<ItemPath, Answer>,
    pub today: Date,
    pub month_names: &'a [String],
}

impl Walk {
    /// Walks the instrument over the answers.
    pub fn run(ctx: &Context) -> Walk {
        Walk::run_with(ctx, true)
    }

    /// The walk without its `path` (the positions asked, in order), which
    /// only the screens need: what an export needs, with one path less
    /// built and dropped per relevant item.
    pub fn run_without_path(ctx: &Context) -> Walk {
        Walk::run_with(ctx, false)
    }

    fn run_with(ctx: &Context, positions: bool) -> Walk {
        // Sized for every item once, so that the sets are not rehashed as
        // they fill (roster rows may still grow them).
        let items = ctx.index.items.len();
        let mut walk = Walk {
            path: Vec::with_capacity(if positions { items } else { 0 }),
            relevant: FastSet::with_capacity_and_hasher(items, Default::default()),
            skipped: FastSet::with_capacity_and_hasher(items, Default::default()),
            computed: FastMap::default(),
            rows: FastMap::default(),
        };
        for (s, section) in ctx.instrument.sections.iter().enumerate() {
            let relevant = match &section.when {
                Some(code) => is_true(&walk.eval(ctx, &[], &code.expr)),
                None => true,
            };
            walk.nodes(ctx, s, &section.nodes, &mut Vec::new(), relevant, positions);
        }
        walk
    }

    fn nodes(
        &mut self,
        ctx: &Context,
        section: usize,
        nodes: &[Node],
        rows: &mut Vec<RowKey>,
        on: bool,
        positions: bool,
    ) {
        for node in nodes {
            match node {
                Node::Item(item) => {
                    let path = ItemPath::new(rows, &item.id);
                    let relevant = on
                        && match &item.when {
                            Some(code) => is_true(&self.eval(ctx, rows, &code.expr)),
                            None => true,
                        };
                    if !relevant {
                        self.skipped.insert(path);
                        continue;
                    }
                    match &item.kind {
                        ItemKind::Computed { value } => {
                            let v = self.eval(ctx, rows, &value.expr);
                            self.computed.insert(path.clone(), v);
                        }
                        _ if positions => self.path.push(Position {
                            path: path.clone(),
                            section,
                        }),
                        _ => {}
                    }
                    self.relevant.insert(path);
                }
                Node::Roster(roster) => {
                    let relevant = on
                        && match &roster.when {
                            Some(code) => is_true(&self.eval(ctx, rows, &code.expr)),
                            None => true,
                        };
                    if !relevant {
                        continue;
                    }
                    let keys = self.row_keys(ctx, rows, roster);
                    self.rows
                        .insert((rows.clone(), roster.id.clone()), keys.clone());
                    for key in keys {
                        rows.push(RowKey {
                            roster: roster.id.clone(),
                            key,
                        });
                        self.nodes(ctx, section, &roster.nodes, rows, true, positions);
                        rows.pop();
                    }
                }
            }
        }
    }

    fn row_keys(&self, ctx: &Context, rows: &[RowKey], roster: &Roster) -> Vec<i64> {
        match &roster.rows {
            RosterRows::Count(code) => match self.eval(ctx, rows, &code.expr) {
                Value::Int(n) => (1..=n.clamp(0, MAX_ROWS)).collect(),
                Value::Decimal(x) if x.is_finite() => (1..=(x as i64).clamp(0, MAX_ROWS)).collect(),
                _ => Vec::new(),
            },
            RosterRows::List { item, .. } => {
                let env = Scope {
                    walk: self,
                    ctx,
                    rows: Cow::Borrowed(rows),
                };
                let Value::Codes(selected) = env.value(item) else {
                    return Vec::new();
                };
                // In the order of the item's options, not the order ticked.
                let options = ctx
                    .index
                    .items
                    .get(item.as_str())
                    .map(|(i, _)| i.kind.options().iter().map(|o| o.code).collect::<Vec<_>>())
                    .unwrap_or_default();
                options
                    .into_iter()
                    .filter(|c| selected.contains(c))
                    .collect()
            }
            RosterRows::Fixed(choices) => choices.iter().map(|c| c.code).collect(),
        }
    }

    /// Evaluates an expression in the scope of `rows`.
    pub fn eval(&self, ctx: &Context, rows: &[RowKey], expr: &expr::Expr) -> Value {
        let env = Scope {
            walk: self,
            ctx,
            rows: Cow::Borrowed(rows),
        };
        expr::eval(expr, &env)
    }

    /// The value an expression sees for an item path.
    pub fn value_at(&self, ctx: &Context, path: &ItemPath, kind: &ItemKind) -> Value {
        if matches!(kind, ItemKind::Computed { .. }) {
            return match self.computed.get(path) {
                Some(v) => v.clone(),
                None if self.skipped.contains(path) => Value::Missing(Missing::Skipped),
                None => Value::Missing(Missing::NotAsked),
            };
        }
        if self.relevant.contains(path) {
            return match ctx.answers.get(path) {
                Some(answer) => answer.to_value(),
                None => Value::Missing(Missing::NotAsked),
            };
        }
        if self.skipped.contains(path) {
            Value::Missing(Missing::Skipped)
        } else {
            Value::Missing(Missing::NotAsked)
        }
    }

    /// Index of a path on the interview path.
    pub fn position_of(&self, path: &ItemPath) -> Option<usize> {
        self.path.iter().position(|p| &p.path == path)
    }
}

/// The walks of many stored cases of one instrument, as an export needs
/// them: [`Interview::new`](crate::interview::Interview::new) indexes the
/// instrument for every case, which for 100,000 cases cost more than the
/// walks themselves; a `Replay` indexes it once.
pub struct Replay<'i> {
    instrument: &'i Instrument,
    index: Index<'i>,
    month_names: Vec<String>,
}

impl<'i> Replay<'i> {
    pub fn new(instrument: &'i Instrument) -> Replay<'i> {
        Replay {
            instrument,
            index: Index::build(instrument, &mut Vec::new()),
            month_names: expr::ENGLISH_MONTHS.iter().map(|m| m.to_string()).collect(),
        }
    }

    pub fn instrument(&self) -> &'i Instrument {
        self.instrument
    }

    /// The walk that `Interview::new` makes of a case with these answers and
    /// interview date (in the default language, whose month names fills and
    /// computed variables see).
    pub fn walk(&self, answers: &BTreeMap<ItemPath, Answer>, today: Date) -> Walk {
        Walk::run(&self.context(answers, today))
    }

    /// The same walk without its `path` ([`Walk::run_without_path`]).
    pub fn relevance(&self, answers: &BTreeMap<ItemPath, Answer>, today: Date) -> Walk {
        Walk::run_without_path(&self.context(answers, today))
    }

    fn context<'a>(&'a self, answers: &'a BTreeMap<ItemPath, Answer>, today: Date) -> Context<'a> {
        Context {
            instrument: self.instrument,
            index: &self.index,
            answers,
            today,
            month_names: &self.month_names,
        }
    }
}

/// Relevance that cannot be decided is false (design.md).
pub fn is_true(v: &Value) -> bool {
    matches!(v, Value::Bool(true))
}

/// The expression environment of one scope (a roster row or the top).
pub struct Scope<'w, 'c> {
    pub walk: &'w Walk,
    pub ctx: &'w Context<'c>,
    pub rows: Cow<'w, [RowKey]>,
}

thread_local! {
    /// Keys to look values and roster rows up with: every variable of every
    /// condition is looked up, and building an owned key for each was a
    /// fifth of an export's walk.
    static PATH_KEY: RefCell<ItemPath> = RefCell::new(ItemPath::top(""));
    static ROSTER_KEY: RefCell<(Vec<RowKey>, String)> = const { RefCell::new((Vec::new(), String::new())) };
}

/// Sets `to` to a copy of `from`, reusing its buffers.
fn copy_rows(to: &mut Vec<RowKey>, from: &[RowKey]) {
    to.truncate(from.len());
    for (i, row) in from.iter().enumerate() {
        match to.get_mut(i) {
            Some(slot) => {
                slot.roster.clone_from(&row.roster);
                slot.key = row.key;
            }
            None => to.push(row.clone()),
        }
    }
}

impl Scope<'_, '_> {
    /// The rows of an item's own scope: the first `depth` rows of ours.
    fn rows_for(&self, depth: usize) -> Option<&[RowKey]> {
        self.rows.get(..depth)
    }
}

impl Env for Scope<'_, '_> {
    fn value(&self, name: &str) -> Value {
        let Some((item, info)) = self.ctx.index.items.get(name) else {
            return Value::Missing(Missing::Unknown);
        };
        let Some(rows) = self.rows_for(info.chain.len()) else {
            return Value::Missing(Missing::Unknown);
        };
        PATH_KEY.with_borrow_mut(|path| {
            copy_rows(&mut path.rows, rows);
            path.item.clear();
            path.item.push_str(name);
            self.walk.value_at(self.ctx, path, &item.kind)
        })
    }

    fn rows(&self, roster: &str) -> usize {
        self.row_keys(roster).map(<[i64]>::len).unwrap_or(0)
    }

    fn row(&self, roster: &str, index: usize) -> Box<dyn Env + '_> {
        let mut rows = self.rows.to_vec();
        if let Some((_, info)) = self.ctx.index.rosters.get(roster) {
            rows.truncate(info.chain.len());
        }
        if let Some(key) = self.row_keys(roster).and_then(|k| k.get(index)) {
            rows.push(RowKey {
                roster: roster.to_string(),
                key: *key,
            });
        }
        Box::new(Scope {
            walk: self.walk,
            ctx: self.ctx,
            rows: Cow::Owned(rows),
        })
    }

    fn today(&self) -> Date {
        self.ctx.today
    }

    fn month_name(&self, month: i8) -> String {
        usize::try_from(month - 1)
            .ok()
            .and_then(|i| self.ctx.month_names.get(i))
            .cloned()
            .unwrap_or_else(|| month.to_string())
    }
}

impl Scope<'_, '_> {
    fn row_keys(&self, roster: &str) -> Option<&[i64]> {
        let (_, info) = self.ctx.index.rosters.get(roster)?;
        let outer = self.rows.get(..info.chain.len())?;
        let walk = self.walk;
        ROSTER_KEY.with_borrow_mut(|key| {
            copy_rows(&mut key.0, outer);
            key.1.clear();
            key.1.push_str(roster);
            walk.rows.get(key).map(Vec::as_slice)
        })
    }
}
