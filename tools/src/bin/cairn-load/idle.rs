//! Idle connections: open many, hold them, measure connect time and relay memory.
//!
//! With `--subscribe` every connection first creates a mailbox and
//! subscribes to it, like a messenger client waiting for messages; without
//! it the connections only complete the handshake.

use std::time::Duration;

use anyhow::{Context, Result};
use cairn_protocol::relay_address::RelayAddress;
use futures_util::StreamExt;
use futures_util::stream;

use crate::Args;
use crate::online::{CONNECT_CONCURRENCY, Pair, connect_many};
use crate::report::Outcome;

pub(crate) async fn run(args: &Args, address: &RelayAddress) -> Result<Outcome> {
    let (conns, connect) = connect_many(address, args.connections).await?;
    if args.subscribe {
        let token = args.token.as_deref();
        let subscribed: Vec<Result<()>> = stream::iter(&conns)
            .map(|(client, _)| async move {
                let pair = Pair::random(args.locked);
                pair.create(client, token).await?;
                client
                    .subscribe(pair.mailbox, &pair.key)
                    .await
                    .context("subscribing")
            })
            .buffer_unordered(CONNECT_CONCURRENCY)
            .collect()
            .await;
        subscribed.into_iter().collect::<Result<Vec<()>>>()?;
    }
    tokio::time::sleep(Duration::from_secs(args.hold)).await;
    let open = conns.iter().filter(|(c, _)| !c.is_closed()).count();
    drop(conns);
    Ok(Outcome {
        connections: open,
        connect,
        lost: (args.connections - open) as u64,
        ..Outcome::default()
    })
}
