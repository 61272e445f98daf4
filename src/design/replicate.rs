//! Replicate-weight designs: read from columns (R's `svrepdesign` with
//! `combined.weights = TRUE`) or formed from a Taylor design (R's
//! `as.svrepdesign`: `jk1weights`, `jknweights`, `brrweights`, `bootweights`).
//!
//! Every method reduces to a matrix of replicate analysis weights plus
//! `scale`, `rscales` and `mse`; one function ([`ReplicateWeights::variance`],
//! R's `svrVar`) gives the variance for all of them.
//!
//! Formed replicates are kept compressed, as R keeps them: one multiplier per
//! (replicate, PSU). A replicate total is then a sum over PSU totals, so the
//! cost of a replicate estimate does not grow with the number of rows.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::rank::{RANK_TOL, rank_from_gram};
use super::spec::{DesignSpec, LonelyPsu, ReplicateType, ReplicatesSpec};
use super::{Design, DesignError, VarianceMethod, checked_weights};
use crate::frame::Frame;

/// Replicate analysis weights.
#[derive(Debug, Clone)]
pub enum ReplicateMatrix {
    /// Full analysis weights, one vector per replicate (`names` are the columns).
    Columns {
        names: Vec<String>,
        weights: Vec<Vec<f64>>,
    },
    /// Multipliers of the full-sample weight per PSU: `factors[r * n_psu + p]`.
    Psu {
        psu_of_row: Vec<u32>,
        n_psu: usize,
        factors: Vec<f64>,
    },
}

/// A replicate-weight variance method.
///
/// # Formula
///
/// ```text
/// V = scale · Σ_r rscales_r (θ_r − c)²
/// ```
///
/// with c the mean of the θ_r over replicates with rscales_r > 0, or the
/// full-sample θ̂ when `mse` (R's `svrVar`).
#[derive(Debug, Clone)]
pub struct ReplicateWeights {
    pub kind: ReplicateType,
    pub matrix: ReplicateMatrix,
    pub scale: f64,
    pub rscales: Vec<f64>,
    pub mse: bool,
    /// Fay's rho (0 otherwise).
    pub rho: f64,
    /// Rank of the replicate weights minus one over the whole sample.
    pub df: usize,
}

impl ReplicateWeights {
    pub fn n_replicates(&self) -> usize {
        self.rscales.len()
    }

    /// Replicate totals Σ_i w_ri a_i and Σ_i w_ri b_i over `rows`, where
    /// `full` are the full-sample weights and `ab(i)` gives (a_i, b_i).
    pub fn totals(
        &self,
        full: &[f64],
        rows: &[u32],
        ab: &dyn Fn(usize) -> (f64, f64),
        psu_scratch: &mut Vec<(f64, f64)>,
    ) -> Vec<(f64, f64)> {
        let r_count = self.n_replicates();
        match &self.matrix {
            ReplicateMatrix::Columns { weights, .. } => weights
                .iter()
                .map(|w| {
                    let mut sa = 0.0;
                    let mut sb = 0.0;
                    for &i in rows {
                        let (a, b) = ab(i as usize);
                        sa += w[i as usize] * a;
                        sb += w[i as usize] * b;
                    }
                    (sa, sb)
                })
                .collect(),
            ReplicateMatrix::Psu {
                psu_of_row,
                n_psu,
                factors,
            } => {
                psu_scratch.clear();
                psu_scratch.resize(*n_psu, (0.0, 0.0));
                let mut touched: Vec<u32> = Vec::new();
                let mut seen = vec![false; *n_psu];
                for &i in rows {
                    let i = i as usize;
                    let p = psu_of_row[i] as usize;
                    if !seen[p] {
                        seen[p] = true;
                        touched.push(p as u32);
                    }
                    let (a, b) = ab(i);
                    psu_scratch[p].0 += full[i] * a;
                    psu_scratch[p].1 += full[i] * b;
                }
                (0..r_count)
                    .map(|r| {
                        let f = &factors[r * n_psu..(r + 1) * n_psu];
                        let mut sa = 0.0;
                        let mut sb = 0.0;
                        for &p in &touched {
                            let (a, b) = psu_scratch[p as usize];
                            sa += f[p as usize] * a;
                            sb += f[p as usize] * b;
                        }
                        (sa, sb)
                    })
                    .collect()
            }
        }
    }

    /// R's `svrVar`: the variance from replicate estimates `thetas`.
    /// Replicates whose estimate is not finite are dropped, as R's
    /// `na.omit` does; `None` when none is left.
    pub fn variance(&self, thetas: &[f64], theta_hat: f64) -> (Option<f64>, usize) {
        let keep: Vec<usize> = (0..thetas.len())
            .filter(|&r| thetas[r].is_finite())
            .collect();
        let dropped = thetas.len() - keep.len();
        if keep.is_empty() {
            return (None, dropped);
        }
        let center = if self.mse {
            theta_hat
        } else {
            let used: Vec<f64> = keep
                .iter()
                .filter(|&&r| self.rscales[r] > 0.0)
                .map(|&r| thetas[r])
                .collect();
            if used.is_empty() {
                return (None, dropped);
            }
            used.iter().sum::<f64>() / used.len() as f64
        };
        let v = keep
            .iter()
            .map(|&r| (thetas[r] - center).powi(2) * self.rscales[r])
            .sum::<f64>()
            * self.scale;
        (Some(v), dropped)
    }

    /// Degrees of freedom over `rows` only (R recomputes the rank on a
    /// subset): rank of the replicate analysis weights − 1.
    pub fn df_of(&self, full: &[f64], rows: &[u32]) -> usize {
        match &self.matrix {
            ReplicateMatrix::Columns { weights, .. } => {
                let k = weights.len();
                let mut g = vec![0.0; k * k];
                let mut row = vec![0.0; k];
                for &i in rows {
                    for (r, w) in weights.iter().enumerate() {
                        row[r] = w[i as usize];
                    }
                    for a in 0..k {
                        let ra = row[a];
                        if ra == 0.0 {
                            continue;
                        }
                        for b in a..k {
                            g[a * k + b] += ra * row[b];
                        }
                    }
                }
                symmetric_rank(g, k)
            }
            ReplicateMatrix::Psu {
                psu_of_row,
                n_psu,
                factors,
            } => {
                // Rows of one PSU are proportional, so only c_p = Σ w² per
                // PSU matters, and only which PSUs are present: scaling rows
                // by non-zero numbers keeps the rank.
                let mut c = vec![0.0; *n_psu];
                for &i in rows {
                    c[psu_of_row[i as usize] as usize] += full[i as usize].powi(2);
                }
                let present = c.iter().filter(|&&x| x > 0.0).count();
                if present == *n_psu && self.df > 0 {
                    return self.df;
                }
                let k = self.n_replicates();
                let dev = deviations(factors, *n_psu, k);
                // Replicates identical on the present PSUs add no rank: keep one.
                let mut keys: Vec<Vec<(u32, u64)>> = vec![Vec::new(); k];
                for (p, list) in dev.iter().enumerate() {
                    if c[p] == 0.0 {
                        continue;
                    }
                    for &(r, gr) in list {
                        keys[r as usize].push((p as u32, gr.to_bits()));
                    }
                }
                let mut seen: std::collections::HashMap<&Vec<(u32, u64)>, usize> =
                    std::collections::HashMap::new();
                let mut slot: Vec<Option<usize>> = vec![None; k];
                let mut m = 0usize;
                for (r, key) in keys.iter().enumerate() {
                    if !seen.contains_key(key) {
                        seen.insert(key, m);
                        slot[r] = Some(m);
                        m += 1;
                    }
                }
                // G_ab = S + A_a + A_b + Σ_p c_p g_ap g_bp over the kept replicates.
                let mut g = vec![0.0; m * m];
                let s_total: f64 = c.iter().sum();
                let mut a_sum = vec![0.0; m];
                for (p, list) in dev.iter().enumerate() {
                    if c[p] == 0.0 {
                        continue;
                    }
                    let kept: Vec<(usize, f64)> = list
                        .iter()
                        .filter_map(|&(r, gr)| slot[r as usize].map(|x| (x, gr)))
                        .collect();
                    for &(x, gx) in &kept {
                        a_sum[x] += c[p] * gx;
                    }
                    for (i, &(xa, ga)) in kept.iter().enumerate() {
                        for &(xb, gb) in &kept[i..] {
                            let (lo, hi) = if xa <= xb { (xa, xb) } else { (xb, xa) };
                            g[lo * m + hi] += c[p] * ga * gb;
                        }
                    }
                }
                for a in 0..m {
                    for b in a..m {
                        g[a * m + b] += s_total + a_sum[a] + a_sum[b];
                    }
                }
                symmetric_rank(g, m)
            }
        }
    }

    /// Replicate analysis weights of row `i` for replicate `r`.
    pub fn weight(&self, full: &[f64], r: usize, i: usize) -> f64 {
        match &self.matrix {
            ReplicateMatrix::Columns { weights, .. } => weights[r][i],
            ReplicateMatrix::Psu {
                psu_of_row,
                n_psu,
                factors,
            } => full[i] * factors[r * n_psu + psu_of_row[i] as usize],
        }
    }
}

/// Rank − 1 of a Gram matrix whose upper triangle is filled.
fn symmetric_rank(mut g: Vec<f64>, k: usize) -> usize {
    for a in 0..k {
        for b in 0..a {
            g[a * k + b] = g[b * k + a];
        }
    }
    rank_from_gram(&g, k, RANK_TOL).saturating_sub(1)
}

/// Per PSU, the replicates whose multiplier is not 1, with multiplier − 1.
fn deviations(factors: &[f64], n_psu: usize, k: usize) -> Vec<Vec<(u32, f64)>> {
    let mut dev: Vec<Vec<(u32, f64)>> = vec![Vec::new(); n_psu];
    for r in 0..k {
        for (p, d) in dev.iter_mut().enumerate() {
            let f = factors[r * n_psu + p];
            if f != 1.0 {
                d.push((r as u32, f - 1.0));
            }
        }
    }
    dev
}

/// A design read from replicate-weight columns (R's `svrepdesign`).
pub(crate) fn from_columns(
    spec: &DesignSpec,
    r: &ReplicatesSpec,
    frame: &Frame,
) -> Result<Design, DesignError> {
    let kind = r.kind.ok_or_else(|| {
        DesignError::Spec(
            "`replicates` needs `type` (jk1, jkn, brr, fay, bootstrap, other) with `columns` or `prefix`, or `form` to make them from the design".into(),
        )
    })?;
    let weight = spec.weight.as_ref().ok_or_else(|| {
        DesignError::Spec(
            "a replicate-weight design needs `weight`, the full-sample weight column".into(),
        )
    })?;
    let weights = checked_weights(frame, weight)?;
    let names: Vec<String> = if !r.columns.is_empty() {
        if r.prefix.is_some() {
            return Err(DesignError::Spec(
                "give `columns` or `prefix`, not both".into(),
            ));
        }
        r.columns.clone()
    } else if let Some(prefix) = &r.prefix {
        frame
            .names()
            .iter()
            .filter(|n| n.starts_with(prefix.as_str()) && *n != weight)
            .cloned()
            .collect()
    } else {
        return Err(DesignError::Spec(
            "`replicates` needs `columns` or `prefix` naming the replicate-weight columns".into(),
        ));
    };
    let count = names.len();
    if count < 2 {
        return Err(DesignError::Replicates(format!(
            "found {count} replicate column(s){}; a replicate design needs at least 2",
            r.prefix
                .as_ref()
                .map(|p| format!(" with prefix `{p}`"))
                .unwrap_or_default()
        )));
    }
    if let Some(want) = r.replicates
        && want != count
    {
        return Err(DesignError::Replicates(format!(
            "`replicates: {want}` but {count} columns were found ({} … {})",
            names[0],
            names[count - 1]
        )));
    }
    if matches!(kind, ReplicateType::Brr | ReplicateType::Fay)
        && !count.is_multiple_of(4)
        && count != 2
    {
        return Err(DesignError::Replicates(format!(
            "type {} needs a number of replicates that is a Hadamard order (2 or a multiple of 4), found {count} columns",
            kind.as_str()
        )));
    }
    let mut cols = Vec::with_capacity(count);
    for name in &names {
        let v = frame.numbers(name)?;
        if let Some(i) = v.iter().position(|x| x.is_nan()) {
            return Err(DesignError::MissingValue {
                column: name.clone(),
                row: i as u64 + 1,
                what: "replicate weight",
            });
        }
        cols.push(v.to_vec());
    }
    if let Some(rs) = &r.rscales
        && rs.len() != 1
        && rs.len() != count
    {
        return Err(DesignError::Replicates(format!(
            "`rscales` has {} values but there are {count} replicate columns",
            rs.len()
        )));
    }
    let rho = r.rho.unwrap_or(0.0);
    let n_f = count as f64;
    // svrepdesign's defaults per type (combined weights).
    let (scale, rscales) = match kind {
        ReplicateType::Brr => (1.0 / n_f, r.rscales.clone()),
        ReplicateType::Fay => {
            let rho = r
                .rho
                .ok_or_else(|| DesignError::Spec("type fay needs `rho`".into()))?;
            (1.0 / (n_f * (1.0 - rho).powi(2)), r.rscales.clone())
        }
        ReplicateType::Bootstrap | ReplicateType::Subbootstrap => {
            (r.scale.unwrap_or(1.0 / (n_f - 1.0)), r.rscales.clone())
        }
        ReplicateType::Jk1 => (r.scale.unwrap_or((n_f - 1.0) / n_f), r.rscales.clone()),
        ReplicateType::Jkn => {
            if r.rscales.is_none() {
                return Err(DesignError::Replicates(
                    "type jkn needs `rscales` ((n_h − 1)/n_h for each replicate's stratum)".into(),
                ));
            }
            (r.scale.unwrap_or(1.0), r.rscales.clone())
        }
        ReplicateType::Other => (r.scale.unwrap_or(1.0), r.rscales.clone()),
    };
    let rscales = match rscales {
        None => vec![1.0; count],
        Some(v) if v.len() == 1 => vec![v[0]; count],
        Some(v) => v,
    };
    let mut rep = ReplicateWeights {
        kind,
        matrix: ReplicateMatrix::Columns {
            names,
            weights: cols,
        },
        scale,
        rscales,
        mse: r.mse.unwrap_or(false),
        rho,
        df: 0,
    };
    let all: Vec<u32> = (0..frame.n_rows() as u32).collect();
    rep.df = rep.df_of(&weights, &all);
    Ok(Design {
        weights,
        method: VarianceMethod::Replicates(rep),
        taylor: None,
        psu_of_row: Vec::new(),
        stratum_of_psu: Vec::new(),
        stratum_labels: Vec::new(),
        stage1_popsize: None,
        has_strata: false,
        calibration: None,
    })
}

/// Replicate weights formed from a Taylor design, as R's `as.svrepdesign`.
pub fn form(
    design: &Design,
    kind: ReplicateType,
    r: &ReplicatesSpec,
) -> Result<ReplicateWeights, DesignError> {
    let lonely = design
        .linearization()
        .map_or(LonelyPsu::Fail, |l| l.lonely_psu());
    let n_psu = design.stratum_of_psu.len();
    let strata = &design.stratum_of_psu;
    let n_strata = design.stratum_labels.len();
    // PSUs of each stratum in order of first appearance (PSU indices are
    // already in that order; strata too).
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); n_strata];
    for (p, &h) in strata.iter().enumerate() {
        members[h as usize].push(p);
    }
    let pop = design.stage1_popsize.as_ref();
    let mut factors: Vec<f64> = Vec::new();
    let mut rscales: Vec<f64> = Vec::new();
    let scale;
    let mut rho = 0.0;
    match kind {
        ReplicateType::Jk1 => {
            if design.has_strata {
                return Err(DesignError::Spec(
                    "jk1 is for unstratified designs; use jkn for a stratified design".into(),
                ));
            }
            let n = n_psu as f64;
            let corr = pop.map_or(1.0, |p| (p[0] - n) / p[0]);
            for r in 0..n_psu {
                for p in 0..n_psu {
                    factors.push(if p == r { 0.0 } else { n / (n - 1.0) });
                }
                rscales.push(1.0);
            }
            scale = corr * (n - 1.0) / n;
        }
        ReplicateType::Jkn => {
            if !design.has_strata {
                return Err(DesignError::Spec(
                    "jkn is for stratified designs; use jk1 or bootstrap without strata".into(),
                ));
            }
            let h_count = n_strata as f64;
            for (h, ps) in members.iter().enumerate() {
                let n = ps.len() as f64;
                let corr = pop.map_or(1.0, |p| (p[h] - n) / p[h]);
                if corr == 0.0 {
                    // R drops replicates of exhaustively sampled strata.
                    continue;
                }
                if ps.len() == 1 {
                    match lonely {
                        LonelyPsu::Fail => {
                            return Err(DesignError::LonelyPsu {
                                stratum: design.stratum_labels[h].clone(),
                                stage: 1,
                            });
                        }
                        LonelyPsu::Remove | LonelyPsu::Certainty | LonelyPsu::Average => continue,
                        LonelyPsu::Adjust => {
                            for &sq in strata.iter() {
                                factors.push(if sq as usize == h {
                                    0.0
                                } else {
                                    h_count / (h_count - 1.0)
                                });
                            }
                            rscales.push((h_count - 1.0) / h_count);
                            continue;
                        }
                    }
                }
                for &drop in ps {
                    for (q, &sq) in strata.iter().enumerate() {
                        factors.push(if q == drop {
                            0.0
                        } else if sq as usize == h {
                            n / (n - 1.0)
                        } else {
                            1.0
                        });
                    }
                    rscales.push(corr * (n - 1.0) / n);
                }
            }
            if rscales.is_empty() {
                return Err(DesignError::Spec(
                    "all strata were sampled exhaustively: there is no sampling variance to replicate".into(),
                ));
            }
            scale = if lonely == LonelyPsu::Average && rscales.len() < n_psu {
                n_psu as f64 / rscales.len() as f64
            } else {
                1.0
            };
        }
        ReplicateType::Brr | ReplicateType::Fay => {
            if kind == ReplicateType::Fay {
                rho = r
                    .rho
                    .ok_or_else(|| DesignError::Spec("fay needs `rho`".into()))?;
                if !(0.0..1.0).contains(&rho) {
                    return Err(DesignError::Spec(format!(
                        "fay's `rho` must be in [0, 1), got {rho}"
                    )));
                }
            }
            if !design.has_strata {
                return Err(DesignError::Spec(
                    "brr and fay need a stratified design with 2 PSUs per stratum".into(),
                ));
            }
            for (h, ps) in members.iter().enumerate() {
                if ps.len() != 2 {
                    return Err(DesignError::Spec(format!(
                        "brr and fay need exactly 2 PSUs per stratum; stratum `{}` has {}",
                        design.stratum_labels[h],
                        ps.len()
                    )));
                }
            }
            // Strata matched to Hadamard rows after sorting their labels (R
            // sorts them as character strings).
            let mut order: Vec<usize> = (0..n_strata).collect();
            order.sort_by(|&a, &b| design.stratum_labels[a].cmp(&design.stratum_labels[b]));
            let hmat = hadamard(n_strata).ok_or_else(|| {
                DesignError::Spec(format!(
                    "brr for {n_strata} strata needs one of R's stored Hadamard matrices (order 28 or 36), which vicor does not carry; form jkn instead or supply the BRR weights as columns"
                ))
            })?;
            let size = hmat.len();
            // Column `col` of the Hadamard matrix is replicate `col`.
            #[allow(clippy::needless_range_loop)]
            for col in 0..size {
                let mut f = vec![0.0; n_psu];
                for (k, &h) in order.iter().enumerate() {
                    let bit = hmat[k + 1][col];
                    let (first, second) = (members[h][0], members[h][1]);
                    if bit == 0 {
                        f[first] = rho;
                        f[second] = 2.0 - rho;
                    } else {
                        f[first] = 2.0 - rho;
                        f[second] = rho;
                    }
                }
                factors.extend(f);
                rscales.push(1.0);
            }
            scale = 1.0 / (size as f64 * (1.0 - rho).powi(2));
        }
        ReplicateType::Bootstrap => {
            let reps = r.replicates.unwrap_or(50);
            if reps < 2 {
                return Err(DesignError::Spec(
                    "bootstrap needs at least 2 replicates".into(),
                ));
            }
            let mut rng = ChaCha8Rng::seed_from_u64(r.seed.unwrap_or(0));
            factors = vec![0.0; reps * n_psu];
            for (h, ps) in members.iter().enumerate() {
                let n = ps.len();
                let popsize = pop.map(|p| p[h]);
                for rep in 0..reps {
                    match popsize {
                        None => {
                            for _ in 0..n {
                                let k = rng.random_range(0..n);
                                factors[rep * n_psu + ps[k]] += 1.0;
                            }
                        }
                        Some(big_n) => {
                            // Without replacement from the PSUs repeated to N.
                            let big_n = big_n.round() as usize;
                            let mut pool: Vec<usize> = (0..big_n).map(|j| ps[j % n]).collect();
                            for d in 0..n {
                                let k = rng.random_range(d..big_n);
                                pool.swap(d, k);
                                factors[rep * n_psu + pool[d]] += 1.0;
                            }
                        }
                    }
                }
            }
            rscales = vec![1.0; reps];
            let inv_mean: f64 =
                members.iter().map(|m| 1.0 / m.len() as f64).sum::<f64>() / n_strata as f64;
            let nbar = 1.0 / inv_mean;
            scale = nbar / ((nbar - 1.0) * (reps as f64 - 1.0));
        }
        ReplicateType::Subbootstrap => {
            // Rao–Wu: draw n_h − 1 of the n_h PSUs with replacement; the
            // multiplier is count · n_h/(n_h − 1). Scale 1/(R − 1) (R's
            // subbootweights). fpc are not used.
            let reps = r.replicates.unwrap_or(50);
            if reps < 2 {
                return Err(DesignError::Spec(
                    "subbootstrap needs at least 2 replicates".into(),
                ));
            }
            if let Some((h, _)) = members.iter().enumerate().find(|(_, m)| m.len() < 2) {
                return Err(DesignError::Spec(format!(
                    "subbootstrap needs at least 2 PSUs per stratum; stratum `{}` has 1",
                    design.stratum_labels[h]
                )));
            }
            let mut rng = ChaCha8Rng::seed_from_u64(r.seed.unwrap_or(0));
            factors = vec![0.0; reps * n_psu];
            for ps in &members {
                let n = ps.len();
                let step = n as f64 / (n as f64 - 1.0);
                for rep in 0..reps {
                    for _ in 0..n - 1 {
                        let k = rng.random_range(0..n);
                        factors[rep * n_psu + ps[k]] += step;
                    }
                }
            }
            rscales = vec![1.0; reps];
            scale = 1.0 / (reps as f64 - 1.0);
        }
        ReplicateType::Other => {
            return Err(DesignError::Spec(
                "`form` takes jk1, jkn, brr, fay, bootstrap or subbootstrap".into(),
            ));
        }
    }
    let mut rep = ReplicateWeights {
        kind,
        matrix: ReplicateMatrix::Psu {
            psu_of_row: design.psu_of_row.clone(),
            n_psu,
            factors,
        },
        scale,
        rscales,
        mse: r.mse.unwrap_or(false),
        rho,
        df: 0,
    };
    let all: Vec<u32> = (0..design.n() as u32).collect();
    rep.df = rep.df_of(design.weights(), &all);
    Ok(rep)
}

/// Primes p ≡ 3 (mod 4) up to 7919: R's `small.primes` in `paley`.
fn small_primes() -> Vec<usize> {
    (3..=7919usize)
        .filter(|&p| p % 4 == 3 && (2..).take_while(|d| d * d <= p).all(|d| p % d != 0))
        .collect()
}

/// Paley's construction for a prime p ≡ 3 (mod 4), 0/1 entries, order p + 1.
fn paley_prime(p: usize) -> Vec<Vec<u8>> {
    let mut residue = vec![false; p];
    residue[0] = true;
    residue[1 % p] = true;
    for i in 2..=(p - 1) / 2 {
        residue[(i * i) % p] = true;
    }
    let mut m = vec![vec![1u8; p + 1]; p + 1];
    for i in 0..p {
        for j in 0..p {
            m[i + 1][j + 1] = u8::from(!residue[(i + j) % p]);
        }
    }
    m
}

fn doubler(h: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let n = h.len();
    let mut out = vec![vec![0u8; 2 * n]; 2 * n];
    for i in 0..n {
        for j in 0..n {
            out[i][j] = h[i][j];
            out[i][j + n] = h[i][j];
            out[i + n][j] = h[i][j];
            out[i + n][j + n] = 1 - h[i][j];
        }
    }
    out
}

fn sylvester4() -> Vec<Vec<u8>> {
    vec![
        vec![1, 1, 1, 1],
        vec![1, 0, 1, 0],
        vec![1, 1, 0, 0],
        vec![1, 0, 0, 1],
    ]
}

/// R's `paley(n, nmax)`; `None` where R returns NULL.
fn paley(n: usize, nmax: usize, primes: &[usize]) -> Option<Vec<Vec<u8>>> {
    let nceil = n + 4 - (n % 4);
    let mut nn = nceil;
    if (n % 4) + 4 == n % 8 {
        while nn.is_multiple_of(8) {
            nn /= 2;
        }
        if nn >= 1 && primes.contains(&(nn - 1)) {
            let mut m = paley_prime(nn - 1);
            while nn < nceil {
                m = doubler(&m);
                nn *= 2;
            }
            return Some(m);
        }
    }
    if n > *primes.last().expect("the list is not empty") {
        return None;
    }
    let p = *primes.iter().find(|&&p| p >= n)?;
    if p + 1 > nceil + 4 && nceil + 4 < nmax {
        return paley(nceil + 3, 2 * (nceil + 3), primes);
    }
    if p > nmax {
        return None;
    }
    Some(paley_prime(p))
}

/// R's `hadamard(n)`: a 0/1 Hadamard matrix with more than n rows. `None`
/// when R would use its stored matrices of order 28 or 36.
pub fn hadamard(n: usize) -> Option<Vec<Vec<u8>>> {
    const SIZES: [usize; 4] = [4, 16, 28, 36];
    let stored = |k: usize| -> Option<Vec<Vec<u8>>> {
        match k {
            0 => Some(sylvester4()),
            1 => Some(doubler(&doubler(&sylvester4()))),
            _ => None,
        }
    };
    let m = n - n % 4;
    if let Some(k) = SIZES.iter().position(|&s| m < s && m + 4 >= s) {
        return stored(k);
    }
    if SIZES.iter().all(|&s| m < s) {
        return stored(0);
    }
    let sizes: Vec<usize> = SIZES
        .iter()
        .map(|&s| {
            let ratio = (n as f64 + 1.0) / s as f64;
            let d = ratio.log2().ceil().max(0.0) as u32;
            s * 2usize.pow(d)
        })
        .collect();
    let best = (0..4)
        .min_by_key(|&k| sizes[k] as i64 - n as i64)
        .expect("four sizes");
    let primes = small_primes();
    if sizes[best] - n > 4
        && let Some(h) = paley(n, sizes[best], &primes)
    {
        return Some(h);
    }
    let doubles = (sizes[best] / SIZES[best]).trailing_zeros();
    let mut h = stored(best)?;
    for _ in 0..doubles {
        h = doubler(&h);
    }
    Some(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_hadamard(h: &[Vec<u8>]) -> bool {
        let n = h.len();
        (0..n).all(|a| {
            (0..n).all(|b| {
                let dot: i64 = (0..n)
                    .map(|j| {
                        let x = if h[a][j] == 1 { 1 } else { -1 };
                        let y = if h[b][j] == 1 { 1 } else { -1 };
                        x * y
                    })
                    .sum();
                if a == b { dot == n as i64 } else { dot == 0 }
            })
        })
    }

    fn two_strata_design() -> Design {
        use crate::frame::{Column, Frame};
        let f = Frame::from_columns(vec![
            ("h".into(), Column::Number(vec![1., 1., 1., 2., 2., 2., 2.])),
            ("c".into(), Column::Number(vec![1., 2., 3., 4., 5., 6., 7.])),
            ("w".into(), Column::Number(vec![1.; 7])),
        ]);
        let spec: DesignSpec =
            serde_saphyr::from_str("weight: w\nstrata: h\nclusters: [c]\n").expect("spec");
        Design::build(&spec, &f).expect("design")
    }

    #[test]
    fn bootstrap_draws_keep_n_per_stratum_and_follow_the_seed() {
        let d = two_strata_design();
        for kind in [ReplicateType::Bootstrap, ReplicateType::Subbootstrap] {
            let spec = ReplicatesSpec {
                replicates: Some(30),
                seed: Some(7),
                ..ReplicatesSpec::default()
            };
            let a = form(&d, kind, &spec).expect("formed");
            let b = form(&d, kind, &spec).expect("formed");
            let (
                ReplicateMatrix::Psu {
                    factors: fa, n_psu, ..
                },
                ReplicateMatrix::Psu { factors: fb, .. },
            ) = (&a.matrix, &b.matrix)
            else {
                panic!("formed replicates are per PSU");
            };
            assert_eq!(fa, fb, "same seed, same draws");
            for r in 0..30 {
                let s1: f64 = fa[r * n_psu..r * n_psu + 3].iter().sum();
                let s2: f64 = fa[r * n_psu + 3..(r + 1) * n_psu].iter().sum();
                assert!(
                    (s1 - 3.0).abs() < 1e-12 && (s2 - 4.0).abs() < 1e-12,
                    "{kind:?} replicate {r}"
                );
            }
            let other = form(
                &d,
                kind,
                &ReplicatesSpec {
                    replicates: Some(30),
                    seed: Some(8),
                    ..ReplicatesSpec::default()
                },
            )
            .expect("formed");
            let ReplicateMatrix::Psu { factors: fc, .. } = &other.matrix else {
                panic!("per PSU");
            };
            assert_ne!(fa, fc, "another seed, other draws");
        }
    }

    #[test]
    fn hadamard_orders_follow_r() {
        for (n, order) in [
            (3, 4),
            (7, 8),
            (8, 12),
            (12, 16),
            (20, 24),
            (40, 44),
            (60, 64),
        ] {
            let h = hadamard(n).expect("constructible");
            assert_eq!(h.len(), order, "n = {n}");
            assert!(is_hadamard(&h), "n = {n}");
        }
        assert!(hadamard(25).is_none());
    }
}
