//! The small statistics of the monitoring page: response-rate definitions
//! (AAPOR) and the test that singles out an enumerator.

/// Final dispositions counted as AAPOR's categories (docs/monitoring.md).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Dispositions {
    /// I: complete interviews.
    pub complete: i64,
    /// P: partial interviews, and cases started but not finished yet.
    pub partial: i64,
    /// R: refusals and break-offs.
    pub refused: i64,
    /// NC: non-contacts.
    pub non_contact: i64,
    /// O: other eligible non-interviews.
    pub other: i64,
    /// UH + UO: assigned, not yet attempted (eligibility unknown).
    pub unknown: i64,
    /// Not eligible: left out of every rate.
    pub ineligible: i64,
}

impl Dispositions {
    fn base(&self) -> i64 {
        self.complete + self.partial + self.refused + self.non_contact + self.other + self.unknown
    }

    fn rate(&self, numerator: i64) -> Option<f64> {
        let d = self.base();
        (d > 0).then(|| numerator as f64 / d as f64)
    }

    /// # Formula
    ///
    /// ```text
    /// RR1 = I / ((I + P) + (R + NC + O) + (UH + UO))
    /// ```
    pub fn rr1(&self) -> Option<f64> {
        self.rate(self.complete)
    }

    /// REF1 = R / ((I + P) + (R + NC + O) + (UH + UO))
    pub fn ref1(&self) -> Option<f64> {
        self.rate(self.refused)
    }

    /// CON1 = ((I + P) + R + O) / ((I + P) + (R + NC + O) + (UH + UO))
    pub fn con1(&self) -> Option<f64> {
        self.rate(self.complete + self.partial + self.refused + self.other)
    }
}

/// Above this z, an enumerator's rate stands out above the rest of its team
/// (one-sided p ≈ 0.0013 under the null; a prompt to look, not a verdict).
pub const OUTLIER_Z: f64 = 3.0;
/// Fewer cases than this on either side: no test.
pub const OUTLIER_MIN_N: i64 = 10;

/// The two-proportion z statistic of `x1` of `n1` against `x2` of `n2`,
/// with the pooled proportion in the standard error.
///
/// # Formula
///
/// ```text
/// p = (x1 + x2) / (n1 + n2)
/// z = (x1/n1 − x2/n2) / sqrt(p (1 − p) (1/n1 + 1/n2))
/// ```
///
/// # Remarks
///
/// `None` when either side has fewer than [`OUTLIER_MIN_N`] cases; 0 when
/// both proportions are 0 or both 1 (no spread, nothing stands out).
pub fn two_proportion_z(x1: i64, n1: i64, x2: i64, n2: i64) -> Option<f64> {
    if n1 < OUTLIER_MIN_N || n2 < OUTLIER_MIN_N {
        return None;
    }
    let (p1, p2) = (x1 as f64 / n1 as f64, x2 as f64 / n2 as f64);
    let p = (x1 + x2) as f64 / (n1 + n2) as f64;
    let var = p * (1.0 - p) * (1.0 / n1 as f64 + 1.0 / n2 as f64);
    if var <= 0.0 {
        return Some(0.0);
    }
    Some((p1 - p2) / var.sqrt())
}

/// The `p` quantile of sorted values, interpolated between the two order
/// statistics around position `(n − 1) p`: PostgreSQL's `percentile_cont`
/// (and R's default, type 7), computed the same way to the last bit.
///
/// # Formula
///
/// ```text
/// h = (n − 1) p,  Q(p) = x[⌊h⌋] + (h − ⌊h⌋) (x[⌈h⌉] − x[⌊h⌋])
/// ```
pub fn quantile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let h = p * (sorted.len() - 1) as f64;
    let (lo, hi) = (h.floor(), h.ceil());
    let (a, b) = (sorted[lo as usize], sorted[hi as usize]);
    Some(if lo == hi { a } else { a + (b - a) * (h - lo) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rr1_counts_not_yet_attempted_cases_in_the_denominator() {
        let d = Dispositions {
            complete: 60,
            partial: 5,
            refused: 10,
            non_contact: 10,
            other: 5,
            unknown: 10,
            ineligible: 7,
        };
        assert_eq!(d.rr1(), Some(0.6));
        assert_eq!(d.ref1(), Some(0.1));
        assert_eq!(d.con1(), Some(0.8));
        assert_eq!(Dispositions::default().rr1(), None);
    }

    #[test]
    fn the_z_statistic_matches_the_textbook_value() {
        // 45/50 against 100/150: p = 0.725, se = sqrt(.725 · .275 · (1/50 + 1/150)).
        let z = two_proportion_z(45, 50, 100, 150).expect("enough cases");
        let expected = (0.9 - 2.0 / 3.0) / (0.725f64 * 0.275 * (1.0 / 50.0 + 1.0 / 150.0)).sqrt();
        assert!((z - expected).abs() < 1e-12, "{z} {expected}");
        assert!(z > 3.0);
        assert_eq!(two_proportion_z(5, 9, 100, 150), None);
        assert_eq!(two_proportion_z(50, 50, 150, 150), Some(0.0));
    }

    #[test]
    fn quantiles_interpolate_between_order_statistics() {
        let x = [1.0, 2.0, 4.0, 8.0];
        // h = 3 p: 0.75 → 1 + 0.75, 1.5 → 2 + 0.5 · 2, 2.25 → 4 + 0.25 · 4.
        assert_eq!(quantile(&x, 0.25), Some(1.75));
        assert_eq!(quantile(&x, 0.5), Some(3.0));
        assert_eq!(quantile(&x, 0.75), Some(5.0));
        assert_eq!(quantile(&x, 0.0), Some(1.0));
        assert_eq!(quantile(&x, 1.0), Some(8.0));
        assert_eq!(quantile(&[7.0], 0.5), Some(7.0));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
