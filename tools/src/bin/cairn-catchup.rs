//! Catch-up benchmark: how fast a client that comes online drains a backlog.
//!
//! Creates two fresh profiles in a temp dir, connects them through the relay
//! given with `--relay`, has the sender queue `--messages` texts of `--size`
//! bytes at the relay while the receiver is offline, then times the receiver
//! coming online: connect, subscribe, fetch, decrypt, verify, store (batched
//! transactions, WAL, synchronous=FULL) and ack, until the backlog is empty.
//! Long runs from one contact are decrypted on a second thread while the
//! previous chunk is written, and their signatures are verified in batches
//! (see `Session::decrypt_batch`); full-text indexing runs once per commit.
//!
//! ```text
//! cargo build --release -p cairn-relay -p cairn-tools
//! target/release/cairn-relay serve --listen 127.0.0.1:7447 --data-dir /tmp/bench-relay --no-admin --rate-per-connection 0 &
//! target/release/cairn-catchup --relay "$(cat /tmp/bench-relay/address.txt)" --messages 10000
//! ```

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cairn_core::client::{Client, InitOptions};
use cairn_core::net::{SyncOptions, SyncReport, Syncer, WsConnector};
use cairn_core::profile::kdf::KdfParams;
use cairn_protocol::relay_address::RelayAddress;
use cairn_relay_client::ConnectOptions;
use clap::Parser;

/// Times a client catching up on a relay backlog.
#[derive(Debug, Parser)]
struct Args {
    /// Relay address (wss://HOST:PORT/#PIN, or ws:// on loopback).
    #[arg(long)]
    relay: String,
    /// Messages in the backlog.
    #[arg(long, default_value_t = 10_000)]
    messages: usize,
    /// Bytes of text per message.
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// Where to put the two profiles (default: a temp dir, removed afterwards).
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Realistic text (varied words, so full-text indexing does real work) of `size` bytes.
fn sample_text(size: usize) -> String {
    const WORDS: &[&str] = &[
        "the",
        "harbour",
        "meeting",
        "tomorrow",
        "at",
        "noon",
        "bring",
        "documents",
        "café",
        "closed",
        "train",
        "delayed",
        "call",
        "me",
        "when",
        "you",
        "arrive",
        "station",
        "north",
        "gate",
        "weather",
        "looks",
        "fine",
        "keys",
        "under",
        "blue",
        "pot",
        "thanks",
        "again",
    ];
    let mut text = String::with_capacity(size + 16);
    let mut i = 7usize;
    while text.len() < size {
        i = (i * 31 + 17) % WORDS.len();
        text.push_str(WORDS[i]);
        text.push(' ');
    }
    text.truncate(size);
    text
}

fn profile(dir: &Path, name: &str, relay: &RelayAddress) -> anyhow::Result<Client> {
    Ok(Client::init(
        &InitOptions {
            dir,
            passphrase: b"benchmark passphrase",
            kdf: KdfParams::DEFAULT,
            name,
            relay: relay.clone(),
            access_token: None,
        },
        now_ms(),
    )?)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let relay: RelayAddress = args.relay.parse().context("--relay")?;
    let tmp = tempfile_dir(args.dir.as_deref())?;
    // Two workers: the relay client's socket reader keeps pulling deliveries
    // while a batch is being decrypted and committed.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(&args, &relay, tmp.path()))
}

/// A scratch directory, removed on drop unless the user chose it.
struct Scratch(std::path::PathBuf, bool);

impl Scratch {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.1 {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn tempfile_dir(chosen: Option<&Path>) -> anyhow::Result<Scratch> {
    if let Some(dir) = chosen {
        return Ok(Scratch(dir.to_owned(), false));
    }
    let dir = std::env::temp_dir().join(format!("cairn-catchup-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(Scratch(dir, true))
}

async fn run(args: &Args, relay: &RelayAddress, dir: &Path) -> anyhow::Result<()> {
    let connector = WsConnector {
        allow_plaintext_loopback: true,
        options: ConnectOptions {
            delivery_queue: 4096,
            ..ConnectOptions::default()
        },
    };
    let mut sender = profile(&dir.join("sender"), "Sender", relay)?;
    let mut receiver = profile(&dir.join("receiver"), "Receiver", relay)?;
    let mut s_sync = Syncer::new(connector.clone(), SyncOptions::default());
    let mut r_sync = Syncer::new(connector.clone(), SyncOptions::default());
    let clock = now_ms;

    // Contact: the receiver invites, the sender accepts, the receiver completes.
    let mailbox = receiver.mint_mailbox();
    r_sync.create_mailbox(&mailbox).await?;
    let invite = receiver.create_invite(&mailbox, now_ms())?;
    let parsed = sender.parse_invite(&invite.uri, now_ms())?;
    let reply = sender.mint_mailbox();
    s_sync.create_mailbox(&reply).await?;
    sender.accept_invite(&parsed, "receiver", &reply, now_ms())?;
    let mut report = SyncReport::default();
    s_sync
        .flush_outbox(&mut sender, &clock, &mut report)
        .await?;
    r_sync.sync(&mut receiver, &clock).await?;
    r_sync.disconnect();

    // Seed the backlog while the receiver is offline.
    let text = sample_text(args.size);
    let seed_start = Instant::now();
    let texts: Vec<&str> = vec![text.as_str(); args.messages];
    for chunk in texts.chunks(1_000) {
        sender.send_texts("receiver", chunk, now_ms())?;
    }
    let queued = Instant::now();
    let mut report = SyncReport::default();
    s_sync
        .flush_outbox(&mut sender, &clock, &mut report)
        .await?;
    if report.sent != args.messages {
        bail!(
            "only {} of {} messages reached the relay: {:?}",
            report.sent,
            args.messages,
            report.errors
        );
    }
    eprintln!(
        "seeded {} messages of {} bytes: sealed+stored in {:.2?}, sent in {:.2?}",
        args.messages,
        args.size,
        queued - seed_start,
        queued.elapsed()
    );

    // The receiver comes online: time connect → everything stored and acked.
    let receiver_dir = receiver.dir().to_owned();
    drop(receiver);
    let open_start = Instant::now();
    let mut receiver = Client::open(&receiver_dir, b"benchmark passphrase")?;
    let opened = open_start.elapsed();
    let start = Instant::now();
    let mut r_sync = Syncer::new(
        connector,
        SyncOptions {
            idle: Duration::from_millis(200),
            ..SyncOptions::default()
        },
    );
    let mut report = SyncReport::default();
    r_sync.receive(&mut receiver, &clock, &mut report).await?;
    // The final idle wait is the end-of-backlog detection, not work: subtract it.
    let elapsed = start.elapsed().saturating_sub(Duration::from_millis(200));
    if report.new_messages != args.messages {
        bail!(
            "received {} of {} messages: {:?}",
            report.new_messages,
            args.messages,
            report.errors
        );
    }
    let rate = args.messages as f64 / elapsed.as_secs_f64();
    println!(
        "catch-up: {} messages in {:.3} s = {:.0} messages/s (profile unlock {:.2?} not included)",
        args.messages,
        elapsed.as_secs_f64(),
        rate,
        opened
    );
    println!(
        "  of which decrypt + verify + store + commit: {:.3} s ({:.0} messages/s); \
         the rest is relay delivery, acks and network",
        report.processing.as_secs_f64(),
        args.messages as f64 / report.processing.as_secs_f64().max(1e-9)
    );
    Ok(())
}
