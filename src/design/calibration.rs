//! Linearization after calibration: the residual step of R's `svyrecvar`.
//!
//! R's `calibrate()`, `postStratify()` and `rake()` store what they did on
//! the design (`design$postStrata`), and `svyrecvar` replaces every column
//! of scores z (estimating functions times the weight) by a residual before
//! the Taylor variance. A [`Calibration`] holds what that step needs, built
//! once from the design file's `calibration:` block, and
//! [`Calibration::residuals`] applies it:
//!
//! ```text
//! calibrate (linear, raking, logit; any bounds), R's `greg_calibration`:
//!   y_i = z_i / w_i,   B = (Σ d x xᵀ)⁻¹ Σ d x y,   z_i ← w_i (y_i − x_iᵀB)
//!   (by an orthonormal basis of √d X, as R's qr.resid of z/(g√d) on √d X)
//! postStratify, cells c:
//!   z_i ← z_i − w_i · Σ_{j∈c} d_j z_j / w_j / Σ_{j∈c} d_j
//! rake, ten sweeps over the margins m, cells c of m (n_c rows):
//!   z_i ← z_i − w_i · Σ_{j∈c} (z_j / w_j) / n_c
//! ```
//!
//! with d the weight that entered calibration and w the calibrated weight
//! (R's `attr(, "weights")` or `g√d · √d`; the analysis weight unless
//! trimming changed it afterwards, which R does not record either). The
//! model matrix X is R's treatment coding: an intercept when there is a
//! categorical margin, dummies for every category but the first of each
//! margin, then the numeric variables; columns that depend on earlier ones
//! (a margin nested in a joint one) are dropped as R's pivoting `qr` drops
//! them, with its tolerance 1e-7.
//!
//! Invariants: every row of the design enters the regression (a domain's
//! scores are zero outside it, and the residuals are not), so a calibration
//! variable's total has residuals 0; the design's weights are positive, so
//! every division is defined.

use std::collections::HashMap;

use super::DesignError;
use super::spec::{CalibrationMethod, CalibrationSpec};
use crate::frame::{Column, Frame, MISSING, SMALL_MISSING};

/// R's `qr()` tolerance: a column whose norm after projection on the
/// earlier columns is below this fraction of its own norm is dependent.
const QR_TOL: f64 = 1e-7;

/// Sweeps of R's residual after `rake()` (`for (iterations in 1:10)`).
pub const RAKE_SWEEPS: usize = 10;

/// The residual step of one calibration, over all rows of a design.
#[derive(Debug, Clone)]
pub struct Calibration {
    method: CalibrationMethod,
    /// The calibrated weight w of every row.
    w: Vec<f64>,
    kind: Kind,
    /// Variance unit of every row, and the per-unit sums that give the
    /// units' residual totals without a pass over every row.
    unit_of_row: Vec<u32>,
    n_units: usize,
    unit_sums: UnitSums,
}

/// What [`Calibration::unit_totals`] subtracts from a unit's score total.
#[derive(Debug, Clone)]
enum UnitSums {
    /// (unit, cell, Σ w over the unit's rows in the cell): the cells of
    /// `poststratify`, or the joint cells of all margins of `rake`.
    Cells(Vec<(u32, u32, f64)>),
    /// Σ_{i in unit} w_i q_ik / √d_i, unit-major (`n_units` × rank).
    Basis(Vec<f64>),
}

#[derive(Debug, Clone)]
enum Kind {
    /// Cell of every row, the input weight d, and Σ d per cell.
    PostStratify {
        cell: Vec<u32>,
        d: Vec<f64>,
        d_sum: Vec<f64>,
    },
    /// Per margin: cell of every row and rows per cell; the joint cell
    /// (combination of all margins) of every row, rows per joint cell, and
    /// per margin the cell of each joint cell.
    Rake {
        margins: Vec<(Vec<u32>, Vec<f64>)>,
        joint: Vec<u32>,
        joint_count: Vec<f64>,
        joint_cells: Vec<Vec<u32>>,
    },
    /// √d and an orthonormal basis of the columns of √d X, row-major
    /// (`rank` values per row, so a domain row reads one short slice).
    Greg {
        sqrt_d: Vec<f64>,
        basis: Vec<f64>,
        rank: usize,
    },
}

impl Calibration {
    /// Builds the residual step from the block and the data. `weights` are
    /// the design's analysis weights (the calibrated weight by default),
    /// `unit_of_row` the variance unit of every row (`< n_units`).
    ///
    /// # Errors
    ///
    /// A missing or non-numeric column, a missing margin value, a missing
    /// `input_weight` (every method but `rake`), a weight that is not
    /// positive, numeric variables or several margins for `poststratify`
    /// or `rake` where they do not apply.
    pub fn build(
        spec: &CalibrationSpec,
        frame: &Frame,
        weights: &[f64],
        unit_of_row: &[u32],
        n_units: usize,
    ) -> Result<Calibration, DesignError> {
        let bad = |m: String| Err(DesignError::Spec(format!("calibration: {m}")));
        let n = weights.len();
        let w = match &spec.calibrated_weight {
            Some(name) => super::checked_weights(frame, name)?,
            None => weights.to_vec(),
        };
        let d = match &spec.input_weight {
            Some(name) => Some(super::checked_weights(frame, name)?),
            None => None,
        };
        let method = spec.method;
        if spec.margins.is_empty() && spec.numeric.is_empty() {
            return bad(
                "list the calibration variables under `margins` (categorical) or `numeric`".into(),
            );
        }
        if d.is_none() && method != CalibrationMethod::Rake {
            return bad(format!(
                "{} needs `input_weight`, the column of the weight that entered calibration",
                method.as_str()
            ));
        }
        let mut cells = Vec::with_capacity(spec.margins.len());
        for m in &spec.margins {
            if m.columns().is_empty() {
                return bad("a joint margin lists no columns".into());
            }
            cells.push(margin_cells(frame, m.columns())?);
        }
        let kind = match method {
            CalibrationMethod::Poststratify | CalibrationMethod::Rake
                if !spec.numeric.is_empty() =>
            {
                return bad(format!(
                    "{} takes categorical margins only; numeric variables go with linear, raking or logit",
                    method.as_str()
                ));
            }
            CalibrationMethod::Poststratify => {
                if cells.len() != 1 {
                    return bad(
                        "poststratify takes one margin; list the columns of a joint table as one margin, e.g. `margins: [[sex, age]]`"
                            .into(),
                    );
                }
                let (cell, k) = cells.pop().expect("one margin");
                let d = d.expect("checked above");
                let mut d_sum = vec![0.0; k];
                for (&c, &di) in cell.iter().zip(&d) {
                    d_sum[c as usize] += di;
                }
                Kind::PostStratify { cell, d, d_sum }
            }
            CalibrationMethod::Rake => {
                let mut index: HashMap<Vec<u32>, u32> = HashMap::new();
                let mut joint_cells: Vec<Vec<u32>> = vec![Vec::new(); cells.len()];
                let mut joint_count: Vec<f64> = Vec::new();
                let joint = (0..n)
                    .map(|i| {
                        let key: Vec<u32> = cells.iter().map(|(c, _)| c[i]).collect();
                        let next = index.len() as u32;
                        let j = *index.entry(key.clone()).or_insert(next);
                        if j == next {
                            joint_count.push(0.0);
                            for (m, &c) in key.iter().enumerate() {
                                joint_cells[m].push(c);
                            }
                        }
                        joint_count[j as usize] += 1.0;
                        j
                    })
                    .collect();
                Kind::Rake {
                    margins: cells
                        .into_iter()
                        .map(|(cell, k)| {
                            let mut count = vec![0.0; k];
                            for &c in &cell {
                                count[c as usize] += 1.0;
                            }
                            (cell, count)
                        })
                        .collect(),
                    joint,
                    joint_count,
                    joint_cells,
                }
            }
            CalibrationMethod::Linear | CalibrationMethod::Raking | CalibrationMethod::Logit => {
                let d = d.expect("checked above");
                let sqrt_d: Vec<f64> = d.iter().map(|x| x.sqrt()).collect();
                let mut numeric = Vec::with_capacity(spec.numeric.len());
                for name in &spec.numeric {
                    let v = frame.numbers(name)?;
                    if let Some(i) = v.iter().position(|x| x.is_nan()) {
                        return Err(DesignError::MissingValue {
                            column: name.clone(),
                            row: i as u64 + 1,
                            what: "calibration variable",
                        });
                    }
                    numeric.push(v.into_owned());
                }
                let (columns, rank) = greg_basis(&cells, &numeric, &sqrt_d, n);
                let mut basis = vec![0.0; n * rank];
                for (k, q) in columns.chunks_exact(n.max(1)).take(rank).enumerate() {
                    for (i, &qi) in q.iter().enumerate() {
                        basis[i * rank + k] = qi;
                    }
                }
                Kind::Greg {
                    sqrt_d,
                    basis,
                    rank,
                }
            }
        };
        debug_assert_eq!(unit_of_row.len(), n);
        let unit_sums = match &kind {
            Kind::PostStratify { cell, .. } => cell_sums(cell, &w, unit_of_row),
            Kind::Rake { joint, .. } => cell_sums(joint, &w, unit_of_row),
            Kind::Greg {
                sqrt_d,
                basis,
                rank,
            } => {
                let mut s = vec![0.0; n_units * rank];
                for i in 0..n {
                    let f = w[i] / sqrt_d[i];
                    let u = unit_of_row[i] as usize;
                    for (sk, qk) in s[u * rank..(u + 1) * rank]
                        .iter_mut()
                        .zip(&basis[i * rank..(i + 1) * rank])
                    {
                        *sk += f * qk;
                    }
                }
                UnitSums::Basis(s)
            }
        };
        Ok(Calibration {
            method,
            w,
            kind,
            unit_of_row: unit_of_row.to_vec(),
            n_units,
            unit_sums,
        })
    }

    /// The totals per variance unit of the calibration residuals of the
    /// scores `z` of the domain rows `rows` (zero elsewhere): the same as
    /// [`Calibration::residuals`] summed by unit, in time proportional to
    /// the domain and the units rather than to every row.
    ///
    /// `out` gets one total per unit (`n_units` of them).
    pub fn unit_totals(&self, rows: &[u32], z: &[f64], out: &mut Vec<f64>) {
        debug_assert_eq!(rows.len(), z.len());
        let w = &self.w;
        out.clear();
        out.resize(self.n_units, 0.0);
        for (&i, &zi) in rows.iter().zip(z) {
            out[self.unit_of_row[i as usize] as usize] += zi;
        }
        // The amount b_c of z/w removed in each cell; the unit loses Σ_c b_c W_uc.
        let b: Vec<f64> = match &self.kind {
            Kind::PostStratify { cell, d, d_sum } => {
                let mut mean = vec![0.0; d_sum.len()];
                for (&i, &zi) in rows.iter().zip(z) {
                    let i = i as usize;
                    mean[cell[i] as usize] += zi * d[i] / w[i];
                }
                mean.iter().zip(d_sum).map(|(m, s)| m / s).collect()
            }
            Kind::Rake {
                margins,
                joint,
                joint_count,
                joint_cells,
            } => {
                // R's sweeps on the joint cells: t_j = Σ_{i in j} x_i/w_i.
                let mut t = vec![0.0; joint_count.len()];
                for (&i, &zi) in rows.iter().zip(z) {
                    let i = i as usize;
                    t[joint[i] as usize] += zi / w[i];
                }
                let mut b = vec![0.0; joint_count.len()];
                for _ in 0..RAKE_SWEEPS {
                    for ((_, count), of_joint) in margins.iter().zip(joint_cells) {
                        let mut mean = vec![0.0; count.len()];
                        for (tj, &c) in t.iter().zip(of_joint) {
                            mean[c as usize] += tj;
                        }
                        for (m, c) in mean.iter_mut().zip(count) {
                            *m /= c;
                        }
                        for (j, &c) in of_joint.iter().enumerate() {
                            let a = mean[c as usize];
                            t[j] -= joint_count[j] * a;
                            b[j] += a;
                        }
                    }
                }
                b
            }
            Kind::Greg {
                sqrt_d,
                basis,
                rank,
            } => {
                let c = project(
                    basis,
                    *rank,
                    rows.iter().map(|&i| i as usize).zip(z.iter().copied()),
                    |i, zi| zi * sqrt_d[i] / w[i],
                );
                let UnitSums::Basis(s) = &self.unit_sums else {
                    unreachable!("calibrate has basis sums")
                };
                for (u, o) in out.iter_mut().enumerate() {
                    *o -= dot(&s[u * rank..(u + 1) * rank], &c);
                }
                return;
            }
        };
        if let UnitSums::Cells(pairs) = &self.unit_sums {
            for &(u, c, ws) in pairs {
                out[u as usize] -= b[c as usize] * ws;
            }
        }
    }

    pub fn method(&self) -> CalibrationMethod {
        self.method
    }

    /// Replaces the scores `z` (one per row of the design, zero outside the
    /// domain) by their calibration residuals, as R's `svyrecvar`.
    pub fn residuals(&self, z: &mut [f64]) {
        let w = &self.w;
        debug_assert_eq!(z.len(), w.len());
        match &self.kind {
            Kind::PostStratify { cell, d, d_sum } => {
                let mut mean = vec![0.0; d_sum.len()];
                for i in 0..z.len() {
                    mean[cell[i] as usize] += z[i] * d[i] / w[i];
                }
                for (m, s) in mean.iter_mut().zip(d_sum) {
                    *m /= s;
                }
                for i in 0..z.len() {
                    z[i] -= mean[cell[i] as usize] * w[i];
                }
            }
            Kind::Rake { margins, .. } => {
                let k_max = margins.iter().map(|(_, c)| c.len()).max().unwrap_or(0);
                let mut mean = vec![0.0; k_max];
                for _ in 0..RAKE_SWEEPS {
                    for (cell, count) in margins {
                        let mean = &mut mean[..count.len()];
                        mean.fill(0.0);
                        for i in 0..z.len() {
                            mean[cell[i] as usize] += z[i] / w[i];
                        }
                        for (m, c) in mean.iter_mut().zip(count) {
                            *m /= c;
                        }
                        for i in 0..z.len() {
                            z[i] -= w[i] * mean[cell[i] as usize];
                        }
                    }
                }
            }
            Kind::Greg {
                sqrt_d,
                basis,
                rank,
            } => {
                let rank = *rank;
                let c = project(basis, rank, z.iter().copied().enumerate(), |i, zi| {
                    zi * sqrt_d[i] / w[i]
                });
                for (i, zi) in z.iter_mut().enumerate() {
                    let y = *zi * sqrt_d[i] / w[i] - dot(&basis[i * rank..(i + 1) * rank], &c);
                    *zi = y * w[i] / sqrt_d[i];
                }
            }
        }
    }
}

/// Qᵀy for a row-major orthonormal basis, over the rows given with their
/// score (y_i = `scale(i, z_i)`; rows not given have y_i = 0).
fn project(
    basis: &[f64],
    rank: usize,
    rows: impl Iterator<Item = (usize, f64)>,
    scale: impl Fn(usize, f64) -> f64,
) -> Vec<f64> {
    let mut c = vec![0.0; rank];
    for (i, zi) in rows {
        let y = scale(i, zi);
        for (ck, qk) in c.iter_mut().zip(&basis[i * rank..(i + 1) * rank]) {
            *ck += qk * y;
        }
    }
    c
}

/// (unit, cell, Σ w) over the distinct (unit, cell) pairs of the rows.
fn cell_sums(cell: &[u32], w: &[f64], unit_of_row: &[u32]) -> UnitSums {
    let mut slot: HashMap<(u32, u32), usize> = HashMap::new();
    let mut pairs: Vec<(u32, u32, f64)> = Vec::new();
    for i in 0..cell.len() {
        let key = (unit_of_row[i], cell[i]);
        let k = *slot.entry(key).or_insert_with(|| {
            pairs.push((key.0, key.1, 0.0));
            pairs.len() - 1
        });
        pairs[k].2 += w[i];
    }
    UnitSums::Cells(pairs)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Cell of every row of a margin (the combinations of its columns, in
/// order of first appearance) and the number of cells.
fn margin_cells(frame: &Frame, columns: &[String]) -> Result<(Vec<u32>, usize), DesignError> {
    let n = frame.n_rows();
    let mut keys: Vec<Vec<u64>> = vec![Vec::with_capacity(columns.len()); n];
    for name in columns {
        let column = frame.column(name)?;
        for (i, key) in keys.iter_mut().enumerate() {
            let k = match column {
                Column::Number(v) => (!v[i].is_nan()).then(|| (v[i] + 0.0).to_bits()),
                Column::Small(v) => (v[i] != SMALL_MISSING).then(|| v[i] as u8 as u64),
                Column::Text(t) => (t.codes[i] != MISSING).then(|| u64::from(t.codes[i])),
            };
            match k {
                Some(k) => key.push(k),
                None => {
                    return Err(DesignError::MissingValue {
                        column: name.clone(),
                        row: i as u64 + 1,
                        what: "calibration margin category",
                    });
                }
            }
        }
    }
    let mut index: HashMap<Vec<u64>, u32> = HashMap::new();
    let cell = keys
        .into_iter()
        .map(|k| {
            let next = index.len() as u32;
            *index.entry(k).or_insert(next)
        })
        .collect();
    Ok((cell, index.len()))
}

/// An orthonormal basis (column-major, `n` rows per column) of √d X for
/// R's treatment-coded model matrix, by modified Gram–Schmidt applied
/// twice, dropping dependent columns.
fn greg_basis(
    cells: &[(Vec<u32>, usize)],
    numeric: &[Vec<f64>],
    sqrt_d: &[f64],
    n: usize,
) -> (Vec<f64>, usize) {
    let mut basis: Vec<f64> = Vec::new();
    let mut rank = 0;
    let mut add = |mut v: Vec<f64>| {
        let norm0 = dot(&v, &v).sqrt();
        if norm0 == 0.0 {
            return;
        }
        for _ in 0..2 {
            for q in basis.chunks_exact(n) {
                let c = dot(q, &v);
                for (vi, qi) in v.iter_mut().zip(q) {
                    *vi -= c * qi;
                }
            }
        }
        let norm = dot(&v, &v).sqrt();
        if norm <= QR_TOL * norm0 {
            return;
        }
        basis.extend(v.iter().map(|x| x / norm));
        rank += 1;
    };
    if !cells.is_empty() {
        add(sqrt_d.to_vec());
    }
    for (cell, k) in cells {
        // Treatment coding: every cell but the one of the first row.
        let first = cell.first().copied().unwrap_or(0);
        for c in (0..*k as u32).filter(|&c| c != first) {
            add((0..n)
                .map(|i| if cell[i] == c { sqrt_d[i] } else { 0.0 })
                .collect());
        }
    }
    for v in numeric {
        add((0..n).map(|i| v[i] * sqrt_d[i]).collect());
    }
    (basis, rank)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weighting::calibrate::{CalibrationOptions, calibrate, calibration_residuals};
    use crate::weighting::margins::{Margin, ModelMatrix};
    use crate::weighting::rake::rake_residuals;

    /// Agreement with the weighting module's kernels (QR vs Gram–Schmidt).
    const TOL: f64 = 1e-10;

    fn frame() -> Frame {
        let sex = [1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0, 1.0];
        let age = [1.0, 1.0, 2.0, 2.0, 1.0, 2.0, 2.0, 1.0];
        let inc = [3.0, 5.0, 2.0, 8.0, 1.0, 4.0, 6.0, 7.0];
        Frame::from_columns(vec![
            ("sex".into(), Column::Number(sex.to_vec())),
            ("age".into(), Column::Number(age.to_vec())),
            ("inc".into(), Column::Number(inc.to_vec())),
            (
                "d".into(),
                Column::Number(vec![10.0, 12.0, 9.0, 14.0, 11.0, 13.0, 15.0, 8.0]),
            ),
        ])
    }

    /// Every row its own variance unit.
    fn build_rows(
        spec: &CalibrationSpec,
        frame: &Frame,
        w: &[f64],
    ) -> Result<Calibration, DesignError> {
        let units: Vec<u32> = (0..w.len() as u32).collect();
        Calibration::build(spec, frame, w, &units, w.len())
    }

    fn spec(yaml: &str) -> CalibrationSpec {
        serde_saphyr::from_str(yaml).expect("test block parses")
    }

    fn margins() -> Vec<Margin> {
        let f = frame();
        let s: Vec<String> = f
            .numbers("sex")
            .expect("sex")
            .iter()
            .map(|x| x.to_string())
            .collect();
        let a: Vec<String> = f
            .numbers("age")
            .expect("age")
            .iter()
            .map(|x| x.to_string())
            .collect();
        vec![
            Margin::new("sex", &s, &[("1".into(), 40.0), ("2".into(), 60.0)]).expect("valid"),
            Margin::new("age", &a, &[("1".into(), 55.0), ("2".into(), 45.0)]).expect("valid"),
        ]
    }

    #[test]
    fn greg_residuals_match_the_weighting_kernel() {
        let f = frame();
        let d = f.numbers("d").expect("d").into_owned();
        let mm = ModelMatrix::from_margins(&margins(), &[], 1e-9).expect("valid");
        let w = calibrate(&mm, &d, &CalibrationOptions::default())
            .expect("linear")
            .weights(&d);
        let z: Vec<f64> = w
            .iter()
            .zip(f.numbers("inc").expect("inc").iter())
            .map(|(w, y)| w * y)
            .collect();
        let want = calibration_residuals(&mm, &d, &w, &z).expect("lengths agree");
        // `sex` twice: the repeated columns depend on the first and are dropped.
        let two = build_rows(
            &spec("{method: linear, input_weight: d, margins: [sex, age, sex]}"),
            &f,
            &w,
        )
        .expect("valid block");
        let mut got = z.clone();
        two.residuals(&mut got);
        for (g, e) in got.iter().zip(&want) {
            assert!((g - e).abs() <= TOL * (1.0 + e.abs()), "{g} vs {e}");
        }
        // With the joint table as well, the residuals e = z/w satisfy the
        // normal equations of every joint cell: Σ_cell d e = 0.
        let joint = build_rows(
            &spec("{method: linear, input_weight: d, margins: [sex, age, [sex, age]]}"),
            &f,
            &w,
        )
        .expect("valid block");
        let mut got = z.clone();
        joint.residuals(&mut got);
        assert!(got.iter().any(|r| r.abs() > 1e-6), "{got:?}");
        let (cell, k) = margin_cells(&f, &["sex".into(), "age".into()]).expect("cells");
        let mut sums = vec![0.0; k];
        for i in 0..8 {
            sums[cell[i] as usize] += got[i] / w[i] * d[i];
        }
        assert!(sums.iter().all(|s| s.abs() < 1e-9), "{sums:?}");
    }

    #[test]
    fn rake_and_poststratify_residuals_follow_r() {
        let f = frame();
        let w = vec![9.0, 13.0, 10.0, 12.0, 11.0, 14.0, 16.0, 7.0];
        let z: Vec<f64> = w
            .iter()
            .zip(f.numbers("inc").expect("inc").iter())
            .map(|(w, y)| w * y)
            .collect();
        let want = rake_residuals(&margins(), &w, &z).expect("lengths agree");
        let cal = build_rows(&spec("{method: rake, margins: [sex, age]}"), &f, &w).expect("valid");
        let mut got = z.clone();
        cal.residuals(&mut got);
        for (g, e) in got.iter().zip(&want) {
            assert!((g - e).abs() <= TOL * (1.0 + e.abs()), "{g} vs {e}");
        }
        // Post-stratification = linear calibration on the cell dummies.
        let ps = build_rows(
            &spec("{method: poststratify, input_weight: d, margins: [[sex, age]]}"),
            &f,
            &w,
        )
        .expect("valid");
        let greg = build_rows(
            &spec("{method: linear, input_weight: d, margins: [[sex, age]]}"),
            &f,
            &w,
        )
        .expect("valid");
        let (mut a, mut b) = (z.clone(), z);
        ps.residuals(&mut a);
        greg.residuals(&mut b);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= TOL * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    #[test]
    fn blocks_that_cannot_work_are_refused() {
        let f = frame();
        let w = vec![1.0; 8];
        for (yaml, phrase) in [
            ("{method: linear, margins: [sex]}", "input_weight"),
            (
                "{method: poststratify, input_weight: d, margins: [sex, age]}",
                "one margin",
            ),
            (
                "{method: rake, margins: [sex], numeric: [inc]}",
                "categorical",
            ),
            ("{method: rake}", "margins"),
        ] {
            let err = build_rows(&spec(yaml), &f, &w).expect_err(yaml);
            assert!(err.to_string().contains(phrase), "{yaml}: {err}");
        }
        let err =
            build_rows(&spec("{method: rake, margins: [nope]}"), &f, &w).expect_err("missing");
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn unit_totals_are_the_residuals_summed_by_unit() {
        let f = frame();
        let w = vec![9.0, 13.0, 10.0, 12.0, 11.0, 14.0, 16.0, 7.0];
        let units = [0, 0, 1, 1, 2, 2, 3, 3];
        let y = f.numbers("inc").expect("inc").into_owned();
        // A domain: rows 1, 2, 5 and 6.
        let rows: Vec<u32> = vec![1, 2, 5, 6];
        let z: Vec<f64> = rows
            .iter()
            .map(|&i| w[i as usize] * y[i as usize])
            .collect();
        for yaml in [
            "{method: poststratify, input_weight: d, margins: [[sex, age]]}",
            "{method: rake, margins: [sex, age]}",
            "{method: logit, input_weight: d, margins: [sex, age], numeric: [inc]}",
        ] {
            let cal = Calibration::build(&spec(yaml), &f, &w, &units, 4).expect(yaml);
            let mut full = vec![0.0; 8];
            for (&i, &zi) in rows.iter().zip(&z) {
                full[i as usize] = zi;
            }
            cal.residuals(&mut full);
            let mut want = vec![0.0; 4];
            for (i, r) in full.iter().enumerate() {
                want[units[i] as usize] += r;
            }
            let mut got = Vec::new();
            cal.unit_totals(&rows, &z, &mut got);
            for (g, e) in got.iter().zip(&want) {
                assert!((g - e).abs() <= TOL * (1.0 + e.abs()), "{yaml}: {g} vs {e}");
            }
        }
    }
}
