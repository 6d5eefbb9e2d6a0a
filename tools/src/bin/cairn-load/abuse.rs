//! `--mode abuse`: can one abusive address hurt everybody else on a relay?
//! (relay issue 16, item 9: a published, repeatable abuse test.)
//!
//! The relay runs with its default limits (`--spawn` passes none of the
//! limit-disabling flags the other modes need). A well-behaved pair on
//! 127.0.0.1 (one sender, one subscribed recipient, a fixed rate,
//! timestamped envelopes) runs twice on the same relay: first alone ("no
//! flood"), then while floods from 127.0.0.2 (`--flood-source`) hit every
//! per-source limit at once ("flood"). Same relay, so both phases share
//! the process, its database and its caches, and the only difference is
//! the flood. The flood phase starts the floods, lets them warm up
//! (`--flood-warmup`: connection slots taken, rate buckets empty), then
//! runs the pair with fresh connections and a fresh mailbox.
//!
//! `--flood-relay ADDRESS` aims the floods at another relay instead: a
//! control run, the machine as busy as under flood but the pair's relay
//! left alone, which tells the relay's share of the pair's delay from the
//! machine's (on a 2-core machine the flooder and the flooded relay take
//! CPU the pair's relay would otherwise have).
//!
//! The target: the pair's p99 under flood within 2× of its p99
//! without, and no error at all for the pair. The tool exits non-zero if
//! the pair lost an envelope or saw an error; the latency verdict is
//! printed (it depends on the machine as much as on the relay).

mod flood;
mod frames;
mod pair;
mod raw;
mod table;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use cairn_protocol::relay_address::RelayAddress;

use crate::report::{cpu_seconds, cpu_ticks, peak_rss_mib, steal_percent};
use crate::{Args, stall_limit};
pub(crate) use flood::Flood;
use pair::{Load, PairOutcome};

/// The pair's rate when `--rate` is not given: a busy conversation, far
/// below every per-connection and per-address limit.
const DEFAULT_RATE: f64 = 200.0;

/// One phase: the pair's outcome and what the relay spent meanwhile.
pub(crate) struct Phase {
    pub pair: PairOutcome,
    /// Wall time of the phase (connect to last delivery).
    pub elapsed: Duration,
    /// Relay CPU seconds during the phase.
    pub relay_cpu: Option<f64>,
    /// Relay peak RSS (VmHWM) at the end of the phase, MiB.
    pub relay_rss: Option<f64>,
    /// Share of CPU time the hypervisor stole meanwhile.
    pub steal: Option<f64>,
}

/// Runs both phases against `address` (relay process `pid`, if known)
/// and prints the comparison.
pub(crate) async fn run(args: &Args, address: &RelayAddress, pid: Option<u32>) -> Result<()> {
    if args.flood_source == std::net::IpAddr::from([127, 0, 0, 1]) {
        bail!("--flood-source must differ from the pair's 127.0.0.1");
    }
    crate::online::clock();
    let load = Load {
        rate: if args.rate > 0.0 {
            args.rate
        } else {
            DEFAULT_RATE
        },
        seconds: args.seconds.max(1),
        size: args.size,
        token: args.token.clone(),
        stall: stall_limit(args),
    };
    let calm = phase(address, &load, pid).await;
    let plan = flood::Plan {
        floods: args.flood.clone(),
        source: args.flood_source,
        connections: args.flood_connections,
        streams: args.flood_streams,
        retry: Duration::from_millis(args.flood_retry_ms),
        rate: args.flood_rate,
    };
    let target = args.flood_relay.clone().unwrap_or_else(|| address.clone());
    let mut floods = flood::Running::start(target, plan)?;
    floods.ready().await.context("starting the floods")?;
    tokio::time::sleep(Duration::from_secs(args.flood_warmup)).await;
    let flooded = phase(address, &load, pid).await;
    let report = floods.stop().await.context("flood")?;
    table::print(args, address, &load, &calm, &flooded, &report);
    let pair_failed = |p: &Phase| p.pair.error_count() + p.pair.lost;
    if pair_failed(&calm) + pair_failed(&flooded) > 0 {
        bail!(
            "the pair saw errors or lost envelopes: no flood {} + {} lost, flood {} + {} lost",
            calm.pair.error_count(),
            calm.pair.lost,
            flooded.pair.error_count(),
            flooded.pair.lost
        );
    }
    Ok(())
}

/// The pair once, with the relay's CPU and the machine's steal around it.
async fn phase(address: &RelayAddress, load: &Load, pid: Option<u32>) -> Phase {
    let cpu_before = pid.and_then(cpu_seconds);
    let ticks_before = cpu_ticks();
    let start = Instant::now();
    let pair = pair::run(address, load).await;
    Phase {
        pair,
        elapsed: start.elapsed(),
        relay_cpu: pid
            .and_then(cpu_seconds)
            .zip(cpu_before)
            .map(|(after, before)| after - before),
        relay_rss: pid.and_then(peak_rss_mib),
        steal: ticks_before
            .zip(cpu_ticks())
            .and_then(|(before, after)| steal_percent(before, after)),
    }
}
