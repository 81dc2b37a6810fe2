//! `aqueducts-executor`: see the crate documentation in `lib.rs` and docs/executor.md.

use std::process::ExitCode;

use aqueducts_executor::{Options, serve};
use clap::Parser;

fn main() -> ExitCode {
    // Before any thread starts: it sets an environment variable.
    aqueducts_runtime::io::odbc::prepare_server_driver_config();
    let options = Options::parse();
    if let Err(message) = options.validate() {
        eprintln!("error: {message}");
        return ExitCode::from(2);
    }
    // The ODBC layer logs the driver's diagnostics, which may repeat what a connection
    // string gave the driver (a resolved secret included): never logged.
    let filter = tracing_subscriber::EnvFilter::new(format!(
        "aqueducts_executor={level},aqueducts_runtime={level},odbc_api=off,arrow_odbc=off,warn",
        level = options.log_level
    ));
    tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stderr).init();
    // Panics inside the decoder or a run are caught and answered as errors; log them as
    // JSON like everything else instead of the default hook's plain text.
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
    tracing::info!(options = ?options, "starting");
    // Decoding and running plans recurses per plan node: give the workers the same
    // room as the CLI's planning threads.
    let runtime =
        match tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(256 * 1024 * 1024).build() {
            Ok(runtime) => runtime,
            Err(e) => {
                tracing::error!(error = %e, "cannot start the async runtime");
                return ExitCode::FAILURE;
            }
        };
    match runtime.block_on(serve(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!(%message, "cannot serve");
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
