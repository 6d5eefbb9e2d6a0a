//! Starting a relay for a load run: loopback, temporary data directory,
//! rate limits off (the load comes from one address), optionally pinned to CPUs.
//! Abuse mode keeps every limit at its default: the limits are what it tests.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use cairn_protocol::relay_address::RelayAddress;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::{Args, Mode};

/// A relay started by the load tool.
pub(crate) struct Spawned {
    child: Child,
    _dir: tempdir::Dir,
    /// Its address.
    pub address: RelayAddress,
    /// Its process id.
    pub pid: u32,
}

impl Spawned {
    pub(crate) async fn start(bin: &Path, args: &Args) -> Result<Self> {
        let dir = tempdir::Dir::new()?;
        let mut cmd = match &args.relay_cpus {
            Some(cpus) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpus).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--no-admin"])
            .arg("--data-dir")
            .arg(dir.path());
        if args.mode != Mode::Abuse {
            cmd.args(["--rate-per-connection", "0", "--rate-per-ip", "0"])
                .args(["--bytes-per-connection", "0", "--bytes-per-ip", "0"])
                .args(["--max-connections", "30000", "--quota-messages", "1000000"])
                // Every load connection comes from this machine.
                .args(["--max-connections-per-source", "0"]);
        }
        if args.plaintext {
            cmd.arg("--insecure-plaintext");
        }
        if let Some(extra) = &args.relay_args {
            cmd.args(extra.split_whitespace());
        }
        cmd.env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let pid = child.id().context("relay pid")?;
        let stdout = child.stdout.take().context("relay stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let address = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(a) = line.strip_prefix("relay address: ") {
                    return Ok(a.trim().parse::<RelayAddress>()?);
                }
            }
            bail!("relay exited before printing its address")
        })
        .await
        .context("relay did not start within 30 s")??;
        // Keep draining stdout so the relay never blocks on it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            child,
            _dir: dir,
            address,
            pid,
        })
    }

    pub(crate) async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await;
    }
}

/// A temporary directory removed on drop (no extra dependency for one directory).
mod tempdir {
    use std::path::{Path, PathBuf};

    pub(crate) struct Dir(PathBuf);

    impl Dir {
        pub(crate) fn new() -> std::io::Result<Self> {
            let nonce: u64 = rand::random();
            let path = std::env::temp_dir().join(format!("cairn-load-{nonce:016x}"));
            std::fs::create_dir_all(&path)?;
            Ok(Self(path))
        }

        pub(crate) fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
