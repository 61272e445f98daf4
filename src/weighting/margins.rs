//! Calibration margins: categorical variables with population totals per
//! category, checked against the data, and the model matrix built from them.
//!
//! A [`Margin`] maps every row to the index of its category. It is built
//! from the data's values and the targets, and refuses what R would get
//! wrong or refuse later: a category in the data with no target, a
//! positive target with no respondents (an empty cell), a respondent
//! category whose target is 0, duplicate, negative or non-finite targets.
//! Categories with a zero target and no respondents are dropped, as R's
//! `calibrate` drops such columns.
//!
//! [`ModelMatrix`] is R's `model.matrix` with treatment coding: an
//! intercept (the population size), then one dummy for every category but
//! the first of each margin, then numeric variables. The population vector
//! holds the matching totals. Calibrating to this basis gives the same
//! weights as calibrating to every category total, since the column spaces
//! are equal.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::WeightingError;

/// FNV-1a: category labels are short strings looked up once per row, where
/// the default SipHash costs more than the rest of a rake.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// Up to this many categories a linear scan beats hashing the label.
const LINEAR_SCAN: usize = 16;

/// One categorical margin, validated against the data.
#[derive(Debug, Clone, PartialEq)]
pub struct Margin {
    /// The margin's name as the plan writes it (`sex`, `age_group*region`).
    pub name: String,
    /// Category labels, in the order of the targets.
    pub categories: Vec<String>,
    /// Population total per category.
    pub targets: Vec<f64>,
    /// Category index of every row.
    pub codes: Vec<u32>,
}

/// A numeric calibration variable with its population total.
#[derive(Debug, Clone, PartialEq)]
pub struct NumericTotal {
    pub name: String,
    pub values: Vec<f64>,
    pub total: f64,
}

impl Margin {
    /// Checks `values` (one per row) against `targets` and codes the rows.
    ///
    /// # Errors
    ///
    /// See the module documentation; every error names the margin and the
    /// category.
    pub fn new<S: AsRef<str>>(
        name: &str,
        values: &[S],
        targets: &[(String, f64)],
    ) -> Result<Margin, WeightingError> {
        Margin::from_values(name, values.iter(), targets)
    }

    /// As [`Margin::new`], from any sequence of values (no slice needed).
    pub fn from_values<S: AsRef<str>>(
        name: &str,
        values: impl ExactSizeIterator<Item = S>,
        targets: &[(String, f64)],
    ) -> Result<Margin, WeightingError> {
        let mut index: FnvMap<&str, usize> = FnvMap::default();
        for (k, (cat, value)) in targets.iter().enumerate() {
            if !value.is_finite() || *value < 0.0 {
                return Err(WeightingError::BadTarget {
                    margin: name.to_string(),
                    category: cat.clone(),
                    value: *value,
                });
            }
            if index.insert(cat.as_str(), k).is_some() {
                return Err(WeightingError::DuplicateTarget {
                    margin: name.to_string(),
                    category: cat.clone(),
                });
            }
        }
        let mut raw: Vec<u32> = Vec::with_capacity(values.len());
        let mut count = vec![0usize; targets.len()];
        // Runs of equal values are common (sorted or clustered files).
        let mut last: Option<(S, usize)> = None;
        for value in values {
            let v = value.as_ref();
            if let Some((lv, lk)) = &last
                && lv.as_ref() == v
            {
                count[*lk] += 1;
                raw.push(*lk as u32);
                continue;
            }
            let k = if targets.len() <= LINEAR_SCAN {
                // Length and first byte first: most mismatches stop there.
                let first = v.as_bytes().first();
                targets.iter().position(|(c, _)| {
                    c.len() == v.len() && c.as_bytes().first() == first && c == v
                })
            } else {
                index.get(v).copied()
            }
            .ok_or_else(|| WeightingError::CategoryNotInTargets {
                margin: name.to_string(),
                category: v.to_string(),
            })?;
            count[k] += 1;
            raw.push(k as u32);
            last = Some((value, k));
        }
        Margin::finish(name, targets, &count, raw)
    }

    /// Builds a margin from labelled rows: `codes` index `levels`, which are
    /// matched to the targets once (not once per row).
    pub fn from_labels(
        name: &str,
        codes: impl ExactSizeIterator<Item = u32>,
        levels: &[String],
        targets: &[(String, f64)],
    ) -> Result<Margin, WeightingError> {
        let to_target: Vec<Option<u32>> = levels
            .iter()
            .map(|l| targets.iter().position(|(c, _)| c == l).map(|k| k as u32))
            .collect();
        let mut out = Vec::with_capacity(codes.len());
        for c in codes {
            let k = to_target[c as usize].ok_or_else(|| WeightingError::CategoryNotInTargets {
                margin: name.to_string(),
                category: levels[c as usize].clone(),
            })?;
            out.push(k);
        }
        Margin::from_codes(name, out, targets)
    }

    /// Builds a margin from category indices already computed (`codes[i]`
    /// indexes `targets`), with the same checks as [`Margin::new`].
    pub fn from_codes(
        name: &str,
        codes: Vec<u32>,
        targets: &[(String, f64)],
    ) -> Result<Margin, WeightingError> {
        let mut count = vec![0usize; targets.len()];
        for &c in &codes {
            let slot =
                count
                    .get_mut(c as usize)
                    .ok_or_else(|| WeightingError::CategoryNotInTargets {
                        margin: name.to_string(),
                        category: format!("#{c}"),
                    })?;
            *slot += 1;
        }
        for (cat, value) in targets {
            if !value.is_finite() || *value < 0.0 {
                return Err(WeightingError::BadTarget {
                    margin: name.to_string(),
                    category: cat.clone(),
                    value: *value,
                });
            }
        }
        Margin::finish(name, targets, &count, codes)
    }

    fn finish(
        name: &str,
        targets: &[(String, f64)],
        count: &[usize],
        mut codes: Vec<u32>,
    ) -> Result<Margin, WeightingError> {
        // Drop zero-target categories without respondents; renumber the rest.
        let mut renumber = vec![u32::MAX; targets.len()];
        let mut categories = Vec::new();
        let mut totals = Vec::new();
        for (k, (cat, value)) in targets.iter().enumerate() {
            match (count[k], *value) {
                (0, 0.0) => continue,
                (0, v) => {
                    return Err(WeightingError::EmptyCell {
                        margin: name.to_string(),
                        category: cat.clone(),
                        target: v,
                    });
                }
                (_, 0.0) => {
                    return Err(WeightingError::ZeroTarget {
                        margin: name.to_string(),
                        category: cat.clone(),
                    });
                }
                _ => {}
            }
            renumber[k] = categories.len() as u32;
            categories.push(cat.clone());
            totals.push(*value);
        }
        codes.iter_mut().for_each(|k| *k = renumber[*k as usize]);
        Ok(Margin {
            name: name.to_string(),
            categories,
            targets: totals,
            codes,
        })
    }

    /// The population size this margin implies.
    pub fn total(&self) -> f64 {
        self.targets.iter().sum()
    }
}

/// Checks that all margins agree on the population size, to `rel_tol`
/// relative to the first margin's total.
pub fn check_totals(margins: &[Margin], rel_tol: f64) -> Result<(), WeightingError> {
    let Some(first) = margins.first() else {
        return Ok(());
    };
    let n0 = first.total();
    for m in &margins[1..] {
        let n = m.total();
        if (n - n0).abs() > rel_tol * n0.abs() {
            return Err(WeightingError::MarginTotalsDisagree {
                margin: m.name.clone(),
                total: n,
                first: first.name.clone(),
                first_total: n0,
            });
        }
    }
    Ok(())
}

/// Names a model-matrix column by its margin and category.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnLabel {
    pub margin: String,
    pub category: String,
}

/// A dense model matrix (row-major, `n` × `p`) with the population totals
/// of its columns.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelMatrix {
    pub n: usize,
    pub p: usize,
    pub x: Vec<f64>,
    pub population: Vec<f64>,
    pub labels: Vec<ColumnLabel>,
}

impl ModelMatrix {
    /// Treatment coding of `margins` (intercept plus all but the first
    /// category of each) followed by `numeric` columns. Without
    /// categorical margins there is no intercept.
    ///
    /// # Errors
    ///
    /// [`WeightingError::MarginTotalsDisagree`] when the margins imply
    /// different population sizes (beyond `rel_tol`).
    pub fn from_margins(
        margins: &[Margin],
        numeric: &[NumericTotal],
        rel_tol: f64,
    ) -> Result<ModelMatrix, WeightingError> {
        check_totals(margins, rel_tol)?;
        let n = margins
            .first()
            .map(|m| m.codes.len())
            .or_else(|| numeric.first().map(|v| v.values.len()))
            .unwrap_or(0);
        for m in margins {
            super::check_len("margin codes", m.codes.len(), n)?;
        }
        for v in numeric {
            super::check_len("numeric calibration variable", v.values.len(), n)?;
        }
        let mut labels = Vec::new();
        let mut population = Vec::new();
        let mut offsets = Vec::new();
        if let Some(first) = margins.first() {
            labels.push(ColumnLabel {
                margin: "(population size)".into(),
                category: "total".into(),
            });
            population.push(first.total());
        }
        for m in margins {
            offsets.push(labels.len());
            for (cat, t) in m.categories.iter().zip(&m.targets).skip(1) {
                labels.push(ColumnLabel {
                    margin: m.name.clone(),
                    category: cat.clone(),
                });
                population.push(*t);
            }
        }
        let numeric_at = labels.len();
        for v in numeric {
            labels.push(ColumnLabel {
                margin: v.name.clone(),
                category: "total".into(),
            });
            population.push(v.total);
        }
        let p = labels.len();
        let mut x = vec![0.0; n * p];
        for i in 0..n {
            let row = &mut x[i * p..(i + 1) * p];
            if !margins.is_empty() {
                row[0] = 1.0;
            }
            for (m, &off) in margins.iter().zip(&offsets) {
                let c = m.codes[i] as usize;
                if c > 0 {
                    row[off + c - 1] = 1.0;
                }
            }
            for (j, v) in numeric.iter().enumerate() {
                row[numeric_at + j] = v.values[i];
            }
        }
        Ok(ModelMatrix {
            n,
            p,
            x,
            population,
            labels,
        })
    }

    /// The rows of the matrix, in order.
    pub fn rows(&self) -> impl Iterator<Item = &[f64]> {
        self.x.chunks_exact(self.p.max(1)).take(self.n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(pairs: &[(&str, f64)]) -> Vec<(String, f64)> {
        pairs.iter().map(|(c, t)| (c.to_string(), *t)).collect()
    }

    #[test]
    fn category_missing_from_targets_is_named() {
        let err = Margin::new("sex", &["m", "x"], &targets(&[("m", 1.0), ("f", 1.0)]))
            .expect_err("x has no target");
        assert_eq!(
            err,
            WeightingError::CategoryNotInTargets {
                margin: "sex".into(),
                category: "x".into()
            }
        );
    }

    #[test]
    fn target_without_respondents_is_an_empty_cell() {
        let err = Margin::new("sex", &["m", "m"], &targets(&[("m", 1.0), ("f", 1.0)]))
            .expect_err("f is empty");
        assert!(matches!(err, WeightingError::EmptyCell { ref category, .. } if category == "f"));
    }

    #[test]
    fn zero_target_without_respondents_is_dropped() {
        let m = Margin::new(
            "sex",
            &["m", "f"],
            &targets(&[("m", 1.0), ("x", 0.0), ("f", 2.0)]),
        )
        .expect("x is dropped");
        assert_eq!(m.categories, ["m", "f"]);
        assert_eq!(m.codes, [0, 1]);
    }

    #[test]
    fn margins_must_agree_on_the_total() {
        let a = Margin::new("sex", &["m", "f"], &targets(&[("m", 1.0), ("f", 2.0)])).expect("ok");
        let b = Margin::new("age", &["y", "o"], &targets(&[("y", 1.0), ("o", 2.5)])).expect("ok");
        let err = ModelMatrix::from_margins(&[a, b], &[], 1e-9).expect_err("3 vs 3.5");
        assert!(
            matches!(err, WeightingError::MarginTotalsDisagree { ref margin, .. } if margin == "age")
        );
    }

    #[test]
    fn treatment_coding_has_an_intercept_and_drops_first_levels() {
        let a = Margin::new("sex", &["m", "f"], &targets(&[("m", 1.0), ("f", 2.0)])).expect("ok");
        let mm = ModelMatrix::from_margins(&[a], &[], 1e-9).expect("ok");
        assert_eq!(mm.p, 2);
        assert_eq!(mm.x, [1.0, 0.0, 1.0, 1.0]);
        assert_eq!(mm.population, [3.0, 2.0]);
    }
}
