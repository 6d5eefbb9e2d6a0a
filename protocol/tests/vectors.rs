//! Cairn's own test vectors (`protocol/tests/vectors/*.json`).
//!
//! Every random byte an operation draws is recorded in its `rng` list, in draw order,
//! so another implementation can feed exactly those bytes and must reproduce every
//! output byte for byte. This test *replays* the stored draws through our code and
//! checks every output, which proves the files are complete and correct.
//!
//! The intermediate values (handshake keys, per-message chain and message keys, inner
//! messages) are recomputed here from the formulas of PROTOCOL.md §8–§10 with the public
//! primitives only (`crypto`, `labels`) and the documented local state encoding (§14),
//! then checked against what the handshake and ratchet code produced. So the protocol
//! crate exposes nothing extra for them, and they are exactly what the spec derives.
//!
//! Regenerate (only when the wire format deliberately changes):
//! `CAIRN_WRITE_VECTORS=1 cargo test -p cairn-protocol --test vectors`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::path::PathBuf;

use cairn_protocol::content::Content;
use cairn_protocol::crypto::{dh, hkdf, hmac, open, sha256, xopen};
use cairn_protocol::envelope::{Envelope, MailboxId};
use cairn_protocol::frames::SendKey;
use cairn_protocol::handshake::{AcceptorReply, accept_invite};
use cairn_protocol::identity::Identity;
use cairn_protocol::integrity::IntegrityEvent;
use cairn_protocol::integrity::RESTORE_COUNTER_STEP;
use cairn_protocol::invite::Invite;
use cairn_protocol::labels;
use cairn_protocol::padding::{BUCKETS, unpadded_len};
use cairn_protocol::ratchet::RatchetError;
use cairn_protocol::relay_address::RelayAddress;
use cairn_protocol::safety_number::SafetyNumber;
use cairn_protocol::session::{Outgoing, Session, SessionError};
use cairn_protocol::wire::Reader;
use ml_kem::{B32, Decapsulate, DecapsulationKey, MlKem768, Seed};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng as _, SeedableRng, TryCryptoRng, TryRng};
use serde_json::{Value, json};

#[path = "vectors_formats/mod.rs"]
mod formats;
#[path = "vectors_formats/invite_link.rs"]
mod invite_link;
use formats::{content_vectors, relay_address_vectors};
use x25519_dalek::{PublicKey, StaticSecret};

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

/// Integrity events in a language-neutral form (PROTOCOL.md §11), in the order reported.
fn events_json(events: &[IntegrityEvent]) -> Value {
    Value::Array(
        events
            .iter()
            .map(|e| match *e {
                IntegrityEvent::Gap { from, to } => {
                    json!({ "event": "gap", "from": from, "to": to })
                }
                IntegrityEvent::LateArrival { counter } => {
                    json!({ "event": "late_arrival", "counter": counter })
                }
                IntegrityEvent::Duplicate { counter } => {
                    json!({ "event": "duplicate", "counter": counter })
                }
                IntegrityEvent::Fork { counter } => json!({ "event": "fork", "counter": counter }),
                IntegrityEvent::Restored { from, counter } => {
                    json!({ "event": "restored", "from": from, "counter": counter })
                }
            })
            .collect(),
    )
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

    out.insert("relay_address.json".into(), relay_address_vectors());

    // Bob invites.
    let relay_b: RelayAddress =
        "wss://relay.example.org:7447/#AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA"
            .parse()
            .unwrap();
    let mailbox_b = MailboxId([0xB0; 32]);
    let expires_at = 1_900_000_000u64;
    let mut rng = mode.rng("invite.json", "/rng", 1);
    let (invite, pending) = Invite::create(&bob, relay_b.clone(), mailbox_b, expires_at, &mut rng);
    let invite_draws = rng.log.clone();
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

    // Its short link (§7.1).
    let mut rng = mode.rng("invite_link.json", "/rng", 3);
    out.insert(
        "invite_link.json".into(),
        invite_link::vector(&invite, expires_at, &mut rng),
    );

    // Alice accepts; Bob completes.
    let now = 1_850_000_000u64;
    let relay_a: RelayAddress = "ws://127.0.0.1:7447/".parse().unwrap();
    let reply = AcceptorReply {
        relay: relay_a.clone(),
        mailbox: MailboxId([0xA0; 32]),
        send_key: SendKey::from_bytes([0x5E; 32]),
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
    let intermediate = handshake_intermediates(
        &invite,
        &invite_draws,
        &rng.log,
        &accepted.envelope,
        (&alice, &accepted.session),
        (&bob, &completed.session),
    );
    assert_eq!(completed.sent_at, now);
    out.insert(
        "handshake.json".into(),
        json!({
            "depends_on": "nothing: the invite and the inviter's secrets are copied here from invite.json",
            "invite": hex::encode(invite.as_bytes()),
            "inviter_seed": hex::encode(seed(0x20)),
            "inviter_invite_secret": invite_draws[0],
            "inviter_ml_kem_seed": invite_draws[1],
            "acceptor_seed": hex::encode(seed(0x00)),
            "reply_relay": relay_a.to_string(),
            "reply_mailbox": hex::encode([0xA0; 32]),
            "reply_send_key": hex::encode([0x5E; 32]),
            "name": "Alice",
            "now": now,
            "sent_at": now,
            "inviter_now": now + 1,
            "rng": rng.log,
            "envelope": hex::encode(&accepted.envelope),
            "conversation_id": hex::encode(accepted.session.conversation_id()),
            "intermediate": intermediate,
            "note": "now is the acceptor's clock (Unix seconds): the invite must not have expired at now, and the payload's sent_at is now. The inviter completes the handshake at inviter_now. rng: E_A secret, ML-KEM encapsulation randomness m, R_A secret, message id. intermediate: the values of PROTOCOL.md §8.1 under their names there, then the acceptor's first root step (§9.2: RK, CKs, NHKs = KDF_RK(root, DH(R_A, E_I))); the inviter's ratchet starts with the same RK, with CKr = that CKs and NHKr = that NHKs.",
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
        let before = RatchetView::of(session);
        let o = session
            .encrypt(me, &Content::Text((*text).into()), now_ms, &mut rng)
            .unwrap();
        let intermediate = send_intermediates(
            &session.conversation_id(),
            &before,
            &RatchetView::of(session),
            &rng.log,
            &o.envelope,
        );
        steps.push(json!({
            "from": from, "text": text, "now_ms": now_ms, "rng": rng.log,
            "counter": o.counter, "envelope": hex::encode(&o.envelope),
            "intermediate": intermediate,
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
        let before = RatchetView::of(session);
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
        receives.push(json!({ "send": idx, "to": to, "text": t, "counter": r.counter, "events": events_json(&r.events),
            "intermediate": receive_intermediates(&before, session, &envelopes[idx]) }));
    }

    // A restore, from the sessions as they are now (independent of the fork below).
    let restore = restore_vectors(mode, &alice, &a, &b);

    // Then a fork: Alice's device is cloned after the first message of her next chain,
    // and the original and the clone each send a different message with counter 5.
    let mut clone: Option<Session> = None;
    let fork_script: [(&str, &str); 4] = [
        ("alice", "new chain"),
        ("alice", "original 5"),
        ("alice", "original 6"),
        ("clone", "forked 5"),
    ];
    let mut fork_sends = Vec::new();
    let mut fork_envelopes = Vec::new();
    for (i, (from, text)) in fork_script.iter().enumerate() {
        if i == 1 {
            clone = Some(Session::from_bytes(&a.to_bytes()).unwrap());
        }
        let mut rng = mode.rng(
            "conversation.json",
            &format!("/fork/sends/{i}/rng"),
            20 + i as u64,
        );
        let now_ms = 1_850_000_200_000 + i as u64 * 1000;
        let session = if *from == "alice" {
            &mut a
        } else {
            clone.as_mut().unwrap()
        };
        let before = RatchetView::of(session);
        let o = session
            .encrypt(&alice, &Content::Text((*text).into()), now_ms, &mut rng)
            .unwrap();
        let intermediate = send_intermediates(
            &session.conversation_id(),
            &before,
            &RatchetView::of(session),
            &rng.log,
            &o.envelope,
        );
        fork_sends.push(json!({
            "from": from, "text": text, "now_ms": now_ms, "rng": rng.log,
            "counter": o.counter, "envelope": hex::encode(&o.envelope),
            "intermediate": intermediate,
        }));
        fork_envelopes.push(o.envelope);
    }
    let mut fork_receives = Vec::new();
    for idx in [0usize, 2, 3] {
        let before = RatchetView::of(&b);
        let r = b
            .decrypt(
                &Envelope::parse(&fork_envelopes[idx]).unwrap(),
                1_850_000_900_000,
            )
            .unwrap();
        let Content::Text(t) = &r.content else {
            panic!("text expected")
        };
        fork_receives.push(json!({ "send": idx, "to": "bob", "text": t, "counter": r.counter, "events": events_json(&r.events),
            "intermediate": receive_intermediates(&before, &b, &fork_envelopes[idx]) }));
    }
    out.insert("session_state.json".into(), json!({
        "bob": state,
        "note": "Bob's local session state (PROTOCOL.md §14, ratchet encoding version 2) right after receive 1 of conversation.json (send 2 before send 1): one skipped key, for message 1 of Alice's first chain, with its counter (1) and storage time (now_ms). Not a wire format; pinned so stored profiles survive upgrades. legacy/session_state_v1.json is a state written by the version-1 encoding, which decoders must still read." }));
    out.insert("conversation.json".into(), json!({ "sends": steps, "receives": receives, "restore": restore,
        "depends_on": "handshake.json: Alice is its acceptor (identity seed 000102…1f), Bob its inviter (seed 202122…3f); both continue the sessions that handshake establishes",
        "note": "Sends happen in order; receives are applied in the listed order (send 2 before send 1). Bob's send 3 is encrypted before he received anything, so it opens his first ratchet step. A send's rng lists its draws: message id (16), the new ratchet secret (32) when a DH step runs, the body nonce (24), the header nonce (24). Its intermediate values are those of PROTOCOL.md §9.3 under their names there: ratchet_step is the DH step (null if none; DH = DH(new DHs, DHr), then RK, CK, NHK = KDF_RK(RK, DH)), HKs the header key, header the 40-byte plain header, CK the chain key the message key comes from, MK = HMAC(CK, 0x01), next_CK = HMAC(CK, 0x02), key = HKDF(∅, MK, \"Cairn v1 message key\", 32) (§9.1), body_nonce the random XChaCha20-Poly1305 nonce of the body, inner the inner message before padding (§10.1) and integrity_hash its hash (§10.1). A receive's: which step of §9.4 opened the header (1 = HKr, 2 = NHKr, 3 = a header key of the skipped store), whether a stored skipped key was used, and how many skipped keys the receiver holds afterwards.",
        "fork": { "sends": fork_sends, "receives": fork_receives,
            "note": "After everything above: Alice sends 'new chain' (her deferred DH step), then her session is cloned (Session::to_bytes / from_bytes); the original sends counters 5 and 6, the clone a different counter 5. Bob receives send 0, send 2 (a gap), then the clone's send 3: one message, two events, in the order of PROTOCOL.md §11." } }));

    let padding: Vec<Value> = [0usize, 100, 695, 696, 1719, 1720, 3767, 3768]
        .iter()
        .map(|len| {
            let needed = 50 + 80 + 24 + 16 + 158 + len + 1;
            json!({ "text_len": len, "envelope_len": BUCKETS.iter().find(|b| **b >= needed) })
        })
        .collect();
    out.insert("content.json".into(), content_vectors());
    out.insert("padding.json".into(), json!({ "buckets": BUCKETS, "text_to_envelope": padding,
        "note": "A text of text_len bytes is sent in an envelope of envelope_len bytes (50-byte envelope header, 80-byte encrypted header, 24-byte body nonce, 16-byte tag, 158 bytes of inner-message fields and signature, 1 padding marker)." }));
    out
}

/// Alice's profile is backed up and restored elsewhere while the original goes on
/// (PROTOCOL.md §2 "A restored backup or a copied profile", §9.3, §10.2, §11).
fn restore_vectors(mode: &Mode, alice: &Identity, a: &Session, b: &Session) -> Value {
    let mut original = Session::from_bytes(&a.to_bytes()).unwrap();
    let mut bob = Session::from_bytes(&b.to_bytes()).unwrap();
    let mut restored = None;
    let mut restored_again = None;
    // (device, text; None = the restore notice of Session::renew_after_restore)
    let script: [(&str, Option<&str>); 6] = [
        ("original", Some("new chain")),
        ("original", Some("after the backup")),
        ("restored", None),
        ("restored", Some("from the restored profile")),
        ("original", Some("original again")),
        ("restored_again", None),
    ];
    let mut sends = Vec::new();
    let mut envs = Vec::new();
    for (i, (from, text)) in script.iter().enumerate() {
        if i == 1 {
            // The backup: a copy of the state after send 0.
            restored = Some(Session::from_bytes(&original.to_bytes()).unwrap());
            restored_again = Some(Session::from_bytes(&original.to_bytes()).unwrap());
        }
        let mut rng = mode.rng(
            "conversation.json",
            &format!("/restore/sends/{i}/rng"),
            30 + i as u64,
        );
        let now_ms = 1_850_000_300_000 + i as u64 * 1000;
        let session = match *from {
            "original" => &mut original,
            "restored" => restored.as_mut().unwrap(),
            _ => restored_again.as_mut().unwrap(),
        };
        let before = RatchetView::of(session);
        let o: Outgoing = match text {
            Some(t) => session.encrypt(alice, &Content::Text((*t).into()), now_ms, &mut rng),
            None => session.renew_after_restore(alice, now_ms, &mut rng),
        }
        .unwrap();
        let intermediate = send_intermediates(
            &session.conversation_id(),
            &before,
            &RatchetView::of(session),
            &rng.log,
            &o.envelope,
        );
        let content = match text {
            Some(t) => json!({ "kind": "text", "text": t }),
            None => json!({ "kind": "session_restored", "from": o.counter - RESTORE_COUNTER_STEP }),
        };
        sends.push(json!({
            "from": from, "content": content, "now_ms": now_ms, "rng": rng.log,
            "counter": o.counter, "envelope": hex::encode(&o.envelope),
            "intermediate": intermediate,
        }));
        envs.push(o.envelope);
    }
    let mut receives = Vec::new();
    for (idx, env) in envs.iter().enumerate() {
        let before = RatchetView::of(&bob);
        let now_ms = 1_850_000_400_000 + idx as u64 * 1000;
        receives.push(match bob.decrypt(&Envelope::parse(env).unwrap(), now_ms) {
            Ok(r) => json!({
                "send": idx, "to": "bob", "counter": r.counter,
                "content": match &r.content {
                    Content::Text(t) => json!({ "kind": "text", "text": t }),
                    Content::SessionRestored { from } => json!({ "kind": "session_restored", "from": from }),
                    other => panic!("unexpected {other:?}"),
                },
                "events": events_json(&r.events),
                "intermediate": receive_intermediates(&before, &bob, env),
            }),
            Err(SessionError::Ratchet(RatchetError::Duplicate { n })) => {
                json!({ "send": idx, "to": "bob", "error": { "error": "duplicate", "n": n } })
            }
            Err(SessionError::Ratchet(RatchetError::Forked { n })) => {
                json!({ "send": idx, "to": "bob", "error": { "error": "forked", "n": n } })
            }
            Err(e) => panic!("send {idx}: {e}"),
        });
    }
    json!({ "sends": sends, "receives": receives,
        "note": "Starts again from the two sessions as they are after the receives above (not after the fork below). The original device sends 'new chain' (its deferred DH step); then the profile is backed up (a copy of the session state); the original sends 'after the backup' (counter 5, same chain). The backup is restored: Session::renew_after_restore runs a DH step although Alice sent last (rng: message id, new ratchet secret, body nonce, header nonce; HKs = NHKs of the backup) and sends the signed notice, content kind 5 (§10.2) naming from = 5, at counter 5 + 1,000,000,000 (§11); then the restored profile sends a text. Bob, who has not replied since the backup, follows the DH step (§9.4 step 2) and reports the restore and, as he holds a message 5 the backup does not, a fork. The original then sends from its old chain: its header opens only under an earlier header key (§9.4 step 4): a used position, 'duplicate', which a client that has not seen its message id records as a fork (§11). Last, the same backup is restored a second time and renews too: its header opens under Bob's current header key but names another ratchet key than that chain's: 'forked' (§9.4), the message cannot be read." })
}

fn d32(hex_str: &str) -> [u8; 32] {
    hex::decode(hex_str).unwrap().try_into().unwrap()
}

fn h(bytes: &[u8]) -> Value {
    json!(hex::encode(bytes))
}

/// The ratchet state as a session's local encoding stores it (PROTOCOL.md §14).
struct RatchetView {
    dhs: [u8; 32],
    dhr: Option<[u8; 32]>,
    rk: [u8; 32],
    cks: Option<[u8; 32]>,
    hks: Option<[u8; 32]>,
    hkr: Option<[u8; 32]>,
    nhks: [u8; 32],
    nhkr: [u8; 32],
    ns: u32,
    nr: u32,
    pn: u32,
    step_pending: bool,
}

impl RatchetView {
    fn of(session: &Session) -> Self {
        fn opt(r: &mut Reader<'_>) -> Option<[u8; 32]> {
            match r.u8().unwrap() {
                0 => None,
                1 => Some(r.array().unwrap()),
                other => panic!("opt tag {other}"),
            }
        }
        let bytes = session.to_bytes();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u8().unwrap(), 2, "session version (PROTOCOL.md §14)");
        r.take(32 + 64 + 64).unwrap(); // conversation id, my and peer identity
        if r.u8().unwrap() == 1 {
            r.take(64).unwrap(); // pending peer identity
        }
        r.take(32 + 32).unwrap(); // mailboxes
        if r.u8().unwrap() == 1 {
            r.take(32).unwrap(); // the mailbox we moved away from
        }
        assert_eq!(r.u8().unwrap(), 2, "ratchet version (PROTOCOL.md §14)");
        let dhs = r.array().unwrap();
        let dhr = opt(&mut r);
        let rk = r.array().unwrap();
        let cks = opt(&mut r);
        let _ckr = opt(&mut r);
        let hks = opt(&mut r);
        let hkr = opt(&mut r);
        Self {
            dhs,
            dhr,
            rk,
            cks,
            hks,
            hkr,
            nhks: r.array().unwrap(),
            nhkr: r.array().unwrap(),
            ns: r.u32().unwrap(),
            nr: r.u32().unwrap(),
            pn: r.u32().unwrap(),
            step_pending: r.u8().unwrap() & 1 == 1,
        }
    }
}

/// `KDF_RK` (PROTOCOL.md §9.1): `RK' ‖ CK ‖ NHK`.
fn kdf_rk(rk: &[u8; 32], dh_out: &[u8; 32]) -> ([u8; 32], [u8; 32], [u8; 32]) {
    let okm = hkdf::<96>(Some(rk), dh_out, labels::ROOT_STEP);
    (
        okm[..32].try_into().unwrap(),
        okm[32..64].try_into().unwrap(),
        okm[64..].try_into().unwrap(),
    )
}

/// Recomputes every value of the handshake (PROTOCOL.md §8.1, §9.2) from the inputs
/// and the recorded draws, independently of the handshake code, and checks it against
/// what that code produced (the envelope, the conversation id, both ratchet states).
fn handshake_intermediates(
    invite: &Invite,
    invite_draws: &[String],
    draws: &[String],
    envelope: &[u8],
    (acceptor, acceptor_session): (&Identity, &Session),
    (inviter, inviter_session): (&Identity, &Session),
) -> Value {
    let e_i = StaticSecret::from(d32(&invite_draws[0]));
    let e_i_pub = PublicKey::from(&e_i).to_bytes();
    let kem_seed: [u8; 64] = hex::decode(&invite_draws[1]).unwrap().try_into().unwrap();
    let dk = DecapsulationKey::<MlKem768>::from_seed(Seed::from(kem_seed));
    let e_a = StaticSecret::from(d32(&draws[0]));
    let e_a_pub = PublicKey::from(&e_a).to_bytes();
    let m = d32(&draws[1]);
    let r_a = d32(&draws[2]);

    let body = &envelope[50..];
    assert_eq!(body[..32], e_a_pub);
    let ct = &body[32..32 + 1088];
    let (ct_again, ss) = dk
        .encapsulation_key()
        .encapsulate_deterministic(&B32::from(m));
    assert_eq!(
        ct_again.as_slice(),
        ct,
        "ML-KEM-768.Encaps_internal(K_I, m)"
    );
    let ss: [u8; 32] = ss.into();
    let ss_inviter: [u8; 32] = dk.decapsulate_slice(ct).unwrap().into();
    assert_eq!(ss, ss_inviter);

    let th = sha256(&[
        labels::HANDSHAKE_TRANSCRIPT,
        invite.as_bytes(),
        &e_a_pub,
        ct,
    ]);
    let dh2 = dh(&e_a, inviter.public().agreement_key()).unwrap();
    let dh3 = dh(&e_a, &e_i_pub).unwrap();
    let ikm = [&[0xFF; 32][..], &dh2[..], &dh3[..], &ss].concat();
    let stage1 = hkdf::<64>(Some(&th), &ikm, labels::HANDSHAKE_STAGE1);
    let (payload_key, chain) = (&stage1[..32], &stage1[32..]);
    let mut sealed = body[32 + 1088..].to_vec();
    open(
        payload_key.try_into().unwrap(),
        &[0; 12],
        &envelope[..50],
        &mut sealed,
    )
    .unwrap();
    let payload = &sealed[..unpadded_len(&sealed).unwrap()];

    let dh1 = dh(&e_i, acceptor.public().agreement_key()).unwrap();
    let th2 = sha256(&[labels::HANDSHAKE_TRANSCRIPT, &th, payload]);
    let stage2 = hkdf::<128>(
        Some(&th2),
        &[chain, &dh1[..]].concat(),
        labels::HANDSHAKE_STAGE2,
    );
    let [root, hk_a, nhk_i, conversation]: [[u8; 32]; 4] =
        std::array::from_fn(|i| stage2[i * 32..(i + 1) * 32].try_into().unwrap());
    assert_eq!(conversation, acceptor_session.conversation_id());
    assert_eq!(conversation, inviter_session.conversation_id());

    let dh_init = dh(&StaticSecret::from(r_a), &e_i_pub).unwrap();
    let (rk, cks, nhks) = kdf_rk(&root, &dh_init);
    let a = RatchetView::of(acceptor_session);
    assert_eq!(
        (a.dhs, a.dhr, a.rk, a.cks, a.hks, a.hkr, a.nhks, a.nhkr),
        (
            r_a,
            Some(e_i_pub),
            rk,
            Some(cks),
            Some(hk_a),
            None,
            nhks,
            nhk_i
        )
    );
    let b = RatchetView::of(inviter_session);
    assert_eq!(
        (b.dhs, b.rk, b.hks, b.hkr, b.nhks, b.nhkr, b.step_pending),
        (e_i.to_bytes(), rk, None, Some(hk_a), nhk_i, nhks, true)
    );
    json!({
        "E_A_public": h(&e_a_pub),
        "ct": h(ct),
        "ss": h(&ss),
        "th": h(&th),
        "DH2": h(&*dh2),
        "DH3": h(&*dh3),
        "payload_key": h(payload_key),
        "chain": h(chain),
        "payload": h(payload),
        "DH1": h(&*dh1),
        "th2": h(&th2),
        "root": h(&root),
        "hk_a": h(&hk_a),
        "nhk_i": h(&nhk_i),
        "conversation_id": h(&conversation),
        "acceptor_ratchet": {
            "R_A_public": h(PublicKey::from(&StaticSecret::from(r_a)).as_bytes()),
            "DH": h(&*dh_init),
            "RK": h(&rk),
            "CKs": h(&cks),
            "NHKs": h(&nhks),
        },
    })
}

/// Recomputes one message's keys (PROTOCOL.md §9.1, §9.3) from the sender's state before
/// and after `encrypt` and the recorded draws, and checks them by opening the envelope.
fn send_intermediates(
    conversation: &[u8; 32],
    before: &RatchetView,
    after: &RatchetView,
    draws: &[String],
    envelope: &[u8],
) -> Value {
    // A DH step runs when one was pending (§9.5) or the session renews (§9.3).
    let (ck, step) = if before.step_pending || after.dhs != before.dhs {
        let new = d32(&draws[1]);
        assert_eq!(after.dhs, new, "the new ratchet secret is the second draw");
        let dh_out = dh(&StaticSecret::from(new), &before.dhr.unwrap()).unwrap();
        let (rk, ck, nhk) = kdf_rk(&before.rk, &dh_out);
        assert_eq!((after.rk, after.nhks), (rk, nhk));
        assert_eq!(after.hks, Some(before.nhks));
        assert_eq!(after.pn, before.ns);
        let step = json!({ "DH": h(&*dh_out), "RK": h(&rk), "CK": h(&ck), "NHK": h(&nhk) });
        (ck, step)
    } else {
        assert_eq!((after.rk, after.hks), (before.rk, before.hks));
        (before.cks.unwrap(), Value::Null)
    };
    let mk = hmac(&ck, &[0x01]);
    let next_ck = hmac(&ck, &[0x02]);
    assert_eq!(after.cks, Some(*next_ck));
    let key = hkdf::<32>(None, &*mk, labels::MESSAGE_KEY);
    let hks = after.hks.unwrap();
    let mut header = PublicKey::from(&StaticSecret::from(after.dhs))
        .to_bytes()
        .to_vec();
    header.extend_from_slice(&after.pn.to_be_bytes());
    header.extend_from_slice(&(after.ns - 1).to_be_bytes());

    let (envelope_header, enc_header) = (&envelope[..50], &envelope[50..130]);
    let body_nonce: [u8; 24] = envelope[130..154].try_into().unwrap();
    assert_eq!(hex::encode(&enc_header[..24]), *draws.last().unwrap());
    assert_eq!(hex::encode(body_nonce), draws[draws.len() - 2]);
    // The header's associated data: envelope header ‖ body nonce ‖ sealed body.
    let header_ad = [envelope_header, &envelope[130..]].concat();
    let mut opened = enc_header[24..].to_vec();
    xopen(
        &hks,
        enc_header[..24].try_into().unwrap(),
        &header_ad,
        &mut opened,
    )
    .unwrap();
    assert_eq!(opened, header);
    // The body's: envelope header ‖ conversation id ‖ plain header.
    let ad = [envelope_header, &conversation[..], &header].concat();
    let mut body = envelope[154..].to_vec();
    xopen(&key, &body_nonce, &ad, &mut body).unwrap();
    let inner = &body[..unpadded_len(&body).unwrap()];
    let hash = sha256(&[
        labels::MESSAGE_HASH,
        conversation,
        &inner[inner.len() - 64..],
    ]);
    json!({
        "ratchet_step": step,
        "HKs": h(&hks),
        "header": h(&header),
        "CK": h(&ck),
        "MK": h(&*mk),
        "next_CK": h(&*next_ck),
        "key": h(&*key),
        "body_nonce": h(&body_nonce),
        "inner": h(inner),
        "integrity_hash": h(&hash),
    })
}

/// Which rule of PROTOCOL.md §9.4 opened a received message's header.
fn receive_intermediates(before: &RatchetView, after: &Session, envelope: &[u8]) -> Value {
    let enc_header = &envelope[50..130];
    let header_ad = [&envelope[..50], &envelope[130..]].concat();
    let open_with = |hk: &[u8; 32]| {
        let mut buf = enc_header[24..].to_vec();
        xopen(
            hk,
            enc_header[..24].try_into().unwrap(),
            &header_ad,
            &mut buf,
        )
        .ok()
        .map(|()| u32::from_be_bytes(buf[36..40].try_into().unwrap()))
    };
    let (step, n) = if let Some(n) = before.hkr.as_ref().and_then(open_with) {
        (1, n)
    } else if let Some(n) = open_with(&before.nhkr) {
        (2, n)
    } else {
        (3, u32::MAX)
    };
    json!({
        "header_opened_by_step": step,
        "used_skipped_key": step == 3 || (step == 1 && n < before.nr),
        "skipped_keys_stored": after.stored_skipped_keys(),
    })
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
        send_key: SendKey::from_bytes([3; 32]),
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
