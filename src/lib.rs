//! vicor: a survey engine for crime-victimization and corruption surveys.
//!
//! The crate is one library with a thin binary on top (`src/main.rs`). The
//! modules follow the flow of the data, from the questionnaire to the published
//! indicator; `docs/` and `../shared/design.md` give the map:
//!
//! - [`instrument`]: questionnaires in YAML, their checks and the expression
//!   language that relevance, checks, fills, computed variables and estimate
//!   specs share.
//! - [`frame`], [`design`], [`estimate`], [`report`]: microdata, the survey
//!   design, design-based estimators and their output.
//! - [`weighting`]: base weights, nonresponse adjustment, calibration,
//!   trimming and re-calibrated replicates, driven by a weighting plan.
//!
//! The statistics modules take slices and return plain structs; nothing in
//! them reads files or prints.

pub mod analysis_file;
pub mod design;
pub mod estimate;
pub mod export;
pub mod frame;
pub mod instrument;
pub mod interview;
pub mod report;
pub mod server;
pub mod simulate;
pub mod store;
pub mod suggest;
pub mod sync;
pub mod tui;
pub mod weighting;
pub mod xlsform;
