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
pub fn run(
    spec: &Spec,
    design: &Design,
    frame: &Frame,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<Row>, EstimateError> {
    check_spec(spec)?;
    let mut ws = Workspace::default();
    let mut out = Vec::new();
    let total = spec.estimates.len();
    let mut last: Option<Prepared> = None;
    for (k, e) in spec.estimates.iter().enumerate() {
        out.extend(run_one(e, design, frame, &mut ws, &mut last)?);
        progress(k + 1, total);
    }
    Ok(out)
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

/// The variables, domain rows and whole-domain estimate of the previous
/// entry: a preset lists one indicator with several `by`s in a row, and they
/// share all three. One entry only, so memory stays that of one estimate.
struct Prepared {
    key: (Target, Option<String>),
    y: Vec<f64>,
    x: Option<Vec<f64>>,
    rows: Vec<u32>,
    total: Estimate,
}

fn run_one(
    e: &EstimateSpec,
    design: &Design,
    frame: &Frame,
    ws: &mut Workspace,
    last: &mut Option<Prepared>,
) -> Result<Vec<Row>, EstimateError> {
    let target = e.target()?;
    let key = (target.clone(), e.domain.clone());
    if last.as_ref().is_none_or(|p| p.key != key) {
        *last = None;
        *last = Some(prepare(e, design, frame, ws, key)?);
    }
    let prepared = last.as_ref().expect("prepared above");
    cells(e, design, frame, ws, prepared)
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
    let mut codes: Vec<Vec<u32>> = Vec::new();
    let mut labels: Vec<Vec<String>> = Vec::new();
    for b in &e.by {
        let (c, l) = sorted_codes(frame.column(b)?);
        codes.push(c);
        labels.push(l);
    }
    // Cell number in mixed radix, first variable fastest: sorting cells by
    // number is R's svyby order.
    let radix: Vec<u64> = labels.iter().map(|l| l.len().max(1) as u64).collect();
    let mut cell_of: Vec<u64> = Vec::with_capacity(rows_all.len());
    let mut present: Vec<u64> = Vec::new();
    'rows: for &i in rows_all {
        let mut cell = 0u64;
        let mut mult = 1u64;
        for (c, &r) in codes.iter().zip(&radix) {
            let v = c[i as usize];
            if v == MISSING {
                cell_of.push(u64::MAX);
                continue 'rows;
            }
            cell += u64::from(v) * mult;
            mult = mult.saturating_mul(r);
        }
        cell_of.push(cell);
        present.push(cell);
    }
    present.sort_unstable();
    present.dedup();
    let mut cell_rows: Vec<Vec<u32>> = vec![Vec::new(); present.len()];
    let span = radix.iter().try_fold(1u64, |a, &r| a.checked_mul(r));
    match span {
        // Few possible cells: index them directly.
        Some(span) if span <= 1 << 22 => {
            let mut slot = vec![usize::MAX; span as usize];
            for (k, &c) in present.iter().enumerate() {
                slot[c as usize] = k;
            }
            for (&i, &c) in rows_all.iter().zip(&cell_of) {
                if c != u64::MAX {
                    cell_rows[slot[c as usize]].push(i);
                }
            }
        }
        _ => {
            let slot: HashMap<u64, usize> =
                present.iter().enumerate().map(|(k, &c)| (c, k)).collect();
            for (&i, &c) in rows_all.iter().zip(&cell_of) {
                if c != u64::MAX {
                    cell_rows[slot[&c]].push(i);
                }
            }
        }
    }
    for (&cell, rows) in present.iter().zip(&cell_rows) {
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

/// Codes of a `by` column whose order is the sorted order of the values
/// (numeric when every value is a number), with their labels.
fn sorted_codes(column: &Column) -> (Vec<u32>, Vec<String>) {
    match column {
        Column::Small(v) => {
            // At most 255 distinct values: find them by counting.
            let mut seen = [false; 256];
            for &x in v {
                if x != crate::frame::SMALL_MISSING {
                    seen[(i16::from(x) + 128) as usize] = true;
                }
            }
            let mut rank = [MISSING; 256];
            let mut labels = Vec::new();
            for (k, _) in seen.iter().enumerate().filter(|(_, s)| **s) {
                rank[k] = labels.len() as u32;
                labels.push((k as i16 - 128).to_string());
            }
            let codes = v
                .iter()
                .map(|&x| {
                    if x == crate::frame::SMALL_MISSING {
                        MISSING
                    } else {
                        rank[(i16::from(x) + 128) as usize]
                    }
                })
                .collect();
            (codes, labels)
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
                codes,
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
            let codes = t
                .codes
                .iter()
                .map(|&c| {
                    if c == MISSING {
                        MISSING
                    } else {
                        rank[c as usize]
                    }
                })
                .collect();
            (codes, order.iter().map(|&o| t.levels[o].clone()).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
