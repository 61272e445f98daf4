//! Fieldwork monitoring in the browser: `/monitor` (progress, response
//! rates, durations, provisional SDG estimates) and `/monitor/quality`
//! (quality flags from paradata, outlying enumerators).
//!
//! The pages read `monitor_cases`, one summary row per case written by the
//! push ([`store_summaries`]), never the answers or events: a handful of
//! GROUP BY queries, so the page stays fast at 100,000 cases. Headquarters
//! sees every team, a supervisor its own, an enumerator nothing (403).
//! Respondents' identities never reach the page: it shows enumerator names,
//! region and area codes and case ids, never households, addresses or
//! answers. Definitions of every figure are in `docs/monitoring.md`.

pub mod data;
pub mod page;
pub mod stats;
pub mod summary;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Form;
use axum::extract::Query;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::App;
use super::api::{self, ApiError, Peer, User};
use super::auth::Role;
use crate::store::sync::CaseCopy;
use summary::InstrumentFacts;

/// The session cookie's name.
pub const COOKIE: &str = "vicor_session";
/// Hours a browser session lasts.
pub const SESSION_HOURS: u32 = 12;

/// Facts of each instrument version, computed on first use.
#[derive(Default)]
pub struct FactsCache {
    facts: Mutex<HashMap<(String, String), Arc<InstrumentFacts>>>,
}

impl FactsCache {
    async fn get(
        &self,
        client: &impl tokio_postgres::GenericClient,
        id: &str,
        version: &str,
    ) -> Result<Arc<InstrumentFacts>, tokio_postgres::Error> {
        let key = (id.to_string(), version.to_string());
        if let Some(f) = self.facts.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(f);
        }
        let files = client
            .query_opt(
                "SELECT files FROM instruments WHERE id = $1 AND version = $2",
                &[&id, &version],
            )
            .await?
            .map(|r| r.get::<_, String>(0));
        // An instrument that does not load gives no reading times or grids:
        // the counts that need them stay zero rather than refusing the push.
        let facts = tokio::task::spawn_blocking(move || {
            files
                .and_then(|f| serde_json::from_str(&f).ok())
                .and_then(|files: Vec<crate::sync::wire::InstrumentFile>| {
                    api::check_upload(&files).ok()
                })
                .map(|i| InstrumentFacts::of(&i))
                .unwrap_or_default()
        })
        .await
        .unwrap_or_default();
        let facts = Arc::new(facts);
        if let Ok(mut m) = self.facts.lock() {
            m.insert(key, Arc::clone(&facts));
        }
        Ok(facts)
    }
}

/// Writes (or replaces) the summary rows of these copies, inside the
/// transaction that stores them. Region, area and design weight come from
/// the sample; the owner from the stored case.
pub async fn store_summaries(
    app: &App,
    tx: &tokio_postgres::Transaction<'_>,
    copies: &[&CaseCopy],
) -> Result<(), tokio_postgres::Error> {
    let mut rows = Vec::with_capacity(copies.len());
    for copy in copies {
        let field = |c: &str| {
            copy.case_field(c)
                .and_then(|c| c.as_text())
                .unwrap_or_default()
                .to_string()
        };
        let facts = app
            .facts
            .get(tx, &field("instrument_id"), &field("instrument_version"))
            .await?;
        // Recomputing the derived variables runs the engine: keep it off
        // the threads that serve requests.
        rows.push(tokio::task::block_in_place(|| {
            summary::summarize(copy, &facts)
        }));
    }
    // The cells of the enumerators the cases were counted under before,
    // and of those they count under now.
    let uuids: Vec<&str> = rows.iter().map(|r| r.uuid.as_str()).collect();
    let owners = "SELECT DISTINCT enumerator FROM monitor_cases WHERE case_uuid = ANY($1)";
    let mut enumerators: Vec<String> = tx
        .query(owners, &[&uuids])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    data::upsert(tx, &rows).await?;
    enumerators.extend(tx.query(owners, &[&uuids]).await?.iter().map(|r| r.get(0)));
    enumerators.sort();
    enumerators.dedup();
    data::refresh_cells(tx, &enumerators).await
}

/// Fills the summary of every case that has none (cases pushed before the
/// monitoring migration), a batch per transaction, then recomputes every
/// enumerator's cells. Run at start.
pub async fn backfill(app: &App) -> Result<u64, tokio_postgres::Error> {
    let mut done = 0;
    loop {
        let mut client = app.pool.get().await?;
        let uuids: Vec<String> = client
            .query(
                "SELECT c.uuid FROM cases c
                 WHERE NOT EXISTS (SELECT 1 FROM monitor_cases m WHERE m.case_uuid = c.uuid)
                 ORDER BY c.uuid LIMIT 200",
                &[],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if uuids.is_empty() {
            // Every enumerator's cells afresh: a cheap pass (a second at
            // 100,000 cases) that also fills them after migration 3.
            let tx = client.transaction().await?;
            let everyone: Vec<String> = tx
                .query("SELECT name FROM users ORDER BY name", &[])
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
            data::refresh_cells(&tx, &everyone).await?;
            tx.commit().await?;
            return Ok(done);
        }
        let copies = super::db::read_copies(&client, &uuids).await?;
        let tx = client.transaction().await?;
        let refs: Vec<&CaseCopy> = copies.iter().collect();
        store_summaries(app, &tx, &refs).await?;
        tx.commit().await?;
        done += uuids.len() as u64;
    }
}

/// The session token in the request's cookie.
fn session_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
}

/// What a page request turns into when it cannot be served.
enum Refusal {
    /// No valid session: to the login form.
    Login,
    Forbidden(String),
    Error(ApiError),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Login => Redirect::to("/monitor/login").into_response(),
            Refusal::Forbidden(m) => (
                StatusCode::FORBIDDEN,
                Html(page::message("Not allowed", &m)),
            )
                .into_response(),
            Refusal::Error(e) => {
                (e.status, Html(page::message("Error", &e.message))).into_response()
            }
        }
    }
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Refusal {
        Refusal::Error(e)
    }
}

impl From<tokio_postgres::Error> for Refusal {
    fn from(e: tokio_postgres::Error) -> Refusal {
        Refusal::Error(ApiError::from(e))
    }
}

/// The signed-in headquarters or supervisor account.
async fn viewer(app: &App, headers: &HeaderMap) -> Result<User, Refusal> {
    let token = session_token(headers).ok_or(Refusal::Login)?;
    let user = api::user_of_token(app, token)
        .await
        .map_err(|e| match e.status {
            StatusCode::UNAUTHORIZED => Refusal::Login,
            _ => Refusal::Error(e),
        })?;
    if user.role == Role::Enumerator {
        return Err(Refusal::Forbidden(format!(
            "{} is an enumerator: the monitoring pages are for supervisors and headquarters",
            user.name
        )));
    }
    Ok(user)
}

fn html(body: String) -> Response {
    let mut r = Html(body).into_response();
    // The pages hold fieldwork figures: no caching, no framing, no scripts
    // but the page's own inline one.
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

pub async fn login_form() -> Response {
    html(page::login(None))
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    user: String,
    password: String,
}

pub async fn login(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Form(form): Form<LoginForm>,
) -> Response {
    let role = match api::check_password(&app, peer, &form.user, &form.password).await {
        Ok(role) => role,
        Err(e) => {
            let mut r = html(page::login(Some(&e.message)));
            *r.status_mut() = e.status;
            return r;
        }
    };
    if role == Role::Enumerator {
        return Refusal::Forbidden(format!(
            "{} is an enumerator: the monitoring pages are for supervisors and headquarters",
            form.user
        ))
        .into_response();
    }
    let token = match api::issue_token(&app, peer, &form.user, "browser", SESSION_HOURS).await {
        Ok((token, _)) => token,
        Err(e) => return Refusal::Error(e).into_response(),
    };
    let secure = if app.tls { "; Secure" } else { "" };
    let cookie = format!(
        "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/monitor; Max-Age={}{secure}",
        SESSION_HOURS * 3600
    );
    let mut r = Redirect::to("/monitor").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

pub async fn logout(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Some(token) = session_token(&headers)
        && let Ok(client) = app.pool.get().await
    {
        let _ = client
            .execute(
                "UPDATE tokens SET revoked_utc = now() WHERE hash = $1 AND revoked_utc IS NULL",
                &[&super::auth::token_hash(token)],
            )
            .await;
    }
    let mut r = Redirect::to("/monitor/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "vicor_session=; HttpOnly; SameSite=Strict; Path=/monitor; Max-Age=0",
        ),
    );
    r
}

/// Room for the pages' sorts and hashes of 100,000 rows in memory: with
/// PostgreSQL's default 4 MB they spill to disk (200 ms instead of 120 ms
/// for the progress query). The setting stays with the pooled connection.
async fn roomy(client: &tokio_postgres::Client) -> Result<(), tokio_postgres::Error> {
    client.batch_execute("SET work_mem = '32MB'").await
}

/// `/monitor?region=R` lists every area of region R.
#[derive(serde::Deserialize)]
pub struct OverviewQuery {
    region: Option<String>,
}

pub async fn overview(
    State(app): State<Arc<App>>,
    Query(query): Query<OverviewQuery>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let user = viewer(&app, &headers).await?;
        let scope = data::Scope::of(&user);
        // The durations on a connection of their own, beside the cells'
        // small queries pipelined on another.
        let (a, b) = tokio::try_join!(app.pool.get(), app.pool.get())?;
        tokio::try_join!(roomy(&a), roomy(&b))?;
        let (progress, days, enumerators, estimates) = tokio::try_join!(
            data::progress(&*a, &scope),
            data::days(&*a, &scope),
            data::enumerators(&*a, &*b, &scope),
            data::estimates(&*a, &scope),
        )?;
        Ok::<_, Refusal>(html(page::overview(
            &user,
            &progress,
            &days,
            &enumerators,
            &estimates,
            query.region.as_deref(),
        )))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

pub async fn quality(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let result = async {
        let user = viewer(&app, &headers).await?;
        let scope = data::Scope::of(&user);
        let (a, b) = tokio::try_join!(app.pool.get(), app.pool.get())?;
        tokio::try_join!(roomy(&a), roomy(&b))?;
        // The flagged list needs each enumerator's median for "short".
        let enumerators = data::enumerators(&*a, &*b, &scope).await?;
        let flagged = data::flagged(&*a, &scope, &enumerators).await?;
        let total = enumerators
            .iter()
            .map(|r| r.flagged_otherwise + r.short_only)
            .sum();
        let outliers = data::outliers(&enumerators);
        Ok::<_, Refusal>(html(page::quality(
            &user,
            &enumerators,
            &outliers,
            &(flagged, total),
        )))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}
