//! The same end-to-end scenarios as `redis_single.rs`, against a real
//! 3-primary Redis Cluster on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[test]
fn redis_cluster_two_instances_cli_chat_both_ways_and_offline() {
    crate::redis_support::chat_both_ways_and_offline(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_live_push_crosses_instances() {
    crate::redis_support::live_push_crosses_instances(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_sigkill_one_instance_under_load_loses_nothing() {
    crate::redis_support::sigkill_one_instance_under_load(true).await;
}

#[test]
fn redis_cluster_cli_reconnects_to_other_instance_without_duplicates() {
    crate::redis_support::cli_reconnects_after_kill_without_duplicates(true);
}
