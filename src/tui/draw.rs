//! Drawing: reads the [`App`] state, never changes it.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Cell, Clear, Gauge, Paragraph, Row, Table, Wrap};

use crate::instrument::model::ItemKind;
use crate::interview::engine::format_value;
use crate::interview::{Answer, CaseStatus, ItemPath, Outcome};
use crate::tui::app::{App, CaseRow, Popup, ReviewDecision, Screen, SelfCompletion, Tone};
use crate::tui::keys::{self, Action};

/// Draws the whole screen.
pub fn draw(app: &App, frame: &mut Frame) {
    let area = frame.area();
    match app.screen {
        Screen::Cases => cases(app, frame, area),
        Screen::Question => question(app, frame, area),
    }
    if let Some(popup) = &app.popup {
        self::popup(app, popup, frame, area);
    }
}

fn title_line(app: &App) -> Line<'static> {
    let title = app.instrument.title.get(&app.language).to_string();
    let case = app
        .session
        .as_ref()
        .map(|s| format!(" · {}", short(&s.case)))
        .unwrap_or_default();
    Line::from(vec![
        Span::styled("vicor", Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(format!(" · {title}{case} · {}", app.language)),
    ])
}

fn short(id: &str) -> String {
    id.chars().take(8).collect()
}

fn message_line(app: &App) -> Paragraph<'static> {
    let Some((tone, text)) = &app.message else {
        return Paragraph::new("");
    };
    let style = match tone {
        Tone::Info => Style::new().fg(Color::Cyan),
        Tone::Warning => Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        Tone::Error => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
    };
    let mark = match tone {
        Tone::Info => "",
        Tone::Warning => "⚠ ",
        Tone::Error => "✖ ",
    };
    Paragraph::new(Line::styled(format!("{mark}{text}"), style)).wrap(Wrap { trim: true })
}

fn footer(text: String) -> Paragraph<'static> {
    Paragraph::new(Line::styled(
        text,
        Style::new().fg(Color::Black).bg(Color::Gray),
    ))
}

fn status_name(app: &App, status: CaseStatus) -> &'static str {
    let s = app.strings();
    match status {
        CaseStatus::New => s.statuses[0],
        CaseStatus::InProgress => s.statuses[1],
        CaseStatus::Completed => s.statuses[2],
    }
}

fn outcome_name(app: &App, outcome: Outcome) -> &'static str {
    let i = Outcome::ALL.iter().position(|o| *o == outcome).unwrap_or(0);
    app.strings().outcomes[i]
}

fn cases(app: &App, frame: &mut Frame, area: Rect) {
    let t = app.strings();
    let [head, body, msg, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(2),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(title_line(app)), head);
    let block = Block::new().borders(Borders::ALL).title(format!(
        " {} ({}) ",
        t.cases_title,
        app.cases.len()
    ));
    if app.cases.is_empty() {
        frame.render_widget(Paragraph::new(t.no_cases).block(block), body);
    } else {
        let rows = app.cases.iter().enumerate().map(|(i, c)| {
            let style = if i == app.case_selected {
                Style::new().add_modifier(Modifier::REVERSED)
            } else {
                Style::new()
            };
            Row::new(vec![
                Cell::from(short(&c.id)),
                Cell::from(status_name(app, c.status)),
                Cell::from(c.outcome.map(|o| outcome_name(app, o)).unwrap_or("")),
                Cell::from(c.modified.clone()),
                Cell::from(c.enumerator.clone()),
                review_cell(app, c),
            ])
            .style(style)
        });
        let header = Row::new(vec![
            t.col_case,
            t.col_status,
            t.col_outcome,
            t.col_modified,
            t.col_enumerator,
            t.col_review,
        ])
        .style(Style::new().add_modifier(Modifier::BOLD));
        let table = Table::new(
            rows,
            [
                Constraint::Length(9),
                Constraint::Length(12),
                Constraint::Length(12),
                Constraint::Length(20),
                Constraint::Length(12),
                Constraint::Min(8),
            ],
        )
        .header(header)
        .block(block);
        frame.render_widget(table, body);
    }
    match (&app.message, rejection(app)) {
        (None, Some(comment)) => frame.render_widget(
            Paragraph::new(Line::styled(
                format!("⚠ {}: {comment}", t.supervisor_says),
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            ))
            .wrap(Wrap { trim: true }),
            msg,
        ),
        _ => frame.render_widget(message_line(app), msg),
    }
    let lang = &app.language;
    let hints = format!(
        "n {}  Enter {}  o {}  {} {}  {} {}  q {}",
        keys::label(Action::NewCase, lang),
        t.open,
        keys::label(Action::SetOutcome, lang),
        keys::key_of(Action::Language),
        keys::label(Action::Language, lang),
        keys::key_of(Action::Help),
        keys::label(Action::Help, lang),
        keys::label(Action::Quit, lang),
    );
    frame.render_widget(footer(hints), foot);
}

fn review_cell(app: &App, case: &CaseRow) -> Cell<'static> {
    let Some(review) = &case.review else {
        return Cell::from("");
    };
    let names = app.strings().reviews;
    match review.decision {
        ReviewDecision::Pending => Cell::from(names[0]),
        ReviewDecision::Approved => Cell::from(names[1]).style(Style::new().fg(Color::Green)),
        ReviewDecision::Rejected => {
            Cell::from(names[2]).style(Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD))
        }
    }
}

/// The supervisor's comment on the selected case, when it was sent back:
/// shown under the list so the enumerator knows what to redo.
fn rejection(app: &App) -> Option<String> {
    let review = app.cases.get(app.case_selected)?.review.as_ref()?;
    (review.decision == ReviewDecision::Rejected)
        .then(|| review.comment.clone().unwrap_or_default())
}

fn gate(app: &App, frame: &mut Frame, area: Rect, title: &str, text: String) {
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(3)]).areas(area);
    frame.render_widget(Paragraph::new(title_line(app)), head);
    let inner = centered(body, 70, 50);
    let block = Block::new()
        .borders(Borders::ALL)
        .title(format!(" {title} "));
    frame.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: true }).block(block),
        inner,
    );
}

fn question(app: &App, frame: &mut Frame, area: Rect) {
    let Some(s) = app.session.as_ref() else {
        return;
    };
    let t = app.strings();
    match &s.self_completion {
        SelfCompletion::Start(_) => {
            return gate(
                app,
                frame,
                area,
                t.self_start_title,
                t.self_start.to_string(),
            );
        }
        SelfCompletion::Return { typed, .. } => {
            let text = format!("{}\n\n> {}", t.self_end, "*".repeat(typed.chars().count()));
            return gate(app, frame, area, t.self_end_title, text);
        }
        _ => {}
    }
    let private = matches!(s.self_completion, SelfCompletion::Active(_));
    let [head, crumb, gauge, body, msg, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(2),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(title_line(app)), head);
    frame.render_widget(
        Paragraph::new(breadcrumb(app, private)).style(Style::new().fg(Color::Cyan)),
        crumb,
    );
    let progress = s.interview.progress();
    frame.render_widget(
        Gauge::default()
            .gauge_style(Style::new().fg(Color::Green))
            .ratio(progress.clamp(0.0, 1.0))
            .label(format!("{:.0}%", progress * 100.0)),
        gauge,
    );
    frame.render_widget(
        Paragraph::new(question_body(app))
            .wrap(Wrap { trim: false })
            .block(Block::new().borders(Borders::TOP)),
        body,
    );
    frame.render_widget(message_line(app), msg);
    frame.render_widget(footer(keys::question_footer(&app.language, private)), foot);
}

/// "Section › Roster › row label (2 of 5)"; row labels (names) are hidden
/// during self-completion.
fn breadcrumb(app: &App, private: bool) -> String {
    let Some(s) = app.session.as_ref() else {
        return String::new();
    };
    let Some(path) = s.interview.current() else {
        return String::new();
    };
    let mut parts = Vec::new();
    if let Some(section) = app.current_section() {
        parts.push(s.interview.render(&section.title, &[]));
    }
    for (depth, row) in path.rows.iter().enumerate() {
        let Some(roster) = s.interview.roster(&row.roster) else {
            continue;
        };
        let outer = &path.rows[..depth];
        let keys = s.interview.roster_rows(outer, &row.roster);
        let n = keys.len();
        let i = keys
            .iter()
            .position(|k| *k == row.key)
            .map(|i| i + 1)
            .unwrap_or(0);
        let mut label = s.interview.render(&roster.title, outer);
        let inner = &path.rows[..=depth];
        let row_name = match &roster.rows {
            crate::instrument::model::RosterRows::Fixed(choices) => choices
                .iter()
                .find(|c| c.code == row.key)
                .map(|c| s.interview.render(&c.label, outer)),
            crate::instrument::model::RosterRows::List { item, .. } => s
                .interview
                .item(item)
                .and_then(|it| it.kind.options().iter().find(|o| o.code == row.key))
                .map(|o| s.interview.render(&o.label, outer)),
            _ => roster
                .row_label
                .as_ref()
                .map(|l| s.interview.render(l, inner)),
        };
        if private {
            label.push_str(&format!(" ({i}/{n})"));
        } else {
            let name = row_name
                .filter(|n| !n.trim().is_empty() && n != "…")
                .map(|n| format!(": {n}"))
                .unwrap_or_default();
            label.push_str(&format!(" {i}/{n}{name}"));
        }
        parts.push(label);
    }
    parts.join(" › ")
}

fn question_body(app: &App) -> Text<'static> {
    let Some(s) = app.session.as_ref() else {
        return Text::default();
    };
    let t = app.strings();
    let Some(path) = s.interview.current().cloned() else {
        return Text::from(t.all_done);
    };
    let Some(item) = s.interview.item(&path.item) else {
        return Text::default();
    };
    let mut lines: Vec<Line> = Vec::new();
    if let Some(text) = &item.text {
        lines.push(Line::styled(
            s.interview.render(text, &path.rows),
            Style::new().add_modifier(Modifier::BOLD),
        ));
    }
    if let Some(instruction) = &item.instruction {
        lines.push(Line::styled(
            s.interview.render(instruction, &path.rows),
            Style::new().fg(Color::Cyan).add_modifier(Modifier::ITALIC),
        ));
    }
    lines.push(Line::raw(""));
    let answer = s.interview.answer_of(&path).cloned();
    match &item.kind {
        ItemKind::SingleChoice { .. } | ItemKind::MultipleChoice { .. } | ItemKind::YesNo => {
            let multi = matches!(item.kind, ItemKind::MultipleChoice { .. });
            let options: Vec<(i64, String)> = if matches!(item.kind, ItemKind::YesNo) {
                let yes = if app.language == "fr" { "Oui" } else { "Yes" };
                let no = if app.language == "fr" { "Non" } else { "No" };
                vec![(1, yes.to_string()), (2, no.to_string())]
            } else {
                s.interview
                    .visible_options(&path)
                    .iter()
                    .map(|o| (o.code, s.interview.render(&o.label, &path.rows)))
                    .collect()
            };
            for (i, (code, label)) in options.iter().enumerate() {
                let chosen = if multi {
                    s.ticked.contains(code)
                } else {
                    answer == Some(Answer::Int(*code))
                };
                let mark = match (multi, chosen) {
                    (true, true) => "[x]",
                    (true, false) => "[ ]",
                    (false, true) => "(•)",
                    (false, false) => "( )",
                };
                let style = if i == s.highlight {
                    Style::new().add_modifier(Modifier::REVERSED)
                } else {
                    Style::new()
                };
                lines.push(Line::styled(format!(" {mark} {code:>3}  {label}"), style));
            }
            lines.push(Line::styled(
                if multi { t.multi_hint } else { t.select_hint },
                Style::new().fg(Color::DarkGray),
            ));
        }
        ItemKind::Note => lines.push(Line::styled(t.note_hint, Style::new().fg(Color::DarkGray))),
        ItemKind::Random(_) => lines.push(Line::raw(describe_refusal_hint(app))),
        _ => {
            let shown = match &answer {
                Some(a) if s.input.is_empty() => a.to_string(),
                _ => s.input.clone(),
            };
            let format = match item.kind {
                ItemKind::Date { .. } => " (YYYY-MM-DD)",
                _ => "",
            };
            lines.push(Line::from(vec![
                Span::raw(format!("{}{format}: ", t.answer_prompt)),
                Span::styled(
                    format!("{shown}▏"),
                    Style::new().add_modifier(Modifier::UNDERLINED),
                ),
            ]));
        }
    }
    match &answer {
        Some(Answer::DontKnow) => lines.push(Line::styled(
            format!("→ {}", t.dont_know),
            Style::new().fg(Color::Magenta),
        )),
        Some(Answer::Refused) => lines.push(Line::styled(
            format!("→ {}", t.refused),
            Style::new().fg(Color::Magenta),
        )),
        _ => {}
    }
    Text::from(lines)
}

fn describe_refusal_hint(app: &App) -> String {
    crate::tui::strings::refusal(&crate::interview::Refusal::SelectionNotReady, &app.language)
}

fn centered(area: Rect, percent_x: u16, percent_y: u16) -> Rect {
    let w = area.width * percent_x / 100;
    let h = (area.height * percent_y / 100).max(5).min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn popup(app: &App, popup: &Popup, frame: &mut Frame, area: Rect) {
    let t = app.strings();
    let rect = centered(area, 86, 80);
    frame.render_widget(Clear, rect);
    let block = |title: &str| {
        Block::new()
            .borders(Borders::ALL)
            .title(format!(" {title} "))
            .title_bottom(" Esc ")
    };
    match popup {
        Popup::Help => {
            let mut lines = Vec::new();
            let mut seen = Vec::new();
            for b in keys::BINDINGS {
                if seen.contains(&b.action) {
                    continue;
                }
                seen.push(b.action);
                lines.push(Line::raw(format!(
                    "{:>8}  {}",
                    b.shown,
                    keys::label(b.action, &app.language)
                )));
            }
            frame.render_widget(Paragraph::new(lines).block(block(t.help_title)), rect);
        }
        Popup::Contents { selected } => {
            let rows = app
                .contents()
                .into_iter()
                .enumerate()
                .map(|(i, (title, status, _))| {
                    let style = if i == *selected {
                        Style::new().add_modifier(Modifier::REVERSED)
                    } else {
                        Style::new()
                    };
                    Row::new(vec![Cell::from(title), Cell::from(status)]).style(style)
                });
            let table = Table::new(rows, [Constraint::Min(20), Constraint::Length(18)])
                .block(block(t.toc_title));
            frame.render_widget(table, rect);
        }
        Popup::Review { selected } => {
            let entries = app.review_entries();
            let mut lines: Vec<Line> = Vec::new();
            if entries.is_empty() {
                let done = app
                    .session
                    .as_ref()
                    .is_some_and(|s| s.interview.is_completed());
                lines.push(Line::raw(if done { t.completed } else { t.all_done }));
            }
            for (i, (kind, path, message)) in entries.iter().enumerate() {
                let style = if i == *selected {
                    Style::new().add_modifier(Modifier::REVERSED)
                } else {
                    Style::new()
                };
                let text = item_label(app, path);
                let extra = if message.is_empty() {
                    String::new()
                } else {
                    format!(" — {message}")
                };
                lines.push(Line::styled(format!("{kind}: {text}{extra}"), style));
            }
            frame.render_widget(
                Paragraph::new(lines)
                    .wrap(Wrap { trim: true })
                    .block(block(t.review_title)),
                rect,
            );
        }
        Popup::Roster => roster_table(app, frame, rect, block(t.roster_title)),
        Popup::Note { text } => {
            frame.render_widget(
                Paragraph::new(format!("{text}▏"))
                    .wrap(Wrap { trim: false })
                    .block(block(t.note_title)),
                rect,
            );
        }
        Popup::Outcome { selected } => {
            let lines: Vec<Line> = t
                .outcomes
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    let style = if i == *selected {
                        Style::new().add_modifier(Modifier::REVERSED)
                    } else {
                        Style::new()
                    };
                    Line::styled(format!(" {name}"), style)
                })
                .collect();
            frame.render_widget(Paragraph::new(lines).block(block(t.outcome_title)), rect);
        }
        Popup::ConfirmComplete => {
            frame.render_widget(
                Paragraph::new(t.complete_question).block(block(t.confirm_title)),
                centered(area, 60, 30),
            );
        }
        Popup::ConfirmRows { .. } => {
            frame.render_widget(
                Paragraph::new(t.rows_lost_question)
                    .wrap(Wrap { trim: true })
                    .block(block(t.confirm_title)),
                centered(area, 60, 30),
            );
        }
    }
}

/// A short label for an item path in lists: the question text, cut.
fn item_label(app: &App, path: &ItemPath) -> String {
    let Some(s) = app.session.as_ref() else {
        return path.to_string();
    };
    let text = s
        .interview
        .item(&path.item)
        .and_then(|i| i.text.as_ref())
        .map(|t| s.interview.render(t, &path.rows))
        .unwrap_or_else(|| path.item.clone());
    let mut short: String = text.chars().take(48).collect();
    if text.chars().count() > 48 {
        short.push('…');
    }
    let rows: Vec<String> = path.rows.iter().map(|r| r.key.to_string()).collect();
    if rows.is_empty() {
        short
    } else {
        format!("[{}] {short}", rows.join("."))
    }
}

/// One line per row of the roster around the current question.
fn roster_table(app: &App, frame: &mut Frame, rect: Rect, block: Block) {
    let Some(s) = app.session.as_ref() else {
        return;
    };
    let Some(path) = s.interview.current() else {
        return;
    };
    let Some(last) = path.rows.last() else {
        frame.render_widget(Paragraph::new(app.strings().no_roster).block(block), rect);
        return;
    };
    let Some(roster) = s.interview.roster(&last.roster) else {
        return;
    };
    let outer = &path.rows[..path.rows.len() - 1];
    let items: Vec<&str> = roster
        .nodes
        .iter()
        .filter_map(|n| match n {
            crate::instrument::model::Node::Item(i)
                if i.kind.is_question() || matches!(i.kind, ItemKind::Computed { .. }) =>
            {
                Some(i.id.as_str())
            }
            _ => None,
        })
        .take(5)
        .collect();
    let computed = s.interview.computed();
    let header = Row::new(
        std::iter::once("#".to_string())
            .chain(items.iter().map(|i| i.to_string()))
            .collect::<Vec<_>>(),
    )
    .style(Style::new().add_modifier(Modifier::BOLD));
    let rows = s
        .interview
        .roster_rows(outer, &roster.id)
        .into_iter()
        .map(|key| {
            let mut cells = vec![key.to_string()];
            for id in &items {
                let mut rows = outer.to_vec();
                rows.push(crate::interview::RowKey {
                    roster: roster.id.clone(),
                    key,
                });
                let p = ItemPath::new(&rows, id);
                let value = s
                    .interview
                    .answer_of(&p)
                    .map(Answer::to_string)
                    .or_else(|| {
                        computed
                            .iter()
                            .find(|(cp, _)| *cp == p)
                            .map(|(_, v)| format_value(v))
                    })
                    .unwrap_or_default();
                cells.push(value);
            }
            let style = if key == last.key {
                Style::new().add_modifier(Modifier::REVERSED)
            } else {
                Style::new()
            };
            Row::new(cells).style(style)
        });
    let widths = std::iter::once(Constraint::Length(4))
        .chain(items.iter().map(|_| Constraint::Min(8)))
        .collect::<Vec<_>>();
    let title = s.interview.render(&roster.title, outer);
    frame.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(block.title(format!(" {title} "))),
        rect,
    );
}
