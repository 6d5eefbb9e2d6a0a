//! Two clients talking in memory: envelopes are carried by hand, no relay.

use cairn_protocol::envelope::{MailboxId, MessageId};

use super::*;
use crate::store::{ContactId, EventKind, IntegrityRecord, MessageStatus, OutboxItem};
use crate::testing::{carry_invite, new_client, pump, retired_mailboxes};

/// The id of `client`'s contact called `name`.
fn id(client: &Client, name: &str) -> ContactId {
    client.contact_named(name).unwrap().id
}

/// A relay delivery of an outbox item, its bytes possibly changed.
fn delivery(item: &OutboxItem, bytes: Vec<u8>) -> Delivery {
    Delivery {
        mailbox: MailboxId(item.mailbox),
        message: MessageId(item.envelope_id),
        bytes: bytes.into(),
    }
}

/// Alice invites, Bob accepts, Alice completes: returns (alice, bob) and their temp dirs.
fn pair() -> (tempfile::TempDir, Client, Client) {
    let tmp = tempfile::tempdir().unwrap();
    let mut alice = new_client(&tmp.path().join("a"), "Alice");
    let mut bob = new_client(&tmp.path().join("b"), "Bob");
    let (mb, conversation) = (alice.mint_invite_mailbox_on(None), alice.mint_mailbox());
    let created = alice.create_invite(&mb, &conversation, 1_000).unwrap();
    let invite = carry_invite(&bob, &created, 2_000).unwrap();
    let reply = bob.mint_mailbox();
    let c = bob.accept_invite(&invite, "alice", &reply, 2_000).unwrap();
    assert_eq!(c.name, "alice");
    assert!(matches!(
        bob.accept_invite(&invite, "alice2", &bob.mint_mailbox(), 2_001),
        Err(ClientError::InviteAlreadyAccepted)
    ));
    let report = pump(&mut bob, &mut alice, 3_000);
    assert_eq!(report.acks.len(), 1);
    assert!(
        matches!(&report.events[..], [ClientEvent::ContactAdded { contact }] if contact.name == "Bob"),
        "{:?}",
        report.events
    );
    // Alice moves off the invite's mailbox; Bob follows and confirms.
    crate::testing::settle(&mut alice, &mut bob, 3_001);
    (tmp, alice, bob)
}

#[test]
fn handshake_chat_receipts_and_safety_numbers() {
    let (_tmp, mut alice, mut bob) = pair();
    assert_eq!(
        alice.fingerprint(id(&alice, "Bob")).unwrap(),
        bob.fingerprint(id(&bob, "alice")).unwrap()
    );
    assert_eq!(alice.fingerprint(id(&alice, "Bob")).unwrap().len(), 60);

    let sent = alice
        .send_text(id(&alice, "Bob"), "hello bob", 4_000)
        .unwrap();
    assert_eq!(sent.status, MessageStatus::Pending);
    let r = pump(&mut alice, &mut bob, 5_000);
    assert_eq!(r.new_messages, 1);
    assert!(
        matches!(&r.events[0], ClientEvent::Message { message } if message.contact == id(&bob, "alice") && message.body == "hello bob")
    );
    // Bob's delivery receipt comes back.
    let r = pump(&mut bob, &mut alice, 6_000);
    assert!(
        matches!(
            &r.events[..],
            [ClientEvent::StatusChanged {
                status: MessageStatus::Delivered,
                ..
            }]
        ),
        "{:?}",
        r.events
    );
    // Bob reads it: read receipt.
    assert_eq!(bob.mark_read(id(&bob, "alice"), 7_000).unwrap(), 1);
    assert_eq!(bob.mark_read(id(&bob, "alice"), 7_001).unwrap(), 0);
    pump(&mut bob, &mut alice, 8_000);
    let hist = alice.timeline(id(&alice, "Bob")).unwrap();
    assert!(matches!(&hist[..], [TimelineItem::Message(m)] if m.status == MessageStatus::Read));

    // Bob answers; survives reopening both profiles (sessions from disk).
    let (adir, bdir) = (alice.dir().to_owned(), bob.dir().to_owned());
    drop((alice, bob));
    let mut alice = Client::open(&adir, b"pw").unwrap();
    let mut bob = Client::open(&bdir, b"pw").unwrap();
    bob.send_text(id(&bob, "alice"), "hi alice", 9_000).unwrap();
    let r = pump(&mut bob, &mut alice, 10_000);
    assert_eq!(r.new_messages, 1);
    assert_eq!(alice.search("alice", 10).unwrap().len(), 1);

    // Safety number check: a typo is not a mismatch, a different number is.
    let digits = bob.fingerprint(id(&bob, "alice")).unwrap();
    let err = bob.verify(id(&bob, "alice"), "1234", 1).unwrap_err();
    assert!(
        matches!(err, ClientError::SafetyNumberMalformed { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("60 digits"), "{err}");
    assert!(!err.to_string().contains("does not match"), "{err}");
    let mut other = digits.clone();
    let last = if other.ends_with('0') { "1" } else { "0" };
    other.replace_range(59.., last);
    assert!(matches!(
        bob.verify(id(&bob, "alice"), &other, 1),
        Err(ClientError::SafetyNumberMismatch(_))
    ));
    assert!(!bob.contact_named("alice").unwrap().verified);
    // Typed in groups with dashes, as §13 allows.
    let dashed: Vec<&str> = (0..12).map(|i| &digits[i * 5..i * 5 + 5]).collect();
    bob.verify(id(&bob, "alice"), &dashed.join("-"), 11_000)
        .unwrap();
    assert!(bob.contact_named("alice").unwrap().verified);

    // From QR codes (§13): Bob's own code (a picture of his own screen) and
    // a stranger's verify nothing; Alice's does.
    let (to_alice, to_bob) = (id(&bob, "alice"), id(&alice, "Bob"));
    bob.set_verification(to_alice, Verification::Cleared, 12_000)
        .unwrap();
    let own = bob.safety_qr(to_alice).unwrap();
    assert!(matches!(
        bob.verify_qr(to_alice, &own, 12_001),
        Err(ClientError::OwnSafetyQr(_))
    ));
    let mut forged = alice.safety_qr(to_bob).unwrap();
    forged[20] ^= 1;
    assert!(matches!(
        bob.verify_qr(to_alice, &forged, 12_002),
        Err(ClientError::SafetyNumberMismatch(_))
    ));
    assert!(!bob.contact_named("alice").unwrap().verified);
    let hers = alice.safety_qr(to_bob).unwrap();
    bob.verify_qr(to_alice, &hers, 12_003).unwrap();
    assert!(bob.contact_named("alice").unwrap().verified);
}

#[test]
fn redelivery_is_acked_not_shown_and_tampering_is_reported() {
    let (_tmp, mut alice, mut bob) = pair();
    alice.send_text(id(&alice, "Bob"), "once", 4_000).unwrap();
    let due = alice.outbox_due(u64::MAX, 10).unwrap();
    let d = delivery(&due[0], due[0].envelope.to_vec());
    let r1 = bob.receive(std::slice::from_ref(&d), 5_000).unwrap();
    let r2 = bob.receive(std::slice::from_ref(&d), 5_001).unwrap();
    assert_eq!((r1.new_messages, r2.new_messages), (1, 0));
    assert_eq!(r2.acks.len(), 1, "a redelivery is still acked");
    assert!(r2.events.is_empty());

    alice.outbox_sent(&due).unwrap();
    alice
        .send_text(id(&alice, "Bob"), "tampered", 6_000)
        .unwrap();
    let due = alice.outbox_due(u64::MAX, 10).unwrap();
    let mut bytes = due[0].envelope.to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let r = bob.receive(&[delivery(&due[0], bytes)], 7_000).unwrap();
    assert_eq!(r.new_messages, 0);
    assert_eq!(r.acks.len(), 1);
    assert!(
        matches!(&r.events[..], [ClientEvent::Integrity { event, .. }] if event.kind == EventKind::Rejected)
    );
    let timeline = bob.timeline(id(&bob, "alice")).unwrap();
    assert_eq!(timeline.len(), 2, "message + rejected event: {timeline:?}");
}

/// Each side writes to the other's send-locked mailbox with the key only
/// they were given (PROTOCOL.md §8.1, §10.4, §18.3): the inviter's from the
/// handshake payload, the acceptor's from the inviter's mailbox move.
#[test]
fn each_side_sends_with_the_key_the_other_registered() {
    let tmp = tempfile::tempdir().unwrap();
    let mut alice = new_client(&tmp.path().join("a"), "Alice");
    let mut bob = new_client(&tmp.path().join("b"), "Bob");
    let (mb, conversation) = (alice.mint_invite_mailbox_on(None), alice.mint_mailbox());
    assert!(
        matches!(
            alice.create_invite(&mb, &mb, 1_000),
            Err(ClientError::OpenConversationMailbox)
        ),
        "a conversation never starts on an open mailbox"
    );
    let created = alice.create_invite(&mb, &conversation, 1_000).unwrap();
    let invite = carry_invite(&bob, &created, 2_000).unwrap();
    let reply = bob.mint_mailbox();
    bob.accept_invite(&invite, "alice", &reply, 2_000).unwrap();
    // The handshake goes to the invite's open mailbox, without a key.
    let handshake = bob.outbox_due(u64::MAX, 10).unwrap();
    assert_eq!(handshake[0].mailbox, mb.id.0);
    assert_eq!(handshake[0].send_key, None);
    pump(&mut bob, &mut alice, 3_000);
    // Alice's first message, the move, goes to Bob's reply mailbox with its key.
    let to_bob = alice.outbox_due(u64::MAX, 10).unwrap();
    assert_eq!(to_bob[0].mailbox, reply.id.0);
    assert_eq!(to_bob[0].send_key, reply.send_key);
    pump(&mut alice, &mut bob, 3_001);
    bob.send_text(id(&bob, "alice"), "hi", 4_000).unwrap();
    let to_alice = bob.outbox_due(u64::MAX, 10).unwrap();
    let last = to_alice.last().unwrap();
    assert_eq!(last.mailbox, conversation.id.0);
    assert_eq!(last.send_key, conversation.send_key);
}

/// On a mailbox anyone holding its id can write to (here a conversation
/// mailbox from before send locks), junk is someone else's traffic: one
/// notice a day outside the chat, not a warning per envelope inside it.
#[test]
fn junk_on_an_open_mailbox_is_one_notice_outside_the_chat() {
    let (_tmp, mut alice, mut bob) = pair();
    let bobs = bob.contact(id(&bob, "alice")).unwrap().my_mailbox;
    bob.store_mut()
        .write(|db| db.drop_send_lock_for_tests(&bobs))
        .unwrap();
    let mut junk = |at: u64| {
        alice.send_text(id(&alice, "Bob"), "x", at).unwrap();
        let due = alice.outbox_due(u64::MAX, 10).unwrap();
        alice.outbox_sent(&due).unwrap();
        let item = due.last().unwrap();
        let mut bytes = item.envelope.to_vec();
        bytes[60] ^= 1;
        let mut d = delivery(item, bytes);
        d.message = MessageId(rand::random());
        d
    };
    let notices = |r: &ReceiveReport| {
        r.events
            .iter()
            .filter(|e| matches!(e, ClientEvent::Integrity { event } if event.kind == EventKind::Unauthenticated && event.contact.is_none()))
            .count()
    };
    let first = bob.receive(&[junk(5_000), junk(5_001)], 6_000).unwrap();
    let second = bob.receive(&[junk(5_002)], 7_000).unwrap();
    let next_day = bob
        .receive(
            &[junk(5_003)],
            7_000 + super::receive::UNAUTHENTICATED_NOTICE_EVERY_MS,
        )
        .unwrap();
    assert_eq!(
        (notices(&first), notices(&second), notices(&next_day)),
        (1, 0, 1)
    );
    assert_eq!(first.acks.len(), 2, "junk is acked: it can never succeed");
    let chat = bob.timeline(id(&bob, "alice")).unwrap();
    assert!(
        chat.iter().all(|i| !matches!(i, TimelineItem::Event(_))),
        "nothing in the chat: {chat:?}"
    );
}

#[test]
fn dropped_message_is_reported_as_gap() {
    let (_tmp, mut alice, mut bob) = pair();
    for (i, t) in ["one", "two", "three"].iter().enumerate() {
        alice
            .send_text(id(&alice, "Bob"), t, 4_000 + i as u64)
            .unwrap();
    }
    let due = alice.outbox_due(u64::MAX, 10).unwrap();
    let deliveries: Vec<Delivery> = [&due[0], &due[2]]
        .iter()
        .map(|i| delivery(i, i.envelope.to_vec()))
        .collect();
    let r = bob.receive(&deliveries, 5_000).unwrap();
    assert_eq!(r.new_messages, 2);
    let gaps: Vec<_> = bob
        .timeline(id(&bob, "alice"))
        .unwrap()
        .into_iter()
        .filter(|i| matches!(i, TimelineItem::Event(e) if e.kind == EventKind::Gap))
        .collect();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
}

/// Alice's outgoing statuses to Bob, by body.
fn statuses(alice: &Client) -> Vec<(String, MessageStatus)> {
    alice
        .timeline(id(alice, "Bob"))
        .unwrap()
        .into_iter()
        .filter_map(|i| match i {
            TimelineItem::Message(m) if m.direction == crate::store::Direction::Outgoing => {
                Some((m.body, m.status))
            }
            _ => None,
        })
        .collect()
}

/// Events that marked messages unconfirmed, as their counters.
fn unconfirmed(report: &ReceiveReport) -> Vec<Vec<u64>> {
    report
        .events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::StatusChanged {
                counters,
                status: MessageStatus::Unconfirmed,
                ..
            } => Some(counters.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_withheld_message_before_a_delivered_one_is_unconfirmed_until_its_receipt() {
    let (_tmp, mut alice, mut bob) = pair();
    for (i, t) in ["one", "two"].iter().enumerate() {
        alice
            .send_text(id(&alice, "Bob"), t, 4_000 + i as u64)
            .unwrap();
    }
    let due = alice.outbox_due(u64::MAX, 10).unwrap();
    alice.outbox_sent(&due).unwrap();
    // The relay withholds "one" and delivers "two".
    bob.receive(&[delivery(&due[1], due[1].envelope.to_vec())], 5_000)
        .unwrap();
    let r = pump(&mut bob, &mut alice, 6_000);
    assert_eq!(unconfirmed(&r).len(), 1, "{:?}", r.events);
    assert_eq!(
        statuses(&alice),
        [
            ("one".to_owned(), MessageStatus::Unconfirmed),
            ("two".to_owned(), MessageStatus::Delivered)
        ]
    );
    // It arrives late after all: its receipt clears the warning.
    bob.receive(&[delivery(&due[0], due[0].envelope.to_vec())], 7_000)
        .unwrap();
    pump(&mut bob, &mut alice, 8_000);
    assert_eq!(
        statuses(&alice),
        [
            ("one".to_owned(), MessageStatus::Delivered),
            ("two".to_owned(), MessageStatus::Delivered)
        ]
    );
}

#[test]
fn a_withheld_last_message_is_unconfirmed_when_the_peer_writes_well_after_it() {
    let (_tmp, mut alice, mut bob) = pair();
    let bob_id = id(&bob, "alice");
    let sent_at = 10_000;
    alice.send_text(id(&alice, "Bob"), "last", sent_at).unwrap();
    // The relay takes it and never delivers it.
    let due = alice.outbox_due(u64::MAX, 10).unwrap();
    alice.outbox_sent(&due).unwrap();

    // Bob writing soon after is no sign: it may simply not have arrived yet.
    bob.send_text(bob_id, "soon", sent_at + 60_000).unwrap();
    let r = pump(&mut bob, &mut alice, sent_at + 61_000);
    assert!(unconfirmed(&r).is_empty(), "{:?}", r.events);
    assert_eq!(statuses(&alice), [("last".to_owned(), MessageStatus::Sent)]);

    // Bob writing long after, still acknowledging nothing newer, is.
    let later = sent_at + UNCONFIRMED_AFTER_MS + 1;
    bob.send_text(bob_id, "much later", later).unwrap();
    let r = pump(&mut bob, &mut alice, later + 1_000);
    assert_eq!(unconfirmed(&r).len(), 1, "{:?}", r.events);
    assert_eq!(
        statuses(&alice),
        [("last".to_owned(), MessageStatus::Unconfirmed)]
    );

    // Delivered after all: Bob's receipt raises it.
    bob.receive(
        &[delivery(&due[0], due[0].envelope.to_vec())],
        later + 2_000,
    )
    .unwrap();
    pump(&mut bob, &mut alice, later + 3_000);
    assert_eq!(
        statuses(&alice),
        [("last".to_owned(), MessageStatus::Delivered)]
    );
}

#[test]
fn failed_session_write_rolls_back_cache() {
    let (_tmp, mut alice, _bob) = pair();
    // A text over the limit is refused before touching the session.
    let long = "x".repeat(cairn_protocol::content::MAX_TEXT_LEN + 1);
    assert!(matches!(
        alice.send_text(id(&alice, "Bob"), &long, 1),
        Err(ClientError::BadText { .. })
    ));
    assert!(matches!(
        alice.send_text(ContactId(999), "x", 1),
        Err(ClientError::Store(_))
    ));
    assert_eq!(alice.outbox_len().unwrap(), 0);
}

#[test]
fn identity_change_is_held_until_accepted_and_resets_verification() {
    let (_tmp, mut alice, mut bob) = pair();
    let digits = bob.fingerprint(id(&bob, "alice")).unwrap();
    bob.verify(id(&bob, "alice"), &digits, 1).unwrap();
    let old_public = alice.public();

    assert_eq!(alice.rotate_identity(4_000).unwrap(), 1);
    assert_ne!(alice.public(), old_public);
    alice
        .send_text(id(&alice, "Bob"), "signed by my new key", 4_001)
        .unwrap();
    let r = pump(&mut alice, &mut bob, 5_000);
    assert_eq!(r.new_messages, 0, "held, not shown");
    assert!(r.events.iter().any(
        |e| matches!(e, ClientEvent::Integrity { event, .. } if event.kind == EventKind::KeyChange)
    ));
    assert!(
        r.events
            .iter()
            .any(|e| matches!(e, ClientEvent::Held { .. }))
    );
    let contact = bob.contact_named("alice").unwrap();
    assert!(contact.pending_identity.is_some());
    assert!(
        contact.verified,
        "still verified for the old key until the change is accepted"
    );
    assert!(matches!(
        bob.send_text(id(&bob, "alice"), "x", 6_000),
        Err(ClientError::KeyChangePending(_))
    ));
    assert!(
        !bob.timeline(id(&bob, "alice"))
            .unwrap()
            .iter()
            .any(|i| matches!(i, TimelineItem::Message(_)))
    );

    bob.accept_key_change(id(&bob, "alice"), 7_000).unwrap();
    let contact = bob.contact_named("alice").unwrap();
    assert_eq!(contact.identity, alice.public().to_bytes());
    assert!(!contact.verified, "verification resets");
    assert_eq!(
        contact.safety_number,
        alice.fingerprint(id(&alice, "Bob")).unwrap()
    );
    assert_ne!(contact.safety_number, digits);
    let texts: Vec<_> = bob
        .timeline(id(&bob, "alice"))
        .unwrap()
        .into_iter()
        .filter_map(|i| match i {
            TimelineItem::Message(m) => Some(m.body),
            TimelineItem::Event(_) => None,
        })
        .collect();
    assert_eq!(texts, vec!["signed by my new key"]);
    assert!(matches!(
        bob.accept_key_change(id(&bob, "alice"), 8_000),
        Err(ClientError::NoPendingKeyChange(_))
    ));

    // The conversation goes on both ways; a reopened Alice signs with the new key.
    let adir = alice.dir().to_owned();
    drop(alice);
    let mut alice = Client::open(&adir, b"pw").unwrap();
    bob.send_text(id(&bob, "alice"), "welcome back", 9_000)
        .unwrap();
    let r = pump(&mut bob, &mut alice, 10_000);
    assert_eq!(r.new_messages, 1, "{:?}", r.events);
    alice
        .send_text(id(&alice, "Bob"), "thanks", 11_000)
        .unwrap();
    assert_eq!(pump(&mut alice, &mut bob, 12_000).new_messages, 1);
}

#[test]
fn long_backlog_with_tampering_and_duplicates_is_stored_exactly_once() {
    // Long enough to take the pipelined, batch-verified path (several chunks).
    let (_tmp, mut alice, mut bob) = pair();
    let texts: Vec<String> = (0..700).map(|i| format!("backlog item {i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    alice.send_texts(id(&alice, "Bob"), &refs, 4_000).unwrap();
    let due = alice.outbox_due(u64::MAX, 100_000).unwrap();
    let mut deliveries: Vec<Delivery> = due
        .iter()
        .map(|i| delivery(i, i.envelope.to_vec()))
        .collect();
    assert_eq!(deliveries.len(), 700);
    let mut tampered = deliveries[300].bytes.to_vec();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    deliveries[300] = delivery(&due[300], tampered);
    let again = deliveries[10].clone();
    deliveries.insert(500, again);

    let r = bob.receive(&deliveries, 5_000).unwrap();
    assert_eq!(r.new_messages, 699);
    assert_eq!(r.acks.len(), 701, "every delivery is acked, the copy too");
    let kinds: Vec<EventKind> = r
        .events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Integrity { event, .. } => Some(event.kind),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, vec![EventKind::Rejected, EventKind::Gap]);

    let counters: Vec<u64> = bob
        .timeline(id(&bob, "alice"))
        .unwrap()
        .iter()
        .filter_map(|t| match t {
            TimelineItem::Message(m) => Some(m.counter),
            TimelineItem::Event(_) => None,
        })
        .collect();
    // Alice's counter 0 was her mailbox move (§10.4): the texts are 1..=700.
    let mut expected: Vec<u64> = (1..=700).filter(|c| *c != 301).collect();
    let mut sorted = counters.clone();
    sorted.sort_unstable();
    expected.sort_unstable();
    assert_eq!(
        sorted, expected,
        "each message exactly once, the tampered one missing"
    );
    assert_eq!(bob.search("backlog", 1_000).unwrap().len(), 699);

    // The same deliveries again (a relay that never saw our acks): nothing new.
    let r = bob.receive(&deliveries, 6_000).unwrap();
    assert_eq!(r.new_messages, 0);
    assert_eq!(r.acks.len(), 701);
    // And the session still works in both directions afterwards.
    bob.send_text(id(&bob, "alice"), "done", 7_000).unwrap();
    let r = pump(&mut bob, &mut alice, 8_000);
    assert_eq!(r.new_messages, 1);
}

/// `name` accepts a fresh invite from `inviter`; the inviter completes the
/// handshake and returns what it reported.
fn accept_as(tmp: &std::path::Path, inviter: &mut Client, dir: &str, name: &str) -> ReceiveReport {
    let mut other = new_client(&tmp.join(dir), "Renamed below");
    // Written straight into the profile: what a modified client could send.
    other
        .store_mut()
        .write(|db| db.set_setting(keys::PROFILE_NAME, name.as_bytes()))
        .unwrap();
    drop(other);
    let mut other = Client::open(&tmp.join(dir), b"pw").unwrap();
    assert_eq!(other.name(), name);
    let mb = inviter.mint_mailbox();
    let created = inviter
        .create_invite(&mb, &inviter.mint_mailbox(), 10_000)
        .unwrap();
    let invite = carry_invite(&other, &created, 10_000).unwrap();
    let reply = other.mint_mailbox();
    other
        .accept_invite(&invite, "inviter", &reply, 10_000)
        .unwrap();
    pump(&mut other, inviter, 11_000)
}

fn look_alike_notices(report: &ReceiveReport) -> Vec<(Option<ContactId>, String)> {
    report
        .events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Integrity { event } if event.kind == EventKind::LookAlikeName => {
                Some((event.contact, event.detail.clone()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_new_contact_whose_name_looks_like_an_existing_one_is_flagged() {
    let (tmp, mut alice, _bob) = pair();
    // Cyrillic "о": a different name that looks the same.
    let report = accept_as(tmp.path(), &mut alice, "m1", "B\u{43e}b");
    let notices = look_alike_notices(&report);
    assert_eq!(notices.len(), 1, "{:?}", report.events);
    assert_eq!(notices[0].0, Some(id(&alice, "B\u{43e}b")));
    assert!(
        notices[0].1.contains("looks like your contact \"Bob\""),
        "{}",
        notices[0].1
    );
    // Stored on the new contact's timeline (what the desktop shows there).
    assert!(
        alice
            .timeline(id(&alice, "B\u{43e}b"))
            .unwrap()
            .iter()
            .any(|i| matches!(i, TimelineItem::Event(e) if e.kind == EventKind::LookAlikeName))
    );
    // Bidi and zero-width characters are dropped from a name a handshake
    // carries; what is left ("Bob") is taken, so it is numbered and flagged.
    let report = accept_as(tmp.path(), &mut alice, "m2", "\u{202e}Bo\u{200b}b");
    assert!(
        matches!(&report.events[0], ClientEvent::ContactAdded { contact } if contact.name == "Bob (2)"),
        "{:?}",
        report.events
    );
    assert_eq!(look_alike_notices(&report).len(), 1);
    // An unrelated name raises nothing; nor do names Bob chose himself.
    let report = accept_as(tmp.path(), &mut alice, "m3", "Carol");
    assert!(look_alike_notices(&report).is_empty());
    assert!(matches!(
        alice.rename_contact(id(&alice, "Carol"), "Car\u{202e}ol"),
        Err(ClientError::BadName(_))
    ));
}

#[test]
fn seen_envelope_ids_are_forgotten_after_the_retention_period() {
    let (_tmp, mut alice, mut bob) = pair();
    alice.send_text(id(&alice, "Bob"), "once", 4_000).unwrap();
    let due = alice.outbox_due(u64::MAX, 10).unwrap();
    let d = delivery(&due[0], due[0].envelope.to_vec());
    let t0 = 5_000;
    assert_eq!(
        bob.receive(std::slice::from_ref(&d), t0)
            .unwrap()
            .new_messages,
        1
    );
    let id: [u8; 16] = d.bytes[33..49].try_into().unwrap();
    let seen = |c: &Client| c.store().read().is_seen(&id).unwrap();
    // Kept while a relay could still redeliver it: a redelivery is only acked.
    bob.housekeeping(t0 + SEEN_ENVELOPE_RETENTION_MS).unwrap();
    assert!(seen(&bob));
    let again = bob
        .receive(std::slice::from_ref(&d), t0 + SEEN_ENVELOPE_RETENTION_MS)
        .unwrap();
    assert_eq!(
        (again.new_messages, again.events.len(), again.acks.len()),
        (0, 0, 1)
    );
    // Then forgotten: the table does not grow without bound.
    let pruned = bob
        .housekeeping(t0 + SEEN_ENVELOPE_RETENTION_MS + 1)
        .unwrap();
    assert!(pruned.seen_envelopes >= 1, "{pruned:?}");
    assert!(!seen(&bob));
    assert_eq!(SEEN_ENVELOPE_RETENTION_MS, 30 * 24 * 3600 * 1000);
}

#[test]
fn a_message_whose_skipped_key_expired_is_reported_lost() {
    use cairn_protocol::ratchet::SKIPPED_KEY_TTL_MS;
    let (_tmp, mut alice, mut bob) = pair();
    for text in ["zero", "one", "two"] {
        alice.send_text(id(&alice, "Bob"), text, 4_000).unwrap();
    }
    let due = alice.outbox_due(u64::MAX, 10).unwrap();
    let d: Vec<Delivery> = due
        .iter()
        .map(|i| delivery(i, i.envelope.to_vec()))
        .collect();
    // "two" first: the keys of "zero" and "one" are kept for them.
    let t0 = 5_000;
    bob.receive(&d[2..3], t0).unwrap();
    // A quiet month later, housekeeping discards them.
    let done = bob.housekeeping(t0 + SKIPPED_KEY_TTL_MS).unwrap();
    assert_eq!(done.skipped_keys, 2);
    // "zero" finally arrives: it cannot be read, and the user is told so.
    let r = bob.receive(&d[0..1], t0 + SKIPPED_KEY_TTL_MS + 1).unwrap();
    assert_eq!(r.new_messages, 0);
    let lost: Vec<&IntegrityRecord> = r
        .events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Integrity { event, .. } if event.kind == EventKind::Lost => Some(event),
            _ => None,
        })
        .collect();
    assert_eq!(lost.len(), 1, "{:?}", r.events);
    // Alice's message 0 was her mailbox move (§10.4): "zero" is her message 1.
    assert_eq!(
        lost[0].detail,
        "message 1 arrived after its key was discarded: it cannot be read"
    );
    assert!(
        bob.timeline(id(&bob, "alice"))
            .unwrap()
            .iter()
            .any(|i| matches!(i, TimelineItem::Event(e) if e.kind == EventKind::Lost))
    );
}

/// The invite's mailbox after the handshake: the conversation has moved off
/// it (PROTOCOL.md §10.4), so the link is no way into the conversation.
#[test]
fn the_conversation_moves_off_the_invite_mailbox_and_the_link_reaches_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut alice = new_client(&tmp.path().join("a"), "Alice");
    let mut bob = new_client(&tmp.path().join("b"), "Bob");
    let mut eve = new_client(&tmp.path().join("e"), "Eve");
    let (mb, conversation) = (alice.mint_mailbox(), alice.mint_mailbox());
    let created = alice.create_invite(&mb, &conversation, 1_000).unwrap();
    let invite = carry_invite(&bob, &created, 2_000).unwrap();
    let to_alice = bob
        .accept_invite(&invite, "alice", &bob.mint_mailbox(), 2_000)
        .unwrap();
    assert!(!to_alice.confirmed, "waiting for Alice to complete");
    // Bob writes before Alice has completed: it goes to the invite's mailbox.
    bob.send_text(to_alice.id, "early", 2_001).unwrap();
    let r = pump(&mut bob, &mut alice, 3_000);
    assert_eq!(r.new_messages, 1, "{:?}", r.events);
    let to_bob = id(&alice, "Bob");
    let at_alice = alice.contact(to_bob).unwrap();
    assert_eq!(
        at_alice.my_mailbox, conversation.id.0,
        "Alice moved at once"
    );
    // The sealed invite goes at once: a second acceptor of the short link
    // finds nothing to fetch (PROTOCOL.md §7.1).
    let link_mailbox = created.1.mailbox.id.0;
    assert_eq!(retired_mailboxes(&alice), vec![link_mailbox]);
    alice.mailbox_deleted(&link_mailbox).unwrap();

    // Alice's first message tells Bob where she receives now: he is confirmed and follows.
    let r = pump(&mut alice, &mut bob, 4_000);
    assert!(
        r.events
            .iter()
            .any(|e| matches!(e, ClientEvent::ContactChanged { contact } if contact.confirmed)),
        "{:?}",
        r.events
    );
    let at_bob = bob.contact(to_alice.id).unwrap();
    assert!(at_bob.confirmed);
    assert_eq!(at_bob.their_mailbox, conversation.id.0);
    bob.send_text(to_alice.id, "after the move", 4_001).unwrap();
    let due = bob.outbox_due(u64::MAX, 10).unwrap();
    assert!(due.iter().all(|i| i.mailbox == conversation.id.0));
    // Bob's confirmation (sealed now that nothing for the old mailbox is queued)
    // lets Alice retire the invite's mailbox after a grace period: it is then
    // deleted at the relay.
    let r = pump(&mut bob, &mut alice, 5_000);
    assert_eq!(r.new_messages, 1);
    alice.housekeeping(5_000 + MOVE_GRACE_MS - 1).unwrap();
    assert!(
        alice.mailboxes_to_delete().unwrap().is_empty(),
        "still in its grace period"
    );
    let done = alice.housekeeping(5_000 + MOVE_GRACE_MS + 1).unwrap();
    assert_eq!(done.moves, 1);
    let retired = retired_mailboxes(&alice);
    assert_eq!(retired, vec![mb.id.0]);

    // Eve has the link too. Her handshake is refused and shows in no chat.
    let late = carry_invite(&eve, &created, 5_500).unwrap();
    // (The invite's mailbox is deleted at the relay by now; were it not, ...)
    let to_alice_eve = eve
        .accept_invite(&late, "alice", &eve.mint_mailbox(), 5_500)
        .unwrap();
    eve.send_text(to_alice_eve.id, "let me in", 5_501).unwrap();
    let r = pump(&mut eve, &mut alice, 6_000);
    assert_eq!(r.new_messages, 0);
    assert!(
        r.events.iter().all(|e| e.contact().is_none()),
        "nothing in Bob's chat: {:?}",
        r.events
    );
    let bobs_chat = alice.timeline(to_bob).unwrap();
    assert!(
        bobs_chat
            .iter()
            .all(|i| !matches!(i, TimelineItem::Event(e) if e.kind == EventKind::Rejected)),
        "{bobs_chat:?}"
    );
    // Eve stays unconfirmed: Alice never completes with her.
    assert!(!eve.contact(to_alice_eve.id).unwrap().confirmed);
}

/// A contact's move is confirmed only once nothing sealed for their old
/// mailbox is still queued, so deleting it loses nothing.
#[test]
fn a_move_is_confirmed_only_after_everything_for_the_old_mailbox_left() {
    let tmp = tempfile::tempdir().unwrap();
    let mut alice = new_client(&tmp.path().join("a"), "Alice");
    let mut bob = new_client(&tmp.path().join("b"), "Bob");
    let (mb, conversation) = (alice.mint_mailbox(), alice.mint_mailbox());
    let created = alice.create_invite(&mb, &conversation, 1_000).unwrap();
    let invite = carry_invite(&bob, &created, 2_000).unwrap();
    let to_alice = bob
        .accept_invite(&invite, "alice", &bob.mint_mailbox(), 2_000)
        .unwrap();
    pump(&mut bob, &mut alice, 3_000);
    // Bob writes twice more to the invite's mailbox (queued, not yet sent) ...
    bob.send_texts(to_alice.id, &["one", "two"], 3_100).unwrap();
    // ... and only then learns of Alice's move.
    pump(&mut alice, &mut bob, 3_200);
    assert_eq!(
        bob.seal_due_receipts(3_300).unwrap(),
        0,
        "two envelopes still queued"
    );
    let queued = bob.outbox_due(u64::MAX, 10).unwrap();
    assert_eq!(queued.len(), 2);
    assert!(queued.iter().all(|i| i.mailbox == mb.id.0));
    bob.outbox_sent(&queued).unwrap();
    assert_eq!(
        bob.seal_due_receipts(3_400).unwrap(),
        1,
        "now it is confirmed"
    );
    let confirm = bob.outbox_due(u64::MAX, 10).unwrap();
    assert_eq!(confirm.len(), 1);
    assert_eq!(confirm[0].mailbox, conversation.id.0);
}

#[test]
fn open_invites_are_listed_and_a_revoked_one_reaches_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut alice = new_client(&tmp.path().join("a"), "Alice");
    let mut bob = new_client(&tmp.path().join("b"), "Bob");
    let (mb1, conv1) = (alice.mint_mailbox(), alice.mint_mailbox());
    let first = alice.create_invite(&mb1, &conv1, 1_000).unwrap();
    let (mb2, conv2) = (alice.mint_mailbox(), alice.mint_mailbox());
    let second = alice.create_invite(&mb2, &conv2, 1_001).unwrap();
    let open = alice.open_invites(2_000).unwrap();
    let uris: Vec<&str> = open.iter().map(|i| i.uri.as_str()).collect();
    assert_eq!(uris, [first.0.uri.as_str(), second.0.uri.as_str()]);

    // Revoked: no longer listed, its two mailboxes retired for deletion.
    assert!(alice.revoke_invite(&open[0].id, 3_000).unwrap());
    assert!(!alice.revoke_invite(&open[0].id, 3_001).unwrap(), "once");
    let left = alice.open_invites(3_002).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].uri, second.0.uri);
    let retired = retired_mailboxes(&alice);
    assert!(retired.contains(&mb1.id.0) && retired.contains(&conv1.id.0));
    assert!(!retired.contains(&mb2.id.0));

    // Someone who still uses the revoked link adds nobody.
    let invite = carry_invite(&bob, &first, 4_000).unwrap();
    bob.accept_invite(&invite, "alice", &bob.mint_mailbox(), 4_000)
        .unwrap();
    pump(&mut bob, &mut alice, 5_000);
    assert!(alice.contacts().unwrap().is_empty());

    // Expired invites are not open either.
    let after_expiry = (second.0.expires_at + 1) * 1000;
    assert!(alice.open_invites(after_expiry).unwrap().is_empty());
}
