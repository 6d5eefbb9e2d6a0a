//! Calendar arithmetic for showing timestamps, shared by the CLI and the desktop app.
//!
//! The functions are pure arithmetic on a UTC offset in seconds. [`Zone`]
//! answers which offset applies at a given instant (the local time zone, with
//! its daylight-saving rules), so both front ends resolve the local zone the
//! same way: `TZ`, else `/etc/localtime`, else UTC.

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// Proleptic Gregorian `(year, month, day)` of `days` since 1970-01-01
/// (Howard Hinnant's days-to-civil algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Milliseconds since the epoch shifted into wall-clock time at `offset_secs` east of UTC.
fn local_ms(ms: u64, offset_secs: i32) -> i64 {
    (ms.min(i64::MAX as u64 / 2) as i64).saturating_add(i64::from(offset_secs) * 1000)
}

/// The local calendar day (days since 1970-01-01 in wall-clock time) of `ms`
/// at `offset_secs` east of UTC: the key of a day separator.
pub fn local_day(ms: u64, offset_secs: i32) -> i64 {
    local_ms(ms, offset_secs).div_euclid(DAY_MS)
}

/// Wall-clock `(hour, minute)` of `ms` at `offset_secs` east of UTC.
pub fn local_hm(ms: u64, offset_secs: i32) -> (u32, u32) {
    let in_day = local_ms(ms, offset_secs).rem_euclid(DAY_MS) / 1000;
    ((in_day / 3600) as u32, (in_day / 60 % 60) as u32)
}

/// `HH:MM` of `ms` at `offset_secs` east of UTC (0 for UTC).
pub fn format_hm(ms: u64, offset_secs: i32) -> String {
    let (h, m) = local_hm(ms, offset_secs);
    format!("{h:02}:{m:02}")
}

/// `YYYY-MM-DD` of a day number from [`local_day`].
pub fn format_date(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD HH:MM:SS` of `ms` at `offset_secs` east of UTC (0 for UTC).
pub fn format_datetime(ms: u64, offset_secs: i32) -> String {
    let local = local_ms(ms, offset_secs);
    let secs = local.rem_euclid(DAY_MS) / 1000;
    format!(
        "{} {:02}:{:02}:{:02}",
        format_date(local.div_euclid(DAY_MS)),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The time zone timestamps are shown in: the system's local zone in the
/// apps, UTC or a fixed offset in tests.
///
/// Jiff reads `TZ`, else `/etc/localtime` and the system zoneinfo files, in
/// pure Rust: no `localtime_r`, which is unsound to call while other threads
/// may change the environment. Daylight-saving changes are applied per instant.
#[derive(Clone, Debug)]
pub struct Zone(jiff::tz::TimeZone);

impl Default for Zone {
    fn default() -> Self {
        Self::utc()
    }
}

impl Zone {
    /// The system's local time zone (UTC if it cannot be determined).
    pub fn system() -> Self {
        Self(jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC))
    }

    /// UTC.
    pub fn utc() -> Self {
        Self(jiff::tz::TimeZone::UTC)
    }

    /// A fixed offset east of UTC (clamped to ±25 h), for deterministic tests.
    pub fn fixed(offset_secs: i32) -> Self {
        let offset = jiff::tz::Offset::from_seconds(offset_secs.clamp(-89_999, 89_999))
            .unwrap_or(jiff::tz::Offset::UTC);
        Self(jiff::tz::TimeZone::fixed(offset))
    }

    /// An IANA zone by name (`Europe/Berlin`), if the system knows it.
    pub fn named(name: &str) -> Option<Self> {
        jiff::tz::TimeZone::get(name).ok().map(Self)
    }

    /// Offset from UTC in seconds at the instant `ms`.
    pub fn offset_secs(&self, ms: u64) -> i32 {
        let ms = ms.min(i64::MAX as u64) as i64;
        match jiff::Timestamp::from_millisecond(ms) {
            Ok(ts) => self.0.to_offset(ts).seconds(),
            Err(_) => 0,
        }
    }

    /// Local calendar day of `ms`: the key of a day separator.
    pub fn day_of(&self, ms: u64) -> i64 {
        local_day(ms, self.offset_secs(ms))
    }

    /// Local `HH:MM`.
    pub fn format_time(&self, ms: u64) -> String {
        format_hm(ms, self.offset_secs(ms))
    }

    /// Local `YYYY-MM-DD HH:MM:SS`.
    pub fn format_datetime(&self, ms: u64) -> String {
        format_datetime(ms, self.offset_secs(ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(20_775), (2026, 11, 18));
    }

    #[test]
    fn offsets_move_time_and_day() {
        let ms = 1_795_000_000_123; // 2026-11-18 11:06:40 UTC
        assert_eq!(format_hm(ms, 0), "11:06");
        assert_eq!(format_hm(ms, 3600), "12:06"); // CET
        assert_eq!(format_hm(ms, 5 * 3600 + 1800), "16:36"); // IST
        assert_eq!(format_hm(ms, -8 * 3600), "03:06"); // PST
        assert_eq!(format_date(local_day(ms, 0)), "2026-11-18");
        // 14:00 ahead crosses midnight into the next day; 12:00 behind stays.
        assert_eq!(format_date(local_day(ms, 14 * 3600)), "2026-11-19");
        assert_eq!(format_date(local_day(ms, -12 * 3600)), "2026-11-17");
        assert_eq!(local_hm(ms, -12 * 3600), (23, 6));
        // Before 1970 in local time still gives a sane day.
        assert_eq!(local_day(0, -3600), -1);
        assert_eq!(format_hm(0, -3600), "23:00");
        assert_eq!(format_datetime(ms, 0), "2026-11-18 11:06:40");
        assert_eq!(format_datetime(ms, 14 * 3600), "2026-11-19 01:06:40");
        assert_eq!(format_datetime(0, -3600), "1969-12-31 23:00:00");
    }

    #[test]
    fn zones_give_offsets() {
        let ms = 1_795_000_000_123; // 2026-11-18 11:06:40 UTC
        assert_eq!(Zone::utc().format_datetime(ms), "2026-11-18 11:06:40");
        assert_eq!(Zone::fixed(9 * 3600).format_time(ms), "20:06");
        assert_eq!(Zone::fixed(i32::MAX).offset_secs(ms), 89_999);
        // Needs the system zoneinfo (tzdata); skip quietly where it is absent.
        let Some(berlin) = Zone::named("Europe/Berlin") else {
            return;
        };
        assert_eq!(berlin.format_datetime(ms), "2026-11-18 12:06:40"); // CET
        assert_eq!(berlin.offset_secs(1_782_000_000_000), 7200); // June: CEST
    }
}
