//! The design file (`design.yaml`) as written by the user, before it meets the
//! data. See `docs/design-file.md`; field names follow R's `svydesign` and
//! `svrepdesign` arguments.

use serde::{Deserialize, Serialize};

/// What R's option `survey.lonely.psu` does with a stratum that has a single
/// sampled PSU (`onestrat` in R's `survey`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LonelyPsu {
    /// Refuse the design (R's default).
    #[default]
    Fail,
    /// The stratum contributes nothing to the variance.
    Remove,
    /// The stratum's PSU total is squared about 0 instead of the stratum mean.
    Adjust,
    /// Singleton strata are left out and the rest scaled up by H / (H − singletons).
    Average,
    /// Treated as sampled with certainty: contributes nothing.
    Certainty,
}

impl LonelyPsu {
    pub fn as_str(self) -> &'static str {
        match self {
            LonelyPsu::Fail => "fail",
            LonelyPsu::Remove => "remove",
            LonelyPsu::Adjust => "adjust",
            LonelyPsu::Average => "average",
            LonelyPsu::Certainty => "certainty",
        }
    }
}

/// The replicate methods: read from columns (`type`) or formed (`form`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplicateType {
    Jk1,
    Jkn,
    Brr,
    Fay,
    /// R's bootstrap (`bootweights`): n_h PSUs drawn with replacement.
    Bootstrap,
    /// Rao–Wu rescaled bootstrap with m_h = n_h − 1 (R's `subbootstrap`).
    Subbootstrap,
    Other,
}

impl ReplicateType {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplicateType::Jk1 => "jk1",
            ReplicateType::Jkn => "jkn",
            ReplicateType::Brr => "brr",
            ReplicateType::Fay => "fay",
            ReplicateType::Bootstrap => "bootstrap",
            ReplicateType::Subbootstrap => "subbootstrap",
            ReplicateType::Other => "other",
        }
    }
}

/// `design.yaml`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DesignSpec {
    /// Sampling-weight column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<String>,
    /// Selection-probability column (instead of `weight`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<String>,
    /// First-stage strata column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strata: Option<String>,
    /// Cluster columns, one per stage.
    #[serde(
        default,
        deserialize_with = "crate::analysis_file::one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub clusters: Vec<String>,
    /// fpc columns, one per stage (or one for element sampling).
    #[serde(
        default,
        deserialize_with = "crate::analysis_file::one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub fpc: Vec<String>,
    /// Cluster ids are unique only within strata.
    #[serde(default)]
    pub nest: bool,
    #[serde(default)]
    pub lonely_psu: LonelyPsu,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicates: Option<ReplicatesSpec>,
    /// How the weights were calibrated, for linearization (R's
    /// `design$postStrata`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<CalibrationSpec>,
}

/// The calibration a weight went through (the `method` names of a
/// weighting plan, R's function in brackets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationMethod {
    /// `postStratify`: residuals from cell means weighted by the input weight.
    Poststratify,
    /// `rake`: R's ten sweeps of unweighted within-margin means.
    Rake,
    /// `calibrate(calfun = "linear")`, bounded or not.
    Linear,
    /// `calibrate(calfun = "raking")`.
    Raking,
    /// `calibrate(calfun = "logit")`.
    Logit,
}

impl CalibrationMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            CalibrationMethod::Poststratify => "poststratify",
            CalibrationMethod::Rake => "rake",
            CalibrationMethod::Linear => "linear",
            CalibrationMethod::Raking => "raking",
            CalibrationMethod::Logit => "logit",
        }
    }
}

/// A categorical calibration margin: one column, or a list of columns whose
/// combinations are the cells (a joint table).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum MarginColumns {
    One(String),
    Joint(Vec<String>),
}

impl MarginColumns {
    /// The columns of the margin.
    pub fn columns(&self) -> &[String] {
        match self {
            MarginColumns::One(c) => std::slice::from_ref(c),
            MarginColumns::Joint(v) => v,
        }
    }
}

/// The `calibration:` block: which calibration the analysis weight went
/// through, enough to replace the scores by R's calibration residuals
/// before the Taylor variance (see `docs/design-file.md`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationSpec {
    pub method: CalibrationMethod,
    /// The weight that entered calibration (d); not needed for `rake`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_weight: Option<String>,
    /// The weight right after calibration, when trimming changed it
    /// afterwards; default: the design's weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibrated_weight: Option<String>,
    /// Categorical margins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub margins: Vec<MarginColumns>,
    /// Numeric calibration variables (linear, raking, logit).
    #[serde(
        default,
        deserialize_with = "crate::analysis_file::one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub numeric: Vec<String>,
}

/// The `replicates:` block: either columns of replicate weights (`columns` or
/// `prefix`, with `type`) or replicates formed from the design (`form`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicatesSpec {
    #[serde(
        default,
        deserialize_with = "crate::analysis_file::one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub columns: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<ReplicateType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<ReplicateType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rho: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rscales: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mse: Option<bool>,
    /// Bootstrap: how many to form. With columns: the expected count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicates: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl DesignSpec {
    /// Every column the design reads (replicate columns given by `prefix`
    /// are not known until the header is seen, so they are not listed).
    pub fn columns(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(self.weight.iter().cloned());
        out.extend(self.probability.iter().cloned());
        out.extend(self.strata.iter().cloned());
        out.extend(self.clusters.iter().cloned());
        out.extend(self.fpc.iter().cloned());
        if let Some(r) = &self.replicates {
            out.extend(r.columns.iter().cloned());
        }
        if let Some(c) = &self.calibration {
            out.extend(c.input_weight.iter().cloned());
            out.extend(c.calibrated_weight.iter().cloned());
            for m in &c.margins {
                out.extend(m.columns().iter().cloned());
            }
            out.extend(c.numeric.iter().cloned());
        }
        out
    }
}
