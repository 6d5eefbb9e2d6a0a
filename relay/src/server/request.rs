//! Turning one client frame into work: immediate refusals, store operations
//! kept in flight (pipelined, answered in order), and what each one's end
//! asks the connection to do ([`Done`]).
//!
//! Plain functions over a [`Ctx`]: they read the connection's state but
//! never change it and never write to the socket; the connection applies
//! each [`Done`] in request order.

use std::future::{Future, ready};
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use cairn_protocol::envelope::{Envelope, MailboxId};
use cairn_protocol::frames::{
    ClientFrame, ClientRequest, ErrorCode, MAX_FRAME_LEN, RelayFrame, RelayStats,
    delete_signing_bytes, peek_request_id, subscribe_signing_bytes,
};
use cairn_protocol::identity::check_ed25519_public;
use ed25519_dalek::{Signature, VerifyingKey};

use super::Shared;
use super::hub::Push;
use super::now_unix;
use super::subscriptions::Subscriptions;
use crate::config::AccessMode;
use crate::policy::Action;
use crate::store::{MailboxKeys, SendLock, StoreError};
use crate::tokens::{Role, TokenRecord, hash_token};

/// A request being worked on.
pub(crate) type InFlight = Pin<Box<dyn Future<Output = Done> + Send>>;

/// What a request reads of its connection.
pub(crate) struct Ctx<'a> {
    pub shared: &'a Arc<Shared>,
    /// The challenge nonce that subscribe and delete signatures cover.
    pub nonce: &'a [u8; 32],
    /// Acks need a subscription; a repeated subscribe is answered at once.
    pub subscriptions: &'a Subscriptions,
    /// The client's address (creation limits).
    pub ip: std::net::IpAddr,
}

/// How a request ended; applied by the connection in request order.
pub(crate) enum Done {
    /// Answer `Ok` or an error; nothing else to do.
    Reply(u32, Result<(), ErrorCode>),
    /// A quiet ack finished: answer only a refusal (PROTOCOL.md §18.3).
    Quiet(Result<(), ErrorCode>),
    /// An envelope was stored (or acked by its recipient); publish it to
    /// subscriptions made since the early push (unless a duplicate), then answer.
    Stored(u32, Result<Option<(Push, u64)>, ErrorCode>),
    /// The subscription was proven with this auth key (the mailbox's send
    /// lock came with it); answer, then register it and start the backlog.
    Subscribed(u32, MailboxId, Result<MailboxKeys, ErrorCode>),
    /// A mailbox was deleted (every subscription to it has been ended at the
    /// hub); drop our own, then answer.
    Deleted(u32, MailboxId, Result<(), ErrorCode>),
    /// Admin stats.
    Stats(u32, Result<RelayStats, ErrorCode>),
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
        ErrorCode::SendKeyRefused => "mailbox is send-locked: send key missing or wrong",
        ErrorCode::TokenRequired => "this relay requires an access token",
        ErrorCode::TokenInvalid => "access token unknown, revoked or expired",
        ErrorCode::Forbidden => "admin token required",
        ErrorCode::Denied => "refused by this relay's policy",
        ErrorCode::RateLimited => "rate limited; slow down",
        ErrorCode::TooManySubscriptions => "too many subscriptions on this connection",
        ErrorCode::Storage => "storage unavailable; retry later",
        ErrorCode::ShuttingDown => "relay shutting down; reconnect later",
        ErrorCode::StorageFull => "relay storage is full; nothing was stored, retry later",
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

/// What a frame starts.
pub(crate) enum Start {
    /// Work whose [`Done`] the connection applies in request order.
    Work(InFlight),
    /// `Unsubscribe`: only this connection's state, changed by the
    /// connection at once (so acks received after it are refused), then
    /// answered `Ok` in order.
    Unsubscribe(u32, MailboxId),
}

/// A request answered without any work (in its turn).
pub(crate) fn reply_now(request_id: u32, result: Result<(), ErrorCode>) -> InFlight {
    done_now(Done::Reply(request_id, result))
}

/// Starts work on one binary frame (already past the rate limits). `raw` is
/// the whole received frame, so envelopes are stored without copying.
pub(crate) fn start(ctx: &Ctx<'_>, raw: &Bytes) -> Start {
    if raw.len() > MAX_FRAME_LEN {
        return Start::Work(refuse(peek_request_id(raw), ErrorCode::FrameTooLarge));
    }
    match ClientRequest::decode(raw) {
        Ok(request) => match request.frame {
            ClientFrame::Unsubscribe { mailbox } => Start::Unsubscribe(request.request_id, mailbox),
            _ => Start::Work(work(ctx, request, raw)),
        },
        Err(e) => Start::Work(refuse(peek_request_id(raw), e.code())),
    }
}

fn refuse(request_id: u32, code: ErrorCode) -> InFlight {
    reply_now(request_id, Err(code))
}

fn work(ctx: &Ctx<'_>, request: ClientRequest<'_>, raw: &Bytes) -> InFlight {
    let id = request.request_id;
    let quiet = request.is_quiet_ack();
    let shared = Arc::clone(ctx.shared);
    match request.frame {
        ClientFrame::Send { envelope } => send(shared, id, raw.slice_ref(envelope), None, ctx.ip),
        ClientFrame::SendLocked { send_key, envelope } => send(
            shared,
            id,
            raw.slice_ref(envelope),
            // Hashed in place: the key is never copied out of the frame.
            Some(SendLock::of_key(send_key)),
            ctx.ip,
        ),
        ClientFrame::Ack { mailbox, message } => {
            if !ctx.subscriptions.contains(&mailbox) {
                return refuse(id, ErrorCode::NotSubscribed);
            }
            let acked = shared.store.ack(mailbox, message);
            Box::pin(async move {
                let result = acked.await.map_err(store_code);
                if result == Ok(true) {
                    shared.metrics.acks.inc();
                }
                ack_done(quiet, id, result.map(|_| ()))
            })
        }
        ClientFrame::AckBatch { entries } => {
            // All or nothing: refused before anything is deleted.
            if entries
                .iter()
                .any(|(mailbox, _)| !ctx.subscriptions.contains(&mailbox))
            {
                return refuse(id, ErrorCode::NotSubscribed);
            }
            let acked = shared.store.ack_many(entries.iter().collect());
            Box::pin(async move {
                let result = acked.await.map_err(store_code);
                if let Ok(n) = result {
                    shared.metrics.acks.inc_by(n);
                }
                ack_done(quiet, id, result.map(|_| ()))
            })
        }
        ClientFrame::Subscribe { mailbox, signature } => {
            if ctx.subscriptions.contains(&mailbox) {
                return done_now(Done::Reply(id, Ok(())));
            }
            if ctx.subscriptions.len() >= shared.config.limits.max_subscriptions {
                return refuse(id, ErrorCode::TooManySubscriptions);
            }
            if let Err(code) = shared.gate(Action::Subscribe, None, ctx.ip, 0) {
                return refuse(id, code);
            }
            let signed = subscribe_signing_bytes(ctx.nonce, &mailbox);
            subscribe(shared, id, mailbox, signed, signature, ctx.ip)
        }
        // Taken apart in `start`.
        ClientFrame::Unsubscribe { .. } => reply_now(id, Ok(())),
        ClientFrame::CreateMailbox { .. } | ClientFrame::CreateLockedMailbox { .. }
            if !shared.create_per_ip.take(ctx.ip) =>
        {
            refuse(id, ErrorCode::RateLimited)
        }
        ClientFrame::CreateMailbox {
            mailbox,
            auth_key,
            access_token,
        } => create_mailbox(
            shared,
            id,
            mailbox,
            MailboxKeys {
                auth_key,
                send_lock: None,
            },
            access_token.map(<[u8]>::to_vec),
            ctx.ip,
        ),
        ClientFrame::CreateLockedMailbox {
            mailbox,
            auth_key,
            send_lock,
            access_token,
        } => create_mailbox(
            shared,
            id,
            mailbox,
            MailboxKeys {
                auth_key,
                send_lock: Some(SendLock(send_lock)),
            },
            access_token.map(<[u8]>::to_vec),
            ctx.ip,
        ),
        ClientFrame::DeleteMailbox { mailbox, signature } => {
            let signed = delete_signing_bytes(ctx.nonce, &mailbox);
            delete_mailbox(shared, id, mailbox, signed, signature, ctx.ip)
        }
        ClientFrame::Stats { admin_token } => stats(shared, id, admin_token.to_vec(), ctx.ip),
        ClientFrame::Purge {
            admin_token,
            mailbox,
        } => purge(shared, id, admin_token.to_vec(), mailbox, ctx.ip),
    }
}

/// `Send` and `SendLocked` (`sent_with`: the lock of its key): pushed to
/// online recipients at once, before it is durable (§18.4), but only to
/// subscriptions whose mailbox lock admits the key; the store's write is
/// queued first, so the recipient's ack cannot overtake it. The store checks
/// the lock in the lookup that finds the mailbox (no extra round trip).
fn send(
    shared: Arc<Shared>,
    id: u32,
    bytes: Bytes,
    sent_with: Option<SendLock>,
    ip: IpAddr,
) -> InFlight {
    let Ok(parsed) = Envelope::parse(&bytes) else {
        return refuse(id, ErrorCode::BadEnvelope);
    };
    let (mailbox, message) = (parsed.mailbox, parsed.id);
    let len = bytes.len() as u64;
    if let Err(code) = shared.gate(Action::Send, None, ip, len) {
        return refuse(id, code);
    }
    if shared.budget.refuses(len) {
        return refuse(id, ErrorCode::StorageFull);
    }
    let now = now_unix();
    let live = shared
        .hub
        .has_admitting_subscribers(&mailbox, sent_with.as_ref());
    let stored = if live {
        shared
            .store
            .append_delivered_keyed(mailbox, message, bytes.clone(), sent_with, now)
    } else {
        shared
            .store
            .append_keyed(mailbox, message, bytes.clone(), sent_with, now)
    };
    let push = Push {
        mailbox,
        message,
        frame: Bytes::from(RelayFrame::Deliver { envelope: &bytes }.encode(0)),
    };
    let generation = shared.hub.publish(&push, sent_with.as_ref()).1;
    Box::pin(async move {
        let result = stored.await.map_err(store_code).map(|appended| {
            shared.metrics.messages_in.inc();
            shared.metrics.bytes_in.inc_by(len);
            if !appended.duplicate {
                shared.budget.appended(len);
            }
            (!appended.duplicate).then_some((push, generation))
        });
        Done::Stored(id, result)
    })
}

/// How an ack ends: answered, or for a quiet ack only if refused.
fn ack_done(quiet: bool, id: u32, result: Result<(), ErrorCode>) -> Done {
    if quiet {
        Done::Quiet(result)
    } else {
        Done::Reply(id, result)
    }
}

fn subscribe(
    shared: Arc<Shared>,
    id: u32,
    mailbox: MailboxId,
    signed: Vec<u8>,
    signature: [u8; 64],
    ip: IpAddr,
) -> InFlight {
    Box::pin(async move {
        let _turn = shared.key_reads.enter(ip).await;
        let result = match shared.store.mailbox_keys(mailbox).await {
            Ok(Some(keys)) => verify(&keys.auth_key, &signed, &signature).map(|()| keys),
            Ok(None) => Err(ErrorCode::NoSuchMailbox),
            Err(e) => Err(store_code(e)),
        };
        Done::Subscribed(id, mailbox, result)
    })
}

fn create_mailbox(
    shared: Arc<Shared>,
    id: u32,
    mailbox: MailboxId,
    keys: MailboxKeys,
    token: Option<Vec<u8>>,
    ip: IpAddr,
) -> InFlight {
    Box::pin(async move {
        let result = async {
            let presented = token.as_deref().filter(|t| !t.is_empty());
            let record = if shared.config.access == AccessMode::Token {
                let record = check_token(&shared, token.as_deref(), false).await?;
                // Per token too: a leaked or shared token cannot fill the relay.
                let hash = hash_token(presented.unwrap_or_default());
                if !shared.create_per_token.take_key(&hash) {
                    return Err(ErrorCode::RateLimited);
                }
                Some(record)
            } else if presented.is_some() && shared.has_policy() {
                // An open relay needs no token; one given counts for the
                // policy's rules if it is valid, else the request is anonymous.
                check_token(&shared, presented, false).await.ok()
            } else {
                None
            };
            shared.gate(Action::Create, record.as_ref(), ip, 0)?;
            // A point, canonically encoded, not of small order (PROTOCOL.md §4).
            check_ed25519_public(&keys.auth_key).map_err(|_| ErrorCode::BadAuthKey)?;
            shared
                .store
                .create_locked_mailbox(mailbox, keys.auth_key, keys.send_lock, now_unix())
                .await
                .map_err(store_code)?;
            shared.metrics.mailboxes_created.inc();
            Ok(())
        }
        .await;
        Done::Reply(id, result)
    })
}

fn delete_mailbox(
    shared: Arc<Shared>,
    id: u32,
    mailbox: MailboxId,
    signed: Vec<u8>,
    signature: [u8; 64],
    ip: IpAddr,
) -> InFlight {
    Box::pin(async move {
        let result = async {
            let turn = shared.key_reads.enter(ip).await;
            let key = shared
                .store
                .auth_key(mailbox)
                .await
                .map_err(store_code)?
                .ok_or(ErrorCode::NoSuchMailbox)?;
            drop(turn);
            verify(&key, &signed, &signature)?;
            remove(&shared, mailbox).await?;
            Ok(())
        }
        .await;
        Done::Deleted(id, mailbox, result)
    })
}

fn stats(shared: Arc<Shared>, id: u32, token: Vec<u8>, ip: IpAddr) -> InFlight {
    let connections = u64::try_from(shared.metrics.connections_open.get()).unwrap_or(0);
    Box::pin(async move {
        let result = async {
            let record = check_token(&shared, Some(&token), true).await?;
            shared.gate(Action::Admin, Some(&record), ip, 0)?;
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

fn purge(shared: Arc<Shared>, id: u32, token: Vec<u8>, mailbox: MailboxId, ip: IpAddr) -> InFlight {
    Box::pin(async move {
        let result = async {
            let record = check_token(&shared, Some(&token), true).await?;
            shared.gate(Action::Admin, Some(&record), ip, 0)?;
            if remove(&shared, mailbox).await? {
                Ok(())
            } else {
                Err(ErrorCode::NoSuchMailbox)
            }
        }
        .await;
        Done::Deleted(id, mailbox, result)
    })
}

/// Deletes a mailbox, then ends every subscription to it on this instance
/// at once (not in request order): whoever creates the id next must not
/// feed a subscription proven with the old key. Other instances learn it
/// from the store's fan-out.
async fn remove(shared: &Shared, mailbox: MailboxId) -> Result<bool, ErrorCode> {
    let existed = shared
        .store
        .delete_mailbox(mailbox)
        .await
        .map_err(store_code)?;
    shared.hub.end(&mailbox);
    Ok(existed)
}

fn store_code(e: StoreError) -> ErrorCode {
    match e {
        StoreError::NoSuchMailbox => ErrorCode::NoSuchMailbox,
        StoreError::MailboxExists => ErrorCode::MailboxExists,
        StoreError::QuotaFull => ErrorCode::QuotaFull,
        StoreError::SendKeyRefused => ErrorCode::SendKeyRefused,
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
) -> Result<TokenRecord, ErrorCode> {
    let token = token
        .filter(|t| !t.is_empty())
        .ok_or(ErrorCode::TokenRequired)?;
    let record = shared
        .tokens
        .check_token(hash_token(token), now_unix())
        .await
        .map_err(store_code)?
        .ok_or(ErrorCode::TokenInvalid)?;
    if need_admin && record.role != Role::Admin {
        return Err(ErrorCode::Forbidden);
    }
    Ok(record)
}
