//! The admin listener: `GET /healthz` for anyone, `GET /metrics` and the
//! ban endpoints for admin-token holders, over HTTP/1.1 (axum on hyper).
//!
//! It has its own connection cap and a deadline per connection, so a flood
//! of scrapes cannot take the relay's file descriptors. It reveals counters
//! and keyed source hashes, never mailbox ids or addresses.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, Path, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Extension, Router};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use super::{Shared, now_unix};
use crate::bans::SourceId;
use crate::config::{AdminAuth, AdminListen};
use crate::metrics;
use crate::tokens::{Role, hash_token};

/// Longest an admin connection stays open (one request: keep-alive is off).
const CONNECTION_DEADLINE: Duration = Duration::from_secs(10);

pub(crate) async fn serve(
    shared: Arc<Shared>,
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
) {
    let options = shared
        .config
        .admin_listen
        .unwrap_or_else(AdminListen::default_best_effort);
    let slots = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let app = router(Arc::clone(&shared));
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, peer)) = accepted else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        if shared.refuse_banned(peer.ip()) {
            continue;
        }
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            shared.metrics.admin_refused.inc();
            continue; // dropping the stream closes it
        };
        let service = TowerToHyperService::new(app.clone().layer(Extension(Peer(peer.ip()))));
        tokio::spawn(async move {
            let _slot = slot;
            let connection = hyper::server::conn::http1::Builder::new()
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_DEADLINE, connection).await;
        });
    }
}

/// The routes; unknown paths get 404 and other methods 405 from axum.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/bans", get(list_bans).delete(clear_bans))
        .route("/bans/{source}", delete(clear_ban))
        .with_state(shared)
}

/// The client address of an admin connection (for bans; never logged
/// without `--log-ips`).
#[derive(Clone, Copy)]
struct Peer(IpAddr);

async fn metrics(_: Admin, State(shared): State<Arc<Shared>>) -> Response {
    let stats = shared.store.stats().await.ok();
    let active = shared.bans.active(Instant::now());
    shared
        .metrics
        .bans_active
        .set(i64::try_from(active).unwrap_or(i64::MAX));
    let body = shared
        .metrics
        .render_with(stats, shared.store.appends_cancelled());
    ([(CONTENT_TYPE, metrics::CONTENT_TYPE)], body).into_response()
}

/// `GET /bans`: the bans in force, as JSON (`source`, `seconds_left`, `bans`).
async fn list_bans(_: Admin, State(shared): State<Arc<Shared>>) -> Response {
    let bans = shared.bans.list(Instant::now());
    match serde_json::to_string(&bans) {
        Ok(json) => ([(CONTENT_TYPE, "application/json")], json + "\n").into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// `DELETE /bans`: lifts every ban.
async fn clear_bans(_: Admin, State(shared): State<Arc<Shared>>) -> Response {
    let n = shared.bans.clear(None);
    tracing::info!(cleared = n, "every ban lifted by an admin");
    format!("{n} cleared\n").into_response()
}

/// `DELETE /bans/{source}`: lifts one ban by its source id from `GET /bans`.
async fn clear_ban(
    _: Admin,
    State(shared): State<Arc<Shared>>,
    Path(source): Path<String>,
) -> Response {
    let Ok(id) = source.parse::<SourceId>() else {
        return (
            StatusCode::BAD_REQUEST,
            "a source id is 16 hex digits, as listed by GET /bans\n",
        )
            .into_response();
    };
    if shared.bans.clear(Some(id)) == 0 {
        return (StatusCode::NOT_FOUND, "no such ban\n").into_response();
    }
    tracing::info!(%id, "ban lifted by an admin");
    "1 cleared\n".into_response()
}

/// Proof that a request may use the admin endpoints: it carries an admin
/// token, or the operator turned authentication off (loopback only).
pub(crate) struct Admin;

impl FromRequestParts<Arc<Shared>> for Admin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        shared: &Arc<Shared>,
    ) -> Result<Self, Self::Rejection> {
        let auth = shared
            .config
            .admin_listen
            .map_or(AdminAuth::Token, |a| a.auth);
        if auth == AdminAuth::None {
            return Ok(Admin);
        }
        let role = match bearer(&parts.headers) {
            Some(token) => shared
                .tokens
                .check_token(hash_token(token.as_bytes()), now_unix())
                .await
                .map(|record| record.map(|t| t.role))
                .map_err(|e| {
                    tracing::warn!(error = %e, "admin token check failed");
                    (StatusCode::SERVICE_UNAVAILABLE, "token store unavailable\n").into_response()
                })?,
            None => None,
        };
        match role {
            Some(Role::Admin) => Ok(Admin),
            Some(Role::User) => {
                shared.metrics.admin_unauthorized.inc();
                offence(parts, shared);
                Err((StatusCode::FORBIDDEN, "this token is not an admin token\n").into_response())
            }
            None => {
                shared.metrics.admin_unauthorized.inc();
                offence(parts, shared);
                Err((
                    StatusCode::UNAUTHORIZED,
                    [(WWW_AUTHENTICATE, "Bearer")],
                    "an admin token is required: Authorization: Bearer cairn_… \
                     (cairn-relay token create --role admin)\n",
                )
                    .into_response())
            }
        }
    }
}

/// A wrong admin token counts towards a ban of its source.
fn offence(parts: &Parts, shared: &Shared) {
    if let Some(Peer(ip)) = parts.extensions.get::<Peer>() {
        shared.offence(*ip);
    }
}

/// The token of an `Authorization: Bearer …` header, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}
