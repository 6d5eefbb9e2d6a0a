//! Property: under any interleaving of sends in both directions with drops, duplicates and
//! reorders, every delivered message decrypts exactly once (later copies are refused as
//! duplicates) and the integrity events are exactly those a simple model predicts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;

use cairn_protocol::content::Content;
use cairn_protocol::envelope::Envelope;
use cairn_protocol::integrity::IntegrityEvent;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    /// Side 0 = acceptor, 1 = inviter.
    Send(usize),
    /// Deliver the in-flight message at `pick % len` to the other side; keep a copy if `dup`.
    Deliver { to: usize, pick: usize, dup: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..2).prop_map(Op::Send),
        (0usize..2, any::<usize>(), prop::bool::weighted(0.2))
            .prop_map(|(to, pick, dup)| Op::Deliver { to, pick, dup }),
    ]
}

/// What the receiver has seen from one sender, to predict integrity events.
#[derive(Default)]
struct Model {
    next: u64,
    missing: BTreeSet<u64>,
    delivered: BTreeSet<u64>,
}

impl Model {
    fn expect(&mut self, c: u64) -> Vec<IntegrityEvent> {
        self.delivered.insert(c);
        if c == self.next {
            self.next += 1;
            vec![]
        } else if c > self.next {
            let ev = IntegrityEvent::Gap {
                from: self.next,
                to: c - 1,
            };
            self.missing.extend(self.next..c);
            self.next = c + 1;
            vec![ev]
        } else {
            assert!(self.missing.remove(&c));
            vec![IntegrityEvent::LateArrival { counter: c }]
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn exactly_once_and_exact_events(seed in any::<u64>(), ops in prop::collection::vec(op(), 1..60)) {
        let mut p = common::pair(seed);
        // in_flight[to] = envelopes travelling towards side `to`: (counter, text, bytes)
        let mut in_flight: [Vec<(u64, String, Vec<u8>)>; 2] = [vec![], vec![]];
        let mut models = [Model::default(), Model::default()];
        let mut sent = [0u64; 2];
        for op in ops {
            match op {
                Op::Send(from) => {
                    let text = format!("{from}-{}", sent[from]);
                    let (session, me) = if from == 0 { (&mut p.a, &p.alice) } else { (&mut p.b, &p.bob) };
                    let out = session.encrypt(me, &Content::Text(text.clone()), 0, &mut p.rng).unwrap();
                    prop_assert_eq!(out.counter, sent[from]);
                    sent[from] += 1;
                    in_flight[1 - from].push((out.counter, text, out.envelope));
                }
                Op::Deliver { to, pick, dup } => {
                    if in_flight[to].is_empty() { continue; }
                    let i = pick % in_flight[to].len();
                    let (counter, text, bytes) = if dup {
                        in_flight[to][i].clone()
                    } else {
                        in_flight[to].remove(i)
                    };
                    let session = if to == 0 { &mut p.a } else { &mut p.b };
                    let result = session.decrypt(&Envelope::parse(&bytes).unwrap(), 0);
                    let model = &mut models[to];
                    if model.delivered.contains(&counter) {
                        let err = result.expect_err("second delivery must be refused");
                        prop_assert!(err.is_duplicate(), "{:?}", err);
                    } else {
                        let got = result.unwrap();
                        prop_assert_eq!(got.content, Content::Text(text));
                        prop_assert_eq!(got.counter, counter);
                        prop_assert_eq!(got.events, model.expect(counter));
                    }
                }
            }
        }
        // Whatever was never delivered is exactly what each side reports missing,
        // up to the highest counter it saw.
        for (to, model) in models.iter().enumerate() {
            let session = if to == 0 { &p.a } else { &p.b };
            let expected: Vec<u64> = model.missing.iter().copied().collect();
            prop_assert_eq!(session.missing_counters(), expected);
        }
    }
}
