//! The instrument model: what a questionnaire is once it has been loaded.
//!
//! Everything here has been checked by `load` and `check`; the interview
//! engine trusts it (as R's `svydesign` object is trusted by the estimators).
//! Every element keeps the file and byte span it came from, so later
//! diagnostics can point into the YAML.

use std::collections::BTreeMap;

use crate::instrument::expr::Expr;
use crate::instrument::yaml::ByteSpan;

/// Index into [`Instrument::files`].
pub type FileId = usize;

/// Where something stands: a file and a byte range in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Origin {
    pub file: FileId,
    pub span: ByteSpan,
}

/// A source file of the instrument (the main file and its modules).
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
}

/// A loaded, checked questionnaire.
#[derive(Debug, Clone)]
pub struct Instrument {
    pub id: String,
    pub version: String,
    pub title: Text,
    pub languages: Vec<String>,
    pub default_language: String,
    pub special: SpecialCodes,
    /// Sections in interview order, modules spliced in where they are included.
    pub sections: Vec<Section>,
    /// The disposition a completed interview records: the first rule whose
    /// condition holds at completion, otherwise `complete`.
    pub outcomes: Vec<OutcomeRule>,
    /// The main file first, then included modules.
    pub files: Vec<SourceFile>,
    /// SHA-256-free content hash (FNV-1a 64 over every file, in order): enough
    /// to notice that the questionnaire changed under a stored case.
    pub hash: String,
}

/// One rule of `outcomes:`: when the interview ends with `when` true, the
/// case is completed with `outcome` (a door refusal is `refused`, not
/// `complete`), so response rates come out of the data, not the contact
/// sheet alone.
#[derive(Debug, Clone)]
pub struct OutcomeRule {
    pub when: Code,
    /// One of [`OUTCOME_CODES`].
    pub outcome: String,
    pub origin: Origin,
}

/// The dispositions a rule may give (AAPOR's final classes as the store
/// keeps them; `other` carries no text here).
pub const OUTCOME_CODES: [&str; 6] = [
    "complete",
    "partial",
    "refused",
    "non_contact",
    "ineligible",
    "other",
];

/// Export codes of the special answers (design.md: default 98 and 99).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialCodes {
    pub dont_know: i64,
    pub refused: i64,
}

impl Default for SpecialCodes {
    fn default() -> Self {
        SpecialCodes {
            dont_know: 98,
            refused: 99,
        }
    }
}

/// A text in every language of the instrument, with `{expr}` fills.
#[derive(Debug, Clone, Default)]
pub struct Text {
    pub by_language: BTreeMap<String, String>,
    /// Fills found in each language's text, parsed.
    pub fills: BTreeMap<String, Vec<Fill>>,
    pub origin: Origin,
}

impl Text {
    /// The text in `language`, falling back to any language that has one.
    pub fn get(&self, language: &str) -> &str {
        self.by_language
            .get(language)
            .or_else(|| self.by_language.values().next())
            .map(String::as_str)
            .unwrap_or("")
    }
}

/// One `{expr}` inside a text: the byte range of the braces in the text and
/// the parsed expression.
#[derive(Debug, Clone)]
pub struct Fill {
    pub start: usize,
    pub end: usize,
    pub expr: Expr,
}

/// A condition or value written as an expression, with its source text.
#[derive(Debug, Clone)]
pub struct Code {
    pub source: String,
    pub expr: Expr,
    pub origin: Origin,
}

/// A section of the questionnaire.
#[derive(Debug, Clone)]
pub struct Section {
    pub id: String,
    pub title: Text,
    pub when: Option<Code>,
    /// Asked by self-completion: the screen hides earlier answers and the
    /// enumerator confirms their return (recommended for sexual violence).
    pub self_completion: bool,
    pub nodes: Vec<Node>,
    pub origin: Origin,
}

/// What a section or roster contains.
#[derive(Debug, Clone)]
pub enum Node {
    Item(Item),
    Roster(Roster),
}

impl Node {
    pub fn id(&self) -> &str {
        match self {
            Node::Item(item) => &item.id,
            Node::Roster(roster) => &roster.id,
        }
    }
}

/// A repeated group: one row per household member, per type of official...
#[derive(Debug, Clone)]
pub struct Roster {
    pub id: String,
    pub title: Text,
    pub when: Option<Code>,
    pub rows: RosterRows,
    /// How a row is called in breadcrumbs ("member 3 of 5"), per language;
    /// may hold fills evaluated inside the row (e.g. `{name}`).
    pub row_label: Option<Text>,
    pub nodes: Vec<Node>,
    pub origin: Origin,
}

/// Where a roster's rows come from.
#[derive(Debug, Clone)]
pub enum RosterRows {
    /// As many rows as an integer expression says (e.g. household size).
    Count(Code),
    /// One row per option selected in a multiple-choice item.
    List { item: String, origin: Origin },
    /// A fixed list, e.g. the 15 types of public official.
    Fixed(Vec<Choice>),
}

/// A question, a note, a computed variable or a random selection.
#[derive(Debug, Clone)]
pub struct Item {
    pub id: String,
    pub kind: ItemKind,
    pub text: Option<Text>,
    pub instruction: Option<Text>,
    pub when: Option<Code>,
    pub checks: Vec<Check>,
    pub allow_dont_know: bool,
    pub allow_refused: bool,
    /// A direct identifier (name, phone): left out of exports by default.
    pub pii: bool,
    /// The wording is not the official one; a national team should replace it.
    pub wording_adapted: bool,
    /// Indicator tags (e.g. "16.5.1") for the codebook.
    pub indicators: Vec<String>,
    /// The ICCS code of the crime type the item asks about (a screener),
    /// checked for form at load ([`crate::instrument::iccs`]).
    pub iccs: Option<String>,
    pub origin: Origin,
}

/// The item kinds of the language.
#[derive(Debug, Clone)]
pub enum ItemKind {
    SingleChoice {
        options: Vec<Choice>,
    },
    MultipleChoice {
        options: Vec<Choice>,
    },
    /// Yes = 1, No = 2 (the SDG 16 template's convention).
    YesNo,
    Integer {
        range: Range,
    },
    Decimal {
        range: Range,
    },
    Text {
        max_length: Option<usize>,
    },
    Date {
        range: DateRange,
    },
    /// Static text read out or shown; no answer.
    Note,
    /// A derived variable; never shown, re-evaluated after every answer.
    Computed {
        value: Code,
    },
    /// One row of a roster drawn at random, once, with a recorded seed.
    Random(RandomSelection),
}

impl ItemKind {
    /// The name used in YAML for this kind.
    pub fn name(&self) -> &'static str {
        match self {
            ItemKind::SingleChoice { .. } => "single",
            ItemKind::MultipleChoice { .. } => "multiple",
            ItemKind::YesNo => "yesno",
            ItemKind::Integer { .. } => "integer",
            ItemKind::Decimal { .. } => "decimal",
            ItemKind::Text { .. } => "text",
            ItemKind::Date { .. } => "date",
            ItemKind::Note => "note",
            ItemKind::Computed { .. } => "computed",
            ItemKind::Random(_) => "random",
        }
    }

    /// Whether the enumerator answers this item.
    pub fn is_question(&self) -> bool {
        !matches!(
            self,
            ItemKind::Note | ItemKind::Computed { .. } | ItemKind::Random(_)
        )
    }

    /// The options of a choice item.
    pub fn options(&self) -> &[Choice] {
        match self {
            ItemKind::SingleChoice { options } | ItemKind::MultipleChoice { options } => options,
            _ => &[],
        }
    }
}

/// An answer option (or a row of a fixed roster).
#[derive(Debug, Clone)]
pub struct Choice {
    pub code: i64,
    pub label: Text,
    /// Shown only when this holds (option filter).
    pub when: Option<Code>,
    /// The ICCS code of the crime type the option stands for (e.g. the
    /// crime types of an incident form).
    pub iccs: Option<String>,
    pub origin: Origin,
}

/// Inclusive bounds of a number item.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Range {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// Inclusive bounds of a date item, as expressions (e.g. `ref_start(60)`).
#[derive(Debug, Clone, Default)]
pub struct DateRange {
    pub min: Option<Code>,
    pub max: Option<Code>,
}

/// How hard a check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Blocks: the answer is not accepted.
    Error,
    /// Soft: accepted once the enumerator confirms it.
    Warning,
    /// Checked when the interview is completed.
    Critical,
}

/// A rule that must hold, with the message shown when it does not.
#[derive(Debug, Clone)]
pub struct Check {
    pub severity: Severity,
    pub rule: Code,
    pub message: Text,
}

/// How a random selection draws.
#[derive(Debug, Clone)]
pub struct RandomSelection {
    /// The roster whose rows are drawn from.
    pub roster: String,
    /// Which rows are eligible (e.g. `age >= 18`).
    pub eligible: Option<Code>,
    pub method: SelectionMethod,
    pub origin: Origin,
}

/// Selection methods of one respondent (or one incident) among several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectionMethod {
    /// Each eligible row with the same probability, from a seeded generator.
    Uniform,
    /// Kish grid: eligible rows ordered males oldest first, then females; the
    /// selection table is drawn from the seed and recorded.
    Kish { sex: String, age: String, male: i64 },
    /// The eligible person whose birthday comes next after the interview date.
    NextBirthday { birth_date: String },
}
