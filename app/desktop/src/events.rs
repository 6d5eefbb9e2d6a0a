//! Applying backend events to the UI state (once per frame, never blocking).

use crate::app::{Banner, CairnApp, Pane, Phase};
use crate::commands::{Command, Event};
use crate::screens::timeline::Timeline;

impl CairnApp {
    /// Drains every pending backend event.
    pub(crate) fn poll_events(&mut self, ctx: &egui::Context) {
        while let Some(event) = self.backend.try_recv() {
            self.apply(ctx, event);
        }
    }

    fn apply(&mut self, ctx: &egui::Context, event: Event) {
        match event {
            Event::ProfileExists(exists) => {
                self.phase = if exists { Phase::Unlock } else { Phase::Create };
            }
            Event::LocalRelayStarted(address) => {
                self.local_relay = Some(address);
                self.onboarding.busy = false;
            }
            Event::Unlocked(info) => {
                self.phase = Phase::Main;
                self.profile = Some(info);
                self.unlock_error = None;
                self.onboarding.busy = false;
                self.onboarding.pass.clear();
                self.onboarding.confirm.clear();
            }
            Event::UnlockFailed(message) => {
                self.onboarding.busy = false;
                self.onboarding.pass.clear();
                if self.phase == Phase::Unlock {
                    self.unlock_error = Some(message);
                } else {
                    self.error(message);
                }
            }
            Event::Locked => {
                self.phase = Phase::Unlock;
                self.profile = None;
                self.contacts.clear();
                self.extra_relays.clear();
                self.timeline = None;
                self.pane = Pane::Empty;
                self.results.clear();
                self.query.clear();
                self.drafts.clear();
                self.add_contact = Default::default();
                self.verify = Default::default();
                self.chat_ui = Default::default();
            }
            Event::Contacts(list) => self.contacts = list,
            Event::Timeline { name, items, older } => {
                let relevant = matches!(&self.pane, Pane::Chat(n) | Pane::Verify(n) if *n == name);
                if relevant {
                    self.timeline = Some(Timeline::page(name, items, older));
                    if let Some(id) = self.scroll_to_message.take() {
                        self.chat_ui.scroll_to_message = Some(id);
                    }
                }
            }
            Event::OlderPage { name, items, older } => {
                if let Some(t) = self.timeline.as_mut().filter(|t| t.name == name) {
                    t.prepend(items, older);
                }
            }
            Event::Profile(info) => self.profile = Some(info),
            Event::Renamed { from, to } => {
                match &mut self.pane {
                    Pane::Chat(n) | Pane::Verify(n) if *n == from => *n = to.clone(),
                    _ => {}
                }
                if let Some(t) = self.timeline.as_mut().filter(|t| t.name == from) {
                    t.name = to.clone();
                }
                if let Some(draft) = self.drafts.remove(&from) {
                    self.drafts.insert(to.clone(), draft);
                }
                self.settings.rename_to.clear();
                self.notice(format!("{from} is now called {to}."));
            }
            Event::Invite(uri) => {
                self.add_contact.invite = Some(uri);
                self.add_contact.creating = false;
                self.add_contact.error = None;
            }
            Event::ContactAdded(name) => {
                self.notice(format!(
                    "{name} is now a contact. Verify their safety number when you can."
                ));
            }
            Event::Incoming { contact, body } => {
                let focused = ctx.input(|i| i.viewport().focused).unwrap_or(true);
                if self.prefs.notifications && !focused {
                    self.backend.send(Command::Notify {
                        summary: contact,
                        body,
                    });
                }
            }
            Event::SearchResults(results) => self.results = results,
            Event::Verified(name) => {
                self.verify.error = None;
                self.verify.theirs.clear();
                self.notice(format!("{name} is verified."));
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
            Event::Error(text) => {
                self.onboarding.busy = false;
                if matches!(self.pane, Pane::Verify(_)) {
                    self.verify.error = Some(text.clone());
                }
                if self.pane == Pane::AddContact
                    && self.add_contact.invite.is_none()
                    && self.add_contact.creating
                {
                    self.add_contact.error = Some(text.clone());
                }
                self.error(text);
            }
        }
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
