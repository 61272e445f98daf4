//! The monitoring figures: the summary rows written, and the GROUP BY
//! queries over them that the pages show. Every rule is in
//! `docs/monitoring.md`; the thresholds are the constants below.

use std::collections::{BTreeMap, HashMap};

use tokio_postgres::GenericClient;
use tokio_postgres::types::ToSql;

use super::stats::{self, Dispositions};
use super::summary::CaseSummary;
use crate::design::{Design, DesignSpec, LonelyPsu};
use crate::estimate::{self, CiMethod, Statistic, Workspace};
use crate::frame::{Column, Frame};
use crate::server::api::User;
use crate::server::auth::Role;

/// An interview shorter than this share of its enumerator's median (or of
/// the survey's) is short.
pub const SHORT_SHARE: f64 = 0.5;
/// An interview with at least this many answers faster than reading...
pub const FAST_MIN: i32 = 5;
/// ...that are also this share of its questions or more is a speeder.
pub const FAST_SHARE: f64 = 0.25;
/// This many changed or cleared answers or more: many changes.
pub const CHANGED_MIN: i32 = 10;
/// Flagged interviews listed on the quality page (the count is of all).
pub const FLAGGED_SHOWN: i64 = 200;

/// Whose cases a viewer sees.
pub struct Scope {
    everyone: bool,
    supervisor: String,
}

impl Scope {
    pub fn of(user: &User) -> Scope {
        Scope {
            everyone: user.role == Role::Headquarters,
            supervisor: user.name.clone(),
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 2] {
        [&self.everyone, &self.supervisor]
    }
}

/// Writes the summary rows, replacing any of the same case.
pub async fn upsert(
    tx: &tokio_postgres::Transaction<'_>,
    rows: &[CaseSummary],
) -> Result<(), tokio_postgres::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let col = |f: &dyn Fn(&CaseSummary) -> Option<String>| -> Vec<Option<String>> {
        rows.iter().map(f).collect()
    };
    let uuid = col(&|r| Some(r.uuid.clone()));
    let region = col(&|r| r.region_answer.clone());
    let status = col(&|r| Some(r.status.clone()));
    let disposition = col(&|r| Some(r.disposition.clone()));
    let start = col(&|r| r.start_utc.clone());
    let end = col(&|r| r.end_utc.clone());
    let duration: Vec<Option<f64>> = rows.iter().map(|r| r.duration_s).collect();
    let int = |f: &dyn Fn(&CaseSummary) -> i32| -> Vec<i32> { rows.iter().map(f).collect() };
    let questions = int(&|r| r.questions);
    let fast = int(&|r| r.fast_answers);
    let changed = int(&|r| r.changed_answers);
    let grids = int(&|r| r.grids);
    let straight = int(&|r| r.straight_grids);
    let jumps = int(&|r| r.clock_jumps);
    let sensitive: Vec<bool> = rows.iter().map(|r| r.sensitive_done).collect();
    let self_completed: Vec<Option<bool>> = rows.iter().map(|r| r.self_completed).collect();
    let small = |f: &dyn Fn(&CaseSummary) -> Option<i16>| -> Vec<Option<i16>> {
        rows.iter().map(f).collect()
    };
    let incident = small(&|r| r.any_incident);
    let safe = small(&|r| r.safe_dark);
    let physical = small(&|r| r.physical);
    let contact = small(&|r| r.contact);
    let bribe = small(&|r| r.bribe);
    let eligible: Vec<Option<i32>> = rows.iter().map(|r| r.eligible).collect();
    tx.execute(
        "INSERT INTO monitor_cases (case_uuid, enumerator, region, area, design_weight,
             status, disposition, start_utc, end_utc, duration_s, questions, fast_answers,
             changed_answers, grids, straight_grids, clock_jumps, sensitive_done,
             self_completed, any_incident, safe_dark, physical, contact, bribe, eligible)
         SELECT u.uuid, c.owner, coalesce(a.region, u.region), coalesce(a.area, '(not in the sample)'),
             a.design_weight, u.status, u.disposition, u.start_utc::timestamptz,
             u.end_utc::timestamptz, u.duration, u.questions, u.fast, u.changed, u.grids,
             u.straight, u.jumps, u.sensitive, u.self_completed, u.incident, u.safe,
             u.physical, u.contact, u.bribe, u.eligible
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::float8[], $8::int4[], $9::int4[], $10::int4[], $11::int4[],
                     $12::int4[], $13::int4[], $14::bool[], $15::bool[], $16::int2[],
                     $17::int2[], $18::int2[], $19::int2[], $20::int2[], $21::int4[])
              AS u(uuid, region, status, disposition, start_utc, end_utc, duration,
                   questions, fast, changed, grids, straight, jumps, sensitive,
                   self_completed, incident, safe, physical, contact, bribe, eligible)
         JOIN cases c ON c.uuid = u.uuid
         LEFT JOIN assignments a ON a.case_uuid = u.uuid
         ON CONFLICT (case_uuid) DO UPDATE SET
             enumerator = excluded.enumerator, region = excluded.region,
             area = excluded.area, design_weight = excluded.design_weight,
             status = excluded.status, disposition = excluded.disposition,
             start_utc = excluded.start_utc, end_utc = excluded.end_utc,
             duration_s = excluded.duration_s, questions = excluded.questions,
             fast_answers = excluded.fast_answers, changed_answers = excluded.changed_answers,
             grids = excluded.grids, straight_grids = excluded.straight_grids,
             clock_jumps = excluded.clock_jumps, sensitive_done = excluded.sensitive_done,
             self_completed = excluded.self_completed, any_incident = excluded.any_incident,
             safe_dark = excluded.safe_dark, physical = excluded.physical,
             contact = excluded.contact, bribe = excluded.bribe, eligible = excluded.eligible",
        &[
            &uuid,
            &region,
            &status,
            &disposition,
            &start,
            &end,
            &duration,
            &questions,
            &fast,
            &changed,
            &grids,
            &straight,
            &jumps,
            &sensitive,
            &self_completed,
            &incident,
            &safe,
            &physical,
            &contact,
            &bribe,
            &eligible,
        ],
    )
    .await
    .map(drop)
}

/// Which grouping a progress row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Total,
    Region,
    Area,
    Enumerator,
}

#[derive(Debug, Clone)]
pub struct ProgressRow {
    pub level: Level,
    pub key: String,
    pub assigned: i64,
    pub started: i64,
    pub dispositions: Dispositions,
}

/// The area of a pushed case that is not in the sample.
pub const NOT_IN_SAMPLE: &str = "(not in the sample)";

/// The grouping of a row of a GROUPING SETS query over (enumerator,
/// region, area), from its three `grouping()` columns and keys.
fn grouping_key(r: &tokio_postgres::Row) -> (Level, String) {
    let g = |i: usize| r.get::<_, i32>(i) == 0;
    let (level, key) = if g(0) {
        (Level::Enumerator, r.get::<_, Option<String>>(3))
    } else if g(1) {
        (Level::Region, r.get(4))
    } else if g(2) {
        (Level::Area, r.get(5))
    } else {
        (Level::Total, Some("all".to_string()))
    };
    (level, key.unwrap_or_default())
}

/// Assigned, started and final dispositions by region, area, enumerator
/// and in all, over the sample and the cases pushed.
///
/// Two aggregations without a join (the sample, and the summaries, which
/// carry their sample row's region and area), run side by side; "not
/// started" is the sample's count less its cases pushed. A full join of
/// the two took 120 ms at 100,000 cases, these about half.
pub async fn progress(
    sample_client: &impl GenericClient,
    cases_client: &impl GenericClient,
    scope: &Scope,
) -> Result<Vec<ProgressRow>, tokio_postgres::Error> {
    let params = scope.params();
    let cases_sql = format!(
        "SELECT grouping(m.enumerator)::int4, grouping(coalesce(region, '?'))::int4, grouping(area)::int4,
                m.enumerator, coalesce(region, '?') AS region, area,
                count(*) FILTER (WHERE area <> '{NOT_IN_SAMPLE}'),
                count(*),
                count(*) FILTER (WHERE disposition = 'complete'),
                count(*) FILTER (WHERE disposition IN ('partial', 'in_progress')),
                count(*) FILTER (WHERE disposition = 'refused'),
                count(*) FILTER (WHERE disposition = 'non_contact'),
                count(*) FILTER (WHERE disposition = 'other'),
                count(*) FILTER (WHERE disposition = 'ineligible')
         FROM monitor_cases m JOIN users u ON u.name = m.enumerator
         WHERE $1 OR u.supervisor = $2
         GROUP BY GROUPING SETS ((m.enumerator), (coalesce(region, '?')), (area), ())"
    );
    let sample = sample_client.query(
        "SELECT grouping(a.enumerator)::int4, grouping(coalesce(region, '?'))::int4, grouping(area)::int4,
                a.enumerator, coalesce(region, '?') AS region, area, count(*)
         FROM assignments a JOIN users u ON u.name = a.enumerator
         WHERE $1 OR u.supervisor = $2
         GROUP BY GROUPING SETS ((a.enumerator), (coalesce(region, '?')), (area), ())",
        &params,
    );
    let cases = cases_client.query(&cases_sql, &params);
    let (sample, cases) = tokio::try_join!(sample, cases)?;
    let mut out: BTreeMap<(Level, String), ProgressRow> = BTreeMap::new();
    fn row<'a>(
        out: &'a mut BTreeMap<(Level, String), ProgressRow>,
        r: &tokio_postgres::Row,
    ) -> &'a mut ProgressRow {
        let (level, key) = grouping_key(r);
        out.entry((level, key.clone())).or_insert(ProgressRow {
            level,
            key,
            assigned: 0,
            started: 0,
            dispositions: Dispositions::default(),
        })
    }
    for r in &sample {
        let p = row(&mut out, r);
        p.assigned = r.get(6);
        p.dispositions.unknown += r.get::<_, i64>(6);
    }
    for r in &cases {
        let p = row(&mut out, r);
        p.started = r.get(7);
        let d = &mut p.dispositions;
        d.unknown -= r.get::<_, i64>(6);
        d.complete = r.get(8);
        d.partial = r.get(9);
        d.refused = r.get(10);
        d.non_contact = r.get(11);
        d.other = r.get(12);
        d.ineligible = r.get(13);
    }
    Ok(out.into_values().collect())
}

/// Per day (UTC) of the interview's last event: finished cases, and of
/// them complete.
pub async fn days(
    client: &impl GenericClient,
    scope: &Scope,
) -> Result<Vec<(String, i64, i64)>, tokio_postgres::Error> {
    Ok(client
        .query(
            "SELECT to_char((m.end_utc AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD'),
                    count(*), count(*) FILTER (WHERE m.disposition = 'complete')
             FROM monitor_cases m JOIN users u ON u.name = m.enumerator
             WHERE ($1 OR u.supervisor = $2) AND m.end_utc IS NOT NULL
               AND m.disposition <> 'in_progress'
             GROUP BY 1 ORDER BY 1",
            &scope.params(),
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// The cases of the scope with the medians the flags compare to; shared
/// by the per-enumerator counts and the list of flagged interviews.
fn flags_cte() -> String {
    format!(
        "WITH m AS (
             SELECT m.case_uuid, m.enumerator, m.area, m.disposition, m.end_utc, m.duration_s,
                    m.questions, m.fast_answers, m.changed_answers, m.grids, m.straight_grids,
                    m.clock_jumps, m.sensitive_done, m.self_completed, m.any_incident,
                    coalesce(u.supervisor, '') AS team
             FROM monitor_cases m JOIN users u ON u.name = m.enumerator
             WHERE $1 OR u.supervisor = $2),
         overall AS (
             SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_s) AS md
             FROM m WHERE disposition = 'complete'),
         med AS (
             SELECT enumerator,
                    percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_s) AS md,
                    percentile_cont(0.25) WITHIN GROUP (ORDER BY duration_s) AS q1,
                    percentile_cont(0.75) WITHIN GROUP (ORDER BY duration_s) AS q3
             FROM m WHERE disposition = 'complete' GROUP BY enumerator),
         f AS (
             SELECT m.*, med.md AS enumerator_md, med.q1, med.q3, overall.md AS survey_md,
                    (m.disposition = 'complete' AND (m.duration_s < {SHORT_SHARE} * med.md
                        OR m.duration_s < {SHORT_SHARE} * overall.md)) AS short,
                    (m.fast_answers >= {FAST_MIN}
                        AND m.fast_answers >= {FAST_SHARE} * m.questions) AS fast,
                    (m.changed_answers >= {CHANGED_MIN}) AS changed,
                    (m.disposition = 'complete' AND m.straight_grids > 0) AS straight,
                    (m.clock_jumps > 0) AS jump,
                    (m.sensitive_done AND m.self_completed = false) AS not_self
             FROM m LEFT JOIN med ON med.enumerator = m.enumerator CROSS JOIN overall)"
    )
}

/// One enumerator's cases and flags.
#[derive(Debug, Clone, Default)]
pub struct EnumeratorRow {
    pub enumerator: String,
    /// The supervisor, empty for none: the team the enumerator is compared to.
    pub team: String,
    pub started: i64,
    pub complete: i64,
    pub refused: i64,
    /// Complete interviews with a screener answered, and of them with no incident.
    pub incident_known: i64,
    pub no_incident: i64,
    pub median_s: Option<f64>,
    pub q1_s: Option<f64>,
    pub q3_s: Option<f64>,
    pub survey_median_s: Option<f64>,
    pub short: i64,
    pub fast: i64,
    pub changed: i64,
    pub straight: i64,
    pub jumps: i64,
    pub sensitive: i64,
    pub not_self: i64,
    /// Complete interviews with a grid answered (the straight-lining base).
    pub with_grids: i64,
}

pub async fn enumerators(
    client: &impl GenericClient,
    scope: &Scope,
) -> Result<Vec<EnumeratorRow>, tokio_postgres::Error> {
    let sql = format!(
        "{} SELECT enumerator, max(team), count(*),
                count(*) FILTER (WHERE disposition = 'complete'),
                count(*) FILTER (WHERE disposition = 'refused'),
                count(*) FILTER (WHERE disposition = 'complete' AND any_incident IS NOT NULL),
                count(*) FILTER (WHERE disposition = 'complete' AND any_incident = 0),
                max(enumerator_md), max(q1), max(q3), max(survey_md),
                count(*) FILTER (WHERE short), count(*) FILTER (WHERE fast),
                count(*) FILTER (WHERE changed), count(*) FILTER (WHERE straight),
                count(*) FILTER (WHERE jump), count(*) FILTER (WHERE sensitive_done),
                count(*) FILTER (WHERE not_self),
                count(*) FILTER (WHERE disposition = 'complete' AND grids > 0)
            FROM f GROUP BY enumerator ORDER BY enumerator",
        flags_cte()
    );
    Ok(client
        .query(&sql, &scope.params())
        .await?
        .iter()
        .map(|r| EnumeratorRow {
            enumerator: r.get(0),
            team: r.get(1),
            started: r.get(2),
            complete: r.get(3),
            refused: r.get(4),
            incident_known: r.get(5),
            no_incident: r.get(6),
            median_s: r.get(7),
            q1_s: r.get(8),
            q3_s: r.get(9),
            survey_median_s: r.get(10),
            short: r.get(11),
            fast: r.get(12),
            changed: r.get(13),
            straight: r.get(14),
            jumps: r.get(15),
            sensitive: r.get(16),
            not_self: r.get(17),
            with_grids: r.get(18),
        })
        .collect())
}

/// A flagged interview, by case id (never the household).
#[derive(Debug, Clone)]
pub struct FlaggedCase {
    pub case: String,
    pub enumerator: String,
    pub area: String,
    pub end_utc: Option<String>,
    pub duration_s: Option<f64>,
    pub reasons: Vec<&'static str>,
}

/// The most recent flagged interviews (at most [`FLAGGED_SHOWN`]) and how
/// many there are in all.
pub async fn flagged(
    client: &impl GenericClient,
    scope: &Scope,
) -> Result<(Vec<FlaggedCase>, i64), tokio_postgres::Error> {
    let sql = format!(
        "{} SELECT case_uuid, enumerator, area,
                to_char(end_utc AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), duration_s,
                coalesce(short, false), fast, changed, straight, jump, coalesce(not_self, false),
                count(*) OVER ()
            FROM f WHERE short OR fast OR changed OR jump OR not_self
            ORDER BY end_utc DESC NULLS LAST, case_uuid LIMIT {FLAGGED_SHOWN}",
        flags_cte()
    );
    let rows = client.query(&sql, &scope.params()).await?;
    let total = rows.first().map_or(0, |r| r.get(11));
    let names = [
        "short",
        "fast answers",
        "many changes",
        "straight-lined grid",
        "clock jump",
        "sensitive sections read aloud",
    ];
    Ok((
        rows.iter()
            .map(|r| FlaggedCase {
                case: r.get(0),
                enumerator: r.get(1),
                area: r.get(2),
                end_utc: r.get(3),
                duration_s: r.get(4),
                reasons: (0..6)
                    .filter(|i| r.get::<_, bool>(5 + i))
                    .map(|i| names[i])
                    .collect(),
            })
            .collect(),
        total,
    ))
}

/// An enumerator's rate against the rest of its team.
#[derive(Debug, Clone)]
pub struct Outlier {
    pub enumerator: String,
    pub team: String,
    /// "no incident", "refusal" or "straight-lining".
    pub rate: &'static str,
    pub own: (i64, i64),
    pub rest: (i64, i64),
    pub z: f64,
    pub flagged: bool,
}

/// Each enumerator's "no incident" share of complete interviews and
/// refusal share of started cases, tested against the rest of its team.
pub fn outliers(rows: &[EnumeratorRow]) -> Vec<Outlier> {
    let mut teams: HashMap<&str, [i64; 6]> = HashMap::new();
    for r in rows {
        let t = teams.entry(r.team.as_str()).or_default();
        t[0] += r.no_incident;
        t[1] += r.incident_known;
        t[2] += r.refused;
        t[3] += r.started;
        t[4] += r.straight;
        t[5] += r.with_grids;
    }
    let mut out = Vec::new();
    for r in rows {
        let t = teams[r.team.as_str()];
        for (rate, x, n, tx, tn) in [
            ("no incident", r.no_incident, r.incident_known, t[0], t[1]),
            ("refusal", r.refused, r.started, t[2], t[3]),
            ("straight-lining", r.straight, r.with_grids, t[4], t[5]),
        ] {
            let (rx, rn) = (tx - x, tn - n);
            if let Some(z) = stats::two_proportion_z(x, n, rx, rn) {
                out.push(Outlier {
                    enumerator: r.enumerator.clone(),
                    team: r.team.clone(),
                    rate,
                    own: (x, n),
                    rest: (rx, rn),
                    z,
                    // Only higher than the team is suspect: fewer incidents reported
                    // (screeners skipped) or more refusals (poor contact work).
                    flagged: z >= stats::OUTLIER_Z,
                });
            }
        }
    }
    out
}

/// A provisional indicator estimate.
#[derive(Debug, Clone)]
pub struct Indicator {
    pub code: &'static str,
    pub label: &'static str,
    /// Respondents with a value in the indicator's population.
    pub n: i64,
    pub estimate: Option<f64>,
    pub ci: Option<(f64, f64)>,
    pub se: Option<f64>,
}

/// The indicators shown: (code, label, column of the 0/1 variable, the
/// condition of its population).
const INDICATORS: [(&str, &str, &str, &str); 3] = [
    (
        "16.1.4",
        "Feel safe walking alone after dark",
        "safe_dark",
        "true",
    ),
    (
        "16.1.3 (a)",
        "Physical violence, previous 12 months",
        "physical",
        "true",
    ),
    (
        "16.5.1",
        "Bribery, of those in contact with officials",
        "bribe",
        "contact = 1",
    ),
];

/// The provisional estimates: ratio estimators Σwy/Σw over the complete
/// interviews with a value, with design weights (household weight times
/// eligible members), linearised variance with regions as strata and areas
/// as PSUs. The PSU totals are summed in PostgreSQL; the ratio and its
/// variance from PSU totals are the unit-level ones (the influence values
/// of a ratio add up within a PSU), so `estimate::estimate` runs on one row
/// per area.
pub async fn estimates(
    client: &impl GenericClient,
    scope: &Scope,
) -> Result<Vec<Indicator>, tokio_postgres::Error> {
    let sums: Vec<String> = INDICATORS
        .iter()
        .map(|(_, _, v, domain)| {
            format!(
                "coalesce(sum(w) FILTER (WHERE {v} IS NOT NULL AND {domain}), 0),
                 coalesce(sum(w * {v}) FILTER (WHERE {v} IS NOT NULL AND {domain}), 0),
                 count(*) FILTER (WHERE {v} IS NOT NULL AND {domain})"
            )
        })
        .collect();
    let sql = format!(
        "SELECT coalesce(region, '?'), area, {}
         FROM (SELECT m.*, m.design_weight * coalesce(m.eligible, 1) AS w
               FROM monitor_cases m JOIN users u ON u.name = m.enumerator
               WHERE ($1 OR u.supervisor = $2) AND m.disposition = 'complete'
                 AND m.design_weight IS NOT NULL) m
         GROUP BY 1, 2 ORDER BY 1, 2",
        sums.join(", ")
    );
    let rows = client.query(&sql, &scope.params()).await?;
    let mut regions: BTreeMap<String, f64> = BTreeMap::new();
    let mut region_col = Vec::new();
    let mut area_col = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let next = regions.len() as f64;
        region_col.push(*regions.entry(r.get::<_, String>(0)).or_insert(next));
        area_col.push(i as f64);
    }
    let frame = Frame::from_columns(vec![
        ("region".into(), Column::Number(region_col)),
        ("area".into(), Column::Number(area_col)),
        ("one".into(), Column::Number(vec![1.0; rows.len()])),
    ]);
    let spec = DesignSpec {
        weight: Some("one".into()),
        strata: Some("region".into()),
        clusters: vec!["area".into()],
        nest: true,
        // A region with one area so far early in fieldwork.
        lonely_psu: LonelyPsu::Adjust,
        ..DesignSpec::default()
    };
    let design = Design::build(&spec, &frame).ok();
    let all: Vec<u32> = (0..rows.len() as u32).collect();
    let mut ws = Workspace::default();
    Ok(INDICATORS
        .iter()
        .enumerate()
        .map(|(k, (code, label, _, _))| {
            let x: Vec<f64> = rows.iter().map(|r| r.get(2 + 3 * k)).collect();
            let y: Vec<f64> = rows.iter().map(|r| r.get(3 + 3 * k)).collect();
            let n: i64 = rows.iter().map(|r| r.get::<_, i64>(4 + 3 * k)).sum();
            let e = design.as_ref().and_then(|d| {
                estimate::estimate(d, Statistic::Ratio, &y, Some(&x), &all, &mut ws).ok()
            });
            Indicator {
                code,
                label,
                n,
                estimate: e.as_ref().and_then(|e| e.estimate),
                ci: e.as_ref().and_then(|e| e.ci(0.95, CiMethod::Logit)),
                se: e.as_ref().and_then(|e| e.se()),
            }
        })
        .collect())
}
