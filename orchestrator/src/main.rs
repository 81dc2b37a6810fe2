//! `aqueducts-orchestrator`: see the crate documentation in `lib.rs`.

use std::process::ExitCode;

use aqueducts_orchestrator::db::keys::{self, Role};
use aqueducts_orchestrator::options::KeysAction;
use aqueducts_orchestrator::{Command, Options};
use clap::Parser;

fn main() -> ExitCode {
    let options = Options::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
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
    match options.command {
        Command::Keys { storage, action } => {
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
