//! `cairn-relay`: run a relay (`serve`), manage its access tokens (`token`)
//! or its automatic bans (`bans`).

mod bans;
mod cli;
mod policy_check;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use crate::cli::{Cli, Command, LogFormat, ServeArgs, StoreArgs, TokenAction};
use anyhow::{Context, Result};
use cairn_relay::config::TransportConfig;
use cairn_relay::store::redis::RedisFanout;
use cairn_relay::store::{
    MailboxStore, RedisStore, SqliteOptions, SqliteStore, StoreLimits, TokenStore,
};
use cairn_relay::{Relay, tokens};

fn main() -> Result<()> {
    let cli = match Cli::parse_with_config(std::env::args_os().collect()) {
        Ok(cli) => cli,
        Err(crate::cli::CliError::Clap(e)) => e.exit(),
        Err(e) => return Err(e.into()),
    };
    match cli.command {
        Command::Serve(args) => {
            init_logging(args.log_format);
            runtime(args.threads)?.block_on(serve(*args))
        }
        Command::Token {
            action,
            data_dir,
            store,
        } => {
            init_logging(LogFormat::Text);
            runtime(1)?.block_on(token(action, &data_dir, &store))
        }
        Command::Policy { action } => policy_check::run(action),
        Command::Bans {
            action,
            admin,
            token_file,
        } => runtime(1)?.block_on(bans::run(action, admin, token_file.as_deref())),
    }
}

/// The async runtime with `threads` workers (0 = tokio's default, one per CPU).
fn runtime(threads: usize) -> Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if threads > 0 {
        builder.worker_threads(threads);
    }
    builder
        .enable_all()
        .thread_name("cairn-relay")
        .build()
        .context("starting the async runtime")
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn serve(args: ServeArgs) -> Result<()> {
    let config = args.to_config()?;
    if config.transport == TransportConfig::Plaintext {
        tracing::warn!(
            "INSECURE: --insecure-plaintext is on. Connections are NOT encrypted or \
             authenticated; use only for local development on loopback."
        );
    }
    let relay = match args.store.redis_options(config.store) {
        None => Relay::bind(config.clone()).await,
        Some(redis) => {
            let store = Arc::new(
                RedisStore::connect(&redis)
                    .await
                    .context("connecting to Redis")?,
            );
            let fanout = Arc::new(
                RedisFanout::connect(&redis)
                    .await
                    .context("subscribing to Redis")?,
            );
            tracing::info!(
                cluster = redis.is_cluster(),
                nodes = redis.urls.len(),
                "storage: shared Redis store (several relay instances may serve it)"
            );
            Relay::bind_with_fanout(config.clone(), store.clone(), store, Some(fanout)).await
        }
    }
    .context("starting the relay")?;
    tracing::info!(
        listen = %config.listen,
        admin = ?relay.admin_addr(),
        access = ?config.access,
        "cairn-relay ready"
    );
    let mut stdout = std::io::stdout().lock();
    if let Some(admin) = relay.admin_addr() {
        writeln!(stdout, "admin address: {admin}")?;
    }
    writeln!(stdout, "relay address: {}", relay.address())?;
    stdout.flush()?;
    drop(stdout);
    relay.run(shutdown_signal()).await?;
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGTERM; Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn token(action: TokenAction, data_dir: &Path, backend: &StoreArgs) -> Result<()> {
    let store: Arc<dyn TokenStoreAndShutdown> = match backend.redis_options(StoreLimits::default())
    {
        Some(redis) => Arc::new(
            RedisStore::connect(&redis)
                .await
                .context("connecting to Redis")?,
        ),
        None => {
            std::fs::create_dir_all(data_dir)
                .with_context(|| format!("creating {}", data_dir.display()))?;
            Arc::new(
                SqliteStore::open(&SqliteOptions::in_dir(data_dir))
                    .context("opening the database")?,
            )
        }
    };
    let now = unix_now();
    match action {
        TokenAction::Create {
            role,
            expires,
            label,
        } => {
            tokens::check_label(&label)?;
            let new = tokens::generate(role, now, expires, &label);
            store.create_token(new.hash, new.record.clone()).await?;
            println!("{}", new.secret);
            eprintln!(
                "token {} ({}, expires {}): shown once, only its hash is stored",
                new.record.id,
                new.record.role,
                new.record
                    .expires_at
                    .map_or("never".to_owned(), format_time)
            );
        }
        TokenAction::List => {
            println!(
                "{:<14} {:<6} {:<21} {:<21} {:<8} LABEL",
                "ID", "ROLE", "CREATED", "EXPIRES", "STATUS"
            );
            for t in store.list_tokens().await? {
                let status = if t.revoked {
                    "revoked"
                } else if t.expires_at.is_some_and(|e| e <= now) {
                    "expired"
                } else {
                    "active"
                };
                println!(
                    "{:<14} {:<6} {:<21} {:<21} {status:<8} {}",
                    t.id,
                    t.role,
                    format_time(t.created_at),
                    t.expires_at.map_or("never".to_owned(), format_time),
                    t.label
                );
            }
        }
        TokenAction::Revoke { id } => {
            if !store.revoke_token(id.clone()).await? {
                anyhow::bail!("no token with id {id}");
            }
            println!("revoked {id}");
        }
    }
    store.shutdown().await?;
    Ok(())
}

/// A token store that can also be shut down (both backends are both).
trait TokenStoreAndShutdown: TokenStore + MailboxStore {}
impl<T: TokenStore + MailboxStore> TokenStoreAndShutdown for T {}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `YYYY-MM-DD HH:MM:SSZ` from unix seconds (civil-from-days, proleptic Gregorian).
fn format_time(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}
