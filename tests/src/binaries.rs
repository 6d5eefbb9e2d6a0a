//! Locating workspace binaries, building them once per test process.
//!
//! `cargo test --workspace` / `cargo nextest run --workspace` build every
//! package's binaries (each binary package has an integration test), so
//! normally the binary is already there. It is used as is when it is newer
//! than every source file of its package and the workspace packages it
//! depends on; otherwise (missing, or sources
//! edited since) the first use runs `cargo build -p PKG --bin BIN` in the
//! tests' profile, so tests never run a stale binary. Invoking cargo only
//! when needed matters: a `-p` build resolves features differently from a
//! workspace build and would relink the binary every time.
//! `CAIRN_TESTS_NO_BUILD=1` skips building altogether.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The workspace root (parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The profile directory holding binaries, e.g. `target/debug`.
///
/// Test executables live in `<profile>/deps/`; that is the most reliable
/// anchor (it honours `CARGO_TARGET_DIR` and `--release` automatically).
pub fn profile_dir() -> PathBuf {
    if let Ok(exe) = std::env::current_exe()
        && let Some(deps) = exe.parent()
        && deps.file_name().is_some_and(|n| n == "deps")
        && let Some(profile) = deps.parent()
    {
        return profile.to_path_buf();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("debug")
}

fn built() -> &'static Mutex<HashMap<String, PathBuf>> {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    BUILT.get_or_init(Mutex::default)
}

/// Path of workspace binary `bin` from package `package`, built if needed.
///
/// Panics with cargo's output if the build fails: the test cannot run.
pub fn binary(package: &str, bin: &str) -> PathBuf {
    let mut built = built().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(path) = built.get(bin) {
        return path.clone();
    }
    let profile = profile_dir();
    let path = profile.join(bin);
    let root = workspace_root();
    let newest = source_dirs(&root, package)
        .iter()
        .map(|dir| newest_source(dir))
        .chain([modified(&root.join("Cargo.lock")).unwrap_or(std::time::UNIX_EPOCH)])
        .max();
    let fresh = modified(&path)
        .zip(newest)
        .is_some_and(|(built, newest)| newest <= built);
    if !fresh && std::env::var_os("CAIRN_TESTS_NO_BUILD").is_none() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(workspace_root())
            .args(["build", "--quiet", "-p", package, "--bin", bin]);
        if profile.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        if let Some(target) = profile.parent() {
            cmd.env("CARGO_TARGET_DIR", target);
        }
        let out = cmd.output().expect("running cargo build");
        assert!(
            out.status.success(),
            "cargo build -p {package} --bin {bin} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(path.exists(), "binary {} not found", path.display());
    built.insert(bin.to_owned(), path.clone());
    path
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Directories of `package` and of every workspace package it depends on,
/// read from the manifests (`members`, `[workspace.dependencies]` paths and
/// `cairn-*` dependency lines).
fn source_dirs(root: &Path, package: &str) -> Vec<PathBuf> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
    let mut dirs: HashMap<String, PathBuf> = HashMap::new();
    let members = manifest
        .split_once("members")
        .and_then(|(_, rest)| rest.split_once('['))
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list)
        .unwrap_or_default();
    for member in members
        .split(',')
        .map(|m| m.trim().trim_matches('"'))
        .filter(|m| !m.is_empty())
    {
        let dir = root.join(member);
        let text = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        if let Some(name) = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("name = "))
            .map(|n| n.trim_matches('"').to_owned())
        {
            dirs.insert(name, dir);
        }
    }
    let mut out = Vec::new();
    let mut todo = vec![package.to_owned()];
    while let Some(name) = todo.pop() {
        let Some(dir) = dirs.remove(&name) else {
            continue;
        };
        let text = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        for line in text.lines() {
            if let Some((dep, _)) = line.trim().split_once([' ', '.', '='])
                && dep.starts_with("cairn-")
            {
                todo.push(dep.to_owned());
            }
        }
        out.push(dir);
    }
    if out.is_empty() {
        out.push(root.to_path_buf());
    }
    out
}

/// Newest modification time of any `.rs` or `Cargo.toml` file under `root`
/// (skipping `target/` and hidden directories).
fn newest_source(root: &Path) -> std::time::SystemTime {
    let mut newest = std::time::UNIX_EPOCH;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" && name != "fuzz" {
                    stack.push(path);
                }
            } else if (name.ends_with(".rs") || name == "Cargo.toml" || name == "Cargo.lock")
                && let Some(t) = modified(&path)
            {
                newest = newest.max(t);
            }
        }
    }
    newest
}
