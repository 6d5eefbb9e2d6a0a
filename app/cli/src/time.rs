//! Wall clock for the core (which never reads it itself) and timestamp display.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use cairn_core::calendar::Zone;

/// Milliseconds since the Unix epoch (0 if the clock is before 1970).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The local time zone, looked up once per run: `TZ`, else `/etc/localtime`,
/// else UTC (the same lookup as the desktop app).
fn local_zone() -> &'static Zone {
    static ZONE: OnceLock<Zone> = OnceLock::new();
    ZONE.get_or_init(Zone::system)
}

/// `YYYY-MM-DD HH:MM:SS` in the local time zone (`--json` keeps raw milliseconds).
pub(crate) fn format_local(ms: u64) -> String {
    format_in(ms, local_zone())
}

/// `YYYY-MM-DD HH:MM:SS` in `zone`.
pub(crate) fn format_in(ms: u64, zone: &Zone) -> String {
    zone.format_datetime(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants_in_utc() {
        let utc = Zone::utc();
        assert_eq!(format_in(0, &utc), "1970-01-01 00:00:00");
        assert_eq!(format_in(951_782_400_000, &utc), "2000-02-29 00:00:00");
        assert_eq!(format_in(1_795_000_000_123, &utc), "2026-11-18 11:06:40");
    }

    #[test]
    fn berlin_is_ahead_of_utc_with_daylight_saving() {
        // Needs the system zoneinfo (tzdata); skip quietly where it is absent.
        let Some(berlin) = Zone::named("Europe/Berlin") else {
            return;
        };
        // November: CET, UTC+1.
        assert_eq!(format_in(1_795_000_000_123, &berlin), "2026-11-18 12:06:40");
        // June: CEST, UTC+2 (2026-06-21 00:00:00 UTC).
        assert_eq!(format_in(1_782_000_000_000, &berlin), "2026-06-21 02:00:00");
        // Late evening UTC (2026-11-18 23:06:40) is already the next day in Berlin.
        assert_eq!(format_in(1_795_043_200_000, &berlin), "2026-11-19 00:06:40");
    }
}
