//! Accepting connections: bans, the connection caps (per source, then relay-wide),
//! TCP_NODELAY, TLS and WebSocket handshakes under one timeout, then a
//! handler task each.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::socket::WsIo;
use super::{Shared, connection};
use crate::limits::{SourceSlot, SourceSlots};
use cairn_protocol::frames::MAX_FRAME_LEN;

/// WebSocket settings: small buffers keep idle connections cheap, and any
/// message above 4× the largest legal frame is cut off by tungstenite before
/// it is buffered (smaller oversized frames get a `FrameTooLarge` answer).
pub(crate) fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(1024)
        .write_buffer_size(16 * 1024)
        .max_write_buffer_size(4 * 1024 * 1024)
        .max_message_size(Some(4 * MAX_FRAME_LEN))
        .max_frame_size(Some(4 * MAX_FRAME_LEN))
}

pub(crate) async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
) {
    let permits = Arc::new(Semaphore::new(shared.config.limits.max_connections));
    let sources = SourceSlots::new(shared.config.limits.per_source_cap());
    let mut next_id = 0u64;
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Typically EMFILE: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Before TLS: a refused socket costs the relay nothing but the close.
        if shared.refuse_banned(peer.ip()) {
            continue;
        }
        let Some(source) = sources.take(peer.ip()) else {
            shared.metrics.connections_refused_per_source.inc();
            shared.offence(peer.ip());
            tracing::debug!("per-source connection cap reached; closing new connection");
            continue;
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            shared.metrics.connections_refused.inc();
            tracing::debug!("connection cap reached; closing new connection");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        next_id += 1;
        let id = next_id;
        let shared = Arc::clone(&shared);
        let tls = tls.clone();
        let stop = stop.clone();
        let alive = alive.clone();
        // Lifecycle at debug level (issue 16.7): accepted, TLS done, upgrade
        // done, closed with its reason; the address only with --log-ips.
        if shared.config.log_ips {
            tracing::debug!(conn = id, peer = %peer, "connection accepted");
        } else {
            tracing::debug!(conn = id, "connection accepted");
        }
        let guards = Guards {
            _permit: permit,
            _source: source,
            _alive: alive,
        };
        tokio::spawn(open(shared, tcp, peer, tls, id, stop, guards));
    }
}

/// Runs the TLS and WebSocket handshakes, then hands the connection to its
/// own task: the handshake's state is freed instead of staying allocated
/// beside the (long-lived, idle most of the time) connection loop.
async fn open(
    shared: Arc<Shared>,
    tcp: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    id: u64,
    stop: watch::Receiver<bool>,
    guards: Guards,
) {
    let timeout = shared.config.limits.handshake_timeout;
    match tls {
        Some(acceptor) => {
            let handshake = async {
                let stream = acceptor
                    .accept(tcp)
                    .await
                    .map_err(|e| format!("tls: {e}"))?;
                tracing::debug!(conn = id, "tls done");
                upgrade(stream).await
            };
            match tokio::time::timeout(timeout, handshake).await {
                Ok(Ok(ws)) => {
                    // Boxed here, so the task keeps a pointer instead of a
                    // moved-from copy of the whole TLS + WebSocket state.
                    let ws: Box<dyn WsIo> = Box::new(ws);
                    tokio::spawn(async move {
                        let _guards = guards;
                        connection::serve(shared, ws, peer.ip(), id, stop).await;
                    });
                }
                Ok(Err(e)) => tracing::debug!(conn = id, error = %e, "handshake failed"),
                Err(_) => {
                    tracing::debug!(conn = id, "handshake timed out");
                    shared.offence(peer.ip());
                }
            }
        }
        None => match tokio::time::timeout(timeout, upgrade(tcp)).await {
            Ok(Ok(ws)) => {
                let ws: Box<dyn WsIo> = Box::new(ws);
                tokio::spawn(async move {
                    let _guards = guards;
                    connection::serve(shared, ws, peer.ip(), id, stop).await;
                });
            }
            Ok(Err(e)) => tracing::debug!(conn = id, error = %e, "handshake failed"),
            Err(_) => {
                tracing::debug!(conn = id, "handshake timed out");
                shared.offence(peer.ip());
            }
        },
    }
}

/// Held for a connection's whole life: its slots under the connection caps
/// (relay-wide and its source's), and the shutdown tracker.
struct Guards {
    _permit: OwnedSemaphorePermit,
    _source: SourceSlot,
    _alive: mpsc::Sender<()>,
}

async fn upgrade<S>(stream: S) -> Result<tokio_tungstenite::WebSocketStream<S>, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    tokio_tungstenite::accept_async_with_config(stream, Some(websocket_config()))
        .await
        .map_err(|e| format!("websocket upgrade: {e}"))
}
