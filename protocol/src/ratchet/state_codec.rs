//! Local (not wire) encoding of [`RatchetState`] for the client's encrypted store.
//!
//! Layout, version 2 (written): `version u8 ‖ dhs (32) ‖ dhr opt ‖ rk (32) ‖ cks opt ‖
//! ckr opt ‖ hks opt ‖ hkr opt ‖ nhks (32) ‖ nhkr (32) ‖ ns u32 ‖ nr u32 ‖ pn u32 ‖
//! flags u8 ‖ count u16 ‖ count × (hk (32) ‖ n u32 ‖ mk (32) ‖ counter u64 ‖ stored_at_ms u64) ‖
//! old u8 ‖ old × hk (32) ‖ discarded u8 ‖ discarded × (hk (32) ‖ first_n u32 ‖ last_n u32 ‖
//! first_counter u64)`, where `opt` is `0x00` or `0x01 ‖ 32 bytes` and `u64::MAX` means
//! "unknown" for a counter or a time.
//!
//! Version 1 (still read) lacks the per-key counter and time and the discarded
//! records: its keys get an unknown counter and an unknown time, whose 30 days
//! start when the state is next used.

use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::kdf::Key;
use super::skipped::{
    DiscardedRange, MAX_DISCARDED_RANGES, MAX_STORED_KEYS, SkippedKey, SkippedKeys, UNKNOWN,
};
use super::{MAX_OLD_CHAINS, RatchetState};
use crate::wire::{DecodeError, Reader, Writer};

/// Version written.
const STATE_VERSION: u8 = 2;
/// The first version, still read.
const STATE_VERSION_1: u8 = 1;
const FLAG_SEND_STEP_PENDING: u8 = 1;

impl RatchetState {
    /// Upper bound of the encoded size, so the buffer never reallocates (no stray copies).
    pub(crate) fn encoded_len_hint(&self) -> usize {
        1 + 32
            + 33 * 5
            + 64
            + 12
            + 1
            + 2
            + self.skipped.len() * 84
            + 1
            + 32 * MAX_OLD_CHAINS
            + 1
            + 48 * MAX_DISCARDED_RANGES
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
                .put(k.message_key.as_ref())
                .u64(k.counter)
                .u64(k.stored_at_ms);
        }
        w.u8(u8::try_from(self.old_hkr.len()).unwrap_or(u8::MAX));
        for k in &self.old_hkr {
            w.put(k.as_ref());
        }
        let discarded: Vec<_> = self.skipped.discarded().collect();
        w.u8(u8::try_from(discarded.len()).unwrap_or(u8::MAX));
        for d in discarded {
            w.put(d.header_key.as_ref())
                .u32(d.first_n)
                .u32(d.last_n)
                .u64(d.first_counter);
        }
    }

    /// Reads what [`Self::encode`] wrote.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let version = r.u8()?;
        if version != STATE_VERSION && version != STATE_VERSION_1 {
            return Err(DecodeError::UnknownVersion(version));
        }
        let v2 = version == STATE_VERSION;
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
            let (counter, stored_at_ms) = if v2 {
                (r.u64()?, r.u64()?)
            } else {
                (UNKNOWN, UNKNOWN)
            };
            skipped.push_stored(SkippedKey {
                header_key,
                n,
                message_key,
                counter,
                stored_at_ms,
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
        if v2 {
            let count = usize::from(r.u8()?);
            if count > MAX_DISCARDED_RANGES {
                return Err(DecodeError::TooLong {
                    field: "discarded key records",
                    len: count,
                    max: MAX_DISCARDED_RANGES,
                });
            }
            for _ in 0..count {
                let header_key = key(r)?;
                let first_n = r.u32()?;
                let last_n = r.u32()?;
                if last_n < first_n {
                    return Err(DecodeError::Invalid("discarded key record"));
                }
                skipped.push_discarded(DiscardedRange {
                    header_key,
                    first_n,
                    last_n,
                    first_counter: r.u64()?,
                });
            }
        }
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
