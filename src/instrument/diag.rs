//! Diagnostics about instruments: what `vicor validate` prints.
//!
//! The loader and the checker never stop at the first problem: they push
//! every finding into a list of [`Diagnostic`]s, and [`render`] turns each
//! into `file:line:col: error: message` with the source line and a caret, as
//! compilers do. Rendering happens only at the edge (the binary).

use std::fmt::Write;

use crate::instrument::model::{Origin, SourceFile};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warning,
}

/// One finding, located in a source file.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub level: Level,
    /// A stable identifier, e.g. `vicor::instrument::unknown_key`.
    pub code: &'static str,
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
    pub origin: Origin,
}

impl Diagnostic {
    pub fn error(code: &'static str, origin: Origin, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            level: Level::Error,
            code,
            message: message.into(),
            help: None,
            origin,
        }
    }

    pub fn warning(code: &'static str, origin: Origin, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            level: Level::Warning,
            code,
            message: message.into(),
            help: None,
            origin,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = text[line_start..offset].chars().count() + 1;
    (line, column)
}

/// Byte offset of a 1-based line and column.
pub fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    let line_text = &text[start..];
    let line_text = &line_text[..line_text.find('\n').unwrap_or(line_text.len())];
    let within: usize = line_text
        .chars()
        .take(column.saturating_sub(1))
        .map(char::len_utf8)
        .sum();
    start + within
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Renders one diagnostic as `path:line:col: level: message`, the source line
/// and a caret under the span.
pub fn render(diag: &Diagnostic, files: &[SourceFile]) -> String {
    let level = match diag.level {
        Level::Error => "error",
        Level::Warning => "warning",
    };
    let mut out = String::new();
    let Some(file) = files.get(diag.origin.file) else {
        let _ = writeln!(out, "{level}: {}", diag.message);
        return out;
    };
    let (line, column) = line_col(&file.text, diag.origin.span.start);
    let _ = writeln!(
        out,
        "{}:{line}:{column}: {level}: {}",
        file.path, diag.message
    );
    let line_start = offset_of(&file.text, line, 1);
    let rest = &file.text[line_start..];
    let source_line = &rest[..rest.find('\n').unwrap_or(rest.len())];
    let gutter = line.to_string().len();
    let _ = writeln!(out, "{:gutter$} |", "");
    let _ = writeln!(out, "{line} | {}", source_line.trim_end());
    let span_end = diag.origin.span.end.max(diag.origin.span.start);
    let width = file.text[diag.origin.span.start.min(file.text.len())
        ..floor_char_boundary(&file.text, span_end.min(line_start + source_line.len()))]
        .chars()
        .count()
        .max(1);
    let pad: String = source_line
        .chars()
        .take(column - 1)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let _ = writeln!(out, "{:gutter$} | {pad}{}", "", "^".repeat(width));
    if let Some(help) = &diag.help {
        let _ = writeln!(out, "{:gutter$} = help: {help}", "");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrument::yaml::ByteSpan;

    #[test]
    fn line_col_counts_characters() {
        let text = "ab\ncdé f\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 3), (2, 1));
        let f = text.find('f').expect("f is there");
        assert_eq!(line_col(text, f), (2, 5));
        assert_eq!(offset_of(text, 2, 5), f);
    }

    #[test]
    fn render_points_at_the_span() {
        let files = vec![SourceFile {
            path: "q.yaml".into(),
            text: "id: x\nwhen: age > 'a'\n".into(),
        }];
        let start = files[0].text.find("'a'").expect("literal is there");
        let diag = Diagnostic::error(
            "vicor::test",
            Origin {
                file: 0,
                span: ByteSpan {
                    start,
                    end: start + 3,
                },
            },
            "cannot compare a number with text",
        )
        .with_help("compare with a number");
        let text = render(&diag, &files);
        assert_eq!(
            text,
            "q.yaml:2:13: error: cannot compare a number with text\n  |\n2 | when: age > 'a'\n  |             ^^^\n  = help: compare with a number\n"
        );
    }
}
