//! The laptop's side of the central server: `vicor login`, `vicor sync`,
//! and the headquarters and supervisor commands that talk to the server.
//!
//! A sync pulls the enumerator's assignments and the instruments they need,
//! starts a `new` case for each new assignment, takes the supervisors'
//! reviews, and pushes every started case whose rows changed since the
//! server last accepted them, fifty at a time. Each step is one transaction
//! on each side, and every step can be repeated: a sync cut at any byte is
//! finished by running it again, and a second run changes nothing. A case
//! changed on both sides is reported as a conflict; the server keeps both
//! copies and the laptop keeps its own. See `docs/server.md`.
//!
//! This module speaks HTTP (ureq, blocking) and never touches SQLite: the
//! store does that (`store::sync`).

pub mod wire;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::store::sync::{Assignment, CaseCopy, SyncedCase};
use crate::store::{CaseId, NewCase, Store, StoreError};
use wire::*;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SyncError {
    #[error("{url:?} is not a server address: give one like https://survey.example.org:8470")]
    BadUrl { url: String },
    #[error(
        "refusing to send a password or token over plain http to {url}: use https (or a loopback address for a test server)"
    )]
    PlainHttp { url: String },
    #[error(
        "cannot reach the server at {url} ({detail}): check the address and the network, then run the command again; nothing was lost"
    )]
    Unreachable { url: String, detail: String },
    #[error("the server refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error(
        "the server's answer could not be read ({detail}): is {url} a vicor server of the same release?"
    )]
    Protocol { url: String, detail: String },
    #[error("cannot read the CA certificate {path}: {detail}")]
    CaCert { path: PathBuf, detail: String },
    #[error("this store has no token for the server: run `vicor login --db …` first")]
    NoToken,
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Other(String),
}

impl SyncError {
    /// The HTTP status the server answered with, if it did.
    pub fn status(&self) -> Option<u16> {
        match self {
            SyncError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// An HTTP connection to the server, with or without a token.
pub struct Client {
    base: String,
    agent: ureq::Agent,
    token: Option<String>,
}

impl Client {
    /// A client for `server`; `ca_cert` is a PEM file of the certificate
    /// authority that signed the server's certificate, when it is not one
    /// of the public ones.
    pub fn new(server: &str, ca_cert: Option<&Path>) -> Result<Client, SyncError> {
        let base = server.trim_end_matches('/').to_string();
        let rest = if let Some(rest) = base.strip_prefix("https://") {
            rest
        } else if let Some(rest) = base.strip_prefix("http://") {
            let host = rest.split(['/', ':']).next().unwrap_or_default();
            let loopback = host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
                || rest.starts_with("[::1]");
            if !loopback {
                return Err(SyncError::PlainHttp { url: base });
            }
            rest
        } else {
            return Err(SyncError::BadUrl { url: base });
        };
        if rest.is_empty() || rest.starts_with('/') {
            return Err(SyncError::BadUrl { url: base });
        }
        let mut tls = ureq::tls::TlsConfig::builder().provider(ureq::tls::TlsProvider::Rustls);
        if let Some(path) = ca_cert {
            let bad = |detail: String| SyncError::CaCert {
                path: path.to_path_buf(),
                detail,
            };
            let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
            let mut certs = Vec::new();
            for item in ureq::tls::parse_pem(&pem) {
                if let ureq::tls::PemItem::Certificate(c) = item.map_err(|e| bad(e.to_string()))? {
                    certs.push(c);
                }
            }
            if certs.is_empty() {
                return Err(bad("no certificate in the file".to_string()));
            }
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(300)))
            .tls_config(tls.build())
            .build()
            .new_agent();
        Ok(Client {
            base,
            agent,
            token: None,
        })
    }

    pub fn with_token(mut self, token: String) -> Client {
        self.token = Some(token);
        self
    }

    pub fn server(&self) -> &str {
        &self.base
    }

    fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, SyncError> {
        let url = format!("{}{path}", self.base);
        let unreachable = |e: ureq::Error| SyncError::Unreachable {
            url: self.base.clone(),
            detail: e.to_string(),
        };
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut response = match (method, body) {
            ("GET", _) => {
                let mut r = self
                    .agent
                    .get(&url)
                    .header(PROTOCOL_HEADER, PROTOCOL.to_string());
                if let Some(a) = &auth {
                    r = r.header("authorization", a);
                }
                r.call().map_err(unreachable)?
            }
            (_, body) => {
                let mut r = self
                    .agent
                    .post(&url)
                    .header(PROTOCOL_HEADER, PROTOCOL.to_string());
                if let Some(a) = &auth {
                    r = r.header("authorization", a);
                }
                match body {
                    Some(b) => r.send_json(b).map_err(unreachable)?,
                    None => r.send_empty().map_err(unreachable)?,
                }
            }
        };
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_string()
            .map_err(unreachable)?;
        if !(200..300).contains(&status) {
            let message = serde_json::from_str::<ErrorBody>(&body)
                .map(|e| e.error)
                .unwrap_or_else(|_| format!("{} from {url}", body.trim()));
            return Err(SyncError::Refused { status, message });
        }
        serde_json::from_str(&body).map_err(|e| SyncError::Protocol {
            url: self.base.clone(),
            detail: e.to_string(),
        })
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, SyncError> {
        self.call::<(), T>("GET", path, None)
    }

    fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, SyncError> {
        self.call("POST", path, Some(body))
    }

    pub fn login(
        &self,
        user: &str,
        password: &str,
        device: &str,
    ) -> Result<LoginResponse, SyncError> {
        self.post(
            "/api/v1/login",
            &LoginRequest {
                user: user.to_string(),
                password: password.to_string(),
                device: device.to_string(),
            },
        )
    }

    pub fn state(&self) -> Result<SyncState, SyncError> {
        self.get("/api/v1/sync")
    }

    pub fn instrument(&self, id: &str, version: &str) -> Result<Vec<InstrumentFile>, SyncError> {
        let up: InstrumentUpload = self.get(&format!("/api/v1/instruments/{id}/{version}"))?;
        Ok(up.files)
    }

    pub fn publish(&self, files: Vec<InstrumentFile>) -> Result<InstrumentRef, SyncError> {
        self.post("/api/v1/instruments", &InstrumentUpload { files })
    }

    pub fn load_sample(&self, request: &SampleRequest) -> Result<SampleResponse, SyncError> {
        self.post("/api/v1/sample", request)
    }

    pub fn push(&self, cases: Vec<PushCase>) -> Result<PushResponse, SyncError> {
        self.post("/api/v1/push", &PushRequest { cases })
    }

    pub fn case(&self, uuid: &str) -> Result<CaseCopy, SyncError> {
        self.get(&format!("/api/v1/cases/{uuid}"))
    }

    /// Every case this user may export, page by page.
    pub fn all_cases(&self) -> Result<Vec<CaseCopy>, SyncError> {
        let mut out = Vec::new();
        let mut after = String::new();
        loop {
            let page: CasePage = self.get(&format!("/api/v1/cases?after={after}&limit=500"))?;
            out.extend(page.cases);
            match page.next {
                Some(next) => after = next,
                None => return Ok(out),
            }
        }
    }

    pub fn review_list(&self) -> Result<Vec<ReviewRow>, SyncError> {
        self.get("/api/v1/review")
    }

    pub fn review(&self, case: &str, request: &ReviewRequest) -> Result<ServerCase, SyncError> {
        self.post(&format!("/api/v1/cases/{case}/review"), request)
    }

    pub fn revoke(&self, user: &str) -> Result<serde_json::Value, SyncError> {
        self.call::<(), _>("POST", &format!("/api/v1/users/{user}/revoke"), None)
    }
}

/// The `sync_meta` key of the device token.
pub const TOKEN_KEY: &str = "token";
/// The `sync_meta` key of the server address the token is for.
pub const SERVER_KEY: &str = "server";
pub const USER_KEY: &str = "user";

/// What a sync did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    pub user: String,
    pub instruments_fetched: Vec<String>,
    pub assignments: usize,
    pub cases_started: usize,
    pub pushed: usize,
    pub unchanged: usize,
    pub restored: usize,
    pub reviews: usize,
    /// Cases changed both here and on the server: reported, both kept.
    pub conflicts: Vec<String>,
    /// Cases the supervisor sent back, with the comment.
    pub rejected: Vec<(String, String)>,
}

impl fmt::Display for SyncReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for i in &self.instruments_fetched {
            writeln!(f, "fetched instrument {i}")?;
        }
        writeln!(
            f,
            "{} assignments ({} new cases); pushed {} cases ({} already on the server); {} restored from the server; {} reviews updated",
            self.assignments,
            self.cases_started,
            self.pushed,
            self.unchanged,
            self.restored,
            self.reviews
        )?;
        for (case, comment) in &self.rejected {
            writeln!(f, "rejected by the supervisor: case {case}: {comment}")?;
        }
        for case in &self.conflicts {
            writeln!(
                f,
                "conflict: case {case} was changed here and on the server; both copies are kept; ask your supervisor to settle it"
            )?;
        }
        Ok(())
    }
}

fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The folder a synced instrument's files are kept in.
pub fn instrument_dir(dir: &Path, id: &str, version: &str) -> PathBuf {
    dir.join(format!("{}-{}", clean(id), clean(version)))
}

/// The files of a loaded instrument, with paths relative to the main
/// file's folder, to publish. An include from outside that folder is
/// refused: on the laptop it would have nowhere to go.
pub fn bundle(instrument: &crate::instrument::Instrument) -> Result<Vec<InstrumentFile>, String> {
    let Some(main) = instrument.files.first() else {
        return Err("the instrument has no files".to_string());
    };
    let main_path = Path::new(&main.path);
    let base = main_path.parent().unwrap_or(Path::new(""));
    let mut out: Vec<InstrumentFile> = Vec::new();
    for (i, f) in instrument.files.iter().enumerate() {
        let rel = if i == 0 {
            main_path
                .file_name()
                .map(PathBuf::from)
                .ok_or_else(|| format!("{} has no file name", main.path))?
        } else {
            Path::new(&f.path)
                .strip_prefix(base)
                .map(Path::to_path_buf)
                .map_err(|_| {
                    format!(
                        "{} is included from outside the instrument's folder {}: move it under that folder",
                        f.path,
                        base.display()
                    )
                })?
        };
        let rel = rel.to_string_lossy().into_owned();
        if !out.iter().any(|o| o.path == rel) {
            out.push(InstrumentFile {
                path: rel,
                text: f.text.clone(),
            });
        }
    }
    Ok(out)
}

/// Writes an instrument's files under `dir`, each atomically; returns the
/// main file. Paths that would leave `dir` are refused.
pub fn write_bundle(dir: &Path, files: &[InstrumentFile]) -> Result<PathBuf, SyncError> {
    use std::path::Component;
    let Some(main) = files.first() else {
        return Err(SyncError::Other("an instrument without files".to_string()));
    };
    for f in files {
        let p = Path::new(&f.path);
        if f.path.is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(SyncError::Other(format!(
                "the instrument file path {:?} leaves its folder: refused",
                f.path
            )));
        }
        write_atomically(&dir.join(p), &f.text)?;
    }
    Ok(dir.join(&main.path))
}

/// Writes `text` to `path` through a temporary file and a rename, so that a
/// cut leaves the old file or the new one, never half of one.
fn write_atomically(path: &Path, text: &str) -> Result<(), SyncError> {
    let io = |e: std::io::Error| SyncError::Other(format!("cannot write {}: {e}", path.display()));
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = dir.join(format!(
        ".{}.part",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(text.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)
}

/// Pulls, then pushes; see the module docs. `instruments` is the folder
/// the assignments' questionnaires are kept in.
pub fn sync(
    store: &mut Store,
    client: &Client,
    instruments: &Path,
) -> Result<SyncReport, SyncError> {
    let state = client.state()?;
    let mut report = SyncReport {
        user: state.user.clone(),
        assignments: state.assignments.len(),
        ..SyncReport::default()
    };

    // Instruments first: a case is started only with its questionnaire here.
    let mut hashes: BTreeMap<(String, String), String> = BTreeMap::new();
    for i in &state.instruments {
        let folder = instrument_dir(instruments, &i.id, &i.version);
        let loaded_hash =
            |main: &Path| crate::instrument::validate(main).instrument.map(|x| x.hash);
        let have = std::fs::read_dir(&folder).ok().and_then(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
                .find_map(|p| (loaded_hash(&p).as_deref() == Some(i.hash.as_str())).then_some(p))
        });
        if have.is_none() {
            let files = client.instrument(&i.id, &i.version)?;
            let main = write_bundle(&folder, &files)?;
            if loaded_hash(&main).as_deref() != Some(i.hash.as_str()) {
                return Err(SyncError::Other(format!(
                    "the server sent instrument {} version {} with other content than it announced: tell headquarters",
                    i.id, i.version
                )));
            }
            report.instruments_fetched.push(format!(
                "{} {} -> {}",
                i.id,
                i.version,
                main.display()
            ));
        }
        hashes.insert((i.id.clone(), i.version.clone()), i.hash.clone());
    }
    let now = jiff::Timestamp::now();
    let mut take: Vec<(Assignment, NewCase)> = Vec::new();
    for a in &state.assignments {
        let Some(hash) = hashes.get(&(a.instrument_id.clone(), a.instrument_version.clone()))
        else {
            return Err(SyncError::Other(format!(
                "the server assigned case {} with instrument {} version {}, which it does not hold: tell headquarters",
                a.case, a.instrument_id, a.instrument_version
            )));
        };
        take.push((
            a.clone(),
            NewCase {
                instrument_id: a.instrument_id.clone(),
                instrument_version: a.instrument_version.clone(),
                instrument_hash: hash.clone(),
                enumerator: state.user.clone(),
                created_utc: now,
            },
        ));
    }
    report.cases_started = store.take_assignments(&take)?;

    // Reviews and copies the server holds.
    // Each copy with its digest, computed once: hashing re-serialises it.
    let local: BTreeMap<String, (CaseCopy, String)> = store
        .case_copies(None)?
        .into_iter()
        .map(|c| {
            let digest = c.digest();
            (c.uuid.clone(), (c, digest))
        })
        .collect();
    let mut synced = store.synced_cases()?;
    let mut updates: Vec<(CaseId, SyncedCase)> = Vec::new();
    let mut restore: Vec<CaseCopy> = Vec::new();
    for server in &state.cases {
        let id: CaseId = server.case.parse()?;
        let mut s = synced.get(&id).cloned().unwrap_or_default();
        let Some((_, digest)) = local.get(&server.case) else {
            // The server has a case this laptop lost (a reinstalled laptop).
            let copy = client.case(&server.case)?;
            if copy.digest() == server.digest {
                restore.push(copy);
                s.server_revision = Some(server.revision);
                s.pushed_digest = Some(server.digest.clone());
                s.review = Some(server.review.clone());
                updates.push((id, s));
            }
            continue;
        };
        if s.server_revision == Some(server.revision) && s.review.as_ref() == Some(&server.review) {
            continue;
        }
        if *digest == server.digest {
            s.server_revision = Some(server.revision);
            s.pushed_digest = Some(server.digest.clone());
            s.conflict = false;
        }
        if s.review.as_ref() != Some(&server.review) {
            report.reviews += 1;
        }
        s.review = Some(server.review.clone());
        updates.push((id, s));
    }
    if !restore.is_empty() {
        report.restored = restore.len();
        store.insert_copies(&restore)?;
    }
    store.set_synced(&updates)?;
    for (id, s) in &updates {
        synced.insert(*id, s.clone());
    }

    // Push what changed, a batch at a time, recording each batch's answer.
    let changed: Vec<(&CaseCopy, Option<i64>)> = local
        .values()
        .filter(|(c, digest)| {
            c.case_field("status").and_then(|s| s.as_text()) != Some("new")
                && c.uuid.parse::<CaseId>().is_ok_and(|id| {
                    synced.get(&id).and_then(|s| s.pushed_digest.as_ref()) != Some(digest)
                })
        })
        .map(|(c, _)| {
            let base = c
                .uuid
                .parse::<CaseId>()
                .ok()
                .and_then(|id| synced.get(&id))
                .and_then(|s| s.server_revision);
            (c, base)
        })
        .collect();
    for batch in changed.chunks(PUSH_BATCH) {
        let cases: Vec<PushCase> = batch
            .iter()
            .map(|(c, base)| PushCase {
                base_revision: *base,
                copy: (*c).clone(),
            })
            .collect();
        let response = client.push(cases)?;
        let mut acks = Vec::new();
        for r in response.results {
            let id: CaseId = r.case.parse()?;
            let mut s = synced.get(&id).cloned().unwrap_or_default();
            match r.outcome {
                PushOutcome::Stored | PushOutcome::Unchanged => {
                    if r.outcome == PushOutcome::Stored {
                        report.pushed += 1;
                    } else {
                        report.unchanged += 1;
                    }
                    s.server_revision = Some(r.revision);
                    s.pushed_digest = Some(r.digest);
                    s.conflict = false;
                }
                PushOutcome::Conflict => {
                    s.conflict = true;
                    report.conflicts.push(r.case.clone());
                }
            }
            s.review = Some(r.review);
            acks.push((id, s));
        }
        store.set_synced(&acks)?;
        for (id, s) in acks {
            synced.insert(id, s);
        }
    }
    for (id, s) in &synced {
        if let Some(r) = &s.review
            && r.status == "rejected"
        {
            report
                .rejected
                .push((id.to_string(), r.comment.clone().unwrap_or_default()));
        }
    }
    Ok(report)
}
