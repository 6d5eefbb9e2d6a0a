//! The injectable clock, and how times are shown.
//!
//! The core never reads the wall clock itself; neither does the UI. Tests
//! pass a fixed or stepping clock so day separators and timestamps are
//! deterministic.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use cairn_core::calendar;

/// Milliseconds since the Unix epoch, shared by the UI and the backend thread.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> u64 + Send + Sync>);

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Clock").field(&self.now_ms()).finish()
    }
}

impl Clock {
    /// The real wall clock (0 if the system clock is before 1970).
    pub fn system() -> Self {
        Self(Arc::new(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0)
        }))
    }

    /// A clock that starts at `start_ms`, follows real time from there, and
    /// advances at least one millisecond per reading: every event gets a
    /// distinct, ordered time in tests, and timers (receipts, retries) still
    /// come due as they would.
    pub fn stepping(start_ms: u64) -> Self {
        let started = std::time::Instant::now();
        let last = Arc::new(AtomicU64::new(start_ms.saturating_sub(1)));
        Self(Arc::new(move || {
            let real = start_ms
                .saturating_add(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
            let mut prev = last.load(Ordering::Relaxed);
            loop {
                let next = real.max(prev + 1);
                match last.compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
                    Ok(_) => return next,
                    Err(seen) => prev = seen,
                }
            }
        }))
    }

    /// Any closure as a clock.
    pub fn from_fn(f: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// Current time in milliseconds.
    pub fn now_ms(&self) -> u64 {
        (self.0)()
    }
}

/// The time zone times are shown in; shared with the CLI (see [`calendar::Zone`]).
pub use cairn_core::calendar::Zone;

/// A day separator label: "Today", "Yesterday" or `YYYY-MM-DD`.
pub fn format_day(day: i64, today: i64) -> String {
    match today - day {
        0 => "Today".to_owned(),
        1 => "Yesterday".to_owned(),
        _ => calendar::format_date(day),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_days_and_times_in_the_zone() {
        let ms = 1_795_000_000_123; // 2026-11-18 11:06:40 UTC
        let utc = Zone::utc();
        assert_eq!(utc.format_time(ms), "11:06");
        let day = utc.day_of(ms);
        assert_eq!(format_day(day, day), "Today");
        assert_eq!(format_day(day, day + 1), "Yesterday");
        assert_eq!(format_day(day, day + 2), "2026-11-18");
        let tokyo = Zone::fixed(9 * 3600);
        assert_eq!(tokyo.format_time(ms), "20:06");
        let late = ms + 5 * 3_600_000; // 16:06 UTC = 01:06 next day in Tokyo
        assert_eq!(tokyo.format_time(late), "01:06");
        assert_eq!(tokyo.day_of(late), utc.day_of(late) + 1);
    }

    #[test]
    fn named_zones_follow_daylight_saving() {
        // Needs the system zoneinfo (tzdata); skip quietly where it is absent.
        let Some(berlin) = Zone::named("Europe/Berlin") else {
            return;
        };
        let winter = 1_795_000_000_000; // November: CET, UTC+1
        let summer = 1_782_000_000_000; // June 2026: CEST, UTC+2
        assert_eq!(berlin.offset_secs(winter), 3600);
        assert_eq!(berlin.offset_secs(summer), 7200);
        assert_eq!(berlin.format_time(winter), "12:06");
    }

    #[test]
    fn stepping_clock_is_monotonic_and_follows_real_time() {
        let c = Clock::stepping(10);
        let first = c.now_ms();
        assert!(first >= 10);
        assert!(c.now_ms() > first);
        std::thread::sleep(std::time::Duration::from_millis(30));
        assert!(c.now_ms() >= first + 30);
    }
}
