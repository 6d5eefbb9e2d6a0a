//! What Redis's persistence settings mean for the relay's promise
//! "a sender is acknowledged only once its envelope is durable".
//!
//! The relay acknowledges a send when the append script's reply arrives,
//! so the envelope is already inside Redis; whether it survives *Redis*
//! failing depends on the server's append-only file (AOF) settings:
//!
//! - `appendonly yes` + `appendfsync always`: Redis writes and fsyncs the
//!   AOF before it sends any reply (group commit per event-loop turn).
//!   Survives a crash of Redis and a power loss: the same promise as the
//!   SQLite store with `--sync full`.
//! - `appendonly yes` + `appendfsync everysec` (Redis's default when AOF is
//!   on): the AOF is written before the reply but fsynced once per second,
//!   so a power loss (or, when the disk stalls, a Redis crash) can lose
//!   about the last 1–2 seconds of acknowledged envelopes.
//! - `appendfsync no`: the operating system decides when to flush (~30 s).
//! - `appendonly no`: only RDB snapshots, if any. A Redis restart loses
//!   everything since the last snapshot: the promise is not kept.
//!
//! A crash of a *relay* process never loses an acknowledged envelope under
//! any of these settings. Replication to Redis replicas is asynchronous:
//! a failover can lose what the old primary had not yet sent.

use std::collections::HashMap;

use super::conn::RedisConn;

/// How durable one Redis primary makes an acknowledged write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Durability {
    /// AOF fsynced before every reply: survives a Redis crash and power loss.
    Always,
    /// AOF fsynced once a second: the last ~1–2 s can be lost on power loss.
    EverySecond,
    /// AOF flushed when the operating system decides.
    OsDecides,
    /// No append-only file: a Redis restart loses acknowledged envelopes.
    NotPersistent,
    /// `CONFIG GET` failed (managed services often disable it).
    Unknown(String),
}

impl Durability {
    fn rank(&self) -> u8 {
        match self {
            Durability::NotPersistent => 0,
            Durability::Unknown(_) => 1,
            Durability::OsDecides => 2,
            Durability::EverySecond => 3,
            Durability::Always => 4,
        }
    }

    fn from_config(config: &HashMap<String, String>) -> Self {
        let get = |k: &str| config.get(k).map(|v| v.to_ascii_lowercase());
        if get("appendonly").as_deref() != Some("yes") {
            return Durability::NotPersistent;
        }
        match get("appendfsync").as_deref() {
            Some("always") => Durability::Always,
            Some("everysec") => Durability::EverySecond,
            _ => Durability::OsDecides,
        }
    }
}

/// Asks every primary for `appendonly`/`appendfsync`; returns the weakest answer.
pub(super) async fn check(conn: &mut RedisConn) -> Durability {
    let nodes = match conn.primaries().await {
        Ok(nodes) => nodes,
        Err(e) => return Durability::Unknown(e.to_string()),
    };
    let mut weakest = Durability::Always;
    for node in &nodes {
        let mut cmd = redis::cmd("CONFIG");
        cmd.arg("GET").arg("append*");
        let answer = match conn.on_node(node, cmd).await {
            Ok(value) => redis::from_redis_value::<HashMap<String, String>>(value)
                .map(|c| Durability::from_config(&c))
                .unwrap_or_else(|e| Durability::Unknown(e.to_string())),
            Err(e) => Durability::Unknown(e.to_string()),
        };
        if answer.rank() < weakest.rank() {
            weakest = answer;
        }
    }
    weakest
}

/// Logs what the settings mean; a warning whenever the promise is weaker than `always`.
pub(super) fn log(durability: &Durability) {
    match durability {
        Durability::Always => tracing::info!(
            "redis: appendonly yes, appendfsync always: acknowledged envelopes survive a Redis crash and power loss"
        ),
        Durability::EverySecond => tracing::warn!(
            "redis: appendfsync everysec: acknowledged envelopes survive a relay crash, but a power loss \
             (or a Redis crash while its disk stalls) can lose the last 1-2 seconds of them; \
             set `appendfsync always` on every primary to keep the durability promise"
        ),
        Durability::OsDecides => tracing::warn!(
            "redis: appendfsync no: the operating system decides when the AOF reaches the disk; \
             a power loss can lose ~30 s of acknowledged envelopes; set `appendfsync always`"
        ),
        Durability::NotPersistent => tracing::warn!(
            "redis: appendonly no: acknowledged envelopes are NOT durable, a Redis restart loses \
             them; set `appendonly yes` and `appendfsync always` on every primary"
        ),
        Durability::Unknown(e) => tracing::warn!(
            error = %e,
            "redis: cannot read appendonly/appendfsync (CONFIG GET refused?); make sure every \
             primary runs with `appendonly yes` and `appendfsync always`"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_map_to_promises() {
        let cfg = |a: &str, f: &str| {
            HashMap::from([
                ("appendonly".to_owned(), a.to_owned()),
                ("appendfsync".to_owned(), f.to_owned()),
            ])
        };
        assert_eq!(
            Durability::from_config(&cfg("yes", "always")),
            Durability::Always
        );
        assert_eq!(
            Durability::from_config(&cfg("yes", "everysec")),
            Durability::EverySecond
        );
        assert_eq!(
            Durability::from_config(&cfg("yes", "no")),
            Durability::OsDecides
        );
        assert_eq!(
            Durability::from_config(&cfg("no", "always")),
            Durability::NotPersistent
        );
        assert!(Durability::NotPersistent.rank() < Durability::Always.rank());
    }
}
