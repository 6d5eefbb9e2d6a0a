//! `--access token`: creating mailboxes needs a token, sending never does;
//! admin tokens read stats and purge; revoked tokens stop working.

use cairn_protocol::frames::ErrorCode;
use cairn_relay_client::{ConnectOptions, RelayClient};
use cairn_tests::fixtures::{envelope, mailbox, message_id};
use cairn_tests::{RelayOptions, RelayProcess};

#[tokio::test]
async fn token_mode_refuses_mailbox_creation_without_a_valid_token() {
    let relay = RelayProcess::start(RelayOptions::default().args(["--access", "token"]));
    let user = relay.create_token("user");
    let admin = relay.create_token("admin");
    let (c, _in) = RelayClient::connect(relay.address(), ConnectOptions::default())
        .await
        .unwrap();
    let (mbox, key) = mailbox();
    let vk = key.verifying_key();

    let err = c.create_mailbox(mbox, &vk, None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::TokenRequired));
    let err = c
        .create_mailbox(mbox, &vk, Some("cairn_not-a-token"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::TokenInvalid));
    c.create_mailbox(mbox, &vk, Some(&user)).await.unwrap();

    // Sending needs only the mailbox id: contacts on other relays can always reach you.
    let (stranger, _s) = RelayClient::connect(relay.address(), ConnectOptions::default())
        .await
        .unwrap();
    stranger
        .send(envelope(mbox, message_id(), 1024, b"hi"))
        .await
        .unwrap();

    // Stats: user tokens are not enough, admin tokens are.
    assert_eq!(
        c.stats(&user).await.unwrap_err().code(),
        Some(ErrorCode::Forbidden)
    );
    assert_eq!(
        c.stats("nope").await.unwrap_err().code(),
        Some(ErrorCode::TokenInvalid)
    );
    // An empty token is no token (PROTOCOL.md §18.5), as for CreateMailbox.
    assert_eq!(
        c.stats("").await.unwrap_err().code(),
        Some(ErrorCode::TokenRequired)
    );
    assert_eq!(
        c.purge("", mbox).await.unwrap_err().code(),
        Some(ErrorCode::TokenRequired)
    );
    let stats = c.stats(&admin).await.unwrap();
    assert_eq!((stats.mailboxes, stats.messages), (1, 1));
    assert!(stats.connections >= 2);

    // Purge removes a mailbox without its key.
    assert_eq!(
        c.purge(&user, mbox).await.unwrap_err().code(),
        Some(ErrorCode::Forbidden)
    );
    c.purge(&admin, mbox).await.unwrap();
    assert_eq!(
        c.purge(&admin, mbox).await.unwrap_err().code(),
        Some(ErrorCode::NoSuchMailbox)
    );
    assert_eq!(c.stats(&admin).await.unwrap().mailboxes, 0);

    // Revoked tokens are refused.
    let list = relay.relay_command(&["token", "list"]).stdout;
    let user_id = list
        .lines()
        .find(|l| l.contains(" user "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    assert!(
        relay
            .relay_command(&["token", "revoke", &user_id])
            .success()
    );
    let (other, _) = mailbox();
    let err = c.create_mailbox(other, &vk, Some(&user)).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::TokenInvalid));
}

#[tokio::test]
async fn open_mode_needs_no_token() {
    let relay = RelayProcess::start(RelayOptions::plaintext());
    let (c, _in) = RelayClient::connect(relay.address(), ConnectOptions::default())
        .await
        .unwrap();
    let (mbox, key) = mailbox();
    c.create_mailbox(mbox, &key.verifying_key(), None)
        .await
        .unwrap();
    // Admin requests need an admin token in every mode; an empty one is no token.
    assert_eq!(
        c.stats("").await.unwrap_err().code(),
        Some(ErrorCode::TokenRequired)
    );
    assert_eq!(
        c.stats("nope").await.unwrap_err().code(),
        Some(ErrorCode::TokenInvalid)
    );
    assert_eq!(relay.admin_get("/healthz"), "ok\n");
    assert_eq!(relay.metric("cairn_relay_mailboxes"), Some(1));
    assert_eq!(relay.metric("cairn_relay_mailboxes_created_total"), Some(1));
}
