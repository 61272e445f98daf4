//! Realistic respondents (`tests/fixtures/respondents/*.yaml`, each with a
//! header saying who they are) interviewed through the real binary with
//! `vicor run --db`, then read back from the store: the SDG indicator
//! inputs of each land in the numerators and denominators that
//! `instruments/README.md` documents, refused items stay refused, and the
//! household crimes are recorded once per household.
//!
//! The computed values are not in the store: the engine is rebuilt from the
//! stored case (as `vicor interview` resumes one) and asked for them.

use std::collections::{BTreeMap, HashMap};

use vicor::instrument::expr::Value;
use vicor::interview::{Answer, Interview, ItemPath};
use vicor::store::Store;
use vicor::store::session::{CaseSession, from_stored};

use crate::util::{Dir, fixture, root, run, vicor};

/// One respondent's stored interview.
struct Respondent {
    name: String,
    /// Stored answers by path (every answer the store holds).
    answers: BTreeMap<ItemPath, Answer>,
    /// Values of the computed items outside rosters, by id.
    computed: HashMap<String, Value>,
}

/// Interviews the respondent of `fixture` with `vicor run` on `instrument`
/// and reads the case back.
fn interview(instrument: &str, fixture_name: &str) -> Respondent {
    let dir = Dir::new();
    let db = dir.join("cases.db");
    let inst_path = root().join("instruments").join(instrument);
    let out = run(vicor()
        .arg("run")
        .arg(&inst_path)
        .arg("--answers")
        .arg(fixture(&format!("respondents/{fixture_name}")))
        .arg("--db")
        .arg(&db));
    out.assert_code(0);
    assert!(
        out.stdout.contains(": completed"),
        "{fixture_name} completes:\n{}{}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stderr.is_empty(),
        "{fixture_name}: no warning:\n{}",
        out.stderr
    );

    let inst = vicor::instrument::validate(&inst_path)
        .instrument
        .expect("the bundled instrument loads");
    let mut store = Store::open(&db, None).expect("the store opens");
    let cases = store.cases().expect("cases");
    assert_eq!(cases.len(), 1, "one case per run");
    let id = cases[0].id;
    let record = store.case(&id).expect("the case reads");
    let answers = record
        .answers
        .iter()
        .map(|(p, a)| {
            (
                ItemPath::parse(p).expect("stored paths parse"),
                from_stored(a),
            )
        })
        .collect();
    let session = CaseSession {
        store: &mut store,
        instrument: &inst,
        enumerator: "test".into(),
    };
    let r = session.open(&id).expect("the case opens");
    assert!(r.unreadable.is_empty(), "{:?}", r.unreadable);
    let engine = Interview::new(&inst, r.today, r.seed, r.saved);
    assert!(engine.is_completed(), "{fixture_name} is stored completed");
    let computed = engine
        .computed()
        .into_iter()
        .filter(|(p, _)| p.rows.is_empty())
        .map(|(p, v)| (p.item, v))
        .collect();
    Respondent {
        name: fixture_name.to_string(),
        answers,
        computed,
    }
}

impl Respondent {
    /// Asserts indicator inputs: `Some(v)` is the value `v` (1/0), `None`
    /// is missing (skipped, or an undecidable value): outside the
    /// variable's denominator.
    fn expect(&self, wanted: &[(&str, Option<i64>)]) -> &Self {
        for (id, want) in wanted {
            let got = self.computed.get(*id);
            match want {
                Some(v) => assert_eq!(
                    got,
                    Some(&Value::Int(*v)),
                    "{}: `{id}` should be {v}",
                    self.name
                ),
                None => assert!(
                    got.is_none_or(Value::is_missing),
                    "{}: `{id}` should be missing, is {got:?}",
                    self.name
                ),
            }
        }
        self
    }

    fn value(&self, id: &str) -> Option<&Value> {
        self.computed.get(id)
    }

    /// The stored answer of a top-level item.
    fn answer(&self, id: &str) -> Option<&Answer> {
        self.answers.get(&ItemPath::top(id))
    }
}

#[test]
fn an_assault_reported_to_the_police_is_in_the_1631_numerator() {
    let r = interview("victimization.yaml", "assault-reported.yaml");
    r.expect(&[
        ("sdg_sex", Some(2)),
        ("sdg_age_group", Some(2)),
        ("sdg_disability", Some(0)),
        ("sdg_1614_safe", Some(0)),
        ("sdg_1613_assault", Some(1)),
        ("sdg_1613_physical", Some(1)),
        ("sdg_1613_psychological", Some(0)),
        ("sdg_1613_sexual", Some(0)),
        ("sdg_1631_victim_physical", Some(1)),
        ("sdg_1631_reported_physical", Some(1)),
        ("sdg_1631_reported_psychological", None),
        ("sdg_1631_reported_sexual", None),
        ("sdg_1631_reported", Some(1)),
        ("sdg_1651_contact", Some(1)),
        ("sdg_1651_bribe", Some(0)),
        ("sdg_1172_harassed", Some(0)),
    ]);
    assert_eq!(r.answer("inc_date"), Some(&Answer::DontKnow));
}

#[test]
fn a_robbery_not_reported_is_in_the_1631_denominator_only() {
    let r = interview("victimization.yaml", "robbery-not-reported.yaml");
    r.expect(&[
        ("sdg_sex", Some(1)),
        ("sdg_1613_robbery", Some(1)),
        ("sdg_1613_assault", Some(0)),
        ("sdg_1613_physical", Some(1)),
        ("sdg_1631_victim_physical", Some(1)),
        ("sdg_1631_reported_physical", Some(0)),
        ("sdg_1631_reported", Some(0)),
        ("sdg_1651_contact", Some(1)),
        ("sdg_1651_bribe", Some(0)),
    ]);
}

#[test]
fn a_bribe_paid_to_a_traffic_police_officer_counts_for_1651() {
    let r = interview("victimization.yaml", "bribe-traffic-police.yaml");
    r.expect(&[
        ("sdg_1651_contact", Some(1)),
        ("sdg_1651_bribe", Some(1)),
        ("sdg_1651_bribe_paid", Some(1)),
        ("sdg_1651_bribe_asked", Some(1)),
        ("sdg_1651_n_bribe_types", Some(1)),
        ("sdg_1614_safe", Some(1)),
        ("sdg_1613_physical", Some(0)),
        ("sdg_1631_victim", Some(0)),
        ("sdg_1631_reported_physical", None),
        ("sdg_1631_reported", None),
    ]);
    // The only type with bribery is drawn for the follow-up.
    assert_eq!(r.answer("cor_sel"), Some(&Answer::Int(1)));
    assert_eq!(
        r.value("cor_sel_name_en"),
        Some(&Value::Text("police officers".into()))
    );
    assert_eq!(r.answer("cor_amount"), Some(&Answer::Decimal(20.0)));
}

#[test]
fn a_bribe_asked_for_and_refused_counts_for_1651_but_not_as_paid() {
    let r = interview("victimization.yaml", "bribe-refused.yaml");
    r.expect(&[
        ("sdg_1651_contact", Some(1)),
        ("sdg_1651_bribe", Some(1)),
        ("sdg_1651_bribe_asked", Some(1)),
        ("sdg_1651_bribe_paid", Some(0)),
        ("sdg_1651_n_bribe_types", Some(1)),
    ]);
    assert_eq!(r.answer("cor_sel"), Some(&Answer::Int(8)));
    assert_eq!(r.answer("cor_report_to"), Some(&Answer::Codes(vec![3])));
}

#[test]
fn no_contact_with_officials_is_outside_the_1651_denominator() {
    let r = interview("victimization.yaml", "no-contact.yaml");
    r.expect(&[
        ("sdg_1651_contact", Some(0)),
        ("sdg_1651_bribe", None),
        ("sdg_1651_bribe_paid", None),
        ("sdg_1651_bribe_asked", None),
        ("sdg_1651_n_bribe_types", None),
        ("sdg_1614_safe", Some(1)),
        ("sdg_1631_victim", Some(0)),
    ]);
    assert!(
        r.answer("cor_sel").is_none(),
        "no follow-up without bribery"
    );
}

#[test]
fn harassment_on_public_transport_counts_for_1172_not_1613() {
    let r = interview("victimization.yaml", "harassment-transport.yaml");
    r.expect(&[
        ("sdg_age_group", Some(1)),
        ("sdg_1172_sexual", Some(1)),
        ("sdg_1172_physical", Some(0)),
        ("sdg_1172_harassed", Some(1)),
        ("sdg_1172_place_sexual", Some(6)),
        ("sdg_1172_place_physical", None),
        ("sdg_1613_any", Some(0)),
        ("sdg_1631_reported", None),
        ("sdg_1614_safe", Some(0)),
    ]);
}

#[test]
fn household_crimes_are_recorded_once_per_household() {
    let r = interview("victimization.yaml", "household-burglary-cartheft.yaml");
    for id in [
        "veh_own",
        "car_5y",
        "car_when",
        "car_n12",
        "fromcar_5y",
        "bike_5y",
        "burg_5y",
        "burg_when",
        "burg_n12",
        "attburg_5y",
        "vand_5y",
        "vand_when",
    ] {
        let stored: Vec<&ItemPath> = r.answers.keys().filter(|p| p.item == id).collect();
        assert_eq!(
            stored,
            vec![&ItemPath::top(id)],
            "`{id}` is stored once, for the household"
        );
    }
    // Four members, and only the roster's own items inside their rows.
    let in_rows: Vec<&str> = r
        .answers
        .keys()
        .filter(|p| !p.rows.is_empty() && p.rows[0].roster == "members")
        .map(|p| p.item.as_str())
        .collect();
    assert_eq!(in_rows.len(), 16);
    assert!(
        in_rows
            .iter()
            .all(|i| ["name", "sex", "age", "relation"].contains(i))
    );
    assert_eq!(r.value("car_12m"), Some(&Value::Bool(true)));
    assert_eq!(r.value("burg_12m"), Some(&Value::Bool(true)));
    assert_eq!(
        r.value("vand_12m"),
        Some(&Value::Bool(false)),
        "vandalism was before the 12 months"
    );
    assert_eq!(r.answer("inc_crime"), Some(&Answer::Int(5)));
    assert_eq!(
        r.answer("inc_report_to"),
        Some(&Answer::Codes(vec![13, 35]))
    );
    // Property crime is not violence: no 16.3.1 reporting variable.
    r.expect(&[
        ("sdg_1613_physical", Some(0)),
        ("sdg_1631_victim", Some(0)),
        ("sdg_1631_reported_physical", None),
    ]);
}

#[test]
fn refused_items_stay_refused() {
    let r = interview("victimization.yaml", "refuses-safety.yaml");
    for id in ["safe_dark", "safe_day", "resp_income", "assault_5y"] {
        assert_eq!(
            r.answer(id),
            Some(&Answer::Refused),
            "`{id}` is stored as refused"
        );
    }
    r.expect(&[
        // 16.1.4 keeps a refusal in the denominator, as not safe.
        ("sdg_1614_safe", Some(0)),
        ("sdg_1614_safe_day", Some(0)),
        // No "yes" and a refusal: item non-response, never 0.
        ("sdg_1613_robbery", Some(0)),
        ("sdg_1613_assault", None),
        ("sdg_1613_physical", None),
        ("sdg_1631_victim_physical", None),
        ("sdg_1631_reported_physical", None),
        ("sdg_1651_contact", Some(1)),
        ("sdg_1651_bribe", Some(0)),
    ]);
    assert!(
        r.answer("assault_when").is_none() && r.answer("phv_reported").is_none(),
        "nothing is asked after a refused screener"
    );
}

#[test]
fn without_privacy_the_private_components_are_missing() {
    let r = interview("victimization.yaml", "no-privacy.yaml");
    assert_eq!(r.answer("privacy_ok"), Some(&Answer::Int(2)));
    assert!(
        !r.answers.keys().any(|p| p.item.starts_with("psv_")
            || p.item.starts_with("sev_")
            || p.item == "sc_mode"),
        "no private item is stored"
    );
    r.expect(&[
        ("sdg_1614_safe", Some(0)),
        ("sdg_1613_threat", Some(1)),
        ("sdg_1613_psychological", Some(1)),
        ("sdg_1631_reported_psychological", Some(0)),
        ("sdg_1613_psv", None),
        ("sdg_1613_sexual", None),
        ("sdg_1631_reported_sexual", None),
        ("sdg_1613_physical", Some(0)),
        ("sdg_1631_victim", Some(1)),
        // Not reported for the threat, unknown for sexual violence: not
        // classifiable (README: "unless not classifiable").
        ("sdg_1631_reported", None),
        ("sdg_1651_contact", Some(0)),
    ]);
}

#[test]
fn an_elderly_rural_respondent_with_a_disability() {
    let r = interview("victimization.yaml", "elderly-rural-disability.yaml");
    r.expect(&[
        ("sdg_disability", Some(1)),
        ("sdg_urban", Some(2)),
        ("sdg_age_group", Some(6)),
        ("sdg_region", Some(14)),
        ("sdg_n_eligible", Some(2)),
        ("sdg_1614_safe", Some(0)),
        ("sdg_1651_contact", Some(1)),
        ("sdg_1651_bribe", Some(0)),
        ("sdg_1651_bribe_paid", Some(0)),
        ("sdg_1651_n_bribe_types", Some(0)),
        ("sdg_1613_physical", Some(0)),
        ("sdg_1631_victim", Some(0)),
    ]);
    assert_eq!(r.answer("safe_dark_would"), Some(&Answer::Int(2)));
    assert_eq!(r.value("livestock_12m"), Some(&Value::Bool(true)));
    assert_eq!(
        r.value("inc_competent"),
        Some(&Value::Bool(false)),
        "a village chief is not a competent authority unless recognised"
    );
}

#[test]
fn partner_violence_of_every_type_with_its_own_reporting() {
    let r = interview("victimization.yaml", "partner-violence.yaml");
    r.expect(&[
        ("sdg_1613_assault", Some(1)),
        ("sdg_1613_physical", Some(1)),
        ("sdg_1613_psv", Some(1)),
        ("sdg_1613_psychological", Some(1)),
        ("sdg_1613_sexual", Some(1)),
        ("sdg_1613_any", Some(1)),
        // Reported by her sister to the police, through phv_reported (the
        // incident form was about a fraud).
        ("sdg_1631_reported_physical", Some(1)),
        ("sdg_1631_reported_psychological", Some(0)),
        ("sdg_1631_reported_sexual", Some(1)),
        ("sdg_1631_reported", Some(1)),
        ("sdg_1651_contact", Some(0)),
        ("sdg_1651_bribe", None),
    ]);
    assert_eq!(r.answer("inc_crime"), Some(&Answer::Int(15)));
    assert_eq!(r.answer("phv_reported"), Some(&Answer::Int(2)));
}

#[test]
fn a_corruption_survey_respondent_with_two_types_of_bribery() {
    let r = interview("corruption.yaml", "corruption-survey.yaml");
    r.expect(&[
        ("sdg_sex", Some(2)),
        ("sdg_age_group", Some(3)),
        ("sdg_disability", Some(0)),
        ("sdg_1651_contact", Some(1)),
        ("sdg_1651_bribe", Some(1)),
        ("sdg_1651_bribe_paid", Some(1)),
        ("sdg_1651_bribe_asked", Some(1)),
        ("sdg_1651_n_bribe_types", Some(2)),
    ]);
    let drawn = r.answer("cor_sel");
    assert!(
        matches!(drawn, Some(Answer::Int(3 | 7))),
        "the follow-up is about doctors or customs: {drawn:?}"
    );
}

#[test]
fn every_respondent_fixture_is_run_here() {
    let dir = crate::util::fixture("respondents");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("the respondents folder")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    files.sort();
    let source = include_str!("respondents.rs");
    for file in &files {
        assert!(
            source.contains(&format!("\"{file}\"")),
            "{file} has no test"
        );
        let text = std::fs::read_to_string(dir.join(file)).expect("readable");
        assert!(text.starts_with("# "), "{file} describes its respondent");
    }
    assert!(files.len() >= 10, "at least ten respondents: {files:?}");
}
