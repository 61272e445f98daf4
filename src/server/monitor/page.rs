//! The monitoring pages as HTML, with inline SVG plots: no script library,
//! no request for anything but the page. Every string from the database
//! goes through [`escape`]. Cells carry `data-figure` attributes with the
//! full-precision number, so a test can read the figures from the DOM.

use std::fmt::Write;

use super::data::{
    CHANGED_MIN, EnumeratorRow, FAST_MIN, FAST_SHARE, FLAGGED_SHOWN, FlaggedCase, Indicator, Level,
    Outlier, ProgressRow, SHORT_SHARE,
};
use super::stats::{OUTLIER_MIN_N, OUTLIER_Z};
use super::summary::{CLOCK_JUMP_S, GRID_MIN_ITEMS, WORDS_PER_SECOND};
use crate::server::api::User;

/// Areas listed on the overview (the rest are counted in their region).
const AREAS_SHOWN: usize = 100;
/// Enumerators at each end of the duration plot when there are many.
const PLOT_ENDS: usize = 30;

/// Text made safe for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body{font:14px/1.4 system-ui,sans-serif;margin:0 2em 2em;color:#222}
header{display:flex;gap:1.5em;align-items:baseline;border-bottom:1px solid #ccc;padding:.6em 0}
header form{margin-left:auto}
h1{font-size:1.3em;margin:0}h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse;margin:.4em 0}
th,td{padding:.15em .6em;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left}
th{cursor:pointer;background:#f4f4f4}
tr.flag td{background:#fde8e8}
.note{color:#666;font-size:.9em;max-width:60em}
.provisional{color:#a33;font-weight:bold}
.tiles{display:flex;gap:1em;flex-wrap:wrap}
.tile{border:1px solid #ddd;border-radius:4px;padding:.4em .9em}
.tile b{display:block;font-size:1.4em}
dt{font-weight:bold;margin-top:.5em}
";

/// Sorts a table by the clicked header: numbers by value, text by text.
const SCRIPT: &str = "
document.querySelectorAll('table.sortable th').forEach(function (th, i) {
  th.addEventListener('click', function () {
    var body = th.closest('table').tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var up = th.dataset.up !== '1';
    th.dataset.up = up ? '1' : '0';
    function key(r) {
      var c = r.cells[i];
      var v = c.dataset.figure !== undefined ? parseFloat(c.dataset.value || c.textContent) : NaN;
      return isNaN(v) ? c.textContent : v;
    }
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      var d = (typeof x === 'number' && typeof y === 'number') ? x - y : String(x).localeCompare(String(y));
      return up ? d : -d;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
";

fn head(title: &str, user: Option<&User>) -> String {
    let mut s = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{}</title><link rel=\"icon\" href=\"data:,\"><style>{STYLE}</style></head><body><header><h1>{}</h1>",
        escape(title),
        escape(title)
    );
    if let Some(u) = user {
        let _ = write!(
            s,
            "<a href=\"/monitor\">Progress</a><a href=\"/monitor/quality\">Quality</a>\
             <span>{} ({})</span><form method=\"post\" action=\"/monitor/logout\">\
             <button>Log out</button></form>",
            escape(&u.name),
            u.role.as_str()
        );
    }
    s.push_str("</header>");
    s
}

fn foot() -> String {
    format!("<script>{SCRIPT}</script></body></html>")
}

/// A page with one sentence (errors, refusals).
pub fn message(title: &str, text: &str) -> String {
    format!(
        "{}<p>{}</p><p><a href=\"/monitor/login\">Log in</a></p>{}",
        head(title, None),
        escape(text),
        foot()
    )
}

pub fn login(error: Option<&str>) -> String {
    let error = error
        .map(|e| format!("<p class=\"provisional\">{}</p>", escape(e)))
        .unwrap_or_default();
    format!(
        "{}{error}<form method=\"post\" action=\"/monitor/login\">\
         <p><label>User <input name=\"user\" autocomplete=\"username\" required></label></p>\
         <p><label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label></p>\
         <p><button>Log in</button></p></form>\
         <p class=\"note\">For supervisors and headquarters. Enumerators sync with <code>vicor sync</code>.</p>{}",
        head("vicor fieldwork monitoring: log in", None),
        foot()
    )
}

fn percent(x: Option<f64>) -> String {
    x.map_or("–".to_string(), |x| format!("{:.1}%", 100.0 * x))
}

fn minutes(s: Option<f64>) -> String {
    s.map_or("–".to_string(), |s| format!("{:.1}", s / 60.0))
}

/// A cell with its exact figure for the DOM and a rounded one for the eye.
fn figure(name: &str, value: Option<f64>, shown: String) -> String {
    match value {
        Some(v) => format!("<td data-figure=\"{name}\" data-value=\"{v}\">{shown}</td>"),
        None => format!("<td data-figure=\"{name}\" data-value=\"\">{shown}</td>"),
    }
}

fn count(name: &str, n: i64) -> String {
    format!("<td data-figure=\"{name}\" data-value=\"{n}\">{n}</td>")
}

/// Text as a URL query value: every byte but unreserved ones as `%XX`.
fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The share of an area's sample with a final disposition.
fn finished_share(r: &ProgressRow) -> f64 {
    let d = &r.dispositions;
    let done = d.complete + d.refused + d.non_contact + d.other + d.ineligible;
    done as f64 / r.assigned.max(1) as f64
}

fn progress_table(rows: &[&ProgressRow], level: Level, first: &str) -> String {
    let level_name = match level {
        Level::Total => "total",
        Level::Region => "region",
        Level::Area => "area",
        Level::Enumerator => "enumerator",
    };
    let region_th = if level == Level::Area {
        "<th>region</th>"
    } else {
        ""
    };
    let mut s = format!(
        "<table class=\"sortable\" data-table=\"{level_name}\"><thead><tr><th>{first}</th>{region_th}<th>assigned</th>\
         <th>started</th><th>complete</th><th>partial or in progress</th><th>refused</th>\
         <th>non-contact</th><th>other</th><th>not started</th><th>ineligible</th>\
         <th>RR1</th><th>refusal rate</th><th>contact rate</th></tr></thead><tbody>"
    );
    for r in rows {
        let d = &r.dispositions;
        let _ = write!(
            s,
            "<tr data-level=\"{level_name}\" data-key=\"{}\"><td>{}</td>{}{}{}{}{}{}{}{}{}{}{}{}{}</tr>",
            escape(&r.key),
            match level {
                // A region's row leads to all of its areas.
                Level::Region => format!(
                    "<a href=\"/monitor?region={}\">{}</a>",
                    escape(&url_encode(&r.key)),
                    escape(&r.key)
                ),
                _ => escape(&r.key),
            },
            if level == Level::Area {
                format!("<td>{}</td>", escape(&r.region))
            } else {
                String::new()
            },
            count("assigned", r.assigned),
            count("started", r.started),
            count("complete", d.complete),
            count("partial", d.partial),
            count("refused", d.refused),
            count("non_contact", d.non_contact),
            count("other", d.other),
            count("not_started", d.unknown),
            count("ineligible", d.ineligible),
            figure("rr1", d.rr1(), percent(d.rr1())),
            figure("ref1", d.ref1(), percent(d.ref1())),
            figure("con1", d.con1(), percent(d.con1())),
        );
    }
    s.push_str("</tbody></table>");
    s
}

/// Bars of interviews finished per day, and the running total of complete
/// ones as a line on its own scale.
fn days_plot(days: &[(String, i64, i64)]) -> String {
    if days.is_empty() {
        return "<p class=\"note\">No interview finished yet.</p>".into();
    }
    let (w, h, left, bottom) = (900.0, 260.0, 50.0, 40.0);
    let n = days.len() as f64;
    let max_day = days.iter().map(|d| d.1).max().unwrap_or(1).max(1) as f64;
    let total: i64 = days.iter().map(|d| d.2).sum();
    let step = (w - left - 10.0) / n;
    let mut s = format!(
        "<svg role=\"img\" aria-label=\"interviews per day\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">"
    );
    let y = |v: f64, max: f64| h - bottom - (h - bottom - 20.0) * v / max;
    let mut running = 0;
    let mut line = String::new();
    for (i, (day, finished, complete)) in days.iter().enumerate() {
        let x = left + step * i as f64;
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#9cc3e6\"><title>{}: {finished} finished, {complete} complete</title></rect>",
            y(*finished as f64, max_day),
            (step * 0.8).max(1.0),
            h - bottom - y(*finished as f64, max_day),
            escape(day)
        );
        running += complete;
        let _ = write!(
            line,
            "{:.1},{:.1} ",
            x + step * 0.4,
            y(running as f64, total.max(1) as f64)
        );
        // About six dates; the last one ends at its bar, so it stays inside
        // the plot, and the regular one before it gives way if too close.
        let every = (days.len() / 6).max(1);
        let last = i + 1 == days.len();
        if last || (i % every == 0 && days.len() - 1 - i > every / 2) {
            let (x, anchor) = if last {
                (x + step * 0.8, "end")
            } else {
                (x, "start")
            };
            let _ = write!(
                s,
                "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"{anchor}\">{}</text>",
                h - bottom + 16.0,
                escape(day)
            );
        }
    }
    let _ = write!(
        s,
        "<polyline points=\"{line}\" fill=\"none\" stroke=\"#c0392b\" stroke-width=\"2\"/>\
         <text x=\"{left}\" y=\"14\" font-size=\"12\">bars: finished per day (max {max_day}); line: complete interviews so far (of {total})</text>\
         <line x1=\"{left}\" y1=\"{:.1}\" x2=\"{w}\" y2=\"{:.1}\" stroke=\"#999\"/></svg>",
        h - bottom,
        h - bottom
    );
    s
}

/// Per enumerator: the interquartile range of complete interviews'
/// durations as a bar and the median as a tick, in minutes.
fn durations_plot(rows: &[EnumeratorRow]) -> String {
    let mut rows: Vec<&EnumeratorRow> = rows.iter().filter(|r| r.median_s.is_some()).collect();
    if rows.is_empty() {
        return "<p class=\"note\">No complete interview yet.</p>".into();
    }
    // Shortest median first; of many, the ends are what a supervisor checks.
    rows.sort_by(|a, b| {
        a.median_s
            .unwrap_or_default()
            .total_cmp(&b.median_s.unwrap_or_default())
    });
    let shown: Vec<&EnumeratorRow> = if rows.len() > 2 * PLOT_ENDS {
        rows[..PLOT_ENDS]
            .iter()
            .chain(&rows[rows.len() - PLOT_ENDS..])
            .copied()
            .collect()
    } else {
        rows.clone()
    };
    let max = shown
        .iter()
        .filter_map(|r| r.q3_s.or(r.median_s))
        .fold(1.0f64, f64::max)
        * 1.1;
    let (w, left, row_h) = (900.0, 120.0, 18.0);
    let h = 30.0 + row_h * shown.len() as f64;
    let x = |s: f64| left + (w - left - 20.0) * s / max;
    let mut s = format!(
        "<svg role=\"img\" aria-label=\"durations per enumerator\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">"
    );
    if let Some(m) = rows[0].survey_median_s {
        let _ = write!(
            s,
            "<line x1=\"{0:.1}\" y1=\"20\" x2=\"{0:.1}\" y2=\"{h}\" stroke=\"#c0392b\" stroke-dasharray=\"4\"/>\
             <text x=\"{0:.1}\" y=\"14\" font-size=\"11\">survey median {1:.1} min</text>",
            x(m),
            m / 60.0
        );
    }
    for (i, r) in shown.iter().enumerate() {
        let y = 24.0 + row_h * i as f64;
        let (q1, md, q3) = (
            r.q1_s.unwrap_or_default(),
            r.median_s.unwrap_or_default(),
            r.q3_s.unwrap_or_default(),
        );
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{:.1}\" font-size=\"12\">{}</text>\
             <rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"12\" fill=\"#9cc3e6\"/>\
             <rect x=\"{:.1}\" y=\"{:.1}\" width=\"3\" height=\"16\" fill=\"#1f4e79\"><title>{}: median {:.1} min</title></rect>",
            y + 11.0,
            escape(&r.enumerator),
            x(q1),
            (x(q3) - x(q1)).max(1.0),
            x(md) - 1.5,
            y - 2.0,
            escape(&r.enumerator),
            md / 60.0
        );
    }
    s.push_str("</svg>");
    if rows.len() > shown.len() {
        let _ = write!(
            s,
            "<p class=\"note\">The {PLOT_ENDS} shortest and the {PLOT_ENDS} longest medians of {} enumerators; the table below has all.</p>",
            rows.len()
        );
    }
    s
}

/// Each estimate as a dot with its 95% interval on a 0–100% axis.
fn estimates_plot(estimates: &[Indicator]) -> String {
    let (w, left, row_h) = (900.0, 330.0, 30.0);
    let h = 40.0 + row_h * estimates.len() as f64;
    let x = |p: f64| left + (w - left - 20.0) * p;
    let mut s = format!(
        "<svg role=\"img\" aria-label=\"provisional indicator estimates\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">"
    );
    for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let _ = write!(
            s,
            "<line x1=\"{0:.1}\" y1=\"10\" x2=\"{0:.1}\" y2=\"{1:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{0:.1}\" y=\"{2:.1}\" font-size=\"11\">{3:.0}%</text>",
            x(t),
            h - 20.0,
            h - 6.0,
            t * 100.0
        );
    }
    for (i, e) in estimates.iter().enumerate() {
        let y = 24.0 + row_h * i as f64;
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{:.1}\" font-size=\"12\">{} {}</text>",
            y + 4.0,
            escape(e.code),
            escape(e.label)
        );
        if let Some((lo, hi)) = e.ci {
            let _ = write!(
                s,
                "<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#1f4e79\" stroke-width=\"2\"/>",
                x(lo),
                x(hi)
            );
        }
        if let Some(p) = e.estimate {
            let _ = write!(
                s,
                "<circle cx=\"{:.1}\" cy=\"{y:.1}\" r=\"5\" fill=\"#c0392b\"><title>{:.1}%</title></circle>",
                x(p),
                p * 100.0
            );
        }
    }
    s.push_str("</svg>");
    s
}

pub fn overview(
    user: &User,
    progress: &[ProgressRow],
    days: &[(String, i64, i64)],
    enumerators: &[EnumeratorRow],
    estimates: &[Indicator],
    region: Option<&str>,
) -> String {
    let mut s = head("Fieldwork progress", Some(user));
    let of = |level: Level| -> Vec<&ProgressRow> {
        progress.iter().filter(|r| r.level == level).collect()
    };
    if let Some(t) = of(Level::Total).first() {
        let d = &t.dispositions;
        let _ = write!(
            s,
            "<div class=\"tiles\" data-level=\"total\">\
             <div class=\"tile\">assigned<b data-figure=\"assigned\">{}</b></div>\
             <div class=\"tile\">started<b data-figure=\"started\">{}</b></div>\
             <div class=\"tile\">complete<b data-figure=\"complete\">{}</b></div>\
             <div class=\"tile\">response rate (RR1)<b>{}</b></div>\
             <div class=\"tile\">refusal rate<b>{}</b></div>\
             <div class=\"tile\">contact rate<b>{}</b></div></div>",
            t.assigned,
            t.started,
            d.complete,
            percent(d.rr1()),
            percent(d.ref1()),
            percent(d.con1())
        );
    }
    s.push_str(
        "<p class=\"note\">RR1 = I / ((I + P) + (R + NC + O) + (UH + UO)) over the cases assigned \
         and the cases started: I complete, P partial or still in progress, R refused, NC \
         non-contact, O other, UH + UO assigned but not started yet. Ineligible cases are left \
         out. Refusal rate R / (same denominator), contact rate (I + P + R + O) / (same). \
         Definitions in docs/monitoring.md.</p>",
    );
    s.push_str("<h2>Progress over days</h2>");
    s.push_str(&days_plot(days));
    s.push_str("<h2>By region</h2>");
    s.push_str(&progress_table(&of(Level::Region), Level::Region, "region"));
    s.push_str("<h2>By enumerator</h2>");
    s.push_str(&progress_table(
        &of(Level::Enumerator),
        Level::Enumerator,
        "enumerator",
    ));
    let mut areas = of(Level::Area);
    match region {
        Some(region) => {
            areas.retain(|r| r.region == region);
            let _ = write!(
                s,
                "<h2 id=\"areas\">Areas of region {}</h2><p class=\"note\">{} areas. \
                 <a href=\"/monitor\">Back to the areas furthest behind.</a></p>",
                escape(region),
                areas.len()
            );
        }
        None => {
            let _ = write!(
                s,
                "<h2 id=\"areas\">By area</h2><p class=\"note\">{} areas{}. Choose a region \
                 above for all of its areas.</p>",
                areas.len(),
                if areas.len() > AREAS_SHOWN {
                    format!(
                        "; the {AREAS_SHOWN} with the smallest share of their sample finished \
                         (complete, refused, non-contact, other or ineligible) are shown"
                    )
                } else {
                    String::new()
                }
            );
            if areas.len() > AREAS_SHOWN {
                areas.sort_by(|a, b| finished_share(a).total_cmp(&finished_share(b)));
                areas.truncate(AREAS_SHOWN);
            }
        }
    }
    s.push_str(&progress_table(&areas, Level::Area, "area"));
    s.push_str("<h2>Interview durations</h2><p class=\"note\">Complete interviews, minutes of interview time (pauses over 30 minutes left out): bar from the first to the third quartile, tick at the median.</p>");
    s.push_str(&durations_plot(enumerators));
    s.push_str(
        "<table class=\"sortable\" data-table=\"durations\"><thead><tr><th>enumerator</th>\
         <th>complete</th><th>first quartile</th><th>median</th><th>third quartile</th></tr></thead><tbody>",
    );
    for r in enumerators {
        let _ = write!(
            s,
            "<tr data-key=\"{}\"><td>{}</td>{}{}{}{}</tr>",
            escape(&r.enumerator),
            escape(&r.enumerator),
            count("complete", r.complete),
            figure("q1_min", r.q1_s.map(|v| v / 60.0), minutes(r.q1_s)),
            figure(
                "median_min",
                r.median_s.map(|v| v / 60.0),
                minutes(r.median_s)
            ),
            figure("q3_min", r.q3_s.map(|v| v / 60.0), minutes(r.q3_s)),
        );
    }
    s.push_str("</tbody></table>");
    s.push_str(
        "<h2>SDG indicators <span class=\"provisional\">(provisional, design weights only, not calibrated)</span></h2>\
         <p class=\"note\">Complete interviews so far, weighted by the household's design weight \
         times its number of eligible members; 95% logit intervals by Taylor linearisation with \
         regions as strata and areas as primary sampling units. Nonresponse adjustment and \
         calibration come after fieldwork: these figures are for watching fieldwork, not for \
         publication.</p>",
    );
    s.push_str(&estimates_plot(estimates));
    s.push_str(
        "<table data-table=\"estimates\"><thead><tr><th>indicator</th><th>respondents</th>\
         <th>estimate</th><th>95% interval</th><th>standard error</th></tr></thead><tbody>",
    );
    for e in estimates {
        let _ = write!(
            s,
            "<tr data-indicator=\"{}\"><td>{} {}</td>{}{}<td>{}</td>{}</tr>",
            escape(e.code),
            escape(e.code),
            escape(e.label),
            count("n", e.n),
            figure("estimate", e.estimate, percent(e.estimate)),
            e.ci.map_or("–".to_string(), |(lo, hi)| format!(
                "<span data-figure=\"ci_low\" data-value=\"{lo}\">{}</span> – <span data-figure=\"ci_high\" data-value=\"{hi}\">{}</span>",
                percent(Some(lo)),
                percent(Some(hi))
            )),
            figure("se", e.se, percent(e.se)),
        );
    }
    s.push_str("</tbody></table>");
    s.push_str(&foot());
    s
}

pub fn quality(
    user: &User,
    enumerators: &[EnumeratorRow],
    outliers: &[Outlier],
    (flagged, total): &(Vec<FlaggedCase>, i64),
) -> String {
    let mut s = head("Interview quality", Some(user));
    let _ = write!(
        s,
        "<h2>The flags</h2><dl class=\"note\">\
         <dt>short</dt><dd>A complete interview shorter than {short:.0}% of its enumerator's median duration, or of the survey's.</dd>\
         <dt>fast answers</dt><dd>At least {FAST_MIN} answers, and at least {fast:.0}% of the interview's questions, given sooner after the previous screen than the question can be read out ({WORDS_PER_SECOND} words a second, at least one second).</dd>\
         <dt>many changes</dt><dd>{CHANGED_MIN} or more answers changed or cleared.</dd>\
         <dt>straight-lined grid</dt><dd>Every question of a grid ({GRID_MIN_ITEMS} or more consecutive single-choice questions with the same options) answered with the same option. Often honest (no difficulty in any of the six Washington Group domains), so it is counted per enumerator and tested against the team, not flagged per interview.</dd>\
         <dt>clock jump</dt><dd>Between two events of one sitting, the device's clock moved more than {CLOCK_JUMP_S:.0} seconds apart from the time that passed.</dd>\
         <dt>sensitive sections read aloud</dt><dd>The violence sections were done, but the enumerator recorded that they were read aloud rather than completed by the respondent alone.</dd>\
         <dt>outlying enumerator</dt><dd>An enumerator's share of complete interviews with no incident in any crime screener, its share of refusals among its cases, or its share of complete interviews with a straight-lined grid, against the rest of its team (the same supervisor): two-proportion z-test, flagged when higher than the team's at z ≥ {OUTLIER_Z} with at least {OUTLIER_MIN_N} cases on each side.</dd></dl>",
        short = SHORT_SHARE * 100.0,
        fast = FAST_SHARE * 100.0,
    );
    s.push_str("<h2>Enumerators that stand out from their team</h2>");
    s.push_str(
        "<table class=\"sortable\" data-table=\"outliers\"><thead><tr><th>enumerator</th><th>team</th>\
         <th>rate</th><th>enumerator</th><th>rest of team</th><th>z</th><th>flag</th></tr></thead><tbody>",
    );
    for o in outliers {
        let share = |(x, n): (i64, i64)| format!("{x}/{n} ({:.1}%)", 100.0 * x as f64 / n as f64);
        let _ = write!(
            s,
            "<tr class=\"{}\" data-outlier=\"{}\" data-rate=\"{}\" data-flagged=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>{}<td>{}</td></tr>",
            if o.flagged { "flag" } else { "" },
            escape(&o.enumerator),
            o.rate,
            o.flagged,
            escape(&o.enumerator),
            escape(if o.team.is_empty() { "(none)" } else { &o.team }),
            o.rate,
            share(o.own),
            share(o.rest),
            figure("z", Some(o.z), format!("{:.2}", o.z)),
            if o.flagged { "stands out" } else { "" }
        );
    }
    s.push_str("</tbody></table>");
    s.push_str(
        "<h2>Flags by enumerator</h2><table class=\"sortable\" data-table=\"flags\"><thead><tr>\
         <th>enumerator</th><th>team</th><th>started</th><th>complete</th><th>short</th>\
         <th>fast answers</th><th>many changes</th><th>straight-lined</th><th>clock jump</th>\
         <th>sensitive sections</th><th>read aloud</th></tr></thead><tbody>",
    );
    for r in enumerators {
        let _ = write!(
            s,
            "<tr data-key=\"{}\"><td>{}</td><td>{}</td>{}{}{}{}{}{}{}{}{}</tr>",
            escape(&r.enumerator),
            escape(&r.enumerator),
            escape(&r.team),
            count("started", r.started),
            count("complete", r.complete),
            count("short", r.short),
            count("fast", r.fast),
            count("changed", r.changed),
            count("straight", r.straight),
            count("jumps", r.jumps),
            count("sensitive", r.sensitive),
            count("not_self", r.not_self),
        );
    }
    s.push_str("</tbody></table>");
    let _ = write!(
        s,
        "<h2>Flagged interviews</h2><p class=\"note\" data-figure=\"flagged_total\" data-value=\"{total}\">{total} flagged interviews{}. Case ids only: look the case up with <code>vicor review</code>.</p>",
        if *total > FLAGGED_SHOWN {
            format!(", the {FLAGGED_SHOWN} most recent shown")
        } else {
            String::new()
        }
    );
    s.push_str(
        "<table class=\"sortable\" data-table=\"flagged\"><thead><tr><th>case</th><th>enumerator</th>\
         <th>area</th><th>last event (UTC)</th><th>minutes</th><th>flags</th></tr></thead><tbody>",
    );
    for f in flagged {
        let _ = write!(
            s,
            "<tr data-case=\"{}\"><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td>{}<td>{}</td></tr>",
            escape(&f.case),
            escape(&f.case),
            escape(&f.enumerator),
            escape(&f.area),
            escape(f.end_utc.as_deref().unwrap_or("–")),
            figure(
                "minutes",
                f.duration_s.map(|d| d / 60.0),
                minutes(f.duration_s)
            ),
            escape(&f.reasons.join(", "))
        );
    }
    s.push_str("</tbody></table>");
    s.push_str(&foot());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_names_is_escaped() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }
}
