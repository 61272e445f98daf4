//! The commands that talk to the central server: `serve`, `users`, `login`,
//! `sync`, `publish`, `assign`, `review`, and `export --server`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use vicor::sync::wire::{Decision, ReviewRequest, SampleRequest, SampleRow};
use vicor::sync::{Client, SyncError};

use crate::cli;
use crate::{Failure, Outcome, store_failure, store_key};

fn sync_failure(e: SyncError) -> Failure {
    match e {
        SyncError::Store(e) => store_failure(e),
        e => Failure::user(e),
    }
}

/// A secret from the environment variable named on the command line.
fn secret(var: &str, what: &str) -> Result<String, Failure> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(v),
        Ok(_) => Err(Failure::user(miette::miette!(
            "the environment variable {var} is empty: put the {what} in it"
        ))),
        Err(_) => Err(Failure::user(miette::miette!(
            "the environment variable {var} is not set: export {var} with the {what} (read -rs {var} && export {var})"
        ))),
    }
}

pub fn serve(args: cli::ServeArgs) -> Outcome {
    let options = vicor::server::ServeOptions {
        database: args.database,
        listen: args.listen,
        tls: args.tls_cert.zip(args.tls_key),
        insecure: args.insecure,
        token_days: args.token_days,
    };
    vicor::server::serve(&options).map_err(Failure::user)?;
    Ok(ExitCode::SUCCESS)
}

pub fn users(args: cli::UsersArgs) -> Outcome {
    let Some(database) = args.database else {
        return Err(Failure::user(miette::miette!(
            "give the server's database with --database URL"
        )));
    };
    match args.action {
        cli::UsersAction::Add {
            name,
            role,
            supervisor,
            password_env,
        } => {
            let password = secret(&password_env, "password")?;
            let role = match role {
                cli::UserRole::Headquarters => vicor::server::auth::Role::Headquarters,
                cli::UserRole::Supervisor => vicor::server::auth::Role::Supervisor,
                cli::UserRole::Enumerator => vicor::server::auth::Role::Enumerator,
            };
            vicor::server::add_user(&database, &name, role, supervisor.as_deref(), &password)
                .map_err(Failure::user)?;
            println!("added {name} as {}", role.as_str());
        }
        cli::UsersAction::Revoke { name } => {
            let n = vicor::server::revoke_user(&database, &name).map_err(Failure::user)?;
            println!("revoked {n} tokens of {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn client(args: &cli::ServerArgs) -> Result<Client, Failure> {
    let token = secret(&args.token_env, "token `vicor login` printed")?;
    Ok(Client::new(&args.server, args.ca_cert.as_deref())
        .map_err(sync_failure)?
        .with_token(token))
}

pub fn login(args: cli::LoginArgs) -> Outcome {
    let password = secret(&args.password_env, "password")?;
    let client = Client::new(&args.server, args.ca_cert.as_deref()).map_err(sync_failure)?;
    let device = args.device.clone().unwrap_or_else(|| {
        std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "laptop".to_string())
    });
    let login = client
        .login(&args.user, &password, &device)
        .map_err(sync_failure)?;
    match &args.db {
        Some(db) => {
            let key = store_key(args.key_env.as_deref())?;
            let mut store = vicor::store::Store::open(db, key.as_deref()).map_err(store_failure)?;
            store
                .set_sync_meta(vicor::sync::TOKEN_KEY, &login.token)
                .and_then(|()| store.set_sync_meta(vicor::sync::SERVER_KEY, client.server()))
                .and_then(|()| store.set_sync_meta(vicor::sync::USER_KEY, &login.user))
                .map_err(store_failure)?;
            println!(
                "logged in as {} ({}); the token is kept in {} until {}",
                login.user,
                login.role,
                db.display(),
                login.expires_utc
            );
        }
        None => {
            eprintln!(
                "logged in as {} ({}); token valid until {}:",
                login.user, login.role, login.expires_utc
            );
            println!("{}", login.token);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn sync(args: cli::SyncArgs) -> Outcome {
    let key = store_key(args.store.key_env.as_deref())?;
    let mut store =
        vicor::store::Store::open(&args.store.db, key.as_deref()).map_err(store_failure)?;
    let token = store
        .sync_meta(vicor::sync::TOKEN_KEY)
        .map_err(store_failure)?
        .ok_or(SyncError::NoToken)
        .map_err(sync_failure)?;
    let stored = store
        .sync_meta(vicor::sync::SERVER_KEY)
        .map_err(store_failure)?;
    let server = match (&args.server, &stored) {
        (Some(s), _) => s.clone(),
        (None, Some(s)) => s.clone(),
        (None, None) => {
            return Err(Failure::user(miette::miette!(
                "give the server with --server URL"
            )));
        }
    };
    let client = Client::new(&server, args.ca_cert.as_deref())
        .map_err(sync_failure)?
        .with_token(token);
    let instruments = args.instruments.clone().unwrap_or_else(|| {
        args.store
            .db
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .join("instruments")
    });
    let report = vicor::sync::sync(&mut store, &client, &instruments).map_err(sync_failure)?;
    print!("{report}");
    if report.conflicts.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::from(1))
    }
}

pub fn publish(args: cli::PublishArgs) -> Outcome {
    let client = client(&args.server)?;
    for path in &args.files {
        let checked = vicor::instrument::validate(path);
        let Some(instrument) = checked.instrument.as_ref() else {
            eprintln!("{}", checked.render());
            return Err(Failure::user(miette::miette!(
                "{} has errors: nothing was published",
                path.display()
            )));
        };
        let files =
            vicor::sync::bundle(instrument).map_err(|e| Failure::user(miette::miette!("{e}")))?;
        let stamp = client.publish(files).map_err(sync_failure)?;
        println!(
            "published {} version {} (hash {})",
            stamp.id, stamp.version, stamp.hash
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads the sample CSV; errors name the row and the column.
pub fn read_sample(path: &PathBuf) -> Result<Vec<SampleRow>, Failure> {
    let fail = |m: String| Failure::user(miette::miette!("{}: {m}", path.display()));
    let mut reader = csv::ReaderBuilder::new()
        .from_path(path)
        .map_err(|e| fail(format!("cannot read: {e}")))?;
    let headers = reader
        .headers()
        .map_err(|e| fail(format!("cannot read the header: {e}")))?
        .clone();
    const NEEDED: [&str; 6] = [
        "area",
        "household",
        "address",
        "instrument_id",
        "instrument_version",
        "enumerator",
    ];
    let mut at = [0usize; 6];
    for (i, name) in NEEDED.iter().enumerate() {
        at[i] = headers
            .iter()
            .position(|h| h.trim() == *name)
            .ok_or_else(|| {
                fail(format!(
                    "no column {name:?}: the sample needs the columns {}",
                    NEEDED.join(", ")
                ))
            })?;
    }
    // Optional: only the monitoring page uses them.
    let column = |name: &str| headers.iter().position(|h| h.trim() == name);
    let (region_at, weight_at) = (column("region"), column("design_weight"));
    let mut rows = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| fail(format!("row {line}: {e}")))?;
        let field = |k: usize| -> Result<String, Failure> {
            let v = record.get(at[k]).unwrap_or("").trim().to_string();
            if v.is_empty() {
                return Err(fail(format!(
                    "row {line}, column {} ({}): empty; every household needs it",
                    at[k] + 1,
                    NEEDED[k]
                )));
            }
            Ok(v)
        };
        let row = SampleRow {
            area: field(0)?,
            household: field(1)?,
            address: field(2)?,
            instrument_id: field(3)?,
            instrument_version: field(4)?,
            enumerator: field(5)?,
            region: region_at
                .and_then(|k| record.get(k))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string),
            design_weight: match weight_at.and_then(|k| record.get(k)).map(str::trim) {
                None | Some("") => None,
                Some(v) => Some(
                    v.parse::<f64>()
                        .ok()
                        .filter(|w| w.is_finite() && *w > 0.0)
                        .ok_or_else(|| {
                            fail(format!(
                                "row {line}, design_weight: {v:?} is not a positive number"
                            ))
                        })?,
                ),
            },
        };
        if let Some(first) = seen.insert(row.household.clone(), line) {
            return Err(fail(format!(
                "row {line}, column {} (household): household {} is on row {first} too: household ids must be unique; nothing was loaded",
                at[1] + 1,
                row.household
            )));
        }
        rows.push(row);
    }
    Ok(rows)
}

pub fn assign(args: cli::AssignArgs) -> Outcome {
    let rows = read_sample(&args.sample)?;
    let client = client(&args.server)?;
    let response = client
        .load_sample(&SampleRequest {
            file: args
                .sample
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            rows,
        })
        .map_err(sync_failure)?;
    println!(
        "{} households assigned ({} new, {} unchanged, {} reassigned)",
        response.created + response.unchanged + response.reassigned,
        response.created,
        response.unchanged,
        response.reassigned
    );
    Ok(ExitCode::SUCCESS)
}

pub fn review(args: cli::ReviewArgs) -> Outcome {
    let client = client(&args.server)?;
    let Some(case) = &args.case else {
        let rows = client.review_list().map_err(sync_failure)?;
        println!(
            "{:<36}  {:<12} {:<10} {:<12} {:<10} {:<9} comment",
            "case", "enumerator", "household", "status", "outcome", "review"
        );
        for r in rows {
            println!(
                "{:<36}  {:<12} {:<10} {:<12} {:<10} {:<9} {}{}",
                r.case,
                r.owner,
                r.household.unwrap_or_default(),
                r.status,
                r.outcome.unwrap_or_default(),
                r.review.status,
                r.review.comment.unwrap_or_default(),
                if r.conflicts > 0 {
                    format!(" [{} conflicting laptop copies]", r.conflicts)
                } else {
                    String::new()
                }
            );
        }
        return Ok(ExitCode::SUCCESS);
    };
    let decision = if args.approve {
        Decision::Approve
    } else if args.reject {
        Decision::Reject
    } else if args.take_laptop {
        Decision::TakeLaptop
    } else {
        return Err(Failure::user(miette::miette!(
            "say what to do with case {case}: --approve, --reject --comment TEXT, or --take-laptop"
        )));
    };
    let after = client
        .review(
            case,
            &ReviewRequest {
                decision,
                comment: args.comment.clone(),
            },
        )
        .map_err(sync_failure)?;
    println!(
        "case {}: {} (revision {})",
        after.case, after.review.status, after.revision
    );
    Ok(ExitCode::SUCCESS)
}

/// Downloads every case the token may see into a fresh store in a private
/// temporary folder, encrypted with a random key that never leaves memory,
/// so that `vicor export` can read it as it reads a laptop's store.
pub fn download_store(
    server: &str,
    token_env: &str,
    ca_cert: Option<&Path>,
) -> Result<(tempdir::Dir, String), Failure> {
    let token = secret(token_env, "token `vicor login` printed")?;
    let client = Client::new(server, ca_cert)
        .map_err(sync_failure)?
        .with_token(token);
    let copies = client.all_cases().map_err(sync_failure)?;
    let dir = tempdir::Dir::new()
        .map_err(|e| Failure::user(miette::miette!("cannot make a temporary folder: {e}")))?;
    // 244 random bits from the system's generator, held only in memory.
    let key = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let path = dir.path.join("server.db");
    let mut store = vicor::store::Store::open(&path, Some(&key)).map_err(store_failure)?;
    store.insert_copies(&copies).map_err(store_failure)?;
    drop(store);
    Ok((dir, key))
}

/// A private temporary folder, removed with everything in it when dropped.
pub mod tempdir {
    use std::os::unix::fs::DirBuilderExt;
    use std::path::PathBuf;

    pub struct Dir {
        pub path: PathBuf,
    }

    impl Dir {
        pub fn new() -> std::io::Result<Dir> {
            let path = std::env::temp_dir().join(format!("vicor-export-{}", uuid::Uuid::new_v4()));
            std::fs::DirBuilder::new().mode(0o700).create(&path)?;
            Ok(Dir { path })
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
