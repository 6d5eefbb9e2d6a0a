//! Real `redis-server` processes for the Redis end-to-end tests: a single
//! server or a 3-primary Redis Cluster (appendfsync always, killed on drop).
//! The starter is the relay's own (`cairn_relay::store::redis::test_server`,
//! `test-support` feature), so the store tests and these start Redis the
//! same way; [`RedisBackend`] is how the relays here are pointed at it.

pub use cairn_relay::store::redis::test_server::{
    TestCluster as RedisCluster, TestRedis as RedisServer, require_redis,
};

/// A single server or a cluster, as the relays see it.
pub enum RedisBackend {
    /// One server.
    Single(RedisServer),
    /// Three primaries.
    Cluster(RedisCluster),
}

impl RedisBackend {
    /// Starts a single server (`cluster == false`) or a 3-primary cluster.
    pub fn start(cluster: bool) -> Self {
        if cluster {
            Self::Cluster(RedisCluster::start())
        } else {
            Self::Single(RedisServer::start())
        }
    }

    /// The `cairn-relay` flags that select this backend.
    pub fn relay_args(&self) -> Vec<String> {
        let urls = match self {
            Self::Single(s) => vec![s.url()],
            Self::Cluster(c) => c.urls(),
        };
        vec![
            "--store".into(),
            "redis".into(),
            "--redis-url".into(),
            urls.join(","),
        ]
    }

    /// Every key the relays wrote, on every node (`KEYS cairn:*`).
    pub fn keys(&self) -> Vec<String> {
        let servers: Vec<&RedisServer> = match self {
            Self::Single(s) => vec![s],
            Self::Cluster(c) => c.nodes().iter().collect(),
        };
        servers
            .iter()
            .flat_map(|s| {
                s.cli(&["--scan", "--pattern", "cairn:*"])
                    .lines()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}
