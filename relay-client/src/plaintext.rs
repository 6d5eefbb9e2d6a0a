//! Plain `ws://` only to this machine.
//!
//! A plaintext connection shows the relay traffic (mailbox ids, sizes, auth
//! keys, access tokens) to anyone on the path, and nothing proves who
//! answers. The relay refuses `--insecure-plaintext` off loopback; the client
//! refuses the other half: a `ws://` address whose host is not loopback is
//! never dialled, and a loopback name is only dialled at loopback IPs.

use std::net::SocketAddr;

use cairn_protocol::relay_address::RelayAddress;

use super::error::ClientError;

/// The protocol's plaintext rule ([`RelayAddress::check_transport`]) as a client error.
pub(super) fn check_transport(address: &RelayAddress) -> Result<(), ClientError> {
    address
        .check_transport()
        .map_err(|e| ClientError::PlaintextNotLoopback { relay: e.relay })
}

/// For a plaintext dial: only the resolved addresses that are loopback, so
/// `localhost` mapped elsewhere (e.g. in `/etc/hosts`) is refused too.
pub(super) fn loopback_only(
    address: &RelayAddress,
    resolved: impl IntoIterator<Item = SocketAddr>,
) -> Result<Vec<SocketAddr>, ClientError> {
    let addrs: Vec<SocketAddr> = resolved
        .into_iter()
        .filter(|a| a.ip().to_canonical().is_loopback())
        .collect();
    if addrs.is_empty() {
        return Err(ClientError::PlaintextNotLoopback {
            relay: address.to_string(),
        });
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> RelayAddress {
        text.parse().unwrap()
    }

    #[test]
    fn resolved_addresses_must_be_loopback() {
        let a = addr("ws://localhost:9/");
        let local: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let v6: SocketAddr = "[::1]:9".parse().unwrap();
        let remote: SocketAddr = "203.0.113.5:9".parse().unwrap();
        assert_eq!(loopback_only(&a, [remote, local, v6]).unwrap(), [local, v6]);
        assert!(matches!(
            loopback_only(&a, [remote]),
            Err(ClientError::PlaintextNotLoopback { .. })
        ));
        assert!(loopback_only(&a, []).is_err());
    }

    #[tokio::test]
    async fn connect_refuses_before_dialling() {
        // Linux routes 0.0.0.0 to this machine: without the check, this
        // dial would reach the listener.
        let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let address = addr(&format!("ws://0.0.0.0:{port}/"));
        let err =
            super::super::RelayClient::connect(&address, super::super::ConnectOptions::default())
                .await
                .err()
                .unwrap();
        assert!(
            matches!(err, ClientError::PlaintextNotLoopback { .. }),
            "{err:?}"
        );
        let err = super::super::connect_websocket(&address, std::time::Duration::from_secs(5))
            .await
            .err()
            .unwrap();
        assert!(
            matches!(err, ClientError::PlaintextNotLoopback { .. }),
            "{err:?}"
        );
        let accepted =
            tokio::time::timeout(std::time::Duration::from_millis(200), listener.accept()).await;
        assert!(accepted.is_err(), "a connection reached the listener");
    }

    #[tokio::test]
    async fn connect_over_a_given_socket_keeps_the_plaintext_rule() {
        // The caller dialled (here: to a listener on every interface); the
        // address still decides, before a byte is written.
        let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let address = addr(&format!("ws://0.0.0.0:{port}/"));
        let err =
            super::super::connect_websocket_over(&address, tcp, std::time::Duration::from_secs(5))
                .await
                .err()
                .unwrap();
        assert!(
            matches!(err, ClientError::PlaintextNotLoopback { .. }),
            "{err:?}"
        );
        let mut buf = [0u8; 1];
        let read = tokio::io::AsyncReadExt::read(&mut server, &mut buf).await;
        assert!(matches!(read, Ok(0)), "nothing was sent: {read:?}");
    }
}
