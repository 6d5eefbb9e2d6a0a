//! The policy file's TOML form, checked into [`Policy`] rules.

use std::path::Path;

use ipnet::IpNet;
use serde::Deserialize;
use thiserror::Error;

use super::{Action, Policy, Quotas, Rule, Who, quota};
use crate::config::parse_size;
use crate::tokens::check_label;

/// Why a policy file was refused: the whole file, never part of it.
#[derive(Debug, Error)]
pub enum PolicyError {
    /// It could not be read.
    #[error("reading policy file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// It is not valid TOML, or has unknown or mistyped keys.
    #[error("policy file: {0}")]
    Toml(String),
    /// A rule is invalid.
    #[error("policy rule {index} ({name:?}): {reason}")]
    Rule {
        /// 1-based position in the file.
        index: usize,
        /// Its name.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

/// The file: a list of `[[rule]]` tables.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    rule: Vec<RuleSpec>,
}

/// One `[[rule]]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    name: Option<String>,
    actions: Vec<Action>,
    roles: Option<Vec<Who>>,
    token_labels: Option<Vec<String>>,
    /// `"set"` (tokens that expire) or `"none"` (tokens that never expire).
    token_expiry: Option<String>,
    sources: Option<Vec<String>>,
    /// `"HH:MM-HH:MM"` UTC, may wrap midnight.
    hours: Option<String>,
    /// `"allow"` or `"deny"`.
    decision: String,
    messages_per_second: Option<u64>,
    mailboxes_per_hour: Option<u64>,
    /// A size: `500M`, `2G`, or bytes.
    bytes_per_day: Option<String>,
}

pub(super) fn load(path: &Path) -> Result<Policy, PolicyError> {
    let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text)
}

pub(super) fn parse(text: &str) -> Result<Policy, PolicyError> {
    let file: File = toml::from_str(text).map_err(|e| PolicyError::Toml(e.to_string()))?;
    let rules = file
        .rule
        .into_iter()
        .enumerate()
        .map(|(i, spec)| {
            let name = spec
                .name
                .clone()
                .unwrap_or_else(|| format!("rule {}", i + 1));
            rule(spec, name.clone()).map_err(|reason| PolicyError::Rule {
                index: i + 1,
                name,
                reason,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Policy { rules })
}

fn rule(spec: RuleSpec, name: String) -> Result<Rule, String> {
    if spec.actions.is_empty() {
        return Err(
            "`actions` is empty: name at least one of create, send, subscribe, admin".into(),
        );
    }
    let allow = match spec.decision.as_str() {
        "allow" => true,
        "deny" => false,
        other => {
            return Err(format!(
                "`decision` is {other:?}: use \"allow\" or \"deny\""
            ));
        }
    };
    if let Some(labels) = &spec.token_labels {
        for label in labels {
            check_label(label.strip_suffix('*').unwrap_or(label)).map_err(|e| e.to_string())?;
        }
    }
    let token_expiry = match spec.token_expiry.as_deref() {
        None => None,
        Some("set") => Some(true),
        Some("none") => Some(false),
        Some(other) => {
            return Err(format!(
                "`token_expiry` is {other:?}: use \"set\" or \"none\""
            ));
        }
    };
    let sources = spec
        .sources
        .map(|nets| {
            nets.iter()
                .map(|n| {
                    n.parse::<IpNet>()
                        .or_else(|_| n.parse::<std::net::IpAddr>().map(IpNet::from))
                        .map(|net| net.trunc())
                        .map_err(|_| {
                            format!("{n:?} is not a network like 10.0.0.0/8 or 2001:db8::/32")
                        })
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let hours = spec.hours.as_deref().map(hours).transpose()?;
    let quotas_set = spec.messages_per_second.is_some()
        || spec.mailboxes_per_hour.is_some()
        || spec.bytes_per_day.is_some();
    if quotas_set && !allow {
        return Err("quotas only make sense on a rule that allows".into());
    }
    let bytes_per_day = spec
        .bytes_per_day
        .as_deref()
        .map(|b| parse_size(b).map_err(|e| format!("`bytes_per_day`: {e}")))
        .transpose()?;
    let mut summary = format!(
        "{} {}",
        spec.decision,
        spec.actions
            .iter()
            .map(|a| format!("{a:?}").to_lowercase())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut when = |key: &str, value: String| summary.push_str(&format!("; {key} {value}"));
    if let Some(roles) = &spec.roles {
        when("roles", format!("{roles:?}").to_lowercase());
    }
    if let Some(labels) = &spec.token_labels {
        when("token labels", labels.join(", "));
    }
    if let Some(expiry) = &spec.token_expiry {
        when("token expiry", expiry.clone());
    }
    if let Some(nets) = &sources {
        when(
            "from",
            nets.iter()
                .map(IpNet::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    if let Some(h) = &spec.hours {
        when("hours", format!("{h} UTC"));
    }
    if let Some(n) = spec.messages_per_second {
        when("quota", format!("{n} messages/s"));
    }
    if let Some(n) = spec.mailboxes_per_hour {
        when("quota", format!("{n} mailboxes/h"));
    }
    if let Some(b) = &spec.bytes_per_day {
        when("quota", format!("{b} bytes/day"));
    }
    Ok(Rule {
        name,
        summary,
        actions: spec.actions,
        who: spec.roles,
        labels: spec.token_labels,
        token_expiry,
        sources,
        hours,
        allow,
        quotas: Quotas {
            messages: spec.messages_per_second.and_then(|n| quota(n, 1.0)),
            mailboxes: spec.mailboxes_per_hour.and_then(|n| quota(n, 3600.0)),
            bytes: bytes_per_day.and_then(|n| quota(n, 86_400.0)),
        },
    })
}

/// `"HH:MM-HH:MM"` as minutes after midnight.
fn hours(text: &str) -> Result<(u32, u32), String> {
    let bad = || format!("`hours` is {text:?}: use \"HH:MM-HH:MM\" (UTC), e.g. \"08:00-18:00\"");
    let minute = |t: &str| -> Option<u32> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h <= 24 && m < 60 && h * 60 + m <= 1440).then_some(h * 60 + m)
    };
    let (from, to) = text.split_once('-').ok_or_else(bad)?;
    let (from, to) = (minute(from).ok_or_else(bad)?, minute(to).ok_or_else(bad)?);
    if from == to {
        return Err(format!("`hours` {text:?} is empty"));
    }
    Ok((from, to))
}
