//! The built-in relay: `cairn_relay::Relay` running in-process, so the app
//! works with no server set up. It listens on loopback (this machine only)
//! or on all interfaces (others on the LAN paste its address).

use std::net::SocketAddr;
use std::path::Path;

use cairn_relay::config::RelayConfig;
use cairn_relay::{Relay, RelayError};
use tokio::sync::oneshot;

/// How many ports after a taken one a first start tries before asking the
/// system for any free port.
const NEXT_PORTS: u16 = 20;

/// A running in-process relay; dropping it shuts the relay down gracefully.
pub(super) struct LocalRelay {
    address: String,
    listen: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

/// Why the built-in relay did not start.
#[derive(Debug)]
pub(super) enum StartError {
    /// The port is taken and may not change.
    PortTaken(u16),
    /// Anything else the relay reported.
    Relay(RelayError),
}

/// True if `e` says the listening port itself is in use.
fn port_taken(e: &RelayError, listen: SocketAddr) -> bool {
    matches!(e, RelayError::Bind { addr, source }
        if *addr == listen && source.kind() == std::io::ErrorKind::AddrInUse)
}

impl LocalRelay {
    /// Binds and starts serving; the TLS certificate (and so the pin) is kept
    /// in `data_dir`, so the address stays the same across restarts. With
    /// `any_port`, a taken port is not an error: the next free one of the
    /// following [`NEXT_PORTS`] is used, else any the system gives.
    pub(super) async fn start(
        listen: SocketAddr,
        data_dir: &Path,
        any_port: bool,
    ) -> Result<Self, StartError> {
        let mut candidates = vec![listen];
        if any_port && listen.port() != 0 {
            let next = (1..=NEXT_PORTS).filter_map(|i| listen.port().checked_add(i));
            candidates.extend(next.map(|p| SocketAddr::new(listen.ip(), p)));
            candidates.push(SocketAddr::new(listen.ip(), 0));
        }
        let mut last = None;
        for candidate in candidates {
            match Self::bind(candidate, data_dir).await {
                Ok(relay) => return Ok(relay),
                Err(e) if port_taken(&e, candidate) => last = Some(candidate.port()),
                Err(e) => return Err(StartError::Relay(e)),
            }
        }
        Err(StartError::PortTaken(last.unwrap_or(listen.port())))
    }

    async fn bind(listen: SocketAddr, data_dir: &Path) -> Result<Self, RelayError> {
        let relay = Relay::bind(RelayConfig::new(listen, data_dir.to_path_buf())).await?;
        let address = relay.address().to_string();
        let listen = SocketAddr::new(listen.ip(), relay.address().port());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(e) = relay.run(shutdown).await {
                tracing::warn!(error = %e, "built-in relay stopped with an error");
            }
        });
        Ok(Self {
            address,
            listen,
            stop: Some(stop),
        })
    }

    /// The address others paste: `wss://host:port/#pin`.
    pub(super) fn address(&self) -> &str {
        &self.address
    }

    /// What it listens on, with the port it really got.
    pub(super) fn listen(&self) -> SocketAddr {
        self.listen
    }
}

impl Drop for LocalRelay {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
