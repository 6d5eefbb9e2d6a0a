//! The abuse report: the pair without and with flood side by side, the
//! verdict against the target, what the flooder got refused, and
//! one machine-readable `RESULT` line.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

use cairn_protocol::relay_address::RelayAddress;

use super::Phase;
use super::flood::FloodReport;
use super::pair::Load;
use crate::Args;
use crate::report::percentile;

/// The pair's p99 under flood may be at most this many times its p99 without.
const P99_TARGET_RATIO: f64 = 2.0;

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.decimals$}"))
}

/// Prints everything; see the module doc.
pub(crate) fn print(
    args: &Args,
    address: &RelayAddress,
    load: &Load,
    calm: &Phase,
    flooded: &Phase,
    floods: &FloodReport,
) {
    let transport = if address.pin().is_some() {
        "tls"
    } else {
        "plaintext"
    };
    let relay = if args.spawn.is_some() {
        "spawned, default limits"
    } else {
        "running relay, its own limits"
    };
    let kinds: Vec<&str> = args.flood.iter().map(|f| f.name()).collect();
    println!(
        "cairn-load abuse against {address} ({transport}; {relay}; same relay for both phases)"
    );
    println!(
        "  pair on 127.0.0.1: 1 sender + 1 subscribed recipient, {} msgs/s for {} s, {} B envelopes, batched quiet acks",
        load.rate, load.seconds, load.size
    );
    println!(
        "  floods from {}: {} ({} held connections; {} connections per frame flood writing {}; redial after {} ms); warm-up {} s",
        args.flood_source,
        kinds.join(", "),
        args.flood_connections,
        args.flood_streams,
        if args.flood_rate > 0.0 {
            format!("{} frames/s each", args.flood_rate)
        } else {
            "as fast as the relay reads".into()
        },
        args.flood_retry_ms,
        args.flood_warmup
    );
    if let Some(other) = &args.flood_relay {
        println!(
            "  CONTROL RUN: the floods hit another relay, {other}; the pair's relay is left alone"
        );
    }
    println!();
    println!("  {:<22} {:>12} {:>12}", "", "no flood", "flood");
    let row = |name: &str, f: fn(&Phase) -> String| {
        println!("  {name:<22} {:>12} {:>12}", f(calm), f(flooded));
    };
    row("sent (relay Ok)", |p| p.pair.sent.to_string());
    row("delivered", |p| p.pair.delivered.to_string());
    row("lost", |p| p.pair.lost.to_string());
    row("errors", |p| p.pair.error_count().to_string());
    row("latency p50 ms", |p| format!("{:.2}", p50(p)));
    row("latency p99 ms", |p| format!("{:.2}", p99(p)));
    row("p99 after 1st s ms", |p| {
        format!("{:.2}", percentile(&p.pair.steady_us, 99.0))
    });
    row("latency max ms", |p| {
        format!("{:.2}", percentile(&p.pair.latencies_us, 100.0))
    });
    row("pair connect ms", |p| {
        format!("{:.1}", p.pair.connect.as_secs_f64() * 1e3)
    });
    row("pair subscribe ms", |p| {
        format!("{:.1}", p.pair.subscribe.as_secs_f64() * 1e3)
    });
    row("phase s", |p| format!("{:.1}", p.elapsed.as_secs_f64()));
    row("relay CPU s", |p| opt(p.relay_cpu, 2));
    row("relay peak RSS MiB", |p| opt(p.relay_rss, 1));
    row("CPU steal %", |p| opt(p.steal, 1));
    for (label, p) in [("no flood", calm), ("flood", flooded)] {
        if !p.pair.errors.is_empty() {
            let list: Vec<String> = p
                .pair
                .errors
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            println!("  pair errors ({label}): {}", list.join(", "));
        }
    }
    let ratio = p99(flooded) / p99(calm).max(1e-3);
    let steady = |p: &Phase| percentile(&p.pair.steady_us, 99.0);
    let steady_ratio = steady(flooded) / steady(calm).max(1e-3);
    let latency_met = ratio <= P99_TARGET_RATIO;
    let errors = flooded.pair.error_count() + flooded.pair.lost;
    println!();
    println!(
        "  target: pair p99 under flood <= {P99_TARGET_RATIO}x without: {ratio:.2}x, {} (after the 1st s: {steady_ratio:.2}x); pair errors and losses under flood 0: {errors}, {}",
        verdict(latency_met),
        verdict(errors == 0)
    );
    println!();
    print_floods(args, floods);
    let mut result = format!(
        "RESULT mode=abuse control={} transport={transport} rate={} seconds={} size={} floods={} flood_rate={} p50_ms={:.2}/{:.2} p99_ms={:.2}/{:.2} p99_ratio={ratio:.2} steady_p99_ms={:.2}/{:.2} subscribe_ms={:.1}/{:.1} delivered={}/{} errors={}/{} lost={}/{} relay_cpu_s={}/{} steal_pct={}/{} flooder_cpu_s={}",
        args.flood_relay.is_some(),
        load.rate,
        load.seconds,
        load.size,
        kinds.join(","),
        args.flood_rate,
        p50(calm),
        p50(flooded),
        p99(calm),
        p99(flooded),
        steady(calm),
        steady(flooded),
        calm.pair.subscribe.as_secs_f64() * 1e3,
        flooded.pair.subscribe.as_secs_f64() * 1e3,
        calm.pair.delivered,
        flooded.pair.delivered,
        calm.pair.error_count(),
        flooded.pair.error_count(),
        calm.pair.lost,
        flooded.pair.lost,
        opt(calm.relay_cpu, 2),
        opt(flooded.relay_cpu, 2),
        opt(calm.steal, 1),
        opt(flooded.steal, 1),
        opt(floods.cpu, 2),
    );
    for (kind, t) in &floods.tallies {
        let _ = write!(
            result,
            " {}_refused={} {}_closed={}",
            kind.name(),
            t.refused() + t.refused_open.load(Relaxed),
            kind.name(),
            t.closed.load(Relaxed)
        );
    }
    println!("{result}");
}

fn p50(p: &Phase) -> f64 {
    percentile(&p.pair.latencies_us, 50.0)
}

fn p99(p: &Phase) -> f64 {
    percentile(&p.pair.latencies_us, 99.0)
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// The flooder's side: per flood, connections and frames, and every
/// refusal by code, then how its connections ended.
fn print_floods(args: &Args, floods: &FloodReport) {
    let secs = floods.elapsed.as_secs_f64().max(1e-9);
    println!(
        "  flooder ({}): {:.1} s, its CPU {} s; {} of its own mailboxes created at the start",
        args.flood_source,
        secs,
        opt(floods.cpu, 1),
        floods.setup_mailboxes
    );
    println!(
        "  {:<12} {:>7} {:>9} {:>7} {:>9} {:>8} {:>7} {:>6}  refused by code",
        "flood", "opened", "refused*", "closed", "frames", "MiB", "/s", "ok"
    );
    for (kind, t) in &floods.tallies {
        let frames = t.frames.load(Relaxed);
        let refusals: Vec<String> = t
            .refusals()
            .iter()
            .map(|(code, n)| format!("{} {n}", code.name()))
            .collect();
        println!(
            "  {:<12} {:>7} {:>9} {:>7} {:>9} {:>8.1} {:>7.0} {:>6}  {}",
            kind.name(),
            t.opened.load(Relaxed),
            t.refused_open.load(Relaxed) + t.tcp_failed.load(Relaxed),
            t.closed.load(Relaxed),
            frames,
            t.bytes.load(Relaxed) as f64 / (1024.0 * 1024.0),
            frames as f64 / secs,
            t.ok.load(Relaxed),
            if refusals.is_empty() {
                "-".into()
            } else {
                refusals.join(", ")
            }
        );
    }
    println!(
        "  * dials closed or failed before the relay's challenge (over the per-source cap they are closed before TLS)"
    );
    for (kind, t) in &floods.tallies {
        let closes = t.closes();
        if closes.is_empty() {
            continue;
        }
        let list: Vec<String> = closes
            .iter()
            .map(|(how, n)| format!("{how}: {n}"))
            .collect();
        println!(
            "  {} flood, connections ended: {}",
            kind.name(),
            list.join("; ")
        );
    }
}
