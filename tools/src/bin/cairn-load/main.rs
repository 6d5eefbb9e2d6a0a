//! `cairn-load`: the project's load generator for `cairn-relay`.
//!
//! Opens N sender/receiver mailbox pairs on a relay, sends M envelopes of
//! S bytes and reports delivered count, throughput, latency percentiles,
//! connect time and the relay's peak RSS. Modes:
//!
//! - `online`: receivers subscribed while senders send (unthrottled, or `--rate`).
//! - `offline`: senders fill mailboxes with nobody online, then receivers
//!   connect and drain everything.
//! - `idle`: open `--connections` connections and hold them, to measure memory
//!   (`--subscribe`: each with a subscribed mailbox, like a waiting client).
//! - `abuse`: one well-behaved pair on 127.0.0.1, first alone, then while
//!   floods from 127.0.0.2 hit the relay's per-source limits (relay issue
//!   16): does the pair keep its latency and lose nothing? (`abuse.rs`)
//!
//! `--locked` creates send-locked mailboxes (PROTOCOL.md §18.3) and sends
//! with `SendLocked` and each mailbox's key, to compare with open mailboxes.
//!
//! `--send-relay ADDRESS` puts the senders on a second instance (several
//! relays on one Redis), so every envelope crosses instances.
//!
//! `--spawn PATH` starts the relay itself (rate limits off, temp data dir,
//! optionally pinned with `--relay-cpus`), so its peak RSS can be read; in
//! abuse mode with its default limits, which are what is tested.

mod abuse;
mod idle;
mod offline;
mod online;
mod report;
mod spawn;

use std::time::Duration;

use anyhow::{Context, Result, bail};
use cairn_protocol::relay_address::RelayAddress;
use clap::{Parser, ValueEnum};

/// Command-line options.
#[derive(Debug, Parser, Clone)]
#[command(name = "cairn-load", version, about = "Load generator for cairn-relay")]
pub struct Args {
    /// What to measure.
    #[arg(long, value_enum, default_value = "online")]
    mode: Mode,
    /// Relay address to load (or use --spawn).
    #[arg(long, required_unless_present = "spawn")]
    relay: Option<RelayAddress>,
    /// Senders connect here instead (another instance on the same shared
    /// store): every envelope then crosses instances, receivers stay on --relay.
    #[arg(long)]
    send_relay: Option<RelayAddress>,
    /// PID of the relay, to report its peak RSS (set automatically with --spawn).
    #[arg(long)]
    relay_pid: Option<u32>,
    /// Start this cairn-relay binary on 127.0.0.1 with a temporary data dir.
    #[arg(long)]
    spawn: Option<std::path::PathBuf>,
    /// With --spawn: CPU list for the relay (`taskset -c`), e.g. 0.
    #[arg(long)]
    relay_cpus: Option<String>,
    /// With --spawn: use TLS (default) or plaintext.
    #[arg(long)]
    plaintext: bool,
    /// With --spawn: extra relay flags, e.g. "--sync full".
    #[arg(long, allow_hyphen_values = true)]
    relay_args: Option<String>,
    /// Sender/receiver mailbox pairs.
    #[arg(long, default_value_t = 100)]
    pairs: usize,
    /// Envelopes per sender.
    #[arg(long, default_value_t = 1000)]
    messages: usize,
    /// Envelope size: 1024, 4096, 16384 or 65536.
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// Total send rate in envelopes/s across all senders; 0 = as fast as
    /// possible (abuse mode: 0 means its default, 200/s).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Unacknowledged sends in flight per sender when unthrottled.
    #[arg(long, default_value_t = 32)]
    window: usize,
    /// Receivers do not ack (envelopes stay stored).
    #[arg(long)]
    no_ack: bool,
    /// Idle mode: connections to open.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Idle mode: each connection creates a mailbox and subscribes to it.
    #[arg(long)]
    subscribe: bool,
    /// Idle mode: seconds to hold the connections.
    #[arg(long, default_value_t = 5)]
    hold: u64,
    /// Give up waiting for deliveries after this many seconds without progress.
    #[arg(long, default_value_t = 30)]
    stall_timeout: u64,
    /// Worker threads of the load tool itself (0 = one per CPU). One (the
    /// default) keeps its own wakeups off the relay's cores: on a 2-core
    /// machine shared with the relay it measures lower latency and higher
    /// throughput than two.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Access token, for relays in token mode.
    #[arg(long)]
    token: Option<String>,
    /// Send-locked mailboxes: created with a send lock, sent to with
    /// `SendLocked` and the mailbox's send key.
    #[arg(long)]
    locked: bool,
    /// Abuse mode: seconds the pair sends in each phase.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Abuse mode: which floods to run in the flood phase (comma-separated).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "connections,malformed,signatures,mailboxes,bytes"
    )]
    flood: Vec<abuse::Flood>,
    /// Abuse mode: local address the floods come from (any of 127.0.0.0/8
    /// is this machine on Linux; it must differ from the pair's 127.0.0.1).
    #[arg(long, default_value = "127.0.0.2")]
    flood_source: std::net::IpAddr,
    /// Abuse mode: aim the floods at this other relay (on this machine)
    /// instead of the pair's: a control run, where the pair's relay is left
    /// alone and only the machine is as busy as under a real flood.
    #[arg(long)]
    flood_relay: Option<RelayAddress>,
    /// Abuse mode: connections the connection flood tries to hold at once
    /// (above the relay's default per-source cap of 256).
    #[arg(long, default_value_t = 300)]
    flood_connections: usize,
    /// Abuse mode: connections each frame flood (malformed, signatures,
    /// mailboxes, bytes) writes on.
    #[arg(long, default_value_t = 4)]
    flood_streams: usize,
    /// Abuse mode: milliseconds a flood connection waits before dialling
    /// again after the relay refused or closed it (0 = at once).
    #[arg(long, default_value_t = 10)]
    flood_retry_ms: u64,
    /// Abuse mode: frames per second each frame flood writes, over all its
    /// connections; 0 = as fast as the relay reads them.
    #[arg(long, default_value_t = 0.0)]
    flood_rate: f64,
    /// Abuse mode: seconds the floods run before the pair starts measuring
    /// (connection slots taken, rate buckets emptied).
    #[arg(long, default_value_t = 2)]
    flood_warmup: u64,
}

/// Load shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Online,
    Offline,
    Idle,
    Abuse,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if !cairn_protocol::padding::is_bucket(args.size) {
        bail!(
            "--size must be one of {:?}",
            cairn_protocol::padding::BUCKETS
        );
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if args.threads > 0 {
        builder.worker_threads(args.threads);
    }
    let runtime = builder.enable_all().thread_name("cairn-load").build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    let spawned = match &args.spawn {
        Some(bin) => Some(spawn::Spawned::start(bin, &args).await?),
        None => None,
    };
    let address = match (&spawned, &args.relay) {
        (Some(s), _) => s.address.clone(),
        (None, Some(a)) => a.clone(),
        (None, None) => bail!("--relay or --spawn is required"),
    };
    let pid = spawned.as_ref().map(|s| s.pid).or(args.relay_pid);
    let cpu_before = pid.and_then(report::cpu_seconds);
    let ticks_before = report::cpu_ticks();
    let outcome = match args.mode {
        Mode::Online => online::run(&args, &address).await,
        Mode::Offline => offline::run(&args, &address).await,
        Mode::Idle => idle::run(&args, &address).await,
        Mode::Abuse => {
            // Its own phases and report (abuse.rs).
            let result = abuse::run(&args, &address, pid).await;
            if let Some(s) = spawned {
                s.stop().await;
            }
            return result;
        }
    }
    .context("load run failed")?;
    let rss = pid.and_then(report::peak_rss_mib);
    let cpu = pid
        .and_then(report::cpu_seconds)
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let steal = ticks_before
        .zip(report::cpu_ticks())
        .and_then(|(before, after)| report::steal_percent(before, after));
    report::print(&args, &address, &outcome, rss, cpu, steal);
    if let Some(s) = spawned {
        s.stop().await;
    }
    if outcome.lost > 0 {
        bail!("{} envelopes were not delivered", outcome.lost);
    }
    Ok(())
}

/// How long receivers wait for the next delivery before giving up.
pub(crate) fn stall_limit(args: &Args) -> Duration {
    Duration::from_secs(args.stall_timeout.max(1))
}
