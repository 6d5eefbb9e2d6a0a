//! A minimal TCP load balancer for the multi-instance tests, standing in
//! for HAProxy or nginx `stream` (docs/DEPLOY.md): it forwards bytes, so
//! TLS runs end to end between client and relay. A new connection goes to
//! the preferred backend if it accepts, else to the next one that does, so
//! after an instance dies clients reconnect to a live one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

/// How new connections pick a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// Rotate over the backends.
    RoundRobin,
    /// Always try backend `i` first.
    Prefer(usize),
}

/// A running balancer; stops when dropped.
pub struct TcpBalancer {
    addr: SocketAddr,
    pick: Arc<AtomicUsize>,
    runtime: Option<tokio::runtime::Runtime>,
}

const ROUND_ROBIN: usize = usize::MAX;

impl TcpBalancer {
    /// Listens on a free loopback port and forwards to `backends`.
    pub fn start(backends: Vec<SocketAddr>) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("balancer runtime");
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("balancer listen");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("balancer addr");
        let listener = {
            let _inside = runtime.enter();
            TcpListener::from_std(std_listener).expect("balancer listener")
        };
        let pick = Arc::new(AtomicUsize::new(ROUND_ROBIN));
        runtime.spawn(accept(listener, backends, Arc::clone(&pick)));
        Self {
            addr,
            pick,
            runtime: Some(runtime),
        }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes how the next connections pick a backend.
    pub fn pick(&self, pick: Pick) {
        let v = match pick {
            Pick::RoundRobin => ROUND_ROBIN,
            Pick::Prefer(i) => i,
        };
        self.pick.store(v, Ordering::SeqCst);
    }
}

impl Drop for TcpBalancer {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

async fn accept(listener: TcpListener, backends: Vec<SocketAddr>, pick: Arc<AtomicUsize>) {
    let mut next = 0usize;
    while let Ok((client, _)) = listener.accept().await {
        let first = match pick.load(Ordering::SeqCst) {
            ROUND_ROBIN => {
                next = next.wrapping_add(1);
                next
            }
            i => i,
        };
        let order: Vec<SocketAddr> = (0..backends.len())
            .map(|k| backends[(first + k) % backends.len()])
            .collect();
        tokio::spawn(forward(client, order));
    }
}

async fn forward(mut client: TcpStream, order: Vec<SocketAddr>) {
    for backend in order {
        let connect = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(backend));
        if let Ok(Ok(mut upstream)) = connect.await {
            let _ = client.set_nodelay(true);
            let _ = upstream.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            return;
        }
    }
}
