//! Questionnaires ("instruments"): the YAML model, loading with source spans,
//! the lint behind `vicor validate`, and the expression language.

pub mod expr;
