//! Evaluation: a checked expression against the answers of one interview.
//!
//! Evaluation never fails and never panics. Whatever cannot be decided, a
//! missing operand, a division by zero, an overflow, a value of an
//! unexpected type from the environment, gives `Missing(Unknown)`; the
//! caller decides what an unknown means (the engine treats an unknown
//! relevance condition as false). `and`, `or` and `not` follow Kleene's
//! three-valued logic, so `false and unknown` is false and `true or
//! unknown` is true. Recursion is bounded by the parser's depth limit.

use std::cmp::Ordering;
use std::fmt;

use jiff::civil::Date;

use super::ast::{BinaryOp, Expr, ExprKind, UnaryOp};
use super::functions;

/// Why a value is missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Missing {
    /// The respondent answered "don't know".
    DontKnow,
    /// The respondent refused to answer.
    Refused,
    /// Not relevant on the path taken, so never asked.
    Skipped,
    /// Relevant but not reached yet.
    NotAsked,
    /// The result of an expression that cannot be decided (a missing
    /// operand, a division by zero).
    Unknown,
}

/// A value during evaluation. Single-choice answers are `Int` codes.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Decimal(f64),
    Text(String),
    Date(Date),
    /// The codes chosen in a multiple-choice answer.
    Codes(Vec<i64>),
    Missing(Missing),
}

impl Value {
    /// The undecidable value.
    pub const UNKNOWN: Value = Value::Missing(Missing::Unknown);

    /// `Some(b)` for a boolean, `None` for anything else (unknown).
    pub fn truth(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Whether the value is `true`: the rule for relevance conditions and
    /// domains, where unknown counts as false.
    pub fn is_true(&self) -> bool {
        self.truth() == Some(true)
    }

    /// Whether the value is missing for any reason.
    pub fn is_missing(&self) -> bool {
        matches!(self, Value::Missing(_))
    }

    /// A three-valued result: `None` becomes unknown.
    pub fn from_truth(truth: Option<bool>) -> Value {
        truth.map_or(Value::UNKNOWN, Value::Bool)
    }

    /// The value as a decimal, for numeric values.
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(n) => Some(*n as f64),
            Value::Decimal(x) => Some(*x),
            _ => None,
        }
    }
}

impl From<Missing> for Value {
    fn from(missing: Missing) -> Value {
        Value::Missing(missing)
    }
}

/// Text for fills: numbers as written, dates as `YYYY-MM-DD`, codes joined
/// by `, `, and missing values as empty text.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Decimal(x) => write!(f, "{x}"),
            Value::Text(t) => f.write_str(t),
            Value::Date(d) => write!(f, "{d}"),
            Value::Codes(codes) => {
                for (i, c) in codes.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{c}")?;
                }
                Ok(())
            }
            Value::Missing(_) => Ok(()),
        }
    }
}

/// English month names, the default of [`Env::month_name`].
pub const ENGLISH_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The answers an expression is evaluated against, provided by the
/// interview engine (or by export, for computed variables).
pub trait Env {
    /// The value of `name` in the current scope.
    fn value(&self, name: &str) -> Value;
    /// How many rows of `roster` are visible from here.
    fn rows(&self, roster: &str) -> usize;
    /// The scope of row `index` (0-based) of `roster`.
    fn row(&self, roster: &str, index: usize) -> Box<dyn Env + '_>;
    /// The interview date; there is no clock inside the language.
    fn today(&self) -> Date;
    /// The name of `month` (1 to 12) in the interview language, for
    /// `month_year()`. The default is English.
    fn month_name(&self, month: i8) -> String {
        const NAMES: [&str; 12] = ENGLISH_MONTHS;
        usize::try_from(month)
            .ok()
            .and_then(|m| m.checked_sub(1))
            .and_then(|i| NAMES.get(i))
            .map_or_else(|| month.to_string(), |s| s.to_string())
    }
}

/// Evaluates `expr` in `env`. Never panics; undecidable results are
/// `Value::Missing(Missing::Unknown)`.
pub fn eval(expr: &Expr, env: &dyn Env) -> Value {
    match &expr.kind {
        ExprKind::Int(n) => Value::Int(*n),
        ExprKind::Decimal(x) => Value::Decimal(*x),
        ExprKind::Text(t) => Value::Text(t.clone()),
        ExprKind::Bool(b) => Value::Bool(*b),
        ExprKind::Date(d) => Value::Date(*d),
        ExprKind::Name(name) => env.value(name),
        ExprKind::Unary {
            op: UnaryOp::Not,
            operand,
        } => Value::from_truth(eval(operand, env).truth().map(|b| !b)),
        ExprKind::Unary {
            op: UnaryOp::Neg,
            operand,
        } => match eval(operand, env) {
            Value::Int(n) => n.checked_neg().map_or(Value::UNKNOWN, Value::Int),
            Value::Decimal(x) => Value::Decimal(-x),
            _ => Value::UNKNOWN,
        },
        ExprKind::Binary {
            op: BinaryOp::And,
            lhs,
            rhs,
        } => {
            let l = eval(lhs, env).truth();
            if l == Some(false) {
                return Value::Bool(false);
            }
            Value::from_truth(kleene_and(l, eval(rhs, env).truth()))
        }
        ExprKind::Binary {
            op: BinaryOp::Or,
            lhs,
            rhs,
        } => {
            let l = eval(lhs, env).truth();
            if l == Some(true) {
                return Value::Bool(true);
            }
            Value::from_truth(kleene_or(l, eval(rhs, env).truth()))
        }
        ExprKind::Binary { op, lhs, rhs } if op.is_comparison() => {
            let ord = compare(&eval(lhs, env), &eval(rhs, env));
            Value::from_truth(ord.map(|o| match op {
                BinaryOp::Eq => o == Ordering::Equal,
                BinaryOp::Ne => o != Ordering::Equal,
                BinaryOp::Lt => o == Ordering::Less,
                BinaryOp::Le => o != Ordering::Greater,
                BinaryOp::Gt => o == Ordering::Greater,
                _ => o != Ordering::Less,
            }))
        }
        ExprKind::Binary { op, lhs, rhs } => arithmetic(*op, eval(lhs, env), eval(rhs, env)),
        ExprKind::In { value, list } => {
            let value = eval(value, env);
            if value.is_missing() {
                return Value::UNKNOWN;
            }
            let mut undecided = false;
            for item in list {
                match compare(&value, &eval(item, env)) {
                    Some(Ordering::Equal) => return Value::Bool(true),
                    Some(_) => {}
                    None => undecided = true,
                }
            }
            if undecided {
                Value::UNKNOWN
            } else {
                Value::Bool(false)
            }
        }
        ExprKind::Call { name, args, .. } => functions::eval_call(name, args, env),
    }
}

/// Kleene conjunction: false wins, then unknown.
pub(crate) fn kleene_and(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

/// Kleene disjunction: true wins, then unknown.
pub(crate) fn kleene_or(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

/// Orders two values; `None` when either is missing or they do not
/// compare (or a decimal is NaN). Multiple-choice answers compare as sets
/// (sorted, without repeats); the checker allows no order on them.
pub(crate) fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Int(_) | Value::Decimal(_), Value::Int(_) | Value::Decimal(_)) => {
            a.as_f64()?.partial_cmp(&b.as_f64()?)
        }
        (Value::Text(x), Value::Text(y)) => Some(x.cmp(y)),
        (Value::Date(x), Value::Date(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Codes(x), Value::Codes(y)) => {
            let mut x = x.clone();
            let mut y = y.clone();
            x.sort_unstable();
            x.dedup();
            y.sort_unstable();
            y.dedup();
            Some(x.cmp(&y))
        }
        _ => None,
    }
}

fn finite(x: f64) -> Value {
    if x.is_finite() {
        Value::Decimal(x)
    } else {
        Value::UNKNOWN
    }
}

/// `+ - * /` on two values. `/` always gives a decimal; integer overflow,
/// division by zero and non-finite results are unknown.
fn arithmetic(op: BinaryOp, a: Value, b: Value) -> Value {
    match (op, &a, &b) {
        (BinaryOp::Add, Value::Text(x), Value::Text(y)) => Value::Text(format!("{x}{y}")),
        (BinaryOp::Div, _, _) => match (a.as_f64(), b.as_f64()) {
            (Some(_), Some(0.0)) => Value::UNKNOWN,
            (Some(x), Some(y)) => finite(x / y),
            _ => Value::UNKNOWN,
        },
        (_, Value::Int(x), Value::Int(y)) => {
            let r = match op {
                BinaryOp::Add => x.checked_add(*y),
                BinaryOp::Sub => x.checked_sub(*y),
                _ => x.checked_mul(*y),
            };
            r.map_or(Value::UNKNOWN, Value::Int)
        }
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => finite(match op {
                BinaryOp::Add => x + y,
                BinaryOp::Sub => x - y,
                _ => x * y,
            }),
            _ => Value::UNKNOWN,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::super::testenv::{TestEnv, doc_env};
    use super::*;

    fn run_in(src: &str, env: &TestEnv) -> Value {
        eval(&parse(src, 0).expect("parses"), env)
    }

    fn run(src: &str) -> Value {
        run_in(src, &doc_env())
    }

    const KINDS: [Missing; 5] = [
        Missing::DontKnow,
        Missing::Refused,
        Missing::Skipped,
        Missing::NotAsked,
        Missing::Unknown,
    ];

    /// An environment with `t = true`, `f = false` and `m` missing as `kind`.
    fn logic_env(kind: Missing) -> TestEnv {
        let mut env = TestEnv::default();
        env.set("t", Value::Bool(true));
        env.set("f", Value::Bool(false));
        env.set("m", Value::Missing(kind));
        env.set("n", Value::Int(3));
        env
    }

    #[test]
    fn and_or_not_are_kleene_for_every_kind_of_missing() {
        let u = Value::UNKNOWN;
        let (t, f) = (Value::Bool(true), Value::Bool(false));
        let table = [
            ("t and t", &t),
            ("t and f", &f),
            ("f and f", &f),
            ("t and m", &u),
            ("m and t", &u),
            ("f and m", &f),
            ("m and f", &f),
            ("m and m", &u),
            ("t or f", &t),
            ("f or f", &f),
            ("t or m", &t),
            ("m or t", &t),
            ("f or m", &u),
            ("m or f", &u),
            ("m or m", &u),
            ("not t", &f),
            ("not f", &t),
            ("not m", &u),
        ];
        for kind in KINDS {
            let env = logic_env(kind);
            for (src, want) in table {
                assert_eq!(&run_in(src, &env), want, "{src} with m = {kind:?}");
            }
        }
    }

    #[test]
    fn arithmetic_and_comparison_with_missing_are_unknown() {
        let table = [
            "m + 1",
            "1 - m",
            "m * n",
            "n / m",
            "-m",
            "m == 1",
            "m != 1",
            "m < n",
            "n >= m",
            "m == m",
            "m in [1, 2]",
            "m + 'x' == 'x'",
        ];
        for kind in KINDS {
            let env = logic_env(kind);
            for src in table {
                assert_eq!(run_in(src, &env), Value::UNKNOWN, "{src} with m = {kind:?}");
            }
        }
    }

    #[test]
    fn answered_and_missing_kind_tests() {
        for kind in KINDS {
            let env = logic_env(kind);
            let b = |src| run_in(src, &env);
            assert_eq!(b("answered(m)"), Value::Bool(false));
            assert_eq!(b("answered(n)"), Value::Bool(true));
            assert_eq!(b("is_dk(m)"), Value::Bool(kind == Missing::DontKnow));
            assert_eq!(b("is_rf(m)"), Value::Bool(kind == Missing::Refused));
            assert_eq!(b("is_dk(n) or is_rf(n)"), Value::Bool(false));
            assert_eq!(b("answered(n / 0)"), Value::Bool(false));
        }
    }

    #[test]
    fn arithmetic() {
        assert_eq!(run("1 + 2 * 3"), Value::Int(7));
        assert_eq!(run("7 / 2"), Value::Decimal(3.5));
        assert_eq!(run("1 / 0"), Value::UNKNOWN);
        assert_eq!(run("1.5 / 0.0"), Value::UNKNOWN);
        assert_eq!(run("2 * 0.5"), Value::Decimal(1.0));
        assert_eq!(run("-(3 - 5)"), Value::Int(2));
        assert_eq!(run("9223372036854775807 + 1"), Value::UNKNOWN);
        assert_eq!(run("-9223372036854775807 - 2"), Value::UNKNOWN);
        assert_eq!(run("'a' + 'b'"), Value::Text("ab".into()));
    }

    #[test]
    fn comparisons_and_membership() {
        assert_eq!(run("1 == 1.0"), Value::Bool(true));
        assert_eq!(run("2 < 2.5"), Value::Bool(true));
        assert_eq!(run("'abc' < 'abd'"), Value::Bool(true));
        assert_eq!(run("@2025-01-01 <= @2024-12-31"), Value::Bool(false));
        assert_eq!(run("sex in [1, 2]"), Value::Bool(true));
        assert_eq!(run("sex in [3]"), Value::Bool(false));
        assert_eq!(run("sex in []"), Value::Bool(false));
        assert_eq!(run("sex in [reported, 2]"), Value::Bool(true));
        assert_eq!(run("sex in [reported, 3]"), Value::UNKNOWN);
    }

    #[test]
    fn unexpected_values_from_the_environment_are_unknown() {
        let mut env = TestEnv::default();
        env.set("t", Value::Text("x".into()));
        env.set("c", Value::Codes(vec![1]));
        for src in [
            "t + 1",
            "-t",
            "t and true",
            "not t",
            "t < 1",
            "c == 1",
            "c * 2",
        ] {
            assert_eq!(run_in(src, &env), Value::UNKNOWN, "{src}");
        }
        assert_eq!(run_in("c == c", &env), Value::Bool(true));
        env.set("d", Value::Codes(vec![2, 1, 1]));
        env.set("e", Value::Codes(vec![1, 2]));
        assert_eq!(run_in("c != d", &env), Value::Bool(true));
        assert_eq!(run_in("d == e", &env), Value::Bool(true));
    }

    #[test]
    fn only_true_is_true() {
        assert!(Value::Bool(true).is_true());
        assert!(!Value::Bool(false).is_true());
        assert!(!Value::UNKNOWN.is_true());
        assert!(!Value::from(Missing::DontKnow).is_true());
        assert!(!Value::Int(1).is_true());
    }

    #[test]
    fn values_print_for_fills() {
        assert_eq!(Value::Codes(vec![1, 3]).to_string(), "1, 3");
        assert_eq!(Value::Missing(Missing::DontKnow).to_string(), "");
        assert_eq!(
            Value::Date(jiff::civil::date(2025, 3, 1)).to_string(),
            "2025-03-01"
        );
    }

    #[test]
    fn month_names_default_to_english() {
        let env = TestEnv::default();
        assert_eq!(env.month_name(3), "March");
        assert_eq!(env.month_name(13), "13");
        assert_eq!(env.month_name(0), "0");
    }
}
