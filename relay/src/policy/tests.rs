use std::net::IpAddr;

use super::*;

/// The family relay example of relay/README.md, as shipped.
pub(crate) const FAMILY: &str = include_str!("../../dist/policy-family.toml");

/// The office relay example of relay/README.md, as shipped.
pub(crate) const OFFICE: &str = include_str!("../../dist/policy-office.toml");

fn token(label: &str, expires: bool) -> Option<TokenFacts> {
    Some(TokenFacts {
        id: format!("id-{label}"),
        role: Role::User,
        label: label.into(),
        expires,
    })
}

fn ask(action: Action, token: Option<TokenFacts>, source: &str) -> Request {
    Request {
        action,
        token,
        source: source.parse::<IpAddr>().unwrap(),
        now: 12 * 3600,
    }
}

#[test]
fn family_relay_only_token_holders_create_and_anyone_sends() {
    let p = Policy::parse(FAMILY).unwrap();
    let from = "203.0.113.9";
    assert_eq!(
        p.decide(&ask(Action::Create, token("family", false), from), 0),
        Decision::Allow { rule: Some(0) }
    );
    assert_eq!(
        p.decide(&ask(Action::Create, None, from), 0),
        Decision::Deny { rule: 1 }
    );
    assert_eq!(
        p.decide(&ask(Action::Create, token("neighbours", false), from), 0),
        Decision::Deny { rule: 1 },
        "another label"
    );
    assert_eq!(
        p.decide(&ask(Action::Send, None, from), 1024),
        Decision::Allow { rule: None },
        "sending is the default: anyone"
    );
    // The explanation names why the first rule did not match.
    let (_, skipped) = p.explain(&ask(Action::Create, None, from));
    assert_eq!(
        skipped,
        vec![(0, Mismatch::Who(vec![Who::User, Who::Admin]))]
    );
}

#[test]
fn office_relay_admits_senders_only_from_its_network() {
    let p = Policy::parse(OFFICE).unwrap();
    for inside in ["10.20.3.4", "2001:db8:20:1::5", "::ffff:10.20.0.1"] {
        assert_eq!(
            p.decide(&ask(Action::Send, None, inside), 1024),
            Decision::Allow { rule: Some(0) },
            "{inside}"
        );
    }
    for outside in ["10.21.0.1", "198.51.100.7", "2001:db8:21::1"] {
        assert_eq!(
            p.decide(&ask(Action::Subscribe, None, outside), 0),
            Decision::Deny { rule: 1 },
            "{outside}"
        );
    }
    let laptop = |expires| {
        ask(
            Action::Create,
            token("office-laptop-7", expires),
            "10.20.0.9",
        )
    };
    assert_eq!(
        p.decide(&laptop(true), 0),
        Decision::Allow { rule: Some(2) }
    );
    assert_eq!(
        p.decide(&laptop(false), 0),
        Decision::Deny { rule: 3 },
        "a token that never expires"
    );
}

#[test]
fn quotas_are_per_token_or_source_and_only_on_the_deciding_rule() {
    let p = Policy::parse(
        r#"
[[rule]]
actions = ["send"]
decision = "allow"
messages_per_second = 3
bytes_per_day = "10K"

[[rule]]
actions = ["create"]
decision = "allow"
mailboxes_per_hour = 2
"#,
    )
    .unwrap();
    let send = |source| ask(Action::Send, None, source);
    for _ in 0..3 {
        assert_eq!(
            p.decide(&send("10.0.0.1"), 10),
            Decision::Allow { rule: Some(0) }
        );
    }
    assert_eq!(
        p.decide(&send("10.0.0.1"), 10),
        Decision::OverQuota {
            rule: 0,
            quota: "messages_per_second"
        }
    );
    assert_eq!(
        p.decide(&send("10.0.0.2"), 10),
        Decision::Allow { rule: Some(0) },
        "another source has its own quota"
    );
    assert_eq!(
        p.decide(&send("10.0.0.3"), 20_000),
        Decision::Allow { rule: Some(0) },
        "a full day's bytes pass once"
    );
    assert_eq!(
        p.decide(&send("10.0.0.3"), 1),
        Decision::OverQuota {
            rule: 0,
            quota: "bytes_per_day"
        }
    );
    let create = |t| ask(Action::Create, t, "10.0.0.4");
    assert!(matches!(
        p.decide(&create(token("a", true)), 0),
        Decision::Allow { .. }
    ));
    assert!(matches!(
        p.decide(&create(token("a", true)), 0),
        Decision::Allow { .. }
    ));
    assert!(matches!(
        p.decide(&create(token("a", true)), 0),
        Decision::OverQuota { .. }
    ));
    assert!(
        matches!(
            p.decide(&create(token("b", true)), 0),
            Decision::Allow { .. }
        ),
        "per token, even from the same address"
    );
}

#[test]
fn hours_are_utc_and_may_wrap_midnight() {
    let p = Policy::parse(
        r#"
[[rule]]
name = "night sends"
actions = ["send"]
hours = "22:00-06:00"
decision = "deny"
"#,
    )
    .unwrap();
    let at = |h: u64, m: u64| Request {
        now: 19_000 * 86_400 + h * 3600 + m * 60,
        ..ask(Action::Send, None, "10.0.0.1")
    };
    assert_eq!(p.explain(&at(23, 0)).0, Decision::Deny { rule: 0 });
    assert_eq!(p.explain(&at(5, 59)).0, Decision::Deny { rule: 0 });
    assert_eq!(p.explain(&at(6, 0)).0, Decision::Allow { rule: None });
    assert_eq!(
        p.explain(&at(12, 0)).1,
        vec![(0, Mismatch::Hours("22:00-06:00".into()))]
    );
}

#[test]
fn a_bad_file_is_refused_whole_with_the_reason() {
    for (text, says) in [
        (
            "[[rule]]\nactions = [\"send\"]\ndecision = \"maybe\"",
            "decision",
        ),
        ("[[rule]]\nactions = []\ndecision = \"allow\"", "actions"),
        ("[[rule]]\nactions = [\"fly\"]\ndecision = \"allow\"", "fly"),
        (
            "[[rule]]\nactions = [\"send\"]\nsources = [\"10.0.0.0/33\"]\ndecision = \"allow\"",
            "network",
        ),
        (
            "[[rule]]\nactions = [\"send\"]\nhours = \"8-18\"\ndecision = \"allow\"",
            "HH:MM",
        ),
        (
            "[[rule]]\nactions = [\"send\"]\ndecision = \"deny\"\nmessages_per_second = 1",
            "quotas",
        ),
        (
            "[[rule]]\nactions = [\"send\"]\ndecision = \"allow\"\ncolour = \"red\"",
            "colour",
        ),
        (
            "[[rule]]\nactions = [\"create\"]\ntoken_labels = [\"a b\"]\ndecision = \"allow\"",
            "label",
        ),
    ] {
        let err = Policy::parse(text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(says), "{text:?} → {err}");
    }
    assert!(
        Policy::parse("").unwrap().rules().is_empty(),
        "an empty file allows all"
    );
}
