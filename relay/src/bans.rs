//! Automatic bans: a source (an address; an IPv6 /64) that keeps
//! misbehaving is refused before TLS for a while.
//!
//! Misbehaviour is an offence: a failed signature or token, a malformed or
//! oversized frame, a rate-limit or cap hit, a connection that never sends
//! a request. Offences drain a per-source allowance (governor GCRA: a burst
//! of `threshold`, refilled at `threshold` per ten minutes), so a client
//! that slips now and then is never banned while a flood is banned within
//! its first few hundred milliseconds. Each ban lasts twice the previous
//! one, from `base` up to `max`; a source is forgotten once it has been
//! quiet for `max` after its last ban.
//!
//! The table never holds an address: sources are named by a keyed hash
//! (HMAC-SHA-256 under a key drawn at start), so `/bans` and the logs show
//! the same id for the same source without revealing it, and a restart
//! makes old ids meaningless. Bans live in memory, per relay instance.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::config::Rate;
use crate::limits::{KeyedLimiter, group};

/// A source's keyed hash, shown as 16 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(pub [u8; 8]);

impl std::fmt::Display for SourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl std::str::FromStr for SourceId {
    type Err = hex::FromHexError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut id = [0u8; 8];
        hex::decode_to_slice(s, &mut id)?;
        Ok(Self(id))
    }
}

/// When to ban and for how long.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BanPolicy {
    /// Offences a source may commit in a burst; 0 disables bans.
    pub threshold: u32,
    /// The first ban's length; each next one doubles.
    pub base: Duration,
    /// The longest ban, and how long a source is remembered after one.
    pub max: Duration,
}

impl Default for BanPolicy {
    fn default() -> Self {
        Self {
            threshold: 50,
            base: Duration::from_secs(60),
            max: Duration::from_secs(24 * 3600),
        }
    }
}

/// One source's ban history.
#[derive(Debug, Clone, Copy)]
struct Record {
    /// Refused until then.
    until: Instant,
    /// Bans so far (the next lasts `base * 2^count`).
    count: u32,
}

/// A ban as listed on `/bans`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BanInfo {
    /// The source's keyed hash.
    pub source: String,
    /// Seconds until the ban ends.
    pub seconds_left: u64,
    /// Bans of this source so far.
    pub bans: u32,
}

/// The relay's ban table.
pub struct Bans<C: Clock = DefaultClock> {
    policy: BanPolicy,
    key: [u8; 32],
    offences: KeyedLimiter<SourceId, C>,
    records: Mutex<HashMap<SourceId, Record>>,
}

impl Bans {
    /// A table with a fresh hashing key, on the monotonic clock.
    pub fn new(policy: BanPolicy) -> Self {
        Self::with_clock(policy, rand::random(), DefaultClock::default())
    }
}

impl<C: Clock> Bans<C> {
    /// A table with a given key and offence clock (tests).
    pub fn with_clock(policy: BanPolicy, key: [u8; 32], clock: C) -> Self {
        let burst = f64::from(policy.threshold);
        let offences = KeyedLimiter::with_clock(
            Rate {
                per_second: burst / 600.0,
                burst,
            },
            clock,
        );
        Self {
            policy,
            key,
            offences,
            records: Mutex::default(),
        }
    }

    /// The keyed hash naming `ip`'s source.
    pub fn source(&self, ip: IpAddr) -> SourceId {
        let bytes = match group(ip) {
            IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            IpAddr::V6(v6) => v6.octets(),
        };
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(&bytes);
        let digest = mac.finalize().into_bytes();
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        SourceId(id)
    }

    /// Whether `ip`'s source is banned at `now`.
    pub fn banned(&self, ip: IpAddr, now: Instant) -> bool {
        if self.policy.threshold == 0 {
            return false;
        }
        let id = self.source(ip);
        self.records
            .lock()
            .is_ok_and(|r| r.get(&id).is_some_and(|rec| rec.until > now))
    }

    /// Records one offence by `ip`'s source. Returns the ban it starts,
    /// if this offence exhausted the source's allowance.
    pub fn offence(&self, ip: IpAddr, now: Instant) -> Option<(SourceId, Duration)> {
        if self.policy.threshold == 0 {
            return None;
        }
        let id = self.source(ip);
        if self.offences.take_key(&id) {
            return None;
        }
        let mut records = self.records.lock().ok()?;
        let record = records.entry(id).or_insert(Record {
            until: now,
            count: 0,
        });
        if record.until > now {
            return None; // already banned
        }
        let length = self
            .policy
            .base
            .saturating_mul(1u32.checked_shl(record.count).unwrap_or(u32::MAX))
            .min(self.policy.max);
        record.until = now + length;
        record.count = record.count.saturating_add(1);
        Some((id, length))
    }

    /// Bans in force at `now`, longest first.
    pub fn list(&self, now: Instant) -> Vec<BanInfo> {
        let Ok(records) = self.records.lock() else {
            return Vec::new();
        };
        let mut out: Vec<BanInfo> = records
            .iter()
            .filter(|(_, r)| r.until > now)
            .map(|(id, r)| BanInfo {
                source: id.to_string(),
                seconds_left: r.until.saturating_duration_since(now).as_secs().max(1),
                bans: r.count,
            })
            .collect();
        out.sort_by(|a, b| {
            b.seconds_left
                .cmp(&a.seconds_left)
                .then(a.source.cmp(&b.source))
        });
        out
    }

    /// Lifts one source's ban and forgets its history (`Some`), or every
    /// ban (`None`). Returns how many records were removed.
    pub fn clear(&self, source: Option<SourceId>) -> usize {
        let Ok(mut records) = self.records.lock() else {
            return 0;
        };
        match source {
            Some(id) => usize::from(records.remove(&id).is_some()),
            None => {
                let n = records.len();
                records.clear();
                n
            }
        }
    }

    /// Bans in force at `now`.
    pub fn active(&self, now: Instant) -> usize {
        self.records
            .lock()
            .map_or(0, |r| r.values().filter(|r| r.until > now).count())
    }

    /// Forgets sources quiet for `max` since their last ban ended, and idle
    /// offence allowances.
    pub fn sweep(&self, now: Instant) {
        let max = self.policy.max;
        if let Ok(mut records) = self.records.lock() {
            records.retain(|_, r| now.saturating_duration_since(r.until) < max);
        }
        self.offences.sweep();
    }
}

#[cfg(test)]
mod tests;
