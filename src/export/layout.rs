//! The shape of an export, from the instruments alone: which files (levels)
//! there are, which columns each has, and what every variable means.
//!
//! A level is the roster chain of an item: items outside every roster go to
//! `main.csv` (one row per case), items of roster `r` to `r.csv` (one row per
//! row of `r`), keyed by `case_id` and one `<roster>_row` column per
//! enclosing roster, outermost first. A multiple choice becomes one 0/1
//! column per option (`<item>_<code>`).
//!
//! Several versions of one instrument may share an export: the layout is the
//! union of their variables, in the order of the first version that has each,
//! and every variable lists the versions that ask it. A variable whose kind or
//! level differs between versions cannot share a column and is refused.

use std::collections::{BTreeMap, HashMap};

use crate::instrument::hash::FastMap;

use crate::instrument::Instrument;
use crate::instrument::expr::Type;
use crate::instrument::model::{Code, Item, ItemKind, Node, Text};

use super::ExportError;

/// What a variable holds, as the export writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarType {
    /// A code with value labels (single choice, yes/no).
    Categorical,
    /// One 0/1 column per option.
    MultipleChoice,
    Integer,
    Decimal,
    Text,
    /// ISO 8601 `YYYY-MM-DD`.
    Date,
    /// 1 true, 0 false.
    Boolean,
    /// The row key of the roster row drawn (e.g. the selected respondent's line).
    RandomRow,
    /// Codes separated by spaces (a computed set of codes).
    CodeList,
}

impl VarType {
    pub fn as_str(self) -> &'static str {
        match self {
            VarType::Categorical => "categorical",
            VarType::MultipleChoice => "multiple_choice",
            VarType::Integer => "integer",
            VarType::Decimal => "decimal",
            VarType::Text => "text",
            VarType::Date => "date",
            VarType::Boolean => "boolean",
            VarType::RandomRow => "random_row",
            VarType::CodeList => "code_list",
        }
    }

    /// Whether the cells are numbers (else text).
    pub fn is_numeric(self) -> bool {
        !matches!(self, VarType::Text | VarType::Date | VarType::CodeList)
    }
}

/// One value label (an option, or a row of a fixed roster).
#[derive(Debug, Clone)]
pub struct Label {
    pub code: i64,
    pub text: Text,
    /// The ICCS code of the crime type the option stands for.
    pub iccs: Option<String>,
}

/// One exported variable (one item of the instrument).
#[derive(Debug, Clone)]
pub struct Variable {
    pub name: String,
    /// Index into [`Layout::levels`].
    pub level: usize,
    pub var_type: VarType,
    /// The item kind in the instrument (`single`, `computed`, ...).
    pub kind: &'static str,
    pub text: Option<Text>,
    pub instruction: Option<Text>,
    /// Value labels (categorical), or the options (multiple choice).
    pub labels: Vec<Label>,
    pub dont_know: Option<i64>,
    pub refused: Option<i64>,
    /// When the item is asked, as the conditions of its section, rosters and
    /// itself joined with `and`; `None` when always.
    pub universe: Option<String>,
    /// The expression of a computed variable.
    pub computed: Option<String>,
    /// The roster a random item draws from.
    pub draws_from: Option<String>,
    pub indicators: Vec<String>,
    /// The ICCS code of the crime type the item asks about.
    pub iccs: Option<String>,
    pub wording_adapted: bool,
    /// Instrument versions that have the item.
    pub versions: Vec<String>,
    /// First column in the level's file.
    pub column: usize,
}

impl Variable {
    /// Column names in the file.
    pub fn columns(&self) -> Vec<String> {
        match self.var_type {
            VarType::MultipleChoice => self
                .labels
                .iter()
                .map(|l| option_column(&self.name, l.code))
                .collect(),
            _ => vec![self.name.clone()],
        }
    }
}

/// The column of one option of a multiple choice.
pub fn option_column(name: &str, code: i64) -> String {
    if code < 0 {
        format!("{name}_m{}", code.unsigned_abs())
    } else {
        format!("{name}_{code}")
    }
}

/// One file of the export.
#[derive(Debug, Clone)]
pub struct Level {
    /// `main`, or the roster id.
    pub id: String,
    /// Enclosing rosters, outermost first, this roster last (empty for main).
    pub chain: Vec<String>,
    pub title: Option<Text>,
    /// Labels of the rows of a fixed roster (its row keys are these codes).
    pub row_labels: Vec<Label>,
    /// Key and case columns, then the variables' columns.
    pub columns: Vec<String>,
    /// How many key columns open the file.
    pub keys: usize,
    pub variables: Vec<usize>,
}

impl Level {
    pub fn file(&self) -> String {
        format!("{}.csv", self.id)
    }
}

/// Columns of `main.csv` before the variables, after `case_id`.
pub const CASE_COLUMNS: [&str; 6] = [
    "instrument_version",
    "status",
    "outcome",
    "enumerator",
    "created_utc",
    "modified_utc",
];

/// The whole shape of an export.
#[derive(Debug, Clone)]
pub struct Layout {
    pub levels: Vec<Level>,
    pub variables: Vec<Variable>,
    /// Items left out because they are marked `pii`.
    pub left_out: Vec<String>,
    /// Looked up for every value of every case: the fast hash.
    by_name: FastMap<String, usize>,
    by_level: FastMap<String, usize>,
}

impl Layout {
    /// The layout of the given versions of one instrument (newest last: its
    /// texts and labels win).
    pub fn build(instruments: &[&Instrument], include_pii: bool) -> Result<Layout, ExportError> {
        let mut layout = Layout {
            levels: Vec::new(),
            variables: Vec::new(),
            left_out: Vec::new(),
            by_name: FastMap::default(),
            by_level: FastMap::default(),
        };
        layout.add_level("main", Vec::new(), None, Vec::new());
        for instrument in instruments {
            let types = crate::instrument::check::item_types(instrument);
            let mut walker = Walker {
                layout: &mut layout,
                instrument,
                types: &types,
                include_pii,
            };
            for section in &instrument.sections {
                let mut universe = Vec::new();
                if let Some(w) = &section.when {
                    universe.push(w.source.clone());
                }
                walker.nodes(&section.nodes, &mut Vec::new(), &mut universe)?;
            }
        }
        layout.left_out.sort();
        layout.left_out.dedup();
        layout.finish()?;
        Ok(layout)
    }

    fn add_level(
        &mut self,
        id: &str,
        chain: Vec<String>,
        title: Option<Text>,
        row_labels: Vec<Label>,
    ) -> usize {
        if let Some(&i) = self.by_level.get(id) {
            if title.is_some() {
                self.levels[i].title = title;
                self.levels[i].row_labels = row_labels;
            }
            return i;
        }
        let mut columns = vec!["case_id".to_string()];
        if chain.is_empty() {
            columns.extend(CASE_COLUMNS.iter().map(|c| c.to_string()));
        } else {
            columns.extend(chain.iter().map(|r| row_column(r)));
        }
        let keys = if chain.is_empty() { 1 } else { 1 + chain.len() };
        self.levels.push(Level {
            id: id.to_string(),
            chain,
            title,
            row_labels,
            columns,
            keys,
            variables: Vec::new(),
        });
        self.by_level.insert(id.to_string(), self.levels.len() - 1);
        self.levels.len() - 1
    }

    /// Assigns columns and refuses names that clash.
    fn finish(&mut self) -> Result<(), ExportError> {
        for level in &mut self.levels {
            let mut seen: HashMap<String, String> = level
                .columns
                .iter()
                .map(|c| (c.clone(), "a key column".to_string()))
                .collect();
            for &v in &level.variables {
                let var = &mut self.variables[v];
                var.column = level.columns.len();
                for c in var.columns() {
                    if let Some(other) = seen.insert(c.clone(), format!("item `{}`", var.name)) {
                        return Err(ExportError::ColumnClash {
                            column: c,
                            file: level.file(),
                            first: other,
                            second: format!("item `{}`", var.name),
                        });
                    }
                    level.columns.push(c);
                }
            }
        }
        Ok(())
    }

    pub fn variable(&self, name: &str) -> Option<&Variable> {
        self.by_name.get(name).map(|&i| &self.variables[i])
    }

    pub fn level_of(&self, roster: &str) -> Option<usize> {
        self.by_level.get(roster).copied()
    }
}

/// The key column of a roster.
pub fn row_column(roster: &str) -> String {
    format!("{roster}_row")
}

struct Walker<'w> {
    layout: &'w mut Layout,
    instrument: &'w Instrument,
    types: &'w HashMap<String, Type>,
    include_pii: bool,
}

impl Walker<'_> {
    fn nodes(
        &mut self,
        nodes: &[Node],
        chain: &mut Vec<String>,
        universe: &mut Vec<String>,
    ) -> Result<(), ExportError> {
        for node in nodes {
            match node {
                Node::Item(item) => self.item(item, chain, universe)?,
                Node::Roster(roster) => {
                    chain.push(roster.id.clone());
                    let row_labels = match &roster.rows {
                        crate::instrument::model::RosterRows::Fixed(choices) => choices
                            .iter()
                            .map(|c| Label {
                                code: c.code,
                                text: c.label.clone(),
                                iccs: c.iccs.clone(),
                            })
                            .collect(),
                        _ => Vec::new(),
                    };
                    self.layout.add_level(
                        &roster.id,
                        chain.clone(),
                        Some(roster.title.clone()),
                        row_labels,
                    );
                    let pushed = push_when(universe, roster.when.as_ref());
                    self.nodes(&roster.nodes, chain, universe)?;
                    if pushed {
                        universe.pop();
                    }
                    chain.pop();
                }
            }
        }
        Ok(())
    }

    fn item(
        &mut self,
        item: &Item,
        chain: &[String],
        universe: &mut Vec<String>,
    ) -> Result<(), ExportError> {
        if matches!(item.kind, ItemKind::Note) {
            return Ok(());
        }
        if item.pii && !self.include_pii {
            self.layout.left_out.push(item.id.clone());
            return Ok(());
        }
        let pushed = push_when(universe, item.when.as_ref());
        let text = if universe.is_empty() {
            None
        } else {
            Some(
                universe
                    .iter()
                    .map(|u| {
                        if universe.len() > 1 && u.contains(' ') {
                            format!("({u})")
                        } else {
                            u.clone()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" and "),
            )
        };
        if pushed {
            universe.pop();
        }
        let level_id = chain.last().map_or("main", String::as_str);
        let level = self
            .layout
            .level_of(level_id)
            .expect("a roster's level is added before its items");
        let var_type = match &item.kind {
            ItemKind::SingleChoice { .. } | ItemKind::YesNo => VarType::Categorical,
            ItemKind::MultipleChoice { .. } => VarType::MultipleChoice,
            ItemKind::Integer { .. } => VarType::Integer,
            ItemKind::Decimal { .. } => VarType::Decimal,
            ItemKind::Text { .. } => VarType::Text,
            ItemKind::Date { .. } => VarType::Date,
            ItemKind::Random(_) => VarType::RandomRow,
            ItemKind::Computed { .. } => match self.types.get(&item.id) {
                Some(Type::Bool) => VarType::Boolean,
                Some(Type::Int) => VarType::Integer,
                Some(Type::Code) => VarType::Categorical,
                Some(Type::Text) => VarType::Text,
                Some(Type::Date) => VarType::Date,
                Some(Type::Codes) => VarType::CodeList,
                Some(Type::Decimal) | None => VarType::Decimal,
            },
            ItemKind::Note => unreachable!("notes return above"),
        };
        let labels: Vec<Label> = match &item.kind {
            ItemKind::YesNo => yes_no(self.instrument),
            kind => kind
                .options()
                .iter()
                .map(|c| Label {
                    code: c.code,
                    text: c.label.clone(),
                    iccs: c.iccs.clone(),
                })
                .collect(),
        };
        let special = self.instrument.special;
        let asked = item.kind.is_question();
        let variable = Variable {
            name: item.id.clone(),
            level,
            var_type,
            kind: item.kind.name(),
            text: item.text.clone(),
            instruction: item.instruction.clone(),
            labels,
            dont_know: (asked && item.allow_dont_know).then_some(special.dont_know),
            refused: (asked && item.allow_refused).then_some(special.refused),
            universe: text,
            computed: match &item.kind {
                ItemKind::Computed { value } => Some(value.source.clone()),
                _ => None,
            },
            draws_from: match &item.kind {
                ItemKind::Random(r) => Some(r.roster.clone()),
                _ => None,
            },
            indicators: item.indicators.clone(),
            iccs: item.iccs.clone(),
            wording_adapted: item.wording_adapted,
            versions: vec![self.instrument.version.clone()],
            column: 0,
        };
        match self.layout.by_name.get(&item.id).copied() {
            None => {
                self.layout
                    .by_name
                    .insert(item.id.clone(), self.layout.variables.len());
                self.layout.levels[level]
                    .variables
                    .push(self.layout.variables.len());
                self.layout.variables.push(variable);
            }
            Some(i) => {
                let old = &mut self.layout.variables[i];
                if old.level != level || old.var_type != var_type {
                    return Err(ExportError::VersionsDiffer {
                        item: item.id.clone(),
                        first: old.versions.join(", "),
                        second: self.instrument.version.clone(),
                    });
                }
                // Keep every option code seen in any version; the newest
                // version's texts win.
                let mut labels: BTreeMap<i64, (Text, Option<String>)> = BTreeMap::new();
                let order: Vec<i64> = old
                    .labels
                    .iter()
                    .map(|l| l.code)
                    .chain(variable.labels.iter().map(|l| l.code))
                    .collect();
                for l in old.labels.iter().chain(variable.labels.iter()) {
                    labels.insert(l.code, (l.text.clone(), l.iccs.clone()));
                }
                let mut codes = Vec::new();
                for c in order {
                    if !codes.contains(&c) {
                        codes.push(c);
                    }
                }
                let mut versions = std::mem::take(&mut old.versions);
                if !versions.contains(&variable.versions[0]) {
                    versions.push(variable.versions[0].clone());
                }
                *old = Variable {
                    labels: codes
                        .into_iter()
                        .map(|code| {
                            let (text, iccs) = labels.remove(&code).unwrap_or_default();
                            Label { code, text, iccs }
                        })
                        .collect(),
                    versions,
                    ..variable
                };
            }
        }
        Ok(())
    }
}

fn push_when(universe: &mut Vec<String>, when: Option<&Code>) -> bool {
    match when {
        Some(code) => {
            universe.push(code.source.clone());
            true
        }
        None => false,
    }
}

/// The labels of a yes/no item (1 yes, 2 no) in the instrument's languages.
fn yes_no(instrument: &Instrument) -> Vec<Label> {
    let words = |code: i64| {
        let mut text = Text::default();
        for lang in &instrument.languages {
            let word = match (lang.as_str(), code) {
                ("fr", 1) => "Oui",
                ("fr", _) => "Non",
                ("es", 1) => "Sí",
                ("es", _) => "No",
                (_, 1) => "Yes",
                _ => "No",
            };
            text.by_language.insert(lang.clone(), word.to_string());
        }
        text
    };
    vec![
        Label {
            code: 1,
            text: words(1),
            iccs: None,
        },
        Label {
            code: 2,
            text: words(2),
            iccs: None,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Instrument {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("instruments/example.yaml");
        crate::instrument::validate(&path)
            .instrument
            .expect("the example loads")
    }

    #[test]
    fn levels_follow_the_roster_chains() {
        let inst = example();
        let layout = Layout::build(&[&inst], false).expect("layout");
        let ids: Vec<&str> = layout.levels.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "main",
                "members",
                "vehicle_thefts",
                "official_types",
                "contacts"
            ]
        );
        let contacts = &layout.levels[layout.level_of("contacts").expect("contacts")];
        assert_eq!(
            &contacts.columns[..3],
            ["case_id", "official_types_row", "contacts_row"]
        );
        assert_eq!(layout.levels[0].columns[0], "case_id");
    }

    #[test]
    fn pii_is_left_out_unless_asked_for() {
        let inst = example();
        let layout = Layout::build(&[&inst], false).expect("layout");
        assert!(layout.variable("name").is_none());
        assert_eq!(layout.left_out, ["name"]);
        let with = Layout::build(&[&inst], true).expect("layout");
        assert!(with.variable("name").is_some());
        assert!(with.left_out.is_empty());
    }

    #[test]
    fn multiple_choice_has_a_column_per_option_and_computed_a_type() {
        let inst = example();
        let layout = Layout::build(&[&inst], false).expect("layout");
        let v = layout.variable("vehicles").expect("vehicles");
        assert_eq!(
            v.columns(),
            ["vehicles_1", "vehicles_2", "vehicles_3", "vehicles_4"]
        );
        assert_eq!(
            layout.variable("adult").map(|v| v.var_type),
            Some(VarType::Boolean)
        );
        assert_eq!(
            layout.variable("n_adults").map(|v| v.var_type),
            Some(VarType::Integer)
        );
        let theft = layout.variable("theft_count").expect("theft_count");
        assert_eq!(
            theft.universe.as_deref(),
            Some("(consent == 1) and (stolen == 1)")
        );
        assert_eq!(theft.dont_know, Some(98));
    }
}
