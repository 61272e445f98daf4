//! Design files, estimate specs and weighting plans as people write them:
//! one bad file per fault under `tests/fixtures/{design,spec,weighting}/bad/`
//! with the whole message checked, and the one-name forms (`clusters: dnum`,
//! `fpc: fpc`, `by: stype`) estimated end to end beside the list forms.

use crate::util::{Dir, fixture, run, vicor};

/// A spec and a design that are fine, for running the other file's faults.
const GOOD_SPEC: &str = "estimates:\n  - name: api\n    mean: api00\n";
const GOOD_DESIGN: &str = "weight: pw\n";

/// `(fixture, the message on standard error)`; the path is written `{}`.
const DESIGN_FAULTS: &[(&str, &str)] = &[
    (
        "unknown-key",
        "error: {}:3:1: unknown key `strat` in the design file\n  |\n3 | strat: stype\n  | ^^^^^\n  = help: did you mean `strata`?\n",
    ),
    (
        "fpc-number",
        "error: {}:4:6: `fpc` expects a column name or a list of column names, one per stage\n  |\n4 | fpc: 757\n  |      ^^^\n  = help: found an integer `757`\n",
    ),
    (
        "clusters-mapping",
        "error: {}:4:3: `clusters` expects a column name or a list of column names, one per stage\n  |\n4 |   stage1: dnum\n  |   ^\n  = help: found a mapping\n",
    ),
    (
        "lonely-psu-typo",
        "error: {}:4:13: `lonely_psu` expects one of fail, remove, adjust, average, certainty\n  |\n4 | lonely_psu: ajust\n  |             ^^^^^\n  = help: found `ajust`; did you mean `adjust`?\n",
    ),
    (
        "nest-not-bool",
        "error: {}:4:7: `nest` expects true or false\n  |\n4 | nest: sometimes\n  |       ^^^^^^^^^\n  = help: found a string `sometimes`\n",
    ),
    (
        "replicates-unknown-key",
        "error: {}:5:3: unknown key `typ` in `replicates`\n  |\n5 |   typ: jk1\n  |   ^^^\n  = help: did you mean `type`?\n",
    ),
];

const SPEC_FAULTS: &[(&str, &str)] = &[
    (
        "unknown-key",
        "error: {}:4:5: unknown key `mena` in `estimates`\n  |\n4 |     mena: api00\n  |     ^^^^\n  = help: did you mean `mean`?\n",
    ),
    (
        "missing-name",
        "error: {}:3:5: missing key `name` in `estimates`\n  |\n3 |   - mean: api00\n  |     ^\n  = help: add `name:` with a name for the estimate\n",
    ),
    (
        "missing-estimates",
        "error: {}:2:1: missing key `estimates` in the estimate spec\n  |\n2 | title: API\n  | ^\n  = help: add `estimates:` with a list of estimates, each a mapping with `name` and one statistic\n",
    ),
    (
        "by-mapping",
        "error: {}:5:9: `by` expects a column name or a list of column names\n  |\n5 |     by: {stype: E}\n  |         ^\n  = help: found a mapping\n",
    ),
    (
        "level-text",
        "error: {}:5:12: `level` expects a number between 0 and 1, such as 0.95\n  |\n5 |     level: high\n  |            ^^^^\n  = help: found a string `high`\n",
    ),
    (
        "iccs-form",
        "error: {}:5:11: `iccs` expects an ICCS code of 2, 4, 5 or 6 digits, such as \"07031\"\n  |\n5 |     iccs: \"703\"\n  |           ^^^^^\n  = help: `703` is not an ICCS code: a code has 2 digits (section), 4 (division), 5 (group) or 6 (class), such as \"05\", \"0501\", \"05012\"\n",
    ),
    (
        "level-above-one",
        "error: {}:5:5: spec: estimate `api_by_type`: `level` must be between 0 and 1, got 95\n  |\n5 |   - name: api_by_type\n  |     ^\n",
    ),
    (
        "duplicate-name",
        "error: {}:5:5: spec: estimate name `api` is used twice; names must be unique\n  |\n5 |   - name: api\n  |     ^\n",
    ),
    (
        "ratio-unknown-key",
        "error: {}:4:31: unknown key `denominatr` in `estimates.ratio`\n  |\n4 |     ratio: {numerator: api00, denominatr: api99}\n  |                               ^^^^^^^^^^\n  = help: did you mean `denominator`?\n",
    ),
];

const PLAN_FAULTS: &[(&str, &str)] = &[
    (
        "plan-unknown-step",
        "error: {}:4:1: unknown key `calibraton` in the weighting plan\n  |\n4 | calibraton:\n  | ^^^^^^^^^^\n  = help: did you mean `calibration`?\n",
    ),
    (
        "plan-probabilities-number",
        "error: {}:3:18: `probabilities` expects a column name or a list of column names, one per stage\n  |\n3 |   probabilities: 0.5\n  |                  ^^^\n  = help: found a decimal number `0.5`\n",
    ),
    (
        "plan-missing-base",
        "error: {}:2:1: missing key `base` in the weighting plan\n  |\n2 | output:\n  | ^\n  = help: add `base:` with a mapping with `probabilities` and/or `weights`\n",
    ),
    (
        "plan-logit-no-bounds",
        "error: {}:4:1: calibration: logit needs `bounds: [lower, upper]`\n  |\n4 | calibration:\n  | ^^^^^^^^^^^\n",
    ),
    (
        "plan-method-typo",
        "error: {}:5:11: `method` expects one of poststratify, rake, linear, raking, logit\n  |\n5 |   method: rakeing\n  |           ^^^^^^^\n  = help: found `rakeing`; did you mean `raking`?\n",
    ),
];

fn estimate(design: &std::path::Path, spec: &std::path::Path) -> crate::util::Run {
    run(vicor()
        .arg("estimate")
        .arg("--data")
        .arg(fixture("apiclus1.csv"))
        .arg("--design")
        .arg(design)
        .arg("--spec")
        .arg(spec)
        .arg("--format")
        .arg("json"))
}

#[test]
fn every_bad_design_file_names_the_key_place_and_fix() {
    let dir = Dir::new();
    let spec = dir.write("spec.yaml", GOOD_SPEC);
    for (name, want) in DESIGN_FAULTS {
        let design = fixture(&format!("design/bad/{name}.yaml"));
        let r = estimate(&design, &spec);
        r.assert_code(1);
        let want = want.replace("{}", &design.display().to_string());
        assert_eq!(r.stderr, want, "{name}");
    }
}

#[test]
fn every_bad_estimate_spec_names_the_key_place_and_fix() {
    let dir = Dir::new();
    let design = dir.write("design.yaml", GOOD_DESIGN);
    for (name, want) in SPEC_FAULTS {
        let spec = fixture(&format!("spec/bad/{name}.yaml"));
        let r = estimate(&design, &spec);
        r.assert_code(1);
        let want = want.replace("{}", &spec.display().to_string());
        assert_eq!(r.stderr, want, "{name}");
    }
}

/// `vicor validate` says the same of a spec, in its own `error:` place.
#[test]
fn validate_reports_a_bad_spec_like_an_instrument() {
    let spec = fixture("spec/bad/unknown-key.yaml");
    let r = run(vicor().arg("validate").arg(&spec));
    r.assert_code(1);
    let path = spec.display().to_string();
    assert!(
        r.stderr.starts_with(&format!(
            "{path}:4:5: error: unknown key `mena` in `estimates`\n"
        )),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("= help: did you mean `mean`?"),
        "{}",
        r.stderr
    );
}

#[test]
fn every_bad_weighting_plan_names_the_key_place_and_fix() {
    let dir = Dir::new();
    let out = dir.join("weighted.csv");
    for (name, want) in PLAN_FAULTS {
        let plan = fixture(&format!("weighting/bad/{name}.yaml"));
        let r = run(vicor()
            .arg("weight")
            .arg("--plan")
            .arg(&plan)
            .arg("--data")
            .arg(fixture("weighting/bad/tiny.csv"))
            .arg("--out")
            .arg(&out));
        r.assert_code(1);
        let want = want.replace("{}", &plan.display().to_string());
        assert_eq!(r.stderr, want, "{name}");
        assert!(!out.exists(), "{name}: no output is written");
    }
}

/// R's `svydesign(ids = ~dnum, fpc = ~fpc, weights = ~pw)` written with
/// one name per key gives the very numbers of the list form.
#[test]
fn one_name_forms_estimate_as_the_list_forms() {
    let dir = Dir::new();
    let scalar_design = dir.write("scalar.yaml", "weight: pw\nclusters: dnum\nfpc: fpc\n");
    let list_design = dir.write("list.yaml", "weight: pw\nclusters: [dnum]\nfpc: [fpc]\n");
    let scalar_spec = dir.write(
        "scalar-spec.yaml",
        "estimates:\n  - name: api\n    mean: api00\n    by: stype\n",
    );
    let list_spec = dir.write(
        "list-spec.yaml",
        "estimates:\n  - name: api\n    mean: api00\n    by: [stype]\n",
    );
    let scalar = estimate(&scalar_design, &scalar_spec);
    let list = estimate(&list_design, &list_spec);
    scalar.assert_code(0);
    list.assert_code(0);
    assert_eq!(scalar.stdout, list.stdout);
    // The forms are read, not ignored: the by rows and the cluster df are there.
    let json: serde_json::Value = serde_json::from_str(&list.stdout).expect("JSON output");
    let rows = json["estimates"].as_array().expect("a list of rows");
    assert_eq!(rows.len(), 4, "the total and three school types");
    assert_eq!(rows[1]["by"]["stype"], "E");
    assert_eq!(rows[0]["df"], 14, "15 sampled districts, one stage");
    let elements = estimate(&dir.write("srs.yaml", GOOD_DESIGN), &list_spec);
    elements.assert_code(0);
    assert_ne!(elements.stdout, list.stdout, "clusters change the SEs");
}
