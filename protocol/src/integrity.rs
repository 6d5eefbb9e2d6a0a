//! The integrity chain: detects what the relay (or the network) did to the message stream.
//!
//! Every inner message carries its sender counter, the hash of the sender's
//! previous message and the hash of the last message the sender received. From
//! these the receiver reports, as typed events, a gap (dropped or delayed
//! messages), a late arrival (reordering), a duplicate (replay) and a fork
//! (two histories that cannot both be true: a cloned or rolled-back peer, or a
//! relay splicing streams). Deployed messengers silently hide all four.
//!
//! A profile restored from a backup says so (content `SessionRestored`): its
//! counters jump by [`RESTORE_COUNTER_STEP`] so they never collide with what
//! the original device sent after the backup, and the receiver reports the
//! restore (and a fork, if it holds messages the backup does not) instead of
//! a gap over the jump.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::content::Content;
use crate::inner::{Inner, NO_ACK};
use crate::wire::{DecodeError, Reader, Writer};

/// How many recent hashes each side remembers to check links against.
pub const HASH_WINDOW: usize = 2000;
/// Most missing counters remembered at once.
pub const MAX_MISSING: usize = 2000;
/// How far a restored profile moves its counter on (PROTOCOL.md §11): the
/// original device would have to send a billion messages after the backup
/// for its counters to meet the restored one's.
pub const RESTORE_COUNTER_STEP: u64 = 1_000_000_000;

/// Something the receiver should show in the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntegrityEvent {
    /// Messages `from..=to` have not arrived: dropped, or delayed (a later
    /// [`IntegrityEvent::LateArrival`] fills the hole).
    Gap {
        /// First missing counter.
        from: u64,
        /// Last missing counter.
        to: u64,
    },
    /// A message from an earlier gap arrived out of order.
    LateArrival {
        /// Its counter.
        counter: u64,
    },
    /// A message with this counter and the same content was already received.
    Duplicate {
        /// Its counter.
        counter: u64,
    },
    /// The hash chain does not link: the sender's history diverged from what we saw.
    Fork {
        /// Counter of the message that broke the chain.
        counter: u64,
    },
    /// The sender restored its profile from a backup and renewed the session:
    /// its history continues from its message `from − 1` at `counter` (the
    /// counters between were never used, so they are not a gap).
    Restored {
        /// The counter the backup would have sent next.
        from: u64,
        /// Counter of the restore notice.
        counter: u64,
    },
}

/// Per-conversation chain bookkeeping for both directions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct IntegrityState {
    next_send: u64,
    last_sent_hash: [u8; 32],
    sent: VecDeque<(u64, [u8; 32])>,
    next_recv: u64,
    received: BTreeMap<u64, [u8; 32]>,
    missing: BTreeSet<u64>,
    claimed: BTreeMap<u64, [u8; 32]>,
    last_received: Option<(u64, [u8; 32])>,
}

impl IntegrityState {
    /// The chain fields for the next outgoing message.
    pub(crate) fn next_outgoing(&self) -> (u64, [u8; 32], u64, [u8; 32]) {
        let (ack_counter, ack_hash) = self.last_received.unwrap_or((NO_ACK, [0; 32]));
        (self.next_send, self.last_sent_hash, ack_counter, ack_hash)
    }

    /// Moves the send counter on by [`RESTORE_COUNTER_STEP`], for a session
    /// restored from a backup; returns the counter the backup would have used
    /// next (what the restore notice names as `from`).
    pub(crate) fn jump_after_restore(&mut self) -> u64 {
        let from = self.next_send;
        self.next_send = from.saturating_add(RESTORE_COUNTER_STEP);
        from
    }

    /// Records that the message with `counter` and `hash` was sent.
    pub(crate) fn record_sent(&mut self, counter: u64, hash: [u8; 32]) {
        self.next_send = counter.saturating_add(1);
        self.last_sent_hash = hash;
        self.sent.push_back((counter, hash));
        while self.sent.len() > HASH_WINDOW {
            self.sent.pop_front();
        }
    }

    /// Checks a verified incoming message and returns the events to report.
    /// If the events contain `Duplicate`, state is unchanged and the content must not be shown again.
    pub(crate) fn on_receive(&mut self, m: &Inner, hash: [u8; 32]) -> Vec<IntegrityEvent> {
        let c = m.counter;
        let mut events = Vec::new();
        if let Content::SessionRestored { from } = m.content
            && from < c
            && c >= self.next_recv
        {
            return self.on_restored(m, from, hash);
        }
        if c < self.next_recv && !self.missing.contains(&c) {
            match self.received.get(&c) {
                Some(h) if *h != hash => events.push(IntegrityEvent::Fork { counter: c }),
                _ => events.push(IntegrityEvent::Duplicate { counter: c }),
            }
            return events;
        }
        if c < self.next_recv {
            self.missing.remove(&c);
            events.push(IntegrityEvent::LateArrival { counter: c });
            if let Some(claimed) = self.claimed.remove(&c)
                && claimed != hash
            {
                events.push(IntegrityEvent::Fork { counter: c });
            }
        } else if c > self.next_recv {
            events.push(self.gap_before(c, m.prev_hash));
            self.next_recv = c.saturating_add(1);
        } else {
            self.next_recv = c.saturating_add(1);
        }
        if (!self.links(m, c) || self.ack_forged(m))
            && !events.contains(&IntegrityEvent::Fork { counter: c })
        {
            events.push(IntegrityEvent::Fork { counter: c });
        }
        self.record_received(c, hash);
        events
    }

    /// Counters `next … c − 1` have not arrived: records them as missing (the
    /// latest [`MAX_MISSING`]) and `prev_hash` as the hash claimed for `c − 1`.
    fn gap_before(&mut self, c: u64, prev_hash: [u8; 32]) -> IntegrityEvent {
        let event = IntegrityEvent::Gap {
            from: self.next_recv,
            to: c - 1,
        };
        let first = self.next_recv.max(c.saturating_sub(MAX_MISSING as u64));
        self.missing.extend(first..c);
        while self.missing.len() > MAX_MISSING {
            self.missing.pop_first();
        }
        self.claimed.insert(c - 1, prev_hash);
        while self.claimed.len() > MAX_MISSING {
            self.claimed.pop_first();
        }
        event
    }

    /// A restore notice at counter `c` (at or above the next expected) naming
    /// `from < c`: the sender's history continues from its message `from − 1`.
    /// Counters `max(next, from) … c − 1` were never sent, so they are not
    /// missing; `next … from − 1`, if any, are (the backup had sent them).
    /// Holding messages with counters `from …` already means the original
    /// device went on after the backup: a fork, as is a notice that does not
    /// link to our message `from − 1` or acknowledges something we never sent.
    fn on_restored(&mut self, m: &Inner, from: u64, hash: [u8; 32]) -> Vec<IntegrityEvent> {
        let c = m.counter;
        let mut events = vec![IntegrityEvent::Restored { from, counter: c }];
        let diverged = self.next_recv > from;
        if from > self.next_recv {
            events.push(self.gap_before(from, m.prev_hash));
        }
        if diverged || !self.links(m, from) || self.ack_forged(m) {
            events.push(IntegrityEvent::Fork { counter: c });
        }
        self.next_recv = c.saturating_add(1);
        self.record_received(c, hash);
        events
    }

    /// Whether `m.prev_hash` is the hash we hold for counter `at − 1` (or zeros for
    /// `at == 0`); true when we do not hold it.
    fn links(&self, m: &Inner, at: u64) -> bool {
        if at == 0 {
            m.prev_hash == [0; 32]
        } else {
            self.received
                .get(&(at - 1))
                .is_none_or(|h| *h == m.prev_hash)
        }
    }

    /// What the peer says it last received from us must be something we sent.
    fn ack_forged(&self, m: &Inner) -> bool {
        if m.ack_counter == NO_ACK {
            return false;
        }
        match self.sent.iter().find(|(sc, _)| *sc == m.ack_counter) {
            Some((_, h)) => *h != m.ack_hash,
            None => m.ack_counter >= self.next_send,
        }
    }

    fn record_received(&mut self, c: u64, hash: [u8; 32]) {
        self.received.insert(c, hash);
        while self.received.len() > HASH_WINDOW {
            self.received.pop_first();
        }
        if self.last_received.is_none_or(|(lc, _)| c > lc) {
            self.last_received = Some((c, hash));
        }
    }

    /// Counters of messages still missing (for the UI).
    pub(crate) fn missing(&self) -> impl Iterator<Item = u64> + '_ {
        self.missing.iter().copied()
    }

    /// Local encoding (see session state in PROTOCOL.md).
    pub(crate) fn encode(&self, w: &mut Writer) {
        w.u64(self.next_send).put(&self.last_sent_hash);
        w.u16(len16(self.sent.len()));
        for (c, h) in &self.sent {
            w.u64(*c).put(h);
        }
        w.u64(self.next_recv);
        w.u16(len16(self.received.len()));
        for (c, h) in &self.received {
            w.u64(*c).put(h);
        }
        w.u16(len16(self.missing.len()));
        for c in &self.missing {
            w.u64(*c);
        }
        w.u16(len16(self.claimed.len()));
        for (c, h) in &self.claimed {
            w.u64(*c).put(h);
        }
        match self.last_received {
            Some((c, h)) => w.u8(1).u64(c).put(&h),
            None => w.u8(0),
        };
    }

    /// Reads what [`Self::encode`] wrote.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let next_send = r.u64()?;
        let last_sent_hash = r.array()?;
        let sent = pairs(r, "sent hashes", HASH_WINDOW)?.into_iter().collect();
        let next_recv = r.u64()?;
        let received_list = pairs(r, "received hashes", HASH_WINDOW)?;
        ascending(received_list.iter().map(|(c, _)| *c), "received hashes")?;
        let received = received_list.into_iter().collect();
        let n = bounded(r, "missing", MAX_MISSING)?;
        let missing_list = (0..n).map(|_| r.u64()).collect::<Result<Vec<_>, _>>()?;
        ascending(missing_list.iter().copied(), "missing")?;
        let missing = missing_list.into_iter().collect();
        let claimed_list = pairs(r, "claimed hashes", MAX_MISSING)?;
        ascending(claimed_list.iter().map(|(c, _)| *c), "claimed hashes")?;
        let claimed = claimed_list.into_iter().collect();
        let last_received = match r.u8()? {
            0 => None,
            1 => Some((r.u64()?, r.array()?)),
            value => {
                return Err(DecodeError::UnknownTag {
                    field: "last received",
                    value,
                });
            }
        };
        Ok(Self {
            next_send,
            last_sent_hash,
            sent,
            next_recv,
            received,
            missing,
            claimed,
            last_received,
        })
    }
}

/// Maps and sets are encoded in ascending key order; anything else is not a canonical
/// encoding (a duplicate key would silently vanish on re-encoding).
fn ascending(keys: impl Iterator<Item = u64>, field: &'static str) -> Result<(), DecodeError> {
    let mut prev = None;
    for k in keys {
        if prev.is_some_and(|p| p >= k) {
            return Err(DecodeError::Invalid(field));
        }
        prev = Some(k);
    }
    Ok(())
}

fn len16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

fn bounded(r: &mut Reader<'_>, field: &'static str, max: usize) -> Result<usize, DecodeError> {
    let n = usize::from(r.u16()?);
    if n > max {
        return Err(DecodeError::TooLong { field, len: n, max });
    }
    Ok(n)
}

fn pairs(
    r: &mut Reader<'_>,
    field: &'static str,
    max: usize,
) -> Result<Vec<(u64, [u8; 32])>, DecodeError> {
    let n = bounded(r, field, max)?;
    (0..n).map(|_| Ok((r.u64()?, r.array()?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Content;

    fn msg(counter: u64, prev: [u8; 32]) -> Inner {
        Inner {
            counter,
            sent_at_ms: 0,
            prev_hash: prev,
            ack_counter: NO_ACK,
            ack_hash: [0; 32],
            content: Content::Text(String::new()),
        }
    }

    fn h(c: u64) -> [u8; 32] {
        [c as u8 + 1; 32]
    }

    fn prev(c: u64) -> [u8; 32] {
        if c == 0 { [0; 32] } else { h(c - 1) }
    }

    #[test]
    fn in_order_has_no_events() {
        let mut s = IntegrityState::default();
        for c in 0..5 {
            assert!(s.on_receive(&msg(c, prev(c)), h(c)).is_empty());
        }
    }

    #[test]
    fn gap_then_late_arrival() {
        let mut s = IntegrityState::default();
        assert!(s.on_receive(&msg(0, prev(0)), h(0)).is_empty());
        assert_eq!(
            s.on_receive(&msg(3, prev(3)), h(3)),
            vec![IntegrityEvent::Gap { from: 1, to: 2 }]
        );
        assert_eq!(
            s.on_receive(&msg(2, prev(2)), h(2)),
            vec![IntegrityEvent::LateArrival { counter: 2 }]
        );
        assert_eq!(
            s.on_receive(&msg(1, prev(1)), h(1)),
            vec![IntegrityEvent::LateArrival { counter: 1 }]
        );
        assert_eq!(s.missing().count(), 0);
    }

    #[test]
    fn ack_names_the_highest_counter_not_the_last_arrival() {
        let mut s = IntegrityState::default();
        for c in [0, 3, 2] {
            s.on_receive(&msg(c, prev(c)), h(c));
        }
        let (_, _, ack_counter, ack_hash) = s.next_outgoing();
        assert_eq!((ack_counter, ack_hash), (3, h(3)));
    }

    #[test]
    fn events_of_one_message_come_in_spec_order() {
        // PROTOCOL.md §11: position event first, then at most one Fork.
        let mut s = IntegrityState::default();
        s.record_sent(0, [5; 32]);
        s.on_receive(&msg(0, prev(0)), h(0));
        // Counter 2 claims hash h(1) for counter 1 and acks our 0 with a wrong hash.
        let mut m = msg(2, prev(2));
        m.ack_counter = 0;
        m.ack_hash = [6; 32];
        assert_eq!(
            s.on_receive(&m, h(2)),
            vec![
                IntegrityEvent::Gap { from: 1, to: 1 },
                IntegrityEvent::Fork { counter: 2 }
            ]
        );
        // Counter 1 arrives late with another hash than claimed and a broken link: one Fork.
        assert_eq!(
            s.on_receive(&msg(1, [7; 32]), [8; 32]),
            vec![
                IntegrityEvent::LateArrival { counter: 1 },
                IntegrityEvent::Fork { counter: 1 }
            ]
        );
    }

    #[test]
    fn duplicate_and_fork() {
        let mut s = IntegrityState::default();
        s.on_receive(&msg(0, prev(0)), h(0));
        assert_eq!(
            s.on_receive(&msg(0, prev(0)), h(0)),
            vec![IntegrityEvent::Duplicate { counter: 0 }]
        );
        assert_eq!(
            s.on_receive(&msg(0, prev(0)), [9; 32]),
            vec![IntegrityEvent::Fork { counter: 0 }]
        );
        assert_eq!(
            s.on_receive(&msg(1, [7; 32]), h(1)),
            vec![IntegrityEvent::Fork { counter: 1 }]
        );
    }

    #[test]
    fn forged_ack_is_a_fork() {
        let mut s = IntegrityState::default();
        s.record_sent(0, [5; 32]);
        let mut m = msg(0, prev(0));
        m.ack_counter = 0;
        m.ack_hash = [6; 32];
        assert_eq!(
            s.on_receive(&m, h(0)),
            vec![IntegrityEvent::Fork { counter: 0 }]
        );
    }

    fn restored(counter: u64, from: u64, prev: [u8; 32]) -> Inner {
        Inner {
            content: Content::SessionRestored { from },
            ..msg(counter, prev)
        }
    }

    #[test]
    fn a_restore_notice_is_no_gap_and_its_history_continues() {
        // The backup had sent 0 and 1; nothing else was sent: no fork.
        let mut s = IntegrityState::default();
        for c in 0..2 {
            s.on_receive(&msg(c, prev(c)), h(c));
        }
        let c = 2 + RESTORE_COUNTER_STEP;
        assert_eq!(
            s.on_receive(&restored(c, 2, h(1)), [0xAA; 32]),
            vec![IntegrityEvent::Restored {
                from: 2,
                counter: c
            }]
        );
        assert_eq!(s.missing().count(), 0);
        assert!(s.on_receive(&msg(c + 1, [0xAA; 32]), h(9)).is_empty());
    }

    #[test]
    fn a_restore_behind_what_we_hold_is_a_fork() {
        // The original device sent 2 and 3 after the backup, which ended at 1.
        let mut s = IntegrityState::default();
        for c in 0..4 {
            s.on_receive(&msg(c, prev(c)), h(c));
        }
        let c = 2 + RESTORE_COUNTER_STEP;
        assert_eq!(
            s.on_receive(&restored(c, 2, h(1)), [0xAA; 32]),
            vec![
                IntegrityEvent::Restored {
                    from: 2,
                    counter: c
                },
                IntegrityEvent::Fork { counter: c }
            ]
        );
        // A notice that does not link to our message from − 1 is a fork too.
        let mut s = IntegrityState::default();
        s.on_receive(&msg(0, prev(0)), h(0));
        let c = 1 + RESTORE_COUNTER_STEP;
        assert_eq!(
            s.on_receive(&restored(c, 1, [7; 32]), [0xAA; 32]),
            vec![
                IntegrityEvent::Restored {
                    from: 1,
                    counter: c
                },
                IntegrityEvent::Fork { counter: c }
            ]
        );
    }

    #[test]
    fn a_restore_ahead_of_us_reports_what_the_backup_sent_as_missing() {
        let mut s = IntegrityState::default();
        s.on_receive(&msg(0, prev(0)), h(0));
        let c = 3 + RESTORE_COUNTER_STEP;
        assert_eq!(
            s.on_receive(&restored(c, 3, h(2)), [0xAA; 32]),
            vec![
                IntegrityEvent::Restored {
                    from: 3,
                    counter: c
                },
                IntegrityEvent::Gap { from: 1, to: 2 }
            ]
        );
        assert_eq!(s.missing().collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(
            s.on_receive(&msg(2, h(1)), h(2)),
            vec![IntegrityEvent::LateArrival { counter: 2 }]
        );
    }

    #[test]
    fn a_notice_that_does_not_move_forward_is_checked_like_any_message() {
        let mut s = IntegrityState::default();
        for c in 0..3 {
            s.on_receive(&msg(c, prev(c)), h(c));
        }
        // Counter 1 again, other hash: a fork, not a restore.
        assert_eq!(
            s.on_receive(&restored(1, 0, [0; 32]), [0xAA; 32]),
            vec![IntegrityEvent::Fork { counter: 1 }]
        );
        // `from` not below the counter: not honoured (a plain message at 3).
        assert!(s.on_receive(&restored(3, 3, h(2)), h(3)).is_empty());
    }

    #[test]
    fn jump_after_restore_moves_the_send_counter() {
        let mut s = IntegrityState::default();
        s.record_sent(0, [5; 32]);
        assert_eq!(s.jump_after_restore(), 1);
        let (counter, prev_hash, ..) = s.next_outgoing();
        assert_eq!((counter, prev_hash), (1 + RESTORE_COUNTER_STEP, [5; 32]));
    }

    #[test]
    fn non_canonical_state_refused() {
        let mut s = IntegrityState::default();
        s.on_receive(&msg(0, prev(0)), h(0));
        s.on_receive(&msg(1, prev(1)), h(1));
        let mut w = Writer::default();
        s.encode(&mut w);
        let mut bytes = w.into_vec();
        // The received list follows next_send, last_sent_hash, an empty sent list and next_recv.
        let first = 8 + 32 + 2 + 8 + 2;
        bytes[first..first + 8].copy_from_slice(&1u64.to_be_bytes()); // counters 1, 1
        assert_eq!(
            IntegrityState::decode(&mut Reader::new(&bytes)),
            Err(DecodeError::Invalid("received hashes"))
        );
    }

    #[test]
    fn codec_round_trip() {
        let mut s = IntegrityState::default();
        s.record_sent(0, [5; 32]);
        s.on_receive(&msg(0, prev(0)), h(0));
        s.on_receive(&msg(4, prev(4)), h(4));
        let mut w = Writer::default();
        s.encode(&mut w);
        let bytes = w.into_vec();
        let mut r = Reader::new(&bytes);
        assert_eq!(IntegrityState::decode(&mut r).unwrap(), s);
        r.finish().unwrap();
    }
}
