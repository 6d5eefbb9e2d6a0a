//! Cairn's own test vectors (`protocol/tests/vectors/*.json`).
//!
//! Every random byte an operation draws is recorded in its `rng` list, in draw order,
//! so another implementation can feed exactly those bytes and must reproduce every
//! output byte for byte. This test *replays* the stored draws through our code and
//! checks every output, which proves the files are complete and correct.
//!
//! Regenerate (only when the wire format deliberately changes):
//! `CAIRN_WRITE_VECTORS=1 cargo test -p cairn-protocol --test vectors`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::path::PathBuf;

use cairn_protocol::content::Content;
use cairn_protocol::envelope::{Envelope, MailboxId};
use cairn_protocol::handshake::{AcceptorReply, accept_invite};
use cairn_protocol::identity::Identity;
use cairn_protocol::integrity::IntegrityEvent;
use cairn_protocol::invite::Invite;
use cairn_protocol::padding::BUCKETS;
use cairn_protocol::relay_address::RelayAddress;
use cairn_protocol::safety_number::SafetyNumber;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng as _, SeedableRng, TryCryptoRng, TryRng};
use serde_json::{Value, json};

/// Either draws fresh bytes (recording them) or replays stored ones.
struct VectorRng {
    fresh: Option<ChaCha20Rng>,
    replay: VecDeque<Vec<u8>>,
    log: Vec<String>,
}

impl TryRng for VectorRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        match &mut self.fresh {
            Some(r) => r.fill_bytes(dst),
            None => {
                let next = self
                    .replay
                    .pop_front()
                    .expect("vector file lists too few random draws");
                assert_eq!(next.len(), dst.len(), "random draw of unexpected size");
                dst.copy_from_slice(&next);
            }
        }
        self.log.push(hex::encode(&*dst));
        Ok(())
    }
}

impl TryCryptoRng for VectorRng {}

enum Mode {
    Write,
    Check(BTreeMap<String, Value>),
}

impl Mode {
    /// The RNG for the operation whose draws live at `file` / JSON `pointer`.
    fn rng(&self, file: &str, pointer: &str, seed: u64) -> VectorRng {
        match self {
            Mode::Write => VectorRng {
                fresh: Some(ChaCha20Rng::seed_from_u64(seed)),
                replay: VecDeque::new(),
                log: vec![],
            },
            Mode::Check(files) => {
                let draws = files[file]
                    .pointer(pointer)
                    .and_then(Value::as_array)
                    .expect("rng list");
                VectorRng {
                    fresh: None,
                    replay: draws
                        .iter()
                        .map(|d| hex::decode(d.as_str().unwrap()).unwrap())
                        .collect(),
                    log: vec![],
                }
            }
        }
    }
}

fn seed(start: u8) -> [u8; 32] {
    std::array::from_fn(|i| start + i as u8)
}

fn events_json(events: &[IntegrityEvent]) -> Value {
    Value::Array(events.iter().map(|e| json!(format!("{e:?}"))).collect())
}

fn build(mode: &Mode) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let alice = Identity::from_seed(seed(0x00));
    let bob = Identity::from_seed(seed(0x20));

    let ids: Vec<Value> = [(&alice, 0x00u8), (&bob, 0x20u8)]
        .iter()
        .map(|(id, s)| {
            let msg = b"Cairn test vector";
            json!({
                "seed": hex::encode(seed(*s)),
                "ed25519_public": hex::encode(id.public().signing_key()),
                "x25519_public": hex::encode(id.public().agreement_key()),
                "message": hex::encode(msg),
                "signature": hex::encode(id.sign(msg)),
            })
        })
        .collect();
    out.insert("identity.json".into(), json!({ "identities": ids }));

    let sn = SafetyNumber::new(&alice.public(), &bob.public());
    let sn_b = SafetyNumber::new(&bob.public(), &alice.public());
    out.insert(
        "safety_number.json".into(),
        json!({
            "alice_public": hex::encode(alice.public().to_bytes()),
            "bob_public": hex::encode(bob.public().to_bytes()),
            "digits": sn.digits(),
            "grouped": sn.grouped(),
            "qr_alice": hex::encode(sn.qr_payload()),
            "qr_bob": hex::encode(sn_b.qr_payload()),
        }),
    );

    // Bob invites.
    let relay_b: RelayAddress =
        "wss://relay.example.org:7447/#AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA"
            .parse()
            .unwrap();
    let mailbox_b = MailboxId([0xB0; 32]);
    let expires_at = 1_900_000_000u64;
    let mut rng = mode.rng("invite.json", "/rng", 1);
    let (invite, pending) = Invite::create(&bob, relay_b.clone(), mailbox_b, expires_at, &mut rng);
    out.insert(
        "invite.json".into(),
        json!({
            "inviter_seed": hex::encode(seed(0x20)),
            "relay": relay_b.to_string(),
            "mailbox": hex::encode(mailbox_b.0),
            "expires_at": expires_at,
            "rng": rng.log,
            "invite": hex::encode(invite.as_bytes()),
            "uri": invite.to_uri(),
            "invite_id": hex::encode(invite.id()),
        }),
    );

    // Alice accepts; Bob completes.
    let now = 1_850_000_000u64;
    let relay_a: RelayAddress = "ws://127.0.0.1:7447/".parse().unwrap();
    let reply = AcceptorReply {
        relay: relay_a.clone(),
        mailbox: MailboxId([0xA0; 32]),
        name: "Alice".into(),
    };
    let mut rng = mode.rng("handshake.json", "/rng", 2);
    let accepted = accept_invite(&invite, &alice, reply, now, &mut rng).unwrap();
    let completed = pending
        .complete(&bob, &Envelope::parse(&accepted.envelope).unwrap(), now + 1)
        .unwrap();
    assert_eq!(
        accepted.session.conversation_id(),
        completed.session.conversation_id()
    );
    out.insert(
        "handshake.json".into(),
        json!({
            "acceptor_seed": hex::encode(seed(0x00)),
            "reply_relay": relay_a.to_string(),
            "reply_mailbox": hex::encode([0xA0; 32]),
            "name": "Alice",
            "now": now,
            "rng": rng.log,
            "envelope": hex::encode(&accepted.envelope),
            "conversation_id": hex::encode(accepted.session.conversation_id()),
        }),
    );

    // A conversation with one message delivered out of order and a ratchet step each way.
    let (mut a, mut b) = (accepted.session, completed.session);
    let script: [(&str, &str); 5] = [
        ("alice", "hello bob"),
        ("alice", "second"),
        ("alice", "third"),
        ("bob", "hi alice"),
        ("alice", "after step"),
    ];
    let mut steps = Vec::new();
    let mut envelopes = Vec::new();
    for (i, (from, text)) in script.iter().enumerate() {
        let mut rng = mode.rng(
            "conversation.json",
            &format!("/sends/{i}/rng"),
            10 + i as u64,
        );
        let now_ms = 1_850_000_100_000 + i as u64 * 1000;
        let (session, me) = if *from == "alice" {
            (&mut a, &alice)
        } else {
            (&mut b, &bob)
        };
        let o = session
            .encrypt(me, &Content::Text((*text).into()), now_ms, &mut rng)
            .unwrap();
        steps.push(json!({
            "from": from, "text": text, "now_ms": now_ms, "rng": rng.log,
            "counter": o.counter, "envelope": hex::encode(&o.envelope),
        }));
        envelopes.push(o.envelope);
    }
    let mut receives = Vec::new();
    let mut state = None;
    for (k, (idx, to)) in [
        (0usize, "bob"),
        (2, "bob"),
        (1, "bob"),
        (3, "alice"),
        (4, "bob"),
    ]
    .into_iter()
    .enumerate()
    {
        let session = if to == "bob" { &mut b } else { &mut a };
        let now_ms = 1_850_000_200_000 + k as u64 * 1000;
        let r = session
            .decrypt(&Envelope::parse(&envelopes[idx]).unwrap(), now_ms)
            .unwrap();
        if k == 1 {
            // Send 2 arrived before send 1: one skipped key is stored.
            state = Some(json!({
                "after_receive": k,
                "now_ms": now_ms,
                "session": hex::encode(&*session.to_bytes()),
            }));
        }
        let Content::Text(t) = &r.content else {
            panic!("text expected")
        };
        receives.push(json!({ "send": idx, "to": to, "text": t, "counter": r.counter, "events": events_json(&r.events) }));
    }
    out.insert("session_state.json".into(), json!({
        "bob": state,
        "note": "Bob's local session state (PROTOCOL.md §14, ratchet encoding version 2) right after receive 1 of conversation.json (send 2 before send 1): one skipped key, for message 1 of Alice's first chain, with its counter (1) and storage time (now_ms). Not a wire format; pinned so stored profiles survive upgrades. legacy/session_state_v1.json is a state written by the version-1 encoding, which decoders must still read." }));
    out.insert("conversation.json".into(), json!({ "sends": steps, "receives": receives,
        "note": "Sends happen in order; receives are applied in the listed order (send 2 before send 1). Bob's send 3 is encrypted before he received anything, so it opens his first ratchet step." }));

    let padding: Vec<Value> = [0usize, 100, 719, 720, 1743, 1744, 3791, 3792]
        .iter()
        .map(|len| {
            let needed = 50 + 80 + 16 + 158 + len + 1;
            json!({ "text_len": len, "envelope_len": BUCKETS.iter().find(|b| **b >= needed) })
        })
        .collect();
    out.insert("padding.json".into(), json!({ "buckets": BUCKETS, "text_to_envelope": padding,
        "note": "A text of text_len bytes is sent in an envelope of envelope_len bytes (50-byte envelope header, 80-byte encrypted header, 16-byte tag, 158 bytes of inner-message fields and signature, 1 padding marker)." }));
    out
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

#[test]
fn vectors_reproduce() {
    if std::env::var_os("CAIRN_WRITE_VECTORS").is_some() {
        std::fs::create_dir_all(dir()).unwrap();
        for (name, value) in build(&Mode::Write) {
            std::fs::write(
                dir().join(name),
                serde_json::to_string_pretty(&value).unwrap() + "\n",
            )
            .unwrap();
        }
    }
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir()).expect("protocol/tests/vectors exists") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            files.insert(
                name,
                serde_json::from_str::<Value>(&std::fs::read_to_string(&path).unwrap()).unwrap(),
            );
        }
    }
    let rebuilt = build(&Mode::Check(files.clone()));
    assert_eq!(
        rebuilt.keys().collect::<Vec<_>>(),
        files.keys().collect::<Vec<_>>()
    );
    for (name, value) in rebuilt {
        assert_eq!(value, files[&name], "{name} does not reproduce");
    }
}

#[test]
fn padding_vectors_match_real_envelopes() {
    // The padding table is derived arithmetic; check it against real encryption.
    let files: Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("padding.json")).unwrap())
            .unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let alice = Identity::from_seed(seed(0));
    let bob = Identity::from_seed(seed(0x20));
    let relay: RelayAddress = "ws://127.0.0.1:1/".parse().unwrap();
    let (invite, _p) = Invite::create(&bob, relay.clone(), MailboxId([1; 32]), u64::MAX, &mut rng);
    let reply = AcceptorReply {
        relay,
        mailbox: MailboxId([2; 32]),
        name: String::new(),
    };
    let mut s = accept_invite(&invite, &alice, reply, 0, &mut rng)
        .unwrap()
        .session;
    for row in files["text_to_envelope"].as_array().unwrap() {
        let len = row["text_len"].as_u64().unwrap() as usize;
        let out = s
            .encrypt(&alice, &Content::Text("x".repeat(len)), 0, &mut rng)
            .unwrap();
        assert_eq!(
            out.envelope.len() as u64,
            row["envelope_len"].as_u64().unwrap(),
            "text of {len}"
        );
    }
}
