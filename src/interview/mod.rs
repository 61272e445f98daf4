//! The interview engine: pure and deterministic, no terminal and no SQLite.
//!
//! Given an instrument and the answers so far, [`Interview`] knows the path
//! (every position asked now), the current position, and what each action
//! would change. Actions are prepared into an [`Update`] that the caller
//! commits to the store before applying it, so nothing is shown that is not
//! saved. Time comes in from outside (the interview date), as does the seed
//! of random selections.

pub mod answer;
pub mod engine;
pub use crate::instrument::hash;
pub mod path;
pub mod script;
pub mod select;
pub mod walk;

pub use answer::Answer;
pub use engine::{
    CaseStatus, CompletionProblems, Event, EventKind, Interview, Invalid, Outcome, Refusal, Saved,
    Update,
};
pub use path::{ItemPath, RowKey};

#[cfg(test)]
mod tests;

/// Thousands of generated interviews through each bundled instrument.
#[cfg(test)]
mod random_walk_tests;
