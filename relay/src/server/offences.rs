//! What counts as misbehaviour towards a ban (see [`crate::bans`]), and
//! recording it: one place for the rule, the counter and the log line.

use std::net::IpAddr;
use std::time::Instant;

use cairn_protocol::frames::ErrorCode;

use super::Shared;

/// Refusals that a correct client does not provoke, or only rarely: broken
/// or forged requests, and limit hits. Not offences: answers a correct
/// client races into (`NoSuchMailbox`, `MailboxExists`, `NotSubscribed`,
/// `QuotaFull`, `SendKeyRefused` on an invite already used), a missing
/// token (a client that has not been given one yet), an older protocol
/// version (it reconnects with the same version), and the relay's own
/// trouble (`Storage`, `ShuttingDown`, `StorageFull`).
pub(crate) fn is_offence(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::Malformed
            | ErrorCode::UnknownType
            | ErrorCode::FrameTooLarge
            | ErrorCode::BadEnvelope
            | ErrorCode::BadSignature
            | ErrorCode::BadAuthKey
            | ErrorCode::TokenInvalid
            | ErrorCode::Forbidden
            | ErrorCode::RateLimited
            | ErrorCode::TooManySubscriptions
    )
}

impl Shared {
    /// Records one offence by `ip`. True if its source is banned now (by
    /// this offence or an earlier one): the caller closes the connection,
    /// so a flood's other open connections go at their next offence too
    /// (new ones are refused before TLS).
    pub(crate) fn offence(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let Some((source, length)) = self.bans.offence(ip, now) else {
            return self.bans.banned(ip, now);
        };
        self.metrics.bans.inc();
        let seconds = length.as_secs();
        if self.config.log_ips {
            tracing::warn!(%source, %ip, seconds, "source banned for repeated misbehaviour");
        } else {
            tracing::warn!(%source, seconds, "source banned for repeated misbehaviour");
        }
        true
    }

    /// Whether `ip`'s source is banned now (counted when refused).
    pub(crate) fn refuse_banned(&self, ip: IpAddr) -> bool {
        let banned = self.bans.banned(ip, Instant::now());
        if banned {
            self.metrics.connections_refused_banned.inc();
        }
        banned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn races_a_correct_client_runs_into_are_not_offences() {
        for code in [
            ErrorCode::NoSuchMailbox,
            ErrorCode::MailboxExists,
            ErrorCode::NotSubscribed,
            ErrorCode::QuotaFull,
            ErrorCode::SendKeyRefused,
            ErrorCode::TokenRequired,
            ErrorCode::UnsupportedVersion,
            ErrorCode::Storage,
            ErrorCode::ShuttingDown,
            ErrorCode::StorageFull,
        ] {
            assert!(!is_offence(code), "{code:?}");
        }
        assert!(is_offence(ErrorCode::BadSignature));
        assert!(is_offence(ErrorCode::RateLimited));
    }
}
