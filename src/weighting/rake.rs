//! Raking by iterative proportional fitting, as R's `survey::rake`.
//!
//! Each sweep post-stratifies on every margin in turn. Because every unit
//! of one cell of the joint table of all margins gets the same factors,
//! the sweeps run on that joint table (at most one entry per distinct
//! combination of categories), not on the rows: one pass over the data to
//! sum the design weights per cell, sweeps over the cells, one pass to
//! write w_i = d_i · f_cell(i). This is what makes raking a million rows
//! take milliseconds.
//!
//! # R's conventions, matched here
//!
//! - Stopping rule (R's `control = list(maxit = 10, epsilon = 1)`): after
//!   each sweep, stop when no cell of the joint table moved by `epsilon`
//!   units of weight or more; `epsilon < 1` is read as a fraction of the
//!   sum of the input weights. At most `maxit` sweeps.
//! - Run to convergence (small `epsilon`, large `maxit`), raking gives the
//!   same weights as `calibrate(calfun = "raking")`.
//! - Unlike R, which only warns, a rake that has not converged after
//!   `maxit` sweeps is an error naming the margin category furthest from
//!   its target; so is a rake that settled with a margin off by more than
//!   0.1% (R reports that as converged).

use std::collections::HashMap;

use super::WeightingError;
use super::margins::{Margin, check_totals};

/// R's `rake(control = ...)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RakeControl {
    pub maxit: usize,
    pub epsilon: f64,
}

impl Default for RakeControl {
    /// R's defaults: 10 sweeps, 1 unit of weight.
    fn default() -> Self {
        RakeControl {
            maxit: 10,
            epsilon: 1.0,
        }
    }
}

/// The outcome of a rake.
#[derive(Debug, Clone, PartialEq)]
pub struct Rake {
    pub weights: Vec<f64>,
    /// Full sweeps over the margins.
    pub sweeps: usize,
    /// Largest |N̂_k − N_k| / (1 + N_k) over every margin category.
    pub max_error: f64,
}

/// Rakes design weights `d` to the margins.
///
/// # Errors
///
/// [`WeightingError::MarginTotalsDisagree`] when margins imply different
/// population sizes (beyond `rel_tol` relative), [`WeightingError::EmptyCell`]
/// when a category's weights sum to zero, and
/// [`WeightingError::NoConvergence`] after `maxit` sweeps without meeting
/// the stopping rule.
pub fn rake(
    margins: &[Margin],
    d: &[f64],
    control: &RakeControl,
    rel_tol: f64,
) -> Result<Rake, WeightingError> {
    check_totals(margins, rel_tol)?;
    for m in margins {
        super::check_len("margin codes", m.codes.len(), d.len())?;
    }
    if control.maxit == 0 || control.epsilon.is_nan() || control.epsilon <= 0.0 {
        return Err(WeightingError::Plan(
            "raking needs maxit >= 1 and epsilon > 0".into(),
        ));
    }
    let cells = JointCells::new(margins, d);
    let epsilon = if control.epsilon < 1.0 {
        control.epsilon * d.iter().sum::<f64>()
    } else {
        control.epsilon
    };
    let ncell = cells.d.len();
    let mut f = vec![1.0; ncell];
    let mut old: Vec<f64> = cells.d.clone();
    let mut sweeps = 0;
    let mut converged = false;
    while sweeps < control.maxit {
        for (m, margin) in margins.iter().enumerate() {
            let codes = &cells.codes[m];
            let mut sum = vec![0.0; margin.targets.len()];
            for c in 0..ncell {
                sum[codes[c] as usize] += cells.d[c] * f[c];
            }
            let mut ratio = Vec::with_capacity(sum.len());
            for (k, (&t, &s)) in margin.targets.iter().zip(&sum).enumerate() {
                if s == 0.0 {
                    return Err(WeightingError::EmptyCell {
                        margin: margin.name.clone(),
                        category: margin.categories[k].clone(),
                        target: t,
                    });
                }
                ratio.push(t / s);
            }
            for c in 0..ncell {
                f[c] *= ratio[codes[c] as usize];
            }
        }
        sweeps += 1;
        let mut delta: f64 = 0.0;
        for c in 0..ncell {
            let new = cells.d[c] * f[c];
            delta = delta.max((old[c] - new).abs());
            old[c] = new;
        }
        if delta < epsilon {
            converged = true;
            break;
        }
    }
    let (max_error, worst) = margin_errors(margins, &cells, &f);
    if !converged || max_error > STRUCTURAL_ERROR {
        let (m, k) = worst;
        return Err(WeightingError::NoConvergence {
            iterations: sweeps,
            margin: margins[m].name.clone(),
            category: margins[m].categories[k].clone(),
            error: max_error,
        });
    }
    let weights = cells
        .cell_of_row
        .iter()
        .zip(d)
        .map(|(&c, &w)| w * f[c as usize])
        .collect();
    Ok(Rake {
        weights,
        sweeps,
        max_error,
    })
}

/// Sweeps of R's approximation to the variance after `rake()`.
pub const RAKE_RESIDUAL_SWEEPS: usize = 10;

/// Scores for linearization after [`rake`], as R's `svyrecvar` treats a
/// raked design: ten sweeps which, for each margin in turn, subtract from
/// z/w its **unweighted** mean within the margin's categories and multiply
/// back by w. This differs slightly from the calibration residual of
/// [`super::calibrate::calibration_residuals`] for the same weights (R's
/// two SEs differ too).
///
/// `z` holds one column of scores (including the weight w); `w` are the
/// raked weights. R uses, for each margin, the weights right after that
/// margin's post-stratification in the last sweep; at convergence they are
/// the final weights, which is what is used here.
pub fn rake_residuals(
    margins: &[Margin],
    w: &[f64],
    z: &[f64],
) -> Result<Vec<f64>, WeightingError> {
    let n = w.len();
    super::check_len("scores", z.len(), n)?;
    for m in margins {
        super::check_len("margin codes", m.codes.len(), n)?;
    }
    let mut x = z.to_vec();
    for _ in 0..RAKE_RESIDUAL_SWEEPS {
        for m in margins {
            let k = m.targets.len();
            let mut sum = vec![0.0; k];
            let mut count = vec![0usize; k];
            for i in 0..n {
                let c = m.codes[i] as usize;
                sum[c] += x[i] / w[i];
                count[c] += 1;
            }
            for i in 0..n {
                let c = m.codes[i] as usize;
                x[i] -= w[i] * sum[c] / count[c] as f64;
            }
        }
    }
    Ok(x)
}

/// Largest relative error over every margin category, and where it is.
fn margin_errors(margins: &[Margin], cells: &JointCells, f: &[f64]) -> (f64, (usize, usize)) {
    let mut worst = (0.0, (0, 0));
    for (m, margin) in margins.iter().enumerate() {
        let mut sum = vec![0.0; margin.targets.len()];
        for (c, &code) in cells.codes[m].iter().enumerate() {
            sum[code as usize] += cells.d[c] * f[c];
        }
        for (k, (&t, &s)) in margin.targets.iter().zip(&sum).enumerate() {
            let e = (t - s).abs() / (1.0 + t.abs());
            if e > worst.0 {
                worst = (e, (m, k));
            }
        }
    }
    worst
}

/// R's stopping rule looks only at how much the joint table moved, so a
/// rake that settles far from its targets (conflicting margins over a
/// structural zero) would pass it; a relative margin error above this is
/// an error too.
const STRUCTURAL_ERROR: f64 = 1e-3;

/// The joint table of all margins: one entry per distinct combination of
/// categories present in the data.
struct JointCells {
    /// Cell of every row.
    cell_of_row: Vec<u32>,
    /// Sum of design weights per cell.
    d: Vec<f64>,
    /// Category of each margin per cell: `codes[margin][cell]`.
    codes: Vec<Vec<u32>>,
}

/// Up to this many possible combinations, cells are looked up in a dense
/// array; beyond, in a hash map.
const DENSE_CELLS: u64 = 1 << 22;

impl JointCells {
    fn new(margins: &[Margin], d: &[f64]) -> JointCells {
        let n = d.len();
        let mut radix: Option<u64> = Some(1);
        for m in margins {
            radix = radix.and_then(|r| r.checked_mul(m.targets.len().max(1) as u64));
        }
        let key = |i: usize| -> u64 {
            margins.iter().fold(0u64, |k, m| {
                k.wrapping_mul(m.targets.len().max(1) as u64)
                    .wrapping_add(u64::from(m.codes[i]))
            })
        };
        let mut cell_of_row = Vec::with_capacity(n);
        let mut first_row: Vec<usize> = Vec::new();
        match radix {
            Some(r) if r <= DENSE_CELLS => {
                let mut lookup = vec![u32::MAX; r as usize];
                for i in 0..n {
                    let slot = &mut lookup[key(i) as usize];
                    if *slot == u32::MAX {
                        *slot = first_row.len() as u32;
                        first_row.push(i);
                    }
                    cell_of_row.push(*slot);
                }
            }
            Some(_) => {
                let mut lookup: HashMap<u64, u32> = HashMap::new();
                for i in 0..n {
                    let next = first_row.len() as u32;
                    let c = *lookup.entry(key(i)).or_insert_with(|| {
                        first_row.push(i);
                        next
                    });
                    cell_of_row.push(c);
                }
            }
            None => {
                let mut lookup: HashMap<Vec<u32>, u32> = HashMap::new();
                for i in 0..n {
                    let next = first_row.len() as u32;
                    let k: Vec<u32> = margins.iter().map(|m| m.codes[i]).collect();
                    let c = *lookup.entry(k).or_insert_with(|| {
                        first_row.push(i);
                        next
                    });
                    cell_of_row.push(c);
                }
            }
        }
        let mut sum = vec![0.0; first_row.len()];
        for (&c, &w) in cell_of_row.iter().zip(d) {
            sum[c as usize] += w;
        }
        let codes = margins
            .iter()
            .map(|m| first_row.iter().map(|&i| m.codes[i]).collect())
            .collect();
        JointCells {
            cell_of_row,
            d: sum,
            codes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn margin(name: &str, values: &[&str], targets: &[(&str, f64)]) -> Margin {
        let t: Vec<(String, f64)> = targets.iter().map(|(c, v)| (c.to_string(), *v)).collect();
        Margin::new(name, values, &t).expect("valid margin")
    }

    #[test]
    fn converged_rake_hits_every_margin() {
        let sex = margin(
            "sex",
            &["m", "f", "m", "f", "m", "f"],
            &[("m", 48.0), ("f", 52.0)],
        );
        let age = margin(
            "age",
            &["y", "y", "o", "o", "m", "m"],
            &[("y", 30.0), ("m", 40.0), ("o", 30.0)],
        );
        let control = RakeControl {
            maxit: 1000,
            epsilon: 1e-13,
        };
        let r = rake(
            &[sex, age],
            &[5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
            &control,
            1e-9,
        )
        .expect("converges");
        assert!(r.max_error < 1e-12, "{}", r.max_error);
        assert!((r.weights[0] + r.weights[2] + r.weights[4] - 48.0).abs() < 1e-9);
    }

    #[test]
    fn disagreeing_margins_are_refused() {
        let sex = margin("sex", &["m", "f"], &[("m", 48.0), ("f", 52.0)]);
        let age = margin("age", &["y", "o"], &[("y", 50.0), ("o", 51.0)]);
        let err =
            rake(&[sex, age], &[1.0, 1.0], &RakeControl::default(), 1e-9).expect_err("100 vs 101");
        assert!(matches!(err, WeightingError::MarginTotalsDisagree { .. }));
    }

    #[test]
    fn a_rake_that_cannot_converge_names_a_category() {
        // Structural zero: the only "m" is also the only "y", with conflicting targets.
        let sex = margin("sex", &["m", "f", "f"], &[("m", 10.0), ("f", 90.0)]);
        let age = margin("age", &["y", "o", "o"], &[("y", 50.0), ("o", 50.0)]);
        let err = rake(&[sex, age], &[1.0, 1.0, 1.0], &RakeControl::default(), 1e-9)
            .expect_err("cannot meet both");
        assert!(matches!(err, WeightingError::NoConvergence { .. }), "{err}");
    }
}
