//! The conversation: the pane (key-change banner, virtualized history,
//! composer) here; the history window kept up to date by events
//! ([`window`]), its layout ([`layout`]) and the words it shows ([`format`]).

pub mod format;
pub mod layout;
pub mod window;

use cairn_core::client::TimelineItem;
use cairn_core::store::{ContactId, Direction, IntegrityRecord, MessageStatus};
use egui::{Color32, CornerRadius, Key, Modifiers, RichText, Sense, Ui, vec2};

use crate::clock::{Zone, format_day};
use crate::commands::{Command, ContactSummary};
use format::{event_text, meta_text};
use layout::{Block, META_SIZE, PAD_X, PAD_Y, body_font};
use window::{Rendered, Timeline};

/// Per-chat UI state that is not data: the draft, scroll position, search jump.
#[derive(Debug, Default)]
pub struct ChatUi {
    /// Text being written.
    pub draft: String,
    /// Scroll to this message (row id) once it is loaded and laid out.
    pub scroll_to_message: Option<i64>,
    /// Message row id to highlight (from search).
    pub highlight: Option<i64>,
    /// Vertical scroll offset of the history last frame.
    pub offset: f32,
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

/// Draws the chat pane for `contact`; times are shown in `zone`.
pub fn show(
    ui: &mut Ui,
    contact: &ContactSummary,
    timeline: Option<&mut Timeline>,
    state: &mut ChatUi,
    zone: &Zone,
    today: i64,
) -> ChatAction {
    let mut action = ChatAction::None;
    let name = contact.contact.name.clone();
    let id = contact.contact.id;
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
    if !contact.contact.confirmed {
        ui.label(
            RichText::new(format!(
                "⏳ Waiting for {name} to confirm the contact: their app has not answered yet. \
                 If this lasts, someone else may have used the invite link first — ask {name} \
                 for a new one."
            ))
            .color(Color32::from_rgb(0xb0, 0x70, 0x00)),
        );
    }
    ui.separator();
    let blocked = contact.contact.pending_identity.is_some();
    if blocked {
        key_change_banner(ui, &name, id, &mut action);
    }
    let composer_height = if blocked { 0.0 } else { 64.0 };
    let history_height = (ui.available_height() - composer_height).max(60.0);
    ui.allocate_ui(
        vec2(ui.available_width(), history_height),
        |ui| match timeline {
            Some(t) if t.contact == id => {
                if let Some(cmd) = history(ui, t, state, zone, today) {
                    action = ChatAction::Command(cmd);
                }
            }
            _ => {
                ui.centered_and_justified(|ui| ui.spinner());
            }
        },
    );
    if !blocked && let Some(text) = composer(ui, &mut state.draft) {
        action = ChatAction::Command(Command::Send { contact: id, text });
    }
    action
}

fn key_change_banner(ui: &mut Ui, name: &str, contact: ContactId, action: &mut ChatAction) {
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
                    *action = ChatAction::Command(Command::AcceptKeyChange { contact });
                }
                if ui.button("Check safety number").clicked() {
                    *action = ChatAction::Verify;
                }
            });
        });
    ui.add_space(6.0);
}

fn history(
    ui: &mut Ui,
    t: &mut Timeline,
    state: &mut ChatUi,
    zone: &Zone,
    today: i64,
) -> Option<Command> {
    let width = ui.available_width();
    let ctx = ui.ctx().clone();
    let height = t.ensure_layout(&ctx, width, zone, today).height();
    let layout = t.layout.take()?;
    let mut area = egui::ScrollArea::vertical()
        .id_salt(("history", t.contact))
        .auto_shrink([false, false])
        .stick_to_bottom(true);
    if let Some(before) = t.prepended_from.take() {
        // Keep the message the user was reading where it was.
        area = area.vertical_scroll_offset(state.offset + (height - before).max(0.0));
    }
    // A search hit: scrolled to (an explicit scroll, so it also leaves the
    // stick-to-bottom mode) once its page is loaded.
    let target = state
        .scroll_to_message
        .and_then(|id| layout.bounds_of_item(t.item_of_message(id)?));
    if target.is_some() {
        state.scroll_to_message = None;
    }
    let output = area.show_viewport(ui, |ui, viewport| {
        ui.set_height(height);
        let origin = ui.max_rect().min;
        let full = ui.max_rect().width();
        if let Some((top, bottom)) = target {
            let rect =
                egui::Rect::from_min_max(origin + vec2(0.0, top), origin + vec2(full, bottom));
            ui.scroll_to_rect(rect, Some(egui::Align::Center));
        }
        let visible = layout.visible(viewport.min.y, viewport.max.y);
        for b in visible.clone() {
            let (Some(top), Some(bottom)) = (layout.tops.get(b), layout.tops.get(b + 1)) else {
                continue;
            };
            let rect =
                egui::Rect::from_min_max(origin + vec2(0.0, *top), origin + vec2(full, *bottom));
            match &layout.blocks[b] {
                Block::Day(day) => day_row(ui, rect, &format_day(*day, today)),
                Block::Event(i) => {
                    if let Some(TimelineItem::Event(e)) = t.items.get(*i) {
                        event_row(ui, rect, e, zone);
                    }
                }
                Block::Message {
                    item,
                    lines,
                    text_width,
                    meta_below,
                    gap,
                } => {
                    let shape = BubbleShape {
                        rect,
                        lines,
                        text_width: *text_width,
                        meta_below: *meta_below,
                        gap: *gap,
                        line_height: layout.line_height,
                    };
                    bubble(ui, t, *item, &shape, state.highlight, zone);
                }
            }
        }
        // Keep laid-out text only for what is (nearly) on screen.
        if t.rendered.len() > 300 {
            let keep: Vec<usize> = layout.blocks[visible]
                .iter()
                .filter_map(|b| match b {
                    Block::Message { item, .. } => Some(*item),
                    _ => None,
                })
                .collect();
            t.rendered.retain(|k, _| keep.contains(k));
        }
    });
    state.offset = output.state.clamped_offset().y;
    t.layout = Some(layout);
    t.frames = t.frames.saturating_add(1);
    let near_top = output.state.clamped_offset().y < output.inner_rect.height().max(200.0);
    match t.older {
        Some(before) if near_top && !t.loading_older && t.frames > 3 => {
            t.loading_older = true;
            Some(Command::LoadOlder {
                contact: t.contact,
                before,
            })
        }
        _ => None,
    }
}

fn day_row(ui: &mut Ui, rect: egui::Rect, label: &str) {
    let visuals = ui.visuals();
    let galley = ui.painter().layout_no_wrap(
        label.to_owned(),
        egui::FontId::proportional(12.0),
        visuals.weak_text_color(),
    );
    let pill = egui::Rect::from_center_size(
        rect.center() + vec2(0.0, 4.0),
        galley.size() + vec2(20.0, 8.0),
    );
    let fill = if visuals.dark_mode {
        Color32::from_rgb(0x2c, 0x2c, 0x30)
    } else {
        Color32::from_rgb(0xe9, 0xe9, 0xec)
    };
    ui.painter().rect_filled(pill, 10.0, fill);
    ui.painter().galley(
        pill.center() - galley.size() / 2.0,
        galley,
        Color32::PLACEHOLDER,
    );
    let response = ui.interact(pill, ui.scope_id().with(("day", label)), Sense::hover());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, label));
}

fn event_row(ui: &mut Ui, rect: egui::Rect, e: &IntegrityRecord, zone: &Zone) {
    let (text, warn) = event_text(e, zone);
    let color = if warn {
        Color32::from_rgb(0xc0, 0x5a, 0x00)
    } else {
        ui.visuals().weak_text_color()
    };
    ui.put(
        rect.shrink2(vec2(24.0, 0.0)),
        egui::Label::new(RichText::new(text).small().color(color)).truncate(),
    );
}

/// Where a message block is and how its text was wrapped.
struct BubbleShape<'a> {
    rect: egui::Rect,
    lines: &'a [(u32, u32)],
    text_width: f32,
    meta_below: bool,
    gap: f32,
    line_height: f32,
}

/// Colours of a bubble: (fill, text).
fn bubble_colors(ui: &Ui, outgoing: bool, highlight: bool) -> (Color32, Color32) {
    if highlight {
        return (Color32::from_rgb(0xff, 0xe0, 0x80), Color32::BLACK);
    }
    match (outgoing, ui.visuals().dark_mode) {
        (true, false) => (Color32::from_rgb(0x2c, 0x6b, 0xed), Color32::WHITE),
        (true, true) => (Color32::from_rgb(0x2c, 0x5b, 0xc4), Color32::WHITE),
        (false, false) => (
            Color32::from_rgb(0xe9, 0xe9, 0xeb),
            Color32::from_rgb(0x1b, 0x1b, 0x1d),
        ),
        (false, true) => (
            Color32::from_rgb(0x3b, 0x3b, 0x41),
            Color32::from_rgb(0xee, 0xee, 0xf0),
        ),
    }
}

/// One message: a bubble sized to its text, ours on the right, theirs on the
/// left, text left-aligned inside, time and status at the bottom right.
fn bubble(
    ui: &mut Ui,
    t: &mut Timeline,
    item: usize,
    shape: &BubbleShape<'_>,
    highlight: Option<i64>,
    zone: &Zone,
) {
    let Timeline {
        items, rendered, ..
    } = t;
    let Some(TimelineItem::Message(m)) = items.get(item) else {
        return;
    };
    let outgoing = m.direction == Direction::Outgoing;
    let (fill, text_color) = bubble_colors(ui, outgoing, highlight == Some(m.id));
    let meta_color = match m.status {
        MessageStatus::Pending | MessageStatus::Unconfirmed if outgoing => {
            Color32::from_rgb(0xff, 0xd0, 0x80)
        }
        _ => text_color.gamma_multiply(0.7),
    };
    let lines_h = shape.lines.len() as f32 * shape.line_height;
    let size = vec2(
        shape.text_width + 2.0 * PAD_X,
        lines_h
            + 2.0 * PAD_Y
            + if shape.meta_below {
                META_SIZE + 4.0
            } else {
                0.0
            },
    );
    let x = if outgoing {
        shape.rect.right() - 14.0 - size.x
    } else {
        shape.rect.left() + 14.0
    };
    let bubble = egui::Rect::from_min_size(egui::pos2(x, shape.rect.top() + shape.gap), size);
    ui.painter()
        .rect_filled(bubble, CornerRadius::same(14), fill);
    let body = &m.body;
    let rendered = rendered.entry(item).or_insert_with(|| {
        let body_font = body_font(ui.ctx());
        let meta = meta_text(m, zone);
        ui.ctx().fonts_mut(|f| Rendered {
            lines: shape
                .lines
                .iter()
                .map(|(a, b)| {
                    let line = body.get(*a as usize..*b as usize).unwrap_or_default();
                    f.layout_no_wrap(line.to_owned(), body_font.clone(), Color32::PLACEHOLDER)
                })
                .collect(),
            meta: f.layout_no_wrap(
                meta,
                egui::FontId::proportional(META_SIZE),
                Color32::PLACEHOLDER,
            ),
        })
    });
    let painter = ui.painter();
    let text_left = bubble.left() + PAD_X;
    for (k, galley) in rendered.lines.iter().enumerate() {
        let y = bubble.top() + PAD_Y + k as f32 * shape.line_height;
        painter.galley(egui::pos2(text_left, y), galley.clone(), text_color);
    }
    let meta_size = rendered.meta.size();
    let meta_pos = egui::pos2(
        bubble.right() - PAD_X - meta_size.x,
        bubble.bottom() - PAD_Y - meta_size.y + 1.0,
    );
    painter.galley(meta_pos, rendered.meta.clone(), meta_color);
    // Clickable for its context menu, but not a Tab stop: Tab goes from
    // the message box to the controls, not through hundreds of bubbles.
    let response = ui.interact(bubble, ui.scope_id().with(("message", m.id)), Sense::CLICK);
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, body));
    response.context_menu(|ui| {
        if ui.button("Copy text").clicked() {
            ui.ctx().copy_text(body.clone());
            ui.close();
        }
    });
}

/// The message box: Enter sends, Shift+Enter inserts a newline.
fn composer(ui: &mut Ui, draft: &mut String) -> Option<String> {
    let mut send = None;
    ui.separator();
    ui.horizontal(|ui| {
        let label = ui.label("Message");
        let id = ui.make_persistent_id("composer");
        let focused = ui.memory(|m| m.has_focus(id));
        // `consume_key` ignores Shift, so Shift+Enter must be ruled out first:
        // it falls through to the text field as a newline.
        let enter = focused
            && ui.input_mut(|i| !i.modifiers.shift && i.consume_key(Modifiers::NONE, Key::Enter));
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
