//! The backend's command loop: one `select!` over UI commands and the sync tick.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::mpsc;

use cairn_core::client::{Client, ClientError, ClientEvent, InitOptions};
use cairn_core::net::{NetError, SyncOptions, SyncReport, Syncer, WsConnector};
use cairn_core::profile::{Profile, ProfileError};
use cairn_core::store::Direction;
use cairn_protocol::relay_address::RelayAddress;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::MissedTickBehavior;

mod extra_relays;

use super::local_relay::LocalRelay;
use super::summaries::Summaries;
use super::{BackendConfig, Waker};
use crate::commands::{Command, Event, ProfileInfo, RelayHealth, RelayStatus};
use crate::screens::timeline::PAGE;

/// Sync ticks between two reachability checks of extra relays that hold no mailbox.
const PROBE_EVERY: u32 = 30;

/// State owned by the backend thread.
pub(super) struct Worker {
    config: BackendConfig,
    events: mpsc::Sender<Event>,
    waker: Waker,
    client: Option<Client>,
    syncer: Syncer<WsConnector>,
    relay: Option<LocalRelay>,
    open_chat: Option<String>,
    /// Messages of the open chat the UI holds (grows as older pages load).
    window: usize,
    summaries: Summaries,
    health: HashMap<String, RelayHealth>,
    /// The open profile's extra relays (a cache of [`Client::extra_relays`]).
    extra_relays: Vec<String>,
    /// Extra relays from an old `prefs.json`, to move into the next unlocked profile.
    legacy_relays: Vec<String>,
    ticks: u32,
    probe_due: bool,
}

impl Worker {
    /// A worker with no profile open yet.
    pub(super) fn new(config: BackendConfig, events: mpsc::Sender<Event>, waker: Waker) -> Self {
        let connector = WsConnector {
            allow_plaintext_loopback: config.allow_plaintext_loopback,
            ..WsConnector::default()
        };
        let opts = SyncOptions {
            idle: std::time::Duration::from_millis(150),
            ..SyncOptions::default()
        };
        Self {
            config,
            events,
            waker,
            client: None,
            syncer: Syncer::new(connector, opts),
            relay: None,
            open_chat: None,
            window: PAGE,
            summaries: Summaries::default(),
            health: HashMap::new(),
            extra_relays: Vec::new(),
            legacy_relays: Vec::new(),
            ticks: 0,
            probe_due: false,
        }
    }

    fn emit(&self, event: Event) {
        let _ = self.events.send(event);
        (self.waker)();
    }

    fn now(&self) -> u64 {
        self.config.clock.now_ms()
    }

    /// Runs until the UI drops its command sender.
    pub(super) async fn run(mut self, mut commands: UnboundedReceiver<Command>) {
        self.emit(Event::ProfileExists(Profile::exists(
            &self.config.profile_dir,
        )));
        let mut tick = tokio::time::interval(self.config.sync_interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => self.handle(command).await,
                    None => break,
                },
                _ = tick.tick() => self.sync().await,
            }
        }
        self.syncer.disconnect();
        self.relay = None;
    }

    async fn handle(&mut self, command: Command) {
        let result = match command {
            Command::StartLocalRelay { listen } => self.start_relay(&listen).await,
            Command::CreateProfile {
                name,
                passphrase,
                relay,
            } => self.create(&name, passphrase.as_bytes(), &relay),
            Command::Unlock { passphrase } => {
                let opened = Client::open(&self.config.profile_dir, passphrase.as_bytes());
                self.opened(opened)
            }
            Command::Import { file, passphrase } => {
                let opened = Client::import(&file, &self.config.profile_dir, passphrase.as_bytes());
                self.opened(opened)
            }
            Command::Lock => {
                self.client = None;
                self.open_chat = None;
                self.summaries.clear();
                self.health.clear();
                self.extra_relays.clear();
                self.syncer.disconnect();
                self.emit(Event::Locked);
                Ok(())
            }
            Command::Notify { summary, body } => {
                tokio::task::spawn_blocking(move || crate::notify::show(&summary, &body));
                Ok(())
            }
            Command::SavePrefs { prefs, path } => prefs
                .save(&path)
                .map_err(|e| format!("could not save preferences to {}: {e}", path.display())),
            Command::SyncNow => {
                self.sync().await;
                self.probe_extra_relays().await;
                Ok(())
            }
            Command::AdoptLegacyRelays(list) => {
                self.legacy_relays = list;
                if self.client.is_some() {
                    self.move_legacy_relays();
                    self.load_extra_relays();
                    self.probe_extra_relays().await;
                }
                Ok(())
            }
            Command::AddExtraRelay(text) => self.add_extra_relay(&text).await,
            Command::RemoveExtraRelay(text) => self.remove_extra_relay(&text),
            Command::SetAllowPrivateRelays(allow) => self.set_allow_private_relays(allow),
            other => self.with_client(other).await,
        };
        if let Err(message) = result {
            self.emit(Event::Error(message));
        }
    }

    async fn start_relay(&mut self, listen: &str) -> Result<(), String> {
        if let Some(relay) = &self.relay {
            self.emit(Event::LocalRelayStarted(relay.address().to_owned()));
            return Ok(());
        }
        let addr: SocketAddr = listen
            .parse()
            .map_err(|_| format!("{listen:?} is not an IP address and port"))?;
        let relay = LocalRelay::start(addr, &self.config.relay_dir)
            .await
            .map_err(|e| format!("could not start the built-in relay: {e}"))?;
        self.emit(Event::LocalRelayStarted(relay.address().to_owned()));
        self.relay = Some(relay);
        Ok(())
    }

    fn create(&mut self, name: &str, passphrase: &[u8], relay: &str) -> Result<(), String> {
        let relay: RelayAddress = relay
            .trim()
            .parse()
            .map_err(|e| format!("invalid relay address: {e}"))?;
        relay.check_transport().map_err(|e| e.to_string())?;
        let opts = InitOptions {
            dir: &self.config.profile_dir,
            passphrase,
            kdf: self.config.kdf,
            name,
            relay,
            access_token: None,
        };
        let client = Client::init(&opts, self.now()).map_err(|e| e.to_string())?;
        self.opened(Ok(client))
    }

    fn opened(&mut self, opened: Result<Client, ClientError>) -> Result<(), String> {
        let client = match opened {
            Ok(client) => client,
            Err(ClientError::Profile(ProfileError::WrongPassphrase)) => {
                self.emit(Event::UnlockFailed(
                    "Wrong passphrase. Check it and try again.".into(),
                ));
                return Ok(());
            }
            Err(e) => {
                self.emit(Event::UnlockFailed(e.to_string()));
                return Ok(());
            }
        };
        self.syncer.options_mut().access_token =
            client.access_token().ok().flatten().map(|t| t.to_vec());
        self.emit(Event::Unlocked(ProfileInfo {
            name: client.name().to_owned(),
            home_relay: client.home_relay().to_string(),
            dir: client.dir().to_path_buf(),
        }));
        let list = self
            .summaries
            .refresh(&client, None)
            .map_err(|e| e.to_string())?;
        self.client = Some(client);
        self.probe_due = true;
        self.move_legacy_relays();
        self.load_extra_relays();
        self.emit(Event::Contacts(list));
        self.emit_relays();
        Ok(())
    }

    async fn with_client(&mut self, command: Command) -> Result<(), String> {
        let now = self.now();
        let Some(client) = self.client.as_mut() else {
            return Err("the profile is locked".into());
        };
        match command {
            Command::CreateInvite { relay } => {
                let mut mailbox = client.mint_mailbox();
                // The home relay's access token is for the home relay only.
                let token = match relay {
                    Some(text) => {
                        mailbox.relay = text
                            .parse()
                            .map_err(|e| format!("invalid relay address: {e}"))?;
                        self.syncer.options_mut().access_token.take()
                    }
                    None => self.syncer.options_mut().access_token.clone(),
                };
                let created = self.syncer.create_mailbox(&mailbox).await;
                self.syncer.options_mut().access_token = token;
                created.map_err(|e| format!("could not create a mailbox on the relay: {e}"))?;
                let invite = client
                    .create_invite(&mailbox, now)
                    .map_err(|e| e.to_string())?;
                self.emit(Event::Invite(invite.uri));
            }
            Command::AcceptInvite { invite, name } => {
                let invite = client
                    .parse_invite(invite.trim(), now)
                    .map_err(|e| e.to_string())?;
                let mailbox = client.mint_mailbox();
                self.syncer
                    .create_mailbox(&mailbox)
                    .await
                    .map_err(|e| format!("could not create a mailbox on your relay: {e}"))?;
                let contact = client
                    .accept_invite(&invite, &name, &mailbox, now)
                    .map_err(|e| e.to_string())?;
                self.emit(Event::ContactAdded(contact.name.clone()));
                self.flush().await;
                self.refresh_contacts(None);
            }
            Command::OpenChat { name } => {
                self.open_chat = Some(name.clone());
                self.window = PAGE;
                self.show_chat(&name);
                self.refresh_contacts(Some(&[name]));
            }
            Command::OpenChatAt { name, message } => {
                let page = client
                    .timeline_through(&name, message, PAGE / 2)
                    .map_err(|e| e.to_string())?;
                self.open_chat = Some(name.clone());
                self.window = count_messages(&page.items).max(PAGE);
                self.show_chat(&name);
                self.refresh_contacts(Some(&[name]));
            }
            Command::LoadOlder { name, before } => {
                let page = client
                    .timeline_page(&name, Some(before), PAGE)
                    .map_err(|e| e.to_string())?;
                if self.open_chat.as_deref() == Some(name.as_str()) {
                    self.window += count_messages(&page.items);
                }
                self.emit(Event::OlderPage {
                    name,
                    items: page.items,
                    older: page.older,
                });
            }
            Command::SetProfileName { name } => {
                client.set_name(&name).map_err(|e| e.to_string())?;
                let info = ProfileInfo {
                    name: client.name().to_owned(),
                    home_relay: client.home_relay().to_string(),
                    dir: client.dir().to_path_buf(),
                };
                self.emit(Event::Profile(info));
                self.emit(Event::Notice("Display name changed.".into()));
            }
            Command::RenameContact { name, new_name } => {
                client
                    .rename_contact(&name, &new_name)
                    .map_err(|e| e.to_string())?;
                let to = new_name.trim().to_owned();
                if self.open_chat.as_deref() == Some(name.as_str()) {
                    self.open_chat = Some(to.clone());
                }
                self.emit(Event::Renamed { from: name, to });
                self.refresh_contacts(None);
            }
            Command::CloseChat => self.open_chat = None,
            Command::Send { name, text } => {
                client
                    .send_text(&name, &text, now)
                    .map_err(|e| e.to_string())?;
                self.show_chat(&name);
                self.flush().await;
                self.show_chat(&name);
                self.refresh_contacts(Some(&[name]));
            }
            Command::Verify { name, digits } => {
                client
                    .verify(&name, &digits, now)
                    .map_err(|e| e.to_string())?;
                self.emit(Event::Verified(name.clone()));
                self.show_chat(&name);
                self.refresh_contacts(Some(&[name]));
            }
            Command::AcceptKeyChange { name } => {
                client
                    .accept_key_change(&name, now)
                    .map_err(|e| e.to_string())?;
                self.show_chat(&name);
                self.refresh_contacts(Some(&[name]));
            }
            Command::Search { query } => {
                let hits = client.search(&query, 200).map_err(|e| e.to_string())?;
                self.emit(Event::SearchResults(hits));
            }
            Command::Export { file, passphrase } => {
                client
                    .export(&file, passphrase.as_bytes())
                    .map_err(|e| e.to_string())?;
                self.emit(Event::Notice(format!(
                    "Encrypted backup written to {}",
                    file.display()
                )));
            }
            _ => {}
        }
        Ok(())
    }

    /// Sends the open chat's timeline, marking it read.
    fn show_chat(&mut self, name: &str) {
        let now = self.now();
        let Some(client) = self.client.as_mut() else {
            return;
        };
        if self.open_chat.as_deref() == Some(name) {
            if let Err(e) = client.mark_read(name, now) {
                tracing::warn!(error = %e, "mark_read failed");
            }
            self.summaries.mark_read(name);
        }
        match client.timeline_page(name, None, self.window) {
            Ok(page) => self.emit(Event::Timeline {
                name: name.to_owned(),
                items: page.items,
                older: page.older,
            }),
            Err(e) => self.emit(Event::Error(e.to_string())),
        }
    }

    fn refresh_contacts(&mut self, only: Option<&[String]>) {
        let Some(client) = self.client.as_ref() else {
            return;
        };
        match self.summaries.refresh(client, only) {
            Ok(list) => self.emit(Event::Contacts(list)),
            Err(e) => self.emit(Event::Error(e.to_string())),
        }
    }

    /// Sends what is due in the outbox right away.
    async fn flush(&mut self) {
        let clock = self.config.clock.clone();
        let now = move || clock.now_ms();
        let Some(client) = self.client.as_mut() else {
            return;
        };
        let mut report = SyncReport::default();
        let result = self.syncer.flush_outbox(client, &now, &mut report).await;
        self.after_sync(result.map(|()| report));
    }

    /// One sync round: send, receive, send receipts.
    async fn sync(&mut self) {
        let clock = self.config.clock.clone();
        let now = move || clock.now_ms();
        let Some(client) = self.client.as_mut() else {
            return;
        };
        let result = self.syncer.sync(client, &now).await;
        self.after_sync(result);
        self.ticks = self.ticks.wrapping_add(1);
        if std::mem::take(&mut self.probe_due) || self.ticks.is_multiple_of(PROBE_EVERY) {
            self.probe_extra_relays().await;
        }
    }

    fn after_sync(&mut self, result: Result<SyncReport, ClientError>) {
        let report = match result {
            Ok(report) => report,
            Err(e) => {
                self.emit(Event::Error(format!("sync failed: {e}")));
                return;
            }
        };
        self.note_health(&report.errors);
        let mut touched: Vec<String> = Vec::new();
        let mut new_contact = false;
        for event in &report.events {
            let name = match event {
                ClientEvent::Message { contact, message } => {
                    if message.direction == Direction::Incoming {
                        self.emit(Event::Incoming {
                            contact: contact.clone(),
                            body: message.body.clone(),
                        });
                    }
                    Some(contact.clone())
                }
                ClientEvent::ContactAdded { contact } => {
                    new_contact = true;
                    self.emit(Event::ContactAdded(contact.name.clone()));
                    Some(contact.name.clone())
                }
                ClientEvent::StatusChanged { contact, .. } | ClientEvent::Held { contact } => {
                    Some(contact.clone())
                }
                ClientEvent::Integrity { contact, .. } => contact.clone(),
            };
            if let Some(name) = name
                && !touched.contains(&name)
            {
                touched.push(name);
            }
        }
        if let Some(open) = self.open_chat.clone()
            && touched.contains(&open)
        {
            self.show_chat(&open);
        }
        if !touched.is_empty() || new_contact {
            self.refresh_contacts(Some(&touched));
        }
        if let Some(client) = self.client.as_ref()
            && let Ok(n) = client.outbox_len()
        {
            self.emit(Event::Outbox(n));
        }
        self.emit_relays();
    }

    fn note_health(&mut self, errors: &[NetError]) {
        let known = self.synced_relays();
        let mut failed: HashMap<String, String> = HashMap::new();
        for e in errors {
            let text = e.to_string();
            match known.iter().find(|r| text.contains(r.as_str())) {
                Some(r) => {
                    failed.insert(r.clone(), text);
                }
                None => {
                    for r in &known {
                        failed.entry(r.clone()).or_insert_with(|| text.clone());
                    }
                }
            }
        }
        for r in known {
            let health = match failed.remove(&r) {
                Some(text) => RelayHealth::Failed(text),
                None => RelayHealth::Connected,
            };
            self.health.insert(r, health);
        }
    }

    /// Relays a sync round talks to: home, contacts' relays, relays of our mailboxes.
    fn synced_relays(&self) -> Vec<String> {
        let Some(client) = self.client.as_ref() else {
            return Vec::new();
        };
        let mut out = vec![client.home_relay().to_string()];
        let contacts = client.contacts().unwrap_or_default().into_iter();
        let mailboxes = client.active_mailboxes().unwrap_or_default().into_iter();
        for r in contacts.map(|c| c.relay).chain(mailboxes.map(|m| m.relay)) {
            if !out.contains(&r) {
                out.push(r);
            }
        }
        out
    }

    /// Home relay first, then the extra relays, then every relay a contact uses.
    fn relay_addresses(&self) -> Vec<String> {
        let Some(client) = self.client.as_ref() else {
            return Vec::new();
        };
        let mut out = vec![client.home_relay().to_string()];
        let contacts = client.contacts().unwrap_or_default();
        for r in self
            .extra_relays
            .iter()
            .cloned()
            .chain(contacts.into_iter().map(|c| c.relay))
        {
            if !out.contains(&r) {
                out.push(r);
            }
        }
        out
    }

    fn emit_relays(&self) {
        let list = self
            .relay_addresses()
            .into_iter()
            .enumerate()
            .map(|(i, text)| {
                let (address, pin) = match text.split_once('#') {
                    Some((a, p)) => (a.to_owned(), p.to_owned()),
                    None => (text.clone(), String::new()),
                };
                RelayStatus {
                    address,
                    pin,
                    home: i == 0,
                    extra: i > 0 && self.extra_relays.contains(&text),
                    full: text.clone(),
                    health: self
                        .health
                        .get(&text)
                        .cloned()
                        .unwrap_or(RelayHealth::Unknown),
                }
            })
            .collect();
        self.emit(Event::Relays(list));
    }
}

/// Messages (not events) among `items`.
fn count_messages(items: &[cairn_core::client::TimelineItem]) -> usize {
    items
        .iter()
        .filter(|i| matches!(i, cairn_core::client::TimelineItem::Message(_)))
        .count()
}
