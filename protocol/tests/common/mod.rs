//! Shared setup for protocol integration tests: two parties after a real handshake.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cairn_protocol::envelope::{Envelope, MailboxId};
use cairn_protocol::frames::SendKey;
use cairn_protocol::handshake::{AcceptorReply, accept_invite};
use cairn_protocol::identity::Identity;
use cairn_protocol::invite::Invite;
use cairn_protocol::relay_address::{RelayAddress, Transport};
use cairn_protocol::session::Session;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

pub(crate) const NOW: u64 = 1_800_000_000;

pub(crate) struct Pair {
    pub alice: Identity,
    pub bob: Identity,
    /// Acceptor's session.
    pub a: Session,
    /// Inviter's session.
    pub b: Session,
    pub rng: ChaCha20Rng,
}

pub(crate) fn relay(n: u8) -> RelayAddress {
    RelayAddress::new(
        &format!("relay{n}.example"),
        7447,
        Transport::Tls { pin: [n; 32] },
    )
    .unwrap()
}

/// Bob invites, Alice accepts, Bob completes.
pub(crate) fn pair(seed: u64) -> Pair {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let alice = Identity::generate(&mut rng);
    let bob = Identity::generate(&mut rng);
    let (invite, pending) =
        Invite::create(&bob, relay(1), MailboxId([0xB0; 32]), NOW + 3600, &mut rng);
    let invite = Invite::from_uri(&invite.to_uri(), NOW).unwrap();
    let reply = AcceptorReply {
        relay: relay(2),
        mailbox: MailboxId([0xA0; 32]),
        send_key: SendKey::from_bytes([0x5E; 32]),
        name: "Alice".into(),
    };
    let accepted = accept_invite(&invite, &alice, reply, NOW, &mut rng).unwrap();
    let env = Envelope::parse(&accepted.envelope).unwrap();
    let completed = pending.complete(&bob, &env, NOW + 5).unwrap();
    assert_eq!(completed.name, "Alice");
    assert_eq!(completed.peer, alice.public());
    Pair {
        alice,
        bob,
        a: accepted.session,
        b: completed.session,
        rng,
    }
}
