//! Helpers shared by the integration tests: a temporary directory and a
//! wrapper around the real `vicor` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh temporary directory that is removed when the test ends.
pub struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir {
            tmp: tempfile::tempdir().expect("a temporary directory can be made"),
        }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Path of `name` inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Writes `contents` to `name` and returns its path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("parent directory can be made");
        }
        std::fs::write(&path, contents).expect("test file can be written");
        path
    }
}

/// The crate's root, where `instruments/` and `tests/fixtures/` live.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path under `tests/fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    root().join("tests").join("fixtures").join(rel)
}

/// The real `vicor` binary, ready to take arguments.
pub fn vicor() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vicor"));
    cmd.env("NO_COLOR", "1");
    cmd
}

/// What a finished run of the binary printed, with its exit code.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the command to its end and captures everything.
pub fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("the vicor binary runs");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

impl Run {
    /// Panics with both streams when the exit code is not `want`.
    pub fn assert_code(&self, want: i32) -> &Run {
        assert_eq!(
            self.code, want,
            "exit code {} (wanted {want})\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

/// True when R with the survey package is on this machine. In CI
/// (`VICOR_REQUIRE_R=1`) a missing R is a failure, not a skip.
pub fn have_r_survey() -> bool {
    let ok = Command::new("Rscript")
        .args(["-e", "suppressMessages(library(survey))"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok && std::env::var_os("VICOR_REQUIRE_R").is_some() {
        panic!("VICOR_REQUIRE_R is set but Rscript with the survey package is not available");
    }
    if !ok {
        eprintln!("skipped: Rscript with the R survey package is not installed");
    }
    ok
}

/// True when R with the haven package (Debian's `r-cran-haven`) is on this
/// machine. In CI (`VICOR_REQUIRE_R=1`) a missing haven is a failure.
pub fn have_r_haven() -> bool {
    let ok = Command::new("Rscript")
        .args(["-e", "suppressMessages(library(haven))"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok && std::env::var_os("VICOR_REQUIRE_R").is_some() {
        panic!("VICOR_REQUIRE_R is set but Rscript with the haven package is not available");
    }
    if !ok {
        eprintln!("skipped: Rscript with the R haven package (r-cran-haven) is not installed");
    }
    ok
}

/// True when Python's pyarrow (PyPI) is on this machine. In CI
/// (`VICOR_REQUIRE_PYARROW=1`) a missing pyarrow is a failure.
pub fn have_pyarrow() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import pyarrow.parquet"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok && std::env::var_os("VICOR_REQUIRE_PYARROW").is_some() {
        panic!("VICOR_REQUIRE_PYARROW is set but python3 with pyarrow is not available");
    }
    if !ok {
        eprintln!("skipped: python3 with pyarrow (pip install pyarrow) is not installed");
    }
    ok
}

/// True when GNU PSPP (Debian's `pspp`) is on this machine. In CI
/// (`VICOR_REQUIRE_PSPP=1`) a missing PSPP is a failure, not a skip.
pub fn have_pspp() -> bool {
    let ok = Command::new("pspp")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok && std::env::var_os("VICOR_REQUIRE_PSPP").is_some() {
        panic!("VICOR_REQUIRE_PSPP is set but pspp is not installed");
    }
    if !ok {
        eprintln!("skipped: pspp (GNU PSPP, Debian package pspp) is not installed");
    }
    ok
}

/// The headless browser (Debian's `chromium`), when it is installed. In CI
/// (`VICOR_REQUIRE_BROWSER=1`) a missing browser is a failure, not a skip.
pub fn browser() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let ok = Command::new(name)
                .arg("--version")
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            ok.then(|| PathBuf::from(name))
        });
    if found.is_none() {
        if std::env::var_os("VICOR_REQUIRE_BROWSER").is_some() {
            panic!("VICOR_REQUIRE_BROWSER is set but chromium is not installed");
        }
        eprintln!("skipped: no headless browser (install Debian's chromium)");
    }
    found
}
