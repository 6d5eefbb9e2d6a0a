//! The conversation pane: key-change banner, virtualized history, composer.

use cairn_core::client::TimelineItem;
use cairn_core::store::{Direction, EventKind, IntegrityRecord, MessageRecord, MessageStatus};
use egui::{Align2, Color32, CornerRadius, Key, Modifiers, RichText, Sense, Ui, vec2};

use super::timeline::{Row, Timeline};
use crate::clock::{format_day, format_time};
use crate::commands::{Command, ContactSummary};

/// Height of every history row, in points.
pub const ROW_HEIGHT: f32 = 22.0;

/// Per-chat UI state that is not data: the draft and pending scroll.
#[derive(Debug, Default)]
pub struct ChatUi {
    /// Text being written.
    pub draft: String,
    /// Scroll so that this row is visible on the next frame.
    pub scroll_to_row: Option<usize>,
    /// Message row id to highlight (from search).
    pub highlight: Option<i64>,
}

/// What the user did in the chat pane this frame.
#[derive(Debug)]
pub enum ChatAction {
    /// Nothing.
    None,
    /// Send a command.
    Command(Command),
    /// Open the verify screen.
    Verify,
}

/// Draws the chat pane for `contact`.
pub fn show(
    ui: &mut Ui,
    contact: &ContactSummary,
    timeline: Option<&Timeline>,
    state: &mut ChatUi,
    today: i64,
) -> ChatAction {
    let mut action = ChatAction::None;
    let name = contact.contact.name.clone();
    ui.horizontal(|ui| {
        ui.heading(&name);
        if contact.contact.verified {
            ui.label(RichText::new("✔ Verified").color(Color32::from_rgb(0x2e, 0x9b, 0x57)));
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.button("Verify safety number").clicked() {
                action = ChatAction::Verify;
            }
        });
    });
    ui.separator();
    let blocked = contact.contact.pending_identity.is_some();
    if blocked {
        key_change_banner(ui, &name, &mut action);
    }
    let composer_height = if blocked { 0.0 } else { 64.0 };
    let history_height = (ui.available_height() - composer_height).max(60.0);
    ui.allocate_ui(
        vec2(ui.available_width(), history_height),
        |ui| match timeline {
            Some(t) if t.name == name => history(ui, t, state, today),
            _ => {
                ui.centered_and_justified(|ui| ui.spinner());
            }
        },
    );
    if !blocked && let Some(text) = composer(ui, &mut state.draft) {
        action = ChatAction::Command(Command::Send { name, text });
    }
    action
}

fn key_change_banner(ui: &mut Ui, name: &str, action: &mut ChatAction) {
    egui::Frame::new()
        .fill(Color32::from_rgb(0xfd, 0xec, 0xc8))
        .inner_margin(10.0)
        .corner_radius(6.0)
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(
                RichText::new(format!("⚠ {name}'s identity key changed"))
                    .strong()
                    .color(Color32::from_rgb(0x6b, 0x40, 0x00)),
            );
            ui.label(
                RichText::new(
                    "Their new messages are held and sending is blocked. This happens when they \
                     reinstall, or when someone is impersonating them. Compare the new safety \
                     number in person before you accept.",
                )
                .color(Color32::from_rgb(0x4a, 0x3a, 0x10)),
            );
            ui.horizontal(|ui| {
                if ui.button("Accept new key").clicked() {
                    *action = ChatAction::Command(Command::AcceptKeyChange {
                        name: name.to_owned(),
                    });
                }
                if ui.button("Check safety number").clicked() {
                    *action = ChatAction::Verify;
                }
            });
        });
    ui.add_space(6.0);
}

fn history(ui: &mut Ui, t: &Timeline, state: &mut ChatUi, today: i64) {
    let mut area = egui::ScrollArea::vertical()
        .id_salt(("history", &t.name))
        .auto_shrink([false, false])
        .stick_to_bottom(true);
    if let Some(row) = state.scroll_to_row.take() {
        let spacing = ui.spacing().item_spacing.y;
        area = area.vertical_scroll_offset((row as f32 * (ROW_HEIGHT + spacing) - 100.0).max(0.0));
    }
    area.show_rows(ui, ROW_HEIGHT, t.rows.len(), |ui, range| {
        for row in &t.rows[range] {
            match row {
                Row::Day(day) => day_row(ui, &format_day(*day, today)),
                Row::Event(i) => {
                    if let Some(TimelineItem::Event(e)) = t.items.get(*i) {
                        event_row(ui, e);
                    }
                }
                Row::Line {
                    item,
                    start,
                    end,
                    first,
                    last,
                } => {
                    if let Some(TimelineItem::Message(m)) = t.items.get(*item) {
                        let text = m
                            .body
                            .get(*start as usize..*end as usize)
                            .unwrap_or_default();
                        let highlight = state.highlight == Some(m.id);
                        line_row(ui, m, text, *first, *last, highlight);
                    }
                }
            }
        }
    });
}

fn day_row(ui: &mut Ui, label: &str) {
    let (rect, _) = ui.allocate_exact_size(vec2(ui.available_width(), ROW_HEIGHT), Sense::hover());
    let color = ui.visuals().weak_text_color();
    ui.painter().hline(
        rect.x_range().shrink(rect.width() * 0.3),
        rect.center().y,
        (1.0, ui.visuals().widgets.noninteractive.bg_stroke.color),
    );
    let galley_rect = egui::Rect::from_center_size(rect.center(), vec2(110.0, ROW_HEIGHT - 4.0));
    ui.painter()
        .rect_filled(galley_rect, 8.0, ui.visuals().panel_fill);
    ui.put(
        galley_rect,
        egui::Label::new(RichText::new(label).small().color(color)),
    );
}

/// Warning text for an integrity event.
pub fn event_text(e: &IntegrityRecord) -> (String, bool) {
    let (what, warn) = match e.kind {
        EventKind::Gap => ("Messages missing", true),
        EventKind::LateArrival => ("Late message arrived", false),
        EventKind::Duplicate => ("Replayed message ignored", true),
        EventKind::Fork => ("Conversation forked: possible tampering", true),
        EventKind::Rejected => ("Tampered or invalid message dropped", true),
        EventKind::KeyChange => ("Identity key changed", true),
        EventKind::KeyAccepted => ("New identity key accepted", false),
        EventKind::Verified => ("Safety number verified", false),
    };
    (
        format!(
            "{} {what} · {} · {}",
            if warn { "⚠" } else { "ℹ" },
            e.detail,
            format_time(e.at_ms)
        ),
        warn,
    )
}

fn event_row(ui: &mut Ui, e: &IntegrityRecord) {
    let (text, warn) = event_text(e);
    let color = if warn {
        Color32::from_rgb(0xc0, 0x5a, 0x00)
    } else {
        ui.visuals().weak_text_color()
    };
    let (rect, _) = ui.allocate_exact_size(vec2(ui.available_width(), ROW_HEIGHT), Sense::hover());
    ui.put(
        rect,
        egui::Label::new(RichText::new(text).small().color(color)).truncate(),
    );
}

/// Status words (and glyphs) for our outgoing messages.
pub fn status_text(status: MessageStatus) -> &'static str {
    match status {
        MessageStatus::Pending => "⏳ pending",
        MessageStatus::Sent => "✔ sent",
        MessageStatus::Delivered => "✔✔ delivered",
        MessageStatus::Read => "✔✔ read",
        MessageStatus::Received => "",
    }
}

fn line_row(ui: &mut Ui, m: &MessageRecord, text: &str, first: bool, last: bool, highlight: bool) {
    let outgoing = m.direction == Direction::Outgoing;
    let (row, _) = ui.allocate_exact_size(vec2(ui.available_width(), ROW_HEIGHT), Sense::hover());
    let dark = ui.visuals().dark_mode;
    let fill = match (outgoing, dark) {
        (true, false) => Color32::from_rgb(0xd7, 0xe8, 0xff),
        (true, true) => Color32::from_rgb(0x1f, 0x3f, 0x66),
        (false, false) => Color32::from_rgb(0xee, 0xee, 0xf0),
        (false, true) => Color32::from_rgb(0x3a, 0x3a, 0x40),
    };
    let fill = if highlight {
        Color32::from_rgb(0xff, 0xe0, 0x80)
    } else {
        fill
    };
    let width = (row.width() * 0.66).min(560.0);
    let x = if outgoing {
        row.right() - width - 8.0
    } else {
        row.left() + 8.0
    };
    let bubble = egui::Rect::from_min_size(
        egui::pos2(x, row.top()),
        vec2(
            width,
            row.height() + ui.spacing().item_spacing.y * f32::from(!last),
        ),
    );
    let r = 9;
    let radius = CornerRadius {
        nw: if first { r } else { 0 },
        ne: if first { r } else { 0 },
        sw: if last { r } else { 0 },
        se: if last { r } else { 0 },
    };
    ui.painter().rect_filled(bubble, radius, fill);
    let text_color = if highlight {
        Color32::BLACK
    } else {
        ui.visuals().strong_text_color()
    };
    let text_rect = egui::Rect::from_min_max(
        bubble.min + vec2(10.0, 0.0),
        bubble.max - vec2(if last { 110.0 } else { 10.0 }, 0.0),
    );
    ui.put(
        text_rect,
        egui::Label::new(RichText::new(text).color(text_color))
            .truncate()
            .halign(egui::Align::LEFT),
    );
    if last {
        let mut meta = format_time(m.received_ms.unwrap_or(m.sent_ms));
        if outgoing {
            meta = format!("{meta}  {}", status_text(m.status));
        }
        let color = match m.status {
            MessageStatus::Read if outgoing => Color32::from_rgb(0x2a, 0x7a, 0xe2),
            MessageStatus::Pending => Color32::from_rgb(0xc0, 0x7a, 0x00),
            _ => ui.visuals().weak_text_color(),
        };
        ui.painter().text(
            egui::pos2(bubble.right() - 8.0, bubble.center().y),
            Align2::RIGHT_CENTER,
            meta,
            egui::FontId::proportional(11.0),
            color,
        );
    }
}

/// The message box: Enter sends, Shift+Enter inserts a newline.
fn composer(ui: &mut Ui, draft: &mut String) -> Option<String> {
    let mut send = None;
    ui.separator();
    ui.horizontal(|ui| {
        let label = ui.label("Message");
        let id = ui.make_persistent_id("composer");
        let focused = ui.memory(|m| m.has_focus(id));
        let enter = focused && ui.input_mut(|i| i.consume_key(Modifiers::NONE, Key::Enter));
        let edit = egui::TextEdit::multiline(draft)
            .id(id)
            .desired_rows(2)
            .hint_text("Write a message — Enter sends, Shift+Enter for a new line")
            .desired_width(ui.available_width() - 70.0);
        ui.add(edit).labelled_by(label.id);
        let clicked = ui.button("Send").clicked();
        if (enter || clicked) && !draft.trim().is_empty() {
            send = Some(std::mem::take(draft).trim_end().to_owned());
            ui.memory_mut(|m| m.request_focus(id));
        }
    });
    send
}
