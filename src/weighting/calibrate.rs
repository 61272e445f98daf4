//! Calibration to population totals, as R's `survey::calibrate`.
//!
//! Final weights are w_i = d_i g_i with g_i = F(x_iᵀλ) chosen so that
//! Σ w_i x_i = T. The distance function fixes F (R's `calfun`):
//!
//! ```text
//! linear (GREG)   F(u) = 1 + u                    closed form, weights may be negative
//! linear [L, U]   F(u) = 1 + clip(u, L-1, U-1)    "truncated linear", Newton with F' = 0 outside
//! raking          F(u) = clip(exp(u), L, U)       multiplicative, Kullback-Leibler
//! logit [L, U]    F(u) = (L(U-1) + U(1-L)e^{Au}) / ((U-1) + (1-L)e^{Au}),
//!                 A = (U-L)/((U-1)(1-L))          Deville-Särndal, L < g < U strictly
//! ```
//!
//! # R's conventions, matched here
//!
//! - Unbounded linear calibration is solved in closed form (R's
//!   `regcalibrate`): λ = (Σ d x xᵀ)⁻¹ (T − Σ d x), so `trim`, `epsilon`
//!   and `maxit` are ignored for it, as in R.
//! - Everything else is Newton's method as R's internal `grake`: starting
//!   at λ = 0, each step is λ ← λ + ginv(Σ d F'(xᵀλ) x xᵀ) (T − Σ d F(xᵀλ) x),
//!   with the Moore–Penrose inverse cut at 256 ε times the largest singular
//!   value (`MASS::ginv(tol = 256 * .Machine$double.eps)`). At least one step
//!   is always taken.
//! - If a step makes any g or F' non-finite, the step is halved (counting an
//!   iteration each time) until they are finite.
//! - Stopping rule: max_k |T_k − t̂_k| / (1 + |T_k|) < ε, default ε = 1e-7
//!   (loose: weights then agree with a converged run only to about 1e-7;
//!   compare with R at ε = 1e-13). The limit is 50 iterations by default.
//! - If every population total exceeds 20 times its sample total, the
//!   design weights are first rescaled by the mean ratio and g is multiplied
//!   back by it at the end (bounds then apply to the rescaled weights, as R
//!   warns).
//! - Bounds are on g = w/d, the ratio to the input weight. For bounded
//!   raking R's F' tests u (not e^u) against the bounds minus one; that
//!   quirk is kept so that the iterations are R's.
//! - The model matrix is R's treatment coding (an intercept and dummies for
//!   all but the first level of each margin, see [`super::margins`]); any
//!   basis of the same column space gives the same weights.
//! - `trim = [a, b]` (R's `calibrate(trim=)`) clips g once after convergence
//!   and adds the removed weight back to the unclipped units in proportion
//!   to their design weight. Unlike R, a calibration that failed to converge
//!   is an error even when `trim` is given (R forgives it silently).

use nalgebra::{DMatrix, DVector};

use super::WeightingError;
use super::margins::ModelMatrix;

/// R's threshold for rescaling the design weights before Newton.
const RESCALE_THRESHOLD: f64 = 20.0;

/// The distance function (R's `calfun`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalFun {
    /// Chi-square distance; with bounds, truncated linear.
    Linear,
    /// Multiplicative (exponential) distance.
    Raking,
    /// Deville–Särndal logit distance; needs finite bounds.
    Logit,
}

/// Bounds on g = w/d. `lower` may be `-inf` and `upper` `+inf`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub lower: f64,
    pub upper: f64,
}

impl Bounds {
    /// No bounds at all.
    pub const NONE: Bounds = Bounds {
        lower: f64::NEG_INFINITY,
        upper: f64::INFINITY,
    };

    fn is_unbounded(&self) -> bool {
        self.lower == f64::NEG_INFINITY && self.upper == f64::INFINITY
    }
}

/// How to calibrate: R's `calfun`, `bounds`, `epsilon`, `maxit` and `trim`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalibrationOptions {
    pub calfun: CalFun,
    pub bounds: Bounds,
    pub epsilon: f64,
    pub maxit: usize,
    pub trim: Option<(f64, f64)>,
}

impl Default for CalibrationOptions {
    /// R's defaults: linear, no bounds, ε = 1e-7, 50 iterations, no trim.
    fn default() -> Self {
        CalibrationOptions {
            calfun: CalFun::Linear,
            bounds: Bounds::NONE,
            epsilon: 1e-7,
            maxit: 50,
            trim: None,
        }
    }
}

/// The outcome of a calibration.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// g_i = w_i / d_i, one per row.
    pub g: Vec<f64>,
    /// Newton iterations used (1 for the closed form).
    pub iterations: usize,
    /// max_k |T_k − t̂_k| / (1 + |T_k|) before trimming: R's stopping
    /// criterion at the solution.
    pub max_error: f64,
    /// Number of g values clipped by `trim`.
    pub trimmed: usize,
}

impl Calibration {
    /// The calibrated weights d_i g_i.
    pub fn weights(&self, d: &[f64]) -> Vec<f64> {
        d.iter().zip(&self.g).map(|(d, g)| d * g).collect()
    }
}

impl CalFun {
    /// F(u) − 1, R's `Fm1`. NaN propagates (R's `pmin`/`pmax` keep NaN).
    fn fm1(self, u: f64, b: Bounds) -> f64 {
        match self {
            CalFun::Linear => clip(u + 1.0, b) - 1.0,
            CalFun::Raking => clip(u.exp(), b) - 1.0,
            CalFun::Logit => {
                let (l, up) = (b.lower, b.upper);
                let a = (up - l) / ((up - 1.0) * (1.0 - l));
                let e = (a * u).exp();
                (l * (up - 1.0) + up * (1.0 - l) * e) / (up - 1.0 + (1.0 - l) * e) - 1.0
            }
        }
    }

    /// F'(u), R's `dF`, written as R writes it so that overflow behaves alike.
    fn df(self, u: f64, b: Bounds) -> f64 {
        let inside = u < b.upper - 1.0 && u > b.lower - 1.0;
        match self {
            CalFun::Linear => {
                if u.is_nan() {
                    f64::NAN
                } else if inside {
                    1.0
                } else {
                    0.0
                }
            }
            CalFun::Raking => {
                if u.is_nan() {
                    f64::NAN
                } else if inside {
                    u.exp()
                } else {
                    0.0
                }
            }
            CalFun::Logit => {
                let (l, up) = (b.lower, b.upper);
                let a = (up - l) / ((up - 1.0) * (1.0 - l));
                let e = (a * u).exp();
                let den = up - 1.0 + (1.0 - l) * e;
                up * (1.0 - l) * e * a / den
                    - ((l * (up - 1.0) + up * (1.0 - l) * e) * ((1.0 - l) * e * a)) / (den * den)
            }
        }
    }
}

/// min(max(v, lower), upper) with NaN kept, as R's `pmin(pmax(...))`.
fn clip(v: f64, b: Bounds) -> f64 {
    if v.is_nan() {
        v
    } else {
        v.max(b.lower).min(b.upper)
    }
}

/// Checks the bounds for a distance function.
pub fn check_bounds(calfun: CalFun, b: Bounds) -> Result<(), WeightingError> {
    let bad = |why: &str| {
        Err(WeightingError::BadBounds {
            lower: b.lower,
            upper: b.upper,
            why: why.to_string(),
        })
    };
    if b.lower.is_nan() || b.upper.is_nan() {
        return bad("a bound is not a number");
    }
    if !(b.lower < 1.0 && b.upper > 1.0) {
        return bad("they must hold g = 1, i.e. lower < 1 < upper");
    }
    if calfun == CalFun::Logit && !(b.lower.is_finite() && b.upper.is_finite()) {
        return bad("logit calibration needs finite lower and upper bounds");
    }
    Ok(())
}

/// Calibrates design weights `d` to the totals of `mm`, as R's
/// `calibrate(design, formula, population, calfun, bounds, epsilon, maxit, trim)`.
///
/// # Errors
///
/// [`WeightingError::BadBounds`] for bounds that exclude g = 1 (or are not
/// finite for logit), [`WeightingError::NoConvergence`] naming the worst
/// margin category when the targets cannot be met within `maxit`
/// iterations (typically because the bounds are too tight), and
/// [`WeightingError::Plan`] for collinear calibration variables in the
/// closed-form linear case.
pub fn calibrate(
    mm: &ModelMatrix,
    d: &[f64],
    opts: &CalibrationOptions,
) -> Result<Calibration, WeightingError> {
    super::check_len("design weights", d.len(), mm.n)?;
    if opts.calfun == CalFun::Linear && opts.bounds.is_unbounded() {
        return linear_closed_form(mm, d);
    }
    check_bounds(opts.calfun, opts.bounds)?;
    if opts.maxit == 0 || opts.epsilon.is_nan() || opts.epsilon <= 0.0 {
        return Err(WeightingError::Plan(
            "calibration needs maxit >= 1 and epsilon > 0".into(),
        ));
    }
    let mut cal = grake(mm, d, opts)?;
    if let Some((a, b)) = opts.trim {
        cal.trimmed = trim_g(&mut cal.g, d, a, b);
    }
    Ok(cal)
}

/// R's `regcalibrate` at stage 0 without `variance`: the GREG closed form.
fn linear_closed_form(mm: &ModelMatrix, d: &[f64]) -> Result<Calibration, WeightingError> {
    let p = mm.p;
    let sample_total = weighted_totals(mm, d, |_| 1.0);
    let mut t = DMatrix::<f64>::zeros(p, p);
    for (i, row) in mm.rows().enumerate() {
        add_outer(&mut t, row, d[i]);
    }
    let rhs = DVector::from_iterator(
        p,
        mm.population.iter().zip(&sample_total).map(|(t, s)| t - s),
    );
    let lambda = t.lu().solve(&rhs).ok_or_else(|| {
        WeightingError::Plan(
            "the calibration variables are collinear (a margin repeats another); drop one".into(),
        )
    })?;
    let g: Vec<f64> = mm
        .rows()
        .map(|row| 1.0 + dot(row, lambda.as_slice()))
        .collect();
    let max_error = max_rel_error(mm, d, &g).0;
    Ok(Calibration {
        g,
        iterations: 1,
        max_error,
        trimmed: 0,
    })
}

/// R's internal `grake`: Newton iterations with step halving.
fn grake(
    mm: &ModelMatrix,
    d0: &[f64],
    opts: &CalibrationOptions,
) -> Result<Calibration, WeightingError> {
    let (p, calfun, bounds) = (mm.p, opts.calfun, opts.bounds);
    let mut sample_total = weighted_totals(mm, d0, |_| 1.0);
    let scales: Vec<f64> = mm
        .population
        .iter()
        .zip(&sample_total)
        .map(|(t, s)| t / s)
        .collect();
    let min_scale = scales.iter().copied().fold(f64::INFINITY, f64::min);
    let mut scale = None;
    let mut d_scaled;
    let mut d = d0;
    if min_scale > RESCALE_THRESHOLD {
        let s = scales.iter().sum::<f64>() / scales.len() as f64;
        d_scaled = d0.to_vec();
        d_scaled.iter_mut().for_each(|w| *w *= s);
        sample_total.iter_mut().for_each(|t| *t *= s);
        d = &d_scaled;
        scale = Some(s);
    }
    let mut eta = vec![0.0; p];
    let mut xeta = vec![0.0; mm.n];
    let mut iter = 1;
    let mut failed = None;
    loop {
        let mut tmat = DMatrix::<f64>::zeros(p, p);
        let mut fitted = vec![0.0; p];
        for (i, row) in mm.rows().enumerate() {
            add_outer(&mut tmat, row, d[i] * calfun.df(xeta[i], bounds));
            let f = d[i] * calfun.fm1(xeta[i], bounds);
            for (acc, x) in fitted.iter_mut().zip(row) {
                *acc += x * f;
            }
        }
        let misfit = DVector::from_iterator(
            p,
            (0..p).map(|k| mm.population[k] - sample_total[k] - fitted[k]),
        );
        let mut deta = ginv(tmat) * misfit;
        for k in 0..p {
            eta[k] += deta[k];
        }
        let mut finite = update_xeta(mm, &eta, &mut xeta, calfun, bounds);
        while iter < opts.maxit && !finite {
            iter += 1;
            deta /= 2.0;
            for k in 0..p {
                eta[k] -= deta[k];
            }
            finite = update_xeta(mm, &eta, &mut xeta, calfun, bounds);
        }
        let g: Vec<f64> = xeta.iter().map(|&u| 1.0 + calfun.fm1(u, bounds)).collect();
        // R's misfit here is T − t̂ − Σ d (g−1) x: the same as T − Σ d g x.
        let (worst, worst_k) = max_rel_error_with(mm, d, &g, &sample_total);
        if worst < opts.epsilon {
            break;
        }
        iter += 1;
        if iter > opts.maxit {
            failed = Some((worst, worst_k));
            break;
        }
    }
    if let Some((error, k)) = failed {
        let label = &mm.labels[k];
        return Err(WeightingError::NoConvergence {
            iterations: opts.maxit,
            margin: label.margin.clone(),
            category: label.category.clone(),
            error,
        });
    }
    let mut g: Vec<f64> = xeta.iter().map(|&u| 1.0 + calfun.fm1(u, bounds)).collect();
    let (max_error, _) = max_rel_error_with(mm, d, &g, &sample_total);
    if let Some(s) = scale {
        g.iter_mut().for_each(|g| *g *= s);
    }
    Ok(Calibration {
        g,
        iterations: iter,
        max_error,
        trimmed: 0,
    })
}

/// Recomputes xᵀη for every row; false when any g or F' is not finite.
fn update_xeta(
    mm: &ModelMatrix,
    eta: &[f64],
    xeta: &mut [f64],
    calfun: CalFun,
    bounds: Bounds,
) -> bool {
    let mut finite = true;
    for (u, row) in xeta.iter_mut().zip(mm.rows()) {
        *u = dot(row, eta);
        finite &= calfun.fm1(*u, bounds).is_finite() && calfun.df(*u, bounds).is_finite();
    }
    finite
}

/// R's stopping quantity with the misfit written as R writes it:
/// T − t̂ − Σ d (g − 1) x. Returns the largest value and its column.
fn max_rel_error_with(
    mm: &ModelMatrix,
    d: &[f64],
    g: &[f64],
    sample_total: &[f64],
) -> (f64, usize) {
    let fitted = weighted_totals(mm, d, |i| g[i] - 1.0);
    let mut worst = (f64::NEG_INFINITY, 0);
    for k in 0..mm.p {
        let t = mm.population[k];
        let e = (t - sample_total[k] - fitted[k]).abs() / (1.0 + t.abs());
        // NaN counts as the worst error, as R's `all(... < eps)` fails on NA.
        if e.is_nan() || e > worst.0 {
            worst = (if e.is_nan() { f64::INFINITY } else { e }, k);
        }
    }
    worst
}

/// The stopping quantity of final weights d g against the model totals.
pub fn max_rel_error(mm: &ModelMatrix, d: &[f64], g: &[f64]) -> (f64, usize) {
    let sample_total = weighted_totals(mm, d, |_| 1.0);
    max_rel_error_with(mm, d, g, &sample_total)
}

/// Σ_i d_i f(i) x_i, summed over rows in order.
fn weighted_totals(mm: &ModelMatrix, d: &[f64], f: impl Fn(usize) -> f64) -> Vec<f64> {
    let mut tot = vec![0.0; mm.p];
    for (i, row) in mm.rows().enumerate() {
        let w = d[i] * f(i);
        for (acc, x) in tot.iter_mut().zip(row) {
            *acc += x * w;
        }
    }
    tot
}

/// t += w x xᵀ over the nonzero entries of x only: rows of dummy-coded
/// margins are mostly zeros (4 of 16 entries for sex, age and region).
fn add_outer(t: &mut DMatrix<f64>, row: &[f64], w: f64) {
    if w == 0.0 {
        return;
    }
    let p = row.len();
    let mut nz = [0usize; 64];
    let mut k = 0;
    let dense = p > nz.len();
    if !dense {
        for (j, &x) in row.iter().enumerate() {
            if x != 0.0 {
                nz[k] = j;
                k += 1;
            }
        }
    }
    // Column-major storage: element (a, b) sits at a + b p.
    let t = t.as_mut_slice();
    if dense {
        for b in 0..p {
            let wb = w * row[b];
            for a in 0..p {
                t[a + b * p] += wb * row[a];
            }
        }
        return;
    }
    for &b in &nz[..k] {
        let wb = w * row[b];
        for &a in &nz[..k] {
            t[a + b * p] += wb * row[a];
        }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

/// Moore–Penrose inverse as `MASS::ginv(X, tol = 256 * .Machine$double.eps)`:
/// singular values at or below tol × the largest are dropped.
fn ginv(m: DMatrix<f64>) -> DMatrix<f64> {
    let p = m.nrows();
    let svd = m.svd(true, true);
    let (u, vt) = (
        svd.u.expect("u was requested"),
        svd.v_t.expect("v_t was requested"),
    );
    let dmax = svd.singular_values.iter().copied().fold(0.0, f64::max);
    let cut = (256.0 * f64::EPSILON * dmax).max(0.0);
    let mut out = DMatrix::<f64>::zeros(p, p);
    for (k, &s) in svd.singular_values.iter().enumerate() {
        if s > cut {
            let vk = vt.row(k).transpose();
            let uk = u.column(k);
            out += (vk * uk.transpose()) / s;
        }
    }
    out
}

/// R's `calibrate(trim = c(a, b))`: clips g to [a, b] once and adds the
/// removed weight Σ (g − g_clipped) d back to the unclipped units as a
/// common increment of g. Returns the number of clipped units.
pub fn trim_g(g: &mut [f64], d: &[f64], a: f64, b: f64) -> usize {
    let outside: Vec<bool> = g.iter().map(|&g| g < a || g > b).collect();
    let count = outside.iter().filter(|&&o| o).count();
    if count == 0 {
        return 0;
    }
    let mut trimmings = 0.0;
    let mut inside_d = 0.0;
    for i in 0..g.len() {
        let clipped = g[i].max(a).min(b);
        trimmings += (g[i] - clipped) * d[i];
        if !outside[i] {
            inside_d += d[i];
        }
        g[i] = clipped;
    }
    let add = trimmings / inside_d;
    for (g, o) in g.iter_mut().zip(&outside) {
        if !o {
            *g += add;
        }
    }
    count
}

/// Calibration residuals for linearization, as R's `svyrecvar` does for a
/// calibrated design: e_i = z_i/w_i − x_iᵀB with
/// B = (Σ d x xᵀ)⁻¹ Σ d x (z/w), and z_i ← w_i e_i. The regression is
/// weighted by the design weights `d` (by QR of √d X, as R's `qr.resid`),
/// and R uses this one linear residual for every distance function.
///
/// `z` holds the scores (already multiplied by the final weights `w`),
/// column-major with `mm.n` rows per column. Rows with w = 0 keep z = 0.
pub fn calibration_residuals(
    mm: &ModelMatrix,
    d: &[f64],
    w: &[f64],
    z: &[f64],
) -> Result<Vec<f64>, WeightingError> {
    let n = mm.n;
    super::check_len("design weights", d.len(), n)?;
    super::check_len("final weights", w.len(), n)?;
    if !z.len().is_multiple_of(n.max(1)) {
        return Err(WeightingError::Length {
            what: "scores",
            got: z.len(),
            want: n,
        });
    }
    let k = z.len().checked_div(n).unwrap_or(0);
    let sx = DMatrix::from_fn(n, mm.p, |i, j| d[i].sqrt() * mm.x[i * mm.p + j]);
    let qr = sx.qr();
    let q = qr.q();
    let mut out = vec![0.0; z.len()];
    for c in 0..k {
        let y = DVector::from_fn(n, |i, _| {
            let zi = z[c * n + i];
            if w[i] == 0.0 {
                0.0
            } else {
                d[i].sqrt() * zi / w[i]
            }
        });
        let fitted = &q * (q.transpose() * &y);
        for i in 0..n {
            let r = y[i] - fitted[i];
            out[c * n + i] = if d[i] == 0.0 {
                0.0
            } else {
                r / d[i].sqrt() * w[i]
            };
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weighting::margins::{Margin, ModelMatrix};

    const TIGHT: f64 = 1e-12;

    fn toy() -> (ModelMatrix, Vec<f64>) {
        // Two margins on 8 rows; targets that need real adjustment.
        let sex = ["m", "f", "m", "f", "m", "f", "m", "m"];
        let age = ["y", "y", "o", "o", "y", "o", "o", "y"];
        let m1 = Margin::new("sex", &sex, &[("f".into(), 60.0), ("m".into(), 40.0)])
            .expect("valid margin");
        let m2 = Margin::new("age", &age, &[("o".into(), 45.0), ("y".into(), 55.0)])
            .expect("valid margin");
        let mm = ModelMatrix::from_margins(&[m1, m2], &[], 1e-9).expect("valid margins");
        (mm, vec![10.0, 12.0, 9.0, 14.0, 11.0, 13.0, 15.0, 8.0])
    }

    fn assert_hits(mm: &ModelMatrix, w: &[f64]) {
        let ones = vec![1.0; w.len()];
        let (err, _) = max_rel_error(mm, w, &ones);
        assert!(err < 1e-9, "targets missed by {err}");
    }

    #[test]
    fn every_calfun_hits_the_targets() {
        let (mm, d) = toy();
        for (calfun, bounds) in [
            (CalFun::Linear, Bounds::NONE),
            (
                CalFun::Linear,
                Bounds {
                    lower: 0.2,
                    upper: 3.0,
                },
            ),
            (CalFun::Raking, Bounds::NONE),
            (
                CalFun::Logit,
                Bounds {
                    lower: 0.2,
                    upper: 3.0,
                },
            ),
        ] {
            let opts = CalibrationOptions {
                calfun,
                bounds,
                epsilon: 1e-13,
                ..Default::default()
            };
            let cal = calibrate(&mm, &d, &opts).unwrap_or_else(|e| panic!("{calfun:?}: {e}"));
            assert_hits(&mm, &cal.weights(&d));
            if bounds.lower.is_finite() {
                assert!(
                    cal.g
                        .iter()
                        .all(|g| (0.2 - TIGHT..=3.0 + TIGHT).contains(g))
                );
            }
        }
    }

    #[test]
    fn impossible_bounds_fail_naming_a_category() {
        let (mm, d) = toy();
        // R: "Failed to converge: eps=0.0365853658536585 in 51 iterations".
        let opts = CalibrationOptions {
            calfun: CalFun::Logit,
            bounds: Bounds {
                lower: 0.5,
                upper: 2.0,
            },
            ..Default::default()
        };
        let err = calibrate(&mm, &d, &opts).expect_err("bounds too tight");
        assert!(matches!(err, WeightingError::NoConvergence { .. }), "{err}");
    }

    #[test]
    fn bounds_must_hold_one() {
        let (mm, d) = toy();
        let opts = CalibrationOptions {
            calfun: CalFun::Logit,
            bounds: Bounds {
                lower: 1.2,
                upper: 2.0,
            },
            ..Default::default()
        };
        assert!(matches!(
            calibrate(&mm, &d, &opts),
            Err(WeightingError::BadBounds { .. })
        ));
    }

    #[test]
    fn trim_keeps_the_weight_sum() {
        let d = [1.0, 2.0, 3.0, 4.0];
        let mut g = vec![0.2, 1.0, 1.1, 3.0];
        let before: f64 = d.iter().zip(&g).map(|(d, g)| d * g).sum();
        assert_eq!(trim_g(&mut g, &d, 0.5, 2.0), 2);
        let after: f64 = d.iter().zip(&g).map(|(d, g)| d * g).sum();
        assert!((before - after).abs() < TIGHT);
    }

    #[test]
    fn residuals_of_a_calibration_variable_vanish() {
        let (mm, d) = toy();
        let cal = calibrate(&mm, &d, &CalibrationOptions::default()).expect("linear");
        let w = cal.weights(&d);
        // The score of the total of the intercept column is w itself.
        let e = calibration_residuals(&mm, &d, &w, &w).expect("lengths agree");
        assert!(e.iter().all(|e| e.abs() < 1e-9), "{e:?}");
    }
}
