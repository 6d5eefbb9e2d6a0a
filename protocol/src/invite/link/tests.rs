use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use super::*;
use crate::identity::Identity;
use crate::relay_address::{MAX_HOST_LEN, Transport};

fn invite_on(host: &str, seed: u64) -> Invite {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let relay = RelayAddress::new(host, 7447, Transport::Tls { pin: [9; 32] }).unwrap();
    let id = Identity::from_seed([3; 32]);
    Invite::create(&id, relay, MailboxId([4; 32]), 1_000, &mut rng).0
}

fn sealed(invite: &Invite) -> (InviteLink, Vec<u8>) {
    InviteLink::seal(invite, &mut ChaCha20Rng::seed_from_u64(7)).unwrap()
}

#[test]
fn a_link_fetches_exactly_its_invite_and_is_short() {
    let invite = invite_on("relay.example.or", 1); // 16-byte host
    let (link, envelope) = sealed(&invite);
    assert_eq!(envelope.len(), 2048, "one padding bucket");
    let uri = link.to_uri();
    // 69 + 16 bytes of link, base64url, after "cairn:".
    assert_eq!(uri.len(), 6 + (4 * 85usize).div_ceil(3));
    assert_eq!(uri.len(), 120);
    let InviteText::Link(parsed) = InviteText::parse(&format!("  {uri}\n"), 999).unwrap() else {
        panic!("a short link parses as a link");
    };
    assert_eq!(parsed.relay(), invite.relay());
    assert_eq!(parsed.keys().mailbox, link.keys().mailbox);
    let opened = parsed.open(&envelope, 999).unwrap();
    assert_eq!(opened.as_bytes(), invite.as_bytes());
    // The relay sees neither the invite's identity key nor its bytes.
    let identity = invite.identity().to_bytes();
    assert!(!envelope.windows(32).any(|w| w == &identity[..32]));
}

#[test]
fn the_longest_host_still_fits_one_bucket_and_a_short_link() {
    let invite = invite_on(&"h".repeat(MAX_HOST_LEN), 2);
    let (link, envelope) = sealed(&invite);
    assert_eq!(envelope.len(), 2048);
    assert_eq!(link.to_bytes().len(), 69 + MAX_HOST_LEN);
}

#[test]
fn a_full_invite_text_still_parses_as_full() {
    let invite = invite_on("relay.example", 3);
    let InviteText::Full(parsed) = InviteText::parse(&invite.to_uri(), 999).unwrap() else {
        panic!("a full invite parses as full");
    };
    assert_eq!(parsed.as_bytes(), invite.as_bytes());
}

#[test]
fn another_invite_under_the_same_link_keys_is_refused() {
    // Whoever holds the link knows its keys and could delete the link mailbox
    // and publish their own invite there: the secret commits to the bytes.
    let honest = invite_on("relay.example", 4);
    let (link, _) = sealed(&honest);
    let forged = invite_on("relay.example", 5);
    let keys = link.keys();
    let mut body = forged.as_bytes().to_vec();
    pad_in_place(&mut body, 2048 - HEADER_LEN - TAG_LEN).unwrap();
    let mut envelope = Vec::new();
    write_header(
        &mut envelope,
        &keys.mailbox,
        &MessageId([1; 16]),
        BodyKind::SealedInvite,
    );
    seal(&keys.seal_key, &[0; 12], &envelope, &mut body).unwrap();
    envelope.extend_from_slice(&body);
    assert_eq!(
        link.open(&envelope, 999).unwrap_err(),
        InviteError::SealBroken
    );
}

#[test]
fn any_changed_byte_or_another_links_envelope_is_refused() {
    let invite = invite_on("relay.example", 6);
    let (link, envelope) = sealed(&invite);
    for at in [0, 1, 40, 49, 50, 500, 2047] {
        let mut bad = envelope.clone();
        bad[at] ^= 1;
        assert!(link.open(&bad, 999).is_err(), "byte {at}");
    }
    let (_, other) = sealed(&invite_on("relay.example", 8));
    assert_eq!(link.open(&other, 999).unwrap_err(), InviteError::SealBroken);
    assert!(link.open(&envelope[..1024], 999).is_err());
}

#[test]
fn an_expired_invite_is_refused_after_opening() {
    let invite = invite_on("relay.example", 9);
    let (link, envelope) = sealed(&invite);
    assert!(matches!(
        link.open(&envelope, 1_001),
        Err(InviteError::Expired { .. })
    ));
}

#[test]
fn malformed_links_are_refused() {
    let invite = invite_on("relay.example", 10);
    let bytes = InviteLink::of(&invite).to_bytes();
    let text = |b: &[u8]| format!("{URI_PREFIX}{}", URL_SAFE_NO_PAD.encode(b));
    assert!(InviteText::parse(&text(&bytes[..bytes.len() - 1]), 0).is_err());
    let mut long = bytes.clone();
    long.push(0);
    assert!(InviteText::parse(&text(&long), 0).is_err());
    assert!(matches!(
        InviteText::parse("cairn:!!", 0),
        Err(InviteError::NotAnInvite)
    ));
    assert!(matches!(
        InviteText::parse(&text(&[9, 1, 2]), 0),
        Err(InviteError::UnknownVersion(9))
    ));
}
