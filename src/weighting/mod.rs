//! Survey weighting: base weights, adjustments, calibration, trimming and
//! their diagnostics, as R's `survey` package computes them.
//!
//! A weighting run turns design weights into final analysis weights in a
//! fixed order (see `docs/weighting.md`): base weights from the selection
//! probabilities of every stage, the within-household selection factor, the
//! nonresponse adjustment by weighting classes, calibration to population
//! totals, trimming, and the same steps again for every replicate column.
//!
//! The kernels here take slices and return plain structs: no file, CSV or
//! terminal I/O (the binary reads the plan, the data and the targets).
//! Where a methodologist would look for R's name, the function carries it:
//! [`calibrate::calibrate`] is `survey::calibrate` (through its internal
//! `grake`), [`rake::rake`] is `survey::rake`, [`poststratify::post_stratify`]
//! is `survey::postStratify`, [`trim::trim_weights`] is `survey::trimWeights`.
//!
//! Invariants: every kernel validates its input once and returns a
//! [`WeightingError`] that names the margin and the category at fault; no
//! kernel ever returns a weight vector of another length than its input; the
//! summation order is plain left-to-right over rows, as R's `colSums`.

pub mod adjust;
pub mod calibrate;
pub mod diagnostics;
pub mod margins;
pub mod plan;
pub mod poststratify;
pub mod rake;
pub mod trim;

/// Everything that can go wrong while weighting. Messages are lowercase,
/// name the margin and category at fault, and say what to fix.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum WeightingError {
    /// A base weight or selection probability that is zero, negative or not
    /// a number, e.g. a probability column holding `0` for one row.
    #[error(
        "row {row}: {what} is {value}, but it must be a positive number; fix the {what} in the data"
    )]
    NonPositive {
        row: usize,
        what: String,
        value: f64,
    },
    /// A selection probability outside (0, 1], e.g. `1.5`.
    #[error(
        "row {row}: {what} is {value}, but a probability must be in (0, 1]; fix the {what} in the data"
    )]
    BadProbability {
        row: usize,
        what: String,
        value: f64,
    },
    /// A value that is not a number where one is needed, e.g. `abc` in a
    /// probability column.
    #[error("row {row}: column `{column}` holds `{value}`, which is not a number")]
    NotANumber {
        row: usize,
        column: String,
        value: String,
    },
    /// A column named in the plan that the data does not have.
    #[error("the data has no column `{column}` (named in the plan's {step} step)")]
    MissingColumn { column: String, step: String },
    /// Two margins whose targets add up to different population sizes,
    /// e.g. sex summing to 1000 and region to 1010.
    #[error(
        "margin `{margin}` totals {total} but margin `{first}` totals {first_total}; the margins must agree on the population size"
    )]
    MarginTotalsDisagree {
        margin: String,
        total: f64,
        first: String,
        first_total: f64,
    },
    /// A category present in the data but absent from a margin's targets.
    #[error(
        "margin `{margin}`: category `{category}` occurs in the data but has no population target; add it to the targets or recode the data"
    )]
    CategoryNotInTargets { margin: String, category: String },
    /// A category with a positive target but no respondents (an empty cell).
    #[error(
        "margin `{margin}`: category `{category}` has a population target of {target} but no respondents (an empty cell); collapse it with a neighbour in the data and the targets"
    )]
    EmptyCell {
        margin: String,
        category: String,
        target: f64,
    },
    /// A category with respondents whose population target is zero: no
    /// positive weight can reach it.
    #[error(
        "margin `{margin}`: category `{category}` has respondents but a population target of 0; fix the target or recode the data"
    )]
    ZeroTarget { margin: String, category: String },
    /// A category listed twice in a margin's targets.
    #[error("margin `{margin}`: category `{category}` is listed twice in the targets")]
    DuplicateTarget { margin: String, category: String },
    /// A target that is negative or not finite.
    #[error(
        "margin `{margin}`: the target of category `{category}` is {value}; targets must be finite and not negative"
    )]
    BadTarget {
        margin: String,
        category: String,
        value: f64,
    },
    /// Calibration stopped without meeting the targets.
    #[error(
        "calibration did not converge in {iterations} iterations: margin `{margin}` category `{category}` is still off by {error:e} (relative); widen the bounds, collapse small categories or raise maxit"
    )]
    NoConvergence {
        iterations: usize,
        margin: String,
        category: String,
        error: f64,
    },
    /// Bounds that cannot hold g = 1, or are otherwise malformed.
    #[error("calibration bounds [{lower}, {upper}] are invalid: {why}")]
    BadBounds { lower: f64, upper: f64, why: String },
    /// A weighting class with no respondents left after collapsing.
    #[error(
        "nonresponse class `{class}` has eligible units but no respondents, and there is no other class to collapse it into"
    )]
    NoRespondents { class: String },
    /// The design module refused the replicate design (e.g. a lonely PSU,
    /// clusters not nested in strata).
    #[error("replicates: {0}")]
    Design(String),
    /// A setting of the plan that is out of range, e.g. `maxit: 0`.
    #[error("plan: {0}")]
    Plan(String),
    /// The plan's YAML does not read as a plan: an unknown key, a wrong
    /// type (e.g. `maxit: ten`), a missing `base`.
    #[error("{0}")]
    File(#[from] Box<crate::analysis_file::FileError>),
    /// Slices of different lengths handed to one kernel: a bug in the caller.
    #[error("internal: {what} has {got} rows, expected {want} (this is a bug in vicor)")]
    Length {
        what: &'static str,
        got: usize,
        want: usize,
    },
}

/// Checks that a slice has the expected number of rows.
pub(crate) fn check_len(what: &'static str, got: usize, want: usize) -> Result<(), WeightingError> {
    if got == want {
        Ok(())
    } else {
        Err(WeightingError::Length { what, got, want })
    }
}
