//! An in-memory relay for testing the sync logic: durable until acked, backlog
//! then live, with switches to take it down or make sends fail.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use cairn_protocol::envelope::{Envelope, MailboxId, MessageId};
use cairn_protocol::relay_address::RelayAddress;

use super::{Connector, NetError, RelayLink};

#[derive(Default)]
pub(crate) struct FakeState {
    /// Stored envelopes per mailbox, in arrival order (seq → (id, bytes)).
    pub mailboxes: HashMap<MailboxId, BTreeMap<u64, (MessageId, Vec<u8>)>>,
    pub seq: u64,
    pub down: bool,
    pub fail_sends: bool,
    pub acks: usize,
}

/// Shared handle: tests keep one and give clones to syncers.
#[derive(Clone, Default)]
pub(crate) struct FakeRelay(pub Arc<Mutex<FakeState>>);

impl FakeRelay {
    pub(crate) fn state(&self) -> MutexGuard<'_, FakeState> {
        match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    pub(crate) fn stored(&self) -> usize {
        self.state().mailboxes.values().map(BTreeMap::len).sum()
    }
}

pub(crate) struct FakeLink {
    relay: FakeRelay,
    subscribed: Vec<MailboxId>,
    delivered: HashSet<(MailboxId, u64)>,
}

impl Connector for FakeRelay {
    type Link = FakeLink;

    async fn connect(&self, relay: &RelayAddress) -> Result<FakeLink, NetError> {
        if self.state().down {
            return Err(NetError::Connect {
                relay: relay.to_string(),
                reason: "connection refused".into(),
            });
        }
        Ok(FakeLink {
            relay: self.clone(),
            subscribed: Vec::new(),
            delivered: HashSet::new(),
        })
    }
}

impl FakeLink {
    fn up(&self) -> Result<MutexGuard<'_, FakeState>, NetError> {
        let s = self.relay.state();
        if s.down {
            return Err(NetError::Disconnected("relay went away".into()));
        }
        Ok(s)
    }
}

impl FakeLink {
    fn send_one(&mut self, envelope: &[u8]) -> Result<(), NetError> {
        let mut s = self.up()?;
        if s.fail_sends {
            return Err(NetError::Refused("storage unavailable".into()));
        }
        let env = Envelope::parse(envelope).map_err(|e| NetError::Refused(e.to_string()))?;
        s.seq += 1;
        let seq = s.seq;
        let mb = s
            .mailboxes
            .get_mut(&env.mailbox)
            .ok_or_else(|| NetError::Refused("no such mailbox".into()))?;
        // Same id twice: the relay dedupes.
        if !mb.values().any(|(id, _)| *id == env.id) {
            mb.insert(seq, (env.id, envelope.to_vec()));
        }
        Ok(())
    }
}

impl RelayLink for FakeLink {
    async fn create_mailbox(
        &mut self,
        mailbox: MailboxId,
        _auth_seed: &[u8; 32],
        _token: Option<&[u8]>,
    ) -> Result<(), NetError> {
        let mut s = self.up()?;
        if s.mailboxes.contains_key(&mailbox) {
            return Err(NetError::Refused("mailbox already exists".into()));
        }
        s.mailboxes.insert(mailbox, BTreeMap::new());
        Ok(())
    }

    async fn delete_mailbox(
        &mut self,
        mailbox: MailboxId,
        _auth_seed: &[u8; 32],
    ) -> Result<(), NetError> {
        let mut s = self.up()?;
        match s.mailboxes.remove(&mailbox) {
            Some(_) => Ok(()),
            None => Err(NetError::Refused("no such mailbox".into())),
        }
    }

    async fn send(&mut self, envelopes: &[&[u8]]) -> Vec<Result<(), NetError>> {
        envelopes.iter().map(|e| self.send_one(e)).collect()
    }

    async fn subscribe(
        &mut self,
        mailbox: MailboxId,
        _auth_seed: &[u8; 32],
    ) -> Result<(), NetError> {
        let s = self.up()?;
        if !s.mailboxes.contains_key(&mailbox) {
            return Err(NetError::Refused("no such mailbox".into()));
        }
        drop(s);
        if !self.subscribed.contains(&mailbox) {
            self.subscribed.push(mailbox);
        }
        Ok(())
    }

    async fn next_delivery(&mut self, idle: Duration) -> Result<Option<Vec<u8>>, NetError> {
        let next = {
            let s = self.up()?;
            let mut best: Option<(u64, MailboxId, Vec<u8>)> = None;
            for mb in &self.subscribed {
                let next = s.mailboxes.get(mb).and_then(|stored| {
                    stored
                        .iter()
                        .find(|(seq, _)| !self.delivered.contains(&(*mb, **seq)))
                });
                if let Some((seq, (_, bytes))) = next
                    && best.as_ref().is_none_or(|b| *seq < b.0)
                {
                    best = Some((*seq, *mb, bytes.clone()));
                }
            }
            best
        };
        match next {
            Some((seq, mb, bytes)) => {
                self.delivered.insert((mb, seq));
                Ok(Some(bytes))
            }
            None => {
                tokio::time::sleep(idle.min(Duration::from_millis(5))).await;
                Ok(None)
            }
        }
    }

    async fn ack(&mut self, acks: &[(MailboxId, MessageId)]) -> Result<(), NetError> {
        let mut s = self.up()?;
        for (mb, id) in acks {
            if let Some(stored) = s.mailboxes.get_mut(mb) {
                stored.retain(|_, (mid, _)| mid != id);
            }
        }
        s.acks += acks.len();
        Ok(())
    }
}
