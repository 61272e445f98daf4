//! Whole-column evaluation of the variables and conditions of estimate specs.
//!
//! Estimates at a million rows must not walk an expression tree per row with
//! string look-ups, so expressions are evaluated a column at a time. A bare
//! column name needs no expression at all and is borrowed as it is.
//!
//! Missing values: a number column's missing cells stay `NaN`; a condition
//! is three-valued ([`Truth`]): a comparison with a missing value is
//! `Unknown`, which is neither in nor out of a domain (it is left out), as in
//! the expression language.

use std::borrow::Cow;

use std::cmp::Ordering;

use super::{Column, Frame, MISSING, TextColumn};
use crate::instrument::expr::eval::{compare, kleene_and, kleene_or};
use crate::instrument::expr::{self, BinaryOp, Env, Expr, ExprKind, Missing, UnaryOp, Value, eval};

/// A three-valued truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truth {
    False,
    True,
    Unknown,
}

/// A column computed from a spec expression.
#[derive(Debug, Clone)]
pub enum Values<'a> {
    /// Numbers, `NaN` for missing.
    Numbers(Cow<'a, [f64]>),
    /// A condition.
    Truths(Vec<Truth>),
    /// Text (usable in `by`, not as a number).
    Text(&'a TextColumn),
}

impl Values<'_> {
    /// As numbers: a condition is 1/0, unknown is missing.
    pub fn to_numbers(&self) -> Option<Cow<'_, [f64]>> {
        match self {
            Values::Numbers(v) => Some(Cow::Borrowed(v.as_ref())),
            Values::Truths(t) => Some(Cow::Owned(
                t.iter()
                    .map(|t| match t {
                        Truth::True => 1.0,
                        Truth::False => 0.0,
                        Truth::Unknown => f64::NAN,
                    })
                    .collect(),
            )),
            Values::Text(_) => None,
        }
    }

    /// As a condition: a number is true when not zero, missing is unknown.
    pub fn to_truths(&self) -> Option<Vec<Truth>> {
        match self {
            Values::Truths(t) => Some(t.clone()),
            Values::Numbers(v) => Some(
                v.iter()
                    .map(|&x| {
                        if x.is_nan() {
                            Truth::Unknown
                        } else if x != 0.0 {
                            Truth::True
                        } else {
                            Truth::False
                        }
                    })
                    .collect(),
            ),
            Values::Text(_) => None,
        }
    }
}

/// True when `source` is a bare column name.
pub fn is_identifier(source: &str) -> bool {
    let s = source.trim();
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '.')
}

fn parse_source(source: &str) -> Result<Expr, String> {
    expr::parse(source, 0).map_err(|errors| {
        format!(
            "cannot read `{source}`: {}",
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        )
    })
}

/// The column names an expression reads.
pub fn identifiers(source: &str) -> Result<Vec<String>, String> {
    if is_identifier(source) {
        return Ok(vec![source.trim().to_owned()]);
    }
    let e = parse_source(source)?;
    let mut names: Vec<String> = Vec::new();
    for (n, _) in expr::references(&e) {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    Ok(names)
}

/// Evaluates `source` (a column name or an expression) over the frame.
pub fn eval_source<'a>(source: &str, frame: &'a Frame) -> Result<Values<'a>, String> {
    if is_identifier(source) && frame.has(source.trim()) {
        return match frame.column(source.trim()).map_err(|e| e.to_string())? {
            Column::Number(v) => Ok(Values::Numbers(Cow::Borrowed(v))),
            Column::Small(v) => Ok(Values::Numbers(Cow::Owned(super::small_to_f64(v)))),
            Column::Text(t) => Ok(Values::Text(t)),
        };
    }
    let e = parse_source(source)?;
    for (name, _) in expr::references(&e) {
        frame.column(&name).map_err(|err| err.to_string())?;
    }
    let col = eval_column(&e, frame);
    Ok(match col {
        Col::Num(v) => Values::Numbers(Cow::Owned(v)),
        Col::ConstNum(x) => Values::Numbers(Cow::Owned(vec![x; frame.n_rows()])),
        Col::Truth(t) => Values::Truths(t),
        Col::ConstBool(b) => Values::Truths(vec![Truth::from(Some(b)); frame.n_rows()]),
        Col::Missing => Values::Truths(vec![Truth::Unknown; frame.n_rows()]),
        Col::Text(_) | Col::OwnedText(_) | Col::ConstText(_) | Col::Rows(_) => {
            return Err(format!(
                "`{source}` gives text or dates; use a condition or a number"
            ));
        }
    })
}

impl From<Option<bool>> for Truth {
    fn from(b: Option<bool>) -> Truth {
        match b {
            Some(true) => Truth::True,
            Some(false) => Truth::False,
            None => Truth::Unknown,
        }
    }
}

impl Truth {
    fn get(self) -> Option<bool> {
        match self {
            Truth::True => Some(true),
            Truth::False => Some(false),
            Truth::Unknown => None,
        }
    }
}

/// A column during evaluation.
#[derive(Debug, Clone)]
pub enum Col<'a> {
    /// Numbers, `NaN` for missing.
    Num(Vec<f64>),
    Truth(Vec<Truth>),
    /// A text column of the frame.
    Text(&'a TextColumn),
    OwnedText(Vec<Option<String>>),
    ConstNum(f64),
    ConstText(String),
    ConstBool(bool),
    /// Every row missing.
    Missing,
    /// Row values that have no columnar form (dates, codes).
    Rows(Vec<Value>),
}

/// The value of a frame cell as the expression language sees it: integral
/// numbers are `Int`, others `Decimal`, text is `Text`, an empty cell is
/// skipped.
pub fn cell_value(frame: &Frame, name: &str, i: usize) -> Value {
    match frame.column(name) {
        Ok(Column::Number(v)) => number_value(v[i]),
        Ok(Column::Small(v)) => {
            if v[i] == super::SMALL_MISSING {
                Value::Missing(Missing::Skipped)
            } else {
                Value::Int(i64::from(v[i]))
            }
        }
        Ok(Column::Text(t)) => t.get(i).map_or(Value::Missing(Missing::Skipped), |s| {
            Value::Text(s.to_owned())
        }),
        Err(_) => Value::UNKNOWN,
    }
}

fn number_value(x: f64) -> Value {
    if x.is_nan() {
        Value::Missing(Missing::Skipped)
    } else if x.fract() == 0.0 && x.abs() < 9.0e15 {
        Value::Int(x as i64)
    } else {
        Value::Decimal(x)
    }
}

/// One row of a frame as an expression environment (no rosters).
pub struct RowEnv<'a> {
    pub frame: &'a Frame,
    pub row: usize,
}

impl Env for RowEnv<'_> {
    fn value(&self, name: &str) -> Value {
        cell_value(self.frame, name, self.row)
    }
    fn rows(&self, _roster: &str) -> usize {
        0
    }
    fn row(&self, _roster: &str, _index: usize) -> Box<dyn Env + '_> {
        Box::new(RowEnv {
            frame: self.frame,
            row: self.row,
        })
    }
    fn today(&self) -> jiff::civil::Date {
        jiff::civil::date(1970, 1, 1)
    }
}

impl Col<'_> {
    /// The value of row `i`, as `expr::eval` would see it.
    fn value(&self, i: usize) -> Value {
        match self {
            Col::Num(v) => {
                let x = v[i];
                if x.is_nan() {
                    Value::UNKNOWN
                } else {
                    Value::Decimal(x)
                }
            }
            Col::Truth(t) => Value::from_truth(t[i].get()),
            Col::Text(t) => t
                .get(i)
                .map_or(Value::UNKNOWN, |s| Value::Text(s.to_owned())),
            Col::OwnedText(t) => t[i].clone().map_or(Value::UNKNOWN, Value::Text),
            Col::ConstNum(x) => Value::Decimal(*x),
            Col::ConstText(s) => Value::Text(s.clone()),
            Col::ConstBool(b) => Value::Bool(*b),
            Col::Missing => Value::UNKNOWN,
            Col::Rows(r) => r[i].clone(),
        }
    }

    fn num(&self, i: usize) -> Option<f64> {
        match self {
            Col::Num(v) => (!v[i].is_nan()).then_some(v[i]),
            Col::ConstNum(x) => Some(*x),
            Col::Rows(r) => match &r[i] {
                Value::Int(n) => Some(*n as f64),
                Value::Decimal(x) => Some(*x),
                _ => None,
            },
            _ => None,
        }
    }

    fn is_numeric(&self) -> bool {
        matches!(self, Col::Num(_) | Col::ConstNum(_))
    }

    fn is_text(&self) -> bool {
        matches!(self, Col::Text(_) | Col::OwnedText(_) | Col::ConstText(_))
    }

    fn text(&self, i: usize) -> Option<&str> {
        match self {
            Col::Text(t) => t.get(i),
            Col::OwnedText(t) => t[i].as_deref(),
            Col::ConstText(s) => Some(s),
            _ => None,
        }
    }

    fn truth(&self, i: usize) -> Option<bool> {
        match self {
            Col::Truth(t) => t[i].get(),
            Col::ConstBool(b) => Some(*b),
            Col::Rows(r) => r[i].truth(),
            _ => None,
        }
    }
}

/// Evaluates an expression a column at a time, with the semantics of
/// `expr::eval` row by row: Kleene logic, comparisons with a missing value
/// unknown, division by zero unknown. Function calls and dates are
/// evaluated row by row through [`RowEnv`].
pub fn eval_column<'a>(e: &Expr, frame: &'a Frame) -> Col<'a> {
    let n = frame.n_rows();
    match &e.kind {
        ExprKind::Int(v) => Col::ConstNum(*v as f64),
        ExprKind::Decimal(x) => Col::ConstNum(*x),
        ExprKind::Text(t) => Col::ConstText(t.clone()),
        ExprKind::Bool(b) => Col::ConstBool(*b),
        ExprKind::Name(name) => match frame.column(name) {
            Ok(Column::Number(v)) => Col::Num(v.clone()),
            Ok(Column::Small(v)) => Col::Num(super::small_to_f64(v)),
            Ok(Column::Text(t)) => Col::Text(t),
            Err(_) => Col::Missing,
        },
        ExprKind::Unary {
            op: UnaryOp::Not,
            operand,
        } => {
            let c = eval_column(operand, frame);
            Col::Truth(
                (0..n)
                    .map(|i| Truth::from(c.truth(i).map(|b| !b)))
                    .collect(),
            )
        }
        ExprKind::Unary {
            op: UnaryOp::Neg,
            operand,
        } => {
            let c = eval_column(operand, frame);
            match c {
                Col::ConstNum(x) => Col::ConstNum(-x),
                Col::Num(v) => Col::Num(v.into_iter().map(|x| -x).collect()),
                other => Col::Num(
                    (0..n)
                        .map(|i| other.num(i).map_or(f64::NAN, |x| -x))
                        .collect(),
                ),
            }
        }
        ExprKind::Binary {
            op: BinaryOp::And,
            lhs,
            rhs,
        } => {
            let (l, r) = (eval_column(lhs, frame), eval_column(rhs, frame));
            Col::Truth(
                (0..n)
                    .map(|i| Truth::from(kleene_and(l.truth(i), r.truth(i))))
                    .collect(),
            )
        }
        ExprKind::Binary {
            op: BinaryOp::Or,
            lhs,
            rhs,
        } => {
            let (l, r) = (eval_column(lhs, frame), eval_column(rhs, frame));
            Col::Truth(
                (0..n)
                    .map(|i| Truth::from(kleene_or(l.truth(i), r.truth(i))))
                    .collect(),
            )
        }
        ExprKind::Binary { op, lhs, rhs } if op.is_comparison() => {
            let (l, r) = (eval_column(lhs, frame), eval_column(rhs, frame));
            let decide = |o: Ordering| match op {
                BinaryOp::Eq => o == Ordering::Equal,
                BinaryOp::Ne => o != Ordering::Equal,
                BinaryOp::Lt => o == Ordering::Less,
                BinaryOp::Le => o != Ordering::Greater,
                BinaryOp::Gt => o == Ordering::Greater,
                _ => o != Ordering::Less,
            };
            if l.is_numeric() && r.is_numeric() {
                return Col::Truth(
                    (0..n)
                        .map(|i| match (l.num(i), r.num(i)) {
                            (Some(a), Some(b)) => Truth::from(a.partial_cmp(&b).map(decide)),
                            _ => Truth::Unknown,
                        })
                        .collect(),
                );
            }
            if let (Col::Text(t), Col::ConstText(s)) = (&l, &r) {
                let per_level: Vec<Truth> = t
                    .levels
                    .iter()
                    .map(|lv| Truth::from(Some(decide(lv.as_str().cmp(s)))))
                    .collect();
                return Col::Truth(
                    t.codes
                        .iter()
                        .map(|&c| {
                            if c == MISSING {
                                Truth::Unknown
                            } else {
                                per_level[c as usize]
                            }
                        })
                        .collect(),
                );
            }
            if l.is_text() && r.is_text() {
                return Col::Truth(
                    (0..n)
                        .map(|i| match (l.text(i), r.text(i)) {
                            (Some(a), Some(b)) => Truth::from(Some(decide(a.cmp(b)))),
                            _ => Truth::Unknown,
                        })
                        .collect(),
                );
            }
            Col::Truth(
                (0..n)
                    .map(|i| Truth::from(compare(&l.value(i), &r.value(i)).map(decide)))
                    .collect(),
            )
        }
        ExprKind::Binary { op, lhs, rhs } => {
            let (l, r) = (eval_column(lhs, frame), eval_column(rhs, frame));
            if (l.is_numeric() || matches!(l, Col::Missing))
                && (r.is_numeric() || matches!(r, Col::Missing))
            {
                return Col::Num(
                    (0..n)
                        .map(|i| match (l.num(i), r.num(i)) {
                            (Some(a), Some(b)) => {
                                let x = match op {
                                    BinaryOp::Add => a + b,
                                    BinaryOp::Sub => a - b,
                                    BinaryOp::Mul => a * b,
                                    _ if b == 0.0 => f64::NAN,
                                    _ => a / b,
                                };
                                if x.is_finite() { x } else { f64::NAN }
                            }
                            _ => f64::NAN,
                        })
                        .collect(),
                );
            }
            Col::OwnedText(
                (0..n)
                    .map(|i| match (l.text(i), r.text(i)) {
                        (Some(a), Some(b)) if *op == BinaryOp::Add => Some(format!("{a}{b}")),
                        _ => None,
                    })
                    .collect(),
            )
        }
        ExprKind::In { value, list } => {
            let v = eval_column(value, frame);
            let items: Vec<Col> = list.iter().map(|x| eval_column(x, frame)).collect();
            Col::Truth(
                (0..n)
                    .map(|i| {
                        let value = v.value(i);
                        if value.is_missing() {
                            return Truth::Unknown;
                        }
                        let mut undecided = false;
                        for item in &items {
                            match compare(&value, &item.value(i)) {
                                Some(Ordering::Equal) => return Truth::True,
                                Some(_) => {}
                                None => undecided = true,
                            }
                        }
                        if undecided {
                            Truth::Unknown
                        } else {
                            Truth::False
                        }
                    })
                    .collect(),
            )
        }
        ExprKind::Date(_) | ExprKind::Call { .. } => {
            let rows: Vec<Value> = (0..n).map(|row| eval(e, &RowEnv { frame, row })).collect();
            if rows
                .iter()
                .all(|v| matches!(v, Value::Bool(_) | Value::Missing(_)))
            {
                Col::Truth(rows.iter().map(|v| Truth::from(v.truth())).collect())
            } else if rows
                .iter()
                .all(|v| matches!(v, Value::Int(_) | Value::Decimal(_) | Value::Missing(_)))
            {
                Col::Num(
                    rows.iter()
                        .map(|v| match v {
                            Value::Int(k) => *k as f64,
                            Value::Decimal(x) => *x,
                            _ => f64::NAN,
                        })
                        .collect(),
                )
            } else {
                Col::Rows(rows)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_recognised() {
        assert!(is_identifier("api00"));
        assert!(is_identifier("sch.wide"));
        assert!(!is_identifier("a == 1"));
        assert!(!is_identifier("1a"));
    }

    fn frame() -> Frame {
        let nan = f64::NAN;
        let text = |v: &[Option<&str>]| {
            let mut levels: Vec<String> = Vec::new();
            let codes = v
                .iter()
                .map(|x| match x {
                    None => MISSING,
                    Some(s) => match levels.iter().position(|l| l == s) {
                        Some(p) => p as u32,
                        None => {
                            levels.push(s.to_string());
                            (levels.len() - 1) as u32
                        }
                    },
                })
                .collect();
            Column::Text(TextColumn { codes, levels })
        };
        Frame::from_columns(vec![
            (
                "a".into(),
                Column::Number(vec![1.0, 0.0, nan, 2.0, 98.0, 1.0, 0.0, nan, 3.5]),
            ),
            (
                "b".into(),
                Column::Number(vec![0.0, 1.0, 1.0, nan, 0.0, 2.0, nan, nan, -1.0]),
            ),
            (
                "t".into(),
                text(&[
                    Some("x"),
                    Some("y"),
                    None,
                    Some("x"),
                    Some("z"),
                    None,
                    Some("y"),
                    Some("x"),
                    Some(""),
                ]),
            ),
        ])
    }

    #[test]
    fn columnar_evaluation_agrees_with_expr_eval_row_by_row() {
        let f = frame();
        let sources = [
            "a == 1",
            "a == 1 or b == 1",
            "a == 1 and b == 1",
            "not (a > 0)",
            "a != b",
            "a + b * 2 > 1",
            "a / b > 0",
            "a in [1, 2, 98]",
            "t == \"x\"",
            "t != \"x\" or a >= 1",
            "t in [\"x\", \"z\"]",
            "-a < 0",
            "a == 1 and t == \"y\"",
            "answered(a) and a != 98",
            "(a == 1) == (b == 0)",
        ];
        for src in sources {
            let e = expr::parse(src, 0).expect("test expression parses");
            let col = eval_column(&e, &f);
            for row in 0..f.n_rows() {
                let want = eval(&e, &RowEnv { frame: &f, row });
                let got = col.value(row);
                let same = match (&want, &got) {
                    (Value::Missing(_), Value::Missing(_)) => true,
                    (Value::Int(a), b) => {
                        b.clone() == Value::Decimal(*a as f64) || *b == Value::Int(*a)
                    }
                    (a, b) => a == b,
                };
                assert!(
                    same,
                    "`{src}` row {row}: expr::eval {want:?}, columnar {got:?}"
                );
            }
        }
    }

    #[test]
    fn numbers_become_truths_with_unknown_for_missing() {
        let v = Values::Numbers(Cow::Owned(vec![0.0, 2.0, f64::NAN]));
        assert_eq!(
            v.to_truths().expect("numbers convert"),
            vec![Truth::False, Truth::True, Truth::Unknown]
        );
    }
}
