//! `vicor simulate` and `vicor demo` through the real binary: a small
//! country and sample so the debug build stays quick; the report opened in
//! a real headless browser.

use std::process::Command;

use crate::util::{Dir, browser, run, vicor};

/// A small demo: 300 areas, two drawn per stratum, two households each.
/// So few respondents cannot be raked to 20 strata in every replicate, so
/// the plan calibrates to sex and age only (the shipped plan is checked on
/// a larger sample by the unit tests of `simulate`).
fn small_demo(dir: &Dir) -> std::path::PathBuf {
    let out = dir.join("demo");
    let plan = dir.write(
        "small.yaml",
        "base: {probabilities: [p_ea, p_hh]}\n\
         within_household: {adults: adults}\n\
         nonresponse: {respondent: responded, classes: [region]}\n\
         calibration:\n  method: rake\n  margins:\n\
         \x20   - {variable: sdg_sex, targets: targets/demo/sdg_sex.csv}\n\
         \x20   - {variable: sdg_age_group, targets: targets/demo/sdg_age_group.csv}\n\
         replicates: {form: jkn, strata: stratum, clusters: [area]}\n\
         output: {weight: final_weight}\n",
    );
    let r = run(vicor()
        .arg("demo")
        .arg("--out")
        .arg(&out)
        .arg("--plan")
        .arg(&plan)
        .args([
            "--areas",
            "300",
            "--areas-per-stratum",
            "2",
            "--households-per-area",
            "2",
        ]));
    r.assert_code(0);
    assert!(
        r.stdout.contains("interviewed through the engine"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("16.5.1 paid or asked for a bribe"),
        "{}",
        r.stdout
    );
    out
}

#[test]
fn the_demo_runs_the_chain_and_puts_the_truth_beside_each_estimate() {
    let dir = Dir::new();
    let out = small_demo(&dir);
    for file in [
        "cases.db",
        "sample.csv",
        "analysis.csv",
        "export/main.csv",
        "export/codebook.json",
        "weights/demo.yaml",
        "weights/targets/demo/sdg_sex.csv",
        "estimates-taylor.json",
        "estimates-jkn.json",
        "report.html",
    ] {
        assert!(out.join(file).exists(), "{file} is missing");
    }
    // Every sampled household is a row of the analysis file; those
    // interviewed carry the exported indicator variables.
    let sample = std::fs::read_to_string(out.join("sample.csv")).expect("sample.csv");
    let analysis = std::fs::read_to_string(out.join("analysis.csv")).expect("analysis.csv");
    assert_eq!(sample.lines().count(), 1 + 20 * 2 * 2);
    assert_eq!(analysis.lines().count(), sample.lines().count());
    assert!(
        analysis
            .lines()
            .next()
            .unwrap_or("")
            .contains("sdg_1613_physical")
    );
    // The JSON estimates keep the contract's keys.
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("estimates-jkn.json")).expect("estimates"),
    )
    .expect("JSON");
    let rows = json["estimates"].as_array().expect("rows");
    assert!(rows.iter().any(|r| r["name"] == "sdg_16_5_1"));
    let report = std::fs::read_to_string(out.join("report.html")).expect("report");
    assert!(report.contains("<svg"), "the report has charts");
    assert!(report.contains("true value"));
    // Someone else's folder is never replaced (the demo's own is: see the
    // unit tests of simulate::demo).
    let foreign = dir.join("mine");
    std::fs::create_dir_all(&foreign).expect("a folder");
    std::fs::write(foreign.join("thesis.tex"), "keep me").expect("a file");
    let r = run(vicor().arg("demo").arg("--out").arg(&foreign));
    r.assert_code(1);
    assert!(
        r.stderr.contains("was not made by vicor demo"),
        "{}",
        r.stderr
    );
    assert!(foreign.join("thesis.tex").exists());
    the_report_renders_in_a_headless_browser_without_console_errors(&dir, &out);
}

/// The report in a real browser: it parses, shows its charts, logs nothing
/// to the console, and a screenshot of it is a page of charts.
fn the_report_renders_in_a_headless_browser_without_console_errors(
    dir: &Dir,
    out: &std::path::Path,
) {
    let Some(browser) = browser() else { return };
    let page = format!("file://{}", out.join("report.html").display());
    let profile = dir.join("profile");
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--enable-logging=stderr",
        "--v=0",
    ];
    let dom = Command::new(&browser)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&page)
        .output()
        .expect("the browser runs");
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let html = String::from_utf8_lossy(&dom.stdout);
    // The browser parsed the page into the DOM: the title, the tables and
    // one chart per disaggregated estimate of the SDG spec.
    assert!(html.contains("SDG 16 indicators of a synthetic country"));
    assert!(
        html.matches("<svg").count() >= 40,
        "{} charts",
        html.matches("<svg").count()
    );
    let log = String::from_utf8_lossy(&dom.stderr);
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    let shot = dir.join("report.png");
    let s = Command::new(&browser)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1000,1400")
        .arg(&page)
        .output()
        .expect("the browser runs");
    assert!(s.status.success(), "{}", String::from_utf8_lossy(&s.stderr));
    let png = std::fs::read(&shot).expect("a screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // A page of charts, not a blank one: a blank PNG of this size
    // compresses to a few kilobytes.
    assert!(png.len() > 40_000, "screenshot of {} bytes", png.len());
}

#[test]
fn simulate_writes_a_store_a_sample_file_and_the_census() {
    let dir = Dir::new();
    let out = dir.join("sim");
    let r = run(vicor().arg("simulate").arg("--out").arg(&out).args([
        "--areas",
        "200",
        "--areas-per-stratum",
        "2",
        "--households-per-area",
        "1",
    ]));
    r.assert_code(0);
    let census = std::fs::read_to_string(out.join("census/sdg_sex.csv")).expect("census");
    assert_eq!(census.lines().next(), Some("sdg_sex,total"));
    let r = run(vicor().arg("cases").arg("--db").arg(out.join("cases.db")));
    r.assert_code(0);
    // An existing folder is kept unless --force.
    let again = run(vicor()
        .arg("simulate")
        .arg("--out")
        .arg(&out)
        .args(["--areas", "200"]));
    again.assert_code(1);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    // A sample too large for the country's strata is refused.
    let big = run(vicor()
        .arg("simulate")
        .arg("--out")
        .arg(dir.join("big"))
        .args(["--areas", "200", "--areas-per-stratum", "40"]));
    big.assert_code(1);
    assert!(big.stderr.contains("too small"), "{}", big.stderr);
}

#[test]
fn a_small_coverage_study_reports_every_indicator_and_method() {
    let dir = Dir::new();
    let out = dir.join("study.csv");
    let r = run(vicor()
        .arg("simulate")
        .arg("--study")
        .arg("4")
        .arg("--out")
        .arg(&out)
        .args([
            "--areas",
            "300",
            "--areas-per-stratum",
            "2",
            "--households-per-area",
            "6",
            "--bootstrap-replicates",
            "10",
        ]));
    r.assert_code(0);
    let text = std::fs::read_to_string(&out).expect("the study file");
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let header = rows.headers().expect("a header").clone();
    let col = |n: &str| header.iter().position(|h| h == n).expect("a column");
    let mut seen = 0;
    for rec in rows.records() {
        let rec = rec.expect("a row");
        let truth: f64 = rec[col("truth")].parse().expect("a number");
        let coverage: f64 = rec[col("coverage")].parse().expect("a number");
        assert!(truth > 0.0 && truth < 1.0, "{rec:?}");
        assert!((0.0..=1.0).contains(&coverage));
        // A rare domain can be empty in a small sample: its estimate is
        // then undefined and the sample does not count.
        let samples: usize = rec[col("samples")].parse().expect("a count");
        assert!(samples <= 4);
        if rec[col("indicator")].starts_with("16.1.4") {
            assert_eq!(samples, 4);
        }
        seen += 1;
    }
    assert_eq!(seen, 9 * 3, "9 indicators × 3 methods");
}

#[test]
fn bad_settings_are_refused_before_anything_is_written() {
    let dir = Dir::new();
    let plan = dir.write("broken.yaml", "base: [\n");
    let out = dir.join("demo");
    let r = run(vicor()
        .arg("demo")
        .arg("--out")
        .arg(&out)
        .arg("--plan")
        .arg(&plan));
    r.assert_code(1);
    assert!(r.stderr.contains("broken.yaml"), "{}", r.stderr);
    assert!(!out.exists(), "a failed demo leaves no folder");
    let r = run(vicor()
        .arg("simulate")
        .args(["--study", "1", "--out"])
        .arg(dir.join("study.csv")));
    r.assert_code(1);
    assert!(r.stderr.contains("at least 2 samples"), "{}", r.stderr);
    assert!(!dir.join("study.csv").exists());
}
