//! `aqueducts-orchestrator`: see the crate documentation in `lib.rs`.

use std::process::ExitCode;

use aqueducts_orchestrator::db::keys::{self, Role};
use aqueducts_orchestrator::options::KeysAction;
use aqueducts_orchestrator::{Command, Options};
use clap::Parser;

fn main() -> ExitCode {
    let options = Options::parse();
    if options.command.is_none() {
        if let Err(message) = options.serve.keys() {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
        let filter = tracing_subscriber::EnvFilter::new(format!(
            "aqueducts_orchestrator={level},aqueducts_compiler={level},warn",
            level = options.serve.log_level
        ));
        tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stderr).init();
        std::panic::set_hook(Box::new(|info| {
            let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(%location, panic = %message, "caught a panic");
        }));
        tracing::info!(storage = ?options.storage, serve = ?options.serve, "starting");
    }
    // Compiling specs plans SQL, which recurses per plan node: give the workers the
    // same room as the CLI's planning threads.
    let runtime =
        match tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(256 * 1024 * 1024).build() {
            Ok(runtime) => runtime,
            Err(e) => {
                eprintln!("error: cannot start the async runtime: {e}");
                return ExitCode::FAILURE;
            }
        };
    match runtime.block_on(run(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: Options) -> Result<(), String> {
    let storage = options.storage.clone();
    match options.command {
        None => aqueducts_orchestrator::serve(&options).await.map_err(|e| {
            tracing::error!(error = %e, "cannot serve");
            e.to_string()
        }),
        Some(Command::Keys { action }) => {
            // Listing or revoking keys of a database that is not there would create an
            // empty one and say nothing is there: a wrong --data-dir is said instead.
            let default_file = storage.data_dir.join("orchestrator.db");
            if storage.database.is_none() && !matches!(action, KeysAction::Create { .. }) && !default_file.exists() {
                return Err(format!(
                    "there is no orchestrator database in `{}`; give the orchestrator's --data-dir or --database",
                    storage.data_dir.display()
                ));
            }
            let url = storage
                .database_url()
                .map_err(|e| format!("cannot use the data directory `{}`: {e}", storage.data_dir.display()))?;
            let db = aqueducts_orchestrator::db::open(&url).await.map_err(|e| e.to_string())?;
            match action {
                KeysAction::Create { name, role } => {
                    if !aqueducts_protocol::managed::is_plain_name(&name) {
                        return Err(format!(
                            "`{name}` cannot name a key: use 1 to 128 letters, digits, `.`, `_` or `-`"
                        ));
                    }
                    let role = Role::parse(&role).ok_or_else(|| format!("`{role}` is not a role"))?;
                    let key = keys::create(&db, &name, role).await.map_err(|e| match e {
                        aqueducts_orchestrator::db::DbError::Query(sqlx::Error::Database(d))
                            if d.is_unique_violation() =>
                        {
                            format!("a key named `{name}` exists already (revoked keys keep their names); choose another name")
                        }
                        other => other.to_string(),
                    })?;
                    eprintln!("created {} key `{name}`; it is shown once, keep it safe:", role.name());
                    println!("{key}");
                }
                KeysAction::List => {
                    for key in keys::list(&db).await.map_err(|e| e.to_string())? {
                        let state = if key.revoked { "revoked" } else { "active" };
                        println!("{}\t{}\t{state}", key.name, key.role.name());
                    }
                }
                KeysAction::Revoke { name } => {
                    if !keys::revoke(&db, &name).await.map_err(|e| e.to_string())? {
                        return Err(format!("there is no active key named `{name}`"));
                    }
                    eprintln!("revoked key `{name}`");
                }
            }
            Ok(())
        }
    }
}
