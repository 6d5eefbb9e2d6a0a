//! Keyboard shortcuts of the main window (listed in settings).

use egui::{Key, Modifiers};

use crate::app::{CairnApp, Pane};
use crate::commands::Command;

impl CairnApp {
    /// Handles shortcuts before widgets see the keys.
    pub(crate) fn shortcuts(&mut self, ctx: &egui::Context) {
        let (search, add, settings, lock, next, prev, escape) = ctx.input_mut(|i| {
            (
                i.consume_key(Modifiers::COMMAND, Key::F),
                i.consume_key(Modifiers::COMMAND, Key::N),
                i.consume_key(Modifiers::COMMAND, Key::Comma),
                i.consume_key(Modifiers::COMMAND, Key::L),
                i.consume_key(Modifiers::ALT, Key::ArrowDown),
                i.consume_key(Modifiers::ALT, Key::ArrowUp),
                i.consume_key(Modifiers::NONE, Key::Escape),
            )
        });
        if search {
            self.focus_search = true;
        }
        if add {
            self.pane = Pane::AddContact;
        }
        if settings {
            self.pane = Pane::Settings;
        }
        if lock {
            self.backend.send(Command::Lock);
        }
        if next || prev {
            self.step_chat(if next { 1 } else { -1 });
        }
        if escape {
            if !self.query.is_empty() {
                self.clear_search();
            } else if let Pane::Verify(contact) = self.pane.clone() {
                self.open_chat(contact);
            } else if matches!(self.pane, Pane::AddContact | Pane::Settings) {
                self.pane = Pane::Empty;
            }
        }
    }

    /// Opens the next (`+1`) or previous (`-1`) chat in list order.
    fn step_chat(&mut self, step: isize) {
        if self.contacts.is_empty() {
            return;
        }
        let current = match &self.pane {
            Pane::Chat(id) => self.contacts.iter().position(|c| c.contact.id == *id),
            _ => None,
        };
        let len = self.contacts.len() as isize;
        let index = match current {
            Some(i) => (i as isize + step).rem_euclid(len),
            None if step > 0 => 0,
            None => len - 1,
        };
        if let Some(id) = self.contacts.get(index as usize).map(|c| c.contact.id) {
            self.open_chat(id);
        }
    }
}
