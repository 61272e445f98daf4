//! The semantic lint of an instrument: everything `vicor validate` reports
//! beyond the file's shape.
//!
//! It builds an index of every item and roster (its order on the
//! questionnaire and the rosters it sits in), type-checks every expression in
//! the scope where the engine will evaluate it, and reports: duplicate ids,
//! unknown items, type errors, roster references out of scope, references to
//! items asked later (a warning), cycles among computed variables, option
//! codes that collide with the don't-know and refused codes, missing
//! translations and relevance that is a constant and never true.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::instrument::diag::Diagnostic;
use crate::instrument::expr::{self, Expr, Lookup, Type, TypeEnv};
use crate::instrument::hash::FastMap;
use crate::instrument::load::{expr_diagnostic, suggest};
use crate::instrument::model::*;

/// What the checker knows of one item.
#[derive(Debug, Clone)]
pub struct ItemInfo {
    /// Position on the questionnaire (depth-first order of all nodes).
    pub order: usize,
    /// Rosters the item sits in, outermost first.
    pub chain: Vec<String>,
    pub origin: Origin,
}

/// What the checker knows of one roster.
#[derive(Debug, Clone)]
pub struct RosterInfo {
    pub order: usize,
    /// Rosters this roster sits in, outermost first (not itself).
    pub chain: Vec<String>,
    pub origin: Origin,
}

/// The names of an instrument and where they live; shared by the checker and
/// the interview engine.
#[derive(Debug, Default)]
pub struct Index<'a> {
    pub items: FastMap<&'a str, (&'a Item, ItemInfo)>,
    pub rosters: FastMap<&'a str, (&'a Roster, RosterInfo)>,
}

impl<'a> Index<'a> {
    /// Indexes every item and roster; duplicate ids are reported.
    pub fn build(instrument: &'a Instrument, diags: &mut Vec<Diagnostic>) -> Index<'a> {
        let mut index = Index::default();
        let mut order = 0;
        let mut sections: HashMap<&str, Origin> = HashMap::new();
        for section in &instrument.sections {
            if let Some(first) = sections.insert(&section.id, section.origin) {
                diags.push(duplicate(&section.id, "section", section.origin, first));
            }
            index.walk(&section.nodes, &mut Vec::new(), &mut order, diags);
        }
        index
    }

    fn walk(
        &mut self,
        nodes: &'a [Node],
        chain: &mut Vec<String>,
        order: &mut usize,
        diags: &mut Vec<Diagnostic>,
    ) {
        for node in nodes {
            *order += 1;
            let id = node.id();
            let earlier = self
                .items
                .get(id)
                .map(|(_, i)| i.origin)
                .or_else(|| self.rosters.get(id).map(|(_, r)| r.origin));
            match node {
                Node::Item(item) => {
                    if let Some(first) = earlier {
                        diags.push(duplicate(id, "item", item.origin, first));
                        continue;
                    }
                    let info = ItemInfo {
                        order: *order,
                        chain: chain.clone(),
                        origin: item.origin,
                    };
                    self.items.insert(id, (item, info));
                }
                Node::Roster(roster) => {
                    if let Some(first) = earlier {
                        diags.push(duplicate(id, "roster", roster.origin, first));
                    } else {
                        let info = RosterInfo {
                            order: *order,
                            chain: chain.clone(),
                            origin: roster.origin,
                        };
                        self.rosters.insert(id, (roster, info));
                    }
                    chain.push(roster.id.clone());
                    self.walk(&roster.nodes, chain, order, diags);
                    chain.pop();
                }
            }
        }
    }

    /// All ids, for did-you-mean suggestions.
    fn names(&self) -> Vec<&'a str> {
        self.items
            .keys()
            .chain(self.rosters.keys())
            .copied()
            .collect()
    }
}

fn duplicate(id: &str, what: &str, at: Origin, first: Origin) -> Diagnostic {
    let _ = first;
    Diagnostic::error(
        "vicor::instrument::duplicate_id",
        at,
        format!("{what} id `{id}` is already used"),
    )
    .with_help("ids must be unique across the whole instrument, modules included; rename one")
}

/// Runs every semantic check; returns the findings (errors and warnings).
pub fn check(instrument: &Instrument) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let index = Index::build(instrument, &mut diags);
    let mut checker = Checker {
        instrument,
        index: &index,
        diags,
        types: RefCell::new(HashMap::new()),
        computing: RefCell::new(Vec::new()),
        cycles: RefCell::new(BTreeSet::new()),
    };
    checker.run();
    checker.diags
}

/// The type of every item's value by item id (notes have none): what the
/// export writes in its codebook, computed variables included.
pub fn item_types(instrument: &Instrument) -> HashMap<String, Type> {
    let mut sink = Vec::new();
    let index = Index::build(instrument, &mut sink);
    let checker = Checker {
        instrument,
        index: &index,
        diags: sink,
        types: RefCell::new(HashMap::new()),
        computing: RefCell::new(Vec::new()),
        cycles: RefCell::new(BTreeSet::new()),
    };
    index
        .items
        .values()
        .filter_map(|(item, _)| Some((item.id.clone(), checker.item_type(item)?)))
        .collect()
}

struct Checker<'a> {
    instrument: &'a Instrument,
    index: &'a Index<'a>,
    diags: Vec<Diagnostic>,
    /// Types of computed items, filled on demand.
    types: RefCell<HashMap<String, Type>>,
    /// Computed items whose type is being worked out (to find cycles).
    computing: RefCell<Vec<String>>,
    cycles: RefCell<BTreeSet<Vec<String>>>,
}

/// The scope an expression is evaluated in: the rosters around it.
struct Scope<'c, 'a> {
    checker: &'c Checker<'a>,
    chain: Cow<'c, [String]>,
}

impl TypeEnv for Scope<'_, '_> {
    fn lookup(&self, name: &str) -> Lookup {
        let index = self.checker.index;
        if let Some((item, info)) = index.items.get(name) {
            if let Some(outside) = first_outside(&info.chain, &self.chain) {
                return Lookup::OutOfScope { roster: outside };
            }
            return match self.checker.item_type(item) {
                Some(t) => Lookup::Value(t),
                None => Lookup::NotFound,
            };
        }
        if let Some((_, info)) = index.rosters.get(name) {
            if let Some(outside) = first_outside(&info.chain, &self.chain) {
                return Lookup::OutOfScope { roster: outside };
            }
            return Lookup::Roster;
        }
        Lookup::NotFound
    }

    fn names(&self) -> Vec<String> {
        self.checker
            .index
            .names()
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    fn enter_roster(&self, roster: &str) -> Option<Box<dyn TypeEnv + '_>> {
        let (_, info) = self.checker.index.rosters.get(roster)?;
        first_outside(&info.chain, &self.chain).is_none().then(|| {
            let mut chain = info.chain.clone();
            chain.push(roster.to_string());
            Box::new(Scope {
                checker: self.checker,
                chain: Cow::Owned(chain),
            }) as Box<dyn TypeEnv + '_>
        })
    }
}

/// The first roster of `inner` that the scope `outer` is not inside.
fn first_outside(inner: &[String], outer: &[String]) -> Option<String> {
    inner
        .iter()
        .enumerate()
        .find(|(i, r)| outer.get(*i) != Some(r))
        .map(|(_, r)| r.clone())
}

impl<'a> Checker<'a> {
    fn run(&mut self) {
        let languages = self.instrument.languages.clone();
        self.text(
            &self.instrument.title,
            "the instrument's title",
            &languages,
            &[],
            usize::MAX,
        );
        for section in &self.instrument.sections {
            let first = section
                .nodes
                .first()
                .map(|n| self.order_of(n.id()))
                .unwrap_or(0);
            self.text(&section.title, "section title", &languages, &[], first);
            if let Some(when) = &section.when {
                self.condition(when, &[], first, "relevance");
            }
            self.nodes(&section.nodes, &languages, &mut Vec::new());
        }
        // Outcome rules are read at completion, after every item.
        for rule in &self.instrument.outcomes {
            self.typed(
                &rule.when,
                &[],
                usize::MAX,
                &[Type::Bool],
                "an outcome rule",
            );
        }
        self.report_cycles();
    }

    fn order_of(&self, id: &str) -> usize {
        self.index
            .items
            .get(id)
            .map(|(_, i)| i.order)
            .or_else(|| self.index.rosters.get(id).map(|(_, r)| r.order))
            .unwrap_or(0)
    }

    fn nodes(&mut self, nodes: &'a [Node], languages: &[String], chain: &mut Vec<String>) {
        for node in nodes {
            match node {
                Node::Item(item) => self.item(item, languages, chain),
                Node::Roster(roster) => {
                    let order = self.order_of(&roster.id);
                    self.text(&roster.title, "roster title", languages, chain, order);
                    if let Some(when) = &roster.when {
                        self.condition(when, chain, order, "relevance");
                    }
                    match &roster.rows {
                        RosterRows::Count(code) => {
                            self.typed(code, chain, order, &[Type::Int], "a roster count");
                        }
                        RosterRows::List { item, origin } => {
                            self.list_source(item, *origin, chain, order)
                        }
                        RosterRows::Fixed(rows) => {
                            self.choices(rows, languages, chain, order, None);
                        }
                    }
                    chain.push(roster.id.clone());
                    if let Some(label) = &roster.row_label {
                        // A row label names the row by its answers (e.g. `{name}`), so it
                        // may refer to any item of the row.
                        self.text(label, "row label", languages, chain, usize::MAX);
                    }
                    self.nodes(&roster.nodes, languages, chain);
                    chain.pop();
                }
            }
        }
    }

    fn item(&mut self, item: &'a Item, languages: &[String], chain: &[String]) {
        let order = self.order_of(&item.id);
        if let Some(text) = &item.text {
            self.text(text, "question text", languages, chain, order);
        }
        if let Some(text) = &item.instruction {
            self.text(text, "instruction", languages, chain, order);
        }
        if let Some(when) = &item.when {
            self.condition(when, chain, order, "relevance");
        }
        for check in &item.checks {
            self.typed(&check.rule, chain, order, &[Type::Bool], "a check");
            self.text(&check.message, "check message", languages, chain, order);
        }
        match &item.kind {
            ItemKind::SingleChoice { options } | ItemKind::MultipleChoice { options } => {
                self.choices(options, languages, chain, order, Some(item));
            }
            ItemKind::Computed { value } => {
                // The type comes from item_type (with cycle detection), which
                // keeps no errors: they are reported here, once.
                let _ = self.item_type(item);
                self.check_expr(&value.expr, value.origin.file, chain);
                self.later_references(&value.expr, value.origin.file, order);
            }
            ItemKind::Date { range } => {
                for code in range.min.iter().chain(range.max.iter()) {
                    self.typed(code, chain, order, &[Type::Date], "a date bound");
                }
            }
            ItemKind::Random(selection) => self.selection(selection, chain, order),
            _ => {}
        }
    }

    fn choices(
        &mut self,
        options: &'a [Choice],
        languages: &[String],
        chain: &[String],
        order: usize,
        item: Option<&Item>,
    ) {
        let mut seen: BTreeMap<i64, Origin> = BTreeMap::new();
        for option in options {
            if seen.insert(option.code, option.origin).is_some() {
                self.diags.push(
                    Diagnostic::error(
                        "vicor::instrument::duplicate_code",
                        option.origin,
                        format!("option code {} is used twice", option.code),
                    )
                    .with_help("give each option its own code"),
                );
            }
            if let Some(item) = item {
                let special = self.instrument.special;
                let clash = if item.allow_dont_know && option.code == special.dont_know {
                    Some("don't know")
                } else if item.allow_refused && option.code == special.refused {
                    Some("refused")
                } else {
                    None
                };
                if let Some(what) = clash {
                    self.diags.push(
                        Diagnostic::error(
                            "vicor::instrument::special_code_clash",
                            option.origin,
                            format!("option code {} is the export code of {what}", option.code),
                        )
                        .with_help("renumber the option, change `special_codes`, or set `dk: false` / `rf: false` on the item"),
                    );
                }
            }
            self.text(&option.label, "option label", languages, chain, order);
            if let Some(when) = &option.when {
                self.condition(when, chain, order, "option filter");
            }
        }
    }

    fn list_source(&mut self, item_id: &str, at: Origin, chain: &[String], order: usize) {
        match self.index.items.get(item_id) {
            Some((item, info)) => {
                if !matches!(item.kind, ItemKind::MultipleChoice { .. }) {
                    self.diags.push(Diagnostic::error(
                        "vicor::instrument::roster_source",
                        at,
                        format!(
                            "`{item_id}` is a {} item; a list roster needs a multiple-choice item",
                            item.kind.name()
                        ),
                    ));
                } else if first_outside(&info.chain, chain).is_some() {
                    self.diags.push(Diagnostic::error(
                        "vicor::instrument::out_of_scope",
                        at,
                        format!("`{item_id}` is inside a roster this roster is not in"),
                    ));
                } else if info.order > order {
                    self.diags.push(
                        Diagnostic::warning(
                            "vicor::instrument::asked_later",
                            at,
                            format!("`{item_id}` is asked after this roster"),
                        )
                        .with_help("move the roster after the item that lists its rows"),
                    );
                }
            }
            None => self.unknown_name(item_id, at),
        }
    }

    fn selection(&mut self, selection: &'a RandomSelection, chain: &[String], order: usize) {
        let Some((roster, info)) = self.index.rosters.get(selection.roster.as_str()) else {
            self.unknown_name(&selection.roster, selection.origin);
            return;
        };
        if first_outside(&info.chain, chain).is_some() {
            self.diags.push(Diagnostic::error(
                "vicor::instrument::out_of_scope",
                selection.origin,
                format!("roster `{}` is not visible from here", roster.id),
            ));
            return;
        }
        let mut row_chain = info.chain.clone();
        row_chain.push(roster.id.clone());
        if let Some(eligible) = &selection.eligible {
            self.typed(
                eligible,
                &row_chain,
                order,
                &[Type::Bool],
                "an eligibility rule",
            );
        }
        let in_roster = |id: &str| {
            self.index
                .items
                .get(id)
                .is_some_and(|(_, i)| i.chain == row_chain)
        };
        let needed: Vec<&str> = match &selection.method {
            SelectionMethod::Uniform => vec![],
            SelectionMethod::Kish { sex, age, .. } => vec![sex, age],
            SelectionMethod::NextBirthday { birth_date } => vec![birth_date],
        };
        for id in needed {
            if !in_roster(id) {
                self.diags.push(Diagnostic::error(
                    "vicor::instrument::selection_item",
                    selection.origin,
                    format!(
                        "the selection needs item `{id}` inside roster `{}`",
                        roster.id
                    ),
                ));
            }
        }
    }

    /// The type of an item's value, or None for notes.
    fn item_type(&self, item: &Item) -> Option<Type> {
        Some(match &item.kind {
            ItemKind::SingleChoice { .. } | ItemKind::YesNo => Type::Code,
            ItemKind::MultipleChoice { .. } => Type::Codes,
            ItemKind::Integer { .. } | ItemKind::Random(_) => Type::Int,
            ItemKind::Decimal { .. } => Type::Decimal,
            ItemKind::Text { .. } => Type::Text,
            ItemKind::Date { .. } => Type::Date,
            ItemKind::Note => return None,
            ItemKind::Computed { value } => {
                if let Some(t) = self.types.borrow().get(&item.id) {
                    return Some(*t);
                }
                let position = self.computing.borrow().iter().position(|id| id == &item.id);
                if let Some(start) = position {
                    let cycle = self.computing.borrow()[start..].to_vec();
                    self.cycles.borrow_mut().insert(canonical(cycle));
                    // A stand-in type; the cycle itself is reported.
                    return Some(Type::Decimal);
                }
                self.computing.borrow_mut().push(item.id.clone());
                let chain = self
                    .index
                    .items
                    .get(item.id.as_str())
                    .map(|(_, i)| i.chain.as_slice());
                let scope = Scope {
                    checker: self,
                    chain: Cow::Borrowed(chain.unwrap_or_default()),
                };
                let result = expr::check(&value.expr, &scope);
                self.computing.borrow_mut().pop();
                let t = result.unwrap_or(Type::Decimal);
                self.types.borrow_mut().insert(item.id.clone(), t);
                t
            }
        })
    }

    fn report_cycles(&mut self) {
        for cycle in self.cycles.take() {
            let Some((_, info)) = self.index.items.get(cycle[0].as_str()) else {
                continue;
            };
            let mut path = cycle.join(" → ");
            path.push_str(&format!(" → {}", cycle[0]));
            self.diags.push(
                Diagnostic::error(
                    "vicor::instrument::cycle",
                    info.origin,
                    format!("computed variables depend on each other in a cycle: {path}"),
                )
                .with_help("a computed variable cannot depend, directly or not, on itself"),
            );
        }
    }

    /// Type-checks an expression of `file` in `chain` and reports errors.
    fn check_expr(&mut self, expr: &Expr, file: FileId, chain: &[String]) -> Option<Type> {
        let scope = Scope {
            checker: self,
            chain: Cow::Borrowed(chain),
        };
        let result = expr::check(expr, &scope);
        match result {
            Ok(t) => Some(t),
            Err(errors) => {
                for e in errors {
                    self.diags.push(expr_diagnostic(file, &e));
                }
                None
            }
        }
    }

    fn typed(&mut self, code: &Code, chain: &[String], order: usize, want: &[Type], what: &str) {
        if let Some(t) = self.check_expr(&code.expr, code.origin.file, chain) {
            let ok = want.contains(&t) || (want.contains(&Type::Int) && t == Type::Code);
            if !ok {
                let names: Vec<String> = want.iter().map(|t| type_name(*t)).collect();
                self.diags.push(Diagnostic::error(
                    "vicor::instrument::expression_type",
                    code.origin,
                    format!(
                        "{what} must be {}, but this is {}",
                        names.join(" or "),
                        type_name(t)
                    ),
                ));
            }
        }
        self.later_references(&code.expr, code.origin.file, order);
    }

    fn condition(&mut self, code: &Code, chain: &[String], order: usize, what: &str) {
        self.typed(code, chain, order, &[Type::Bool], &format!("a {what}"));
        if what == "relevance" && expr::references(&code.expr).is_empty() && never_true(code) {
            self.diags.push(
                Diagnostic::error(
                    "vicor::instrument::never_relevant",
                    code.origin,
                    format!(
                        "this relevance `{}` is a constant that is never true",
                        code.source
                    ),
                )
                .with_help("the element would never be asked; remove it or fix the condition"),
            );
        }
    }

    fn later_references(&mut self, expr: &Expr, file: FileId, order: usize) {
        for (name, span) in expr::references(expr) {
            let later = self
                .index
                .items
                .get(name.as_str())
                .map(|(_, i)| i.order)
                .or_else(|| self.index.rosters.get(name.as_str()).map(|(_, r)| r.order));
            if let Some(at) = later
                && at > order
            {
                self.diags.push(
                        Diagnostic::warning(
                            "vicor::instrument::asked_later",
                            Origin {
                                file,
                                span: crate::instrument::yaml::ByteSpan { start: span.start, end: span.end },
                            },
                            format!("`{name}` is asked later than this"),
                        )
                        .with_help("when this is evaluated, it has no answer yet; move it earlier or refer to an earlier item"),
                    );
            }
        }
    }

    fn text(
        &mut self,
        text: &Text,
        what: &str,
        languages: &[String],
        chain: &[String],
        order: usize,
    ) {
        if text.by_language.is_empty() && text.origin == Origin::default() {
            return; // already reported as missing
        }
        for lang in languages {
            if !text.by_language.contains_key(lang) {
                self.diags.push(
                    Diagnostic::error(
                        "vicor::instrument::missing_translation",
                        text.origin,
                        format!("{what} has no `{lang}` translation"),
                    )
                    .with_help(format!("add `{lang}: ...` to this text")),
                );
            }
        }
        for fills in text.fills.values() {
            for fill in fills {
                self.check_expr(&fill.expr, text.origin.file, chain);
                self.later_references(&fill.expr, text.origin.file, order);
            }
        }
    }

    fn unknown_name(&mut self, name: &str, at: Origin) {
        let names = self.index.names();
        let mut d = Diagnostic::error(
            "vicor::instrument::unknown_item",
            at,
            format!("unknown item `{name}`"),
        );
        if let Some(s) = suggest(name, &names) {
            d = d.with_help(format!("did you mean `{s}`?"));
        }
        self.diags.push(d);
    }
}

/// Rotates a cycle so it starts at its smallest id (each cycle once).
fn canonical(mut cycle: Vec<String>) -> Vec<String> {
    if let Some(min) = cycle
        .iter()
        .enumerate()
        .min_by_key(|(_, id)| id.as_str())
        .map(|(i, _)| i)
    {
        cycle.rotate_left(min);
    }
    cycle
}

fn type_name(t: Type) -> String {
    match t {
        Type::Bool => "a condition (true/false)",
        Type::Int => "an integer",
        Type::Decimal => "a decimal number",
        Type::Text => "text",
        Type::Date => "a date",
        Type::Code => "a single-choice answer",
        Type::Codes => "a multiple-choice answer",
    }
    .to_string()
}

/// A constant condition that is false (or undecidable) whatever the date.
fn never_true(code: &Code) -> bool {
    use jiff::civil::date;
    [date(1900, 1, 1), date(2200, 12, 31)]
        .into_iter()
        .all(|today| {
            let env = ConstEnv { today };
            !matches!(expr::eval(&code.expr, &env), expr::Value::Bool(true))
        })
}

/// An environment with no answers, for constant conditions.
struct ConstEnv {
    today: jiff::civil::Date,
}

impl expr::Env for ConstEnv {
    fn value(&self, _name: &str) -> expr::Value {
        expr::Value::Missing(expr::Missing::NotAsked)
    }
    fn rows(&self, _roster: &str) -> usize {
        0
    }
    fn row(&self, _roster: &str, _index: usize) -> Box<dyn expr::Env + '_> {
        Box::new(ConstEnv { today: self.today })
    }
    fn today(&self) -> jiff::civil::Date {
        self.today
    }
}

#[cfg(test)]
mod tests {
    use crate::instrument::diag::Level;

    fn findings(text: &str) -> Vec<String> {
        crate::instrument::validate_str("t.yaml", text)
            .diagnostics
            .iter()
            .map(|d| format!("{:?}: {}", d.level, d.message))
            .collect()
    }

    const ROSTER: &str = "id: t\nversion: \"1\"\ntitle: T\nlanguages: [en]\nsections:\n  - id: s\n    title: S\n    items:\n      - id: size\n        type: integer\n        text: How many?\n      - roster: people\n        title: People\n        count: size\n        row_label: \"LABEL\"\n        items:\n          - id: name\n            type: text\n            text: Name?\n      - id: later\n        type: integer\n        text: Later?\n";

    #[test]
    fn errors_in_computed_values_are_reported() {
        let text = ROSTER.replace("LABEL", "{name}").replace(
            "      - id: later\n",
            "      - id: total\n        type: computed\n        value: sise + 1\n      - id: later\n",
        );
        let found = findings(&text);
        assert!(
            found
                .iter()
                .any(|f| f.starts_with("Error") && f.contains("sise")),
            "an unknown name in a computed value is an error: {found:?}"
        );
    }

    #[test]
    fn row_label_may_name_the_row_by_its_own_items() {
        let found = findings(&ROSTER.replace("LABEL", "{name}"));
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn row_label_still_checks_its_fills() {
        let found = findings(&ROSTER.replace("LABEL", "{nmae}"));
        assert!(
            found.iter().any(|f| f.contains("nmae")),
            "an unknown name in a row label is reported: {found:?}"
        );
        let errors = crate::instrument::validate_str("t.yaml", &ROSTER.replace("LABEL", "{nmae}"))
            .diagnostics
            .iter()
            .filter(|d| d.level == Level::Error)
            .count();
        assert_eq!(errors, 1);
    }
}
