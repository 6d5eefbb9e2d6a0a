//! Idle connections: open many, hold them, measure connect time and relay memory.

use std::time::Duration;

use anyhow::Result;
use cairn_protocol::address::RelayAddress;

use crate::Args;
use crate::online::connect_many;
use crate::report::Outcome;

pub(crate) async fn run(args: &Args, address: &RelayAddress) -> Result<Outcome> {
    let (conns, connect) = connect_many(address, args.connections).await?;
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
