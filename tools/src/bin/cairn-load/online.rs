//! Online pairs: receivers subscribed while senders send; per-envelope latency.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use cairn_protocol::envelope::{BodyKind, MailboxId, MessageId, write_header};
use cairn_protocol::frames::SendKey;
use cairn_protocol::relay_address::RelayAddress;
use cairn_relay_client::{ConnectOptions, Deliveries, RelayClient};
use ed25519_dalek::SigningKey;
use futures_util::StreamExt;
use futures_util::stream::{self, FuturesUnordered};
use rand::RngExt;

use crate::report::Outcome;
use crate::{Args, stall_limit};

/// Connections opened concurrently during setup.
pub(crate) const CONNECT_CONCURRENCY: usize = 64;

/// The process-wide base of envelope timestamps.
pub(crate) fn clock() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// Microseconds since [`clock`]'s base: what [`envelope`] writes in the body.
pub(crate) fn now_us() -> u64 {
    clock().elapsed().as_micros() as u64
}

/// One mailbox, its auth key and, if send-locked, its send key.
pub(crate) struct Pair {
    pub mailbox: MailboxId,
    pub key: SigningKey,
    pub send_key: Option<Arc<SendKey>>,
}

impl Pair {
    pub(crate) fn random(locked: bool) -> Self {
        let mut rng = rand::rng();
        Self {
            mailbox: MailboxId(rng.random()),
            key: SigningKey::from_bytes(&rng.random()),
            send_key: locked.then(|| Arc::new(SendKey::generate(&mut rng))),
        }
    }

    /// Creates the mailbox on the relay, locked if the pair has a send key.
    pub(crate) async fn create(&self, client: &RelayClient, token: Option<&str>) -> Result<()> {
        let auth = self.key.verifying_key();
        match &self.send_key {
            Some(send_key) => {
                client
                    .create_locked_mailbox(self.mailbox, &auth, &send_key.lock(), token)
                    .await
            }
            None => client.create_mailbox(self.mailbox, &auth, token).await,
        }
        .context("creating mailbox")
    }
}

/// An envelope carrying its sequence number and send time in the (opaque) body.
pub(crate) fn envelope(mailbox: MailboxId, pair: usize, seq: usize, size: usize) -> Bytes {
    let mut id = [0u8; 16];
    id[..4].copy_from_slice(&(pair as u32).to_be_bytes());
    id[4..8].copy_from_slice(&(seq as u32).to_be_bytes());
    id[8..].copy_from_slice(&rand::rng().random::<[u8; 8]>());
    let mut out = Vec::with_capacity(size);
    write_header(&mut out, &mailbox, &MessageId(id), BodyKind::Ratchet);
    out.extend_from_slice(&now_us().to_be_bytes());
    out.resize(size, 0);
    Bytes::from(out)
}

/// (sequence number, send time in µs) of an envelope made by [`envelope`].
pub(crate) fn decode(envelope: &[u8]) -> Option<(usize, u64)> {
    let seq = u32::from_be_bytes(envelope.get(37..41)?.try_into().ok()?) as usize;
    let sent = u64::from_be_bytes(envelope.get(50..58)?.try_into().ok()?);
    Some((seq, sent))
}

/// Opens `n` connections, `CONNECT_CONCURRENCY` at a time.
pub(crate) async fn connect_many(
    address: &RelayAddress,
    n: usize,
) -> Result<(Vec<(RelayClient, Deliveries)>, Duration)> {
    let start = Instant::now();
    let options = ConnectOptions::default();
    let conns: Vec<_> = stream::iter(0..n)
        .map(|_| RelayClient::connect(address, options.clone()))
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect()
        .await;
    let conns = conns
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .context("connecting")?;
    Ok((conns, start.elapsed()))
}

/// Sends `count` envelopes to `pair`'s mailbox, windowed or paced.
pub(crate) async fn send_all(
    client: RelayClient,
    (mailbox, send_key): (MailboxId, Option<Arc<SendKey>>),
    pair: usize,
    args: Args,
    offset: Duration,
) -> Result<u64> {
    let mut in_flight = FuturesUnordered::new();
    let mut acked = 0u64;
    let paced = args.rate > 0.0;
    let period = Duration::from_secs_f64(args.pairs as f64 / args.rate.max(1e-9));
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + offset,
        period.max(Duration::from_micros(1)),
    );
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for seq in 0..args.messages {
        if paced {
            // Keep polling the sends in flight while waiting for the next slot.
            loop {
                tokio::select! {
                    _ = tick.tick() => break,
                    Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                        let () = done?;
                        acked += 1;
                    }
                }
            }
        } else {
            while in_flight.len() >= args.window.max(1) {
                if let Some(done) = in_flight.next().await {
                    let () = done?;
                    acked += 1;
                }
            }
        }
        let c = client.clone();
        let env = envelope(mailbox, pair, seq, args.size);
        let key = send_key.clone();
        in_flight.push(async move {
            match key {
                Some(key) => c.send_locked(&key, env).await,
                None => c.send(env).await,
            }
            .context("send")
        });
    }
    while let Some(done) = in_flight.next().await {
        done?;
        acked += 1;
    }
    Ok(acked)
}

/// Receives until `expected` distinct envelopes arrived or progress stalls.
pub(crate) async fn receive_all(
    client: RelayClient,
    mut deliveries: Deliveries,
    mailbox: MailboxId,
    expected: usize,
    ack: bool,
    stall: Duration,
) -> (Vec<u64>, u64, Option<Instant>) {
    let mut seen = vec![false; expected];
    let mut distinct = 0u64;
    let mut latencies = Vec::with_capacity(expected);
    let mut last = None;
    while (distinct as usize) < expected {
        let Ok(Some(first)) = tokio::time::timeout(stall, deliveries.recv()).await else {
            break;
        };
        // Take whatever else already arrived and ack it all in one batch frame.
        let mut acks = Vec::new();
        let mut next = Some(first);
        while let Some(d) = next {
            let now = now_us();
            if let Some((seq, sent)) = decode(&d.envelope)
                && seq < expected
                && !seen[seq]
            {
                seen[seq] = true;
                distinct += 1;
                latencies.push(now.saturating_sub(sent));
                last = Some(Instant::now());
            }
            acks.push((mailbox, d.message));
            next = if acks.len() < 256 {
                deliveries.try_recv()
            } else {
                None
            };
        }
        // Quiet: the relay answers nothing unless it refuses, so acking costs
        // one write here and one read there (PROTOCOL.md §18.3).
        if ack && client.ack_quiet(&acks).await.is_err() {
            break;
        }
    }
    (latencies, distinct, last)
}

pub(crate) async fn run(args: &Args, address: &RelayAddress) -> Result<Outcome> {
    clock();
    let pairs: Vec<Pair> = (0..args.pairs).map(|_| Pair::random(args.locked)).collect();
    let (receivers, t1) = connect_many(address, args.pairs).await?;
    let (senders, t2) =
        connect_many(args.send_relay.as_ref().unwrap_or(address), args.pairs).await?;
    for ((client, _), pair) in receivers.iter().zip(&pairs) {
        pair.create(client, args.token.as_deref()).await?;
        client
            .subscribe(pair.mailbox, &pair.key)
            .await
            .context("subscribing")?;
    }
    let start = Instant::now();
    let stall = stall_limit(args);
    let receiving: Vec<_> = receivers
        .into_iter()
        .zip(&pairs)
        .map(|((client, deliveries), pair)| {
            tokio::spawn(receive_all(
                client,
                deliveries,
                pair.mailbox,
                args.messages,
                !args.no_ack,
                stall,
            ))
        })
        .collect();
    let sending: Vec<_> = senders
        .into_iter()
        .zip(&pairs)
        .enumerate()
        .map(|(i, ((client, _), pair))| {
            // Spread paced senders evenly over one period.
            let offset = if args.rate > 0.0 {
                Duration::from_secs_f64(i as f64 / args.rate.max(1e-9))
            } else {
                Duration::ZERO
            };
            let to = (pair.mailbox, pair.send_key.clone());
            tokio::spawn(send_all(client, to, i, args.clone(), offset))
        })
        .collect();
    let mut outcome = Outcome {
        connections: 2 * args.pairs,
        connect: t1 + t2,
        ..Outcome::default()
    };
    for s in sending {
        outcome.sent += s.await??;
    }
    let mut last = start;
    for r in receiving {
        let (lat, distinct, end) = r.await?;
        outcome.latencies_us.extend(lat);
        outcome.delivered += distinct;
        last = last.max(end.unwrap_or(start));
    }
    outcome.elapsed = last - start;
    outcome.lost = (args.pairs * args.messages) as u64 - outcome.delivered;
    Ok(outcome)
}
