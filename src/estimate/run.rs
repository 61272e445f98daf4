//! Runs an estimate spec over a design: evaluates variables, domains and
//! `by` cells, and returns one [`Row`] per (estimate, cell).
//!
//! Rows come in spec order; for each estimate first the whole domain
//! (`by` empty), then the `by` cells that have respondents, ordered as R's
//! `svyby`: levels sorted (numerically when every level is a number), the
//! first `by` variable varying fastest.

use std::collections::HashMap;

use super::spec::{EstimateSpec, Spec, Target};
use super::{CiMethod, Estimate, EstimateError, Workspace, estimate};
use crate::design::Design;
use crate::frame::eval::{Truth, Values, eval_source, identifiers};
use crate::frame::{Column, Frame, MISSING};

/// One output row.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    /// (variable, value) pairs; empty for the whole domain.
    pub by: Vec<(String, String)>,
    pub estimate: Estimate,
    pub ci: Option<(f64, f64)>,
    pub ci_method: CiMethod,
    pub level: f64,
    /// The ICCS code of the row's crime type: of its `by` value when that
    /// is a crime type ([`assign_iccs`]), else of the estimate (`iccs:`).
    pub iccs: Option<String>,
}

/// The crime types of the data's variables: variable → value as written
/// in the data → ICCS code (from the export's codebook,
/// [`crate::export::codebook::crime_types`]).
pub type CrimeTypes = HashMap<String, HashMap<String, String>>;

/// Gives each row whose `by` holds a crime type the code of that crime
/// type: the first `by` variable, in the spec's order, whose value has a
/// code wins over the estimate's own `iccs:`. Rows without one keep theirs.
pub fn assign_iccs(rows: &mut [Row], crime_types: &CrimeTypes) {
    for row in rows {
        let code = row.by.iter().find_map(|(variable, value)| {
            crime_types
                .get(variable)
                .and_then(|values| values.get(value))
        });
        if let Some(code) = code {
            row.iccs = Some(code.clone());
        }
    }
}

/// Columns an estimate spec reads (for reading only those), and the `by`
/// columns, which are read as text so their values print as written.
pub fn spec_columns(spec: &Spec) -> Result<(Vec<String>, Vec<String>), EstimateError> {
    let mut cols = Vec::new();
    let mut by = Vec::new();
    for e in &spec.estimates {
        let target = e.target()?;
        let sources: Vec<&String> = match &target {
            Target::Mean(s) | Target::Total(s) | Target::Proportion(s) => vec![s],
            Target::Ratio(a, b) => vec![a, b],
        };
        for s in sources.into_iter().chain(e.domain.iter()) {
            let ids = identifiers(s).map_err(|message| EstimateError::Variable {
                name: e.name.clone(),
                message,
            })?;
            cols.extend(ids);
        }
        by.extend(e.by.iter().cloned());
    }
    Ok((cols, by))
}

/// Checks the spec against itself (names, levels) before any work.
pub fn check_spec(spec: &Spec) -> Result<(), EstimateError> {
    if spec.estimates.is_empty() {
        return Err(EstimateError::Spec("`estimates` is empty".into()));
    }
    let mut seen = std::collections::HashSet::new();
    for e in &spec.estimates {
        if !seen.insert(e.name.as_str()) {
            return Err(EstimateError::Spec(format!(
                "estimate name `{}` is used twice; names must be unique",
                e.name
            )));
        }
        let target = e.target()?;
        let level = e.level();
        if !(level > 0.0 && level < 1.0) {
            return Err(EstimateError::Spec(format!(
                "estimate `{}`: `level` must be between 0 and 1, got {level}",
                e.name
            )));
        }
        if matches!(e.ci, Some(CiMethod::Logit | CiMethod::Beta))
            && !matches!(target, Target::Proportion(_))
        {
            return Err(EstimateError::Spec(format!(
                "estimate `{}`: ci {} is for proportions; use `proportion:` or `ci: wald`",
                e.name,
                if e.ci == Some(CiMethod::Logit) {
                    "logit"
                } else {
                    "beta"
                }
            )));
        }
    }
    Ok(())
}

/// Runs every estimate of the spec. `progress(done, total)` is called after
/// each estimate.
///
/// Entries that share a variable and domain (a preset lists one indicator
/// with several `by`s) are prepared once. Such groups run on all cores, each
/// worker with its own scratch space; every estimate is computed by the same
/// code whichever worker takes it, so the output does not depend on threads.
pub fn run(
    spec: &Spec,
    design: &Design,
    frame: &Frame,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<Row>, EstimateError> {
    check_spec(spec)?;
    let groups = groups(spec)?;
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(groups.len())
        .max(1);
    let mut results = run_groups(spec, &groups, design, frame, workers, progress);
    if results.iter().any(|r| !matches!(r, Some(Ok(_)))) {
        // Groups stop at a failure, so an earlier entry may not have run:
        // entries one by one in spec order meet the failure a reader expects.
        let one_by_one: Vec<Vec<usize>> = (0..spec.estimates.len()).map(|k| vec![k]).collect();
        results = run_groups(spec, &one_by_one, design, frame, 1, &mut |_, _| {});
    }
    let mut out = Vec::new();
    for r in results {
        match r {
            Some(rows) => out.extend(rows?),
            None => {
                return Err(EstimateError::Spec(
                    "an estimate was not run because another failed".into(),
                ));
            }
        }
    }
    Ok(out)
}

type Results = Vec<Option<Result<Vec<Row>, EstimateError>>>;

/// The rows of every entry, by spec index, from `workers` threads; entries
/// left after a failure stay `None`.
fn run_groups(
    spec: &Spec,
    groups: &[Vec<usize>],
    design: &Design,
    frame: &Frame,
    workers: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Results {
    let total = spec.estimates.len();
    let mut results: Results = (0..total).map(|_| None).collect();
    if workers == 1 {
        let mut ws = Workspace::default();
        let mut done = 0;
        let mut ok = true;
        for g in groups {
            run_group(spec, g, design, frame, &mut ws, &mut |k, rows| {
                ok = rows.is_ok();
                results[k] = Some(rows);
                done += 1;
                progress(done, total);
                ok
            });
            if !ok {
                break;
            }
        }
        return results;
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (send, next) = (send.clone(), &next);
            scope.spawn(move || {
                let mut ws = Workspace::default();
                loop {
                    let g = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(group) = groups.get(g) else { break };
                    let mut go_on = true;
                    run_group(spec, group, design, frame, &mut ws, &mut |k, rows| {
                        let ok = rows.is_ok();
                        go_on = send.send((k, rows)).is_ok() && ok;
                        go_on
                    });
                    if !go_on {
                        // An estimate failed: the others may stop.
                        next.store(groups.len(), std::sync::atomic::Ordering::Relaxed);
                        return;
                    }
                }
            });
        }
        drop(send);
        for (done, (k, rows)) in receive.iter().enumerate() {
            results[k] = Some(rows);
            progress(done + 1, total);
        }
    });
    results
}

/// Spec indices grouped by (target, domain), groups in order of first entry.
fn groups(spec: &Spec) -> Result<Vec<Vec<usize>>, EstimateError> {
    let mut index: HashMap<(Target, Option<String>), usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (k, e) in spec.estimates.iter().enumerate() {
        let key = (e.target()?, e.domain.clone());
        let g = *index.entry(key).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(k);
    }
    Ok(groups)
}

/// Runs the estimates of one group, handing each result with its spec index
/// to `emit`, until one fails or `emit` says stop.
fn run_group(
    spec: &Spec,
    group: &[usize],
    design: &Design,
    frame: &Frame,
    ws: &mut Workspace,
    emit: &mut dyn FnMut(usize, Result<Vec<Row>, EstimateError>) -> bool,
) {
    let mut prepared: Option<Prepared> = None;
    for &k in group {
        let e = &spec.estimates[k];
        let p = match &prepared {
            Some(p) => p,
            None => {
                let made = e
                    .target()
                    .and_then(|t| prepare(e, design, frame, ws, (t, e.domain.clone())));
                match made {
                    Ok(p) => prepared.insert(p),
                    Err(err) => {
                        emit(k, Err(err));
                        return;
                    }
                }
            }
        };
        let rows = cells(e, design, frame, ws, p);
        let failed = rows.is_err();
        if !emit(k, rows) || failed {
            return;
        }
    }
}

fn numbers<'a>(
    e: &EstimateSpec,
    source: &str,
    frame: &'a Frame,
    proportion: bool,
) -> Result<std::borrow::Cow<'a, [f64]>, EstimateError> {
    let err = |message: String| EstimateError::Variable {
        name: e.name.clone(),
        message,
    };
    let values = eval_source(source, frame).map_err(err)?;
    match values {
        Values::Numbers(v) => Ok(v),
        Values::Truths(_) => Ok(std::borrow::Cow::Owned(
            values.to_numbers().expect("truths convert").into_owned(),
        )),
        Values::Text(_) if proportion => Err(err(format!(
            "`{source}` is text; a proportion needs a condition such as `{source} == \"value\"`"
        ))),
        Values::Text(_) => Err(err(format!("`{source}` is text, not a number"))),
    }
}

/// The variables, domain rows and whole-domain estimate of a group of
/// entries: a preset lists one indicator with several `by`s, and they share
/// all three.
struct Prepared {
    key: (Target, Option<String>),
    y: Vec<f64>,
    x: Option<Vec<f64>>,
    rows: Vec<u32>,
    total: Estimate,
}

fn prepare(
    e: &EstimateSpec,
    design: &Design,
    frame: &Frame,
    ws: &mut Workspace,
    key: (Target, Option<String>),
) -> Result<Prepared, EstimateError> {
    let target = &key.0;
    let statistic = target.statistic();
    let (y, x) = match target {
        Target::Mean(s) | Target::Total(s) => (numbers(e, s, frame, false)?, None),
        Target::Proportion(s) => (numbers(e, s, frame, true)?, None),
        Target::Ratio(a, b) => (
            numbers(e, a, frame, false)?,
            Some(numbers(e, b, frame, false)?),
        ),
    };
    let n = frame.n_rows();
    let mut keep: Vec<bool> = (0..n)
        .map(|i| !y[i].is_nan() && x.as_ref().is_none_or(|x| !x[i].is_nan()))
        .collect();
    if let Some(d) = &e.domain {
        let truths = eval_source(d, frame)
            .ok()
            .and_then(|v| v.to_truths())
            .ok_or_else(|| EstimateError::Variable {
                name: e.name.clone(),
                message: format!("domain `{d}` must be a condition"),
            })?;
        for (k, t) in keep.iter_mut().zip(truths) {
            *k = *k && t == Truth::True;
        }
    }
    let rows_all: Vec<u32> = (0..n as u32).filter(|&i| keep[i as usize]).collect();
    if rows_all.is_empty() {
        return Err(EstimateError::EmptyDomain {
            name: e.name.clone(),
            domain: e
                .domain
                .as_ref()
                .map_or("(everyone)".to_owned(), |d| format!("`{d}`")),
        });
    }
    let total = estimate(design, statistic, &y, x.as_deref(), &rows_all, ws)?;
    Ok(Prepared {
        y: y.into_owned(),
        x: x.map(|x| x.into_owned()),
        rows: rows_all,
        total,
        key,
    })
}

fn cells(
    e: &EstimateSpec,
    design: &Design,
    frame: &Frame,
    ws: &mut Workspace,
    p: &Prepared,
) -> Result<Vec<Row>, EstimateError> {
    let statistic = p.key.0.statistic();
    let rows_all = &p.rows;
    let method = e.ci_method();
    let level = e.level();
    let make_row = |est: Estimate, by: Vec<(String, String)>| -> Row {
        let ci = est.ci(level, method);
        Row {
            name: e.name.clone(),
            by,
            estimate: est,
            ci,
            ci_method: method,
            level,
            iccs: e.iccs.clone(),
        }
    };
    let yv: &[f64] = &p.y;
    let xv: Option<&[f64]> = p.x.as_deref();
    let mut out = vec![make_row(p.total.clone(), Vec::new())];
    if e.by.is_empty() {
        return Ok(out);
    }
    // Cells of the by variables.
    let mut codes: Vec<ByCodes> = Vec::new();
    let mut labels: Vec<Vec<String>> = Vec::new();
    for b in &e.by {
        let (c, l) = sorted_codes(frame.column(b)?);
        codes.push(c);
        labels.push(l);
    }
    // Cell number in mixed radix, first variable fastest: sorting cells by
    // number is R's svyby order.
    let radix: Vec<u64> = labels.iter().map(|l| l.len().max(1) as u64).collect();
    let cell_number = |i: u32| -> Option<u64> {
        let mut cell = 0u64;
        let mut mult = 1u64;
        for (c, &r) in codes.iter().zip(&radix) {
            let v = c.get(i as usize);
            if v == MISSING {
                return None;
            }
            cell += u64::from(v) * mult;
            mult = mult.saturating_mul(r);
        }
        Some(cell)
    };
    let span = radix.iter().try_fold(1u64, |a, &r| a.checked_mul(r));
    // Each row's cell as a slot among the cells present (u32::MAX: none),
    // then the rows grouped by slot with a counting sort: two arrays of n,
    // where a vector per cell would grow (and double) in steps.
    let mut slot_of: Vec<u32> = Vec::with_capacity(rows_all.len());
    let present: Vec<u64> = match span {
        // Few possible cells: index them directly.
        Some(span) if span <= 1 << 22 => {
            let mut slot = vec![u32::MAX; span as usize];
            for &i in rows_all {
                slot_of.push(cell_number(i).map_or(u32::MAX, |c| c as u32));
            }
            for &c in &slot_of {
                if c != u32::MAX {
                    slot[c as usize] = 0;
                }
            }
            let present: Vec<u64> = (0..span).filter(|&c| slot[c as usize] == 0).collect();
            for (k, &c) in present.iter().enumerate() {
                slot[c as usize] = k as u32;
            }
            for c in slot_of.iter_mut().filter(|c| **c != u32::MAX) {
                *c = slot[*c as usize];
            }
            present
        }
        _ => {
            let numbers: Vec<Option<u64>> = rows_all.iter().map(|&i| cell_number(i)).collect();
            let mut present: Vec<u64> = numbers.iter().flatten().copied().collect();
            present.sort_unstable();
            present.dedup();
            let slot: HashMap<u64, u32> = present
                .iter()
                .enumerate()
                .map(|(k, &c)| (c, k as u32))
                .collect();
            slot_of.extend(numbers.iter().map(|c| c.map_or(u32::MAX, |c| slot[&c])));
            present
        }
    };
    let mut start = vec![0usize; present.len() + 1];
    for &c in slot_of.iter().filter(|&&c| c != u32::MAX) {
        start[c as usize + 1] += 1;
    }
    for k in 0..present.len() {
        start[k + 1] += start[k];
    }
    let mut grouped = vec![0u32; start[present.len()]];
    let mut fill = start.clone();
    for (&i, &c) in rows_all.iter().zip(&slot_of) {
        if c != u32::MAX {
            grouped[fill[c as usize]] = i;
            fill[c as usize] += 1;
        }
    }
    drop(slot_of);
    let cell_rows = start.windows(2).map(|w| &grouped[w[0]..w[1]]);
    for (&cell, rows) in present.iter().zip(cell_rows) {
        let mut rest = cell;
        let by =
            e.by.iter()
                .enumerate()
                .map(|(k, name)| {
                    let code = (rest % radix[k]) as usize;
                    rest /= radix[k];
                    (name.clone(), labels[k][code].clone())
                })
                .collect();
        out.push(make_row(estimate(design, statistic, yv, xv, rows, ws)?, by));
    }
    Ok(out)
}

/// The sorted-order code of each row of a `by` column, `MISSING` where
/// empty: the column's own codes through a rank table where it has codes.
enum ByCodes<'a> {
    Small(&'a [i8], Box<[u32; 256]>),
    Text(&'a [u32], Vec<u32>),
    Numbers(Vec<u32>),
}

impl ByCodes<'_> {
    fn get(&self, i: usize) -> u32 {
        match self {
            ByCodes::Small(v, rank) => rank[(i16::from(v[i]) + 128) as usize],
            ByCodes::Text(codes, rank) => match codes[i] {
                MISSING => MISSING,
                c => rank[c as usize],
            },
            ByCodes::Numbers(codes) => codes[i],
        }
    }
}

/// Codes of a `by` column whose order is the sorted order of the values
/// (numeric when every value is a number), with their labels.
fn sorted_codes(column: &Column) -> (ByCodes<'_>, Vec<String>) {
    match column {
        Column::Small(v) => {
            // At most 255 distinct values: find them by counting.
            let mut seen = [false; 256];
            for &x in v {
                if x != crate::frame::SMALL_MISSING {
                    seen[(i16::from(x) + 128) as usize] = true;
                }
            }
            let mut rank = Box::new([MISSING; 256]);
            let mut labels = Vec::new();
            for (k, _) in seen.iter().enumerate().filter(|(_, s)| **s) {
                rank[k] = labels.len() as u32;
                labels.push((k as i16 - 128).to_string());
            }
            (ByCodes::Small(v, rank), labels)
        }
        Column::Number(v) => {
            let mut distinct: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
            distinct.sort_by(f64::total_cmp);
            distinct.dedup();
            let codes = v
                .iter()
                .map(|x| {
                    if x.is_nan() {
                        MISSING
                    } else {
                        distinct
                            .binary_search_by(|d| d.total_cmp(x))
                            .expect("every value is among the distinct values")
                            as u32
                    }
                })
                .collect();
            (
                ByCodes::Numbers(codes),
                distinct
                    .iter()
                    .map(|&x| crate::frame::format_number(x))
                    .collect(),
            )
        }
        Column::Text(t) => {
            let numeric: Option<Vec<f64>> = t
                .levels
                .iter()
                .map(|l| crate::frame::parse_number(l.as_bytes()))
                .collect();
            let mut order: Vec<usize> = (0..t.levels.len()).collect();
            match &numeric {
                Some(nums) => order.sort_by(|&a, &b| nums[a].total_cmp(&nums[b]).then(a.cmp(&b))),
                None => order.sort_by(|&a, &b| t.levels[a].cmp(&t.levels[b])),
            }
            let mut rank = vec![0u32; order.len()];
            for (r, &o) in order.iter().enumerate() {
                rank[o] = r as u32;
            }
            (
                ByCodes::Text(&t.codes, rank),
                order.iter().map(|&o| t.levels[o].clone()).collect(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::design::spec::DesignSpec;

    /// 240 respondents in 2 strata of 12 PSUs, two variables and a `by`.
    fn data() -> (Design, Frame) {
        let n = 240;
        let num = |f: &dyn Fn(usize) -> f64| Column::Number((0..n).map(f).collect());
        let frame = Frame::from_columns(vec![
            ("h".into(), num(&|i| (i % 2) as f64)),
            ("psu".into(), num(&|i| (i % 24) as f64)),
            ("w".into(), num(&|i| 1.0 + (i % 5) as f64)),
            ("y1".into(), num(&|i| ((i * 7) % 3) as f64)),
            ("y2".into(), num(&|i| ((i * 11) % 4 == 0) as u8 as f64)),
            ("sex".into(), num(&|i| 1.0 + ((i / 3) % 2) as f64)),
        ]);
        let spec: DesignSpec =
            serde_saphyr::from_str("weight: w\nstrata: h\nclusters: [psu]\nnest: true\n")
                .expect("design parses");
        (Design::build(&spec, &frame).expect("design builds"), frame)
    }

    fn spec(yaml: &str) -> Spec {
        serde_saphyr::from_str(yaml).expect("spec parses")
    }

    #[test]
    fn interleaved_groups_come_back_in_spec_order() {
        let (design, frame) = data();
        let entries = [
            "  - {name: a, mean: y1}\n",
            "  - {name: b, proportion: y2 == 1, by: [sex]}\n",
            "  - {name: a_sex, mean: y1, by: [sex]}\n",
            "  - {name: c, mean: y1, domain: sex == 2}\n",
            "  - {name: b_all, proportion: y2 == 1}\n",
        ];
        let all = spec(&format!("estimates:\n{}", entries.concat()));
        let mut calls = Vec::new();
        let rows = run(&all, &design, &frame, &mut |done, total| {
            calls.push((done, total))
        })
        .expect("runs");
        // Each entry alone, one after another: what the grouped run must equal.
        let mut alone = Vec::new();
        for e in entries {
            let one = spec(&format!("estimates:\n{e}"));
            alone.extend(run(&one, &design, &frame, &mut |_, _| {}).expect("runs"));
        }
        assert_eq!(format!("{rows:?}"), format!("{alone:?}"));
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            ["a", "b", "b", "b", "a_sex", "a_sex", "a_sex", "c", "b_all"]
        );
        assert_eq!(calls.len(), 5);
        assert_eq!(calls.last(), Some(&(5, 5)));
    }

    #[test]
    fn the_first_failure_in_spec_order_is_reported() {
        let (design, frame) = data();
        let all = spec(
            "estimates:\n  - {name: fine, mean: y1, by: [sex]}\n  - {name: empty, mean: y1, domain: sex == 3}\n  - {name: unknown, mean: nothere}\n  - {name: later, mean: y2}\n",
        );
        match run(&all, &design, &frame, &mut |_, _| {}) {
            Err(EstimateError::EmptyDomain { name, .. }) => assert_eq!(name, "empty"),
            other => panic!("expected the empty domain of `empty`, got {other:?}"),
        }
        // The failing `by` belongs to the first group, which may finish first;
        // `b` still fails first in spec order.
        let all = spec(
            "estimates:\n  - {name: a, mean: y1}\n  - {name: b, mean: nothere}\n  - {name: a_by, mean: y1, by: [nothere2]}\n",
        );
        match run(&all, &design, &frame, &mut |_, _| {}) {
            Err(EstimateError::Variable { name, .. }) => assert_eq!(name, "b"),
            other => panic!("expected `b` to fail, got {other:?}"),
        }
    }

    use crate::estimate::Statistic;

    fn row(by: &[(&str, &str)], iccs: Option<&str>) -> Row {
        Row {
            name: "e".into(),
            by: by
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            estimate: Estimate {
                statistic: Statistic::Mean,
                estimate: Some(1.0),
                variance: Some(0.1),
                df: Some(1),
                deff: None,
                n: 2,
                ci_n: 2,
                weighted_n: 2.0,
                flags: Vec::new(),
            },
            ci: None,
            ci_method: CiMethod::Wald,
            level: 0.95,
            iccs: iccs.map(str::to_string),
        }
    }

    #[test]
    fn a_crime_type_value_gives_its_row_the_code() {
        let crime_types: CrimeTypes = [(
            "inc_crime".to_string(),
            [("11", "0401"), ("13", "02011")]
                .map(|(v, c)| (v.to_string(), c.to_string()))
                .into(),
        )]
        .into();
        let mut rows = vec![
            row(&[], Some("02")),
            row(&[("sex", "1"), ("inc_crime", "13")], Some("02")),
            row(&[("inc_crime", "11")], None),
            row(&[("inc_crime", "7")], None),
            row(&[("sex", "2")], Some("02")),
        ];
        assign_iccs(&mut rows, &crime_types);
        let codes: Vec<Option<&str>> = rows.iter().map(|r| r.iccs.as_deref()).collect();
        assert_eq!(
            codes,
            [Some("02"), Some("02011"), Some("0401"), None, Some("02")]
        );
    }
}
