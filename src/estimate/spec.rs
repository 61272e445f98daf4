//! The estimate spec (`spec.yaml`): which estimates to make. See
//! `docs/estimation.md`.

use serde::{Deserialize, Serialize};

use super::{CiMethod, EstimateError, Statistic};
use crate::analysis_file::{FileError, FileKind};

impl Spec {
    /// Reads a spec and makes the checks that need no data
    /// ([`super::run::check_spec`], the expressions of
    /// [`super::run::spec_columns`]); every mistake names its line, column
    /// and key, a later check at the estimate it is about.
    pub fn from_yaml(text: &str) -> Result<Spec, Box<FileError>> {
        let spec: Spec = crate::analysis_file::from_str(FileKind::Spec, text)?;
        let checked = super::run::check_spec(&spec)
            .and_then(|()| super::run::spec_columns(&spec).map(|_| ()));
        let Err(e) = checked else {
            return Ok(spec);
        };
        let message = e.to_string();
        // The estimate the message names (the later one of a duplicate).
        let index = match &e {
            EstimateError::Variable { name, .. } => {
                spec.estimates.iter().rposition(|x| &x.name == name)
            }
            _ => spec
                .estimates
                .iter()
                .rposition(|x| message.contains(&format!("`{}`", x.name))),
        };
        let located = match index {
            Some(i) => crate::analysis_file::at_item(text, "estimates", i, message.clone()),
            None => crate::analysis_file::at_key(text, "estimates", message.clone()),
        };
        Err(Box::new(
            located.unwrap_or_else(|| FileError::message(message)),
        ))
    }
}

/// `spec.yaml`: a list of estimates.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Free text shown nowhere but kept (e.g. the preset's title).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub estimates: Vec<EstimateSpec>,
}

/// One estimate: exactly one of `mean`, `total`, `proportion`, `ratio`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EstimateSpec {
    pub name: String,
    /// A human label (e.g. "SDG 16.1.3 (a) physical violence").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proportion: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<RatioSpec>,
    #[serde(
        default,
        deserialize_with = "crate::analysis_file::one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub by: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<CiMethod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<f64>,
    /// The ICCS code of the crime type the estimate is about (e.g.
    /// "07031" for bribery), written into each of its rows.
    #[serde(
        default,
        deserialize_with = "iccs_code",
        skip_serializing_if = "Option::is_none"
    )]
    pub iccs: Option<String>,
}

/// An `iccs:` code, checked for form as an instrument's are.
fn iccs_code<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let code = String::deserialize(d)?;
    crate::instrument::iccs::check_code(&code).map_err(serde::de::Error::custom)?;
    Ok(Some(code))
}

/// `ratio: { numerator, denominator }`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RatioSpec {
    pub numerator: String,
    pub denominator: String,
}

/// What an estimate computes, once the spec is checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    Mean(String),
    Total(String),
    Proportion(String),
    Ratio(String, String),
}

impl Target {
    pub fn statistic(&self) -> Statistic {
        match self {
            Target::Mean(_) => Statistic::Mean,
            Target::Total(_) => Statistic::Total,
            Target::Proportion(_) => Statistic::Proportion,
            Target::Ratio(..) => Statistic::Ratio,
        }
    }
}

impl EstimateSpec {
    /// The one statistic this entry asks for.
    pub fn target(&self) -> Result<Target, EstimateError> {
        let mut found = Vec::new();
        if let Some(e) = &self.mean {
            found.push(Target::Mean(e.clone()));
        }
        if let Some(e) = &self.total {
            found.push(Target::Total(e.clone()));
        }
        if let Some(e) = &self.proportion {
            found.push(Target::Proportion(e.clone()));
        }
        if let Some(r) = &self.ratio {
            found.push(Target::Ratio(r.numerator.clone(), r.denominator.clone()));
        }
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(EstimateError::Spec(format!(
                "estimate `{}` needs one of `mean`, `total`, `proportion` or `ratio`",
                self.name
            ))),
            _ => Err(EstimateError::Spec(format!(
                "estimate `{}` gives more than one of `mean`, `total`, `proportion`, `ratio`; split it into separate estimates",
                self.name
            ))),
        }
    }

    /// The CI method: as given, else logit for proportions and Wald otherwise.
    pub fn ci_method(&self) -> CiMethod {
        self.ci.unwrap_or(if self.proportion.is_some() {
            CiMethod::Logit
        } else {
            CiMethod::Wald
        })
    }

    pub fn level(&self) -> f64 {
        self.level.unwrap_or(0.95)
    }
}
