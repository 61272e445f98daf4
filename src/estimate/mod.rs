//! Design-based estimators: totals, means, proportions and ratios, over the
//! whole population or a domain, with Taylor-linearization or replicate
//! variance, confidence intervals, design effects and CVs.
//!
//! Every estimator is written as a ratio of two weighted totals Ŷ/X̂ (a total
//! takes X̂ = 1, a mean X̂ = N̂) and so has one influence function (for
//! linearization) and one weights → statistic map (for replicates):
//!
//! ```text
//! total:  θ = Σ w y             z_i = w_i y_i
//! mean:   θ = Σ w y / Σ w       z_i = w_i (y_i − θ) / N̂
//! ratio:  θ = Σ w y / Σ w x     z_i = w_i (y_i − θ x_i) / X̂
//! ```
//!
//! A domain is a set of rows (`rows`); scores are zero outside it and the
//! variance is taken over the **full** design (R's `svyby` / `subset`, which
//! pad absent PSUs with zeros), never by dropping rows. Rows whose variable is
//! missing are outside the domain (R's `na.rm = TRUE`).
//!
//! On a calibrated Taylor design (the design file's `calibration:` block)
//! the scores are replaced by R's calibration residuals before the
//! variance ([`crate::design::Calibration`]); those are not zero outside
//! the domain, so every unit enters, while df still counts the domain's
//! PSUs.
//!
//! Summation order: row order within a PSU, PSUs in order of first touch.
//!
//! No I/O here; results are plain structs. Matching R: `svytotal`,
//! `svymean`, `svyratio` (`survey.design2` and `svyrep.design` methods),
//! `svyciprop` (`mean`, `logit`, `beta`), `degf`, `deff`, `cv`.

pub mod quantile;
pub mod run;
pub mod spec;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::design::{Design, DesignError, Scratch, VarianceMethod};

/// Below this many respondents an estimate is flagged `low_n`.
pub const LOW_N: usize = 30;
/// Above this coefficient of variation an estimate is flagged `high_cv`.
pub const HIGH_CV: f64 = 0.3;

/// Why an estimate could not be made.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EstimateError {
    #[error(transparent)]
    Design(#[from] DesignError),
    #[error(transparent)]
    Frame(#[from] crate::frame::FrameError),
    /// The spec file is wrong.
    #[error("spec: {0}")]
    Spec(String),
    /// An estimate's domain holds no respondent with a value.
    #[error(
        "estimate `{name}`: the domain {domain} has no respondents with a value; check the domain expression and the variable"
    )]
    EmptyDomain { name: String, domain: String },
    /// A variable or expression could not be evaluated.
    #[error("estimate `{name}`: {message}")]
    Variable { name: String, message: String },
}

/// The statistic of an estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Statistic {
    Total,
    Mean,
    /// A mean of a 0/1 variable.
    Proportion,
    Ratio,
}

/// Confidence-interval methods (R's `svyciprop` names in brackets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CiMethod {
    /// θ̂ ± t_df · SE ("mean").
    Wald,
    /// Back-transformed logit(p̂) ± t_df · SE/(p̂(1 − p̂)) ("logit" at convergence, "xlogit").
    Logit,
    /// Korn–Graubard ("beta").
    Beta,
}

/// Warnings carried with an estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// Fewer than [`LOW_N`] respondents.
    LowN,
    /// CV above [`HIGH_CV`].
    HighCv,
    /// The denominator total is zero: no estimate.
    ZeroDenominator,
    /// The variance is not defined (e.g. lonely PSUs under `average` everywhere).
    NoVariance,
    /// Some replicates gave no estimate and were left out (as R's `svrVar`).
    ReplicatesDropped,
}

impl Flag {
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::LowN => "low_n",
            Flag::HighCv => "high_cv",
            Flag::ZeroDenominator => "zero_denominator",
            Flag::NoVariance => "no_variance",
            Flag::ReplicatesDropped => "replicates_dropped",
        }
    }
}

/// One estimate with what is needed for SE, CI, CV and deff.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub statistic: Statistic,
    /// `None` when undefined (zero denominator).
    pub estimate: Option<f64>,
    pub variance: Option<f64>,
    /// Design degrees of freedom of the domain.
    pub df: Option<u64>,
    /// R's default ("without replacement") design effect.
    pub deff: Option<f64>,
    /// Respondents in the domain with a value.
    pub n: usize,
    /// The "n" of Korn–Graubard's effective sample size: R's `nrow` of the
    /// domain's design, which is `n`, except on a calibrated design, whose
    /// subsets keep every row (with zero weight).
    pub ci_n: usize,
    /// Σ w over them.
    pub weighted_n: f64,
    pub flags: Vec<Flag>,
}

impl Estimate {
    /// √variance.
    pub fn se(&self) -> Option<f64> {
        self.variance.map(|v| v.max(0.0).sqrt())
    }

    /// SE / |estimate|; `None` at 0.
    pub fn cv(&self) -> Option<f64> {
        let e = self.estimate?;
        let se = self.se()?;
        (e != 0.0).then(|| se / e.abs())
    }

    /// Confidence interval at `level` with t quantiles on the design df.
    ///
    /// # Formula
    ///
    /// ```text
    /// wald:  θ̂ ± t_{df,1−α/2} SE                       (R: confint(…, df = degf))
    /// logit: expit(logit p̂ ± t SE / (p̂(1 − p̂)))       (R: svyciprop "logit"/"xlogit")
    /// beta:  n_eff = p̂(1−p̂)/SE² · (t_{n−1,α/2}/t_{df,α/2})²,
    ///        [qbeta(α/2, n_eff p̂, n_eff(1−p̂)+1), qbeta(1−α/2, n_eff p̂+1, n_eff(1−p̂))]
    /// ```
    ///
    /// # Remarks
    ///
    /// R returns NaN for logit and beta when SE = 0 (e.g. p̂ = 0 in a cell).
    /// vicor then gives the exact Clopper–Pearson limits of an SRS of n:
    /// [0, 1 − (α/2)^{1/n}] at p̂ = 0 and [(α/2)^{1/n}, 1] at p̂ = 1, and
    /// [p̂, p̂] for Wald. `None` when df < 1 or the method needs p̂ in [0, 1].
    pub fn ci(&self, level: f64, method: CiMethod) -> Option<(f64, f64)> {
        let p = self.estimate?;
        let var = self.variance?;
        let se = var.max(0.0).sqrt();
        let df = self.df? as f64;
        if df < 1.0 || !(level > 0.0 && level < 1.0) {
            return None;
        }
        let alpha = 1.0 - level;
        let t = quantile::t_quantile(1.0 - alpha / 2.0, df)?;
        match method {
            CiMethod::Wald => Some((p - t * se, p + t * se)),
            CiMethod::Logit | CiMethod::Beta => {
                if !(0.0..=1.0).contains(&p) {
                    return None;
                }
                if se == 0.0 {
                    return zero_variance_interval(p, self.n, alpha);
                }
                if method == CiMethod::Logit {
                    if p == 0.0 || p == 1.0 {
                        return zero_variance_interval(p, self.n, alpha);
                    }
                    let l = (p / (1.0 - p)).ln();
                    let h = t * se / (p * (1.0 - p));
                    Some((expit(l - h), expit(l + h)))
                } else {
                    let n = self.ci_n as f64;
                    let t_n = quantile::t_quantile(alpha / 2.0, n - 1.0)?;
                    let t_df = quantile::t_quantile(alpha / 2.0, df)?;
                    let n_eff = p * (1.0 - p) / var * (t_n / t_df).powi(2);
                    let lo =
                        quantile::beta_quantile(alpha / 2.0, n_eff * p, n_eff * (1.0 - p) + 1.0)?;
                    let hi = quantile::beta_quantile(
                        1.0 - alpha / 2.0,
                        n_eff * p + 1.0,
                        n_eff * (1.0 - p),
                    )?;
                    Some((lo, hi))
                }
            }
        }
    }
}

/// Stage-1 PSUs and strata that hold a row of `rows` (R's `degf` of the
/// domain: units with nonzero weight in the subset).
fn domain_psus(design: &Design, rows: &[u32], ws: &mut Workspace) -> (usize, usize) {
    let psu_of_row = design.psu_of_row();
    let stratum_of_psu = design.stratum_of_psu();
    ws.psu_seen.clear();
    ws.psu_seen.resize(stratum_of_psu.len(), false);
    ws.stratum_seen.clear();
    ws.stratum_seen
        .resize(design.stratum_labels().len().max(1), false);
    let (mut psus, mut strata) = (0, 0);
    for &i in rows {
        let p = psu_of_row[i as usize] as usize;
        if !ws.psu_seen[p] {
            ws.psu_seen[p] = true;
            psus += 1;
            let h = stratum_of_psu[p] as usize;
            if !ws.stratum_seen[h] {
                ws.stratum_seen[h] = true;
                strata += 1;
            }
        }
    }
    (psus, strata)
}

fn expit(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn zero_variance_interval(p: f64, n: usize, alpha: f64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let edge = (alpha / 2.0).powf(1.0 / n as f64);
    if p == 0.0 {
        Some((0.0, 1.0 - edge))
    } else if p == 1.0 {
        Some((edge, 1.0))
    } else {
        Some((p, p))
    }
}

/// Reusable buffers for estimates over one design.
#[derive(Debug, Default)]
pub struct Workspace {
    unit_z: Vec<f64>,
    unit_seen: Vec<bool>,
    scratch: Scratch,
    psu_sums: Vec<(f64, f64)>,
    /// Scores of the domain rows and residual totals of every unit
    /// (calibrated designs).
    row_z: Vec<f64>,
    cal_units: Vec<f64>,
    psu_seen: Vec<bool>,
    stratum_seen: Vec<bool>,
}

/// Estimates `statistic` of `y` (over `x` for a ratio) in the domain `rows`.
///
/// `rows` are the domain's respondents with a value (every `y[i]`, and
/// `x[i]` for a ratio, is a number); rows not listed count as zero.
///
/// # Errors
///
/// A lonely PSU under `fail` found at this point (only possible through
/// a design built elsewhere), as R's `onestrat`.
pub fn estimate(
    design: &Design,
    statistic: Statistic,
    y: &[f64],
    x: Option<&[f64]>,
    rows: &[u32],
    ws: &mut Workspace,
) -> Result<Estimate, EstimateError> {
    let w = design.weights();
    let xv = |i: usize| -> f64 { x.map_or(1.0, |x| x[i]) };
    let mut sum_w = 0.0;
    let mut sum_y = 0.0;
    let mut sum_x = 0.0;
    for &i in rows {
        let i = i as usize;
        sum_w += w[i];
        sum_y += w[i] * y[i];
        sum_x += w[i] * xv(i);
    }
    let n = rows.len();
    let mut flags = Vec::new();
    // Denominator of the statistic.
    let denom = match statistic {
        Statistic::Total => 1.0,
        Statistic::Mean | Statistic::Proportion => sum_w,
        Statistic::Ratio => sum_x,
    };
    let uses_x = statistic == Statistic::Ratio;
    if denom == 0.0 || n == 0 {
        flags.push(Flag::ZeroDenominator);
        if n < LOW_N {
            flags.push(Flag::LowN);
        }
        return Ok(Estimate {
            statistic,
            estimate: None,
            variance: None,
            df: None,
            deff: None,
            n,
            ci_n: n,
            weighted_n: sum_w,
            flags,
        });
    }
    let theta = if statistic == Statistic::Total {
        sum_y
    } else {
        sum_y / denom
    };
    // Residual variable u for the design effect: y (mean, total) or y − θx (ratio).
    let u = |i: usize| -> f64 { if uses_x { y[i] - theta * xv(i) } else { y[i] } };
    // ū of the deff's residual is known from the totals (Σwy/Σw, or
    // (Σwy − θΣwx)/Σw for a ratio), so Σ w (u − ū)² can ride along with the
    // score pass.
    let ubar = match statistic {
        Statistic::Ratio => (sum_y - theta * sum_x) / sum_w,
        _ => sum_y / sum_w,
    };
    let mut ss = 0.0;
    let (variance, df, replicate_t_var) = match design.method() {
        VarianceMethod::Linearization(lin) => {
            let unit_of_row = lin.unit_of_row();
            if ws.unit_z.len() < lin.n_units() {
                ws.unit_z.resize(lin.n_units(), 0.0);
                ws.unit_seen.resize(lin.n_units(), false);
            }
            let score = |i: usize| -> f64 {
                match statistic {
                    Statistic::Total => w[i] * y[i],
                    Statistic::Mean | Statistic::Proportion => w[i] * (y[i] - theta) / denom,
                    Statistic::Ratio => w[i] * (y[i] - theta * xv(i)) / denom,
                }
            };
            let mut units: Vec<u32> = Vec::new();
            let mut add = |un: u32, z: f64, ws: &mut Workspace| {
                if !ws.unit_seen[un as usize] {
                    ws.unit_seen[un as usize] = true;
                    units.push(un);
                }
                ws.unit_z[un as usize] += z;
            };
            match design.calibration() {
                None => {
                    for &i in rows {
                        let i = i as usize;
                        let d = u(i) - ubar;
                        ss += w[i] * d * d;
                        add(unit_of_row[i], score(i), ws);
                    }
                }
                // R's svyrecvar: the scores of every row (zero outside the
                // domain) are replaced by calibration residuals, which are
                // not zero outside the domain, so every unit enters.
                Some(cal) => {
                    ws.row_z.clear();
                    for &i in rows {
                        let i = i as usize;
                        let d = u(i) - ubar;
                        ss += w[i] * d * d;
                        ws.row_z.push(score(i));
                    }
                    let mut totals = std::mem::take(&mut ws.cal_units);
                    cal.unit_totals(rows, &ws.row_z, &mut totals);
                    for (un, &t) in totals.iter().enumerate() {
                        add(un as u32, t, ws);
                    }
                    ws.cal_units = totals;
                }
            }
            let zs: Vec<f64> = units.iter().map(|&u| ws.unit_z[u as usize]).collect();
            for &un in &units {
                ws.unit_z[un as usize] = 0.0;
                ws.unit_seen[un as usize] = false;
            }
            let v = lin.variance(&units, &zs, &mut ws.scratch)?;
            let (psus, strata) = if design.calibration().is_some() {
                domain_psus(design, rows, ws)
            } else {
                (v.psus, v.strata)
            };
            let df = (psus as u64).saturating_sub(strata as u64);
            (v.variance, Some(df), None)
        }
        VarianceMethod::Replicates(rep) => {
            ss = rows
                .iter()
                .map(|&i| {
                    let d = u(i as usize) - ubar;
                    w[i as usize] * d * d
                })
                .sum::<f64>();
            let totals = rep.totals(
                w,
                rows,
                &|i| match statistic {
                    Statistic::Total => (y[i], 0.0),
                    Statistic::Mean | Statistic::Proportion => (y[i], 1.0),
                    Statistic::Ratio => (y[i], xv(i)),
                },
                &mut ws.psu_sums,
            );
            let thetas: Vec<f64> = totals
                .iter()
                .map(|&(a, b)| {
                    if statistic == Statistic::Total {
                        a
                    } else {
                        a / b
                    }
                })
                .collect();
            let (v, dropped) = rep.variance(&thetas, theta);
            if dropped > 0 {
                flags.push(Flag::ReplicatesDropped);
            }
            let df = if rows.len() == design.n() {
                rep.df
            } else {
                rep.df_of(w, rows)
            };
            // For a ratio R's deff is that of the total of y − θx.
            let t_var = if uses_x {
                let ts: Vec<f64> = totals.iter().map(|&(a, b)| a - theta * b).collect();
                rep.variance(&ts, sum_y - theta * sum_x).0
            } else {
                None
            };
            (v, Some(df as u64), t_var)
        }
    };
    // Design effect (R's svymean/svytotal/svyratio `deff = TRUE`).
    let deff = variance.and_then(|v| {
        if n < 2 || sum_w <= n as f64 {
            return None;
        }
        let nf = n as f64;
        let s2 = ss / sum_w * nf / (nf - 1.0);
        let srs = s2 * (sum_w - nf) / (sum_w * nf);
        let (num, den) = match statistic {
            Statistic::Mean | Statistic::Proportion => (v, srs),
            Statistic::Total => (v, srs * sum_w * sum_w),
            Statistic::Ratio => match replicate_t_var {
                Some(tv) => (tv, srs * sum_w * sum_w),
                None => (v * denom * denom, srs * sum_w * sum_w),
            },
        };
        (den > 0.0).then(|| num / den)
    });
    if variance.is_none() {
        flags.push(Flag::NoVariance);
    }
    if n < LOW_N {
        flags.push(Flag::LowN);
    }
    let est = Estimate {
        statistic,
        estimate: Some(theta),
        variance,
        df,
        deff,
        n,
        ci_n: if design.calibration().is_some() {
            design.n()
        } else {
            n
        },
        weighted_n: sum_w,
        flags,
    };
    let mut est = est;
    if est.cv().is_some_and(|cv| cv > HIGH_CV) {
        est.flags.push(Flag::HighCv);
    }
    Ok(est)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(p: f64, var: f64, n: usize, df: u64) -> Estimate {
        Estimate {
            statistic: Statistic::Proportion,
            estimate: Some(p),
            variance: Some(var),
            df: Some(df),
            deff: None,
            n,
            ci_n: n,
            weighted_n: n as f64,
            flags: Vec::new(),
        }
    }

    #[test]
    fn zero_variance_proportion_gets_the_exact_srs_interval() {
        let e = est(0.0, 0.0, 35, 20);
        let (lo, hi) = e.ci(0.95, CiMethod::Beta).expect("defined");
        assert_eq!(lo, 0.0);
        assert!((hi - (1.0 - 0.025f64.powf(1.0 / 35.0))).abs() < 1e-15);
        assert_eq!(e.ci(0.95, CiMethod::Logit), Some((lo, hi)));
        assert_eq!(e.ci(0.95, CiMethod::Wald), Some((0.0, 0.0)));
        let one = est(1.0, 0.0, 10, 5);
        let (lo, hi) = one.ci(0.95, CiMethod::Beta).expect("defined");
        assert!((lo - 0.025f64.powf(0.1)).abs() < 1e-15 && hi == 1.0);
    }

    #[test]
    fn no_interval_without_degrees_of_freedom_and_no_cv_at_zero() {
        assert_eq!(est(0.3, 0.01, 10, 0).ci(0.95, CiMethod::Wald), None);
        let zero = Estimate {
            statistic: Statistic::Total,
            ..est(0.0, 1.0, 10, 5)
        };
        assert_eq!(zero.cv(), None);
        assert_eq!(est(1.5, 0.01, 10, 5).ci(0.95, CiMethod::Logit), None);
    }
}
