//! The per-connection writer task: drains the bounded outbound queue and
//! writes everything queued with one flush, so a burst of deliveries costs
//! one TLS record flush and one syscall instead of one per frame.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use futures_util::stream::SplitSink;
use futures_util::{Sink, SinkExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::metrics::Metrics;

/// Most frames written before a flush.
const MAX_BURST: usize = 256;

/// A queued frame towards the client.
pub(crate) type Outbound = mpsc::Sender<Message>;

/// Writes until the queue closes (then sends a close frame) or the socket fails.
pub(crate) async fn run<S>(
    mut sink: SplitSink<S, Message>,
    mut queue: mpsc::Receiver<Message>,
    metrics: Arc<Metrics>,
) where
    S: Sink<Message> + Unpin,
{
    while let Some(first) = queue.recv().await {
        let mut written = 1u64;
        let mut closing = matches!(first, Message::Close(_));
        if sink.feed(first).await.is_err() {
            metrics.queued_frames.fetch_sub(written, Relaxed);
            break;
        }
        while !closing && (written as usize) < MAX_BURST {
            let Ok(next) = queue.try_recv() else { break };
            closing = matches!(next, Message::Close(_));
            written += 1;
            if sink.feed(next).await.is_err() {
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
fn drain(queue: &mut mpsc::Receiver<Message>, metrics: &Metrics) {
    queue.close();
    while queue.try_recv().is_ok() {
        metrics.queued_frames.fetch_sub(1, Relaxed);
    }
}

/// Queues a frame, waiting for room; `false` if the writer is gone.
pub(crate) async fn send(out: &Outbound, metrics: &Metrics, frame: Message) -> bool {
    metrics.queued_frames.fetch_add(1, Relaxed);
    if out.send(frame).await.is_err() {
        metrics.queued_frames.fetch_sub(1, Relaxed);
        return false;
    }
    true
}
