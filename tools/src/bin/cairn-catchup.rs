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
//! Both sides run the same messenger the CLI and the desktop use.
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
use cairn_core::messenger::{DialOptions, Messenger, MessengerConfig};
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
    let config = MessengerConfig {
        dial: DialOptions {
            allow_plaintext_loopback: true,
            connect: ConnectOptions {
                delivery_buffer: 256 << 20,
                ..ConnectOptions::default()
            },
        },
        ..MessengerConfig::default()
    };
    let sender = profile(&dir.join("sender"), "Sender", relay)?;
    let receiver = profile(&dir.join("receiver"), "Receiver", relay)?;
    let (sender, _sender_events) = Messenger::start(sender, config.clone());
    let (receiver, _receiver_events) = Messenger::start(receiver, config.clone());

    // Contact: the receiver invites, the sender accepts, the receiver completes.
    let invite = receiver.create_invite(None).await?;
    let contact = sender.accept_invite(&invite.uri, "receiver").await?;
    sender.wait_sent(false).await?;
    receiver
        .wait_received(Duration::from_millis(200), Duration::from_secs(10))
        .await?;
    let receiver = receiver.stop().await?;

    // Seed the backlog while the receiver is offline.
    let text = sample_text(args.size);
    let seed_start = Instant::now();
    for done in (0..args.messages).step_by(1_000) {
        let texts = vec![text.clone(); (args.messages - done).min(1_000)];
        sender.send_texts(contact.id, texts).await?;
    }
    let queued = Instant::now();
    sender.wait_sent(false).await?;
    let left = sender.query(|c| c.outbox_len()).await??;
    if left != 0 {
        bail!(
            "{left} of {} messages did not reach the relay",
            args.messages
        );
    }
    eprintln!(
        "seeded {} messages of {} bytes: sealed+stored in {:.2?}, sent in {:.2?}",
        args.messages,
        args.size,
        queued - seed_start,
        queued.elapsed()
    );
    sender.stop().await?;

    // The receiver comes online: time connect → everything stored and acked.
    let receiver_dir = receiver.dir().to_owned();
    drop(receiver);
    let open_start = Instant::now();
    let receiver = Client::open(&receiver_dir, b"benchmark passphrase")?;
    let opened = open_start.elapsed();
    let quiet = Duration::from_millis(200);
    let start = Instant::now();
    let (receiver, _events) = Messenger::start(receiver, config);
    let got = receiver.wait_received(quiet, Duration::ZERO).await?;
    // The final quiet wait is the end-of-backlog detection, not work: subtract it.
    let elapsed = start.elapsed().saturating_sub(quiet);
    receiver.stop().await?;
    if got != args.messages {
        bail!("received {got} of {} messages", args.messages);
    }
    let rate = args.messages as f64 / elapsed.as_secs_f64();
    println!(
        "catch-up: {} messages in {:.3} s = {:.0} messages/s (profile unlock {:.2?} not included)",
        args.messages,
        elapsed.as_secs_f64(),
        rate,
        opened
    );
    Ok(())
}
