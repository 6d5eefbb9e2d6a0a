//! `cairn-relay bans list|clear`: the ban endpoints of a running relay's
//! admin listener, over HTTP/1.1 (hyper's client).

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, Result, bail};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::cli::BansAction;

/// One ban as the relay lists it (`GET /bans`).
#[derive(Debug, serde::Deserialize)]
struct Ban {
    source: String,
    seconds_left: u64,
    bans: u32,
}

pub(crate) async fn run(
    action: BansAction,
    admin: SocketAddr,
    token_file: Option<&Path>,
) -> Result<()> {
    let token = match token_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading the admin token from {}", path.display()))?
                .trim()
                .to_owned(),
        ),
        None => None,
    };
    match action {
        BansAction::List { json } => {
            let body = request(admin, Method::GET, "/bans", token.as_deref()).await?;
            if json {
                print!("{body}");
                return Ok(());
            }
            let bans: Vec<Ban> =
                serde_json::from_str(&body).context("the relay's ban list is not valid JSON")?;
            if bans.is_empty() {
                println!("no bans in force");
            }
            for ban in bans {
                println!(
                    "{}  {:>8}  {} ban{}",
                    ban.source,
                    left(ban.seconds_left),
                    ban.bans,
                    if ban.bans == 1 { "" } else { "s" }
                );
            }
        }
        BansAction::Clear { source, .. } => {
            let path = match source {
                Some(source) => format!("/bans/{source}"),
                None => "/bans".to_owned(),
            };
            print!(
                "{}",
                request(admin, Method::DELETE, &path, token.as_deref()).await?
            );
        }
    }
    Ok(())
}

/// Seconds as the largest whole unit: `45s`, `12m`, `3h`.
fn left(seconds: u64) -> String {
    match seconds {
        s if s < 120 => format!("{s}s left"),
        s if s < 7200 => format!("{}m left", s / 60),
        s => format!("{}h left", s / 3600),
    }
}

/// Sends one request; the body on 2xx, else an error with the relay's reason.
async fn request(
    admin: SocketAddr,
    method: Method,
    path: &str,
    token: Option<&str>,
) -> Result<String> {
    let stream = TcpStream::connect(admin)
        .await
        .with_context(|| format!("connecting to the admin listener at {admin} (--admin)"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP handshake with the admin listener")?;
    tokio::spawn(connection);
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, admin.to_string());
    if let Some(token) = token {
        builder = builder.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = sender
        .send_request(
            builder
                .body(Empty::<Bytes>::new())
                .context("building the request")?,
        )
        .await
        .context("request to the admin listener")?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .context("reading the admin listener's answer")?
        .to_bytes();
    let body = String::from_utf8_lossy(&body).into_owned();
    match status {
        s if s.is_success() => Ok(body),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            bail!("refused ({status}): {} Pass --token-file.", body.trim())
        }
        _ => bail!("the relay answered {status}: {}", body.trim()),
    }
}
