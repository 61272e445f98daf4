//! The HTTP API: one handler per route, each authorising on the server.
//!
//! An enumerator sees and changes only the cases assigned to it or started
//! by it; a supervisor sees its team's cases and reviews them;
//! headquarters loads instruments and the sample and sees everything.
//! Nothing here logs a request body: answers are the respondents'.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::App;
use super::auth::{self, Role};
use super::db;
use crate::store::sync::{CaseCopy, Review};
use crate::sync::wire::*;

/// The client's address, for the audit trail.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr);

/// An error as the client sees it: a status and a sentence saying what to do.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
    fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, message)
    }
    fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> ApiError {
        // The database's own words go to the server log, not to the client.
        eprintln!("vicor serve: database error: {e}");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server's database is unavailable: try again later (nothing was changed)",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response()
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

/// Who is asking.
#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub role: Role,
}

pub(super) async fn audit(
    client: &impl tokio_postgres::GenericClient,
    actor: Option<&str>,
    peer: Peer,
    action: &str,
    case: Option<&str>,
    detail: Option<&str>,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO audit (actor, address, action, case_uuid, detail)
             VALUES ($1, $2, $3, $4, $5)",
            &[&actor, &peer.0.ip().to_string(), &action, &case, &detail],
        )
        .await
        .map(drop)
}

fn check_protocol(headers: &HeaderMap) -> Result<(), ApiError> {
    if let Some(v) = headers.get(PROTOCOL_HEADER) {
        let theirs = v.to_str().ok().and_then(|s| s.parse::<u32>().ok());
        if theirs != Some(PROTOCOL) {
            return Err(ApiError::bad(format!(
                "this server speaks sync protocol {PROTOCOL}, the client another: install the same vicor release on the laptops and the server"
            )));
        }
    }
    Ok(())
}

/// The user behind the bearer token, or 401 saying why not.
async fn authenticate(app: &App, headers: &HeaderMap) -> Result<User, ApiError> {
    check_protocol(headers)?;
    let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, m);
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorized("no token: log in with `vicor login` first"))?;
    user_of_token(app, token).await
}

/// The user holding a token (a device's, or a browser session's), or 401.
pub(super) async fn user_of_token(app: &App, token: &str) -> Result<User, ApiError> {
    let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, m);
    let client = app.pool.get().await?;
    let row = client
        .query_opt(
            "SELECT u.name, u.role, t.revoked_utc IS NOT NULL, t.expires_utc < now()
             FROM tokens t JOIN users u ON u.name = t.user_name WHERE t.hash = $1",
            &[&auth::token_hash(token)],
        )
        .await?
        .ok_or_else(|| {
            unauthorized("the token is not known to this server: log in again with `vicor login`")
        })?;
    if row.get::<_, bool>(2) {
        return Err(unauthorized(
            "this device's token was revoked: ask headquarters, then log in again with `vicor login`",
        ));
    }
    if row.get::<_, bool>(3) {
        return Err(unauthorized(
            "the token has expired: log in again with `vicor login`",
        ));
    }
    let role: String = row.get(1);
    Ok(User {
        name: row.get(0),
        role: Role::parse(&role).ok_or_else(|| unauthorized("the account has no known role"))?,
    })
}

pub(super) fn require(user: &User, roles: &[Role], what: &str) -> Result<(), ApiError> {
    if roles.contains(&user.role) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "{} is {} and may not {what}",
            user.name,
            user.role.as_str()
        )))
    }
}

/// Whether `user` may see the cases of `owner`.
async fn may_see(
    client: &impl tokio_postgres::GenericClient,
    user: &User,
    owner: &str,
) -> Result<bool, ApiError> {
    Ok(match user.role {
        Role::Headquarters => true,
        Role::Enumerator => user.name == owner,
        Role::Supervisor => client
            .query_opt(
                "SELECT 1 FROM users WHERE name = $1 AND supervisor = $2",
                &[&owner, &user.name],
            )
            .await?
            .is_some(),
    })
}

pub async fn health() -> &'static str {
    "ok"
}

pub async fn login(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    Json(req): Json<LoginRequest>,
) -> ApiResult<LoginResponse> {
    check_protocol(&headers)?;
    let role = check_password(&app, peer, &req.user, &req.password).await?;
    let (token, expires) =
        issue_token(&app, peer, &req.user, &req.device, app.token_days * 24).await?;
    Ok(Json(LoginResponse {
        user: req.user,
        role: role.as_str().to_string(),
        token,
        expires_utc: expires,
    }))
}

/// The password check shared by the API login and the monitoring page's
/// form: the wrong-password limit, a fixed-time answer for unknown users,
/// and the audit of failures. Returns the user's role.
pub(super) async fn check_password(
    app: &App,
    peer: Peer,
    user: &str,
    password: &str,
) -> Result<Role, ApiError> {
    let address = peer.0.ip().to_string();
    if let Some(wait) = app.limiter.blocked(user, &address) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too many wrong passwords for {user}: wait {} minutes, or ask headquarters to reset the password",
                wait.div_ceil(60)
            ),
        ));
    }
    let client = app.pool.get().await?;
    let row = client
        .query_opt("SELECT password, role FROM users WHERE name = $1", &[&user])
        .await?;
    let (phc, role) = match &row {
        Some(r) => (r.get::<_, String>(0), r.get::<_, String>(1)),
        // Verify against a fixed hash so an unknown user takes as long.
        None => (app.dummy_hash.clone(), String::new()),
    };
    let password = password.to_string();
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&password, &phc))
        .await
        .unwrap_or(false)
        && row.is_some();
    let role = Role::parse(&role).filter(|_| ok);
    let Some(role) = role else {
        app.limiter.failed(user, &address);
        audit(&*client, Some(user), peer, "login_failed", None, None).await?;
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong user name or password",
        ));
    };
    app.limiter.succeeded(user);
    Ok(role)
}

/// A fresh token for `user` on `device`, valid `hours`, audited as a login.
/// Returns the token and its expiry (RFC 3339, UTC).
pub(super) async fn issue_token(
    app: &App,
    peer: Peer,
    user: &str,
    device: &str,
    hours: u32,
) -> Result<(String, String), ApiError> {
    let (token, hash) =
        auth::new_token().map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    let client = app.pool.get().await?;
    let expires: String = client
        .query_one(
            "INSERT INTO tokens (hash, user_name, device, expires_utc)
             VALUES ($1, $2, $3, now() + make_interval(hours => $4))
             RETURNING to_char(expires_utc AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
            &[&hash, &user, &device, &(hours as i32)],
        )
        .await?
        .get(0);
    audit(
        &*client,
        Some(user),
        peer,
        "login",
        None,
        Some(&format!("device {device}")),
    )
    .await?;
    Ok((token, expires))
}

fn review_of(row: &tokio_postgres::Row, at: usize) -> Review {
    Review {
        status: row.get(at),
        comment: row.get(at + 1),
        by: row.get(at + 2),
        utc: row.get(at + 3),
    }
}

pub async fn sync_state(State(app): State<Arc<App>>, headers: HeaderMap) -> ApiResult<SyncState> {
    let user = authenticate(&app, &headers).await?;
    let client = app.pool.get().await?;
    let assignments = client
        .query(
            "SELECT case_uuid, area, household, address, instrument_id, instrument_version
             FROM assignments WHERE enumerator = $1 ORDER BY area, household",
            &[&user.name],
        )
        .await?
        .iter()
        .map(|r| crate::store::sync::Assignment {
            case: r.get(0),
            area: r.get(1),
            household: r.get(2),
            address: r.get(3),
            instrument_id: r.get(4),
            instrument_version: r.get(5),
        })
        .collect();
    let cases = client
        .query(
            "SELECT uuid, revision, digest, review_status, review_comment, reviewed_by, reviewed_utc
             FROM cases WHERE owner = $1 ORDER BY uuid",
            &[&user.name],
        )
        .await?
        .iter()
        .map(|r| ServerCase {
            case: r.get(0),
            revision: r.get(1),
            digest: r.get(2),
            review: review_of(r, 3),
        })
        .collect();
    let instruments = client
        .query(
            "SELECT DISTINCT i.id, i.version, i.hash FROM instruments i
             JOIN assignments a ON a.instrument_id = i.id AND a.instrument_version = i.version
             WHERE a.enumerator = $1 ORDER BY i.id, i.version",
            &[&user.name],
        )
        .await?
        .iter()
        .map(|r| InstrumentRef {
            id: r.get(0),
            version: r.get(1),
            hash: r.get(2),
        })
        .collect();
    Ok(Json(SyncState {
        user: user.name,
        role: user.role.as_str().to_string(),
        assignments,
        cases,
        instruments,
    }))
}

pub async fn get_instrument(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((id, version)): Path<(String, String)>,
) -> ApiResult<InstrumentUpload> {
    authenticate(&app, &headers).await?;
    let client = app.pool.get().await?;
    let row = client
        .query_opt(
            "SELECT files FROM instruments WHERE id = $1 AND version = $2",
            &[&id, &version],
        )
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "instrument {id} version {version} is not on the server: headquarters must publish it (`vicor publish`)"
            ))
        })?;
    let files: Vec<InstrumentFile> = serde_json::from_str(&row.get::<_, String>(0))
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(InstrumentUpload { files }))
}

/// Loads an uploaded instrument from a private temporary folder, as the
/// laptop will (its includes are files beside it).
pub(super) fn check_upload(
    files: &[InstrumentFile],
) -> Result<crate::instrument::Instrument, ApiError> {
    let dir = std::env::temp_dir().join(format!("vicor-upload-{}", uuid::Uuid::new_v4()));
    let result = (|| {
        let main =
            crate::sync::write_bundle(&dir, files).map_err(|e| ApiError::bad(e.to_string()))?;
        let checked = crate::instrument::validate(&main);
        let rendered = checked.render();
        checked.instrument.ok_or_else(|| {
            ApiError::bad(format!(
                "the instrument has errors; run `vicor validate` on it:\n{rendered}"
            ))
        })
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

pub async fn put_instrument(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    Json(req): Json<InstrumentUpload>,
) -> ApiResult<InstrumentRef> {
    let user = authenticate(&app, &headers).await?;
    require(&user, &[Role::Headquarters], "publish instruments")?;
    let files = req.files.clone();
    let instrument = tokio::task::spawn_blocking(move || check_upload(&files))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    let stamp = InstrumentRef {
        id: instrument.id.clone(),
        version: instrument.version.clone(),
        hash: instrument.hash.clone(),
    };
    let json = serde_json::to_string(&req.files).unwrap_or_default();
    let client = app.pool.get().await?;
    let row = client
        .query_opt(
            "INSERT INTO instruments (id, version, hash, files, loaded_by)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id, version) DO UPDATE SET id = excluded.id
             RETURNING hash",
            &[&stamp.id, &stamp.version, &stamp.hash, &json, &user.name],
        )
        .await?;
    let stored: String = row.map(|r| r.get(0)).unwrap_or_default();
    if stored != stamp.hash {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "instrument {} version {} is on the server already with other content: give the changed questionnaire a new version",
                stamp.id, stamp.version
            ),
        ));
    }
    audit(
        &*client,
        Some(&user.name),
        peer,
        "publish_instrument",
        None,
        Some(&format!("{} {}", stamp.id, stamp.version)),
    )
    .await?;
    Ok(Json(stamp))
}

pub async fn load_sample(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    Json(req): Json<SampleRequest>,
) -> ApiResult<SampleResponse> {
    let user = authenticate(&app, &headers).await?;
    require(&user, &[Role::Headquarters], "load the sample")?;
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, row) in req.rows.iter().enumerate() {
        if let Some(first) = seen.insert(&row.household, i) {
            return Err(ApiError::bad(format!(
                "{}: household {} is on rows {} and {}: household ids must be unique in the sample",
                req.file,
                row.household,
                first + 2,
                i + 2
            )));
        }
    }
    let mut client = app.pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock(7669637)", &[])
        .await?;
    let enumerators: BTreeSet<String> = tx
        .query("SELECT name FROM users WHERE role = 'enumerator'", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let instruments: BTreeSet<(String, String)> = tx
        .query("SELECT id, version FROM instruments", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let existing: HashMap<String, (String, String)> = tx
        .query(
            "SELECT household, case_uuid, enumerator FROM assignments",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    let pushed: BTreeSet<String> = tx
        .query("SELECT uuid FROM cases", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut response = SampleResponse {
        created: 0,
        unchanged: 0,
        reassigned: 0,
    };
    for (i, row) in req.rows.iter().enumerate() {
        let at = format!("{}, row {}", req.file, i + 2);
        if !enumerators.contains(&row.enumerator) {
            return Err(ApiError::bad(format!(
                "{at}: {} is not an enumerator account on the server: add it (`vicor users add`) or fix the name",
                row.enumerator
            )));
        }
        if !instruments.contains(&(row.instrument_id.clone(), row.instrument_version.clone())) {
            return Err(ApiError::bad(format!(
                "{at}: instrument {} version {} is unknown to the server: publish it first (`vicor publish`)",
                row.instrument_id, row.instrument_version
            )));
        }
        match existing.get(&row.household) {
            Some((_, enumerator)) if enumerator == &row.enumerator => {
                response.unchanged += 1;
            }
            Some((case, enumerator)) => {
                if pushed.contains(case) {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        format!(
                            "{at}: household {} cannot move from {enumerator} to {}: {enumerator} has already sent its interview",
                            row.household, row.enumerator
                        ),
                    ));
                }
                tx.execute(
                    "UPDATE assignments SET enumerator = $2 WHERE case_uuid = $1",
                    &[case, &row.enumerator],
                )
                .await?;
                audit(
                    &tx,
                    Some(&user.name),
                    peer,
                    "reassign",
                    Some(case),
                    Some(&format!("{enumerator} -> {}", row.enumerator)),
                )
                .await?;
                response.reassigned += 1;
            }
            None => {
                let case = uuid::Uuid::new_v4().to_string();
                tx.execute(
                    "INSERT INTO assignments (case_uuid, area, household, address,
                         instrument_id, instrument_version, enumerator, region, design_weight)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    &[
                        &case,
                        &row.area,
                        &row.household,
                        &row.address,
                        &row.instrument_id,
                        &row.instrument_version,
                        &row.enumerator,
                        &row.region,
                        &row.design_weight,
                    ],
                )
                .await?;
                response.created += 1;
            }
        }
    }
    // The monitoring cells of everyone the sample names, and of those who
    // lost a household to another.
    let mut touched: BTreeSet<String> = req.rows.iter().map(|r| r.enumerator.clone()).collect();
    touched.extend(
        req.rows
            .iter()
            .filter_map(|r| existing.get(&r.household).map(|(_, e)| e.clone())),
    );
    let touched: Vec<String> = touched.into_iter().collect();
    super::monitor::data::refresh_cells(&tx, &touched).await?;
    audit(
        &tx,
        Some(&user.name),
        peer,
        "load_sample",
        None,
        Some(&format!(
            "{}: {} new, {} unchanged, {} reassigned",
            req.file, response.created, response.unchanged, response.reassigned
        )),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(response))
}

/// What the server holds of a case before a push.
struct Held {
    revision: i64,
    digest: String,
    owner: String,
    status: String,
    review: Review,
}

pub async fn push(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    Json(req): Json<PushRequest>,
) -> ApiResult<PushResponse> {
    let user = authenticate(&app, &headers).await?;
    require(&user, &[Role::Enumerator], "send interviews")?;
    if req.cases.len() > 10 * PUSH_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("at most {} cases per push", 10 * PUSH_BATCH),
        ));
    }
    let mut uuids = BTreeSet::new();
    let mut digests = Vec::new();
    for case in &req.cases {
        case.copy
            .check()
            .map_err(|e| ApiError::bad(format!("case {}: {e}", case.copy.uuid)))?;
        if !uuids.insert(case.copy.uuid.clone()) {
            return Err(ApiError::bad(format!(
                "case {} is twice in one push",
                case.copy.uuid
            )));
        }
        digests.push(case.copy.digest());
    }
    let uuids: Vec<String> = uuids.into_iter().collect();

    let mut client = app.pool.get().await?;
    let tx = client.transaction().await?;
    // One push at a time per case, in a fixed order so that two pushes
    // never wait on each other in a circle.
    for u in &uuids {
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[u],
        )
        .await?;
    }
    let assigned: HashMap<String, String> = tx
        .query(
            "SELECT case_uuid, enumerator FROM assignments WHERE case_uuid = ANY($1)",
            &[&uuids],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let held: HashMap<String, Held> = tx
        .query(
            "SELECT uuid, revision, digest, owner, status,
                    review_status, review_comment, reviewed_by, reviewed_utc
             FROM cases WHERE uuid = ANY($1)",
            &[&uuids],
        )
        .await?
        .iter()
        .map(|r| {
            (
                r.get(0),
                Held {
                    revision: r.get(1),
                    digest: r.get(2),
                    owner: r.get(3),
                    status: r.get(4),
                    review: review_of(r, 5),
                },
            )
        })
        .collect();
    let instruments: HashMap<(String, String), String> = tx
        .query("SELECT id, version, hash FROM instruments", &[])
        .await?
        .iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .collect();

    let mut results = Vec::new();
    let mut stored: Vec<(&CaseCopy, i64, &str, bool)> = Vec::new();
    for (case, digest) in req.cases.iter().zip(&digests) {
        let uuid = &case.copy.uuid;
        let owner = held.get(uuid).map(|h| h.owner.as_str());
        let assignee = assigned.get(uuid).map(String::as_str);
        if owner.is_some_and(|o| o != user.name) || assignee.is_some_and(|a| a != user.name) {
            return Err(ApiError::forbidden(format!(
                "case {uuid} is not assigned to {}: nothing of this push was stored",
                user.name
            )));
        }
        let field = |c: &str| {
            case.copy
                .case_field(c)
                .and_then(|c| c.as_text())
                .unwrap_or_default()
                .to_string()
        };
        let key = (field("instrument_id"), field("instrument_version"));
        match instruments.get(&key) {
            Some(hash) if *hash == field("instrument_hash") => {}
            Some(_) => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!(
                        "case {uuid} was interviewed with instrument {} version {} whose content differs from the one on the server: nothing of this push was stored; headquarters must publish the changed questionnaire under a new version",
                        key.0, key.1
                    ),
                ));
            }
            None => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!(
                        "case {uuid} uses instrument {} version {}, unknown to the server: nothing of this push was stored; headquarters must publish it (`vicor publish`)",
                        key.0, key.1
                    ),
                ));
            }
        }
        let result = |outcome, revision: i64, digest: &str, review: &Review| PushResult {
            case: uuid.clone(),
            outcome,
            revision,
            digest: digest.to_string(),
            review: review.clone(),
        };
        let pending = Review {
            status: "pending".to_string(),
            comment: None,
            by: None,
            utc: None,
        };
        match held.get(uuid) {
            None => {
                stored.push((&case.copy, 1, digest, false));
                results.push(result(PushOutcome::Stored, 1, digest, &pending));
            }
            Some(h) if h.digest == *digest => {
                results.push(result(
                    PushOutcome::Unchanged,
                    h.revision,
                    &h.digest,
                    &h.review,
                ));
            }
            Some(h) if case.base_revision == Some(h.revision) => {
                stored.push((&case.copy, h.revision + 1, digest, true));
                results.push(result(
                    PushOutcome::Stored,
                    h.revision + 1,
                    digest,
                    &pending,
                ));
                let detail = format!(
                    "status {} -> {}, revision {}",
                    h.status,
                    field("status"),
                    h.revision + 1
                );
                audit(
                    &tx,
                    Some(&user.name),
                    peer,
                    "push",
                    Some(uuid),
                    Some(&detail),
                )
                .await?;
            }
            Some(h) => {
                let copy = serde_json::to_string(&case.copy).unwrap_or_default();
                tx.execute(
                    "INSERT INTO conflicts (case_uuid, digest, from_user, base_revision,
                         server_revision, copy)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (case_uuid, digest) DO NOTHING",
                    &[
                        uuid,
                        digest,
                        &user.name,
                        &case.base_revision,
                        &h.revision,
                        &copy,
                    ],
                )
                .await?;
                audit(
                    &tx,
                    Some(&user.name),
                    peer,
                    "conflict",
                    Some(uuid),
                    Some(&format!(
                        "laptop base revision {:?}, server revision {}",
                        case.base_revision, h.revision
                    )),
                )
                .await?;
                results.push(result(
                    PushOutcome::Conflict,
                    h.revision,
                    &h.digest,
                    &h.review,
                ));
            }
        }
    }
    for (copy, revision, _, replaced) in &stored {
        if !replaced {
            let detail = format!("new, status {}, revision {revision}", {
                copy.case_field("status")
                    .and_then(|c| c.as_text())
                    .unwrap_or_default()
            });
            audit(
                &tx,
                Some(&user.name),
                peer,
                "push",
                Some(&copy.uuid),
                Some(&detail),
            )
            .await?;
        }
    }
    store_copies(&app, &tx, &user.name, &stored).await?;
    tx.commit().await?;
    Ok(Json(PushResponse { results }))
}

/// Writes copies into the case tables: (copy, revision, digest, whether it
/// replaces a copy the server holds). The review goes back to pending.
async fn store_copies(
    app: &App,
    tx: &tokio_postgres::Transaction<'_>,
    owner: &str,
    stored: &[(&CaseCopy, i64, &str, bool)],
) -> Result<(), ApiError> {
    if stored.is_empty() {
        return Ok(());
    }
    let replaced: Vec<String> = stored
        .iter()
        .filter(|s| s.3)
        .map(|s| s.0.uuid.clone())
        .collect();
    if !replaced.is_empty() {
        for table in ["answers", "events", "notes", "orphan_answers"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE case_uuid = ANY($1)"),
                &[&replaced],
            )
            .await?;
        }
        tx.execute("DELETE FROM cases WHERE uuid = ANY($1)", &[&replaced])
            .await?;
    }
    let columns = db::case_columns();
    let mut values: Vec<Vec<Option<String>>> = vec![Vec::new(); columns.len()];
    let mut revisions = Vec::new();
    let mut digests = Vec::new();
    let mut owners = Vec::new();
    for (copy, revision, digest, _) in stored {
        for (col, v) in values.iter_mut().zip(db::case_record(copy)) {
            col.push(v);
        }
        revisions.push(*revision);
        digests.push(digest.to_string());
        owners.push(owner.to_string());
    }
    let n = columns.len();
    let arrays: Vec<String> = (1..=n + 3)
        .map(|i| {
            if i == n + 2 {
                format!("${i}::int8[]")
            } else {
                format!("${i}::text[]")
            }
        })
        .collect();
    let sql = format!(
        "INSERT INTO cases ({}, owner, revision, digest) SELECT * FROM unnest({})",
        columns.join(", "),
        arrays.join(", ")
    );
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = values
        .iter()
        .map(|v| v as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect();
    params.push(&owners);
    params.push(&revisions);
    params.push(&digests);
    tx.execute(&sql, &params).await?;
    let copies: Vec<&CaseCopy> = stored.iter().map(|s| s.0).collect();
    db::insert_children(tx, &copies)
        .await
        .map_err(ApiError::bad)?;
    // The monitoring summary in the same transaction: a case is counted
    // exactly when it is stored, and a re-push replaces its row.
    super::monitor::store_summaries(app, tx, &copies).await?;
    Ok(())
}

pub async fn get_case(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(uuid): Path<String>,
) -> ApiResult<CaseCopy> {
    let user = authenticate(&app, &headers).await?;
    let client = app.pool.get().await?;
    let not_found = || ApiError::not_found(format!("no case {uuid} that {} may see", user.name));
    let owner: String = client
        .query_opt("SELECT owner FROM cases WHERE uuid = $1", &[&uuid])
        .await?
        .ok_or_else(not_found)?
        .get(0);
    // The same answer whether the case is missing or another's: an id
    // tells nothing.
    if !may_see(&*client, &user, &owner).await? {
        return Err(not_found());
    }
    let mut copies = db::read_copies(&client, std::slice::from_ref(&uuid)).await?;
    copies.pop().map(Json).ok_or_else(not_found)
}

/// Every case the user may see, a page at a time in uuid order: the server
/// export.
pub async fn list_cases(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    Query(page): Query<Page>,
) -> ApiResult<CasePage> {
    let user = authenticate(&app, &headers).await?;
    require(
        &user,
        &[Role::Headquarters, Role::Supervisor],
        "export cases",
    )?;
    let limit = page.limit.unwrap_or(500).clamp(1, 2000);
    let after = page.after.unwrap_or_default();
    let client = app.pool.get().await?;
    let rows = client
        .query(
            "SELECT c.uuid FROM cases c LEFT JOIN users u ON u.name = c.owner
             WHERE c.uuid > $1 AND ($2 OR u.supervisor = $3)
             ORDER BY c.uuid LIMIT $4",
            &[
                &after,
                &(user.role == Role::Headquarters),
                &user.name,
                &limit,
            ],
        )
        .await?;
    let uuids: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    let cases = db::read_copies(&client, &uuids).await?;
    if after.is_empty() {
        audit(&*client, Some(&user.name), peer, "export", None, None).await?;
    }
    let next = (uuids.len() as i64 == limit)
        .then(|| uuids.last().cloned())
        .flatten();
    Ok(Json(CasePage { cases, next }))
}

pub async fn review_list(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> ApiResult<Vec<ReviewRow>> {
    let user = authenticate(&app, &headers).await?;
    require(
        &user,
        &[Role::Headquarters, Role::Supervisor],
        "review cases",
    )?;
    let client = app.pool.get().await?;
    let rows = client
        .query(
            "SELECT c.uuid, c.owner, a.area, a.household, c.status, c.outcome, c.revision,
                    c.review_status, c.review_comment, c.reviewed_by, c.reviewed_utc,
                    (SELECT count(*) FROM conflicts k
                     WHERE k.case_uuid = c.uuid AND k.resolved_utc IS NULL)
             FROM cases c JOIN users u ON u.name = c.owner
             LEFT JOIN assignments a ON a.case_uuid = c.uuid
             WHERE $1 OR u.supervisor = $2
             ORDER BY c.owner, a.area, a.household, c.uuid",
            &[&(user.role == Role::Headquarters), &user.name],
        )
        .await?;
    Ok(Json(
        rows.iter()
            .map(|r| ReviewRow {
                case: r.get(0),
                owner: r.get(1),
                area: r.get(2),
                household: r.get(3),
                status: r.get(4),
                outcome: r.get(5),
                revision: r.get(6),
                review: review_of(r, 7),
                conflicts: r.get(11),
            })
            .collect(),
    ))
}

pub async fn review_case(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    Path(uuid): Path<String>,
    Json(req): Json<ReviewRequest>,
) -> ApiResult<ServerCase> {
    let user = authenticate(&app, &headers).await?;
    require(
        &user,
        &[Role::Headquarters, Role::Supervisor],
        "review cases",
    )?;
    let mut client = app.pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        &[&uuid],
    )
    .await?;
    let not_found = || ApiError::not_found(format!("no case {uuid} that {} may review", user.name));
    let row = tx
        .query_opt(
            "SELECT owner, status, review_status FROM cases WHERE uuid = $1",
            &[&uuid],
        )
        .await?
        .ok_or_else(not_found)?;
    let owner: String = row.get(0);
    if !may_see(&tx, &user, &owner).await? {
        return Err(not_found());
    }
    let (status, before): (String, String) = (row.get(1), row.get(2));
    let comment = req
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let now = jiff::Timestamp::now().to_string();
    match req.decision {
        Decision::Approve | Decision::Reject => {
            if status != "completed" {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!(
                        "case {uuid} is {status}, not completed: only completed cases are reviewed"
                    ),
                ));
            }
            let (to, action) = if req.decision == Decision::Approve {
                ("approved", "approve")
            } else {
                if comment.is_none() {
                    return Err(ApiError::bad(
                        "a rejection needs a comment telling the enumerator what to correct (--comment)",
                    ));
                }
                ("rejected", "reject")
            };
            tx.execute(
                "UPDATE cases SET review_status = $2, review_comment = $3, reviewed_by = $4,
                     reviewed_utc = $5, revision = revision + 1
                 WHERE uuid = $1",
                &[&uuid, &to, &comment, &user.name, &now],
            )
            .await?;
            audit(
                &tx,
                Some(&user.name),
                peer,
                action,
                Some(&uuid),
                Some(&format!("{before} -> {to}")),
            )
            .await?;
        }
        Decision::TakeLaptop => {
            let row = tx
                .query_opt(
                    "SELECT copy, digest FROM conflicts
                     WHERE case_uuid = $1 AND resolved_utc IS NULL
                     ORDER BY id DESC LIMIT 1",
                    &[&uuid],
                )
                .await?
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::CONFLICT,
                        format!("case {uuid} has no conflict to settle"),
                    )
                })?;
            let copy: CaseCopy = serde_json::from_str(&row.get::<_, String>(0))
                .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
            let digest: String = row.get(1);
            let revision: i64 = tx
                .query_one("SELECT revision FROM cases WHERE uuid = $1", &[&uuid])
                .await?
                .get(0);
            let stored = [(&copy, revision + 1, digest.as_str(), true)];
            store_copies(&app, &tx, &owner, &stored).await?;
            tx.execute(
                "UPDATE conflicts SET resolved_utc = now() WHERE case_uuid = $1 AND resolved_utc IS NULL",
                &[&uuid],
            )
            .await?;
            audit(
                &tx,
                Some(&user.name),
                peer,
                "take_laptop_copy",
                Some(&uuid),
                comment,
            )
            .await?;
        }
    }
    let row = tx
        .query_one(
            "SELECT uuid, revision, digest, review_status, review_comment, reviewed_by, reviewed_utc
             FROM cases WHERE uuid = $1",
            &[&uuid],
        )
        .await?;
    tx.commit().await?;
    Ok(Json(ServerCase {
        case: row.get(0),
        revision: row.get(1),
        digest: row.get(2),
        review: review_of(&row, 3),
    }))
}

pub async fn revoke(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> ApiResult<serde_json::Value> {
    let user = authenticate(&app, &headers).await?;
    require(&user, &[Role::Headquarters], "revoke tokens")?;
    let client = app.pool.get().await?;
    let n = client
        .execute(
            "UPDATE tokens SET revoked_utc = now() WHERE user_name = $1 AND revoked_utc IS NULL",
            &[&name],
        )
        .await?;
    audit(
        &*client,
        Some(&user.name),
        peer,
        "revoke",
        None,
        Some(&format!("{n} tokens of {name}")),
    )
    .await?;
    Ok(Json(serde_json::json!({ "revoked": n })))
}
