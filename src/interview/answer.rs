//! An answer: a typed value, or one of the two special answers.
//!
//! Don't know and refused are answers of their own, not values: they are
//! stored, exported with the instrument's codes, and seen by expressions as
//! missing values of their kind (`is_dk`, `is_rf`).

use std::fmt;

use jiff::civil::Date;

use crate::instrument::expr::{Missing, Value};

/// What the respondent said.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Int(i64),
    Decimal(f64),
    Text(String),
    Date(Date),
    /// Selected option codes of a multiple-choice item, in option order.
    Codes(Vec<i64>),
    DontKnow,
    Refused,
}

impl Answer {
    /// The value expressions see.
    pub fn to_value(&self) -> Value {
        match self {
            Answer::Int(i) => Value::Int(*i),
            Answer::Decimal(x) => Value::Decimal(*x),
            Answer::Text(s) => Value::Text(s.clone()),
            Answer::Date(d) => Value::Date(*d),
            Answer::Codes(c) => Value::Codes(c.clone()),
            Answer::DontKnow => Value::Missing(Missing::DontKnow),
            Answer::Refused => Value::Missing(Missing::Refused),
        }
    }

    pub fn is_special(&self) -> bool {
        matches!(self, Answer::DontKnow | Answer::Refused)
    }
}

impl fmt::Display for Answer {
    /// A plain text form, also used in events: numbers as written, dates ISO,
    /// codes comma-separated, `dk` and `rf` for the special answers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Int(i) => write!(f, "{i}"),
            Answer::Decimal(x) => write!(f, "{x}"),
            Answer::Text(s) => f.write_str(s),
            Answer::Date(d) => write!(f, "{d}"),
            Answer::Codes(c) => {
                let parts: Vec<String> = c.iter().map(i64::to_string).collect();
                f.write_str(&parts.join(","))
            }
            Answer::DontKnow => f.write_str("dk"),
            Answer::Refused => f.write_str("rf"),
        }
    }
}
