//! The application: UI state, the backend handle, and the frame function.
//!
//! [`CairnApp::show`] is everything a frame does, so tests drive exactly the
//! code the window runs (through `egui_kittest`), without eframe.

use std::collections::HashMap;
use std::path::PathBuf;

use cairn_core::store::{ContactId, MessageRecord};
use egui::{Color32, RichText, Ui};

use crate::backend::{Backend, BackendConfig, Waker};
use crate::chat::window::Timeline;
use crate::chat::{self, ChatAction, ChatUi};
use crate::clock::{Clock, Zone};
use crate::commands::{Command, ContactSummary, ProfileInfo, RelayHealth, RelayStatus};
use crate::prefs::{Prefs, ThemeChoice, default_data_dir};
use crate::screens::add_contact;
use crate::screens::add_contact::AddContactForm;
use crate::screens::contacts::{self, Sidebar, SidebarAction};
use crate::screens::onboarding::{self, OnboardingForm};
use crate::screens::settings::{self, SettingsForm, SettingsView};
use crate::screens::verify::{self, VerifyAction, VerifyForm};

/// How the app is set up: where its files are, which clock it reads.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// Backend settings (profile dir, relay dir, KDF cost, clock).
    pub backend: BackendConfig,
    /// Preferences file; `None` keeps preferences in memory only (tests).
    pub prefs_path: Option<PathBuf>,
    /// Port the built-in relay listens on (0: any free port, for tests).
    pub builtin_port: u16,
    /// Time zone for showing times (the system's; fixed in tests).
    pub zone: Zone,
}

impl AppOptions {
    /// Production layout under `data_dir` (`$CAIRN_DATA_DIR`, else the XDG data dir).
    pub fn from_env() -> Self {
        let data_dir = std::env::var_os("CAIRN_DATA_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(default_data_dir);
        Self {
            prefs_path: Some(data_dir.join("prefs.json")),
            backend: BackendConfig::new(data_dir, Clock::system()),
            builtin_port: onboarding::BUILTIN_PORT,
            zone: Zone::system(),
        }
    }
}

/// Which stage of the app we are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for the backend to say whether a profile exists.
    Starting,
    /// First run: create a profile.
    Create,
    /// A profile exists and is locked.
    Unlock,
    /// Unlocked.
    Main,
}

/// The right-hand pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pane {
    /// Nothing selected.
    Empty,
    /// A conversation.
    Chat(ContactId),
    /// Add contact.
    AddContact,
    /// Verify a contact's safety number.
    Verify(ContactId),
    /// Settings.
    Settings,
}

/// A message across the top of the window.
#[derive(Debug, Clone)]
pub struct Banner {
    /// Text.
    pub text: String,
    /// Shown in the error colour (and kept until dismissed).
    pub error: bool,
    /// UI time when first drawn.
    pub shown_at: Option<f64>,
}

/// How long a notice (not an error) stays up, in seconds.
const NOTICE_SECS: f64 = 6.0;

/// The Cairn desktop app.
pub struct CairnApp {
    pub(crate) backend: Backend,
    pub(crate) clock: Clock,
    pub(crate) zone: Zone,
    pub(crate) prefs: Prefs,
    pub(crate) prefs_path: Option<PathBuf>,
    applied_theme: Option<ThemeChoice>,
    pub(crate) phase: Phase,
    pub(crate) profile: Option<ProfileInfo>,
    pub(crate) local_relay: Option<String>,
    pub(crate) unlock_error: Option<String>,
    pub(crate) contacts: Vec<ContactSummary>,
    pub(crate) timeline: Option<Timeline>,
    pub(crate) pane: Pane,
    pub(crate) onboarding: OnboardingForm,
    pub(crate) add_contact: AddContactForm,
    pub(crate) verify: VerifyForm,
    pub(crate) settings: SettingsForm,
    pub(crate) chat_ui: ChatUi,
    pub(crate) drafts: HashMap<ContactId, String>,
    /// The pointer is on the contact list (its order is then kept still).
    pub(crate) pointer_on_contacts: bool,
    /// A row changed while the list was kept still: sort when the pointer leaves.
    pub(crate) contacts_unsorted: bool,
    pub(crate) query: String,
    pub(crate) results: Vec<MessageRecord>,
    pub(crate) relays: Vec<RelayStatus>,
    /// The profile's extra relays (from the backend; empty while locked).
    pub(crate) extra_relays: Vec<String>,
    /// Relays on private networks allowed in invites and handshakes (profile setting).
    pub(crate) allow_private_relays: bool,
    pub(crate) outbox: usize,
    pub(crate) banner: Option<Banner>,
    pub(crate) focus_search: bool,
    pub(crate) scroll_to_message: Option<i64>,
    /// Pages of history received that replaced the open chat (tests count them).
    pub(crate) timeline_loads: u32,
    /// UI time of the last keyboard or pointer input, for the idle lock.
    pub(crate) last_input: f64,
}

impl std::fmt::Debug for CairnApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CairnApp")
            .field("phase", &self.phase)
            .field("pane", &self.pane)
            .finish_non_exhaustive()
    }
}

impl CairnApp {
    /// Starts the backend and loads preferences; `waker` requests a repaint.
    pub fn new(options: AppOptions, waker: Waker) -> std::io::Result<Self> {
        let prefs = options
            .prefs_path
            .as_deref()
            .map(Prefs::load)
            .unwrap_or_default();
        let clock = options.backend.clock.clone();
        let backend = Backend::spawn(options.backend, waker)?;
        if let Some(listen) = &prefs.builtin_relay {
            // Contacts know it by this port: it may not move.
            backend.send(Command::StartLocalRelay {
                listen: listen.clone(),
                any_port: false,
            });
        }
        if !prefs.extra_relays.is_empty() {
            backend.send(Command::AdoptLegacyRelays(prefs.extra_relays.clone()));
        }
        Ok(Self {
            backend,
            clock,
            zone: options.zone,
            prefs,
            prefs_path: options.prefs_path,
            applied_theme: None,
            phase: Phase::Starting,
            profile: None,
            local_relay: None,
            unlock_error: None,
            contacts: Vec::new(),
            timeline: None,
            pane: Pane::Empty,
            onboarding: OnboardingForm {
                port: options.builtin_port,
                ..OnboardingForm::default()
            },
            add_contact: AddContactForm::default(),
            verify: VerifyForm::default(),
            settings: SettingsForm::default(),
            chat_ui: ChatUi::default(),
            drafts: HashMap::new(),
            pointer_on_contacts: false,
            contacts_unsorted: false,
            query: String::new(),
            results: Vec::new(),
            relays: Vec::new(),
            extra_relays: Vec::new(),
            allow_private_relays: false,
            outbox: 0,
            banner: None,
            focus_search: false,
            scroll_to_message: None,
            timeline_loads: 0,
            last_input: 0.0,
        })
    }

    /// The current stage.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The current pane.
    pub fn pane(&self) -> &Pane {
        &self.pane
    }

    /// The open conversation's history, once loaded.
    pub fn timeline(&self) -> Option<&Timeline> {
        self.timeline.as_ref()
    }

    /// The contact list as last reported.
    pub fn contacts(&self) -> &[ContactSummary] {
        &self.contacts
    }

    /// The built-in relay's address, once it runs.
    pub fn local_relay(&self) -> Option<&str> {
        self.local_relay.as_deref()
    }

    /// Our display name, once unlocked.
    pub fn profile_name(&self) -> Option<&str> {
        self.profile.as_ref().map(|p| p.name.as_str())
    }

    /// True once the profile allows relays on private networks in invites.
    pub fn allow_private_relays(&self) -> bool {
        self.allow_private_relays
    }

    /// Our invite link, once created.
    pub fn invite(&self) -> Option<&str> {
        self.add_contact.invite.as_deref()
    }

    /// The relays we use, with their reachability as last seen.
    pub fn relays(&self) -> &[RelayStatus] {
        &self.relays
    }

    /// Our invites nobody has used yet, as last loaded.
    pub fn open_invites(&self) -> &[cairn_core::client::OpenInvite] {
        &self.add_contact.open
    }

    /// Why accepting the pasted invite failed, while that is shown.
    pub fn accept_error(&self) -> Option<&str> {
        self.add_contact.accept_error.as_deref()
    }

    /// Our safety-number QR payload the verify pane shows, once computed.
    pub fn safety_qr(&self) -> Option<&[u8]> {
        self.verify
            .qr_payload
            .as_ref()
            .map(|(_, _, p)| p.as_slice())
    }

    /// Replaces the open chat's history directly (benchmarks and previews).
    pub fn set_timeline(&mut self, timeline: Timeline) {
        self.timeline = Some(timeline);
    }

    /// Shows a contact list and opens a pane without a backend round trip (benchmarks).
    pub fn preview(&mut self, contacts: Vec<ContactSummary>, pane: Pane) {
        self.phase = Phase::Main;
        self.contacts = contacts;
        self.pane = pane;
    }

    /// The message highlighted in the open chat (a search hit), if any.
    pub fn highlighted(&self) -> Option<i64> {
        self.chat_ui.highlight
    }

    /// How many times the open chat was replaced by a page from the backend
    /// (opening a chat does it once; new messages never should).
    pub fn timeline_loads(&self) -> u32 {
        self.timeline_loads
    }

    /// The preferences, to change them as the settings screen does (tests).
    pub fn prefs_mut(&mut self) -> &mut Prefs {
        &mut self.prefs
    }

    /// The contact `id`'s row, if listed.
    pub fn contact(&self, id: ContactId) -> Option<&ContactSummary> {
        self.contacts.iter().find(|c| c.contact.id == id)
    }

    /// The contact called `name`, if listed (tests and benchmarks find
    /// contacts the way a user does).
    pub fn contact_named(&self, name: &str) -> Option<ContactId> {
        self.contacts
            .iter()
            .find(|c| c.contact.name == name)
            .map(|c| c.contact.id)
    }

    /// Work that does not draw: applies every event the backend sent. Runs
    /// before each frame, and also when no frame is drawn (a hidden window
    /// still gets its notifications).
    pub fn logic(&mut self, ctx: &egui::Context) {
        self.poll_events(ctx);
        self.idle_lock(ctx);
    }

    /// Locks the profile after the chosen time without keyboard or pointer
    /// input (settings; 0 turns it off).
    fn idle_lock(&mut self, ctx: &egui::Context) {
        let (now, active) = ctx.input(|i| (i.time, !i.events.is_empty() || i.pointer.is_moving()));
        if active || self.phase != Phase::Main {
            self.last_input = now;
        }
        let limit = f64::from(self.prefs.auto_lock_minutes) * 60.0;
        if self.phase != Phase::Main || limit <= 0.0 {
            return;
        }
        let idle = now - self.last_input;
        if idle >= limit {
            self.last_input = now;
            self.backend.send(Command::Lock);
        } else {
            ctx.request_repaint_after(std::time::Duration::from_secs_f64(limit - idle));
        }
    }

    /// A whole frame as the window runs it: [`Self::logic`], then [`Self::show`].
    pub fn frame(&mut self, ui: &mut Ui) {
        self.logic(ui.ctx());
        self.show(ui);
    }

    /// Everything one frame draws.
    pub fn show(&mut self, ui: &mut Ui) {
        self.apply_theme(ui.ctx());
        if self.phase == Phase::Main {
            self.shortcuts(ui.ctx());
        }
        match self.phase {
            Phase::Starting => {
                egui::CentralPanel::default().show(ui, |ui| {
                    ui.centered_and_justified(|ui| ui.spinner());
                });
            }
            Phase::Create => {
                egui::CentralPanel::default().show(ui, |ui| {
                    if let Some(cmd) = onboarding::show_create(
                        ui,
                        &mut self.onboarding,
                        self.local_relay.as_deref(),
                    ) {
                        self.backend.send(cmd);
                    }
                });
            }
            Phase::Unlock => {
                egui::CentralPanel::default().show(ui, |ui| {
                    if let Some(cmd) = onboarding::show_unlock(
                        ui,
                        &mut self.onboarding,
                        self.unlock_error.as_deref(),
                    ) {
                        self.backend.send(cmd);
                    }
                });
            }
            Phase::Main => self.main_layout(ui),
        }
        self.toast(ui);
    }

    pub(crate) fn save_prefs(&self) {
        if let Some(path) = &self.prefs_path {
            self.backend.send(Command::SavePrefs {
                prefs: self.prefs.clone(),
                path: path.clone(),
            });
        }
    }

    fn apply_theme(&mut self, ctx: &egui::Context) {
        if self.applied_theme != Some(self.prefs.theme) {
            ctx.set_theme(match self.prefs.theme {
                ThemeChoice::System => egui::ThemePreference::System,
                ThemeChoice::Light => egui::ThemePreference::Light,
                ThemeChoice::Dark => egui::ThemePreference::Dark,
            });
            self.applied_theme = Some(self.prefs.theme);
        }
    }

    /// The notice or error as a toast over the bottom right of the window:
    /// it never moves the layout under the user's pointer. Notices fade after
    /// a few seconds; errors stay until dismissed.
    fn toast(&mut self, ui: &mut Ui) {
        let Some(banner) = self.banner.as_mut() else {
            return;
        };
        let now = ui.input(|i| i.time);
        let since = *banner.shown_at.get_or_insert(now);
        if !banner.error && now - since > NOTICE_SECS {
            self.banner = None;
            return;
        }
        if !banner.error {
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_secs_f64(NOTICE_SECS));
        }
        let (fill, text) = if banner.error {
            (
                Color32::from_rgb(0xfb, 0xe3, 0xe1),
                Color32::from_rgb(0x8a, 0x1c, 0x12),
            )
        } else {
            (
                Color32::from_rgb(0xe2, 0xf3, 0xe6),
                Color32::from_rgb(0x1d, 0x5c, 0x2c),
            )
        };
        let message = banner.text.clone();
        let mut dismiss = false;
        egui::Area::new(ui.make_persistent_id("toast"))
            .order(egui::Order::Foreground)
            .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-16.0, -84.0))
            .show(ui.ctx(), |ui| {
                egui::Frame::new()
                    .fill(fill)
                    .stroke(egui::Stroke::new(1.0, text.gamma_multiply(0.3)))
                    .corner_radius(8.0)
                    .inner_margin(egui::Margin::symmetric(12, 8))
                    .shadow(ui.visuals().popup_shadow)
                    .show(ui, |ui| {
                        ui.set_max_width(460.0);
                        ui.horizontal(|ui| {
                            ui.add(egui::Label::new(RichText::new(&message).color(text)).wrap());
                            if ui.small_button("Dismiss").clicked() {
                                dismiss = true;
                            }
                        });
                    });
            });
        if dismiss {
            self.banner = None;
        }
    }

    fn main_layout(&mut self, ui: &mut Ui) {
        let selected = match &self.pane {
            Pane::Chat(id) | Pane::Verify(id) => Some(*id),
            _ => None,
        };
        self.relay_banner(ui);
        let mut sidebar_action = SidebarAction::None;
        egui::Panel::left("sidebar")
            .default_size(310.0)
            .size_range(240.0..=480.0)
            .show(ui, |ui| {
                sidebar_action = contacts::show(
                    ui,
                    Sidebar {
                        contacts: &self.contacts,
                        selected,
                        query: &mut self.query,
                        results: &self.results,
                        focus_search: std::mem::take(&mut self.focus_search),
                        zone: &self.zone,
                        today: self.zone.day_of(self.clock.now_ms()),
                        list_hovered: &mut self.pointer_on_contacts,
                    },
                );
                ui.add_space(4.0);
            });
        // Rows that changed while the pointer was on the list move now.
        if self.contacts_unsorted && !self.pointer_on_contacts {
            self.sort_contacts();
        }
        self.sidebar_action(sidebar_action);
        egui::CentralPanel::default().show(ui, |ui| self.pane_ui(ui));
    }

    /// A strip over the whole window while a relay our messages depend on
    /// is unreachable: an outage must read as "waiting", not as tampering,
    /// and must be seen without opening Settings.
    fn relay_banner(&mut self, ui: &mut Ui) {
        let down: Vec<&RelayStatus> = self
            .relays
            .iter()
            .filter(|r| r.in_use && matches!(r.health, RelayHealth::Failed(_)))
            .collect();
        let Some(first) = down.first() else {
            return;
        };
        let whose = if first.home {
            "your home relay"
        } else {
            "a contact's relay"
        };
        let mut text = format!("⚠ Cannot reach {whose} {}", first.address);
        if down.len() > 1 {
            text.push_str(&format!(" (and {} more)", down.len() - 1));
        }
        text.push_str(". Cairn keeps trying: what you send waits here");
        if self.outbox > 0 {
            // Receipts are queued too, so this is not a count of texts.
            text.push_str(&format!(" ({} queued)", self.outbox));
        }
        text.push_str(" and goes out when it is back; messages to you wait at the relay.");
        let detail = match &first.health {
            RelayHealth::Failed(e) => e.clone(),
            _ => String::new(),
        };
        let mut details = false;
        egui::Panel::top("relay-banner")
            .frame(
                egui::Frame::new()
                    .fill(Color32::from_rgb(0xfd, 0xf0, 0xd5))
                    .inner_margin(egui::Margin::symmetric(12, 6)),
            )
            .show(ui, |ui| {
                ui.horizontal_wrapped(|ui| {
                    ui.label(RichText::new(text).color(Color32::from_rgb(0x6b, 0x45, 0x00)))
                        .on_hover_text(detail);
                    details = ui.small_button("Relay details").clicked();
                });
            });
        if details {
            self.pane = Pane::Settings;
        }
    }

    fn sidebar_action(&mut self, action: SidebarAction) {
        match action {
            SidebarAction::None => {}
            SidebarAction::Open(contact) => self.open_chat(contact),
            SidebarAction::OpenAt(contact, id) => self.open_chat_at(contact, id),
            SidebarAction::Search(query) => {
                if query.is_empty() {
                    self.clear_search();
                } else {
                    self.backend.send(Command::Search { query });
                }
            }
            SidebarAction::AddContact => self.pane = Pane::AddContact,
            SidebarAction::Settings => self.pane = Pane::Settings,
        }
    }

    /// Empties the search: no results, and no message left highlighted.
    pub(crate) fn clear_search(&mut self) {
        self.query.clear();
        self.results.clear();
        self.chat_ui.highlight = None;
    }

    /// Opens `contact`'s conversation (loads its history, marks it read).
    pub(crate) fn open_chat(&mut self, contact: ContactId) {
        if let Pane::Chat(current) = &self.pane {
            let draft = std::mem::take(&mut self.chat_ui.draft);
            self.drafts.insert(*current, draft);
        }
        if self.pane == Pane::Chat(contact) {
            return;
        }
        if self.timeline.as_ref().is_some_and(|t| t.contact != contact) {
            self.timeline = None;
        }
        self.chat_ui = ChatUi {
            draft: self.drafts.remove(&contact).unwrap_or_default(),
            ..ChatUi::default()
        };
        self.pane = Pane::Chat(contact);
        self.backend.send(Command::OpenChat { contact });
    }

    /// Opens `contact`'s conversation at message `id` (a search hit), loading
    /// history back to it if it is not loaded yet.
    pub(crate) fn open_chat_at(&mut self, contact: ContactId, id: i64) {
        let loaded = self
            .timeline
            .as_ref()
            .is_some_and(|t| t.contact == contact && t.item_of_message(id).is_some());
        if self.pane != Pane::Chat(contact) {
            self.open_chat(contact);
        }
        self.chat_ui.highlight = Some(id);
        if loaded {
            self.chat_ui.scroll_to_message = Some(id);
        } else {
            self.scroll_to_message = Some(id);
            self.backend.send(Command::OpenChatAt {
                contact,
                message: id,
            });
        }
    }

    fn pane_ui(&mut self, ui: &mut Ui) {
        let today = self.zone.day_of(self.clock.now_ms());
        match self.pane.clone() {
            Pane::Empty => {
                ui.centered_and_justified(|ui| {
                    ui.label(
                        RichText::new("Select a chat, or add a contact to start one.")
                            .weak()
                            .size(16.0),
                    );
                });
            }
            Pane::Chat(id) => {
                let Some(contact) = self.contact(id).cloned() else {
                    ui.label("Loading…");
                    return;
                };
                match chat::show(
                    ui,
                    &contact,
                    self.timeline.as_mut(),
                    &mut self.chat_ui,
                    &self.zone,
                    today,
                ) {
                    ChatAction::None => {}
                    ChatAction::Verify => {
                        self.verify = VerifyForm::default();
                        self.pane = Pane::Verify(id);
                    }
                    ChatAction::Command(cmd) => self.backend.send(cmd),
                }
            }
            Pane::Verify(id) => {
                let Some(contact) = self.contact(id).cloned() else {
                    self.pane = Pane::Empty;
                    return;
                };
                match verify::show(ui, &contact, &mut self.verify) {
                    VerifyAction::None => {}
                    VerifyAction::Back => {
                        self.pane = Pane::Empty;
                        self.open_chat(id);
                    }
                    VerifyAction::Command(cmd) => self.backend.send(cmd),
                }
            }
            Pane::AddContact => {
                let now_secs = self.clock.now_ms() / 1000;
                if let Some(cmd) =
                    add_contact::show(ui, &mut self.add_contact, &self.extra_relays, now_secs)
                {
                    self.backend.send(cmd);
                }
            }
            Pane::Settings => {
                let before = self.prefs.clone();
                let view = SettingsView {
                    profile: self.profile.as_ref(),
                    relays: &self.relays,
                    extra_relays: &self.extra_relays,
                    allow_private_relays: self.allow_private_relays,
                    local_relay: self.local_relay.as_deref(),
                    outbox: self.outbox,
                    contacts: &self.contacts,
                };
                let cmd = settings::show(ui, view, &mut self.prefs, &mut self.settings);
                if self.prefs != before {
                    self.save_prefs();
                }
                if let Some(cmd) = cmd {
                    self.backend.send(cmd);
                }
            }
        }
    }
}

impl eframe::App for CairnApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        CairnApp::logic(self, ctx);
    }

    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}
