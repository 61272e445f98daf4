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
    let design_spec: vicor::design::DesignSpec = read_yaml(&args.design)?;
    let spec: vicor::estimate::spec::Spec = read_yaml(&args.spec)?;
    let spec_err = |e: vicor::estimate::EstimateError| {
        Failure::user(miette::miette!("{}: {e}", args.spec.display()))
    };
    vicor::estimate::run::check_spec(&spec).map_err(spec_err)?;
    let (mut columns, by) = vicor::estimate::run::spec_columns(&spec).map_err(spec_err)?;
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
    let rows = vicor::estimate::run::run(&spec, &design, &frame, &mut |done, total| {
        progress.estimates(done, total)
    })
    .map_err(|e| Failure::user(miette::miette!("{e}")))?;
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

/// Reads and parses a YAML file, naming the file in the error.
fn read_yaml<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::user(miette::miette!("cannot read {}: {e}", path.display())))?;
    serde_saphyr::from_str(&text)
        .map_err(|e| Failure::user(miette::miette!("{}: {e}", path.display())))
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
    let mut design_spec: vicor::design::DesignSpec = read_yaml(&args.design)?;
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
