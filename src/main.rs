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
    let data = read_table(&args.data)?;
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
    if let Some(clash) = added.iter().find(|c| data.names.contains(c)) {
        return Err(Failure::user(miette::miette!(
            "{}: the data already has a column `{clash}`; choose other names under `output:` in the plan",
            args.data.display()
        )));
    }
    let mut csv_bytes = Vec::new();
    {
        let mut w = csv::Writer::from_writer(&mut csv_bytes);
        let mut header: Vec<&str> = data.names.iter().map(String::as_str).collect();
        header.extend(added.iter().map(String::as_str));
        w.write_record(&header).map_err(internal)?;
        let mut record: Vec<String> = Vec::with_capacity(header.len());
        for i in 0..data.len() {
            record.clear();
            record.extend(data.columns.iter().map(|c| c[i].clone()));
            record.push(run.weights[i].to_string());
            record.extend(run.replicates.iter().map(|r| r[i].to_string()));
            w.write_record(&record).map_err(internal)?;
        }
        w.flush().map_err(internal)?;
    }
    let report = serde_json::json!({
        "plan": args.plan.display().to_string(),
        "rows": data.len(),
        "steps": run.steps,
        "replicates": run.replicate_summary,
    });
    let report_bytes = serde_json::to_vec_pretty(&report).map_err(internal)?;
    let report_path = args
        .report
        .clone()
        .unwrap_or_else(|| args.out.with_extension("diagnostics.json"));
    let out_tmp = write_temp(&args.out, &csv_bytes)?;
    let report_tmp = write_temp(&report_path, &report_bytes).inspect_err(|_| {
        let _ = std::fs::remove_file(&out_tmp);
    })?;
    std::fs::rename(&out_tmp, &args.out)
        .and_then(|()| std::fs::rename(&report_tmp, &report_path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&out_tmp);
            let _ = std::fs::remove_file(&report_tmp);
            Failure::user(miette::miette!(
                "{}: cannot be written: {e}",
                args.out.display()
            ))
        })?;
    print!("{}", diagnostics_table(&run));
    println!(
        "wrote {} ({} rows) and {}",
        args.out.display(),
        data.len(),
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

fn internal(e: impl std::fmt::Display) -> Failure {
    Failure::internal(miette::miette!("{e}"))
}

fn read_text(path: &std::path::Path) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure::user(miette::miette!("{}: cannot be read: {e}", path.display())))
}

/// Reads a CSV into text columns (until the `frame` module serves `weight`).
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
