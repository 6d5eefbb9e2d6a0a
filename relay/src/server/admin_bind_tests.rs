//! A busy admin address: fatal when the operator chose it, a warning when it was the default.

use super::*;

async fn busy_port() -> (std::net::TcpListener, SocketAddr) {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    (taken, addr)
}

#[tokio::test]
async fn busy_default_admin_address_disables_only_the_admin_listener() {
    let (_taken, addr) = busy_port().await;
    let admin = AdminListen {
        addr,
        best_effort: true,
    };
    assert!(bind_admin(admin).await.unwrap().is_none());
}

#[tokio::test]
async fn busy_chosen_admin_address_is_an_error() {
    let (_taken, addr) = busy_port().await;
    let err = bind_admin(AdminListen::required(addr)).await.unwrap_err();
    assert!(
        matches!(err, RelayError::Bind { addr: a, .. } if a == addr),
        "{err}"
    );
}

#[tokio::test]
async fn relay_starts_beside_another_holding_the_default_admin_address() {
    let (_taken, addr) = busy_port().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = RelayConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
    config.admin_listen = Some(AdminListen {
        addr,
        best_effort: true,
    });
    let relay = Relay::bind(config).await.unwrap();
    assert_eq!(relay.admin_addr(), None);
}
