//! Two relay instances on one Redis server behind a TCP balancer
//! (`cargo test -p cairn-tests redis` runs these and `redis_cluster.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[test]
fn redis_two_instances_cli_chat_both_ways_and_offline() {
    crate::redis_support::chat_both_ways_and_offline(false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_live_push_crosses_instances() {
    crate::redis_support::live_push_crosses_instances(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_sigkill_one_instance_under_load_loses_nothing() {
    crate::redis_support::sigkill_one_instance_under_load(false).await;
}

#[test]
fn redis_cli_reconnects_to_other_instance_without_duplicates() {
    crate::redis_support::cli_reconnects_after_kill_without_duplicates(false);
}

/// Tokens live in Redis: created once with `cairn-relay token create --store
/// redis`, honoured and revoked on every instance.
#[test]
fn redis_tokens_are_shared_by_all_instances() {
    use cairn_protocol::frames::ErrorCode;
    use cairn_relay_client::{ConnectOptions, RelayClient};
    use cairn_tests::fixtures::mailbox;
    use cairn_tests::redis_fleet::RedisFleet;
    use std::time::Duration;

    let fleet = RedisFleet::start(false, 2, &["--access", "token"]);
    let relay_cmd = |args: &[&str]| {
        let mut all: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        all.extend(fleet.redis.relay_args());
        cairn_tests::run_binary(
            "cairn-relay",
            "cairn-relay",
            &all,
            &[],
            None,
            Duration::from_secs(60),
        )
    };
    let created = relay_cmd(&["token", "create", "--role", "user"]);
    assert!(created.success(), "{}", created.stderr);
    let token = created.stdout.lines().next().unwrap().trim().to_owned();
    let id = created
        .stderr
        .split("token ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    let listed = relay_cmd(&["token", "list"]);
    assert!(
        listed.stdout.contains(&id) && listed.stdout.contains("active"),
        "{}",
        listed.stdout
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let create_on = |i: usize, token: Option<&str>| {
        runtime.block_on(async {
            let (c, _in) =
                RelayClient::connect(fleet.relays[i].address(), ConnectOptions::default())
                    .await
                    .unwrap();
            let (m, k) = mailbox();
            c.create_mailbox(m, &k.verifying_key(), token)
                .await
                .map_err(|e| e.code())
        })
    };
    for i in 0..2 {
        assert_eq!(create_on(i, None), Err(Some(ErrorCode::TokenRequired)));
        assert_eq!(
            create_on(i, Some(&token)),
            Ok(()),
            "instance {i} knows the token"
        );
    }
    let revoked = relay_cmd(&["token", "revoke", &id]);
    assert!(revoked.success(), "{}", revoked.stderr);
    for i in 0..2 {
        assert_eq!(
            create_on(i, Some(&token)),
            Err(Some(ErrorCode::TokenInvalid)),
            "instance {i} sees the revocation"
        );
    }
    assert!(relay_cmd(&["token", "list"]).stdout.contains("revoked"));
}
