//! The weighting plan (`weights/<plan>.yaml`) and its application to a
//! table of microdata.
//!
//! A plan is a reviewed file that says, step by step, how final weights
//! are made; `docs/weighting.md` specifies it for users. The steps always
//! run in this order, each optional except the first:
//!
//! 1. `base`: d = Π 1/π over the listed probability columns (one per
//!    stage), times the listed weight columns;
//! 2. `within_household`: × the number of eligible adults, or ÷ the
//!    recorded selection probability;
//! 3. `nonresponse`: weighting-class adjustment with collapsing
//!    ([`super::adjust::nonresponse`]); nonrespondents get weight 0;
//! 4. `calibration`: post-stratification, rake, or calibrate with a
//!    linear, truncated linear, raking or logit distance;
//! 5. `trimming`: R's `trimWeights` with redistribution;
//! 6. `replicates`: replicate columns of the data (replicate design weights
//!    or multipliers of the base weight) go through steps 3 to 5 again,
//!    each calibrated on its own, so that the replicate variance accounts
//!    for nonresponse adjustment and calibration.
//!
//! Nothing here reads files: the caller reads the data (a [`Frame`], or
//! anything that implements [`Columns`]) and the target tables ([`Table`]s)
//! and hands them over.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::WeightingError;
use super::adjust::{self, CollapseRule};
use super::calibrate::{self, Bounds, CalFun, CalibrationOptions};
use super::diagnostics::StepReport;
use super::margins::{Margin, ModelMatrix, NumericTotal, check_totals};
use super::poststratify::post_stratify;
use super::rake::{RakeControl, rake};
use super::trim::trim_weights;
use crate::design::{
    CalibrationMethod, CalibrationSpec, Design, DesignSpec, LonelyPsu, MarginColumns,
    ReplicateType, ReplicatesSpec,
};
use crate::frame::{Column, Frame, TextColumn};

/// A weighting plan, as written in `weights/<plan>.yaml`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub base: BaseStep,
    #[serde(default)]
    pub within_household: Option<WithinHousehold>,
    #[serde(default)]
    pub nonresponse: Option<NonresponseStep>,
    #[serde(default)]
    pub calibration: Option<CalibrationStep>,
    #[serde(default)]
    pub trimming: Option<TrimmingStep>,
    #[serde(default)]
    pub replicates: Option<ReplicateStep>,
    #[serde(default)]
    pub output: OutputNames,
}

/// Base weights: selection probabilities per stage, and/or weight columns.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BaseStep {
    #[serde(default, deserialize_with = "crate::analysis_file::one_or_many")]
    pub probabilities: Vec<String>,
    #[serde(default, deserialize_with = "crate::analysis_file::one_or_many")]
    pub weights: Vec<String>,
}

/// Within-household selection: one of the two columns.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WithinHousehold {
    /// Number of eligible adults (the weight is multiplied by it).
    #[serde(default)]
    pub adults: Option<String>,
    /// Recorded selection probability (the weight is divided by it).
    #[serde(default)]
    pub probability: Option<String>,
}

fn default_respondent_value() -> String {
    "1".into()
}

fn default_min_respondents() -> usize {
    20
}

/// Nonresponse adjustment by weighting classes.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NonresponseStep {
    /// Column that says whether the unit responded.
    pub respondent: String,
    /// The value of that column for respondents.
    #[serde(default = "default_respondent_value")]
    pub respondent_value: String,
    /// Columns whose combinations are the weighting classes.
    #[serde(default, deserialize_with = "crate::analysis_file::one_or_many")]
    pub classes: Vec<String>,
    #[serde(default = "default_min_respondents")]
    pub min_respondents: usize,
    #[serde(default)]
    pub max_factor: Option<f64>,
}

/// Calibration methods; R's names in the docs.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// `postStratify` on one (possibly joint) margin.
    Poststratify,
    /// `rake`: iterative proportional fitting on categorical margins.
    Rake,
    /// `calibrate(calfun = "linear")`; with `bounds`, truncated linear.
    Linear,
    /// `calibrate(calfun = "raking")`.
    Raking,
    /// `calibrate(calfun = "logit", bounds = ...)`.
    Logit,
}

/// One calibration margin: categorical (`variable` or `variables` with a
/// `targets` CSV) or numeric (`variable` with a `total`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MarginStep {
    #[serde(default)]
    pub variable: Option<String>,
    #[serde(default, deserialize_with = "crate::analysis_file::one_or_many")]
    pub variables: Vec<String>,
    /// A CSV with one column per variable and a `total` column, relative to
    /// the plan file.
    #[serde(default)]
    pub targets: Option<String>,
    /// The population total of a numeric variable.
    #[serde(default)]
    pub total: Option<f64>,
}

fn default_total_tolerance() -> f64 {
    1e-6
}

/// Calibration to population totals.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CalibrationStep {
    pub method: Method,
    pub margins: Vec<MarginStep>,
    #[serde(default)]
    pub bounds: Option<[f64; 2]>,
    #[serde(default)]
    pub epsilon: Option<f64>,
    #[serde(default)]
    pub maxit: Option<usize>,
    /// R's `calibrate(trim = c(a, b))` on g (iterative methods only).
    #[serde(default)]
    pub trim: Option<[f64; 2]>,
    /// Margins must agree on the population size to this, relative.
    #[serde(default = "default_total_tolerance")]
    pub total_tolerance: f64,
}

/// Trimming of the final weights (R's `trimWeights`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrimmingStep {
    #[serde(default)]
    pub lower: Option<f64>,
    #[serde(default)]
    pub upper: Option<f64>,
    #[serde(default)]
    pub strict: bool,
}

/// What the replicate columns of the data hold.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum ReplicateKind {
    /// Replicate design weights (base weight steps already applied).
    #[default]
    Weights,
    /// Multipliers of the weight after the within-household step.
    Multipliers,
}

/// Replicate weights, re-weighted by the same plan: read from columns
/// (`columns` or `prefix`) or formed by the design module (`form`, with the
/// design's strata, clusters and fpc, as R's `as.svrepdesign`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReplicateStep {
    #[serde(default, deserialize_with = "crate::analysis_file::one_or_many")]
    pub columns: Vec<String>,
    /// All columns whose name is this prefix followed by digits, in order.
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub kind: ReplicateKind,
    /// Form replicates from the design: jk1, jkn, brr, fay or bootstrap.
    #[serde(default)]
    pub form: Option<ReplicateType>,
    #[serde(default)]
    pub strata: Option<String>,
    #[serde(default, deserialize_with = "crate::analysis_file::one_or_many")]
    pub clusters: Vec<String>,
    #[serde(default, deserialize_with = "crate::analysis_file::one_or_many")]
    pub fpc: Vec<String>,
    #[serde(default)]
    pub nest: bool,
    #[serde(default)]
    pub lonely_psu: LonelyPsu,
    /// Fay's rho.
    #[serde(default)]
    pub rho: Option<f64>,
    /// Bootstrap: number of replicates.
    #[serde(default)]
    pub replicates: Option<usize>,
    /// Bootstrap: seed of the draws.
    #[serde(default)]
    pub seed: Option<u64>,
}

/// The variance settings of formed replicates, for the design file of the
/// weighted data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplicateDesign {
    pub kind: ReplicateType,
    pub scale: f64,
    pub rscales: Vec<f64>,
    pub mse: bool,
    pub rho: f64,
}

fn default_weight_name() -> String {
    "final_weight".into()
}

fn default_replicate_prefix() -> String {
    "final_rw".into()
}

/// Names of the columns added to the data.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OutputNames {
    #[serde(default = "default_weight_name")]
    pub weight: String,
    #[serde(default = "default_replicate_prefix")]
    pub replicate_prefix: String,
}

impl Default for OutputNames {
    fn default() -> Self {
        OutputNames {
            weight: default_weight_name(),
            replicate_prefix: default_replicate_prefix(),
        }
    }
}

/// Columns of text, as read from a CSV: the targets tables, and data for
/// callers without a [`Frame`] (tests).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub names: Vec<String>,
    pub columns: Vec<Vec<String>>,
}

impl Table {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }

    /// True when the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&[String]> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|k| self.columns[k].as_slice())
    }

    fn need(&self, name: &str, step: &str) -> Result<&[String], WeightingError> {
        self.column(name)
            .ok_or_else(|| WeightingError::MissingColumn {
                column: name.to_string(),
                step: step.to_string(),
            })
    }

    fn numbers(&self, name: &str, step: &str) -> Result<Vec<f64>, WeightingError> {
        self.need(name, step)?
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.parse::<f64>().map_err(|_| WeightingError::NotANumber {
                    row: i + 1,
                    column: name.to_string(),
                    value: v.clone(),
                })
            })
            .collect()
    }
}

/// Labels of a categorical column: a code per row into `levels`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Labels {
    pub codes: Vec<u32>,
    pub levels: Vec<String>,
}

impl Labels {
    /// The label of row `i`.
    pub fn get(&self, i: usize) -> &str {
        &self.levels[self.codes[i] as usize]
    }

    /// Codes text values in order of first appearance.
    pub fn intern<'s>(values: impl Iterator<Item = &'s str>) -> Labels {
        let mut index: HashMap<&'s str, u32> = HashMap::new();
        let mut levels = Vec::new();
        let codes = values
            .map(|v| {
                *index.entry(v).or_insert_with(|| {
                    levels.push(v.to_string());
                    (levels.len() - 1) as u32
                })
            })
            .collect();
        Labels { codes, levels }
    }
}

/// The data a plan reads: numbers and labelled categories by column name.
/// Implemented for [`Table`] (text cells) and for the `frame` module's
/// [`Frame`] (typed, coded columns), which `vicor weight` uses.
pub trait Columns {
    fn n_rows(&self) -> usize;
    fn column_names(&self) -> Vec<String>;
    /// A column as numbers; an empty cell or text is an error naming the row.
    fn numbers(&self, name: &str, step: &str) -> Result<Vec<f64>, WeightingError>;
    /// A column as labels; an empty cell is the label "".
    fn labels(&self, name: &str, step: &str) -> Result<Labels, WeightingError>;
}

impl Columns for Table {
    fn n_rows(&self) -> usize {
        self.len()
    }

    fn column_names(&self) -> Vec<String> {
        self.names.clone()
    }

    fn numbers(&self, name: &str, step: &str) -> Result<Vec<f64>, WeightingError> {
        Table::numbers(self, name, step)
    }

    fn labels(&self, name: &str, step: &str) -> Result<Labels, WeightingError> {
        Ok(Labels::intern(
            self.need(name, step)?.iter().map(String::as_str),
        ))
    }
}

impl Columns for Frame {
    fn n_rows(&self) -> usize {
        Frame::n_rows(self)
    }

    fn column_names(&self) -> Vec<String> {
        self.names().to_vec()
    }

    fn numbers(&self, name: &str, step: &str) -> Result<Vec<f64>, WeightingError> {
        let missing = || WeightingError::MissingColumn {
            column: name.to_string(),
            step: step.to_string(),
        };
        match self.column(name).map_err(|_| missing())? {
            Column::Text(t) => {
                let i = (0..t.codes.len())
                    .find(|&i| t.get(i).is_some_and(|v| v.parse::<f64>().is_err()));
                Err(WeightingError::NotANumber {
                    row: i.map_or(1, |i| i + 1),
                    column: name.to_string(),
                    value: i.and_then(|i| t.get(i)).unwrap_or_default().to_string(),
                })
            }
            _ => {
                let v = Frame::numbers(self, name).map_err(|_| missing())?;
                match v.iter().position(|x| x.is_nan()) {
                    Some(i) => Err(WeightingError::NotANumber {
                        row: i + 1,
                        column: name.to_string(),
                        value: String::new(),
                    }),
                    None => Ok(v.into_owned()),
                }
            }
        }
    }

    fn labels(&self, name: &str, step: &str) -> Result<Labels, WeightingError> {
        let missing = || WeightingError::MissingColumn {
            column: name.to_string(),
            step: step.to_string(),
        };
        Ok(match self.column(name).map_err(|_| missing())? {
            Column::Text(t) => {
                let mut levels = t.levels.clone();
                let empty = levels.len() as u32;
                let mut has_missing = false;
                let codes = t
                    .codes
                    .iter()
                    .map(|&c| {
                        if c == crate::frame::MISSING {
                            has_missing = true;
                            empty
                        } else {
                            c
                        }
                    })
                    .collect();
                if has_missing {
                    levels.push(String::new());
                }
                Labels { codes, levels }
            }
            _ => {
                let v = Frame::numbers(self, name).map_err(|_| missing())?;
                let mut index: HashMap<u64, u32> = HashMap::new();
                let mut levels = Vec::new();
                let codes = v
                    .iter()
                    .map(|x| {
                        *index.entry((x + 0.0).to_bits()).or_insert_with(|| {
                            levels.push(if x.is_nan() {
                                String::new()
                            } else {
                                x.to_string()
                            });
                            (levels.len() - 1) as u32
                        })
                    })
                    .collect();
                Labels { codes, levels }
            }
        })
    }
}

/// The outcome of a plan: final weights (0 for nonrespondents), replicate
/// weights, and what every step did.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightingRun {
    pub weights: Vec<f64>,
    /// One vector per replicate column, in order.
    pub replicates: Vec<Vec<f64>>,
    pub replicate_names: Vec<String>,
    pub steps: Vec<StepReport>,
    /// Replicates only: the largest iterations and margin error over them.
    pub replicate_summary: Option<ReplicateSummary>,
    /// Formed replicates only: their type, scale and rscales.
    pub replicate_design: Option<ReplicateDesign>,
    /// With a calibration step: the full sample's weight entering
    /// calibration (d) and right after it (before trimming), 0 for
    /// nonrespondents, for the design file's `calibration:` block.
    pub calibration_weights: Option<(Vec<f64>, Vec<f64>)>,
}

/// How the replicate re-weighting went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplicateSummary {
    pub count: usize,
    pub max_iterations: usize,
    pub max_margin_error: f64,
    pub trimmed: usize,
}

impl Plan {
    /// Reads a plan from YAML text.
    pub fn from_yaml(text: &str) -> Result<Plan, WeightingError> {
        let plan: Plan =
            crate::analysis_file::from_str(crate::analysis_file::FileKind::Plan, text)?;
        plan.check().map_err(|e| match e {
            // Every message of `check` starts with its step: point at it.
            WeightingError::Plan(m) => {
                match m
                    .split_once(": ")
                    .and_then(|(step, _)| crate::analysis_file::at_key(text, step, m.as_str()))
                {
                    Some(located) => WeightingError::File(Box::new(located)),
                    None => WeightingError::Plan(m),
                }
            }
            e => e,
        })?;
        Ok(plan)
    }

    /// Checks the settings that serde cannot.
    pub fn check(&self) -> Result<(), WeightingError> {
        let bad = |m: &str| Err(WeightingError::Plan(m.to_string()));
        if self.base.probabilities.is_empty() && self.base.weights.is_empty() {
            return bad(
                "base: list the selection probability columns (one per stage) or weight columns",
            );
        }
        if let Some(h) = &self.within_household
            && h.adults.is_some() == h.probability.is_some()
        {
            return bad("within_household: give exactly one of `adults` or `probability`");
        }
        if let Some(c) = &self.calibration {
            if c.margins.is_empty() {
                return bad("calibration: list at least one margin");
            }
            for m in &c.margins {
                let vars = m.variable.is_some() as usize + (!m.variables.is_empty()) as usize;
                if vars != 1 {
                    return bad(
                        "calibration: each margin names `variable` or `variables`, not both",
                    );
                }
                if m.targets.is_some() == m.total.is_some() {
                    return bad(
                        "calibration: each margin has `targets` (a CSV) or `total` (a number)",
                    );
                }
                if m.total.is_some() && m.variable.is_none() {
                    return bad("calibration: a numeric margin (`total`) names one `variable`");
                }
            }
            let numeric = c.margins.iter().any(|m| m.total.is_some());
            match c.method {
                Method::Poststratify if c.margins.len() != 1 || numeric => {
                    return bad(
                        "calibration: poststratify takes one categorical margin (use `variables` for a joint table)",
                    );
                }
                Method::Rake if numeric => {
                    return bad(
                        "calibration: rake takes categorical margins only; use `raking` for numeric totals",
                    );
                }
                Method::Logit if c.bounds.is_none() => {
                    return bad("calibration: logit needs `bounds: [lower, upper]`");
                }
                _ => {}
            }
            if c.maxit == Some(0) || c.epsilon.is_some_and(|e| e.is_nan() || e <= 0.0) {
                return bad("calibration: maxit must be at least 1 and epsilon positive");
            }
        }
        if let Some(r) = &self.replicates {
            let sources = (!r.columns.is_empty()) as usize
                + r.prefix.is_some() as usize
                + r.form.is_some() as usize;
            if sources != 1 {
                return bad("replicates: give one of `columns`, `prefix` or `form`");
            }
            if r.form.is_none()
                && (r.strata.is_some() || !r.clusters.is_empty() || !r.fpc.is_empty())
            {
                return bad("replicates: `strata`, `clusters` and `fpc` go with `form`");
            }
            if r.form == Some(ReplicateType::Other) {
                return bad("replicates: `form` is one of jk1, jkn, brr, fay, bootstrap");
            }
        }
        Ok(())
    }

    /// Columns the plan reads as categories (margins, classes, the
    /// respondent flag, strata and clusters): read them as text so that
    /// labels such as `01` keep their spelling.
    pub fn text_columns(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(nr) = &self.nonresponse {
            out.push(nr.respondent.clone());
            out.extend(nr.classes.iter().cloned());
        }
        if let Some(c) = &self.calibration {
            for m in c.margins.iter().filter(|m| m.total.is_none()) {
                out.extend(m.variable.iter().cloned());
                out.extend(m.variables.iter().cloned());
            }
        }
        if let Some(r) = &self.replicates {
            out.extend(r.strata.iter().cloned());
            out.extend(r.clusters.iter().cloned());
        }
        out
    }

    /// Target files the plan names, as written in it (relative paths are
    /// relative to the plan file).
    pub fn target_files(&self) -> Vec<String> {
        self.calibration
            .iter()
            .flat_map(|c| c.margins.iter().filter_map(|m| m.targets.clone()))
            .collect()
    }

    /// Runs the plan on `data`; `targets` maps every name of
    /// [`Plan::target_files`] to its table.
    ///
    /// # Errors
    ///
    /// Any [`WeightingError`]: a missing column, a bad probability, a
    /// category without target, margins that disagree, an empty cell, a
    /// calibration that does not converge.
    pub fn apply(
        &self,
        data: &dyn Columns,
        targets: &HashMap<String, Table>,
    ) -> Result<WeightingRun, WeightingError> {
        let n = data.n_rows();
        let mut steps = Vec::new();
        // 1. Base weights.
        let probs: Vec<(String, Vec<f64>)> = self
            .base
            .probabilities
            .iter()
            .map(|c| Ok((c.clone(), data.numbers(c, "base")?)))
            .collect::<Result<_, WeightingError>>()?;
        let stages: Vec<(&str, &[f64])> = probs
            .iter()
            .map(|(c, p)| (c.as_str(), p.as_slice()))
            .collect();
        let mut d = adjust::base_weights(&stages, n)?;
        for c in &self.base.weights {
            adjust::multiply(
                &mut d,
                &data.numbers(c, "base")?,
                &format!("base weight `{c}`"),
            )?;
        }
        steps.push(StepReport::new("base", &d));
        // 2. Within household.
        if let Some(h) = &self.within_household {
            if let Some(c) = &h.adults {
                let a = data.numbers(c, "within_household")?;
                adjust::multiply(&mut d, &a, &format!("number of eligible adults `{c}`"))?;
            } else if let Some(c) = &h.probability {
                let p = data.numbers(c, "within_household")?;
                adjust::divide_by_probability(
                    &mut d,
                    &p,
                    &format!("within-household selection probability `{c}`"),
                )?;
            }
            steps.push(StepReport::new("within_household", &d));
        }
        let design = d.clone();
        // The steps after the base are the same for every replicate.
        let job = Job::new(self, data, targets, &d)?;
        let (weights, mut after) = job.run(&d, true)?;
        steps.append(&mut after.reports);
        let calibration_weights = after.calibration.take();

        let mut replicates = Vec::new();
        let mut replicate_names = Vec::new();
        let mut summary = None;
        let mut replicate_design = None;
        if let Some(r) = &self.replicates
            && r.form.is_some()
        {
            let (formed, info) = form_replicates(r, data, &design)?;
            let mut s = ReplicateSummary {
                count: formed.len(),
                max_iterations: 0,
                max_margin_error: 0.0,
                trimmed: 0,
            };
            for (k, rd) in formed.iter().enumerate() {
                let (w, pass) = job.run(rd, false)?;
                s.max_iterations = s.max_iterations.max(pass.iterations);
                s.max_margin_error = s.max_margin_error.max(pass.margin_error);
                s.trimmed += pass.trimmed;
                replicates.push(w);
                replicate_names.push(format!("{}{}", self.output.replicate_prefix, k + 1));
            }
            summary = Some(s);
            replicate_design = Some(info);
        } else if let Some(r) = &self.replicates {
            let names: Vec<String> = if r.columns.is_empty() {
                let prefix = r.prefix.as_deref().unwrap_or_default();
                let mut found: Vec<(u64, String)> = data
                    .column_names()
                    .iter()
                    .filter_map(|c| {
                        let rest = c.strip_prefix(prefix)?;
                        rest.parse::<u64>().ok().map(|k| (k, c.clone()))
                    })
                    .collect();
                found.sort();
                found.into_iter().map(|(_, c)| c).collect()
            } else {
                r.columns.clone()
            };
            if names.is_empty() {
                return Err(WeightingError::Plan(
                    "replicates: no column matches the prefix".into(),
                ));
            }
            let mut s = ReplicateSummary {
                count: names.len(),
                max_iterations: 0,
                max_margin_error: 0.0,
                trimmed: 0,
            };
            for (k, col) in names.iter().enumerate() {
                let mut rd = data.numbers(col, "replicates")?;
                if r.kind == ReplicateKind::Multipliers {
                    rd.iter_mut().zip(&design).for_each(|(m, d)| *m *= d);
                }
                if rd.iter().any(|w| w.is_nan() || *w < 0.0) {
                    return Err(WeightingError::Plan(format!(
                        "replicates: column `{col}` has a negative or missing weight"
                    )));
                }
                let (w, info) = job.run(&rd, false)?;
                s.max_iterations = s.max_iterations.max(info.iterations);
                s.max_margin_error = s.max_margin_error.max(info.margin_error);
                s.trimmed += info.trimmed;
                replicates.push(w);
                replicate_names.push(format!("{}{}", self.output.replicate_prefix, k + 1));
            }
            summary = Some(s);
        }
        Ok(WeightingRun {
            weights,
            replicates,
            replicate_names,
            steps,
            replicate_summary: summary,
            replicate_design,
            calibration_weights,
        })
    }

    /// The design file's `calibration:` block for the weights this plan
    /// makes (`None` without a calibration step): the plan's method and
    /// margins, with `input_weight` and, when trimming follows,
    /// `calibrated_weight` named by [`Plan::calibration_columns`].
    pub fn calibration_design(&self) -> Option<CalibrationSpec> {
        let c = self.calibration.as_ref()?;
        let (input, calibrated) = self.calibration_columns();
        let method = match c.method {
            Method::Poststratify => CalibrationMethod::Poststratify,
            Method::Rake => CalibrationMethod::Rake,
            Method::Linear => CalibrationMethod::Linear,
            Method::Raking => CalibrationMethod::Raking,
            Method::Logit => CalibrationMethod::Logit,
        };
        let mut margins = Vec::new();
        let mut numeric = Vec::new();
        for m in &c.margins {
            match (&m.variable, m.total) {
                (Some(v), Some(_)) => numeric.push(v.clone()),
                (Some(v), None) => margins.push(MarginColumns::One(v.clone())),
                (None, _) => margins.push(MarginColumns::Joint(m.variables.clone())),
            }
        }
        Some(CalibrationSpec {
            method,
            input_weight: Some(input),
            calibrated_weight: self.trimming.is_some().then_some(calibrated),
            margins,
            numeric,
        })
    }

    /// Names of the columns `vicor weight --design-out` adds for the
    /// `calibration:` block: the weight entering calibration
    /// (`<weight>_input`) and right after it (`<weight>_calibrated`).
    pub fn calibration_columns(&self) -> (String, String) {
        (
            format!("{}_input", self.output.weight),
            format!("{}_calibrated", self.output.weight),
        )
    }
}

/// What one pass of steps 3 to 5 did.
#[derive(Default)]
struct PassInfo {
    reports: Vec<StepReport>,
    /// Full sample: weights entering and leaving calibration, every row.
    calibration: Option<(Vec<f64>, Vec<f64>)>,
    iterations: usize,
    margin_error: f64,
    trimmed: usize,
}

/// Steps 3 to 5, prepared once (columns parsed, margins checked) and run
/// for the full sample and for every replicate.
struct Job<'a> {
    plan: &'a Plan,
    respondent: Vec<bool>,
    /// Nonresponse classes of every row, as in the data.
    classes: Option<Vec<Vec<String>>>,
    /// The full sample's classes after collapsing, for the replicates.
    collapsed: Option<Vec<Vec<String>>>,
    rule: CollapseRule,
    /// Respondent rows, in order.
    rows: Vec<usize>,
    margins: Vec<Margin>,
    numeric: Vec<NumericTotal>,
    mm: Option<ModelMatrix>,
}

impl<'a> Job<'a> {
    fn new(
        plan: &'a Plan,
        data: &dyn Columns,
        targets: &HashMap<String, Table>,
        d: &[f64],
    ) -> Result<Job<'a>, WeightingError> {
        let n = data.n_rows();
        let (respondent, classes, rule) = match &plan.nonresponse {
            Some(nr) => {
                let flag = data.labels(&nr.respondent, "nonresponse")?;
                let yes: Vec<bool> = flag
                    .levels
                    .iter()
                    .map(|l| *l == nr.respondent_value)
                    .collect();
                let respondent: Vec<bool> = flag.codes.iter().map(|&c| yes[c as usize]).collect();
                let cols: Vec<Labels> = nr
                    .classes
                    .iter()
                    .map(|c| data.labels(c, "nonresponse"))
                    .collect::<Result<_, _>>()?;
                let keys: Vec<Vec<String>> = (0..n)
                    .map(|i| cols.iter().map(|c| c.get(i).to_string()).collect())
                    .collect();
                let rule = CollapseRule {
                    min_respondents: nr.min_respondents,
                    max_factor: nr.max_factor,
                };
                (respondent, Some(keys), rule)
            }
            None => (
                vec![true; n],
                None,
                CollapseRule {
                    min_respondents: 0,
                    max_factor: None,
                },
            ),
        };
        let collapsed: Option<Vec<Vec<String>>> = match &classes {
            Some(keys) => {
                let adj = adjust::nonresponse(d, &respondent, keys, &rule)?;
                Some(
                    adj.class_of_row
                        .iter()
                        .map(|&c| vec![adj.classes[c].0.clone()])
                        .collect(),
                )
            }
            None => None,
        };
        let rows: Vec<usize> = (0..n).filter(|&i| respondent[i]).collect();
        let mut margins = Vec::new();
        let mut numeric = Vec::new();
        let mut mm = None;
        if let Some(c) = &plan.calibration {
            for m in &c.margins {
                let vars: Vec<String> = match &m.variable {
                    Some(v) => vec![v.clone()],
                    None => m.variables.clone(),
                };
                let name = vars.join("*");
                if let Some(total) = m.total {
                    let values = data.numbers(&vars[0], "calibration")?;
                    numeric.push(NumericTotal {
                        name,
                        values: rows.iter().map(|&i| values[i]).collect(),
                        total,
                    });
                    continue;
                }
                let file = m.targets.as_deref().expect("checked: targets or total");
                let table = targets.get(file).ok_or_else(|| {
                    WeightingError::Plan(format!("calibration: targets `{file}` were not loaded"))
                })?;
                let t = target_pairs(table, &vars, file)?;
                let cols: Vec<Labels> = vars
                    .iter()
                    .map(|v| data.labels(v, "calibration"))
                    .collect::<Result<_, _>>()?;
                let margin = if let [col] = &cols[..] {
                    Margin::from_labels(&name, rows.iter().map(|&i| col.codes[i]), &col.levels, &t)?
                } else {
                    let values: Vec<String> = rows
                        .iter()
                        .map(|&i| cols.iter().map(|c| c.get(i)).collect::<Vec<_>>().join(":"))
                        .collect();
                    Margin::new(&name, &values, &t)?
                };
                margins.push(margin);
            }
            check_totals(&margins, c.total_tolerance)?;
            if matches!(c.method, Method::Linear | Method::Raking | Method::Logit) {
                mm = Some(ModelMatrix::from_margins(
                    &margins,
                    &numeric,
                    c.total_tolerance,
                )?);
            }
            if let Some([lower, upper]) = c.bounds {
                let calfun = match c.method {
                    Method::Logit => CalFun::Logit,
                    Method::Raking => CalFun::Raking,
                    _ => CalFun::Linear,
                };
                calibrate::check_bounds(calfun, Bounds { lower, upper })?;
            }
        }
        Ok(Job {
            plan,
            respondent,
            classes,
            collapsed,
            rule,
            rows,
            margins,
            numeric,
            mm,
        })
    }

    /// Runs steps 3 to 5 from weights `d` (one per data row). `full` says
    /// whether this is the full sample (reports are made, classes collapse)
    /// or a replicate (the full sample's classes are reused).
    fn run(&self, d: &[f64], full: bool) -> Result<(Vec<f64>, PassInfo), WeightingError> {
        let mut info = PassInfo::default();
        let n = d.len();
        let mut w = d.to_vec();
        if let Some(keys) = &self.classes {
            let rule = if full {
                self.rule
            } else {
                // Replicates keep the full sample's collapsed classes.
                CollapseRule {
                    min_respondents: 0,
                    max_factor: None,
                }
            };
            let keys = if full {
                keys
            } else {
                self.collapsed.as_ref().expect("made with the classes")
            };
            let adj = adjust::nonresponse(&w, &self.respondent, keys, &rule)?;
            w = adj.weights;
            if full {
                let mut r = StepReport::new("nonresponse", &self.pick(&w));
                r.collapsed = adj.collapsed;
                info.reports.push(r);
            }
        }
        let Some(c) = &self.plan.calibration else {
            return self.trim(w, info, full);
        };
        let dr = self.pick(&w);
        let (cw, iterations, trimmed) = match c.method {
            Method::Poststratify => (post_stratify(&self.margins[0], &dr)?, 1, None),
            Method::Rake => {
                let control = RakeControl {
                    maxit: c.maxit.unwrap_or(100),
                    epsilon: c.epsilon.unwrap_or(1e-10),
                };
                let r = rake(&self.margins, &dr, &control, c.total_tolerance)?;
                (r.weights, r.sweeps, None)
            }
            Method::Linear | Method::Raking | Method::Logit => {
                let calfun = match c.method {
                    Method::Linear => CalFun::Linear,
                    Method::Raking => CalFun::Raking,
                    _ => CalFun::Logit,
                };
                let bounds = c
                    .bounds
                    .map_or(Bounds::NONE, |[lower, upper]| Bounds { lower, upper });
                let opts = CalibrationOptions {
                    calfun,
                    bounds,
                    epsilon: c.epsilon.unwrap_or(1e-10),
                    maxit: c.maxit.unwrap_or(50),
                    trim: c.trim.map(|[a, b]| (a, b)),
                };
                let mm = self.mm.as_ref().expect("built for these methods");
                let cal = calibrate::calibrate(mm, &dr, &opts)?;
                let t = (c.trim.is_some()).then_some(cal.trimmed);
                (cal.weights(&dr), cal.iterations, t)
            }
        };
        let error = self.margin_error(&cw);
        info.iterations = iterations;
        info.margin_error = error;
        info.trimmed += trimmed.unwrap_or(0);
        if full {
            let mut r = StepReport::new("calibration", &cw);
            r.iterations = Some(iterations);
            r.max_margin_error = Some(error);
            r.trimmed = trimmed;
            info.reports.push(r);
        }
        let mut out = vec![0.0; n];
        for (k, &i) in self.rows.iter().enumerate() {
            out[i] = cw[k];
        }
        if full {
            let mut input = vec![0.0; n];
            for (k, &i) in self.rows.iter().enumerate() {
                input[i] = dr[k];
            }
            info.calibration = Some((input, out.clone()));
        }
        self.trim(out, info, full)
    }

    fn trim(
        &self,
        mut w: Vec<f64>,
        mut info: PassInfo,
        full: bool,
    ) -> Result<(Vec<f64>, PassInfo), WeightingError> {
        if let Some(t) = &self.plan.trimming {
            let lower = t.lower.unwrap_or(f64::NEG_INFINITY);
            let upper = t.upper.unwrap_or(f64::INFINITY);
            let r = trim_weights(&self.pick(&w), lower, upper, t.strict)?;
            for (k, &i) in self.rows.iter().enumerate() {
                w[i] = r.weights[k];
            }
            info.trimmed += r.trimmed;
            if full {
                let mut rep = StepReport::new("trimming", &r.weights);
                rep.trimmed = Some(r.trimmed);
                info.reports.push(rep);
            }
        }
        Ok((w, info))
    }

    /// The weights of the respondent rows.
    fn pick(&self, w: &[f64]) -> Vec<f64> {
        self.rows.iter().map(|&i| w[i]).collect()
    }

    /// Largest |N̂ − N| / (1 + |N|) over every margin category and
    /// numeric total.
    fn margin_error(&self, w: &[f64]) -> f64 {
        let mut worst: f64 = 0.0;
        for m in &self.margins {
            let mut tot = vec![0.0; m.targets.len()];
            for (c, w) in m.codes.iter().zip(w) {
                tot[*c as usize] += w;
            }
            for (got, want) in tot.iter().zip(&m.targets) {
                worst = worst.max((got - want).abs() / (1.0 + want.abs()));
            }
        }
        for v in &self.numeric {
            let got: f64 = v.values.iter().zip(w).map(|(x, w)| x * w).sum();
            worst = worst.max((got - v.total).abs() / (1.0 + v.total.abs()));
        }
        worst
    }
}

/// Reads a targets table: one column per variable, then `total`.
fn target_pairs(
    table: &Table,
    vars: &[String],
    file: &str,
) -> Result<Vec<(String, f64)>, WeightingError> {
    let missing = |c: &str| {
        WeightingError::Plan(format!(
            "targets `{file}` has no column `{c}`; it needs one column per margin variable and `total`"
        ))
    };
    let total = table.column("total").ok_or_else(|| missing("total"))?;
    let cols: Vec<&[String]> = vars
        .iter()
        .map(|v| table.column(v).ok_or_else(|| missing(v)))
        .collect::<Result<_, _>>()?;
    (0..table.len())
        .map(|i| {
            let key: Vec<&str> = cols.iter().map(|c| c[i].trim()).collect();
            let t = total[i]
                .trim()
                .parse::<f64>()
                .map_err(|_| WeightingError::BadTarget {
                    margin: vars.join("*"),
                    category: key.join(":"),
                    value: f64::NAN,
                })?;
            Ok((key.join(":"), t))
        })
        .collect()
}

/// Forms replicate design weights from the base weight `d` with the design
/// module (R's `as.svrepdesign`): the replicate multipliers depend on the
/// strata, clusters and fpc only, and multiply `d`.
fn form_replicates(
    r: &ReplicateStep,
    data: &dyn Columns,
    d: &[f64],
) -> Result<(Vec<Vec<f64>>, ReplicateDesign), WeightingError> {
    let kind = r.form.expect("called with form");
    const WEIGHT: &str = "(weight after the within-household step)";
    let mut columns = vec![(WEIGHT.to_string(), Column::Number(d.to_vec()))];
    let design_err = |e: crate::design::DesignError| WeightingError::Design(e.to_string());
    for name in r.strata.iter().chain(&r.clusters) {
        let labels = data.labels(name, "replicates")?;
        columns.push((name.clone(), id_column(labels)));
    }
    for name in &r.fpc {
        let values = data.numbers(name, "replicates")?;
        columns.push((name.clone(), Column::Number(values)));
    }
    let frame = Frame::from_columns(columns);
    let spec = DesignSpec {
        weight: Some(WEIGHT.to_string()),
        strata: r.strata.clone(),
        clusters: r.clusters.clone(),
        fpc: r.fpc.clone(),
        nest: r.nest,
        lonely_psu: r.lonely_psu,
        ..Default::default()
    };
    let design = Design::build(&spec, &frame).map_err(design_err)?;
    let form = ReplicatesSpec {
        form: Some(kind),
        rho: r.rho,
        replicates: r.replicates,
        seed: r.seed,
        ..Default::default()
    };
    let rep = crate::design::replicate::form(&design, kind, &form).map_err(design_err)?;
    let weights = (0..rep.n_replicates())
        .map(|k| (0..d.len()).map(|i| rep.weight(d, k, i)).collect())
        .collect();
    Ok((
        weights,
        ReplicateDesign {
            kind,
            scale: rep.scale,
            rscales: rep.rscales.clone(),
            mse: rep.mse,
            rho: rep.rho,
        },
    ))
}

/// An id column: numbers when every label is one (so that strata sort as
/// R sorts numbers, which BRR's Hadamard rows follow), text otherwise.
fn id_column(labels: Labels) -> Column {
    let numbers: Option<Vec<f64>> = labels
        .levels
        .iter()
        .map(|v| v.parse::<f64>().ok())
        .collect();
    if let Some(v) = numbers {
        return Column::Number(labels.codes.iter().map(|&c| v[c as usize]).collect());
    }
    Column::Text(TextColumn {
        codes: labels.codes,
        levels: labels.levels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_column_may_be_written_without_brackets() {
        let scalar = Plan::from_yaml(
            "base:\n  probabilities: p\nnonresponse:\n  respondent: r\n  classes: region\nreplicates:\n  form: jkn\n  strata: h\n  clusters: psu\n  fpc: n_psu\n",
        )
        .expect("the one-name forms read");
        let list = Plan::from_yaml(
            "base:\n  probabilities: [p]\nnonresponse:\n  respondent: r\n  classes: [region]\nreplicates:\n  form: jkn\n  strata: h\n  clusters: [psu]\n  fpc: [n_psu]\n",
        )
        .expect("the list forms read");
        assert_eq!(scalar, list);
        assert_eq!(scalar.base.probabilities, ["p"]);
    }

    #[test]
    fn a_plan_typo_is_a_located_file_error() {
        let e = Plan::from_yaml("base:\n  weights: [w]\ntrimming:\n  uper: 5\n")
            .expect_err("`uper` is not a key");
        let WeightingError::File(e) = e else {
            panic!("not a file error: {e}");
        };
        assert_eq!((e.line, e.column), (4, 3));
        assert_eq!(e.key.as_deref(), Some("trimming.uper"));
        assert_eq!(e.help.as_deref(), Some("did you mean `upper`?"));
    }

    #[test]
    fn shipped_plans_parse() {
        for (name, text) in [
            ("template", include_str!("../../weights/template.yaml")),
            ("demo", include_str!("../../weights/demo.yaml")),
        ] {
            let plan = Plan::from_yaml(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!plan.target_files().is_empty(), "{name}");
        }
    }

    #[test]
    fn unknown_keys_and_missing_choices_are_refused() {
        let err = Plan::from_yaml("base: {probabilities: [p]}\nweights: 1\n").expect_err("typo");
        assert!(err.to_string().contains("weights"), "{err}");
        let err = Plan::from_yaml("base: {}\n").expect_err("no base columns");
        assert!(err.to_string().contains("base"), "{err}");
        let err = Plan::from_yaml(
            "base: {weights: [w]}\ncalibration: {method: logit, margins: [{variable: s, targets: s.csv}]}\n",
        )
        .expect_err("logit without bounds");
        assert!(err.to_string().contains("bounds"), "{err}");
    }

    fn table(cols: &[(&str, &[&str])]) -> Table {
        Table {
            names: cols.iter().map(|(n, _)| n.to_string()).collect(),
            columns: cols
                .iter()
                .map(|(_, v)| v.iter().map(|s| s.to_string()).collect())
                .collect(),
        }
    }

    #[test]
    fn nonrespondents_get_zero_and_replicates_follow_the_plan() {
        let data = table(&[
            ("w", &["10", "10", "20", "20"]),
            ("r", &["1", "0", "1", "1"]),
            ("sex", &["m", "m", "f", "f"]),
            ("rw1", &["20", "20", "0", "20"]),
        ]);
        let targets = HashMap::from([(
            "sex.csv".to_string(),
            table(&[("sex", &["m", "f"]), ("total", &["30", "50"])]),
        )]);
        let plan = Plan::from_yaml(
            "base: {weights: [w]}
nonresponse: {respondent: r, classes: [sex], min_respondents: 1}
calibration: {method: poststratify, margins: [{variable: sex, targets: sex.csv}]}
replicates: {prefix: rw}
",
        )
        .expect("valid plan");
        let run = plan.apply(&data, &targets).expect("runs");
        assert_eq!(run.weights, [30.0, 0.0, 25.0, 25.0]);
        assert_eq!(run.replicates, [vec![30.0, 0.0, 0.0, 50.0]]);
        assert_eq!(run.replicate_names, ["final_rw1"]);
        let steps: Vec<&str> = run.steps.iter().map(|s| s.step.as_str()).collect();
        assert_eq!(steps, ["base", "nonresponse", "calibration"]);
    }
}
