//! Command-line arguments, parsed with clap's derive API.
//!
//! Arguments stay as close to the command line as possible here: no I/O and no
//! building of real objects. `main.rs` turns them into checked jobs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// vicor: interviews, weights and SDG 16 estimates for victimization and
/// corruption surveys.
#[derive(Debug, Parser)]
#[command(name = "vicor", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check instruments and print every problem as file:line:col.
    Validate(ValidateArgs),
    /// Estimate means, totals, proportions and ratios with design-based SEs.
    Estimate(EstimateArgs),
    /// Form replicate weights from a design and write them as columns.
    Replicate(ReplicateArgs),
    /// Make final and replicate weights by a weighting plan.
    Weight(WeightArgs),
}

/// Lint one or more instruments.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Instrument files (YAML) to check.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
}

/// Output formats of `vicor estimate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
}

/// Run estimate specs over microdata with a survey design.
#[derive(Debug, Args)]
pub struct EstimateArgs {
    /// Microdata CSV, one row per respondent.
    #[arg(long, value_name = "CSV")]
    pub data: PathBuf,
    /// Design file (design.yaml): weights, strata, clusters, fpc, replicates.
    #[arg(long, value_name = "DESIGN")]
    pub design: PathBuf,
    /// Estimate spec (spec.yaml), e.g. instruments/indicators/sdg.yaml.
    #[arg(long, value_name = "SPEC")]
    pub spec: PathBuf,
    /// How to print the results.
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
    /// Write the results here instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Replicate-weight methods that can be formed from a design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReplicateType {
    Jk1,
    Jkn,
    Brr,
    Fay,
    Bootstrap,
    /// Rao–Wu rescaled bootstrap (m = n − 1), R's subbootstrap.
    Subbootstrap,
}

/// Form replicate weights as R's as.svrepdesign does.
#[derive(Debug, Args)]
pub struct ReplicateArgs {
    /// Microdata CSV.
    #[arg(long, value_name = "CSV")]
    pub data: PathBuf,
    /// Design file the replicates are formed from.
    #[arg(long, value_name = "DESIGN")]
    pub design: PathBuf,
    /// Replicate method.
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    pub kind: ReplicateType,
    /// Number of replicates (bootstrap only).
    #[arg(long, value_name = "R")]
    pub replicates: Option<usize>,
    /// Seed of the bootstrap draws.
    #[arg(long, value_name = "SEED")]
    pub seed: Option<u64>,
    /// Fay's rho (fay only).
    #[arg(long, value_name = "X")]
    pub rho: Option<f64>,
    /// Output CSV: the input with the replicate columns added.
    #[arg(long, value_name = "CSV")]
    pub out: PathBuf,
    /// Where to write the design file that reads the new columns.
    #[arg(long, value_name = "PATH")]
    pub design_out: PathBuf,
}

/// Run a weighting plan: base weights, household selection, nonresponse,
/// calibration, trimming and replicate weights, in that order.
///
/// The output is the data with the final weight and the replicate weight
/// columns added; the diagnostics of every step are printed and written as
/// JSON. On any error nothing is written.
#[derive(Debug, Args)]
pub struct WeightArgs {
    /// Weighting plan (weights/PLAN.yaml); see docs/weighting.md.
    #[arg(long, value_name = "PLAN")]
    pub plan: PathBuf,
    /// Microdata CSV, one row per sampled unit.
    #[arg(long, value_name = "CSV")]
    pub data: PathBuf,
    /// Output CSV: the input with the weight columns added.
    #[arg(long, value_name = "CSV")]
    pub out: PathBuf,
    /// Where to write the diagnostics (JSON); default OUT with the
    /// extension replaced by `.diagnostics.json`.
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// Write a design file (design.yaml) for the weighted data: the final
    /// weight and, for replicates formed by the plan, their type, scale and
    /// rscales, ready for `vicor estimate`.
    #[arg(long, value_name = "PATH")]
    pub design_out: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command};

    #[test]
    fn weight_parses_its_flags() {
        let cli = Cli::try_parse_from([
            "vicor",
            "weight",
            "--plan",
            "p.yaml",
            "--data",
            "d.csv",
            "--out=o.csv",
        ])
        .expect("valid arguments");
        let Command::Weight(args) = cli.command else {
            panic!("not the weight command");
        };
        assert_eq!(args.plan.to_str(), Some("p.yaml"));
        assert_eq!(args.out.to_str(), Some("o.csv"));
        assert!(args.report.is_none());
        assert!(Cli::try_parse_from(["vicor", "weight", "--plan", "p.yaml"]).is_err());
    }
}
