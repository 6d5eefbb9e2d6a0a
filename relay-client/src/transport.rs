//! Dialling a relay: TCP, then TLS with the pin (or plaintext for `ws://`
//! addresses only), then the WebSocket upgrade.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use cairn_protocol::relay_address::{RelayAddress, Transport};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::error::ClientError;
use super::pin::PinVerifier;
use super::plaintext::{check_transport, loopback_only};

/// The byte stream under the WebSocket: TLS, or plain TCP for `ws://` addresses.
#[derive(Debug)]
pub enum RelayStream {
    /// Plain TCP (loopback development relays only).
    Plain(TcpStream),
    /// TLS to a pinned certificate.
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for RelayStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            RelayStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            RelayStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for RelayStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            RelayStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            RelayStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            RelayStream::Plain(s) => Pin::new(s).poll_flush(cx),
            RelayStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            RelayStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            RelayStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A WebSocket to a relay, before any Cairn frame was read.
pub type RelaySocket = WebSocketStream<RelayStream>;

/// WebSocket limits for clients: frames are at most a 64 KiB envelope plus header.
fn websocket_config() -> WebSocketConfig {
    let max = 4 * cairn_protocol::frames::MAX_FRAME_LEN;
    WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .write_buffer_size(16 * 1024)
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
}

/// Dials `address` with its pin enforced (a plain `ws://` address only if
/// it is loopback); the whole handshake is bounded by `timeout`.
///
/// Useful on its own for diagnostics and tests that speak raw frames;
/// applications use [`super::RelayClient::connect`].
pub async fn connect_websocket(
    address: &RelayAddress,
    timeout: Duration,
) -> Result<RelaySocket, ClientError> {
    tokio::time::timeout(timeout, dial(address))
        .await
        .map_err(|_| ClientError::Timeout)?
}

/// Like [`connect_websocket`], over a TCP connection the caller opened
/// itself, e.g. from a chosen local address (`TcpSocket::bind` before
/// `connect`): the pin check, the plaintext-only-to-loopback rule (here on
/// the socket's peer address) and the WebSocket upgrade are the same. The
/// handshakes, not the TCP connect, are bounded by `timeout`.
///
/// For tools and tests that must control the socket (the load tool's
/// abuse mode floods from a second loopback address); applications use
/// [`super::RelayClient::connect`].
pub async fn connect_websocket_over(
    address: &RelayAddress,
    tcp: TcpStream,
    timeout: Duration,
) -> Result<RelaySocket, ClientError> {
    check_transport(address)?;
    if address.transport() == Transport::Plaintext {
        let peer = tcp
            .peer_addr()
            .map_err(|e| ClientError::Connect(e.to_string()))?;
        loopback_only(address, [peer])?;
    }
    tokio::time::timeout(timeout, handshake(address, tcp))
        .await
        .map_err(|_| ClientError::Timeout)?
}

async fn dial(address: &RelayAddress) -> Result<RelaySocket, ClientError> {
    check_transport(address)?;
    let tcp = match address.transport() {
        Transport::Tls { .. } => TcpStream::connect((address.host(), address.port())).await,
        Transport::Plaintext => {
            let resolved = tokio::net::lookup_host((address.host(), address.port()))
                .await
                .map_err(|e| ClientError::Connect(e.to_string()))?;
            TcpStream::connect(loopback_only(address, resolved)?.as_slice()).await
        }
    }
    .map_err(|e| ClientError::Connect(e.to_string()))?;
    handshake(address, tcp).await
}

/// TLS with the pin (unless plaintext), then the WebSocket upgrade.
async fn handshake(address: &RelayAddress, tcp: TcpStream) -> Result<RelaySocket, ClientError> {
    let _ = tcp.set_nodelay(true);
    let stream = match address.transport() {
        Transport::Plaintext => RelayStream::Plain(tcp),
        Transport::Tls { pin } => RelayStream::Tls(Box::new(tls(address, pin, tcp).await?)),
    };
    let (ws, _response) = tokio_tungstenite::client_async_with_config(
        address.websocket_url(),
        stream,
        Some(websocket_config()),
    )
    .await
    .map_err(|e| ClientError::Handshake(e.to_string()))?;
    Ok(ws)
}

async fn tls(
    address: &RelayAddress,
    pin: [u8; 32],
    tcp: TcpStream,
) -> Result<TlsStream<TcpStream>, ClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(PinVerifier::new(pin, Arc::clone(&provider)));
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::clone(&verifier) as _)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = ServerName::try_from(address.host().to_owned())
        .map_err(|e| ClientError::Tls(e.to_string()))?;
    match TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
    {
        Ok(stream) => Ok(stream),
        Err(e) => {
            let refused = verifier.refused.lock().ok().and_then(|r| *r);
            Err(match refused {
                Some(actual) => ClientError::PinMismatch {
                    expected: pin,
                    actual,
                },
                None => ClientError::Tls(e.to_string()),
            })
        }
    }
}
