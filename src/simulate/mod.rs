//! Synthetic populations and samples for the demo, the tests and the
//! coverage study.
//!
//! A [`Country`] of areas, households and persons carries true states; a
//! stratified two-stage [`sample`] is drawn from it; every responding
//! household is interviewed by driving the real engine through the real
//! questionnaire, the synthetic respondent answering each question from the
//! true states ([`respondent::answer`]), and the interviews are written to a
//! real store, to be exported as any fieldwork would be. Everything is
//! seeded (ChaCha8), so a seed gives the same country, sample, answers and
//! case ids.

pub mod country;
pub mod demo;
pub mod respondent;
pub mod sample;
pub mod study;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::frame::{Column, Frame};
use crate::instrument::Instrument;
use crate::interview::script::{self, RunEnd, RunError, Script};
use crate::interview::{Interview, Saved, Update};
use crate::store::import::FinishedCase;
use crate::store::session::{case_seed, changes, stamp, to_store_outcome};
use crate::store::{CaseId, Change, EventTime, NewCase, Outcome, Store, StoreError};

pub use country::{Country, CountrySize};
pub use sample::{SampleSize, Sampled};

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub seed: u64,
    pub country: CountrySize,
    pub sample: SampleSize,
    /// First day of fieldwork; interviews spread over the next 30 days.
    pub fieldwork: Date,
    /// Threads that drive interviews (the engine is single-threaded per
    /// interview; interviews are independent).
    pub threads: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            seed: 20_261_126,
            country: CountrySize::default(),
            sample: SampleSize {
                areas_per_stratum: 4,
                households_per_area: 10,
            },
            fieldwork: jiff::civil::date(2026, 10, 5),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// What can go wrong.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SimulateError {
    #[error(transparent)]
    Answer(#[from] respondent::NoAnswer),
    #[error("household {household}: the engine refused `{path}`: {reason}")]
    Rejected {
        household: usize,
        path: String,
        reason: String,
    },
    #[error("household {household}: the interview did not complete: {problems}")]
    NotComplete { household: usize, problems: String },
    #[error("{0}")]
    Design(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the instrument is `{found}`; the simulation answers the bundled `victimization` questionnaire"
    )]
    WrongInstrument { found: String },
}

/// One household interviewed through the engine.
#[derive(Debug, Clone)]
pub struct Interviewed {
    pub case: CaseId,
    pub created: Timestamp,
    /// Every engine update as store changes, in order.
    pub changes: Vec<Change>,
    pub finished: EventTime,
    /// The disposition the instrument's outcome rules give.
    pub outcome: Outcome,
}

/// The simulated survey: the country, the sample, and the case of each
/// responding household (aligned with `sample`).
pub struct Survey {
    pub country: Country,
    pub sample: Vec<Sampled>,
    pub cases: Vec<Option<CaseId>>,
}

/// The case id of sampled household `k`: drawn from the seed, so reruns
/// give the same ids (and so the same selections, which are seeded by it).
fn case_id(seed: u64, k: usize) -> CaseId {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_ca5e);
    rng.set_stream(k as u64);
    let bytes: [u8; 16] = rng.random();
    let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
    id.to_string()
        .parse()
        .expect("a formatted uuid parses as a case id")
}

/// When household `k` is interviewed: a day of fieldwork and a time.
fn interview_start(settings: &Settings, sampled: &Sampled, k: usize) -> Timestamp {
    let day = settings
        .fieldwork
        .checked_add(((sampled.area * 7 + k) % 30) as i64 * 1.day())
        .unwrap_or(settings.fieldwork);
    let minutes = 9 * 60 + (k * 53 % 540) as i64;
    jiff::tz::TimeZone::UTC
        .to_timestamp(day.to_datetime(jiff::civil::Time::midnight()))
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .checked_add(minutes.minutes())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Interviews one household through the engine. `today` and the seed are
/// those the store will give the case back (its creation date and id), so
/// the export rebuilds exactly this interview.
pub fn interview_household(
    instrument: &Instrument,
    country: &Country,
    household: usize,
    case: CaseId,
    created: Timestamp,
) -> Result<Interviewed, SimulateError> {
    let today = jiff::tz::TimeZone::system().to_datetime(created).date();
    let mut engine = Interview::new(instrument, today, case_seed(&case), Saved::default());
    let who = respondent::Household { country, household };
    let mut script = Script::default();
    let mut out = Vec::new();
    let mut step: i64 = 0;
    let clock = |step: &mut i64| {
        *step += 1;
        EventTime {
            utc: created
                .checked_add((*step * 12).seconds())
                .unwrap_or(created),
            monotonic_ns: 1_000_000_000 * (*step as u64),
        }
    };
    loop {
        let mut commit = |_: &Interview, update: &Update| -> Result<(), std::convert::Infallible> {
            out.extend(changes(update, "sim", clock(&mut step)));
            Ok(())
        };
        let end = script::drive(&mut engine, &script, &mut commit, &mut |_, _| {});
        match end {
            Ok(RunEnd::Completed) => break,
            Ok(RunEnd::NeedsAnswer(path)) => {
                let answer = respondent::answer(&who, &engine, &path)?;
                if script.answers.insert(path.clone(), answer).is_some() {
                    return Err(SimulateError::Rejected {
                        household,
                        path: path.to_string(),
                        reason: "asked again after an answer was given".into(),
                    });
                }
            }
            Ok(RunEnd::NotComplete(problems)) => {
                return Err(SimulateError::NotComplete {
                    household,
                    problems: problems.join("; "),
                });
            }
            Err(RunError::Rejected { path, reason }) => {
                return Err(SimulateError::Rejected {
                    household,
                    path: path.to_string(),
                    reason,
                });
            }
            Err(RunError::Commit(never)) => match never {},
        }
    }
    let finished = clock(&mut step);
    Ok(Interviewed {
        case,
        created,
        changes: out,
        finished,
        outcome: to_store_outcome(engine.outcome()),
    })
}

/// Generates the country, draws the sample and interviews every responding
/// household through the engine into `store`. `progress(done, total)`
/// follows the interviews.
pub fn run(
    settings: &Settings,
    instrument: &Instrument,
    store: &mut Store,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Survey, SimulateError> {
    if instrument.id != "victimization" {
        return Err(SimulateError::WrongInstrument {
            found: instrument.id.clone(),
        });
    }
    let country = Country::generate(settings.country, settings.seed);
    sample::check(&country, settings.sample).map_err(SimulateError::Design)?;
    let sample = sample::draw(&country, settings.sample, settings.seed.wrapping_add(1));
    let jobs: Vec<(usize, CaseId, Timestamp)> = sample
        .iter()
        .enumerate()
        .filter(|(_, s)| s.responded)
        .map(|(k, s)| {
            (
                k,
                case_id(settings.seed, k),
                interview_start(settings, s, k),
            )
        })
        .collect();
    let threads = settings.threads.clamp(1, 16);
    let total = jobs.len();
    let mut cases = vec![None; sample.len()];
    // Workers take the next household as they finish one and send the
    // interview here; this thread writes them to the store in sample order
    // (so the file does not depend on thread timing), a batch per
    // transaction, while the workers go on.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let batch = 128;
    std::thread::scope(|scope| -> Result<(), SimulateError> {
        let (send, receive) = std::sync::mpsc::channel();
        for _ in 0..threads {
            let send = send.clone();
            let (country, sample, jobs, next, stop) = (&country, &sample, &jobs, &next, &stop);
            scope.spawn(move || {
                loop {
                    let j = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if j >= jobs.len() || stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let (k, case, created) = jobs[j];
                    let result = interview_household(
                        instrument,
                        country,
                        sample[k].household,
                        case,
                        created,
                    );
                    if send.send((j, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(send);
        let mut waiting: BTreeMap<usize, Interviewed> = BTreeMap::new();
        let mut written = 0;
        for (j, result) in receive {
            let done = match result {
                Ok(done) => done,
                Err(e) => {
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    return Err(e);
                }
            };
            waiting.insert(j, done);
            let ready = (written..).take_while(|j| waiting.contains_key(j)).count();
            if ready >= batch || written + ready == total {
                let finished: Vec<Interviewed> = (written..written + ready)
                    .filter_map(|j| waiting.remove(&j))
                    .collect();
                for (i, done) in finished.iter().enumerate() {
                    cases[jobs[written + i].0] = Some(done.case);
                }
                write_cases(store, instrument, &finished)?;
                written += ready;
                progress(written, total);
            }
        }
        Ok(())
    })?;
    Ok(Survey {
        country,
        sample,
        cases,
    })
}

/// Stores finished interviews in one transaction (one sync to disk for
/// the batch, not three per case).
fn write_cases(
    store: &mut Store,
    instrument: &Instrument,
    done: &[Interviewed],
) -> Result<(), StoreError> {
    let s = stamp(instrument);
    let new: Vec<NewCase> = done
        .iter()
        .map(|d| NewCase {
            instrument_id: s.id.clone(),
            instrument_version: s.version.clone(),
            instrument_hash: s.hash.clone(),
            enumerator: "sim".into(),
            created_utc: d.created,
        })
        .collect();
    let cases: Vec<FinishedCase> = done
        .iter()
        .zip(&new)
        .map(|(d, new)| FinishedCase {
            id: d.case,
            new,
            changes: &d.changes,
            outcome: d.outcome.clone(),
            finished: d.finished,
        })
        .collect();
    store.import_finished(&cases)
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> SimulateError + '_ {
    move |source| SimulateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn csv_error(path: &Path) -> impl Fn(csv::Error) -> SimulateError + '_ {
    move |e| SimulateError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    }
}

/// The sample control file: one row per sampled household, with the design
/// variables the fieldwork manager has (stratum, area, selection
/// probabilities, region, urban/rural), whether the household responded
/// and its case id.
pub fn write_sample(path: &Path, survey: &Survey) -> Result<(), SimulateError> {
    let mut w = csv::Writer::from_path(path).map_err(csv_error(path))?;
    w.write_record([
        "case_id",
        "stratum",
        "area",
        "region",
        "urban",
        "p_ea",
        "p_hh",
        "responded",
    ])
    .map_err(csv_error(path))?;
    for (s, case) in survey.sample.iter().zip(&survey.cases) {
        let a = &survey.country.areas[s.area];
        w.write_record([
            case.map(|c| c.to_string()).unwrap_or_default(),
            s.stratum.clone(),
            (s.area + 1).to_string(),
            a.region.to_string(),
            if a.urban { "1" } else { "2" }.to_string(),
            format!("{:?}", s.p_area),
            format!("{:?}", s.p_household),
            if s.responded { "1" } else { "0" }.to_string(),
        ])
        .map_err(csv_error(path))?;
    }
    w.flush().map_err(io_error(path))
}

/// Census tables of adults: by sex (`sdg_sex`), by age group
/// (`sdg_age_group`) and by stratum (region × urban/rural), the margins the
/// demo plan calibrates to.
pub fn census(country: &Country) -> Vec<(&'static str, BTreeMap<String, u64>)> {
    let mut sex = BTreeMap::new();
    let mut age = BTreeMap::new();
    let mut stratum = BTreeMap::new();
    for p in country.adults() {
        *sex.entry(if p.female { "2" } else { "1" }.to_string())
            .or_insert(0) += 1;
        *age.entry(p.age_group().to_string()).or_insert(0) += 1;
        let a = &country.areas[country.households[p.household].area];
        *stratum.entry(a.stratum()).or_insert(0) += 1;
    }
    vec![
        ("sdg_sex", sex),
        ("sdg_age_group", age),
        ("stratum", stratum),
    ]
}

/// Writes [`census`] as one CSV per margin (`<variable>.csv`, columns
/// `<variable>,total`) into `dir`.
pub fn write_census(dir: &Path, country: &Country) -> Result<(), SimulateError> {
    for (name, table) in census(country) {
        let path = dir.join(format!("{name}.csv"));
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).map_err(io_error(&path))?);
        let mut text = format!("{name},total\n");
        for (k, v) in &table {
            text.push_str(&format!("{k},{v}\n"));
        }
        f.write_all(text.as_bytes()).map_err(io_error(&path))?;
        f.flush().map_err(io_error(&path))?;
    }
    Ok(())
}

/// The whole adult population as a frame of the instrument's `sdg_*`
/// variables, so that the true value of any estimate of the SDG spec is
/// that estimate computed on it. Adults with the same values are one row
/// whose `weight` counts them (the estimates are ratios of weighted sums,
/// so this changes nothing but the time).
pub fn population_frame(country: &Country) -> Frame {
    let skip = respondent::RECORD_NAMES
        .iter()
        .position(|n| *n == "sdg_n_eligible")
        .expect("a listed variable");
    let mut groups: BTreeMap<Vec<u64>, f64> = BTreeMap::new();
    for p in country.adults() {
        let key = respondent::record(country, p)
            .into_iter()
            .enumerate()
            .filter(|(k, _)| *k != skip)
            .map(|(_, (_, v))| v.unwrap_or(f64::NAN).to_bits())
            .collect();
        *groups.entry(key).or_insert(0.0) += 1.0;
    }
    let names: Vec<&str> = respondent::RECORD_NAMES
        .iter()
        .enumerate()
        .filter(|(k, _)| *k != skip)
        .map(|(_, n)| *n)
        .collect();
    let mut cols: Vec<Vec<f64>> = vec![Vec::with_capacity(groups.len()); names.len()];
    let mut weight = Vec::with_capacity(groups.len());
    for (key, count) in groups {
        for (c, bits) in cols.iter_mut().zip(key) {
            c.push(f64::from_bits(bits));
        }
        weight.push(count);
    }
    let mut columns: Vec<(String, Column)> = names
        .iter()
        .zip(cols)
        .map(|(n, c)| (n.to_string(), Column::Number(c)))
        .collect();
    columns.push(("weight".into(), Column::Number(weight)));
    Frame::from_columns(columns)
}

#[cfg(test)]
mod tests;
