//! Results: latency percentiles, throughput, and the printed table.

use std::time::Duration;

use cairn_protocol::relay_address::RelayAddress;

use crate::Args;

/// What one run measured.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Envelopes the senders had acknowledged by the relay.
    pub sent: u64,
    /// Distinct envelopes received.
    pub delivered: u64,
    /// Expected but never received.
    pub lost: u64,
    /// Time from the first send to the last delivery (or last store, offline).
    pub elapsed: Duration,
    /// Offline mode: time to store everything.
    pub store_elapsed: Option<Duration>,
    /// Send-to-delivery latencies in microseconds.
    pub latencies_us: Vec<u64>,
    /// Time to open all connections.
    pub connect: Duration,
    /// Connections opened.
    pub connections: usize,
}

/// The `p`th percentile of sorted microseconds, in milliseconds (0 if empty).
pub(crate) fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)] as f64 / 1000.0
}

/// Peak resident set (VmHWM) of a process, in MiB.
pub(crate) fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// CPU time (user + system) a process has used so far, in seconds.
///
/// Reported beside throughput because on a shared machine wall-clock rates
/// depend on what else runs; CPU per message does much less.
pub(crate) fn cpu_seconds(pid: u32) -> Option<f64> {
    stat_cpu_seconds(&format!("/proc/{pid}/stat"))
}

/// CPU time (user + system) of the calling thread so far, in seconds.
pub(crate) fn thread_cpu_seconds() -> Option<f64> {
    stat_cpu_seconds("/proc/thread-self/stat")
}

/// User + system time from a `/proc/…/stat` file, in seconds.
fn stat_cpu_seconds(path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(") ")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// The machine's CPU time counters: (steal, total), in clock ticks.
///
/// On a virtual machine the hypervisor may run other guests on our CPUs
/// ("steal"); latency tails track it far more than anything in the relay,
/// so every run reports the share of CPU time stolen while it ran.
pub(crate) fn cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // user nice system idle iowait irq softirq steal …
    Some((*fields.get(7)?, fields.iter().sum()))
}

/// Percentage of CPU time stolen between two [`cpu_ticks`] readings.
pub(crate) fn steal_percent(before: (u64, u64), after: (u64, u64)) -> Option<f64> {
    let total = after.1.checked_sub(before.1).filter(|t| *t > 0)?;
    let steal = after.0.checked_sub(before.0)?;
    Some(100.0 * steal as f64 / total as f64)
}

/// Prints a human summary and one machine-readable line.
pub(crate) fn print(
    args: &Args,
    address: &RelayAddress,
    o: &Outcome,
    rss_mib: Option<f64>,
    relay_cpu: Option<f64>,
    steal: Option<f64>,
) {
    let mut lat = o.latencies_us.clone();
    lat.sort_unstable();
    let secs = o.elapsed.as_secs_f64().max(1e-9);
    let rate = o.delivered as f64 / secs;
    let (p50, p99, max) = (
        percentile(&lat, 50.0),
        percentile(&lat, 99.0),
        percentile(&lat, 100.0),
    );
    let rss = rss_mib.map_or("n/a".to_owned(), |r| format!("{r:.1}"));
    let transport = if address.pin().is_some() {
        "tls"
    } else {
        "plaintext"
    };
    let mailboxes = if args.locked { "locked" } else { "open" };
    println!(
        "cairn-load {:?} against {address} ({transport}, {mailboxes} mailboxes)",
        args.mode
    );
    println!(
        "  pairs {} x messages {} x {} B, rate {}",
        args.pairs,
        args.messages,
        args.size,
        if args.rate > 0.0 {
            format!("{}/s", args.rate)
        } else {
            "unthrottled".into()
        }
    );
    println!(
        "  connections {} opened in {:.1} ms",
        o.connections,
        o.connect.as_secs_f64() * 1e3
    );
    if let Some(store) = o.store_elapsed {
        println!(
            "  stored {} in {:.2} s = {:.0} msgs/s",
            o.sent,
            store.as_secs_f64(),
            o.sent as f64 / store.as_secs_f64().max(1e-9)
        );
    }
    println!(
        "  delivered {} (lost {}) in {:.2} s = {:.0} msgs/s",
        o.delivered, o.lost, secs, rate
    );
    if !lat.is_empty() {
        println!("  latency ms: p50 {p50:.2}  p99 {p99:.2}  max {max:.2}");
    }
    println!("  relay peak RSS: {rss} MiB");
    let per_msg = relay_cpu
        .filter(|_| o.delivered > 0)
        .map_or("n/a".to_owned(), |c| {
            format!("{:.1}", c * 1e6 / o.delivered as f64)
        });
    let cpu = relay_cpu.map_or("n/a".to_owned(), |c| format!("{c:.2}"));
    println!("  relay CPU: {cpu} s = {per_msg} us per delivered envelope");
    let steal = steal.map_or("n/a".to_owned(), |s| format!("{s:.1}"));
    println!("  CPU stolen by the hypervisor meanwhile: {steal} %");
    println!(
        "RESULT mode={:?} transport={transport} mailboxes={mailboxes} pairs={} messages={} size={} rate={} sent={} delivered={} lost={} msgs_per_s={rate:.0} p50_ms={p50:.2} p99_ms={p99:.2} max_ms={max:.2} connect_ms={:.1} connections={} relay_peak_rss_mib={rss} relay_cpu_s={cpu} relay_cpu_us_per_msg={per_msg} steal_pct={steal}",
        args.mode,
        args.pairs,
        args.messages,
        args.size,
        args.rate,
        o.sent,
        o.delivered,
        o.lost,
        o.connect.as_secs_f64() * 1e3,
        o.connections,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steal_is_the_stolen_share_of_all_cpu_time_between_readings() {
        assert_eq!(steal_percent((10, 100), (30, 300)), Some(10.0));
        assert_eq!(steal_percent((10, 100), (10, 100)), None, "no time passed");
        assert_eq!(
            steal_percent((10, 100), (5, 200)),
            None,
            "counter went back"
        );
    }

    #[test]
    fn this_machine_reports_cpu_counters() {
        let (steal, total) = cpu_ticks().expect("/proc/stat readable on Linux");
        assert!(total > steal);
    }
}
