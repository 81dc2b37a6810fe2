//! Making the system's ODBC driver registrations usable by the driver manager built into
//! Aqueducts.

/// Where Linux distributions put ODBC driver libraries that `odbcinst.ini` names
/// without a directory (Debian's packages do, relying on their own driver manager's
/// search path, which the driver manager built into Aqueducts does not share).
const DRIVER_DIRECTORIES: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/odbc",
    "/usr/lib/aarch64-linux-gnu/odbc",
    "/usr/lib64",
    "/usr/lib/odbc",
    "/usr/local/lib",
    "/usr/lib",
];

/// Makes driver names from the system's `odbcinst.ini` loadable: unless `ODBCSYSINI` is
/// set already, copies `/etc/odbcinst.ini` and `/etc/odbc.ini` to a private directory
/// with every driver library given by its full path, and points `ODBCSYSINI` there.
///
/// Changes the process environment, so it must run before any other thread starts:
/// the binaries call it first thing in `main`.
pub fn prepare_driver_config() {
    if std::env::var_os("ODBCSYSINI").is_some() {
        return;
    }
    let Ok(odbcinst) = std::fs::read_to_string("/etc/odbcinst.ini") else { return };
    let resolved: Vec<String> = odbcinst
        .lines()
        .map(|line| {
            let Some((key, value)) = line.split_once('=') else { return line.to_string() };
            let (key_name, library) = (key.trim(), value.trim());
            let is_library = key_name.eq_ignore_ascii_case("driver") || key_name.eq_ignore_ascii_case("setup");
            if !is_library || library.is_empty() || library.starts_with('/') {
                return line.to_string();
            }
            match DRIVER_DIRECTORIES.iter().map(|d| std::path::Path::new(d).join(library)).find(|p| p.exists()) {
                Some(path) => format!("{key_name}={}", path.display()),
                None => line.to_string(),
            }
        })
        .collect();
    let odbcinst = resolved.join("\n") + "\n";
    let dsns = std::fs::read("/etc/odbc.ini").unwrap_or_default();
    // Named by content, so every process with the same configuration shares one copy.
    let digest = <sha2::Sha256 as sha2::Digest>::digest([odbcinst.as_bytes(), &dsns].concat());
    let name: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let dir = std::env::temp_dir().join(format!("aqueducts-odbc-{name}"));
    let written = if dir.join("odbcinst.ini").exists() {
        Ok(())
    } else {
        // Written beside, then renamed into place: a concurrent process never sees half.
        let partial = std::env::temp_dir().join(format!("aqueducts-odbc-{name}.{}", std::process::id()));
        std::fs::create_dir_all(&partial)
            .and_then(|()| std::fs::write(partial.join("odbc.ini"), &dsns))
            .and_then(|()| std::fs::write(partial.join("odbcinst.ini"), &odbcinst))
            .and_then(|()| match std::fs::rename(&partial, &dir) {
                Err(_) if dir.join("odbcinst.ini").exists() => std::fs::remove_dir_all(&partial),
                other => other,
            })
    };
    if written.is_ok() {
        // SAFETY: called at the start of `main`, before any other thread exists.
        unsafe { std::env::set_var("ODBCSYSINI", &dir) };
    }
}

/// The driver names registered in the `odbcinst.ini` this process's driver manager
/// reads (`$ODBCSYSINI/odbcinst.ini`, else `/etc/odbcinst.ini`): its section names but
/// `[ODBC]`.
pub fn registered_drivers() -> Vec<String> {
    let dir = std::env::var_os("ODBCSYSINI").map_or_else(|| std::path::PathBuf::from("/etc"), std::path::PathBuf::from);
    let Ok(text) = std::fs::read_to_string(dir.join("odbcinst.ini")) else { return Vec::new() };
    text.lines()
        .filter_map(|line| line.trim().strip_prefix('[')?.strip_suffix(']').map(|name| name.trim().to_string()))
        .filter(|name| !name.eq_ignore_ascii_case("ODBC"))
        .collect()
}
