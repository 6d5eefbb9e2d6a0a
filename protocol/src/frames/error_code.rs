//! Stable error codes carried by `Error` frames.
//!
//! Codes are grouped by hundreds: 1xx the frame itself, 2xx the mailbox,
//! 3xx access control, 4xx abuse limits, 5xx the relay's own state. A code,
//! once published, keeps its meaning forever; clients act on the code, the
//! text is only for humans.

use std::fmt;

/// Why a relay refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 100: the frame could not be decoded (truncated, trailing bytes, bad field, text frame).
    Malformed,
    /// 101: the frame type byte is unknown.
    UnknownType,
    /// 102: the frame version byte is not one the relay speaks.
    UnsupportedVersion,
    /// 103: the frame exceeds the maximum frame size (answered, connection kept). A
    /// WebSocket message above 4 × the maximum gets it with request id 0, then close
    /// 1009; a client may see only the connection end (PROTOCOL.md §18.5).
    FrameTooLarge,
    /// 104: the envelope inside a `Send` is not a valid padded envelope.
    BadEnvelope,
    /// 200: no mailbox with this id exists on the relay.
    NoSuchMailbox,
    /// 201: `CreateMailbox` for an id that already exists.
    MailboxExists,
    /// 202: the signature does not verify under the mailbox auth key.
    BadSignature,
    /// 203: `Ack` for a mailbox this connection has not subscribed to.
    NotSubscribed,
    /// 204: the auth key is not a valid Ed25519 public key: not a point, not canonically
    /// encoded, or of small order (PROTOCOL.md §4).
    BadAuthKey,
    /// 205: the mailbox is full (message count or byte quota); retry later.
    QuotaFull,
    /// 206: the mailbox is send-locked and the request carried no send key
    /// (a plain `Send`) or one whose SHA-256 is not the mailbox's lock
    /// (PROTOCOL.md §18.3).
    SendKeyRefused,
    /// 300: no token, or an empty one, where one is needed: `CreateMailbox` on a relay
    /// running `--access token`, or an admin request (`Stats`, `Purge`).
    TokenRequired,
    /// 301: the token is unknown, revoked or expired.
    TokenInvalid,
    /// 302: the token is valid but lacks the admin role.
    Forbidden,
    /// 303: refused by the relay operator's policy (PROTOCOL.md §18.6):
    /// this request, from here, now, with this token, is not allowed.
    Denied,
    /// 400: too many frames from this connection or address; slow down and retry.
    RateLimited,
    /// 401: this connection holds the maximum number of subscriptions.
    TooManySubscriptions,
    /// 500: the relay could not store or read data; nothing was changed, retry later.
    Storage,
    /// 501: the relay is shutting down; reconnect later.
    ShuttingDown,
    /// 502: the relay's storage budget (or its disk's free-space reserve)
    /// is used up: nothing was stored, everything already stored is kept;
    /// retry later.
    StorageFull,
    /// A code this implementation does not know (sent by a newer relay).
    Other(u16),
}

impl ErrorCode {
    /// Every code this implementation defines, in numeric order.
    pub const ALL: [ErrorCode; 21] = [
        ErrorCode::Malformed,
        ErrorCode::UnknownType,
        ErrorCode::UnsupportedVersion,
        ErrorCode::FrameTooLarge,
        ErrorCode::BadEnvelope,
        ErrorCode::NoSuchMailbox,
        ErrorCode::MailboxExists,
        ErrorCode::BadSignature,
        ErrorCode::NotSubscribed,
        ErrorCode::BadAuthKey,
        ErrorCode::QuotaFull,
        ErrorCode::SendKeyRefused,
        ErrorCode::TokenRequired,
        ErrorCode::TokenInvalid,
        ErrorCode::Forbidden,
        ErrorCode::Denied,
        ErrorCode::RateLimited,
        ErrorCode::TooManySubscriptions,
        ErrorCode::Storage,
        ErrorCode::ShuttingDown,
        ErrorCode::StorageFull,
    ];

    /// The number on the wire.
    pub fn as_u16(self) -> u16 {
        match self {
            ErrorCode::Malformed => 100,
            ErrorCode::UnknownType => 101,
            ErrorCode::UnsupportedVersion => 102,
            ErrorCode::FrameTooLarge => 103,
            ErrorCode::BadEnvelope => 104,
            ErrorCode::NoSuchMailbox => 200,
            ErrorCode::MailboxExists => 201,
            ErrorCode::BadSignature => 202,
            ErrorCode::NotSubscribed => 203,
            ErrorCode::BadAuthKey => 204,
            ErrorCode::QuotaFull => 205,
            ErrorCode::SendKeyRefused => 206,
            ErrorCode::TokenRequired => 300,
            ErrorCode::TokenInvalid => 301,
            ErrorCode::Forbidden => 302,
            ErrorCode::Denied => 303,
            ErrorCode::RateLimited => 400,
            ErrorCode::TooManySubscriptions => 401,
            ErrorCode::Storage => 500,
            ErrorCode::ShuttingDown => 501,
            ErrorCode::StorageFull => 502,
            ErrorCode::Other(code) => code,
        }
    }

    /// Reads a code from the wire; unknown numbers become [`ErrorCode::Other`].
    pub fn from_u16(code: u16) -> Self {
        Self::ALL
            .iter()
            .copied()
            .find(|c| c.as_u16() == code)
            .unwrap_or(ErrorCode::Other(code))
    }

    /// Short snake_case name, used in metrics labels and logs.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::Malformed => "malformed",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::BadEnvelope => "bad_envelope",
            ErrorCode::NoSuchMailbox => "no_such_mailbox",
            ErrorCode::MailboxExists => "mailbox_exists",
            ErrorCode::BadSignature => "bad_signature",
            ErrorCode::NotSubscribed => "not_subscribed",
            ErrorCode::BadAuthKey => "bad_auth_key",
            ErrorCode::QuotaFull => "quota_full",
            ErrorCode::SendKeyRefused => "send_key_refused",
            ErrorCode::TokenRequired => "token_required",
            ErrorCode::TokenInvalid => "token_invalid",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Denied => "denied",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::TooManySubscriptions => "too_many_subscriptions",
            ErrorCode::Storage => "storage",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::StorageFull => "storage_full",
            ErrorCode::Other(_) => "other",
        }
    }

    /// True when the same request may succeed if simply retried later.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::QuotaFull
                | ErrorCode::RateLimited
                | ErrorCode::Storage
                | ErrorCode::ShuttingDown
                | ErrorCode::StorageFull
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.as_u16())
    }
}
