//! Rate limits, per connection and per client address, and the cap on
//! simultaneous connections per client address.
//!
//! Shared, keyed limits use governor's GCRA ([`KeyedLimiter`]): its sharded
//! map keeps connections from different sources off one lock. A connection's
//! own bucket ([`Bucket`]) is three numbers owned by its task, so it needs
//! neither atomics nor a crate, and time is a parameter.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

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

/// Limits per key (a client address, a source's keyed hash), shared by
/// every connection: governor's keyed GCRA (sharded, lock-free per key),
/// swept of idle keys so the table cannot grow without bound.
pub struct KeyedLimiter<K: Hash + Eq + Clone, C: Clock = DefaultClock> {
    /// Largest single take: a request larger than the burst passes only at full capacity.
    burst: NonZeroU32,
    /// `None`: the rate is disabled, everything passes.
    limiter: Option<Gcra<K, C>>,
}

/// governor's keyed limiter on clock `C`.
type Gcra<K, C> =
    RateLimiter<K, DefaultKeyedStateStore<K>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// Limits per client address (IPv6 grouped by /64, since one host owns a /64).
pub type AddressLimiter = KeyedLimiter<IpAddr>;

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    /// A limiter applying `rate` to every key, on the monotonic clock.
    pub fn new(rate: Rate) -> Self {
        Self::with_clock(rate, DefaultClock::default())
    }
}

impl<K: Hash + Eq + Clone, C: Clock> KeyedLimiter<K, C> {
    /// A limiter on `clock` (tests pass a fake one).
    pub fn with_clock(rate: Rate, clock: C) -> Self {
        let burst = NonZeroU32::new(rate.burst.round().clamp(1.0, f64::from(u32::MAX)) as u32)
            .unwrap_or(NonZeroU32::MIN);
        let limiter = quota(rate, burst)
            .map(|quota| RateLimiter::new(quota, DefaultKeyedStateStore::default(), clock));
        Self { burst, limiter }
    }

    /// Takes one token for `key`.
    pub fn take_key(&self, key: &K) -> bool {
        self.take_n_key(key, 1)
    }

    /// Takes `n` tokens (bytes of a frame) for `key`; more than the burst
    /// counts as the whole burst.
    pub fn take_n_key(&self, key: &K, n: u32) -> bool {
        let Some(limiter) = &self.limiter else {
            return true;
        };
        let n = NonZeroU32::new(n).map_or(NonZeroU32::MIN, |n| n.min(self.burst));
        matches!(limiter.check_key_n(key, n), Ok(Ok(())))
    }

    /// Forgets keys whose capacity has refilled completely (idle ones).
    pub fn sweep(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Keys currently tracked.
    pub fn tracked(&self) -> usize {
        self.limiter.as_ref().map_or(0, RateLimiter::len)
    }
}

/// governor's quota for `rate`: one cell every `1 / per_second`, `burst` at once.
fn quota(rate: Rate, burst: NonZeroU32) -> Option<Quota> {
    if !rate.enabled() || !rate.per_second.is_finite() {
        return None;
    }
    let period = Duration::try_from_secs_f64(1.0 / rate.per_second).ok()?;
    Quota::with_period(period.max(Duration::from_nanos(1))).map(|q| q.allow_burst(burst))
}

impl<C: Clock> KeyedLimiter<IpAddr, C> {
    /// Takes one token for `ip`'s source (its /64 for IPv6).
    pub fn take(&self, ip: IpAddr) -> bool {
        self.take_key(&group(ip))
    }

    /// Takes `n` tokens (bytes) for `ip`'s source.
    pub fn take_n(&self, ip: IpAddr, n: usize) -> bool {
        self.take_n_key(&group(ip), u32::try_from(n).unwrap_or(u32::MAX))
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

/// A few store reads at a time per source, the rest wait their turn: the
/// store's readers are shared by everybody, and without this one source's
/// flood of signature checks (each a key lookup) fills their queue and a
/// legitimate subscribe waits behind it. Waiting, not refusing: a correct
/// client's burst of subscribes is only spread out.
pub struct SourceQueues {
    per_source: usize,
    queues: Mutex<HashMap<IpAddr, Arc<tokio::sync::Semaphore>>>,
}

impl SourceQueues {
    /// `per_source` reads at a time per source.
    pub fn new(per_source: usize) -> Self {
        Self {
            per_source: per_source.max(1),
            queues: Mutex::default(),
        }
    }

    /// Waits for `ip`'s source to have a read free; hold the permit for the read.
    pub async fn enter(&self, ip: IpAddr) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let queue = {
            let mut queues = self.queues.lock().ok()?;
            let per_source = self.per_source;
            Arc::clone(
                queues
                    .entry(group(ip))
                    .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(per_source))),
            )
        };
        queue.acquire_owned().await.ok()
    }

    /// Forgets sources with nothing in flight or waiting.
    pub fn sweep(&self) {
        if let Ok(mut queues) = self.queues.lock() {
            queues.retain(|_, q| Arc::strong_count(q) > 1);
        }
    }

    /// Sources tracked.
    pub fn tracked(&self) -> usize {
        self.queues.lock().map_or(0, |q| q.len())
    }
}

/// The source an address belongs to: itself for IPv4, its /64 for IPv6.
pub(crate) fn group(ip: IpAddr) -> IpAddr {
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
    use governor::clock::FakeRelativeClock;

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

    #[tokio::test]
    async fn each_source_reads_a_few_at_a_time_and_others_pass() {
        let queues = Arc::new(SourceQueues::new(2));
        let flood: IpAddr = "127.0.0.2".parse().unwrap();
        let good: IpAddr = "127.0.0.1".parse().unwrap();
        let a = queues.enter(flood).await.unwrap();
        let _b = queues.enter(flood).await.unwrap();
        let third = tokio::spawn({
            let queues = Arc::clone(&queues);
            async move { queues.enter(flood).await.map(drop) }
        });
        tokio::task::yield_now().await;
        assert!(!third.is_finished(), "the source's third read waits");
        let _mine = queues.enter(good).await.unwrap();
        drop(a);
        third.await.unwrap().unwrap();
        assert_eq!(queues.tracked(), 2);
        drop(_mine);
        queues.sweep();
        assert_eq!(queues.tracked(), 1, "the idle source is forgotten");
    }

    #[test]
    fn addresses_are_limited_separately_and_swept() {
        let clock = FakeRelativeClock::default();
        let l = KeyedLimiter::with_clock(RATE, clock.clone());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        let b2: IpAddr = "2001:db8::2".parse().unwrap();
        for _ in 0..3 {
            assert!(l.take(a));
        }
        assert!(!l.take(a));
        clock.advance(Duration::from_millis(100));
        assert!(l.take(a), "one token back after 1/rate");
        assert!(!l.take(a));
        assert!(l.take(b));
        assert!(l.take(b2), "same /64, one bucket with tokens left");
        assert_eq!(l.tracked(), 2);
        clock.advance(Duration::from_secs(10));
        l.sweep();
        assert_eq!(l.tracked(), 0);
    }

    #[test]
    fn a_take_larger_than_the_burst_needs_full_capacity() {
        let clock = FakeRelativeClock::default();
        let l = KeyedLimiter::with_clock(RATE, clock.clone());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(l.take_n(a, 1000), "full: passes, empties it");
        assert!(!l.take_n(a, 1));
        clock.advance(Duration::from_millis(200));
        assert!(!l.take_n(a, 1000), "not full yet");
        clock.advance(Duration::from_millis(100));
        assert!(l.take_n(a, 1000));
        let off = KeyedLimiter::<IpAddr>::new(Rate {
            per_second: 0.0,
            burst: 0.0,
        });
        assert!((0..1000).all(|_| off.take(a)), "a disabled rate allows all");
    }
}
