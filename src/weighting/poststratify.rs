//! Post-stratification, as R's `survey::postStratify`.
//!
//! # Formula
//!
//! ```text
//! w_i = d_i · N_c / N̂_c,   N̂_c = Σ_{j in c} d_j,   for the cell c of unit i
//! ```
//!
//! It is the special case of linear calibration on the cell dummies and
//! gives the same weights. Cells come from one [`Margin`] (a joint table of
//! several variables is one margin whose categories are the combinations).

use super::WeightingError;
use super::margins::Margin;

/// Post-stratified weights d_i N_c / N̂_c.
///
/// # Errors
///
/// [`WeightingError::EmptyCell`] when a cell's design weights sum to zero
/// (a cell with respondents that all have zero weight).
pub fn post_stratify(cells: &Margin, d: &[f64]) -> Result<Vec<f64>, WeightingError> {
    super::check_len("design weights", d.len(), cells.codes.len())?;
    let mut sample = vec![0.0; cells.targets.len()];
    for (&c, &w) in cells.codes.iter().zip(d) {
        sample[c as usize] += w;
    }
    let mut ratio = Vec::with_capacity(sample.len());
    for (k, (&t, &s)) in cells.targets.iter().zip(&sample).enumerate() {
        if s == 0.0 {
            return Err(WeightingError::EmptyCell {
                margin: cells.name.clone(),
                category: cells.categories[k].clone(),
                target: t,
            });
        }
        ratio.push(t / s);
    }
    Ok(cells
        .codes
        .iter()
        .zip(d)
        .map(|(&c, &w)| w * ratio[c as usize])
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_hit_their_totals() {
        let m = Margin::new(
            "type",
            &["a", "b", "a", "b", "b"],
            &[("a".into(), 10.0), ("b".into(), 30.0)],
        )
        .expect("valid");
        let w = post_stratify(&m, &[1.0, 2.0, 3.0, 4.0, 6.0]).expect("no empty cell");
        assert!((w[0] + w[2] - 10.0).abs() < 1e-12);
        assert!((w[1] + w[3] + w[4] - 30.0).abs() < 1e-12);
        assert!((w[0] / w[2] - 1.0 / 3.0).abs() < 1e-12);
    }
}
