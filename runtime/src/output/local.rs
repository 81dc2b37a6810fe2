//! Atomic replacement of a destination on the local file system.
//!
//! DataFusion's writers stream to their final file names, so a failed run would leave
//! half-written output. Instead, output goes to a hidden sibling of the destination
//! (same directory, hence same file system) and replaces the previous output only when
//! complete: the staged files and directories are synced to disk, then swapped with the
//! destination in one `renameat2(RENAME_EXCHANGE)` (the destination is never missing,
//! not even for a directory), and the parent directory is synced.
//!
//! A run holds a lock on the destination (`.NAME.aqueducts-lock`, an exclusive `flock`)
//! from the moment it stages until it committed or gave up, so a second run writing the
//! same destination at once fails clearly instead of interleaving, and liveness never
//! depends on process ids (an executor is PID 1 in its container; two hosts share ids):
//! whoever holds the lock knows that every staging area or old copy beside the
//! destination was left by a run that is gone, and sweeps it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

const STAGING_MARK: &str = ".aqueducts-staging-";
const OLD_MARK: &str = ".aqueducts-old-";
const LOCK_MARK: &str = ".aqueducts-lock";

/// A staging location for one destination path, with the destination's lock.
#[derive(Debug)]
pub struct Staging {
    target: PathBuf,
    staging: PathBuf,
    /// The output is a directory of files (rather than one file).
    directory: bool,
    /// Committed, or aborted and removed: nothing left to clean up when dropped.
    settled: bool,
    /// Released (and its file removed) last, when the staging is dropped.
    _lock: DestinationLock,
}

impl Staging {
    /// Locks `target` for this run, prepares a staging location next to it (creating its
    /// parent directory) and removes what runs that are gone left there. Fails with
    /// `WouldBlock` when another run is writing the same destination.
    pub fn new(target: &Path, directory: bool) -> io::Result<Self> {
        let name = target
            .file_name()
            .ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, format!("`{}` has no file name", target.display()))
            })?
            .to_string_lossy()
            .into_owned();
        let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent)?;
        let lock = DestinationLock::acquire(parent, &name, target)?;
        sweep(parent, &name);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let staging = parent.join(format!(".{name}{STAGING_MARK}{}-{nanos}", std::process::id()));
        Ok(Staging { target: target.to_path_buf(), staging, directory, settled: false, _lock: lock })
    }

    /// Where the writer should write (a file or a directory, as the target will be).
    pub fn path(&self) -> &Path {
        &self.staging
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Replaces the target with the staged output: synced to disk first, then swapped
    /// in with one atomic exchange (or one rename when there is no target yet); the
    /// previous output is removed afterwards.
    pub fn commit(mut self) -> io::Result<()> {
        if !self.staging.exists() {
            // A directory of no rows and no partitions has no files: the output is
            // empty. A single file is always written, even for no rows: a missing one
            // means the write went elsewhere, and nothing must replace the target.
            if !self.directory {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("the staged output `{}` is missing", self.staging.display()),
                ));
            }
            std::fs::create_dir_all(&self.staging)?;
        }
        sync_tree(&self.staging)?;
        if std::fs::symlink_metadata(&self.target).is_ok() {
            exchange(&self.staging, &self.target)?;
            // The staging path now holds the previous output.
            remove(&self.staging);
        } else {
            std::fs::rename(&self.staging, &self.target)?;
        }
        if let Some(parent) = self.target.parent().filter(|p| !p.as_os_str().is_empty()) {
            File::open(parent)?.sync_all()?;
        }
        self.settled = true;
        Ok(())
    }

    /// Removes the staged output now and once more shortly after: a write cut off by a
    /// failure elsewhere may still finish a file on a blocking thread (those cannot be
    /// cancelled) after the first removal. The lock is held until then.
    pub async fn abort(mut self) {
        remove_staged(&self.staging);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        remove_staged(&self.staging);
        self.settled = true;
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.settled {
            remove_staged(&self.staging);
        }
    }
}

/// The staged output, and the partial uploads of the local object store beside it (it
/// writes `NAME#N` and renames it to `NAME` when the upload completes).
fn remove_staged(staging: &Path) {
    remove(staging);
    if let (Some(parent), Some(name)) = (staging.parent(), staging.file_name()) {
        let prefix = format!("{}#", name.to_string_lossy());
        if let Ok(entries) = std::fs::read_dir(parent) {
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    remove(&entry.path());
                }
            }
        }
    }
}

/// An exclusive lock on a destination, held by an open lock file beside it.
#[derive(Debug)]
struct DestinationLock {
    path: PathBuf,
    _file: File,
}

impl DestinationLock {
    fn acquire(parent: &Path, name: &str, target: &Path) -> io::Result<Self> {
        let path = parent.join(format!(".{name}{LOCK_MARK}"));
        // A writer that finishes removes its lock file: the file locked must still be
        // the one of that name, or the lock is taken on the new one.
        for _ in 0..16 {
            let file = OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&path)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        format!("another run is writing `{}`; run again once it has finished", target.display()),
                    ));
                }
                Err(TryLockError::Error(e)) => return Err(e),
            }
            let held = file.metadata()?;
            if std::fs::metadata(&path).is_ok_and(|named| named.ino() == held.ino() && named.dev() == held.dev()) {
                return Ok(DestinationLock { path, _file: file });
            }
        }
        Err(io::Error::other(format!("the lock of `{}` keeps changing", target.display())))
    }
}

impl Drop for DestinationLock {
    fn drop(&mut self) {
        // Removed while still locked; the lock goes with the file handle right after.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Swaps two paths atomically (Linux `renameat2` with `RENAME_EXCHANGE`). Where the file
/// system cannot, the target is moved aside and the staged output renamed into place,
/// the old copy named so that a sweep puts it back if the second rename never happens.
fn exchange(staged: &Path, target: &Path) -> io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    match renameat_with(CWD, staged, CWD, target, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS | rustix::io::Errno::NOTSUP) => {
            let old = sibling(target, OLD_MARK);
            std::fs::rename(target, &old)?;
            if let Err(e) = std::fs::rename(staged, target) {
                let _ = std::fs::rename(&old, target);
                return Err(e);
            }
            // Where the exchange would have left the previous output.
            std::fs::rename(&old, staged)
        }
        Err(e) => Err(e.into()),
    }
}

/// Syncs every file and directory of a staged output to disk.
fn sync_tree(path: &Path) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            sync_tree(&entry?.path())?;
        }
    }
    if meta.is_dir() || meta.is_file() {
        File::open(path)?.sync_all()?;
    }
    Ok(())
}

fn sibling(target: &Path, mark: &str) -> PathBuf {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    target.with_file_name(format!(".{name}{mark}{}-{nanos}", std::process::id()))
}

fn remove(path: &Path) {
    let _ = if path.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
}

/// Cleans up after runs that are gone (the caller holds the destination's lock, so no
/// live run owns anything here): removes their staging areas, and of a swap cut short
/// between its two renames, puts the previous output back (or removes the old copy when
/// the new output is already in place).
fn sweep(parent: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    let target = parent.join(name);
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file_name.strip_prefix(&format!(".{name}")) else { continue };
        let old = if rest.starts_with(STAGING_MARK) {
            false
        } else if rest.starts_with(OLD_MARK) {
            true
        } else {
            continue;
        };
        if old && !target.exists() {
            let _ = std::fs::rename(entry.path(), &target);
        } else {
            remove(&entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_replaces_files_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("out.csv");
        std::fs::write(&file, "old").unwrap();
        let staging = Staging::new(&file, false).unwrap();
        std::fs::write(staging.path(), "new").unwrap();
        staging.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "new");

        let out = dir.path().join("parts");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("old.csv"), "old").unwrap();
        let staging = Staging::new(&out, true).unwrap();
        std::fs::create_dir(staging.path()).unwrap();
        std::fs::write(staging.path().join("new.csv"), "new").unwrap();
        staging.commit().unwrap();
        assert!(out.join("new.csv").exists() && !out.join("old.csv").exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "no debris");
    }

    #[test]
    fn dropping_keeps_the_previous_output_and_leaves_no_debris() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("out.parquet");
        std::fs::write(&file, "previous").unwrap();
        {
            let staging = Staging::new(&file, false).unwrap();
            std::fs::write(staging.path(), "half written").unwrap();
        }
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "previous");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn dropping_removes_partial_uploads() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("out.csv");
        let staging = Staging::new(&file, false).unwrap();
        let partial = format!("{}#1", staging.path().display());
        std::fs::write(&partial, "half an upload").unwrap();
        drop(staging);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_swap_cut_short_is_undone() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("parts");
        let old = dir.path().join(format!(".parts{OLD_MARK}4000000000-1"));
        std::fs::create_dir(&old).unwrap();
        std::fs::write(old.join("previous.csv"), "previous").unwrap();
        let _staging = Staging::new(&out, true).unwrap();
        assert_eq!(std::fs::read_to_string(out.join("previous.csv")).unwrap(), "previous");
    }

    #[test]
    fn debris_of_dead_runs_is_swept_whatever_its_process_id() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("out.csv");
        // Left by a killed run whose id is now another process's (PID 1 in a container,
        // or this very process): the lock says it is gone.
        let debris = dir.path().join(format!(".out.csv{STAGING_MARK}{}-1", std::process::id()));
        std::fs::write(&debris, "left by a killed run").unwrap();
        let reused = dir.path().join(format!(".out.csv{STAGING_MARK}1-1"));
        std::fs::write(&reused, "left by PID 1").unwrap();
        let _staging = Staging::new(&file, false).unwrap();
        assert!(!debris.exists() && !reused.exists());
    }

    #[test]
    fn a_second_run_on_the_same_destination_fails_clearly_and_a_live_staging_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("out.csv");
        let first = Staging::new(&file, false).unwrap();
        std::fs::write(first.path(), "first").unwrap();
        let second = Staging::new(&file, false).unwrap_err();
        assert_eq!(second.kind(), io::ErrorKind::WouldBlock);
        assert!(second.to_string().contains("another run is writing"), "{second}");
        assert!(first.path().exists(), "the live run's staging is not swept");
        first.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "first");
        // Once it is done, the next run may write.
        let third = Staging::new(&file, false).unwrap();
        std::fs::write(third.path(), "third").unwrap();
        third.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "third");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no lock file or debris left");
    }

    #[test]
    fn a_directory_is_exchanged_whole() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("parts");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("old.csv"), "old").unwrap();
        let staging = Staging::new(&out, true).unwrap();
        std::fs::create_dir(staging.path()).unwrap();
        std::fs::write(staging.path().join("new.csv"), "new").unwrap();
        super::exchange(staging.path(), &out).unwrap();
        // Both sides exist at every moment: the new output in place, the old beside it.
        assert!(out.join("new.csv").exists() && staging.path().join("old.csv").exists());
    }
}
