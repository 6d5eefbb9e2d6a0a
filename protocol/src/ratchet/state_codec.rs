//! Local (not wire) encoding of [`RatchetState`] for the client's encrypted store.
//!
//! Layout, version 1: `version u8 ‖ dhs (32) ‖ dhr opt ‖ rk (32) ‖ cks opt ‖ ckr opt ‖
//! hks opt ‖ hkr opt ‖ nhks (32) ‖ nhkr (32) ‖ ns u32 ‖ nr u32 ‖ pn u32 ‖ flags u8 ‖
//! count u16 ‖ count × (hk (32) ‖ n u32 ‖ mk (32)) ‖ old u8 ‖ old × hk (32)`, where `opt` is `0x00` or `0x01 ‖ 32 bytes`.

use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::kdf::Key;
use super::skipped::{MAX_STORED_KEYS, SkippedKey, SkippedKeys};
use super::{MAX_OLD_CHAINS, RatchetState};
use crate::wire::{DecodeError, Reader, Writer};

const STATE_VERSION: u8 = 1;
const FLAG_SEND_STEP_PENDING: u8 = 1;

impl RatchetState {
    /// Upper bound of the encoded size, so the buffer never reallocates (no stray copies).
    pub(crate) fn encoded_len_hint(&self) -> usize {
        1 + 32 + 33 * 5 + 64 + 12 + 1 + 2 + self.skipped.len() * 68 + 1 + 32 * MAX_OLD_CHAINS
    }

    /// Appends the state to `w` (which should be pre-sized with [`Self::encoded_len_hint`]).
    pub(crate) fn encode(&self, w: &mut Writer) {
        w.u8(STATE_VERSION).put(self.dhs.as_bytes());
        put_opt(w, self.dhr.as_ref());
        w.put(self.rk.as_ref());
        for k in [&self.cks, &self.ckr, &self.hks, &self.hkr] {
            put_opt(w, k.as_deref());
        }
        w.put(self.nhks.as_ref()).put(self.nhkr.as_ref());
        w.u32(self.ns).u32(self.nr).u32(self.pn);
        w.u8(if self.send_step_pending {
            FLAG_SEND_STEP_PENDING
        } else {
            0
        });
        w.u16(u16::try_from(self.skipped.len()).unwrap_or(u16::MAX));
        for k in self.skipped.iter() {
            w.put(k.header_key.as_ref())
                .u32(k.n)
                .put(k.message_key.as_ref());
        }
        w.u8(u8::try_from(self.old_hkr.len()).unwrap_or(u8::MAX));
        for k in &self.old_hkr {
            w.put(k.as_ref());
        }
    }

    /// Reads what [`Self::encode`] wrote.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let version = r.u8()?;
        if version != STATE_VERSION {
            return Err(DecodeError::UnknownVersion(version));
        }
        let dhs = StaticSecret::from(*key(r)?);
        let dhs_public = PublicKey::from(&dhs).to_bytes();
        let dhr = opt(r)?.map(|k| *k);
        let rk = key(r)?;
        let cks = opt(r)?;
        let ckr = opt(r)?;
        let hks = opt(r)?;
        let hkr = opt(r)?;
        let nhks = key(r)?;
        let nhkr = key(r)?;
        let ns = r.u32()?;
        let nr = r.u32()?;
        let pn = r.u32()?;
        let flags = r.u8()?;
        if flags & !FLAG_SEND_STEP_PENDING != 0 {
            return Err(DecodeError::Invalid("ratchet flags"));
        }
        let count = usize::from(r.u16()?);
        if count > MAX_STORED_KEYS {
            return Err(DecodeError::TooLong {
                field: "skipped keys",
                len: count,
                max: MAX_STORED_KEYS,
            });
        }
        let mut skipped = SkippedKeys::default();
        for _ in 0..count {
            let header_key = key(r)?;
            let n = r.u32()?;
            let message_key = key(r)?;
            skipped.push(SkippedKey {
                header_key,
                n,
                message_key,
            });
        }
        let old = usize::from(r.u8()?);
        if old > MAX_OLD_CHAINS {
            return Err(DecodeError::TooLong {
                field: "old header keys",
                len: old,
                max: MAX_OLD_CHAINS,
            });
        }
        let old_hkr = (0..old).map(|_| key(r)).collect::<Result<_, _>>()?;
        Ok(Self {
            dhs,
            dhs_public,
            dhr,
            rk,
            cks,
            ckr,
            hks,
            hkr,
            nhks,
            nhkr,
            ns,
            nr,
            pn,
            send_step_pending: flags & FLAG_SEND_STEP_PENDING != 0,
            skipped,
            old_hkr,
        })
    }
}

fn put_opt(w: &mut Writer, k: Option<&[u8; 32]>) {
    match k {
        Some(k) => w.u8(1).put(k),
        None => w.u8(0),
    };
}

fn key(r: &mut Reader<'_>) -> Result<Key, DecodeError> {
    Ok(Zeroizing::new(r.array()?))
}

fn opt(r: &mut Reader<'_>) -> Result<Option<Key>, DecodeError> {
    match r.u8()? {
        0 => Ok(None),
        1 => Ok(Some(key(r)?)),
        value => Err(DecodeError::UnknownTag {
            field: "optional key",
            value,
        }),
    }
}
