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
    }
}

fn validate(args: cli::ValidateArgs) -> Outcome {
    let _ = args;
    Err(Failure::user(miette::miette!(
        "vicor validate is not built yet"
    )))
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
