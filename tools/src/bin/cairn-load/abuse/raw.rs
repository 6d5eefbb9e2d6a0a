//! Raw relay connections from the flood's own source address, and what
//! each flood counts about them.
//!
//! The relay limits per client address, so the flood must not come from
//! the pair's 127.0.0.1: each socket is bound to the flood source before it
//! connects (Linux answers on all of 127.0.0.0/8). Over that socket the
//! client library does the same pinned TLS and WebSocket upgrade as for any
//! client (`connect_websocket_over`), and the flood then writes frames of
//! its own making, bad ones included, which `RelayClient` would never send.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use cairn_protocol::frames::{ErrorCode, NONCE_LEN, RelayFrame};
use cairn_protocol::relay_address::RelayAddress;
use cairn_relay_client::{ClientError, RelaySocket, connect_websocket_over};
use futures_util::StreamExt;
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;

/// Where flood connections go and come from.
pub(crate) struct Source {
    address: RelayAddress,
    peer: SocketAddr,
    local: IpAddr,
    timeout: Duration,
}

/// Why a connection did not open; the relay refuses over-cap connections
/// by closing them right after accept, which shows up as `Handshake`.
#[derive(Debug)]
pub(crate) enum DialError {
    /// The TCP connect itself failed.
    Tcp(std::io::Error),
    /// Closed or failed during TLS / the WebSocket upgrade, or no challenge.
    Handshake(String),
}

impl std::fmt::Display for DialError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DialError::Tcp(e) => write!(f, "TCP connect: {e}"),
            DialError::Handshake(e) => write!(f, "handshake: {e}"),
        }
    }
}

impl Source {
    /// Resolves the relay once (a numeric host in practice) to an address of
    /// the same family as `local`.
    pub(crate) async fn new(address: &RelayAddress, local: IpAddr) -> Result<Self> {
        let peer = tokio::net::lookup_host((address.host(), address.port()))
            .await
            .context("resolving the relay")?
            .find(|a| a.is_ipv4() == local.is_ipv4())
            .context("the relay has no address of the flood source's family")?;
        if !peer.ip().is_loopback() || !local.is_loopback() {
            bail!("abuse mode floods only a relay on this machine, from a loopback address");
        }
        Ok(Self {
            address: address.clone(),
            peer,
            local,
            timeout: Duration::from_secs(10),
        })
    }

    /// TCP from the flood source, TLS with the pin, WebSocket upgrade, and
    /// the relay's challenge (its nonce: what subscribe signatures cover).
    pub(crate) async fn dial(&self) -> Result<(RelaySocket, [u8; NONCE_LEN]), DialError> {
        let socket = match self.local {
            IpAddr::V4(_) => TcpSocket::new_v4(),
            IpAddr::V6(_) => TcpSocket::new_v6(),
        }
        .map_err(DialError::Tcp)?;
        socket
            .bind(SocketAddr::new(self.local, 0))
            .map_err(DialError::Tcp)?;
        let tcp = socket.connect(self.peer).await.map_err(DialError::Tcp)?;
        let mut ws = connect_websocket_over(&self.address, tcp, self.timeout)
            .await
            .map_err(|e: ClientError| DialError::Handshake(e.to_string()))?;
        let first = tokio::time::timeout(self.timeout, ws.next())
            .await
            .map_err(|_| DialError::Handshake("no challenge in time".into()))?;
        match first {
            Some(Ok(Message::Binary(raw))) => match RelayFrame::decode(&raw) {
                Ok((_, RelayFrame::Challenge { nonce, .. })) => Ok((ws, nonce)),
                _ => Err(DialError::Handshake("first frame not a challenge".into())),
            },
            _ => Err(DialError::Handshake("closed before the challenge".into())),
        }
    }
}

/// What one flood saw. Shared by its tasks; read once at the end.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// Connections that completed TCP, TLS, upgrade and challenge.
    pub opened: AtomicU64,
    /// Dials the relay closed or failed before the challenge (over the
    /// per-source cap: closed right after accept, before TLS).
    pub refused_open: AtomicU64,
    /// Dials whose TCP connect failed.
    pub tcp_failed: AtomicU64,
    /// Open connections that ended without the flood closing them.
    pub closed: AtomicU64,
    /// Frames written.
    pub frames: AtomicU64,
    /// Frame bytes written.
    pub bytes: AtomicU64,
    /// `Ok` answers.
    pub ok: AtomicU64,
    /// `Error` answers by code.
    codes: Mutex<BTreeMap<u16, u64>>,
    /// How open connections ended (close code and reason, or the transport error).
    closes: Mutex<BTreeMap<String, u64>>,
}

impl Tally {
    /// Counts one answer frame from the relay.
    pub(crate) fn answer(&self, raw: &[u8]) {
        match RelayFrame::decode(raw) {
            Ok((_, RelayFrame::Ok)) => {
                self.ok.fetch_add(1, Relaxed);
            }
            Ok((_, RelayFrame::Error { code, .. })) => {
                if let Ok(mut codes) = self.codes.lock() {
                    *codes.entry(code.as_u16()).or_default() += 1;
                }
            }
            _ => {}
        }
    }

    /// Counts a failed dial.
    pub(crate) fn dial_failed(&self, e: &DialError) {
        match e {
            DialError::Tcp(_) => self.tcp_failed.fetch_add(1, Relaxed),
            DialError::Handshake(_) => self.refused_open.fetch_add(1, Relaxed),
        };
    }

    /// Counts an open connection the relay ended, and how.
    pub(crate) fn ended(&self, how: String) {
        self.closed.fetch_add(1, Relaxed);
        if let Ok(mut closes) = self.closes.lock() {
            *closes.entry(how).or_default() += 1;
        }
    }

    /// Refusals by code, most frequent first, e.g. `rate_limited 51234`.
    pub(crate) fn refusals(&self) -> Vec<(ErrorCode, u64)> {
        let mut v: Vec<(ErrorCode, u64)> = self
            .codes
            .lock()
            .map(|c| {
                c.iter()
                    .map(|(k, n)| (ErrorCode::from_u16(*k), *n))
                    .collect()
            })
            .unwrap_or_default();
        v.sort_by_key(|e| std::cmp::Reverse(e.1));
        v
    }

    /// Total refusals.
    pub(crate) fn refused(&self) -> u64 {
        self.refusals().iter().map(|(_, n)| n).sum()
    }

    /// How open connections ended, most frequent first.
    pub(crate) fn closes(&self) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = self
            .closes
            .lock()
            .map(|c| c.iter().map(|(k, n)| (k.clone(), *n)).collect())
            .unwrap_or_default();
        v.sort_by_key(|e| std::cmp::Reverse(e.1));
        v
    }
}

/// Reads a flood connection until it ends, counting answers; returns how
/// it ended (`close 1008 no request`, `reset`, …).
pub(crate) async fn read_until_closed(
    mut stream: impl futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
    + Unpin,
    tally: &Tally,
) -> String {
    while let Some(message) = stream.next().await {
        match message {
            Ok(Message::Binary(raw)) => tally.answer(&raw),
            Ok(Message::Close(Some(frame))) => {
                return format!("close {} {}", u16::from(frame.code), frame.reason);
            }
            Ok(Message::Close(None)) => return "close (no code)".into(),
            Ok(_) => {}
            Err(e) => return short_error(&e.to_string()),
        }
    }
    "end of stream".into()
}

/// The kind of a transport error, without addresses or numbers that would
/// split one cause into many table rows.
fn short_error(e: &str) -> String {
    let lower = e.to_lowercase();
    for (needle, name) in [
        ("reset", "connection reset"),
        ("broken pipe", "broken pipe"),
        ("without closing handshake", "closed without close frame"),
        ("unexpected eof", "unexpected eof"),
        ("already closed", "already closed"),
    ] {
        if lower.contains(needle) {
            return name.into();
        }
    }
    e.chars().take(40).collect()
}
