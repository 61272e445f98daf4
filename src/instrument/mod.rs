//! Questionnaires ("instruments"): the YAML model, loading with source spans,
//! the lint behind `vicor validate`, and the expression language.
//!
//! Loading never stops at the first problem: `load` and `check` collect every
//! finding as a [`diag::Diagnostic`], and the binary renders them all.

pub mod check;
pub mod diag;
pub mod expr;
pub mod load;
pub mod model;
pub mod yaml;

pub use model::Instrument;

use std::path::Path;

use crate::instrument::diag::{Diagnostic, Level};
use crate::instrument::model::SourceFile;

/// The outcome of loading and checking an instrument file.
pub struct Validated {
    /// The instrument, when it has no errors (warnings may remain).
    pub instrument: Option<Instrument>,
    /// Every finding, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// The files read, for rendering the diagnostics.
    pub files: Vec<SourceFile>,
}

impl Validated {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.level == Level::Error)
    }

    /// Every diagnostic rendered as `file:line:col: level: message` with
    /// the source line and a caret.
    pub fn render(&self) -> String {
        self.diagnostics
            .iter()
            .map(|d| diag::render(d, &self.files))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Loads an instrument with its modules and runs every check.
pub fn validate(path: &Path) -> Validated {
    finish(load::load_file(path))
}

/// Like [`validate`], from text (tests and benchmarks).
pub fn validate_str(path: &str, text: &str) -> Validated {
    finish(load::load_str(path, text))
}

fn finish(loaded: load::Loaded) -> Validated {
    let mut diagnostics = loaded.diagnostics;
    let mut instrument = loaded.instrument;
    // The semantic checks run even after shape errors, on what loaded, so
    // that one pass of `vicor validate` shows as much as possible.
    if let Some(inst) = &instrument {
        diagnostics.extend(check::check(inst));
    }
    diagnostics.sort_by_key(|d| (d.origin.file, d.origin.span.start, d.level));
    diagnostics.dedup();
    if diagnostics.iter().any(|d| d.level == Level::Error) {
        instrument = None;
    }
    Validated {
        instrument,
        diagnostics,
        files: loaded.files,
    }
}
