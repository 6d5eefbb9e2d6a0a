//! Double Ratchet with header encryption (Signal's specification, §4 "header encryption").
//!
//! Three deliberate departures, all documented in PROTOCOL.md (§9.5, §9.6, §9.8):
//! - The sending half of a DH ratchet step runs at the next `encrypt`, not on
//!   receipt, so `decrypt` needs no randomness and stays a pure function of
//!   state and input (vodozemac does the same).
//! - `decrypt` never mutates state: it returns a [`Pending`] update that the
//!   session applies only after the inner message verified. A forged or
//!   tampered message therefore cannot advance, corrupt or erase anything.
//! - The body is XChaCha20-Poly1305 under the message key with a random
//!   24-byte nonce carried in the message (not a nonce derived from the
//!   chain position), and the encrypted header authenticates the sealed body
//!   (it is associated data of the header). So a chain position used twice —
//!   a restored backup or a copied profile sending from an old state — never
//!   repeats a (key, nonce) pair, and a header that opens while its body does
//!   not is proof of such a divergence ([`RatchetError::Forked`]), never of a
//!   relay's tampering (which breaks the header).

mod header;
mod kdf;
mod skipped;
mod state_codec;

use rand_core::CryptoRng;
use thiserror::Error;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

pub use header::{ENCRYPTED_HEADER_LEN, Header};
pub use skipped::{MAX_DISCARDED_RANGES, MAX_SKIP, MAX_STORED_KEYS, SKIPPED_KEY_TTL_MS};

use crate::crypto::{CryptoError, dh, xopen, xseal};
use kdf::{Key, chain_step, message_key, root_step};
use skipped::{Lookup, SkippedKey, SkippedKeys, UNKNOWN};

/// Why a ratchet message could not be decrypted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RatchetError {
    /// No header key opened the header: not for this conversation, or tampered.
    #[error("message header could not be decrypted (tampered, or not for this conversation)")]
    HeaderUndecryptable,
    /// The header is genuine but its key was already used: a replay or duplicate delivery.
    #[error("message number {n} was already received (replay or duplicate)")]
    Duplicate {
        /// Message number in its chain.
        n: u32,
    },
    /// The header is genuine — it opened under one of our header keys, and it
    /// authenticates the body it came with — but the body does not open with
    /// our message key for that position, or the header names another ratchet
    /// key than the chain it belongs to. The sender encrypted from a ratchet
    /// state that diverged from ours: a device restored from a backup or a
    /// copied profile, sending from a state the conversation has moved past.
    /// A relay cannot cause this (altering any byte breaks the header).
    #[error(
        "message number {n} of its chain does not match this conversation's keys: \
         the sender's device is a restored backup or a copy that diverged from this \
         conversation (the message cannot be read)"
    )]
    Forked {
        /// Message number in its chain.
        n: u32,
    },
    /// The header is genuine, but its message key was discarded before it
    /// arrived (more than [`MAX_STORED_KEYS`] newer keys were stored, or it
    /// was older than [`SKIPPED_KEY_TTL_MS`]): the message is lost, not a replay.
    #[error("{} arrived after its key was discarded: it cannot be read", match .counter {
        Some(c) => format!("message {c}"),
        None => format!("a message (number {n} of its chain)"),
    })]
    KeyDiscarded {
        /// Message number in its chain.
        n: u32,
        /// The sender's counter of the message (§10.1), if it could be worked out.
        counter: Option<u64>,
    },
    /// The header asks to derive more than [`MAX_SKIP`] keys (over both
    /// chains, when it also completes the previous one).
    #[error("message skips {skip} keys, more than the limit {max}")]
    TooManySkipped {
        /// Keys the message would skip.
        skip: u64,
        /// The limit.
        max: u32,
    },
    /// A DH output was all zeros.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The chain counter would overflow (2^32 messages in one chain).
    #[error("sending chain exhausted")]
    ChainExhausted,
    /// Sending before any sending chain exists (cannot happen after a handshake).
    #[error("ratchet has no sending chain")]
    NoSendingChain,
}

/// The ratchet's complete state. Secret fields zeroize on drop.
#[derive(Clone)]
pub(crate) struct RatchetState {
    dhs: StaticSecret,
    dhs_public: [u8; 32],
    dhr: Option<[u8; 32]>,
    rk: Key,
    cks: Option<Key>,
    ckr: Option<Key>,
    hks: Option<Key>,
    hkr: Option<Key>,
    nhks: Key,
    nhkr: Key,
    ns: u32,
    nr: u32,
    pn: u32,
    send_step_pending: bool,
    skipped: SkippedKeys,
    /// Header keys of earlier receiving chains (newest last), only to recognise replays.
    old_hkr: Vec<Key>,
}

/// Earlier receiving chains whose header keys are remembered to classify replays.
pub const MAX_OLD_CHAINS: usize = 4;

/// Length of the body's random XChaCha20-Poly1305 nonce, carried after the encrypted header.
pub const BODY_NONCE_LEN: usize = 24;

/// What [`RatchetState::encrypt`] puts before the sealed body: `encrypted header ‖ nonce`.
pub(crate) type SealedPrefix = ([u8; ENCRYPTED_HEADER_LEN], [u8; BODY_NONCE_LEN]);

/// A received ratchet message as the ratchet needs it: everything but the sealed body.
pub(crate) struct Incoming<'a> {
    /// The envelope header (50 bytes).
    pub envelope_header: &'a [u8],
    /// The conversation id.
    pub conversation: &'a [u8; 32],
    /// The encrypted header.
    pub enc_header: &'a [u8; ENCRYPTED_HEADER_LEN],
    /// The body's nonce.
    pub nonce: &'a [u8; BODY_NONCE_LEN],
}

/// A verified-but-uncommitted decryption: apply it with [`RatchetState::apply`].
pub(crate) struct Pending {
    kind: PendingKind,
    /// Keys to store, each with how many messages it lies before the
    /// decrypted one in the sender's order (to work out its counter).
    new_skipped: Vec<(SkippedKey, u64)>,
}

enum PendingKind {
    /// Used a stored skipped key.
    Skipped { index: usize },
    /// Advanced the current receiving chain.
    SameChain { ckr: Key, nr: u32 },
    /// A DH ratchet step on receipt.
    Step {
        dhr: [u8; 32],
        rk: Key,
        ckr: Key,
        hkr: Key,
        nhkr: Key,
        nr: u32,
    },
}

impl RatchetState {
    /// Acceptor ("Alice"): sends first, using the inviter's invite key as its first ratchet partner.
    pub(crate) fn init_acceptor(
        shared: &[u8; 32],
        own_ratchet: StaticSecret,
        inviter_ratchet: &[u8; 32],
        header_key_send: Key,
        next_header_key_recv: Key,
    ) -> Result<Self, RatchetError> {
        let step = root_step(shared, &*dh(&own_ratchet, inviter_ratchet)?);
        let dhs_public = PublicKey::from(&own_ratchet).to_bytes();
        Ok(Self {
            dhs: own_ratchet,
            dhs_public,
            dhr: Some(*inviter_ratchet),
            rk: step.root,
            cks: Some(step.chain),
            ckr: None,
            hks: Some(header_key_send),
            hkr: None,
            nhks: step.next_header,
            nhkr: next_header_key_recv,
            ns: 0,
            nr: 0,
            pn: 0,
            send_step_pending: false,
            skipped: SkippedKeys::default(),
            old_hkr: Vec::new(),
        })
    }

    /// Inviter ("Bob"): already knows the acceptor's ratchet key from the handshake,
    /// so it can receive at once and send after its own (deferred) ratchet step.
    pub(crate) fn init_inviter(
        shared: &[u8; 32],
        invite_ratchet: StaticSecret,
        acceptor_ratchet: &[u8; 32],
        header_key_recv: Key,
        next_header_key_send: Key,
    ) -> Result<Self, RatchetError> {
        let step = root_step(shared, &*dh(&invite_ratchet, acceptor_ratchet)?);
        let dhs_public = PublicKey::from(&invite_ratchet).to_bytes();
        Ok(Self {
            dhs: invite_ratchet,
            dhs_public,
            dhr: Some(*acceptor_ratchet),
            rk: step.root,
            cks: None,
            ckr: Some(step.chain),
            hks: None,
            hkr: Some(header_key_recv),
            nhks: next_header_key_send,
            nhkr: step.next_header,
            ns: 0,
            nr: 0,
            pn: 0,
            send_step_pending: true,
            skipped: SkippedKeys::default(),
            old_hkr: Vec::new(),
        })
    }

    /// Encrypts `buf` (already padded) in place; returns the encrypted header and
    /// the body's nonce, which go before it (PROTOCOL.md §9.3). Random draws, in
    /// order: the new ratchet secret (only when a DH step runs), the body nonce,
    /// the header nonce.
    pub(crate) fn encrypt<R: CryptoRng + ?Sized>(
        &mut self,
        envelope_header: &[u8],
        conversation: &[u8; 32],
        buf: &mut Vec<u8>,
        rng: &mut R,
    ) -> Result<SealedPrefix, RatchetError> {
        if self.send_step_pending {
            self.send_step(rng)?;
        }
        let (Some(cks), Some(hks)) = (self.cks.as_ref(), self.hks.as_ref()) else {
            return Err(RatchetError::NoSendingChain);
        };
        let n = self.ns;
        let next_ns = n.checked_add(1).ok_or(RatchetError::ChainExhausted)?;
        let (next_ck, mk) = chain_step(cks);
        let header = Header {
            dh: self.dhs_public,
            pn: self.pn,
            n,
        };
        let mut nonce = [0u8; BODY_NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let ad = body_ad(envelope_header, conversation, &header);
        xseal(&message_key(&mk), &nonce, &ad, buf)?;
        let enc_header = header.seal(hks, &header_ad(envelope_header, &nonce, buf), rng)?;
        self.cks = Some(next_ck);
        self.ns = next_ns;
        Ok((enc_header, nonce))
    }

    /// Makes the next [`RatchetState::encrypt`] start a fresh sending chain
    /// with a new ratchet key pair (a DH step, §9.3), even if this side sent
    /// last: what a session restored from a backup does before anything else,
    /// so that it never continues a chain the original device may have used.
    pub(crate) fn renew(&mut self) -> Result<(), RatchetError> {
        if self.dhr.is_none() {
            return Err(RatchetError::NoSendingChain);
        }
        self.send_step_pending = true;
        Ok(())
    }

    /// The deferred sending half of a DH ratchet step.
    fn send_step<R: CryptoRng + ?Sized>(&mut self, rng: &mut R) -> Result<(), RatchetError> {
        let dhr = self.dhr.ok_or(RatchetError::NoSendingChain)?;
        let new = StaticSecret::random_from_rng(rng);
        let step = root_step(&self.rk, &*dh(&new, &dhr)?);
        self.hks = Some(self.nhks.clone());
        self.dhs_public = PublicKey::from(&new).to_bytes();
        self.dhs = new;
        self.rk = step.root;
        self.cks = Some(step.chain);
        self.nhks = step.next_header;
        self.pn = self.ns;
        self.ns = 0;
        self.send_step_pending = false;
        Ok(())
    }

    /// Decrypts `body` (`ciphertext ‖ tag`) in place without changing state.
    /// `now_ms` decides which skipped keys have expired and stamps new ones.
    pub(crate) fn decrypt(
        &self,
        m: &Incoming<'_>,
        body: &mut Vec<u8>,
        now_ms: u64,
    ) -> Result<Pending, RatchetError> {
        let at = Skip {
            new: Vec::new(),
            now_ms,
        };
        // The header authenticates the sealed body: computed once, tried per key.
        let ad = header_ad(m.envelope_header, m.nonce, body);
        let open_header = |hk: &[u8; 32]| Header::open(hk, &ad, m.enc_header);
        // 1. Current receiving chain (the common case).
        if let Some(hkr) = &self.hkr
            && let Some(h) = open_header(hkr)
        {
            // Every header of one chain names the ratchet key that started it.
            if self.dhr != Some(h.dh) {
                return Err(RatchetError::Forked { n: h.n });
            }
            if h.n < self.nr {
                return self.try_skipped(hkr, &h, m, body, now_ms);
            }
            let ckr = self.ckr.as_ref().ok_or(RatchetError::HeaderUndecryptable)?;
            check_skip(u64::from(h.n - self.nr))?;
            let mut at = at;
            let ck = at.skip(ckr, hkr, self.nr, h.n, 0);
            let (next_ck, mk) = chain_step(&ck);
            decrypt_body(&mk, m, &h, body)?;
            return Ok(Pending {
                kind: PendingKind::SameChain {
                    ckr: next_ck,
                    nr: h.n.saturating_add(1),
                },
                new_skipped: at.new,
            });
        }
        // 2. Next header key: the peer performed a DH ratchet step. The rest
        // of the current receiving chain (up to PN) and the start of the new
        // one count together against MAX_SKIP; with no receiving chain yet
        // (an acceptor before any reply) there is nothing to complete and PN
        // is not used.
        if let Some(h) = open_header(&self.nhkr) {
            let rest = match (&self.ckr, &self.hkr) {
                (Some(_), Some(_)) => h.pn.saturating_sub(self.nr),
                _ => 0,
            };
            check_skip(u64::from(rest) + u64::from(h.n))?;
            let mut at = at;
            if let (Some(ckr), Some(hkr)) = (&self.ckr, &self.hkr) {
                at.skip(ckr, hkr, self.nr, h.pn, u64::from(h.n));
            }
            let step = root_step(&self.rk, &*dh(&self.dhs, &h.dh)?);
            let ck = at.skip(&step.chain, &self.nhkr, 0, h.n, 0);
            let (next_ck, mk) = chain_step(&ck);
            decrypt_body(&mk, m, &h, body)?;
            return Ok(Pending {
                kind: PendingKind::Step {
                    dhr: h.dh,
                    rk: step.root,
                    ckr: next_ck,
                    hkr: self.nhkr.clone(),
                    nhkr: step.next_header,
                    nr: h.n.saturating_add(1),
                },
                new_skipped: at.new,
            });
        }
        // 3. Older chains with skipped keys stored, or discarded.
        for hk in self.skipped.header_keys() {
            if let Some(h) = open_header(&hk) {
                return self.try_skipped(&hk, &h, m, body, now_ms);
            }
        }
        // 4. A genuine header of an earlier chain with no key left: a replay.
        for hk in self.old_hkr.iter().rev() {
            if let Some(h) = open_header(hk) {
                return Err(RatchetError::Duplicate { n: h.n });
            }
        }
        Err(RatchetError::HeaderUndecryptable)
    }

    /// A message whose key, if any, is in the skipped store: decrypts it, or
    /// says it was discarded (lost) or is not there (a replay).
    fn try_skipped(
        &self,
        hk: &[u8; 32],
        h: &Header,
        m: &Incoming<'_>,
        body: &mut Vec<u8>,
        now_ms: u64,
    ) -> Result<Pending, RatchetError> {
        let n = h.n;
        let (index, key) = match self.skipped.lookup(hk, n, now_ms) {
            Lookup::Found(index, key) => (index, key),
            Lookup::Discarded(counter) => {
                return Err(RatchetError::KeyDiscarded {
                    n,
                    counter: (counter != UNKNOWN).then_some(counter),
                });
            }
            Lookup::Missing => return Err(RatchetError::Duplicate { n }),
        };
        decrypt_body(&key.message_key, m, h, body)?;
        Ok(Pending {
            kind: PendingKind::Skipped { index },
            new_skipped: Vec::new(),
        })
    }

    /// Commits a decryption returned by [`RatchetState::decrypt`] on this
    /// same state. `counter` is the sender's counter of the message (it
    /// labels the keys stored for the messages skipped before it); expired
    /// skipped keys are discarded as of `now_ms`.
    pub(crate) fn apply(&mut self, pending: Pending, counter: u64, now_ms: u64) {
        match pending.kind {
            PendingKind::Skipped { index } => self.skipped.remove(index),
            PendingKind::SameChain { ckr, nr } => {
                self.ckr = Some(ckr);
                self.nr = nr;
            }
            PendingKind::Step {
                dhr,
                rk,
                ckr,
                hkr,
                nhkr,
                nr,
            } => {
                self.dhr = Some(dhr);
                self.rk = rk;
                self.ckr = Some(ckr);
                if let Some(old) = self.hkr.replace(hkr) {
                    self.old_hkr.push(old);
                    if self.old_hkr.len() > MAX_OLD_CHAINS {
                        self.old_hkr.remove(0);
                    }
                }
                self.nhkr = nhkr;
                self.nr = nr;
                self.send_step_pending = true;
            }
        }
        self.skipped
            .extend(pending.new_skipped.into_iter().map(|(mut key, back)| {
                key.counter = counter.checked_sub(back).unwrap_or(UNKNOWN);
                key
            }));
        self.skipped.expire(now_ms);
    }

    /// Discards skipped keys stored [`SKIPPED_KEY_TTL_MS`] or more before
    /// `now_ms` (keeping a record, so their messages are reported lost if
    /// they still come). Returns how many were discarded.
    pub(crate) fn expire_skipped(&mut self, now_ms: u64) -> usize {
        self.skipped.expire(now_ms)
    }

    /// Number of skipped keys currently stored.
    pub(crate) fn skipped_len(&self) -> usize {
        self.skipped.len()
    }
}

/// Refuses a message that would make us derive more than [`MAX_SKIP`] keys.
fn check_skip(count: u64) -> Result<(), RatchetError> {
    if count > u64::from(MAX_SKIP) {
        return Err(RatchetError::TooManySkipped {
            skip: count,
            max: MAX_SKIP,
        });
    }
    Ok(())
}

/// Skipped keys derived while decrypting one message (checked by [`check_skip`] first).
struct Skip {
    new: Vec<(SkippedKey, u64)>,
    now_ms: u64,
}

impl Skip {
    /// Derives and records the keys `from .. until` of the chain at `ck`
    /// (header key `hk`); returns the chain key at `until`. `after` is how
    /// many of the sender's messages lie between `until` and the decrypted
    /// message (so key `k` lies `after + until - k` messages before it).
    fn skip(&mut self, ck: &[u8; 32], hk: &[u8; 32], from: u32, until: u32, after: u64) -> Key {
        let mut ck = Zeroizing::new(*ck);
        for n in from..until {
            let (next, mk) = chain_step(&ck);
            let key = SkippedKey {
                header_key: Zeroizing::new(*hk),
                n,
                message_key: mk,
                counter: UNKNOWN,
                stored_at_ms: self.now_ms,
            };
            self.new.push((key, after + u64::from(until - n)));
            ck = next;
        }
        ck
    }
}

/// The body's associated data: `envelope header ‖ conversation id ‖ plain header`.
fn body_ad(envelope_header: &[u8], conversation: &[u8; 32], header: &Header) -> Vec<u8> {
    [envelope_header, conversation, &header.to_bytes()].concat()
}

/// The header's associated data: `envelope header ‖ body nonce ‖ sealed body`.
fn header_ad(envelope_header: &[u8], nonce: &[u8; BODY_NONCE_LEN], sealed: &[u8]) -> Vec<u8> {
    [envelope_header, nonce, sealed].concat()
}

/// Opens the body of a message whose header `h` opened. Failure here is a
/// divergence, not tampering: the header authenticated these very bytes.
fn decrypt_body(
    mk: &[u8; 32],
    m: &Incoming<'_>,
    h: &Header,
    body: &mut Vec<u8>,
) -> Result<(), RatchetError> {
    let ad = body_ad(m.envelope_header, m.conversation, h);
    xopen(&message_key(mk), m.nonce, &ad, body).map_err(|_| RatchetError::Forked { n: h.n })
}
