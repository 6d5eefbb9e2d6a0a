//! The relay's policy file (issue 16 item 3): rules that allow or deny an
//! action by who asks (role, token label and expiry), from where (source
//! network) and when (UTC time of day), and set quotas on what they allow.
//!
//! Rules are tried in file order; the first whose every condition matches
//! decides. A request no rule matches is allowed (today's behaviour, the
//! flags' limits still apply). Evaluation is pure: the request, including
//! the time, is handed in, so `cairn-relay policy check` explains exactly
//! what the relay would do. The file is read at start and on SIGHUP; a file
//! that does not parse is refused (at start) or ignored with an error in the
//! log (on reload), never half-applied.

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use serde::Deserialize;
use thiserror::Error;

use crate::config::Rate;
use crate::limits::{KeyedLimiter, group};
use crate::tokens::Role;

mod file;
#[cfg(test)]
mod tests;

pub use file::PolicyError;

/// What a request asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// `CreateMailbox`, `CreateLockedMailbox`.
    Create,
    /// `Send`, `SendLocked`.
    Send,
    /// `Subscribe`.
    Subscribe,
    /// `Stats`, `Purge`.
    Admin,
}

/// Who asks: the role of the token the request carries, or anonymous.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Who {
    /// No token (every `Send` and `Subscribe`; a create on an open relay).
    Anonymous,
    /// A `user` token.
    User,
    /// An `admin` token.
    Admin,
}

impl From<Role> for Who {
    fn from(role: Role) -> Self {
        match role {
            Role::User => Who::User,
            Role::Admin => Who::Admin,
        }
    }
}

/// The token behind a request, as far as rules can see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFacts {
    /// Its public id (quotas are kept per token).
    pub id: String,
    /// Its role.
    pub role: Role,
    /// Its label (empty: none).
    pub label: String,
    /// Whether it expires at all.
    pub expires: bool,
}

/// One request, as a policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// What it asks.
    pub action: Action,
    /// The token it carries, if a valid one.
    pub token: Option<TokenFacts>,
    /// The client's address.
    pub source: IpAddr,
    /// Unix seconds now (the time of day is taken in UTC).
    pub now: u64,
}

/// What the policy decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed.
    Allow {
        /// The rule's index, or `None`: no rule matched (the default).
        rule: Option<usize>,
    },
    /// Denied.
    Deny {
        /// The rule's index.
        rule: usize,
    },
    /// Allowed, but one of the rule's quotas is used up.
    OverQuota {
        /// The rule's index.
        rule: usize,
        /// The quota's key in the file.
        quota: &'static str,
    },
}

/// A rule's quotas: keyed by token id when the request carries a token,
/// else by source (IPv4 address, IPv6 /64). Reset when the file is reloaded.
#[derive(Default)]
struct Quotas {
    messages: Option<KeyedLimiter<String>>,
    mailboxes: Option<KeyedLimiter<String>>,
    bytes: Option<KeyedLimiter<String>>,
}

/// One parsed rule.
pub struct Rule {
    /// Its name, for logs and explanations.
    pub name: String,
    /// What it says, in one line (`policy check`).
    pub summary: String,
    actions: Vec<Action>,
    who: Option<Vec<Who>>,
    labels: Option<Vec<String>>,
    token_expiry: Option<bool>,
    sources: Option<Vec<IpNet>>,
    /// Minutes after midnight UTC: from (inclusive), to (exclusive); may wrap.
    hours: Option<(u32, u32)>,
    allow: bool,
    quotas: Quotas,
}

/// A loaded policy.
pub struct Policy {
    rules: Vec<Rule>,
}

/// Why a rule did not match a request (the first condition that failed).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Mismatch {
    /// Another action.
    #[error("it is for {0:?}")]
    Action(Vec<Action>),
    /// Another role.
    #[error("it is for {0:?}")]
    Who(Vec<Who>),
    /// No token, or one without a matching label.
    #[error("it needs a token labelled {0:?}")]
    Label(Vec<String>),
    /// A token that expires (or one that does not).
    #[error("it needs a token that {}", if *.0 { "expires" } else { "never expires" })]
    Expiry(bool),
    /// Another network.
    #[error("the source is outside {0:?}")]
    Source(Vec<String>),
    /// Another time of day.
    #[error("it applies {0} UTC")]
    Hours(String),
}

impl Policy {
    /// Reads and checks a policy file.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        file::load(path)
    }

    /// Parses a policy from TOML text.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        file::parse(text)
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule that decides `request` (without spending quotas), and why
    /// each rule before it did not match.
    pub fn explain(&self, request: &Request) -> (Decision, Vec<(usize, Mismatch)>) {
        let mut skipped = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            match rule.mismatch(request) {
                Some(why) => skipped.push((i, why)),
                None if rule.allow => return (Decision::Allow { rule: Some(i) }, skipped),
                None => return (Decision::Deny { rule: i }, skipped),
            }
        }
        (Decision::Allow { rule: None }, skipped)
    }

    /// Decides `request` and spends the deciding rule's quotas: one message
    /// of `bytes` for a send, one mailbox for a create.
    pub fn decide(&self, request: &Request, bytes: u64) -> Decision {
        let decision = self.explain(request).0;
        let Decision::Allow { rule: Some(i) } = decision else {
            return decision;
        };
        let rule = &self.rules[i];
        let key = match &request.token {
            Some(t) => format!("token:{}", t.id),
            _ => format!("source:{}", group(request.source)),
        };
        let q = &rule.quotas;
        let over =
            match request.action {
                Action::Send => {
                    if q.messages.as_ref().is_some_and(|l| !l.take_key(&key)) {
                        Some("messages_per_second")
                    } else if q.bytes.as_ref().is_some_and(|l| {
                        !l.take_n_key(&key, u32::try_from(bytes).unwrap_or(u32::MAX))
                    }) {
                        Some("bytes_per_day")
                    } else {
                        None
                    }
                }
                Action::Create => q
                    .mailboxes
                    .as_ref()
                    .is_some_and(|l| !l.take_key(&key))
                    .then_some("mailboxes_per_hour"),
                Action::Subscribe | Action::Admin => None,
            };
        match over {
            Some(quota) => Decision::OverQuota { rule: i, quota },
            None => decision,
        }
    }

    /// Forgets idle quota keys.
    pub fn sweep(&self) {
        for rule in &self.rules {
            for l in [
                &rule.quotas.messages,
                &rule.quotas.mailboxes,
                &rule.quotas.bytes,
            ]
            .into_iter()
            .flatten()
            {
                l.sweep();
            }
        }
    }
}

impl Rule {
    /// The first condition of this rule that `r` fails, if any.
    fn mismatch(&self, r: &Request) -> Option<Mismatch> {
        if !self.actions.contains(&r.action) {
            return Some(Mismatch::Action(self.actions.clone()));
        }
        let who = r.token.as_ref().map_or(Who::Anonymous, |t| t.role.into());
        if let Some(allowed) = &self.who
            && !allowed.contains(&who)
        {
            return Some(Mismatch::Who(allowed.clone()));
        }
        if let Some(labels) = &self.labels {
            let label = r.token.as_ref().map(|t| t.label.as_str());
            if !label.is_some_and(|l| labels.iter().any(|p| label_matches(p, l))) {
                return Some(Mismatch::Label(labels.clone()));
            }
        }
        if let Some(expires) = self.token_expiry
            && r.token.as_ref().is_none_or(|t| t.expires != expires)
        {
            return Some(Mismatch::Expiry(expires));
        }
        if let Some(nets) = &self.sources {
            let ip = canonical(r.source);
            if !nets.iter().any(|n| n.contains(&ip)) {
                return Some(Mismatch::Source(
                    nets.iter().map(IpNet::to_string).collect(),
                ));
            }
        }
        if let Some((from, to)) = self.hours {
            let minute = u32::try_from((r.now % 86_400) / 60).unwrap_or(0);
            let inside = if from <= to {
                (from..to).contains(&minute)
            } else {
                minute >= from || minute < to
            };
            if !inside {
                return Some(Mismatch::Hours(format!(
                    "{:02}:{:02}-{:02}:{:02}",
                    from / 60,
                    from % 60,
                    to / 60,
                    to % 60
                )));
            }
        }
        None
    }

    /// Whether the rule allows (else denies) what it matches.
    pub fn allows(&self) -> bool {
        self.allow
    }
}

/// `pattern` is a label, or a prefix ending in `*`.
fn label_matches(pattern: &str, label: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => label.starts_with(prefix),
        None => pattern == label,
    }
}

/// IPv4-mapped IPv6 addresses as IPv4, so `10.0.0.0/8` matches them.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A quota rate: `per` units over `period` seconds, all at once if need be.
fn quota(per: u64, period: f64) -> Option<KeyedLimiter<String>> {
    (per > 0).then(|| {
        KeyedLimiter::new(Rate {
            per_second: per as f64 / period,
            burst: per as f64,
        })
    })
}
