//! A YAML document as a tree of spanned nodes.
//!
//! serde derive stops at the first problem, but `vicor validate` must report
//! every one (unknown keys, wrong types) with its line and column. So the file
//! is first read into this small tree, where every node keeps its location,
//! and `load.rs` turns the tree into the model while collecting all errors.
//!
//! The tree is built straight from the event stream of granit-parser (the
//! YAML parser under serde-saphyr, reached through serde-saphyr's re-export so
//! both always agree on the version). serde's `Spanned<T>` path, used before,
//! buffered and replayed every mapping key and was most of the time of
//! `vicor validate` on a large instrument (see `docs/performance.md`).
//!
//! Invariants the builder keeps, as serde-saphyr with our options did:
//! - every node's span is the byte range of its parser event (a quoted
//!   scalar's span starts at its quote; a collection's at its start event);
//!   a node copied from an alias takes the span of the `*name` token;
//! - plain scalars are typed as before: null (`~`, `null`, empty), YAML 1.1
//!   booleans (`yes`, `no`, `on`, `off`, `y`, `n`, any case), integers
//!   (decimal without a leading zero, `0x`, `0o`, `0b`, underscores between
//!   digits), finite floats; anything else is a string, as is every quoted or
//!   block scalar and every scalar tagged `!!str` or `!`;
//! - a repeated key in one mapping is an error, and `<<` merges mappings
//!   (explicit keys win, then the first merged one);
//! - hostile input fails fast and cleanly: at most [`MAX_DEPTH`] nested
//!   collections, one document, and budgets on nodes (alias copies included),
//!   scalar bytes, anchors, aliases and events. The builder keeps open
//!   collections on a heap stack and caps depth, so nesting cannot overflow
//!   the call stack (the serde path did, in debug builds, near 47 levels).

use std::borrow::Cow;
use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use serde_saphyr::granit_parser::{self as granit, Event, Marker, ScalarStyle, Span, Tag};

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

/// Most collections nested in one another (alias copies included).
pub const MAX_DEPTH: usize = 48;
/// Most nodes in the tree, counting every node an alias copies.
const MAX_NODES: usize = 500_000;
/// Most bytes of scalar text, counting what aliases copy.
const MAX_SCALAR_BYTES: usize = 16 * 1024 * 1024;
/// Most parser events.
const MAX_EVENTS: usize = 2_000_000;
const MAX_ANCHORS: usize = 1_000;
const MAX_ALIASES: usize = 1_000;

/// Parses one YAML document into a spanned tree.
pub fn parse(source: &str) -> Result<Node, SyntaxError> {
    let mut options = granit::Options::default();
    options.emit_comments = false;
    let mut parser = granit::Parser::new_from_str_with_options(source, options);
    let mut builder = Builder {
        source,
        ..Builder::default()
    };
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| SyntaxError {
            message: e.info(),
            line: e.marker().line().max(1),
            column: e.marker().col() + 1,
        })?;
        builder.event(event, span)?;
    }
    // An empty document is null, placed where the stream ends.
    let mut root = builder.root.unwrap_or(Node {
        value: Value::Null,
        span: builder.last,
    });
    root.span.end = root.span.end.min(source.len());
    Ok(root)
}

/// A collection whose end event has not come yet.
struct Open {
    span: ByteSpan,
    anchor: usize,
    kind: OpenKind,
}

enum OpenKind {
    Seq(Vec<Node>),
    Map {
        entries: Vec<(Node, Node)>,
        /// One per entry, to find repeated keys.
        prints: KeySet,
        /// The key read, waiting for its value, and whether it is `<<`.
        key: Option<(Node, KeyPrint, bool)>,
        /// Values of `<<` keys, merged when the mapping ends.
        merges: Vec<Node>,
    },
}

/// What makes two mapping keys the same: integers by value, other scalars
/// by their text (so `true` and `"true"` clash, `1` and `"1"` do not).
#[derive(Debug, Clone, PartialEq)]
enum KeyPrint {
    Int(i128),
    Null(String),
    /// The text of a key that is not a string (`yes`, `1.5`).
    Text(String),
    /// A string key: its text is the key's own `Value::Str`, not copied.
    Str,
    Other(String),
}

impl KeyPrint {
    /// The identity of `key`, whose print this is, as a comparable view.
    fn view<'a>(&'a self, key: &'a Node) -> (u8, i128, &'a str) {
        match (self, &key.value) {
            (KeyPrint::Int(i), _) => (0, *i, ""),
            (KeyPrint::Null(t), _) => (1, 0, t),
            (KeyPrint::Text(t), _) | (KeyPrint::Str, Value::Str(t)) => (2, 0, t),
            (KeyPrint::Other(t), _) => (3, 0, t),
            (KeyPrint::Str, _) => (4, 0, ""),
        }
    }
}

/// The keys of one mapping, one print per entry, in entry order. Small
/// mappings are searched in order; past [`KeySet::LINEAR`] keys, hashes of
/// the prints are kept too, so a hostile mapping with many keys costs
/// linear time, not quadratic.
#[derive(Default)]
struct KeySet {
    prints: Vec<KeyPrint>,
    hashes: HashSet<u64>,
}

impl KeySet {
    const LINEAR: usize = 16;

    fn hash(view: (u8, i128, &str)) -> u64 {
        let mut h = DefaultHasher::new();
        view.hash(&mut h);
        h.finish()
    }

    /// Whether `key` (printed `print`) is already among `entries`, whose
    /// prints these are.
    fn contains(&self, entries: &[(Node, Node)], key: &Node, print: &KeyPrint) -> bool {
        let wanted = print.view(key);
        if self.prints.len() > Self::LINEAR && !self.hashes.contains(&Self::hash(wanted)) {
            return false;
        }
        entries
            .iter()
            .zip(&self.prints)
            .any(|((k, _), p)| p.view(k) == wanted)
    }

    /// Records the print of `key`, the entry just pushed after the others.
    fn push(&mut self, entries: &[(Node, Node)], print: KeyPrint) {
        self.prints.push(print);
        if self.prints.len() == Self::LINEAR + 1 {
            for ((k, _), p) in entries.iter().zip(&self.prints) {
                self.hashes.insert(Self::hash(p.view(k)));
            }
        } else if self.prints.len() > Self::LINEAR + 1 {
            let (k, _) = entries.last().expect("the entry was pushed");
            let p = self.prints.last().expect("just pushed");
            self.hashes.insert(Self::hash(p.view(k)));
        }
    }
}

/// An anchored node kept for its aliases, with what a copy costs.
struct Anchored {
    node: Node,
    nodes: usize,
    scalar_bytes: usize,
    depth: usize,
}

#[derive(Default)]
struct Builder<'s> {
    source: &'s str,
    stack: Vec<Open>,
    root: Option<Node>,
    /// Indexed by the parser's anchor id; `None` while the node is open.
    anchors: Vec<Option<Anchored>>,
    /// The span of the last event, where an empty document is.
    last: ByteSpan,
    documents: usize,
    events: usize,
    nodes: usize,
    scalar_bytes: usize,
    anchor_count: usize,
    alias_count: usize,
}

fn byte_span(span: &Span) -> ByteSpan {
    let start = span.start.byte_offset().unwrap_or(0);
    let end = span.end.byte_offset().unwrap_or(start).max(start);
    ByteSpan { start, end }
}

fn error_at(marker: &Marker, message: impl Into<String>) -> SyntaxError {
    SyntaxError {
        message: message.into(),
        line: marker.line().max(1),
        column: marker.col() + 1,
    }
}

impl Builder<'_> {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), SyntaxError> {
        self.events += 1;
        self.last = byte_span(&span);
        if self.events > MAX_EVENTS {
            return Err(error_at(
                &span.start,
                "the file is too large (over 2,000,000 YAML events); split it into modules",
            ));
        }
        match event {
            Event::DocumentStart(..) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(error_at(
                        &span.start,
                        "a second YAML document; keep one document per file (remove `---`)",
                    ));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.count(&span, 1, text.len())?;
                let (value, print, merge) = if self.expects_key() {
                    let merge =
                        matches!(style, ScalarStyle::Plain) && tag.is_none() && text == "<<";
                    let value = scalar(text.clone(), style, tag.as_deref(), &span)?;
                    let print = match value {
                        Value::Str(_) => KeyPrint::Str,
                        _ => key_print(&text, style, tag.as_deref()),
                    };
                    (value, Some(print), merge)
                } else {
                    (scalar(text, style, tag.as_deref(), &span)?, None, false)
                };
                let node = Node {
                    value,
                    span: byte_span(&span),
                };
                self.anchor(anchor, &node, &span)?;
                self.add(node, print, merge, &span)?;
            }
            Event::SequenceStart(_, anchor, _) => {
                self.open(anchor, &span, OpenKind::Seq(Vec::new()))?
            }
            Event::MappingStart(_, anchor, _) => self.open(
                anchor,
                &span,
                OpenKind::Map {
                    entries: Vec::new(),
                    prints: KeySet::default(),
                    key: None,
                    merges: Vec::new(),
                },
            )?,
            Event::SequenceEnd | Event::MappingEnd => self.close(&span)?,
            Event::Alias(id) => self.alias(id, &span)?,
            _ => {}
        }
        Ok(())
    }

    fn count(&mut self, span: &Span, nodes: usize, bytes: usize) -> Result<(), SyntaxError> {
        self.nodes += nodes;
        self.scalar_bytes += bytes;
        if self.nodes > MAX_NODES {
            return Err(error_at(
                &span.start,
                "the document has too many nodes (over 500,000, aliases expanded); remove aliases that copy large parts",
            ));
        }
        if self.scalar_bytes > MAX_SCALAR_BYTES {
            return Err(error_at(
                &span.start,
                "the document has too much text (over 16 MiB, aliases expanded); split it into modules",
            ));
        }
        Ok(())
    }

    fn open(&mut self, anchor: usize, span: &Span, kind: OpenKind) -> Result<(), SyntaxError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(error_at(
                &span.start,
                format!("collections are nested more than {MAX_DEPTH} deep; flatten the structure"),
            ));
        }
        self.count(span, 1, 0)?;
        if anchor != 0 {
            self.new_anchor(anchor, span)?;
        }
        self.stack.push(Open {
            span: byte_span(span),
            anchor,
            kind,
        });
        Ok(())
    }

    fn new_anchor(&mut self, anchor: usize, span: &Span) -> Result<(), SyntaxError> {
        self.anchor_count += 1;
        if self.anchor_count > MAX_ANCHORS {
            return Err(error_at(
                &span.start,
                format!("more than {MAX_ANCHORS} anchors; remove some"),
            ));
        }
        if self.anchors.len() <= anchor {
            self.anchors.resize_with(anchor + 1, || None);
        }
        self.anchors[anchor] = None;
        Ok(())
    }

    /// Keeps an anchored scalar or finished collection for its aliases.
    fn anchor(&mut self, anchor: usize, node: &Node, span: &Span) -> Result<(), SyntaxError> {
        if anchor == 0 {
            return Ok(());
        }
        if !matches!(node.value, Value::Seq(_) | Value::Map(_)) {
            self.new_anchor(anchor, span)?;
        }
        let (nodes, scalar_bytes, depth) = measure(node);
        self.anchors[anchor] = Some(Anchored {
            node: node.clone(),
            nodes,
            scalar_bytes,
            depth,
        });
        Ok(())
    }

    fn alias(&mut self, id: usize, span: &Span) -> Result<(), SyntaxError> {
        self.alias_count += 1;
        if self.alias_count > MAX_ALIASES {
            return Err(error_at(
                &span.start,
                format!("more than {MAX_ALIASES} aliases; remove some"),
            ));
        }
        let Some(Some(anchored)) = self.anchors.get(id) else {
            return Err(error_at(
                &span.start,
                "this alias refers to the collection it is in; aliases may only copy finished nodes",
            ));
        };
        if self.stack.len() + anchored.depth > MAX_DEPTH {
            return Err(error_at(
                &span.start,
                format!(
                    "this alias nests collections more than {MAX_DEPTH} deep; flatten the structure"
                ),
            ));
        }
        let (nodes, bytes) = (anchored.nodes, anchored.scalar_bytes);
        self.count(span, nodes, bytes)?;
        let mut node = self.anchors[id]
            .as_ref()
            .expect("checked above")
            .node
            .clone();
        respan(&mut node, byte_span(span));
        self.add(node, None, false, span)
    }

    fn close(&mut self, span: &Span) -> Result<(), SyntaxError> {
        let open = self
            .stack
            .pop()
            .expect("the parser balances collection events");
        let value = match open.kind {
            OpenKind::Seq(items) => Value::Seq(items),
            OpenKind::Map {
                mut entries,
                merges,
                ..
            } => {
                if !merges.is_empty() {
                    merge_into(&mut entries, merges);
                }
                Value::Map(entries)
            }
        };
        let node = Node {
            value,
            span: open.span,
        };
        self.anchor(open.anchor, &node, span)?;
        self.add(node, None, false, span)
    }

    /// Whether the next node is a mapping key.
    fn expects_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Open {
                kind: OpenKind::Map { key: None, .. },
                ..
            })
        )
    }

    /// Puts a finished node in its parent (or makes it the root). `print`
    /// is the key identity of a scalar read as a key; collections and alias
    /// copies get theirs from their value.
    fn add(
        &mut self,
        node: Node,
        print: Option<KeyPrint>,
        merge: bool,
        span: &Span,
    ) -> Result<(), SyntaxError> {
        let Some(parent) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        match &mut parent.kind {
            OpenKind::Seq(items) => items.push(node),
            OpenKind::Map {
                entries,
                prints,
                key,
                merges,
            } => match key.take() {
                None => {
                    let print = print.unwrap_or_else(|| node_print(&node));
                    if !merge && prints.contains(entries, &node, &print) {
                        return Err(error_at(
                            &span.start,
                            format!(
                                "{} appears twice in this mapping; remove one",
                                describe_key(&node)
                            ),
                        ));
                    }
                    *key = Some((node, print, merge));
                }
                Some((_, _, true)) => {
                    if let Some(at) = not_mergeable(&node) {
                        let (line, column) = line_col(self.source, at);
                        return Err(SyntaxError {
                            message: "`<<` must be followed by a mapping or a list of mappings"
                                .to_string(),
                            line,
                            column,
                        });
                    }
                    merges.push(node);
                }
                Some((k, p, false)) => {
                    entries.push((k, node));
                    prints.push(entries, p);
                }
            },
        }
        Ok(())
    }
}

fn describe_key(key: &Node) -> String {
    match &key.value {
        Value::Str(t) => format!("key `{t}`"),
        Value::Int(i) => format!("key `{i}`"),
        Value::Bool(b) => format!("key `{b}`"),
        Value::Float(f) => format!("key `{f}`"),
        Value::Null => "the null key".to_string(),
        Value::Seq(_) | Value::Map(_) => "this key".to_string(),
    }
}

/// Where a `<<` value is not a mapping (or null, or a list of mappings).
fn not_mergeable(node: &Node) -> Option<usize> {
    match &node.value {
        Value::Map(_) | Value::Null => None,
        Value::Seq(items) => items
            .iter()
            .find(|i| !matches!(i.value, Value::Map(_)))
            .map(|i| i.span.start),
        _ => Some(node.span.start),
    }
}

/// 1-based line and column (in characters, as the parser counts) of a byte
/// offset.
fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

/// Adds the entries of `<<` values (mappings or lists of them, checked by
/// `mergeable`) whose keys the mapping does not have yet. Keys are compared
/// by value here, as the text of a copied key is not at hand: so a merged
/// `yes` is dropped beside an explicit `true` (serde-saphyr kept both, an
/// edge no questionnaire meets: `load.rs` refuses non-string keys anyway).
fn merge_into(entries: &mut Vec<(Node, Node)>, merges: Vec<Node>) {
    let mut prints = KeySet::default();
    for i in 0..entries.len() {
        prints.push(&entries[..=i], node_print(&entries[i].0));
    }
    for merged in merges {
        let maps = match merged.value {
            Value::Map(m) => vec![(m, merged.span)],
            Value::Seq(items) => items
                .into_iter()
                .filter_map(|i| match i.value {
                    Value::Map(m) => Some((m, i.span)),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        // Merged entries are placed where the mapping they come from starts.
        for (map, span) in maps {
            for (mut k, mut v) in map {
                let print = node_print(&k);
                if !prints.contains(entries, &k, &print) {
                    respan(&mut k, span);
                    respan(&mut v, span);
                    entries.push((k, v));
                    prints.push(entries, print);
                }
            }
        }
    }
}

/// Node count, scalar bytes and collection depth of a subtree.
fn measure(node: &Node) -> (usize, usize, usize) {
    match &node.value {
        Value::Str(s) => (1, s.len(), 0),
        Value::Seq(items) => items.iter().fold((1, 0, 1), |(n, b, d), item| {
            let (n2, b2, d2) = measure(item);
            (n + n2, b + b2, d.max(d2 + 1))
        }),
        Value::Map(entries) => entries.iter().fold((1, 0, 1), |(n, b, d), (k, v)| {
            let (nk, bk, dk) = measure(k);
            let (nv, bv, dv) = measure(v);
            (n + nk + nv, b + bk + bv, d.max(dk + 1).max(dv + 1))
        }),
        _ => (1, 0, 0),
    }
}

/// Gives a copied node, and everything in it, the span of the alias.
fn respan(node: &mut Node, span: ByteSpan) {
    node.span = span;
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(|n| respan(n, span)),
        Value::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            respan(k, span);
            respan(v, span);
        }),
        _ => {}
    }
}

/// The key identity of a built node (alias copies and collections).
fn node_print(node: &Node) -> KeyPrint {
    match &node.value {
        Value::Int(i) => KeyPrint::Int(i128::from(*i)),
        Value::Str(_) => KeyPrint::Str,
        Value::Null => KeyPrint::Null(String::new()),
        other => KeyPrint::Other(format!("{:?}", strip_spans(other))),
    }
}

fn strip_spans(value: &Value) -> Value {
    let bare = |n: &Node| Node {
        value: strip_spans(&n.value),
        span: ByteSpan::default(),
    };
    match value {
        Value::Seq(items) => Value::Seq(items.iter().map(bare).collect()),
        Value::Map(entries) => {
            Value::Map(entries.iter().map(|(k, v)| (bare(k), bare(v))).collect())
        }
        other => other.clone(),
    }
}

fn key_print(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> KeyPrint {
    let plain = matches!(style, ScalarStyle::Plain);
    match tag.map(tag_kind) {
        None if plain => {
            if is_null(text) {
                return KeyPrint::Null(text.to_string());
            }
            if let Some(i) = parse_int(trim(text)) {
                return KeyPrint::Int(i);
            }
        }
        Some(TagKind::Int) => {
            if let Some(i) = parse_int(trim(text)) {
                return KeyPrint::Int(i);
            }
        }
        Some(TagKind::Null) => return KeyPrint::Null(text.to_string()),
        _ => {}
    }
    KeyPrint::Text(text.to_string())
}

/// What an explicit tag asks of a scalar.
#[derive(Clone, Copy, PartialEq)]
enum TagKind {
    Str,
    Null,
    Bool,
    Int,
    Float,
    Collection,
    /// A tag we do not know: the scalar is read as if untagged.
    Other,
}

fn tag_kind(tag: &Tag) -> TagKind {
    if let Some(name) = tag.core_suffix() {
        return tag_name_kind(name);
    }
    let resolved = format!("{}{}", tag.handle(), tag.suffix());
    if resolved == "!" || resolved == "!!" {
        // The non-specific tag `!`: a string, whatever it looks like.
        return TagKind::Str;
    }
    match resolved
        .strip_prefix("tag:yaml.org,2002:")
        .or_else(|| resolved.strip_prefix('!'))
    {
        Some(name) => tag_name_kind(name.strip_prefix('!').unwrap_or(name)),
        None => TagKind::Other,
    }
}

fn tag_name_kind(name: &str) -> TagKind {
    match name {
        "str" => TagKind::Str,
        "null" => TagKind::Null,
        "bool" => TagKind::Bool,
        "int" => TagKind::Int,
        "float" => TagKind::Float,
        "map" | "seq" => TagKind::Collection,
        _ => TagKind::Other,
    }
}

/// Types one scalar (see the module doc for the rules).
fn scalar(
    text: Cow<'_, str>,
    style: ScalarStyle,
    tag: Option<&Tag>,
    span: &Span,
) -> Result<Value, SyntaxError> {
    let kind = tag.map_or(TagKind::Other, tag_kind);
    let invalid = |what: &str| {
        error_at(
            &span.start,
            format!("`{text}` is not {what}; fix the value or remove its tag"),
        )
    };
    match kind {
        TagKind::Null => return Ok(Value::Null),
        TagKind::Bool => {
            return bool_of(&text)
                .map(Value::Bool)
                .ok_or_else(|| invalid("a boolean"));
        }
        TagKind::Int => return int_value(trim(&text)).ok_or_else(|| invalid("an integer")),
        TagKind::Float => {
            return match float_of(trim(&text)) {
                Some(f) if f.is_finite() => Ok(Value::Float(f)),
                _ => Err(invalid("a finite number")),
            };
        }
        TagKind::Collection => return Err(invalid("a collection")),
        TagKind::Str => return Ok(Value::Str(text.into_owned())),
        TagKind::Other => {}
    }
    if !matches!(style, ScalarStyle::Plain) {
        return Ok(Value::Str(text.into_owned()));
    }
    if is_null(&text) {
        return Ok(Value::Null);
    }
    // A plain scalar has no blanks at its ends, and only these can start a
    // boolean (at most 5 letters) or a number: most text skips both tests.
    if text.len() <= 5
        && let Some(b) = bool_of(&text)
    {
        return Ok(Value::Bool(b));
    }
    if !matches!(
        text.as_bytes().first(),
        Some(b'0'..=b'9' | b'+' | b'-' | b'.')
    ) {
        return Ok(Value::Str(text.into_owned()));
    }
    let t = trim(&text);
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    let uppercase_radix = matches!(unsigned.as_bytes(), [b'0', b'X' | b'O' | b'B', ..]);
    let signed_nan = t.len() != unsigned.len() && matches!(unsigned, ".nan" | ".NaN" | ".NAN");
    if uppercase_radix || signed_nan {
        return Ok(Value::Str(text.into_owned()));
    }
    if let Some(v) = int_value(t) {
        return Ok(v);
    }
    match float_of(t) {
        Some(f) if f.is_finite() => Ok(Value::Float(f)),
        Some(_) => Err(error_at(
            &span.start,
            format!("`{text}` is not a finite number; quote it if it is text"),
        )),
        None => Ok(Value::Str(text.into_owned())),
    }
}

fn trim(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\r', '\n'])
}

fn is_null(plain: &str) -> bool {
    matches!(plain, "" | "~" | "null" | "Null" | "NULL")
}

/// YAML 1.1 booleans, as serde-saphyr reads them by default.
fn bool_of(text: &str) -> Option<bool> {
    let t = trim(text);
    let is = |words: [&str; 4]| words.iter().any(|w| t.eq_ignore_ascii_case(w));
    if is(["true", "yes", "y", "on"]) {
        Some(true)
    } else if is(["false", "no", "n", "off"]) {
        Some(false)
    } else {
        None
    }
}

/// An integer that fits 64 bits: `Int`, or `Float` above `i64::MAX` (as
/// serde's `u64` did); `None` when the text is not an integer in range.
fn int_value(t: &str) -> Option<Value> {
    let v = parse_int(t)?;
    if t.starts_with('-') {
        i64::try_from(v).ok().map(Value::Int)
    } else {
        let u = u64::try_from(v).ok()?;
        Some(i64::try_from(u).map_or(Value::Float(u as f64), Value::Int))
    }
}

/// A YAML integer: optional sign, then decimal (no leading zero), `0x`,
/// `0o` or `0b` digits, with single underscores between digits.
fn parse_int(t: &str) -> Option<i128> {
    let (negative, rest) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (radix, digits) =
        if let Some(d) = rest.strip_prefix("0x").or_else(|| rest.strip_prefix("0X")) {
            (16, d)
        } else if let Some(d) = rest.strip_prefix("0o").or_else(|| rest.strip_prefix("0O")) {
            (8, d)
        } else if let Some(d) = rest.strip_prefix("0b").or_else(|| rest.strip_prefix("0B")) {
            (2, d)
        } else {
            if rest.starts_with('0') && rest != "0" {
                return None;
            }
            (10, rest)
        };
    let bytes = digits.as_bytes();
    let mut magnitude: u128 = 0;
    let mut seen = false;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'_' {
            if i == 0 || bytes[i - 1] == b'_' || i + 1 == bytes.len() || bytes[i + 1] == b'_' {
                return None;
            }
            continue;
        }
        let d = char::from(b).to_digit(radix)?;
        magnitude = magnitude
            .checked_mul(u128::from(radix))?
            .checked_add(u128::from(d))?;
        seen = true;
    }
    if !seen {
        return None;
    }
    if negative {
        if magnitude == i128::MAX as u128 + 1 {
            Some(i128::MIN)
        } else {
            i128::try_from(magnitude).ok().map(|m| -m)
        }
    } else {
        i128::try_from(magnitude).ok()
    }
}

/// A YAML 1.2 float (`.inf`, `.nan` and Rust's decimal syntax); a numeral
/// too large for `f64` gives an infinity, which the caller refuses.
fn float_of(t: &str) -> Option<f64> {
    let (negative, unsigned) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    match unsigned {
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        ".inf" | ".Inf" | ".INF" if negative => return Some(f64::NEG_INFINITY),
        ".inf" | ".Inf" | ".INF" => return Some(f64::INFINITY),
        _ => {}
    }
    if !unsigned
        .as_bytes()
        .first()
        .is_some_and(|b| b.is_ascii_digit() || *b == b'.')
    {
        return None;
    }
    match t.parse::<f64>() {
        Ok(f) if f.is_finite() || unsigned.as_bytes()[0].is_ascii_digit() => Some(f),
        _ => None,
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

    #[test]
    fn plain_scalars_are_typed_as_before() {
        let root = parse("[yes, Off, n, 0127, 0x1F, 0X1F, 1_000, 1e3, -.nan, ~, '~', inf]")
            .expect("valid yaml");
        let Value::Seq(items) = root.value else {
            panic!("seq")
        };
        let values: Vec<Value> = items.into_iter().map(|n| n.value).collect();
        assert_eq!(
            values,
            [
                Value::Bool(true),
                Value::Bool(false),
                Value::Bool(false),
                Value::Float(127.0),
                Value::Int(31),
                Value::Str("0X1F".into()),
                Value::Int(1000),
                Value::Float(1000.0),
                Value::Str("-.nan".into()),
                Value::Null,
                Value::Str("~".into()),
                Value::Str("inf".into()),
            ]
        );
    }

    #[test]
    fn non_finite_numbers_are_refused() {
        for (src, column) in [
            ("a: .inf\n", 4),
            ("a: 1e400\n", 4),
            ("a: !!float .nan\n", 12),
        ] {
            let err = parse(src).expect_err(src);
            assert_eq!((err.line, err.column), (1, column), "{src}: {err:?}");
        }
    }

    #[test]
    fn repeated_key_points_at_the_second() {
        let err = parse("a: 1\nb: 2\na: 3\n").expect_err("duplicate key");
        assert_eq!((err.line, err.column), (3, 1), "{err:?}");
        assert_eq!(
            err.message,
            "key `a` appears twice in this mapping; remove one"
        );
    }

    #[test]
    fn repeated_key_is_found_in_a_large_mapping() {
        let mut src: String = (0..2_000).map(|i| format!("k{i}: {i}\n")).collect();
        assert_eq!(map(&parse(&src).expect("distinct keys")).len(), 2_000);
        src.push_str("k1234: again\n");
        let err = parse(&src).expect_err("duplicate key");
        assert_eq!((err.line, err.column), (2_001, 1), "{err:?}");
    }

    #[test]
    fn aliases_copy_with_the_alias_span_and_merges_keep_explicit_keys() {
        let src = "base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n";
        let root = parse(src).expect("valid yaml");
        let d = &map(&root)[1].1;
        let got: Vec<(Value, Value, &str)> = map(d)
            .iter()
            .map(|(k, v)| {
                (
                    k.value.clone(),
                    v.value.clone(),
                    &src[k.span.start..k.span.end],
                )
            })
            .collect();
        // `y` is a YAML 1.1 boolean, as it always was here.
        assert_eq!(
            got,
            [
                (Value::Bool(true), Value::Int(3), "y"),
                (Value::Str("x".into()), Value::Int(1), "*b"),
            ]
        );
    }

    #[test]
    fn alias_cannot_nest_past_the_depth_limit() {
        let inner = format!("{}1{}", "[".repeat(40), "]".repeat(40));
        let src = format!("a: &a {inner}\nb: [[[[[[[[[*a]]]]]]]]]\n");
        let err = parse(&src).expect_err("too deep");
        assert_eq!(err.line, 2, "{err:?}");
    }

    #[test]
    fn one_document_only_and_empty_is_null() {
        assert!(parse("a: 1\n---\nb: 2\n").is_err());
        let root = parse("# nothing\n").expect("empty document");
        assert_eq!(root.value, Value::Null);
        assert_eq!(root.span, ByteSpan { start: 10, end: 10 });
    }
}
