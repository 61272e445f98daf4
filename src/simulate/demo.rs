//! `vicor demo`: the whole chain on the demo country, as a survey office
//! would run it: simulate the fieldwork into a store, export it, join the
//! export to the sample control file, weight by `weights/demo.yaml`, estimate
//! the SDG indicators by Taylor linearization and by JKn replicates, and put
//! the true population value beside every estimate. Every intermediate file
//! is written, so each step can be rerun with the CLI.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::estimate::run::Row;
use crate::estimate::spec::Spec;
use crate::frame::{Frame, ReadOptions};
use crate::instrument::Instrument;
use crate::simulate::study::{self, AnalysisError, Method};
use crate::simulate::{self as sim, Settings, SimulateError, Survey};
use crate::store::Store;
use crate::weighting::plan::{Plan, WeightingRun};

/// The file that marks a folder as the demo's own, so a rerun may replace it.
const MARK: &str = ".vicor-demo";

/// What can stop the demo.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DemoError {
    #[error("{0} exists and was not made by vicor demo: choose another --out or remove it")]
    Foreign(PathBuf),
    #[error(transparent)]
    Simulate(#[from] SimulateError),
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
    #[error("export: {0}")]
    Export(#[from] crate::export::ExportError),
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("the export has no column `{0}`; the victimization instrument must compute it")]
    MissingColumn(String),
}

fn file_error(path: &Path) -> impl Fn(&dyn std::fmt::Display) -> DemoError + '_ {
    move |e| DemoError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// One estimate of the demo with both variance methods and the truth.
#[derive(Debug, Clone)]
pub struct DemoRow {
    pub name: String,
    pub label: String,
    pub by: Vec<(String, String)>,
    pub taylor: Row,
    pub jkn: Option<Row>,
    pub truth: Option<f64>,
}

impl DemoRow {
    /// The 95% JKn interval.
    pub fn ci(&self) -> Option<(f64, f64)> {
        self.jkn.as_ref().and_then(|j| j.ci)
    }

    /// Whether the JKn interval holds the true value; `None` when either
    /// is undefined.
    pub fn covered(&self) -> Option<bool> {
        Some(study::covers(self.ci(), self.truth?)).filter(|_| self.ci().is_some())
    }
}

/// Everything the demo made.
pub struct Demo {
    pub out: PathBuf,
    pub survey: Survey,
    pub interviews: usize,
    pub rows: Vec<DemoRow>,
    /// Headline estimates (no disaggregation), first in `rows`.
    pub headline: usize,
    pub weighting: WeightingRun,
    pub timings: Vec<(&'static str, f64)>,
    pub settings: Settings,
}

/// The headline estimates: each indicator over the whole population.
pub const HEADLINE_SPEC: &str = r#"
estimates:
  - {name: sdg_16_1_3a, label: "16.1.3 (a) physical violence, previous 12 months", proportion: "sdg_1613_physical == 1", ci: logit}
  - {name: sdg_16_1_3b, label: "16.1.3 (b) psychological violence, previous 12 months", proportion: "sdg_1613_psychological == 1", ci: logit}
  - {name: sdg_16_1_3c, label: "16.1.3 (c) sexual violence, previous 12 months", proportion: "sdg_1613_sexual == 1", ci: beta}
  - {name: sdg_16_1_4, label: "16.1.4 feel safe walking alone after dark", proportion: "sdg_1614_safe == 1", ci: logit}
  - {name: sdg_16_3_1_phys, label: "16.3.1 physical violence reported to competent authorities", proportion: "sdg_1631_reported_physical == 1", domain: "sdg_1631_victim_physical == 1", ci: beta}
  - {name: sdg_16_3_1_psych, label: "16.3.1 psychological violence reported", proportion: "sdg_1631_reported_psychological == 1", domain: "sdg_1631_victim_psychological == 1", ci: beta}
  - {name: sdg_16_3_1_sex, label: "16.3.1 sexual violence reported", proportion: "sdg_1631_reported_sexual == 1", domain: "sdg_1631_victim_sexual == 1", ci: beta}
  - {name: sdg_16_5_1, label: "16.5.1 paid or asked for a bribe, among contacts", proportion: "sdg_1651_bribe == 1", domain: "sdg_1651_contact == 1", ci: logit}
  - {name: sdg_11_7_2, label: "11.7.2 sexual or physical harassment, previous 12 months", proportion: "sdg_1172_harassed == 1", ci: logit}
"#;

/// Makes (or replaces) the demo's folder.
fn prepare(out: &Path) -> Result<(), DemoError> {
    if out.exists() {
        let empty = std::fs::read_dir(out)
            .map_err(|e| file_error(out)(&e))?
            .next()
            .is_none();
        if !empty && !out.join(MARK).exists() {
            return Err(DemoError::Foreign(out.to_path_buf()));
        }
        std::fs::remove_dir_all(out).map_err(|e| file_error(out)(&e))?;
    }
    std::fs::create_dir_all(out.join("weights/targets/demo")).map_err(|e| file_error(out)(&e))?;
    std::fs::write(
        out.join(MARK),
        "made by vicor demo; rerunning the demo replaces this folder\n",
    )
    .map_err(|e| file_error(out)(&e))
}

/// Runs the demo into `out`. `plan_text` is the weighting plan read from
/// `plan_path` (named in errors), `spec_text` the SDG spec
/// (`instruments/indicators/sdg.yaml`); `log` receives one line per step.
/// Both are checked before `out` is touched.
pub fn run(
    settings: &Settings,
    instrument: &Instrument,
    plan_path: &Path,
    plan_text: &str,
    spec_text: &str,
    out: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<Demo, DemoError> {
    let mut timings = Vec::new();
    let mut clock = Instant::now();
    let mut lap = |name: &'static str, timings: &mut Vec<(&'static str, f64)>| {
        let now = Instant::now();
        timings.push((name, (now - clock).as_secs_f64()));
        clock = now;
    };
    let plan = Plan::from_yaml(plan_text).map_err(|e| file_error(plan_path)(&e))?;
    let spec: Spec = serde_saphyr::from_str(spec_text)
        .map_err(|e| file_error(Path::new("instruments/indicators/sdg.yaml"))(&e))?;
    let headline: Spec = serde_saphyr::from_str(HEADLINE_SPEC).expect("the headline spec parses");
    prepare(out)?;

    // 1. Fieldwork: the interviews, through the engine, into a store.
    let db = out.join("cases.db");
    let options = crate::export::replay::EngineReplayer::store_options(vec![instrument.clone()]);
    let mut store = Store::open_with(&db, None, &options)?;
    let survey = sim::run(settings, instrument, &mut store, &mut |_, _| {})?;
    let interviews = survey.cases.iter().flatten().count();
    log(&format!(
        "simulated {} households in {} areas; {} interviewed through the engine into {}",
        survey.sample.len(),
        survey
            .sample
            .iter()
            .map(|s| s.area)
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        interviews,
        db.display()
    ));
    sim::write_sample(&out.join("sample.csv"), &survey)?;
    sim::write_census(&out.join("weights/targets/demo"), &survey.country)?;
    std::fs::write(out.join("weights/demo.yaml"), plan_text)
        .map_err(|e| file_error(&out.join("weights/demo.yaml"))(&e))?;
    lap("simulate and interview", &mut timings);

    // 2. Export, as for any fieldwork.
    let export_dir = out.join("export");
    let options = crate::export::Options::default();
    crate::export::export(
        &store,
        std::slice::from_ref(instrument),
        &export_dir,
        &options,
    )?;
    drop(store);
    log(&format!(
        "exported the interviews to {}",
        export_dir.display()
    ));
    lap("export", &mut timings);

    // 3. The analysis file: the sample control file joined to main.csv.
    let analysis_path = out.join("analysis.csv");
    join(
        &out.join("sample.csv"),
        &export_dir.join("main.csv"),
        &analysis_path,
    )?;
    let mut text: std::collections::HashSet<String> = plan.text_columns().into_iter().collect();
    text.insert("stratum".into());
    text.insert("case_id".into());
    let data = Frame::read_path(
        &analysis_path,
        &ReadOptions {
            columns: None,
            text,
        },
        &mut |_| {},
    )
    .map_err(|e| file_error(&analysis_path)(&e))?;

    // 4. Weights and estimates.
    let targets = study::census_targets(&survey.country, &plan);
    let mut all = headline.clone();
    all.estimates.extend(spec.estimates.iter().cloned());
    let analysis = study::analyse(
        &data,
        &plan,
        &targets,
        &all,
        &[Method::Taylor, Method::Jkn],
        (0, 0),
    )?;
    log(&format!(
        "weighted {} respondents by the plan (written to weights/demo.yaml) with {} JKn replicates",
        analysis
            .weighting
            .weights
            .iter()
            .filter(|w| **w > 0.0)
            .count(),
        analysis.weighting.replicates.len()
    ));
    lap("weight and estimate", &mut timings);

    // 5. The truth.
    let truth = study::truth(&survey.country, &all)?;
    lap("true values", &mut timings);
    let mut by_method: HashMap<Method, Vec<Row>> = analysis.results.into_iter().collect();
    let taylor = by_method.remove(&Method::Taylor).unwrap_or_default();
    let jkn: HashMap<(String, Vec<(String, String)>), Row> = by_method
        .remove(&Method::Jkn)
        .unwrap_or_default()
        .into_iter()
        .map(|r| ((r.name.clone(), r.by.clone()), r))
        .collect();
    let labels: HashMap<&str, &str> = all
        .estimates
        .iter()
        .map(|e| {
            (
                e.name.as_str(),
                e.label.as_deref().unwrap_or(e.name.as_str()),
            )
        })
        .collect();
    let rows: Vec<DemoRow> = taylor
        .into_iter()
        .map(|r| {
            let key = (r.name.clone(), r.by.clone());
            DemoRow {
                label: labels.get(r.name.as_str()).unwrap_or(&"").to_string(),
                name: r.name.clone(),
                by: r.by.clone(),
                truth: truth.get(&key).copied(),
                jkn: jkn.get(&key).cloned(),
                taylor: r,
            }
        })
        .collect();
    let headline_rows = rows
        .iter()
        .take_while(|r| headline.estimates.iter().any(|e| e.name == r.name))
        .count();
    write_estimates(out, &rows)?;
    Ok(Demo {
        out: out.to_path_buf(),
        survey,
        interviews,
        rows,
        headline: headline_rows,
        weighting: analysis.weighting,
        timings,
        settings: settings.clone(),
    })
}

/// Joins the sample control file to the export's main.csv on `case_id`:
/// one row per sampled household, the respondent's `sdg_*` columns empty
/// for households not interviewed, and `adults` = the household's eligible
/// adults (1 where unknown).
fn join(sample: &Path, main: &Path, out: &Path) -> Result<(), DemoError> {
    let csv_err = |p: &Path| {
        let p = p.to_path_buf();
        move |e: csv::Error| DemoError::File {
            path: p.clone(),
            message: e.to_string(),
        }
    };
    let mut m = csv::Reader::from_path(main).map_err(csv_err(main))?;
    let header = m.headers().map_err(csv_err(main))?.clone();
    let case = header
        .iter()
        .position(|h| h == "case_id")
        .ok_or_else(|| DemoError::MissingColumn("case_id".into()))?;
    let keep: Vec<(usize, String)> = header
        .iter()
        .enumerate()
        .filter(|(_, h)| h.starts_with("sdg_"))
        .map(|(i, h)| (i, h.to_string()))
        .collect();
    let eligible = keep
        .iter()
        .position(|(_, h)| h == "sdg_n_eligible")
        .ok_or_else(|| DemoError::MissingColumn("sdg_n_eligible".into()))?;
    let mut answers: HashMap<String, Vec<String>> = HashMap::new();
    for rec in m.records() {
        let rec = rec.map_err(csv_err(main))?;
        let values = keep
            .iter()
            .map(|(i, _)| rec.get(*i).unwrap_or("").to_string())
            .collect();
        answers.insert(rec.get(case).unwrap_or("").to_string(), values);
    }
    let mut s = csv::Reader::from_path(sample).map_err(csv_err(sample))?;
    let mut w = csv::Writer::from_path(out).map_err(csv_err(out))?;
    let mut head: Vec<String> = s
        .headers()
        .map_err(csv_err(sample))?
        .iter()
        .map(str::to_string)
        .collect();
    head.push("adults".into());
    head.extend(keep.iter().map(|(_, h)| h.clone()));
    w.write_record(&head).map_err(csv_err(out))?;
    let blank = vec![String::new(); keep.len()];
    for rec in s.records() {
        let rec = rec.map_err(csv_err(sample))?;
        let mut row: Vec<String> = rec.iter().map(str::to_string).collect();
        let found = answers.get(rec.get(0).unwrap_or(""));
        let values = found.unwrap_or(&blank);
        row.push(match found {
            Some(v) => v[eligible].clone(),
            None => "1".into(),
        });
        row.extend(values.iter().cloned());
        w.write_record(&row).map_err(csv_err(out))?;
    }
    w.flush().map_err(|e| file_error(out)(&e))
}

fn write_estimates(out: &Path, rows: &[DemoRow]) -> Result<(), DemoError> {
    let taylor: Vec<Row> = rows.iter().map(|r| r.taylor.clone()).collect();
    let jkn: Vec<Row> = rows.iter().filter_map(|r| r.jkn.clone()).collect();
    for (name, list) in [
        ("estimates-taylor.json", taylor),
        ("estimates-jkn.json", jkn),
    ] {
        let path = out.join(name);
        let mut bytes = Vec::new();
        crate::report::write_json(&mut bytes, &list).map_err(|e| file_error(&path)(&e))?;
        std::fs::write(&path, bytes).map_err(|e| file_error(&path)(&e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rerun_replaces_the_demo_folder_but_never_another() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let out = dir.path().join("demo");
        prepare(&out).expect("a new folder");
        std::fs::write(out.join("report.html"), "old").expect("a file");
        prepare(&out).expect("the demo's own folder is replaced");
        assert!(!out.join("report.html").exists());
        assert!(out.join(MARK).exists());
        let other = dir.path().join("other");
        std::fs::create_dir_all(&other).expect("a folder");
        std::fs::write(other.join("notes.txt"), "keep").expect("a file");
        assert!(matches!(prepare(&other), Err(DemoError::Foreign(_))));
        assert!(other.join("notes.txt").exists());
        let empty = dir.path().join("empty");
        std::fs::create_dir_all(&empty).expect("a folder");
        prepare(&empty).expect("an empty folder is taken");
    }
}
