//! The policy file at the relay's door: the loaded [`Policy`] (swapped
//! whole on SIGHUP, connections untouched) and the check every create,
//! send, subscribe and admin request passes.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use cairn_protocol::frames::ErrorCode;

use super::{Shared, now_unix};
use crate::policy::{Action, Decision, Policy, Request, TokenFacts};
use crate::tokens::TokenRecord;

/// The policy in force, if the relay runs with one.
#[derive(Default)]
pub(crate) struct PolicyCell {
    path: Option<PathBuf>,
    current: RwLock<Option<Arc<Policy>>>,
}

impl PolicyCell {
    /// A cell holding `policy`, loaded from `path`.
    pub(crate) fn new(path: Option<PathBuf>, policy: Option<Policy>) -> Self {
        Self {
            path,
            current: RwLock::new(policy.map(Arc::new)),
        }
    }

    fn get(&self) -> Option<Arc<Policy>> {
        self.current.read().ok().and_then(|p| p.clone())
    }

    /// Reads the file again and swaps it in whole; a file that does not
    /// parse leaves the old policy in force (and says why in the log).
    pub(crate) fn reload(&self) {
        let Some(path) = &self.path else { return };
        match Policy::load(path) {
            Ok(policy) => {
                let rules = policy.rules().len();
                if let Ok(mut current) = self.current.write() {
                    *current = Some(Arc::new(policy));
                }
                tracing::info!(rules, "policy file reloaded");
            }
            Err(e) => {
                tracing::error!(error = %e, "policy file NOT reloaded; the previous one stays in force")
            }
        }
    }

    /// Forgets idle quota keys.
    pub(crate) fn sweep(&self) {
        if let Some(policy) = self.get() {
            policy.sweep();
        }
    }
}

impl Shared {
    /// Whether the policy lets `action` through for this token and source,
    /// spending its quotas (`bytes`: a send's size).
    pub(crate) fn gate(
        &self,
        action: Action,
        token: Option<&TokenRecord>,
        ip: IpAddr,
        bytes: u64,
    ) -> Result<(), ErrorCode> {
        let Some(policy) = self.policy.get() else {
            return Ok(());
        };
        let request = Request {
            action,
            token: token.map(|t| TokenFacts {
                id: t.id.clone(),
                role: t.role,
                label: t.label.clone(),
                expires: t.expires_at.is_some(),
            }),
            source: ip,
            now: now_unix(),
        };
        match policy.decide(&request, bytes) {
            Decision::Allow { .. } => Ok(()),
            Decision::Deny { .. } => Err(ErrorCode::Denied),
            Decision::OverQuota { .. } => Err(ErrorCode::RateLimited),
        }
    }

    /// Whether any policy is in force (creates on an open relay then look
    /// up a token they carry, for its role and label).
    pub(crate) fn has_policy(&self) -> bool {
        self.policy.get().is_some()
    }
}
