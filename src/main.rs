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
        Command::Weight(args) => weight(args),
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

/// `vicor weight`: read the plan, the data and the targets, run the plan,
/// write the weighted data and the diagnostics (temporary files renamed at
/// the end, so an error leaves no output behind).
fn weight(args: cli::WeightArgs) -> Outcome {
    use std::collections::HashMap;

    use vicor::weighting::plan::Plan;

    let start = std::time::Instant::now();
    let text = read_text(&args.plan)?;
    let plan = Plan::from_yaml(&text)
        .map_err(|e| Failure::user(miette::miette!("{}: {e}", args.plan.display())))?;
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
            for r in &run.replicates {
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
    let spec = vicor::design::DesignSpec {
        weight: Some(plan.output.weight.clone()),
        replicates,
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
