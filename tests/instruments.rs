//! The bundled questionnaires under `instruments/`: every file validates
//! with no error and no warning, and the SDG indicator inputs documented in
//! `instruments/README.md` exist as computed variables.

use std::path::{Path, PathBuf};

use crate::util::{Dir, root, run, vicor};

/// Every YAML file under `instruments/`: instruments, modules and the
/// estimate specs of `instruments/indicators/` (what
/// `vicor validate instruments/**/*.yaml` is given).
fn instrument_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir).expect("instruments/ is readable");
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join("instruments"), &mut out);
    out.sort();
    out
}

#[test]
fn every_bundled_instrument_validates_without_warnings() {
    let files = instrument_files();
    for main in ["victimization.yaml", "corruption.yaml", "example.yaml"] {
        assert!(
            files.iter().any(|f| f.ends_with(main)),
            "instruments/{main} is bundled"
        );
    }
    let out = run(vicor().arg("validate").args(&files));
    out.assert_code(0);
    assert!(
        out.stdout
            .contains(&format!("ok: {} file(s), 0 warning(s)", files.len())),
        "validate must be clean:\n{}{}",
        out.stdout,
        out.stderr
    );
    assert!(out.stderr.is_empty(), "no diagnostics:\n{}", out.stderr);
}

#[test]
fn each_main_instrument_validates_alone() {
    for main in ["victimization.yaml", "corruption.yaml", "example.yaml"] {
        let out = run(vicor()
            .arg("validate")
            .arg(root().join("instruments").join(main)));
        out.assert_code(0);
        assert!(
            out.stdout.contains("0 warning(s)") && out.stderr.is_empty(),
            "{main}:\n{}{}",
            out.stdout,
            out.stderr
        );
    }
}

// ---- the indicator inputs, evaluated on scripted answers ----
//
// A minimal evaluator of computed items (relevance, then value), enough to
// test the definitions documented in instruments/README.md without the
// interview engine: answers are given by item id, roster rows as maps.

use std::collections::HashMap;

use vicor::instrument::expr::{self, Env, Missing, Value};
use vicor::instrument::model::{Instrument, Item, ItemKind, Node};

fn load(name: &str) -> Instrument {
    let checked = vicor::instrument::validate(&root().join("instruments").join(name));
    let rendered = checked.render();
    checked
        .instrument
        .unwrap_or_else(|| panic!("{name} loads:\n{rendered}"))
}

fn collect<'a>(nodes: &'a [Node], out: &mut HashMap<&'a str, &'a Item>) {
    for node in nodes {
        match node {
            Node::Item(item) => {
                out.insert(item.id.as_str(), item);
            }
            Node::Roster(roster) => collect(&roster.nodes, out),
        }
    }
}

struct Case<'a> {
    items: HashMap<&'a str, &'a Item>,
    answers: HashMap<String, Value>,
    rows: HashMap<String, Vec<HashMap<String, Value>>>,
}

impl<'a> Case<'a> {
    fn new(instrument: &'a Instrument) -> Case<'a> {
        let mut items = HashMap::new();
        for section in &instrument.sections {
            collect(&section.nodes, &mut items);
        }
        Case {
            items,
            answers: HashMap::new(),
            rows: HashMap::new(),
        }
    }

    fn set(mut self, id: &str, value: Value) -> Self {
        assert!(self.items.contains_key(id), "`{id}` is an item");
        self.answers.insert(id.to_string(), value);
        self
    }

    fn row(mut self, roster: &str, answers: &[(&str, Value)]) -> Self {
        let row = answers
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        self.rows.entry(roster.to_string()).or_default().push(row);
        self
    }

    fn get(&self, id: &str) -> Value {
        Scope {
            case: self,
            row: None,
        }
        .value(id)
    }
}

struct Scope<'c, 'a> {
    case: &'c Case<'a>,
    row: Option<&'c HashMap<String, Value>>,
}

impl Env for Scope<'_, '_> {
    fn value(&self, name: &str) -> Value {
        if let Some(v) = self.row.and_then(|r| r.get(name)) {
            return v.clone();
        }
        if let Some(v) = self.case.answers.get(name) {
            return v.clone();
        }
        let Some(item) = self.case.items.get(name) else {
            return Value::Missing(Missing::Unknown);
        };
        let ItemKind::Computed { value } = &item.kind else {
            return Value::Missing(Missing::Skipped);
        };
        if let Some(when) = &item.when
            && expr::eval(&when.expr, self) != Value::Bool(true)
        {
            return Value::Missing(Missing::Skipped);
        }
        expr::eval(&value.expr, self)
    }

    fn rows(&self, roster: &str) -> usize {
        self.case.rows.get(roster).map_or(0, Vec::len)
    }

    fn row(&self, roster: &str, index: usize) -> Box<dyn Env + '_> {
        Box::new(Scope {
            case: self.case,
            row: self.case.rows.get(roster).and_then(|r| r.get(index)),
        })
    }

    fn today(&self) -> jiff::civil::Date {
        jiff::civil::date(2026, 6, 15)
    }
}

const YES: Value = Value::Int(1);
const NO: Value = Value::Int(2);
const DK: Value = Value::Missing(Missing::DontKnow);

fn int(v: i64) -> Value {
    Value::Int(v)
}

fn missing(v: &Value) -> bool {
    v.is_missing()
}

#[test]
fn sdg_1614_counts_safe_and_very_safe_over_everyone() {
    let inst = load("victimization.yaml");
    for (answer, want) in [(int(1), 1), (int(2), 1), (int(3), 0), (int(5), 0), (DK, 0)] {
        let case = Case::new(&inst).set("safe_dark", answer.clone());
        assert_eq!(
            case.get("sdg_1614_safe"),
            int(want),
            "safe_dark = {answer:?}"
        );
    }
}

#[test]
fn sdg_1613_physical_is_robbery_or_assault_in_12_months() {
    let inst = load("victimization.yaml");
    let victim = Case::new(&inst)
        .set("rob_5y", NO)
        .set("assault_5y", YES)
        .set("assault_when", int(1));
    assert_eq!(victim.get("sdg_1613_physical"), int(1));
    assert_eq!(victim.get("sdg_1613_robbery"), int(0));
    let earlier = Case::new(&inst)
        .set("rob_5y", NO)
        .set("assault_5y", YES)
        .set("assault_when", int(2));
    assert_eq!(
        earlier.get("sdg_1613_physical"),
        int(0),
        "before the 12 months"
    );
    let unknown = Case::new(&inst).set("rob_5y", DK).set("assault_5y", NO);
    assert!(
        missing(&unknown.get("sdg_1613_physical")),
        "no yes and a don't know is item non-response"
    );
    let sexual = Case::new(&inst)
        .set("sev_a5", NO)
        .set("sev_b5", NO)
        .set("sev_c5", NO)
        .set("sev_d5", YES)
        .set("sev_d12", YES)
        .set("sev_e5", NO)
        .set("sev_f5", NO);
    assert_eq!(sexual.get("sdg_1613_sexual"), int(1));
}

#[test]
fn sdg_1631_uses_the_incident_form_or_the_type_question() {
    let inst = load("victimization.yaml");
    fn assaulted(case: Case<'_>) -> Case<'_> {
        case.set("rob_5y", NO)
            .set("assault_5y", YES)
            .set("assault_when", int(1))
    }
    let police = assaulted(Case::new(&inst))
        .set("inc_crime", int(13))
        .set("inc_reported", int(1))
        .set("inc_report_to", Value::Codes(vec![13]));
    assert_eq!(police.get("sdg_1631_reported_physical"), int(1));
    assert_eq!(police.get("sdg_1631_reported"), int(1));
    let doctor = assaulted(Case::new(&inst))
        .set("inc_crime", int(13))
        .set("inc_reported", int(1))
        .set("inc_report_to", Value::Codes(vec![32]));
    assert_eq!(doctor.get("sdg_1631_reported_physical"), int(0));
    let elder = assaulted(Case::new(&inst))
        .set("inc_crime", int(13))
        .set("inc_reported", int(2))
        .set("inc_report_to", Value::Codes(vec![21]));
    assert_eq!(
        elder.get("sdg_1631_reported_physical"),
        int(0),
        "informal mechanisms count only where recognised"
    );
    let burgled_later = assaulted(Case::new(&inst))
        .set("inc_crime", int(5))
        .set("phv_reported", int(3));
    assert_eq!(burgled_later.get("sdg_1631_reported_physical"), int(0));
    let dk = assaulted(Case::new(&inst))
        .set("inc_crime", int(13))
        .set("inc_reported", DK);
    assert!(missing(&dk.get("sdg_1631_reported_physical")));
    let no_victim = Case::new(&inst).set("rob_5y", NO).set("assault_5y", NO);
    assert!(missing(&no_victim.get("sdg_1631_reported_physical")));
}

#[test]
fn sdg_1651_counts_asked_or_paid_among_those_with_contact() {
    for name in ["victimization.yaml", "corruption.yaml"] {
        let inst = load(name);
        let clean = Case::new(&inst)
            .row(
                "officials",
                &[("cor_contact", YES), ("cor_asked", NO), ("cor_paid", NO)],
            )
            .row("officials", &[("cor_contact", NO)]);
        assert_eq!(clean.get("sdg_1651_contact"), int(1));
        assert_eq!(clean.get("sdg_1651_bribe"), int(0));
        let refused = Case::new(&inst)
            .row(
                "officials",
                &[
                    ("cor_contact", YES),
                    ("cor_asked", YES),
                    ("cor_refused", YES),
                    ("cor_paid", NO),
                ],
            )
            .row("officials", &[("cor_contact", NO)]);
        assert_eq!(refused.get("sdg_1651_bribe"), int(1), "asked and refused");
        assert_eq!(refused.get("sdg_1651_bribe_paid"), int(0));
        assert_eq!(refused.get("sdg_1651_n_bribe_types"), int(1));
        let none = Case::new(&inst)
            .row("officials", &[("cor_contact", NO)])
            .row("officials", &[("cor_contact", NO)]);
        assert_eq!(none.get("sdg_1651_contact"), int(0));
        assert!(
            missing(&none.get("sdg_1651_bribe")),
            "out of the denominator"
        );
    }
}

#[test]
fn sdg_1172_is_sexual_or_physical_harassment_with_place() {
    let inst = load("victimization.yaml");
    let mut case = Case::new(&inst);
    for k in ["a", "b", "c", "d", "e", "f", "g"] {
        case = case.set(&format!("shar_{k}"), if k == "c" { YES } else { NO });
    }
    for k in ["a", "b", "c", "d", "e"] {
        case = case.set(&format!("phar_{k}"), NO);
    }
    let case = case.set("shar_place", int(6));
    assert_eq!(case.get("sdg_1172_sexual"), int(1));
    assert_eq!(case.get("sdg_1172_physical"), int(0));
    assert_eq!(case.get("sdg_1172_harassed"), int(1));
    assert_eq!(case.get("sdg_1172_place_sexual"), int(6));
    assert!(missing(&case.get("sdg_1172_place_physical")));
}

#[test]
fn disability_follows_the_washington_group_cut_off() {
    let inst = load("victimization.yaml");
    let domains = [
        "wg_seeing",
        "wg_hearing",
        "wg_walking",
        "wg_cognition",
        "wg_selfcare",
        "wg_communication",
    ];
    let with = |answers: [i64; 6]| {
        let mut case = Case::new(&inst);
        for (d, a) in domains.iter().zip(answers) {
            case = case.set(d, int(a));
        }
        case.get("sdg_disability")
    };
    assert_eq!(
        with([1, 2, 2, 1, 1, 1]),
        int(0),
        "some difficulty is not enough"
    );
    assert_eq!(with([1, 1, 3, 1, 1, 1]), int(1));
    assert_eq!(with([4, 1, 1, 1, 1, 1]), int(1));
}

#[test]
fn every_documented_output_variable_is_computed() {
    let readme = std::fs::read_to_string(root().join("instruments/README.md"))
        .expect("instruments/README.md is readable");
    let documented: Vec<String> = readme
        .lines()
        .filter(|l| l.starts_with("| `sdg_"))
        .flat_map(|l| {
            let first = l.split('|').nth(1).unwrap_or("");
            first
                .split('`')
                .filter(|w| w.starts_with("sdg_"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(documented.len() >= 30, "the tables list the variables");
    let victimization = load("victimization.yaml");
    let case = Case::new(&victimization);
    for var in &documented {
        let item = case
            .items
            .get(var.as_str())
            .unwrap_or_else(|| panic!("`{var}` is documented but not in victimization.yaml"));
        assert!(
            matches!(item.kind, ItemKind::Computed { .. }),
            "`{var}` is a computed variable"
        );
    }
    let corruption = load("corruption.yaml");
    let case = Case::new(&corruption);
    for var in documented
        .iter()
        .filter(|v| v.starts_with("sdg_1651") || !v[4..].starts_with(|c: char| c.is_ascii_digit()))
    {
        assert!(
            case.items.contains_key(var.as_str()),
            "`{var}` is in corruption.yaml too"
        );
    }
}

#[test]
fn the_selected_type_of_official_is_named_in_both_languages() {
    let inst = load("corruption.yaml");
    let case = Case::new(&inst).set("cor_sel", int(5));
    assert_eq!(
        case.get("cor_sel_name_en"),
        Value::Text("teachers or lecturers in public education".into())
    );
    assert_eq!(
        case.get("cor_sel_name_fr"),
        Value::Text("des enseignants de l'enseignement public".into())
    );
    let last = Case::new(&inst).set("cor_sel", int(15));
    assert_eq!(
        last.get("cor_sel_name_en"),
        Value::Text("other public officials".into())
    );
}

// ---- the questionnaire's structure ----

/// Every item of an instrument in interview order, with its section.
fn in_order(inst: &Instrument) -> Vec<(&vicor::instrument::model::Section, &Item)> {
    fn walk<'a>(
        section: &'a vicor::instrument::model::Section,
        nodes: &'a [Node],
        out: &mut Vec<(&'a vicor::instrument::model::Section, &'a Item)>,
    ) {
        for node in nodes {
            match node {
                Node::Item(item) => out.push((section, item)),
                Node::Roster(roster) => walk(section, &roster.nodes, out),
            }
        }
    }
    let mut out = Vec::new();
    for section in &inst.sections {
        walk(section, &section.nodes, &mut out);
    }
    out
}

#[test]
fn the_safety_question_comes_before_any_crime_question() {
    let inst = load("victimization.yaml");
    let items = in_order(&inst);
    let position = |id: &str| {
        items
            .iter()
            .position(|(_, i)| i.id == id)
            .unwrap_or_else(|| panic!("`{id}` is asked"))
    };
    let safety = position("safe_dark");
    for (at, (_, item)) in items.iter().enumerate() {
        let crime = item.id.ends_with("_5y")
            || ["shar_", "phar_", "psv_", "sev_", "cor_", "inc_"]
                .iter()
                .any(|p| item.id.starts_with(p));
        if crime && item.kind.is_question() {
            assert!(at > safety, "`{}` is asked before safe_dark", item.id);
        }
    }
}

#[test]
fn sexual_and_psychological_violence_are_self_completed_in_private() {
    let inst = load("victimization.yaml");
    for (section, item) in in_order(&inst) {
        if (item.id.starts_with("sev_") || item.id.starts_with("psv_")) && item.kind.is_question() {
            assert!(section.self_completion, "`{}` is self-completed", item.id);
            let when = section.when.as_ref().map(|c| c.source.as_str());
            assert!(
                when.is_some_and(|w| w.contains("privacy_ok == 1")),
                "`{}` is asked only in private",
                item.id
            );
        }
    }
}

/// Every text, with what it belongs to.
fn texts(inst: &Instrument) -> Vec<(String, &vicor::instrument::model::Text)> {
    fn choices<'a>(
        owner: &str,
        options: &'a [vicor::instrument::model::Choice],
        out: &mut Vec<(String, &'a vicor::instrument::model::Text)>,
    ) {
        for o in options {
            out.push((format!("{owner} option {}", o.code), &o.label));
        }
    }
    fn walk<'a>(nodes: &'a [Node], out: &mut Vec<(String, &'a vicor::instrument::model::Text)>) {
        for node in nodes {
            match node {
                Node::Item(item) => {
                    out.extend(item.text.iter().map(|t| (item.id.clone(), t)));
                    out.extend(item.instruction.iter().map(|t| (item.id.clone(), t)));
                    for check in &item.checks {
                        out.push((format!("{} check", item.id), &check.message));
                    }
                    choices(&item.id, item.kind.options(), out);
                }
                Node::Roster(roster) => {
                    out.push((roster.id.clone(), &roster.title));
                    out.extend(roster.row_label.iter().map(|t| (roster.id.clone(), t)));
                    if let vicor::instrument::model::RosterRows::Fixed(rows) = &roster.rows {
                        choices(&roster.id, rows, out);
                    }
                    walk(&roster.nodes, out);
                }
            }
        }
    }
    let mut out = vec![("title".to_string(), &inst.title)];
    for section in &inst.sections {
        out.push((section.id.clone(), &section.title));
        walk(&section.nodes, &mut out);
    }
    out
}

#[test]
fn every_text_is_translated_with_the_same_fills() {
    for name in ["victimization.yaml", "corruption.yaml"] {
        let inst = load(name);
        assert_eq!(inst.languages, ["en", "fr"]);
        for (owner, text) in texts(&inst) {
            let fills = |lang: &str| {
                let mut f: Vec<String> = text
                    .fills
                    .get(lang)
                    .map(|v| v.iter().map(|f| f.expr.to_string()).collect())
                    .unwrap_or_default();
                f.sort();
                f
            };
            for lang in ["en", "fr"] {
                assert!(
                    text.by_language
                        .get(lang)
                        .is_some_and(|t| !t.trim().is_empty()),
                    "{name}: `{owner}` has no {lang} text"
                );
            }
            let fr = fills("fr");
            let fr = if owner == "cor_sel_intro" {
                // The French text names the type with its own computed fill.
                fr.into_iter()
                    .map(|f| f.replace("cor_sel_name_fr", "cor_sel_name_en"))
                    .collect()
            } else {
                fr
            };
            assert_eq!(fills("en"), fr, "{name}: fills of `{owner}` differ");
        }
    }
}

#[test]
fn only_the_official_items_are_not_marked_adapted() {
    const OFFICIAL: &[&str] = &[
        "safe_dark",
        "safe_dark_would",
        "wg_intro",
        "wg_seeing",
        "wg_hearing",
        "wg_walking",
        "wg_cognition",
        "wg_selfcare",
        "wg_communication",
    ];
    let inst = load("victimization.yaml");
    for (_, item) in in_order(&inst) {
        if matches!(item.kind, ItemKind::Computed { .. } | ItemKind::Random(_)) {
            continue;
        }
        assert_eq!(
            item.wording_adapted,
            !OFFICIAL.contains(&item.id.as_str()),
            "`{}`: wording mark",
            item.id
        );
    }
}

// ---- a whole interview through the real engine ----

use vicor::interview::engine::{Interview, Saved};
use vicor::interview::script::{RunEnd, Script, drive};

/// Runs the scripted answers of `fixture` through `instrument` and returns
/// the computed values by item id (values outside rosters).
fn interview(instrument: &str, fixture: &str) -> HashMap<String, Value> {
    let inst = load(instrument);
    let run = drive_to_end(&inst, fixture);
    run.computed()
        .into_iter()
        .filter(|(p, _)| p.rows.is_empty())
        .map(|(p, v)| (p.item.clone(), v))
        .collect()
}

/// The completed interview of `fixture` on `inst`.
fn drive_to_end<'i>(inst: &'i Instrument, fixture: &str) -> Interview<'i> {
    let path = root().join("tests/fixtures/instruments").join(fixture);
    let text = std::fs::read_to_string(&path).expect("the answers file is readable");
    let script = Script::parse(inst, &text).unwrap_or_else(|d| {
        panic!(
            "{fixture} parses: {:?}",
            d.iter().map(|d| &d.message).collect::<Vec<_>>()
        )
    });
    let mut run = Interview::new(inst, jiff::civil::date(2026, 6, 15), 7, Saved::default());
    let mut commit = |_: &Interview, _: &vicor::interview::engine::Update| Ok::<(), ()>(());
    let mut warnings = Vec::new();
    let end = drive(&mut run, &script, &mut commit, &mut |p, m| {
        warnings.push(format!("{p}: {m}"))
    })
    .unwrap_or_else(|e| panic!("{fixture}: {e:?}"));
    assert_eq!(end, RunEnd::Completed, "{fixture} completes");
    assert!(warnings.is_empty(), "{fixture}: {warnings:?}");
    run
}

#[test]
fn every_text_on_the_path_renders_in_both_languages() {
    const MOIS: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    for (instrument, fixture) in [
        ("victimization.yaml", "victim.yaml"),
        ("corruption.yaml", "corruption.yaml"),
    ] {
        let inst = load(instrument);
        let mut run = drive_to_end(&inst, fixture);
        let mut seen = 0;
        for (lang, months) in [("en", None), ("fr", Some(MOIS))] {
            run.set_language(
                lang,
                months
                    .map(|m| m.iter().map(|s| s.to_string()).collect())
                    .unwrap_or_default(),
            );
            let positions: Vec<_> = run.path().iter().map(|p| p.path.clone()).collect();
            for path in positions {
                let item = run.item(&path.item).expect("a path names an item");
                for text in item.text.iter().chain(item.instruction.iter()) {
                    let shown = run.render(text, &path.rows);
                    seen += 1;
                    assert!(
                        !shown.trim().is_empty()
                            && !shown.contains('{')
                            && !shown.contains(" ,")
                            && !shown.contains(" .")
                            && !shown.contains("  "),
                        "{instrument} `{}` in {lang} renders badly: {shown:?}",
                        path.item
                    );
                    if lang == "fr" && text.get("fr").contains("month_year(") {
                        assert!(
                            MOIS.iter().any(|m| shown.contains(m)),
                            "French month names in `{}`: {shown:?}",
                            path.item
                        );
                    }
                }
            }
        }
        assert!(seen > 100, "{instrument}: {seen} texts rendered");
    }
}

#[test]
fn a_victim_is_interviewed_from_contact_to_closing() {
    let values = interview("victimization.yaml", "victim.yaml");
    let get = |id: &str| {
        values
            .get(id)
            .cloned()
            .unwrap_or(Value::Missing(Missing::Skipped))
    };
    assert_eq!(get("sdg_n_eligible"), int(2));
    assert_eq!(get("sdg_disability"), int(1));
    assert_eq!(get("sdg_1614_safe"), int(0));
    assert_eq!(get("sdg_1613_physical"), int(1));
    assert_eq!(get("sdg_1613_psychological"), int(1));
    assert_eq!(get("sdg_1613_sexual"), int(0));
    assert_eq!(get("sdg_1631_reported_physical"), int(1));
    assert_eq!(get("sdg_1631_reported_psychological"), int(0));
    assert!(get("sdg_1631_reported_sexual").is_missing());
    assert_eq!(get("sdg_1631_reported"), int(1));
    assert_eq!(get("sdg_1651_contact"), int(1));
    assert_eq!(get("sdg_1651_bribe"), int(1));
    assert_eq!(get("sdg_1172_harassed"), int(1));
    assert_eq!(get("sdg_1172_place_sexual"), int(6));
}

#[test]
fn a_corruption_survey_interview_counts_a_refused_bribe() {
    let values = interview("corruption.yaml", "corruption.yaml");
    let get = |id: &str| {
        values
            .get(id)
            .cloned()
            .unwrap_or(Value::Missing(Missing::Skipped))
    };
    assert_eq!(get("sdg_1651_contact"), int(1));
    assert_eq!(get("sdg_1651_bribe"), int(1), "asked and refused counts");
    assert_eq!(get("sdg_1651_bribe_paid"), int(0));
    assert_eq!(get("sdg_1651_n_bribe_types"), int(1));
    assert_eq!(
        get("cor_sel_name_en"),
        Value::Text("tax or revenue officials".into())
    );
    assert_eq!(get("sdg_age_group"), int(6));
    assert_eq!(get("sdg_disability"), int(0));
    assert_eq!(get("sdg_urban"), int(2));
}

#[test]
fn a_refusal_at_the_door_ends_the_interview() {
    let values = interview("victimization.yaml", "refusal.yaml");
    assert!(
        !values.keys().any(|k| k.starts_with("sdg_")),
        "no indicator input for a refusing household: {values:?}"
    );
}

#[test]
fn without_privacy_the_private_indicators_are_missing_not_zero() {
    let values = interview("victimization.yaml", "not_private.yaml");
    let get = |id: &str| {
        values
            .get(id)
            .cloned()
            .unwrap_or(Value::Missing(Missing::Skipped))
    };
    assert_eq!(
        get("sdg_1614_safe"),
        int(0),
        "never goes out counts as not safe"
    );
    assert_eq!(get("sdg_1613_physical"), int(0));
    assert_eq!(get("sdg_1172_harassed"), int(0));
    assert_eq!(get("sdg_1651_contact"), int(0));
    assert!(get("sdg_1651_bribe").is_missing());
    assert!(get("sdg_1613_sexual").is_missing());
    assert!(get("sdg_1613_psychological").is_missing());
    assert!(
        get("sdg_disability").is_missing(),
        "a don't know and no difficulty"
    );
}

#[test]
fn the_scripted_interviews_run_through_the_binary() {
    let dir = Dir::new();
    for (instrument, answers) in [
        ("victimization.yaml", "victim.yaml"),
        ("victimization.yaml", "not_private.yaml"),
        ("corruption.yaml", "corruption.yaml"),
    ] {
        let db = dir.join(&format!("{answers}.db"));
        let out = run(vicor()
            .arg("run")
            .arg(root().join("instruments").join(instrument))
            .arg("--answers")
            .arg(root().join("tests/fixtures/instruments").join(answers))
            .arg("--db")
            .arg(&db));
        out.assert_code(0);
        assert!(
            out.stdout.contains("completed"),
            "{instrument} with {answers}:\n{}{}",
            out.stdout,
            out.stderr
        );
    }
}

#[test]
fn validate_checks_an_estimate_spec_as_a_spec() {
    let dir = Dir::new();
    let good = dir.write(
        "indicators/good.yaml",
        "estimates:\n  - name: safe\n    proportion: \"sdg_1614_safe == 1\"\n    by: [sdg_sex]\n",
    );
    let out = run(vicor().arg("validate").arg(&good));
    out.assert_code(0);
    let bad = dir.write(
        "indicators/bad.yaml",
        "estimates:\n  - name: safe\n    proportoin: \"sdg_1614_safe == 1\"\n",
    );
    let out = run(vicor().arg("validate").arg(&bad));
    out.assert_code(1);
    assert!(
        out.stderr.contains("bad.yaml") && out.stderr.contains("proportoin"),
        "the error names the file and the key:\n{}",
        out.stderr
    );
}

/// The SDG preset reads the victimization instrument's own computed
/// variables: every `sdg_*` name in the spec is an item of the instrument.
#[test]
fn sdg_preset_names_the_instruments_variables() {
    let spec = std::fs::read_to_string(crate::util::root().join("instruments/indicators/sdg.yaml"))
        .expect("the preset is there");
    let checked =
        vicor::instrument::validate(&crate::util::root().join("instruments/victimization.yaml"));
    let instrument = checked
        .instrument
        .expect("the victimization instrument loads");
    let mut sink = Vec::new();
    let index = vicor::instrument::check::Index::build(&instrument, &mut sink);
    let mut names: Vec<&str> = spec
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| {
            w.len() > 4
                && w.starts_with("sdg_")
                && !w.starts_with("sdg_16_")
                && !w.starts_with("sdg_11_")
        })
        .collect();
    names.sort();
    names.dedup();
    assert!(names.len() > 15, "{names:?}");
    for name in names {
        assert!(
            index.items.contains_key(name),
            "sdg.yaml reads `{name}`, which the instrument does not define"
        );
    }
}
