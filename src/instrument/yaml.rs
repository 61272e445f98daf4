//! A YAML document as a tree of spanned nodes.
//!
//! serde derive stops at the first problem, but `vicor validate` must report
//! every one (unknown keys, wrong types) with its line and column. So the file
//! is first read into this small tree, where every node keeps its location,
//! and `load.rs` turns the tree into the model while collecting all errors.
//! serde-saphyr's budget guards against hostile input (alias bombs, deep
//! nesting, huge documents) before any of our code runs.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ByteSpan {
    pub start: usize,
    pub end: usize,
}

/// One YAML node with where it stands in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: ByteSpan,
}

/// The shapes a YAML node can take; scalars keep the type YAML gave them.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// What the node is, in words for error messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a decimal number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// A YAML syntax error with where the parser stopped (1-based line and
/// column, as the parser counts them).
#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

/// Limits on what a questionnaire file may contain; far above any real
/// instrument, far below what would exhaust memory or stack.
fn options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    let mut budget = options.budget.clone().unwrap_or_default();
    budget.max_depth = 48;
    budget.max_aliases = 1_000;
    budget.max_anchors = 1_000;
    budget.max_events = 2_000_000;
    budget.max_nodes = 500_000;
    budget.max_total_scalar_bytes = 16 * 1024 * 1024;
    budget.max_documents = 1;
    budget.max_recorded_anchor_bytes = 1024 * 1024;
    options.budget = Some(budget);
    options
}

/// Parses one YAML document into a spanned tree.
pub fn parse(source: &str) -> Result<Node, SyntaxError> {
    let spanned: Spanned<Value> =
        serde_saphyr::from_str_with_options(source, options()).map_err(|e| {
            let loc = e.location();
            SyntaxError {
                message: first_line(&e.to_string()),
                line: loc.map(|l| l.line() as usize).unwrap_or(1).max(1),
                column: loc.map(|l| l.column() as usize).unwrap_or(1).max(1),
            }
        })?;
    Ok(node(spanned, source))
}

fn first_line(message: &str) -> String {
    let mut line = message.lines().next().unwrap_or("invalid YAML").trim();
    line = line.strip_prefix("error: ").unwrap_or(line);
    // serde-saphyr says where in the text; our renderer says it again with
    // the file name, so the location is cut from the message.
    if let Some(rest) = line.strip_prefix("line ")
        && let Some(i) = rest.find(": ")
    {
        line = &rest[i + 2..];
    }
    match line.find(" at line ") {
        Some(i) => line[..i].to_string(),
        None => line.to_string(),
    }
}

fn node(spanned: Spanned<Value>, source: &str) -> Node {
    let loc = spanned.referenced;
    let start = loc.span().byte_offset().map(|o| o as usize).unwrap_or(0);
    let len = loc.span().byte_len().map(|l| l as usize).unwrap_or(0);
    let end = (start + len).min(source.len());
    Node {
        value: spanned.value,
        span: ByteSpan { start, end },
    }
}

// Sequences and mappings hold `Spanned<Value>` while deserializing; they are
// turned into `Node`s here so spans are recorded for every child.
struct RawSeq(Vec<Spanned<Value>>);

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        match i64::try_from(v) {
            Ok(v) => Ok(Value::Int(v)),
            Err(_) => Ok(Value::Float(v as f64)),
        }
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Ok(i64::try_from(v)
            .map(Value::Int)
            .unwrap_or(Value::Float(v as f64)))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Ok(i64::try_from(v)
            .map(Value::Int)
            .unwrap_or(Value::Float(v as f64)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Value>>()? {
            items.push(item);
        }
        Ok(Value::Seq(RawSeq(items).into_nodes()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<Value>>()? {
            let value = map.next_value::<Spanned<Value>>()?;
            entries.push((spanless(key), spanless(value)));
        }
        Ok(Value::Map(entries))
    }
}

impl RawSeq {
    fn into_nodes(self) -> Vec<Node> {
        self.0.into_iter().map(spanless).collect()
    }
}

/// Turns a `Spanned` child into a `Node`. The source text is not at hand
/// inside the visitor, so the end is clamped later by `parse` users.
fn spanless(spanned: Spanned<Value>) -> Node {
    let span = spanned.referenced.span();
    let start = span.byte_offset().map(|o| o as usize).unwrap_or(0);
    let len = span.byte_len().map(|l| l as usize).unwrap_or(0);
    Node {
        value: spanned.value,
        span: ByteSpan {
            start,
            end: start + len,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(node: &Node) -> &[(Node, Node)] {
        match &node.value {
            Value::Map(m) => m,
            other => panic!("not a map: {other:?}"),
        }
    }

    #[test]
    fn spans_point_at_keys_and_values() {
        let src = "id: demo\nitems:\n  - id: age\n    when: \"x > 1\"\n";
        let root = parse(src).expect("valid yaml");
        let entries = map(&root);
        assert_eq!(entries[0].0.value, Value::Str("id".into()));
        assert_eq!(&src[entries[0].1.span.start..entries[0].1.span.end], "demo");
        let Value::Seq(items) = &entries[1].1.value else {
            panic!("seq")
        };
        let item = map(&items[0]);
        let when = &item[1].1;
        assert_eq!(when.value, Value::Str("x > 1".into()));
        assert_eq!(&src[when.span.start..when.span.start + 1], "\"");
    }

    #[test]
    fn scalars_keep_their_yaml_type() {
        let root = parse("a: 1\nb: '1'\nc: 1.5\nd: true\ne:\n").expect("valid yaml");
        let kinds: Vec<_> = map(&root).iter().map(|(_, v)| v.value.describe()).collect();
        assert_eq!(
            kinds,
            [
                "an integer",
                "a string",
                "a decimal number",
                "a boolean",
                "nothing (null)"
            ]
        );
    }

    #[test]
    fn syntax_error_has_an_offset() {
        let err = parse("a: 1\n b: 3\n").expect_err("bad indentation");
        assert_eq!((err.line, err.column), (2, 3), "{err:?}");
        assert!(!err.message.contains("line"), "{err:?}");
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let prev = i - 1;
            src.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        assert!(parse(&src).is_err());
    }

    #[test]
    fn deep_nesting_is_refused() {
        let src = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse(&src).is_err());
    }
}
