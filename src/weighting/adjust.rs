//! Base weights and the adjustments made before calibration: the
//! within-household selection factor and the nonresponse adjustment by
//! weighting classes.
//!
//! # Formula
//!
//! ```text
//! base weight        d_i = Π_s 1/π_si               (one probability per stage)
//! within household   d_i ← d_i · a_i                (a_i eligible adults), or d_i / π_i
//! nonresponse        d_i ← d_i · Σ_{c} d / Σ_{c, respondents} d   for respondents of class c
//!                    d_i ← 0                        for nonrespondents
//! ```
//!
//! # Collapsing rule
//!
//! Weighting classes are ordered by their key (each part compared as a
//! number when both sides are numbers, otherwise as text), so that
//! neighbours share their leading class variables. While some class has
//! fewer respondents than `min_respondents` (or an adjustment factor above
//! `max_factor`), the class with the fewest respondents among those at
//! fault (the first in order on ties) is merged with the neighbour, before
//! or after it, that has fewer respondents (the next one on ties). The
//! merged class is named `a + b`. A single class left that still fails the
//! rule is kept if it has respondents.

use std::cmp::Ordering;

use super::WeightingError;

/// Base weights from selection probabilities, one slice per stage:
/// d_i = Π_s 1/π_si.
///
/// # Errors
///
/// [`WeightingError::BadProbability`] for a probability outside (0, 1]
/// (or not a number), naming the row and the stage.
pub fn base_weights(stages: &[(&str, &[f64])], n: usize) -> Result<Vec<f64>, WeightingError> {
    let mut d = vec![1.0; n];
    for (name, p) in stages {
        super::check_len("selection probabilities", p.len(), n)?;
        for (i, (&p, d)) in p.iter().zip(d.iter_mut()).enumerate() {
            if !(p > 0.0 && p <= 1.0) {
                return Err(WeightingError::BadProbability {
                    row: i + 1,
                    what: format!("selection probability `{name}`"),
                    value: p,
                });
            }
            *d /= p;
        }
    }
    Ok(d)
}

/// Multiplies weights by a positive factor per row (a stage weight, or the
/// number of eligible adults in the household).
///
/// # Errors
///
/// [`WeightingError::NonPositive`] for a factor that is not a positive
/// number, naming the row.
pub fn multiply(d: &mut [f64], factor: &[f64], what: &str) -> Result<(), WeightingError> {
    super::check_len("factors", factor.len(), d.len())?;
    for (i, (d, &f)) in d.iter_mut().zip(factor).enumerate() {
        if !(f > 0.0 && f.is_finite()) {
            return Err(WeightingError::NonPositive {
                row: i + 1,
                what: what.to_string(),
                value: f,
            });
        }
        *d *= f;
    }
    Ok(())
}

/// Divides weights by a selection probability per row (the recorded
/// within-household selection probability).
///
/// # Errors
///
/// [`WeightingError::BadProbability`] for a probability outside (0, 1].
pub fn divide_by_probability(d: &mut [f64], p: &[f64], what: &str) -> Result<(), WeightingError> {
    super::check_len("probabilities", p.len(), d.len())?;
    for (i, (d, &p)) in d.iter_mut().zip(p).enumerate() {
        if !(p > 0.0 && p <= 1.0) {
            return Err(WeightingError::BadProbability {
                row: i + 1,
                what: what.to_string(),
                value: p,
            });
        }
        *d /= p;
    }
    Ok(())
}

/// How weighting classes are collapsed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CollapseRule {
    /// Smallest number of respondents a class may have.
    pub min_respondents: usize,
    /// Largest adjustment factor a class may have, if any.
    pub max_factor: Option<f64>,
}

/// The outcome of a nonresponse adjustment.
#[derive(Debug, Clone, PartialEq)]
pub struct NonresponseAdjustment {
    /// Adjusted weights; 0 for nonrespondents.
    pub weights: Vec<f64>,
    /// Final class of every row (index into `classes`).
    pub class_of_row: Vec<usize>,
    /// Final classes: name and adjustment factor.
    pub classes: Vec<(String, f64)>,
    /// Merges made, as `a + b`, in order.
    pub collapsed: Vec<String>,
}

/// Adjusts `d` for nonresponse within weighting classes.
///
/// `class_key[i]` holds the class variables of row i (one string each);
/// `respondent[i]` says whether row i responded.
///
/// # Errors
///
/// [`WeightingError::NoRespondents`] when all the eligible units are
/// nonrespondents, so no class can carry their weight.
pub fn nonresponse(
    d: &[f64],
    respondent: &[bool],
    class_key: &[Vec<String>],
    rule: &CollapseRule,
) -> Result<NonresponseAdjustment, WeightingError> {
    let n = d.len();
    super::check_len("respondent flags", respondent.len(), n)?;
    super::check_len("class keys", class_key.len(), n)?;
    // Distinct keys in the collapsing order.
    let mut keys: Vec<&Vec<String>> = class_key.iter().collect();
    keys.sort_by(|a, b| compare_keys(a, b));
    keys.dedup();
    let index_of = |k: &Vec<String>| -> usize {
        keys.binary_search_by(|probe| compare_keys(probe, k))
            .expect("every key was collected above")
    };
    let row_key: Vec<usize> = class_key.iter().map(index_of).collect();
    // Groups of original keys, merged as the rule asks.
    struct Group {
        name: String,
        members: Vec<usize>,
        resp: usize,
        d_all: f64,
        d_resp: f64,
    }
    let mut groups: Vec<Group> = keys
        .iter()
        .enumerate()
        .map(|(k, key)| Group {
            name: key.join(":"),
            members: vec![k],
            resp: 0,
            d_all: 0.0,
            d_resp: 0.0,
        })
        .collect();
    for i in 0..n {
        let g = &mut groups[row_key[i]];
        g.d_all += d[i];
        if respondent[i] {
            g.resp += 1;
            g.d_resp += d[i];
        }
    }
    let fails = |g: &Group| {
        g.resp == 0
            || g.resp < rule.min_respondents
            || rule.max_factor.is_some_and(|m| g.d_all / g.d_resp > m)
    };
    let mut collapsed = Vec::new();
    while groups.len() > 1 {
        let Some(at) = (0..groups.len())
            .filter(|&k| fails(&groups[k]))
            .min_by_key(|&k| (groups[k].resp, k))
        else {
            break;
        };
        let before_is_smaller =
            at > 0 && (at + 1 == groups.len() || groups[at - 1].resp < groups[at + 1].resp);
        let other = if before_is_smaller { at - 1 } else { at + 1 };
        let (lo, hi) = (at.min(other), at.max(other));
        let b = groups.remove(hi);
        let a = &mut groups[lo];
        collapsed.push(format!("{} + {}", a.name, b.name));
        a.name = format!("{} + {}", a.name, b.name);
        a.members.extend(b.members);
        a.resp += b.resp;
        a.d_all += b.d_all;
        a.d_resp += b.d_resp;
    }
    let mut group_of_key = vec![0; keys.len()];
    for (gi, g) in groups.iter().enumerate() {
        if g.resp == 0 {
            return Err(WeightingError::NoRespondents {
                class: g.name.clone(),
            });
        }
        for &k in &g.members {
            group_of_key[k] = gi;
        }
    }
    // A replicate may give a class's respondents zero weight: a class with
    // no weight at all keeps factor 1, one whose weight sits only on
    // nonrespondents cannot be adjusted.
    let mut factors = Vec::with_capacity(groups.len());
    for g in &groups {
        factors.push(match (g.d_resp > 0.0, g.d_all > 0.0) {
            (true, _) => g.d_all / g.d_resp,
            (false, false) => 1.0,
            (false, true) => {
                return Err(WeightingError::NoRespondents {
                    class: g.name.clone(),
                });
            }
        });
    }
    let class_of_row: Vec<usize> = row_key.iter().map(|&k| group_of_key[k]).collect();
    let weights = (0..n)
        .map(|i| {
            if respondent[i] {
                d[i] * factors[class_of_row[i]]
            } else {
                0.0
            }
        })
        .collect();
    Ok(NonresponseAdjustment {
        weights,
        class_of_row,
        classes: groups
            .into_iter()
            .zip(factors)
            .map(|(g, f)| (g.name, f))
            .collect(),
        collapsed,
    })
}

/// Orders class keys part by part: numerically when both parts are
/// numbers, as text otherwise.
fn compare_keys(a: &[String], b: &[String]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x.parse::<f64>(), y.parse::<f64>()) {
            (Ok(p), Ok(q)) => p.total_cmp(&q).then_with(|| x.cmp(y)),
            _ => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(v: &[&str]) -> Vec<Vec<String>> {
        v.iter().map(|s| vec![s.to_string()]).collect()
    }

    #[test]
    fn base_weight_multiplies_stages() {
        let p1 = [0.5, 0.25];
        let p2 = [0.1, 0.5];
        let d = base_weights(&[("p1", &p1), ("p2", &p2)], 2).expect("valid");
        assert_eq!(d, [20.0, 8.0]);
    }

    #[test]
    fn zero_probability_names_row_and_stage() {
        let err = base_weights(&[("p_ea", &[0.5, 0.0])], 2).expect_err("zero");
        assert!(err.to_string().contains("row 2"), "{err}");
        assert!(err.to_string().contains("p_ea"), "{err}");
    }

    #[test]
    fn nonresponse_keeps_class_totals() {
        let d = [1.0, 2.0, 3.0, 4.0];
        let resp = [true, false, true, true];
        let adj = nonresponse(
            &d,
            &resp,
            &keys(&["a", "a", "b", "b"]),
            &CollapseRule {
                min_respondents: 1,
                max_factor: None,
            },
        )
        .expect("valid");
        assert_eq!(adj.weights, [3.0, 0.0, 3.0, 4.0]);
        assert!(adj.collapsed.is_empty());
    }

    #[test]
    fn small_classes_collapse_into_the_smaller_neighbour() {
        let d = [1.0; 7];
        let resp = [true, true, true, false, true, true, true];
        let k = keys(&["1", "1", "1", "2", "3", "3", "10"]);
        let adj = nonresponse(
            &d,
            &resp,
            &k,
            &CollapseRule {
                min_respondents: 2,
                max_factor: None,
            },
        )
        .expect("valid");
        // Class 2 has no respondents; its neighbours are 1 (3 resp.) and 3
        // (2 resp.), so it joins 3. Then 10 (1 resp.) joins "2 + 3".
        assert_eq!(adj.collapsed, ["2 + 3", "2 + 3 + 10"]);
        let total: f64 = adj.weights.iter().sum();
        assert!((total - 7.0).abs() < 1e-12);
    }

    #[test]
    fn a_factor_above_max_factor_collapses_the_class() {
        // Class a: factor 4 (1 of 4 responded); b: factor 1.
        let d = [1.0; 6];
        let resp = [true, false, false, false, true, true];
        let k = keys(&["a", "a", "a", "a", "b", "b"]);
        let adj = nonresponse(
            &d,
            &resp,
            &k,
            &CollapseRule {
                min_respondents: 1,
                max_factor: Some(3.0),
            },
        )
        .expect("valid");
        assert_eq!(adj.collapsed, ["a + b"]);
        assert_eq!(adj.classes, [("a + b".to_string(), 2.0)]);
    }

    #[test]
    fn within_household_probability_divides() {
        let mut d = vec![10.0, 10.0];
        divide_by_probability(&mut d, &[0.5, 0.25], "p").expect("valid");
        assert_eq!(d, [20.0, 40.0]);
        let err = divide_by_probability(&mut d, &[0.5, 1.5], "p").expect_err("above 1");
        assert!(matches!(err, WeightingError::BadProbability { row: 2, .. }));
        let err = multiply(&mut d, &[1.0, -2.0], "adults").expect_err("negative");
        assert!(matches!(err, WeightingError::NonPositive { row: 2, .. }));
    }

    #[test]
    fn no_respondents_at_all_is_an_error() {
        let err = nonresponse(
            &[1.0, 1.0],
            &[false, false],
            &keys(&["a", "b"]),
            &CollapseRule {
                min_respondents: 1,
                max_factor: None,
            },
        )
        .expect_err("nobody responded");
        assert!(matches!(err, WeightingError::NoRespondents { .. }));
    }
}
