//! One connection type for both deployments: a single Redis server
//! (reconnecting `ConnectionManager`) or a Redis Cluster (slot-routing
//! `ClusterConnection`). Both are multiplexed: one socket per node carries
//! every in-flight command, and clones are cheap handles.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};

/// Longest wait for one reply. Generous: with `appendfsync always` a reply
/// waits for an fsync, and a timed-out append is ambiguous for the sender
/// (it retries with the same message id, which the store deduplicates).
pub(super) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// A command connection to a single server or a cluster.
#[derive(Clone)]
pub(super) enum RedisConn {
    /// One server (or a proxy in front of several).
    Single(ConnectionManager),
    /// A Redis Cluster; commands are routed by key slot.
    Cluster(ClusterConnection),
}

impl RedisConn {
    /// Connects to `urls`: one URL is a single server unless `cluster`; several are cluster seeds.
    pub(super) async fn connect(urls: &[String], cluster: bool) -> RedisResult<Self> {
        if cluster || urls.len() > 1 {
            let client = ClusterClientBuilder::new(urls.to_vec())
                .response_timeout(RESPONSE_TIMEOUT)
                .build()?;
            Ok(Self::Cluster(client.get_async_connection().await?))
        } else {
            let url = urls
                .first()
                .map_or("redis://127.0.0.1:6379", String::as_str);
            let client = redis::Client::open(url)?;
            let config = ConnectionManagerConfig::new()
                .set_number_of_retries(3)
                .set_response_timeout(Some(RESPONSE_TIMEOUT));
            Ok(Self::Single(
                client.get_connection_manager_with_config(config).await?,
            ))
        }
    }

    /// True for a cluster connection.
    pub(super) fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// The primaries that hold data: `host:port` of every cluster primary,
    /// or `None` for the single server.
    pub(super) async fn primaries(&mut self) -> RedisResult<Vec<Option<(String, u16)>>> {
        let Self::Cluster(_) = self else {
            return Ok(vec![None]);
        };
        let slots: Value = redis::cmd("CLUSTER").arg("SLOTS").query_async(self).await?;
        let mut out = Vec::new();
        if let Value::Array(ranges) = slots {
            for range in ranges {
                let Value::Array(parts) = range else { continue };
                let Some(Value::Array(node)) = parts.get(2) else {
                    continue;
                };
                let host = match node.first() {
                    Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
                    Some(Value::SimpleString(s)) => s.clone(),
                    _ => continue,
                };
                let Some(Value::Int(port)) = node.get(1) else {
                    continue;
                };
                let Ok(port) = u16::try_from(*port) else {
                    continue;
                };
                let entry = Some((host, port));
                if !out.contains(&entry) {
                    out.push(entry);
                }
            }
        }
        Ok(out)
    }

    /// Runs `cmd` on one node (`None`: the single server, or any cluster node).
    pub(super) async fn on_node(
        &mut self,
        node: &Option<(String, u16)>,
        cmd: Cmd,
    ) -> RedisResult<Value> {
        match (self, node) {
            (Self::Cluster(c), Some((host, port))) => {
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                    host: host.clone(),
                    port: *port,
                });
                c.route_command(cmd, routing).await
            }
            (conn, _) => cmd.query_async(conn).await,
        }
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}
