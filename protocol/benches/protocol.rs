//! Criterion benchmarks of Cairn's per-message cost against the primitives it is made of.
//!
//! `cargo bench -p cairn-protocol --bench protocol` runs every benchmark, then prints
//! `steady-state send+receive ÷ primitives` (target ≤ 1.3), where "primitives" is one
//! Ed25519 sign + one verify + XChaCha20-Poly1305 seal + open of 1 KiB (the message body,
//! PROTOCOL.md §9.3) + the KDF steps.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::path::{Path, PathBuf};

use cairn_protocol::content::Content;
use cairn_protocol::crypto::{hkdf, hmac, xopen, xseal};
use cairn_protocol::envelope::{Envelope, MailboxId};
use cairn_protocol::frames::SendKey;
use cairn_protocol::handshake::{AcceptorReply, accept_invite};
use cairn_protocol::identity::Identity;
use cairn_protocol::invite::Invite;
use cairn_protocol::relay_address::{RelayAddress, Transport};
use cairn_protocol::safety_number::SafetyNumber;
use cairn_protocol::session::Session;
use criterion::{BatchSize, Criterion};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const NOW: u64 = 1_800_000_000;

fn relay() -> RelayAddress {
    RelayAddress::new("relay.example", 7447, Transport::Tls { pin: [1; 32] }).unwrap()
}

fn pair(rng: &mut ChaCha20Rng) -> (Identity, Identity, Session, Session) {
    let alice = Identity::generate(rng);
    let bob = Identity::generate(rng);
    let (invite, pending) = Invite::create(&bob, relay(), MailboxId([1; 32]), NOW + 60, rng);
    let reply = AcceptorReply {
        relay: relay(),
        mailbox: MailboxId([2; 32]),
        send_key: SendKey::from_bytes([3; 32]),
        name: "a".into(),
    };
    let acc = accept_invite(&invite, &alice, reply, NOW, rng).unwrap();
    let done = pending
        .complete(&bob, &Envelope::parse(&acc.envelope).unwrap(), NOW)
        .unwrap();
    (alice, bob, acc.session, done.session)
}

fn text_1k() -> Content {
    Content::Text("m".repeat(1024))
}

fn session_benches(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let (alice, _bob, mut a, _b) = pair(&mut rng);
    let content = text_1k();
    let mut g = c.benchmark_group("session");
    g.bench_function("encrypt_sign_1k", |bench| {
        bench.iter(|| black_box(a.encrypt(&alice, &content, 0, &mut rng).unwrap()))
    });
    // A fresh pair: the encrypt bench above ran the first sender far ahead of its peer.
    let (alice, _bob, mut a, mut b) = pair(&mut rng);
    g.bench_function("verify_decrypt_1k", |bench| {
        bench.iter_batched(
            || a.encrypt(&alice, &content, 0, &mut rng).unwrap().envelope,
            |env| black_box(b.decrypt(&Envelope::parse(&env).unwrap(), 0).unwrap()),
            BatchSize::SmallInput,
        )
    });
    g.finish();

    c.bench_function("handshake/full", |bench| {
        bench.iter(|| black_box(pair(&mut rng)))
    });
    let x = Identity::from_seed([1; 32]).public();
    let y = Identity::from_seed([2; 32]).public();
    c.bench_function("safety_number", |bench| {
        bench.iter(|| black_box(SafetyNumber::new(&x, &y)))
    });
}

fn primitive_benches(c: &mut Criterion) {
    let id = Identity::from_seed([3; 32]);
    let msg = vec![7u8; 1024 + 150];
    let sig = id.sign(&msg);
    let verifier = id.public().verifier().unwrap();
    let mut g = c.benchmark_group("primitives");
    g.bench_function("ed25519_sign", |b| {
        b.iter(|| black_box(id.sign(black_box(&msg))))
    });
    g.bench_function("ed25519_verify", |b| {
        b.iter(|| verifier.verify(black_box(&msg), &sig).unwrap())
    });
    g.bench_function("aead_seal_open_1k", |b| {
        b.iter(|| {
            let mut buf = vec![5u8; 1024];
            xseal(&[1; 32], &[2; 24], b"ad", &mut buf).unwrap();
            xopen(&[1; 32], &[2; 24], b"ad", &mut buf).unwrap();
            black_box(buf)
        })
    });
    g.bench_function("kdf_steps", |b| {
        b.iter(|| {
            let ck = hmac(&[1; 32], &[2]);
            let mk = hmac(&[1; 32], &[1]);
            black_box((ck, hkdf::<32>(None, mk.as_ref(), b"Cairn v1 message key")))
        })
    });
    g.finish();
}

/// Median in ns from criterion's saved estimate, if present.
fn median_ns(dir: &Path, id: &str) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join(id).join("new/estimates.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn criterion_dir() -> PathBuf {
    if let Ok(t) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(t).join("criterion");
    }
    // target/release/deps/protocol-xxxx → target/criterion
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().join("criterion")
}

fn print_ratio() {
    let dir = criterion_dir();
    let get = |id: &str| median_ns(&dir, id);
    let (Some(enc), Some(dec), Some(sign), Some(verify), Some(aead), Some(kdf)) = (
        get("session/encrypt_sign_1k"),
        get("session/verify_decrypt_1k"),
        get("primitives/ed25519_sign"),
        get("primitives/ed25519_verify"),
        get("primitives/aead_seal_open_1k"),
        get("primitives/kdf_steps"),
    ) else {
        println!("(ratio not printed: run the whole bench so every estimate exists)");
        return;
    };
    let steady = enc + dec;
    let primitives = sign + verify + aead + kdf;
    println!();
    println!(
        "steady-state 1 KiB send+receive : {:>8.1} µs (encrypt+sign {:.1}, verify+decrypt {:.1})",
        steady / 1e3,
        enc / 1e3,
        dec / 1e3
    );
    println!(
        "primitives alone                : {:>8.1} µs (sign {:.1}, verify {:.1}, 2×AEAD {:.1}, KDF {:.2})",
        primitives / 1e3,
        sign / 1e3,
        verify / 1e3,
        aead / 1e3,
        kdf / 1e3
    );
    println!(
        "ratio (target ≤ 1.3)            : {:>8.2}",
        steady / primitives
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    session_benches(&mut c);
    primitive_benches(&mut c);
    c.final_summary();
    print_ratio();
}
