//! A restored backup never reuses a message key with the same nonce (PROTOCOL.md §2,
//! §9.3): Alice exports, sends m1, the backup is imported into a second profile that
//! sends m2, through a proxy that records every envelope sent to the relay. m2 is not
//! recoverable from m1's envelope, m2's envelope and the known m1 (as it is when two
//! messages share a keystream), and Bob receives m2 — with the restore shown — or, when
//! he cannot follow the renewal, records the fork.

use cairn_core::testing::FrameLog;
use cairn_protocol::envelope::{BodyKind, Envelope};
use cairn_tests::cli::{CliUser, texts};
use cairn_tests::{RelayOptions, RelayProcess};

/// Conversation envelopes (kind 2) the proxy saw so far, in order.
fn ratchet_envelopes(proxy: &FrameLog) -> Vec<Vec<u8>> {
    proxy
        .envelopes()
        .into_iter()
        .filter(|e| Envelope::parse(e).is_ok_and(|e| e.kind == BodyKind::Ratchet))
        .collect()
}

/// Runs a command with the development flag that allows the loopback `ws://` proxy.
fn ok(user: &CliUser, args: &[&str]) -> String {
    let mut all = vec!["--allow-plaintext-loopback"];
    all.extend_from_slice(args);
    user.ok(&all)
}

fn json(user: &CliUser, args: &[&str]) -> Vec<cairn_tests::cli::JsonLine> {
    let mut all = vec!["--allow-plaintext-loopback"];
    all.extend_from_slice(args);
    user.json(&all)
}

/// Does `e1 ⊕ e2 ⊕ m1` give `m2` at some offset? True exactly when the two
/// bodies were encrypted with the same keystream there (one key, one nonce).
fn xor_recovers(e1: &[u8], m1: &[u8], e2: &[u8], m2: &[u8]) -> bool {
    let len = e1.len().min(e2.len());
    (0..=len - m1.len()).any(|at| (0..m1.len()).all(|i| e1[at + i] ^ e2[at + i] ^ m1[i] == m2[i]))
}

/// What one run of the scenario produced.
struct Outcome {
    /// What Bob's `recv` printed after m1 and m2 were sent.
    got: Vec<cairn_tests::cli::JsonLine>,
    /// Conversation envelopes the restored profile sent (the notice, m2).
    from_restored: Vec<Vec<u8>>,
}

const M1: &str = "SECRET-A the original device";
const M2: &str = "SECRET-B the restored backup";

/// Alice and Bob connect and exchange one message (`first_from_bob` picks who
/// writes it; the other's client confirms it with an automatic receipt). Alice
/// exports, sends m1, the backup is imported into a second profile that sends
/// m2; every envelope passes through the recording proxy. Checks that no
/// envelope of the restored profile shares a keystream or a nonce with m1's.
fn scenario(first_from_bob: bool) -> Outcome {
    let relay = RelayProcess::start(RelayOptions::plaintext());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let proxy = rt.block_on(FrameLog::start(relay.address()));
    let tmp = tempfile::tempdir().unwrap();
    let alice = CliUser::new(tmp.path(), "Alice", proxy.address());
    let bob = CliUser::new(tmp.path(), "Bob", proxy.address());
    let invite = ok(&alice, &["invite"]);
    ok(&bob, &["accept", invite.trim(), "--name", "alice"]);
    assert!(ok(&alice, &["recv"]).contains("Bob accepted your invite"));
    if first_from_bob {
        ok(&bob, &["send", "alice", "before the backup"]);
        // Alice's client confirms it: her sending chain is in use.
        assert_eq!(texts(&json(&alice, &["recv"])), vec!["before the backup"]);
    } else {
        ok(&alice, &["send", "Bob", "before the backup"]);
        // Bob's client confirms it: his ratchet key moves on after the backup.
        assert_eq!(texts(&json(&bob, &["recv"])), vec!["before the backup"]);
    }

    let backup = tmp.path().join("alice.backup");
    ok(&alice, &["export", &backup.to_string_lossy()]);
    assert_eq!(M1.len(), M2.len());
    let before = ratchet_envelopes(&proxy).len();
    ok(&alice, &["send", "Bob", M1]);
    let after_m1 = ratchet_envelopes(&proxy);
    let from_original = after_m1[before..].to_vec();
    assert_eq!(from_original.len(), 1, "m1 alone");

    let restored = CliUser {
        dir: tmp.path().join("alice-restored"),
    };
    ok(&restored, &["import", &backup.to_string_lossy()]);
    ok(&restored, &["send", "Bob", M2]);
    let from_restored = ratchet_envelopes(&proxy)[after_m1.len()..].to_vec();
    assert!(!from_restored.is_empty(), "the restored profile sent m2");

    // No envelope of the restored profile shares a keystream with m1's.
    for e2 in &from_restored {
        assert!(
            !xor_recovers(&from_original[0], M1.as_bytes(), e2, M2.as_bytes()),
            "m2 recovered from m1's envelope, an envelope of the restored profile and m1: \
             the same key and nonce were used twice"
        );
    }
    // Nor a nonce (PROTOCOL.md §9.3: encrypted header 50..130, body nonce 130..154).
    for e2 in &from_restored {
        assert_ne!(from_original[0][130..154], e2[130..154]);
    }
    assert_eq!(
        from_restored.len(),
        2,
        "the relay stored the restored profile's renewal notice, then m2"
    );
    let got = json(&bob, &["recv"]);
    assert!(texts(&got).contains(&M1.to_owned()), "{got:?}");
    assert!(
        !got.iter().any(|e| e.get("kind") == "rejected"),
        "never taken for tampering: {got:?}"
    );
    Outcome { got, from_restored }
}

fn count(got: &[cairn_tests::cli::JsonLine], kind: &str) -> usize {
    got.iter()
        .filter(|e| e.get("type") == "event" && e.get("kind") == kind)
        .count()
}

#[test]
fn a_restored_backup_renews_its_session_and_bob_follows() {
    // Bob has not moved on since the backup: he follows the renewal, shows the
    // restore, and — as he holds m1, which the backup does not — the fork.
    let Outcome { got, .. } = scenario(true);
    assert!(texts(&got).contains(&M2.to_owned()), "{got:?}");
    assert!(
        got.iter().any(|e| e.get("kind") == "restored"
            && e.get("detail") == "alice restored from a backup — session renewed"),
        "{got:?}"
    );
    assert_eq!(count(&got, "fork"), 1, "{got:?}");
}

#[test]
fn a_restored_backup_bob_cannot_follow_is_recorded_as_forks() {
    // Bob's receipt for the message before the backup moved his ratchet on: he
    // cannot read the restored profile, and records each of its envelopes as a
    // fork, neither as tampering nor silently.
    let Outcome { got, from_restored } = scenario(false);
    assert!(!texts(&got).contains(&M2.to_owned()), "{got:?}");
    assert_eq!(count(&got, "fork"), from_restored.len(), "{got:?}");
    assert!(
        got.iter()
            .all(|e| e.get("kind") != "fork" || e.get("detail").contains("restored or cloned")),
        "{got:?}"
    );
}
