//! Reading the files an analyst writes by hand: the design file
//! (`design.yaml`), estimate specs (`spec.yaml`) and weighting plans
//! (`weights/<plan>.yaml`), with mistakes said in the file's own terms.
//!
//! The three files are serde types read by serde-saphyr, which knows where
//! a value went wrong but not what the key means: `fpc: 3` used to fail with
//! "expected sequence start". [`from_str`] keeps serde for the reading and
//! turns its error into a [`FileError`] that names the key, where it is
//! (line and column, with the line and a caret, as `vicor validate` shows
//! an instrument's errors), what the key expects (from one table per file
//! kind, [`FileKind::expects`]), what was found instead, and, for an unknown
//! key or value, the closest accepted spelling ([`crate::suggest`]).
//!
//! The key is found by walking the file's spanned tree
//! ([`crate::instrument::yaml`]) down to serde-saphyr's line and column,
//! so the messages need nothing from serde's error text but its kind.
//!
//! [`one_or_many`] lets a list of columns be written as one name, as R
//! users write `ids = ~psu` and `fpc = ~fpc`: `clusters: psu` is
//! `clusters: [psu]`.

use std::fmt;

use serde::de::DeserializeOwned;
use serde_saphyr::{DefaultMessageFormatter, Error as YamlError, MessageFormatter};

use crate::instrument::diag::{line_col, offset_of};
use crate::instrument::yaml::{self, Node, Value};
use crate::suggest::suggest;

/// Which hand-written file is being read: names it in messages and knows
/// what each of its keys expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `design.yaml` (`docs/design-file.md`).
    Design,
    /// An estimate spec (`docs/estimation.md`).
    Spec,
    /// A weighting plan (`docs/weighting.md`).
    Plan,
}

const COLUMN: &str = "a column name";
const COLUMNS_PER_STAGE: &str = "a column name or a list of column names, one per stage";
const COLUMNS: &str = "a column name or a list of column names";
const NUMBER: &str = "a number";
const WHOLE: &str = "a whole number";
const BOOL: &str = "true or false";
const EXPRESSION: &str = "a column name or an expression";
const REPLICATE_TYPES: &str = "one of jk1, jkn, brr, fay, bootstrap, subbootstrap, other";
const CALIBRATION_METHODS: &str = "one of poststratify, rake, linear, raking, logit";

/// Every key of a design file (top-level keys, then `replicates.*` and
/// `calibration.*`) with what it expects. Used by both the design file and
/// the plan's `replicates` step, which shares the design's words.
const DESIGN_KEYS: &[(&str, &str)] = &[
    ("weight", "a column name (the sampling weight)"),
    ("probability", "a column name (the selection probability)"),
    ("strata", "a column name (the first-stage strata)"),
    ("clusters", COLUMNS_PER_STAGE),
    ("fpc", COLUMNS_PER_STAGE),
    ("nest", BOOL),
    (
        "lonely_psu",
        "one of fail, remove, adjust, average, certainty",
    ),
    (
        "replicates",
        "a mapping: `columns` or `prefix` with `type`, or `form`",
    ),
    (
        "calibration",
        "a mapping with `method`, `margins` and the weight columns",
    ),
    ("replicates.columns", COLUMNS),
    (
        "replicates.prefix",
        "the start of the replicate columns' names",
    ),
    ("replicates.type", REPLICATE_TYPES),
    ("replicates.form", REPLICATE_TYPES),
    ("replicates.rho", "a number between 0 and 1 (Fay's rho)"),
    ("replicates.scale", NUMBER),
    ("replicates.rscales", "a list of numbers, one per replicate"),
    ("replicates.mse", BOOL),
    ("replicates.replicates", WHOLE),
    ("replicates.seed", WHOLE),
    ("calibration.method", CALIBRATION_METHODS),
    ("calibration.input_weight", COLUMN),
    ("calibration.calibrated_weight", COLUMN),
    (
        "calibration.margins",
        "a list of margins, each a column name or a list of column names",
    ),
    ("calibration.numeric", COLUMNS),
];

const SPEC_KEYS: &[(&str, &str)] = &[
    ("title", "a line of text"),
    (
        "estimates",
        "a list of estimates, each a mapping with `name` and one statistic",
    ),
    ("estimates.name", "a name for the estimate"),
    ("estimates.label", "a line of text"),
    ("estimates.mean", EXPRESSION),
    ("estimates.total", EXPRESSION),
    ("estimates.proportion", "a column name or a condition"),
    (
        "estimates.ratio",
        "a mapping with `numerator` and `denominator`",
    ),
    ("estimates.ratio.numerator", EXPRESSION),
    ("estimates.ratio.denominator", EXPRESSION),
    ("estimates.by", COLUMNS),
    ("estimates.domain", "a condition (an expression)"),
    ("estimates.ci", "one of wald, logit, beta"),
    ("estimates.level", "a number between 0 and 1, such as 0.95"),
    (
        "estimates.iccs",
        "an ICCS code of 2, 4, 5 or 6 digits, such as \"07031\"",
    ),
];

const PLAN_KEYS: &[(&str, &str)] = &[
    ("base", "a mapping with `probabilities` and/or `weights`"),
    (
        "within_household",
        "a mapping with `adults` or `probability`",
    ),
    ("nonresponse", "a mapping with `respondent` and `classes`"),
    ("calibration", "a mapping with `method` and `margins`"),
    ("trimming", "a mapping with `lower` and/or `upper`"),
    ("replicates", "a mapping: `columns`, `prefix` or `form`"),
    (
        "output",
        "a mapping with `weight` and/or `replicate_prefix`",
    ),
    ("base.probabilities", COLUMNS_PER_STAGE),
    ("base.weights", COLUMNS),
    ("within_household.adults", COLUMN),
    ("within_household.probability", COLUMN),
    ("nonresponse.respondent", COLUMN),
    (
        "nonresponse.respondent_value",
        "the value of `respondent` that marks a respondent",
    ),
    ("nonresponse.classes", COLUMNS),
    ("nonresponse.min_respondents", WHOLE),
    ("nonresponse.max_factor", NUMBER),
    ("calibration.method", CALIBRATION_METHODS),
    (
        "calibration.margins",
        "a list of margins, each a mapping with `variable` or `variables`",
    ),
    ("calibration.margins.variable", COLUMN),
    ("calibration.margins.variables", COLUMNS),
    (
        "calibration.margins.targets",
        "the path of a CSV of totals, relative to the plan",
    ),
    ("calibration.margins.total", NUMBER),
    (
        "calibration.bounds",
        "a list of two numbers, [lower, upper]",
    ),
    ("calibration.epsilon", NUMBER),
    ("calibration.maxit", WHOLE),
    ("calibration.trim", "a list of two numbers, [lower, upper]"),
    ("calibration.total_tolerance", NUMBER),
    ("trimming.lower", NUMBER),
    ("trimming.upper", NUMBER),
    ("trimming.strict", BOOL),
    ("replicates.columns", COLUMNS),
    (
        "replicates.prefix",
        "the start of the replicate columns' names",
    ),
    ("replicates.kind", "one of weights, multipliers"),
    (
        "replicates.form",
        "one of jk1, jkn, brr, fay, bootstrap, subbootstrap",
    ),
    (
        "replicates.strata",
        "a column name (the first-stage strata)",
    ),
    ("replicates.clusters", COLUMNS_PER_STAGE),
    ("replicates.fpc", COLUMNS_PER_STAGE),
    ("replicates.nest", BOOL),
    (
        "replicates.lonely_psu",
        "one of fail, remove, adjust, average, certainty",
    ),
    ("replicates.rho", "a number between 0 and 1 (Fay's rho)"),
    ("replicates.replicates", WHOLE),
    ("replicates.seed", WHOLE),
    ("output.weight", COLUMN),
    (
        "output.replicate_prefix",
        "the start of the replicate columns' names",
    ),
];

impl FileKind {
    /// The file in words, for messages.
    pub fn name(self) -> &'static str {
        match self {
            FileKind::Design => "the design file",
            FileKind::Spec => "the estimate spec",
            FileKind::Plan => "the weighting plan",
        }
    }

    fn keys(self) -> &'static [(&'static str, &'static str)] {
        match self {
            FileKind::Design => DESIGN_KEYS,
            FileKind::Spec => SPEC_KEYS,
            FileKind::Plan => PLAN_KEYS,
        }
    }

    /// What the key at `path` (keys joined by dots, list positions left
    /// out: `estimates.by`) expects, in words.
    pub fn expects(self, path: &str) -> Option<&'static str> {
        self.keys()
            .iter()
            .find(|(k, _)| *k == path)
            .map(|(_, what)| *what)
    }
}

/// A mistake in a hand-written file: where it is, which key, what is wrong
/// and what to do. Shown as `path:line:col: message`, the line, a caret
/// under the place and `= help: ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// The file, once the caller has said it ([`FileError::with_path`]).
    pub path: Option<String>,
    /// 1-based line and column; 0 when not known.
    pub line: usize,
    pub column: usize,
    /// The key at fault, dotted from the top (`replicates.type`), when the
    /// mistake is at a key.
    pub key: Option<String>,
    pub message: String,
    pub help: Option<String>,
    /// The text of the line, for the caret.
    source_line: String,
    /// How many characters the caret covers.
    width: usize,
}

impl FileError {
    /// The same error, naming the file it is in.
    pub fn with_path(mut self, path: impl fmt::Display) -> FileError {
        self.path = Some(path.to_string());
        self
    }

    fn at(text: &str, offset: usize, width: usize, message: String) -> FileError {
        let (line, column) = line_col(text, offset);
        let start = offset_of(text, line, 1);
        let rest = &text[start..];
        let source_line = rest[..rest.find('\n').unwrap_or(rest.len())]
            .trim_end()
            .to_string();
        FileError {
            path: None,
            line,
            column,
            key: None,
            message,
            help: None,
            source_line,
            width: width.max(1),
        }
    }
}

/// `{}` gives `path:line:col: message` (for `error: ...` in front);
/// `{:#}` gives `path:line:col: error: message`, as `vicor validate`
/// prints an instrument's findings.
impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = if f.alternate() { "error: " } else { "" };
        let message = &self.message;
        match (&self.path, self.line) {
            (Some(p), 0) => write!(f, "{p}: {level}{message}")?,
            (Some(p), line) => write!(f, "{p}:{line}:{}: {level}{message}", self.column)?,
            (None, 0) => write!(f, "{level}{message}")?,
            (None, line) => write!(f, "line {line}, column {}: {level}{message}", self.column)?,
        }
        if self.line > 0 {
            let gutter = self.line.to_string().len();
            let pad: String = self
                .source_line
                .chars()
                .take(self.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(
                f,
                "\n{:gutter$} |\n{} | {}\n{:gutter$} | {pad}{}",
                "",
                self.line,
                self.source_line,
                "",
                "^".repeat(self.width)
            )?;
            if let Some(help) = &self.help {
                write!(f, "\n{:gutter$} = help: {help}", "")?;
            }
        } else if let Some(help) = &self.help {
            write!(f, "\n  = help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FileError {}

/// Reads a hand-written file of `kind` from YAML text. The error is boxed:
/// it carries the source line, and the error enums that wrap it stay small.
pub fn from_str<T: DeserializeOwned>(kind: FileKind, text: &str) -> Result<T, Box<FileError>> {
    serde_saphyr::from_str(text).map_err(|e| Box::new(explain(kind, text, &e)))
}

/// An error found after reading (a check serde cannot make, such as "give
/// exactly one of `adults` or `probability`"), placed at the key `path`
/// (keys joined by dots, each the first mapping's) when the file has it.
pub fn at_key(text: &str, path: &str, message: impl Into<String>) -> Option<FileError> {
    let root = yaml::parse(text).ok()?;
    let mut node = &root;
    let mut key_node = None;
    for key in path.split('.') {
        let Value::Map(entries) = &node.value else {
            return None;
        };
        let (k, v) = entries
            .iter()
            .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))?;
        key_node = Some(k);
        node = v;
    }
    let k = key_node?;
    let mut e = FileError::at(
        text,
        k.span.start,
        k.span.end.saturating_sub(k.span.start),
        message.into(),
    );
    e.key = Some(path.to_string());
    Some(e)
}

/// As [`at_key`], at the start of item `index` of the list under the
/// top-level key `list` (e.g. the third of `estimates`).
pub fn at_item(
    text: &str,
    list: &str,
    index: usize,
    message: impl Into<String>,
) -> Option<FileError> {
    let root = yaml::parse(text).ok()?;
    let Value::Map(entries) = &root.value else {
        return None;
    };
    let (_, v) = entries
        .iter()
        .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == list))?;
    let Value::Seq(items) = &v.value else {
        return None;
    };
    let item = items.get(index)?;
    let mut e = FileError::at(text, item.span.start, 1, message.into());
    e.key = Some(list.to_string());
    Some(e)
}

/// One step down the tree to the place of an error: a key and its value.
struct Step<'a> {
    key: &'a str,
    key_node: &'a Node,
    value: &'a Node,
}

/// The way from the root down to `offset`.
struct Path<'a> {
    /// At each mapping, the entry that holds the place.
    steps: Vec<Step<'a>>,
    /// The mapping reached after `steps[..i]`, for each `i` where it is one.
    maps: Vec<Option<&'a Node>>,
    /// The place is on the last key itself, not in its value.
    on_key: bool,
}

/// The keys from the root down to `offset`: at each mapping the last entry
/// that starts at or before it, at each list the last item. A collection's
/// span is its start, so "last start at or before" is the containment test.
fn path_to(root: &Node, offset: usize) -> Path<'_> {
    let mut path = Path {
        steps: Vec::new(),
        maps: Vec::new(),
        on_key: false,
    };
    let mut node = root;
    loop {
        match &node.value {
            Value::Map(entries) => {
                path.maps.push(Some(node));
                let Some((k, v)) = entries.iter().rev().find(|(k, _)| k.span.start <= offset)
                else {
                    return path;
                };
                let key = match &k.value {
                    Value::Str(s) => s.as_str(),
                    _ => "?",
                };
                path.steps.push(Step {
                    key,
                    key_node: k,
                    value: v,
                });
                if offset < v.span.start {
                    path.on_key = true;
                    return path;
                }
                node = v;
            }
            Value::Seq(items) => match items.iter().rev().find(|i| i.span.start <= offset) {
                Some(item) => node = item,
                None => return path,
            },
            _ => {
                path.maps.push(None);
                return path;
            }
        }
    }
}

fn dotted(steps: &[Step<'_>]) -> String {
    steps.iter().map(|s| s.key).collect::<Vec<_>>().join(".")
}

/// "in `replicates`" or "in the design file".
fn within(kind: FileKind, parent: &[Step<'_>]) -> String {
    if parent.is_empty() {
        format!("in {}", kind.name())
    } else {
        format!("in `{}`", dotted(parent))
    }
}

/// Turns serde-saphyr's error into the file's terms.
fn explain(kind: FileKind, text: &str, error: &YamlError) -> FileError {
    let inner = error.without_snippet();
    let plain = DefaultMessageFormatter.format_message(inner).into_owned();
    let Some(location) = inner.location() else {
        return FileError::at(text, 0, 1, plain).unlocated();
    };
    let offset = offset_of(text, location.line() as usize, location.column() as usize);
    let Ok(root) = yaml::parse(text) else {
        // A syntax error: serde-saphyr's words are the parser's.
        return FileError::at(text, offset, 1, format!("not valid YAML: {plain}"));
    };
    let path = path_to(&root, offset);
    let (steps, on_key) = (&path.steps[..], path.on_key);
    match inner {
        YamlError::SerdeUnknownField {
            field, expected, ..
        } => {
            let (parent, width) = match steps.split_last() {
                Some((last, parent)) if on_key && last.key == field => {
                    (parent, last.key_node.span.end - last.key_node.span.start)
                }
                _ => (steps, field.chars().count()),
            };
            let mut e = FileError::at(
                text,
                offset,
                width,
                format!("unknown key `{field}` {}", within(kind, parent)),
            );
            e.key = Some(join(parent, field));
            e.help = Some(match suggest(field, expected) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("the keys here are {}", expected.join(", ")),
            });
            e
        }
        YamlError::SerdeMissingField { field, .. } => {
            // The deepest mapping on the way down that may hold the key.
            let depth = (0..=steps.len())
                .rev()
                .find(|&d| kind.expects(&join(&steps[..d], field)).is_some())
                .unwrap_or(0);
            let parent = &steps[..depth];
            // serde-saphyr's place is the end of the mapping that lacks
            // the key; the caret goes under its start.
            let place = match path.maps.get(depth) {
                Some(Some(map)) => map.span.start,
                _ => offset,
            };
            let mut e = FileError::at(
                text,
                place,
                1,
                format!("missing key `{field}` {}", within(kind, parent)),
            );
            let key = join(parent, field);
            e.help = kind
                .expects(&key)
                .map(|what| format!("add `{field}:` with {what}"));
            e.key = Some(key);
            e
        }
        _ if steps.is_empty() => {
            let mut e = FileError::at(text, offset, 1, plain);
            if !matches!(root.value, Value::Map(_)) {
                e.message = format!(
                    "{} must be a mapping of keys, such as `{}: ...`; found {}",
                    capitalized(kind.name()),
                    kind.keys()[0].0,
                    root.value.describe()
                );
            }
            e
        }
        _ => {
            // The deepest key the table knows: a mapping given for a list
            // of columns fails at one of its own keys.
            let depth = (1..=steps.len())
                .rev()
                .find(|&d| kind.expects(&dotted(&steps[..d])).is_some())
                .unwrap_or(steps.len());
            let steps = &steps[..depth];
            let key = dotted(steps);
            let last = steps.last().expect("steps is not empty");
            let value = last.value;
            let width = if matches!(value.value, Value::Map(_) | Value::Seq(_)) {
                1
            } else {
                value.span.end.saturating_sub(value.span.start)
            };
            let (message, help) = match (inner, kind.expects(&key)) {
                (
                    YamlError::SerdeUnknownVariant {
                        variant, expected, ..
                    },
                    what,
                ) => (
                    match what {
                        Some(what) => format!("`{}` expects {what}", last.key),
                        None => format!("`{}` expects one of {}", last.key, expected.join(", ")),
                    },
                    Some(match suggest(variant, expected) {
                        Some(s) => format!("found `{variant}`; did you mean `{s}`?"),
                        None => format!("found `{variant}`"),
                    }),
                ),
                // A check of our own (`serde::de::Error::custom`) says why.
                (YamlError::Message { msg, .. }, Some(what)) => {
                    (format!("`{}` expects {what}", last.key), Some(msg.clone()))
                }
                (_, Some(what)) => (
                    format!("`{}` expects {what}", last.key),
                    Some(format!("found {}", found(value))),
                ),
                (_, None) => (format!("`{}`: {plain}", last.key), None),
            };
            // serde-saphyr may place a type error at the key (as for a
            // `deserialize_with` field); the caret goes under the value.
            let mut e = FileError::at(text, value.span.start, width, message);
            e.key = Some(key);
            e.help = help;
            e
        }
    }
}

impl FileError {
    /// An error with no place in the file.
    pub fn message(message: impl Into<String>) -> FileError {
        FileError::at("", 0, 1, message.into()).unlocated()
    }

    fn unlocated(mut self) -> FileError {
        self.line = 0;
        self.column = 0;
        self
    }
}

/// What a node is, with the value itself when it is short.
fn found(node: &Node) -> String {
    let show = |v: String| {
        if v.chars().count() <= 30 {
            format!(" `{v}`")
        } else {
            String::new()
        }
    };
    let value = match &node.value {
        Value::Bool(b) => show(b.to_string()),
        Value::Int(i) => show(i.to_string()),
        Value::Float(x) => show(x.to_string()),
        Value::Str(s) => show(s.clone()),
        _ => String::new(),
    };
    format!("{}{value}", node.value.describe())
}

fn join(parent: &[Step<'_>], key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{}.{key}", dotted(parent))
    }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// serde helper for a list of column names that may be written as one name
/// (`clusters: psu` for `clusters: [psu]`); an empty value is an empty
/// list. Use with `#[serde(default, deserialize_with = "one_or_many")]`.
pub fn one_or_many<'de, D>(deserializer: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct OneOrMany;

    impl<'de> serde::de::Visitor<'de> for OneOrMany {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a column name or a list of column names")
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Vec<String>, E> {
            Ok(vec![v.to_string()])
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            while let Some(name) = seq.next_element::<String>()? {
                out.push(name);
            }
            Ok(out)
        }
    }

    deserializer.deserialize_any(OneOrMany)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Stages {
        #[serde(default, deserialize_with = "one_or_many")]
        clusters: Vec<String>,
        #[serde(default)]
        nest: bool,
    }

    fn read(text: &str) -> Result<Stages, Box<FileError>> {
        from_str(FileKind::Design, text)
    }

    #[test]
    fn one_name_is_a_list_of_one() {
        let one = read("clusters: psu\n").expect("reads");
        let list = read("clusters: [psu]\n").expect("reads");
        assert_eq!(one, list);
        assert_eq!(one.clusters, ["psu"]);
        assert_eq!(
            read("clusters:\n").expect("reads").clusters,
            Vec::<String>::new()
        );
        assert_eq!(
            read("clusters: [a, b]\n").expect("reads").clusters,
            ["a", "b"]
        );
    }

    #[test]
    fn a_number_for_columns_names_the_key_and_what_it_expects() {
        let e = read("nest: true\nclusters: 3\n").expect_err("a number is not a column");
        assert_eq!((e.line, e.column), (2, 11));
        assert_eq!(e.key.as_deref(), Some("clusters"));
        assert_eq!(
            e.message,
            "`clusters` expects a column name or a list of column names, one per stage"
        );
        assert_eq!(e.help.as_deref(), Some("found an integer `3`"));
        assert_eq!(
            e.with_path("d.yaml").to_string(),
            "d.yaml:2:11: `clusters` expects a column name or a list of column names, one per stage\n  |\n2 | clusters: 3\n  |           ^\n  = help: found an integer `3`"
        );
    }

    #[test]
    fn an_unknown_key_suggests_the_closest() {
        let e = read("nest: true\nclustrs: [a]\n").expect_err("unknown key");
        assert_eq!((e.line, e.column), (2, 1));
        assert_eq!(e.message, "unknown key `clustrs` in the design file");
        assert_eq!(e.help.as_deref(), Some("did you mean `clusters`?"));
        assert!(e.to_string().contains("  | ^^^^^^^\n"), "{e}");
        let e = read("colour: red\n").expect_err("unknown key");
        assert_eq!(e.help.as_deref(), Some("the keys here are clusters, nest"));
    }

    #[test]
    fn a_wrong_scalar_names_the_key() {
        let e = read("nest: maybe\n").expect_err("not a boolean");
        assert_eq!(e.key.as_deref(), Some("nest"));
        assert_eq!(e.message, "`nest` expects true or false");
        assert_eq!(e.help.as_deref(), Some("found a string `maybe`"));
    }

    #[test]
    fn a_file_that_is_not_a_mapping_says_so() {
        let e = read("- a\n- b\n").expect_err("a list");
        assert!(
            e.message
                .starts_with("The design file must be a mapping of keys"),
            "{e}"
        );
    }

    #[test]
    fn a_later_check_is_placed_at_its_key() {
        let text = "base:\n  weights: w\ncalibration:\n  method: logit\n";
        let e = at_key(text, "calibration", "calibration: logit needs `bounds`")
            .expect("the key is there");
        assert_eq!(
            (e.line, e.column, e.key.as_deref()),
            (3, 1, Some("calibration"))
        );
        let e = at_key(text, "calibration.method", "m").expect("nested");
        assert_eq!((e.line, e.column), (4, 3));
        assert!(at_key(text, "trimming", "m").is_none());
    }

    /// Every key path of a serialized value (list positions left out).
    fn key_paths(value: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    out.push(path.clone());
                    key_paths(v, &path, out);
                }
            }
            serde_json::Value::Array(items) => {
                for item in items {
                    key_paths(item, prefix, out);
                }
            }
            _ => {}
        }
    }

    fn assert_every_key_is_in_the_table<T: DeserializeOwned + serde::Serialize>(
        kind: FileKind,
        text: &str,
    ) {
        let value: T = from_str(kind, text).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        let mut paths = Vec::new();
        key_paths(
            &serde_json::to_value(&value).expect("serializes"),
            "",
            &mut paths,
        );
        assert!(paths.len() > 10, "{kind:?}: {paths:?}");
        for path in paths {
            assert!(
                kind.expects(&path).is_some(),
                "{kind:?}: `{path}` is not in the table"
            );
        }
    }

    /// The tables say what every key of the three files expects: a file with
    /// every key, read and written back, has no key the table lacks.
    #[test]
    fn the_tables_know_every_key_of_the_three_files() {
        assert_every_key_is_in_the_table::<crate::design::DesignSpec>(
            FileKind::Design,
            "weight: w\nprobability: p\nstrata: h\nclusters: c\nfpc: f\nnest: true\nlonely_psu: adjust\nreplicates:\n  columns: [r1]\n  prefix: r\n  type: fay\n  form: jkn\n  rho: 0.5\n  scale: 1\n  rscales: [1]\n  mse: true\n  replicates: 2\n  seed: 3\ncalibration:\n  method: linear\n  input_weight: d\n  calibrated_weight: g\n  margins: [sex]\n  numeric: [age]\n",
        );
        assert_every_key_is_in_the_table::<crate::estimate::spec::Spec>(
            FileKind::Spec,
            "title: t\nestimates:\n  - name: a\n    label: l\n    mean: x\n    total: x\n    proportion: x\n    ratio: {numerator: x, denominator: y}\n    by: s\n    domain: x > 1\n    ci: wald\n    level: 0.9\n    iccs: \"0401\"\n",
        );
        assert_every_key_is_in_the_table::<crate::weighting::plan::Plan>(
            FileKind::Plan,
            include_str!("../weights/template.yaml"),
        );
    }

    #[test]
    fn the_tables_have_one_entry_per_key() {
        for kind in [FileKind::Design, FileKind::Spec, FileKind::Plan] {
            let keys = kind.keys();
            for (i, (k, _)) in keys.iter().enumerate() {
                assert!(
                    keys[..i].iter().all(|(other, _)| other != k),
                    "{k} twice in {kind:?}"
                );
            }
        }
    }
}
