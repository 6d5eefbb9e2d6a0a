//! The sidebar: who we are, search, and the contact list (or search results).

use cairn_core::store::{ContactId, MessageRecord};
use egui::{Align2, Color32, FontId, RichText, Sense, Ui, WidgetInfo, vec2};

use crate::clock::Zone;
use crate::commands::ContactSummary;

/// What the user picked in the sidebar.
#[derive(Debug, PartialEq, Eq)]
pub enum SidebarAction {
    /// Nothing.
    None,
    /// Open this contact's chat.
    Open(ContactId),
    /// Open a chat at a search hit (contact, message row id).
    OpenAt(ContactId, i64),
    /// Run a search.
    Search(String),
    /// Show the add-contact pane.
    AddContact,
    /// Show settings.
    Settings,
}

/// Sidebar inputs.
pub struct Sidebar<'a> {
    /// Contacts, most recent first.
    pub contacts: &'a [ContactSummary],
    /// Open chat, if any.
    pub selected: Option<ContactId>,
    /// Search box text.
    pub query: &'a mut String,
    /// Results of the last search.
    pub results: &'a [MessageRecord],
    /// Focus the search box this frame (Ctrl+F).
    pub focus_search: bool,
    /// Time zone for the times shown.
    pub zone: &'a Zone,
    /// Local day of "now" (older activity shows a date, not a time).
    pub today: i64,
    /// Set to whether the pointer is on the contact list this frame.
    pub list_hovered: &'a mut bool,
}

/// Draws the sidebar.
pub fn show(ui: &mut Ui, s: Sidebar<'_>) -> SidebarAction {
    let mut action = SidebarAction::None;
    ui.horizontal(|ui| {
        ui.heading("Chats");
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui
                .button("⚙ Settings")
                .on_hover_text("Settings (Ctrl+,)")
                .clicked()
            {
                action = SidebarAction::Settings;
            }
            if ui
                .button("➕ Add contact")
                .on_hover_text("Add contact (Ctrl+N)")
                .clicked()
            {
                action = SidebarAction::AddContact;
            }
        });
    });
    let label = ui.label(RichText::new("Search messages").small().weak());
    let search = ui
        .add(
            egui::TextEdit::singleline(s.query)
                .hint_text("🔍 Search (Ctrl+F)")
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
    if s.focus_search {
        search.request_focus();
    }
    if search.changed() || (search.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter))) {
        action = SidebarAction::Search(s.query.trim().to_owned());
    }
    ui.separator();
    let list = egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            if !s.query.trim().is_empty() {
                if s.results.is_empty() {
                    ui.label(RichText::new("No messages found.").weak());
                }
                for m in s.results {
                    let name = s
                        .contacts
                        .iter()
                        .find(|c| c.contact.id == m.contact)
                        .map_or("?", |c| c.contact.name.as_str());
                    if result_row(ui, name, m, s.zone) {
                        action = SidebarAction::OpenAt(m.contact, m.id);
                    }
                }
                return;
            }
            if s.contacts.is_empty() {
                ui.add_space(20.0);
                ui.label(
                    RichText::new("No contacts yet. Use “Add contact” to invite someone.").weak(),
                );
            }
            for c in s.contacts {
                let selected = s.selected == Some(c.contact.id);
                if contact_row(ui, c, selected, s.zone, s.today) {
                    action = SidebarAction::Open(c.contact.id);
                }
            }
        });
    *s.list_hovered = ui.rect_contains_pointer(list.inner_rect);
    action
}

fn contact_row(ui: &mut Ui, c: &ContactSummary, selected: bool, zone: &Zone, today: i64) -> bool {
    let (rect, response) = ui.allocate_exact_size(vec2(ui.available_width(), 52.0), Sense::click());
    let name = &c.contact.name;
    let label = match c.unread {
        0 => format!("Chat with {name}"),
        n => format!("Chat with {name}, {n} unread"),
    };
    response.widget_info(|| WidgetInfo::labeled(egui::Role::Button, true, &label));
    let visuals = ui.visuals();
    if selected {
        ui.painter()
            .rect_filled(rect, 6.0, visuals.selection.bg_fill);
    } else if response.hovered() {
        ui.painter()
            .rect_filled(rect, 6.0, visuals.widgets.hovered.weak_bg_fill);
    }
    // Reached with Tab: show where the keyboard is (Enter or Space opens it).
    if response.has_focus() {
        ui.painter().rect_stroke(
            rect.shrink(1.0),
            6.0,
            visuals.selection.stroke,
            egui::StrokeKind::Inside,
        );
    }
    let painter = ui.painter();
    let initial = name
        .chars()
        .next()
        .map(|c| c.to_uppercase().to_string())
        .unwrap_or_default();
    let avatar = rect.left_center() + vec2(24.0, 0.0);
    painter.circle_filled(avatar, 17.0, avatar_color(name));
    painter.text(
        avatar,
        Align2::CENTER_CENTER,
        initial,
        FontId::proportional(16.0),
        Color32::WHITE,
    );
    let x = rect.left() + 50.0;
    let strong = visuals.strong_text_color();
    let title = painter.text(
        egui::pos2(x, rect.top() + 15.0),
        Align2::LEFT_CENTER,
        name,
        FontId::proportional(15.0),
        strong,
    );
    if c.contact.verified {
        painter.text(
            egui::pos2(title.right() + 6.0, rect.top() + 15.0),
            Align2::LEFT_CENTER,
            "✔",
            FontId::proportional(13.0),
            Color32::from_rgb(0x2e, 0x9b, 0x57),
        );
    }
    if c.contact.pending_identity.is_some() {
        painter.text(
            egui::pos2(title.right() + 22.0, rect.top() + 15.0),
            Align2::LEFT_CENTER,
            "⚠",
            FontId::proportional(13.0),
            Color32::from_rgb(0xd0, 0x80, 0x00),
        );
    }
    if c.last_at_ms > 0 {
        painter.text(
            egui::pos2(rect.right() - 8.0, rect.top() + 15.0),
            Align2::RIGHT_CENTER,
            when(c.last_at_ms, zone, today),
            FontId::proportional(11.0),
            visuals.weak_text_color(),
        );
    }
    let preview = c.last_preview.as_deref().unwrap_or("No messages yet");
    let max_chars = ((rect.width() - 90.0) / 7.0).max(8.0) as usize;
    let preview: String = if preview.chars().count() > max_chars {
        preview
            .chars()
            .take(max_chars)
            .chain(std::iter::once('…'))
            .collect()
    } else {
        preview.to_owned()
    };
    painter.text(
        egui::pos2(x, rect.top() + 36.0),
        Align2::LEFT_CENTER,
        preview,
        FontId::proportional(13.0),
        visuals.weak_text_color(),
    );
    if c.unread > 0 {
        let center = egui::pos2(rect.right() - 18.0, rect.top() + 36.0);
        painter.circle_filled(center, 10.0, Color32::from_rgb(0x2a, 0x7a, 0xe2));
        painter.text(
            center,
            Align2::CENTER_CENTER,
            c.unread.min(999).to_string(),
            FontId::proportional(11.0),
            Color32::WHITE,
        );
    }
    response.clicked()
}

fn result_row(ui: &mut Ui, name: &str, m: &MessageRecord, zone: &Zone) -> bool {
    let text = format!(
        "{name} · {}\n{}",
        zone.format_time(m.arrived_ms()),
        m.body.lines().next().unwrap_or_default()
    );
    ui.add(egui::Button::new(text).frame(false).wrap())
        .clicked()
}

/// A stable colour per name.
fn avatar_color(name: &str) -> Color32 {
    let h = name
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    const PALETTE: [Color32; 6] = [
        Color32::from_rgb(0x4f, 0x7c, 0xac),
        Color32::from_rgb(0x6a, 0x9f, 0x58),
        Color32::from_rgb(0xb5, 0x6f, 0x3a),
        Color32::from_rgb(0x8e, 0x5e, 0xa2),
        Color32::from_rgb(0x3a, 0x9a, 0x9a),
        Color32::from_rgb(0xb0, 0x4a, 0x5a),
    ];
    PALETTE[(h % PALETTE.len() as u32) as usize]
}

/// "14:05" today, "Yesterday", else the date.
fn when(ms: u64, zone: &Zone, today: i64) -> String {
    let day = zone.day_of(ms);
    if day == today {
        zone.format_time(ms)
    } else {
        crate::clock::format_day(day, today)
    }
}
