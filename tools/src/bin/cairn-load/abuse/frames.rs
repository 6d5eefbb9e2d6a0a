//! What each frame flood writes: endless streams of frames, each chosen to
//! reach one of the relay's defences, and to cost the flooder little (they
//! are built once per connection and cloned, or patched from a template).

use bytes::Bytes;
use cairn_protocol::envelope::{BodyKind, HEADER_LEN, MailboxId, MessageId, write_header};
use cairn_protocol::frames::{
    ClientFrame, ClientRequest, MAX_FRAME_LEN, NONCE_LEN, delete_signing_bytes,
    subscribe_signing_bytes,
};
use cairn_protocol::padding::MAX_ENVELOPE_LEN;
use ed25519_dalek::{Signer, SigningKey};
use rand::RngExt;
use tokio_tungstenite::tungstenite::Message;

use super::flood::Flood;

/// The malformed flood sends one message above the relay's transport
/// cut-off (4 × the largest frame) in this many: the one refusal that
/// closes the connection, so the flood also pays (and makes the relay pay)
/// for a new TLS handshake now and then.
const CUT_OFF_EVERY: u64 = 1000;

/// What the floods share: the mailboxes the flooder created at the start
/// and the keys it has (the right one is never used to sign).
pub(crate) struct Shared {
    /// Mailboxes created by the flooder; empty if the relay refused them.
    pub mailboxes: Vec<MailboxId>,
    /// The auth key the flooder's mailboxes (and creation flood) register.
    pub auth: SigningKey,
    /// Signs every subscribe and delete: valid signatures, wrong key, so
    /// the relay does the whole verification before refusing.
    pub wrong: SigningKey,
}

impl Shared {
    /// The mailboxes to aim at: the flooder's, or if the relay refused to
    /// create any, one that does not exist (each frame then costs a lookup).
    fn targets(&self) -> Vec<MailboxId> {
        if self.mailboxes.is_empty() {
            vec![MailboxId(rand::rng().random())]
        } else {
            self.mailboxes.clone()
        }
    }
}

/// An endless stream of frames for one connection.
pub(crate) enum Frames {
    /// A fixed cycle of frames (malformed; signatures for this nonce).
    Cycle {
        frames: Vec<Message>,
        next: u64,
        cut_off: bool,
    },
    /// `CreateMailbox` under fresh random ids.
    Create { auth: [u8; 32], next: u32 },
    /// Largest-bucket `Send`s, each with a new message id, round robin over
    /// the flooder's mailboxes.
    Sends {
        template: Vec<u8>,
        start: usize,
        mailboxes: Vec<MailboxId>,
        next: usize,
    },
}

impl Frames {
    /// The frames `kind` writes on a connection whose challenge was
    /// `nonce`; none for the connection flood, which writes nothing.
    pub(crate) fn new(kind: Flood, nonce: &[u8; NONCE_LEN], shared: &Shared) -> Option<Self> {
        Some(match kind {
            Flood::Connections => return None,
            Flood::Malformed => Frames::Cycle {
                frames: malformed(),
                next: 0,
                cut_off: true,
            },
            Flood::Signatures => Frames::Cycle {
                frames: wrong_signatures(nonce, shared),
                next: 0,
                cut_off: false,
            },
            Flood::Mailboxes => Frames::Create {
                auth: shared.auth.verifying_key().to_bytes(),
                next: 1,
            },
            Flood::Bytes => {
                let mailboxes = shared.targets();
                let envelope = envelope(&mailboxes[0]);
                let template = request(
                    0,
                    ClientFrame::Send {
                        envelope: &envelope,
                    },
                );
                let start = template.len() - envelope.len();
                Frames::Sends {
                    template,
                    start,
                    mailboxes,
                    next: 0,
                }
            }
        })
    }

    /// The next frame to write.
    pub(crate) fn next(&mut self) -> Message {
        match self {
            Frames::Cycle {
                frames,
                next,
                cut_off,
            } => {
                *next += 1;
                if *cut_off && *next % CUT_OFF_EVERY == 0 {
                    // Above 4 × the largest frame: refused unread, then closed (§18.5).
                    return Message::Binary(Bytes::from(vec![1u8; 4 * MAX_FRAME_LEN + 1024]));
                }
                let i = (*next as usize) % frames.len().max(1);
                frames
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| Message::Binary(Bytes::new()))
            }
            Frames::Create { auth, next } => {
                *next = next.wrapping_add(1);
                Message::Binary(Bytes::from(request(
                    *next,
                    ClientFrame::CreateMailbox {
                        mailbox: MailboxId(rand::rng().random()),
                        auth_key: *auth,
                        access_token: None,
                    },
                )))
            }
            Frames::Sends {
                template,
                start,
                mailboxes,
                next,
            } => {
                *next = next.wrapping_add(1);
                let mailbox = mailboxes[*next % mailboxes.len()];
                let mut header = Vec::with_capacity(HEADER_LEN);
                let id = MessageId(rand::rng().random());
                write_header(&mut header, &mailbox, &id, BodyKind::Ratchet);
                let mut frame = template.clone();
                if let Some(slot) = frame.get_mut(*start..*start + header.len()) {
                    slot.copy_from_slice(&header);
                }
                Message::Binary(Bytes::from(frame))
            }
        }
    }
}

fn request(request_id: u32, frame: ClientFrame<'_>) -> Vec<u8> {
    ClientRequest { request_id, frame }.encode()
}

/// A largest-bucket envelope (64 KiB): header, then zeros.
fn envelope(mailbox: &MailboxId) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAX_ENVELOPE_LEN);
    write_header(&mut out, mailbox, &MessageId([0; 16]), BodyKind::Ratchet);
    out.resize(MAX_ENVELOPE_LEN, 0);
    out
}

/// One of each way a frame can be wrong, every one answered with an error
/// code and the connection kept (PROTOCOL.md §18.5).
fn malformed() -> Vec<Message> {
    let bin = |v: Vec<u8>| Message::Binary(Bytes::from(v));
    let mailbox = MailboxId(rand::rng().random());
    let subscribe = request(
        3,
        ClientFrame::Subscribe {
            mailbox,
            signature: [7; 64],
        },
    );
    let mut trailing = request(4, ClientFrame::Unsubscribe { mailbox });
    trailing.extend_from_slice(&[0; 7]);
    let not_a_bucket = vec![1u8; 1000];
    vec![
        // Version 9 (UnsupportedVersion).
        bin(vec![9, 1, 0, 0, 0, 1, 0, 0, 0, 0]),
        // Type 0xEE (UnknownType).
        bin(vec![1, 0xEE, 0, 0, 0, 2]),
        // A subscribe cut short, and an unsubscribe with trailing bytes (Malformed).
        bin(subscribe[..subscribe.len() / 2].to_vec()),
        bin(trailing),
        // Text instead of binary (Malformed).
        Message::Text("this is not a frame".into()),
        // An envelope of no bucket size (BadEnvelope).
        bin(request(
            5,
            ClientFrame::Send {
                envelope: &not_a_bucket,
            },
        )),
        // Above the largest frame, below the cut-off (FrameTooLarge, kept).
        bin(vec![1u8; MAX_FRAME_LEN + 1024]),
    ]
}

/// Subscribe and delete for each of the flooder's mailboxes, signed over the
/// right bytes with the wrong key (BadSignature after a key lookup and a
/// full verification).
fn wrong_signatures(nonce: &[u8; NONCE_LEN], shared: &Shared) -> Vec<Message> {
    let mut frames = Vec::new();
    for (i, mailbox) in shared.targets().iter().enumerate() {
        let id = 2 * i as u32 + 1;
        let signature = shared
            .wrong
            .sign(&subscribe_signing_bytes(nonce, mailbox))
            .to_bytes();
        let subscribe = ClientFrame::Subscribe {
            mailbox: *mailbox,
            signature,
        };
        frames.push(Message::Binary(Bytes::from(request(id, subscribe))));
        let signature = shared
            .wrong
            .sign(&delete_signing_bytes(nonce, mailbox))
            .to_bytes();
        let delete = ClientFrame::DeleteMailbox {
            mailbox: *mailbox,
            signature,
        };
        frames.push(Message::Binary(Bytes::from(request(id + 1, delete))));
    }
    frames
}

#[cfg(test)]
mod tests {
    use cairn_protocol::envelope::Envelope;
    use cairn_protocol::frames::{ErrorCode, FrameError};
    use ed25519_dalek::Verifier;

    use super::*;

    fn shared() -> Shared {
        Shared {
            mailboxes: vec![MailboxId([1; 32]), MailboxId([2; 32])],
            auth: SigningKey::from_bytes(&[3; 32]),
            wrong: SigningKey::from_bytes(&[4; 32]),
        }
    }

    fn binary(m: Message) -> Bytes {
        match m {
            Message::Binary(b) => b,
            other => panic!("expected a binary message, got {other:?}"),
        }
    }

    #[test]
    fn every_malformed_frame_meets_the_refusal_it_aims_at() {
        let codes: Vec<Option<ErrorCode>> = malformed()
            .into_iter()
            .map(|m| match m {
                Message::Text(_) => Some(ErrorCode::Malformed),
                Message::Binary(raw) => match ClientRequest::decode(&raw) {
                    Err(e) => Some(e.code()),
                    // Decodes, but its envelope is no bucket size.
                    Ok(ClientRequest {
                        frame: ClientFrame::Send { envelope },
                        ..
                    }) if Envelope::parse(envelope).is_err() => Some(ErrorCode::BadEnvelope),
                    Ok(other) => panic!("a well-formed frame: {other:?}"),
                },
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        use ErrorCode::*;
        let expected = [
            UnsupportedVersion,
            UnknownType,
            Malformed,
            Malformed,
            Malformed,
            BadEnvelope,
            FrameTooLarge,
        ];
        assert_eq!(codes, expected.map(Some));
        assert!(matches!(
            ClientRequest::decode(&vec![1u8; MAX_FRAME_LEN + 1]),
            Err(FrameError::TooLarge(_))
        ));
    }

    #[test]
    fn the_malformed_cycle_crosses_the_transport_cut_off_now_and_then() {
        let mut frames = Frames::new(Flood::Malformed, &[0; NONCE_LEN], &shared()).unwrap();
        let lens: Vec<usize> = (0..CUT_OFF_EVERY).map(|_| frames.next().len()).collect();
        let over: Vec<usize> = lens
            .iter()
            .enumerate()
            .filter(|(_, l)| **l > 4 * MAX_FRAME_LEN)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(over, [CUT_OFF_EVERY as usize - 1]);
    }

    #[test]
    fn byte_flood_sends_distinct_largest_envelopes_round_robin() {
        let s = shared();
        let mut frames = Frames::new(Flood::Bytes, &[0; NONCE_LEN], &s).unwrap();
        let mut ids = Vec::new();
        let mut mailboxes = Vec::new();
        for _ in 0..4 {
            let raw = binary(frames.next());
            let request = ClientRequest::decode(&raw).unwrap();
            let ClientFrame::Send { envelope } = request.frame else {
                panic!("not a send: {request:?}");
            };
            assert_eq!(envelope.len(), MAX_ENVELOPE_LEN);
            let parsed = Envelope::parse(envelope).unwrap();
            ids.push(parsed.id);
            mailboxes.push(parsed.mailbox);
        }
        ids.dedup();
        assert_eq!(ids.len(), 4, "every send a new message id");
        assert_eq!(mailboxes[0], mailboxes[2]);
        assert_ne!(mailboxes[0], mailboxes[1]);
    }

    #[test]
    fn signature_flood_signs_the_right_bytes_with_the_wrong_key() {
        let s = shared();
        let nonce = [9; NONCE_LEN];
        let mut frames = Frames::new(Flood::Signatures, &nonce, &s).unwrap();
        for _ in 0..4 {
            let raw = binary(frames.next());
            let request = ClientRequest::decode(&raw).unwrap();
            let (signed, signature) = match request.frame {
                ClientFrame::Subscribe { mailbox, signature } => {
                    (subscribe_signing_bytes(&nonce, &mailbox), signature)
                }
                ClientFrame::DeleteMailbox { mailbox, signature } => {
                    (delete_signing_bytes(&nonce, &mailbox), signature)
                }
                other => panic!("unexpected {other:?}"),
            };
            let signature = ed25519_dalek::Signature::from_bytes(&signature);
            assert!(s.wrong.verifying_key().verify(&signed, &signature).is_ok());
            assert!(s.auth.verifying_key().verify(&signed, &signature).is_err());
        }
    }

    #[test]
    fn the_connection_flood_writes_nothing() {
        assert!(Frames::new(Flood::Connections, &[0; NONCE_LEN], &shared()).is_none());
    }
}
