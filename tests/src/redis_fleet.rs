//! Several `cairn-relay` processes on one Redis (or Redis Cluster) behind
//! one [`TcpBalancer`], the way docs/DEPLOY.md runs them: every instance
//! serves the same TLS certificate (so one pinned address fits all) and
//! the same mailbox space.

use std::net::SocketAddr;

use cairn_protocol::relay_address::RelayAddress;

use crate::redis::RedisBackend;
use crate::redis_lb::{Pick, TcpBalancer};
use crate::relay::{RelayOptions, RelayProcess};
use crate::tls_files;

/// Relay instances sharing a Redis backend, and a balancer in front.
pub struct RedisFleet {
    /// The instances, in start order (backend `i` of the balancer).
    pub relays: Vec<RelayProcess>,
    /// The balancer.
    pub balancer: TcpBalancer,
    address: RelayAddress,
    /// Redis; dropped last.
    pub redis: RedisBackend,
}

impl RedisFleet {
    /// Starts Redis (single server or 3-primary cluster) and `instances` relays.
    /// `extra` are more `serve` flags for every instance.
    pub fn start(cluster: bool, instances: usize, extra: &[&str]) -> Self {
        let redis = RedisBackend::start(cluster);
        let mut args = redis.relay_args();
        args.extend(
            [
                "--rate-per-connection",
                "0",
                "--rate-per-ip",
                "0",
                "--bytes-per-connection",
                "0",
                "--bytes-per-ip",
                "0",
                // Every client here comes from 127.0.0.1.
                "--max-connections-per-source",
                "0",
            ]
            .map(String::from),
        );
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let first = RelayProcess::start(RelayOptions::default().args(args.clone()));
        let (cert, key) = tls_files(first.data_dir());
        let mut relays = vec![first];
        for _ in 1..instances {
            let mut more = args.clone();
            more.extend([
                "--tls-cert".to_owned(),
                cert.clone(),
                "--tls-key".to_owned(),
                key.clone(),
            ]);
            relays.push(RelayProcess::start(RelayOptions::default().args(more)));
        }
        let backends: Vec<SocketAddr> = relays.iter().map(|r| socket(r.address())).collect();
        let balancer = TcpBalancer::start(backends);
        let address = RelayAddress::new(
            "127.0.0.1",
            balancer.addr().port(),
            relays[0].address().transport(),
        )
        .expect("balancer address");
        assert!(
            relays.iter().all(|r| r.address().pin() == address.pin()),
            "instances must share one certificate"
        );
        Self {
            relays,
            balancer,
            address,
            redis,
        }
    }

    /// The address clients use: the balancer, with the shared certificate's pin.
    pub fn address(&self) -> &RelayAddress {
        &self.address
    }

    /// New connections go to instance `i` first (if it is up).
    pub fn route_to(&self, i: usize) {
        self.balancer.pick(Pick::Prefer(i));
    }

    /// New connections rotate over the instances.
    pub fn round_robin(&self) {
        self.balancer.pick(Pick::RoundRobin);
    }
}

/// The TCP address of a relay address (loopback tests only).
pub fn socket(address: &RelayAddress) -> SocketAddr {
    format!("{}:{}", address.host(), address.port())
        .parse()
        .expect("loopback socket address")
}
