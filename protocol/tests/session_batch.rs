//! `Session::decrypt_batch` must be indistinguishable from calling
//! `Session::decrypt` on each envelope in turn: same results, same final state,
//! whatever the batch holds (reorders, duplicates, tampering, a key update, and
//! messages signed by a key the receiver does not accept yet).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use cairn_protocol::content::Content;
use cairn_protocol::envelope::Envelope;
use cairn_protocol::identity::Identity;
use cairn_protocol::session::Session;
use proptest::prelude::*;

/// Envelopes Alice sends: `n` texts, with an identity rotation after `rotate_at`
/// (the rotation's key update is envelope `rotate_at`, later ones are signed by the new key).
fn outgoing(seed: u64, n: usize, rotate_at: Option<usize>) -> (common::Pair, Vec<Vec<u8>>) {
    let mut p = common::pair(seed);
    let mut out = Vec::new();
    let mut me = Identity::from_seed(*p.alice.seed());
    for i in 0..n {
        if Some(i) == rotate_at {
            let new = Identity::generate(&mut p.rng);
            out.push(
                p.a.rotate_identity(&me, &new, 0, &mut p.rng)
                    .unwrap()
                    .envelope,
            );
            me = new;
        }
        let text = Content::Text(format!("message {i} {}", "x".repeat(i % 7 * 100)));
        out.push(
            p.a.encrypt(&me, &text, i as u64, &mut p.rng)
                .unwrap()
                .envelope,
        );
    }
    (p, out)
}

fn clone(s: &Session) -> Session {
    Session::from_bytes(&s.to_bytes()).unwrap()
}

/// Delivers `order` sequentially to one copy and in `chunks`-sized batches to another; compares.
fn check(receiver: &Session, envelopes: &[Vec<u8>], order: &[usize], chunk: usize) {
    let mut one = clone(receiver);
    let mut many = clone(receiver);
    let parsed: Vec<Envelope<'_>> = order
        .iter()
        .map(|&i| Envelope::parse(&envelopes[i]).unwrap())
        .collect();
    let expected: Vec<_> = parsed.iter().map(|e| one.decrypt(e, 0)).collect();
    let mut got = Vec::new();
    for part in parsed.chunks(chunk.max(1)) {
        got.extend(many.decrypt_batch(part, 0));
    }
    assert_eq!(got, expected);
    assert_eq!(*many.to_bytes(), *one.to_bytes());
}

#[test]
fn in_order_backlog_matches_one_by_one() {
    let (p, env) = outgoing(1, 40, None);
    let order: Vec<usize> = (0..env.len()).collect();
    for chunk in [1, 2, 7, 40] {
        check(&p.b, &env, &order, chunk);
    }
}

#[test]
fn tampered_envelope_inside_a_batch_is_rejected_alone() {
    let (p, mut env) = outgoing(2, 10, None);
    let last = env[4].len() - 1;
    env[4][last] ^= 1;
    let order: Vec<usize> = (0..env.len()).collect();
    check(&p.b, &env, &order, 10);
    let mut s = clone(&p.b);
    let parsed: Vec<Envelope<'_>> = env.iter().map(|e| Envelope::parse(e).unwrap()).collect();
    let results = s.decrypt_batch(&parsed, 0);
    assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
    assert!(results[4].is_err());
}

#[test]
fn new_key_without_its_update_fails_the_batch_and_falls_back() {
    // Envelope 3 is the key update; drop it so later ones carry an unknown signer.
    let (p, env) = outgoing(3, 8, Some(3));
    let order: Vec<usize> = (0..env.len()).filter(|&i| i != 3).collect();
    check(&p.b, &env, &order, 8);
    let mut s = clone(&p.b);
    let parsed: Vec<Envelope<'_>> = order
        .iter()
        .map(|&i| Envelope::parse(&env[i]).unwrap())
        .collect();
    let results = s.decrypt_batch(&parsed, 0);
    assert!(results[..3].iter().all(Result::is_ok));
    assert!(results[3..].iter().all(Result::is_err));
}

#[test]
fn key_update_inside_a_batch_is_handled_like_one_by_one() {
    let (p, env) = outgoing(4, 8, Some(3));
    let order: Vec<usize> = (0..env.len()).collect();
    check(&p.b, &env, &order, 9);
    let mut s = clone(&p.b);
    let parsed: Vec<Envelope<'_>> = env.iter().map(|e| Envelope::parse(e).unwrap()).collect();
    let results = s.decrypt_batch(&parsed, 0);
    assert!(results.iter().all(Result::is_ok));
    assert!(
        results[4..]
            .iter()
            .all(|r| r.as_ref().unwrap().from_pending_key)
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_delivery_order_matches_one_by_one(
        seed in 0u64..1_000,
        n in 1usize..24,
        rotate in prop::option::weighted(0.3, 0usize..24),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..40),
        chunk in 1usize..12,
    ) {
        let (p, env) = outgoing(seed, n, rotate.filter(|r| *r < n));
        let order: Vec<usize> = picks.iter().map(|i| i.index(env.len())).collect();
        check(&p.b, &env, &order, chunk);
    }
}
