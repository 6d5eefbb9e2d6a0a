//! Turning one decoded client request into work: immediate refusals,
//! store operations kept in flight (pipelined, answered in order), and
//! what happens when each finishes.

use std::future::{Future, ready};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use cairn_protocol::envelope::{Envelope, MailboxId};
use cairn_protocol::frames::{
    ClientFrame, ClientRequest, ErrorCode, QUIET_REQUEST_ID, RelayFrame, RelayStats,
    delete_signing_bytes, subscribe_signing_bytes,
};
use cairn_protocol::identity::check_ed25519_public;
use ed25519_dalek::{Signature, VerifyingKey};

use super::Shared;
use super::connection::Conn;
use super::hub::Push;
use super::now_unix;
use crate::config::AccessMode;
use crate::store::StoreError;
use crate::tokens::{Role, hash_token};

/// A request being worked on.
pub(crate) type InFlight = Pin<Box<dyn Future<Output = Done> + Send>>;

/// How a request ended; applied by the connection in request order.
pub(crate) enum Done {
    /// Answer `Ok` or an error; nothing else to do.
    Reply(u32, Result<(), ErrorCode>),
    /// A quiet ack finished: answer only a refusal (PROTOCOL.md §18.3).
    Quiet(Result<(), ErrorCode>),
    /// An envelope was stored (or acked by its recipient); publish it to
    /// subscriptions made since the early push (unless a duplicate), then answer.
    Stored(u32, Result<Option<(Push, u64)>, ErrorCode>),
    /// The subscription was proven; register it and start the backlog.
    Subscribed(u32, MailboxId, Result<(), ErrorCode>),
    /// A mailbox was deleted; drop our own subscription to it.
    Deleted(u32, MailboxId, Result<(), ErrorCode>),
    /// Admin stats.
    Stats(u32, Result<RelayStats, ErrorCode>),
}

/// How an ack ends: answered, or for a quiet ack only if refused.
fn ack_done(quiet: bool, id: u32, result: Result<(), ErrorCode>) -> Done {
    if quiet {
        Done::Quiet(result)
    } else {
        Done::Reply(id, result)
    }
}

/// Error frame text: the code's meaning, never request contents.
pub(crate) fn describe(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::Malformed => "malformed frame",
        ErrorCode::UnknownType => "unknown frame type",
        ErrorCode::UnsupportedVersion => "unsupported frame version",
        ErrorCode::FrameTooLarge => "frame too large",
        ErrorCode::BadEnvelope => "not a valid padded envelope",
        ErrorCode::NoSuchMailbox => "no such mailbox",
        ErrorCode::MailboxExists => "mailbox already exists",
        ErrorCode::BadSignature => "signature does not verify",
        ErrorCode::NotSubscribed => "not subscribed to this mailbox",
        ErrorCode::BadAuthKey => "invalid auth key",
        ErrorCode::QuotaFull => "mailbox is full; retry later",
        ErrorCode::TokenRequired => "this relay requires an access token",
        ErrorCode::TokenInvalid => "access token unknown, revoked or expired",
        ErrorCode::Forbidden => "admin token required",
        ErrorCode::RateLimited => "rate limited; slow down",
        ErrorCode::TooManySubscriptions => "too many subscriptions on this connection",
        ErrorCode::Storage => "storage unavailable; retry later",
        ErrorCode::ShuttingDown => "relay shutting down; reconnect later",
        ErrorCode::Other(_) => "error",
    }
}

/// Encodes the answer frame for a request.
pub(crate) fn answer(request_id: u32, result: Result<(), ErrorCode>) -> Bytes {
    let frame = match result {
        Ok(()) => RelayFrame::Ok,
        Err(code) => RelayFrame::Error {
            code,
            message: describe(code),
        },
    };
    Bytes::from(frame.encode(request_id))
}

fn store_code(e: StoreError) -> ErrorCode {
    match e {
        StoreError::NoSuchMailbox => ErrorCode::NoSuchMailbox,
        StoreError::MailboxExists => ErrorCode::MailboxExists,
        StoreError::QuotaFull => ErrorCode::QuotaFull,
        StoreError::Unavailable(e) => {
            tracing::warn!(error = %e, "storage operation failed");
            ErrorCode::Storage
        }
        StoreError::Closed => ErrorCode::ShuttingDown,
    }
}

fn done_now(done: Done) -> InFlight {
    Box::pin(ready(done))
}

fn verify(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> Result<(), ErrorCode> {
    let key = VerifyingKey::from_bytes(key).map_err(|_| ErrorCode::BadSignature)?;
    key.verify_strict(message, &Signature::from_bytes(signature))
        .map_err(|_| ErrorCode::BadSignature)
}

/// Checks a token; `need_admin` also requires the admin role. No token, or an
/// empty one (the same on the wire: a zero-length `bytes8`), is `TokenRequired`.
async fn check_token(
    shared: &Shared,
    token: Option<&[u8]>,
    need_admin: bool,
) -> Result<(), ErrorCode> {
    let token = token
        .filter(|t| !t.is_empty())
        .ok_or(ErrorCode::TokenRequired)?;
    let role = shared
        .tokens
        .check_token(hash_token(token), now_unix())
        .await
        .map_err(store_code)?
        .ok_or(ErrorCode::TokenInvalid)?;
    if need_admin && role != Role::Admin {
        return Err(ErrorCode::Forbidden);
    }
    Ok(())
}

impl Conn {
    /// Starts work on one decoded request. `raw` is the whole received frame,
    /// so envelopes are stored without copying.
    pub(crate) fn start(&mut self, request: ClientRequest<'_>, raw: &Bytes) -> InFlight {
        let id = request.request_id;
        let quiet = request.is_quiet_ack();
        let shared = Arc::clone(&self.shared);
        match request.frame {
            ClientFrame::Send { envelope } => {
                let Ok(parsed) = Envelope::parse(envelope) else {
                    return done_now(Done::Reply(id, Err(ErrorCode::BadEnvelope)));
                };
                let (mailbox, message) = (parsed.mailbox, parsed.id);
                let bytes = raw.slice_ref(envelope);
                let len = bytes.len() as u64;
                let now = now_unix();
                // Online recipients get it at once, before it is durable (§18.4):
                // queue the write first, so the recipient's ack cannot overtake it.
                let live = shared.hub.has_subscribers(&mailbox);
                let stored = if live {
                    shared
                        .store
                        .append_delivered(mailbox, message, bytes.clone(), now)
                } else {
                    shared.store.append(mailbox, message, bytes.clone(), now)
                };
                let push = Push {
                    mailbox,
                    message,
                    frame: Bytes::from(RelayFrame::Deliver { envelope: &bytes }.encode(0)),
                };
                let generation = shared.hub.publish(&push).1;
                Box::pin(async move {
                    let result = stored.await.map_err(store_code).map(|appended| {
                        shared.metrics.messages_in.fetch_add(1, Relaxed);
                        shared.metrics.bytes_in.fetch_add(len, Relaxed);
                        (!appended.duplicate).then_some((push, generation))
                    });
                    Done::Stored(id, result)
                })
            }
            ClientFrame::Ack { mailbox, message } => {
                if !self.subs.contains_key(&mailbox) {
                    return done_now(Done::Reply(id, Err(ErrorCode::NotSubscribed)));
                }
                let acked = shared.store.ack(mailbox, message);
                Box::pin(async move {
                    let result = acked.await.map_err(store_code);
                    if result == Ok(true) {
                        shared.metrics.acks.fetch_add(1, Relaxed);
                    }
                    ack_done(quiet, id, result.map(|_| ()))
                })
            }
            ClientFrame::AckBatch { entries } => {
                // All or nothing: refused before anything is deleted.
                if entries
                    .iter()
                    .any(|(mailbox, _)| !self.subs.contains_key(&mailbox))
                {
                    return done_now(Done::Reply(id, Err(ErrorCode::NotSubscribed)));
                }
                let acked = shared.store.ack_many(entries.iter().collect());
                Box::pin(async move {
                    let result = acked.await.map_err(store_code);
                    if let Ok(n) = result {
                        shared.metrics.acks.fetch_add(n, Relaxed);
                    }
                    ack_done(quiet, id, result.map(|_| ()))
                })
            }
            ClientFrame::Subscribe { mailbox, signature } => {
                if self.subs.contains_key(&mailbox) {
                    return done_now(Done::Reply(id, Ok(())));
                }
                if self.subs.len() >= shared.config.limits.max_subscriptions {
                    return done_now(Done::Reply(id, Err(ErrorCode::TooManySubscriptions)));
                }
                let signed = subscribe_signing_bytes(&self.nonce, &mailbox);
                Box::pin(async move {
                    let result = match shared.store.auth_key(mailbox).await {
                        Ok(Some(key)) => verify(&key, &signed, &signature),
                        Ok(None) => Err(ErrorCode::NoSuchMailbox),
                        Err(e) => Err(store_code(e)),
                    };
                    Done::Subscribed(id, mailbox, result)
                })
            }
            ClientFrame::Unsubscribe { mailbox } => {
                self.unsubscribe(&mailbox);
                done_now(Done::Reply(id, Ok(())))
            }
            ClientFrame::CreateMailbox {
                mailbox,
                auth_key,
                access_token,
            } => {
                let token = access_token.map(<[u8]>::to_vec);
                Box::pin(async move {
                    let result = async {
                        if shared.config.access == AccessMode::Token {
                            check_token(&shared, token.as_deref(), false).await?;
                        }
                        // A point, canonically encoded, not of small order (PROTOCOL.md §4).
                        check_ed25519_public(&auth_key).map_err(|_| ErrorCode::BadAuthKey)?;
                        shared
                            .store
                            .create_mailbox(mailbox, auth_key, now_unix())
                            .await
                            .map_err(store_code)?;
                        shared.metrics.mailboxes_created.fetch_add(1, Relaxed);
                        Ok(())
                    }
                    .await;
                    Done::Reply(id, result)
                })
            }
            ClientFrame::DeleteMailbox { mailbox, signature } => {
                let signed = delete_signing_bytes(&self.nonce, &mailbox);
                Box::pin(async move {
                    let result = async {
                        let key = shared
                            .store
                            .auth_key(mailbox)
                            .await
                            .map_err(store_code)?
                            .ok_or(ErrorCode::NoSuchMailbox)?;
                        verify(&key, &signed, &signature)?;
                        shared
                            .store
                            .delete_mailbox(mailbox)
                            .await
                            .map_err(store_code)?;
                        Ok(())
                    }
                    .await;
                    Done::Deleted(id, mailbox, result)
                })
            }
            ClientFrame::Stats { admin_token } => {
                let token = admin_token.to_vec();
                let connections = shared.metrics.connections_open.load(Relaxed);
                Box::pin(async move {
                    let result = async {
                        check_token(&shared, Some(&token), true).await?;
                        let s = shared.store.stats().await.map_err(store_code)?;
                        Ok(RelayStats {
                            connections,
                            mailboxes: s.mailboxes,
                            messages: s.messages,
                            bytes: s.bytes,
                        })
                    }
                    .await;
                    Done::Stats(id, result)
                })
            }
            ClientFrame::Purge {
                admin_token,
                mailbox,
            } => {
                let token = admin_token.to_vec();
                Box::pin(async move {
                    let result = async {
                        check_token(&shared, Some(&token), true).await?;
                        let existed = shared
                            .store
                            .delete_mailbox(mailbox)
                            .await
                            .map_err(store_code)?;
                        if existed {
                            Ok(())
                        } else {
                            Err(ErrorCode::NoSuchMailbox)
                        }
                    }
                    .await;
                    Done::Reply(id, result)
                })
            }
        }
    }

    /// Applies a finished request: side effects first, then the answer.
    pub(crate) async fn finish(&mut self, done: Done) {
        match done {
            Done::Reply(id, result) => self.reply(id, result).await,
            Done::Quiet(Ok(())) => {}
            Done::Quiet(Err(code)) => self.reply(QUIET_REQUEST_ID, Err(code)).await,
            Done::Stored(id, result) => {
                let result = result.map(|late| {
                    if let Some((push, generation)) = late {
                        self.shared.hub.publish_since(&push, generation);
                    }
                });
                self.reply(id, result).await;
            }
            Done::Subscribed(id, mailbox, result) => {
                self.reply(id, result).await;
                if result.is_ok() {
                    self.subscribe(mailbox);
                }
            }
            Done::Deleted(id, mailbox, result) => {
                if result.is_ok() {
                    self.unsubscribe(&mailbox);
                }
                self.reply(id, result).await;
            }
            Done::Stats(id, Ok(stats)) => {
                let frame = Bytes::from(RelayFrame::Stats(stats).encode(id));
                self.send_frame(frame).await;
            }
            Done::Stats(id, Err(code)) => self.reply(id, Err(code)).await,
        }
    }

    /// Sends `Ok` or an error frame, counting refusals.
    pub(crate) async fn reply(&mut self, request_id: u32, result: Result<(), ErrorCode>) {
        if let Err(code) = result {
            self.shared.metrics.refused(code);
            tracing::debug!(conn = self.id, code = code.as_u16(), "request refused");
        }
        self.send_frame(answer(request_id, result)).await;
    }
}
