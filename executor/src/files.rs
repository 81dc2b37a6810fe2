//! The executor's files, as a client compiling for it sees them.
//!
//! While `aqueducts run --executor` compiles, DataFusion on the client lists source
//! directories and reads file headers and footers (schemas, Parquet statistics). Those
//! reads come here, so compilation sees the data where the plan will run. Only absolute
//! paths under the allowed locations are served, and a read returns at most
//! [`MAX_GET_BYTES`].

use std::path::{Component, Path};
use std::time::UNIX_EPOCH;

use aqueducts_protocol::{FileInfo, StoreAnswer, StoreOperation};
use aqueducts_runtime::access::{AllowList, DatabasePolicy};
use aqueducts_runtime::io::odbc::{ConnectionString, OdbcError, describe, schema_to_columns};

/// The most one read returns; clients read larger ranges in pieces.
pub const MAX_GET_BYTES: u64 = 4 * 1024 * 1024;

/// A served request: a JSON answer, or bytes for a `Get`.
pub enum Served {
    Answer(StoreAnswer),
    Bytes(Vec<u8>),
}

/// Serves one operation (blocking file I/O: call it off the async workers).
pub fn serve(operation: &StoreOperation, allowed: &AllowList, databases: &DatabasePolicy) -> Served {
    let path = match &operation {
        StoreOperation::Head { path }
        | StoreOperation::List { prefix: path, .. }
        | StoreOperation::Get { path, .. } => path,
        StoreOperation::DescribeOdbc { connection_string, query } => {
            return Served::Answer(describe_odbc(connection_string, query, allowed, databases));
        }
    };
    if let Err(message) = permitted(path, allowed) {
        return Served::Answer(StoreAnswer::Refused { message });
    }
    let not_found = || Served::Answer(StoreAnswer::NotFound { path: path.clone() });
    match operation {
        StoreOperation::Head { path } => match std::fs::metadata(path) {
            Ok(meta) if meta.is_file() => Served::Answer(StoreAnswer::File(info(Path::new(path), &meta))),
            _ => not_found(),
        },
        StoreOperation::List { prefix, recursive } => {
            let mut files = Vec::new();
            let mut directories = Vec::new();
            if list(Path::new(prefix), *recursive, allowed, &mut files, &mut directories).is_err() {
                return not_found();
            }
            files.sort_by(|a, b| a.path.cmp(&b.path));
            directories.sort();
            Served::Answer(StoreAnswer::Listing { files, directories })
        }
        // Answered above, without a path to check.
        StoreOperation::DescribeOdbc { connection_string, query } => {
            Served::Answer(describe_odbc(connection_string, query, allowed, databases))
        }
        StoreOperation::Get { path, start, end } => {
            use std::io::{Read, Seek, SeekFrom};
            let length = end.saturating_sub(*start).min(MAX_GET_BYTES);
            let read = std::fs::File::open(path).and_then(|mut file| {
                file.seek(SeekFrom::Start(*start))?;
                let mut bytes = Vec::with_capacity(length as usize);
                file.take(length).read_to_end(&mut bytes)?;
                Ok(bytes)
            });
            match read {
                Ok(bytes) => Served::Bytes(bytes),
                Err(_) => not_found(),
            }
        }
    }
}

/// Describes a query on a database the executor reaches, if plans may use databases.
fn describe_odbc(connection_string: &str, query: &str, allowed: &AllowList, databases: &DatabasePolicy) -> StoreAnswer {
    if !allowed.allows_databases() {
        return StoreAnswer::Refused {
            message: "this executor does not allow databases (`--allow-location odbc://`)".into(),
        };
    }
    if let Err(refused) = databases.check_connection_string(&ConnectionString::new(connection_string)) {
        return StoreAnswer::Refused { message: refused.to_string() };
    }
    match describe(connection_string, query) {
        Ok(schema) => StoreAnswer::Described { columns: schema_to_columns(&schema) },
        Err(OdbcError::Query(message)) => StoreAnswer::OdbcFailed { failure: "query".into(), message },
        Err(OdbcError::Connect(message)) => StoreAnswer::OdbcFailed { failure: "connect".into(), message },
        Err(other) => StoreAnswer::OdbcFailed { failure: "other".into(), message: other.to_string() },
    }
}

/// Kernel file systems: they describe the executor process (its environment, memory),
/// never a pipeline's data.
const NEVER_SERVED: &[&str] = &["/proc", "/sys", "/dev"];

/// Absolute, without `.` or `..`, and under an allowed prefix (if any are set), both as
/// written and after following symbolic links (a link inside an allowed directory may
/// not lead outside it).
fn permitted(path: &str, allowed: &AllowList) -> Result<(), String> {
    let p = Path::new(path);
    if !p.is_absolute() || p.components().any(|c| matches!(c, Component::ParentDir | Component::CurDir)) {
        return Err(format!("`{path}` is not an absolute, normalized path"));
    }
    let resolved = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    for candidate in [p, resolved.as_path()] {
        if NEVER_SERVED.iter().any(|root| candidate.starts_with(root)) {
            return Err(format!("`{path}` is not a data location"));
        }
        // A plain path as a URL: its `%` is a character, not an escape.
        if !allowed.allows(&format!("file://{}", candidate.display().to_string().replace('%', "%25"))) {
            return Err(format!("`{path}` is outside the locations this executor allows"));
        }
    }
    Ok(())
}

fn info(path: &Path, meta: &std::fs::Metadata) -> FileInfo {
    let modified_ms = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    FileInfo { path: path.display().to_string(), size: meta.len(), modified_ms }
}

fn list(
    dir: &Path,
    recursive: bool,
    allowed: &AllowList,
    files: &mut Vec<FileInfo>,
    directories: &mut Vec<String>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_symlink() {
            // Linked directories are not followed: a link to a parent would never end.
            // A linked file is listed only when where it leads is allowed too (its size
            // and time would tell of a file elsewhere).
            if path.is_dir() || permitted(&path.display().to_string(), allowed).is_err() {
                continue;
            }
        }
        let meta = std::fs::metadata(&path)?;
        if meta.is_dir() {
            if recursive {
                list(&path, true, allowed, files, directories)?;
            } else {
                directories.push(path.display().to_string());
            }
        } else if meta.is_file() {
            files.push(info(&path, &meta));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_heads_listings_and_ranges_under_allowed_prefixes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().display().to_string();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("a.csv"), "x,y\n1,2\n").unwrap();
        std::fs::write(dir.path().join("sub/b.csv"), "x,y\n").unwrap();
        let allowed = AllowList::parse(std::slice::from_ref(&root), dir.path());
        let databases = DatabasePolicy::new(false, vec![]);
        let head = serve(&StoreOperation::Head { path: format!("{root}/a.csv") }, &allowed, &databases);
        assert!(matches!(head, Served::Answer(StoreAnswer::File(FileInfo { size: 8, .. }))));
        let get =
            serve(&StoreOperation::Get { path: format!("{root}/a.csv"), start: 4, end: 100 }, &allowed, &databases);
        assert!(matches!(get, Served::Bytes(ref b) if b == b"1,2\n"));
        match serve(&StoreOperation::List { prefix: root.clone(), recursive: false }, &allowed, &databases) {
            Served::Answer(StoreAnswer::Listing { files, directories }) => {
                assert_eq!(files.len(), 1);
                assert_eq!(directories, [format!("{root}/sub")]);
            }
            _ => panic!("not a listing"),
        }
        match serve(&StoreOperation::List { prefix: root.clone(), recursive: true }, &allowed, &databases) {
            Served::Answer(StoreAnswer::Listing { files, .. }) => assert_eq!(files.len(), 2),
            _ => panic!("not a listing"),
        }
        std::os::unix::fs::symlink("/etc", dir.path().join("sub/etc")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("sub/passwd")).unwrap();
        match serve(&StoreOperation::List { prefix: root.clone(), recursive: true }, &allowed, &databases) {
            Served::Answer(StoreAnswer::Listing { files, .. }) => {
                assert_eq!(files.len(), 2, "a link to a file outside is not listed: {files:?}")
            }
            _ => panic!("not a listing"),
        }
        // `%2E` in a plain path is three characters, not a `.`: `/tmp/%2Etmp…` is not
        // the allowed `/tmp/.tmp…`.
        let name = dir.path().file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with('.'), "tempfile names start with a dot: {name}");
        let lookalike = format!("{}/%2E{}/x", dir.path().parent().unwrap().display(), &name[1..]);
        for path in [
            "/etc/passwd".to_string(),
            format!("{root}/../x"),
            "relative".into(),
            format!("{root}/sub/etc/passwd"),
            lookalike,
        ] {
            let refused = serve(&StoreOperation::Head { path }, &allowed, &databases);
            assert!(matches!(refused, Served::Answer(StoreAnswer::Refused { .. })));
        }
        let describe = StoreOperation::DescribeOdbc { connection_string: "DSN=x".into(), query: "SELECT 1".into() };
        assert!(matches!(serve(&describe, &allowed, &databases), Served::Answer(StoreAnswer::Refused { .. })));
        let missing = serve(&StoreOperation::Head { path: format!("{root}/nope") }, &allowed, &databases);
        assert!(matches!(missing, Served::Answer(StoreAnswer::NotFound { .. })));
    }
}
