//! The analysis chain shared by the demo and the coverage study (weighting
//! plan → replicate weights → estimates by Taylor linearization, JKn and
//! bootstrap), and the coverage study itself: many independent samples from
//! one synthetic population, each weighted and estimated as a real survey
//! would be, to measure the relative bias of every estimator and the share
//! of its 95% intervals that cover the true value.
//!
//! The study's samples take the fast path: the selected adult's indicator
//! variables come from [`respondent::record`] rather than from an interview
//! driven through the engine (a test shows that both give the same values).

use std::collections::HashMap;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::design::{Design, DesignSpec, ReplicatesSpec};
use crate::estimate::CiMethod;
use crate::estimate::run::Row;
use crate::estimate::spec::Spec;
use crate::frame::{Column, Frame, TextColumn};
use crate::simulate::country::Country;
use crate::simulate::respondent::{self, RECORD_NAMES};
use crate::simulate::sample::{self, SampleSize, Sampled};
use crate::weighting::plan::{Plan, ReplicateStep, Table, WeightingRun};

/// A variance method of the study and the demo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// Taylor linearization on the final weights (strata and areas).
    Taylor,
    /// Delete-one-area jackknife, every replicate re-weighted by the plan.
    Jkn,
    /// Rao–Wu bootstrap of areas, every replicate re-weighted by the plan.
    Bootstrap,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Taylor => "taylor",
            Method::Jkn => "jkn",
            Method::Bootstrap => "bootstrap",
        }
    }
}

/// What went wrong in the analysis chain.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum AnalysisError {
    #[error("weighting: {0}")]
    Weighting(#[from] crate::weighting::WeightingError),
    #[error("design: {0}")]
    Design(#[from] crate::design::DesignError),
    #[error("estimation: {0}")]
    Estimate(#[from] crate::estimate::EstimateError),
    #[error("{0}")]
    Spec(String),
}

/// The weights and the estimates of every method.
pub struct Analysis {
    /// The plan's run with JKn replicates (final weights, diagnostics).
    pub weighting: WeightingRun,
    pub results: Vec<(Method, Vec<Row>)>,
}

/// The replicate step for a method: areas within strata.
fn replicate_step(method: Method, bootstrap: (usize, u64)) -> Option<ReplicateStep> {
    let text = match method {
        Method::Taylor => return None,
        Method::Jkn => "form: jkn\nstrata: stratum\nclusters: [area]\n".to_string(),
        Method::Bootstrap => format!(
            "form: bootstrap\nstrata: stratum\nclusters: [area]\nreplicates: {}\nseed: {}\n",
            bootstrap.0, bootstrap.1
        ),
    };
    Some(serde_saphyr::from_str(&text).expect("the replicate step is well formed"))
}

/// The design file's `calibration:` block for a plan that rakes, so the
/// Taylor SEs use the calibration residuals as R's `rake` design does.
/// Other methods need the weight that entered calibration, which the plan
/// does not keep; their Taylor SEs then ignore the calibration (the
/// replicate SEs never do).
fn taylor_calibration(plan: &Plan) -> Option<crate::design::spec::CalibrationSpec> {
    let c = plan.calibration.as_ref()?;
    if c.method != crate::weighting::plan::Method::Rake
        || !c.margins.iter().all(|m| m.total.is_none())
    {
        return None;
    }
    let margins: Vec<String> = c
        .margins
        .iter()
        .map(|m| match &m.variable {
            Some(v) => v.clone(),
            None => format!("[{}]", m.variables.join(", ")),
        })
        .collect();
    serde_saphyr::from_str(&format!(
        "method: rake\nmargins: [{}]\n",
        margins.join(", ")
    ))
    .ok()
}

/// Keeps `rows` of every column of `frame`.
fn subset(frame: &Frame, rows: &[usize]) -> Vec<(String, Column)> {
    frame
        .names()
        .iter()
        .map(|name| {
            let col = match frame.column(name).expect("a listed column") {
                Column::Number(v) => Column::Number(rows.iter().map(|&i| v[i]).collect()),
                Column::Small(v) => Column::Small(rows.iter().map(|&i| v[i]).collect()),
                Column::Text(t) => Column::Text(TextColumn {
                    codes: rows.iter().map(|&i| t.codes[i]).collect(),
                    levels: t.levels.clone(),
                }),
            };
            (name.clone(), col)
        })
        .collect()
}

/// Weighs `data` (every sampled household: design columns `stratum`,
/// `area`, the plan's columns, and the respondents' `sdg_*` variables) by
/// `plan` and runs `spec` with each method. Nonrespondents (weight 0 after
/// the nonresponse step) are left out of the estimation file, as they carry
/// no weight.
pub fn analyse(
    data: &Frame,
    plan: &Plan,
    targets: &HashMap<String, Table>,
    spec: &Spec,
    methods: &[Method],
    bootstrap: (usize, u64),
) -> Result<Analysis, AnalysisError> {
    let mut jkn_plan = plan.clone();
    jkn_plan.replicates = replicate_step(Method::Jkn, bootstrap);
    let weighting = jkn_plan.apply(data, targets)?;
    let rows: Vec<usize> = (0..data.n_rows())
        .filter(|&i| weighting.weights[i] > 0.0)
        .collect();
    let mut results = Vec::new();
    for &method in methods {
        let boot_run;
        let run = match method {
            Method::Bootstrap => {
                let mut p = plan.clone();
                p.replicates = replicate_step(method, bootstrap);
                boot_run = p.apply(data, targets)?;
                &boot_run
            }
            _ => &weighting,
        };
        let mut columns = subset(data, &rows);
        let weight = plan.output.weight.clone();
        columns.push((
            weight.clone(),
            Column::Number(rows.iter().map(|&i| run.weights[i]).collect()),
        ));
        let mut names = Vec::new();
        if method != Method::Taylor {
            for (k, r) in run.replicates.iter().enumerate() {
                let name = format!("rep_{}", k + 1);
                columns.push((
                    name.clone(),
                    Column::Number(rows.iter().map(|&i| r[i]).collect()),
                ));
                names.push(name);
            }
        }
        let frame = Frame::from_columns(columns);
        let design_spec = match method {
            Method::Taylor => DesignSpec {
                weight: Some(weight),
                strata: Some("stratum".into()),
                clusters: vec!["area".into()],
                calibration: taylor_calibration(plan),
                ..Default::default()
            },
            _ => {
                let info = run.replicate_design.as_ref().ok_or_else(|| {
                    AnalysisError::Spec("the plan formed no replicate weights".into())
                })?;
                DesignSpec {
                    weight: Some(weight),
                    replicates: Some(ReplicatesSpec {
                        columns: names,
                        kind: Some(info.kind),
                        scale: Some(info.scale),
                        rscales: Some(info.rscales.clone()),
                        mse: Some(info.mse),
                        ..Default::default()
                    }),
                    ..Default::default()
                }
            }
        };
        let design = Design::build(&design_spec, &frame)?;
        let out = crate::estimate::run::run(spec, &design, &frame, &mut |_, _| {})?;
        results.push((method, out));
    }
    Ok(Analysis { weighting, results })
}

/// An estimate's key: its name and its `by` values.
pub type EstimateKey = (String, Vec<(String, String)>);

/// One sample's outcome for every estimate of one method.
type SampleDraws = (usize, Method, Vec<Option<Draw>>);

/// The true value of every estimate of `spec`: the estimate computed on
/// the whole adult population with weight 1, keyed by name and `by` values.
pub fn truth(country: &Country, spec: &Spec) -> Result<HashMap<EstimateKey, f64>, AnalysisError> {
    let frame = crate::simulate::population_frame(country);
    let design = Design::build(
        &DesignSpec {
            weight: Some("weight".into()),
            ..Default::default()
        },
        &frame,
    )?;
    // The population's "by" columns are numbers; estimates print them as
    // the export writes codes (1, not 1.0), so both key alike.
    let rows = crate::estimate::run::run(spec, &design, &frame, &mut |_, _| {})?;
    Ok(rows
        .into_iter()
        .filter_map(|r| Some(((r.name, r.by), r.estimate.estimate?)))
        .collect())
}

/// The household frame of one sample, answered by the fast path: design
/// columns, the plan's columns and the selected adult's record.
pub fn sample_frame(country: &Country, sample: &[Sampled], seed: u64) -> Frame {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = sample.len();
    let mut strata = TextColumn::default();
    let mut level: HashMap<String, u32> = HashMap::new();
    let mut area = Vec::with_capacity(n);
    let mut region = Vec::with_capacity(n);
    let mut urban = Vec::with_capacity(n);
    let mut p_ea = Vec::with_capacity(n);
    let mut p_hh = Vec::with_capacity(n);
    let mut responded = Vec::with_capacity(n);
    let mut adults = Vec::with_capacity(n);
    let mut vars: Vec<Vec<f64>> = vec![Vec::with_capacity(n); RECORD_NAMES.len()];
    for s in sample {
        let next = level.len() as u32;
        let code = *level.entry(s.stratum.clone()).or_insert_with(|| {
            strata.levels.push(s.stratum.clone());
            next
        });
        strata.codes.push(code);
        let a = &country.areas[s.area];
        area.push((s.area + 1) as f64);
        region.push(f64::from(a.region));
        urban.push(if a.urban { 1.0 } else { 2.0 });
        p_ea.push(s.p_area);
        p_hh.push(s.p_household);
        responded.push(if s.responded { 1.0 } else { 0.0 });
        let eligible: Vec<&crate::simulate::country::Person> = country
            .members(s.household)
            .iter()
            .filter(|p| p.is_adult())
            .collect();
        // One adult with equal probability, as the instrument's Kish grid
        // gives (exactly so for up to six adults).
        if s.responded {
            let chosen = eligible[rng.random_range(0..eligible.len())];
            adults.push(eligible.len() as f64);
            for (k, (_, v)) in respondent::record(country, chosen).into_iter().enumerate() {
                vars[k].push(v.unwrap_or(f64::NAN));
            }
        } else {
            // The household was not interviewed: its number of adults is
            // unknown; the class adjustment works on its household weight.
            adults.push(1.0);
            for v in &mut vars {
                v.push(f64::NAN);
            }
        }
    }
    let mut columns = vec![
        ("stratum".to_string(), Column::Text(strata)),
        ("area".to_string(), Column::Number(area)),
        ("region".to_string(), Column::Number(region)),
        ("urban".to_string(), Column::Number(urban)),
        ("p_ea".to_string(), Column::Number(p_ea)),
        ("p_hh".to_string(), Column::Number(p_hh)),
        ("responded".to_string(), Column::Number(responded)),
        ("adults".to_string(), Column::Number(adults)),
    ];
    for (name, v) in RECORD_NAMES.iter().zip(vars) {
        columns.push((name.to_string(), Column::Number(v)));
    }
    Frame::from_columns(columns)
}

/// The study's indicators: the SDG headline values over the whole
/// population, each with the interval vicor publishes for it in
/// `instruments/indicators/sdg.yaml` (logit for common events, Korn–Graubard
/// for rare events and small domains). The Wald, logit and Korn–Graubard
/// coverages are all reported.
pub const STUDY_SPEC: &str = r#"
estimates:
  - {name: "16.1.3a physical violence", proportion: "sdg_1613_physical == 1", ci: logit}
  - {name: "16.1.3b psychological violence", proportion: "sdg_1613_psychological == 1", ci: logit}
  - {name: "16.1.3c sexual violence", proportion: "sdg_1613_sexual == 1", ci: beta}
  - {name: "16.1.4 safe after dark", proportion: "sdg_1614_safe == 1", ci: logit}
  - {name: "16.3.1 physical violence reported", proportion: "sdg_1631_reported_physical == 1", domain: "sdg_1631_victim_physical == 1", ci: beta}
  - {name: "16.3.1 psychological violence reported", proportion: "sdg_1631_reported_psychological == 1", domain: "sdg_1631_victim_psychological == 1", ci: beta}
  - {name: "16.3.1 sexual violence reported", proportion: "sdg_1631_reported_sexual == 1", domain: "sdg_1631_victim_sexual == 1", ci: beta}
  - {name: "16.5.1 bribery", proportion: "sdg_1651_bribe == 1", domain: "sdg_1651_contact == 1", ci: logit}
  - {name: "11.7.2 harassment", proportion: "sdg_1172_harassed == 1", ci: logit}
"#;

/// How the study is run.
#[derive(Debug, Clone, PartialEq)]
pub struct StudySettings {
    pub seed: u64,
    pub country: crate::simulate::CountrySize,
    pub sample: SampleSize,
    pub samples: usize,
    pub bootstrap_replicates: usize,
    pub threads: usize,
}

/// One indicator × method over all samples.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StudyRow {
    pub indicator: String,
    pub method: &'static str,
    pub truth: f64,
    pub samples: usize,
    pub mean_estimate: f64,
    /// (mean estimate − truth) / truth.
    pub relative_bias: f64,
    /// The interval vicor publishes for the indicator (wald, logit, beta).
    pub interval: &'static str,
    /// Share of those 95% intervals that hold the truth.
    pub coverage: f64,
    /// The same with Wald (estimate ± t·SE), logit and Korn–Graubard
    /// intervals.
    pub coverage_wald: f64,
    pub coverage_logit: f64,
    pub coverage_beta: f64,
    /// Mean of the estimated SEs over the empirical SD of the estimates.
    pub se_ratio: f64,
    pub empirical_sd: f64,
    pub mean_se: f64,
    /// Mean respondents in the estimate's domain.
    pub mean_n: f64,
}

/// Per-sample outcome of one estimate: estimate, SE, whether the published,
/// Wald, logit and Korn–Graubard intervals hold the truth, and n.
type Draw = (f64, f64, [bool; 4], usize);

/// Whether the interval holds `t`.
pub fn covers(ci: Option<(f64, f64)>, t: f64) -> bool {
    ci.is_some_and(|(lo, hi)| lo <= t && t <= hi)
}

/// Runs the coverage study. `progress(done, total)` follows the samples.
pub fn run_study(
    settings: &StudySettings,
    plan: &Plan,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<StudyRow>, AnalysisError> {
    let spec: Spec = serde_saphyr::from_str(STUDY_SPEC).expect("the study spec parses");
    let country = Country::generate(settings.country, settings.seed);
    sample::check(&country, settings.sample).map_err(AnalysisError::Spec)?;
    let targets = census_targets(&country, plan);
    let truth = truth(&country, &spec)?;
    let methods = [Method::Taylor, Method::Jkn, Method::Bootstrap];
    let done = std::sync::atomic::AtomicUsize::new(0);
    let threads = settings.threads.clamp(1, 64);
    let per_thread: Vec<Result<Vec<SampleDraws>, AnalysisError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (country, spec, targets, truth, done) =
                    (&country, &spec, &targets, &truth, &done);
                scope.spawn(move || {
                    let mut out = Vec::new();
                    for k in (t..settings.samples).step_by(threads) {
                        let seed = settings.seed.wrapping_add(1_000 + k as u64 * 7_919);
                        let sample = sample::draw(country, settings.sample, seed);
                        let frame = sample_frame(country, &sample, seed ^ 0xad01);
                        let analysis = analyse(
                            &frame,
                            plan,
                            targets,
                            spec,
                            &methods,
                            (settings.bootstrap_replicates, seed ^ 0xb007),
                        )?;
                        for (method, rows) in analysis.results {
                            let draws = rows
                                .iter()
                                .map(|r| {
                                    let t = truth.get(&(r.name.clone(), r.by.clone()))?;
                                    let e = &r.estimate;
                                    let (est, se) = (e.estimate?, e.se()?);
                                    let covered = [
                                        covers(r.ci, *t),
                                        covers(e.ci(r.level, CiMethod::Wald), *t),
                                        covers(e.ci(r.level, CiMethod::Logit), *t),
                                        covers(e.ci(r.level, CiMethod::Beta), *t),
                                    ];
                                    Some((est, se, covered, e.n))
                                })
                                .collect();
                            out.push((k, method, draws));
                        }
                        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                        progress(n, settings.samples);
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut all = Vec::new();
    for part in per_thread {
        all.extend(part?);
    }
    all.sort_by_key(|(k, m, _)| (*k, *m));
    let mut out = Vec::new();
    for method in methods {
        for (j, e) in spec.estimates.iter().enumerate() {
            let t = truth
                .get(&(e.name.clone(), Vec::new()))
                .copied()
                .unwrap_or(f64::NAN);
            let draws: Vec<Draw> = all
                .iter()
                .filter(|(_, m, _)| *m == method)
                .filter_map(|(_, _, d)| d.get(j).copied().flatten())
                .collect();
            let s = draws.len() as f64;
            let mean = draws.iter().map(|d| d.0).sum::<f64>() / s;
            let sd = (draws.iter().map(|d| (d.0 - mean).powi(2)).sum::<f64>() / (s - 1.0)).sqrt();
            let mean_se = draws.iter().map(|d| d.1).sum::<f64>() / s;
            let share = |k: usize| draws.iter().filter(|d| d.2[k]).count() as f64 / s;
            out.push(StudyRow {
                indicator: e.name.clone(),
                method: method.as_str(),
                truth: t,
                samples: draws.len(),
                mean_estimate: mean,
                relative_bias: (mean - t) / t,
                interval: match e.ci {
                    Some(CiMethod::Logit) => "logit",
                    Some(CiMethod::Beta) => "beta",
                    _ => "wald",
                },
                coverage: share(0),
                coverage_wald: share(1),
                coverage_logit: share(2),
                coverage_beta: share(3),
                se_ratio: mean_se / sd,
                empirical_sd: sd,
                mean_se,
                mean_n: draws.iter().map(|d| d.3 as f64).sum::<f64>() / s,
            });
        }
    }
    Ok(out)
}

/// The plan's target tables made from the country's census, keyed by the
/// plan's file names (`targets/<dir>/<variable>.csv` → the variable's table).
pub fn census_targets(country: &Country, plan: &Plan) -> HashMap<String, Table> {
    let census = crate::simulate::census(country);
    let mut out = HashMap::new();
    for file in plan.target_files() {
        let stem = std::path::Path::new(&file)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some((name, table)) = census.iter().find(|(n, _)| *n == stem) {
            out.insert(
                file.clone(),
                Table {
                    names: vec![name.to_string(), "total".into()],
                    columns: vec![
                        table.keys().cloned().collect(),
                        table.values().map(|v| v.to_string()).collect(),
                    ],
                },
            );
        }
    }
    out
}
