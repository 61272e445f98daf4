//! The sync protocol's messages, shared by the server and the laptop.
//!
//! JSON over HTTP under `/api/v1`. Every request but login carries
//! `Authorization: Bearer TOKEN`. Errors are a status code and an
//! [`ErrorBody`] whose text says what to do. See `docs/server.md`.

use serde::{Deserialize, Serialize};

use crate::store::sync::{Assignment, CaseCopy, Review};

/// The protocol version; the server refuses a client of another.
pub const PROTOCOL: u32 = 1;

/// The header a client sends its protocol version in.
pub const PROTOCOL_HEADER: &str = "vicor-protocol";

/// Cases per push request: small enough that a dropped connection loses
/// little work, large enough that a sync is a handful of round trips.
pub const PUSH_BATCH: usize = 50;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    pub user: String,
    pub password: String,
    /// A name for the device the token is for (shown when it is revoked).
    pub device: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginResponse {
    pub user: String,
    pub role: String,
    pub token: String,
    pub expires_utc: String,
}

/// An instrument as the server keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstrumentRef {
    pub id: String,
    pub version: String,
    pub hash: String,
}

/// A case as the server holds it, without its rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerCase {
    pub case: String,
    pub revision: i64,
    pub digest: String,
    pub review: Review,
}

/// What the server holds for the user asking: `GET /api/v1/sync`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncState {
    pub user: String,
    pub role: String,
    pub assignments: Vec<Assignment>,
    pub cases: Vec<ServerCase>,
    pub instruments: Vec<InstrumentRef>,
}

/// One case pushed: the whole copy, and the server revision the laptop last
/// agreed with (`None` for a case the server has never acknowledged).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushCase {
    pub base_revision: Option<i64>,
    pub copy: CaseCopy,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushRequest {
    pub cases: Vec<PushCase>,
}

/// What became of one pushed case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushOutcome {
    /// Stored: new, or replacing the revision the laptop had seen.
    Stored,
    /// The server already held exactly this copy (a repeated push).
    Unchanged,
    /// The server's copy changed since the laptop's base revision and the
    /// laptop's copy differs from it: both are kept, a supervisor settles it.
    Conflict,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResult {
    pub case: String,
    pub outcome: PushOutcome,
    /// The server's revision of the case after the push.
    pub revision: i64,
    /// The digest of the server's copy after the push.
    pub digest: String,
    pub review: Review,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushResponse {
    pub results: Vec<PushResult>,
}

/// One household of the sample, as headquarters loads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleRow {
    pub area: String,
    pub household: String,
    pub address: String,
    pub instrument_id: String,
    pub instrument_version: String,
    pub enumerator: String,
    /// Optional columns for fieldwork monitoring: the region code (the
    /// first-stage stratum) and the household's design weight (the inverse
    /// of its selection probability). Older clients leave them out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub design_weight: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SampleRequest {
    /// The file's name, kept in the audit trail.
    pub file: String,
    pub rows: Vec<SampleRow>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SampleResponse {
    /// Households new to the server, each now a case.
    pub created: usize,
    /// Households the server had already, with the same assignment.
    pub unchanged: usize,
    /// Households moved to another enumerator.
    pub reassigned: usize,
}

/// One file of an instrument: the main file first, then its includes, each
/// with its path relative to the main file's folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstrumentFile {
    pub path: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstrumentUpload {
    pub files: Vec<InstrumentFile>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
    /// Settle a conflict by taking the laptop's copy kept beside the server's.
    TakeLaptop,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReviewRequest {
    pub decision: Decision,
    pub comment: Option<String>,
}

/// A case in the supervisor's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewRow {
    pub case: String,
    pub owner: String,
    pub area: Option<String>,
    pub household: Option<String>,
    pub status: String,
    pub outcome: Option<String>,
    pub revision: i64,
    pub review: Review,
    pub conflicts: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

/// `GET /api/v1/cases?after=UUID&limit=N`: a page of the server export.
#[derive(Debug, Clone, Deserialize)]
pub struct Page {
    pub after: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CasePage {
    pub cases: Vec<CaseCopy>,
    /// Give this as `after` for the next page; absent on the last one.
    pub next: Option<String>,
}
