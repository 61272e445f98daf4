//! The synthetic country: regions, urban and rural enumeration areas,
//! households and persons, each adult carrying *true* victimization, safety,
//! harassment, contact and bribery states.
//!
//! The states follow logistic models with effects of sex, age, urban/rural,
//! region and disability, and a random effect per enumeration area (people
//! of one area share risks, which is what makes cluster sampling cost
//! precision). Because every state is known, so is every indicator's true
//! value: [`Country::truth`].

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Number of regions; region codes are 1..=REGIONS.
pub const REGIONS: usize = 10;
/// The 15 types of public official of the corruption module, in code order.
pub const OFFICIAL_TYPES: usize = 15;
/// Minimum age of the survey population (the instrument's `cfg_min_age`).
pub const ADULT_AGE: u8 = 18;

/// How large a country to make.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CountrySize {
    /// Enumeration areas over all regions.
    pub areas: usize,
}

impl Default for CountrySize {
    fn default() -> Self {
        // About 240,000 households and 600,000 adults: large enough that a
        // sample of a few hundred areas is a small fraction of the country.
        CountrySize { areas: 2_400 }
    }
}

/// One enumeration area: the primary sampling unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    /// 1-based region code.
    pub region: u8,
    pub urban: bool,
    /// Index of the area's first household in [`Country::households`].
    pub first_household: usize,
    pub households: usize,
    /// The area's shared effects on the log-odds of victimization, of
    /// feeling unsafe and of being asked for a bribe.
    pub violence_effect: f64,
    pub safety_effect: f64,
    pub bribery_effect: f64,
}

impl Area {
    /// Stratum of the area: region × urban/rural, as "03-urban".
    pub fn stratum(&self) -> String {
        format!(
            "{:02}-{}",
            self.region,
            if self.urban { "urban" } else { "rural" }
        )
    }
}

/// One household.
#[derive(Debug, Clone, PartialEq)]
pub struct Household {
    pub area: usize,
    /// Index of the first member in [`Country::persons`]; the first member
    /// is the reference person.
    pub first_person: usize,
    pub size: usize,
}

/// What a person reports on the feeling-of-safety question (`safe_dark`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Safety {
    VerySafe = 1,
    Safe = 2,
    Unsafe = 3,
    VeryUnsafe = 4,
    NeverOut = 5,
}

/// A violent incident type's truth for one adult, over the previous 12
/// months, and whether it was reported to a competent authority (police,
/// prosecutor or court) or only to someone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Violence {
    pub victim: bool,
    pub reported: bool,
    /// Told someone who is not a competent authority (e.g. victim support)
    /// and no one else: counts as not reported for 16.3.1.
    pub told_other: bool,
}

/// One person; the states are meaningful for adults only.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub household: usize,
    pub age: u8,
    pub female: bool,
    /// A lot of difficulty in at least one Washington Group domain.
    pub disability: bool,
    pub safety: Safety,
    /// Robbery and physical assault (16.1.3 physical violence).
    pub robbery: bool,
    pub assault: bool,
    pub physical: Violence,
    /// Threat and other psychological violence (16.1.3 psychological).
    pub threat: bool,
    pub psv: bool,
    pub psychological: Violence,
    pub sexual: Violence,
    /// Victim of the type more than 12 months but less than 5 years ago
    /// (and not in the last 12 months): screened out by the reference
    /// period.
    pub older_robbery: bool,
    pub older_assault: bool,
    pub older_sexual: bool,
    /// Sexual and physical harassment (11.7.2), with the place code of the
    /// most recent incident.
    pub sexual_harassment: bool,
    pub physical_harassment: bool,
    pub harassment_place: u8,
    /// Per type of official: contact, asked for a bribe, paid a bribe.
    pub contacts: [Contact; OFFICIAL_TYPES],
}

/// A person's dealings with one type of public official in 12 months.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Contact {
    pub contact: bool,
    pub asked: bool,
    pub paid: bool,
}

impl Person {
    pub fn is_adult(&self) -> bool {
        self.age >= ADULT_AGE
    }

    /// Age group code as the instrument's `sdg_age_group`: 18–24 … 65+.
    pub fn age_group(&self) -> u8 {
        match self.age {
            0..=24 => 1,
            25..=34 => 2,
            35..=44 => 3,
            45..=54 => 4,
            55..=64 => 5,
            _ => 6,
        }
    }

    pub fn any_contact(&self) -> bool {
        self.contacts.iter().any(|c| c.contact)
    }

    /// Paid or was asked for a bribe by at least one official (16.5.1).
    pub fn bribery(&self) -> bool {
        self.contacts
            .iter()
            .any(|c| c.contact && (c.asked || c.paid))
    }

    pub fn feels_safe(&self) -> bool {
        matches!(self.safety, Safety::VerySafe | Safety::Safe)
    }
}

/// The synthetic country.
#[derive(Debug, Clone)]
pub struct Country {
    pub seed: u64,
    pub areas: Vec<Area>,
    pub households: Vec<Household>,
    pub persons: Vec<Person>,
}

/// Relative size of each region (the share of areas it holds).
const REGION_SIZE: [f64; REGIONS] = [1.4, 1.1, 1.3, 1.0, 0.9, 1.2, 0.8, 1.0, 0.7, 0.6];
/// Share of each region's areas that are urban.
const REGION_URBAN: [f64; REGIONS] = [0.85, 0.6, 0.55, 0.45, 0.4, 0.5, 0.35, 0.3, 0.25, 0.2];
/// Region effects on the log-odds of violence and of bribery.
const REGION_VIOLENCE: [f64; REGIONS] = [0.3, 0.1, 0.2, 0.0, -0.1, 0.15, -0.2, 0.0, -0.25, -0.1];
const REGION_BRIBERY: [f64; REGIONS] = [0.0, 0.3, -0.2, 0.1, 0.4, -0.1, 0.2, 0.5, 0.0, 0.6];
/// Probability of contact with each type of official in 12 months (urban),
/// and the log-odds of a bribe given contact.
const CONTACT: [f64; OFFICIAL_TYPES] = [
    0.22, 0.05, 0.38, 0.32, 0.22, 0.10, 0.03, 0.04, 0.15, 0.08, 0.14, 0.10, 0.07, 0.03, 0.08,
];
const BRIBE_LOGIT: [f64; OFFICIAL_TYPES] = [
    -1.6, -2.2, -2.8, -3.0, -3.2, -2.4, -1.8, -2.0, -2.3, -2.1, -2.6, -2.9, -2.0, -3.0, -2.7,
];

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// A normal deviate (Box–Muller), to keep to the crates we have.
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let v: f64 = rng.random();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

impl Country {
    /// Generates the country; the same seed gives the same country.
    pub fn generate(size: CountrySize, seed: u64) -> Country {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let total: f64 = REGION_SIZE.iter().sum();
        let mut areas = Vec::with_capacity(size.areas);
        let mut households = Vec::new();
        let mut persons = Vec::new();
        for r in 0..REGIONS {
            let n_areas = ((size.areas as f64) * REGION_SIZE[r] / total)
                .round()
                .max(12.0) as usize;
            let n_urban = ((n_areas as f64) * REGION_URBAN[r])
                .round()
                .clamp(6.0, n_areas as f64 - 6.0) as usize;
            for a in 0..n_areas {
                let urban = a < n_urban;
                let n_households = if urban {
                    rng.random_range(60..=180)
                } else {
                    rng.random_range(40..=120)
                };
                let area = Area {
                    region: (r + 1) as u8,
                    urban,
                    first_household: households.len(),
                    households: n_households,
                    violence_effect: 0.35 * normal(&mut rng),
                    safety_effect: 0.4 * normal(&mut rng),
                    bribery_effect: 0.5 * normal(&mut rng),
                };
                let area_index = areas.len();
                for _ in 0..n_households {
                    let first = persons.len();
                    let h = households.len();
                    make_household(&mut rng, &area, h, &mut persons);
                    households.push(Household {
                        area: area_index,
                        first_person: first,
                        size: persons.len() - first,
                    });
                }
                areas.push(area);
            }
        }
        let mut country = Country {
            seed,
            areas,
            households,
            persons,
        };
        country.assign_states(&mut rng);
        country
    }

    pub fn members(&self, household: usize) -> &[Person] {
        let h = &self.households[household];
        &self.persons[h.first_person..h.first_person + h.size]
    }

    pub fn adults(&self) -> impl Iterator<Item = &Person> {
        self.persons.iter().filter(|p| p.is_adult())
    }

    fn assign_states(&mut self, rng: &mut ChaCha8Rng) {
        for i in 0..self.persons.len() {
            if !self.persons[i].is_adult() {
                continue;
            }
            let area = &self.areas[self.households[self.persons[i].household].area];
            let (region, urban) = (area.region as usize - 1, area.urban);
            let (u, s, b) = (
                area.violence_effect,
                area.safety_effect,
                area.bribery_effect,
            );
            let p = &mut self.persons[i];
            let young = f64::from(u8::from(p.age < 25));
            let under35 = f64::from(u8::from(p.age < 35));
            let old = f64::from(u8::from(p.age >= 65));
            let female = f64::from(u8::from(p.female));
            let male = 1.0 - female;
            let urb = f64::from(u8::from(urban));
            let dis = f64::from(u8::from(p.disability));
            let mut draw = |x: f64| rng.random::<f64>() < logistic(x);

            let physical = draw(
                -2.7 + 0.5 * young + 0.25 * under35 - 0.5 * old
                    + 0.3 * male
                    + 0.3 * urb
                    + 0.4 * dis
                    + REGION_VIOLENCE[region]
                    + u,
            );
            if physical {
                p.assault = draw(1.1);
                p.robbery = !p.assault || draw(-1.7);
            }
            let psychological = draw(
                -2.1 + 1.0 * f64::from(u8::from(physical)) + 0.25 * female + 0.3 * under35
                    - 0.3 * old
                    + 0.2 * urb
                    + REGION_VIOLENCE[region]
                    + u,
            );
            if psychological {
                p.threat = draw(0.0);
                p.psv = !p.threat || draw(-0.5);
            }
            let sexual = draw(
                -4.3 + 1.3 * female
                    + 0.6 * under35
                    + 0.9 * f64::from(u8::from(physical))
                    + 0.3 * dis
                    + u,
            );
            let report = |victim: bool, x: f64, draw: &mut dyn FnMut(f64) -> bool| {
                if !victim {
                    return Violence::default();
                }
                let reported = draw(x);
                Violence {
                    victim,
                    reported,
                    told_other: !reported && draw(-2.5),
                }
            };
            p.physical = report(physical, -0.4 + 0.3 * urb + 0.3 * old, &mut draw);
            p.psychological = report(psychological, -1.5 + 0.2 * female, &mut draw);
            p.sexual = report(sexual, -1.7 + 0.3 * urb, &mut draw);
            p.older_robbery = !p.robbery && draw(-3.5);
            p.older_assault = !p.assault && draw(-3.2);
            p.older_sexual = !sexual && draw(-4.5 + female);

            let safe = draw(
                1.1 - 0.8 * female
                    - 0.3 * urb
                    - 0.3 * old
                    - 0.7 * f64::from(u8::from(physical))
                    - 0.3 * dis
                    + s,
            );
            p.safety = if safe {
                if draw(-0.6) {
                    Safety::VerySafe
                } else {
                    Safety::Safe
                }
            } else if draw(-2.8 + 1.5 * old + dis) {
                Safety::NeverOut
            } else if draw(-0.8) {
                Safety::VeryUnsafe
            } else {
                Safety::Unsafe
            };

            p.sexual_harassment =
                draw(-2.4 + 1.3 * female + 0.7 * under35 - 0.6 * old + 0.3 * urb + 0.5 * u);
            p.physical_harassment = draw(-3.0 + 0.4 * young + 0.3 * male + 0.3 * urb + 0.5 * u);
            // Public place near home (twice as likely), elsewhere, transport
            // (twice), shop, work, online: the instrument's place codes.
            const PLACES: [u8; 8] = [3, 3, 4, 6, 6, 5, 7, 9];
            p.harassment_place = PLACES[rng.random_range(0..PLACES.len())];

            for t in 0..OFFICIAL_TYPES {
                let reach = if urban { 1.0 } else { 0.7 };
                let contact = rng.random::<f64>() < CONTACT[t] * reach * (1.0 - 0.2 * old);
                if !contact {
                    continue;
                }
                let x = BRIBE_LOGIT[t] + 0.3 * male - 0.3 * old + REGION_BRIBERY[region] + b;
                let asked = rng.random::<f64>() < logistic(x);
                let paid = if asked {
                    rng.random::<f64>() < 0.6
                } else {
                    rng.random::<f64>() < logistic(x - 1.5)
                };
                p.contacts[t] = Contact {
                    contact,
                    asked,
                    paid,
                };
            }
        }
    }
}

fn make_household(rng: &mut ChaCha8Rng, area: &Area, h: usize, persons: &mut Vec<Person>) {
    // Adults: the reference person, a partner in most households, and now
    // and then a parent, sibling or adult child.
    let mut adults = 1;
    if rng.random::<f64>() < 0.62 {
        adults += 1;
    }
    while adults < 6 && rng.random::<f64>() < if area.urban { 0.22 } else { 0.32 } {
        adults += 1;
    }
    let mean_children = if area.urban { 1.0 } else { 1.8 };
    let mut children = 0;
    while children < 8 && rng.random::<f64>() < mean_children / (1.0 + mean_children) {
        children += 1;
    }
    let ref_age: u8 = 20 + (rng.random::<f64>().powf(1.3) * 66.0) as u8;
    let ref_female = rng.random::<f64>() < 0.35;
    for k in 0..adults {
        let (age, female) = match k {
            0 => (ref_age, ref_female),
            1 => (
                (i32::from(ref_age) + rng.random_range(-6..=6)).clamp(18, 95) as u8,
                !ref_female,
            ),
            _ => (
                if rng.random::<f64>() < 0.5 {
                    18 + rng.random_range(0..15)
                } else {
                    (ref_age + 20).min(99)
                },
                rng.random::<f64>() < 0.52,
            ),
        };
        persons.push(new_person(rng, h, age, female));
    }
    for _ in 0..children {
        let age = rng.random_range(0..18);
        let female = rng.random::<f64>() < 0.49;
        persons.push(new_person(rng, h, age, female));
    }
}

fn new_person(rng: &mut ChaCha8Rng, household: usize, age: u8, female: bool) -> Person {
    let disability = rng.random::<f64>() < 0.02 + 0.25 * (f64::from(age) / 100.0).powi(3);
    Person {
        household,
        age,
        female,
        disability,
        safety: Safety::Safe,
        robbery: false,
        assault: false,
        physical: Violence::default(),
        threat: false,
        psv: false,
        psychological: Violence::default(),
        sexual: Violence::default(),
        older_robbery: false,
        older_assault: false,
        older_sexual: false,
        sexual_harassment: false,
        physical_harassment: false,
        harassment_place: 3,
        contacts: [Contact::default(); OFFICIAL_TYPES],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Country {
        Country::generate(CountrySize { areas: 120 }, 7)
    }

    #[test]
    fn the_same_seed_gives_the_same_country() {
        let a = small();
        let b = small();
        assert_eq!(a.persons, b.persons);
        assert_eq!(a.areas, b.areas);
        let c = Country::generate(CountrySize { areas: 120 }, 8);
        assert_ne!(a.persons, c.persons);
    }

    #[test]
    fn every_household_has_an_adult_reference_person_and_every_region_both_kinds_of_area() {
        let c = small();
        for h in 0..c.households.len() {
            let m = c.members(h);
            assert!(!m.is_empty());
            assert!(m[0].is_adult());
            assert!(m.iter().all(|p| p.household == h));
        }
        for r in 1..=REGIONS as u8 {
            assert!(c.areas.iter().any(|a| a.region == r && a.urban));
            assert!(c.areas.iter().any(|a| a.region == r && !a.urban));
        }
    }

    #[test]
    fn states_are_consistent() {
        let c = small();
        for p in c.adults() {
            assert_eq!(p.physical.victim, p.robbery || p.assault);
            assert_eq!(p.psychological.victim, p.threat || p.psv);
            assert!(!(p.robbery && p.older_robbery));
            for v in [p.physical, p.psychological, p.sexual] {
                assert!(v.victim || (!v.reported && !v.told_other));
                assert!(!(v.reported && v.told_other));
            }
            for k in &p.contacts {
                assert!(k.contact || (!k.asked && !k.paid));
            }
        }
        for p in c.persons.iter().filter(|p| !p.is_adult()) {
            assert!(!p.physical.victim && !p.any_contact());
        }
    }
}
