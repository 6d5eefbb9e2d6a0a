//! The built-in relay: `cairn_relay::Relay` running in-process, so the app
//! works with no server set up. It listens on loopback (this machine only)
//! or on all interfaces (others on the LAN paste its address).

use std::net::SocketAddr;
use std::path::Path;

use cairn_relay::config::RelayConfig;
use cairn_relay::{Relay, RelayError};
use tokio::sync::oneshot;

/// A running in-process relay; dropping it shuts the relay down gracefully.
pub(super) struct LocalRelay {
    address: String,
    stop: Option<oneshot::Sender<()>>,
}

impl LocalRelay {
    /// Binds and starts serving; the TLS certificate (and so the pin) is kept
    /// in `data_dir`, so the address stays the same across restarts.
    pub(super) async fn start(listen: SocketAddr, data_dir: &Path) -> Result<Self, RelayError> {
        let relay = Relay::bind(RelayConfig::new(listen, data_dir.to_path_buf())).await?;
        let address = relay.address().to_string();
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
            stop: Some(stop),
        })
    }

    /// The address others paste: `wss://host:port/#pin`.
    pub(super) fn address(&self) -> &str {
        &self.address
    }
}

impl Drop for LocalRelay {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
