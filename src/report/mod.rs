//! Writers for estimate rows: JSON (the contract of `design.md`), CSV (the
//! same columns with `by` spread into one column per variable) and an
//! aligned terminal table with the `by` rows indented under their total.
//!
//! JSON row, keys in this order:
//!
//! ```json
//! {"name": "api00_by_type", "by": {"stype": "E"}, "estimate": 674.43, "se": 12.49,
//!  "ci_low": 649.9, "ci_high": 698.9, "level": 0.95, "df": 197, "cv": 0.0185,
//!  "deff": 1.21, "n": 100, "weighted_n": 4421.0, "flags": []}
//! ```
//!
//! Numbers are written at full precision (shortest text that reads back as
//! the same double); an undefined value is `null` (JSON) or empty (CSV), never
//! `NaN`.
//!
//! A row about a crime type adds `"iccs": "0401"` after `flags` (JSON), an
//! `iccs` column at the end (CSV, only when some row has a code) and
//! `[ICCS 0401]` after its label (table). Rows without a code are written
//! exactly as before the key existed, so readers of the old contract are
//! not disturbed.

pub mod html;

use std::io::{self, Write};

use serde::Serialize;
use serde::ser::SerializeMap;

use crate::estimate::run::Row;

fn finite(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite())
}

/// `by` as a JSON object with keys in the order of the spec.
struct By<'a>(&'a [(String, String)]);

impl Serialize for By<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// One row of the JSON contract; field order is the contract's key order.
#[derive(Serialize)]
struct JsonRow<'a> {
    name: &'a str,
    by: By<'a>,
    estimate: Option<f64>,
    se: Option<f64>,
    ci_low: Option<f64>,
    ci_high: Option<f64>,
    level: f64,
    df: Option<u64>,
    cv: Option<f64>,
    deff: Option<f64>,
    n: usize,
    weighted_n: Option<f64>,
    flags: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iccs: Option<&'a str>,
}

fn json_row(row: &Row) -> JsonRow<'_> {
    let e = &row.estimate;
    JsonRow {
        name: &row.name,
        by: By(&row.by),
        estimate: finite(e.estimate),
        se: finite(e.se()),
        ci_low: finite(row.ci.map(|c| c.0)),
        ci_high: finite(row.ci.map(|c| c.1)),
        level: row.level,
        df: e.df,
        cv: finite(e.cv()),
        deff: finite(e.deff),
        n: e.n,
        weighted_n: finite(Some(e.weighted_n)),
        flags: e.flags.iter().map(|f| f.as_str()).collect(),
        iccs: row.iccs.as_deref(),
    }
}

/// `{"estimates": [row, ...]}`, one row per line.
pub fn write_json(out: &mut dyn Write, rows: &[Row]) -> io::Result<()> {
    writeln!(out, "{{\"estimates\": [")?;
    for (k, r) in rows.iter().enumerate() {
        let text = serde_json::to_string(&json_row(r))?;
        let sep = if k + 1 < rows.len() { "," } else { "" };
        writeln!(out, "  {text}{sep}")?;
    }
    writeln!(out, "]}}")
}

fn fmt_full(x: Option<f64>) -> String {
    match x {
        Some(v) if v.is_finite() => serde_json::to_string(&v).unwrap_or_default(),
        _ => String::new(),
    }
}

fn by_columns(rows: &[Row]) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    for r in rows {
        for (k, _) in &r.by {
            if !cols.contains(k) {
                cols.push(k.clone());
            }
        }
    }
    cols
}

/// CSV with the JSON columns, `by` spread into one column per variable.
pub fn write_csv(out: &mut dyn Write, rows: &[Row]) -> io::Result<()> {
    let by_cols = by_columns(rows);
    let iccs = rows.iter().any(|r| r.iccs.is_some());
    let mut w = csv::Writer::from_writer(out);
    let mut header = vec!["name".to_owned()];
    header.extend(by_cols.iter().cloned());
    header.extend(
        [
            "estimate",
            "se",
            "ci_low",
            "ci_high",
            "level",
            "df",
            "cv",
            "deff",
            "n",
            "weighted_n",
            "flags",
        ]
        .map(String::from),
    );
    if iccs {
        header.push("iccs".into());
    }
    w.write_record(&header)?;
    for r in rows {
        let e = &r.estimate;
        let mut rec = vec![r.name.clone()];
        for c in &by_cols {
            rec.push(
                r.by.iter()
                    .find(|(k, _)| k == c)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default(),
            );
        }
        rec.push(fmt_full(e.estimate));
        rec.push(fmt_full(e.se()));
        rec.push(fmt_full(r.ci.map(|c| c.0)));
        rec.push(fmt_full(r.ci.map(|c| c.1)));
        rec.push(fmt_full(Some(r.level)));
        rec.push(e.df.map(|d| d.to_string()).unwrap_or_default());
        rec.push(fmt_full(e.cv()));
        rec.push(fmt_full(e.deff));
        rec.push(e.n.to_string());
        rec.push(fmt_full(Some(e.weighted_n)));
        rec.push(
            e.flags
                .iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join(";"),
        );
        if iccs {
            rec.push(r.iccs.clone().unwrap_or_default());
        }
        w.write_record(&rec)?;
    }
    w.flush()
}

/// Decimals that show `scale` with three significant digits (0 to 8).
fn block_decimals(scale: Option<f64>) -> usize {
    match scale {
        Some(v) if v.is_finite() && v != 0.0 => {
            (2 - v.abs().log10().floor() as i32).clamp(0, 8) as usize
        }
        _ => 2,
    }
}

/// An aligned table: one block per estimate, `by` rows indented under the
/// total row, numbers right-aligned.
pub fn write_table(out: &mut dyn Write, rows: &[Row]) -> io::Result<()> {
    let header = ["estimate", "se", "ci", "df", "cv", "deff", "n", "flags"];
    let mut lines: Vec<[String; 9]> = Vec::new();
    // Decimals per estimate block, from its first row's SE (three
    // significant digits), so a block's numbers line up on the point.
    let mut decimals = 2usize;
    let mut block_iccs: Option<&str> = None;
    for r in rows {
        let e = &r.estimate;
        if r.by.is_empty() {
            decimals = block_decimals(e.se().or(e.estimate));
            block_iccs = r.iccs.as_deref();
        }
        let fixed = |x: Option<f64>| match x {
            Some(v) if v.is_finite() => format!("{v:.decimals$}"),
            _ => "-".to_owned(),
        };
        let mut label = if r.by.is_empty() {
            r.name.clone()
        } else {
            format!(
                "  {}",
                r.by.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        // A `by` row repeats no code its total row already shows.
        if let Some(code) = r.iccs.as_deref()
            && (r.by.is_empty() || Some(code) != block_iccs)
        {
            label.push_str(&format!(" [ICCS {code}]"));
        }
        let ci = match r.ci {
            Some((lo, hi)) => format!("[{}, {}]", fixed(Some(lo)), fixed(Some(hi))),
            None => "-".into(),
        };
        lines.push([
            label,
            fixed(e.estimate),
            fixed(e.se()),
            ci,
            e.df.map_or("-".into(), |d| d.to_string()),
            e.cv().map_or("-".into(), |c| format!("{:.1}%", 100.0 * c)),
            e.deff
                .filter(|d| d.is_finite())
                .map_or("-".into(), |d| format!("{d:.2}")),
            e.n.to_string(),
            e.flags
                .iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join(","),
        ]);
    }
    let mut widths = [0usize; 9];
    widths[0] = "estimate".len().max(4);
    for (k, h) in header.iter().enumerate() {
        widths[k + 1] = h.len();
    }
    for l in &lines {
        for (k, cell) in l.iter().enumerate() {
            widths[k] = widths[k].max(cell.chars().count());
        }
    }
    let mut head = format!("{:<w$}", "", w = widths[0]);
    for (k, h) in header.iter().enumerate() {
        if k == header.len() - 1 {
            head.push_str(&format!("  {h}"));
        } else {
            head.push_str(&format!("  {:>w$}", h, w = widths[k + 1]));
        }
    }
    writeln!(out, "{}", head.trim_end())?;
    let rule: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
    writeln!(out, "{}", "─".repeat(rule.min(120)))?;
    for (l, r) in lines.iter().zip(rows) {
        if r.by.is_empty() && !std::ptr::eq(r, &rows[0]) {
            writeln!(out)?;
        }
        let mut s = format!("{:<w$}", l[0], w = widths[0]);
        for k in 1..9 {
            if k == 8 {
                s.push_str(&format!("  {}", l[k]));
            } else {
                s.push_str(&format!("  {:>w$}", l[k], w = widths[k]));
            }
        }
        writeln!(out, "{}", s.trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::{CiMethod, Estimate, Statistic};

    fn row(name: &str, by: &[(&str, &str)], iccs: Option<&str>) -> Row {
        Row {
            name: name.into(),
            by: by
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            estimate: Estimate {
                statistic: Statistic::Proportion,
                estimate: Some(0.25),
                variance: Some(0.0004),
                df: Some(9),
                deff: None,
                n: 40,
                ci_n: 40,
                weighted_n: 400.0,
                flags: Vec::new(),
            },
            ci: Some((0.2, 0.3)),
            ci_method: CiMethod::Logit,
            level: 0.95,
            iccs: iccs.map(str::to_string),
        }
    }

    fn text(write: fn(&mut dyn Write, &[Row]) -> io::Result<()>, rows: &[Row]) -> String {
        let mut out = Vec::new();
        write(&mut out, rows).expect("writes to memory");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn rows_without_a_crime_type_are_written_as_before() {
        let rows = [row("p", &[], None), row("p", &[("sex", "1")], None)];
        assert_eq!(
            text(write_json, &rows),
            "{\"estimates\": [\n  {\"name\":\"p\",\"by\":{},\"estimate\":0.25,\"se\":0.02,\"ci_low\":0.2,\"ci_high\":0.3,\"level\":0.95,\"df\":9,\"cv\":0.08,\"deff\":null,\"n\":40,\"weighted_n\":400.0,\"flags\":[]},\n  {\"name\":\"p\",\"by\":{\"sex\":\"1\"},\"estimate\":0.25,\"se\":0.02,\"ci_low\":0.2,\"ci_high\":0.3,\"level\":0.95,\"df\":9,\"cv\":0.08,\"deff\":null,\"n\":40,\"weighted_n\":400.0,\"flags\":[]}\n]}\n"
        );
        let csv = text(write_csv, &rows);
        assert_eq!(
            csv.lines().next(),
            Some("name,sex,estimate,se,ci_low,ci_high,level,df,cv,deff,n,weighted_n,flags")
        );
        assert!(!text(write_table, &rows).contains("ICCS"));
    }

    #[test]
    fn a_crime_type_adds_its_code_last() {
        let rows = [
            row("inc", &[], None),
            row("inc", &[("inc_crime", "11")], Some("0401")),
            row("inc", &[("inc_crime", "2")], None),
        ];
        let json = text(write_json, &rows);
        let lines: Vec<&str> = json.lines().collect();
        assert!(lines[1].ends_with("\"flags\":[]},"), "{json}");
        assert!(
            lines[2].ends_with("\"flags\":[],\"iccs\":\"0401\"},"),
            "{json}"
        );
        let csv = text(write_csv, &rows);
        let csv: Vec<&str> = csv.lines().collect();
        assert!(csv[0].ends_with(",flags,iccs"), "{}", csv[0]);
        assert!(csv[1].ends_with(",,"), "no code: an empty cell: {}", csv[1]);
        assert!(csv[2].ends_with(",0401"), "{}", csv[2]);
        let table = text(write_table, &rows);
        assert!(table.contains("  inc_crime=11 [ICCS 0401]"), "{table}");
    }

    #[test]
    fn the_table_shows_an_estimates_code_once_per_block() {
        let rows = [
            row("bribe", &[], Some("07031")),
            row("bribe", &[("sex", "1")], Some("07031")),
        ];
        let table = text(write_table, &rows);
        assert!(table.contains("bribe [ICCS 07031]"), "{table}");
        assert_eq!(table.matches("ICCS").count(), 1, "{table}");
    }
}
