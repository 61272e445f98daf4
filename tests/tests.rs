//! One integration binary for the whole crate (see `Cargo.toml`): each module
//! below tests one command or one contract through the real binary.

#[allow(dead_code)]
mod util;

/// The command line itself: help, unknown commands, exit codes.
mod cli;

/// `vicor validate` on bad and hostile instruments.
mod validate;

/// `vicor merge`: stores merged, conflicts reported, keys from the environment.
mod merge;

/// `vicor import-xlsform`: forms imported, validated and run; bad workbooks.
mod xlsform;

/// `vicor run` and `vicor cases`: scripted interviews, encryption, kills.
mod run;

/// The bundled questionnaires validate cleanly.
mod instruments;

/// The real `vicor interview` typed through a pseudo-terminal.
mod tui_pty;

/// Realistic respondents through `vicor run`: SDG numerators and denominators.
mod respondents;

/// `vicor estimate` and `vicor replicate` against R's survey package.
mod estimate;

/// `vicor weight` and the weighting kernels against R.
mod weighting;

/// Design files, estimate specs and weighting plans: bad files, one-name forms.
mod analysis_files;

/// `vicor export`: round trip, generated R script, versions, bad input.
mod export;

/// `vicor export --format`: .dta and .sav read back in R (haven) and PSPP.
mod formats;

/// `vicor simulate` and `vicor demo`: the chain end to end, the report in a browser.
mod demo;

/// `vicor serve` on PostgreSQL and `vicor sync`: fieldwork, roles, faults.
mod server;

/// The monitoring pages of `vicor serve` in a headless browser, with simulated fieldwork.
mod dashboard;
