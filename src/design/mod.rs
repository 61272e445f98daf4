//! The survey design: weights, strata, stages, fpc, lonely-PSU policy, or
//! replicate weights — with R `survey`'s semantics (`svydesign`,
//! `svrepdesign`, `as.svrepdesign`).
//!
//! A [`Design`] is built and checked once from a [`DesignSpec`] and a
//! [`Frame`] and is immutable afterwards; estimators trust it. Checks made
//! here, with R's wording where R has one: weights present, numeric and
//! positive; strata and cluster ids present; clusters nested in strata (or
//! `nest: true`); more than one PSU; fpc one per stage (or none), all counts
//! or all fractions, constant within strata, not below the sample size; no
//! lonely PSU under `lonely_psu: fail`.
//!
//! The variance method is either [`Linearization`] (Taylor, R's
//! `svyrecvar`) or [`ReplicateWeights`] (R's `svrVar`), every replicate
//! type reduced to weights, `scale`, `rscales` and `mse`.
//!
//! No I/O here: the caller reads files and renders errors.

pub mod calibration;
pub mod linearization;
pub mod rank;
pub mod replicate;
pub mod spec;

use std::collections::HashMap;

use thiserror::Error;

use crate::frame::{Column, Frame, FrameError};

pub use calibration::Calibration;
pub use linearization::{Linearization, Scratch, Variance};
pub use replicate::{ReplicateMatrix, ReplicateWeights};
pub use spec::{
    CalibrationMethod, CalibrationSpec, DesignSpec, LonelyPsu, MarginColumns, ReplicateType,
    ReplicatesSpec,
};

/// Why a design could not be built.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DesignError {
    /// A column of the design is missing or of the wrong type.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The design file says nothing usable, or contradicts itself.
    #[error("design file: {0}")]
    Spec(String),
    /// A weight or probability cell is empty.
    #[error("column `{column}` has no value at row {row}: every row needs a {what}")]
    MissingValue {
        column: String,
        row: u64,
        what: &'static str,
    },
    /// A weight is zero or negative (or a probability outside (0, 1]).
    #[error("column `{column}` holds {value} at row {row}: {what} must be {rule}")]
    BadWeight {
        column: String,
        row: u64,
        value: f64,
        what: &'static str,
        rule: &'static str,
    },
    /// A PSU id appears in two strata.
    #[error(
        "cluster `{cluster}` of column `{column}` appears in strata `{first}` and `{second}`: clusters are not nested in strata; set `nest: true` if ids restart in each stratum"
    )]
    NotNested {
        column: String,
        cluster: String,
        first: String,
        second: String,
    },
    /// The whole sample is one PSU.
    #[error("design has only one primary sampling unit; no design-based variance is possible")]
    OnePsu,
    /// A stratum with one sampled PSU under `lonely_psu: fail`.
    #[error(
        "stratum `{stratum}` has only one PSU at stage {stage}; set `lonely_psu` to remove, adjust, average or certainty, or collapse strata"
    )]
    LonelyPsu { stratum: String, stage: usize },
    /// fpc values that R would refuse.
    #[error("fpc column `{column}`: {message}")]
    Fpc { column: String, message: String },
    /// Replicate-weight columns that do not fit their type.
    #[error("replicate weights: {0}")]
    Replicates(String),
}

/// How the variance is computed.
#[derive(Debug, Clone)]
pub enum VarianceMethod {
    Linearization(Linearization),
    Replicates(ReplicateWeights),
}

/// A checked survey design over the rows of one frame.
#[derive(Debug, Clone)]
pub struct Design {
    weights: Vec<f64>,
    method: VarianceMethod,
    /// The linearization structure of a replicate design formed from a
    /// Taylor design (for weighting); a Taylor design keeps it in `method`.
    taylor: Option<Linearization>,
    /// Stage-1 PSU of each row and stratum of each PSU (Taylor designs).
    psu_of_row: Vec<u32>,
    stratum_of_psu: Vec<u32>,
    stratum_labels: Vec<String>,
    stage1_popsize: Option<Vec<f64>>,
    has_strata: bool,
    /// The residual step of a calibrated Taylor design (R's `postStrata`).
    calibration: Option<Calibration>,
}

impl Design {
    /// Number of rows.
    pub fn n(&self) -> usize {
        self.weights.len()
    }

    /// The full-sample analysis weights.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    pub fn method(&self) -> &VarianceMethod {
        &self.method
    }

    /// The linearization structure; `None` for designs read from replicate
    /// columns.
    pub fn linearization(&self) -> Option<&Linearization> {
        match &self.method {
            VarianceMethod::Linearization(l) => Some(l),
            VarianceMethod::Replicates(_) => self.taylor.as_ref(),
        }
    }

    /// True when the design has first-stage strata.
    pub fn has_strata(&self) -> bool {
        self.has_strata
    }

    /// Stage-1 PSU index of each row (Taylor designs; empty otherwise).
    pub fn psu_of_row(&self) -> &[u32] {
        &self.psu_of_row
    }

    /// Stratum index of each stage-1 PSU.
    pub fn stratum_of_psu(&self) -> &[u32] {
        &self.stratum_of_psu
    }

    pub fn stratum_labels(&self) -> &[String] {
        &self.stratum_labels
    }

    /// The calibration residual step of a Taylor design whose design file
    /// has a `calibration:` block.
    pub fn calibration(&self) -> Option<&Calibration> {
        self.calibration.as_ref()
    }

    /// The same design with other full-sample weights (e.g. calibrated), the
    /// structure unchanged. For replicate designs the replicate weights are
    /// not touched: re-form or re-calibrate them separately. A calibration
    /// block's residual step is dropped (it belongs to the old weights).
    ///
    /// # Panics
    ///
    /// When `weights` has the wrong length (a caller bug).
    pub fn with_weights(&self, weights: Vec<f64>) -> Design {
        assert_eq!(weights.len(), self.n(), "one weight per row");
        Design {
            weights,
            calibration: None,
            ..self.clone()
        }
    }

    /// Builds and checks a design from its spec and the data.
    pub fn build(spec: &DesignSpec, frame: &Frame) -> Result<Design, DesignError> {
        let n = frame.n_rows();
        if n == 0 {
            return Err(DesignError::Spec("the data have no rows".into()));
        }
        if spec.weight.is_some() && spec.probability.is_some() {
            return Err(DesignError::Spec(
                "give `weight` or `probability`, not both".into(),
            ));
        }
        if spec.calibration.is_some() && spec.replicates.is_some() {
            return Err(DesignError::Spec(
                "`calibration` is for Taylor linearization; replicate weights carry calibration by being re-calibrated one by one, so remove one of the two blocks".into(),
            ));
        }
        if let Some(r) = &spec.replicates
            && r.form.is_none()
        {
            return replicate::from_columns(spec, r, frame);
        }
        let mut design = build_taylor(spec, frame)?;
        if let Some(c) = &spec.calibration {
            let VarianceMethod::Linearization(lin) = &design.method else {
                unreachable!("a Taylor design was just built")
            };
            design.calibration = Some(Calibration::build(
                c,
                frame,
                &design.weights,
                lin.unit_of_row(),
                lin.n_units(),
            )?);
        }
        if let Some(r) = &spec.replicates
            && let Some(kind) = r.form
        {
            let formed = replicate::form(&design, kind, r)?;
            let taylor = std::mem::replace(&mut design.method, VarianceMethod::Replicates(formed));
            if let VarianceMethod::Linearization(l) = taylor {
                design.taylor = Some(l);
            }
        }
        Ok(design)
    }
}

/// Row keys of an id column: equal keys, same id.
fn id_keys(column: &Column) -> Vec<u64> {
    match column {
        Column::Number(v) => v.iter().map(|x| (x + 0.0).to_bits()).collect(),
        Column::Small(v) => v.iter().map(|&x| f64::from(x).to_bits()).collect(),
        Column::Text(t) => t.codes.iter().map(|&c| u64::from(c)).collect(),
    }
}

fn id_column<'a>(
    frame: &'a Frame,
    name: &str,
    what: &'static str,
) -> Result<&'a Column, DesignError> {
    let column = frame.column(name)?;
    if let Some(i) = (0..column.len()).find(|&i| column.is_missing(i)) {
        return Err(DesignError::MissingValue {
            column: name.to_owned(),
            row: i as u64 + 1,
            what,
        });
    }
    Ok(column)
}

/// Indexes rows by key, in order of first appearance.
fn index_keys<K: std::hash::Hash + Eq + Copy>(
    keys: impl Iterator<Item = K>,
) -> (Vec<u32>, Vec<usize>) {
    // Ids are not adversarial: the Fx hash is enough and much faster.
    let mut map: HashMap<K, u32, std::hash::BuildHasherDefault<crate::frame::FxHasher>> =
        HashMap::default();
    let mut first = Vec::new();
    let idx = keys
        .enumerate()
        .map(|(i, k)| {
            *map.entry(k).or_insert_with(|| {
                first.push(i);
                (first.len() - 1) as u32
            })
        })
        .collect();
    (idx, first)
}

/// Indexes rows by (parent, id), in order of first appearance: a cluster id
/// names a cluster only within its parent (stratum under `nest`, or the
/// cluster of the stage above). `parent` is `None` when there is one.
///
/// Most ids are small whole numbers or text codes: those go through a table
/// of parents × ids, which costs no hashing and little cache; others (and
/// tables that would be large beside the data) through a hash map.
fn index_ids(parent: Option<&[u32]>, n_parents: usize, col: &Column) -> (Vec<u32>, Vec<usize>) {
    let n = col.len();
    let parent_of = |i: usize| parent.map_or(0, |p| p[i] as usize);
    // Dense id of each row, and how many there can be.
    let dense: Option<(Vec<u32>, usize)> = match col {
        Column::Small(v) => Some((
            v.iter().map(|&x| (i16::from(x) + 128) as u32).collect(),
            256,
        )),
        Column::Text(t) => Some((t.codes.clone(), t.levels.len())),
        Column::Number(v) => {
            let whole = v
                .iter()
                .all(|&x| x >= 0.0 && x < f64::from(u32::MAX) && x.fract() == 0.0);
            let max = v.iter().fold(0.0f64, |m, &x| m.max(x));
            (whole && (max as usize) < 2 * n.max(1 << 16))
                .then(|| (v.iter().map(|&x| x as u32).collect(), max as usize + 1))
        }
    };
    match dense {
        Some((ids, width)) if n_parents.saturating_mul(width) <= 2 * n.max(1 << 16) => {
            let mut table = vec![u32::MAX; n_parents * width];
            let mut first = Vec::new();
            let idx = ids
                .iter()
                .enumerate()
                .map(|(i, &id)| {
                    let slot = &mut table[parent_of(i) * width + id as usize];
                    if *slot == u32::MAX {
                        *slot = first.len() as u32;
                        first.push(i);
                    }
                    *slot
                })
                .collect();
            (idx, first)
        }
        _ => {
            let keys = id_keys(col);
            index_keys((0..n).map(|i| (parent_of(i) as u64, keys[i])))
        }
    }
}

fn build_taylor(spec: &DesignSpec, frame: &Frame) -> Result<Design, DesignError> {
    let n = frame.n_rows();
    // Strata.
    let (stratum_of_row, stratum_first, stratum_labels, has_strata) = match &spec.strata {
        Some(name) => {
            let col = id_column(frame, name, "stratum")?;
            let (idx, first) = index_ids(None, 1, col);
            let labels = first
                .iter()
                .map(|&i| col.display(i).unwrap_or_default())
                .collect();
            (idx, first, labels, true)
        }
        None => (vec![0; n], vec![0], vec!["1".to_owned()], false),
    };
    let _ = stratum_first;
    let n_stages = spec.clusters.len().max(1);
    // Cluster index per stage, nested in the previous stage (and in strata with nest).
    let mut cluster_of_row: Vec<Vec<u32>> = Vec::with_capacity(n_stages);
    let mut cluster_first: Vec<Vec<usize>> = Vec::with_capacity(n_stages);
    if spec.clusters.is_empty() {
        cluster_of_row.push((0..n as u32).collect());
        cluster_first.push((0..n).collect());
    } else {
        for (s, name) in spec.clusters.iter().enumerate() {
            let col = id_column(frame, name, "cluster id")?;
            let (idx, first) = if s == 0 {
                if spec.nest {
                    index_ids(Some(&stratum_of_row), stratum_labels.len(), col)
                } else {
                    index_ids(None, 1, col)
                }
            } else {
                index_ids(
                    Some(&cluster_of_row[s - 1]),
                    cluster_first[s - 1].len(),
                    col,
                )
            };
            if s == 0 && has_strata && !spec.nest {
                // R: "Clusters not nested in strata at top level; you may want nest=TRUE."
                let mut stratum_of: Vec<u32> = vec![u32::MAX; first.len()];
                for i in 0..n {
                    let c = idx[i] as usize;
                    let h = stratum_of_row[i];
                    if stratum_of[c] == u32::MAX {
                        stratum_of[c] = h;
                    } else if stratum_of[c] != h {
                        return Err(DesignError::NotNested {
                            column: name.clone(),
                            cluster: col.display(i).unwrap_or_default(),
                            first: stratum_labels[stratum_of[c] as usize].clone(),
                            second: stratum_labels[h as usize].clone(),
                        });
                    }
                }
            }
            cluster_of_row.push(idx);
            cluster_first.push(first);
        }
    }
    if cluster_first[0].len() == 1 && !(spec.nest && has_strata) {
        return Err(DesignError::OnePsu);
    }
    // Strata of each stage's clusters and sample sizes.
    let mut stages_full: Vec<linearization::Stage> = Vec::with_capacity(n_stages);
    for s in 0..n_stages {
        let first = &cluster_first[s];
        let n_clusters = first.len();
        let (stratum_of_cluster, n_strata, labels): (Vec<u32>, usize, Vec<String>) = if s == 0 {
            (
                first.iter().map(|&i| stratum_of_row[i]).collect(),
                stratum_labels.len(),
                stratum_labels.clone(),
            )
        } else {
            let parent = &cluster_of_row[s - 1];
            let label_col = frame.column(&spec.clusters[s - 1])?;
            let parent_first = &cluster_first[s - 1];
            (
                first.iter().map(|&i| parent[i]).collect(),
                parent_first.len(),
                parent_first
                    .iter()
                    .map(|&i| {
                        format!(
                            "{}={}",
                            spec.clusters[s - 1],
                            label_col.display(i).unwrap_or_default()
                        )
                    })
                    .collect(),
            )
        };
        let mut n_sampled = vec![0u32; n_strata];
        for &h in &stratum_of_cluster {
            n_sampled[h as usize] += 1;
        }
        stages_full.push(linearization::Stage {
            cluster_of_unit: Vec::new(),
            stratum_of_cluster,
            n_clusters,
            n_strata,
            n_sampled,
            popsize: None,
            stratum_labels: labels,
        });
    }
    // fpc: one per stage, all counts or all fractions (R's as.fpc).
    if !spec.fpc.is_empty() {
        if spec.fpc.len() != n_stages {
            return Err(DesignError::Spec(format!(
                "`fpc` names {} column(s) but the design has {} stage(s): give one fpc per stage or none",
                spec.fpc.len(),
                n_stages
            )));
        }
        let mut values: Vec<Vec<f64>> = Vec::new();
        for (s, name) in spec.fpc.iter().enumerate() {
            let v = frame.numbers(name)?;
            let stage = &stages_full[s];
            let mut per: Vec<f64> = vec![f64::NAN; stage.n_strata];
            for i in 0..n {
                let x = v[i];
                if x.is_nan() {
                    return Err(DesignError::MissingValue {
                        column: name.clone(),
                        row: i as u64 + 1,
                        what: "fpc",
                    });
                }
                if x < 0.0 {
                    return Err(DesignError::Fpc {
                        column: name.clone(),
                        message: format!("negative value {x} at row {}", i + 1),
                    });
                }
                let h = stage.stratum_of_cluster[cluster_of_row[s][i] as usize] as usize;
                if per[h].is_nan() {
                    per[h] = x;
                } else if per[h] != x {
                    return Err(DesignError::Fpc {
                        column: name.clone(),
                        message: format!(
                            "value {x} at row {} differs from {} elsewhere in stratum `{}`: fpc must be constant within a stratum",
                            i + 1,
                            per[h],
                            stage.stratum_labels[h]
                        ),
                    });
                }
            }
            values.push(per);
        }
        let any_big = values.iter().flatten().any(|&x| x > 1.0);
        let all_ge1 = values.iter().flatten().all(|&x| x >= 1.0);
        if any_big != all_ge1 {
            return Err(DesignError::Fpc {
                column: spec.fpc.join(", "),
                message: "give all fpc as population counts (>= 1) or all as sampling fractions (<= 1), not a mix".into(),
            });
        }
        for (s, per) in values.into_iter().enumerate() {
            let stage = &mut stages_full[s];
            let pop: Vec<f64> = per
                .iter()
                .zip(&stage.n_sampled)
                .map(|(&x, &m)| if any_big { x } else { f64::from(m) / x })
                .collect();
            for (h, (&p, &m)) in pop.iter().zip(&stage.n_sampled).enumerate() {
                if p < f64::from(m) {
                    return Err(DesignError::Fpc {
                        column: spec.fpc[s].clone(),
                        message: format!(
                            "stratum `{}` at stage {} has {m} sampled units but a population of {p}: fpc implies more than 100% sampling",
                            stage.stratum_labels[h],
                            s + 1
                        ),
                    });
                }
            }
            stage.popsize = Some(pop);
        }
    }
    // Weights.
    let weights = row_weights(spec, frame, &stages_full, &cluster_of_row)?;
    // Stages used for variance: all when later-stage fpc are given.
    let used = if spec.fpc.is_empty() { 1 } else { n_stages };
    stages_full.truncate(used);
    let unit_of_row = cluster_of_row[used - 1].clone();
    let n_units = cluster_first[used - 1].len();
    for (s, stage) in stages_full.iter_mut().enumerate() {
        let mut map = vec![0u32; n_units];
        for i in 0..n {
            map[unit_of_row[i] as usize] = cluster_of_row[s][i];
        }
        stage.cluster_of_unit = map;
    }
    // Lonely PSUs under `fail` (R stops in onestrat at the first estimate).
    if spec.lonely_psu == LonelyPsu::Fail {
        for (s, stage) in stages_full.iter().enumerate() {
            for h in 0..stage.n_strata {
                if stage.n_sampled[h] == 1 && stage.fpc_factor(h) >= 1e-7 {
                    return Err(DesignError::LonelyPsu {
                        stratum: stage.stratum_labels[h].clone(),
                        stage: s + 1,
                    });
                }
            }
        }
    }
    let stratum_of_psu = stages_full[0].stratum_of_cluster.clone();
    let stage1_popsize = stages_full[0].popsize.clone();
    let taylor = Linearization {
        lonely_psu: spec.lonely_psu,
        unit_of_row,
        n_units,
        stages: stages_full,
    };
    Ok(Design {
        weights,
        method: VarianceMethod::Linearization(taylor),
        taylor: None,
        psu_of_row: cluster_of_row.swap_remove(0),
        stratum_of_psu,
        stratum_labels,
        stage1_popsize,
        has_strata,
        calibration: None,
    })
}

/// Sampling weights: the `weight` column, 1/`probability`, the product of
/// N/n over stages when only fpc are given (as R), or 1.
pub(crate) fn row_weights(
    spec: &DesignSpec,
    frame: &Frame,
    stages: &[linearization::Stage],
    cluster_of_row: &[Vec<u32>],
) -> Result<Vec<f64>, DesignError> {
    if let Some(name) = &spec.weight {
        return checked_weights(frame, name);
    }
    if let Some(name) = &spec.probability {
        let p = frame.numbers(name)?;
        let mut w = Vec::with_capacity(p.len());
        for (i, &x) in p.iter().enumerate() {
            if x.is_nan() {
                return Err(DesignError::MissingValue {
                    column: name.clone(),
                    row: i as u64 + 1,
                    what: "probability",
                });
            }
            if !(x > 0.0 && x <= 1.0) {
                return Err(DesignError::BadWeight {
                    column: name.clone(),
                    row: i as u64 + 1,
                    value: x,
                    what: "a selection probability",
                    rule: "greater than 0 and at most 1",
                });
            }
            w.push(1.0 / x);
        }
        return Ok(w);
    }
    let n = frame.n_rows();
    if stages.iter().all(|s| s.popsize.is_some()) && !spec.fpc.is_empty() {
        let mut w = vec![1.0; n];
        for (s, stage) in stages.iter().enumerate() {
            let pop = stage.popsize.as_ref().expect("checked above");
            for (i, wi) in w.iter_mut().enumerate() {
                let h = stage.stratum_of_cluster[cluster_of_row[s][i] as usize] as usize;
                *wi *= pop[h] / f64::from(stage.n_sampled[h]);
            }
        }
        return Ok(w);
    }
    Ok(vec![1.0; n])
}

/// A weight column: numeric, present, positive.
pub(crate) fn checked_weights(frame: &Frame, name: &str) -> Result<Vec<f64>, DesignError> {
    let w = frame.numbers(name)?;
    for (i, &x) in w.iter().enumerate() {
        if x.is_nan() {
            return Err(DesignError::MissingValue {
                column: name.to_owned(),
                row: i as u64 + 1,
                what: "weight",
            });
        }
        if x <= 0.0 {
            return Err(DesignError::BadWeight {
                column: name.to_owned(),
                row: i as u64 + 1,
                value: x,
                what: "a sampling weight",
                rule: "positive",
            });
        }
    }
    Ok(w.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(cols: &[(&str, Vec<f64>)]) -> Frame {
        Frame::from_columns(
            cols.iter()
                .map(|(n, v)| (n.to_string(), Column::Number(v.clone())))
                .collect(),
        )
    }

    fn spec(yaml: &str) -> DesignSpec {
        serde_saphyr::from_str(yaml).expect("test spec parses")
    }

    #[test]
    fn lonely_psu_under_fail_names_the_stratum() {
        let f = frame(&[
            ("h", vec![1.0, 1.0, 2.0]),
            ("c", vec![1.0, 2.0, 3.0]),
            ("w", vec![1.0, 1.0, 1.0]),
        ]);
        let err = Design::build(&spec("weight: w\nstrata: h\nclusters: [c]\n"), &f)
            .expect_err("stratum 2 is lonely");
        assert!(err.to_string().contains("stratum `2`"), "{err}");
    }

    #[test]
    fn clusters_not_nested_suggest_nest() {
        let f = frame(&[
            ("h", vec![1.0, 1.0, 2.0, 2.0]),
            ("c", vec![1.0, 2.0, 1.0, 2.0]),
            ("w", vec![1.0; 4]),
        ]);
        let err = Design::build(&spec("weight: w\nstrata: h\nclusters: [c]\n"), &f)
            .expect_err("ids repeat across strata");
        assert!(err.to_string().contains("nest: true"), "{err}");
        Design::build(
            &spec("weight: w\nstrata: h\nclusters: [c]\nnest: true\n"),
            &f,
        )
        .expect("nested ids are fine");
    }

    #[test]
    fn zero_weight_names_row_and_column() {
        let f = frame(&[("w", vec![1.0, 0.0])]);
        let err = Design::build(&spec("weight: w\n"), &f).expect_err("zero weight");
        let msg = err.to_string();
        assert!(msg.contains("`w`") && msg.contains("row 2"), "{msg}");
    }

    #[test]
    fn calibration_goes_with_taylor_designs_only() {
        let f = frame(&[
            ("c", vec![1.0, 2.0, 3.0, 4.0]),
            ("s", vec![1.0, 1.0, 2.0, 2.0]),
            ("w", vec![1.0, 2.0, 3.0, 4.0]),
        ]);
        let block = "calibration: {method: poststratify, input_weight: w, margins: [s]}\n";
        let err = Design::build(
            &spec(&format!(
                "weight: w\nclusters: [c]\nreplicates: {{form: jk1}}\n{block}"
            )),
            &f,
        )
        .expect_err("both blocks");
        assert!(err.to_string().contains("remove one"), "{err}");
        let d = Design::build(&spec(&format!("weight: w\nclusters: [c]\n{block}")), &f)
            .expect("a calibrated Taylor design");
        assert!(d.calibration().is_some());
        assert!(d.with_weights(vec![1.0; 4]).calibration().is_none());
    }

    #[test]
    fn mixed_fpc_is_refused() {
        let f = frame(&[
            ("h", vec![1.0, 1.0, 2.0, 2.0]),
            ("fpc", vec![0.5, 0.5, 10.0, 10.0]),
        ]);
        let err = Design::build(&spec("strata: h\nfpc: [fpc]\n"), &f).expect_err("mixed");
        assert!(matches!(err, DesignError::Fpc { .. }), "{err}");
    }
}
