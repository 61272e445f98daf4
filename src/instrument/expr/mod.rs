//! TEMPORARY stand-in with the agreed API, replaced by the expression
//! language branch when it is merged.
#![allow(dead_code, unused_variables)]

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Bool,
    Int,
    Decimal,
    Text,
    Date,
    Code,
    Codes,
}

pub enum Lookup {
    Value(Type),
    Roster,
    NotFound,
    OutOfScope { roster: String },
}

pub trait TypeEnv {
    fn lookup(&self, name: &str) -> Lookup;
    fn enter_roster(&self, roster: &str) -> Option<Box<dyn TypeEnv + '_>>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    DontKnow,
    Refused,
    Skipped,
    NotAsked,
    Unknown,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Decimal(f64),
    Text(String),
    Date(jiff::civil::Date),
    Codes(Vec<i64>),
    Missing(Missing),
}

pub trait Env {
    fn value(&self, name: &str) -> Value;
    fn rows(&self, roster: &str) -> usize;
    fn row(&self, roster: &str, index: usize) -> Box<dyn Env + '_>;
    fn today(&self) -> jiff::civil::Date;
    fn month_name(&self, month: i8) -> String {
        month.to_string()
    }
}

#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
#[error("stand-in")]
pub struct ExprError;

impl ExprError {
    pub fn span(&self) -> Span {
        Span::default()
    }
}

pub fn parse(source: &str, offset: usize) -> Result<Expr, Vec<ExprError>> {
    Ok(Expr {
        span: Span {
            start: offset,
            end: offset + source.len(),
        },
    })
}

pub fn references(expr: &Expr) -> Vec<(String, Span)> {
    Vec::new()
}

pub fn check(expr: &Expr, env: &dyn TypeEnv) -> Result<Type, Vec<ExprError>> {
    Ok(Type::Bool)
}

pub fn eval(expr: &Expr, env: &dyn Env) -> Value {
    Value::Missing(Missing::Unknown)
}

impl std::fmt::Display for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("expr")
    }
}
