//! The floods: everything one abusive address can throw at a relay at once,
//! each aimed at one of the per-source limits of relay issue 16.
//!
//! They run on their own thread and single-threaded runtime ("cairn-flood"),
//! so the pair's runtime measures delivery latency without flood tasks in
//! its queue, and so the flooder's CPU time can be read on its own (on a
//! 2-core machine the flooder competes with the relay for the same cores,
//! which the report shows rather than hides).

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use bytes::Bytes;
use cairn_protocol::envelope::MailboxId;
use cairn_protocol::frames::{ClientFrame, ClientRequest, RelayFrame};
use cairn_protocol::relay_address::RelayAddress;
use clap::ValueEnum;
use ed25519_dalek::SigningKey;
use futures_util::{SinkExt, StreamExt};
use rand::RngExt;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

use super::frames::{Frames, Shared};
use super::raw::{Source, Tally, read_until_closed};
use crate::report::thread_cpu_seconds;

/// One kind of flood (`--flood`, all by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub(crate) enum Flood {
    /// As many TLS connections as the relay lets one address hold, held
    /// idle and dialled again whenever closed (per-source cap, first-request deadline).
    Connections,
    /// Undecodable, oversized and text frames (decoding, frame-rate limits).
    Malformed,
    /// Subscribe and delete signed with the wrong key (signature checks).
    Signatures,
    /// Mailbox creation under fresh ids (mailboxes per address per hour).
    Mailboxes,
    /// 64 KiB sends into the flooder's own mailboxes (byte-rate limits, storage).
    Bytes,
}

impl Flood {
    /// Its name in `--flood` and in the table.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Flood::Connections => "connections",
            Flood::Malformed => "malformed",
            Flood::Signatures => "signatures",
            Flood::Mailboxes => "mailboxes",
            Flood::Bytes => "bytes",
        }
    }
}

/// Mailboxes the flooder creates at the start for the signature and byte
/// floods: before the creation flood spends the address's hourly budget,
/// and enough that the byte flood cannot fill their quotas in one run
/// (100 MiB each by default; about 16 MiB/s gets through).
const SETUP_MAILBOXES: usize = 8;

/// Frames written between flushes when unpaced.
const BATCH: usize = 32;

/// A paced flood writes every this often (tokio's timer has 1 ms resolution).
const PACE_TICK: Duration = Duration::from_millis(10);

/// How hard, and from where.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub floods: Vec<Flood>,
    pub source: IpAddr,
    /// Connections the connection flood tries to hold.
    pub connections: usize,
    /// Connections per frame flood.
    pub streams: usize,
    /// Pause before dialling again after a refusal or a close.
    pub retry: Duration,
    /// Frames per second per frame flood; 0 = as fast as the relay reads.
    pub rate: f64,
}

/// What the floods saw, for the report.
pub(crate) struct FloodReport {
    /// Per flood, in `--flood` order.
    pub tallies: Vec<(Flood, Arc<Tally>)>,
    /// From the first dial to the stop.
    pub elapsed: Duration,
    /// CPU time of the flooder's thread.
    pub cpu: Option<f64>,
    /// Mailboxes the flooder got to create at the start (of [`SETUP_MAILBOXES`]).
    pub setup_mailboxes: usize,
}

/// Floods running on their thread.
pub(crate) struct Running {
    ready: Option<oneshot::Receiver<Result<()>>>,
    stop: watch::Sender<bool>,
    report: oneshot::Receiver<Result<FloodReport>>,
}

impl Running {
    /// Starts the floods of `plan` against `address` on a new thread.
    pub(crate) fn start(address: RelayAddress, plan: Plan) -> Result<Self> {
        let (ready_tx, ready) = oneshot::channel();
        let (stop, stop_rx) = watch::channel(false);
        let (report_tx, report) = oneshot::channel();
        std::thread::Builder::new()
            .name("cairn-flood".into())
            .spawn(move || {
                let result = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("flood runtime")
                    .and_then(|rt| rt.block_on(flood(address, plan, ready_tx, stop_rx)));
                let _ = report_tx.send(result);
            })
            .context("starting the flood thread")?;
        Ok(Self {
            ready: Some(ready),
            stop,
            report,
        })
    }

    /// Waits until every flood has started (mailboxes created, frame floods
    /// dialled, connection flood dialling).
    pub(crate) async fn ready(&mut self) -> Result<()> {
        match self.ready.take() {
            Some(ready) => ready.await.map_err(|_| anyhow!("flood thread ended"))?,
            None => Ok(()),
        }
    }

    /// Stops every flood and returns what they saw.
    pub(crate) async fn stop(self) -> Result<FloodReport> {
        let _ = self.stop.send(true);
        self.report
            .await
            .map_err(|_| anyhow!("flood thread ended without a report"))?
    }
}

async fn flood(
    address: RelayAddress,
    plan: Plan,
    ready: oneshot::Sender<Result<()>>,
    mut stop: watch::Receiver<bool>,
) -> Result<FloodReport> {
    let cpu_before = thread_cpu_seconds();
    let start = Instant::now();
    let source = match Source::new(&address, plan.source).await {
        Ok(s) => Arc::new(s),
        Err(e) => {
            let _ = ready.send(Err(anyhow!("{e:#}")));
            return Err(e);
        }
    };
    let auth = SigningKey::from_bytes(&rand::rng().random());
    let needs_mailboxes = plan
        .floods
        .iter()
        .any(|f| matches!(f, Flood::Signatures | Flood::Bytes));
    let mailboxes = if needs_mailboxes {
        create_mailboxes(&source, &auth).await.unwrap_or_default()
    } else {
        Vec::new()
    };
    let setup_mailboxes = mailboxes.len();
    let shared = Arc::new(Shared {
        mailboxes,
        auth,
        wrong: SigningKey::from_bytes(&rand::rng().random()),
    });
    let tallies: Vec<(Flood, Arc<Tally>)> = plan
        .floods
        .iter()
        .map(|f| (*f, Arc::new(Tally::default())))
        .collect();
    let mut tasks = JoinSet::new();
    // Frame floods first, so that they hold their connections before the
    // connection flood takes every slot left.
    let streams = plan.streams.max(1);
    // Frames per second per connection, if paced.
    let pace = (plan.rate > 0.0).then(|| plan.rate / streams as f64);
    for (kind, tally) in tallies.iter().filter(|(k, _)| *k != Flood::Connections) {
        for _ in 0..streams {
            let (source, tally, shared) = (source.clone(), tally.clone(), shared.clone());
            tasks.spawn(frames(*kind, source, tally, shared, plan.retry, pace));
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (_, tally) in tallies.iter().filter(|(k, _)| *k == Flood::Connections) {
        for _ in 0..plan.connections {
            tasks.spawn(hold(source.clone(), tally.clone(), plan.retry));
        }
    }
    let _ = ready.send(Ok(()));
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            break;
        }
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    let cpu = thread_cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    Ok(FloodReport {
        tallies,
        elapsed: start.elapsed(),
        cpu,
        setup_mailboxes,
    })
}

/// Creates the flooder's own mailboxes on one connection; those the relay
/// refused are left out (a relay flooded earlier this hour refuses them all).
async fn create_mailboxes(source: &Source, auth: &SigningKey) -> Result<Vec<MailboxId>> {
    let (ws, _) = source
        .dial()
        .await
        .map_err(|e| anyhow!("dialling from the flood source: {e}"))?;
    let (mut sink, mut stream) = ws.split();
    let ids: Vec<MailboxId> = (0..SETUP_MAILBOXES)
        .map(|_| MailboxId(rand::rng().random()))
        .collect();
    for (i, mailbox) in ids.iter().enumerate() {
        let frame = ClientRequest {
            request_id: i as u32 + 1,
            frame: ClientFrame::CreateMailbox {
                mailbox: *mailbox,
                auth_key: auth.verifying_key().to_bytes(),
                access_token: None,
            },
        };
        sink.feed(Message::Binary(Bytes::from(frame.encode())))
            .await?;
    }
    sink.flush().await?;
    let mut created = Vec::new();
    let mut answered = 0;
    while answered < ids.len() {
        let Ok(Some(Ok(message))) =
            tokio::time::timeout(Duration::from_secs(10), stream.next()).await
        else {
            break;
        };
        let Message::Binary(raw) = message else {
            continue;
        };
        match RelayFrame::decode(&raw) {
            Ok((id, RelayFrame::Ok)) => {
                answered += 1;
                let index = (id as usize).checked_sub(1);
                created.extend(index.and_then(|i| ids.get(i)).copied());
            }
            Ok((_, RelayFrame::Error { .. })) => answered += 1,
            _ => {}
        }
    }
    let _ = sink.close().await;
    Ok(created)
}

/// One connection of a frame flood, dialled again whenever it ends: writes
/// frames as fast as the socket takes them (the relay's reading is the
/// only brake), or `pace` a second, while counting the answers.
async fn frames(
    kind: Flood,
    source: Arc<Source>,
    tally: Arc<Tally>,
    shared: Arc<Shared>,
    retry: Duration,
    pace: Option<f64>,
) {
    loop {
        let (ws, nonce) = match source.dial().await {
            Ok(open) => open,
            Err(e) => {
                tally.dial_failed(&e);
                tokio::time::sleep(retry).await;
                continue;
            }
        };
        tally.opened.fetch_add(1, Relaxed);
        let Some(mut frames) = Frames::new(kind, &nonce, &shared) else {
            return;
        };
        let (mut sink, stream) = ws.split();
        let writer = async {
            let mut tick = tokio::time::interval(PACE_TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut credit = 0.0;
            loop {
                let batch = match pace {
                    Some(rate) => {
                        tick.tick().await;
                        credit += rate * PACE_TICK.as_secs_f64();
                        let n = credit.floor();
                        credit -= n;
                        n as usize
                    }
                    None => BATCH,
                };
                for _ in 0..batch {
                    let message = frames.next();
                    let len = message.len() as u64;
                    if sink.feed(message).await.is_err() {
                        return;
                    }
                    tally.frames.fetch_add(1, Relaxed);
                    tally.bytes.fetch_add(len, Relaxed);
                }
                if sink.flush().await.is_err() {
                    return;
                }
            }
        };
        let reader = read_until_closed(stream, &tally);
        tokio::pin!(reader);
        let how = tokio::select! {
            how = &mut reader => how,
            () = writer => {
                // The write failed: the relay closed; its reason may still be readable.
                tokio::time::timeout(Duration::from_secs(1), &mut reader)
                    .await
                    .unwrap_or_else(|_| "write failed".into())
            }
        };
        tally.ended(how);
        tokio::time::sleep(retry).await;
    }
}

/// One slot of the connection flood: a connection held without a word
/// until the relay closes it, then dialled again.
async fn hold(source: Arc<Source>, tally: Arc<Tally>, retry: Duration) {
    loop {
        match source.dial().await {
            Ok((ws, _)) => {
                tally.opened.fetch_add(1, Relaxed);
                let how = read_until_closed(ws, &tally).await;
                tally.ended(how);
            }
            Err(e) => tally.dial_failed(&e),
        }
        tokio::time::sleep(retry).await;
    }
}
