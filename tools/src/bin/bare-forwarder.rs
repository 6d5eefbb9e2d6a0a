//! A bare tokio-tungstenite forwarder: the stack's limit, for comparison with
//! `cairn-relay` under the same load tool at the same moment.
//!
//! It speaks only the subset of the relay protocol (docs/PROTOCOL.md §18)
//! that `cairn-load --mode online` uses, with no storage, no auth and no
//! limits: a `Challenge` on connect; `CreateMailbox` → `Ok`; `Subscribe` →
//! `Ok` without checking the signature, and the connection becomes the
//! mailbox's subscriber; `Send` → a `Deliver` pushed to the subscriber if any
//! (dropped otherwise), then `Ok`; `Ack`/`AckBatch` → `Ok` unless the
//! request id is 0; anything else → `Ok`. Whatever the relay spends beyond
//! this is the relay's own overhead (durability, auth, limits, metrics).
//!
//! The design is the straightforward baseline, deliberately not tuned: a
//! split socket per connection, one writer task fed by an unbounded channel
//! (it writes whatever is queued, then flushes; with `BARE_FORWARDER_FLUSH_EACH`
//! set, it flushes after every frame), and one `Mutex<HashMap>` from mailbox
//! to subscriber channel.
//!
//! Launch it exactly like the relay:
//! `cairn-load --spawn target/release/bare-forwarder [--plaintext] …`.
//! It reads `--listen`, `--data-dir` (where the self-signed certificate is
//! kept) and `--insecure-plaintext`, ignores every other argument, and prints
//! `relay address: ADDRESS` like `cairn-relay serve`.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{Context, Result};
use cairn_protocol::envelope::{Envelope, MailboxId};
use cairn_protocol::frames::{
    ClientFrame, ClientRequest, ErrorCode, NONCE_LEN, RelayFrame, peek_request_id,
};
use cairn_protocol::relay_address::{RelayAddress, Transport};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// Outgoing frames of one connection.
type Outbox = mpsc::UnboundedSender<Message>;

/// Each subscribed mailbox: the owning connection's id and its outbox.
type Subscribers = Arc<Mutex<HashMap<MailboxId, (u64, Outbox)>>>;

/// What the challenge frame names as the server software.
const SERVER: &str = concat!("bare-forwarder/", env!("CARGO_PKG_VERSION"));

/// Set (to anything) in the environment to write and flush every frame on its
/// own, the most naive writer, instead of flushing once per queued batch.
const FLUSH_EACH_VAR: &str = "BARE_FORWARDER_FLUSH_EACH";

/// The three arguments that matter; everything else the load tool passes is ignored.
struct Options {
    listen: SocketAddr,
    data_dir: PathBuf,
    plaintext: bool,
}

fn parse_args() -> Result<Options> {
    let mut options = Options {
        listen: SocketAddr::from(([127, 0, 0, 1], 7447)),
        data_dir: std::env::temp_dir().join("cairn-bare-forwarder"),
        plaintext: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (arg, None),
        };
        match name.as_str() {
            "--listen" => {
                let value = inline
                    .or_else(|| args.next())
                    .context("--listen needs ADDR")?;
                options.listen = value.parse().context("--listen")?;
            }
            "--data-dir" => {
                let value = inline
                    .or_else(|| args.next())
                    .context("--data-dir needs DIR")?;
                options.data_dir = PathBuf::from(value);
            }
            "--insecure-plaintext" => options.plaintext = true,
            _ => {}
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> Result<()> {
    let options = parse_args()?;
    std::fs::create_dir_all(&options.data_dir)
        .with_context(|| format!("creating {}", options.data_dir.display()))?;
    let listener = TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("binding {}", options.listen))?;
    let local = listener.local_addr()?;
    let host = if local.ip().is_unspecified() {
        "localhost".to_owned()
    } else {
        local.ip().to_string()
    };
    let (tls, transport) = if options.plaintext {
        eprintln!("bare_forwarder: INSECURE plaintext, loopback benchmarking only");
        (None, Transport::Plaintext)
    } else {
        // Same self-signed certificate and pin as the relay's own default.
        let names = vec![host.clone(), "localhost".to_owned()];
        let identity = cairn_relay::tls::load_or_generate(&options.data_dir, None, &names)?;
        (
            Some(TlsAcceptor::from(identity.config)),
            Transport::Tls { pin: identity.pin },
        )
    };
    let address = RelayAddress::new(&host, local.port(), transport)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "relay address: {address}")?;
    stdout.flush()?;
    drop(stdout);

    let subscribers: Subscribers = Arc::default();
    let mut next_id = 0u64;
    loop {
        let (tcp, _peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                eprintln!("bare_forwarder: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        next_id += 1;
        tokio::spawn(open(tcp, tls.clone(), next_id, Arc::clone(&subscribers)));
    }
}

/// TLS (unless plaintext) and WebSocket handshakes, then the connection loop.
async fn open(tcp: TcpStream, tls: Option<TlsAcceptor>, id: u64, subscribers: Subscribers) {
    let _ = tcp.set_nodelay(true);
    let result = match tls {
        Some(acceptor) => match acceptor.accept(tcp).await {
            Ok(stream) => match tokio_tungstenite::accept_async(stream).await {
                Ok(ws) => serve(ws, id, &subscribers).await,
                Err(e) => Err(e.into()),
            },
            Err(e) => Err(e.into()),
        },
        None => match tokio_tungstenite::accept_async(tcp).await {
            Ok(ws) => serve(ws, id, &subscribers).await,
            Err(e) => Err(e.into()),
        },
    };
    if let Err(e) = result {
        eprintln!("bare_forwarder: connection {id}: {e:#}");
    }
}

/// Locks the subscriber map; a poisoned lock still holds a usable map.
fn lock(subscribers: &Subscribers) -> MutexGuard<'_, HashMap<MailboxId, (u64, Outbox)>> {
    subscribers
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn frame(request_id: u32, frame: &RelayFrame<'_>) -> Message {
    Message::Binary(frame.encode(request_id).into())
}

/// One connection: a writer task draining its outbox, and this read loop.
async fn serve<S>(ws: WebSocketStream<S>, id: u64, subscribers: &Subscribers) -> Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sink, mut stream) = ws.split();
    let (outbox, mut queued) = mpsc::unbounded_channel::<Message>();
    let flush_each = std::env::var_os(FLUSH_EACH_VAR).is_some();
    let writer = tokio::spawn(async move {
        while let Some(first) = queued.recv().await {
            if flush_each {
                sink.send(first).await?;
                continue;
            }
            sink.feed(first).await?;
            while let Ok(more) = queued.try_recv() {
                sink.feed(more).await?;
            }
            sink.flush().await?;
        }
        sink.close().await
    });
    let nonce: [u8; NONCE_LEN] = rand::random();
    // The receiver lives in the writer task; a failed send means it ended.
    let _ = outbox.send(frame(
        0,
        &RelayFrame::Challenge {
            nonce,
            server: SERVER,
        },
    ));
    let mut mine: Vec<MailboxId> = Vec::new();
    let result = read_loop(&mut stream, id, &outbox, subscribers, &mut mine).await;
    {
        let mut map = lock(subscribers);
        for mailbox in &mine {
            if map.get(mailbox).is_some_and(|(owner, _)| *owner == id) {
                map.remove(mailbox);
            }
        }
    }
    drop(outbox);
    // The writer ends once every clone of the outbox is gone.
    let _ = writer.await;
    result
}

async fn read_loop<S>(
    stream: &mut futures_util::stream::SplitStream<WebSocketStream<S>>,
    id: u64,
    outbox: &Outbox,
    subscribers: &Subscribers,
    mine: &mut Vec<MailboxId>,
) -> Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    while let Some(message) = stream.next().await {
        let data = match message? {
            Message::Binary(data) => data,
            Message::Close(_) => break,
            _ => continue,
        };
        let answer = match ClientRequest::decode(&data) {
            Err(e) => Some((
                peek_request_id(&data),
                RelayFrame::Error {
                    code: e.code(),
                    message: "refused by bare_forwarder",
                },
            )),
            Ok(request) => {
                let rid = request.request_id;
                match request.frame {
                    ClientFrame::Subscribe { mailbox, .. } => {
                        lock(subscribers).insert(mailbox, (id, outbox.clone()));
                        mine.push(mailbox);
                        Some((rid, RelayFrame::Ok))
                    }
                    ClientFrame::Send { envelope } => match Envelope::parse(envelope) {
                        Ok(parsed) => {
                            let deliver = frame(0, &RelayFrame::Deliver { envelope });
                            if let Some((_, target)) = lock(subscribers).get(&parsed.mailbox) {
                                let _ = target.send(deliver);
                            }
                            Some((rid, RelayFrame::Ok))
                        }
                        Err(_) => Some((
                            rid,
                            RelayFrame::Error {
                                code: ErrorCode::Malformed,
                                message: "bad envelope",
                            },
                        )),
                    },
                    ClientFrame::Ack { .. } | ClientFrame::AckBatch { .. } => {
                        (rid != 0).then_some((rid, RelayFrame::Ok))
                    }
                    _ => Some((rid, RelayFrame::Ok)),
                }
            }
        };
        if let Some((rid, answer)) = answer
            && outbox.send(frame(rid, &answer)).is_err()
        {
            break;
        }
    }
    Ok(())
}
