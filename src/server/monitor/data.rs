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

/// The flags of an interview that do not depend on the medians, as SQL
/// over a `monitor_cases` row: (name in the cells, condition).
fn fixed_flags() -> [(&'static str, String); 5] {
    [
        (
            "fast",
            format!("(fast_answers >= {FAST_MIN} AND fast_answers >= {FAST_SHARE} * questions)"),
        ),
        ("changed", format!("(changed_answers >= {CHANGED_MIN})")),
        (
            "straight",
            "(disposition = 'complete' AND straight_grids > 0)".into(),
        ),
        ("jumps", "(clock_jumps > 0)".into()),
        (
            "not_self",
            "coalesce(sensitive_done AND self_completed = false, false)".into(),
        ),
    ]
}

/// Flagged on its own, without the duration: every fixed flag but the
/// straight-lined grid, which is tested per enumerator instead.
fn flagged_sql() -> String {
    fixed_flags()
        .iter()
        .filter(|(name, _)| *name != "straight")
        .map(|(_, sql)| sql.as_str())
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// Recomputes the monitoring cells of these enumerators from their sample
/// rows and case summaries. Called in every transaction that changes
/// either, after the change: the advisory lock (one per enumerator, taken
/// in one order) makes the last writer see every earlier commit, so the
/// cells always equal a fresh aggregation.
pub async fn refresh_cells(
    client: &impl GenericClient,
    enumerators: &[String],
) -> Result<(), tokio_postgres::Error> {
    if enumerators.is_empty() {
        return Ok(());
    }
    client
        .execute(
            "SELECT pg_advisory_xact_lock(7669638, k)
             FROM (SELECT DISTINCT hashtext(e) AS k FROM unnest($1::text[]) e ORDER BY 1) s",
            &[&enumerators],
        )
        .await?;
    client
        .execute(
            "DELETE FROM monitor_cells WHERE enumerator = ANY($1)",
            &[&enumerators],
        )
        .await?;
    client
        .execute(
            "INSERT INTO monitor_cells (enumerator, region, area, assigned)
             SELECT enumerator, coalesce(region, '?'), area, count(*)
             FROM assignments WHERE enumerator = ANY($1) GROUP BY 1, 2, 3",
            &[&enumerators],
        )
        .await?;
    let flags = fixed_flags();
    let names: Vec<&str> = flags.iter().map(|(n, _)| *n).collect();
    let counts: Vec<String> = flags
        .iter()
        .map(|(_, sql)| format!("count(*) FILTER (WHERE {sql})"))
        .collect();
    let indicators: Vec<String> = INDICATORS
        .iter()
        .map(|i| {
            let (v, domain) = (i.column, i.domain);
            let with = format!("weighted AND {v} IS NOT NULL AND {domain}");
            format!(
                "coalesce(sum(w) FILTER (WHERE {with}), 0),
                 coalesce(sum(w * {v}) FILTER (WHERE {with}), 0),
                 count(*) FILTER (WHERE {with})"
            )
        })
        .collect();
    let indicator_columns: Vec<String> = INDICATORS
        .iter()
        .map(|i| format!("{0}_w, {0}_wy, {0}_n", i.cells))
        .collect();
    let sql = format!(
        "INSERT INTO monitor_cells (enumerator, region, area, day, started, in_sample, complete,
             partial, refused, non_contact, other, ineligible, incident_known, no_incident,
             with_grids, {}, flagged, weighted, {})
         SELECT enumerator, coalesce(region, '?'), area,
                CASE WHEN end_utc IS NOT NULL AND disposition <> 'in_progress'
                     THEN (end_utc AT TIME ZONE 'UTC')::date END,
                count(*),
                count(*) FILTER (WHERE area <> '{NOT_IN_SAMPLE}'),
                count(*) FILTER (WHERE disposition = 'complete'),
                count(*) FILTER (WHERE disposition IN ('partial', 'in_progress')),
                count(*) FILTER (WHERE disposition = 'refused'),
                count(*) FILTER (WHERE disposition = 'non_contact'),
                count(*) FILTER (WHERE disposition = 'other'),
                count(*) FILTER (WHERE disposition = 'ineligible'),
                count(*) FILTER (WHERE disposition = 'complete' AND any_incident IS NOT NULL),
                count(*) FILTER (WHERE disposition = 'complete' AND any_incident = 0),
                count(*) FILTER (WHERE disposition = 'complete' AND grids > 0),
                {}, count(*) FILTER (WHERE {}), count(*) FILTER (WHERE weighted), {}
         FROM (SELECT *, disposition = 'complete' AND design_weight IS NOT NULL AS weighted,
                      design_weight * coalesce(eligible, 1) AS w
               FROM monitor_cases WHERE enumerator = ANY($1)) m
         GROUP BY 1, 2, 3, 4",
        names.join(", "),
        indicator_columns.join(", "),
        counts.join(", "),
        flagged_sql(),
        indicators.join(", "),
    );
    client.execute(&sql, &[&enumerators]).await.map(drop)
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
    /// The region of an area row; empty for the other levels.
    pub region: String,
    pub assigned: i64,
    pub started: i64,
    pub dispositions: Dispositions,
}

/// The area of a pushed case that is not in the sample.
pub const NOT_IN_SAMPLE: &str = "(not in the sample)";

/// The cells a viewer sees, as a FROM clause with `$1`, `$2` of [`Scope`].
const SCOPED_CELLS: &str = "monitor_cells c JOIN users u ON u.name = c.enumerator
     WHERE ($1 OR u.supervisor = $2)";

/// Assigned, started and final dispositions by region, area, enumerator
/// and in all: one GROUPING SETS query over the cells. "Not started" is
/// the sample's count less its cases pushed.
pub async fn progress(
    client: &impl GenericClient,
    scope: &Scope,
) -> Result<Vec<ProgressRow>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT grouping(c.enumerator)::int4, grouping(c.region)::int4, grouping(c.area)::int4,
                c.enumerator, c.region, c.area,
                sum(assigned)::int8, sum(in_sample)::int8, sum(started)::int8,
                sum(complete)::int8, sum(partial)::int8, sum(refused)::int8,
                sum(non_contact)::int8, sum(other)::int8, sum(ineligible)::int8
         FROM {SCOPED_CELLS}
         GROUP BY GROUPING SETS ((c.enumerator), (c.region), (c.region, c.area), ())"
    );
    let rows = client.query(&sql, &scope.params()).await?;
    let mut out: Vec<ProgressRow> = rows
        .iter()
        .map(|r| {
            let g = |i: usize| r.get::<_, i32>(i) == 0;
            let (level, key, region) = if g(0) {
                (Level::Enumerator, r.get(3), String::new())
            } else if g(2) {
                (Level::Area, r.get(5), r.get(4))
            } else if g(1) {
                (Level::Region, r.get(4), String::new())
            } else {
                (Level::Total, "all".to_string(), String::new())
            };
            let n = |i: usize| r.get::<_, i64>(i);
            ProgressRow {
                level,
                key,
                region,
                assigned: n(6),
                started: n(8),
                dispositions: Dispositions {
                    complete: n(9),
                    partial: n(10),
                    refused: n(11),
                    non_contact: n(12),
                    other: n(13),
                    unknown: n(6) - n(7),
                    ineligible: n(14),
                },
            }
        })
        .collect();
    out.sort_by(|a, b| (a.level, &a.region, &a.key).cmp(&(b.level, &b.region, &b.key)));
    Ok(out)
}

/// Per day (UTC) of the interview's last event: finished cases, and of
/// them complete.
pub async fn days(
    client: &impl GenericClient,
    scope: &Scope,
) -> Result<Vec<(String, i64, i64)>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT to_char(day, 'YYYY-MM-DD'), sum(started)::int8, sum(complete)::int8
         FROM {SCOPED_CELLS} AND day IS NOT NULL
         GROUP BY day ORDER BY day"
    );
    Ok(client
        .query(&sql, &scope.params())
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
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
    /// Interviews flagged for anything but their duration, and short
    /// interviews with no other flag: together, the flagged interviews.
    pub flagged_otherwise: i64,
    pub short_only: i64,
}

/// Each enumerator with cases: the counts from the cells, the duration
/// quartiles and short interviews from the complete interviews' durations
/// (fetched as one array per enumerator, the quantiles taken in Rust).
pub async fn enumerators(
    cells_client: &impl GenericClient,
    durations_client: &impl GenericClient,
    scope: &Scope,
) -> Result<Vec<EnumeratorRow>, tokio_postgres::Error> {
    let counts_sql = format!(
        "SELECT c.enumerator, coalesce(max(u.supervisor), ''), sum(started)::int8,
                sum(complete)::int8, sum(refused)::int8, sum(incident_known)::int8,
                sum(no_incident)::int8, sum(fast)::int8, sum(changed)::int8,
                sum(straight)::int8, sum(jumps)::int8, sum(sensitive)::int8,
                sum(not_self)::int8, sum(with_grids)::int8, sum(flagged)::int8
         FROM {SCOPED_CELLS}
         GROUP BY c.enumerator HAVING sum(started) > 0 ORDER BY c.enumerator"
    );
    let durations_sql = format!(
        "SELECT m.enumerator, array_agg(m.duration_s), array_agg({})
         FROM monitor_cases m JOIN users u ON u.name = m.enumerator
         WHERE ($1 OR u.supervisor = $2) AND m.disposition = 'complete'
           AND m.duration_s IS NOT NULL
         GROUP BY m.enumerator",
        flagged_sql()
    );
    let params = scope.params();
    let (counts, durations) = tokio::try_join!(
        cells_client.query(&counts_sql, &params),
        durations_client.query(&durations_sql, &params)
    )?;
    let durations: HashMap<String, (Vec<f64>, Vec<bool>)> = durations
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    let mut all: Vec<f64> = durations.values().flat_map(|(d, _)| d.clone()).collect();
    all.sort_by(f64::total_cmp);
    let survey_median = stats::quantile(&all, 0.5);
    Ok(counts
        .iter()
        .map(|r| {
            let enumerator: String = r.get(0);
            let mut row = EnumeratorRow {
                team: r.get(1),
                started: r.get(2),
                complete: r.get(3),
                refused: r.get(4),
                incident_known: r.get(5),
                no_incident: r.get(6),
                fast: r.get(7),
                changed: r.get(8),
                straight: r.get(9),
                jumps: r.get(10),
                sensitive: r.get(11),
                not_self: r.get(12),
                with_grids: r.get(13),
                flagged_otherwise: r.get(14),
                survey_median_s: survey_median,
                ..EnumeratorRow::default()
            };
            if let Some((d, flagged)) = durations.get(&enumerator) {
                let mut sorted = d.clone();
                sorted.sort_by(f64::total_cmp);
                row.q1_s = stats::quantile(&sorted, 0.25);
                row.median_s = stats::quantile(&sorted, 0.5);
                row.q3_s = stats::quantile(&sorted, 0.75);
                let limit = short_limit(row.median_s, survey_median);
                for (d, flagged) in d.iter().zip(flagged) {
                    if limit.is_some_and(|l| *d < l) {
                        row.short += 1;
                        row.short_only += i64::from(!flagged);
                    }
                }
            }
            row.enumerator = enumerator;
            row
        })
        .collect())
}

/// An interview shorter than this is short: under [`SHORT_SHARE`] of its
/// enumerator's median or of the survey's, whichever is longer.
fn short_limit(enumerator_median: Option<f64>, survey_median: Option<f64>) -> Option<f64> {
    match (enumerator_median, survey_median) {
        (Some(a), Some(b)) => Some(SHORT_SHARE * a.max(b)),
        (a, b) => a.or(b).map(|m| SHORT_SHARE * m),
    }
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

/// The most recent flagged interviews (at most [`FLAGGED_SHOWN`]), read
/// newest first along the `monitor_cases_recent` index until enough are
/// found; the short-interview limits of each enumerator (from
/// [`enumerators`]) go in as one JSON object, looked up per row.
pub async fn flagged(
    client: &impl GenericClient,
    scope: &Scope,
    enumerators: &[EnumeratorRow],
) -> Result<Vec<FlaggedCase>, tokio_postgres::Error> {
    let limits: serde_json::Map<String, serde_json::Value> = enumerators
        .iter()
        .filter_map(|r| {
            let l = short_limit(r.median_s, r.survey_median_s)?;
            Some((r.enumerator.clone(), l.into()))
        })
        .collect();
    let limits = serde_json::Value::Object(limits).to_string();
    let flags = fixed_flags();
    let shown: Vec<String> = flags
        .iter()
        .map(|(name, sql)| format!("{sql} AS {name}"))
        .collect();
    let sql = format!(
        "SELECT case_uuid, enumerator, area,
                to_char(end_utc AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), duration_s,
                short, fast, changed, straight, jumps, not_self
         FROM (SELECT m.*, {},
                      coalesce(m.disposition = 'complete'
                          AND m.duration_s < (l.limits ->> m.enumerator)::float8, false) AS short
               FROM monitor_cases m JOIN users u ON u.name = m.enumerator
               CROSS JOIN (SELECT $3::text::jsonb AS limits) l
               WHERE $1 OR u.supervisor = $2) m
         WHERE short OR {}
         ORDER BY end_utc DESC NULLS LAST, case_uuid LIMIT {FLAGGED_SHOWN}",
        shown.join(", "),
        flagged_sql()
    );
    let [everyone, supervisor] = scope.params();
    let rows = client.query(&sql, &[everyone, supervisor, &limits]).await?;
    let names = [
        "short",
        "fast answers",
        "many changes",
        "straight-lined grid",
        "clock jump",
        "sensitive sections read aloud",
    ];
    Ok(rows
        .iter()
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
        .collect())
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

/// An indicator shown: its 0/1 variable in `monitor_cases`, the condition
/// of its population, and the prefix of its sums in `monitor_cells`.
struct IndicatorColumns {
    code: &'static str,
    label: &'static str,
    column: &'static str,
    domain: &'static str,
    cells: &'static str,
}

const INDICATORS: [IndicatorColumns; 3] = [
    IndicatorColumns {
        code: "16.1.4",
        label: "Feel safe walking alone after dark",
        column: "safe_dark",
        domain: "true",
        cells: "safe",
    },
    IndicatorColumns {
        code: "16.1.3 (a)",
        label: "Physical violence, previous 12 months",
        column: "physical",
        domain: "true",
        cells: "physical",
    },
    IndicatorColumns {
        code: "16.5.1",
        label: "Bribery, of those in contact with officials",
        column: "bribe",
        domain: "contact = 1",
        cells: "bribe",
    },
];

/// The provisional estimates: ratio estimators Σwy/Σw over the complete
/// interviews with a value, with design weights (household weight times
/// eligible members), linearised variance with regions as strata and areas
/// as PSUs. The PSU totals are the cells' sums; the ratio and its variance
/// from PSU totals are the unit-level ones (the influence values of a ratio
/// add up within a PSU), so `estimate::estimate` runs on one row per area.
/// Areas without a weighted complete interview are no PSU yet.
pub async fn estimates(
    client: &impl GenericClient,
    scope: &Scope,
) -> Result<Vec<Indicator>, tokio_postgres::Error> {
    let sums: Vec<String> = INDICATORS
        .iter()
        .map(|i| format!("sum({0}_w), sum({0}_wy), sum({0}_n)::int8", i.cells))
        .collect();
    let sql = format!(
        "SELECT c.region, c.area, {}
         FROM {SCOPED_CELLS}
         GROUP BY 1, 2 HAVING sum(weighted) > 0 ORDER BY 1, 2",
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
        .map(|(k, i)| {
            let x: Vec<f64> = rows.iter().map(|r| r.get(2 + 3 * k)).collect();
            let y: Vec<f64> = rows.iter().map(|r| r.get(3 + 3 * k)).collect();
            let n: i64 = rows.iter().map(|r| r.get::<_, i64>(4 + 3 * k)).sum();
            let e = design.as_ref().and_then(|d| {
                estimate::estimate(d, Statistic::Ratio, &y, Some(&x), &all, &mut ws).ok()
            });
            Indicator {
                code: i.code,
                label: i.label,
                n,
                estimate: e.as_ref().and_then(|e| e.estimate),
                ci: e.as_ref().and_then(|e| e.ci(0.95, CiMethod::Logit)),
                se: e.as_ref().and_then(|e| e.se()),
            }
        })
        .collect())
}
