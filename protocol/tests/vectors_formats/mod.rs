//! Vectors for the formats with structure but no secrets: relay addresses
//! (PROTOCOL.md §6) and structured content kinds (§10.2, §10.4).

use cairn_protocol::content::Content;
use cairn_protocol::envelope::MailboxId;
use cairn_protocol::frames::SendKey;
use cairn_protocol::relay_address::RelayAddress;
use cairn_protocol::wire::{Reader, Writer};
use serde_json::{Value, json};

use super::d32;

/// Relay addresses (PROTOCOL.md §6): text form ↔ binary form, and forms that must be refused.
pub(crate) fn relay_address_vectors() -> Value {
    let pin = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA";
    let accepted: Vec<Value> = [
        format!("wss://relay.example.org:7447/#{pin}"),
        "ws://127.0.0.1:7447/".to_owned(),
        format!("wss://[2001:db8::7]:443/#{pin}"),
        format!("wss://[2001:0DB8:0:0::7]:443/#{pin}"),
        "ws://[::1]:7447/".to_owned(),
    ]
    .iter()
    .map(|text| {
        let a: RelayAddress = text.parse().unwrap();
        let mut w = Writer::default();
        a.encode(&mut w);
        let binary = w.into_vec();
        let mut r = Reader::new(&binary);
        let back = RelayAddress::decode(&mut r).unwrap();
        r.finish().unwrap();
        assert_eq!(&back.to_string(), text);
        json!({ "text": text, "host": a.host(), "port": a.port(), "binary": hex::encode(&binary) })
    })
    .collect();
    let refused_text: Vec<Value> = [
        ("ws://::1:7447/", "IPv6 host without brackets"),
        ("ws://[localhost]:7447/", "brackets around a name"),
        ("wss://[::1]:7447/", "wss:// without #PIN"),
        ("ws://[fe80::1%eth0]:7447/", "IPv6 zone id"),
        ("ws://127.0.0.1:0/", "port 0"),
    ]
    .iter()
    .map(|(text, why)| {
        assert!(text.parse::<RelayAddress>().is_err(), "{text}");
        json!({ "text": text, "why": why })
    })
    .collect();
    let refused_binary: Vec<Value> = [
        (0u8, "[::1]", 7447u16, "IPv6 host with brackets"),
        (0, "fe80::1%eth0", 7447, "IPv6 zone id"),
        (0, "", 7447, "empty host"),
        (0, "127.0.0.1", 0, "port 0"),
        (2, "127.0.0.1", 7447, "unknown transport"),
    ]
    .iter()
    .map(|(transport, host, port, why)| {
        let mut w = Writer::default();
        w.u8(*transport).bytes_u8(host.as_bytes()).u16(*port);
        let binary = w.into_vec();
        assert!(
            RelayAddress::decode(&mut Reader::new(&binary)).is_err(),
            "{why}"
        );
        json!({ "binary": hex::encode(&binary), "why": why })
    })
    .collect();
    json!({
        "accepted": accepted,
        "refused_text": refused_text,
        "refused_binary": refused_binary,
        "note": "Binary form: transport u8 (1 = TLS, 0 = plaintext) ‖ host bytes_u8 ‖ port u16 ‖ pin (32, TLS only). An IPv6 host is bracketed in the text form and stored without brackets, byte for byte as written (no canonicalisation), in the binary form.",
    })
}

/// Content encodings (§10.2) that carry structure: the mailbox move pair (§10.4).
pub(crate) fn content_vectors() -> Value {
    let pin = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA";
    let cases = [
        (
            "mailbox move to a TLS relay",
            Content::MailboxMove {
                relay: format!("wss://relay.example.org:7447/#{pin}")
                    .parse()
                    .unwrap(),
                mailbox: MailboxId(d32(
                    "4141414141414141414141414141414141414141414141414141414141414141",
                )),
                send_key: SendKey::from_bytes(d32(
                    "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e",
                )),
            },
        ),
        (
            "mailbox move to a loopback development relay, IPv6",
            Content::MailboxMove {
                relay: "ws://[::1]:7447/".parse().unwrap(),
                mailbox: MailboxId(d32(
                    "4242424242424242424242424242424242424242424242424242424242424242",
                )),
                send_key: SendKey::from_bytes(d32(
                    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
                )),
            },
        ),
        (
            "mailbox moved (the confirmation)",
            Content::MailboxMoved {
                mailbox: MailboxId(d32(
                    "4141414141414141414141414141414141414141414141414141414141414141",
                )),
            },
        ),
        (
            "session restored: the backup would have sent counter 12 next",
            Content::SessionRestored { from: 12 },
        ),
    ];
    let encoded: Vec<Value> = cases
        .iter()
        .map(|(what, c)| {
            let mut w = Writer::default();
            c.encode(&mut w);
            let bytes = w.into_vec();
            let mut r = Reader::new(&bytes);
            assert_eq!(&Content::decode(&mut r).unwrap(), c);
            r.finish().unwrap();
            let fields = match c {
                Content::MailboxMove {
                    relay,
                    mailbox,
                    send_key,
                } => json!({
                    "relay": relay.to_string(),
                    "mailbox": hex::encode(mailbox.0),
                    "send_key": hex::encode(send_key.as_bytes()),
                }),
                Content::MailboxMoved { mailbox } => json!({ "mailbox": hex::encode(mailbox.0) }),
                Content::SessionRestored { from } => json!({ "from": from }),
                _ => Value::Null,
            };
            json!({ "what": what, "fields": fields, "content": hex::encode(&bytes) })
        })
        .collect();
    json!({
        "contents": encoded,
        "note": "kind u8 ‖ length u32 ‖ bytes (PROTOCOL.md §10.2). Mailbox move (kind 6): relay address in binary form (§6) ‖ mailbox id (32) ‖ send key (32). Mailbox moved (kind 7): mailbox id (32). Session restored (kind 5): from u64.",
    })
}
