//! The type checker: run once when a questionnaire is loaded, so that the
//! interview engine can evaluate without ever meeting a type error.
//!
//! Names are resolved by a [`TypeEnv`] that the caller provides (the
//! questionnaire knows which items exist, their types and their rosters);
//! the checker only asks it. Every error is collected: a subexpression with
//! an error has no type (`None` inside), and the nodes above it stay quiet
//! about it instead of reporting the same fault again.

use std::fmt;

use super::ast::{BinaryOp, Expr, ExprKind, UnaryOp};
use super::error::{ExprError, did_you_mean};
use super::functions;

/// The type of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// `true` or `false`.
    Bool,
    /// A whole number; promotes to [`Type::Decimal`] where mixed with one.
    Int,
    /// A number with a fraction.
    Decimal,
    /// Text.
    Text,
    /// A calendar date.
    Date,
    /// The answer to a single-choice question: an integer code. It compares
    /// with integers (`sex == 2`, `q in [1, 2]`) but takes no arithmetic.
    Code,
    /// The answer to a multiple-choice question: a set of codes, tested
    /// with `selected(x, code)` and `count_selected(x)`.
    Codes,
}

impl Type {
    /// Int or Decimal: the types arithmetic takes.
    pub fn is_numeric(self) -> bool {
        matches!(self, Type::Int | Type::Decimal)
    }

    /// Int, Decimal or Code: the types that compare with numbers.
    fn is_number_like(self) -> bool {
        self.is_numeric() || self == Type::Code
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Type::Bool => "true/false",
            Type::Int | Type::Decimal => "a number",
            Type::Text => "text",
            Type::Date => "a date",
            Type::Code => "a single-choice answer",
            Type::Codes => "a multiple-choice answer",
        })
    }
}

/// What a name means where it is used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// An item (or computed variable) with one value here.
    Value(Type),
    /// A roster: usable only as the first argument of an aggregate.
    Roster,
    /// No such name.
    NotFound,
    /// An item asked once per row of `roster`, used outside that roster.
    OutOfScope { roster: String },
}

/// Name resolution for the type checker, provided by the questionnaire.
pub trait TypeEnv {
    /// What `name` means in this scope.
    fn lookup(&self, name: &str) -> Lookup;

    /// The scope of one row of `roster`, for expressions evaluated per row
    /// inside aggregates.
    fn enter_roster(&self, roster: &str) -> Option<Box<dyn TypeEnv + '_>>;

    /// Names visible here, used only to suggest a spelling for an unknown
    /// name. The default suggests nothing.
    fn names(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Type-checks `expr` in `env` and returns its type, or every error found.
pub fn check(expr: &Expr, env: &dyn TypeEnv) -> Result<Type, Vec<ExprError>> {
    let mut checker = Checker {
        errors: Vec::new(),
        aggregate_depth: 0,
    };
    let ty = checker.infer(expr, env);
    match ty {
        Some(ty) if checker.errors.is_empty() => Ok(ty),
        _ => {
            debug_assert!(
                !checker.errors.is_empty(),
                "no type means an error was reported"
            );
            Err(checker.errors)
        }
    }
}

/// Collects errors while inferring types.
pub(crate) struct Checker {
    pub(crate) errors: Vec<ExprError>,
    /// How many aggregates over rows enclose the node being checked.
    pub(crate) aggregate_depth: usize,
}

impl Checker {
    /// The type of `expr`, or `None` after reporting why it has none.
    pub(crate) fn infer(&mut self, expr: &Expr, env: &dyn TypeEnv) -> Option<Type> {
        match &expr.kind {
            ExprKind::Int(_) => Some(Type::Int),
            ExprKind::Decimal(_) => Some(Type::Decimal),
            ExprKind::Text(_) => Some(Type::Text),
            ExprKind::Bool(_) => Some(Type::Bool),
            ExprKind::Date(_) => Some(Type::Date),
            ExprKind::Name(name) => self.name(name, expr, env),
            ExprKind::Unary {
                op: UnaryOp::Not,
                operand,
            } => {
                self.expect_bool(operand, env, "`not` takes a condition");
                Some(Type::Bool)
            }
            ExprKind::Unary {
                op: UnaryOp::Neg,
                operand,
            } => {
                let ty = self.infer(operand, env)?;
                if ty.is_numeric() {
                    Some(ty)
                } else {
                    self.mismatch("a number", ty, operand, arithmetic_help(ty, BinaryOp::Sub));
                    None
                }
            }
            ExprKind::Binary {
                op: op @ (BinaryOp::And | BinaryOp::Or),
                lhs,
                rhs,
            } => {
                let help = format!("`{}` joins two conditions, such as `a == 1`", op.symbol());
                self.expect_bool(lhs, env, &help);
                self.expect_bool(rhs, env, &help);
                Some(Type::Bool)
            }
            ExprKind::Binary { op, lhs, rhs } if op.is_comparison() => {
                let l = self.infer(lhs, env);
                let r = self.infer(rhs, env);
                if let (Some(l), Some(r)) = (l, r) {
                    self.comparable(*op, l, r, expr);
                }
                Some(Type::Bool)
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let l = self.infer(lhs, env);
                let r = self.infer(rhs, env);
                self.arithmetic(*op, (l, lhs), (r, rhs))
            }
            ExprKind::In { value, list } => {
                let v = self.infer(value, env);
                for item in list {
                    let t = self.infer(item, env);
                    if let (Some(v), Some(t)) = (v, t) {
                        self.comparable(BinaryOp::Eq, v, t, item);
                    }
                }
                Some(Type::Bool)
            }
            ExprKind::Call {
                name,
                name_span,
                args,
            } => functions::check_call(self, name, *name_span, args, expr, env),
        }
    }

    fn name(&mut self, name: &str, expr: &Expr, env: &dyn TypeEnv) -> Option<Type> {
        match env.lookup(name) {
            Lookup::Value(ty) => Some(ty),
            Lookup::Roster => {
                self.errors.push(ExprError::RosterAsValue {
                    name: name.to_string(),
                    span: expr.span,
                });
                None
            }
            Lookup::NotFound => {
                self.unknown_name(name, expr, env);
                None
            }
            Lookup::OutOfScope { roster } => {
                self.errors.push(ExprError::OutOfScope {
                    name: name.to_string(),
                    roster,
                    span: expr.span,
                });
                None
            }
        }
    }

    pub(crate) fn unknown_name(&mut self, name: &str, expr: &Expr, env: &dyn TypeEnv) {
        let names = env.names();
        let help = did_you_mean(
            name,
            names.iter().map(String::as_str),
            "define the item in the questionnaire, or check the spelling of its id",
        );
        self.errors.push(ExprError::UnknownName {
            name: name.to_string(),
            span: expr.span,
            help,
        });
    }

    pub(crate) fn mismatch(
        &mut self,
        expected: &'static str,
        found: Type,
        at: &Expr,
        help: String,
    ) {
        self.errors.push(ExprError::TypeMismatch {
            expected,
            found,
            span: at.span,
            help,
        });
    }

    /// Checks that `expr` is a condition; `help` says why one is needed.
    pub(crate) fn expect_bool(&mut self, expr: &Expr, env: &dyn TypeEnv, help: &str) {
        if let Some(ty) = self.infer(expr, env)
            && ty != Type::Bool
        {
            let help = match ty {
                Type::Code | Type::Int => format!("{help}; compare the value, as in `x == 1`"),
                _ => help.to_string(),
            };
            self.mismatch("a condition (true/false)", ty, expr, help);
        }
    }

    /// Checks that `expr` has a type accepted by `ok`; returns the type.
    pub(crate) fn expect(
        &mut self,
        expr: &Expr,
        env: &dyn TypeEnv,
        ok: fn(Type) -> bool,
        expected: &'static str,
        help: &str,
    ) -> Option<Type> {
        let ty = self.infer(expr, env)?;
        if ok(ty) {
            Some(ty)
        } else {
            self.mismatch(expected, ty, expr, help.to_string());
            None
        }
    }

    /// Checks that `l op r` is a valid comparison, reporting at `at`.
    pub(crate) fn comparable(&mut self, op: BinaryOp, l: Type, r: Type, at: &Expr) {
        let equality = matches!(op, BinaryOp::Eq | BinaryOp::Ne);
        let ok = (l.is_number_like() && r.is_number_like())
            || (l == r && matches!(l, Type::Text | Type::Date))
            || (l == r && l == Type::Bool && equality);
        if ok {
            return;
        }
        let help = if l == Type::Codes || r == Type::Codes {
            "test a multiple-choice answer with selected(x, code)"
        } else if l == Type::Bool && r == Type::Bool {
            "true/false values are tested with == and != only"
        } else if l == Type::Text || r == Type::Text {
            "text compares only with text: quote the value, or compare the number without quotes"
        } else if l == Type::Date || r == Type::Date {
            "dates compare only with dates, written @YYYY-MM-DD"
        } else {
            "compare values of the same kind"
        };
        self.errors.push(ExprError::CannotCompare {
            left: l,
            right: r,
            span: at.span,
            help: help.into(),
        });
    }

    fn arithmetic(
        &mut self,
        op: BinaryOp,
        (l, lhs): (Option<Type>, &Expr),
        (r, rhs): (Option<Type>, &Expr),
    ) -> Option<Type> {
        if op == BinaryOp::Add && (l == Some(Type::Text) || r == Some(Type::Text)) {
            for (ty, e) in [(l, lhs), (r, rhs)] {
                if let Some(ty) = ty
                    && ty != Type::Text
                {
                    self.mismatch("text", ty, e, "`+` joins text only with text".to_string());
                }
            }
            return Some(Type::Text);
        }
        let mut ok = true;
        for (ty, e) in [(l, lhs), (r, rhs)] {
            match ty {
                Some(ty) if ty.is_numeric() => {}
                Some(ty) => {
                    self.mismatch("a number", ty, e, arithmetic_help(ty, op));
                    ok = false;
                }
                None => ok = false,
            }
        }
        if !ok {
            None
        } else if op != BinaryOp::Div && l == Some(Type::Int) && r == Some(Type::Int) {
            Some(Type::Int)
        } else {
            Some(Type::Decimal)
        }
    }
}

fn arithmetic_help(found: Type, op: BinaryOp) -> String {
    match found {
        Type::Code => "a choice code is a label, not a quantity: compare it with == or `in`".into(),
        Type::Codes => "count the choices with count_selected(x)".into(),
        Type::Date => "use age(d) or months_between(d1, d2) for spans of time".into(),
        Type::Text if op == BinaryOp::Add => "`+` joins text only with text".into(),
        Type::Text => "text takes no arithmetic; only `+` joins two texts".into(),
        Type::Bool => "count true conditions with count(roster, condition)".into(),
        Type::Int | Type::Decimal => "arithmetic takes numbers".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::super::testenv::doc_env;
    use super::*;

    fn ty(src: &str) -> Type {
        let e = parse(src, 0).expect("parses");
        check(&e, &doc_env()).unwrap_or_else(|errs| panic!("{src}: {errs:?}"))
    }

    fn errs(src: &str) -> Vec<ExprError> {
        let e = parse(src, 0).expect("parses");
        check(&e, &doc_env()).expect_err("type error")
    }

    fn message(src: &str) -> String {
        let errs = errs(src);
        assert_eq!(errs.len(), 1, "{src}: {errs:?}");
        errs[0].to_string()
    }

    #[test]
    fn infers_types() {
        assert_eq!(ty("1 + 2"), Type::Int);
        assert_eq!(ty("1 + 2.5"), Type::Decimal);
        assert_eq!(ty("7 / 7"), Type::Decimal);
        assert_eq!(ty("-resp_age"), Type::Int);
        assert_eq!(ty("name + '!'"), Type::Text);
        assert_eq!(ty("sex == 2 and resp_age >= 18"), Type::Bool);
        assert_eq!(ty("sex in [1, 2]"), Type::Bool);
        assert_eq!(ty("sex"), Type::Code);
        assert_eq!(ty("weapons"), Type::Codes);
        assert_eq!(ty("birth_date < @2000-01-01"), Type::Bool);
        assert_eq!(ty("name < 'B'"), Type::Bool);
        assert_eq!(ty("victim == true"), Type::Bool);
    }

    #[test]
    fn reports_bad_comparisons() {
        assert_eq!(message("name == 3"), "cannot compare text with a number");
        assert_eq!(
            message("weapons == 1"),
            "cannot compare a multiple-choice answer with a number"
        );
        assert_eq!(
            message("birth_date > 2000"),
            "cannot compare a date with a number"
        );
        assert_eq!(
            message("victim < false"),
            "cannot compare true/false with true/false"
        );
        assert_eq!(
            message("sex in [1, 'two']"),
            "cannot compare a single-choice answer with text"
        );
    }

    #[test]
    fn reports_bad_operands() {
        assert_eq!(message("name * 2"), "expected a number, found text");
        assert_eq!(
            message("sex + 1"),
            "expected a number, found a single-choice answer"
        );
        assert_eq!(message("name + 1"), "expected text, found a number");
        assert_eq!(
            message("resp_age and victim"),
            "expected a condition (true/false), found a number"
        );
        assert_eq!(
            message("not name"),
            "expected a condition (true/false), found text"
        );
        assert_eq!(message("-birth_date"), "expected a number, found a date");
    }

    #[test]
    fn reports_name_errors() {
        let e = &errs("resp_agee > 1")[0];
        assert_eq!(e.to_string(), "unknown item `resp_agee`");
        assert!(
            matches!(e, ExprError::UnknownName { help, .. } if help == "did you mean `resp_age`?")
        );
        assert_eq!(
            message("member_age > 18"),
            "`member_age` belongs to roster `members`"
        );
        assert_eq!(message("members + 1"), "`members` is a roster, not a value");
    }

    #[test]
    fn reports_every_error() {
        let errs = errs("name == 3 or nope > 1 or sex + 1 > 2 and members");
        assert_eq!(errs.len(), 4, "{errs:?}");
    }

    #[test]
    fn error_spans_cover_the_offending_text() {
        let src = "resp_age > 1 and nme == 'x'";
        let e = parse(src, 50).expect("parses");
        let errs = check(&e, &doc_env()).expect_err("unknown name");
        assert_eq!(errs[0].span(), super::super::Span::new(67, 70));
        let e = parse("(name) + 1", 0).expect("parses");
        let errs = check(&e, &doc_env()).expect_err("bad operand");
        assert_eq!(errs[0].span(), super::super::Span::new(9, 10));
        let e = parse("x == 1 or name == 3", 0).expect("parses");
        let errs = check(&e, &doc_env()).expect_err("bad comparison");
        assert_eq!(errs[1].span(), super::super::Span::new(10, 19));
    }
}
