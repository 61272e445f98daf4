//! The synthetic respondent: answers the bundled victimization
//! questionnaire from a household's true states, question by question, as
//! the engine asks them ([`answer`]); and the same household's indicator
//! variables computed straight from the states ([`record`]), which the
//! coverage study uses because driving the engine through a thousand
//! samples would take hours. A test drives the engine through a sample and
//! checks that the exported `sdg_*` variables equal [`record`] for every
//! respondent, so the fast path measures what the questionnaire measures.
//!
//! Simplifications, all documented in docs/validation.md: every household
//! that responds lets the selected adult answer, in private (the
//! self-completion sections are always asked); nobody answers "don't know";
//! household property crime is not simulated (those screeners are "no").

use jiff::ToSpan;
use jiff::civil::Date;

use crate::interview::{Answer, Interview, ItemPath};
use crate::simulate::country::{Country, Person, Safety, Violence};

/// Why the synthetic respondent could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the synthetic respondent has no answer for `{path}`: {why}")]
pub struct NoAnswer {
    pub path: String,
    pub why: String,
}

/// One household being interviewed, with who the engine selected.
pub struct Household<'c> {
    pub country: &'c Country,
    pub household: usize,
}

impl Household<'_> {
    fn members(&self) -> &[Person] {
        self.country.members(self.household)
    }

    /// The selected adult, once the engine has drawn `respondent`.
    fn selected(&self, interview: &Interview) -> Result<&Person, NoAnswer> {
        let row = match interview.answer_of(&ItemPath::top("respondent")) {
            Some(Answer::Int(r)) => *r,
            _ => {
                return Err(NoAnswer {
                    path: "respondent".into(),
                    why: "asked before the respondent was selected".into(),
                });
            }
        };
        usize::try_from(row - 1)
            .ok()
            .and_then(|i| self.members().get(i))
            .ok_or_else(|| NoAnswer {
                path: "respondent".into(),
                why: format!("the engine selected row {row}, outside the roster"),
            })
    }
}

fn yes(b: bool) -> Answer {
    Answer::Int(if b { 1 } else { 2 })
}

fn codes(c: &[i64]) -> Answer {
    Answer::Codes(c.to_vec())
}

/// The date of the most recent violent incident, within the 12 months
/// before `today` (fixed per household so that reruns agree).
fn incident_date(today: Date, household: usize) -> Date {
    let days = 15 + (household * 37 % 300) as i64;
    today.checked_sub(days.days()).unwrap_or(today)
}

/// Answers the question at `path` for the household.
pub fn answer(h: &Household, interview: &Interview, path: &ItemPath) -> Result<Answer, NoAnswer> {
    let members = h.members();
    let area = &h.country.areas[h.country.households[h.household].area];
    let item = path.item.as_str();
    // Roster rows: the household list and the 15 types of official.
    if let Some(row) = path.rows.first() {
        let k = usize::try_from(row.key - 1).unwrap_or(usize::MAX);
        if row.roster == "members" {
            let p = members.get(k).ok_or_else(|| NoAnswer {
                path: path.to_string(),
                why: "a roster row beyond the household".into(),
            })?;
            return Ok(match item {
                "name" => Answer::Text(format!("Person {}", k + 1)),
                "sex" => Answer::Int(if p.female { 2 } else { 1 }),
                "age" => Answer::Int(i64::from(p.age)),
                "relation" => Answer::Int(match k {
                    0 => 1,
                    1 if p.is_adult() => 2,
                    _ if !p.is_adult() => 3,
                    _ => 8,
                }),
                _ => return Err(unknown(path)),
            });
        }
        if row.roster == "officials" {
            let p = h.selected(interview)?;
            let c = p.contacts.get(k).copied().ok_or_else(|| unknown(path))?;
            return Ok(match item {
                "cor_contact" => yes(c.contact),
                "cor_ncontact" => Answer::Int(1 + (k as i64 % 3)),
                "cor_asked" => yes(c.asked),
                "cor_refused" => yes(!c.paid),
                "cor_offered" => yes(false),
                "cor_paid" => yes(c.paid),
                "cor_npaid" => Answer::Int(1),
                _ => return Err(unknown(path)),
            });
        }
        return Err(unknown(path));
    }
    // Before the selection: the household.
    match item {
        "hh_region" => return Ok(Answer::Int(i64::from(area.region))),
        "hh_urban" => return Ok(Answer::Int(if area.urban { 1 } else { 2 })),
        "hh_consent" => return Ok(yes(true)),
        "hh_size" => return Ok(Answer::Int(members.len() as i64)),
        "resp_available" => return Ok(Answer::Int(1)),
        "resp_consent" | "resp_lived_12m" => return Ok(yes(true)),
        "enum_present" => return Ok(Answer::Int(1)),
        "enum_comment" => return Ok(Answer::Text("none".into())),
        _ => {}
    }
    let p = h.selected(interview)?;
    let today = interview.today();
    let inc_crime = if p.assault {
        13
    } else if p.robbery {
        11
    } else if p.threat {
        14
    } else {
        0
    };
    // The incident form is about the most recent incident: its reporting
    // is the reporting of that type of violence.
    let inc_violence = match inc_crime {
        11 | 13 => p.physical,
        _ => p.psychological,
    };
    let reported =
        |v: Violence| -> Answer { Answer::Int(if v.reported || v.told_other { 1 } else { 3 }) };
    let report_to = |v: Violence| -> Answer { codes(if v.reported { &[13] } else { &[31] }) };
    let screener = |now: bool, older: bool| yes(now || older);
    let when = |now: bool| Answer::Int(if now { 1 } else { 2 });
    let wg = |i: usize| Answer::Int(if p.disability && i == 2 { 3 } else { 1 });
    Ok(match item {
        "resp_sex" => Answer::Int(if p.female { 2 } else { 1 }),
        "resp_age" => Answer::Int(i64::from(p.age)),
        "resp_edu" => Answer::Int(if p.age >= 65 { 2 } else { 4 }),
        "resp_activity" => Answer::Int(match p.age {
            0..=21 => 5,
            65.. => 7,
            _ => 1,
        }),
        "resp_marital" => Answer::Int(2),
        "resp_partner_ever" | "resp_born_here" => yes(true),
        "resp_citizen" | "resp_parents_born" => Answer::Int(1),
        "resp_income" => Answer::Int(3),
        "wg_seeing" => wg(0),
        "wg_hearing" => wg(1),
        "wg_walking" => wg(2),
        "wg_cognition" => wg(3),
        "wg_selfcare" => wg(4),
        "wg_communication" => wg(5),
        "safe_dark" => Answer::Int(p.safety as i64),
        "safe_dark_would" => Answer::Int(Safety::Unsafe as i64),
        "safe_dark_why" => codes(&[1]),
        "safe_day" | "safe_home" => Answer::Int(2),
        "burglary_likely" => Answer::Int(3),
        "veh_own" => codes(&[4]),
        "farm" | "burg_5y" | "attburg_5y" | "vand_5y" | "ptheft_5y" | "fraud_5y" | "cyber_5y" => {
            yes(false)
        }
        "rob_5y" => screener(p.robbery, p.older_robbery),
        "rob_when" => when(p.robbery),
        "assault_5y" => screener(p.assault, p.older_assault),
        "assault_when" => when(p.assault),
        "threat_5y" => yes(p.threat),
        "threat_when" => when(p.threat),
        "rob_n12" | "assault_n12" | "threat_n12" => Answer::Int(1),
        "inc_crime" if inc_crime > 0 => Answer::Int(inc_crime),
        "inc_date" => Answer::Date(incident_date(today, h.household)),
        "inc_place" => Answer::Int(3),
        "inc_time" => Answer::Int(2),
        "inc_off_n" => Answer::Int(1),
        "inc_off_known" => Answer::Int(7),
        "inc_off_sex" => Answer::Int(1),
        "inc_weapon" | "inc_injury" | "inc_medical" | "inc_support" => yes(false),
        "inc_loss" => Answer::Decimal(if inc_crime == 11 { 40.0 } else { 0.0 }),
        "inc_reported" => reported(inc_violence),
        "inc_report_to" => report_to(inc_violence),
        "inc_norep_why" | "phv_norep_why" | "psv_norep_why" | "sev_norep_why" => codes(&[1]),
        "inc_satisf" => Answer::Int(2),
        "phv_reported" => reported(p.physical),
        "phv_report_to" => report_to(p.physical),
        "shar_a" => yes(p.sexual_harassment),
        "shar_b" | "shar_c" | "shar_d" | "shar_e" | "shar_f" | "shar_g" => yes(false),
        "shar_place" | "phar_place" => Answer::Int(i64::from(p.harassment_place)),
        "shar_off_sex" => Answer::Int(1),
        "phar_a" => yes(p.physical_harassment),
        "phar_b" | "phar_c" | "phar_d" | "phar_e" => yes(false),
        "cor_form" => codes(&[1]),
        "cor_amount" => Answer::Decimal(20.0),
        "cor_init" => Answer::Int(1),
        "cor_purpose" => codes(&[1]),
        "cor_report" => yes(false),
        "cor_norep_why" => codes(&[1]),
        "privacy_ok" | "sc_mode" => Answer::Int(1),
        "psv_a" => yes(p.psv),
        "psv_b" | "psv_c" | "psv_d" | "psv_e" | "psv_f" | "psv_g" => yes(false),
        "psv_reported" => reported(p.psychological),
        "psv_report_to" => report_to(p.psychological),
        "sev_a5" => yes(p.sexual.victim),
        "sev_a12" => yes(true),
        "sev_b5" => yes(p.older_sexual),
        "sev_b12" => yes(false),
        "sev_c5" | "sev_d5" | "sev_e5" | "sev_f5" => yes(false),
        "sev_off_known" => Answer::Int(4),
        "sev_place" => Answer::Int(1),
        "sev_reported" => reported(p.sexual),
        "sev_report_to" => report_to(p.sexual),
        _ => return Err(unknown(path)),
    })
}

fn unknown(path: &ItemPath) -> NoAnswer {
    NoAnswer {
        path: path.to_string(),
        why: "the questionnaire asks something the simulation does not model; \
              add it to src/simulate/respondent.rs"
            .into(),
    }
}

/// The indicator variables of a respondent, named and coded as the
/// victimization instrument's computed `sdg_*` items (see
/// instruments/README.md); `None` where the instrument leaves the variable
/// empty (out of its universe).
pub fn record(country: &Country, person: &Person) -> Vec<(&'static str, Option<f64>)> {
    let area = &country.areas[country.households[person.household].area];
    let b = |x: bool| Some(if x { 1.0 } else { 0.0 });
    let within = |domain: bool, x: bool| if domain { b(x) } else { None };
    let eligible = country
        .members(person.household)
        .iter()
        .filter(|m| m.is_adult())
        .count();
    let contact = person.any_contact();
    let place = |x: bool| {
        if x {
            Some(f64::from(person.harassment_place))
        } else {
            None
        }
    };
    vec![
        ("sdg_sex", Some(if person.female { 2.0 } else { 1.0 })),
        ("sdg_age_group", Some(f64::from(person.age_group()))),
        ("sdg_region", Some(f64::from(area.region))),
        ("sdg_urban", Some(if area.urban { 1.0 } else { 2.0 })),
        ("sdg_disability", b(person.disability)),
        ("sdg_n_eligible", Some(eligible as f64)),
        ("sdg_1613_physical", b(person.physical.victim)),
        ("sdg_1613_psychological", b(person.psychological.victim)),
        ("sdg_1613_sexual", b(person.sexual.victim)),
        ("sdg_1614_safe", b(person.feels_safe())),
        ("sdg_1631_victim_physical", b(person.physical.victim)),
        (
            "sdg_1631_victim_psychological",
            b(person.psychological.victim),
        ),
        ("sdg_1631_victim_sexual", b(person.sexual.victim)),
        (
            "sdg_1631_reported_physical",
            within(person.physical.victim, person.physical.reported),
        ),
        (
            "sdg_1631_reported_psychological",
            within(person.psychological.victim, person.psychological.reported),
        ),
        (
            "sdg_1631_reported_sexual",
            within(person.sexual.victim, person.sexual.reported),
        ),
        ("sdg_1651_contact", b(contact)),
        ("sdg_1651_bribe", within(contact, person.bribery())),
        (
            "sdg_1172_harassed",
            b(person.sexual_harassment || person.physical_harassment),
        ),
        ("sdg_1172_sexual", b(person.sexual_harassment)),
        ("sdg_1172_physical", b(person.physical_harassment)),
        ("sdg_1172_place_sexual", place(person.sexual_harassment)),
        ("sdg_1172_place_physical", place(person.physical_harassment)),
    ]
}

/// Names of the variables of [`record`], in order.
pub const RECORD_NAMES: [&str; 23] = [
    "sdg_sex",
    "sdg_age_group",
    "sdg_region",
    "sdg_urban",
    "sdg_disability",
    "sdg_n_eligible",
    "sdg_1613_physical",
    "sdg_1613_psychological",
    "sdg_1613_sexual",
    "sdg_1614_safe",
    "sdg_1631_victim_physical",
    "sdg_1631_victim_psychological",
    "sdg_1631_victim_sexual",
    "sdg_1631_reported_physical",
    "sdg_1631_reported_psychological",
    "sdg_1631_reported_sexual",
    "sdg_1651_contact",
    "sdg_1651_bribe",
    "sdg_1172_harassed",
    "sdg_1172_sexual",
    "sdg_1172_physical",
    "sdg_1172_place_sexual",
    "sdg_1172_place_physical",
];
