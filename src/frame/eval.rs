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

use super::{Column, Frame};

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
    Text(&'a super::TextColumn),
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

/// The column names an expression reads.
pub fn identifiers(source: &str) -> Result<Vec<String>, String> {
    if is_identifier(source) {
        return Ok(vec![source.trim().to_owned()]);
    }
    Err(format!(
        "`{source}` is an expression; only bare column names are supported until the expression language is merged"
    ))
}

/// Evaluates `source` over the frame.
pub fn eval_source<'a>(source: &str, frame: &'a Frame) -> Result<Values<'a>, String> {
    if is_identifier(source) {
        return match frame.column(source.trim()).map_err(|e| e.to_string())? {
            Column::Number(v) => Ok(Values::Numbers(Cow::Borrowed(v))),
            Column::Text(t) => Ok(Values::Text(t)),
        };
    }
    Err(format!(
        "`{source}` is an expression; only bare column names are supported until the expression language is merged"
    ))
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

    #[test]
    fn numbers_become_truths_with_unknown_for_missing() {
        let v = Values::Numbers(Cow::Owned(vec![0.0, 2.0, f64::NAN]));
        assert_eq!(
            v.to_truths().expect("numbers convert"),
            vec![Truth::False, Truth::True, Truth::Unknown]
        );
    }
}
