//! A real `cairn-relay` process for end-to-end tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_protocol::relay_address::RelayAddress;

use crate::binaries::binary;
use crate::run::{RunOutput, run_binary};

/// How long a relay may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How to start a relay.
#[derive(Debug, Clone, Default)]
pub struct RelayOptions {
    /// `--insecure-plaintext` (a `ws://` address) instead of TLS with a pin.
    pub plaintext: bool,
    /// Extra `serve` flags, e.g. `["--access", "token"]`.
    pub args: Vec<String>,
    /// Extra environment, e.g. `("RUST_LOG", "debug")`.
    pub env: Vec<(String, String)>,
}

impl RelayOptions {
    /// A plaintext (`ws://`) relay.
    pub fn plaintext() -> Self {
        Self {
            plaintext: true,
            ..Self::default()
        }
    }

    /// Adds `serve` flags.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }
}

/// A running (or stopped) relay process with its data directory.
pub struct RelayProcess {
    child: Child,
    data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    options: RelayOptions,
    address: RelayAddress,
    admin: Option<SocketAddr>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    exit: Option<ExitStatus>,
}

impl RelayProcess {
    /// Starts a relay on a free loopback port with a fresh temporary data directory.
    pub fn start(options: RelayOptions) -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().to_path_buf();
        let mut relay = Self::spawn(&dir, options, 0);
        relay._temp = Some(temp);
        relay
    }

    /// Starts a relay on an existing data directory (kept after the relay stops).
    pub fn start_in(data_dir: &Path, options: RelayOptions) -> Self {
        Self::spawn(data_dir, options, 0)
    }

    fn spawn(data_dir: &Path, options: RelayOptions, port: u16) -> Self {
        let mut cmd = Command::new(binary("cairn-relay", "cairn-relay"));
        cmd.arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--admin-listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir);
        if options.plaintext {
            cmd.arg("--insecure-plaintext");
        }
        // Tests read /metrics without a token unless they test the token.
        if !options.args.iter().any(|a| a.starts_with("--admin-auth")) {
            cmd.arg("--admin-auth=none");
        }
        cmd.args(&options.args);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("CAIRN_RELAY_") {
                cmd.env_remove(key);
            }
        }
        cmd.env("RUST_LOG", "info");
        for (k, v) in &options.env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawning cairn-relay");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (lines_tx, lines) = mpsc::channel();
        pump(
            child.stdout.take().expect("stdout"),
            Arc::clone(&stdout),
            Some(lines_tx),
        );
        pump(
            child.stderr.take().expect("stderr"),
            Arc::clone(&stderr),
            None,
        );

        let deadline = Instant::now() + START_TIMEOUT;
        let mut admin = None;
        let address = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(a) = line.strip_prefix("admin address: ") {
                        admin = a.trim().parse().ok();
                    }
                    if let Some(a) = line.strip_prefix("relay address: ") {
                        break a
                            .trim()
                            .parse::<RelayAddress>()
                            .expect("relay address parses");
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait().ok();
                    panic!(
                        "relay did not print its address (exit {status:?}); stderr:\n{}",
                        stderr.lock().unwrap()
                    );
                }
            }
        };
        Self {
            child,
            data_dir: data_dir.to_path_buf(),
            _temp: None,
            options,
            address,
            admin,
            stdout,
            stderr,
            exit: None,
        }
    }

    /// The address clients use (`wss://…#pin` or `ws://…`).
    pub fn address(&self) -> &RelayAddress {
        &self.address
    }

    /// The admin endpoint (`/healthz`, `/metrics`).
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin.expect("relay printed no admin address")
    }

    /// The relay's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Operating-system process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the relay wrote to stderr (its logs) so far.
    pub fn logs(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Everything the relay wrote to stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// Sends SIGTERM and waits for the exit (at most 30 s, then SIGKILL and panic).
    pub fn terminate(&mut self) -> ExitStatus {
        signal(self.pid(), "TERM");
        let status = self.wait_for_exit(Duration::from_secs(30));
        status.unwrap_or_else(|| {
            self.kill();
            panic!("relay ignored SIGTERM for 30 s; logs:\n{}", self.logs());
        })
    }

    /// Sends SIGKILL and reaps the process.
    pub fn kill(&mut self) {
        if self.exit.is_none() {
            signal(self.pid(), "KILL");
            self.exit = self.child.wait().ok();
        }
    }

    fn wait_for_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exit = Some(status);
                // Let the pump threads collect the last lines.
                std::thread::sleep(Duration::from_millis(50));
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Starts the relay again on the same data directory and port (after
    /// [`Self::terminate`] or [`Self::kill`]; kills it first if still running).
    pub fn restart(&mut self) {
        self.kill();
        let port = self.address.port();
        let mut next = Self::spawn(&self.data_dir, self.options.clone(), port);
        next._temp = self._temp.take();
        *self = next;
    }

    /// Runs `cairn-relay token create --role ROLE` on this relay's data directory.
    pub fn create_token(&self, role: &str) -> String {
        self.create_token_full(role, "", None)
    }

    /// [`RelayProcess::create_token`] with a label.
    pub fn create_token_labelled(&self, role: &str, label: &str) -> String {
        self.create_token_full(role, label, None)
    }

    /// [`RelayProcess::create_token`] with a label and a lifetime (`90d`).
    pub fn create_token_full(&self, role: &str, label: &str, expires: Option<&str>) -> String {
        let mut args = vec!["token", "create", "--role", role, "--label", label];
        if let Some(e) = expires {
            args.extend(["--expires", e]);
        }
        let out = self.relay_command(&args);
        assert!(out.success(), "token create failed: {}", out.stderr);
        out.stdout
            .lines()
            .next()
            .expect("token line")
            .trim()
            .to_owned()
    }

    /// Runs `cairn-relay ARGS… --data-dir DIR` for this relay's data directory.
    pub fn relay_command(&self, args: &[&str]) -> RunOutput {
        let mut all: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        let dir = self.data_dir.to_string_lossy().into_owned();
        // `token` takes --data-dir before its action; clap accepts it after too.
        all.push("--data-dir".into());
        all.push(dir);
        run_binary(
            "cairn-relay",
            "cairn-relay",
            &all,
            &[],
            None,
            Duration::from_secs(60),
        )
    }

    /// `GET path` on the admin endpoint; returns the body.
    pub fn admin_get(&self, path: &str) -> String {
        self.admin_request("GET", path, None).1
    }

    /// `METHOD path` on the admin endpoint, with an admin token if given;
    /// returns the status code and the body (status 0: the listener closed
    /// the connection unanswered, e.g. at its connection cap).
    pub fn admin_request(&self, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
        let mut s = TcpStream::connect(self.admin_addr()).expect("admin connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        let mut text = String::new();
        let sent = write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"
        );
        if sent.and_then(|()| s.read_to_string(&mut text)).is_err() {
            return (0, String::new());
        }
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    /// Reads one counter or gauge from `/metrics`.
    pub fn metric(&self, name: &str) -> Option<u64> {
        self.admin_get("/metrics").lines().find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == name).then(|| v.trim().parse().ok()).flatten()
        })
    }

    /// Peak resident memory (VmHWM) in KiB, from /proc.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        peak_rss_kib(self.pid())
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Peak resident memory (VmHWM) of a process in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Sends a signal (`TERM`, `KILL`, …) with the system `kill` command.
pub fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status();
}

fn pump<R: Read + Send + 'static>(
    from: R,
    into: Arc<Mutex<String>>,
    lines: Option<mpsc::Sender<String>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            if let Ok(mut text) = into.lock() {
                text.push_str(&line);
                text.push('\n');
            }
            if let Some(tx) = &lines {
                let _ = tx.send(line);
            }
        }
    });
}
