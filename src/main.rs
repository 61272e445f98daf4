//! The `vicor` binary: parse arguments, run one mode, decide the exit status.
//!
//! Exit status: 0 success, 1 user error (bad input, with a message), 2 internal
//! error (a bug, said as such). Library code never prints or exits; every mode
//! below returns a `Result` and `main` renders the error once.

mod cli;
mod fieldwork;

use std::process::ExitCode;

use clap::Parser;

use vicor::analysis_file::FileKind;

use crate::cli::{Cli, Command};

/// Why a mode failed: the user's input (exit 1) or a bug (exit 2).
pub(crate) enum Failure {
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

pub(crate) type Outcome = Result<ExitCode, Failure>;

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
        Command::ImportXlsform(args) => import_xlsform(args),
        Command::Interview(args) => interview(args),
        Command::Run(args) => run_script(args),
        Command::Cases(args) => cases(args),
        Command::Estimate(args) => estimate(args),
        Command::Replicate(args) => replicate(args),
        Command::Merge(args) => merge(args),
        Command::Export(args) => export(args),
        Command::Weight(args) => weight(args),
        Command::Simulate(args) => simulate(args),
        Command::Demo(args) => demo(args),
        Command::Serve(args) => fieldwork::serve(args),
        Command::Users(args) => fieldwork::users(args),
        Command::Login(args) => fieldwork::login(args),
        Command::Sync(args) => fieldwork::sync(args),
        Command::Publish(args) => fieldwork::publish(args),
        Command::Assign(args) => fieldwork::assign(args),
        Command::Review(args) => fieldwork::review(args),
    }
}

/// Checks every file and prints every finding; exit 1 when any has errors.
fn validate(args: cli::ValidateArgs) -> Outcome {
    use vicor::instrument::diag::Level;
    let (mut errors, mut warnings) = (0, 0);
    for path in &args.files {
        if is_estimate_spec(path) {
            // Estimate specs live beside the instruments (instruments/indicators/),
            // so `vicor validate instruments/**/*.yaml` checks them as specs.
            if let Err(message) = check_estimate_spec(path) {
                eprintln!("{message}");
                errors += 1;
            }
            continue;
        }
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

/// Translates an XLSForm, lists what was not translated, and writes the
/// instrument only when it validates.
fn import_xlsform(args: cli::ImportXlsformArgs) -> Outcome {
    let out_name = args.out.display().to_string();
    let imported = vicor::xlsform::import(&args.form, &out_name)
        .map_err(|e| Failure::user(miette::miette!("{e}")))?;
    let form = args.form.display().to_string();
    for f in &imported.findings {
        eprintln!("warning: {}", f.render(&form));
    }
    vicor::xlsform::write_atomically(&args.out, &imported.yaml).map_err(|e| {
        Failure::user(miette::miette!(
            "cannot write {out_name}: {e}; nothing was written"
        ))
    })?;
    println!(
        "wrote {out_name}: {}; {} cell(s) not translated or adapted (listed above and at the top of the file)",
        imported.summary,
        imported.findings.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Whether the file is an estimate spec: a mapping with `estimates` and
/// neither `id` (an instrument) nor `module`.
fn is_estimate_spec(path: &std::path::Path) -> bool {
    use vicor::instrument::yaml::{self, Value};
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    let Ok(root) = yaml::parse(&text) else {
        return false;
    };
    let Value::Map(entries) = &root.value else {
        return false;
    };
    let has = |key: &str| {
        entries
            .iter()
            .any(|(k, _)| k.value == Value::Str(key.into()))
    };
    has("estimates") && !has("id") && !has("module")
}

/// The checks `vicor estimate` makes of a spec before reading any data, as
/// `path[:line:col]: error: message`.
fn check_estimate_spec(path: &std::path::Path) -> Result<(), String> {
    let named = |e: &dyn std::fmt::Display| format!("{}: error: {e}", path.display());
    let text =
        std::fs::read_to_string(path).map_err(|e| named(&format!("cannot read the file: {e}")))?;
    vicor::estimate::spec::Spec::from_yaml(&text)
        .map_err(|e| format!("{:#}", e.with_path(path.display())))?;
    Ok(())
}

fn estimate(args: cli::EstimateArgs) -> Outcome {
    let design_spec: vicor::design::DesignSpec = read_yaml(&args.design, FileKind::Design)?;
    let spec = vicor::estimate::spec::Spec::from_yaml(&read_text(&args.spec)?)
        .map_err(|e| Failure::user(miette::miette!("{}", e.with_path(args.spec.display()))))?;
    let (mut columns, by) = vicor::estimate::run::spec_columns(&spec)
        .map_err(|e| Failure::user(miette::miette!("{}: {e}", args.spec.display())))?;
    let numeric: std::collections::HashSet<String> = columns.iter().cloned().collect();
    columns.extend(design_spec.columns());
    columns.extend(replicate_prefix_columns(&design_spec, &args.data)?);
    columns.extend(by.iter().cloned());
    let options = vicor::frame::ReadOptions {
        columns: Some(columns),
        text: by.into_iter().filter(|b| !numeric.contains(b)).collect(),
    };
    let mut progress = Progress::new(&args.data);
    let frame = vicor::frame::Frame::read_path(&args.data, &options, &mut |b| progress.bytes(b))
        .map_err(|e| data_error(&args.data, e))?;
    let design = vicor::design::Design::build(&design_spec, &frame)
        .map_err(|e| Failure::user(miette::miette!("{}: {e}", args.design.display())))?;
    let mut rows = vicor::estimate::run::run(&spec, &design, &frame, &mut |done, total| {
        progress.estimates(done, total)
    })
    .map_err(|e| Failure::user(miette::miette!("{e}")))?;
    if let Some(path) = &args.codebook {
        let crime_types = vicor::export::crime_types(&read_text(path)?)
            .map_err(|e| Failure::user(miette::miette!("{}: {e}", path.display())))?;
        vicor::estimate::run::assign_iccs(&mut rows, &crime_types);
    }
    progress.finish();
    let mut buffer: Vec<u8> = Vec::new();
    let written = match args.format {
        cli::OutputFormat::Json => vicor::report::write_json(&mut buffer, &rows),
        cli::OutputFormat::Csv => vicor::report::write_csv(&mut buffer, &rows),
        cli::OutputFormat::Table => vicor::report::write_table(&mut buffer, &rows),
    };
    written.map_err(|e| Failure::internal(miette::miette!("formatting the results: {e}")))?;
    write_output(args.out.as_deref(), &buffer)?;
    Ok(ExitCode::SUCCESS)
}

/// A data-reading error with the file named once.
fn data_error(path: &std::path::Path, e: vicor::frame::FrameError) -> Failure {
    match e {
        vicor::frame::FrameError::Io { .. } => Failure::user(miette::miette!("{e}")),
        e => Failure::user(miette::miette!("{}: {e}", path.display())),
    }
}

/// Reads and parses a design file or estimate spec; an error names the
/// file, line, column and key.
fn read_yaml<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
    kind: FileKind,
) -> Result<T, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::user(miette::miette!("cannot read {}: {e}", path.display())))?;
    vicor::analysis_file::from_str(kind, &text)
        .map_err(|e| Failure::user(miette::miette!("{}", e.with_path(path.display()))))
}

/// Writes to the file, or to standard output (a closed pipe is not an error).
fn write_output(out: Option<&std::path::Path>, bytes: &[u8]) -> Result<(), Failure> {
    use std::io::Write;
    match out {
        Some(path) => std::fs::write(path, bytes)
            .map_err(|e| Failure::user(miette::miette!("cannot write {}: {e}", path.display()))),
        None => {
            let mut stdout = std::io::stdout().lock();
            match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::user(
                    miette::miette!("cannot write to standard output: {e}"),
                )),
                _ => Ok(()),
            }
        }
    }
}

/// Header names that match a replicate `prefix` of the design.
fn replicate_prefix_columns(
    spec: &vicor::design::DesignSpec,
    data: &std::path::Path,
) -> Result<Vec<String>, Failure> {
    let Some(prefix) = spec.replicates.as_ref().and_then(|r| r.prefix.clone()) else {
        return Ok(Vec::new());
    };
    let mut reader = csv::Reader::from_path(data)
        .map_err(|e| Failure::user(miette::miette!("cannot read {}: {e}", data.display())))?;
    let header = reader
        .headers()
        .map_err(|e| Failure::user(miette::miette!("{}: {e}", data.display())))?;
    Ok(header
        .iter()
        .map(|h| h.trim().to_owned())
        .filter(|h| h.starts_with(&prefix) && Some(h) != spec.weight.as_ref())
        .collect())
}

/// A progress bar on standard error, shown only on a terminal and only once
/// a run has lasted more than a second.
struct Progress {
    start: std::time::Instant,
    enabled: bool,
    size: u64,
    drawn: bool,
}

impl Progress {
    fn new(data: &std::path::Path) -> Progress {
        use std::io::IsTerminal;
        Progress {
            start: std::time::Instant::now(),
            enabled: std::io::stderr().is_terminal(),
            size: std::fs::metadata(data).map_or(0, |m| m.len()),
            drawn: false,
        }
    }

    fn draw(&mut self, what: &str, fraction: f64) {
        if !self.enabled || self.start.elapsed() < std::time::Duration::from_secs(1) {
            return;
        }
        let width = 30;
        let filled = ((fraction.clamp(0.0, 1.0)) * width as f64) as usize;
        eprint!(
            "\r{what:<10} [{}{}] {:>3}%",
            "#".repeat(filled),
            " ".repeat(width - filled),
            (fraction * 100.0).round() as u64
        );
        self.drawn = true;
    }

    fn bytes(&mut self, read: u64) {
        let f = if self.size > 0 {
            read as f64 / self.size as f64
        } else {
            0.0
        };
        self.draw("reading", f);
    }

    fn estimates(&mut self, done: usize, total: usize) {
        self.draw("estimating", done as f64 / total.max(1) as f64);
    }

    fn finish(&mut self) {
        if self.drawn {
            eprint!("\r{}\r", " ".repeat(50));
        }
    }
}

fn replicate(args: cli::ReplicateArgs) -> Outcome {
    let mut design_spec: vicor::design::DesignSpec = read_yaml(&args.design, FileKind::Design)?;
    if design_spec.replicates.is_some() {
        return Err(Failure::user(miette::miette!(
            "{}: the design already has `replicates`; vicor replicate forms them from a design without",
            args.design.display()
        )));
    }
    let kind = match args.kind {
        cli::ReplicateType::Jk1 => vicor::design::ReplicateType::Jk1,
        cli::ReplicateType::Jkn => vicor::design::ReplicateType::Jkn,
        cli::ReplicateType::Brr => vicor::design::ReplicateType::Brr,
        cli::ReplicateType::Fay => vicor::design::ReplicateType::Fay,
        cli::ReplicateType::Bootstrap => vicor::design::ReplicateType::Bootstrap,
        cli::ReplicateType::Subbootstrap => vicor::design::ReplicateType::Subbootstrap,
    };
    let options = vicor::frame::ReadOptions {
        columns: Some(design_spec.columns()),
        text: Default::default(),
    };
    let mut progress = Progress::new(&args.data);
    let frame = vicor::frame::Frame::read_path(&args.data, &options, &mut |b| progress.bytes(b))
        .map_err(|e| data_error(&args.data, e))?;
    progress.finish();
    let taylor = vicor::design::Design::build(&design_spec, &frame)
        .map_err(|e| Failure::user(miette::miette!("{}: {e}", args.design.display())))?;
    let form = vicor::design::ReplicatesSpec {
        form: Some(kind),
        rho: args.rho,
        replicates: args.replicates,
        seed: args.seed,
        ..Default::default()
    };
    let rep = vicor::design::replicate::form(&taylor, kind, &form)
        .map_err(|e| Failure::user(miette::miette!("{}: {e}", args.design.display())))?;
    // Copy the input and append the replicate columns.
    let mut reader = csv::Reader::from_path(&args.data)
        .map_err(|e| Failure::user(miette::miette!("cannot read {}: {e}", args.data.display())))?;
    let header = reader
        .byte_headers()
        .map_err(|e| Failure::user(miette::miette!("{}: {e}", args.data.display())))?
        .clone();
    let names: Vec<String> = (1..=rep.n_replicates())
        .map(|r| format!("repw{r}"))
        .collect();
    let weight_name = design_spec
        .weight
        .clone()
        .unwrap_or_else(|| "w_full".to_owned());
    let mut added: Vec<String> = Vec::new();
    if design_spec.weight.is_none() {
        added.push(weight_name.clone());
    }
    added.extend(names.iter().cloned());
    for a in &added {
        if header.iter().any(|h| h == a.as_bytes()) {
            return Err(Failure::user(miette::miette!(
                "{}: the data already have a column `{a}`; rename it before forming replicates",
                args.data.display()
            )));
        }
    }
    let file = std::fs::File::create(&args.out)
        .map_err(|e| Failure::user(miette::miette!("cannot write {}: {e}", args.out.display())))?;
    let mut writer = csv::Writer::from_writer(std::io::BufWriter::new(file));
    let io_err =
        |e: csv::Error| Failure::user(miette::miette!("writing {}: {e}", args.out.display()));
    let mut out_header = header.clone();
    for a in &added {
        out_header.push_field(a.as_bytes());
    }
    writer.write_byte_record(&out_header).map_err(io_err)?;
    let weights = taylor.weights();
    let mut record = csv::ByteRecord::new();
    let mut i = 0usize;
    let mut buf = String::new();
    while reader
        .read_byte_record(&mut record)
        .map_err(|e| Failure::user(miette::miette!("{}: {e}", args.data.display())))?
    {
        if design_spec.weight.is_none() {
            buf.clear();
            buf.push_str(&serde_json::to_string(&weights[i]).unwrap_or_default());
            record.push_field(buf.as_bytes());
        }
        for r in 0..rep.n_replicates() {
            let w = rep.weight(weights, r, i);
            record.push_field(serde_json::to_string(&w).unwrap_or_default().as_bytes());
        }
        writer.write_byte_record(&record).map_err(io_err)?;
        i += 1;
    }
    writer
        .flush()
        .map_err(|e| Failure::user(miette::miette!("writing {}: {e}", args.out.display())))?;
    // The design file that reads the new columns.
    let (kind_out, scale, rscales) = match kind {
        vicor::design::ReplicateType::Jkn => (kind, Some(rep.scale), Some(rep.rscales.clone())),
        vicor::design::ReplicateType::Brr | vicor::design::ReplicateType::Fay => (kind, None, None),
        _ => (kind, Some(rep.scale), None),
    };
    // The written weights carry the design: strata, clusters and fpc are no
    // longer read (as R's svrepdesign).
    design_spec.weight = Some(weight_name);
    design_spec.probability = None;
    design_spec.strata = None;
    design_spec.clusters = Vec::new();
    design_spec.fpc = Vec::new();
    design_spec.nest = false;
    design_spec.lonely_psu = Default::default();
    design_spec.replicates = Some(vicor::design::ReplicatesSpec {
        columns: names,
        kind: Some(kind_out),
        rho: (kind == vicor::design::ReplicateType::Fay).then_some(rep.rho),
        scale,
        rscales,
        mse: Some(rep.mse),
        ..Default::default()
    });
    let yaml = serde_saphyr::to_string(&design_spec)
        .map_err(|e| Failure::internal(miette::miette!("writing the design file: {e}")))?;
    std::fs::write(&args.design_out, yaml).map_err(|e| {
        Failure::user(miette::miette!(
            "cannot write {}: {e}",
            args.design_out.display()
        ))
    })?;
    Ok(ExitCode::SUCCESS)
}

fn merge(args: cli::MergeArgs) -> Outcome {
    let key = store_key(args.key_env.as_deref())?;
    let inputs: Vec<&std::path::Path> = args.dbs.iter().map(|p| p.as_path()).collect();
    // The merged store's cases are replayed as they are packed, for the
    // bundled instruments; cases of others are replayed by the export.
    let replayer = vicor::export::replay::EngineReplayer::shared(bundled_instruments());
    let report = vicor::store::merge_with(&args.out, &inputs, key.as_deref(), Some(replayer))
        .map_err(store_failure)?;
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

/// `vicor export`: match the cases to their instruments, write the folder.
fn export(args: cli::ExportArgs) -> Outcome {
    let instruments = if args.instruments.is_empty() {
        bundled_instruments()
    } else {
        args.instruments
            .iter()
            .map(|p| load_instrument(p))
            .collect::<Result<Vec<_>, _>>()?
    };
    // From the server: its cases go into a private, encrypted temporary
    // store, exported exactly as a laptop's store is.
    let (_download, db, key) = match (&args.server, &args.db) {
        (Some(server), _) => {
            let token_env = args.token_env.as_deref().unwrap_or_default();
            let (dir, key) = fieldwork::download_store(server, token_env, args.ca_cert.as_deref())?;
            let db = dir.path.join("server.db");
            (Some(dir), db, Some(key))
        }
        (None, Some(db)) => (None, db.clone(), store_key(args.key_env.as_deref())?),
        (None, None) => {
            return Err(Failure::user(miette::miette!(
                "give the store with --db PATH, or the server with --server URL"
            )));
        }
    };
    let store = vicor::store::Store::open_read_only(&db, key.as_deref()).map_err(store_failure)?;
    let options = vicor::export::Options {
        include_pii: args.include_pii,
        status: match args.status {
            cli::ExportStatus::Complete => vicor::export::StatusFilter::Complete,
            cli::ExportStatus::All => vicor::export::StatusFilter::All,
        },
        force: args.force,
        formats: args
            .formats
            .iter()
            .map(|f| match f {
                cli::ExportFormat::Csv => vicor::export::Format::Csv,
                cli::ExportFormat::Dta => vicor::export::Format::Dta,
                cli::ExportFormat::Sav => vicor::export::Format::Sav,
                cli::ExportFormat::Parquet => vicor::export::Format::Parquet,
            })
            .collect(),
    };
    let summary =
        vicor::export::export(&store, &instruments, &args.out, &options).map_err(|e| match e {
            vicor::export::ExportError::Store(e) => store_failure(e),
            e => Failure::user(e),
        })?;
    println!(
        "exported {} cases to {}{}",
        summary.cases,
        summary.out.display(),
        if summary.filtered > 0 {
            format!(
                " ({} not completed, left out: --status all exports them)",
                summary.filtered
            )
        } else {
            String::new()
        }
    );
    for (file, rows) in &summary.files {
        println!("  {file:<24} {rows:>9} rows");
    }
    if !summary.left_out.is_empty() {
        println!(
            "personal identifiers left out (--include-pii keeps them): {}",
            summary.left_out.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Every bundled instrument that loads; export matches cases to them by hash.
fn bundled_instruments() -> Vec<vicor::instrument::Instrument> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("instruments");
    ["victimization.yaml", "corruption.yaml", "example.yaml"]
        .iter()
        .filter_map(|f| vicor::instrument::validate(&root.join(f)).instrument)
        .collect()
}

/// The passphrase of the stores, read from the environment variable named by
/// `--key-env` (never from the command line); `None` without the flag.
pub(crate) fn store_key(key_env: Option<&str>) -> Result<Option<String>, Failure> {
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
pub(crate) fn store_failure(err: vicor::store::StoreError) -> Failure {
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

/// Opens the store of a command that interviews with `instrument`: each
/// case is replayed as it is completed, so that an export need not replay
/// it again (`export::replay`).
fn open_interview_store(
    args: &cli::StoreArgs,
    instrument: &vicor::instrument::Instrument,
) -> Result<vicor::store::Store, Failure> {
    let key = store_key(args.key_env.as_deref())?;
    let options = vicor::export::replay::EngineReplayer::store_options(vec![instrument.clone()]);
    vicor::store::Store::open_with(&args.db, key.as_deref(), &options).map_err(store_failure)
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
    let mut store = open_interview_store(&args.store, &instrument)?;
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
    let mut store = open_interview_store(&args.store, instrument)?;
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
    let reviews = store.reviews().map_err(store_failure)?;
    println!(
        "{:<36}  {:<16}  {:<11}  {:<11}  {:<12}  {:<19}  review",
        "case", "instrument", "status", "outcome", "enumerator", "modified (UTC)"
    );
    for c in cases {
        let review = reviews.get(&c.id).map(|r| match &r.comment {
            Some(comment) if r.status == "rejected" => format!("rejected: {comment}"),
            _ => r.status.clone(),
        });
        println!(
            "{:<36}  {:<16}  {:<11}  {:<11}  {:<12}  {:<19}  {}",
            c.id.to_string(),
            format!("{} {}", c.instrument.id, c.instrument.version),
            c.status.as_str(),
            c.outcome.map(|o| o.to_string()).unwrap_or_default(),
            c.enumerator,
            c.modified_utc.strftime("%Y-%m-%d %H:%M:%S"),
            review.unwrap_or_default(),
        );
    }
    Ok(ExitCode::SUCCESS)
}
/// `vicor weight`: read the plan, the data and the targets, run the plan,
/// write the weighted data and the diagnostics (temporary files renamed at
/// the end, so an error leaves no output behind).
fn weight(args: cli::WeightArgs) -> Outcome {
    use std::collections::HashMap;

    use vicor::weighting::plan::Plan;

    let start = std::time::Instant::now();
    let text = read_text(&args.plan)?;
    let plan = Plan::from_yaml(&text).map_err(|e| match e {
        vicor::weighting::WeightingError::File(e) => {
            Failure::user(miette::miette!("{}", e.with_path(args.plan.display())))
        }
        e => Failure::user(miette::miette!("{}: {e}", args.plan.display())),
    })?;
    let options = vicor::frame::ReadOptions {
        columns: None,
        text: plan.text_columns().into_iter().collect(),
    };
    let data = vicor::frame::Frame::read_path(&args.data, &options, &mut |_| {})
        .map_err(|e| Failure::user(miette::miette!("{}: {e}", args.data.display())))?;
    let plan_dir = args
        .plan
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let mut targets = HashMap::new();
    for file in plan.target_files() {
        let table = read_table(&plan_dir.join(&file))?;
        targets.insert(file, table);
    }
    let read_done = std::time::Instant::now();
    let run = plan
        .apply(&data, &targets)
        .map_err(|e| Failure::user(miette::miette!("{}: {e}", args.plan.display())))?;
    let weight_done = std::time::Instant::now();
    let mut added = vec![plan.output.weight.clone()];
    added.extend(run.replicate_names.iter().cloned());
    // For Taylor SEs after calibration, the design file's `calibration:`
    // block reads the weights entering (and leaving) calibration.
    let calibration_columns = match (&args.design_out, &run.calibration_weights) {
        (Some(_), Some((input, calibrated))) if plan.replicates.is_none() => {
            let (a, b) = plan.calibration_columns();
            let mut cols = vec![(a, input)];
            if plan.trimming.is_some() {
                cols.push((b, calibrated));
            }
            cols
        }
        _ => Vec::new(),
    };
    added.extend(calibration_columns.iter().map(|(name, _)| name.clone()));
    if let Some(clash) = added.iter().find(|c| data.names().contains(c)) {
        return Err(Failure::user(miette::miette!(
            "{}: the data already has a column `{clash}`; choose other names under `output:` in the plan",
            args.data.display()
        )));
    }
    // The input is copied record by record, as read, with the new columns.
    let n_rows = data.n_rows();
    drop(data);
    let mut csv_bytes = Vec::new();
    {
        let bad = |e: csv::Error| Failure::user(miette::miette!("{}: {e}", args.data.display()));
        let mut reader = csv::Reader::from_path(&args.data).map_err(bad)?;
        let mut w = csv::Writer::from_writer(&mut csv_bytes);
        let mut header = reader.byte_headers().map_err(bad)?.clone();
        for a in &added {
            header.push_field(a.as_bytes());
        }
        w.write_byte_record(&header).map_err(internal)?;
        let mut record = csv::ByteRecord::new();
        let mut i = 0;
        let mut buf = number_buffer();
        while reader.read_byte_record(&mut record).map_err(bad)? {
            if i >= n_rows {
                return Err(Failure::internal(miette::miette!(
                    "{} changed while it was being weighted",
                    args.data.display()
                )));
            }
            buf.clear();
            use std::fmt::Write as _;
            let _ = write!(buf, "{}", run.weights[i]);
            record.push_field(buf.as_bytes());
            for r in run
                .replicates
                .iter()
                .chain(calibration_columns.iter().map(|(_, v)| *v))
            {
                buf.clear();
                let _ = write!(buf, "{}", r[i]);
                record.push_field(buf.as_bytes());
            }
            w.write_byte_record(&record).map_err(internal)?;
            i += 1;
        }
        w.flush().map_err(internal)?;
    }
    let report = serde_json::json!({
        "plan": args.plan.display().to_string(),
        "rows": n_rows,
        "steps": run.steps,
        "replicates": run.replicate_summary,
    });
    let report_bytes = serde_json::to_vec_pretty(&report).map_err(internal)?;
    let report_path = args
        .report
        .clone()
        .unwrap_or_else(|| args.out.with_extension("diagnostics.json"));
    let design_bytes = match &args.design_out {
        Some(_) => Some(weighted_design(&plan, &run).map_err(internal)?.into_bytes()),
        None => None,
    };
    let design_tmp = match (&args.design_out, &design_bytes) {
        (Some(path), Some(bytes)) => Some(write_temp(path, bytes)?),
        _ => None,
    };
    let out_tmp = write_temp(&args.out, &csv_bytes)?;
    let report_tmp = write_temp(&report_path, &report_bytes).inspect_err(|_| {
        let _ = std::fs::remove_file(&out_tmp);
    })?;
    std::fs::rename(&out_tmp, &args.out)
        .and_then(|()| std::fs::rename(&report_tmp, &report_path))
        .and_then(|()| match (&design_tmp, &args.design_out) {
            (Some(tmp), Some(path)) => std::fs::rename(tmp, path),
            _ => Ok(()),
        })
        .map_err(|e| {
            let _ = std::fs::remove_file(&out_tmp);
            let _ = std::fs::remove_file(&report_tmp);
            if let Some(tmp) = &design_tmp {
                let _ = std::fs::remove_file(tmp);
            }
            Failure::user(miette::miette!(
                "{}: cannot be written: {e}",
                args.out.display()
            ))
        })?;
    print!("{}", diagnostics_table(&run));
    println!(
        "wrote {} ({} rows) and {}",
        args.out.display(),
        n_rows,
        report_path.display()
    );
    // Timings go to stderr so that stdout stays the same from run to run.
    eprintln!(
        "time: read {:.3} s, weighting {:.3} s, write {:.3} s",
        (read_done - start).as_secs_f64(),
        (weight_done - read_done).as_secs_f64(),
        weight_done.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// The design file of the weighted data: its final weight, and the formed
/// replicates with the variance settings of their type.
fn weighted_design(
    plan: &vicor::weighting::plan::Plan,
    run: &vicor::weighting::plan::WeightingRun,
) -> Result<String, serde_saphyr::SerializeError> {
    let replicates = run
        .replicate_design
        .as_ref()
        .map(|r| vicor::design::ReplicatesSpec {
            prefix: Some(plan.output.replicate_prefix.clone()),
            kind: Some(r.kind),
            rho: (r.rho != 0.0).then_some(r.rho),
            scale: Some(r.scale),
            rscales: Some(r.rscales.clone()),
            mse: Some(r.mse),
            ..Default::default()
        });
    let calibration = if plan.replicates.is_none() {
        plan.calibration_design()
    } else {
        None
    };
    let spec = vicor::design::DesignSpec {
        weight: Some(plan.output.weight.clone()),
        replicates,
        calibration,
        ..Default::default()
    };
    Ok(format!(
        "# written by vicor weight: the weighted data's design\n{}",
        serde_saphyr::to_string(&spec)?
    ))
}

fn internal(e: impl std::fmt::Display) -> Failure {
    Failure::internal(miette::miette!("{e}"))
}

fn read_text(path: &std::path::Path) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure::user(miette::miette!("{}: cannot be read: {e}", path.display())))
}

/// A reusable buffer for formatting numbers.
fn number_buffer() -> String {
    String::with_capacity(32)
}

/// Reads a CSV into text columns (the targets tables).
fn read_table(path: &std::path::Path) -> Result<vicor::weighting::plan::Table, Failure> {
    let bad = |e: csv::Error| Failure::user(miette::miette!("{}: {e}", path.display()));
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(bad)?;
    let names: Vec<String> = rdr
        .headers()
        .map_err(bad)?
        .iter()
        .map(str::to_string)
        .collect();
    let mut columns: Vec<Vec<String>> = vec![Vec::new(); names.len()];
    for rec in rdr.records() {
        let rec = rec.map_err(bad)?;
        for (col, v) in columns.iter_mut().zip(rec.iter()) {
            col.push(v.to_string());
        }
    }
    Ok(vicor::weighting::plan::Table { names, columns })
}

/// Writes `bytes` to a temporary file beside `path` and returns its name.
fn write_temp(path: &std::path::Path, bytes: &[u8]) -> Result<std::path::PathBuf, Failure> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Failure::user(miette::miette!(
            "{}: cannot be written: {e}",
            path.display()
        ))
    })?;
    Ok(tmp)
}

/// The diagnostics as a plain-text table, one line per step.
fn diagnostics_table(run: &vicor::weighting::plan::WeightingRun) -> String {
    use std::fmt::Write;

    let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<17} {:>8} {:>14} {:>10} {:>10} {:>9} {:>7} {:>7}  notes",
        "step", "n", "sum", "min", "max", "max/min", "CV", "deff"
    );
    for r in &run.steps {
        let w = &r.weights;
        let mut notes = Vec::new();
        if let Some(it) = r.iterations {
            notes.push(format!("iterations {it}"));
        }
        if let Some(e) = r.max_margin_error {
            notes.push(format!("max margin error {e:.2e}"));
        }
        if let Some(t) = r.trimmed {
            notes.push(format!("trimmed {t}"));
        }
        for c in &r.collapsed {
            notes.push(format!("collapsed {c}"));
        }
        let _ = writeln!(
            s,
            "{:<17} {:>8} {:>14.2} {:>10.4} {:>10.4} {:>9} {:>7} {:>7}  {}",
            r.step,
            w.n,
            w.sum,
            w.min,
            w.max,
            opt(w.ratio),
            opt(w.cv),
            opt(w.deff),
            notes.join("; ")
        );
    }
    if let Some(r) = &run.replicate_summary {
        let _ = writeln!(
            s,
            "replicates: {} re-weighted; at most {} iterations; max margin error {:.2e}; {} trimmed",
            r.count, r.max_iterations, r.max_margin_error, r.trimmed
        );
    }
    s
}

/// The bundled victimization questionnaire, which the simulation answers.
fn victimization() -> Result<vicor::instrument::Instrument, Failure> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("instruments/victimization.yaml");
    load_instrument(&path)
}

fn bundled_text(relative: &str) -> Result<String, Failure> {
    read_text(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(relative))
}

/// The country and sample sizes of `simulate` and `demo`, checked.
fn survey_size(
    size: &cli::SurveySize,
) -> Result<(vicor::simulate::CountrySize, vicor::simulate::SampleSize), Failure> {
    let sample = vicor::simulate::SampleSize {
        areas_per_stratum: size.areas_per_stratum,
        households_per_area: size.households_per_area,
    };
    if size.areas < 100 || sample.areas_per_stratum < 2 || sample.households_per_area < 1 {
        return Err(Failure::user(miette::miette!(
            "the country needs at least 100 areas, and the sample 2 areas per stratum and 1 household per area"
        )));
    }
    Ok((vicor::simulate::CountrySize { areas: size.areas }, sample))
}

fn simulate(args: cli::SimulateArgs) -> Outcome {
    use vicor::simulate::{self, Settings};
    let (country, sample) = survey_size(&args.survey)?;
    if let Some(samples) = args.study {
        if samples < 2 || args.bootstrap_replicates < 2 {
            return Err(Failure::user(miette::miette!(
                "the study needs at least 2 samples and 2 bootstrap replicates (an SD and a variance need two)"
            )));
        }
        if args.out.exists() && !args.force {
            return Err(Failure::user(miette::miette!(
                "{} exists: choose another --out or add --force",
                args.out.display()
            )));
        }
        let plan = vicor::weighting::plan::Plan::from_yaml(&bundled_text("weights/demo.yaml")?)
            .map_err(|e| Failure::user(miette::miette!("weights/demo.yaml: {e}")))?;
        let settings = simulate::study::StudySettings {
            seed: args.survey.seed,
            country,
            sample,
            samples,
            bootstrap_replicates: args.bootstrap_replicates,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let start = std::time::Instant::now();
        let rows = simulate::study::run_study(&settings, &plan, &|done, total| {
            if done % 50 == 0 || done == total {
                eprintln!("  {done}/{total} samples");
            }
        })
        .map_err(Failure::user)?;
        let mut w = csv::Writer::from_path(&args.out)
            .map_err(|e| Failure::user(miette::miette!("{}: {e}", args.out.display())))?;
        for r in &rows {
            w.serialize(r).map_err(internal)?;
        }
        w.flush().map_err(internal)?;
        println!(
            "{:<40} {:<10} {:>9} {:>9} {:>8} {:>15} {:>6} {:>8}",
            "indicator", "method", "truth", "mean", "rel.bias", "coverage", "(wald)", "SE/SD"
        );
        for r in &rows {
            println!(
                "{:<40} {:<10} {:>9.5} {:>9.5} {:>7.2}% {:>6.1}% ({:<5}) {:>5.1}% {:>8.3}",
                r.indicator,
                r.method,
                r.truth,
                r.mean_estimate,
                100.0 * r.relative_bias,
                100.0 * r.coverage,
                r.interval,
                100.0 * r.coverage_wald,
                r.se_ratio
            );
        }
        println!(
            "{} samples in {:.0} s; written to {}",
            settings.samples,
            start.elapsed().as_secs_f64(),
            args.out.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if args.out.exists() {
        let empty = std::fs::read_dir(&args.out)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !empty && !args.force {
            return Err(Failure::user(miette::miette!(
                "{} exists and holds files: choose another --out or add --force",
                args.out.display()
            )));
        }
        if !empty {
            std::fs::remove_dir_all(&args.out).map_err(internal)?;
        }
    }
    std::fs::create_dir_all(args.out.join("census")).map_err(|e| {
        Failure::user(miette::miette!(
            "{}: cannot be created: {e}",
            args.out.display()
        ))
    })?;
    let instrument = victimization()?;
    let settings = Settings {
        seed: args.survey.seed,
        country,
        sample,
        ..Settings::default()
    };
    let db = args.out.join("cases.db");
    let options = vicor::export::replay::EngineReplayer::store_options(vec![instrument.clone()]);
    let mut store = vicor::store::Store::open_with(&db, None, &options).map_err(store_failure)?;
    let start = std::time::Instant::now();
    let survey = simulate::run(&settings, &instrument, &mut store, &mut |done, total| {
        eprint!("\r  {done}/{total} interviews");
    })
    .map_err(|e| match e {
        simulate::SimulateError::Store(e) => store_failure(e),
        simulate::SimulateError::Io { .. } | simulate::SimulateError::Design(_) => Failure::user(e),
        e => Failure::internal(e),
    })?;
    eprintln!();
    simulate::write_sample(&args.out.join("sample.csv"), &survey).map_err(Failure::user)?;
    simulate::write_census(&args.out.join("census"), &survey.country).map_err(Failure::user)?;
    println!(
        "country: {} areas, {} households, {} adults (seed {})",
        survey.country.areas.len(),
        survey.country.households.len(),
        survey.country.adults().count(),
        args.survey.seed
    );
    println!(
        "sample: {} households; {} interviewed into {} in {:.1} s",
        survey.sample.len(),
        survey.cases.iter().flatten().count(),
        db.display(),
        start.elapsed().as_secs_f64()
    );
    println!(
        "wrote {}, census/ (adults by sex, age group and stratum)",
        args.out.join("sample.csv").display()
    );
    println!(
        "next: vicor export --db {} --out {}",
        db.display(),
        args.out.join("export").display()
    );
    Ok(ExitCode::SUCCESS)
}

fn demo(args: cli::DemoArgs) -> Outcome {
    use vicor::simulate::{Settings, demo};
    let start = std::time::Instant::now();
    let instrument = victimization()?;
    let (country, sample) = survey_size(&args.survey)?;
    let settings = Settings {
        seed: args.survey.seed,
        country,
        sample,
        ..Settings::default()
    };
    let plan_path = args.plan.clone().unwrap_or_else(|| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/demo.yaml")
    });
    let plan = read_text(&plan_path)?;
    let spec = bundled_text("instruments/indicators/sdg.yaml")?;
    let result = demo::run(
        &settings,
        &instrument,
        &plan_path,
        &plan,
        &spec,
        &args.out,
        &mut |line| {
            println!("{line}");
        },
    )
    .map_err(|e| match e {
        demo::DemoError::Foreign(_)
        | demo::DemoError::File { .. }
        | demo::DemoError::Analysis(_)
        | demo::DemoError::Simulate(vicor::simulate::SimulateError::Design(_)) => Failure::user(e),
        e => Failure::internal(e),
    })?;
    let report = args.out.join("report.html");
    let html = vicor::report::html::render(&result);
    std::fs::write(&report, html).map_err(internal)?;
    println!();
    println!(
        "{:<58} {:>8} {:>19} {:>8} {:>8}",
        "indicator (whole population)", "estimate", "95% CI (JKn)", "truth", "covered"
    );
    for r in result.rows.iter().take(result.headline) {
        let est = r.taylor.estimate.estimate.unwrap_or(f64::NAN);
        let ci = r.ci();
        let covered = match r.covered() {
            Some(true) => "yes",
            Some(false) => "no",
            None => "",
        };
        println!(
            "{:<58} {:>7.2}% {:>19} {:>7.2}% {:>8}",
            r.label,
            100.0 * est,
            ci.map(|(lo, hi)| format!("[{:.2}%, {:.2}%]", 100.0 * lo, 100.0 * hi))
                .unwrap_or_default(),
            100.0 * r.truth.unwrap_or(f64::NAN),
            covered
        );
    }
    let covered = result
        .rows
        .iter()
        .filter(|r| r.covered() == Some(true))
        .count();
    println!();
    println!(
        "{} of {} estimates (with disaggregations) have the truth inside their 95% JKn interval",
        covered,
        result.rows.iter().filter(|r| r.covered().is_some()).count()
    );
    println!(
        "report: {}   ({:.1} s in all)",
        report.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
