//! Applying backend events to the UI state (every frame's `logic`, never
//! blocking). Each event changes what it names: a message is appended to
//! the open chat, a status raised in place, one contact row replaced.

use cairn_core::client::{ClientError, TimelineItem};
use cairn_core::profile::ProfileError;

use crate::app::{Banner, CairnApp, Pane, Phase};
use crate::chat::window::Timeline;
use crate::commands::{Command, ContactSummary, Event, Failure, Request};
use crate::prefs::NotificationContent;

/// What a notification about a message from `name` shows, per the user's choice.
pub(crate) fn notification(
    content: NotificationContent,
    name: String,
    body: String,
) -> Option<(String, String)> {
    match content {
        NotificationContent::Off => None,
        NotificationContent::NameOnly => Some((format!("New message from {name}"), String::new())),
        NotificationContent::NameAndText => Some((name, body)),
    }
}

/// The words shown for a failure: one place for every error text the UI shows.
pub(crate) fn failure_text(error: &Failure) -> String {
    match error {
        Failure::Client(ClientError::Profile(ProfileError::WrongPassphrase)) => {
            "Wrong passphrase. Check it and try again.".into()
        }
        other => other.to_string(),
    }
}

impl CairnApp {
    /// Drains every pending backend event.
    pub(crate) fn poll_events(&mut self, ctx: &egui::Context) {
        while let Some(event) = self.backend.try_recv() {
            self.apply(ctx, event);
        }
    }

    /// The open chat's contact, if a chat (or its verify pane) is shown.
    fn shown_contact(&self) -> Option<cairn_core::store::ContactId> {
        match &self.pane {
            Pane::Chat(id) | Pane::Verify(id) => Some(*id),
            _ => None,
        }
    }

    fn apply(&mut self, ctx: &egui::Context, event: Event) {
        match event {
            Event::ProfileExists(exists) => {
                self.phase = if exists { Phase::Unlock } else { Phase::Create };
            }
            Event::LocalRelayStarted { address, listen } => {
                self.local_relay = Some(address);
                self.onboarding.busy = false;
                // Remembered once it runs (a failed start is not), with the
                // port it really got.
                if self.prefs.builtin_relay.as_deref() != Some(listen.as_str()) {
                    self.prefs.builtin_relay = Some(listen);
                    self.save_prefs();
                }
            }
            Event::Unlocked(info) => {
                self.phase = Phase::Main;
                self.profile = Some(info);
                self.unlock_error = None;
                self.onboarding.busy = false;
                self.onboarding.pass.clear();
                self.onboarding.confirm.clear();
            }
            Event::Locked => {
                // Unsent drafts survive the lock (in memory only, never on
                // screen while locked): unlocking gives back what was typed.
                if let Pane::Chat(current) = self.pane {
                    let draft = std::mem::take(&mut self.chat_ui.draft);
                    if !draft.is_empty() {
                        self.drafts.insert(current, draft);
                    }
                }
                self.phase = Phase::Unlock;
                self.onboarding.focused_once = false;
                self.profile = None;
                self.contacts.clear();
                self.extra_relays.clear();
                self.timeline = None;
                self.pane = Pane::Empty;
                self.results.clear();
                self.query.clear();
                self.add_contact = Default::default();
                self.verify = Default::default();
                self.chat_ui = Default::default();
            }
            Event::Contacts(list) => self.contacts = list,
            Event::ContactUpdated(row) => self.update_row(*row),
            Event::Timeline {
                contact,
                items,
                older,
            } => {
                if self.shown_contact() == Some(contact) {
                    self.timeline = Some(Timeline::page(contact, items, older));
                    self.timeline_loads += 1;
                    if let Some(id) = self.scroll_to_message.take() {
                        self.chat_ui.scroll_to_message = Some(id);
                    }
                }
            }
            Event::OlderPage {
                contact,
                items,
                older,
            } => {
                if let Some(t) = self.timeline.as_mut().filter(|t| t.contact == contact) {
                    t.prepend(items, older);
                }
            }
            Event::MessageAdded(message) => {
                if let Some(t) = self
                    .timeline
                    .as_mut()
                    .filter(|t| t.contact == message.contact)
                {
                    t.push(TimelineItem::Message(message));
                }
            }
            Event::StatusChanged {
                contact,
                counters,
                status,
            } => {
                if let Some(t) = self.timeline.as_mut().filter(|t| t.contact == contact) {
                    t.set_status(&counters, status);
                }
            }
            // Tied to no conversation (someone else's traffic on an invite
            // mailbox, a refused handshake): said once, in the banner.
            Event::IntegrityAdded(event) if event.contact.is_none() => {
                let (text, _) = crate::chat::format::event_text(&event, &self.zone);
                self.notice(text);
            }
            Event::IntegrityAdded(event) => {
                if let Some(t) = self
                    .timeline
                    .as_mut()
                    .filter(|t| Some(t.contact) == event.contact)
                {
                    t.push(TimelineItem::Event(event));
                }
            }
            Event::Profile(info) => self.profile = Some(info),
            Event::Renamed { from, to, .. } => {
                self.settings.rename_to.clear();
                self.notice(format!("{from} is now called {to}."));
            }
            Event::Invites(list) => self.add_contact.set_open(list),
            Event::Invite(uri) => {
                self.add_contact.invite = Some(uri);
                self.add_contact.creating = false;
                self.add_contact.error = None;
            }
            Event::ContactAdded { name, .. } => {
                // Ours, if we were accepting an invite; otherwise someone
                // accepted ours and whatever is being typed stays.
                if self.add_contact.accepting {
                    self.add_contact.accepting = false;
                    self.add_contact.pasted.clear();
                    self.add_contact.name.clear();
                }
                self.notice(format!(
                    "{name} is now a contact. Verify their safety number when you can."
                ));
            }
            Event::Incoming { name, body } => {
                let focused = ctx.input(|i| i.viewport().focused).unwrap_or(true);
                if !focused
                    && let Some((summary, body)) =
                        notification(self.prefs.notifications, name, body)
                {
                    self.backend.send(Command::Notify { summary, body });
                }
            }
            Event::SearchResults(results) => self.results = results,
            Event::SafetyQr {
                contact,
                digits,
                payload,
            } => self.verify.qr_payload = Some((contact, digits, payload)),
            Event::Verified { contact, verified } => {
                self.verify.error = None;
                self.verify.theirs.clear();
                let name = self
                    .contact(contact)
                    .map(|c| c.contact.name.clone())
                    .unwrap_or_default();
                self.notice(if verified {
                    format!("{name} is verified.")
                } else {
                    format!("{name} is no longer verified.")
                });
            }
            Event::Relays(relays) => self.relays = relays,
            Event::ExtraRelays(list) => self.extra_relays = list,
            Event::AllowPrivateRelays(allowed) => self.allow_private_relays = allowed,
            Event::LegacyRelaysMoved => {
                self.prefs.extra_relays.clear();
                self.save_prefs();
            }
            Event::Outbox(n) => self.outbox = n,
            Event::Notice(text) => self.notice(text),
            Event::Failed { request, error } => self.failed(request, &error),
        }
    }

    /// Replaces (or adds) one contact row. The list is kept newest first,
    /// but not re-sorted while the pointer is on it: a row must not move
    /// away just as the user clicks it (see [`CairnApp::sort_contacts`]).
    fn update_row(&mut self, row: ContactSummary) {
        match self
            .contacts
            .iter_mut()
            .find(|c| c.contact.id == row.contact.id)
        {
            Some(existing) => *existing = row,
            None => self.contacts.push(row),
        }
        self.contacts_unsorted = true;
        if !self.pointer_on_contacts {
            self.sort_contacts();
        }
    }

    /// Puts the contact list in order again, newest first.
    pub(crate) fn sort_contacts(&mut self) {
        self.contacts.sort_by(|a, b| {
            b.last_at_ms
                .cmp(&a.last_at_ms)
                .then_with(|| a.contact.name.cmp(&b.contact.name))
        });
        self.contacts_unsorted = false;
    }

    /// Shows a failure where it was asked for.
    fn failed(&mut self, request: Request, error: &Failure) {
        let text = failure_text(error);
        self.onboarding.busy = false;
        match request {
            Request::Unlock if self.phase == Phase::Unlock => {
                self.onboarding.pass.clear();
                // The field takes the keyboard again (Enter had moved it
                // away): the user retypes at once.
                self.onboarding.focused_once = false;
                self.unlock_error = Some(text);
                return;
            }
            Request::Verify => self.verify.error = Some(text.clone()),
            Request::Invite => {
                self.add_contact.creating = false;
                self.add_contact.error = Some(text.clone());
            }
            Request::Accept => {
                // Shown under the form it belongs to, not twice.
                self.add_contact.accepting = false;
                self.add_contact.accept_error = Some(text);
                return;
            }
            _ => {}
        }
        self.error(text);
    }

    fn notice(&mut self, text: String) {
        self.banner = Some(Banner {
            text,
            error: false,
            shown_at: None,
        });
    }

    fn error(&mut self, text: String) {
        self.banner = Some(Banner {
            text,
            error: true,
            shown_at: None,
        });
    }
}
