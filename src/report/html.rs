//! The demo's HTML report: one self-contained page (no script, no external
//! file) with the headline table, one bar chart per disaggregated estimate
//! (bars with 95% JKn intervals and the true value marked), and the weight
//! diagnostics. Charts are inline SVG, so the page renders the same in any
//! browser, offline.

use std::fmt::Write as _;

use crate::simulate::demo::{Demo, DemoRow};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn pct(x: Option<f64>) -> String {
    x.filter(|v| v.is_finite())
        .map(|v| format!("{:.2}%", 100.0 * v))
        .unwrap_or_else(|| "–".into())
}

/// The label of a disaggregation value, as the codebook gives it.
fn group_label(var: &str, value: &str) -> String {
    let named = match (var, value) {
        ("sdg_sex", "1") => "Male",
        ("sdg_sex", "2") => "Female",
        ("sdg_urban", "1") => "Urban",
        ("sdg_urban", "2") => "Rural",
        ("sdg_disability", "0") => "No disability",
        ("sdg_disability", "1") => "With disability",
        ("sdg_age_group", "1") => "18–24",
        ("sdg_age_group", "2") => "25–34",
        ("sdg_age_group", "3") => "35–44",
        ("sdg_age_group", "4") => "45–54",
        ("sdg_age_group", "5") => "55–64",
        ("sdg_age_group", "6") => "65+",
        ("sdg_region", v) => return format!("Region {v}"),
        ("sdg_1172_place_sexual" | "sdg_1172_place_physical", v) => {
            return format!("Place {v}");
        }
        (_, v) => v,
    };
    named.to_string()
}

fn by_label(by: &[(String, String)]) -> String {
    if by.is_empty() {
        return "All adults".into();
    }
    by.iter()
        .map(|(k, v)| group_label(k, v))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// One horizontal bar chart: a bar per group, its JKn interval as a
/// whisker and the true value as a red tick.
fn chart(rows: &[&DemoRow], total: bool) -> String {
    let value = |r: &DemoRow| r.taylor.estimate.estimate.unwrap_or(0.0);
    let top = rows
        .iter()
        .map(|r| {
            let hi = r.ci().map_or(0.0, |c| c.1);
            value(r).max(hi).max(r.truth.unwrap_or(0.0))
        })
        .fold(0.0_f64, f64::max)
        .max(1e-9)
        * 1.08;
    let (left, width, bar, gap) = (150.0, 440.0, 16.0, 8.0);
    let height = rows.len() as f64 * (bar + gap) + 28.0;
    let x = |v: f64| left + width * (v / top).clamp(0.0, 1.0);
    let fmt = |v: f64| {
        if total {
            format!("{v:.0}")
        } else {
            format!("{:.1}%", 100.0 * v)
        }
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" role="img" width="{w}" height="{height}" viewBox="0 0 {w} {height}" xmlns="http://www.w3.org/2000/svg">"#,
        w = left + width + 90.0
    );
    for (i, r) in rows.iter().enumerate() {
        let y = 4.0 + i as f64 * (bar + gap);
        let v = value(r);
        let _ = write!(
            s,
            r##"<text x="{tx}" y="{ty}" text-anchor="end" class="lab">{label}</text><rect x="{left}" y="{y}" width="{bw:.2}" height="{bar}" class="bar"><title>{est}</title></rect>"##,
            tx = left - 6.0,
            ty = y + bar - 4.0,
            label = esc(&by_label(&r.by)),
            bw = x(v) - left,
            est = esc(&fmt(v)),
        );
        if let Some((lo, hi)) = r.ci() {
            let ym = y + bar / 2.0;
            let _ = write!(
                s,
                r#"<line x1="{a:.2}" x2="{b:.2}" y1="{ym}" y2="{ym}" class="ci"/><line x1="{a:.2}" x2="{a:.2}" y1="{y1}" y2="{y2}" class="ci"/><line x1="{b:.2}" x2="{b:.2}" y1="{y1}" y2="{y2}" class="ci"/>"#,
                a = x(lo),
                b = x(hi),
                y1 = ym - 4.0,
                y2 = ym + 4.0,
            );
        }
        if let Some(t) = r.truth {
            let _ = write!(
                s,
                r#"<line x1="{t:.2}" x2="{t:.2}" y1="{y1}" y2="{y2}" class="truth"><title>truth {tv}</title></line>"#,
                t = x(t),
                y1 = y - 2.0,
                y2 = y + bar + 2.0,
                tv = esc(&fmt(t)),
            );
        }
        let _ = write!(
            s,
            r#"<text x="{tx}" y="{ty}" class="val">{v}</text>"#,
            tx = left + width + 6.0,
            ty = y + bar - 4.0,
            v = esc(&fmt(v)),
        );
    }
    let axis_y = rows.len() as f64 * (bar + gap) + 10.0;
    let _ = write!(
        s,
        r#"<line x1="{left}" x2="{r}" y1="{axis_y}" y2="{axis_y}" class="axis"/><text x="{left}" y="{ly}" class="lab">0</text><text x="{r}" y="{ly}" text-anchor="end" class="lab">{top}</text></svg>"#,
        r = left + width,
        ly = axis_y + 14.0,
        top = esc(&fmt(top)),
    );
    s
}

const STYLE: &str = r#"
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 980px; color: #1d2230; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ccd; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { padding: 3px 8px; border-bottom: 1px solid #e3e5ea; text-align: right; }
td { white-space: nowrap; } td:first-child { white-space: normal; }
th:first-child, td:first-child { text-align: left; }
.no { color: #b00020; font-weight: bold; }
.chart .bar { fill: #5b8def; } .chart .ci { stroke: #1d2230; stroke-width: 1.5; }
.chart .truth { stroke: #d62728; stroke-width: 3; } .chart .axis { stroke: #889; }
.chart .lab, .chart .val { font-size: 12px; fill: #1d2230; }
figure { margin: 1em 0 2em 0; } figcaption { font-weight: 600; margin-bottom: 0.3em; }
code, pre { background: #f3f4f7; padding: 1px 4px; }
.legend span { display: inline-block; margin-right: 1.5em; }
"#;

/// Renders the report.
pub fn render(demo: &Demo) -> String {
    let mut h = String::new();
    let s = &demo.settings;
    let country = &demo.survey.country;
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>vicor demo: SDG 16 indicators of a synthetic country</title><style>{STYLE}</style></head><body>"
    );
    let _ = write!(
        h,
        "<h1>SDG 16 indicators of a synthetic country</h1><p>Made by <code>vicor demo</code> (seed {seed}). A synthetic country of {areas} enumeration areas, {hh} households and {adults} adults, each with known victimization, safety, harassment and bribery states. A stratified two-stage sample of {n} households in {strata} strata; {int} interviews driven through the real engine and the bundled victimization questionnaire, stored, exported, weighted by <code>weights/demo.yaml</code> and estimated. The true value is the same indicator computed on the whole adult population.</p>",
        seed = s.seed,
        areas = country.areas.len(),
        hh = country.households.len(),
        adults = country.adults().count(),
        n = demo.survey.sample.len(),
        strata = 20,
        int = demo.interviews,
    );
    h.push_str("<p class=\"legend\"><span>■ estimate</span><span>⊢⊣ 95% interval (JKn replicates, each re-weighted)</span><span style=\"color:#d62728\">┃ true value</span></p>");

    h.push_str("<h2>Headline indicators</h2><table><tr><th>indicator</th><th>estimate</th><th>SE (Taylor)</th><th>SE (JKn)</th><th>95% CI (JKn)</th><th>truth</th><th>covered</th><th>n</th></tr>");
    for r in demo.rows.iter().take(demo.headline) {
        let ci = r.ci();
        let covered = r.covered() == Some(true);
        let _ = write!(
            h,
            "<tr><td>{label}</td><td>{est}</td><td>{se_t}</td><td>{se_j}</td><td>{ci}</td><td>{truth}</td><td class=\"{cls}\">{cov}</td><td>{n}</td></tr>",
            label = esc(&r.label),
            est = pct(r.taylor.estimate.estimate),
            se_t = pct(r.taylor.estimate.se()),
            se_j = pct(r.jkn.as_ref().and_then(|j| j.estimate.se())),
            ci = ci
                .map(|(lo, hi)| format!("[{}, {}]", pct(Some(lo)), pct(Some(hi))))
                .unwrap_or_default(),
            truth = pct(r.truth),
            cls = if covered { "yes" } else { "no" },
            cov = if covered { "yes" } else { "no" },
            n = r.taylor.estimate.n,
        );
    }
    h.push_str("</table>");

    h.push_str("<h2>Disaggregations</h2>");
    let mut names: Vec<&str> = Vec::new();
    for r in demo.rows.iter().skip(demo.headline) {
        if !names.contains(&r.name.as_str()) {
            names.push(&r.name);
        }
    }
    for name in names {
        let rows: Vec<&DemoRow> = demo
            .rows
            .iter()
            .skip(demo.headline)
            .filter(|r| r.name == name && r.taylor.estimate.estimate.is_some())
            .collect();
        let Some(first) = rows.first() else { continue };
        let total = first.taylor.estimate.statistic == crate::estimate::Statistic::Total;
        let _ = write!(
            h,
            "<figure id=\"{id}\"><figcaption>{label} <small>({id})</small></figcaption>{chart}</figure>",
            id = esc(name),
            label = esc(&first.label),
            chart = chart(&rows, total),
        );
    }

    h.push_str("<h2>Weights</h2><p>Each step of the plan, over the sampled households (nonrespondents have weight 0 after the nonresponse step).</p><table><tr><th>step</th><th>units</th><th>sum</th><th>min</th><th>max</th><th>max/min</th><th>CV</th><th>1+CV²</th><th>iterations</th><th>margin error</th></tr>");
    for step in &demo.weighting.steps {
        let w = &step.weights;
        let opt = |x: Option<f64>, d: usize| x.map(|v| format!("{v:.d$}")).unwrap_or_default();
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{:.0}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&step.step),
            w.n,
            w.sum,
            w.min,
            w.max,
            opt(w.ratio, 2),
            opt(w.cv, 3),
            opt(w.deff, 3),
            step.iterations.map(|i| i.to_string()).unwrap_or_default(),
            step.max_margin_error
                .map(|e| format!("{e:.1e}"))
                .unwrap_or_default(),
        );
    }
    h.push_str("</table>");
    if let Some(r) = &demo.weighting.replicate_summary {
        let _ = write!(
            h,
            "<p>{} JKn replicates, each re-weighted by the same plan (at most {} raking sweeps; largest margin error {:.1e}).</p>",
            r.count, r.max_iterations, r.max_margin_error
        );
    }

    h.push_str("<h2>Time</h2><table><tr><th>step</th><th>seconds</th></tr>");
    for (step, secs) in &demo.timings {
        let _ = write!(h, "<tr><td>{}</td><td>{secs:.2}</td></tr>", esc(step));
    }
    h.push_str("</table>");
    let _ = write!(
        h,
        "<h2>Rerun a step</h2><pre>vicor export --db {out}/cases.db --out {out}/export --force\nvicor weight --plan {out}/weights/demo.yaml --data {out}/analysis.csv --out {out}/weighted.csv</pre><p>The coverage study (<code>vicor simulate --study 1000</code>) and what it found are in docs/validation.md.</p></body></html>\n",
        out = esc(&demo.out.display().to_string())
    );
    h
}
