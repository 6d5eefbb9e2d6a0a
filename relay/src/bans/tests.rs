use std::time::{Duration, Instant};

use governor::clock::FakeRelativeClock;

use super::*;

const POLICY: BanPolicy = BanPolicy {
    threshold: 5,
    base: Duration::from_secs(60),
    max: Duration::from_secs(600),
};

fn table() -> (Bans<FakeRelativeClock>, FakeRelativeClock) {
    let clock = FakeRelativeClock::default();
    (Bans::with_clock(POLICY, [7; 32], clock.clone()), clock)
}

#[test]
fn a_burst_of_offences_bans_the_source_and_no_one_else() {
    let (bans, _) = table();
    let now = Instant::now();
    let flood: IpAddr = "127.0.0.2".parse().unwrap();
    let good: IpAddr = "127.0.0.1".parse().unwrap();
    for _ in 0..5 {
        assert_eq!(bans.offence(flood, now), None, "within the allowance");
    }
    let (id, length) = bans.offence(flood, now).unwrap();
    assert_eq!(id, bans.source(flood));
    assert_eq!(length, Duration::from_secs(60));
    assert!(bans.banned(flood, now));
    assert!(!bans.banned(good, now), "another address is not touched");
    assert!(bans.banned(flood, now + Duration::from_secs(59)));
    assert!(
        !bans.banned(flood, now + Duration::from_secs(60)),
        "it ends"
    );
}

#[test]
fn an_occasional_offence_never_bans() {
    let (bans, clock) = table();
    let now = Instant::now();
    let ip: IpAddr = "10.0.0.1".parse().unwrap();
    // Five per ten minutes refill: one every two minutes is sustainable.
    for minute in 0..120 {
        clock.advance(Duration::from_secs(120));
        assert_eq!(bans.offence(ip, now), None, "offence {minute}");
    }
}

#[test]
fn each_ban_doubles_up_to_the_cap_and_quiet_sources_are_forgotten() {
    let (bans, _) = table();
    let ip: IpAddr = "2001:db8::1".parse().unwrap();
    let mut now = Instant::now();
    let mut lengths = Vec::new();
    for _ in 0..6 {
        let banned = (0..10).find_map(|_| bans.offence(ip, now)).unwrap();
        lengths.push(banned.1.as_secs());
        now += banned.1;
    }
    assert_eq!(lengths, [60, 120, 240, 480, 600, 600]);
    assert_eq!(bans.list(now).len(), 0, "the last ban just ended");
    bans.sweep(now + Duration::from_secs(599));
    assert_eq!(bans.clear(None), 1, "still remembered within max");
    let banned = (0..10).find_map(|_| bans.offence(ip, now)).unwrap();
    assert_eq!(banned.1.as_secs(), 60, "cleared: starts over");
    bans.sweep(now + Duration::from_secs(60 + 600));
    assert_eq!(bans.clear(None), 0, "forgotten after max of quiet");
}

#[test]
fn an_ipv6_64_is_one_source_and_ids_hide_the_address() {
    let (bans, _) = table();
    let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
    let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
    let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
    assert_eq!(bans.source(a), bans.source(b));
    assert_ne!(bans.source(a), bans.source(c));
    let other_key = Bans::with_clock(POLICY, [8; 32], FakeRelativeClock::default());
    assert_ne!(bans.source(a), other_key.source(a), "keyed");
    let now = Instant::now();
    let (id, _) = (0..10).find_map(|_| bans.offence(a, now)).unwrap();
    let listed = bans.list(now);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].source, id.to_string());
    assert_eq!(listed[0].source.len(), 16);
    assert!(!listed[0].source.contains("2001"));
    assert_eq!(listed[0].source.parse::<SourceId>().unwrap(), id);
    assert_eq!(bans.clear(Some(id)), 1);
    assert!(!bans.banned(b, now));
}

#[test]
fn threshold_zero_disables_bans() {
    let bans = Bans::new(BanPolicy {
        threshold: 0,
        ..BanPolicy::default()
    });
    let ip: IpAddr = "10.0.0.1".parse().unwrap();
    let now = Instant::now();
    assert!((0..10_000).all(|_| bans.offence(ip, now).is_none()));
    assert!(!bans.banned(ip, now));
}
