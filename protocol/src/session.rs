//! An established conversation: ratchet + sender signatures + integrity chain + padding.
//!
//! `encrypt` turns content into a padded envelope; `decrypt` turns an envelope
//! back into verified content plus integrity events. `decrypt` changes nothing
//! unless the message is authentic end to end (ratchet AEAD *and* the sender's
//! signature), so garbage from the relay can never damage a session.

use rand_core::CryptoRng;
use thiserror::Error;
use zeroize::Zeroizing;

use crate::content::{Content, ContentError, KeyUpdate};
use crate::envelope::{BodyKind, Envelope, HEADER_LEN, MailboxId, MessageId, write_header};
use crate::identity::{Identity, IdentityError, PublicIdentity, Verifier};
use crate::inner::{Inner, MessageError, SignedInner};
use crate::integrity::{IntegrityEvent, IntegrityState};
use crate::padding::{PaddingError, bucket_for, pad_in_place, unpadded_len};
use crate::ratchet::{
    BODY_NONCE_LEN, ENCRYPTED_HEADER_LEN, Incoming, Pending, RatchetError, RatchetState,
};
use crate::safety_number::SafetyNumber;
use crate::wire::{DecodeError, Reader, Writer};

const SESSION_VERSION: u8 = 2;
/// Before mailbox moves (§10.4): no old mailbox field; still read.
const SESSION_VERSION_1: u8 = 1;
const TAG_LEN: usize = 16;

/// Why a message could not be sent or received.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SessionError {
    /// Not a ratchet envelope (e.g. a handshake reached an established session).
    #[error("envelope is not a conversation message")]
    WrongKind,
    /// Addressed to another mailbox than this conversation's.
    #[error("envelope is addressed to another mailbox")]
    WrongMailbox,
    /// Encrypting with an identity that is not this session's.
    #[error("identity does not match this conversation")]
    IdentityMismatch,
    /// Ratchet refused the message (tampered, duplicate, too far ahead).
    #[error(transparent)]
    Ratchet(#[from] RatchetError),
    /// The decrypted message is malformed or its signature is invalid.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// A key update without a valid signature by the new key.
    #[error("key update refused: {0}")]
    KeyUpdate(ContentError),
    /// Content too large, or padding malformed.
    #[error(transparent)]
    Padding(#[from] PaddingError),
    /// Content over its limits.
    #[error(transparent)]
    Content(#[from] ContentError),
    /// Stored session bytes are malformed.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

impl SessionError {
    /// True for a message whose position in the ratchet was already used:
    /// a replay of a message received before, or — when its message id is new
    /// (a client dedupes relay redeliveries by id) — a second message that a
    /// restored or copied device sent from the same position (PROTOCOL.md §11).
    pub fn is_duplicate(&self) -> bool {
        matches!(self, SessionError::Ratchet(RatchetError::Duplicate { .. }))
    }

    /// True for a genuine message sent from a ratchet state that diverged from
    /// ours ([`RatchetError::Forked`]): a restored backup or a copied profile.
    pub fn is_fork(&self) -> bool {
        matches!(self, SessionError::Ratchet(RatchetError::Forked { .. }))
    }

    /// For a genuine message that arrived after its key was discarded
    /// ([`RatchetError::KeyDiscarded`]): `Some` with the sender's counter of
    /// the lost message, if known.
    pub fn lost(&self) -> Option<Option<u64>> {
        match self {
            SessionError::Ratchet(RatchetError::KeyDiscarded { counter, .. }) => Some(*counter),
            _ => None,
        }
    }
}

/// An encrypted message ready for the relay.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Envelope bytes (exactly one padding bucket long).
    pub envelope: Vec<u8>,
    /// Its message id (relay ack handle, dedupe key).
    pub id: MessageId,
    /// Our per-conversation counter for it (what receipts will name).
    pub counter: u64,
}

/// A verified incoming message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// What it says.
    pub content: Content,
    /// Sender's counter.
    pub counter: u64,
    /// Sender's clock at sending, ms since the epoch (as claimed by the sender).
    pub sent_at_ms: u64,
    /// Our highest counter the sender had received when it sent this (`None`:
    /// nothing yet); checked against what we sent, a forged one is a fork.
    pub ack_counter: Option<u64>,
    /// What the integrity chain noticed. If it contains `Duplicate`, do not show the content again.
    pub events: Vec<IntegrityEvent>,
    /// Signed by the peer's announced-but-not-yet-accepted new key: hold until the user accepts.
    pub from_pending_key: bool,
}

/// A decrypted, decoded, not yet verified message inside a batch.
struct UnverifiedInner {
    signed: SignedInner,
    events: Vec<IntegrityEvent>,
}

/// One end of an established conversation.
pub struct Session {
    conversation: [u8; 32],
    me: PublicIdentity,
    peer: PublicIdentity,
    peer_verifier: Verifier,
    pending_peer: Option<PublicIdentity>,
    my_mailbox: MailboxId,
    /// The mailbox we moved away from (§10.4): still accepted until the peer
    /// confirms the move.
    old_my_mailbox: Option<MailboxId>,
    peer_mailbox: MailboxId,
    ratchet: RatchetState,
    integrity: IntegrityState,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("peer", &self.peer)
            .field("pending_peer", &self.pending_peer)
            .field("ratchet", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(crate) fn new(
        conversation: [u8; 32],
        me: PublicIdentity,
        peer: PublicIdentity,
        my_mailbox: MailboxId,
        peer_mailbox: MailboxId,
        ratchet: RatchetState,
    ) -> Result<Self, IdentityError> {
        Ok(Self {
            conversation,
            me,
            peer,
            peer_verifier: peer.verifier()?,
            pending_peer: None,
            my_mailbox,
            old_my_mailbox: None,
            peer_mailbox,
            ratchet,
            integrity: IntegrityState::default(),
        })
    }

    /// We receive on `new` from now on (§10.4); envelopes still addressed to
    /// the mailbox we leave are accepted until [`Session::forget_old_mailbox`].
    pub fn move_my_mailbox(&mut self, new: MailboxId) {
        if new != self.my_mailbox {
            self.old_my_mailbox = Some(self.my_mailbox);
            self.my_mailbox = new;
        }
    }

    /// The peer confirmed our move: nothing more arrives on the old mailbox.
    pub fn forget_old_mailbox(&mut self) {
        self.old_my_mailbox = None;
    }

    /// The peer receives on `new` from now on (§10.4): our envelopes are addressed there.
    pub fn move_peer_mailbox(&mut self, new: MailboxId) {
        self.peer_mailbox = new;
    }

    /// Encrypts and signs `content` for the peer.
    pub fn encrypt<R: CryptoRng + ?Sized>(
        &mut self,
        me: &Identity,
        content: &Content,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Outgoing, SessionError> {
        if me.public() != self.me {
            return Err(SessionError::IdentityMismatch);
        }
        content.validate()?;
        let (counter, prev_hash, ack_counter, ack_hash) = self.integrity.next_outgoing();
        let inner = Inner {
            counter,
            sent_at_ms: now_ms,
            prev_hash,
            ack_counter,
            ack_hash,
            content: content.clone(),
        };
        let (mut buf, hash) = inner.sign(&self.conversation, me);
        let overhead = HEADER_LEN + ENCRYPTED_HEADER_LEN + BODY_NONCE_LEN + TAG_LEN;
        let bucket = bucket_for(overhead + buf.len() + 1)?;
        buf.reserve_exact(bucket - overhead - buf.len() + TAG_LEN);
        pad_in_place(&mut buf, bucket - overhead)?;
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        let id = MessageId(id);
        let mut envelope = Vec::with_capacity(bucket);
        write_header(&mut envelope, &self.peer_mailbox, &id, BodyKind::Ratchet);
        let (enc_header, nonce) =
            self.ratchet
                .encrypt(&envelope, &self.conversation, &mut buf, rng)?;
        envelope.extend_from_slice(&enc_header);
        envelope.extend_from_slice(&nonce);
        envelope.extend_from_slice(&buf);
        self.integrity.record_sent(counter, hash);
        Ok(Outgoing {
            envelope,
            id,
            counter,
        })
    }

    /// Renews a session restored from a backup (or otherwise known to be a copy
    /// of a state that may have been used), before it sends anything else:
    /// starts a fresh sending chain with a new ratchet key pair (a DH step,
    /// PROTOCOL.md §9.3, drawn from `rng`) and sends the signed notice
    /// [`Content::SessionRestored`], whose counter jumps by
    /// [`crate::integrity::RESTORE_COUNTER_STEP`] so it never meets a counter
    /// the original device used after the backup (§11). Nothing changes on error.
    ///
    /// The peer follows the DH step as usual if it has not moved on since the
    /// backup; otherwise it cannot read the notice and reports a fork (§2).
    pub fn renew_after_restore<R: CryptoRng + ?Sized>(
        &mut self,
        me: &Identity,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Outgoing, SessionError> {
        let before = self.snapshot();
        let result = (|| {
            self.ratchet.renew()?;
            let from = self.integrity.jump_after_restore();
            self.encrypt(me, &Content::SessionRestored { from }, now_ms, rng)
        })();
        if result.is_err() {
            *self = before;
        }
        result
    }

    /// Builds a key update moving this conversation from `old` to `new`, encrypts it
    /// (signed by `old`), and switches the session to sign with `new` from now on.
    pub fn rotate_identity<R: CryptoRng + ?Sized>(
        &mut self,
        old: &Identity,
        new: &Identity,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Outgoing, SessionError> {
        let update = KeyUpdate::create(&self.conversation, &old.public(), new);
        let out = self.encrypt(old, &Content::KeyUpdate(update), now_ms, rng)?;
        self.me = new.public();
        Ok(out)
    }

    /// Decrypts, verifies and checks an envelope. State changes only on success.
    ///
    /// `now_ms` is the receiver's clock: skipped message keys older than
    /// [`crate::ratchet::SKIPPED_KEY_TTL_MS`] are not used (and are discarded
    /// on success), and keys stored now are stamped with it.
    ///
    /// Callers persist the new session bytes and the message in one transaction,
    /// and only then ack the envelope at the relay: a redelivery after a crash
    /// before the commit decrypts again from the old state, one after it is
    /// refused as a duplicate (dedupe by message id first anyway).
    pub fn decrypt(
        &mut self,
        envelope: &Envelope<'_>,
        now_ms: u64,
    ) -> Result<Received, SessionError> {
        let (pending, signed) = self.open(envelope, now_ms)?;
        let from_pending_key = match signed.verify(&self.peer_verifier) {
            Ok(()) => false,
            Err(e) => match &self.pending_peer {
                Some(p) if p.verifier().is_ok_and(|v| signed.verify(&v).is_ok()) => true,
                _ => return Err(MessageError::BadSignature(e).into()),
            },
        };
        let mut new_pending = None;
        if let Content::KeyUpdate(update) = &signed.inner.content {
            update
                .verify(&self.conversation, &self.peer)
                .map_err(|e| SessionError::KeyUpdate(e.into()))?;
            new_pending = Some(update.new_identity);
        }
        let events = self.integrity.on_receive(&signed.inner, signed.hash);
        self.ratchet.apply(pending, signed.inner.counter, now_ms);
        if new_pending.is_some() {
            self.pending_peer = new_pending;
        }
        let inner = signed.inner;
        Ok(Received {
            content: inner.content,
            counter: inner.counter,
            sent_at_ms: inner.sent_at_ms,
            ack_counter: acked(inner.ack_counter),
            events,
            from_pending_key,
        })
    }

    /// Decrypts several envelopes in order, exactly as calling [`Session::decrypt`]
    /// on each in turn would (same results, same final state), but verifies
    /// their signatures together ([`crate::inner::verify_batch`]): one
    /// multi-scalar multiplication for the batch instead of one double-scalar
    /// multiplication per message, which dominated catching up on a backlog.
    ///
    /// The rule that state changes only for authentic messages still holds for
    /// what the caller can observe: the ratchet advances tentatively while the
    /// batch is decrypted, and if the batch signature check fails, the session
    /// is restored to its state before the call and every envelope is decrypted
    /// again one by one with individual verification. Batches that involve an
    /// announced-but-unaccepted identity or a key update take that path directly.
    pub fn decrypt_batch(
        &mut self,
        envelopes: &[Envelope<'_>],
        now_ms: u64,
    ) -> Vec<Result<Received, SessionError>> {
        if envelopes.len() > 1
            && self.pending_peer.is_none()
            && let Some(results) = self.decrypt_batch_fast(envelopes, now_ms)
        {
            return results;
        }
        envelopes.iter().map(|e| self.decrypt(e, now_ms)).collect()
    }

    /// The batched path: `None` (with the session restored) if it cannot be used
    /// or a signature in the batch does not verify.
    fn decrypt_batch_fast(
        &mut self,
        envelopes: &[Envelope<'_>],
        now_ms: u64,
    ) -> Option<Vec<Result<Received, SessionError>>> {
        let before = self.snapshot();
        let mut results = Vec::with_capacity(envelopes.len());
        let mut opened: Vec<UnverifiedInner> = Vec::with_capacity(envelopes.len());
        for envelope in envelopes {
            match self.open_unverified(envelope, now_ms) {
                Ok(one) => {
                    if matches!(one.signed.inner.content, Content::KeyUpdate(_)) {
                        *self = before;
                        return None;
                    }
                    results.push(None);
                    opened.push(one);
                }
                Err(e) => results.push(Some(Err(e))),
            }
        }
        let refs: Vec<&SignedInner> = opened.iter().map(|o| &o.signed).collect();
        if crate::inner::verify_batch(&self.peer, &refs).is_err() {
            *self = before;
            return None;
        }
        drop(refs);
        let mut verified = opened.into_iter();
        let mut out = Vec::with_capacity(results.len());
        for slot in results {
            match slot {
                Some(err) => out.push(err),
                None => {
                    let UnverifiedInner { signed, events } = verified.next()?;
                    out.push(Ok(Received {
                        content: signed.inner.content,
                        counter: signed.inner.counter,
                        sent_at_ms: signed.inner.sent_at_ms,
                        ack_counter: acked(signed.inner.ack_counter),
                        events,
                        from_pending_key: false,
                    }));
                }
            }
        }
        Some(out)
    }

    /// Decrypts and decodes an envelope without changing any state: the ratchet
    /// step comes back as `Pending`, applied only once the caller accepts the message.
    fn open(
        &self,
        envelope: &Envelope<'_>,
        now_ms: u64,
    ) -> Result<(Pending, SignedInner), SessionError> {
        if envelope.kind != BodyKind::Ratchet {
            return Err(SessionError::WrongKind);
        }
        if envelope.mailbox != self.my_mailbox && Some(envelope.mailbox) != self.old_my_mailbox {
            return Err(SessionError::WrongMailbox);
        }
        let mut r = Reader::new(envelope.body);
        let enc_header: [u8; ENCRYPTED_HEADER_LEN] = r.array()?;
        let nonce: [u8; BODY_NONCE_LEN] = r.array()?;
        let mut buf = r.rest().to_vec();
        let incoming = Incoming {
            envelope_header: envelope.header,
            conversation: &self.conversation,
            enc_header: &enc_header,
            nonce: &nonce,
        };
        let pending = self.ratchet.decrypt(&incoming, &mut buf, now_ms)?;
        let len = unpadded_len(&buf)?;
        buf.truncate(len);
        Ok((pending, SignedInner::decode(&self.conversation, &buf)?))
    }

    /// One step of the batched path: decrypts, decodes and records the message
    /// as [`Session::decrypt`] does, but leaves the signature to the caller.
    fn open_unverified(
        &mut self,
        envelope: &Envelope<'_>,
        now_ms: u64,
    ) -> Result<UnverifiedInner, SessionError> {
        let (pending, signed) = self.open(envelope, now_ms)?;
        let events = if matches!(signed.inner.content, Content::KeyUpdate(_)) {
            Vec::new() // The caller abandons the batch: nothing recorded.
        } else {
            let events = self.integrity.on_receive(&signed.inner, signed.hash);
            self.ratchet.apply(pending, signed.inner.counter, now_ms);
            events
        };
        Ok(UnverifiedInner { signed, events })
    }

    /// A copy of the whole state, to roll back a batch whose signatures failed.
    fn snapshot(&self) -> Self {
        Self {
            conversation: self.conversation,
            me: self.me,
            peer: self.peer,
            peer_verifier: self.peer_verifier,
            pending_peer: self.pending_peer,
            my_mailbox: self.my_mailbox,
            old_my_mailbox: self.old_my_mailbox,
            peer_mailbox: self.peer_mailbox,
            ratchet: self.ratchet.clone(),
            integrity: self.integrity.clone(),
        }
    }

    /// The peer's announced new identity, awaiting the user's decision.
    pub fn pending_peer_identity(&self) -> Option<PublicIdentity> {
        self.pending_peer
    }

    /// Adopts the announced identity (after the user accepted it). Returns it.
    pub fn accept_pending_identity(&mut self) -> Option<PublicIdentity> {
        let new = self.pending_peer?;
        let verifier = new.verifier().ok()?;
        self.pending_peer = None;
        self.peer = new;
        self.peer_verifier = verifier;
        Some(new)
    }

    /// Discards the announced identity: messages signed by it are refused again.
    pub fn reject_pending_identity(&mut self) {
        self.pending_peer = None;
    }

    /// The peer's current identity.
    pub fn peer_identity(&self) -> PublicIdentity {
        self.peer
    }

    /// Our identity in this conversation.
    pub fn my_identity(&self) -> PublicIdentity {
        self.me
    }

    /// Where we send.
    pub fn peer_mailbox(&self) -> MailboxId {
        self.peer_mailbox
    }

    /// Where we receive.
    pub fn my_mailbox(&self) -> MailboxId {
        self.my_mailbox
    }

    /// Shared conversation id (from the handshake transcript; never sent).
    pub fn conversation_id(&self) -> [u8; 32] {
        self.conversation
    }

    /// Safety number of the two current identities.
    pub fn safety_number(&self) -> SafetyNumber {
        SafetyNumber::new(&self.me, &self.peer)
    }

    /// Skipped message keys held for messages not yet arrived (bounded by `ratchet::MAX_STORED_KEYS`).
    pub fn stored_skipped_keys(&self) -> usize {
        self.ratchet.skipped_len()
    }

    /// Discards skipped message keys stored
    /// [`crate::ratchet::SKIPPED_KEY_TTL_MS`] or more before `now_ms`, for a
    /// conversation that receives nothing (decrypting does it too). Returns
    /// how many were discarded; persist the session if any were.
    pub fn expire_skipped_keys(&mut self, now_ms: u64) -> usize {
        self.ratchet.expire_skipped(now_ms)
    }

    /// Counters of peer messages that have not arrived (holes in the chain).
    pub fn missing_counters(&self) -> Vec<u64> {
        self.integrity.missing().collect()
    }

    /// Local encoding for the encrypted store (PROTOCOL.md, "Session state").
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let cap = 1 + 32 + 64 * 3 + 1 + 64 + self.ratchet.encoded_len_hint() + 200_000;
        let mut w = Writer::with_capacity(cap);
        w.u8(SESSION_VERSION)
            .put(&self.conversation)
            .put(&self.me.to_bytes())
            .put(&self.peer.to_bytes());
        match &self.pending_peer {
            Some(p) => w.u8(1).put(&p.to_bytes()),
            None => w.u8(0),
        };
        w.put(&self.my_mailbox.0).put(&self.peer_mailbox.0);
        match &self.old_my_mailbox {
            Some(m) => w.u8(1).put(&m.0),
            None => w.u8(0),
        };
        self.ratchet.encode(&mut w);
        self.integrity.encode(&mut w);
        Zeroizing::new(w.into_vec())
    }

    /// Reads what [`Session::to_bytes`] wrote.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SessionError> {
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != SESSION_VERSION && version != SESSION_VERSION_1 {
            return Err(DecodeError::UnknownVersion(version).into());
        }
        let conversation = r.array()?;
        let me = identity(&mut r)?;
        let peer = identity(&mut r)?;
        let pending_peer = match r.u8()? {
            0 => None,
            1 => Some(identity(&mut r)?),
            value => {
                return Err(DecodeError::UnknownTag {
                    field: "pending identity",
                    value,
                }
                .into());
            }
        };
        let my_mailbox = MailboxId(r.array()?);
        let peer_mailbox = MailboxId(r.array()?);
        let old_my_mailbox = if version == SESSION_VERSION_1 {
            None
        } else {
            match r.u8()? {
                0 => None,
                1 => Some(MailboxId(r.array()?)),
                value => {
                    return Err(DecodeError::UnknownTag {
                        field: "old mailbox",
                        value,
                    }
                    .into());
                }
            }
        };
        let ratchet = RatchetState::decode(&mut r)?;
        let integrity = IntegrityState::decode(&mut r)?;
        r.finish()?;
        Ok(Self {
            conversation,
            me,
            peer,
            peer_verifier: peer
                .verifier()
                .map_err(|_| DecodeError::Invalid("identity"))?,
            pending_peer,
            my_mailbox,
            old_my_mailbox,
            peer_mailbox,
            ratchet,
            integrity,
        })
    }
}

fn identity(r: &mut Reader<'_>) -> Result<PublicIdentity, DecodeError> {
    PublicIdentity::from_bytes(&r.array()?).map_err(|_| DecodeError::Invalid("identity"))
}

/// The wire's "nothing received yet" ([`crate::inner::NO_ACK`]) as `None`.
fn acked(ack_counter: u64) -> Option<u64> {
    (ack_counter != crate::inner::NO_ACK).then_some(ack_counter)
}
