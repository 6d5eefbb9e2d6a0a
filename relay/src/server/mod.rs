//! The relay server: listener, per-connection handlers, live hub, admin
//! endpoint and graceful shutdown.
//!
//! Shutdown (SIGTERM, Ctrl-C or the future passed to [`Relay::run`]): stop
//! accepting, let every connection finish its in-flight requests and flush
//! its answers, close the connections, then commit and checkpoint the
//! store. Nothing acknowledged is ever lost, shutdown or not.

#[cfg(feature = "admin")]
mod admin;
mod connection;
mod gate;
mod hub;
mod listener;
mod offences;
mod remote;
mod request;
mod socket;
mod subscriptions;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_protocol::relay_address::{AddressError, RelayAddress, Transport};
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;

use crate::bans::Bans;
use crate::budget::StorageBudget;
#[cfg(feature = "admin")]
use crate::config::AdminListen;
use crate::config::{RelayConfig, TransportConfig};
use crate::fanout::{Fanout, FanoutSink};
use crate::limits::{AddressLimiter, KeyedLimiter, SourceQueues};
use crate::metrics::Metrics;
use crate::policy::{Policy, PolicyError};
use crate::store::{
    HoldingStore, MailboxStore, SqliteOptions, SqliteStore, StoreError, TokenStore,
};
use crate::tls::{self, TlsError};
use hub::Hub;

/// File in the data directory holding the relay address.
pub const ADDRESS_FILE: &str = "address.txt";

/// How long shutdown waits for connections to finish their in-flight requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a relay could not start or stopped with an error.
#[derive(Debug, Error)]
pub enum RelayError {
    /// Creating the data directory or writing `address.txt` failed.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// Path involved.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// Binding a listener failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address asked for.
        addr: SocketAddr,
        /// Underlying error.
        source: std::io::Error,
    },
    /// TLS identity problem.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Storage could not be opened or flushed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// SIGHUP (policy reloads) could not be caught.
    #[error("cannot catch SIGHUP for policy reloads: {0}")]
    Signal(std::io::Error),
    /// The policy file is unreadable or invalid.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The admin listener would answer anyone on a non-loopback address.
    #[error(
        "the admin listener on {0} would need no token: keep it on loopback, \
         or use --admin-auth token (the default)"
    )]
    AdminUnauthenticated(SocketAddr),
    /// The public host does not make a valid relay address.
    #[error("relay address: {0}")]
    Address(#[from] AddressError),
}

/// State every connection shares.
pub(crate) struct Shared {
    pub config: RelayConfig,
    pub store: Arc<dyn MailboxStore>,
    pub tokens: Arc<dyn TokenStore>,
    pub hub: Hub,
    pub metrics: Arc<Metrics>,
    pub ip_limiter: AddressLimiter,
    /// Frame bytes per client address.
    pub ip_bytes: AddressLimiter,
    /// Mailbox creations per client address.
    pub create_per_ip: AddressLimiter,
    /// Store reads for signature checks, a few at a time per source.
    pub key_reads: SourceQueues,
    /// Mailbox creations per access token (by its hash; `--access token`).
    pub create_per_token: KeyedLimiter<[u8; 32]>,
    /// Sources refused for misbehaving (see `offences`).
    pub bans: Bans,
    /// Bytes all mailboxes together may still take.
    pub budget: StorageBudget,
    /// The operator's policy file, if any.
    pub policy: gate::PolicyCell,
}

/// Current unix time in seconds: the store's notion of "now".
pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A bound, ready relay. [`Relay::run`] serves until shutdown.
pub struct Relay {
    shared: Arc<Shared>,
    listener: TcpListener,
    admin: Option<TcpListener>,
    tls: Option<TlsAcceptor>,
    address: RelayAddress,
    /// SIGHUP, caught from `bind` on when a policy file is in use: a hangup
    /// between start and `run` must reload, not kill, the relay.
    #[cfg(unix)]
    hangups: Option<tokio::signal::unix::Signal>,
}

impl Relay {
    /// Opens the SQLite store in the data directory, loads TLS and binds the listeners.
    pub async fn bind(config: RelayConfig) -> Result<Self, RelayError> {
        create_dir(&config.data_dir)?;
        let mut options = SqliteOptions::in_dir(&config.data_dir);
        options.limits = config.store;
        options.synchronous = config.synchronous;
        options.secure_delete = config.secure_delete;
        let store = Arc::new(SqliteStore::open(&options)?);
        // The store is on this disk: its free-space reserve applies.
        let disk = Some(config.data_dir.clone());
        Self::bind_inner(config, store.clone(), store, None, disk).await
    }

    /// Binds with any storage backend (e.g. a shared one for several instances).
    pub async fn bind_with_store(
        config: RelayConfig,
        store: Arc<dyn MailboxStore>,
        tokens: Arc<dyn TokenStore>,
    ) -> Result<Self, RelayError> {
        Self::bind_with_fanout(config, store, tokens, None).await
    }

    /// Binds with a storage backend and, for several instances sharing it, the
    /// fan-out that brings envelopes stored by any instance to this one's
    /// subscribers (see [`crate::fanout`]). `None`: in-process hub only.
    pub async fn bind_with_fanout(
        config: RelayConfig,
        store: Arc<dyn MailboxStore>,
        tokens: Arc<dyn TokenStore>,
        fanout: Option<Arc<dyn Fanout>>,
    ) -> Result<Self, RelayError> {
        Self::bind_inner(config, store, tokens, fanout, None).await
    }

    /// Binds; `disk` is the directory of a local store (for the storage
    /// budget's free-space reserve).
    async fn bind_inner(
        config: RelayConfig,
        store: Arc<dyn MailboxStore>,
        tokens: Arc<dyn TokenStore>,
        fanout: Option<Arc<dyn Fanout>>,
        disk: Option<std::path::PathBuf>,
    ) -> Result<Self, RelayError> {
        create_dir(&config.data_dir)?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| RelayError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let local = listener.local_addr().map_err(|source| RelayError::Bind {
            addr: config.listen,
            source,
        })?;
        let admin = match config.admin_listen {
            #[cfg(feature = "admin")]
            Some(admin) => bind_admin(admin).await?,
            #[cfg(not(feature = "admin"))]
            Some(_) => {
                tracing::warn!("admin listener requested, but this build has no `admin` feature");
                None
            }
            None => None,
        };
        let host = public_host(&config, local);
        let (tls, transport) = match &config.transport {
            TransportConfig::Plaintext => (None, Transport::Plaintext),
            TransportConfig::Tls { cert_and_key } => {
                let pair = cert_and_key
                    .as_ref()
                    .map(|(c, k)| (c.as_path(), k.as_path()));
                let names = vec![host.clone(), "localhost".to_owned()];
                let identity = tls::load_or_generate(&config.data_dir, pair, &names)?;
                (
                    Some(TlsAcceptor::from(identity.config)),
                    Transport::Tls { pin: identity.pin },
                )
            }
        };
        let address = RelayAddress::new(&host, local.port(), transport)?;
        let path = config.data_dir.join(ADDRESS_FILE);
        std::fs::write(&path, format!("{address}\n")).map_err(|source| RelayError::DataDir {
            path: path.display().to_string(),
            source,
        })?;
        // A single instance holds live appends back for their recipient's
        // ack (see `store::hold`); with a fan-out the store publishes pushes.
        let store: Arc<dyn MailboxStore> = match fanout {
            None => Arc::new(HoldingStore::new(store)),
            Some(_) => store,
        };
        let ip_limiter = AddressLimiter::new(config.limits.per_ip);
        let config_creations = config.limits.mailbox_creations;
        let config_token_creations = config.limits.mailbox_creations_per_token;
        let config_bytes = config.limits.bytes_per_ip;
        let hub = fanout.clone().map_or_else(Hub::default, Hub::with_fanout);
        let bans = Bans::new(config.limits.bans);
        let budget = StorageBudget::new(config.budget.clone(), disk);
        let policy = match &config.policy {
            Some(path) => Some(Policy::load(path)?),
            None => None,
        };
        let policy = gate::PolicyCell::new(config.policy.clone(), policy);
        let shared = Arc::new(Shared {
            policy,
            bans,
            budget,
            config,
            store,
            tokens,
            hub,
            metrics: Arc::default(),
            ip_limiter,
            ip_bytes: AddressLimiter::new(config_bytes),
            create_per_ip: AddressLimiter::new(config_creations),
            create_per_token: KeyedLimiter::new(config_token_creations),
            key_reads: SourceQueues::new(KEY_READS_PER_SOURCE),
        });
        if let Some(fanout) = fanout {
            let weak = Arc::downgrade(&shared);
            let sink: FanoutSink = Arc::new(move |event| {
                if let Some(shared) = weak.upgrade() {
                    shared.hub.on_remote(event);
                }
            });
            fanout.attach(sink);
        }
        #[cfg(unix)]
        let hangups = match shared.config.policy {
            Some(_) => Some(
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
                    .map_err(RelayError::Signal)?,
            ),
            None => None,
        };
        Ok(Self {
            shared,
            listener,
            admin,
            tls,
            address,
            #[cfg(unix)]
            hangups,
        })
    }

    /// The address clients paste: host, port and certificate pin.
    pub fn address(&self) -> &RelayAddress {
        &self.address
    }

    /// Where the admin endpoint listens, if enabled.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The relay's counters.
    pub fn metrics(&self) -> Arc<Metrics> {
        Arc::clone(&self.shared.metrics)
    }

    /// Serves until `shutdown` resolves, then shuts down gracefully.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), RelayError> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
        let accept = tokio::spawn(listener::accept_loop(
            Arc::clone(&self.shared),
            self.listener,
            self.tls,
            stop_rx.clone(),
            alive_tx,
        ));
        #[cfg(feature = "admin")]
        if let Some(admin) = self.admin {
            tokio::spawn(admin::serve(
                Arc::clone(&self.shared),
                admin,
                stop_rx.clone(),
            ));
        }
        #[cfg(unix)]
        if let Some(hangups) = self.hangups {
            tokio::spawn(reload_on_sighup(
                Arc::clone(&self.shared),
                hangups,
                stop_rx.clone(),
            ));
        }
        if self.shared.budget.enabled() {
            tokio::spawn(watch_budget(Arc::clone(&self.shared), stop_rx.clone()));
        }
        tokio::spawn(housekeeping(Arc::clone(&self.shared), stop_rx));

        shutdown.await;
        tracing::info!("shutting down: no new connections, finishing in-flight requests");
        let _ = stop_tx.send(true);
        let _ = accept.await;
        // Every connection holds a clone of `alive_tx`; recv() ends when all are gone.
        if tokio::time::timeout(DRAIN_TIMEOUT, alive_rx.recv())
            .await
            .is_err()
        {
            tracing::warn!("connections still open after {DRAIN_TIMEOUT:?}; closing anyway");
        }
        self.shared.store.shutdown().await?;
        tracing::info!("storage flushed; relay stopped");
        Ok(())
    }
}

#[cfg(feature = "admin")]
/// Binds the admin listener; a busy default address only disables it, with a warning.
async fn bind_admin(admin: AdminListen) -> Result<Option<TcpListener>, RelayError> {
    if admin.auth == crate::config::AdminAuth::None && !admin.addr.ip().is_loopback() {
        return Err(RelayError::AdminUnauthenticated(admin.addr));
    }
    match TcpListener::bind(admin.addr).await {
        Ok(listener) => Ok(Some(listener)),
        Err(source) if admin.best_effort && source.kind() == std::io::ErrorKind::AddrInUse => {
            tracing::warn!(
                addr = %admin.addr,
                "admin listener disabled: the default admin address is in use (another relay on \
                 this machine?); choose one with --admin-listen, or --no-admin to silence this"
            );
            Ok(None)
        }
        Err(source) => Err(RelayError::Bind {
            addr: admin.addr,
            source,
        }),
    }
}

fn create_dir(dir: &Path) -> Result<(), RelayError> {
    std::fs::create_dir_all(dir).map_err(|source| RelayError::DataDir {
        path: dir.display().to_string(),
        source,
    })
}

/// Host for the address: configured, else the listen IP, else the machine's name.
fn public_host(config: &RelayConfig, local: SocketAddr) -> String {
    if let Some(host) = &config.public_host {
        return host.clone();
    }
    if !local.ip().is_unspecified() {
        return local.ip().to_string();
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Reloads the policy file on every SIGHUP, until the relay stops.
#[cfg(unix)]
async fn reload_on_sighup(
    shared: Arc<Shared>,
    mut hangups: tokio::signal::unix::Signal,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            Some(()) = hangups.recv() => shared.policy.reload(),
        }
    }
}

/// Re-reads the store's total and the disk's free space for the storage
/// budget: at once (so a relay started on a full disk refuses from the
/// first send), then every few seconds.
async fn watch_budget(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(BUDGET_INTERVAL.min(shared.config.purge_interval));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        match shared.store.stats().await {
            Ok(stats) => shared.budget.refresh(stats.bytes),
            Err(e) => {
                tracing::warn!(error = %e, "reading the store's size for the storage budget failed")
            }
        }
    }
}

/// Store reads for signature checks one source may have at a time (the
/// store has four readers for everybody).
const KEY_READS_PER_SOURCE: usize = 2;

/// How often the storage budget is re-read (or every purge interval, if shorter).
const BUDGET_INTERVAL: Duration = Duration::from_secs(5);

/// Periodic work: TTL purge and forgetting idle rate-limit buckets.
async fn housekeeping(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(shared.config.purge_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        match shared.store.purge_expired(now_unix()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "deleted expired envelopes"),
            Err(e) => tracing::warn!(error = %e, "purge of expired envelopes failed"),
        }
        shared.bans.sweep(std::time::Instant::now());
        shared.ip_limiter.sweep();
        shared.ip_bytes.sweep();
        shared.create_per_ip.sweep();
        shared.create_per_token.sweep();
        shared.key_reads.sweep();
        shared.policy.sweep();
    }
}

#[cfg(test)]
#[cfg(feature = "admin")]
mod admin_bind_tests;
