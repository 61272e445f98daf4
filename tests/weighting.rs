//! Weighting against R: the kernels of `vicor::weighting` reproduce the
//! weights and SEs that `tests/reference/make-weighting.R` wrote with R's
//! survey package (post-stratification, rake, linear, truncated linear,
//! raking and logit calibration, trimming, replicate re-calibration).

use std::collections::HashMap;

use vicor::weighting::calibrate::{
    Bounds, CalFun, CalibrationOptions, calibrate, calibration_residuals, trim_g,
};
use vicor::weighting::margins::{Margin, ModelMatrix, NumericTotal};
use vicor::weighting::poststratify::post_stratify;
use vicor::weighting::rake::{RakeControl, rake, rake_residuals};
use vicor::weighting::trim::trim_weights;

use crate::util::{Dir, fixture, root, run, vicor};

/// Calibrated weights agree with R row by row to this, relative.
const WEIGHT_TOL: f64 = 1e-8;
/// SEs agree with R to this, relative.
const SE_TOL: f64 = 1e-8;
/// R's convergence tolerance used by the goldens.
const TIGHT: f64 = 1e-13;

/// A CSV as named string columns; lines starting with `#` are skipped.
struct Table {
    cols: HashMap<String, Vec<String>>,
    names: Vec<String>,
}

impl Table {
    fn read(path: &std::path::Path) -> Table {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("{} cannot be read: {e}", path.display()));
        let body: String = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        let mut rdr = csv::Reader::from_reader(body.as_bytes());
        let names: Vec<String> = rdr
            .headers()
            .expect("the file has a header")
            .iter()
            .map(str::to_string)
            .collect();
        let mut cols: HashMap<String, Vec<String>> =
            names.iter().map(|n| (n.clone(), Vec::new())).collect();
        for rec in rdr.records() {
            let rec = rec.expect("a well-formed CSV record");
            for (n, v) in names.iter().zip(rec.iter()) {
                cols.get_mut(n).expect("named above").push(v.to_string());
            }
        }
        Table { cols, names }
    }

    fn fixture(name: &str) -> Table {
        Table::read(&fixture(&format!("weighting/{name}")))
    }

    fn reference(name: &str) -> Table {
        Table::read(&root().join("tests/reference/weighting").join(name))
    }

    fn str(&self, col: &str) -> &[String] {
        self.cols
            .get(col)
            .unwrap_or_else(|| panic!("no column {col}"))
    }

    fn num(&self, col: &str) -> Vec<f64> {
        self.str(col)
            .iter()
            .map(|v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("{col}: {v} is not a number"))
            })
            .collect()
    }

    /// Keeps the rows where `keep` is true.
    fn filter(&self, keep: &[bool]) -> Table {
        let cols = self
            .cols
            .iter()
            .map(|(k, v)| {
                let kept = v
                    .iter()
                    .zip(keep)
                    .filter(|(_, k)| **k)
                    .map(|(v, _)| v.clone())
                    .collect();
                (k.clone(), kept)
            })
            .collect();
        Table {
            cols,
            names: self.names.clone(),
        }
    }
}

fn targets(pairs: &[(&str, f64)]) -> Vec<(String, f64)> {
    pairs.iter().map(|(c, t)| (c.to_string(), *t)).collect()
}

/// Targets from a fixture CSV: category columns then `total`.
fn targets_file(name: &str, vars: &[&str]) -> Vec<(String, f64)> {
    let t = Table::fixture(name);
    let total = t.num("total");
    (0..total.len())
        .map(|i| {
            let key: Vec<&str> = vars.iter().map(|v| t.str(v)[i].as_str()).collect();
            (key.join(":"), total[i])
        })
        .collect()
}

fn joint_values(t: &Table, vars: &[&str]) -> Vec<String> {
    let n = t.str(vars[0]).len();
    (0..n)
        .map(|i| {
            vars.iter()
                .map(|v| t.str(v)[i].as_str())
                .collect::<Vec<_>>()
                .join(":")
        })
        .collect()
}

fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let rel = (g - w).abs() / w.abs().max(1e-300);
        let ok = if *w == 0.0 { g.abs() < tol } else { rel < tol };
        assert!(
            ok,
            "{what}: row {}: got {g}, R {w} (relative {rel:e})",
            i + 1
        );
    }
}

fn se_ref(case: &str) -> (f64, f64) {
    let t = Table::reference("se.csv");
    let i = t
        .str("case")
        .iter()
        .position(|c| c == case)
        .unwrap_or_else(|| panic!("no SE for {case}"));
    (t.num("estimate")[i], t.num("se")[i])
}

/// Stratified one-stage Taylor variance of a total of scores `z`, with the
/// stage-1 fpc as a population count per stratum (none when `fpc` is None).
/// A test-only stand-in for the estimate module's variance.
fn taylor_var(z: &[f64], strata: &[String], psu: &[String], fpc: Option<&[f64]>) -> f64 {
    let mut by_stratum: HashMap<&str, (HashMap<&str, f64>, f64)> = HashMap::new();
    for i in 0..z.len() {
        let e = by_stratum
            .entry(strata[i].as_str())
            .or_insert_with(|| (HashMap::new(), fpc.map_or(f64::INFINITY, |f| f[i])));
        *e.0.entry(psu[i].as_str()).or_insert(0.0) += z[i];
    }
    let mut v = 0.0;
    for (psus, pop) in by_stratum.values() {
        let n = psus.len() as f64;
        let mean = psus.values().sum::<f64>() / n;
        let ss: f64 = psus.values().map(|t| (t - mean) * (t - mean)).sum();
        v += (1.0 - n / pop) * n / (n - 1.0) * ss;
    }
    v
}

/// Mean of y with final weights w, and its linearization SE after
/// calibration on `mm` from design weights d.
fn calibrated_mean_se(
    mm: &ModelMatrix,
    d: &[f64],
    w: &[f64],
    y: &[f64],
    design: (&[String], &[String], Option<&[f64]>),
) -> (f64, f64) {
    let nhat: f64 = w.iter().sum();
    let mean = w.iter().zip(y).map(|(w, y)| w * y).sum::<f64>() / nhat;
    let z: Vec<f64> = w
        .iter()
        .zip(y)
        .map(|(w, y)| w * (y - mean) / nhat)
        .collect();
    let e = calibration_residuals(mm, d, w, &z).expect("lengths agree");
    (mean, taylor_var(&e, design.0, design.1, design.2).sqrt())
}

/// Mean of y with raked weights w, and its linearization SE after R's
/// `rake()` residual approximation.
fn raked_mean_se(
    margins: &[Margin],
    w: &[f64],
    y: &[f64],
    design: (&[String], &[String], Option<&[f64]>),
) -> (f64, f64) {
    let nhat: f64 = w.iter().sum();
    let mean = w.iter().zip(y).map(|(w, y)| w * y).sum::<f64>() / nhat;
    let z: Vec<f64> = w
        .iter()
        .zip(y)
        .map(|(w, y)| w * (y - mean) / nhat)
        .collect();
    let e = rake_residuals(margins, w, &z).expect("lengths agree");
    (mean, taylor_var(&e, design.0, design.1, design.2).sqrt())
}

fn api_type_margin(t: &Table) -> Margin {
    Margin::new(
        "stype",
        t.str("stype"),
        &targets(&[("E", 4421.0), ("H", 755.0), ("M", 1018.0)]),
    )
    .expect("valid margin")
}

fn api_wide_margin(t: &Table) -> Margin {
    Margin::new(
        "sch.wide",
        t.str("sch.wide"),
        &targets(&[("No", 1072.0), ("Yes", 5122.0)]),
    )
    .expect("valid margin")
}

/// apiclus1 calibrated to N, school type and total api99.
fn apiclus1_linear_mm(t: &Table) -> ModelMatrix {
    let api99 = NumericTotal {
        name: "api99".into(),
        values: t.num("api99"),
        total: 3914069.0,
    };
    ModelMatrix::from_margins(&[api_type_margin(t)], &[api99], 1e-9).expect("valid margins")
}

fn options(calfun: CalFun, bounds: Bounds, epsilon: f64) -> CalibrationOptions {
    CalibrationOptions {
        calfun,
        bounds,
        epsilon,
        ..Default::default()
    }
}

/// Cases of the R script's `cal_cases`; bounded raking stops at 1e-9 (R's
/// Newton stalls near 1e-10 there), the others at [`TIGHT`].
const CASES: [(&str, CalFun, Bounds); 5] = [
    ("linear", CalFun::Linear, Bounds::NONE),
    (
        "truncated",
        CalFun::Linear,
        Bounds {
            lower: 0.6,
            upper: 1.6,
        },
    ),
    ("raking", CalFun::Raking, Bounds::NONE),
    (
        "raking_bounded",
        CalFun::Raking,
        Bounds {
            lower: 0.6,
            upper: 1.6,
        },
    ),
    (
        "logit",
        CalFun::Logit,
        Bounds {
            lower: 0.6,
            upper: 1.6,
        },
    ),
];

fn epsilon_of(case: &str) -> f64 {
    if case == "raking_bounded" {
        1e-9
    } else {
        TIGHT
    }
}

#[test]
fn apiclus1_calibrations_match_r_weights_and_ses() {
    let t = Table::fixture("apiclus1.csv");
    let d = t.num("pw");
    let mm = apiclus1_linear_mm(&t);
    let one = vec!["1".to_string(); d.len()];
    let fpc = t.num("fpc");
    for (name, calfun, bounds) in CASES {
        let cal =
            calibrate(&mm, &d, &options(calfun, bounds, epsilon_of(name))).expect("converges");
        let w = cal.weights(&d);
        let case = format!("apiclus1_{name}");
        let want = Table::reference(&format!("{case}.csv")).num("weight");
        assert_close(&case, &w, &want, WEIGHT_TOL);
        let (mean, se) = calibrated_mean_se(
            &mm,
            &d,
            &w,
            &t.num("api00"),
            (&one, t.str("dnum"), Some(&fpc)),
        );
        let (r_mean, r_se) = se_ref(&case);
        assert_close(&format!("{case} mean"), &[mean], &[r_mean], SE_TOL);
        assert_close(&format!("{case} SE"), &[se], &[r_se], SE_TOL);
    }
}

#[test]
fn apiclus1_logit_with_r_default_epsilon_stops_where_r_stops() {
    let t = Table::fixture("apiclus1.csv");
    let d = t.num("pw");
    let mm = apiclus1_linear_mm(&t);
    let (_, calfun, bounds) = CASES[4];
    let cal = calibrate(&mm, &d, &options(calfun, bounds, 1e-7)).expect("converges");
    let want = Table::reference("apiclus1_logit_default.csv").num("weight");
    // Same iterations as R, so the same weights to rounding, far below 1e-7.
    assert_close("logit default", &cal.weights(&d), &want, 1e-12);
}

#[test]
fn apiclus1_poststratification_matches_r() {
    let t = Table::fixture("apiclus1.csv");
    let d = t.num("pw");
    let cells = api_type_margin(&t);
    let w = post_stratify(&cells, &d).expect("no empty cell");
    assert_close(
        "apiclus1_poststratify",
        &w,
        &Table::reference("apiclus1_poststratify.csv").num("weight"),
        WEIGHT_TOL,
    );
    let mm = ModelMatrix::from_margins(&[cells], &[], 1e-9).expect("valid");
    let one = vec!["1".to_string(); d.len()];
    let fpc = t.num("fpc");
    let (mean, se) = calibrated_mean_se(
        &mm,
        &d,
        &w,
        &t.num("api00"),
        (&one, t.str("dnum"), Some(&fpc)),
    );
    let (r_mean, r_se) = se_ref("apiclus1_poststratify");
    assert_close("poststratify mean", &[mean], &[r_mean], SE_TOL);
    assert_close("poststratify SE", &[se], &[r_se], SE_TOL);
}

#[test]
fn apiclus1_rake_matches_r_converged_and_with_r_defaults() {
    let t = Table::fixture("apiclus1.csv");
    let d = t.num("pw");
    let margins = [api_type_margin(&t), api_wide_margin(&t)];
    let tight = RakeControl {
        maxit: 1000,
        epsilon: 1e-13,
    };
    let r = rake(&margins, &d, &tight, 1e-9).expect("converges");
    assert_close(
        "apiclus1_rake",
        &r.weights,
        &Table::reference("apiclus1_rake.csv").num("weight"),
        WEIGHT_TOL,
    );
    let one = vec!["1".to_string(); d.len()];
    let fpc = t.num("fpc");
    let (mean, se) = raked_mean_se(
        &margins,
        &r.weights,
        &t.num("api00"),
        (&one, t.str("dnum"), Some(&fpc)),
    );
    let (r_mean, r_se) = se_ref("apiclus1_rake");
    assert_close("apiclus1_rake mean", &[mean], &[r_mean], SE_TOL);
    assert_close("apiclus1_rake SE", &[se], &[r_se], SE_TOL);
    let r = rake(&margins, &d, &RakeControl::default(), 1e-9).expect("converges");
    assert_close(
        "apiclus1_rake_default",
        &r.weights,
        &Table::reference("apiclus1_rake_default.csv").num("weight"),
        1e-12,
    );
}

#[test]
fn apiclus1_trimming_matches_r() {
    let t = Table::fixture("apiclus1.csv");
    let d = t.num("pw");
    let mm = apiclus1_linear_mm(&t);
    let mut opts = options(CalFun::Raking, Bounds::NONE, TIGHT);
    opts.trim = Some((0.95, 1.05));
    let cal = calibrate(&mm, &d, &opts).expect("converges");
    assert!(cal.trimmed > 0, "the golden case trims some units");
    let w = cal.weights(&d);
    assert_close(
        "apiclus1_raking_trim",
        &w,
        &Table::reference("apiclus1_raking_trim.csv").num("weight"),
        WEIGHT_TOL,
    );
    let tw = trim_weights(&w, 30.0, 36.0, false).expect("valid bounds");
    assert_close(
        "apiclus1_trimweights",
        &tw.weights,
        &Table::reference("apiclus1_trimweights.csv").num("weight"),
        WEIGHT_TOL,
    );
    let tw = trim_weights(&w, 30.0, 35.0, true).expect("valid bounds");
    assert_close(
        "apiclus1_trimweights_strict",
        &tw.weights,
        &Table::reference("apiclus1_trimweights_strict.csv").num("weight"),
        WEIGHT_TOL,
    );
}

#[test]
fn apiclus1_jk1_replicates_recalibrated_match_r() {
    let t = Table::fixture("apiclus1_jk1.csv");
    let d = t.num("pw");
    let mm = apiclus1_linear_mm(&t);
    let y = t.num("api00");
    let scale = Table::reference("apiclus1_jk1_scale.csv");
    let (scale, rscale) = (scale.num("scale")[0], scale.num("rscales")[0]);
    let cases = [
        ("linear", CalFun::Linear, Bounds::NONE),
        ("raking", CalFun::Raking, Bounds::NONE),
        (
            "logit",
            CalFun::Logit,
            Bounds {
                lower: 0.3,
                upper: 3.0,
            },
        ),
    ];
    let mean =
        |w: &[f64]| w.iter().zip(&y).map(|(w, y)| w * y).sum::<f64>() / w.iter().sum::<f64>();
    for (name, calfun, bounds) in cases {
        let case = format!("apiclus1_jk1_{name}");
        let want = Table::reference(&format!("{case}.csv"));
        let opts = options(calfun, bounds, TIGHT);
        let full = calibrate(&mm, &d, &opts).expect("converges").weights(&d);
        assert_close(&case, &full, &want.num("weight"), WEIGHT_TOL);
        let mut thetas = Vec::new();
        for r in 1..=15 {
            let col = format!("rw{r}");
            let rw = t.num(&col);
            let w = calibrate(&mm, &rw, &opts).expect("converges").weights(&rw);
            assert_close(&format!("{case} {col}"), &w, &want.num(&col), WEIGHT_TOL);
            thetas.push(mean(&w));
        }
        let centre = thetas.iter().sum::<f64>() / thetas.len() as f64;
        let v: f64 = thetas
            .iter()
            .map(|th| rscale * (th - centre).powi(2))
            .sum::<f64>()
            * scale;
        let (r_mean, r_se) = se_ref(&case);
        assert_close(&format!("{case} mean"), &[mean(&full)], &[r_mean], SE_TOL);
        assert_close(&format!("{case} SE"), &[v.sqrt()], &[r_se], SE_TOL);
    }
}

#[test]
fn apistrat_calibrations_and_rake_match_r() {
    let t = Table::fixture("apistrat.csv");
    let d = t.num("pw");
    let comp = Margin::new(
        "comp.imp",
        t.str("comp.imp"),
        &targets(&[("No", 1712.0), ("Yes", 4482.0)]),
    )
    .expect("valid margin");
    let margins = [api_wide_margin(&t), comp];
    let tight = RakeControl {
        maxit: 1000,
        epsilon: 1e-13,
    };
    let r = rake(&margins, &d, &tight, 1e-9).expect("converges");
    assert_close(
        "apistrat_rake",
        &r.weights,
        &Table::reference("apistrat_rake.csv").num("weight"),
        WEIGHT_TOL,
    );
    let api99 = NumericTotal {
        name: "api99".into(),
        values: t.num("api99"),
        total: 3914069.0,
    };
    let mm = ModelMatrix::from_margins(&margins, &[api99], 1e-9).expect("valid");
    let psu: Vec<String> = (0..d.len()).map(|i| i.to_string()).collect();
    let fpc = t.num("fpc");
    for (name, calfun, bounds) in CASES {
        let case = format!("apistrat_{name}");
        let w = calibrate(&mm, &d, &options(calfun, bounds, epsilon_of(name)))
            .expect("converges")
            .weights(&d);
        assert_close(
            &case,
            &w,
            &Table::reference(&format!("{case}.csv")).num("weight"),
            WEIGHT_TOL,
        );
        let (mean, se) = calibrated_mean_se(
            &mm,
            &d,
            &w,
            &t.num("api00"),
            (t.str("stype"), &psu, Some(&fpc)),
        );
        let (r_mean, r_se) = se_ref(&case);
        assert_close(&format!("{case} mean"), &[mean], &[r_mean], SE_TOL);
        assert_close(&format!("{case} SE"), &[se], &[r_se], SE_TOL);
    }
}

/// The synthetic survey's respondents with their nonresponse-adjusted
/// weight as R computed it.
fn synthetic_respondents() -> (Table, Vec<f64>) {
    let t = Table::fixture("synthetic.csv");
    let keep: Vec<bool> = t.str("responded").iter().map(|r| r == "1").collect();
    let resp = t.filter(&keep);
    let nr = Table::reference("synthetic_nonresponse.csv");
    assert_eq!(nr.str("id"), resp.str("id"), "same respondents, same order");
    (resp, nr.num("weight"))
}

fn synthetic_margins(t: &Table) -> Vec<Margin> {
    [
        ("sex", "targets_sex.csv"),
        ("age", "targets_age.csv"),
        ("region", "targets_region.csv"),
    ]
    .iter()
    .map(|(var, file)| {
        Margin::new(var, t.str(var), &targets_file(file, &[var])).expect("valid margin")
    })
    .collect()
}

#[test]
fn synthetic_survey_matches_r_on_every_method() {
    let (t, d) = synthetic_respondents();
    let margins = synthetic_margins(&t);
    let design = (t.str("region"), t.str("ea"), None);
    let y = t.num("victim");
    let tight = RakeControl {
        maxit: 1000,
        epsilon: 1e-13,
    };
    let r = rake(&margins, &d, &tight, 1e-9).expect("converges");
    assert_close(
        "synthetic_rake",
        &r.weights,
        &Table::reference("synthetic_rake.csv").num("weight"),
        WEIGHT_TOL,
    );
    let (mean, se) = raked_mean_se(&margins, &r.weights, &y, design);
    let (r_mean, r_se) = se_ref("synthetic_rake");
    assert_close("synthetic_rake mean", &[mean], &[r_mean], SE_TOL);
    assert_close("synthetic_rake SE", &[se], &[r_se], SE_TOL);
    let cells = Margin::new(
        "sex*age",
        &joint_values(&t, &["sex", "age"]),
        &targets_file("targets_sex_age.csv", &["sex", "age"]),
    )
    .expect("valid cells");
    let w = post_stratify(&cells, &d).expect("no empty cell");
    assert_close(
        "synthetic_poststratify",
        &w,
        &Table::reference("synthetic_poststratify.csv").num("weight"),
        WEIGHT_TOL,
    );
    let ps_mm = ModelMatrix::from_margins(&[cells], &[], 1e-9).expect("valid");
    let (mean, se) = calibrated_mean_se(&ps_mm, &d, &w, &y, design);
    let (r_mean, r_se) = se_ref("synthetic_poststratify");
    assert_close("synthetic_poststratify mean", &[mean], &[r_mean], SE_TOL);
    assert_close("synthetic_poststratify SE", &[se], &[r_se], SE_TOL);

    let mm = ModelMatrix::from_margins(&margins, &[], 1e-9).expect("valid");
    let cases = [
        ("linear", CalFun::Linear, Bounds::NONE),
        ("raking", CalFun::Raking, Bounds::NONE),
        (
            "logit",
            CalFun::Logit,
            Bounds {
                lower: 0.5,
                upper: 2.5,
            },
        ),
    ];
    for (name, calfun, bounds) in cases {
        let case = format!("synthetic_{name}");
        let w = calibrate(&mm, &d, &options(calfun, bounds, TIGHT))
            .expect("converges")
            .weights(&d);
        assert_close(
            &case,
            &w,
            &Table::reference(&format!("{case}.csv")).num("weight"),
            WEIGHT_TOL,
        );
        let (mean, se) = calibrated_mean_se(&mm, &d, &w, &y, design);
        let (r_mean, r_se) = se_ref(&case);
        assert_close(&format!("{case} mean"), &[mean], &[r_mean], SE_TOL);
        assert_close(&format!("{case} SE"), &[se], &[r_se], SE_TOL);
    }
}

#[test]
fn calibrated_totals_hit_every_margin_category() {
    let (t, d) = synthetic_respondents();
    let margins = synthetic_margins(&t);
    let mm = ModelMatrix::from_margins(&margins, &[], 1e-9).expect("valid");
    let check = |what: &str, w: &[f64], tol: f64| {
        for m in &margins {
            let mut tot = vec![0.0; m.targets.len()];
            for (c, w) in m.codes.iter().zip(w) {
                tot[*c as usize] += w;
            }
            for (k, (got, want)) in tot.iter().zip(&m.targets).enumerate() {
                let rel = (got - want).abs() / (1.0 + want);
                assert!(
                    rel < tol,
                    "{what}: margin {} category {} off by {rel:e}",
                    m.name,
                    m.categories[k]
                );
            }
        }
    };
    for (calfun, bounds) in [
        (CalFun::Linear, Bounds::NONE),
        (CalFun::Raking, Bounds::NONE),
        (
            CalFun::Linear,
            Bounds {
                lower: 0.5,
                upper: 2.5,
            },
        ),
        (
            CalFun::Logit,
            Bounds {
                lower: 0.5,
                upper: 2.5,
            },
        ),
    ] {
        let cal = calibrate(&mm, &d, &options(calfun, bounds, 1e-10)).expect("converges");
        assert!(cal.max_error < 1e-10);
        check(&format!("{calfun:?}"), &cal.weights(&d), 1e-10);
    }
    let control = RakeControl {
        maxit: 100,
        epsilon: 1e-10,
    };
    let r = rake(&margins, &d, &control, 1e-9).expect("converges");
    check("rake", &r.weights, 1e-9);
    // trim_g keeps the weighted sum of g (the population size).
    let mut g = vec![0.5, 1.0, 2.0];
    trim_g(&mut g, &[1.0, 1.0, 1.0], 0.8, 1.5);
    assert!((g.iter().sum::<f64>() - 3.5).abs() < 1e-12);
}
#[test]
fn weight_runs_the_synthetic_plan_like_r() {
    let dir = Dir::new();
    let out = dir.join("weighted.csv");
    let r = run(vicor()
        .arg("weight")
        .arg("--plan")
        .arg(fixture("weighting/synthetic-plan.yaml"))
        .arg("--data")
        .arg(fixture("weighting/synthetic.csv"))
        .arg("--out")
        .arg(&out));
    r.assert_code(0);
    let got = Table::read(&out);
    let want = Table::reference("synthetic_plan.csv");
    // Nonrespondents keep their row with weight 0.
    let resp: Vec<bool> = got.str("responded").iter().map(|r| r == "1").collect();
    let kept = got.filter(&resp);
    assert_eq!(kept.str("id"), want.str("id"));
    assert_close(
        "synthetic plan",
        &kept.num("final_weight"),
        &want.num("weight"),
        WEIGHT_TOL,
    );
    assert!(r.stdout.contains("calibration"), "{}", r.stdout);
}

/// Every bad input of `tests/fixtures/weighting/bad/`: exit 1, a message
/// naming the margin and category (or row), and no output written.
#[test]
fn weight_refuses_bad_input_and_writes_nothing() {
    let cases = [
        (
            "totals-disagree",
            "tiny.csv",
            &["margin `age` totals 610", "`sex` totals 600"][..],
        ),
        (
            "category-not-in-targets",
            "tiny.csv",
            &["margin `sex`", "category `f`"][..],
        ),
        (
            "empty-cell",
            "tiny.csv",
            &["margin `sex`", "category `x`", "empty cell"][..],
        ),
        (
            "no-convergence",
            "tiny.csv",
            &["did not converge", "margin `age`"][..],
        ),
        (
            "zero-probability",
            "zero-probability.csv",
            &["row 6", "`p` is 0"][..],
        ),
    ];
    for (plan, data, phrases) in cases {
        let dir = Dir::new();
        let out = dir.join("out.csv");
        let r = run(vicor()
            .arg("weight")
            .arg("--plan")
            .arg(fixture(&format!("weighting/bad/{plan}.yaml")))
            .arg("--data")
            .arg(fixture(&format!("weighting/bad/{data}")))
            .arg("--out")
            .arg(&out));
        r.assert_code(1);
        // miette wraps long messages; read them as one line.
        let message = r
            .stderr
            .replace('│', " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        for p in phrases {
            assert!(message.contains(p), "{plan}: `{p}` not in\n{}", r.stderr);
        }
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("the temporary directory is readable")
            .collect();
        assert!(left.is_empty(), "{plan}: files were left behind: {left:?}");
    }
}

#[test]
fn weight_recalibrates_every_replicate_like_r() {
    let dir = Dir::new();
    let out = dir.join("weighted.csv");
    let report = dir.join("diagnostics.json");
    let r = run(vicor()
        .arg("weight")
        .arg("--plan")
        .arg(fixture("weighting/apiclus1-jk1-plan.yaml"))
        .arg("--data")
        .arg(fixture("weighting/apiclus1_jk1.csv"))
        .arg("--out")
        .arg(&out)
        .arg("--report")
        .arg(&report));
    r.assert_code(0);
    let got = Table::read(&out);
    let want = Table::reference("apiclus1_jk1_raking.csv");
    assert_close(
        "final weight",
        &got.num("final_weight"),
        &want.num("weight"),
        WEIGHT_TOL,
    );
    for k in 1..=15 {
        assert_close(
            &format!("replicate {k}"),
            &got.num(&format!("final_rw{k}")),
            &want.num(&format!("rw{k}")),
            WEIGHT_TOL,
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("the report was written"))
            .expect("the report is JSON");
    assert_eq!(json["replicates"]["count"], 15);
    assert!(
        json["replicates"]["max_margin_error"]
            .as_f64()
            .expect("a number")
            < 1e-12
    );
}

#[test]
fn demo_plan_runs_on_the_synthetic_survey() {
    let dir = Dir::new();
    let out = dir.join("weighted.csv");
    let r = run(vicor()
        .arg("weight")
        .arg("--plan")
        .arg(fixture("weighting/synthetic-demo-plan.yaml"))
        .arg("--data")
        .arg(fixture("weighting/synthetic.csv"))
        .arg("--out")
        .arg(&out));
    r.assert_code(0);
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("weighted.diagnostics.json"))
            .expect("the report sits beside the output"),
    )
    .expect("the report is JSON");
    let steps = json["steps"].as_array().expect("a list of steps");
    let names: Vec<&str> = steps.iter().filter_map(|s| s["step"].as_str()).collect();
    assert_eq!(
        names,
        [
            "base",
            "within_household",
            "nonresponse",
            "calibration",
            "trimming"
        ]
    );
    let cal = &steps[3];
    assert!(cal["max_margin_error"].as_f64().expect("a number") < 1e-9);
    let trimmed = &steps[4]["weights"];
    assert!(trimmed["min"].as_f64().expect("a number") >= 40.0);
    assert!(trimmed["max"].as_f64().expect("a number") <= 400.0);
}

/// The whole chain: `vicor weight` forms replicates with the design module
/// (JK1 on apiclus1, JKn on apistrat), re-calibrates each and writes the
/// design file; `vicor estimate` then gives R's replicate SE after
/// calibration.
#[test]
fn formed_replicates_recalibrated_give_r_replicate_se_through_estimate() {
    let cases = [
        (
            "apiclus1-formjk1-plan.yaml",
            "apiclus1.csv",
            "apiclus1_jk1_raking",
            15,
        ),
        (
            "apistrat-formjkn-plan.yaml",
            "apistrat.csv",
            "apistrat_jkn_raking",
            200,
        ),
    ];
    for (plan, data, case, count) in cases {
        let dir = Dir::new();
        let out = dir.join("weighted.csv");
        let design = dir.join("design.yaml");
        run(vicor()
            .arg("weight")
            .arg("--plan")
            .arg(fixture(&format!("weighting/{plan}")))
            .arg("--data")
            .arg(fixture(&format!("weighting/{data}")))
            .arg("--out")
            .arg(&out)
            .arg("--design-out")
            .arg(&design))
        .assert_code(0);
        let got = Table::read(&out);
        let want = Table::reference(&format!("{case}.csv"));
        assert_close(
            case,
            &got.num("final_weight"),
            &want.num("weight"),
            WEIGHT_TOL,
        );
        for k in 1..=count {
            assert_close(
                &format!("{case} formed replicate {k}"),
                &got.num(&format!("final_rw{k}")),
                &want.num(&format!("rw{k}")),
                WEIGHT_TOL,
            );
        }
        let r = run(vicor()
            .arg("estimate")
            .arg("--data")
            .arg(&out)
            .arg("--design")
            .arg(&design)
            .arg("--spec")
            .arg(fixture("weighting/mean-api00.yaml"))
            .arg("--format")
            .arg("json"));
        r.assert_code(0);
        let json: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON output");
        let row = &json["estimates"][0];
        let (r_mean, r_se) = se_ref(case);
        let est = row["estimate"].as_f64().expect("a number");
        let se = row["se"].as_f64().expect("a number");
        assert_close(&format!("{case} mean"), &[est], &[r_mean], SE_TOL);
        assert_close(&format!("{case} replicate SE"), &[se], &[r_se], SE_TOL);
    }
}

/// Issue #8: the synthetic plan (raking, then trimming) through
/// `vicor weight --design-out` and `vicor estimate`: the design file's
/// `calibration:` block gives R's Taylor SE of `trimWeights(calibrate())`.
#[test]
fn weight_design_out_gives_r_taylor_se_after_calibration() {
    let dir = Dir::new();
    let out = dir.join("weighted.csv");
    let design = dir.join("design.yaml");
    run(vicor()
        .arg("weight")
        .arg("--plan")
        .arg(fixture("weighting/synthetic-plan.yaml"))
        .arg("--data")
        .arg(fixture("weighting/synthetic.csv"))
        .arg("--out")
        .arg(&out)
        .arg("--design-out")
        .arg(&design))
    .assert_code(0);
    let text = std::fs::read_to_string(&design).expect("design written");
    for key in [
        "method: raking",
        "input_weight: final_weight_input",
        "calibrated_weight: final_weight_calibrated",
        "- region",
    ] {
        assert!(text.contains(key), "{key} missing from:\n{text}");
    }
    // Respondents only (estimate wants positive weights), and the sample
    // design added to the weights' design file.
    let all = std::fs::read_to_string(&out).expect("weighted data");
    let mut lines = all.lines();
    let header = lines.next().expect("a header");
    let responded = header
        .split(',')
        .position(|c| c == "responded")
        .expect("responded column");
    let mut kept = format!("{header}\n");
    for l in lines.filter(|l| l.split(',').nth(responded) == Some("1")) {
        kept.push_str(l);
        kept.push('\n');
    }
    let data = dir.join("respondents.csv");
    std::fs::write(&data, kept).expect("written");
    std::fs::write(&design, format!("{text}strata: region\nclusters: [ea]\n")).expect("written");
    let spec = dir.join("spec.yaml");
    std::fs::write(&spec, "estimates:\n  - name: victim\n    mean: victim\n").expect("written");
    let r = run(vicor()
        .arg("estimate")
        .arg("--data")
        .arg(&data)
        .arg("--design")
        .arg(&design)
        .arg("--spec")
        .arg(&spec)
        .args(["--format", "json"]));
    r.assert_code(0);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON output");
    let row = &json["estimates"][0];
    let (r_mean, r_se) = se_ref("synthetic_plan");
    let est = row["estimate"].as_f64().expect("a number");
    let se = row["se"].as_f64().expect("a number");
    assert_close("synthetic plan mean", &[est], &[r_mean], SE_TOL);
    assert_close("synthetic plan Taylor SE", &[se], &[r_se], SE_TOL);
}
