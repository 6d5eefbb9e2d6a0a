//! Offline recipients: fill mailboxes with nobody online, then drain on reconnect.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cairn_protocol::relay_address::RelayAddress;

use crate::online::{Pair, connect_many, receive_all, send_all};
use crate::report::Outcome;
use crate::{Args, stall_limit};

pub(crate) async fn run(args: &Args, address: &RelayAddress) -> Result<Outcome> {
    let pairs: Vec<Pair> = (0..args.pairs).map(|_| Pair::random(args.locked)).collect();
    let (senders, t1) =
        connect_many(args.send_relay.as_ref().unwrap_or(address), args.pairs).await?;
    for ((client, _), pair) in senders.iter().zip(&pairs) {
        pair.create(client, args.token.as_deref()).await?;
    }
    let start = Instant::now();
    let sending: Vec<_> = senders
        .into_iter()
        .zip(&pairs)
        .enumerate()
        .map(|(i, ((client, _), pair))| {
            tokio::spawn(send_all(
                client,
                (pair.mailbox, pair.send_key.clone()),
                i,
                args.clone(),
                Duration::ZERO,
            ))
        })
        .collect();
    let mut outcome = Outcome::default();
    for s in sending {
        outcome.sent += s.await??;
    }
    let store_elapsed = start.elapsed();

    let (receivers, t2) = connect_many(address, args.pairs).await?;
    let drain_start = Instant::now();
    let stall = stall_limit(args);
    let draining: Vec<_> = receivers
        .into_iter()
        .zip(&pairs)
        .map(|((client, deliveries), pair)| {
            let mailbox = pair.mailbox;
            let key = pair.key.clone();
            let (messages, ack) = (args.messages, !args.no_ack);
            tokio::spawn(async move {
                let receiving = tokio::spawn(receive_all(
                    client.clone(),
                    deliveries,
                    mailbox,
                    messages,
                    ack,
                    stall,
                ));
                client
                    .subscribe(mailbox, &key)
                    .await
                    .context("subscribing")?;
                anyhow::Ok(receiving.await?)
            })
        })
        .collect();
    let mut last = drain_start;
    for d in draining {
        let (_, distinct, end) = d.await??;
        outcome.delivered += distinct;
        last = last.max(end.unwrap_or(drain_start));
    }
    outcome.elapsed = last - drain_start;
    outcome.store_elapsed = Some(store_elapsed);
    outcome.connect = t1 + t2;
    outcome.connections = 2 * args.pairs;
    outcome.lost = (args.pairs * args.messages) as u64 - outcome.delivered;
    Ok(outcome)
}
