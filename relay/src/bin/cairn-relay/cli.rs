//! Command line of `cairn-relay`: flags, environment variables and an
//! optional TOML file, resolved into a [`RelayConfig`].
//!
//! Precedence: command-line flag > environment variable > config file >
//! built-in default. Config file keys are the long flag names
//! (`max-connections = 20000`, `insecure-plaintext = true`); underscores
//! are accepted for dashes.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use thiserror::Error;

use cairn_relay::bans::BanPolicy;
use cairn_relay::budget::BudgetConfig;
pub(crate) use cairn_relay::config::parse_size;
use cairn_relay::config::{
    AccessMode, AdminAuth, AdminListen, Limits, Rate, RelayConfig, TransportConfig,
};
use cairn_relay::store::{RedisOptions, StoreLimits, Synchronous};
use cairn_relay::tokens::{Role, parse_duration};

/// `cairn-relay`: store-and-forward for Cairn, blind to content and senders.
#[derive(Debug, Parser)]
#[command(name = "cairn-relay", version, about, args_override_self = true)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the relay.
    Serve(Box<ServeArgs>),
    /// Manage access tokens (for `--access token` relays and admin requests).
    Token {
        /// Token action.
        #[command(subcommand)]
        action: TokenAction,
        /// Which store holds the tokens (the relay's own: same flags as `serve`).
        #[command(flatten)]
        store: StoreArgs,
        /// Data directory of the relay.
        #[arg(
            long,
            global = true,
            env = "CAIRN_RELAY_DATA_DIR",
            default_value = "cairn-relay-data"
        )]
        data_dir: PathBuf,
    },
    /// Check a policy file, and explain what it decides for a request.
    Policy {
        /// Policy action.
        #[command(subcommand)]
        action: PolicyAction,
    },
    /// List or lift the automatic bans of a running relay (through its admin listener).
    Bans {
        /// Ban action.
        #[command(subcommand)]
        action: BansAction,
        /// The relay's admin listener.
        #[arg(long, global = true, env = "CAIRN_RELAY_ADMIN", default_value_t = AdminListen::DEFAULT)]
        admin: SocketAddr,
        /// File holding an admin token (`token create --role admin`); not
        /// needed when the relay runs with `--admin-auth none`.
        #[arg(long, global = true, env = "CAIRN_RELAY_ADMIN_TOKEN_FILE")]
        token_file: Option<PathBuf>,
    },
}

/// Policy actions.
#[derive(Debug, Subcommand)]
pub(crate) enum PolicyAction {
    /// Validate FILE; with --action, say which rule decides that request and why.
    Check {
        /// The policy file.
        file: PathBuf,
        /// The request: create, send, subscribe or admin.
        #[arg(long, value_parser = ["create", "send", "subscribe", "admin"])]
        action: Option<String>,
        /// The role of the token it carries: anonymous (none), user or admin.
        #[arg(long, default_value = "anonymous", value_parser = ["anonymous", "user", "admin"])]
        role: String,
        /// The label of that token.
        #[arg(long, default_value = "")]
        label: String,
        /// Whether that token expires.
        #[arg(long)]
        token_expires: bool,
        /// The client's address.
        #[arg(long, default_value = "127.0.0.1")]
        source: std::net::IpAddr,
        /// Time of day, UTC (default: now).
        #[arg(long)]
        time: Option<String>,
    },
}

/// Ban actions.
#[derive(Debug, Subcommand)]
pub(crate) enum BansAction {
    /// Bans in force: source id (a keyed hash, never the address), time left, bans so far.
    List {
        /// Print the relay's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Lift one ban by its source id, or every ban.
    Clear {
        /// Source id from `bans list`; omit with --all.
        #[arg(required_unless_present = "all")]
        source: Option<String>,
        /// Lift every ban.
        #[arg(long, conflicts_with = "source")]
        all: bool,
    },
}

/// Token actions.
#[derive(Debug, Subcommand)]
pub(crate) enum TokenAction {
    /// Create a token and print it once (only its hash is stored).
    Create {
        /// `user` may create mailboxes; `admin` may also read stats and purge.
        #[arg(long, default_value = "user", value_parser = parse_role)]
        role: Role,
        /// Lifetime such as 30d, 12h, 15m; default: no expiry.
        #[arg(long, value_parser = parse_duration_arg)]
        expires: Option<Duration>,
        /// A name for policy rules to match (`token_label` in a policy file),
        /// e.g. family or office-laptops: letters, digits, '.', '_', '-'.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List tokens (ids, roles, expiry; never the secrets).
    List,
    /// Revoke a token by the id shown in `token list`.
    Revoke {
        /// Token id.
        id: String,
    },
}

/// Commit durability, as a flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SyncArg {
    /// Survive a crash of the relay process (default).
    Normal,
    /// Also survive power loss (fsync every group commit).
    Full,
}

/// Storage backend, as a flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum StoreArg {
    /// Embedded SQLite in the data directory: one relay instance.
    Sqlite,
    /// Redis or Redis Cluster shared by several relay instances.
    Redis,
}

/// Where mailboxes and tokens live; shared by `serve` and `token`.
#[derive(Debug, Clone, Args)]
pub(crate) struct StoreArgs {
    /// Storage backend: sqlite (one relay) or redis (several relays behind a load balancer).
    #[arg(
        long,
        global = true,
        env = "CAIRN_RELAY_STORE",
        value_enum,
        default_value = "sqlite"
    )]
    pub store: StoreArg,
    /// Redis URL(s) for --store redis (redis://[user:pass@]host:port[/db]); several,
    /// comma-separated or repeated, are seed nodes of a Redis Cluster.
    #[arg(
        long,
        global = true,
        env = "CAIRN_RELAY_REDIS_URL",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub redis_url: Vec<String>,
    /// The (single) --redis-url is a Redis Cluster node.
    #[arg(long, global = true, env = "CAIRN_RELAY_REDIS_CLUSTER")]
    pub redis_cluster: bool,
}

impl StoreArgs {
    /// Redis connection settings when `--store redis`, else `None`.
    pub(crate) fn redis_options(&self, limits: StoreLimits) -> Option<RedisOptions> {
        (self.store == StoreArg::Redis).then(|| RedisOptions {
            urls: if self.redis_url.is_empty() {
                vec!["redis://127.0.0.1:6379".to_owned()]
            } else {
                self.redis_url.clone()
            },
            cluster: self.redis_cluster,
            limits,
        })
    }
}

/// Access mode, as a flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AccessArg {
    /// Anyone may create mailboxes.
    Open,
    /// Creating mailboxes needs a token.
    Token,
}

/// Admin listener authentication, as a flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AdminAuthArg {
    /// An admin token is required.
    Token,
    /// None (loopback only).
    None,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `cairn-relay serve` flags. Every flag also reads `CAIRN_RELAY_<NAME>`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// TOML file with any of these settings (keys = long flag names).
    #[arg(long, env = "CAIRN_RELAY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Client listener address.
    #[arg(long, env = "CAIRN_RELAY_LISTEN", default_value = "0.0.0.0:7447")]
    pub listen: SocketAddr,
    /// Database, generated TLS certificate and address.txt live here.
    #[arg(long, env = "CAIRN_RELAY_DATA_DIR", default_value = "cairn-relay-data")]
    pub data_dir: PathBuf,
    /// Storage backend and its connection.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Admin HTTP listener for /healthz and /metrics [default: 127.0.0.1:7448;
    /// if that default is taken, e.g. by a second relay on this machine, the relay
    /// warns and runs without it. An address given here must be free.]
    #[arg(long, env = "CAIRN_RELAY_ADMIN_LISTEN")]
    pub admin_listen: Option<SocketAddr>,
    /// Disable the admin listener.
    #[arg(long, env = "CAIRN_RELAY_NO_ADMIN")]
    pub no_admin: bool,
    /// Who may read /metrics and /bans: `token` (an admin token as
    /// `Authorization: Bearer cairn_…`) or `none` (anyone who can connect;
    /// refused unless the admin listener is on loopback). /healthz is open.
    #[arg(
        long,
        env = "CAIRN_RELAY_ADMIN_AUTH",
        value_enum,
        default_value = "token"
    )]
    pub admin_auth: AdminAuthArg,
    /// Open admin connections at most; more are closed at once.
    #[arg(long, env = "CAIRN_RELAY_ADMIN_MAX_CONNECTIONS", default_value_t = AdminListen::DEFAULT_MAX_CONNECTIONS)]
    pub admin_max_connections: usize,
    /// Host name or IP written into the relay address (default: listen IP or machine name).
    #[arg(long, env = "CAIRN_RELAY_PUBLIC_HOST")]
    pub public_host: Option<String>,
    /// PEM certificate chain (default: self-signed, generated once in the data dir).
    #[arg(long, env = "CAIRN_RELAY_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "CAIRN_RELAY_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// No TLS. Loopback development only: traffic metadata is readable on the wire.
    #[arg(long, env = "CAIRN_RELAY_INSECURE_PLAINTEXT", conflicts_with_all = ["tls_cert", "tls_key"])]
    pub insecure_plaintext: bool,
    /// Who may create mailboxes.
    #[arg(long, env = "CAIRN_RELAY_ACCESS", value_enum, default_value = "open")]
    pub access: AccessArg,
    /// How long an unacknowledged envelope is kept (e.g. 21d, 12h).
    #[arg(long, env = "CAIRN_RELAY_MESSAGE_TTL", default_value = "21d", value_parser = parse_duration_arg)]
    pub message_ttl: Duration,
    /// Most envelopes stored per mailbox.
    #[arg(long, env = "CAIRN_RELAY_QUOTA_MESSAGES", default_value_t = 10_000)]
    pub quota_messages: u64,
    /// Most envelope bytes stored per mailbox (suffixes K, M, G accepted).
    #[arg(long, env = "CAIRN_RELAY_QUOTA_BYTES", default_value = "100M", value_parser = parse_size)]
    pub quota_bytes: u64,
    /// A policy file (TOML) of rules allowing or denying create, send,
    /// subscribe and admin requests by role, token label and expiry, source
    /// network and time of day, with quotas; reloaded on SIGHUP. See
    /// `cairn-relay policy check` and relay/README.md.
    #[arg(long, env = "CAIRN_RELAY_POLICY")]
    pub policy: Option<PathBuf>,
    /// Most envelope bytes stored in all mailboxes together; past it, sends
    /// get StorageFull (502) and nothing stored is lost (0 = no limit).
    #[arg(long, env = "CAIRN_RELAY_STORAGE_BUDGET", default_value = "0", value_parser = parse_size)]
    pub storage_budget: u64,
    /// Refuse sends (StorageFull) while the SQLite store's disk has less
    /// free space than this (0 = never).
    #[arg(long, env = "CAIRN_RELAY_MIN_FREE_DISK", default_value = "1G", value_parser = parse_size)]
    pub min_free_disk: u64,
    /// Commit durability: normal survives a relay crash, full also power loss.
    #[arg(long, env = "CAIRN_RELAY_SYNC", value_enum, default_value = "normal")]
    pub sync: SyncArg,
    /// Overwrite deleted envelopes in the database file and empty the
    /// write-ahead log at every purge pass, so nothing acked or expired can
    /// be read back from the relay's files (SQLite store). `false` only to
    /// measure what it costs.
    #[arg(long, env = "CAIRN_RELAY_SECURE_DELETE", default_value_t = true, action = clap::ArgAction::Set)]
    pub secure_delete: bool,
    /// How often expired envelopes are deleted (and the write-ahead log emptied).
    #[arg(long, env = "CAIRN_RELAY_PURGE_INTERVAL", default_value = "60s", value_parser = parse_duration_arg)]
    pub purge_interval: Duration,
    /// Async worker threads; 0 = one per CPU. One thread costs about a quarter
    /// less CPU per message at moderate rates (no wakeups between workers)
    /// and is plenty up to about 100,000 messages/s; more pay off only when
    /// one core cannot keep up (relay/README.md "Measured").
    #[arg(long, env = "CAIRN_RELAY_THREADS", default_value_t = 0)]
    pub threads: usize,
    /// Most simultaneous client connections.
    #[arg(long, env = "CAIRN_RELAY_MAX_CONNECTIONS", default_value_t = 16_384)]
    pub max_connections: usize,
    /// Most simultaneous connections from one client address (IPv6: one
    /// /64), refused before TLS; never more than half of --max-connections.
    /// 0 = no cap (load tests from one machine).
    #[arg(
        long,
        env = "CAIRN_RELAY_MAX_CONNECTIONS_PER_SOURCE",
        default_value_t = 256
    )]
    pub max_connections_per_source: usize,
    /// Frames per second per connection (0 = unlimited).
    #[arg(
        long,
        env = "CAIRN_RELAY_RATE_PER_CONNECTION",
        default_value_t = 1000.0
    )]
    pub rate_per_connection: f64,
    /// Burst allowance per connection.
    #[arg(
        long,
        env = "CAIRN_RELAY_BURST_PER_CONNECTION",
        default_value_t = 2000.0
    )]
    pub burst_per_connection: f64,
    /// Frames per second per client address, IPv6 per /64 (0 = unlimited).
    #[arg(long, env = "CAIRN_RELAY_RATE_PER_IP", default_value_t = 5000.0)]
    pub rate_per_ip: f64,
    /// Burst allowance per client address.
    #[arg(long, env = "CAIRN_RELAY_BURST_PER_IP", default_value_t = 10_000.0)]
    pub burst_per_ip: f64,
    /// Frame bytes per second per connection, a burst of 4 seconds' worth
    /// (suffixes K, M, G; 0 = unlimited).
    #[arg(long, env = "CAIRN_RELAY_BYTES_PER_CONNECTION", default_value = "4M", value_parser = parse_size)]
    pub bytes_per_connection: u64,
    /// Frame bytes per second per client address (IPv6: per /64), a burst of
    /// 4 seconds' worth (0 = unlimited; set 0 behind a balancer).
    #[arg(long, env = "CAIRN_RELAY_BYTES_PER_IP", default_value = "16M", value_parser = parse_size)]
    pub bytes_per_ip: u64,
    /// Mailboxes one client address (IPv6: one /64) may create per hour, all
    /// at once if need be (0 = unlimited).
    #[arg(long, env = "CAIRN_RELAY_MAILBOXES_PER_HOUR", default_value_t = 500)]
    pub mailboxes_per_hour: u32,
    /// Mailboxes one access token may create per hour on a `--access token`
    /// relay, all at once if need be (0 = unlimited).
    #[arg(
        long,
        env = "CAIRN_RELAY_MAILBOXES_PER_TOKEN_HOUR",
        default_value_t = 500
    )]
    pub mailboxes_per_token_hour: u32,
    /// Offences (failed signatures or tokens, malformed frames, limit hits,
    /// connections that never send a request) a source may commit in a
    /// burst before it is banned; refilled at this many per 10 minutes
    /// (0 = no bans).
    #[arg(long, env = "CAIRN_RELAY_BAN_THRESHOLD", default_value_t = BanPolicy::default().threshold)]
    pub ban_threshold: u32,
    /// The first ban's length; each next ban of the same source doubles.
    #[arg(long, env = "CAIRN_RELAY_BAN_BASE", default_value = "1m", value_parser = parse_duration_arg)]
    pub ban_base: Duration,
    /// The longest ban; a source is forgotten after this long without one.
    #[arg(long, env = "CAIRN_RELAY_BAN_MAX", default_value = "1d", value_parser = parse_duration_arg)]
    pub ban_max: Duration,
    /// Time allowed for the TLS and WebSocket handshakes.
    #[arg(long, env = "CAIRN_RELAY_HANDSHAKE_TIMEOUT", default_value = "10s", value_parser = parse_duration_arg)]
    pub handshake_timeout: Duration,
    /// Close a connection that makes no request this long after its handshakes.
    #[arg(long, env = "CAIRN_RELAY_FIRST_REQUEST_TIMEOUT", default_value = "10s", value_parser = parse_duration_arg)]
    pub first_request_timeout: Duration,
    /// Close connections silent (no frame, no pong) for this long, and those
    /// without subscriptions that make no request for this long (pongs do
    /// not count for them).
    #[arg(long, env = "CAIRN_RELAY_IDLE_TIMEOUT", default_value = "90s", value_parser = parse_duration_arg)]
    pub idle_timeout: Duration,
    /// Ping quiet connections this often; also how long a write to a client
    /// may take before it is dropped as a slow reader.
    #[arg(long, env = "CAIRN_RELAY_PING_INTERVAL", default_value = "30s", value_parser = parse_duration_arg)]
    pub ping_interval: Duration,
    /// Live pushes queued towards one client before it is dropped as a slow reader.
    #[arg(long, env = "CAIRN_RELAY_OUTBOUND_QUEUE", default_value_t = 1024)]
    pub outbound_queue: usize,
    /// Log client IP addresses (off by default).
    #[arg(long, env = "CAIRN_RELAY_LOG_IPS")]
    pub log_ips: bool,
    /// Log format.
    #[arg(
        long,
        env = "CAIRN_RELAY_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
}

/// Why the command line or config file was refused.
#[derive(Debug, Error)]
pub(crate) enum CliError {
    /// clap's own error (also used for `--help` and `--version`).
    #[error(transparent)]
    Clap(#[from] clap::Error),
    /// The config file could not be read.
    #[error("config file {path}: {source}")]
    ConfigRead {
        /// File.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The config file is not valid TOML, or has a key or value that makes no sense.
    #[error("config file {path}: {what}")]
    ConfigInvalid {
        /// File.
        path: PathBuf,
        /// What was wrong.
        what: String,
    },
    /// Plaintext asked for on a non-loopback address.
    #[error("--insecure-plaintext is only allowed on a loopback listen address, not {0}")]
    PlaintextNotLoopback(SocketAddr),
}

impl Cli {
    /// Parses arguments, then fills in settings from `--config` that neither
    /// a flag nor an environment variable set.
    pub(crate) fn parse_with_config(args: Vec<OsString>) -> Result<Self, CliError> {
        let matches = Self::command().try_get_matches_from(&args)?;
        let cli = Self::from_arg_matches(&matches)?;
        let Command::Serve(serve) = &cli.command else {
            return Ok(cli);
        };
        let Some(path) = serve.config.clone() else {
            return Ok(cli);
        };
        let Some(serve_matches) = matches.subcommand_matches("serve") else {
            return Ok(cli);
        };
        let text = std::fs::read_to_string(&path).map_err(|source| CliError::ConfigRead {
            path: path.clone(),
            source,
        })?;
        let extra = config_args(&text, |id| {
            matches!(
                serve_matches.value_source(id),
                None | Some(ValueSource::DefaultValue)
            )
        })
        .map_err(|what| CliError::ConfigInvalid { path, what })?;
        let serve_at = args
            .iter()
            .position(|a| a == "serve")
            .map_or(args.len(), |i| i + 1);
        let mut merged = args;
        merged.splice(serve_at..serve_at, extra);
        let matches = Self::command().try_get_matches_from(&merged)?;
        Ok(Self::from_arg_matches(&matches)?)
    }
}

/// Turns TOML keys into `--flag=value` arguments for settings `unset(id)` says are not set.
fn config_args(text: &str, unset: impl Fn(&str) -> bool) -> Result<Vec<OsString>, String> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
    let command = Cli::command();
    let serve = command
        .find_subcommand("serve")
        .ok_or_else(|| "no serve command".to_owned())?;
    let mut out = Vec::new();
    for (key, value) in table {
        let long = key.replace('_', "-");
        let arg = serve
            .get_arguments()
            .find(|a| a.get_long() == Some(long.as_str()) && long != "config")
            .ok_or_else(|| format!("unknown setting {key:?}"))?;
        if !unset(arg.get_id().as_str()) {
            continue;
        }
        match value {
            toml::Value::Boolean(true) => out.push(format!("--{long}").into()),
            toml::Value::Boolean(false) => {}
            toml::Value::String(s) => out.push(format!("--{long}={s}").into()),
            toml::Value::Integer(i) => out.push(format!("--{long}={i}").into()),
            toml::Value::Float(f) => out.push(format!("--{long}={f}").into()),
            other => {
                return Err(format!(
                    "setting {key:?} has an unsupported value: {}",
                    other.type_str()
                ));
            }
        }
    }
    Ok(out)
}

impl ServeArgs {
    /// The relay configuration these flags describe.
    pub(crate) fn to_config(&self) -> Result<RelayConfig, CliError> {
        if self.insecure_plaintext && !self.listen.ip().is_loopback() {
            return Err(CliError::PlaintextNotLoopback(self.listen));
        }
        let transport = if self.insecure_plaintext {
            TransportConfig::Plaintext
        } else {
            TransportConfig::Tls {
                cert_and_key: self.tls_cert.clone().zip(self.tls_key.clone()),
            }
        };
        Ok(RelayConfig {
            listen: self.listen,
            admin_listen: match (self.no_admin, self.admin_listen) {
                (true, _) => None,
                (false, Some(addr)) => Some(AdminListen::required(addr)),
                (false, None) => Some(AdminListen::default_best_effort()),
            }
            .map(|admin| AdminListen {
                auth: match self.admin_auth {
                    AdminAuthArg::Token => AdminAuth::Token,
                    AdminAuthArg::None => AdminAuth::None,
                },
                max_connections: self.admin_max_connections.max(1),
                ..admin
            }),
            data_dir: self.data_dir.clone(),
            public_host: self.public_host.clone(),
            transport,
            access: match self.access {
                AccessArg::Open => AccessMode::Open,
                AccessArg::Token => AccessMode::Token,
            },
            limits: Limits {
                max_connections: self.max_connections.max(1),
                max_connections_per_source: self.max_connections_per_source,
                handshake_timeout: self.handshake_timeout,
                first_request_timeout: self.first_request_timeout.max(Duration::from_millis(100)),
                idle_timeout: self.idle_timeout.max(Duration::from_secs(1)),
                ping_interval: self.ping_interval.max(Duration::from_secs(1)),
                outbound_queue: self.outbound_queue.max(16),
                per_connection: Rate {
                    per_second: self.rate_per_connection,
                    burst: self.burst_per_connection.max(1.0),
                },
                per_ip: Rate {
                    per_second: self.rate_per_ip,
                    burst: self.burst_per_ip.max(1.0),
                },
                bytes_per_connection: Rate {
                    per_second: self.bytes_per_connection as f64,
                    burst: (4 * self.bytes_per_connection).max(1) as f64,
                },
                bytes_per_ip: Rate {
                    per_second: self.bytes_per_ip as f64,
                    burst: (4 * self.bytes_per_ip).max(1) as f64,
                },
                mailbox_creations: Rate {
                    per_second: f64::from(self.mailboxes_per_hour) / 3600.0,
                    burst: f64::from(self.mailboxes_per_hour).max(1.0),
                },
                mailbox_creations_per_token: Rate {
                    per_second: f64::from(self.mailboxes_per_token_hour) / 3600.0,
                    burst: f64::from(self.mailboxes_per_token_hour).max(1.0),
                },
                bans: BanPolicy {
                    threshold: self.ban_threshold,
                    base: self.ban_base.max(Duration::from_secs(1)),
                    max: self.ban_max.max(self.ban_base),
                },
                ..Limits::default()
            },
            store: StoreLimits {
                max_messages: self.quota_messages,
                max_bytes: self.quota_bytes,
                ttl_secs: self.message_ttl.as_secs(),
            },
            budget: BudgetConfig {
                max_bytes: self.storage_budget,
                min_free_disk: self.min_free_disk,
            },
            synchronous: match self.sync {
                SyncArg::Normal => Synchronous::Normal,
                SyncArg::Full => Synchronous::Full,
            },
            secure_delete: self.secure_delete,
            purge_interval: self.purge_interval.max(Duration::from_secs(1)),
            log_ips: self.log_ips,
            policy: self.policy.clone(),
        })
    }
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
        .map_err(|e: cairn_relay::tokens::UnknownRole| e.to_string())
}

fn parse_duration_arg(s: &str) -> Result<Duration, String> {
    parse_duration(s).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
