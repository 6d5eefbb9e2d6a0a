//! The per-connection writer task: drains the bounded outbound queue and
//! writes everything queued with one flush, so a burst of deliveries costs
//! one TLS record flush and one syscall instead of one per frame.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use futures_util::stream::SplitSink;
use futures_util::{Sink, SinkExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::metrics::Metrics;

/// Most frames written before a flush.
const MAX_BURST: usize = 256;

/// What the connection asks its writer to send. Smaller than a tungstenite
/// `Message` (32 vs 56 bytes): the queue's first block of slots is allocated
/// up front on every connection, idle or not.
#[derive(Debug)]
pub(crate) enum Out {
    /// A binary frame.
    Frame(Bytes),
    /// A keepalive ping.
    Ping,
    /// The closing handshake, with its code and reason.
    Close(CloseCode, &'static str),
}

impl Out {
    fn into_message(self) -> Message {
        match self {
            Out::Frame(frame) => Message::Binary(frame),
            Out::Ping => Message::Ping(Bytes::new()),
            Out::Close(code, reason) => Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })),
        }
    }
}

/// A queued frame towards the client.
pub(crate) type Outbound = mpsc::Sender<Out>;

/// Writes until the queue closes (then sends a close frame) or the socket fails.
pub(crate) async fn run<S>(
    mut sink: SplitSink<S, Message>,
    mut queue: mpsc::Receiver<Out>,
    metrics: Arc<Metrics>,
) where
    S: Sink<Message> + Unpin,
{
    while let Some(first) = queue.recv().await {
        let mut written = 1u64;
        let mut closing = matches!(first, Out::Close(..));
        if sink.feed(first.into_message()).await.is_err() {
            metrics.queued_frames.fetch_sub(written, Relaxed);
            break;
        }
        while !closing && (written as usize) < MAX_BURST {
            let Ok(next) = queue.try_recv() else { break };
            closing = matches!(next, Out::Close(..));
            written += 1;
            if sink.feed(next.into_message()).await.is_err() {
                metrics.queued_frames.fetch_sub(written, Relaxed);
                drain(&mut queue, &metrics);
                return;
            }
        }
        metrics.queued_frames.fetch_sub(written, Relaxed);
        if sink.flush().await.is_err() || closing {
            break;
        }
    }
    drain(&mut queue, &metrics);
    let _ = sink.close().await;
}

/// Forgets frames that will never be written, keeping the gauge right.
fn drain(queue: &mut mpsc::Receiver<Out>, metrics: &Metrics) {
    queue.close();
    while queue.try_recv().is_ok() {
        metrics.queued_frames.fetch_sub(1, Relaxed);
    }
}

/// Queues a frame, waiting for room; `false` if the writer is gone.
pub(crate) async fn send(out: &Outbound, metrics: &Metrics, frame: Out) -> bool {
    metrics.queued_frames.fetch_add(1, Relaxed);
    if out.send(frame).await.is_err() {
        metrics.queued_frames.fetch_sub(1, Relaxed);
        return false;
    }
    true
}
