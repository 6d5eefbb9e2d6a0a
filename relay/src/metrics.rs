//! Counters exported on the admin listener's `/metrics` (Prometheus text).
//!
//! Plain atomics: cheap enough to bump on every frame, and nothing here
//! identifies a client or a mailbox.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use cairn_protocol::frames::ErrorCode;

use crate::store::StoreStats;

/// Relay-wide counters.
#[derive(Default)]
pub struct Metrics {
    /// Currently open client connections.
    pub connections_open: AtomicU64,
    /// Connections accepted since start.
    pub connections_total: AtomicU64,
    /// Connections closed at once because the connection cap was reached.
    pub connections_refused: AtomicU64,
    /// Connections closed at once, before TLS, because their source was at its cap.
    pub connections_refused_per_source: AtomicU64,
    /// Connections closed for making no request in time (pongs do not count).
    pub idle_closed: AtomicU64,
    /// Connections dropped because they did not drain their queue.
    pub slow_disconnects: AtomicU64,
    /// Envelopes durably stored from senders.
    pub messages_in: AtomicU64,
    /// Envelopes pushed to subscribers (backlog and live).
    pub messages_out: AtomicU64,
    /// Envelope bytes stored.
    pub bytes_in: AtomicU64,
    /// Envelope bytes pushed.
    pub bytes_out: AtomicU64,
    /// Acks that deleted an envelope.
    pub acks: AtomicU64,
    /// Mailboxes created.
    pub mailboxes_created: AtomicU64,
    /// Frames queued towards clients and not yet written.
    pub queued_frames: AtomicU64,
    refusals: [AtomicU64; ErrorCode::ALL.len()],
}

impl Metrics {
    /// Counts one refusal by its code.
    pub fn refused(&self, code: ErrorCode) {
        if let Some(i) = ErrorCode::ALL.iter().position(|c| *c == code) {
            self.refusals[i].fetch_add(1, Relaxed);
        }
    }

    /// Refusals so far with `code`.
    pub fn refusals(&self, code: ErrorCode) -> u64 {
        ErrorCode::ALL
            .iter()
            .position(|c| *c == code)
            .map_or(0, |i| self.refusals[i].load(Relaxed))
    }

    /// Prometheus text exposition, with store totals when available.
    pub fn render(&self, store: Option<StoreStats>) -> String {
        self.render_with(store, None)
    }

    /// [`Metrics::render`], plus the store's count of held appends cancelled
    /// by their recipient's ack (`None`: the backend does not hold appends).
    pub fn render_with(&self, store: Option<StoreStats>, appends_cancelled: Option<u64>) -> String {
        let mut out = String::with_capacity(4096);
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP cairn_relay_{name} {help}");
            let _ = writeln!(out, "# TYPE cairn_relay_{name} {kind}");
            let _ = writeln!(out, "cairn_relay_{name} {value}");
        };
        let g = |a: &AtomicU64| a.load(Relaxed);
        metric(
            "connections",
            "gauge",
            "Open client connections.",
            g(&self.connections_open),
        );
        metric(
            "connections_total",
            "counter",
            "Connections accepted.",
            g(&self.connections_total),
        );
        metric(
            "connections_refused_total",
            "counter",
            "Connections closed at the connection cap.",
            g(&self.connections_refused),
        );
        metric(
            "connections_refused_per_source_total",
            "counter",
            "Connections closed before TLS at the per-source (address, IPv6 /64) cap.",
            g(&self.connections_refused_per_source),
        );
        metric(
            "idle_closed_total",
            "counter",
            "Connections closed for sending no request in time (pongs do not count).",
            g(&self.idle_closed),
        );
        metric(
            "slow_disconnects_total",
            "counter",
            "Connections dropped for not reading.",
            g(&self.slow_disconnects),
        );
        metric(
            "messages_in_total",
            "counter",
            "Envelopes stored.",
            g(&self.messages_in),
        );
        metric(
            "messages_out_total",
            "counter",
            "Envelopes pushed.",
            g(&self.messages_out),
        );
        metric(
            "bytes_in_total",
            "counter",
            "Envelope bytes stored.",
            g(&self.bytes_in),
        );
        metric(
            "bytes_out_total",
            "counter",
            "Envelope bytes pushed.",
            g(&self.bytes_out),
        );
        metric(
            "acks_total",
            "counter",
            "Envelopes deleted by ack.",
            g(&self.acks),
        );
        metric(
            "mailboxes_created_total",
            "counter",
            "Mailboxes created.",
            g(&self.mailboxes_created),
        );
        metric(
            "queue_depth",
            "gauge",
            "Frames queued to clients.",
            g(&self.queued_frames),
        );
        if let Some(n) = appends_cancelled {
            metric(
                "appends_cancelled_total",
                "counter",
                "Envelopes pushed to an online recipient whose ack came while their write was held, so they were never written.",
                n,
            );
        }
        if let Some(s) = store {
            metric("mailboxes", "gauge", "Mailboxes stored.", s.mailboxes);
            metric("stored_messages", "gauge", "Envelopes stored.", s.messages);
            metric(
                "stored_bytes",
                "gauge",
                "Bytes of stored envelopes.",
                s.bytes,
            );
        }
        let _ = writeln!(
            out,
            "# HELP cairn_relay_refusals_total Requests refused, by reason."
        );
        let _ = writeln!(out, "# TYPE cairn_relay_refusals_total counter");
        for (code, count) in ErrorCode::ALL.iter().zip(&self.refusals) {
            let _ = writeln!(
                out,
                "cairn_relay_refusals_total{{reason=\"{}\"}} {}",
                code.name(),
                count.load(Relaxed)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.refused(ErrorCode::RateLimited);
        m.messages_in.fetch_add(3, Relaxed);
        let text = m.render(Some(StoreStats {
            mailboxes: 2,
            messages: 1,
            bytes: 1024,
        }));
        assert!(text.contains("cairn_relay_messages_in_total 3\n"));
        assert!(text.contains("cairn_relay_refusals_total{reason=\"rate_limited\"} 1\n"));
        assert!(text.contains("cairn_relay_mailboxes 2\n"));
        assert_eq!(m.refusals(ErrorCode::RateLimited), 1);
        assert!(
            !text.contains("appends_cancelled"),
            "only when the store holds appends"
        );
    }

    #[test]
    fn renders_cancelled_appends_with_help() {
        let text = Metrics::default().render_with(None, Some(7));
        assert!(text.contains("# HELP cairn_relay_appends_cancelled_total "));
        assert!(text.contains("# TYPE cairn_relay_appends_cancelled_total counter\n"));
        assert!(text.contains("\ncairn_relay_appends_cancelled_total 7\n"));
    }
}
