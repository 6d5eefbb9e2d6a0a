//! The backend's loop: UI commands in, messenger events out, translated.
//!
//! Everything about relays and the profile is the core's messenger; this is
//! a thin adapter. It keeps only what the UI needs and the core does not: the
//! open chat (so arriving messages there are marked read), the contact rows,
//! relay health for settings, and the built-in relay.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::mpsc;

use cairn_core::client::{Client, ClientError, ClientEvent, InitOptions, Verification};
use cairn_core::messenger::{
    DialOptions, Events, Messenger, MessengerConfig, MessengerError, MessengerEvent, RelayState,
    probe,
};
use cairn_core::profile::{Profile, ProfileError};
use cairn_core::store::{ContactId, Direction};
use cairn_protocol::relay_address::{AddressError, RelayAddress};
use tokio::sync::mpsc::UnboundedReceiver;

mod extra_relays;

use super::local_relay::{LocalRelay, StartError};
use super::summaries::Summaries;
use super::{BackendConfig, PAGE, Waker};
use crate::commands::{Command, Event, Failure, ProfileInfo, RelayHealth, RelayStatus, Request};

/// An unlocked profile: the messenger running it and what the UI is showing.
struct Open {
    messenger: Messenger,
    events: Events,
    info: ProfileInfo,
    open_chat: Option<ContactId>,
    summaries: Summaries,
    health: HashMap<String, RelayHealth>,
    /// The profile's extra relays (a cache of [`Client::extra_relays`]).
    extra_relays: Vec<String>,
}

/// State owned by the backend thread.
pub(crate) struct Worker {
    config: BackendConfig,
    events: mpsc::Sender<Event>,
    waker: Waker,
    open: Option<Open>,
    relay: Option<LocalRelay>,
    /// Extra relays from an old `prefs.json`, to move into the next unlocked profile.
    legacy_relays: Vec<String>,
}

type Outcome = Result<(), (Request, Failure)>;

impl Worker {
    /// A worker with no profile open yet.
    pub(crate) fn new(config: BackendConfig, events: mpsc::Sender<Event>, waker: Waker) -> Self {
        Self {
            config,
            events,
            waker,
            open: None,
            relay: None,
            legacy_relays: Vec::new(),
        }
    }

    fn emit(&self, event: Event) {
        let _ = self.events.send(event);
        (self.waker)();
    }

    fn now(&self) -> u64 {
        self.config.clock.now_ms()
    }

    fn dial(&self) -> DialOptions {
        DialOptions {
            allow_plaintext_loopback: self.config.allow_plaintext_loopback,
            ..DialOptions::default()
        }
    }

    /// Runs until the UI drops its command sender.
    pub(crate) async fn run(mut self, mut commands: UnboundedReceiver<Command>) {
        self.emit(Event::ProfileExists(Profile::exists(
            &self.config.profile_dir,
        )));
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => {
                        if let Err((request, error)) = self.handle(command).await {
                            self.emit(Event::Failed {
                                request,
                                error: Box::new(error),
                            });
                        }
                    }
                    None => break,
                },
                Some(event) = next_event(&mut self.open) => self.on_events(event).await,
            }
        }
        self.close().await;
        self.relay = None;
    }

    async fn handle(&mut self, command: Command) -> Outcome {
        match command {
            Command::StartLocalRelay { listen, any_port } => self
                .start_relay(&listen, any_port)
                .await
                .map_err(|e| (Request::StartRelay, e)),
            Command::CreateProfile {
                name,
                passphrase,
                relay,
            } => {
                let relay: RelayAddress = relay
                    .trim()
                    .parse()
                    .map_err(|e| (Request::CreateProfile, Failure::Address(format!("{e}"))))?;
                // Connect once first (pin and the relay's challenge): a wrong
                // address or pin is reported now, not at the first invite.
                probe(&relay, &self.dial()).await.map_err(|e| {
                    (
                        Request::CreateProfile,
                        Failure::Messenger(MessengerError::Net(e)),
                    )
                })?;
                let opts = InitOptions {
                    dir: &self.config.profile_dir,
                    passphrase: passphrase.as_bytes(),
                    kdf: self.config.kdf,
                    name: &name,
                    relay,
                    access_token: None,
                };
                let client = Client::init(&opts, self.now())
                    .map_err(|e| (Request::CreateProfile, e.into()))?;
                self.opened(client).await;
                Ok(())
            }
            Command::Unlock { passphrase } => {
                let opened = Client::open(&self.config.profile_dir, passphrase.as_bytes());
                self.unlocked(opened).await
            }
            Command::Import { file, passphrase } => {
                let opened = Client::import(
                    &file,
                    &self.config.profile_dir,
                    passphrase.as_bytes(),
                    self.now(),
                );
                self.unlocked(opened).await
            }
            Command::Lock => {
                self.close().await;
                self.emit(Event::Locked);
                Ok(())
            }
            Command::Notify { summary, body } => {
                tokio::task::spawn_blocking(move || crate::notify::show(&summary, &body));
                Ok(())
            }
            Command::SavePrefs { prefs, path } => prefs.save(&path).map_err(|e| {
                (
                    Request::Settings,
                    Failure::File(format!(
                        "could not save preferences to {}: {e}",
                        path.display()
                    )),
                )
            }),
            Command::AdoptLegacyRelays(list) => {
                self.legacy_relays = list;
                if self.open.is_some() {
                    self.move_legacy_relays().await;
                    self.load_extra_relays().await;
                    self.probe_extra_relays().await;
                }
                Ok(())
            }
            other => self.with_profile(other).await,
        }
    }

    async fn start_relay(&mut self, listen: &str, any_port: bool) -> Result<(), Failure> {
        if self.relay.is_none() {
            let addr: SocketAddr = listen
                .parse()
                .map_err(|_| Failure::Relay(format!("{listen:?} is not an IP address and port")))?;
            let relay = LocalRelay::start(addr, &self.config.relay_dir, any_port)
                .await
                .map_err(|e| match e {
                    StartError::PortTaken(port) => Failure::BuiltinPortTaken { port },
                    StartError::Relay(e) => Failure::Relay(e.to_string()),
                })?;
            self.relay = Some(relay);
        }
        if let Some(relay) = &self.relay {
            self.emit(Event::LocalRelayStarted {
                address: relay.address().to_owned(),
                listen: relay.listen().to_string(),
            });
        }
        Ok(())
    }

    async fn unlocked(&mut self, opened: Result<Client, ClientError>) -> Outcome {
        match opened {
            Ok(client) => {
                self.opened(client).await;
                Ok(())
            }
            Err(ClientError::Profile(ProfileError::WrongPassphrase)) => Err((
                Request::Unlock,
                Failure::Client(ClientError::Profile(ProfileError::WrongPassphrase)),
            )),
            Err(e) => Err((Request::Unlock, e.into())),
        }
    }

    /// Starts the messenger on a freshly opened profile and shows it.
    async fn opened(&mut self, client: Client) {
        let info = profile_info(&client);
        let config = MessengerConfig {
            dial: self.dial(),
            clock: {
                let clock = self.config.clock.clone();
                std::sync::Arc::new(move || clock.now_ms())
            },
            ..MessengerConfig::default()
        };
        let (messenger, events) = Messenger::start(client, config);
        self.emit(Event::Unlocked(info.clone()));
        self.open = Some(Open {
            messenger,
            events,
            info,
            open_chat: None,
            summaries: Summaries::default(),
            health: HashMap::new(),
            extra_relays: Vec::new(),
        });
        self.refresh_contacts(None).await;
        self.load_invites().await;
        self.move_legacy_relays().await;
        self.load_extra_relays().await;
        self.emit_relays().await;
        self.probe_extra_relays().await;
    }

    /// Stops the messenger (the client and its keys are dropped with it).
    /// A verification was recorded: the UI hears it, the contact row and the
    /// chat's event line follow.
    async fn verification_changed(&mut self, contact: ContactId, verified: bool) {
        self.emit(Event::Verified { contact, verified });
        self.refresh_contacts(Some(&[contact])).await;
        self.show_new_events(contact).await;
    }

    async fn close(&mut self) {
        if let Some(open) = self.open.take() {
            let _ = open.messenger.stop().await;
        }
    }

    async fn with_profile(&mut self, command: Command) -> Outcome {
        let now = self.now();
        let Some(open) = self.open.as_mut() else {
            return Err((Request::Load, Failure::Locked));
        };
        let m = open.messenger.clone();
        let fail =
            |request: Request| move |e: cairn_core::messenger::MessengerError| (request, e.into());
        match command {
            Command::CreateInvite { relay } => {
                let relay = match relay {
                    Some(text) => Some(
                        text.parse::<RelayAddress>()
                            .map_err(|e| (Request::Invite, Failure::Address(e.to_string())))?,
                    ),
                    None => None,
                };
                let invite = m
                    .create_invite(relay)
                    .await
                    .map_err(fail(Request::Invite))?;
                self.emit(Event::Invite(invite.uri));
                self.load_invites().await;
            }
            Command::RevokeInvite { id } => {
                m.revoke_invite(id).await.map_err(fail(Request::Invite))?;
                self.load_invites().await;
            }
            Command::AcceptInvite { invite, name } => {
                // The contact appears through the messenger's ContactAdded event.
                m.accept_invite(&invite, &name)
                    .await
                    .map_err(fail(Request::Accept))?;
            }
            Command::OpenChat { contact } => {
                open.open_chat = Some(contact);
                let page = m
                    .query(move |c| c.timeline_page(contact, None, PAGE))
                    .await
                    .and_then(|r| r.map_err(Into::into))
                    .map_err(fail(Request::Load))?;
                self.emit(Event::Timeline {
                    contact,
                    items: page.items,
                    older: page.older,
                });
                self.mark_read(contact).await;
            }
            Command::OpenChatAt { contact, message } => {
                open.open_chat = Some(contact);
                let page = m
                    .query(move |c| c.timeline_through(contact, message, PAGE / 2))
                    .await
                    .and_then(|r| r.map_err(Into::into))
                    .map_err(fail(Request::Load))?;
                self.emit(Event::Timeline {
                    contact,
                    items: page.items,
                    older: page.older,
                });
                self.mark_read(contact).await;
            }
            Command::LoadOlder { contact, before } => {
                let page = m
                    .query(move |c| c.timeline_page(contact, Some(before), PAGE))
                    .await
                    .and_then(|r| r.map_err(Into::into))
                    .map_err(fail(Request::Load))?;
                self.emit(Event::OlderPage {
                    contact,
                    items: page.items,
                    older: page.older,
                });
            }
            Command::CloseChat => open.open_chat = None,
            Command::SetProfileName { name } => {
                let info = m
                    .update(move |c| c.set_name(&name).map(|()| profile_info(c)))
                    .await
                    .and_then(|r| r.map_err(Into::into))
                    .map_err(fail(Request::Settings))?;
                open.info = info.clone();
                self.emit(Event::Profile(info));
                self.emit(Event::Notice("Display name changed.".into()));
            }
            Command::RenameContact { contact, new_name } => {
                let (from, renamed) = m
                    .update(move |c| {
                        let from = c.contact(contact)?.name;
                        c.rename_contact(contact, &new_name).map(|r| (from, r))
                    })
                    .await
                    .and_then(|r| r.map_err(Into::into))
                    .map_err(fail(Request::Settings))?;
                self.emit(Event::Renamed {
                    contact,
                    from,
                    to: renamed.name,
                });
                self.refresh_contacts(Some(&[contact])).await;
            }
            Command::Send { contact, text } => {
                // The sealed message comes back as a MessageAdded event, once.
                m.send_texts(contact, vec![text])
                    .await
                    .map_err(fail(Request::Send))?;
            }
            Command::LoadSafetyQr { contact } => {
                // Two fingerprint derivations: here, not on the UI thread.
                let (digits, payload) = m
                    .query(move |c| {
                        Ok::<_, ClientError>((c.fingerprint(contact)?, c.safety_qr(contact)?))
                    })
                    .await
                    .and_then(|r| r.map_err(Into::into))
                    .map_err(fail(Request::Verify))?;
                self.emit(Event::SafetyQr {
                    contact,
                    digits,
                    payload,
                });
            }
            Command::VerifyImage { contact, path } => {
                // Decoding a picture takes a while and reads untrusted bytes:
                // off the runtime's threads (bounded: cairn_core::qr_image).
                let read = tokio::task::spawn_blocking(move || {
                    cairn_core::qr_image::read_safety_qr(&path)
                })
                .await
                .map_err(|e| (Request::Verify, Failure::File(e.to_string())))?;
                let scanned = read.map_err(|e| (Request::Verify, e.into()))?;
                m.update(move |c| c.verify_qr(contact, &scanned, now))
                    .await
                    .and_then(|r| r.map_err(Into::into))
                    .map_err(fail(Request::Verify))?;
                self.verification_changed(contact, true).await;
            }
            Command::Verify { contact, digits } => {
                m.update(move |c| c.verify(contact, &digits, now))
                    .await
                    .and_then(|r| r.map_err(Into::into))
                    .map_err(fail(Request::Verify))?;
                self.verification_changed(contact, true).await;
            }
            Command::SetVerification { contact, how } => {
                m.update(move |c| c.set_verification(contact, how, now))
                    .await
                    .and_then(|r| r.map_err(Into::into))
                    .map_err(fail(Request::Verify))?;
                self.verification_changed(contact, how != Verification::Cleared)
                    .await;
            }
            Command::AcceptKeyChange { contact } => {
                m.update(move |c| c.accept_key_change(contact, now))
                    .await
                    .and_then(|r| r.map_err(Into::into))
                    .map_err(fail(Request::AcceptKey))?;
                self.refresh_contacts(Some(&[contact])).await;
                // Held messages became visible: the chat is shown afresh.
                if self.open.as_ref().and_then(|o| o.open_chat) == Some(contact) {
                    return Box::pin(self.with_profile(Command::OpenChat { contact })).await;
                }
            }
            Command::Search { query } => {
                let hits = m
                    .query(move |c| c.search(&query, 200))
                    .await
                    .and_then(|r| r.map_err(Into::into))
                    .map_err(fail(Request::Load))?;
                self.emit(Event::SearchResults(hits));
            }
            Command::Export { file, passphrase } => {
                let target = file.clone();
                m.query(move |c| c.export(&target, passphrase.as_bytes()))
                    .await
                    .and_then(|r| r.map_err(Into::into))
                    .map_err(fail(Request::Settings))?;
                self.emit(Event::Notice(format!(
                    "Encrypted backup written to {}",
                    file.display()
                )));
            }
            Command::AddExtraRelay(text) => {
                m.update(move |c| c.add_extra_relay(&text, now))
                    .await
                    .and_then(|r| r.map_err(Into::into))
                    .map_err(fail(Request::Settings))?;
                self.load_extra_relays().await;
                self.probe_extra_relays().await;
            }
            Command::ChangeHomeRelay(text) => {
                let relay: RelayAddress = text.parse().map_err(|e: AddressError| {
                    (Request::Settings, Failure::Address(e.to_string()))
                })?;
                let moving = m
                    .change_home_relay(relay, None)
                    .await
                    .map_err(fail(Request::Settings))?;
                let info = m
                    .query(profile_info)
                    .await
                    .map_err(fail(Request::Settings))?;
                open.info = info.clone();
                self.emit(Event::Profile(info));
                self.load_extra_relays().await;
                self.emit_relays().await;
                self.emit(Event::Notice(format!(
                    "{text} is your home relay now. {moving} conversation(s) move there: each \
                     contact follows the next time they are online."
                )));
            }
            Command::RemoveExtraRelay(text) => {
                let gone = text.clone();
                m.update(move |c| c.remove_extra_relay(&text))
                    .await
                    .and_then(|r| r.map_err(Into::into))
                    .map_err(fail(Request::Settings))?;
                if let Some(open) = self.open.as_mut() {
                    open.health.remove(&gone);
                }
                self.load_extra_relays().await;
                self.emit_relays().await;
            }
            Command::SetAllowPrivateRelays(allow) => {
                m.update(move |c| c.set_allow_private_relays(allow))
                    .await
                    .and_then(|r| r.map_err(Into::into))
                    .map_err(fail(Request::Settings))?;
                self.emit(Event::AllowPrivateRelays(allow));
            }
            Command::CheckRelays => self.probe_extra_relays().await,
            // Handled before a profile is needed (see `handle`).
            Command::StartLocalRelay { .. }
            | Command::CreateProfile { .. }
            | Command::Unlock { .. }
            | Command::Import { .. }
            | Command::Lock
            | Command::Notify { .. }
            | Command::SavePrefs { .. }
            | Command::AdoptLegacyRelays(_) => {}
        }
        Ok(())
    }

    /// Marks the open chat read (read receipts follow at a random moment).
    async fn mark_read(&mut self, contact: ContactId) {
        let Some(open) = self.open.as_mut() else {
            return;
        };
        if open.messenger.mark_read(contact).await.unwrap_or(0) > 0 {
            self.refresh_contacts(Some(&[contact])).await;
        }
    }

    /// New events of a contact that a local action stored (a verification):
    /// they are not messenger events, so they are read back once.
    async fn show_new_events(&mut self, contact: ContactId) {
        let Some(open) = self.open.as_ref() else {
            return;
        };
        if open.open_chat != Some(contact) {
            return;
        }
        let page = open
            .messenger
            .query(move |c| c.timeline_page(contact, None, PAGE))
            .await;
        if let Ok(Ok(page)) = page {
            self.emit(Event::Timeline {
                contact,
                items: page.items,
                older: page.older,
            });
        }
    }

    /// Applies a burst of messenger events: forwards what changed, then
    /// refreshes each touched contact row once.
    /// Sends the UI our open invites.
    async fn load_invites(&mut self) {
        let Some(open) = self.open.as_ref() else {
            return;
        };
        let now = self.now();
        match open.messenger.query(move |c| c.open_invites(now)).await {
            Ok(Ok(list)) => self.emit(Event::Invites(list)),
            Ok(Err(e)) => self.emit(Event::Failed {
                request: Request::Invite,
                error: Box::new(Failure::Client(e)),
            }),
            Err(e) => self.emit(Event::Failed {
                request: Request::Invite,
                error: Box::new(Failure::Messenger(e)),
            }),
        }
    }

    async fn on_events(&mut self, first: MessengerEvent) {
        let mut touched: BTreeSet<ContactId> = BTreeSet::new();
        let mut relays_changed = false;
        let mut invites_changed = false;
        let mut read_open = false;
        let mut next = Some(first);
        while let Some(event) = next {
            match event {
                MessengerEvent::Client(event) => {
                    if let Some(c) = event.contact() {
                        touched.insert(c);
                    }
                    // Someone used one of our invites, or we accepted one.
                    invites_changed |= matches!(event, ClientEvent::ContactAdded { .. });
                    read_open |= self.forward(event);
                }
                MessengerEvent::Relay { relay, state } => {
                    if let Some(open) = self.open.as_mut() {
                        let health = match state {
                            RelayState::Up => RelayHealth::Connected,
                            RelayState::Down { error, .. } => {
                                RelayHealth::Failed(error.to_string())
                            }
                        };
                        open.health.insert(relay, health);
                        relays_changed = true;
                    }
                }
                MessengerEvent::Outbox { queued } => self.emit(Event::Outbox(queued)),
                MessengerEvent::ReceiveFailed(e) => self.emit(Event::Failed {
                    request: Request::Receive,
                    error: Box::new(Failure::Client(e)),
                }),
            }
            next = self.open.as_mut().and_then(|o| o.events.try_recv());
        }
        if read_open && let Some(open_chat) = self.open.as_ref().and_then(|o| o.open_chat) {
            self.mark_read(open_chat).await;
        }
        if !touched.is_empty() {
            let touched: Vec<ContactId> = touched.into_iter().collect();
            self.refresh_contacts(Some(&touched)).await;
        }
        if invites_changed {
            self.load_invites().await;
        }
        if relays_changed {
            self.emit_relays().await;
        }
    }

    /// Forwards one client event; `true` if a message arrived in the open chat.
    fn forward(&mut self, event: ClientEvent) -> bool {
        let open_chat = self.open.as_ref().and_then(|o| o.open_chat);
        match event {
            ClientEvent::Message { message } => {
                let incoming = message.direction == Direction::Incoming;
                let in_open = open_chat == Some(message.contact);
                if incoming {
                    let name = self
                        .open
                        .as_ref()
                        .and_then(|o| o.summaries.name(message.contact))
                        .unwrap_or_default();
                    self.emit(Event::Incoming {
                        name,
                        body: message.body.clone(),
                    });
                }
                self.emit(Event::MessageAdded(message));
                incoming && in_open
            }
            ClientEvent::ContactAdded { contact } => {
                self.emit(Event::ContactAdded {
                    contact: contact.id,
                    name: contact.name,
                });
                false
            }
            ClientEvent::StatusChanged {
                contact,
                counters,
                status,
            } => {
                self.emit(Event::StatusChanged {
                    contact,
                    counters,
                    status,
                });
                false
            }
            ClientEvent::Integrity { event } => {
                self.emit(Event::IntegrityAdded(event));
                false
            }
            ClientEvent::ContactChanged { .. } | ClientEvent::Held { .. } => false,
        }
    }

    /// Sends the rows of `only` (every contact if `None`).
    async fn refresh_contacts(&mut self, only: Option<&[ContactId]>) {
        let Some(open) = self.open.as_mut() else {
            return;
        };
        match open.summaries.refresh(&open.messenger, only).await {
            Ok(rows) => match only {
                None => self.emit(Event::Contacts(rows)),
                Some(_) => {
                    for row in rows {
                        self.emit(Event::ContactUpdated(Box::new(row)));
                    }
                }
            },
            Err(e) => self.emit(Event::Failed {
                request: Request::Load,
                error: Box::new(e.into()),
            }),
        }
    }

    /// Home relay first, then the extra relays, then every relay a contact uses.
    async fn emit_relays(&self) {
        let Some(open) = self.open.as_ref() else {
            return;
        };
        let contacts = open
            .messenger
            .query(|c| c.contacts())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let mut list = vec![open.info.home_relay.clone()];
        let used: BTreeSet<String> = contacts.iter().map(|c| c.relay.clone()).collect();
        for r in open
            .extra_relays
            .iter()
            .cloned()
            .chain(contacts.into_iter().map(|c| c.relay))
        {
            if !list.contains(&r) {
                list.push(r);
            }
        }
        let rows = list
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
                    extra: i > 0 && open.extra_relays.contains(&text),
                    in_use: i == 0 || used.contains(&text),
                    health: open
                        .health
                        .get(&text)
                        .cloned()
                        .unwrap_or(RelayHealth::Unknown),
                    full: text,
                }
            })
            .collect();
        self.emit(Event::Relays(rows));
    }
}

/// The next messenger event, or never while locked.
async fn next_event(open: &mut Option<Open>) -> Option<MessengerEvent> {
    match open {
        Some(open) => open.events.recv().await,
        None => std::future::pending().await,
    }
}

/// Who we are, as the UI shows it.
fn profile_info(client: &Client) -> ProfileInfo {
    ProfileInfo {
        name: client.name().to_owned(),
        home_relay: client.home_relay().to_string(),
        dir: client.dir().to_path_buf(),
    }
}
