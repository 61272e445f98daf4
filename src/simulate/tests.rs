//! The simulation's interviews against its fast path: households chosen to
//! cover every state the synthetic respondent can report are interviewed
//! through the engine, stored, exported as fieldwork is, and each exported
//! respondent's `sdg_*` variables must equal [`respondent::record`] of the
//! adult the engine selected. This is what lets the coverage study skip the
//! engine.

use std::collections::HashMap;

use super::country::{Country, CountrySize, Person, Safety};
use super::*;

fn instrument() -> Instrument {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("instruments/victimization.yaml");
    let checked = crate::instrument::validate(&path);
    checked.instrument.expect("the bundled instrument loads")
}

/// Single-adult households whose adult shows each state, and a few larger
/// households (where the engine's Kish selection decides who answers).
fn households(country: &Country) -> Vec<usize> {
    type Check = Box<dyn Fn(&Person) -> bool>;
    let checks: Vec<(&str, Check)> = vec![
        (
            "assault reported",
            Box::new(|p| p.assault && p.physical.reported),
        ),
        (
            "robbery only, told another",
            Box::new(|p| p.robbery && !p.assault && p.physical.told_other),
        ),
        (
            "robbery only, not reported",
            Box::new(|p| p.robbery && !p.assault && !p.physical.reported && !p.physical.told_other),
        ),
        (
            "threat only, reported",
            Box::new(|p| p.threat && !p.physical.victim && p.psychological.reported),
        ),
        (
            "psychological, not threat",
            Box::new(|p| p.psv && !p.threat),
        ),
        ("assault and threat", Box::new(|p| p.assault && p.threat)),
        ("sexual, reported", Box::new(|p| p.sexual.reported)),
        (
            "sexual, not reported",
            Box::new(|p| p.sexual.victim && !p.sexual.reported),
        ),
        (
            "older victim only",
            Box::new(|p| {
                (p.older_assault || p.older_robbery || p.older_sexual)
                    && !p.physical.victim
                    && !p.sexual.victim
            }),
        ),
        (
            "bribe asked, not paid",
            Box::new(|p| p.contacts.iter().any(|c| c.asked && !c.paid)),
        ),
        (
            "bribe paid unasked",
            Box::new(|p| p.contacts.iter().any(|c| c.paid && !c.asked)),
        ),
        (
            "contact, no bribe",
            Box::new(|p| p.any_contact() && !p.bribery()),
        ),
        (
            "sexual harassment",
            Box::new(|p| p.sexual_harassment && !p.physical_harassment),
        ),
        ("physical harassment", Box::new(|p| p.physical_harassment)),
        ("disability", Box::new(|p| p.disability)),
        ("never goes out", Box::new(|p| p.safety == Safety::NeverOut)),
        ("very safe", Box::new(|p| p.safety == Safety::VerySafe)),
        (
            "very unsafe, young",
            Box::new(|p| p.safety == Safety::VeryUnsafe && p.age < 25),
        ),
    ];
    let mut out = Vec::new();
    for (what, check) in &checks {
        let found = (0..country.households.len()).find(|&h| {
            let adults: Vec<&Person> = country.members(h).iter().filter(|p| p.is_adult()).collect();
            adults.len() == 1 && check(adults[0]) && !out.contains(&h)
        });
        out.push(found.unwrap_or_else(|| panic!("no single-adult household with {what}")));
    }
    let mut larger = (0..country.households.len())
        .filter(|&h| country.members(h).iter().filter(|p| p.is_adult()).count() >= 3);
    out.extend(larger.by_ref().step_by(97).take(3));
    out
}

#[test]
fn interviews_through_the_engine_export_what_the_fast_path_computes() {
    let instrument = instrument();
    let country = Country::generate(CountrySize { areas: 400 }, 99);
    let chosen = households(&country);
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut store = Store::open(&dir.path().join("cases.db"), None).expect("a store");
    let settings = Settings::default();
    let mut cases = HashMap::new();
    for (k, &h) in chosen.iter().enumerate() {
        let sampled = Sampled {
            household: h,
            area: country.households[h].area,
            stratum: String::new(),
            p_area: 0.5,
            p_household: 0.5,
            responded: true,
        };
        let case = case_id(99, k);
        let done = interview_household(
            &instrument,
            &country,
            h,
            case,
            interview_start(&settings, &sampled, k),
        )
        .unwrap_or_else(|e| panic!("household {h}: {e}"));
        write_cases(&mut store, &instrument, std::slice::from_ref(&done)).expect("stored");
        cases.insert(case.to_string(), h);
    }
    let out = dir.path().join("export");
    crate::export::export(
        &store,
        std::slice::from_ref(&instrument),
        &out,
        &crate::export::Options::default(),
    )
    .expect("exported");
    let mut reader = csv::Reader::from_path(out.join("main.csv")).expect("main.csv");
    let header = reader.headers().expect("a header").clone();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("main.csv has no {name}"))
    };
    let mut seen = 0;
    for rec in reader.records() {
        let rec = rec.expect("a row");
        let h = cases[&rec[col("case_id")]];
        let row: usize = rec[col("respondent")].parse().expect("the selected row");
        let person = &country.members(h)[row - 1];
        assert!(person.is_adult(), "the engine selected a child");
        for (name, expected) in respondent::record(&country, person) {
            let cell = &rec[col(name)];
            let got = if cell.is_empty() {
                None
            } else {
                Some(cell.parse::<f64>().expect("a number"))
            };
            assert_eq!(got, expected, "household {h}, {name}");
        }
        seen += 1;
    }
    assert_eq!(seen, chosen.len());
}

#[test]
fn a_seed_gives_the_same_case_ids_and_different_seeds_others() {
    assert_eq!(case_id(1, 5), case_id(1, 5));
    assert_ne!(case_id(1, 5), case_id(1, 6));
    assert_ne!(case_id(1, 5), case_id(2, 5));
}

#[test]
fn the_demo_plan_calibrates_a_sample_to_the_census() {
    let country = Country::generate(CountrySize { areas: 400 }, 5);
    let plan_text = include_str!("../../weights/demo.yaml");
    let plan = crate::weighting::plan::Plan::from_yaml(plan_text).expect("the demo plan");
    let sample = sample::draw(
        &country,
        SampleSize {
            areas_per_stratum: 3,
            households_per_area: 12,
        },
        8,
    );
    let frame = study::sample_frame(&country, &sample, 9);
    let targets = study::census_targets(&country, &plan);
    assert_eq!(targets.len(), 3);
    let run = plan.apply(&frame, &targets).expect("weights");
    // Every adult of the census is represented once.
    let adults = country.adults().count() as f64;
    let total: f64 = run.weights.iter().sum();
    assert!(
        (total - adults).abs() < 1e-6 * adults,
        "{total} vs {adults}"
    );
    for (i, s) in sample.iter().enumerate() {
        assert_eq!(run.weights[i] > 0.0, s.responded);
    }
    // One JKn replicate per sampled area.
    let areas: std::collections::BTreeSet<usize> = sample.iter().map(|s| s.area).collect();
    assert_eq!(run.replicates.len(), areas.len());
}

#[test]
fn the_record_lists_its_variables_in_the_declared_order() {
    // population_frame and sample_frame zip record() with RECORD_NAMES.
    let country = Country::generate(CountrySize { areas: 200 }, 1);
    let adult = country.adults().next().expect("an adult");
    let names: Vec<&str> = respondent::record(&country, adult)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, respondent::RECORD_NAMES);
}

#[test]
fn the_shipped_demo_targets_are_the_default_countrys_census() {
    // weights/targets/demo/ lets `vicor weight --plan weights/demo.yaml`
    // run on the default demo's analysis.csv; it must be that census.
    let country = Country::generate(CountrySize::default(), Settings::default().seed);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/targets/demo");
    for (name, table) in census(&country) {
        let text = std::fs::read_to_string(dir.join(format!("{name}.csv")))
            .unwrap_or_else(|e| panic!("{name}.csv: {e}"));
        let mut expected = format!("{name},total\n");
        for (k, v) in &table {
            expected.push_str(&format!("{k},{v}\n"));
        }
        assert_eq!(
            text, expected,
            "{name}.csv: regenerate with `vicor simulate`"
        );
    }
}
