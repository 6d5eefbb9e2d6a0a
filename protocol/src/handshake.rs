//! Hybrid X25519 + ML-KEM-768 first contact (PQXDH-like), one message from acceptor to inviter.
//!
//! Notation: inviter I (identity X25519 `IX_I`, invite key `E_I`, ML-KEM key `K_I`),
//! acceptor A (identity X25519 `IX_A`, fresh ephemeral `E_A`). PROTOCOL.md, "Handshake":
//!
//! 1. `(ct, ss) = ML-KEM-768.Encaps(K_I)`; `th = SHA-256("Cairn v1 handshake transcript" ‖ invite ‖ E_A ‖ ct)`
//! 2. `DH2 = X25519(E_A, IX_I)`, `DH3 = X25519(E_A, E_I)`;
//!    `payload_key ‖ chain = HKDF(salt=th, ikm=0xFF×32 ‖ DH2 ‖ DH3 ‖ ss, "Cairn v1 handshake stage 1", 64)`
//! 3. The payload (A's identity, first ratchet key, reply mailbox and its send key, name,
//!    signature over `th`) is
//!    sealed under `payload_key` — the relay never sees who is connecting.
//! 4. `DH1 = X25519(IX_A, E_I)`; `th2 = SHA-256("Cairn v1 handshake transcript" ‖ th ‖ payload)`;
//!    `root ‖ hk_a ‖ nhk_i ‖ conversation = HKDF(salt=th2, ikm=chain ‖ DH1, "Cairn v1 handshake stage 2", 128)`.
//!
//! Breaking the result needs both X25519 (DH2/DH3) and ML-KEM-768 (ss) broken; the acceptor is
//! authenticated by DH1 and its signature, the inviter by DH2 and the signed invite.

use ml_kem::{Decapsulate, Encapsulate};
use rand_core::CryptoRng;
use thiserror::Error;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::crypto::{CryptoError, dh, hkdf, open, seal, sha256};
use crate::envelope::{BodyKind, Envelope, HEADER_LEN, MailboxId, MessageId, write_header};
use crate::frames::SendKey;
use crate::identity::{Identity, IdentityError, PublicIdentity};
use crate::invite::{Invite, PendingInvite};
use crate::labels;
use crate::padding::{PaddingError, bucket_for, pad_in_place, unpadded_len};
use crate::ratchet::{RatchetError, RatchetState};
use crate::relay_address::{AddressError, RelayAddress};
use crate::session::Session;
use crate::wire::{DecodeError, Reader, Writer};

/// ML-KEM-768 ciphertext length.
pub const KEM_CIPHERTEXT_LEN: usize = 1088;
/// Longest profile name carried in a handshake, in UTF-8 bytes.
pub const MAX_NAME_LEN: usize = 64;
const PAYLOAD_VERSION: u8 = 1;
const FIXED_BODY: usize = 32 + KEM_CIPHERTEXT_LEN + 16;

/// Why a handshake could not be produced or completed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HandshakeError {
    /// The envelope is not a handshake, or not for this invite's mailbox.
    #[error("not a handshake for this invite")]
    NotForThisInvite,
    /// The invite expired before the handshake arrived.
    #[error("invite expired at {expired_at}; handshake arrived at {now}")]
    InviteExpired {
        /// Expiry, Unix seconds.
        expired_at: u64,
        /// Arrival, Unix seconds.
        now: u64,
    },
    /// Completing with an identity other than the one that created the invite.
    #[error("this invite was created by a different identity")]
    WrongIdentity,
    /// The sealed payload failed authentication: tampered, or keys do not match.
    #[error("handshake payload failed authentication (tampered)")]
    Tampered,
    /// The acceptor's signature does not verify.
    #[error("acceptor signature invalid")]
    BadSignature,
    /// A profile name longer than [`MAX_NAME_LEN`] bytes.
    #[error("profile name is longer than {MAX_NAME_LEN} bytes")]
    NameTooLong,
    /// Low-order DH input.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// Ratchet initialisation failed.
    #[error(transparent)]
    Ratchet(#[from] RatchetError),
    /// Malformed payload.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Padding invalid or message too large.
    #[error(transparent)]
    Padding(#[from] PaddingError),
    /// Invalid identity keys.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// Invalid reply relay address.
    #[error(transparent)]
    Address(#[from] AddressError),
}

/// Where the acceptor wants replies, and the name it introduces itself with.
#[derive(Debug, Clone)]
pub struct AcceptorReply {
    /// The acceptor's relay.
    pub relay: RelayAddress,
    /// The acceptor's mailbox for this contact (created on `relay` beforehand).
    pub mailbox: MailboxId,
    /// The key that opens `mailbox` for sending: it is send-locked (§18.3),
    /// so only the inviter, who alone learns this key, can write to it.
    pub send_key: SendKey,
    /// Profile name shown to the inviter (≤ 64 bytes).
    pub name: String,
}

/// Acceptor side result: the new session and the envelope to send to the invite's mailbox.
#[derive(Debug)]
pub struct Accepted {
    /// The established session.
    pub session: Session,
    /// Envelope bytes for `invite.relay()`.
    pub envelope: Vec<u8>,
    /// Its message id.
    pub message_id: MessageId,
}

/// Inviter side result.
#[derive(Debug)]
pub struct Completed {
    /// The established session.
    pub session: Session,
    /// Who accepted.
    pub peer: PublicIdentity,
    /// Where to send replies.
    pub relay: RelayAddress,
    /// Their mailbox.
    pub mailbox: MailboxId,
    /// The key their mailbox wants with every send.
    pub send_key: SendKey,
    /// The name they introduced themselves with.
    pub name: String,
    /// Their clock when accepting (Unix seconds).
    pub sent_at: u64,
}

struct Stage1 {
    payload_key: Zeroizing<[u8; 32]>,
    chain: Zeroizing<[u8; 32]>,
}

fn transcript(invite: &Invite, ea: &[u8; 32], ct: &[u8]) -> [u8; 32] {
    sha256(&[labels::HANDSHAKE_TRANSCRIPT, invite.as_bytes(), ea, ct])
}

fn stage1(th: &[u8; 32], dh2: &[u8; 32], dh3: &[u8; 32], ss: &[u8]) -> Stage1 {
    let mut ikm = Zeroizing::new(Vec::with_capacity(32 * 4));
    ikm.extend_from_slice(&[0xFF; 32]);
    ikm.extend_from_slice(dh2);
    ikm.extend_from_slice(dh3);
    ikm.extend_from_slice(ss);
    let okm = hkdf::<64>(Some(th), &ikm, labels::HANDSHAKE_STAGE1);
    let mut s = Stage1 {
        payload_key: Zeroizing::new([0; 32]),
        chain: Zeroizing::new([0; 32]),
    };
    s.payload_key.copy_from_slice(&okm[..32]);
    s.chain.copy_from_slice(&okm[32..]);
    s
}

struct Stage2 {
    root: Zeroizing<[u8; 32]>,
    hk_acceptor: Zeroizing<[u8; 32]>,
    nhk_inviter: Zeroizing<[u8; 32]>,
    conversation: [u8; 32],
}

fn stage2(th: &[u8; 32], payload: &[u8], chain: &[u8; 32], dh1: &[u8; 32]) -> Stage2 {
    let th2 = sha256(&[labels::HANDSHAKE_TRANSCRIPT, th, payload]);
    let mut ikm = Zeroizing::new([0u8; 64]);
    ikm[..32].copy_from_slice(chain);
    ikm[32..].copy_from_slice(dh1);
    let okm = hkdf::<128>(Some(&th2), ikm.as_ref(), labels::HANDSHAKE_STAGE2);
    let key = |i: usize| {
        let mut k = Zeroizing::new([0u8; 32]);
        k.copy_from_slice(&okm[i * 32..(i + 1) * 32]);
        k
    };
    let mut conversation = [0u8; 32];
    conversation.copy_from_slice(&okm[96..]);
    Stage2 {
        root: key(0),
        hk_acceptor: key(1),
        nhk_inviter: key(2),
        conversation,
    }
}

/// Accepts `invite` as `me`: returns the session and the handshake envelope to send.
/// The caller must refuse an invite whose [`Invite::id`] it already accepted.
pub fn accept_invite<R: CryptoRng + ?Sized>(
    invite: &Invite,
    me: &Identity,
    reply: AcceptorReply,
    now: u64,
    rng: &mut R,
) -> Result<Accepted, HandshakeError> {
    if reply.name.len() > MAX_NAME_LEN {
        return Err(HandshakeError::NameTooLong);
    }
    let ea = StaticSecret::random_from_rng(rng);
    let ea_pub = PublicKey::from(&ea).to_bytes();
    let (ct, ss) = invite.kem().encapsulate_with_rng(rng);
    let ss = Zeroizing::new(<[u8; 32]>::from(ss));
    let th = transcript(invite, &ea_pub, &ct);
    let dh2 = dh(&ea, invite.identity().agreement_key())?;
    let dh3 = dh(&ea, invite.ephemeral())?;
    let s1 = stage1(&th, &dh2, &dh3, ss.as_ref());

    let ratchet = StaticSecret::random_from_rng(rng);
    let mut fields = Writer::with_capacity(256);
    fields
        .u8(PAYLOAD_VERSION)
        .put(&me.public().to_bytes())
        .put(PublicKey::from(&ratchet).as_bytes());
    reply.relay.encode(&mut fields);
    fields
        .put(&reply.mailbox.0)
        .put(reply.send_key.as_bytes())
        .bytes_u8(reply.name.as_bytes())
        .u64(now);
    let signature = me.sign(&accept_signed(&th, fields.as_slice()));
    let mut payload = fields.into_vec();
    payload.extend_from_slice(&signature);

    let bucket = bucket_for(HEADER_LEN + FIXED_BODY + payload.len() + 1)?;
    let mut sealed = payload.clone();
    pad_in_place(&mut sealed, bucket - HEADER_LEN - FIXED_BODY)?;
    let mut id = [0u8; 16];
    rng.fill_bytes(&mut id);
    let message_id = MessageId(id);
    let mut envelope = Vec::with_capacity(bucket);
    write_header(
        &mut envelope,
        &invite.mailbox(),
        &message_id,
        BodyKind::Handshake,
    );
    seal(&s1.payload_key, &[0; 12], &envelope, &mut sealed)?;
    envelope.extend_from_slice(&ea_pub);
    envelope.extend_from_slice(&ct);
    envelope.extend_from_slice(&sealed);

    let dh1 = dh(me.agreement(), invite.ephemeral())?;
    let s2 = stage2(&th, &payload, &s1.chain, &dh1);
    let state = RatchetState::init_acceptor(
        &s2.root,
        ratchet,
        invite.ephemeral(),
        s2.hk_acceptor,
        s2.nhk_inviter,
    )?;
    let session = Session::new(
        s2.conversation,
        me.public(),
        invite.identity(),
        reply.mailbox,
        invite.mailbox(),
        state,
    )?;
    Ok(Accepted {
        session,
        envelope,
        message_id,
    })
}

fn accept_signed(th: &[u8; 32], fields: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(labels::ACCEPT_SIGNATURE.len() + 32 + fields.len());
    v.extend_from_slice(labels::ACCEPT_SIGNATURE);
    v.extend_from_slice(th);
    v.extend_from_slice(fields);
    v
}

impl PendingInvite {
    /// Completes the handshake from the acceptor's envelope. Consumes the invite: a
    /// stored copy must be deleted in the same transaction that stores the session,
    /// so a replayed handshake finds no invite to complete.
    pub fn complete(
        self,
        me: &Identity,
        envelope: &Envelope<'_>,
        now: u64,
    ) -> Result<Completed, HandshakeError> {
        let invite = self.invite();
        if envelope.kind != BodyKind::Handshake || envelope.mailbox != invite.mailbox() {
            return Err(HandshakeError::NotForThisInvite);
        }
        if me.public() != invite.identity() {
            return Err(HandshakeError::WrongIdentity);
        }
        if now > invite.expires_at() {
            return Err(HandshakeError::InviteExpired {
                expired_at: invite.expires_at(),
                now,
            });
        }
        let mut r = Reader::new(envelope.body);
        let ea_pub: [u8; 32] = r.array()?;
        let ct = r.take(KEM_CIPHERTEXT_LEN)?;
        let mut sealed = r.rest().to_vec();
        let dk = self.kem_secret();
        let ss = dk
            .decapsulate_slice(ct)
            .map_err(|_| DecodeError::Invalid("kem ciphertext"))?;
        let ss = Zeroizing::new(<[u8; 32]>::from(ss));
        let th = transcript(invite, &ea_pub, ct);
        let dh2 = dh(me.agreement(), &ea_pub)?;
        let dh3 = dh(self.ephemeral_secret(), &ea_pub)?;
        let s1 = stage1(&th, &dh2, &dh3, ss.as_ref());
        open(&s1.payload_key, &[0; 12], envelope.header, &mut sealed)
            .map_err(|_| HandshakeError::Tampered)?;
        let len = unpadded_len(&sealed)?;
        let payload = &sealed[..len];
        if payload.len() < 64 {
            return Err(DecodeError::Truncated {
                needed: 64 - payload.len(),
                remaining: payload.len(),
            }
            .into());
        }
        let (fields, sig) = payload.split_at(payload.len() - 64);
        let mut r = Reader::new(fields);
        let version = r.u8()?;
        if version != PAYLOAD_VERSION {
            return Err(DecodeError::UnknownVersion(version).into());
        }
        let peer = PublicIdentity::from_bytes(&r.array()?)?;
        let peer_ratchet: [u8; 32] = r.array()?;
        let relay = RelayAddress::decode(&mut r)?;
        let mailbox = MailboxId(r.array()?);
        let send_key = SendKey::from_bytes(r.array()?);
        let name = r.str_u8("name", MAX_NAME_LEN)?.to_owned();
        let sent_at = r.u64()?;
        r.finish()?;
        let mut signature = [0u8; 64];
        signature.copy_from_slice(sig);
        peer.verify(&accept_signed(&th, fields), &signature)
            .map_err(|_| HandshakeError::BadSignature)?;

        let dh1 = dh(self.ephemeral_secret(), peer.agreement_key())?;
        let s2 = stage2(&th, payload, &s1.chain, &dh1);
        let state = RatchetState::init_inviter(
            &s2.root,
            self.ephemeral_secret().clone(),
            &peer_ratchet,
            s2.hk_acceptor,
            s2.nhk_inviter,
        )?;
        let session = Session::new(
            s2.conversation,
            me.public(),
            peer,
            invite.mailbox(),
            mailbox,
            state,
        )?;
        Ok(Completed {
            session,
            peer,
            relay,
            mailbox,
            send_key,
            name,
            sent_at,
        })
    }
}
