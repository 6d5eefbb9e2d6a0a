//! `cairn-relay policy check FILE [--action …]`: validates a policy file
//! and explains, rule by rule, what it decides for one request — the same
//! evaluation the relay runs.

use anyhow::{Context, Result, bail};
use cairn_relay::policy::{Action, Decision, Policy, Request, TokenFacts};
use cairn_relay::tokens::Role;

use crate::cli::PolicyAction;

pub(crate) fn run(action: PolicyAction) -> Result<()> {
    let PolicyAction::Check {
        file,
        action,
        role,
        label,
        token_expires,
        source,
        time,
    } = action;
    let policy = Policy::load(&file)?;
    println!("{}: {} rules, valid", file.display(), policy.rules().len());
    for (i, rule) in policy.rules().iter().enumerate() {
        println!("  {}. {} — {}", i + 1, rule.name, rule.summary);
    }
    println!("  (no rule matches: allowed, within the relay's flags)");
    let Some(action) = action else {
        return Ok(());
    };
    let action = match action.as_str() {
        "create" => Action::Create,
        "send" => Action::Send,
        "subscribe" => Action::Subscribe,
        _ => Action::Admin,
    };
    let token = match role.as_str() {
        "anonymous" => None,
        role => Some(TokenFacts {
            id: "checked".into(),
            role: if role == "admin" {
                Role::Admin
            } else {
                Role::User
            },
            label: label.clone(),
            expires: token_expires,
        }),
    };
    let now = match &time {
        Some(t) => minutes(t).with_context(|| format!("--time {t:?}: use HH:MM (UTC)"))? * 60,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let request = Request {
        action,
        token,
        source,
        now,
    };
    let (decision, skipped) = policy.explain(&request);
    let who = match &request.token {
        None => "anonymous".to_owned(),
        Some(t) => format!("{role} token labelled {:?}", t.label),
    };
    println!(
        "\n{action:?} by {who} from {source} at {:02}:{:02} UTC:",
        (now % 86_400) / 3600,
        (now % 3600) / 60
    );
    for (i, why) in skipped {
        println!(
            "  rule {} ({:?}) does not match: {why}",
            i + 1,
            policy.rules()[i].name
        );
    }
    let name = |i: usize| format!("rule {} ({:?})", i + 1, policy.rules()[i].name);
    match decision {
        Decision::Allow { rule: Some(i) } => {
            println!("  ALLOWED by {} (its quotas apply)", name(i))
        }
        Decision::Allow { rule: None } => println!("  ALLOWED: no rule matches"),
        Decision::Deny { rule } => println!("  DENIED by {} (answered 303 Denied)", name(rule)),
        Decision::OverQuota { rule, .. } => println!("  over a quota of {}", name(rule)),
    }
    Ok(())
}

/// `HH:MM` as minutes after midnight.
fn minutes(text: &str) -> Result<u64> {
    let Some((h, m)) = text.split_once(':') else {
        bail!("no ':'");
    };
    let (h, m): (u64, u64) = (h.parse()?, m.parse()?);
    if h > 23 || m > 59 {
        bail!("out of range");
    }
    Ok(h * 60 + m)
}
