//! Trimming of final weights with redistribution, as R's
//! `survey::trimWeights`.
//!
//! # Formula
//!
//! Weights outside [lower, upper] are clipped to the bound; the weight
//! removed (or added), Σ (w − w_clipped), is shared **equally per unit**
//! among the units that were inside (not in proportion to their weight),
//! so the weight sum is kept. With `strict`, this repeats until no weight
//! is outside (R recurses; here at most [`MAX_PASSES`] passes).
//!
//! # Remarks
//!
//! R's `trimWeights` for replicate designs trims the replicate columns
//! with a formula that does not keep their sums; vicor instead trims every
//! replicate column by the same rule as the main weight (see
//! `docs/weighting.md`).

use super::WeightingError;

/// Upper limit of passes in strict mode.
pub const MAX_PASSES: usize = 1000;

/// The outcome of trimming.
#[derive(Debug, Clone, PartialEq)]
pub struct Trim {
    pub weights: Vec<f64>,
    /// Units clipped in the first pass.
    pub trimmed: usize,
    /// Passes made (more than one only when `strict`).
    pub passes: usize,
}

/// Clips `w` to [lower, upper] and shares the excess equally among the
/// other units, as `trimWeights(design, upper, lower, strict)`.
///
/// # Errors
///
/// [`WeightingError::Plan`] when lower > upper, or when every unit would
/// be clipped (there is nobody to share the excess with).
pub fn trim_weights(
    w: &[f64],
    lower: f64,
    upper: f64,
    strict: bool,
) -> Result<Trim, WeightingError> {
    if lower.is_nan() || upper.is_nan() || lower > upper {
        return Err(WeightingError::Plan(format!(
            "trimming bounds [{lower}, {upper}] are invalid: lower must not exceed upper"
        )));
    }
    let mut out = w.to_vec();
    let mut trimmed = 0;
    let mut passes = 0;
    loop {
        let outside: Vec<bool> = out.iter().map(|&x| x < lower || x > upper).collect();
        let count = outside.iter().filter(|&&o| o).count();
        if count == 0 {
            break;
        }
        if passes == 0 {
            trimmed = count;
        }
        if count == out.len() {
            return Err(WeightingError::Plan(format!(
                "trimming to [{lower}, {upper}] would clip every weight; widen the bounds"
            )));
        }
        passes += 1;
        let mut excess = 0.0;
        for (x, &o) in out.iter_mut().zip(&outside) {
            if o {
                let c = x.max(lower).min(upper);
                excess += *x - c;
                *x = c;
            }
        }
        let share = excess / (out.len() - count) as f64;
        for (x, &o) in out.iter_mut().zip(&outside) {
            if !o {
                *x += share;
            }
        }
        if !strict || passes >= MAX_PASSES {
            break;
        }
    }
    Ok(Trim {
        weights: out,
        trimmed,
        passes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excess_is_shared_equally_and_the_sum_kept() {
        let t = trim_weights(&[1.0, 2.0, 3.0, 10.0], 0.0, 6.0, false).expect("valid");
        assert_eq!(
            t.weights,
            [1.0 + 4.0 / 3.0, 2.0 + 4.0 / 3.0, 3.0 + 4.0 / 3.0, 6.0]
        );
        assert_eq!(t.trimmed, 1);
    }

    #[test]
    fn strict_repeats_until_inside() {
        let t = trim_weights(&[1.0, 2.0, 5.5, 20.0], 0.0, 8.0, true).expect("valid");
        assert!(t.weights.iter().all(|&w| w <= 8.0), "{:?}", t.weights);
        assert!((t.weights.iter().sum::<f64>() - 28.5).abs() < 1e-12);
        assert!(t.passes > 1);
    }
}
