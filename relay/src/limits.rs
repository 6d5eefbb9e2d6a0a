//! Token-bucket rate limits, per connection and per client address, and the
//! cap on simultaneous connections per client address.
//!
//! Hand-rolled rather than a crate: a bucket is three numbers, time is a
//! parameter (so tests are deterministic), and the per-address table is
//! swept of full (idle) buckets so it cannot grow without bound.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::config::Rate;

/// One token bucket.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn full(rate: Rate, now: Instant) -> Self {
        Self {
            tokens: rate.burst,
            last: now,
        }
    }

    /// Takes one token if available. A disabled rate always allows.
    pub fn take(&mut self, rate: Rate, now: Instant) -> bool {
        self.take_n(rate, 1.0, now)
    }

    /// Takes `n` tokens (bytes of a frame) if available; a request larger
    /// than the whole bucket passes only when the bucket is full.
    pub fn take_n(&mut self, rate: Rate, n: f64, now: Instant) -> bool {
        if !rate.enabled() {
            return true;
        }
        self.refill(rate, now);
        let n = n.min(rate.burst);
        if self.tokens >= n {
            self.tokens -= n;
            true
        } else {
            false
        }
    }

    fn refill(&mut self, rate: Rate, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_second).min(rate.burst);
        self.last = now;
    }
}

/// Buckets per key, swept of full (idle) ones so the table cannot grow
/// without bound (per client address: [`AddressLimiter`]).
pub struct KeyedLimiter<K> {
    rate: Rate,
    buckets: Mutex<HashMap<K, Bucket>>,
}

/// Buckets per client address (IPv6 grouped by /64, since one host owns a /64).
pub type AddressLimiter = KeyedLimiter<IpAddr>;

impl<K: std::hash::Hash + Eq> KeyedLimiter<K> {
    /// A limiter applying `rate` to every key.
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            buckets: Mutex::default(),
        }
    }

    /// Takes one token for `key`.
    pub fn take_key(&self, key: K, now: Instant) -> bool {
        self.take_n_key(key, 1.0, now)
    }

    /// Takes `n` tokens for `key`.
    pub fn take_n_key(&self, key: K, n: f64, now: Instant) -> bool {
        if !self.rate.enabled() {
            return true;
        }
        let Ok(mut buckets) = self.buckets.lock() else {
            return true;
        };
        buckets
            .entry(key)
            .or_insert_with(|| Bucket::full(self.rate, now))
            .take_n(self.rate, n, now)
    }

    /// Forgets keys whose bucket has refilled completely (idle ones).
    pub fn sweep(&self, now: Instant) {
        if let Ok(mut buckets) = self.buckets.lock() {
            let rate = self.rate;
            buckets.retain(|_, b| {
                b.refill(rate, now);
                b.tokens < rate.burst
            });
        }
    }

    /// Keys currently tracked.
    pub fn tracked(&self) -> usize {
        self.buckets.lock().map(|b| b.len()).unwrap_or(0)
    }
}

impl KeyedLimiter<IpAddr> {
    /// Takes one token for `ip`'s source (its /64 for IPv6).
    pub fn take(&self, ip: IpAddr, now: Instant) -> bool {
        self.take_key(group(ip), now)
    }

    /// Takes `n` tokens (bytes) for `ip`'s source.
    pub fn take_n(&self, ip: IpAddr, n: f64, now: Instant) -> bool {
        self.take_n_key(group(ip), n, now)
    }
}

/// Open connections per client address (IPv6 per /64), so that one source
/// cannot hold every slot of the relay-wide cap. Taken right after `accept`,
/// before TLS; the slot is given back when its [`SourceSlot`] drops.
pub struct SourceSlots {
    cap: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place under its source's cap.
pub struct SourceSlot {
    slots: Arc<SourceSlots>,
    key: IpAddr,
}

impl SourceSlots {
    /// At most `cap` connections per source; 0 = no cap.
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            cap,
            open: Mutex::default(),
        })
    }

    /// A slot for a connection from `ip`, or `None` if its source is at the cap.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Option<SourceSlot> {
        let key = group(ip);
        let mut open = self.open.lock().ok()?;
        let count = open.entry(key).or_insert(0);
        if self.cap > 0 && *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(SourceSlot {
            slots: Arc::clone(self),
            key,
        })
    }

    /// Sources with at least one open connection.
    pub fn sources(&self) -> usize {
        self.open.lock().map(|o| o.len()).unwrap_or(0)
    }
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.slots.open.lock()
            && let Some(count) = open.get_mut(&self.key)
        {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

fn group(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const RATE: Rate = Rate {
        per_second: 10.0,
        burst: 3.0,
    };

    #[test]
    fn bucket_limits_and_refills() {
        let t0 = Instant::now();
        let mut b = Bucket::full(RATE, t0);
        assert!(b.take(RATE, t0) && b.take(RATE, t0) && b.take(RATE, t0));
        assert!(!b.take(RATE, t0));
        assert!(b.take(RATE, t0 + Duration::from_millis(100)));
        assert!(!b.take(RATE, t0 + Duration::from_millis(100)));
        let off = Rate {
            per_second: 0.0,
            burst: 0.0,
        };
        assert!(b.take(off, t0));
    }

    #[test]
    fn each_source_has_its_own_connection_cap() {
        let slots = SourceSlots::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        let b2: IpAddr = "2001:db8::ffff".parse().unwrap();
        let first = slots.take(a).unwrap();
        let _second = slots.take(a).unwrap();
        assert!(slots.take(a).is_none(), "a third from the same address");
        let _b = slots.take(b).unwrap();
        let _b2 = slots.take(b2).unwrap();
        assert!(slots.take(b).is_none(), "the same /64");
        drop(first);
        assert!(
            slots.take(a).is_some(),
            "a slot comes back when its connection ends"
        );
        let unlimited = SourceSlots::new(0);
        let held: Vec<_> = (0..100).map(|_| unlimited.take(a).unwrap()).collect();
        assert_eq!(unlimited.sources(), 1);
        drop(held);
        assert_eq!(unlimited.sources(), 0, "forgotten once none is open");
    }

    #[test]
    fn addresses_are_limited_separately_and_swept() {
        let t0 = Instant::now();
        let l = AddressLimiter::new(RATE);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        let b2: IpAddr = "2001:db8::2".parse().unwrap();
        for _ in 0..3 {
            assert!(l.take(a, t0));
        }
        assert!(!l.take(a, t0));
        assert!(l.take(b, t0));
        assert!(l.take(b2, t0), "same /64, one bucket with tokens left");
        assert_eq!(l.tracked(), 2);
        l.sweep(t0 + Duration::from_secs(10));
        assert_eq!(l.tracked(), 0);
    }
}
