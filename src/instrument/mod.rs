//! Questionnaires ("instruments"): the YAML model, loading with source spans,
//! the lint behind `vicor validate`, and the expression language.
//!
//! Loading never stops at the first problem: `load` and `check` collect every
//! finding as a [`diag::Diagnostic`], and the binary renders them all.

pub mod check;
pub mod diag;
pub mod expr;
pub mod hash;
pub mod iccs;
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
///
/// A module file (a `module:` key and no `id:`) cannot be checked alone:
/// its expressions name items of other modules. It is checked inside the
/// first instrument (by file name) in its directory or the one above that
/// includes it, and only the findings in the module itself are kept; so
/// `vicor validate instruments/**/*.yaml` checks every file once.
pub fn validate(path: &Path) -> Validated {
    if is_module(path) {
        return validate_module(path);
    }
    finish(load::load_file(path))
}

/// Whether the file parses as a module: a mapping with `module` and no `id`.
fn is_module(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    let Ok(root) = yaml::parse(&text) else {
        return false;
    };
    let yaml::Value::Map(entries) = &root.value else {
        return false;
    };
    let has = |key: &str| {
        entries
            .iter()
            .any(|(k, _)| k.value == yaml::Value::Str(key.into()))
    };
    has("module") && !has("id")
}

fn validate_module(path: &Path) -> Validated {
    let target = std::fs::canonicalize(path).ok();
    let same = |p: &str| target.is_some() && std::fs::canonicalize(p).ok() == target;
    for candidate in instruments_near(path) {
        let loaded = load::load_file(&candidate);
        if !loaded.files.iter().skip(1).any(|f| same(&f.path)) {
            continue;
        }
        let mut checked = finish(loaded);
        let files = &checked.files;
        checked
            .diagnostics
            .retain(|d| files.get(d.origin.file).is_some_and(|f| same(&f.path)));
        checked.instrument = None;
        return checked;
    }
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let files = vec![SourceFile {
        path: path.display().to_string(),
        text,
    }];
    let diagnostics = vec![
        Diagnostic::warning(
            "vicor::instrument::module_unused",
            model::Origin::default(),
            "this module is not included by any instrument in its directory or the one above, so it was not checked",
        )
        .with_help("validate the instrument that includes it, or include it from one"),
    ];
    Validated {
        instrument: None,
        diagnostics,
        files,
    }
}

/// Instrument files (not modules) in the directory of `path` and the one
/// above, in file-name order.
fn instruments_near(path: &Path) -> Vec<std::path::PathBuf> {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut dirs = vec![dir.clone()];
    if let Some(up) = dir.parent() {
        dirs.push(up.to_path_buf());
    }
    let mut out = Vec::new();
    for d in dirs {
        let shown = if d.as_os_str().is_empty() {
            Path::new(".")
        } else {
            d.as_path()
        };
        let Ok(entries) = std::fs::read_dir(shown) else {
            continue;
        };
        let mut found: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .filter(|p| !is_module(p))
            .collect();
        found.sort();
        out.extend(found);
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    const MAIN: &str = "id: t\nversion: \"1\"\ntitle: T\nlanguages: [en]\nsections:\n  - id: s\n    title: S\n    items:\n      - id: size\n        type: integer\n        text: How many?\n  - include: modules/m.yaml\n";

    fn module(rule: &str) -> String {
        format!(
            "module: m\nsections:\n  - id: m\n    title: M\n    items:\n      - id: twice\n        type: computed\n        value: {rule}\n"
        )
    }

    fn setup(rule: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::create_dir_all(dir.path().join("modules")).expect("modules dir");
        std::fs::write(dir.path().join("main.yaml"), MAIN).expect("main written");
        std::fs::write(dir.path().join("modules/m.yaml"), module(rule)).expect("module written");
        dir
    }

    #[test]
    fn a_module_is_checked_inside_the_instrument_that_includes_it() {
        let dir = setup("size * 2");
        let checked = validate(&dir.path().join("modules/m.yaml"));
        assert!(checked.diagnostics.is_empty(), "{}", checked.render());
    }

    #[test]
    fn a_module_reports_its_own_errors_only() {
        let dir = setup("sise * 2");
        let checked = validate(&dir.path().join("modules/m.yaml"));
        assert!(checked.has_errors());
        assert_eq!(checked.diagnostics.len(), 1, "{}", checked.render());
        assert!(checked.render().contains("m.yaml"), "{}", checked.render());
        assert!(checked.render().contains("sise"), "{}", checked.render());
    }

    #[test]
    fn a_module_nobody_includes_is_a_warning() {
        let dir = setup("size * 2");
        std::fs::remove_file(dir.path().join("main.yaml")).expect("main removed");
        let checked = validate(&dir.path().join("modules/m.yaml"));
        assert!(!checked.has_errors());
        assert_eq!(checked.diagnostics.len(), 1);
        assert_eq!(checked.diagnostics[0].level, Level::Warning);
    }
}
