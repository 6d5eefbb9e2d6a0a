//! A client's WebSocket as the connection loop sees it: frames are read and
//! written by the loop itself (no writer task, no queue between them).
//!
//! Writes go into the WebSocket's write buffer and are flushed when the loop
//! has nothing else ready, or after [`MAX_BURST`] frames, so a burst of
//! deliveries costs one TLS flush and one syscall instead of one per frame.
//! A client that does not take our writes within the write timeout is a
//! slow reader: the connection ends and its envelopes stay stored.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::metrics::Metrics;

/// Most frames written before a flush.
const MAX_BURST: usize = 256;

/// Any WebSocket stream the relay serves (TLS or loopback plaintext under it).
pub(crate) trait WsIo:
    Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Send + Unpin
{
}

impl<T> WsIo for T where
    T: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Send + Unpin
{
}

/// Whether the socket can still be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteState {
    /// Writing works.
    Open,
    /// A write failed: the client is gone.
    Broken,
    /// A write did not complete within the timeout: the client does not read.
    Stalled,
}

/// The connection's socket: reads, buffered writes, flush accounting.
pub(crate) struct Socket {
    ws: Box<dyn WsIo>,
    unflushed: u64,
    state: WriteState,
    write_timeout: Duration,
    metrics: Arc<Metrics>,
}

impl Socket {
    pub(crate) fn new(ws: Box<dyn WsIo>, write_timeout: Duration, metrics: Arc<Metrics>) -> Self {
        Self {
            ws,
            unflushed: 0,
            state: WriteState::Open,
            write_timeout,
            metrics,
        }
    }

    /// The next message from the client (cancel-safe).
    pub(crate) async fn next(&mut self) -> Option<Result<Message, WsError>> {
        self.ws.next().await
    }

    pub(crate) fn state(&self) -> WriteState {
        self.state
    }

    /// Frames written but not flushed yet.
    pub(crate) fn needs_flush(&self) -> bool {
        self.unflushed > 0 && self.state == WriteState::Open
    }

    /// Buffers one message; flushes every [`MAX_BURST`].
    pub(crate) async fn send(&mut self, message: Message) {
        if self.state != WriteState::Open {
            return;
        }
        match tokio::time::timeout(self.write_timeout, self.ws.feed(message)).await {
            Ok(Ok(())) => {
                self.unflushed += 1;
                self.metrics.queued_frames.inc();
                if self.unflushed >= MAX_BURST as u64 {
                    self.flush().await;
                }
            }
            Ok(Err(_)) => self.state = WriteState::Broken,
            Err(_) => self.state = WriteState::Stalled,
        }
    }

    /// Writes everything buffered to the socket.
    pub(crate) async fn flush(&mut self) {
        if self.state != WriteState::Open {
            return;
        }
        let result = tokio::time::timeout(self.write_timeout, self.ws.flush()).await;
        self.metrics
            .queued_frames
            .dec_by(i64::try_from(self.unflushed).unwrap_or(i64::MAX));
        self.unflushed = 0;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(_)) => self.state = WriteState::Broken,
            Err(_) => self.state = WriteState::Stalled,
        }
    }

    /// Flushes and sends the closing handshake (best effort).
    pub(crate) async fn close(mut self, close: Option<Message>) {
        if let Some(message) = close {
            self.send(message).await;
        }
        self.flush().await;
        if self.state == WriteState::Open {
            let _ = tokio::time::timeout(self.write_timeout, self.ws.close()).await;
        }
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // Frames never flushed leave the gauge with the socket.
        self.metrics
            .queued_frames
            .dec_by(i64::try_from(self.unflushed).unwrap_or(i64::MAX));
    }
}
