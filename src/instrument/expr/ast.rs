//! The syntax tree of an expression, and its canonical printing.
//!
//! Every node carries the [`Span`] of the text it came from, as byte offsets
//! into the questionnaire file (not into the expression string), so that a
//! diagnostic found at any later phase points into the YAML.
//!
//! Printing (`Display`) is canonical: one space around binary operators,
//! decimals always with a point, text always in double quotes, and only the
//! parentheses that precedence requires. `parse(e.to_string())` gives back
//! `e` up to spans; a property test holds that.

use std::fmt;

use jiff::civil::Date;

use super::parser::{Assoc, PREFIX_NEG, PREFIX_NOT, binary_precedence};

/// A byte range `start..end` in the questionnaire file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    /// First byte of the range.
    pub start: usize,
    /// One past the last byte of the range.
    pub end: usize,
}

impl Span {
    /// The range `start..end`.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both `self` and `other`.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// Length in bytes.
    pub fn len(self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// Whether the span covers no bytes.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(span: Span) -> miette::SourceSpan {
        miette::SourceSpan::new(span.start.into(), span.len())
    }
}

/// One node of the tree with where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What the node is.
    pub kind: ExprKind,
    /// The text it was parsed from, in file offsets.
    pub span: Span,
}

/// The kinds of node. Lists exist only as the right side of `in`, so they
/// are part of [`ExprKind::In`] rather than a node of their own.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// `42` (literals are never negative: `-42` is [`UnaryOp::Neg`] of `42`).
    Int(i64),
    /// `4.2`
    Decimal(f64),
    /// `'text'` or `"text"`
    Text(String),
    /// `true` or `false`
    Bool(bool),
    /// `@2025-03-01`
    Date(Date),
    /// An item or roster id, resolved by the environment.
    Name(String),
    /// `-x`, `not x`
    Unary { op: UnaryOp, operand: Box<Expr> },
    /// `a + b`, `a and b`, `a == b`, ...
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `x in [1, 2, 3]`
    In { value: Box<Expr>, list: Vec<Expr> },
    /// `name(arg, ...)`; `name_span` covers the function name only.
    Call {
        name: String,
        name_span: Span,
        args: Vec<Expr>,
    },
}

/// Prefix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `not x`
    Not,
}

/// Infix operators (their precedence is in the parser's table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
}

impl BinaryOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
        }
    }

    /// `==`, `!=`, `<`, `<=`, `>`, `>=`.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
        )
    }

    /// `+`, `-`, `*`, `/`.
    pub fn is_arithmetic(self) -> bool {
        matches!(
            self,
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div
        )
    }
}

impl UnaryOp {
    /// The operator as written (`not` is followed by a space when printed).
    pub fn symbol(self) -> &'static str {
        match self {
            UnaryOp::Neg => "-",
            UnaryOp::Not => "not",
        }
    }
}

impl Expr {
    /// A node.
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr { kind, span }
    }

    /// A copy with every span (also `name_span`) set to `0..0`, to compare
    /// trees by structure only.
    pub fn without_spans(&self) -> Expr {
        let kind = match &self.kind {
            ExprKind::Unary { op, operand } => ExprKind::Unary {
                op: *op,
                operand: Box::new(operand.without_spans()),
            },
            ExprKind::Binary { op, lhs, rhs } => ExprKind::Binary {
                op: *op,
                lhs: Box::new(lhs.without_spans()),
                rhs: Box::new(rhs.without_spans()),
            },
            ExprKind::In { value, list } => ExprKind::In {
                value: Box::new(value.without_spans()),
                list: list.iter().map(Expr::without_spans).collect(),
            },
            ExprKind::Call { name, args, .. } => ExprKind::Call {
                name: name.clone(),
                name_span: Span::default(),
                args: args.iter().map(Expr::without_spans).collect(),
            },
            other => other.clone(),
        };
        Expr::new(kind, Span::default())
    }

    /// How tightly the node binds when printed: atoms and calls bind
    /// tightest; an operator node binds as its operator.
    fn precedence(&self) -> u8 {
        match &self.kind {
            ExprKind::Unary {
                op: UnaryOp::Neg, ..
            } => PREFIX_NEG,
            ExprKind::Unary {
                op: UnaryOp::Not, ..
            } => PREFIX_NOT,
            ExprKind::Binary { op, .. } => binary_precedence(*op).0,
            ExprKind::In { .. } => binary_precedence(BinaryOp::Eq).0,
            _ => u8::MAX,
        }
    }
}

/// Writes `expr`, in parentheses when it binds less tightly than `min`.
fn write_operand(f: &mut fmt::Formatter<'_>, expr: &Expr, min: u8) -> fmt::Result {
    if expr.precedence() < min {
        write!(f, "({expr})")
    } else {
        write!(f, "{expr}")
    }
}

/// Writes a text literal in double quotes, escaping what the lexer unescapes.
fn write_text(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in text.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

fn write_list(f: &mut fmt::Formatter<'_>, items: &[Expr]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Int(n) => write!(f, "{n}"),
            ExprKind::Decimal(x) => {
                // `{}` on f64 is the shortest text that reads back to the
                // same value, but drops the point for whole numbers.
                let text = x.to_string();
                if text.contains('.') {
                    f.write_str(&text)
                } else {
                    write!(f, "{text}.0")
                }
            }
            ExprKind::Text(text) => write_text(f, text),
            ExprKind::Bool(b) => write!(f, "{b}"),
            ExprKind::Date(d) => write!(f, "@{d}"),
            ExprKind::Name(name) => f.write_str(name),
            ExprKind::Unary { op, operand } => {
                let prec = self.precedence();
                match op {
                    UnaryOp::Neg => f.write_str("-")?,
                    UnaryOp::Not => f.write_str("not ")?,
                }
                write_operand(f, operand, prec)
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let (prec, assoc) = binary_precedence(*op);
                let (left_min, right_min) = match assoc {
                    Assoc::Left => (prec, prec + 1),
                    Assoc::None => (prec + 1, prec + 1),
                };
                write_operand(f, lhs, left_min)?;
                write!(f, " {} ", op.symbol())?;
                write_operand(f, rhs, right_min)
            }
            ExprKind::In { value, list } => {
                write_operand(f, value, self.precedence() + 1)?;
                f.write_str(" in [")?;
                write_list(f, list)?;
                f.write_str("]")
            }
            ExprKind::Call { name, args, .. } => {
                write!(f, "{name}(")?;
                write_list(f, args)?;
                f.write_str(")")
            }
        }
    }
}

/// Every item or roster name referenced by `expr`, in reading order, with
/// the span of each occurrence. Function names are not included.
pub fn references(expr: &Expr) -> Vec<(String, Span)> {
    let mut out = Vec::new();
    collect_references(expr, &mut out);
    out
}

fn collect_references(expr: &Expr, out: &mut Vec<(String, Span)>) {
    match &expr.kind {
        ExprKind::Name(name) => out.push((name.clone(), expr.span)),
        ExprKind::Unary { operand, .. } => collect_references(operand, out),
        ExprKind::Binary { lhs, rhs, .. } => {
            collect_references(lhs, out);
            collect_references(rhs, out);
        }
        ExprKind::In { value, list } => {
            collect_references(value, out);
            for item in list {
                collect_references(item, out);
            }
        }
        ExprKind::Call { args, .. } => {
            for arg in args {
                collect_references(arg, out);
            }
        }
        ExprKind::Int(_)
        | ExprKind::Decimal(_)
        | ExprKind::Text(_)
        | ExprKind::Bool(_)
        | ExprKind::Date(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    fn canon(src: &str) -> String {
        parse(src, 0).expect("test input parses").to_string()
    }

    #[test]
    fn printing_drops_redundant_parentheses() {
        assert_eq!(canon("(a + (b * c))"), "a + b * c");
        assert_eq!(canon("(a + b) * c"), "(a + b) * c");
        assert_eq!(canon("a - (b - c)"), "a - (b - c)");
        assert_eq!(canon("(a - b) - c"), "a - b - c");
        assert_eq!(canon("not (a == 1)"), "not a == 1");
        assert_eq!(canon("(not a) == b"), "(not a) == b");
        assert_eq!(canon("-(1)"), "-1");
        assert_eq!(canon("(a or b) and c"), "(a or b) and c");
    }

    #[test]
    fn printing_normalises_literals() {
        assert_eq!(canon("1.50"), "1.5");
        assert_eq!(canon("007"), "7");
        assert_eq!(canon("'single'"), "\"single\"");
    }

    #[test]
    fn printing_quotes_and_escapes_text() {
        assert_eq!(canon(r"'say \'hi\''"), r#""say 'hi'""#);
        assert_eq!(canon(r#""a\"b\\c""#), r#""a\"b\\c""#);
        assert_eq!(canon("x in [1,2 ,3]"), "x in [1, 2, 3]");
        assert_eq!(canon("@2025-03-01 < d"), "@2025-03-01 < d");
        assert_eq!(canon("f( a,b )"), "f(a, b)");
        assert_eq!(canon("2.0"), "2.0");
    }

    #[test]
    fn references_are_in_reading_order_with_spans() {
        let e = parse("sum(members, age) > limit", 10).expect("parses");
        let refs = references(&e);
        assert_eq!(
            refs,
            vec![
                ("members".to_string(), Span::new(14, 21)),
                ("age".to_string(), Span::new(23, 26)),
                ("limit".to_string(), Span::new(30, 35)),
            ]
        );
    }

    #[test]
    fn span_helpers() {
        let a = Span::new(3, 5);
        assert_eq!(a.to(Span::new(8, 9)), Span::new(3, 9));
        assert_eq!(a.len(), 2);
        assert!(Span::new(4, 4).is_empty());
        let s: miette::SourceSpan = a.into();
        assert_eq!((s.offset(), s.len()), (3, 2));
    }
}
