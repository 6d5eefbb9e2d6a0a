//! Every end-to-end test in one binary (one link instead of one per file; each
//! test still runs in its own process under nextest). Each module starts real
//! relay processes and real clients; see its own doc comment.

mod cli_chat;
mod cli_connections;
mod cli_crash;
mod cli_faults;
mod cli_home_relay;
mod cli_invite_once;
mod cli_relays;
mod cli_restore;
mod cli_support;
mod client_plaintext;
mod desktop_relaunch;
mod redis_cluster;
mod redis_order;
mod redis_single;
mod redis_support;
mod relay_access;
mod relay_acks;
mod relay_admin;
mod relay_bans;
mod relay_blindness;
mod relay_crash;
mod relay_lifecycle_stress;
mod relay_limits;
mod relay_malformed;
mod relay_metrics;
mod relay_order;
mod relay_policy;
mod relay_quiet_ack;
mod relay_roundtrip;
mod relay_secure_delete;
mod relay_slow_reader;
mod relay_storage;
mod relay_timeouts;
