//! Plain `ws://` only to this machine.
//!
//! A plaintext connection shows the relay traffic (mailbox ids, sizes, auth
//! keys, access tokens) to anyone on the path, and nothing proves who
//! answers. The relay refuses `--insecure-plaintext` off loopback; the client
//! refuses the other half: a `ws://` address whose host is not loopback is
//! never dialled, and a loopback name is only dialled at loopback IPs.

use std::net::{IpAddr, SocketAddr};

use cairn_protocol::address::{RelayAddress, Transport};

use super::error::ClientError;

/// True for hosts that can only mean this machine: `localhost` (any case),
/// 127.0.0.0/8, `::1` and their IPv4-mapped forms. Other names are not
/// resolved here: a DNS name is never "loopback" for this check.
pub fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// Refuses a plaintext address whose host is not loopback; TLS addresses pass.
///
/// Called by [`super::RelayClient::connect`] and [`super::connect_websocket`]
/// before any network activity, and usable by applications to refuse such an
/// address where the user types or receives it.
pub fn check_transport(address: &RelayAddress) -> Result<(), ClientError> {
    match address.transport() {
        Transport::Tls { .. } => Ok(()),
        Transport::Plaintext if is_loopback_host(address.host()) => Ok(()),
        Transport::Plaintext => Err(ClientError::PlaintextNotLoopback {
            relay: address.to_string(),
        }),
    }
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
    fn loopback_hosts() {
        for host in [
            "localhost",
            "LocalHost",
            "127.0.0.1",
            "127.8.9.10",
            "::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "0.0.0.0",
            "::",
            "10.0.0.1",
            "192.168.1.2",
            "::ffff:10.0.0.1",
            "fe80::1",
            "localhost.example.org",
            "mylocalhost",
            "127.0.0.1.nip.io",
            "127.1",
            "example.org",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn plaintext_refused_off_loopback_tls_always_allowed() {
        check_transport(&addr("ws://127.0.0.1:7447/")).unwrap();
        check_transport(&addr("ws://[::1]:7447/")).unwrap();
        check_transport(&addr("ws://localhost:7447/")).unwrap();
        let pin = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        check_transport(&addr(&format!("wss://relay.example.org:7447/#{pin}"))).unwrap();
        for text in [
            "ws://relay.example.org:7447/",
            "ws://10.1.2.3:7447/",
            "ws://0.0.0.0:7447/",
            "ws://[2001:db8::1]:7447/",
        ] {
            let err = check_transport(&addr(text)).unwrap_err();
            assert!(
                matches!(&err, ClientError::PlaintextNotLoopback { relay } if relay == text),
                "{text}: {err:?}"
            );
            assert!(!err.is_retryable());
            assert!(err.to_string().contains("wss://"), "{err}");
        }
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
}
