//! The short invite link's vector (PROTOCOL.md §7.1): the link secret, what
//! it derives, and the sealed invite, each recomputed here from the
//! primitives and checked against what `InviteLink` produced.

use cairn_protocol::crypto::{hkdf, open, sha256};
use cairn_protocol::invite::{Invite, InviteLink};
use cairn_protocol::labels;
use cairn_protocol::padding::unpadded_len;
use serde_json::{Value, json};

use super::VectorRng;

/// `invite_link.json` for `invite` (valid until `expires_at`), the message id
/// drawn from `rng`.
pub(crate) fn vector(invite: &Invite, expires_at: u64, rng: &mut VectorRng) -> Value {
    let (link, sealed) = InviteLink::seal(invite, rng).unwrap();
    let secret = sha256(&[labels::INVITE_LINK, invite.as_bytes()]);
    let okm = hkdf::<96>(None, &secret, labels::INVITE_LINK_KEYS);
    let keys = link.keys();
    assert_eq!(keys.mailbox.0[..], okm[..32]);
    assert_eq!(keys.auth_seed[..], okm[32..64]);
    let seal_key: [u8; 32] = okm[64..].try_into().unwrap();
    let mut body = sealed[50..].to_vec();
    open(&seal_key, &[0; 12], &sealed[..50], &mut body).unwrap();
    body.truncate(unpadded_len(&body).unwrap());
    assert_eq!(
        body,
        invite.as_bytes(),
        "the seal key opens the invite bytes"
    );
    let opened = link.open(&sealed, expires_at).unwrap();
    assert_eq!(opened.as_bytes(), invite.as_bytes());
    let auth_seed: [u8; 32] = okm[32..64].try_into().unwrap();
    let auth_public = ed25519_dalek::SigningKey::from_bytes(&auth_seed).verifying_key();
    json!({
        "depends_on": "nothing: the invite bytes are copied here from invite.json",
        "invite": hex::encode(invite.as_bytes()),
        "rng": rng.log,
        "secret": hex::encode(secret),
        "link_mailbox": hex::encode(&okm[..32]),
        "auth_seed": hex::encode(auth_seed),
        "auth_public_key": hex::encode(auth_public.as_bytes()),
        "seal_key": hex::encode(seal_key),
        "link": hex::encode(link.to_bytes()),
        "uri": link.to_uri(),
        "envelope": hex::encode(&sealed),
        "note": "rng: the sealed envelope's message id (16). secret = SHA-256(\"Cairn v1 invite link\" ‖ invite); link_mailbox ‖ auth_seed ‖ seal_key = HKDF-SHA256(no salt, secret, \"Cairn v1 invite link keys\", 96); auth_public_key is the Ed25519 key of auth_seed (it signs Subscribe and DeleteMailbox for the link mailbox); envelope = header(1, link_mailbox, message id, kind 3) ‖ ChaCha20-Poly1305(seal_key, nonce 0, ad = header, invite ‖ 0x80 ‖ zeros to 2,048 bytes).",
    })
}
