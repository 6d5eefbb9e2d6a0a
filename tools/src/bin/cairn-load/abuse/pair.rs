//! The well-behaved pair: one sender and one subscribed recipient on
//! 127.0.0.1, the address the floods do not come from. What it must keep
//! under flood is what a person notices: every message arrives, none is
//! refused, and the delay stays what it was.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cairn_protocol::envelope::MailboxId;
use cairn_protocol::relay_address::RelayAddress;
use cairn_relay_client::{ClientError, ConnectOptions, Deliveries, RelayClient};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::watch;

use crate::online::{Pair, decode, envelope, now_us};

/// What the pair should do in one phase.
#[derive(Debug, Clone)]
pub(crate) struct Load {
    /// Envelopes per second.
    pub rate: f64,
    /// Seconds of sending.
    pub seconds: u64,
    /// Envelope size (a padding bucket).
    pub size: usize,
    /// Access token for the mailbox, if the relay wants one.
    pub token: Option<String>,
    /// How long the recipient waits for a missing envelope after the last send.
    pub stall: Duration,
}

/// What the pair saw in one phase.
#[derive(Debug, Default)]
pub(crate) struct PairOutcome {
    /// Sends the relay answered `Ok`.
    pub sent: u64,
    /// Distinct envelopes the recipient received.
    pub delivered: u64,
    /// Sent (`Ok`) but never received.
    pub lost: u64,
    /// Everything that went wrong, by kind: refusal code names, `closed`,
    /// `connect: …`, `receiver closed`, …
    pub errors: BTreeMap<String, u64>,
    /// Send-to-delivery latencies, microseconds, sorted.
    pub latencies_us: Vec<u64>,
    /// The same for envelopes sent after the first second: the steady
    /// state, without the start of the subscription (the relay holds live
    /// pushes until the first backlog read is done, and under a signature
    /// flood that read queues behind the flood's key lookups).
    pub steady_us: Vec<u64>,
    /// Time to open both connections.
    pub connect: Duration,
    /// Time for the relay's answer to the recipient's subscribe (a key
    /// lookup in the store and a signature check).
    pub subscribe: Duration,
}

impl PairOutcome {
    /// Errors of every kind.
    pub(crate) fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    fn error(&mut self, kind: impl Into<String>) {
        *self.errors.entry(kind.into()).or_default() += 1;
    }
}

/// A short, stable name for a client error (a table row, not a log line).
fn error_kind(e: &ClientError) -> String {
    match e {
        ClientError::Refused { code, .. } => code.name().into(),
        ClientError::Closed => "closed".into(),
        ClientError::Timeout => "timeout".into(),
        ClientError::Connect(_) => "connect failed".into(),
        ClientError::Tls(_) | ClientError::PinMismatch { .. } => "tls".into(),
        ClientError::Handshake(_) => "websocket handshake".into(),
        ClientError::Protocol(_) => "protocol".into(),
        ClientError::PlaintextNotLoopback { .. } => "plaintext refused".into(),
    }
}

/// Runs the pair for one phase: fresh connections and a fresh mailbox,
/// `rate × seconds` envelopes, then waits for the last deliveries.
pub(crate) async fn run(address: &RelayAddress, load: &Load) -> PairOutcome {
    let mut out = PairOutcome::default();
    let start = Instant::now();
    let options = ConnectOptions::default();
    let (receiver, sender) = match tokio::try_join!(
        RelayClient::connect(address, options.clone()),
        RelayClient::connect(address, options),
    ) {
        Ok(both) => both,
        Err(e) => {
            out.error(format!("connect: {}", error_kind(&e)));
            return out;
        }
    };
    out.connect = start.elapsed();
    let ((receiver, deliveries), (sender, _)) = (receiver, sender);
    let pair = Pair::random(false);
    let auth = pair.key.verifying_key();
    if let Err(e) = receiver
        .create_mailbox(pair.mailbox, &auth, load.token.as_deref())
        .await
    {
        out.error(format!("create: {}", error_kind(&e)));
        return out;
    }
    let subscribing = Instant::now();
    if let Err(e) = receiver.subscribe(pair.mailbox, &pair.key).await {
        out.error(format!("subscribe: {}", error_kind(&e)));
        return out;
    }
    out.subscribe = subscribing.elapsed();
    let total = (load.rate * load.seconds as f64).round().max(1.0) as usize;
    let (expected_tx, expected) = watch::channel(None);
    let receiving = tokio::spawn(receive(
        receiver.clone(),
        deliveries,
        pair.mailbox,
        (total, load.rate.ceil() as usize),
        expected,
        load.stall,
    ));
    let acked = send(&sender, pair.mailbox, load, total, &mut out).await;
    let ok = acked.iter().filter(|a| **a).count();
    let _ = expected_tx.send(Some(ok));
    match receiving.await {
        Ok(received) => {
            out.sent = ok as u64;
            out.delivered = received.seen.iter().filter(|s| **s).count() as u64;
            out.lost = acked
                .iter()
                .zip(&received.seen)
                .filter(|(a, s)| **a && !**s)
                .count() as u64;
            out.latencies_us = received.latencies_us;
            out.latencies_us.sort_unstable();
            out.steady_us = received.steady_us;
            out.steady_us.sort_unstable();
            for e in received.errors {
                out.error(e);
            }
        }
        Err(_) => out.error("receiver task failed"),
    }
    sender.close().await;
    receiver.close().await;
    out
}

/// Sends `total` envelopes at `load.rate`, never waiting for an answer
/// before the next is due; returns which ones the relay answered `Ok`.
async fn send(
    client: &RelayClient,
    mailbox: MailboxId,
    load: &Load,
    total: usize,
    out: &mut PairOutcome,
) -> Vec<bool> {
    let mut acked = vec![false; total];
    let period = Duration::from_secs_f64(1.0 / load.rate.max(1e-3));
    let mut tick = tokio::time::interval(period.max(Duration::from_micros(1)));
    // A late tick (a busy machine) sends at once, keeping the rate.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut in_flight = FuturesUnordered::new();
    let mut seq = 0;
    while seq < total || !in_flight.is_empty() {
        tokio::select! {
            _ = tick.tick(), if seq < total => {
                let c = client.clone();
                let env = envelope(mailbox, 0, seq, load.size);
                let n = seq;
                in_flight.push(async move { (n, c.send(env).await) });
                seq += 1;
            }
            Some((n, result)) = in_flight.next(), if !in_flight.is_empty() => match result {
                Ok(()) => {
                    if let Some(a) = acked.get_mut(n) {
                        *a = true;
                    }
                }
                Err(e) => out.error(error_kind(&e)),
            },
        }
    }
    acked
}

/// What the recipient saw.
struct Received {
    seen: Vec<bool>,
    latencies_us: Vec<u64>,
    /// Those of envelopes after the first second's worth.
    steady_us: Vec<u64>,
    errors: Vec<String>,
}

/// Receives and acks (quietly, in batches) until every envelope the relay
/// accepted has arrived, or nothing came for `stall` after the last send.
/// Of `(total, first_second)`, the second is how many envelopes the first
/// second of sending holds.
async fn receive(
    client: RelayClient,
    mut deliveries: Deliveries,
    mailbox: MailboxId,
    (total, first_second): (usize, usize),
    mut expected: watch::Receiver<Option<usize>>,
    stall: Duration,
) -> Received {
    let mut r = Received {
        seen: vec![false; total],
        latencies_us: Vec::with_capacity(total),
        steady_us: Vec::with_capacity(total),
        errors: Vec::new(),
    };
    let mut distinct = 0;
    let mut last_progress = Instant::now();
    loop {
        let target = *expected.borrow_and_update();
        if let Some(target) = target
            && (distinct >= target || last_progress.elapsed() >= stall)
        {
            break;
        }
        let first = tokio::select! {
            d = deliveries.recv() => match d {
                Some(d) => d,
                None => {
                    r.errors.push("receiver connection closed".into());
                    break;
                }
            },
            _ = expected.changed() => continue,
            () = tokio::time::sleep(Duration::from_millis(100)) => continue,
        };
        let mut acks = Vec::new();
        let mut next = Some(first);
        while let Some(d) = next {
            let now = now_us();
            if let Some((seq, sent)) = decode(&d.envelope)
                && let Some(seen) = r.seen.get_mut(seq)
                && !*seen
            {
                *seen = true;
                distinct += 1;
                let latency = now.saturating_sub(sent);
                r.latencies_us.push(latency);
                if seq >= first_second {
                    r.steady_us.push(latency);
                }
                last_progress = Instant::now();
            }
            acks.push((mailbox, d.message));
            next = if acks.len() < 256 {
                deliveries.try_recv()
            } else {
                None
            };
        }
        if let Err(e) = client.ack_quiet(&acks).await {
            r.errors.push(format!("ack: {}", error_kind(&e)));
            break;
        }
    }
    r
}
