//! The one error type of the expression language.
//!
//! Errors come from the lexer, the parser and the type checker; evaluation
//! never fails (an undecidable result is `Missing::Unknown`). Each variant
//! carries the span of the offending text in file offsets, so the caller
//! attaches the questionnaire as source code and `miette` draws the caret.
//! The doc of each variant gives an input that triggers it.

use miette::Diagnostic;
use thiserror::Error;

use super::ast::Span;
use super::types::Type;

/// What went wrong in an expression, with where.
///
/// The inputs in the docs below use the example answers of
/// `docs/instrument-language.md`; a test runs each one and checks that it
/// gives its variant.
#[derive(Clone, Debug, PartialEq, Error, Diagnostic)]
#[non_exhaustive]
pub enum ExprError {
    /// A character that starts no token: `a $ b`, `a = 1`, `a && b`.
    #[error("unexpected character `{ch}`")]
    #[diagnostic(code(vicor::expr::unexpected_char))]
    UnexpectedChar {
        ch: char,
        #[label("not part of the expression language")]
        span: Span,
        #[help]
        help: String,
    },

    /// Text that is never closed: `'abc`.
    #[error("unterminated text")]
    #[diagnostic(
        code(vicor::expr::unterminated_text),
        help("close the text with the quote it opened with")
    )]
    UnterminatedText {
        #[label("text starts here")]
        span: Span,
    },

    /// An escape the language does not know: `'a\qb'`.
    #[error("unknown escape `{text}` in text")]
    #[diagnostic(
        code(vicor::expr::bad_escape),
        help("the escapes are \\\\ \\' \\\" \\n and \\t")
    )]
    BadEscape {
        text: String,
        #[label("unknown escape")]
        span: Span,
    },

    /// A number that does not fit: `99999999999999999999`, or `1.` with no
    /// digits after the point.
    #[error("invalid number `{text}`")]
    #[diagnostic(
        code(vicor::expr::bad_number),
        help(
            "whole numbers must lie within ±9223372036854775807; decimals need digits on both sides of the point, as in 1.0"
        )
    )]
    BadNumber {
        text: String,
        #[label("invalid number")]
        span: Span,
    },

    /// A date that is not `@YYYY-MM-DD` or does not exist: `@2025-02-30`.
    #[error("invalid date `{text}`")]
    #[diagnostic(
        code(vicor::expr::bad_date),
        help("write dates as @YYYY-MM-DD, e.g. @2025-03-01, and make sure the day exists")
    )]
    BadDate {
        text: String,
        #[label("invalid date")]
        span: Span,
    },

    /// A name with capitals: `Age`.
    #[error("invalid name `{name}`")]
    #[diagnostic(
        code(vicor::expr::bad_name),
        help("item ids are lowercase letters, digits and `_`: write `{lower}`")
    )]
    BadName {
        name: String,
        lower: String,
        #[label("names are lowercase")]
        span: Span,
    },

    /// The expression stops or continues where it cannot: `resp_age +`,
    /// `(resp_age sex)`.
    #[error("expected {expected}, found {found}")]
    #[diagnostic(code(vicor::expr::unexpected_token))]
    UnexpectedToken {
        expected: &'static str,
        found: String,
        #[label("unexpected here")]
        span: Span,
        #[help]
        help: String,
    },

    /// A parenthesis, bracket or call that is never closed:
    /// `(resp_age + 1`.
    #[error("unclosed `{open}`")]
    #[diagnostic(code(vicor::expr::unclosed), help("add the matching `{close}`"))]
    Unclosed {
        open: char,
        close: char,
        #[label("opened here")]
        span: Span,
    },

    /// Two comparisons in a row: `1 < resp_age < 3`.
    #[error("comparisons cannot be chained")]
    #[diagnostic(
        code(vicor::expr::chained_comparison),
        help("join the two comparisons with `and`, as in `1 < a and a < 3`")
    )]
    ChainedComparison {
        #[label("second comparison")]
        span: Span,
    },

    /// A list anywhere but after `in`: `[1, 2] == sex`.
    #[error("a list can only follow `in`")]
    #[diagnostic(
        code(vicor::expr::list_outside_in),
        help("test membership with `x in [1, 2, 3]`")
    )]
    ListOutsideIn {
        #[label("list here")]
        span: Span,
    },

    /// Nesting deeper than the limit: 65 pairs of parentheses.
    #[error("expression nested deeper than {limit} levels")]
    #[diagnostic(
        code(vicor::expr::too_deep),
        help("split the expression into computed variables")
    )]
    TooDeep {
        limit: usize,
        #[label("too deep from here")]
        span: Span,
    },

    /// An expression longer than the limit (10 000 bytes).
    #[error("expression is {len} bytes long, more than the limit of {limit}")]
    #[diagnostic(
        code(vicor::expr::too_long),
        help("split the expression into computed variables")
    )]
    TooLong {
        len: usize,
        limit: usize,
        #[label("this expression")]
        span: Span,
    },

    /// Aggregates over rows nested more than three deep:
    /// `count(members, any(members, all(members, any(members, member_age > 1))))`.
    #[error("aggregates nested more than {limit} deep")]
    #[diagnostic(
        code(vicor::expr::nested_aggregates),
        help(
            "each nested aggregate repeats the work for every row; compute the inner part as a variable of the roster"
        )
    )]
    NestedAggregates {
        limit: usize,
        #[label("one aggregate too many")]
        span: Span,
    },

    /// A name the questionnaire does not define: `resp_agee > 18`.
    #[error("unknown item `{name}`")]
    #[diagnostic(code(vicor::expr::unknown_name))]
    UnknownName {
        name: String,
        #[label("not defined")]
        span: Span,
        #[help]
        help: String,
    },

    /// An item of a roster used outside it: `member_age > 18` at household
    /// level, where `member_age` is asked per member.
    #[error("`{name}` belongs to roster `{roster}`")]
    #[diagnostic(
        code(vicor::expr::out_of_scope),
        help(
            "use an aggregate such as sum({roster}, {name}), any({roster}, ...) or count({roster}, ...)"
        )
    )]
    OutOfScope {
        name: String,
        roster: String,
        #[label("one value per row of `{roster}`")]
        span: Span,
    },

    /// A roster name used as a value: `members + 1`.
    #[error("`{name}` is a roster, not a value")]
    #[diagnostic(
        code(vicor::expr::roster_as_value),
        help("use an aggregate such as count({name}) or sum({name}, ...)")
    )]
    RosterAsValue {
        name: String,
        #[label("a roster")]
        span: Span,
    },

    /// An aggregate whose first argument is not a roster:
    /// `sum(resp_age, resp_age)`.
    #[error("the first argument of `{function}` must be a roster")]
    #[diagnostic(
        code(vicor::expr::not_a_roster),
        help("write the roster's id first, as in {function}(members, ...)")
    )]
    NotARoster {
        function: String,
        #[label("not a roster")]
        span: Span,
    },

    /// A function the language does not have: `avg(members, member_age)`.
    #[error("unknown function `{name}`")]
    #[diagnostic(code(vicor::expr::unknown_function))]
    UnknownFunction {
        name: String,
        #[label("not a function")]
        span: Span,
        #[help]
        help: String,
    },

    /// A call with the wrong number of arguments: `answered(sex, 1)`.
    #[error("`{function}` takes {expected} argument(s), found {found}")]
    #[diagnostic(code(vicor::expr::wrong_arity), help("write it as {usage}"))]
    WrongArity {
        function: String,
        expected: &'static str,
        found: usize,
        usage: &'static str,
        #[label("wrong number of arguments")]
        span: Span,
    },

    /// Two values that cannot be compared: `name == 3`, `weapons == 1`.
    #[error("cannot compare {left} with {right}")]
    #[diagnostic(code(vicor::expr::cannot_compare))]
    CannotCompare {
        left: Type,
        right: Type,
        #[label("{left} vs {right}")]
        span: Span,
        #[help]
        help: String,
    },

    /// An operand of the wrong type: `'a' * 2`, `resp_age and victim`,
    /// `not 3`, `age(5)`.
    #[error("expected {expected}, found {found}")]
    #[diagnostic(code(vicor::expr::type_mismatch))]
    TypeMismatch {
        expected: &'static str,
        found: Type,
        #[label("{found}")]
        span: Span,
        #[help]
        help: String,
    },

    /// Values that must share a type and do not: `if(victim, 1, 'one')`,
    /// `min(1, @2025-01-01)`.
    #[error("mixed types: {first} and {second}")]
    #[diagnostic(
        code(vicor::expr::mixed_types),
        help("make every branch, element or argument the same kind of value")
    )]
    MixedTypes {
        first: Type,
        second: Type,
        #[label("{second} where {first} was expected")]
        span: Span,
    },
}

impl ExprError {
    /// Where the error is, in file offsets.
    pub fn span(&self) -> Span {
        match self {
            ExprError::UnexpectedChar { span, .. }
            | ExprError::UnterminatedText { span }
            | ExprError::BadEscape { span, .. }
            | ExprError::BadNumber { span, .. }
            | ExprError::BadDate { span, .. }
            | ExprError::BadName { span, .. }
            | ExprError::UnexpectedToken { span, .. }
            | ExprError::Unclosed { span, .. }
            | ExprError::ChainedComparison { span }
            | ExprError::ListOutsideIn { span }
            | ExprError::TooDeep { span, .. }
            | ExprError::TooLong { span, .. }
            | ExprError::NestedAggregates { span, .. }
            | ExprError::UnknownName { span, .. }
            | ExprError::OutOfScope { span, .. }
            | ExprError::RosterAsValue { span, .. }
            | ExprError::NotARoster { span, .. }
            | ExprError::UnknownFunction { span, .. }
            | ExprError::WrongArity { span, .. }
            | ExprError::CannotCompare { span, .. }
            | ExprError::TypeMismatch { span, .. }
            | ExprError::MixedTypes { span, .. } => *span,
        }
    }
}

/// The candidate closest to `word` when it is close enough to be a typo:
/// at most one edit per three characters (and at least one edit allowed).
/// Ties go to the alphabetically first, whatever the order of `candidates`.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|&(d, c)| d <= (word.len().max(c.len()) / 3).max(1))
        .min()
        .map(|(_, c)| c)
}

/// `did you mean ...?` help for `name` among `candidates`, or `fallback`.
pub(crate) fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    fallback: &str,
) -> String {
    match closest(name, candidates) {
        Some(c) => format!("did you mean `{c}`?"),
        None => fallback.to_string(),
    }
}

pub(crate) use crate::suggest::edit_distance;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean_suggests_only_close_names() {
        let names = ["resp_age", "sex", "members"];
        assert_eq!(
            did_you_mean("resp_agee", names, "x"),
            "did you mean `resp_age`?"
        );
        assert_eq!(
            did_you_mean("membres", names, "x"),
            "did you mean `members`?"
        );
        assert_eq!(
            did_you_mean("income", names, "no such item"),
            "no such item"
        );
    }

    #[test]
    fn every_error_has_a_code_and_help() {
        let e = ExprError::ChainedComparison {
            span: Span::new(1, 2),
        };
        assert!(
            e.code()
                .is_some_and(|c| c.to_string() == "vicor::expr::chained_comparison")
        );
        assert!(e.help().is_some());
        assert_eq!(e.span(), Span::new(1, 2));
        let labels: Vec<_> = e.labels().expect("has a label").collect();
        assert_eq!(labels[0].offset(), 1);
    }
}
