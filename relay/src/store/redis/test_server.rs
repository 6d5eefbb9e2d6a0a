//! Throwaway `redis-server` processes for tests: a single server or a
//! 3-primary Redis Cluster, on free loopback ports, in temporary
//! directories, with AOF `appendfsync always` (the durable setting), killed
//! on drop. Used by this crate's store tests and, through the
//! `test-support` feature, by the end-to-end tests in `cairn-tests`, so
//! there is one way to start Redis for tests. `scripts/setup` installs
//! redis-server (Debian package `redis-server`, which brings `redis-cli`);
//! when it is missing the tests fail saying so: nothing is skipped.

// Test support only (never part of a relay binary's behaviour): failing
// loudly is how it reports a broken test environment.
#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server or the cluster may take to come up.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Ports tried before giving up: a free port can be taken by another test
/// between our check and redis-server's bind.
const START_ATTEMPTS: usize = 5;

/// Redis Cluster's bus listens on the client port + 10000.
const CLUSTER_BUS_OFFSET: u16 = 10_000;

/// Fails the test clearly when redis-server / redis-cli are not installed.
pub fn require_redis() {
    for bin in ["redis-server", "redis-cli"] {
        let found = Command::new(bin)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            found,
            "{bin} is not installed: run scripts/setup (installs the Debian package redis-server)"
        );
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A free port; for a cluster node also a free bus port (port + 10000 ≤ 65535).
fn free_port_for(cluster: bool) -> u16 {
    loop {
        let port = free_port();
        if !cluster {
            return port;
        }
        if let Some(bus) = port.checked_add(CLUSTER_BUS_OFFSET)
            && TcpListener::bind(("127.0.0.1", bus)).is_ok()
        {
            return port;
        }
    }
}

/// A running redis-server.
pub struct TestRedis {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl TestRedis {
    /// A standalone server; returns once it answers `PING`.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// A server with extra `redis-server` arguments. A server that exits at
    /// once (its port was taken meanwhile) is retried on another port.
    pub fn start_with(extra: &[&str]) -> Self {
        require_redis();
        let cluster = extra.contains(&"--cluster-enabled");
        for _ in 0..START_ATTEMPTS {
            if let Some(server) = Self::try_start(extra, free_port_for(cluster)) {
                return server;
            }
        }
        panic!("redis-server did not start on any of {START_ATTEMPTS} ports");
    }

    /// One attempt on `port`: `None` if the server exited before answering.
    fn try_start(extra: &[&str], port: u16) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temp dir");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "yes"])
            .args(["--appendfsync", "always"])
            .args(extra)
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning redis-server");
        let mut server = Self {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        while !server.cli(&["PING"]).contains("PONG") {
            if server.child.try_wait().ok().flatten().is_some() {
                return None;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on {port} did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs `redis-cli -p PORT ARGS…` and returns its output.
    pub fn cli(&self, args: &[&str]) -> String {
        Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Three primaries (`--cluster-enabled yes`) joined with `redis-cli --cluster create`.
pub struct TestCluster {
    nodes: Vec<TestRedis>,
}

impl TestCluster {
    /// Starts the nodes, creates the cluster and waits for `cluster_state:ok`.
    pub fn start() -> Self {
        let nodes: Vec<TestRedis> = (0..3)
            .map(|_| TestRedis::start_with(&["--cluster-enabled", "yes"]))
            .collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli --cluster create");
        assert!(
            out.status.success(),
            "cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let deadline = Instant::now() + START_TIMEOUT;
        while !nodes
            .iter()
            .all(|n| n.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok"))
        {
            assert!(Instant::now() < deadline, "cluster did not become ok");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { nodes }
    }

    /// One URL per primary (what `--redis-url` takes, comma-separated).
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(TestRedis::url).collect()
    }

    /// The nodes.
    pub fn nodes(&self) -> &[TestRedis] {
        &self.nodes
    }
}
