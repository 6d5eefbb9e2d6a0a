//! Counters exported on the admin listener's `/metrics`, in the OpenMetrics
//! text format of the official `prometheus-client` crate.
//!
//! Each counter is one atomic, cheap enough to bump on every frame; nothing
//! here identifies a client or a mailbox. Store totals are read when scraped
//! and exported as constant gauges of that scrape.

use cairn_protocol::frames::ErrorCode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::Registry;

use crate::store::StoreStats;

/// The content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The label of a refusal: its error code's stable name (PROTOCOL.md §18.5).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

/// Relay-wide counters.
#[derive(Debug)]
pub struct Metrics {
    /// Currently open client connections.
    pub connections_open: Gauge,
    /// Connections accepted since start.
    pub connections_total: Counter,
    /// Connections closed at once because the connection cap was reached.
    pub connections_refused: Counter,
    /// Connections closed at once, before TLS, because their source was at its cap.
    pub connections_refused_per_source: Counter,
    /// Connections closed for making no request in time (pongs do not count).
    pub idle_closed: Counter,
    /// Connections dropped because they did not drain their queue.
    pub slow_disconnects: Counter,
    /// Envelopes durably stored from senders.
    pub messages_in: Counter,
    /// Envelopes pushed to subscribers (backlog and live).
    pub messages_out: Counter,
    /// Envelope bytes stored.
    pub bytes_in: Counter,
    /// Envelope bytes pushed.
    pub bytes_out: Counter,
    /// Acks that deleted an envelope.
    pub acks: Counter,
    /// Mailboxes created.
    pub mailboxes_created: Counter,
    /// Frames queued towards clients and not yet written.
    pub queued_frames: Gauge,
    /// Bans started (a source refused for repeated misbehaviour).
    pub bans: Counter,
    /// Bans in force (set when scraped).
    pub bans_active: Gauge,
    /// Connections closed at once, before TLS, because their source is banned.
    pub connections_refused_banned: Counter,
    /// Admin HTTP connections closed at once at the admin connection cap.
    pub admin_refused: Counter,
    /// Admin HTTP requests refused for a missing or wrong token.
    pub admin_unauthorized: Counter,
    refusals: Family<Reason, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let refusals = Family::<Reason, Counter>::default();
        // Every code from the start, so a dashboard sees zeros, not gaps.
        for code in ErrorCode::ALL {
            drop(refusals.get_or_create(&Reason {
                reason: code.name(),
            }));
        }
        Self {
            connections_open: Gauge::default(),
            connections_total: Counter::default(),
            connections_refused: Counter::default(),
            connections_refused_per_source: Counter::default(),
            idle_closed: Counter::default(),
            slow_disconnects: Counter::default(),
            messages_in: Counter::default(),
            messages_out: Counter::default(),
            bytes_in: Counter::default(),
            bytes_out: Counter::default(),
            acks: Counter::default(),
            mailboxes_created: Counter::default(),
            queued_frames: Gauge::default(),
            bans: Counter::default(),
            bans_active: Gauge::default(),
            connections_refused_banned: Counter::default(),
            admin_refused: Counter::default(),
            admin_unauthorized: Counter::default(),
            refusals,
        }
    }
}

impl Metrics {
    /// Counts one refusal by its code.
    pub fn refused(&self, code: ErrorCode) {
        self.refusals
            .get_or_create(&Reason {
                reason: code.name(),
            })
            .inc();
    }

    /// Refusals so far with `code`.
    pub fn refusals(&self, code: ErrorCode) -> u64 {
        self.refusals
            .get_or_create(&Reason {
                reason: code.name(),
            })
            .get()
    }

    /// OpenMetrics text, with store totals when available.
    pub fn render(&self, store: Option<StoreStats>) -> String {
        self.render_with(store, None)
    }

    /// [`Metrics::render`], plus the store's count of held appends cancelled
    /// by their recipient's ack (`None`: the backend does not hold appends).
    pub fn render_with(&self, store: Option<StoreStats>, appends_cancelled: Option<u64>) -> String {
        let mut r = Registry::with_prefix("cairn_relay");
        r.register(
            "connections",
            "Open client connections",
            self.connections_open.clone(),
        );
        r.register(
            "connections_accepted",
            "Connections accepted",
            self.connections_total.clone(),
        );
        r.register(
            "connections_refused",
            "Connections closed at the connection cap",
            self.connections_refused.clone(),
        );
        r.register(
            "connections_refused_per_source",
            "Connections closed before TLS at the per-source (address, IPv6 /64) cap",
            self.connections_refused_per_source.clone(),
        );
        r.register(
            "idle_closed",
            "Connections closed for sending no request in time (pongs do not count)",
            self.idle_closed.clone(),
        );
        r.register(
            "slow_disconnects",
            "Connections dropped for not reading",
            self.slow_disconnects.clone(),
        );
        r.register("messages_in", "Envelopes stored", self.messages_in.clone());
        r.register(
            "messages_out",
            "Envelopes pushed",
            self.messages_out.clone(),
        );
        r.register("bytes_in", "Envelope bytes stored", self.bytes_in.clone());
        r.register("bytes_out", "Envelope bytes pushed", self.bytes_out.clone());
        r.register("acks", "Envelopes deleted by ack", self.acks.clone());
        r.register(
            "mailboxes_created",
            "Mailboxes created",
            self.mailboxes_created.clone(),
        );
        r.register(
            "queue_depth",
            "Frames queued to clients",
            self.queued_frames.clone(),
        );
        r.register(
            "bans",
            "Sources banned for repeated misbehaviour",
            self.bans.clone(),
        );
        r.register("bans_active", "Bans in force", self.bans_active.clone());
        r.register(
            "connections_refused_banned",
            "Connections closed before TLS because their source is banned",
            self.connections_refused_banned.clone(),
        );
        r.register(
            "admin_refused",
            "Admin connections closed at the admin connection cap",
            self.admin_refused.clone(),
        );
        r.register(
            "admin_unauthorized",
            "Admin requests refused for a missing, unknown or non-admin token",
            self.admin_unauthorized.clone(),
        );
        r.register(
            "refusals",
            "Requests refused, by reason",
            self.refusals.clone(),
        );
        if let Some(n) = appends_cancelled {
            r.register(
                "appends_cancelled",
                "Envelopes pushed to an online recipient whose ack came while their write was held, so they were never written",
                ConstCounter::new(n),
            );
        }
        if let Some(s) = store {
            let gauge = |n: u64| ConstGauge::new(i64::try_from(n).unwrap_or(i64::MAX));
            r.register("mailboxes", "Mailboxes stored", gauge(s.mailboxes));
            r.register("stored_messages", "Envelopes stored", gauge(s.messages));
            r.register("stored_bytes", "Bytes of stored envelopes", gauge(s.bytes));
        }
        let mut out = String::with_capacity(4096);
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &r);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_openmetrics_text() {
        let m = Metrics::default();
        m.refused(ErrorCode::RateLimited);
        m.messages_in.inc_by(3);
        let text = m.render(Some(StoreStats {
            mailboxes: 2,
            messages: 1,
            bytes: 1024,
        }));
        assert!(text.contains("cairn_relay_messages_in_total 3\n"), "{text}");
        assert!(text.contains("cairn_relay_refusals_total{reason=\"rate_limited\"} 1\n"));
        assert!(text.contains("cairn_relay_refusals_total{reason=\"storage\"} 0\n"));
        assert!(text.contains("cairn_relay_mailboxes 2\n"));
        assert!(text.ends_with("# EOF\n"));
        assert_eq!(m.refusals(ErrorCode::RateLimited), 1);
        assert!(
            !text.contains("appends_cancelled"),
            "only when the store holds appends"
        );
    }

    #[test]
    fn renders_cancelled_appends_with_help() {
        let text = Metrics::default().render_with(None, Some(7));
        assert!(text.contains("# HELP cairn_relay_appends_cancelled "));
        assert!(text.contains("# TYPE cairn_relay_appends_cancelled counter\n"));
        assert!(text.contains("\ncairn_relay_appends_cancelled_total 7\n"));
    }
}
