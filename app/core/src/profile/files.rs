//! Careful file operations: atomic replace, fsync, refusing to clobber.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::ProfileError;

pub(super) fn io_err(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ProfileError {
    let path = path.to_owned();
    move |source| ProfileError::Io { op, path, source }
}

/// Creates `dir` if needed and checks it is empty, so `init`/`import` never overwrite.
pub(super) fn ensure_empty_dir(dir: &Path) -> Result<(), ProfileError> {
    fs::create_dir_all(dir).map_err(io_err("creating", dir))?;
    let mut entries = fs::read_dir(dir).map_err(io_err("listing", dir))?;
    if entries.next().is_some() {
        return Err(ProfileError::AlreadyExists(dir.to_owned()));
    }
    restrict_dir(dir)
}

#[cfg(unix)]
fn restrict_dir(dir: &Path) -> Result<(), ProfileError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_err("securing", dir))
}

#[cfg(not(unix))]
fn restrict_dir(_dir: &Path) -> Result<(), ProfileError> {
    Ok(())
}

/// A sibling temp path for `path`.
pub(super) fn temp_sibling(path: &Path, tag: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{tag}-{}", std::process::id()));
    path.with_file_name(name)
}

/// Writes `path` via a temp file, fsync and rename, then fsyncs the directory.
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ProfileError> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// Like [`write_atomic`], with the content produced by a writer callback.
pub(super) fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> Result<(), ProfileError> {
    let tmp = temp_sibling(path, "tmp");
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io_err("creating", &tmp))?;
        fill(&mut f).map_err(io_err("writing", &tmp))?;
        f.sync_all().map_err(io_err("syncing", &tmp))?;
        fs::rename(&tmp, path).map_err(io_err("renaming into", path))?;
        sync_parent(path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn sync_parent(path: &Path) -> Result<(), ProfileError> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => {
            let dir = File::open(parent).map_err(io_err("opening", parent))?;
            dir.sync_all().map_err(io_err("syncing", parent))
        }
        _ => Ok(()),
    }
}
