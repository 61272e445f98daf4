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
            // Diagnostics with a place in a file are rendered by miette;
            // plain messages print as one unwrapped line a script can read.
            if report.labels().is_some() {
                eprintln!("{report:?}");
            } else {
                let top = report.to_string();
                eprintln!("error: {top}");
                for cause in report.chain().skip(1) {
                    let cause = cause.to_string();
                    if !top.contains(&cause) {
                        eprintln!("  caused by: {cause}");
                    }
                }
            }
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
        Command::Interview(args) => interview(args),
        Command::Run(args) => run_script(args),
        Command::Cases(args) => cases(args),
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

/// Loads an instrument, or prints every diagnostic and fails.
fn load_instrument(path: &std::path::Path) -> Result<vicor::instrument::Instrument, Failure> {
    let checked = vicor::instrument::validate(path);
    match checked.instrument {
        Some(instrument) => Ok(instrument),
        None => {
            eprintln!("{}", checked.render().trim_end());
            Err(Failure::user(miette::miette!(
                "the instrument has errors: fix them (vicor validate lists them all)"
            )))
        }
    }
}

fn open_store(args: &cli::StoreArgs) -> Result<vicor::store::Store, Failure> {
    let key = store_key(args.key_env.as_deref())?;
    vicor::store::Store::open(&args.db, key.as_deref()).map_err(store_failure)
}

/// The bundled default instrument: the victimization survey when it is
/// there, else the example.
fn default_instrument() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("instruments");
    let main = root.join("victimization.yaml");
    if main.exists() {
        main
    } else {
        root.join("example.yaml")
    }
}

fn interview(args: cli::InterviewArgs) -> Outcome {
    use vicor::tui::{App, backend::StoreBackend};
    let path = args.file.clone().unwrap_or_else(default_instrument);
    let instrument = load_instrument(&path)?;
    let mut store = open_store(&args.store)?;
    let enumerator = args
        .enumerator
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "enumerator".to_string());
    if let Some(case) = &args.case {
        // Check the case before the screen opens, so a wrong id or a changed
        // instrument is a plain message.
        let id: vicor::store::CaseId = case.parse().map_err(store_failure)?;
        let session = vicor::store::session::CaseSession {
            store: &mut store,
            instrument: &instrument,
            enumerator: enumerator.clone(),
        };
        session.open(&id).map_err(store_failure)?;
    }
    let backend = StoreBackend::new(&mut store, &instrument, &enumerator);
    let mut app = App::new(
        &instrument,
        Box::new(backend),
        &enumerator,
        args.lang.as_deref(),
    );
    if let Some(case) = &args.case {
        app.open_case(case);
    }
    vicor::tui::run(&mut app)
        .map_err(|e| Failure::user(miette::miette!("the terminal failed: {e}")))?;
    Ok(ExitCode::SUCCESS)
}

/// Prints pre-rendered diagnostics and fails with exit 1.
fn print_problems(text: &str, closing: &str) -> Outcome {
    eprintln!("{}", text.trim_end());
    eprintln!("{closing}");
    Ok(ExitCode::from(1))
}

fn run_script(args: cli::RunArgs) -> Outcome {
    use vicor::interview::script::{RunEnd, RunError, Script, drive};
    use vicor::store::session::{self, CaseSession};
    let checked = vicor::instrument::validate(&args.file);
    let Some(instrument) = checked.instrument.as_ref() else {
        return print_problems(
            &checked.render(),
            "the instrument has errors; nothing was stored",
        );
    };
    let text = std::fs::read_to_string(&args.answers).map_err(|e| {
        Failure::user(miette::miette!(
            "cannot read the answers file {}: {e}",
            args.answers.display()
        ))
    })?;
    let script = match Script::parse(instrument, &text) {
        Ok(script) => script,
        Err(diags) => {
            let files = [vicor::instrument::model::SourceFile {
                path: args.answers.display().to_string(),
                text: text.clone(),
            }];
            let rendered: Vec<String> = diags
                .iter()
                .map(|d| vicor::instrument::diag::render(d, &files))
                .collect();
            let closing = format!(
                "the answers file has {} problem(s); nothing was stored",
                diags.len()
            );
            return print_problems(&rendered.join("\n"), &closing);
        }
    };
    let mut store = open_store(&args.store)?;
    let mut session = CaseSession {
        store: &mut store,
        instrument,
        enumerator: args.enumerator.clone(),
    };
    let (id, existing) = match &args.case {
        Some(case) => {
            let id: vicor::store::CaseId = case.parse().map_err(store_failure)?;
            (id, Some(session.open(&id).map_err(store_failure)?))
        }
        None => (vicor::store::CaseId::random(), None),
    };
    let (saved, seed, today) = match &existing {
        Some(r) => (r.saved.clone(), r.seed, r.today),
        None => (
            vicor::interview::Saved::default(),
            session::case_seed(&id),
            jiff::tz::TimeZone::system()
                .to_datetime(jiff::Timestamp::now())
                .date(),
        ),
    };
    // A dry run first, with the case's own seed, so that a refused answer
    // leaves the store exactly as it was.
    let mut dry = vicor::interview::Interview::new(instrument, today, seed, saved.clone());
    let checked_run = drive::<()>(&mut dry, &script, &mut |_, _| Ok(()), &mut |_, _| {});
    if let Err(RunError::Rejected { path, reason }) = checked_run {
        return Err(Failure::user(miette::miette!(
            "the answer to {path} was refused: {reason}; nothing was stored"
        )));
    }
    if existing.is_none() {
        session.create_as(id).map_err(store_failure)?;
    }
    let mut engine = vicor::interview::Interview::new(instrument, today, seed, saved);
    let mut failure = None;
    let end = drive(
        &mut engine,
        &script,
        &mut |_, update| {
            session
                .commit(&id, update)
                .map_err(|e| failure = Some(e.to_string()))?;
            if args.progress {
                // Printed only after the commit returned: what is shown is on disk.
                for (path, answer) in &update.answers {
                    if let Some(a) = answer {
                        println!("saved {path} = {a}");
                    }
                }
            }
            Ok(())
        },
        &mut |path, message| eprintln!("warning: {path}: {message} (confirmed)"),
    );
    match end {
        Ok(RunEnd::Completed) => {
            println!("case {id}: completed");
            Ok(ExitCode::SUCCESS)
        }
        Ok(RunEnd::NeedsAnswer(path)) => {
            let text = engine
                .item(&path.item)
                .and_then(|i| i.text.as_ref())
                .map(|t| engine.render(t, &path.rows))
                .unwrap_or_default();
            session
                .store
                .set_outcome(
                    &id,
                    &vicor::store::Outcome::Partial,
                    &args.enumerator,
                    session::now(),
                )
                .map_err(store_failure)?;
            println!(
                "case {id}: partial; stopped at {path}: the answers file has no answer to \"{text}\""
            );
            Ok(ExitCode::SUCCESS)
        }
        Ok(RunEnd::NotComplete(problems)) => Err(Failure::user(miette::miette!(
            "case {id}: every question is answered but the interview cannot be completed:\n  {}",
            problems.join("\n  ")
        ))),
        Err(RunError::Rejected { path, reason }) => Err(Failure::user(miette::miette!(
            "case {id}: the answer to {path} was refused: {reason}; the case is left at that question"
        ))),
        Err(RunError::Commit(())) => Err(Failure::user(miette::miette!(
            "case {id}: the store could not save the interview: {}",
            failure.unwrap_or_default()
        ))),
    }
}

fn cases(args: cli::CasesArgs) -> Outcome {
    let store = open_store(&args.store)?;
    let cases = store.cases().map_err(store_failure)?;
    println!(
        "{:<36}  {:<16}  {:<11}  {:<11}  {:<12}  modified (UTC)",
        "case", "instrument", "status", "outcome", "enumerator"
    );
    for c in cases {
        println!(
            "{:<36}  {:<16}  {:<11}  {:<11}  {:<12}  {}",
            c.id.to_string(),
            format!("{} {}", c.instrument.id, c.instrument.version),
            c.status.as_str(),
            c.outcome.map(|o| o.to_string()).unwrap_or_default(),
            c.enumerator,
            c.modified_utc.strftime("%Y-%m-%d %H:%M:%S"),
        );
    }
    Ok(ExitCode::SUCCESS)
}
