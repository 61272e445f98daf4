//! The `vicor` binary: parse arguments, run one mode, decide the exit status.
//!
//! Exit status: 0 success, 1 user error (bad input, with a message), 2 internal
//! error (a bug, said as such). Library code never prints or exits; every mode
//! below returns a `Result` and `main` renders the error once.

mod cli;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

/// Why a mode failed: the user's input (exit 1) or a bug (exit 2).
enum Failure {
    User(miette::Report),
    Internal(miette::Report),
}

impl Failure {
    fn user(report: impl Into<miette::Report>) -> Self {
        Failure::User(report.into())
    }

    #[allow(dead_code)]
    fn internal(report: impl Into<miette::Report>) -> Self {
        Failure::Internal(report.into())
    }
}

type Outcome = Result<ExitCode, Failure>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(Failure::User(report)) => {
            eprintln!("{report:?}");
            ExitCode::from(1)
        }
        Err(Failure::Internal(report)) => {
            eprintln!("{report:?}");
            eprintln!("this is a bug in vicor: please report it with the command you ran");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Outcome {
    match cli.command {
        Command::Validate(args) => validate(args),
        Command::Estimate(args) => estimate(args),
        Command::Replicate(args) => replicate(args),
        Command::Merge(args) => merge(args),
    }
}

/// Checks every file and prints every finding; exit 1 when any has errors.
fn validate(args: cli::ValidateArgs) -> Outcome {
    use vicor::instrument::diag::Level;
    let (mut errors, mut warnings) = (0, 0);
    for path in &args.files {
        let checked = vicor::instrument::validate(path);
        let text = checked.render();
        if !text.is_empty() {
            eprintln!("{text}");
        }
        for d in &checked.diagnostics {
            match d.level {
                Level::Error => errors += 1,
                Level::Warning => warnings += 1,
            }
        }
    }
    let files = args.files.len();
    if errors > 0 {
        eprintln!("{errors} error(s), {warnings} warning(s) in {files} file(s)");
        return Ok(ExitCode::from(1));
    }
    println!("ok: {files} file(s), {warnings} warning(s)");
    Ok(ExitCode::SUCCESS)
}

fn estimate(args: cli::EstimateArgs) -> Outcome {
    let _ = args;
    Err(Failure::user(miette::miette!(
        "vicor estimate is not built yet"
    )))
}

fn replicate(args: cli::ReplicateArgs) -> Outcome {
    let _ = args;
    Err(Failure::user(miette::miette!(
        "vicor replicate is not built yet"
    )))
}

fn merge(args: cli::MergeArgs) -> Outcome {
    let key = store_key(args.key_env.as_deref())?;
    let inputs: Vec<&std::path::Path> = args.dbs.iter().map(|p| p.as_path()).collect();
    let report = vicor::store::merge(&args.out, &inputs, key.as_deref()).map_err(store_failure)?;
    print!("{report}");
    if report.conflicts.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "{} conflicting cases were not taken from the inputs: compare the stores named above, then merge again",
        report.conflicts.len()
    );
    Ok(ExitCode::from(1))
}

/// The passphrase of the stores, read from the environment variable named by
/// `--key-env` (never from the command line); `None` without the flag.
fn store_key(key_env: Option<&str>) -> Result<Option<String>, Failure> {
    let Some(var) = key_env else {
        return Ok(None);
    };
    match std::env::var(var) {
        Ok(key) if !key.is_empty() => Ok(Some(key)),
        Ok(_) => Err(Failure::user(miette::miette!(
            "the environment variable {var} is empty: put the store's passphrase in it"
        ))),
        Err(std::env::VarError::NotPresent) => Err(Failure::user(miette::miette!(
            "the environment variable {var} is not set: export {var} with the store's passphrase, or leave out --key-env for an unencrypted store"
        ))),
        Err(std::env::VarError::NotUnicode(_)) => Err(Failure::user(miette::miette!(
            "the environment variable {var} is not valid UTF-8: give the passphrase as UTF-8 text"
        ))),
    }
}

/// A store error is the user's to fix, except an unexpected SQLite failure.
fn store_failure(err: vicor::store::StoreError) -> Failure {
    if err.is_internal() {
        Failure::internal(err)
    } else {
        Failure::user(err)
    }
}
