use super::*;
use crate::envelope::{MailboxId, MessageId};
use crate::wire::DecodeError;

const SEND_KEY: [u8; 32] = [0x5c; 32];

fn all_client_frames<'a>(envelope: &'a [u8], acks: &'a [u8]) -> Vec<ClientFrame<'a>> {
    let mailbox = MailboxId([7; 32]);
    vec![
        ClientFrame::CreateLockedMailbox {
            mailbox,
            auth_key: [8; 32],
            send_lock: [6; 32],
            access_token: Some(b"tok"),
        },
        ClientFrame::CreateLockedMailbox {
            mailbox,
            auth_key: [8; 32],
            send_lock: [6; 32],
            access_token: None,
        },
        ClientFrame::SendLocked {
            send_key: &SEND_KEY,
            envelope,
        },
        ClientFrame::AckBatch {
            entries: AckEntries::new(acks).unwrap(),
        },
        ClientFrame::CreateMailbox {
            mailbox,
            auth_key: [8; 32],
            access_token: Some(b"tok"),
        },
        ClientFrame::CreateMailbox {
            mailbox,
            auth_key: [8; 32],
            access_token: None,
        },
        ClientFrame::Send { envelope },
        ClientFrame::Subscribe {
            mailbox,
            signature: [9; 64],
        },
        ClientFrame::Ack {
            mailbox,
            message: MessageId([3; 16]),
        },
        ClientFrame::DeleteMailbox {
            mailbox,
            signature: [1; 64],
        },
        ClientFrame::Stats {
            admin_token: b"admin",
        },
        ClientFrame::Purge {
            admin_token: b"admin",
            mailbox,
        },
        ClientFrame::Unsubscribe { mailbox },
    ]
}

#[test]
fn client_frames_round_trip_and_reject_every_truncation_and_extension() {
    let envelope = vec![5u8; 1024];
    let acks = ack_pairs(3);
    for frame in all_client_frames(&envelope, &acks) {
        let request = ClientRequest {
            request_id: 0xdead_beef,
            frame,
        };
        let bytes = request.encode();
        assert_eq!(ClientRequest::decode(&bytes).unwrap(), request);
        assert_eq!(peek_request_id(&bytes), 0xdead_beef);
        for cut in 0..bytes.len() {
            assert!(
                ClientRequest::decode(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            ClientRequest::decode(&longer),
            Err(FrameError::Malformed(DecodeError::TrailingBytes(1)))
        );
    }
}

#[test]
fn relay_frames_round_trip() {
    let envelope = vec![6u8; 4096];
    let frames = [
        RelayFrame::Challenge {
            nonce: [4; 32],
            server: "cairn-relay/0.1.0",
        },
        RelayFrame::Ok,
        RelayFrame::Error {
            code: ErrorCode::QuotaFull,
            message: "mailbox full",
        },
        RelayFrame::Error {
            code: ErrorCode::Other(999),
            message: "",
        },
        RelayFrame::Deliver {
            envelope: &envelope,
        },
        RelayFrame::Stats(RelayStats {
            connections: 1,
            mailboxes: 2,
            messages: 3,
            bytes: 4,
        }),
    ];
    for frame in frames {
        let bytes = frame.encode(42);
        assert_eq!(RelayFrame::decode(&bytes).unwrap(), (42, frame));
        let mut longer = bytes.clone();
        longer.push(1);
        assert!(RelayFrame::decode(&longer).is_err());
    }
}

#[test]
fn header_errors_map_to_codes() {
    let ok = ClientRequest {
        request_id: 5,
        frame: ClientFrame::Unsubscribe {
            mailbox: MailboxId([0; 32]),
        },
    }
    .encode();
    let mut wrong_version = ok.clone();
    wrong_version[0] = 2;
    let err = ClientRequest::decode(&wrong_version).unwrap_err();
    assert_eq!(err, FrameError::UnsupportedVersion(2));
    assert_eq!(err.code(), ErrorCode::UnsupportedVersion);

    let mut unknown = ok.clone();
    unknown[1] = 0x7f;
    assert_eq!(
        ClientRequest::decode(&unknown).unwrap_err().code(),
        ErrorCode::UnknownType
    );

    let big = vec![1u8; MAX_FRAME_LEN + 1];
    assert_eq!(
        ClientRequest::decode(&big).unwrap_err().code(),
        ErrorCode::FrameTooLarge
    );

    assert_eq!(
        ClientRequest::decode(&ok[..3]).unwrap_err().code(),
        ErrorCode::Malformed
    );
    assert_eq!(peek_request_id(&ok[..3]), 0);
}

#[test]
fn wire_format_vector() {
    let bytes = ClientRequest {
        request_id: 0x0102_0304,
        frame: ClientFrame::Ack {
            mailbox: MailboxId([0xaa; 32]),
            message: MessageId([0xbb; 16]),
        },
    }
    .encode();
    let mut expected = vec![1, 0x04, 1, 2, 3, 4];
    expected.extend([0xaa; 32]);
    expected.extend([0xbb; 16]);
    assert_eq!(bytes, expected);

    let err = RelayFrame::Error {
        code: ErrorCode::RateLimited,
        message: "hi",
    }
    .encode(9);
    assert_eq!(err, vec![1, 0x83, 0, 0, 0, 9, 0x01, 0x90, 2, b'h', b'i']);
}

#[test]
fn subscription_ended_is_type_0x86_with_the_mailbox() {
    let bytes = RelayFrame::SubscriptionEnded {
        mailbox: [0xcd; 32],
    }
    .encode(0);
    let mut expected = vec![1, 0x86, 0, 0, 0, 0];
    expected.extend([0xcd; 32]);
    assert_eq!(bytes, expected);
    assert_eq!(
        RelayFrame::decode(&bytes).unwrap(),
        (
            0,
            RelayFrame::SubscriptionEnded {
                mailbox: [0xcd; 32]
            }
        )
    );
    assert!(RelayFrame::decode(&bytes[..37]).is_err(), "truncated");
}

#[test]
fn error_codes_are_stable_and_unique() {
    let mut seen = std::collections::HashSet::new();
    for code in ErrorCode::ALL {
        assert!(seen.insert(code.as_u16()));
        assert_eq!(ErrorCode::from_u16(code.as_u16()), code);
    }
    assert_eq!(ErrorCode::from_u16(7), ErrorCode::Other(7));
    // The numbers of PROTOCOL.md §18.5, pinned.
    let numbers: Vec<u16> = ErrorCode::ALL.iter().map(|c| c.as_u16()).collect();
    assert_eq!(
        numbers,
        [
            100, 101, 102, 103, 104, 200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303, 400,
            401, 500, 501, 502
        ]
    );
    let full = RelayFrame::Error {
        code: ErrorCode::StorageFull,
        message: "",
    }
    .encode(3);
    assert_eq!(full, vec![1, 0x83, 0, 0, 0, 3, 0x01, 0xf6, 0]);
    assert!(ErrorCode::StorageFull.is_retryable());
}

#[test]
fn signing_transcripts_are_domain_separated() {
    let m = MailboxId([1; 32]);
    let n = [2; 32];
    let s = subscribe_signing_bytes(&n, &m);
    let d = delete_signing_bytes(&n, &m);
    assert_ne!(s, d);
    assert!(s.starts_with(b"cairn-relay-v1-subscribe"));
    assert_eq!(&s[s.len() - 32..], &m.0);
}

#[test]
fn long_text_is_clipped_on_a_char_boundary() {
    let text = "é".repeat(200);
    let bytes = RelayFrame::Error {
        code: ErrorCode::Storage,
        message: &text,
    }
    .encode(1);
    let (_, frame) = RelayFrame::decode(&bytes).unwrap();
    match frame {
        RelayFrame::Error { message, .. } => assert_eq!(message.len(), 254),
        other => panic!("unexpected {other:?}"),
    }
}

fn ack_pairs(n: usize) -> Vec<u8> {
    let pairs: Vec<_> = (0..n)
        .map(|i| (MailboxId([i as u8; 32]), MessageId([(i + 100) as u8; 16])))
        .collect();
    AckEntries::encode(&pairs).unwrap()
}

#[test]
fn ack_batch_carries_its_pairs_in_order_and_bounds_the_count() {
    let acks = ack_pairs(MAX_ACK_BATCH);
    let request = ClientRequest {
        request_id: 5,
        frame: ClientFrame::AckBatch {
            entries: AckEntries::new(&acks).unwrap(),
        },
    };
    let bytes = request.encode();
    assert_eq!(&bytes[..8], &[1, 0x09, 0, 0, 0, 5, 0x04, 0x00]);
    let Ok(ClientRequest {
        frame: ClientFrame::AckBatch { entries },
        ..
    }) = ClientRequest::decode(&bytes)
    else {
        panic!("not an ack batch");
    };
    let pairs: Vec<_> = entries.iter().collect();
    assert_eq!(pairs.len(), MAX_ACK_BATCH);
    assert_eq!(pairs[2], (MailboxId([2; 32]), MessageId([102; 16])));

    // Count 0 and count above the maximum are refused, whatever follows.
    for count in [0u16, MAX_ACK_BATCH as u16 + 1] {
        let mut raw = vec![1, 0x09, 0, 0, 0, 5];
        raw.extend_from_slice(&count.to_be_bytes());
        raw.extend(std::iter::repeat_n(0u8, usize::from(count) * ACK_ENTRY_LEN));
        assert!(
            matches!(ClientRequest::decode(&raw), Err(FrameError::Malformed(_))),
            "count {count}"
        );
    }
    assert!(AckEntries::encode(&[]).is_none());
    assert!(AckEntries::new(&[0; ACK_ENTRY_LEN + 1]).is_none());
}

#[test]
fn only_acks_with_request_id_zero_are_quiet() {
    let acks = ack_pairs(1);
    let entries = AckEntries::new(&acks).unwrap();
    let message = MessageId([1; 16]);
    let mailbox = MailboxId([2; 32]);
    let quiet = |request_id, frame| ClientRequest { request_id, frame }.is_quiet_ack();
    assert!(quiet(QUIET_REQUEST_ID, ClientFrame::AckBatch { entries }));
    assert!(quiet(0, ClientFrame::Ack { mailbox, message }));
    assert!(!quiet(1, ClientFrame::AckBatch { entries }));
    // Any other request with id 0 is answered as usual.
    assert!(!quiet(0, ClientFrame::Unsubscribe { mailbox }));
    assert!(!quiet(0, ClientFrame::Send { envelope: &[] }));
}

#[test]
fn send_locked_wire_format_vector() {
    let envelope = [0xee; 3];
    let bytes = ClientRequest {
        request_id: 0x0102_0304,
        frame: ClientFrame::SendLocked {
            send_key: &[0xcc; 32],
            envelope: &envelope,
        },
    }
    .encode();
    let mut expected = vec![1, 0x0b, 1, 2, 3, 4];
    expected.extend([0xcc; 32]);
    expected.extend([0, 0, 0, 3, 0xee, 0xee, 0xee]);
    assert_eq!(bytes, expected);

    let bytes = ClientRequest {
        request_id: 7,
        frame: ClientFrame::CreateLockedMailbox {
            mailbox: MailboxId([0xaa; 32]),
            auth_key: [0xbb; 32],
            send_lock: send_lock(&[0xcc; 32]),
            access_token: None,
        },
    }
    .encode();
    let mut expected = vec![1, 0x0a, 0, 0, 0, 7];
    expected.extend([0xaa; 32]);
    expected.extend([0xbb; 32]);
    expected.extend(send_lock(&[0xcc; 32]));
    expected.push(0);
    assert_eq!(bytes, expected);

    let err = RelayFrame::Error {
        code: ErrorCode::SendKeyRefused,
        message: "",
    }
    .encode(9);
    assert_eq!(err, vec![1, 0x83, 0, 0, 0, 9, 0x00, 0xce, 0]);
    assert_eq!(ErrorCode::from_u16(206), ErrorCode::SendKeyRefused);
    assert!(!ErrorCode::SendKeyRefused.is_retryable());
}

#[test]
fn locked_frames_decode_strictly() {
    // A SendLocked whose envelope length runs past the frame, or that
    // claims more than the largest envelope, is malformed.
    let mut raw = vec![1, 0x0b, 0, 0, 0, 1];
    raw.extend([0xcc; 32]);
    raw.extend([0, 0, 0, 5, 1, 2, 3]);
    assert!(matches!(
        ClientRequest::decode(&raw),
        Err(FrameError::Malformed(DecodeError::Truncated { .. }))
    ));
    let mut raw = vec![1, 0x0b, 0, 0, 0, 1];
    raw.extend([0xcc; 32]);
    raw.extend(((crate::padding::MAX_ENVELOPE_LEN + 1) as u32).to_be_bytes());
    assert!(matches!(
        ClientRequest::decode(&raw),
        Err(FrameError::Malformed(DecodeError::TooLong { .. }))
    ));
    // A key shorter than 32 bytes cannot be told from a truncated frame.
    let raw = [1, 0x0b, 0, 0, 0, 1, 0xcc, 0xcc];
    assert_eq!(
        ClientRequest::decode(&raw).unwrap_err().code(),
        ErrorCode::Malformed
    );
    // CreateLockedMailbox with a token over the maximum.
    let mut raw = vec![1, 0x0a, 0, 0, 0, 1];
    raw.extend([0; 96]);
    raw.push(129);
    raw.extend([b'x'; 129]);
    assert!(matches!(
        ClientRequest::decode(&raw),
        Err(FrameError::Malformed(DecodeError::TooLong { .. }))
    ));
    // The largest SendLocked fits the maximum frame length exactly.
    let envelope = vec![0u8; crate::padding::MAX_ENVELOPE_LEN];
    let bytes = ClientRequest {
        request_id: 1,
        frame: ClientFrame::SendLocked {
            send_key: &SEND_KEY,
            envelope: &envelope,
        },
    }
    .encode();
    assert_eq!(bytes.len(), MAX_FRAME_LEN);
    assert!(ClientRequest::decode(&bytes).is_ok());
}
