//! The bundled questionnaires under `instruments/`: every file validates
//! with no error and no warning, and the SDG indicator inputs documented in
//! `instruments/README.md` exist as computed variables.

use std::path::{Path, PathBuf};

use crate::util::{root, run, vicor};

/// Every YAML file under `instruments/`, modules included; estimate specs
/// under `instruments/indicators/` are not questionnaires.
fn instrument_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir).expect("instruments/ is readable");
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "indicators") {
                    walk(&path, out);
                }
            } else if path.extension().is_some_and(|e| e == "yaml") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join("instruments"), &mut out);
    out.sort();
    out
}

#[test]
fn every_bundled_instrument_validates_without_warnings() {
    let files = instrument_files();
    for main in ["victimization.yaml", "corruption.yaml", "example.yaml"] {
        assert!(
            files.iter().any(|f| f.ends_with(main)),
            "instruments/{main} is bundled"
        );
    }
    let out = run(vicor().arg("validate").args(&files));
    out.assert_code(0);
    assert!(
        out.stdout
            .contains(&format!("ok: {} file(s), 0 warning(s)", files.len())),
        "validate must be clean:\n{}{}",
        out.stdout,
        out.stderr
    );
    assert!(out.stderr.is_empty(), "no diagnostics:\n{}", out.stderr);
}

#[test]
fn each_main_instrument_validates_alone() {
    for main in ["victimization.yaml", "corruption.yaml", "example.yaml"] {
        let out = run(vicor()
            .arg("validate")
            .arg(root().join("instruments").join(main)));
        out.assert_code(0);
        assert!(
            out.stdout.contains("0 warning(s)") && out.stderr.is_empty(),
            "{main}:\n{}{}",
            out.stdout,
            out.stderr
        );
    }
}
