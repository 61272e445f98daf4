//! Random selection of one row among the eligible ones: one adult per
//! household, one bribery case among several.
//!
//! Every draw comes from a ChaCha generator seeded from the case and the
//! item, so it is reproducible, and the engine records seed, method, number
//! eligible and result as an event. A draw is made once and never redrawn.

use jiff::civil::Date;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::instrument::model::SelectionMethod;

/// One eligible row with what the methods need to know of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub key: i64,
    pub sex: Option<i64>,
    pub age: Option<f64>,
    pub birth_date: Option<Date>,
}

/// The result of a draw.
#[derive(Debug, Clone, PartialEq)]
pub struct Draw {
    /// Row key of the selected row.
    pub key: i64,
    /// Number of eligible rows (the within-household weight factor).
    pub eligible: usize,
    pub seed: u64,
    /// What was done, for the event log (table, order, ties).
    pub detail: String,
}

/// Kish's selection tables (Kish 1949) for 1 to 6 or more eligible adults,
/// with the share of households each is assigned to. Entry `n - 1` is the
/// line to interview when there are `n` adults (6 for six or more).
pub const KISH_TABLES: [(&str, u32, [usize; 6]); 8] = [
    ("A", 4, [1, 1, 1, 1, 1, 1]),
    ("B1", 2, [1, 1, 1, 1, 2, 2]),
    ("B2", 2, [1, 1, 1, 2, 2, 2]),
    ("C", 4, [1, 1, 2, 2, 3, 3]),
    ("D", 4, [1, 2, 2, 3, 4, 4]),
    ("E1", 2, [1, 2, 3, 3, 3, 5]),
    ("E2", 2, [1, 2, 3, 4, 5, 5]),
    ("F", 4, [1, 2, 3, 4, 5, 6]),
];

/// Draws one candidate; `None` when there is none.
pub fn draw(
    method: &SelectionMethod,
    candidates: &[Candidate],
    seed: u64,
    today: Date,
) -> Option<Draw> {
    if candidates.is_empty() {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let eligible = candidates.len();
    let (key, detail) = match method {
        SelectionMethod::Uniform => {
            let i = rng.random_range(0..eligible);
            (candidates[i].key, format!("uniform among {eligible}"))
        }
        SelectionMethod::Kish { male, .. } => {
            // Kish's listing: men oldest first, then women oldest first;
            // unknown ages last within their group, by row.
            let mut listed: Vec<&Candidate> = candidates.iter().collect();
            listed.sort_by(|a, b| {
                let group = |c: &Candidate| u8::from(c.sex != Some(*male));
                group(a)
                    .cmp(&group(b))
                    .then_with(|| {
                        b.age
                            .unwrap_or(f64::NEG_INFINITY)
                            .total_cmp(&a.age.unwrap_or(f64::NEG_INFINITY))
                    })
                    .then(a.key.cmp(&b.key))
            });
            let total: u32 = KISH_TABLES.iter().map(|t| t.1).sum();
            let mut ticket = rng.random_range(0..total);
            let mut table = &KISH_TABLES[KISH_TABLES.len() - 1];
            for t in &KISH_TABLES {
                if ticket < t.1 {
                    table = t;
                    break;
                }
                ticket -= t.1;
            }
            let line = table.2[eligible.min(6) - 1];
            let order: Vec<String> = listed.iter().map(|c| c.key.to_string()).collect();
            (
                listed[line - 1].key,
                format!(
                    "kish table {} line {line} of {eligible}; listing {}",
                    table.0,
                    order.join(",")
                ),
            )
        }
        SelectionMethod::NextBirthday { .. } => {
            // Days from the interview date to each next birthday; people
            // without a birth date come last; ties are broken at random.
            let days = |c: &Candidate| c.birth_date.map(|b| days_to_birthday(b, today));
            let best = candidates.iter().filter_map(days).min();
            let tied: Vec<&Candidate> = match best {
                Some(d) => candidates.iter().filter(|c| days(c) == Some(d)).collect(),
                None => candidates.iter().collect(),
            };
            let pick = tied[rng.random_range(0..tied.len())];
            (
                pick.key,
                format!("next birthday, {} tied among {eligible}", tied.len()),
            )
        }
    };
    Some(Draw {
        key,
        eligible,
        seed,
        detail,
    })
}

/// Days from `today` to the next birthday on or after it (29 February counts
/// as 28 February in common years).
fn days_to_birthday(birth: Date, today: Date) -> i64 {
    let on = |year: i16| {
        let day = if birth.month() == 2
            && birth.day() == 29
            && !jiff::civil::date(year, 1, 1).in_leap_year()
        {
            28
        } else {
            birth.day()
        };
        jiff::civil::Date::new(year, birth.month(), day).ok()
    };
    let this_year = on(today.year()).filter(|d| *d >= today);
    let next = this_year.or_else(|| on(today.year() + 1));
    next.map(|d| (d - today).get_days() as i64)
        .unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn people() -> Vec<Candidate> {
        vec![
            Candidate {
                key: 1,
                sex: Some(2),
                age: Some(40.0),
                birth_date: Some(date(1985, 7, 1)),
            },
            Candidate {
                key: 2,
                sex: Some(1),
                age: Some(45.0),
                birth_date: Some(date(1980, 3, 10)),
            },
            Candidate {
                key: 3,
                sex: Some(1),
                age: Some(19.0),
                birth_date: Some(date(2006, 12, 24)),
            },
        ]
    }

    #[test]
    fn same_seed_same_draw() {
        let today = date(2026, 3, 1);
        for method in [
            SelectionMethod::Uniform,
            SelectionMethod::Kish {
                sex: "sex".into(),
                age: "age".into(),
                male: 1,
            },
            SelectionMethod::NextBirthday {
                birth_date: "dob".into(),
            },
        ] {
            let a = draw(&method, &people(), 42, today);
            assert_eq!(a, draw(&method, &people(), 42, today));
            assert_eq!(a.map(|d| d.eligible), Some(3));
        }
    }

    #[test]
    fn uniform_draw_is_roughly_uniform() {
        let today = date(2026, 3, 1);
        let mut counts = [0usize; 3];
        for seed in 0..3000 {
            let d = draw(&SelectionMethod::Uniform, &people(), seed, today).expect("candidates");
            counts[(d.key - 1) as usize] += 1;
        }
        for c in counts {
            assert!((850..1150).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn kish_lists_men_oldest_first() {
        let method = SelectionMethod::Kish {
            sex: "sex".into(),
            age: "age".into(),
            male: 1,
        };
        let d = draw(&method, &people(), 7, date(2026, 3, 1)).expect("candidates");
        assert!(d.detail.ends_with("listing 2,3,1"), "{}", d.detail);
    }

    #[test]
    fn next_birthday_picks_the_nearest() {
        let method = SelectionMethod::NextBirthday {
            birth_date: "dob".into(),
        };
        let d = draw(&method, &people(), 1, date(2026, 3, 1)).expect("candidates");
        assert_eq!(d.key, 2); // 10 March is nearest after 1 March
        let d = draw(&method, &people(), 1, date(2026, 3, 11)).expect("candidates");
        assert_eq!(d.key, 1); // then 1 July
    }

    #[test]
    fn kish_table_shares_sum_to_twelfths() {
        let total: u32 = KISH_TABLES.iter().map(|t| t.1).sum();
        assert_eq!(total, 24);
    }
}
