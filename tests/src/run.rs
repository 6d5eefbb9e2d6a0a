//! Running a workspace binary to completion and capturing its output.

use std::ffi::OsStr;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::binaries::binary;

/// What a finished process printed and how it exited.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// Exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

impl RunOutput {
    /// True for exit code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs `bin` of `package` with `args`, extra `env` and optional `stdin`,
/// killing it after `timeout`. The binary is built first if needed.
pub fn run_binary<I, S>(
    package: &str,
    bin: &str,
    args: I,
    env: &[(&str, &str)],
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> RunOutput
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(binary(package, bin));
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {bin}: {e}"));
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input).expect("writing stdin");
    }
    let pid = child.id();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let out = child.wait_with_output();
        let _ = done_tx.send(());
        out
    });
    if done_rx.recv_timeout(timeout).is_err() {
        crate::relay::signal(pid, "KILL");
        panic!("{bin} did not finish within {timeout:?}");
    }
    let out = waiter
        .join()
        .expect("waiter thread")
        .expect("collecting output");
    RunOutput {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
