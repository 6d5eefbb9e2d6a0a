//! A busy admin address: fatal when the operator chose it, a warning when it was the default.

use super::*;
use crate::config::AdminAuth;

async fn busy_port() -> (std::net::TcpListener, SocketAddr) {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    (taken, addr)
}

#[tokio::test]
async fn busy_default_admin_address_disables_only_the_admin_listener() {
    let (_taken, addr) = busy_port().await;
    let admin = AdminListen {
        best_effort: true,
        ..AdminListen::required(addr)
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
        best_effort: true,
        ..AdminListen::required(addr)
    });
    let relay = Relay::bind(config).await.unwrap();
    assert_eq!(relay.admin_addr(), None);
}

#[tokio::test]
async fn an_unauthenticated_admin_listener_must_stay_on_loopback() {
    let open = |addr: &str| AdminListen {
        auth: AdminAuth::None,
        ..AdminListen::required(addr.parse().unwrap())
    };
    let err = bind_admin(open("0.0.0.0:0")).await.unwrap_err();
    assert!(matches!(err, RelayError::AdminUnauthenticated(_)), "{err}");
    assert!(err.to_string().contains("--admin-auth token"), "{err}");
    assert!(bind_admin(open("127.0.0.1:0")).await.unwrap().is_some());
    // With tokens required, any address is fine.
    let public = AdminListen::required("0.0.0.0:0".parse().unwrap());
    assert!(bind_admin(public).await.unwrap().is_some());
}
