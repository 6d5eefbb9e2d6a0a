//! Runtime configuration of a relay, independent of how it was given
//! (flags, environment, TOML file: see `main.rs`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::bans::BanPolicy;
use crate::budget::BudgetConfig;
use crate::store::{StoreLimits, Synchronous};

/// Who may create mailboxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccessMode {
    /// Anyone who can reach the relay.
    #[default]
    Open,
    /// Only holders of an access token (`cairn-relay token create`).
    Token,
}

/// How clients reach the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportConfig {
    /// TLS with the operator's certificate, or the generated one when `None`.
    Tls {
        /// PEM certificate chain and PEM private key.
        cert_and_key: Option<(PathBuf, PathBuf)>,
    },
    /// No TLS: loopback development only.
    Plaintext,
}

/// A token-bucket rate: `per_second` sustained, up to `burst` at once. 0 disables.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Tokens (frames, bytes or creations) per second refilled.
    pub per_second: f64,
    /// Bucket size.
    pub burst: f64,
}

impl Rate {
    /// True if this rate limits anything.
    pub fn enabled(&self) -> bool {
        self.per_second > 0.0
    }
}

/// Abuse limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Open connections beyond this are closed at once.
    pub max_connections: usize,
    /// Open connections per client address (IPv6: per /64) beyond this are
    /// closed at once, before TLS; 0 = no cap (load tests from one
    /// machine). Otherwise never more than half of `max_connections`
    /// ([`Limits::per_source_cap`]).
    pub max_connections_per_source: usize,
    /// Time for TLS and WebSocket handshakes.
    pub handshake_timeout: Duration,
    /// Time after the handshakes for the connection's first request; until
    /// then pongs do not count (a socket that never asks anything goes).
    pub first_request_timeout: Duration,
    /// A connection without subscriptions that sends no request for this
    /// long is closed, however many pongs it sends; one holding
    /// subscriptions is closed after this long without anything, not even a
    /// pong (waiting for pushes is its job).
    pub idle_timeout: Duration,
    /// How often the relay pings an otherwise quiet connection; also the
    /// longest one write to a client may take (else: slow reader).
    pub ping_interval: Duration,
    /// Live pushes queued towards one client before it counts as a slow reader and is disconnected.
    pub outbound_queue: usize,
    /// Requests one connection may have in flight before the relay stops reading from it.
    pub max_in_flight: usize,
    /// Mailboxes one connection may subscribe to.
    pub max_subscriptions: usize,
    /// Frames per connection.
    pub per_connection: Rate,
    /// Frames per client address (IPv6: per /64).
    pub per_ip: Rate,
    /// Frame bytes per connection: one connection stored 64 MiB/s (issue 16).
    pub bytes_per_connection: Rate,
    /// Frame bytes per client address (IPv6: per /64).
    pub bytes_per_ip: Rate,
    /// Mailbox creations per client address (IPv6: per /64): one source
    /// filled a relay with thousands of mailboxes in seconds (issue 16).
    pub mailbox_creations: Rate,
    /// Mailbox creations per access token (`--access token` relays), so a
    /// leaked or shared token cannot fill the relay either.
    pub mailbox_creations_per_token: Rate,
    /// When a misbehaving source is refused for a while (see [`crate::bans`]).
    pub bans: BanPolicy,
}

const MIB: f64 = 1024.0 * 1024.0;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 16_384,
            max_connections_per_source: 256,
            handshake_timeout: Duration::from_secs(10),
            first_request_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(90),
            ping_interval: Duration::from_secs(30),
            outbound_queue: 1024,
            max_in_flight: 256,
            max_subscriptions: 1024,
            per_connection: Rate {
                per_second: 1000.0,
                burst: 2000.0,
            },
            per_ip: Rate {
                per_second: 5000.0,
                burst: 10_000.0,
            },
            // Far above a person's traffic (a 64 KiB envelope is the largest
            // frame), far below what a flood stores.
            bytes_per_connection: Rate {
                per_second: 4.0 * MIB,
                burst: 16.0 * MIB,
            },
            bytes_per_ip: Rate {
                per_second: 16.0 * MIB,
                burst: 64.0 * MIB,
            },
            // 500 an hour, all of them at once if need be (a home relay
            // change creates one per conversation).
            mailbox_creations: Rate {
                per_second: 500.0 / 3600.0,
                burst: 500.0,
            },
            mailbox_creations_per_token: Rate {
                per_second: 500.0 / 3600.0,
                burst: 500.0,
            },
            bans: BanPolicy::default(),
        }
    }
}

impl Limits {
    /// The connection cap one source gets: `max_connections_per_source`,
    /// but never more than half of `max_connections` (so one address can
    /// never take every slot) and at least one; 0 (no cap) stays 0.
    pub fn per_source_cap(&self) -> usize {
        let half = (self.max_connections / 2).max(1);
        match self.max_connections_per_source {
            0 => 0,
            n => n.min(half),
        }
    }
}

/// Who may read the admin listener's endpoints (all but `/healthz`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdminAuth {
    /// An admin token (`cairn-relay token create --role admin`) as
    /// `Authorization: Bearer cairn_…`.
    #[default]
    Token,
    /// Anyone who can connect: allowed on a loopback address only (the relay
    /// refuses to start otherwise), for a scraper on the same machine.
    None,
}

/// Where the admin listener binds, and whether a busy address stops the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminListen {
    /// Address to bind.
    pub addr: SocketAddr,
    /// The operator did not choose this address (it is the default): when it is
    /// taken — typically by a second relay on the same machine — the relay warns
    /// and runs without the admin listener instead of refusing to start.
    pub best_effort: bool,
    /// Who may read it.
    pub auth: AdminAuth,
    /// Open admin connections at most; more are closed at once, so a flood
    /// of scrapes cannot take the relay's memory or file descriptors.
    pub max_connections: usize,
}

impl AdminListen {
    /// The default admin address, `127.0.0.1:7448`.
    pub const DEFAULT: SocketAddr =
        SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 7448);

    /// Default cap on open admin connections.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 16;

    /// An address the operator asked for: failing to bind it is an error.
    pub fn required(addr: SocketAddr) -> Self {
        Self {
            addr,
            best_effort: false,
            auth: AdminAuth::Token,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
        }
    }

    /// The default address, given up with a warning when taken.
    pub fn default_best_effort() -> Self {
        Self {
            best_effort: true,
            ..Self::required(Self::DEFAULT)
        }
    }
}

/// Everything `serve` needs.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Client listener.
    pub listen: SocketAddr,
    /// Admin HTTP listener (`/healthz`, `/metrics`, `/bans`); `None` disables it.
    pub admin_listen: Option<AdminListen>,
    /// Database, generated certificate, `address.txt`.
    pub data_dir: PathBuf,
    /// Host name or IP put in the printed relay address.
    pub public_host: Option<String>,
    /// TLS or plaintext.
    pub transport: TransportConfig,
    /// Who may create mailboxes.
    pub access: AccessMode,
    /// Abuse limits.
    pub limits: Limits,
    /// Quotas and TTL.
    pub store: StoreLimits,
    /// How much all mailboxes together may hold (see [`crate::budget`]).
    pub budget: BudgetConfig,
    /// What a commit survives.
    pub synchronous: Synchronous,
    /// Overwrite deleted envelopes on disk, and empty the write-ahead log at
    /// every purge pass (SQLite store; see `SqliteOptions::secure_delete`).
    pub secure_delete: bool,
    /// How often expired envelopes are deleted (and, with `secure_delete`,
    /// the write-ahead log emptied).
    pub purge_interval: Duration,
    /// Log client IP addresses (off by default).
    pub log_ips: bool,
    /// The policy file (`None`: allow what the flags allow); reloaded on SIGHUP.
    pub policy: Option<PathBuf>,
}

impl RelayConfig {
    /// Defaults for a data directory and listen address.
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Self {
        Self {
            listen,
            admin_listen: None,
            data_dir,
            public_host: None,
            transport: TransportConfig::Tls { cert_and_key: None },
            access: AccessMode::Open,
            limits: Limits::default(),
            store: StoreLimits::default(),
            budget: BudgetConfig::standard(),
            synchronous: Synchronous::default(),
            secure_delete: true,
            purge_interval: Duration::from_secs(60),
            log_ips: false,
            policy: None,
        }
    }
}

/// Parses `1048576`, `512K`, `100M`, `2G` (binary multiples): flags and the policy file.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, scale) = match s.char_indices().last() {
        Some((i, 'K' | 'k')) => (&s[..i], 1u64 << 10),
        Some((i, 'M' | 'm')) => (&s[..i], 1 << 20),
        Some((i, 'G' | 'g')) => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| format!("invalid size {s:?}: use bytes or a number with K, M or G"))
}
