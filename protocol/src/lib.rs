//! Cairn protocol: the sans-IO heart of the Cairn messenger.
//!
//! Nothing here touches a socket, a clock or a global RNG: time and a CSPRNG
//! are parameters, so every exchange can be replayed deterministically in
//! tests. The byte-level specification is `docs/PROTOCOL.md`.
//!
//! A whole first contact and conversation, in memory:
//!
//! ```
//! use cairn_protocol::{relay_address::RelayAddress, content::Content, envelope::{Envelope, MailboxId}};
//! use cairn_protocol::{handshake::{accept_invite, AcceptorReply}, identity::Identity, invite::Invite};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut rng = rand::rng(); // any CryptoRng; tests pass a seeded one
//! let now = 1_800_000_000;
//! let (alice, bob) = (Identity::generate(&mut rng), Identity::generate(&mut rng));
//!
//! // Bob creates a mailbox on his relay (not shown) and an invite for it.
//! let relay: RelayAddress = "ws://127.0.0.1:7447/".parse()?;
//! let (invite, pending) = Invite::create(&bob, relay.clone(), MailboxId([1; 32]), now + 3600, &mut rng);
//! let link = invite.to_uri(); // shared out of band, e.g. as a QR code
//!
//! // Alice accepts and sends the handshake envelope to Bob's mailbox. Her
//! // reply mailbox is send-locked: only Bob learns the key that writes to it.
//! let invite = Invite::from_uri(&link, now)?;
//! let send_key = cairn_protocol::frames::SendKey::generate(&mut rng);
//! let reply = AcceptorReply { relay, mailbox: MailboxId([2; 32]), send_key, name: "Alice".into() };
//! let accepted = accept_invite(&invite, &alice, reply, now, &mut rng)?;
//! let mut alice_session = accepted.session;
//!
//! // Bob completes; both now hold a session and compare safety numbers.
//! let done = pending.complete(&bob, &Envelope::parse(&accepted.envelope)?, now)?;
//! let mut bob_session = done.session;
//! assert_eq!(done.name, "Alice");
//! assert_eq!(alice_session.safety_number().digits(), bob_session.safety_number().digits());
//!
//! // Messages: padded envelopes the relay cannot read, signed inside the encryption.
//! let out = alice_session.encrypt(&alice, &Content::Text("hi Bob".into()), now * 1000, &mut rng)?;
//! let got = bob_session.decrypt(&Envelope::parse(&out.envelope)?, 0)?;
//! assert_eq!(got.content, Content::Text("hi Bob".into()));
//! assert!(got.events.is_empty()); // no gap, replay, reorder or fork
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod content;
pub mod crypto;
pub mod envelope;
pub mod frames;
pub mod handshake;
pub mod identity;
pub mod inner;
pub mod integrity;
pub mod invite;
pub mod key_update;
pub mod labels;
pub mod padding;
pub mod ratchet;
pub mod relay_address;
pub mod safety_number;
pub mod session;
pub mod wire;
