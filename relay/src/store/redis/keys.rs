//! Key and channel names. Every key of one mailbox carries the hash tag
//! `{<mailbox-id-hex>}`, so the whole mailbox lives in one Cluster slot and
//! one Lua script can change it atomically.

use cairn_protocol::envelope::MailboxId;

/// Prefix of every key the relay writes.
pub(super) const PREFIX: &str = "cairn:";

/// The hash of token records (one small key: tokens are few and read on mailbox creation).
pub(super) const TOKENS: &str = "cairn:tokens";

/// The four keys of a mailbox, in the order the scripts expect: mb, q, m, x.
pub(super) fn mailbox_keys(mailbox: &MailboxId) -> [String; 4] {
    let base = tag(mailbox);
    ["mb", "q", "m", "x"].map(|suffix| {
        let mut key = String::with_capacity(base.len() + suffix.len());
        key.push_str(&base);
        key.push_str(suffix);
        key
    })
}

/// `cairn:{<hex>}:`, the common start of a mailbox's keys and channel.
fn tag(mailbox: &MailboxId) -> String {
    let mut base = String::with_capacity(PREFIX.len() + 2 * mailbox.0.len() + 3);
    base.push_str(PREFIX);
    base.push('{');
    base.push_str(&hex::encode(mailbox.0));
    base.push_str("}:");
    base
}

/// The same four keys from any one of them (`cairn:{H}:x` → all of `cairn:{H}:*`).
pub(super) fn keys_from(key: &str) -> Option<[String; 4]> {
    mailbox_from_key(key).map(|m| mailbox_keys(&m))
}

/// The mailbox a key (or live channel) belongs to.
pub(super) fn mailbox_from_key(key: &str) -> Option<MailboxId> {
    let rest = key.strip_prefix(PREFIX)?.strip_prefix('{')?;
    let (hex_id, _) = rest.split_once('}')?;
    let mut id = [0u8; 32];
    hex::decode_to_slice(hex_id, &mut id).ok()?;
    Some(MailboxId(id))
}

/// The pub/sub channel live envelopes of a mailbox are published on
/// (`live2`: batched payloads, see `scripts::APPEND`; the `live` channel of
/// earlier relays carried one envelope per message).
pub(super) fn live_channel(mailbox: &MailboxId) -> String {
    let mut channel = tag(mailbox);
    channel.push_str("live2");
    channel
}

/// SCAN pattern matching one key per mailbox with that `suffix` (`mb`, `x`).
pub(super) fn scan_pattern(suffix: &str) -> String {
    format!("{PREFIX}{{*}}:{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_one_hash_tag_and_round_trip() {
        let m = MailboxId([0xab; 32]);
        let keys = mailbox_keys(&m);
        let tag = format!("{{{}}}", "ab".repeat(32));
        assert!(keys.iter().all(|k| k.contains(&tag)));
        assert_eq!(keys_from(&keys[3]), Some(keys.clone()));
        assert_eq!(mailbox_from_key(&live_channel(&m)), Some(m));
        assert_eq!(mailbox_from_key("cairn:{zz}:mb"), None);
        assert_eq!(mailbox_from_key("other:{ab}:mb"), None);
    }
}
