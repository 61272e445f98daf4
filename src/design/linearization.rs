//! Taylor-linearization variance of a total of scores: R's `svyrecvar`
//! (`multistage`, `onestage`, `onestrat` in `R/multistage.R` of `survey`).
//!
//! Estimators turn their statistic into scores z_i (influence values times
//! weight); the variance of the statistic is the design variance of Σ z_i.
//! Scores arrive already summed to the finest *unit* the design needs (the
//! stage-1 PSU in the ultimate-cluster case), and only for units that hold at
//! least one row of the domain: units absent from the list are the rows R's
//! `subset()` drops, whose PSUs are padded with zeros inside their strata.

use super::DesignError;
use super::spec::LonelyPsu;

/// One sampling stage of a linearization design.
///
/// Invariant: `cluster_of_unit.len()` is the number of units; every cluster
/// index is `< n_clusters`, every stratum index `< n_strata`.
#[derive(Debug, Clone)]
pub struct Stage {
    /// Unit → cluster at this stage.
    pub(crate) cluster_of_unit: Vec<u32>,
    /// Cluster → stratum at this stage (from stage 2 on, the stratum is the
    /// parent cluster, as R's `interaction(strata, ids[, i - 1])`).
    pub(crate) stratum_of_cluster: Vec<u32>,
    pub(crate) n_clusters: usize,
    pub(crate) n_strata: usize,
    /// Sampled clusters per stratum (R's `fpc$sampsize`).
    pub(crate) n_sampled: Vec<u32>,
    /// Population clusters per stratum (R's `fpc$popsize`); `None` without fpc.
    pub(crate) popsize: Option<Vec<f64>>,
    /// Stratum labels for messages.
    pub(crate) stratum_labels: Vec<String>,
}

impl Stage {
    /// (N − n)/N, or 1 without fpc: R's `f` in `onestrat`.
    pub(crate) fn fpc_factor(&self, stratum: usize) -> f64 {
        match &self.popsize {
            None => 1.0,
            Some(pop) => {
                let big_n = pop[stratum];
                if big_n.is_infinite() {
                    1.0
                } else {
                    (big_n - f64::from(self.n_sampled[stratum])) / big_n
                }
            }
        }
    }

    /// n/N, the stage's sampling fraction (R's `nPSUs / fpcs`).
    fn fraction(&self, stratum: usize) -> f64 {
        match &self.popsize {
            None => 0.0,
            Some(pop) => f64::from(self.n_sampled[stratum]) / pop[stratum],
        }
    }
}

/// The Taylor side of a design: the stages used for variance and the policy
/// for lonely PSUs.
#[derive(Debug, Clone)]
pub struct Linearization {
    pub(crate) lonely_psu: LonelyPsu,
    /// Row → unit (a cluster of the last stage used).
    pub(crate) unit_of_row: Vec<u32>,
    pub(crate) n_units: usize,
    /// Stage 1 first; more than one only when later-stage fpc are given.
    pub(crate) stages: Vec<Stage>,
}

/// Reusable buffers for [`Linearization::variance`].
#[derive(Debug, Default)]
pub struct Scratch {
    sums: Vec<Vec<f64>>,
    seen: Vec<Vec<bool>>,
    strat_sum: Vec<f64>,
    strat_count: Vec<u32>,
    strat_seen: Vec<bool>,
    /// Stratum → its place in the list of strata present.
    strat_slot: Vec<usize>,
}

/// The variance of a total of scores, and the counts behind its df.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Variance {
    /// `None` when undefined (e.g. every stratum lonely under `average`).
    pub variance: Option<f64>,
    /// Stage-1 PSUs and strata with at least one row of the domain.
    pub psus: usize,
    pub strata: usize,
}

impl Linearization {
    pub fn lonely_psu(&self) -> LonelyPsu {
        self.lonely_psu
    }

    /// Number of stages that enter the variance (1 = ultimate cluster).
    pub fn n_variance_stages(&self) -> usize {
        self.stages.len()
    }

    /// Unit (finest variance cluster) of each row.
    pub fn unit_of_row(&self) -> &[u32] {
        &self.unit_of_row
    }

    pub fn n_units(&self) -> usize {
        self.n_units
    }

    /// Variance of Σ z over the design, from unit totals.
    ///
    /// `units[k]` is a unit holding at least one domain row and `z[k]` the sum
    /// of the scores of its rows (zero outside the domain).
    ///
    /// # Formula
    ///
    /// ```text
    /// V = Σ_h (1 − f_h) n_h/(n_h − 1) Σ_j (z_hj − z̄_h)²            (stage 1)
    ///   + Σ_PSU (n_h/N_h) · [the same within the PSU, stage 2]  + …
    /// ```
    ///
    /// z̄_h averages over all n_h sampled PSUs of the stratum (absent ones are
    /// zeros). Lonely strata follow `lonely_psu` as R's `onestrat`; under
    /// `average` the sum is scaled by (strata present)/(strata not lonely).
    /// Matches R's `svyrecvar` with `survey.adjust.domain.lonely = FALSE`.
    pub fn variance(
        &self,
        units: &[u32],
        z: &[f64],
        scratch: &mut Scratch,
    ) -> Result<Variance, DesignError> {
        debug_assert_eq!(units.len(), z.len());
        let n_stages = self.stages.len();
        if n_stages == 1 {
            // One stage: the units are the PSUs, so their totals are the PSU
            // totals and need no second summing.
            return self.combine(&[units], &[z], scratch);
        }
        if scratch.sums.len() < n_stages {
            scratch.sums.resize_with(n_stages, Vec::new);
            scratch.seen.resize_with(n_stages, Vec::new);
        }
        // Cluster totals at every stage, with the touched clusters in order.
        let mut touched: Vec<Vec<u32>> = vec![Vec::new(); n_stages];
        for (s, stage) in self.stages.iter().enumerate() {
            let sums = &mut scratch.sums[s];
            let seen = &mut scratch.seen[s];
            if sums.len() < stage.n_clusters {
                sums.resize(stage.n_clusters, 0.0);
                seen.resize(stage.n_clusters, false);
            }
            for (&u, &zu) in units.iter().zip(z) {
                let c = stage.cluster_of_unit[u as usize] as usize;
                if !seen[c] {
                    seen[c] = true;
                    touched[s].push(c as u32);
                }
                sums[c] += zu;
            }
        }
        let values: Vec<Vec<f64>> = touched
            .iter()
            .zip(&scratch.sums)
            .map(|(list, sums)| list.iter().map(|&c| sums[c as usize]).collect())
            .collect();
        let touched_refs: Vec<&[u32]> = touched.iter().map(Vec::as_slice).collect();
        let value_refs: Vec<&[f64]> = values.iter().map(Vec::as_slice).collect();
        let result = self.combine(&touched_refs, &value_refs, scratch);
        for (s, list) in touched.iter().enumerate() {
            for &c in list {
                scratch.sums[s][c as usize] = 0.0;
                scratch.seen[s][c as usize] = false;
            }
        }
        result
    }

    /// The variance from the totals `values[s][k]` of the clusters
    /// `touched[s][k]` of each stage s (each cluster once).
    fn combine(
        &self,
        touched: &[&[u32]],
        values: &[&[f64]],
        scratch: &mut Scratch,
    ) -> Result<Variance, DesignError> {
        let mut total = 0.0;
        let mut defined = true;
        let mut psus = 0;
        let mut strata_present = 0;
        // Weight of a stage-s stratum: product of the sampling fractions of
        // its ancestors (R multiplies each sub-multistage by nPSU/fpc).
        let mut stratum_weight: Vec<f64> = Vec::new();
        for (s, stage) in self.stages.iter().enumerate() {
            let Scratch {
                strat_sum,
                strat_count,
                strat_seen,
                strat_slot,
                ..
            } = scratch;
            if strat_sum.len() < stage.n_strata {
                strat_sum.resize(stage.n_strata, 0.0);
                strat_count.resize(stage.n_strata, 0);
                strat_seen.resize(stage.n_strata, false);
                strat_slot.resize(stage.n_strata, 0);
            }
            let mut strata: Vec<u32> = Vec::new();
            for (&c, &v) in touched[s].iter().zip(values[s]) {
                let h = stage.stratum_of_cluster[c as usize] as usize;
                if !strat_seen[h] {
                    strat_seen[h] = true;
                    strat_slot[h] = strata.len();
                    strata.push(h as u32);
                }
                strat_sum[h] += v;
                strat_count[h] += 1;
            }
            if s == 0 {
                psus = touched[0].len();
                strata_present = strata.len();
            }
            // Per-stratum mean over all sampled clusters, then sums of squares.
            let mut ss: Vec<f64> = vec![0.0; strata.len()];
            let center_of = |h: usize, count: u32| -> f64 {
                let n = stage.n_sampled[h];
                let center = !(self.lonely_psu == LonelyPsu::Adjust && count == 1 && n == 1);
                if center {
                    strat_sum[h] / f64::from(n)
                } else {
                    0.0
                }
            };
            for (&c, &v) in touched[s].iter().zip(values[s]) {
                let h = stage.stratum_of_cluster[c as usize] as usize;
                let m = center_of(h, strat_count[h]);
                let d = v - m;
                ss[strat_slot[h]] += d * d;
            }
            let mut stage_sum = 0.0;
            let mut ok = 0usize;
            let mut n_present = 0usize;
            for (k, &h) in strata.iter().enumerate() {
                let h = h as usize;
                n_present += 1;
                let n = stage.n_sampled[h];
                let count = strat_count[h];
                let m = center_of(h, count);
                let sumsq = ss[k] + f64::from(n - count) * m * m;
                let f = stage.fpc_factor(h);
                let w = if s == 0 { 1.0 } else { stratum_weight[h] };
                let v = if f < 1e-7 {
                    Some(0.0)
                } else if n > 1 {
                    Some(f * f64::from(n) / f64::from(n - 1) * sumsq)
                } else {
                    match self.lonely_psu {
                        LonelyPsu::Remove | LonelyPsu::Certainty | LonelyPsu::Adjust => {
                            Some(f * sumsq)
                        }
                        LonelyPsu::Average => None,
                        LonelyPsu::Fail => {
                            return Err(DesignError::LonelyPsu {
                                stratum: stage.stratum_labels[h].clone(),
                                stage: s + 1,
                            });
                        }
                    }
                };
                if s == 0 {
                    if let Some(v) = v {
                        stage_sum += v;
                        ok += 1;
                    }
                } else {
                    // Each later-stage stratum is its own `onestage` call in
                    // R, so `average` there has nothing to average over.
                    match v {
                        Some(v) => total += w * v,
                        None => defined = false,
                    }
                }
            }
            if s == 0 {
                if ok == 0 && n_present > 0 {
                    defined = false;
                } else if n_present > 0 {
                    total += stage_sum * n_present as f64 / ok as f64;
                }
            }
            for &h in &strata {
                strat_sum[h as usize] = 0.0;
                strat_count[h as usize] = 0;
                strat_seen[h as usize] = false;
            }
            // Weights of the next stage's strata (its strata are this stage's clusters).
            if s + 1 < self.stages.len() {
                let mut next = vec![0.0; stage.n_clusters];
                for (c, nw) in next.iter_mut().enumerate() {
                    let h = stage.stratum_of_cluster[c] as usize;
                    let w = if s == 0 { 1.0 } else { stratum_weight[h] };
                    *nw = w * stage.fraction(h);
                }
                stratum_weight = next;
            }
        }
        Ok(Variance {
            variance: defined.then_some(total),
            psus,
            strata: strata_present,
        })
    }
}
