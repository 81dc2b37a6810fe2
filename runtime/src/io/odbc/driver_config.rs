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
    write_driver_config();
}

/// [`prepare_driver_config`] for a server that runs other people's plans: user DSNs
/// (`$ODBCINI`, else `~/.odbc.ini`, a file a plan might write) are not read either; DSNs
/// come from the system's `odbc.ini` alone.
///
/// Changes the process environment, so it must run before any other thread starts.
pub fn prepare_server_driver_config() {
    if std::env::var_os("ODBCSYSINI").is_none() {
        write_driver_config();
    }
    if let Some(dir) = std::env::var_os("ODBCSYSINI") {
        // SAFETY: called at the start of `main`, before any other thread exists.
        unsafe { std::env::set_var("ODBCINI", std::path::Path::new(&dir).join("odbc.ini")) };
    }
}

fn write_driver_config() {
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
    if let Some(dir) = private_config_dir(&odbcinst, &dsns) {
        // SAFETY: called at the start of `main`, before any other thread exists.
        unsafe { std::env::set_var("ODBCSYSINI", &dir) };
    }
}

/// A directory only this user can read or write, holding the two files: the one named by
/// their content (so processes with the same configuration share it) when it exists and
/// is this user's own, private directory; otherwise a fresh one. A directory of that name
/// that someone else made (to plant a driver of their own) is never used.
fn private_config_dir(odbcinst: &str, dsns: &[u8]) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    let digest = <sha2::Sha256 as sha2::Digest>::digest([odbcinst.as_bytes(), dsns].concat());
    let name: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    // Written into a fresh directory, then renamed into place: a concurrent process never
    // sees half, and `create` fails rather than reuse a directory that is there already.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let fresh = std::env::temp_dir().join(format!("aqueducts-odbc-{name}.{}.{nanos}", std::process::id()));
    std::fs::DirBuilder::new().mode(0o700).create(&fresh).ok()?;
    let uid = std::fs::symlink_metadata(&fresh).ok()?.uid();
    let written = std::fs::write(fresh.join("odbc.ini"), dsns)
        .and_then(|()| std::fs::write(fresh.join("odbcinst.ini"), odbcinst))
        .and_then(|()| std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(0o700)));
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&fresh);
        return None;
    }
    let shared = std::env::temp_dir().join(format!("aqueducts-odbc-{uid}-{name}"));
    let is_private = |path: &std::path::Path| {
        std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0)
    };
    if is_private(&shared) && shared.join("odbcinst.ini").exists() {
        let _ = std::fs::remove_dir_all(&fresh);
        return Some(shared);
    }
    if !shared.exists() && std::fs::rename(&fresh, &shared).is_ok() {
        return Some(shared);
    }
    // Taken by someone else (or by a concurrent start): keep the fresh one.
    Some(fresh)
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

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::private_config_dir;

    #[test]
    fn the_config_directory_is_private_and_never_one_planted_by_someone_else() {
        // Content of this test alone, so the directory is its own.
        let odbcinst = format!("[Test {}]\nDriver=/usr/lib/test.so\n", std::process::id());
        let first = private_config_dir(&odbcinst, b"").unwrap();
        let mode = std::fs::metadata(&first).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{}", first.display());
        assert_eq!(std::fs::read_to_string(first.join("odbcinst.ini")).unwrap(), odbcinst);
        assert_eq!(private_config_dir(&odbcinst, b"").unwrap(), first, "shared while it stays private");
        // Someone opened it up and planted a driver: it is not used any more.
        std::fs::set_permissions(&first, std::fs::Permissions::from_mode(0o777)).unwrap();
        std::fs::write(first.join("odbcinst.ini"), "[Test]\nDriver=/tmp/evil.so\n").unwrap();
        let second = private_config_dir(&odbcinst, b"").unwrap();
        assert_ne!(second, first);
        assert_eq!(std::fs::read_to_string(second.join("odbcinst.ini")).unwrap(), odbcinst);
        let _ = std::fs::remove_dir_all(&first);
        let _ = std::fs::remove_dir_all(&second);
    }
}
