//! The central server (`vicor serve`): accounts, the sample, and every
//! enumerator's cases, on PostgreSQL, over HTTP(S).
//!
//! The only module that names tokio, axum and tokio-postgres. Handlers are
//! in `api.rs`, the schema and the case tables in `db.rs`, passwords and
//! tokens in `auth.rs`; the laptop's side is `crate::sync`. See
//! `docs/server.md` for the protocol and its guarantees.

pub mod api;
pub mod auth;
pub mod db;
pub mod monitor;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tokio::net::{TcpListener, TcpStream};
use tokio_postgres::Config;

use api::Peer;
use auth::{LoginLimiter, Role};

/// What `vicor serve` was asked to do.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub database: String,
    pub listen: SocketAddr,
    /// Certificate chain and private key (PEM) for HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Serve plain HTTP on a non-loopback address.
    pub insecure: bool,
    /// Days a device token stays valid.
    pub token_days: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(
        "{url:?} is not a PostgreSQL URL ({detail}): give one like postgres://vicor@localhost/vicor"
    )]
    BadUrl { url: String, detail: String },
    #[error(
        "the database URL holds a password, which would show in the process list and the shell history: remove it and put it in the PGPASSWORD environment variable"
    )]
    PasswordInUrl,
    #[error(
        "cannot reach the database ({detail}): check --database and that PostgreSQL is running"
    )]
    Connect { detail: String },
    #[error("{0}")]
    Database(#[from] db::DbError),
    #[error(
        "cannot listen on {addr}: {source}: choose another --listen address or stop the program using it"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(
        "refusing plain HTTP on {addr}, which is not a loopback address: give --tls-cert and --tls-key, or say --insecure if a TLS proxy is in front"
    )]
    PlainHttp { addr: SocketAddr },
    #[error("cannot use the TLS certificate or key {path}: {detail}")]
    Tls { path: PathBuf, detail: String },
    #[error("{0}")]
    Other(String),
}

impl miette::Diagnostic for ServerError {}

/// What every handler shares.
pub struct App {
    pub pool: db::Pool,
    pub limiter: LoginLimiter,
    pub token_days: u32,
    /// Checked against when the user is unknown, so that an unknown name and
    /// a wrong password take the same time.
    pub dummy_hash: String,
    /// Whether the server speaks HTTPS (the session cookie is then `Secure`).
    pub tls: bool,
    /// Reading times and grids of each instrument, for the monitoring summary.
    pub facts: monitor::FactsCache,
}

/// The PostgreSQL connection settings from a URL, with the password taken
/// from `PGPASSWORD` and refused in the URL itself.
pub fn database_config(url: &str) -> Result<Config, ServerError> {
    let mut config: Config =
        url.parse()
            .map_err(|e: tokio_postgres::Error| ServerError::BadUrl {
                url: url.to_string(),
                detail: e.to_string(),
            })?;
    if config.get_password().is_some() {
        return Err(ServerError::PasswordInUrl);
    }
    if let Ok(password) = std::env::var("PGPASSWORD")
        && !password.is_empty()
    {
        config.password(password);
    }
    if config.get_user().is_none() {
        config.user(std::env::var("USER").unwrap_or_else(|_| "postgres".to_string()));
    }
    config.application_name("vicor");
    config.connect_timeout(Duration::from_secs(10));
    Ok(config)
}

fn runtime() -> Result<tokio::runtime::Runtime, ServerError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| ServerError::Other(format!("cannot start the server's threads: {e}")))
}

async fn open(database: &str) -> Result<(Config, tokio_postgres::Client), ServerError> {
    let config = database_config(database)?;
    let mut client = db::connect(&config)
        .await
        .map_err(|e| ServerError::Connect {
            detail: e.to_string(),
        })?;
    db::migrate(&mut client).await?;
    Ok((config, client))
}

/// Adds an account straight in the database (the first headquarters
/// account has no one to add it over HTTP).
pub fn add_user(
    database: &str,
    name: &str,
    role: Role,
    supervisor: Option<&str>,
    password: &str,
) -> Result<(), ServerError> {
    if password.chars().count() < 8 {
        return Err(ServerError::Other(
            "the password is shorter than 8 characters: choose a longer one".to_string(),
        ));
    }
    let phc = auth::hash_password(password).map_err(ServerError::Other)?;
    runtime()?.block_on(async {
        let (_, client) = open(database).await?;
        if let Some(s) = supervisor {
            let row = client
                .query_opt("SELECT role FROM users WHERE name = $1", &[&s])
                .await
                .map_err(db::DbError::from)?;
            if row.map(|r| r.get::<_, String>(0)).as_deref() != Some("supervisor") {
                return Err(ServerError::Other(format!(
                    "{s} is not a supervisor account: add the supervisor first"
                )));
            }
        }
        client
            .execute(
                "INSERT INTO users (name, role, supervisor, password) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (name) DO UPDATE SET role = excluded.role,
                     supervisor = excluded.supervisor, password = excluded.password",
                &[&name, &role.as_str(), &supervisor, &phc],
            )
            .await
            .map_err(db::DbError::from)?;
        client
            .execute(
                "INSERT INTO audit (actor, action, detail) VALUES (NULL, 'add_user', $1)",
                &[&format!("{name} as {}", role.as_str())],
            )
            .await
            .map_err(db::DbError::from)?;
        Ok(())
    })
}

/// Revokes every token of a user, straight in the database.
pub fn revoke_user(database: &str, name: &str) -> Result<u64, ServerError> {
    runtime()?.block_on(async {
        let (_, client) = open(database).await?;
        let n = client
            .execute(
                "UPDATE tokens SET revoked_utc = now() WHERE user_name = $1 AND revoked_utc IS NULL",
                &[&name],
            )
            .await
            .map_err(db::DbError::from)?;
        client
            .execute(
                "INSERT INTO audit (actor, action, detail) VALUES (NULL, 'revoke', $1)",
                &[&format!("{n} tokens of {name}")],
            )
            .await
            .map_err(db::DbError::from)?;
        Ok(n)
    })
}

/// One line per request on stderr: method, path, status, time. Never a
/// body or a query string: they may carry answers.
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let start = Instant::now();
    let response = next.run(request).await;
    eprintln!(
        "{} {method} {path} {} {:.1}ms",
        jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        response.status().as_u16(),
        start.elapsed().as_secs_f64() * 1000.0
    );
    response
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/api/v1/health", get(api::health))
        .route("/api/v1/login", post(api::login))
        .route("/api/v1/sync", get(api::sync_state))
        .route("/api/v1/push", post(api::push))
        .route("/api/v1/instruments", post(api::put_instrument))
        .route(
            "/api/v1/instruments/{id}/{version}",
            get(api::get_instrument),
        )
        .route("/api/v1/sample", post(api::load_sample))
        .route("/api/v1/cases", get(api::list_cases))
        .route("/api/v1/cases/{uuid}", get(api::get_case))
        .route("/api/v1/cases/{uuid}/review", post(api::review_case))
        .route("/api/v1/review", get(api::review_list))
        .route("/api/v1/users/{name}/revoke", post(api::revoke))
        .route("/monitor", get(monitor::overview))
        .route("/monitor/quality", get(monitor::quality))
        .route(
            "/monitor/login",
            get(monitor::login_form).post(monitor::login),
        )
        .route("/monitor/logout", post(monitor::logout))
        .layer(DefaultBodyLimit::max(256 << 20))
        .layer(middleware::from_fn(log_request))
        .with_state(app)
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TcpListener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, TcpListener>) -> Peer {
        Peer(*stream.remote_addr())
    }
}

/// TLS connections, handshaken in tasks of their own so that a slow client
/// holds up no one else.
struct TlsListener {
    local: SocketAddr,
    ready: tokio::sync::mpsc::Receiver<(tokio_rustls::server::TlsStream<TcpStream>, SocketAddr)>,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accepting task never ends while the listener lives.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> Peer {
        Peer(*stream.remote_addr())
    }
}

fn tls_config(cert: &PathBuf, key: &PathBuf) -> Result<rustls::ServerConfig, ServerError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let tls = |path: &PathBuf, detail: String| ServerError::Tls {
        path: path.clone(),
        detail,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| tls(cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| tls(cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(tls(cert, "no certificate in the file".to_string()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| tls(key, e.to_string()))?;
    // ring rather than aws-lc-rs: no C toolchain and cmake build of
    // aws-lc on every machine, for TLS 1.3 with the classical key exchanges.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| tls(key, e.to_string()))
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = ctrl_c => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}

/// Runs the server until SIGINT or SIGTERM.
pub fn serve(options: &ServeOptions) -> Result<(), ServerError> {
    if options.tls.is_none() && !options.listen.ip().is_loopback() && !options.insecure {
        return Err(ServerError::PlainHttp {
            addr: options.listen,
        });
    }
    let tls = match &options.tls {
        Some((cert, key)) => Some(tls_config(cert, key)?),
        None => None,
    };
    runtime()?.block_on(async {
        let (config, client) = open(&options.database).await?;
        drop(client);
        let dummy_hash = auth::hash_password("not a password").map_err(ServerError::Other)?;
        let app = Arc::new(App {
            pool: db::Pool::new(config, 16),
            limiter: LoginLimiter::default(),
            token_days: options.token_days,
            dummy_hash,
            tls: tls.is_some(),
            facts: monitor::FactsCache::default(),
        });
        // Cases stored before the monitoring summary existed get theirs
        // now, before the first request (a no-op once done).
        let filled = monitor::backfill(&app).await.map_err(db::DbError::from)?;
        if filled > 0 {
            eprintln!(
                "vicor serve: monitoring summary filled for {filled} cases stored before it existed"
            );
        }
        let listener =
            TcpListener::bind(options.listen)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: options.listen,
                    source,
                })?;
        let local = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: options.listen,
            source,
        })?;
        let service = router(app).into_make_service_with_connect_info::<Peer>();
        let io = |e: std::io::Error| ServerError::Other(format!("the server stopped: {e}"));
        match tls {
            None => {
                eprintln!("vicor serve: listening on http://{local}");
                axum::serve(listener, service)
                    .with_graceful_shutdown(shutdown())
                    .await
                    .map_err(io)
            }
            Some(tls) => {
                let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
                let (tx, rx) = tokio::sync::mpsc::channel(64);
                tokio::spawn(async move {
                    loop {
                        let Ok((tcp, addr)) = listener.accept().await else {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        };
                        let acceptor = acceptor.clone();
                        let tx = tx.clone();
                        tokio::spawn(async move {
                            let handshake =
                                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp));
                            if let Ok(Ok(stream)) = handshake.await {
                                let _ = tx.send((stream, addr)).await;
                            }
                        });
                    }
                });
                eprintln!("vicor serve: listening on https://{local}");
                axum::serve(TlsListener { local, ready: rx }, service)
                    .with_graceful_shutdown(shutdown())
                    .await
                    .map_err(io)
            }
        }
    })
}
