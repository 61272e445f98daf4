//! Builds the syntax tree from tokens by precedence climbing.
//!
//! All operator precedence lives in `TABLE` (and the two prefix levels
//! beside it); the printer in `ast.rs` reads the same table, so printing and
//! parsing cannot drift apart.
//!
//! Hostile input is bounded twice: text longer than [`MAX_LENGTH`] is
//! refused before lexing, and nesting (parentheses, operators, arguments)
//! deeper than [`MAX_DEPTH`] is refused while parsing. Every later phase
//! recurses over the tree, so the depth bound is what keeps them off the
//! end of the stack.
//!
//! Lexical errors are all reported; the parser stops at its first error,
//! since what follows a syntax error rarely means what it seems to.

use super::ast::{BinaryOp, Expr, ExprKind, Span, UnaryOp};
use super::error::ExprError;
use super::lexer::{Token, TokenKind, lex};

/// The longest expression accepted, in bytes.
pub const MAX_LENGTH: usize = 10_000;

/// The deepest nesting accepted: levels of operators, parentheses and
/// function arguments (a chain `a or b or c` nests one level per operator).
pub const MAX_DEPTH: usize = 64;

/// How a binary operator groups with itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Assoc {
    /// `a - b - c` is `(a - b) - c`.
    Left,
    /// `a < b < c` is an error.
    None,
}

/// The precedence table, loosest first. `in` binds as the comparisons.
const TABLE: &[(BinaryOp, u8, Assoc)] = &[
    (BinaryOp::Or, 1, Assoc::Left),
    (BinaryOp::And, 2, Assoc::Left),
    // 3: prefix `not` (PREFIX_NOT)
    (BinaryOp::Eq, 4, Assoc::None),
    (BinaryOp::Ne, 4, Assoc::None),
    (BinaryOp::Lt, 4, Assoc::None),
    (BinaryOp::Le, 4, Assoc::None),
    (BinaryOp::Gt, 4, Assoc::None),
    (BinaryOp::Ge, 4, Assoc::None),
    (BinaryOp::Add, 5, Assoc::Left),
    (BinaryOp::Sub, 5, Assoc::Left),
    (BinaryOp::Mul, 6, Assoc::Left),
    (BinaryOp::Div, 6, Assoc::Left),
    // 7: prefix `-` (PREFIX_NEG)
];

/// `not x` binds looser than comparisons: `not a == 1` is `not (a == 1)`.
pub const PREFIX_NOT: u8 = 3;
/// `-x` binds tighter than every binary operator.
pub const PREFIX_NEG: u8 = 7;
/// Precedence of `x in [...]`.
const IN_PREC: u8 = 4;

/// Precedence and associativity of `op`, from `TABLE`.
pub fn binary_precedence(op: BinaryOp) -> (u8, Assoc) {
    TABLE
        .iter()
        .find(|(o, _, _)| *o == op)
        .map(|&(_, p, a)| (p, a))
        .expect("every binary operator is in the table")
}

fn binary_op(kind: &TokenKind) -> Option<BinaryOp> {
    Some(match kind {
        TokenKind::Or => BinaryOp::Or,
        TokenKind::And => BinaryOp::And,
        TokenKind::EqEq => BinaryOp::Eq,
        TokenKind::NotEq => BinaryOp::Ne,
        TokenKind::Lt => BinaryOp::Lt,
        TokenKind::Le => BinaryOp::Le,
        TokenKind::Gt => BinaryOp::Gt,
        TokenKind::Ge => BinaryOp::Ge,
        TokenKind::Plus => BinaryOp::Add,
        TokenKind::Minus => BinaryOp::Sub,
        TokenKind::Star => BinaryOp::Mul,
        TokenKind::Slash => BinaryOp::Div,
        _ => return None,
    })
}

/// Parses `source`, whose first byte is at `offset` in the file.
pub fn parse(source: &str, offset: usize) -> Result<Expr, Vec<ExprError>> {
    if source.len() > MAX_LENGTH {
        return Err(vec![ExprError::TooLong {
            len: source.len(),
            limit: MAX_LENGTH,
            span: Span::new(offset, offset + source.len()),
        }]);
    }
    let tokens = lex(source, offset)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let (expr, _) = parser.expr(0).map_err(|e| vec![e])?;
    let next = parser.peek();
    if next.kind != TokenKind::Eof {
        let help = match next.kind {
            TokenKind::RParen => "this `)` closes nothing".to_string(),
            _ => "join the parts with an operator such as `and`, or remove the extra text"
                .to_string(),
        };
        return Err(vec![ExprError::UnexpectedToken {
            expected: "an operator or the end of the expression",
            found: next.kind.describe(),
            span: next.span,
            help,
        }]);
    }
    Ok(expr)
}

/// A parsed subtree and its depth.
type Node = (Expr, usize);

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// Current recursion depth of `expr`.
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        // The lexer always ends with Eof and the parser never moves past it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let tok = self.peek().clone();
        if tok.kind != TokenKind::Eof {
            self.pos += 1;
        }
        tok
    }

    fn too_deep(&self, span: Span) -> ExprError {
        ExprError::TooDeep {
            limit: MAX_DEPTH,
            span,
        }
    }

    fn check_depth(&self, depth: usize, span: Span) -> Result<(), ExprError> {
        if depth > MAX_DEPTH {
            Err(self.too_deep(span))
        } else {
            Ok(())
        }
    }

    /// An expression whose operators all bind at least as tightly as `min`.
    fn expr(&mut self, min: u8) -> Result<Node, ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.too_deep(self.peek().span));
        }
        let result = self.climb(min);
        self.depth -= 1;
        result
    }

    fn climb(&mut self, min: u8) -> Result<Node, ExprError> {
        let (mut lhs, mut depth) = self.operand(min)?;
        let mut compared = false;
        loop {
            let tok = self.peek().clone();
            if tok.kind == TokenKind::In {
                if IN_PREC < min {
                    break;
                }
                if compared {
                    return Err(ExprError::ChainedComparison { span: tok.span });
                }
                self.bump();
                let (list, list_depth, end) = self.in_list()?;
                depth = depth.max(list_depth) + 1;
                let span = lhs.span.to(end);
                self.check_depth(depth, span)?;
                lhs = Expr::new(
                    ExprKind::In {
                        value: Box::new(lhs),
                        list,
                    },
                    span,
                );
                compared = true;
                continue;
            }
            let Some(op) = binary_op(&tok.kind) else {
                break;
            };
            let (prec, assoc) = binary_precedence(op);
            if prec < min {
                break;
            }
            if assoc == Assoc::None && compared {
                return Err(ExprError::ChainedComparison { span: tok.span });
            }
            self.bump();
            let (rhs, rhs_depth) = self.expr(prec + 1)?;
            depth = depth.max(rhs_depth) + 1;
            let span = lhs.span.to(rhs.span);
            self.check_depth(depth, span)?;
            lhs = Expr::new(
                ExprKind::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                span,
            );
            compared = assoc == Assoc::None;
        }
        Ok((lhs, depth))
    }

    /// The `[a, b, ...]` after `in`; returns the items, their depth and the
    /// span of the closing bracket.
    fn in_list(&mut self) -> Result<(Vec<Expr>, usize, Span), ExprError> {
        let open = self.bump();
        if open.kind != TokenKind::LBracket {
            return Err(ExprError::UnexpectedToken {
                expected: "`[` after `in`",
                found: open.kind.describe(),
                span: open.span,
                help: "list the values, as in `x in [1, 2, 3]`".to_string(),
            });
        }
        let (items, depth, close) = self.sequence(&open, TokenKind::RBracket, ']')?;
        Ok((items, depth, close))
    }

    /// Comma-separated expressions up to `close`, after the opening token.
    fn sequence(
        &mut self,
        open: &Token,
        close: TokenKind,
        close_char: char,
    ) -> Result<(Vec<Expr>, usize, Span), ExprError> {
        let open_char = if close_char == ']' { '[' } else { '(' };
        let mut items = Vec::new();
        let mut depth = 0;
        if self.peek().kind == close {
            return Ok((items, depth, self.bump().span));
        }
        loop {
            let (item, d) = self.expr(0)?;
            depth = depth.max(d);
            items.push(item);
            let tok = self.bump();
            if tok.kind == close {
                return Ok((items, depth, tok.span));
            }
            match tok.kind {
                TokenKind::Comma => {}
                TokenKind::Eof => {
                    return Err(ExprError::Unclosed {
                        open: open_char,
                        close: close_char,
                        span: open.span,
                    });
                }
                other => {
                    return Err(ExprError::UnexpectedToken {
                        expected: if close_char == ']' {
                            "`,` or `]`"
                        } else {
                            "`,` or `)`"
                        },
                        found: other.describe(),
                        span: tok.span,
                        help: "separate the values with commas".to_string(),
                    });
                }
            }
        }
    }

    /// A literal, name, call, parenthesised expression or prefix operation.
    fn operand(&mut self, min: u8) -> Result<Node, ExprError> {
        let tok = self.bump();
        let leaf = |kind| Ok((Expr::new(kind, tok.span), 0));
        match tok.kind {
            TokenKind::Int(n) => leaf(ExprKind::Int(n)),
            TokenKind::Decimal(x) => leaf(ExprKind::Decimal(x)),
            TokenKind::Text(ref s) => leaf(ExprKind::Text(s.clone())),
            TokenKind::Date(d) => leaf(ExprKind::Date(d)),
            TokenKind::True => leaf(ExprKind::Bool(true)),
            TokenKind::False => leaf(ExprKind::Bool(false)),
            TokenKind::Name(ref name) => {
                if self.peek().kind != TokenKind::LParen {
                    return leaf(ExprKind::Name(name.clone()));
                }
                let open = self.bump();
                let (args, depth, close) = self.sequence(&open, TokenKind::RParen, ')')?;
                let span = tok.span.to(close);
                let depth = depth + 1;
                self.check_depth(depth, span)?;
                let kind = ExprKind::Call {
                    name: name.clone(),
                    name_span: tok.span,
                    args,
                };
                Ok((Expr::new(kind, span), depth))
            }
            TokenKind::LParen => {
                let (mut inner, depth) = self.expr(0)?;
                let close = self.bump();
                match close.kind {
                    TokenKind::RParen => {
                        inner.span = tok.span.to(close.span);
                        Ok((inner, depth))
                    }
                    TokenKind::Eof => {
                        Err(ExprError::Unclosed { open: '(', close: ')', span: tok.span })
                    }
                    other => Err(ExprError::UnexpectedToken {
                        expected: "`)`",
                        found: other.describe(),
                        span: close.span,
                        help: "join the parts with an operator such as `and`, or close the parenthesis"
                            .to_string(),
                    }),
                }
            }
            TokenKind::Minus => self.prefix(UnaryOp::Neg, PREFIX_NEG, tok.span),
            TokenKind::Not if PREFIX_NOT >= min => self.prefix(UnaryOp::Not, PREFIX_NOT, tok.span),
            TokenKind::Not => Err(ExprError::UnexpectedToken {
                expected: "an operand",
                found: tok.kind.describe(),
                span: tok.span,
                help: "put `not ...` in parentheses here".to_string(),
            }),
            TokenKind::LBracket => Err(ExprError::ListOutsideIn { span: tok.span }),
            ref other => Err(ExprError::UnexpectedToken {
                expected: "a value, a name or `(`",
                found: other.describe(),
                span: tok.span,
                help: if *other == TokenKind::Eof {
                    "the expression ends too early: complete it".to_string()
                } else {
                    "an operator needs a value on each side".to_string()
                },
            }),
        }
    }

    fn prefix(&mut self, op: UnaryOp, prec: u8, op_span: Span) -> Result<Node, ExprError> {
        let (operand, depth) = self.expr(prec)?;
        let span = op_span.to(operand.span);
        let depth = depth + 1;
        self.check_depth(depth, span)?;
        Ok((
            Expr::new(
                ExprKind::Unary {
                    op,
                    operand: Box::new(operand),
                },
                span,
            ),
            depth,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(src: &str) -> String {
        parse(src, 0).expect("parses").to_string()
    }

    fn error(src: &str) -> ExprError {
        let mut errs = parse(src, 0).expect_err("fails");
        assert_eq!(errs.len(), 1, "{errs:?}");
        errs.remove(0)
    }

    /// Fully parenthesised, to show the grouping.
    fn grouped(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Binary { op, lhs, rhs } => {
                format!("({} {} {})", grouped(lhs), op.symbol(), grouped(rhs))
            }
            ExprKind::Unary {
                op: UnaryOp::Not,
                operand,
            } => format!("(not {})", grouped(operand)),
            ExprKind::Unary {
                op: UnaryOp::Neg,
                operand,
            } => format!("(-{})", grouped(operand)),
            ExprKind::In { value, list } => format!("({} in {})", grouped(value), list.len()),
            _ => e.to_string(),
        }
    }

    fn group(src: &str) -> String {
        grouped(&parse(src, 0).expect("parses"))
    }

    #[test]
    fn precedence_follows_the_table() {
        assert_eq!(group("a or b and c"), "(a or (b and c))");
        assert_eq!(group("not a == 1 and b"), "((not (a == 1)) and b)");
        assert_eq!(group("a + b * c - d"), "((a + (b * c)) - d)");
        assert_eq!(group("-a * b"), "((-a) * b)");
        assert_eq!(group("a - -b"), "(a - (-b))");
        assert_eq!(group("a + 1 in [1, 2] or c"), "(((a + 1) in 2) or c)");
        assert_eq!(group("not not a"), "(not (not a))");
        assert_eq!(group("a / b / c"), "((a / b) / c)");
    }

    #[test]
    fn parses_calls_and_lists() {
        assert_eq!(
            shape("count(members, age >= 18)"),
            "count(members, age >= 18)"
        );
        assert_eq!(shape("today()"), "today()");
        assert_eq!(shape("x in []"), "x in []");
        assert_eq!(shape("(a < b) < c"), "(a < b) < c");
    }

    #[test]
    fn spans_cover_the_node_and_apply_the_offset() {
        let e = parse("a + (b * 2)", 40).expect("parses");
        assert_eq!(e.span, Span::new(40, 51));
        let ExprKind::Binary { lhs, rhs, .. } = &e.kind else {
            panic!("binary")
        };
        assert_eq!(lhs.span, Span::new(40, 41));
        assert_eq!(rhs.span, Span::new(44, 51));
        let e = parse("  sum(m, x)", 3).expect("parses");
        let ExprKind::Call { name_span, .. } = &e.kind else {
            panic!("call")
        };
        assert_eq!((e.span, *name_span), (Span::new(5, 14), Span::new(5, 8)));
    }

    #[test]
    fn syntax_errors_point_at_the_token() {
        let e = error("a +");
        assert!(matches!(&e, ExprError::UnexpectedToken { span, .. } if *span == Span::new(3, 3)));
        let e = error("(a b)");
        assert!(matches!(&e, ExprError::UnexpectedToken { span, .. } if *span == Span::new(3, 4)));
        let e = error("(a + b");
        assert!(
            matches!(e, ExprError::Unclosed { open: '(', span, .. } if span == Span::new(0, 1))
        );
        let e = error("f(a, b");
        assert!(matches!(e, ExprError::Unclosed { span, .. } if span == Span::new(1, 2)));
        let e = error("1 < a < 3");
        assert!(matches!(e, ExprError::ChainedComparison { span } if span == Span::new(6, 7)));
        let e = error("a == 1 in [1]");
        assert!(matches!(e, ExprError::ChainedComparison { .. }));
        let e = error("[1, 2] == a");
        assert!(matches!(e, ExprError::ListOutsideIn { span } if span == Span::new(0, 1)));
        let e = error("a in 3");
        assert!(matches!(e, ExprError::UnexpectedToken { span, .. } if span == Span::new(5, 6)));
        let e = error("a == not b");
        assert!(matches!(e, ExprError::UnexpectedToken { span, .. } if span == Span::new(5, 8)));
        let e = error("a b");
        assert!(matches!(e, ExprError::UnexpectedToken { span, .. } if span == Span::new(2, 3)));
        let e = error("a)");
        assert!(matches!(e, ExprError::UnexpectedToken { .. }));
        let e = error("");
        assert!(matches!(e, ExprError::UnexpectedToken { .. }));
        let e = error("f(a,)");
        assert!(matches!(e, ExprError::UnexpectedToken { span, .. } if span == Span::new(4, 5)));
    }

    #[test]
    fn lexical_errors_are_all_reported() {
        let errs = parse("a = 1 or b = 2", 0).expect_err("fails");
        assert_eq!(errs.len(), 2);
    }

    #[test]
    fn deep_nesting_is_refused_without_overflow() {
        let ok = format!(
            "{}a{}",
            "(".repeat(MAX_DEPTH - 1),
            ")".repeat(MAX_DEPTH - 1)
        );
        assert!(parse(&ok, 0).is_ok());
        let deep = format!("{}a{}", "(".repeat(2000), ")".repeat(2000));
        assert!(matches!(error(&deep), ExprError::TooDeep { .. }));
        let minus = format!("{}a", "-".repeat(5000));
        assert!(matches!(error(&minus), ExprError::TooDeep { .. }));
        let chain = vec!["a"; 1000].join(" + ");
        assert!(matches!(error(&chain), ExprError::TooDeep { .. }));
        let calls = format!("{}a{}", "f(".repeat(1000), ")".repeat(1000));
        assert!(matches!(error(&calls), ExprError::TooDeep { .. }));
        let chain = vec!["a"; MAX_DEPTH].join(" or ");
        assert!(parse(&chain, 0).is_ok());
    }

    #[test]
    fn long_input_is_refused() {
        let long = "a".repeat(MAX_LENGTH + 1);
        let e = error(&long);
        assert!(
            matches!(e, ExprError::TooLong { span, .. } if span == Span::new(0, MAX_LENGTH + 1))
        );
    }
}
