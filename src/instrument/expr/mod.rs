//! The expression language shared by relevance, checks, fills, computed
//! variables, estimate specs and domains.
//!
//! One phase per file: [`lexer`] (text to tokens), [`parser`] (tokens to a
//! tree, with the precedence table), [`ast`] (the tree and its canonical
//! printing), [`types`] (the checker, run once at load), [`mod@eval`] (values
//! and missing-value logic) and [`functions`] (the built-ins, typing and
//! evaluation side by side). The language is documented for questionnaire
//! authors in `docs/instrument-language.md`, whose examples are run as
//! tests here.
//!
//! Invariants:
//! - every span is a byte range of the questionnaire file: `parse` adds the
//!   offset of the expression text in the file to every position;
//! - `parse` refuses input longer than [`MAX_LENGTH`] bytes or nested
//!   deeper than [`MAX_DEPTH`], so no phase can overflow the stack;
//! - `check` reports every type error it finds, not just the first;
//! - `eval` never panics and never fails: what cannot be decided is
//!   `Value::Missing(Missing::Unknown)`. The language has no clock and no
//!   I/O; the date comes from [`Env::today`].
//!
//! Names are resolved by the caller's environments ([`TypeEnv`] when
//! checking, [`Env`] when evaluating), so the language knows nothing of
//! questionnaires or rosters beyond their names.

pub mod ast;
mod error;
pub mod eval;
pub mod functions;
pub mod lexer;
pub mod parser;
pub mod types;

#[cfg(test)]
mod testenv;

pub use ast::{BinaryOp, Expr, ExprKind, Span, UnaryOp, references};
pub use error::{ExprError, closest};
pub use eval::{ENGLISH_MONTHS, Env, Missing, Value, eval};
pub use functions::MAX_AGGREGATE_DEPTH;
pub use lexer::KEYWORDS;
pub use parser::{MAX_DEPTH, MAX_LENGTH, parse};
pub use types::{Lookup, Type, TypeEnv, check};

#[cfg(test)]
mod tests;
