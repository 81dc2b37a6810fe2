//! Atomic replacement of a destination.
//!
//! DataFusion's writers stream to their final file names, so a failed run would leave
//! half-written output. Instead, output goes to a hidden sibling of the destination
//! (same directory, hence same file system) and replaces the previous output with a
//! rename only when complete. A staging area that is dropped without being committed is
//! removed; one left behind by a killed process is swept by the next write to the same
//! destination.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

const STAGING_MARK: &str = ".aqueducts-staging-";
const OLD_MARK: &str = ".aqueducts-old-";

/// A staging location for one destination path.
#[derive(Debug)]
pub struct Staging {
    target: PathBuf,
    staging: PathBuf,
    /// The output is a directory of files (rather than one file).
    directory: bool,
    committed: bool,
}

impl Staging {
    /// Prepares a staging location next to `target`, creating its parent directory and
    /// removing debris of earlier runs that did not finish.
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
        sweep(parent, &name);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let staging = parent.join(format!(".{name}{STAGING_MARK}{}-{nanos}", std::process::id()));
        Ok(Staging { target: target.to_path_buf(), staging, directory, committed: false })
    }

    /// Where the writer should write (a file or a directory, as the target will be).
    pub fn path(&self) -> &Path {
        &self.staging
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Replaces the target with the staged output. A file replaces a file in one rename;
    /// a directory is swapped with two renames, the old one removed afterwards.
    pub fn commit(mut self) -> io::Result<()> {
        if !self.staging.exists() {
            // Nothing was written (no rows and no partitions): the output is empty.
            if self.directory {
                std::fs::create_dir_all(&self.staging)?;
            } else {
                std::fs::File::create(&self.staging)?;
            }
        }
        match std::fs::symlink_metadata(&self.target) {
            Ok(meta) if meta.is_dir() || self.staging.is_dir() => {
                let old = sibling(&self.target, OLD_MARK);
                std::fs::rename(&self.target, &old)?;
                if let Err(e) = std::fs::rename(&self.staging, &self.target) {
                    let _ = std::fs::rename(&old, &self.target);
                    return Err(e);
                }
                remove(&old);
            }
            _ => std::fs::rename(&self.staging, &self.target)?,
        }
        self.committed = true;
        Ok(())
    }
}

impl Staging {
    /// Removes the staged output now and once more shortly after: a write cut off by a
    /// failure elsewhere may still finish a file on a blocking thread (those cannot be
    /// cancelled) after the first removal.
    pub async fn abort(self) {
        let again = Staging {
            target: self.target.clone(),
            staging: self.staging.clone(),
            directory: self.directory,
            committed: false,
        };
        drop(self);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        drop(again);
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            remove(&self.staging);
            // The local object store writes `NAME#N` and renames it to `NAME` when the
            // upload completes; an interrupted write leaves the former behind.
            if let (Some(parent), Some(name)) = (self.staging.parent(), self.staging.file_name()) {
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
    }
}

fn sibling(target: &Path, mark: &str) -> PathBuf {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    target.with_file_name(format!(".{name}{mark}{}-{nanos}", std::process::id()))
}

fn remove(path: &Path) {
    let _ = if path.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
}

/// Cleans up after processes that no longer run: removes their staging areas, and of
/// a directory swap cut short between its two renames, puts the previous output back
/// (or removes the old copy when the new output is already in place).
fn sweep(parent: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    let target = parent.join(name);
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file_name.strip_prefix(&format!(".{name}")) else { continue };
        let (suffix, old) = match (rest.strip_prefix(STAGING_MARK), rest.strip_prefix(OLD_MARK)) {
            (Some(suffix), _) => (suffix, false),
            (_, Some(suffix)) => (suffix, true),
            _ => continue,
        };
        let pid = suffix.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if pid.is_none_or(process_alive) {
            continue;
        }
        if old && !target.exists() {
            let _ = std::fs::rename(entry.path(), &target);
        } else {
            remove(&entry.path());
        }
    }
}

/// Whether a process runs. Without `/proc` (not Linux) every process counts as alive,
/// so nothing that might belong to a concurrent run is ever removed.
fn process_alive(pid: u32) -> bool {
    pid == std::process::id() || !Path::new("/proc/self").exists() || Path::new(&format!("/proc/{pid}")).exists()
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
    fn debris_of_dead_processes_is_swept() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("out.csv");
        let debris = dir.path().join(format!(".out.csv{STAGING_MARK}4000000000-1"));
        std::fs::write(&debris, "left by a killed run").unwrap();
        let _staging = Staging::new(&file, false).unwrap();
        assert!(!debris.exists());
    }
}
