//! Shared fixtures for the `cairn-protocol` fuzz targets.
//!
//! Everything here is deterministic (`ChaCha20Rng` with fixed seeds), built once per
//! process (`fixtures()`), and reused both by the targets (fixed sessions, invites) and
//! by `examples/gen_corpus.rs`, which writes the structured seed corpus ([`seeds`]).
//!
//! Conventions shared by the targets: where a target has several modes, the first
//! input byte selects the mode (`data[0] % MODES`) and the rest is the mode's input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use cairn_protocol::relay_address::{RelayAddress, Transport};
use cairn_protocol::content::{Content, KeyUpdate};
use cairn_protocol::crypto::{dh, hkdf, seal, sha256};
use cairn_protocol::envelope::{BodyKind, Envelope, HEADER_LEN, MailboxId, MessageId, write_header};
use cairn_protocol::handshake::{AcceptorReply, accept_invite};
use cairn_protocol::identity::Identity;
use cairn_protocol::invite::{Invite, KEM_PUBLIC_LEN, PendingInvite};
use cairn_protocol::labels;
use cairn_protocol::inner::{Inner, NO_ACK};
use cairn_protocol::padding::{bucket_for, pad_in_place};
use cairn_protocol::frames::{ClientFrame, ClientRequest, ErrorCode, RelayFrame, RelayStats, SendKey};
use cairn_protocol::session::Session;
use cairn_protocol::wire::{Reader, Writer};
use ml_kem::{Encapsulate, EncapsulationKey, MlKem768, TryKeyInit};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use x25519_dalek::{PublicKey, StaticSecret};

/// The protocol's own integration-test setup: a real invite → accept → complete handshake.
#[path = "../../tests/common/mod.rs"]
mod common;

/// The protocol tests' clock (Unix seconds), re-exported for the targets.
pub const NOW: u64 = common::NOW;

/// ML-KEM-768 ciphertext length (handshake body).
pub const KEM_CIPHERTEXT_LEN: usize = 1088;

/// Everything the targets need, built once.
pub struct Fixtures {
    /// Acceptor identity (sends the handshake, "Alice").
    pub alice: Identity,
    /// Inviter identity ("Bob").
    pub bob: Identity,
    /// Alice's new identity after `rotate_identity` (the key update seed).
    pub alice2: Identity,
    /// Bob's session state (the receiver in `session_decrypt`): has received m0 and m2
    /// (m1 is a held skipped key), sent r0, which Alice received.
    pub bob_session: Vec<u8>,
    /// Alice's session state matching `bob_session`, *before* m4 and m5 were sent.
    pub alice_session: Vec<u8>,
    /// Bob's state after also receiving the key update m5 (a pending peer identity).
    pub bob_session_pending_key: Vec<u8>,
    /// Envelopes for Bob not yet delivered to `bob_session`: m1 (skipped key), m3 (old
    /// chain), m4 (new DH chain), m5 (key update), and a replay of m0.
    pub to_bob: Vec<Vec<u8>>,
    /// Bob's pending invite (for `handshake_complete`), stored bytes.
    pub pending: Vec<u8>,
    /// Its public invite bytes.
    pub invite: Vec<u8>,
    /// A real handshake envelope completing `pending`.
    pub handshake: Vec<u8>,
    /// More invites with other relay address forms (plaintext, IPv6), and their pendings.
    pub more_invites: Vec<(Vec<u8>, Vec<u8>)>,
}

fn relay(n: u8) -> RelayAddress {
    common::relay(n)
}

fn text(s: &str) -> Content {
    Content::Text(s.to_owned())
}

/// Builds the fixtures (deterministic; panics only if the protocol itself is broken).
pub fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(build)
}

fn build() -> Fixtures {
    let common::Pair {
        alice,
        bob,
        mut a,
        mut b,
        mut rng,
    } = common::pair(7);
    let mut t = NOW * 1000;
    let mut send = |s: &mut Session, who: &Identity, c: &Content, rng: &mut ChaCha20Rng| {
        t += 1000;
        s.encrypt(who, c, t, rng).unwrap().envelope
    };
    let m: Vec<Vec<u8>> = (0..4)
        .map(|i| send(&mut a, &alice, &text(&format!("m{i}")), &mut rng))
        .collect();
    for i in [0, 2] {
        b.decrypt(&Envelope::parse(&m[i]).unwrap(), 0).unwrap();
    }
    let r0 = send(&mut b, &bob, &text("r0"), &mut rng);
    a.decrypt(&Envelope::parse(&r0).unwrap(), 0).unwrap();
    let alice_session = a.to_bytes().to_vec();
    let bob_session = b.to_bytes().to_vec();
    let m4 = send(
        &mut a,
        &alice,
        &Content::Delivered(vec![0, 1, u64::MAX]),
        &mut rng,
    );
    let alice2 = Identity::from_seed([0xA2; 32]);
    let m5 = a.rotate_identity(&alice, &alice2, t + 5, &mut rng).unwrap().envelope;
    let mut b2 = Session::from_bytes(&bob_session).unwrap();
    b2.decrypt(&Envelope::parse(&m4).unwrap(), 0).unwrap();
    let got = b2.decrypt(&Envelope::parse(&m5).unwrap(), 0).unwrap();
    assert!(matches!(got.content, Content::KeyUpdate(_)));
    let bob_session_pending_key = b2.to_bytes().to_vec();

    // Bob's own invite, accepted by Alice, for the handshake target.
    let (invite, pending) = Invite::create(
        &bob,
        relay(1),
        MailboxId([0xB1; 32]),
        NOW + 3600,
        &mut rng,
    );
    let reply = AcceptorReply {
        relay: relay(2),
        mailbox: MailboxId([0xA1; 32]),
        send_key: SendKey::from_bytes([0x5E; 32]),
        name: "Alice".into(),
    };
    let accepted = accept_invite(&invite, &alice, reply, NOW, &mut rng).unwrap();
    let mut more_invites = Vec::new();
    for (host, transport) in [
        ("localhost", Transport::Plaintext),
        ("2001:db8::7", Transport::Tls { pin: [0x55; 32] }),
    ] {
        let relay = RelayAddress::new(host, 1, transport).unwrap();
        let (i, p) = Invite::create(&bob, relay, MailboxId([0xB2; 32]), u64::MAX, &mut rng);
        more_invites.push((i.as_bytes().to_vec(), p.to_bytes().to_vec()));
    }
    let f = Fixtures {
        alice,
        bob,
        alice2,
        bob_session,
        alice_session,
        bob_session_pending_key,
        to_bob: vec![m[1].clone(), m[3].clone(), m4, m5, m[0].clone()],
        pending: pending.to_bytes().to_vec(),
        invite: invite.as_bytes().to_vec(),
        handshake: accepted.envelope,
        more_invites,
    };
    // The hand-built acceptor below must agree with the real one, or the structured
    // handshake mode would only ever exercise the "tampered" path.
    let fields = acceptor_fields(&f, [9; 32], &relay(2), &[0xA1; 32], &[0x5E; 32], b"Alice", NOW);
    let env = hand_built_handshake(&f, &fields, true, &mut ChaCha20Rng::seed_from_u64(1));
    let p = PendingInvite::from_bytes(&f.pending).unwrap();
    p.complete(&f.bob, &Envelope::parse(&env).unwrap(), NOW)
        .expect("hand-built handshake must complete");
    f
}

// ---------------------------------------------------------------------------------------
// Helpers used by several targets.

/// Wraps arbitrary bytes as an envelope body: a valid header for `mailbox`, then `body`
/// zero-filled or cut to the smallest bucket that holds it. Lets the fuzzer reach the
/// decrypt paths, which refuse every length that is not exactly a bucket.
pub fn wrap_envelope(mailbox: &MailboxId, id: [u8; 16], kind: BodyKind, body: &[u8]) -> Vec<u8> {
    let bucket = bucket_for(HEADER_LEN + body.len()).unwrap_or(65536);
    let mut v = Vec::with_capacity(bucket);
    write_header(&mut v, mailbox, &MessageId(id), kind);
    v.extend_from_slice(&body[..body.len().min(bucket - HEADER_LEN)]);
    v.resize(bucket, 0);
    v
}

/// Offset of the identity field in invite bytes (`version ‖ relay ‖ mailbox ‖ identity …`),
/// or `None` when the relay address does not decode.
pub fn invite_identity_offset(fields: &[u8]) -> Option<usize> {
    let mut r = Reader::new(fields.get(1..)?);
    RelayAddress::decode(&mut r).ok()?;
    Some(fields.len() - r.remaining() + 32)
}

/// Makes arbitrary invite *fields* (everything before the signature) verify: puts Bob's
/// public identity at its offset (when the relay address parses and there is room) and
/// appends Bob's signature. Lets the fuzzer get past the signature check.
pub fn resign_invite(fields: &[u8], ephemeral: Option<[u8; 32]>) -> Vec<u8> {
    let f = fixtures();
    let mut v = fields.to_vec();
    if let Some(off) = invite_identity_offset(&v) {
        if v.len() >= off + 64 {
            v[off..off + 64].copy_from_slice(&f.bob.public().to_bytes());
        }
        if let Some(e) = ephemeral
            && v.len() >= off + 96
        {
            v[off + 64..off + 96].copy_from_slice(&e);
        }
    }
    let mut signed = labels::INVITE_SIGNATURE.to_vec();
    signed.extend_from_slice(&v);
    let sig = f.bob.sign(&signed);
    v.extend_from_slice(&sig);
    v
}

/// `PendingInvite` storage bytes whose invite verifies and whose X25519 secret matches:
/// input is `invite fields ‖ x25519 secret (32) ‖ ML-KEM seed (64)`.
pub fn resign_pending(data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < 96 {
        return None;
    }
    let (fields, secrets) = data.split_at(data.len() - 96);
    let secret: [u8; 32] = secrets[..32].try_into().ok()?;
    let public = PublicKey::from(&StaticSecret::from(secret)).to_bytes();
    let invite = resign_invite(fields, Some(public));
    let mut w = Writer::default();
    w.u8(1).bytes_u16(&invite).put(secrets);
    Some(w.into_vec())
}

/// Splits a stored invite into `(ephemeral, kem key)` (both crate-private in the API).
fn invite_keys(invite: &[u8]) -> ([u8; 32], &[u8]) {
    let off = invite_identity_offset(invite).unwrap() + 64;
    let e: [u8; 32] = invite[off..off + 32].try_into().unwrap();
    (e, &invite[off + 32..off + 32 + KEM_PUBLIC_LEN])
}

/// Handshake payload fields as `accept_invite` writes them (before the signature).
pub fn acceptor_fields(
    f: &Fixtures,
    ratchet_secret: [u8; 32],
    relay: &RelayAddress,
    mailbox: &[u8; 32],
    send_key: &[u8; 32],
    name: &[u8],
    now: u64,
) -> Vec<u8> {
    let mut w = Writer::default();
    w.u8(1)
        .put(&f.alice.public().to_bytes())
        .put(PublicKey::from(&StaticSecret::from(ratchet_secret)).as_bytes());
    relay.encode(&mut w);
    w.put(mailbox).put(send_key).bytes_u8(name).u64(now);
    w.into_vec()
}

/// An independent implementation of the acceptor's sealing (PROTOCOL.md, "Handshake")
/// around *arbitrary* payload fields, so the inviter's payload parser sees malformed
/// payloads that authenticate. With `sign`, Alice's identity is written at the identity
/// offset and her valid signature is appended; without, the fields are sealed as given
/// (the fuzzer supplies its own "signature").
pub fn hand_built_handshake(
    f: &Fixtures,
    fields: &[u8],
    sign: bool,
    rng: &mut ChaCha20Rng,
) -> Vec<u8> {
    let (ephemeral, kem) = invite_keys(&f.invite);
    let ek = EncapsulationKey::<MlKem768>::new_from_slice(kem).unwrap();
    let mut ea = [0u8; 32];
    rng.fill_bytes(&mut ea);
    let ea = StaticSecret::from(ea);
    let ea_pub = PublicKey::from(&ea).to_bytes();
    let (ct, ss) = ek.encapsulate_with_rng(rng);
    let ss = <[u8; 32]>::from(ss);
    let th = sha256(&[labels::HANDSHAKE_TRANSCRIPT, &f.invite, &ea_pub, &ct]);
    let dh2 = dh(&ea, f.bob.public().agreement_key()).unwrap();
    let dh3 = dh(&ea, &ephemeral).unwrap();
    let mut ikm = vec![0xFF; 32];
    ikm.extend_from_slice(&*dh2);
    ikm.extend_from_slice(&*dh3);
    ikm.extend_from_slice(&ss);
    let okm = hkdf::<64>(Some(&th), &ikm, labels::HANDSHAKE_STAGE1);
    let key: [u8; 32] = okm[..32].try_into().unwrap();
    let mut payload = fields.to_vec();
    if sign {
        if payload.len() >= 65 {
            payload[1..65].copy_from_slice(&f.alice.public().to_bytes());
        }
        let mut signed = labels::ACCEPT_SIGNATURE.to_vec();
        signed.extend_from_slice(&th);
        signed.extend_from_slice(&payload);
        let sig = f.alice.sign(&signed);
        payload.extend_from_slice(&sig);
    }
    let fixed = 32 + KEM_CIPHERTEXT_LEN + 16;
    let bucket = bucket_for(HEADER_LEN + fixed + payload.len() + 1).unwrap_or(65536);
    let mut sealed = payload;
    sealed.truncate(bucket - HEADER_LEN - fixed - 1);
    pad_in_place(&mut sealed, bucket - HEADER_LEN - fixed).unwrap();
    let invite = Invite::from_bytes(&f.invite, 0).unwrap();
    let mut env = Vec::with_capacity(bucket);
    let mut id = [0u8; 16];
    rng.fill_bytes(&mut id);
    write_header(&mut env, &invite.mailbox(), &MessageId(id), BodyKind::Handshake);
    seal(&key, &[0; 12], &env, &mut sealed).unwrap();
    env.extend_from_slice(&ea_pub);
    env.extend_from_slice(&ct);
    env.extend_from_slice(&sealed);
    env
}

/// Length of the session-state prefix before the integrity state, parsed per
/// PROTOCOL.md "Session state" (the codec types are crate-private).
pub fn integrity_offset(s: &[u8]) -> Option<usize> {
    let mut r = Reader::new(s);
    r.take(1 + 32 + 64 + 64).ok()?;
    if r.u8().ok()? == 1 {
        r.take(64).ok()?;
    }
    r.take(64).ok()?; // mailboxes
    r.take(1 + 32).ok()?; // ratchet version, dhs
    let opt = |r: &mut Reader<'_>| -> Option<()> {
        if r.u8().ok()? == 1 {
            r.take(32).ok()?;
        }
        Some(())
    };
    opt(&mut r)?; // dhr
    r.take(32).ok()?; // rk
    for _ in 0..4 {
        opt(&mut r)?;
    }
    r.take(64 + 12 + 1).ok()?;
    let n = usize::from(r.u16().ok()?);
    r.take(n * 68).ok()?;
    let old = usize::from(r.u8().ok()?);
    r.take(old * 32).ok()?;
    Some(s.len() - r.remaining())
}

/// Minimal integrity state for a sender: chosen `next_send`, `last_sent_hash` and ack.
pub fn integrity_bytes(next_send: u64, last_sent: [u8; 32], ack: Option<(u64, [u8; 32])>) -> Vec<u8> {
    let mut w = Writer::default();
    w.u64(next_send).put(&last_sent).u16(0).u64(0).u16(0).u16(0).u16(0);
    match ack {
        Some((c, h)) => w.u8(1).u64(c).put(&h),
        None => w.u8(0),
    };
    w.into_vec()
}

/// Tiny cursor for carving structured fields out of fuzzer input (zero-fills when short).
pub struct Input<'a>(pub &'a [u8]);

impl<'a> Input<'a> {
    /// Next `N` bytes (zero-padded).
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let n = self.0.len().min(N);
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        out
    }
    /// Next byte.
    pub fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }
    /// Next big-endian u64.
    pub fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.array())
    }
    /// Up to `n` bytes.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = self.0.len().min(n);
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
}

// ---------------------------------------------------------------------------------------
// Seed corpus.

fn with_mode(mode: u8, data: &[u8]) -> Vec<u8> {
    let mut v = vec![mode];
    v.extend_from_slice(data);
    v
}

fn content_samples() -> Vec<Content> {
    let f = fixtures();
    vec![
        text(""),
        text("héllo, wörld ✓"),
        Content::Delivered(vec![0, 1, u64::MAX]),
        Content::Read(vec![]),
        Content::Read(vec![7; 20]),
        Content::KeyUpdate(KeyUpdate::create(&[3; 32], &f.alice.public(), &f.alice2)),
        Content::Unknown {
            kind: 200,
            bytes: vec![1, 2, 3],
        },
    ]
}

fn encode_content(c: &Content) -> Vec<u8> {
    let mut w = Writer::default();
    c.encode(&mut w);
    w.into_vec()
}

/// The seed inputs for `target` (already in that target's input format, mode byte included).
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let f = fixtures();
    let invites: Vec<Vec<u8>> = std::iter::once(f.invite.clone())
        .chain(f.more_invites.iter().map(|(i, _)| i.clone()))
        .collect();
    let pendings: Vec<Vec<u8>> = std::iter::once(f.pending.clone())
        .chain(f.more_invites.iter().map(|(_, p)| p.clone()))
        .collect();
    match target {
        "envelope" => {
            let mut v: Vec<Vec<u8>> = f.to_bob.clone();
            v.push(f.handshake.clone());
            for len in [2048, 16384, 65536] {
                v.push(wrap_envelope(&MailboxId([1; 32]), [2; 16], BodyKind::Ratchet, &vec![0xEE; len]));
            }
            v
        }
        "invite" => {
            let mut v = Vec::new();
            for i in &invites {
                v.push(with_mode(0, i));
                v.push(with_mode(1, &i[..i.len() - 64]));
                let uri = Invite::from_bytes(i, 0).unwrap().to_uri();
                v.push(with_mode(2, uri.as_bytes()));
                v.push(with_mode(2, format!("  {uri}\n").as_bytes()));
            }
            v
        }
        "pending_invite" => {
            let mut v = Vec::new();
            for p in &pendings {
                v.push(with_mode(0, p));
                // mode 1: invite fields ‖ secret ‖ seed (re-signed by the harness)
                let mut r = Reader::new(p);
                r.u8().unwrap();
                let inv = r.bytes_u16("invite", 4096).unwrap();
                let mut s = inv[..inv.len() - 64].to_vec();
                s.extend_from_slice(r.rest());
                v.push(with_mode(1, &s));
            }
            v
        }
        "relay_address" => {
            let mut v = Vec::new();
            for a in [
                relay(1),
                RelayAddress::new("localhost", 65535, Transport::Plaintext).unwrap(),
                RelayAddress::new("::1", 9, Transport::Plaintext).unwrap(),
                RelayAddress::new("2001:db8::7", 443, Transport::Tls { pin: [0x55; 32] }).unwrap(),
                RelayAddress::new("10.0.0.1", 1, Transport::Tls { pin: [0; 32] }).unwrap(),
            ] {
                v.push(with_mode(0, a.to_string().as_bytes()));
                let mut w = Writer::default();
                a.encode(&mut w);
                v.push(with_mode(1, &w.into_vec()));
            }
            v.push(with_mode(0, b" ws://[::ffff:1.2.3.4]:80 "));
            v
        }
        "content" => content_samples().iter().map(encode_content).collect(),
        "signed_inner" => {
            let conv = [0x42; 32];
            content_samples()
                .into_iter()
                .enumerate()
                .map(|(i, content)| {
                    let inner = Inner {
                        counter: i as u64,
                        sent_at_ms: NOW * 1000,
                        prev_hash: [i as u8; 32],
                        ack_counter: if i == 0 { NO_ACK } else { 3 },
                        ack_hash: [0x11; 32],
                        content,
                    };
                    let mut v = conv.to_vec();
                    v.extend_from_slice(&inner.sign(&conv, &f.alice).0);
                    v
                })
                .collect()
        }
        "session_state" => vec![
            f.bob_session.clone(),
            f.alice_session.clone(),
            f.bob_session_pending_key.clone(),
        ],
        "session_decrypt" => {
            let mut v: Vec<Vec<u8>> = f.to_bob.iter().map(|e| with_mode(0, e)).collect();
            // mode 1: flags ‖ next_send ‖ last_sent_hash ‖ ack (8+32) ‖ now_ms ‖ flip (2+1) ‖ content
            for (i, c) in content_samples().iter().enumerate() {
                let mut s = vec![i as u8 & 1];
                s.extend_from_slice(&(4 + i as u64).to_be_bytes());
                s.extend_from_slice(&[i as u8; 32]);
                s.extend_from_slice(&0u64.to_be_bytes());
                s.extend_from_slice(&[0; 32]);
                s.extend_from_slice(&(NOW * 1000).to_be_bytes());
                s.extend_from_slice(&[0, 0, 0]);
                s.extend_from_slice(&encode_content(c));
                v.push(with_mode(1, &s));
            }
            v
        }
        "handshake_complete" => {
            let mut v = vec![with_mode(0, &f.handshake)];
            // mode 1: flip (2+1) ‖ relay address (binary) ‖ mailbox ‖ name
            let mut w = Writer::default();
            relay(2).encode(&mut w);
            let mut s = vec![0, 0, 0];
            s.extend_from_slice(&w.into_vec());
            s.extend_from_slice(&[0xA1; 32]);
            s.extend_from_slice(b"Alice");
            v.push(with_mode(1, &s));
            // mode 2: sign flag ‖ payload fields
            let fields = acceptor_fields(f, [9; 32], &relay(2), &[0xA1; 32], &[0x5E; 32], b"Alice", NOW);
            v.push(with_mode(2, &with_mode(1, &fields)));
            v
        }
        "relay_frames" => {
            let mut v = Vec::new();
            let env = &f.to_bob[0];
            for frame in [
                ClientFrame::CreateMailbox {
                    mailbox: MailboxId([1; 32]),
                    auth_key: [2; 32],
                    access_token: Some(b"token"),
                },
                ClientFrame::CreateMailbox {
                    mailbox: MailboxId([1; 32]),
                    auth_key: [2; 32],
                    access_token: None,
                },
                ClientFrame::Send { envelope: env },
                ClientFrame::Subscribe {
                    mailbox: MailboxId([1; 32]),
                    signature: [3; 64],
                },
                ClientFrame::Ack {
                    mailbox: MailboxId([1; 32]),
                    message: MessageId([4; 16]),
                },
                ClientFrame::DeleteMailbox {
                    mailbox: MailboxId([1; 32]),
                    signature: [3; 64],
                },
                ClientFrame::Stats { admin_token: b"admin" },
                ClientFrame::Purge {
                    admin_token: b"admin",
                    mailbox: MailboxId([1; 32]),
                },
                ClientFrame::Unsubscribe {
                    mailbox: MailboxId([1; 32]),
                },
                ClientFrame::CreateLockedMailbox {
                    mailbox: MailboxId([1; 32]),
                    auth_key: [2; 32],
                    send_lock: [6; 32],
                    access_token: Some(b"token"),
                },
                ClientFrame::SendLocked {
                    send_key: &[6; 32],
                    envelope: env,
                },
            ] {
                v.push(with_mode(0, &ClientRequest { request_id: 7, frame }.encode()));
            }
            for frame in [
                RelayFrame::Challenge {
                    nonce: [5; 32],
                    server: "cairn-relay/0.1.0",
                },
                RelayFrame::Ok,
                RelayFrame::Error {
                    code: ErrorCode::RateLimited,
                    message: "slow down",
                },
                RelayFrame::Error {
                    code: ErrorCode::Other(999),
                    message: "",
                },
                RelayFrame::Deliver { envelope: env },
                RelayFrame::Stats(RelayStats {
                    connections: 1,
                    mailboxes: 2,
                    messages: 3,
                    bytes: 4,
                }),
                RelayFrame::SubscriptionEnded { mailbox: [8; 32] },
            ] {
                v.push(with_mode(1, &frame.encode(9)));
            }
            v
        }
        _ => Vec::new(),
    }
}

/// Names of all targets (for the corpus generator).
pub const TARGETS: &[&str] = &[
    "envelope",
    "invite",
    "pending_invite",
    "relay_address",
    "content",
    "signed_inner",
    "session_state",
    "session_decrypt",
    "handshake_complete",
    "relay_frames",
];
