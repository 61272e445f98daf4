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
    /// Translate an XLSForm (.xlsx) into a vicor instrument (YAML).
    ///
    /// The survey, choices and settings sheets are read; what cannot be
    /// translated is listed with its sheet, row and column (see
    /// docs/xlsform.md). The instrument is checked as `vicor validate` would
    /// before it is written, and nothing is written on error.
    #[command(name = "import-xlsform")]
    ImportXlsform(ImportXlsformArgs),
    /// Interview in the terminal, on the bundled instrument or FILE.
    Interview(InterviewArgs),
    /// Run a scripted interview from an answers file, without a screen.
    Run(RunArgs),
    /// List the cases of a store with their status and outcome.
    Cases(CasesArgs),
    /// Estimate means, totals, proportions and ratios with design-based SEs.
    Estimate(EstimateArgs),
    /// Form replicate weights from a design and write them as columns.
    Replicate(ReplicateArgs),
    /// Merge several enumerators' stores into one, reporting conflicts.
    Merge(MergeArgs),
    /// Export microdata CSVs, a codebook and R, Stata and SPSS import scripts.
    Export(ExportArgs),

    /// Make final and replicate weights by a weighting plan.
    Weight(WeightArgs),

    /// Simulate a synthetic country and its survey, or run the coverage study.
    Simulate(SimulateArgs),

    /// Simulate, export, weight and estimate, with the truth beside each estimate.
    Demo(DemoArgs),

    /// Run the central server on PostgreSQL (see docs/server.md).
    Serve(ServeArgs),
    /// Add accounts or revoke their tokens, straight in the server's database.
    Users(UsersArgs),
    /// Log in to the server: keep a device token in the store, or print it.
    Login(LoginArgs),
    /// Pull assignments and reviews from the server, push started cases.
    Sync(SyncArgs),
    /// Headquarters: put instruments on the server.
    Publish(PublishArgs),
    /// Headquarters: load the sample and assign its households.
    Assign(AssignArgs),
    /// Supervisors: list cases, approve them, or reject them with a comment.
    Review(ReviewArgs),
}

/// `vicor serve`: the HTTP(S) server, its store in PostgreSQL.
///
/// The database password, if any, comes from PGPASSWORD, never from the URL.
/// Plain HTTP is served only on a loopback address unless --insecure is said.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// PostgreSQL URL, e.g. postgres://vicor@localhost/vicor (no password).
    #[arg(long, value_name = "URL")]
    pub database: String,
    /// Address and port to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8470")]
    pub listen: std::net::SocketAddr,
    /// Certificate chain (PEM) for HTTPS.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) for HTTPS.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP on a non-loopback address (behind a TLS proxy).
    #[arg(long)]
    pub insecure: bool,
    /// Days a device token stays valid.
    #[arg(long, value_name = "DAYS", default_value_t = 60)]
    pub token_days: u32,
}

#[derive(Debug, Args)]
pub struct UsersArgs {
    /// PostgreSQL URL of the server's database (no password: PGPASSWORD).
    #[arg(long, value_name = "URL", global = true)]
    pub database: Option<String>,
    #[command(subcommand)]
    pub action: UsersAction,
}

#[derive(Debug, Subcommand)]
pub enum UsersAction {
    /// Add an account, or change its role, supervisor and password.
    Add {
        /// The user name.
        name: String,
        #[arg(long, value_enum)]
        role: UserRole,
        /// The enumerator's supervisor (a supervisor account).
        #[arg(long, value_name = "NAME")]
        supervisor: Option<String>,
        /// Environment variable holding the password.
        #[arg(long, value_name = "VAR")]
        password_env: String,
    },
    /// Revoke every token of a user (a lost or stolen laptop).
    Revoke { name: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UserRole {
    Headquarters,
    Supervisor,
    Enumerator,
}

/// How to reach the server as headquarters or a supervisor.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// The server, e.g. https://survey.example.org:8470.
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// Environment variable holding the token `vicor login` printed.
    #[arg(long, value_name = "VAR")]
    pub token_env: String,
    /// CA certificate (PEM) that signed the server's certificate.
    #[arg(long, value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    #[arg(long, value_name = "URL")]
    pub server: String,
    #[arg(long, value_name = "NAME")]
    pub user: String,
    /// Environment variable holding the password.
    #[arg(long, value_name = "VAR")]
    pub password_env: String,
    /// Keep the token in this store (an enumerator's laptop); without it the
    /// token is printed, for headquarters and supervisors to keep.
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Environment variable holding the store's passphrase.
    #[arg(long, value_name = "VAR")]
    pub key_env: Option<String>,
    /// A name for this device, shown in the server's audit trail.
    #[arg(long, value_name = "NAME")]
    pub device: Option<String>,
    #[arg(long, value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The server; default: the one `vicor login` stored.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Folder for the assignments' instruments; default: `instruments`
    /// beside the store.
    #[arg(long, value_name = "DIR")]
    pub instruments: Option<PathBuf>,
    #[arg(long, value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Instruments (YAML) to put on the server.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
}

/// The sample is a CSV with the columns area, household, address,
/// instrument_id, instrument_version and enumerator. Loading it again is
/// harmless; a changed enumerator reassigns a household not yet sent.
#[derive(Debug, Args)]
pub struct AssignArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[arg(value_name = "SAMPLE")]
    pub sample: PathBuf,
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The case to decide on; without it, list the cases to review.
    #[arg(value_name = "CASE")]
    pub case: Option<String>,
    #[arg(long, conflicts_with_all = ["reject", "take_laptop"], requires = "case")]
    pub approve: bool,
    /// Send the case back to the enumerator; needs --comment.
    #[arg(long, requires_all = ["case", "comment"], conflicts_with = "take_laptop")]
    pub reject: bool,
    /// Settle a conflict with the laptop's copy the server kept.
    #[arg(long, requires = "case")]
    pub take_laptop: bool,
    /// What the enumerator should correct (shown in the case list).
    #[arg(long, value_name = "TEXT")]
    pub comment: Option<String>,
}

/// Simulate the demo country: its census, a stratified two-stage sample and
/// the interviews of the responding households, driven through the real
/// engine and questionnaire into a store. With --study, run the coverage
/// study instead. See docs/validation.md.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Output folder (survey) or CSV file (study).
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    #[command(flatten)]
    pub survey: SurveySize,
    /// Run the coverage study with this many independent samples.
    #[arg(long, value_name = "SAMPLES")]
    pub study: Option<usize>,
    /// Bootstrap replicates per sample in the study.
    #[arg(long, default_value_t = 200)]
    pub bootstrap_replicates: usize,
    /// Replace OUT when it exists.
    #[arg(long)]
    pub force: bool,
}

/// The synthetic country and its sample, shared by `simulate` and `demo`.
#[derive(Debug, Args)]
pub struct SurveySize {
    /// Seed of the country, the sample and the interviews.
    #[arg(long, default_value_t = 20_261_126)]
    pub seed: u64,
    /// Enumeration areas in the country.
    #[arg(long, default_value_t = 2_400)]
    pub areas: usize,
    /// Areas drawn per stratum (20 strata: region × urban/rural).
    #[arg(long, default_value_t = 4)]
    pub areas_per_stratum: usize,
    /// Households drawn per area.
    #[arg(long, default_value_t = 10)]
    pub households_per_area: usize,
}

/// The whole chain on the demo country, with an HTML report.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Output folder (store, export, weights, estimates, report.html).
    #[arg(long, value_name = "DIR", default_value = "vicor-demo")]
    pub out: PathBuf,
    #[command(flatten)]
    pub survey: SurveySize,
    /// Weighting plan instead of the bundled weights/demo.yaml; its target
    /// files are made from the census, by file name (sdg_sex.csv,
    /// sdg_age_group.csv, stratum.csv).
    #[arg(long, value_name = "PATH")]
    pub plan: Option<PathBuf>,
}

/// Lint one or more instruments.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Instrument files (YAML) to check.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
}

/// Translate an XLSForm into an instrument.
#[derive(Debug, Args)]
pub struct ImportXlsformArgs {
    /// The XLSForm workbook (.xlsx).
    #[arg(value_name = "FORM.xlsx")]
    pub form: PathBuf,
    /// Where to write the instrument (YAML); replaced only on success.
    #[arg(long, value_name = "INSTRUMENT.yaml")]
    pub out: PathBuf,
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
    /// The export's codebook.json: rows by a crime type get its ICCS code.
    ///
    /// A `by` variable whose options carry ICCS codes in the instrument
    /// (e.g. the incident form's `inc_crime`) gives each of its rows the
    /// code of its value, as `iccs` in JSON and CSV.
    #[arg(long, value_name = "CODEBOOK")]
    pub codebook: Option<PathBuf>,
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

/// Merge interview stores. A case found in several stores is taken once when
/// every copy is identical; differing copies are reported as conflicts and
/// never overwrite each other (the case is left out, or keeps the copy the
/// output already had). Exits 1 when there are conflicts.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The merged store. If it exists, its cases are kept and merged too.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// The stores to merge (read only, never changed).
    #[arg(value_name = "DB", required = true)]
    pub dbs: Vec<PathBuf>,
    /// Environment variable holding the stores' passphrase.
    ///
    /// The passphrase itself never goes on the command line, where other
    /// users and the shell history could read it. All stores and the output
    /// share this key; without the flag they are unencrypted.
    #[arg(long, value_name = "VAR")]
    pub key_env: Option<String>,
}

/// Which cases `vicor export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportStatus {
    /// Completed interviews only.
    Complete,
    /// Every case, whatever its status (a column says which).
    All,
}

/// A file format of `vicor export`'s level files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// One CSV per level, with R, Stata and SPSS import scripts.
    Csv,
    /// Stata .dta (format 118): labels, DK/RF as .a/.b.
    Dta,
    /// SPSS .sav: labels, DK/RF user-missing.
    Sav,
    /// Parquet: labels and DK/RF codes in the file's metadata.
    Parquet,
}

/// Export the store's interviews for analysis: one CSV per level (main,
/// one per roster) keyed by case and roster rows, paradata, durations,
/// codebook.json and codebook.md, import.R, import.do, import.sps and a
/// design.yaml template. See docs/export.md.
///
/// Everything is written into a temporary folder beside OUT and renamed at
/// the end, so an error leaves nothing behind.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The store to export (opened read-only).
    #[arg(long, value_name = "PATH", required_unless_present = "server")]
    pub db: Option<PathBuf>,
    /// Export the cases on the server instead (headquarters: all of them; a
    /// supervisor: its team's), with --token-env.
    #[arg(
        long,
        value_name = "URL",
        conflicts_with = "db",
        requires = "token_env"
    )]
    pub server: Option<String>,
    /// Environment variable holding the token, with --server.
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,
    /// CA certificate (PEM) of the server, with --server.
    #[arg(long, value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,
    /// The output folder; it must not exist or be empty (see --force).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The instrument the cases were interviewed with; repeat it for cases
    /// of several versions. Default: the bundled instruments, matched to the
    /// cases by their content hash.
    #[arg(long = "instrument", value_name = "FILE")]
    pub instruments: Vec<PathBuf>,
    /// Keep items marked `pii` (names, phone numbers), their paradata
    /// values and the enumerators' notes.
    #[arg(long)]
    pub include_pii: bool,
    /// Which cases to export.
    #[arg(long, value_enum, default_value = "complete")]
    pub status: ExportStatus,
    /// The formats of the level files: csv, dta, sav, parquet; several with commas
    /// or by repeating the flag (`--format csv,dta`). Without csv, the
    /// import scripts are not written.
    #[arg(
        long = "format",
        value_name = "FORMAT",
        value_enum,
        value_delimiter = ',',
        default_value = "csv"
    )]
    pub formats: Vec<ExportFormat>,
    /// Replace OUT when it exists and holds files.
    #[arg(long)]
    pub force: bool,
    /// Environment variable holding the store's passphrase.
    #[arg(long, value_name = "VAR")]
    pub key_env: Option<String>,
}

/// Where cases are kept, and how the store is unlocked.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The store (an SQLite file; SQLCipher-encrypted with a key).
    #[arg(long, value_name = "PATH", default_value = "vicor-cases.db")]
    pub db: PathBuf,
    /// Environment variable holding the store's passphrase.
    ///
    /// The passphrase never goes on the command line, where other users and
    /// the shell history could read it. Without the flag the store is not
    /// encrypted.
    #[arg(long, value_name = "VAR")]
    pub key_env: Option<String>,
}

/// The enumerator's terminal interface.
#[derive(Debug, Args)]
pub struct InterviewArgs {
    /// Instrument to interview with; the bundled victimization survey by default.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Who is interviewing (recorded with every event).
    #[arg(long, value_name = "ID")]
    pub enumerator: Option<String>,
    /// Open this case directly, at the question where it was left.
    #[arg(long, value_name = "ID")]
    pub case: Option<String>,
    /// Language of the questionnaire and the interface (e.g. en, fr).
    #[arg(long, value_name = "CODE")]
    pub lang: Option<String>,
}

/// A headless interview driven by an answers file.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Instrument (YAML).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Answers: item ids to values, lists of rows for rosters, dk / rf.
    #[arg(long, value_name = "ANSWERS")]
    pub answers: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Continue this case instead of starting a new one. An answer in the
    /// file that differs from the saved one replaces it (a correction, say
    /// of a case the supervisor sent back); the change is an event.
    #[arg(long, value_name = "ID")]
    pub case: Option<String>,
    /// Who is recorded as the enumerator.
    #[arg(long, value_name = "ID", default_value = "script")]
    pub enumerator: String,
    /// Print each answer once it is saved (`saved PATH = VALUE`).
    #[arg(long)]
    pub progress: bool,
}

/// The case list of a store.
#[derive(Debug, Args)]
pub struct CasesArgs {
    #[command(flatten)]
    pub store: StoreArgs,
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
    /// rscales, ready for `vicor estimate`; without replicates, the
    /// calibration (and the weight entering it, added as a column).
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

    #[test]
    fn export_parses_its_flags() {
        let cli = Cli::try_parse_from([
            "vicor",
            "export",
            "--db",
            "c.db",
            "--out=x",
            "--instrument",
            "a.yaml",
            "--instrument=b.yaml",
            "--status",
            "all",
            "--include-pii",
            "--key-env",
            "K",
        ])
        .expect("valid arguments");
        let Command::Export(args) = cli.command else {
            panic!("not the export command");
        };
        assert_eq!(args.instruments.len(), 2);
        assert_eq!(args.status, super::ExportStatus::All);
        assert!(args.include_pii && !args.force);
        assert_eq!(args.key_env.as_deref(), Some("K"));
        let short = Cli::try_parse_from(["vicor", "export", "--db", "c.db", "--out", "x"])
            .expect("valid arguments");
        let Command::Export(args) = short.command else {
            panic!("not the export command");
        };
        assert_eq!(args.status, super::ExportStatus::Complete);
        assert_eq!(args.formats, [super::ExportFormat::Csv]);
        for spelling in [
            &["--format", "csv,dta,sav"][..],
            &["--format=csv", "--format", "dta,sav"],
            &["--format", "csv", "--format", "dta", "--format=sav"],
        ] {
            let cli = Cli::try_parse_from(
                ["vicor", "export", "--db", "c", "--out", "x"]
                    .iter()
                    .chain(spelling),
            )
            .expect("valid arguments");
            let Command::Export(args) = cli.command else {
                panic!("not the export command");
            };
            use super::ExportFormat::{Csv, Dta, Sav};
            assert_eq!(args.formats, [Csv, Dta, Sav], "{spelling:?}");
        }
        assert!(
            Cli::try_parse_from([
                "vicor", "export", "--db", "c", "--out", "x", "--format", "xlsx"
            ])
            .is_err()
        );
        assert!(Cli::try_parse_from(["vicor", "export", "--db", "c.db"]).is_err());
        assert!(
            Cli::try_parse_from([
                "vicor", "export", "--db", "c", "--out", "x", "--status", "done"
            ])
            .is_err()
        );
    }
}
