//! Weight diagnostics reported after every weighting step.
//!
//! # Formula
//!
//! Over the n units in scope (all units before the nonresponse step, the
//! respondents after it):
//!
//! ```text
//! mean = Σ w / n
//! CV   = sqrt(Σ (w − mean)² / n) / mean        (population standard deviation)
//! deff = 1 + CV² = n Σ w² / (Σ w)²             (Kish's design effect from weighting)
//! ```
//!
//! # Remarks
//!
//! With no units, or a zero weight sum, the ratio, CV and deff are `None`.

use serde::Serialize;

/// Weight sum, range and dispersion after one step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightSummary {
    pub n: usize,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    /// max / min (None when min is 0 or there are no units).
    pub ratio: Option<f64>,
    pub cv: Option<f64>,
    pub deff: Option<f64>,
}

impl WeightSummary {
    /// Summarises the weights `w`.
    pub fn of(w: &[f64]) -> WeightSummary {
        let n = w.len();
        let sum: f64 = w.iter().sum();
        let min = w.iter().copied().fold(f64::INFINITY, f64::min);
        let max = w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (cv, deff) = if n == 0 || sum == 0.0 {
            (None, None)
        } else {
            let mean = sum / n as f64;
            let ss: f64 = w.iter().map(|x| (x - mean) * (x - mean)).sum();
            let cv = (ss / n as f64).sqrt() / mean;
            (Some(cv.abs()), Some(1.0 + cv * cv))
        };
        WeightSummary {
            n,
            sum,
            min: if n == 0 { f64::NAN } else { min },
            max: if n == 0 { f64::NAN } else { max },
            ratio: (n > 0 && min != 0.0).then(|| max / min),
            cv,
            deff,
        }
    }
}

/// What one step did, with the weights after it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepReport {
    /// The step's name: `base`, `within_household`, `nonresponse`,
    /// `calibration`, `trimming`.
    pub step: String,
    pub weights: WeightSummary,
    /// Calibration only: iterations (Newton steps or raking sweeps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iterations: Option<usize>,
    /// Calibration only: largest |N̂ − N| / (1 + N) over every margin
    /// category after the step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_margin_error: Option<f64>,
    /// Nonresponse only: classes merged, as `a + b`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub collapsed: Vec<String>,
    /// Trimming (and calibration with `trim`): units whose weight was clipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trimmed: Option<usize>,
}

impl StepReport {
    /// A report with only the weight summary filled in.
    pub fn new(step: &str, w: &[f64]) -> StepReport {
        StepReport {
            step: step.to_string(),
            weights: WeightSummary::of(w),
            iterations: None,
            max_margin_error: None,
            collapsed: Vec::new(),
            trimmed: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kish_deff_is_one_plus_cv_squared() {
        let w = [1.0, 2.0, 3.0, 6.0];
        let s = WeightSummary::of(&w);
        let kish = 4.0 * w.iter().map(|x| x * x).sum::<f64>() / 144.0;
        assert!((s.deff.expect("defined") - kish).abs() < 1e-12);
        assert_eq!(s.ratio, Some(6.0));
    }

    #[test]
    fn empty_weights_have_no_dispersion() {
        let s = WeightSummary::of(&[]);
        assert_eq!((s.cv, s.deff, s.ratio), (None, None, None));
    }
}
