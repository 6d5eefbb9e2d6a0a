//! Persisted UI preferences: a plain serde struct, separate from every
//! runtime handle, saved as JSON next to (not inside) the encrypted profile.
//!
//! Nothing secret lives here: theme, notification switch, and how to start
//! the built-in relay again after a restart. Extra relays used to be kept
//! here too; they now live in the encrypted profile, and a list found in an
//! old file is moved there on the next unlock.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Light, dark, or whatever the desktop says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ThemeChoice {
    /// Follow the operating system (the default).
    #[default]
    System,
    /// Always light.
    Light,
    /// Always dark.
    Dark,
}

/// What a desktop notification says about a message that arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum NotificationContent {
    /// No notifications.
    Off,
    /// "New message from Bob": the text stays in Cairn (the default; the
    /// notification daemon, its history and whoever sees the screen never
    /// get the message).
    #[default]
    NameOnly,
    /// Name and text.
    NameAndText,
}

impl<'de> Deserialize<'de> for NotificationContent {
    /// Also reads the on/off switch older versions wrote: on becomes
    /// [`NotificationContent::NameOnly`] (message text no longer leaves the app
    /// by default), off stays off.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        enum Named {
            Off,
            NameOnly,
            NameAndText,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Switch(bool),
            Named(Named),
        }
        Ok(match Raw::deserialize(d)? {
            Raw::Switch(true) | Raw::Named(Named::NameOnly) => Self::NameOnly,
            Raw::Switch(false) | Raw::Named(Named::Off) => Self::Off,
            Raw::Named(Named::NameAndText) => Self::NameAndText,
        })
    }
}

/// Idle time after which an unlocked profile locks itself (default).
pub const DEFAULT_AUTO_LOCK_MINUTES: u32 = 15;

/// Preferences that survive restarts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Prefs {
    /// Colour scheme.
    pub theme: ThemeChoice,
    /// Desktop notifications for messages arriving while the window is
    /// unfocused, and what they show.
    pub notifications: NotificationContent,
    /// Lock the profile after this many minutes without input (0: never).
    pub auto_lock_minutes: u32,
    /// Start the built-in relay on launch, listening here (`127.0.0.1:17447`:
    /// the port it really got when first started, which contacts now use).
    pub builtin_relay: Option<String>,
    /// Legacy: extra relays saved by older versions, read only to move them
    /// into the encrypted profile on the next unlock; never written again.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_relays: Vec<String>,
}

impl Default for Prefs {
    fn default() -> Self {
        Self {
            theme: ThemeChoice::System,
            notifications: NotificationContent::NameOnly,
            auto_lock_minutes: DEFAULT_AUTO_LOCK_MINUTES,
            builtin_relay: None,
            extra_relays: Vec::new(),
        }
    }
}

impl Prefs {
    /// Loads preferences; a missing or unreadable file gives the defaults.
    pub fn load(path: &Path) -> Self {
        std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Writes preferences atomically (temp file, then rename).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, json)?;
        std::fs::rename(tmp, path)
    }
}

/// Where the app keeps its files by default: `$XDG_DATA_HOME/cairn` or `~/.local/share/cairn`.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("cairn");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".local/share/cairn"),
        None => PathBuf::from(".cairn"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prefs.json");
        assert_eq!(Prefs::load(&path), Prefs::default());
        let prefs = Prefs {
            theme: ThemeChoice::Dark,
            notifications: NotificationContent::NameAndText,
            auto_lock_minutes: 5,
            builtin_relay: Some("127.0.0.1:7447".into()),
            extra_relays: Vec::new(),
        };
        prefs.save(&path).unwrap();
        assert_eq!(Prefs::load(&path), prefs);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("extra_relays"), "{text}");
    }

    #[test]
    fn legacy_extra_relays_are_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prefs.json");
        std::fs::write(&path, r#"{"extra_relays":["ws://127.0.0.1:9/"]}"#).unwrap();
        let prefs = Prefs::load(&path);
        assert_eq!(prefs.extra_relays, ["ws://127.0.0.1:9/"]);
        assert_eq!(prefs.notifications, NotificationContent::NameOnly);
        assert_eq!(prefs.auto_lock_minutes, DEFAULT_AUTO_LOCK_MINUTES);
    }

    #[test]
    fn the_old_notification_switch_reads_as_name_only_or_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prefs.json");
        std::fs::write(&path, r#"{"theme":"Dark","notifications":true}"#).unwrap();
        let prefs = Prefs::load(&path);
        assert_eq!(
            prefs.theme,
            ThemeChoice::Dark,
            "the rest of the file still loads"
        );
        assert_eq!(prefs.notifications, NotificationContent::NameOnly);
        std::fs::write(&path, r#"{"notifications":false}"#).unwrap();
        assert_eq!(Prefs::load(&path).notifications, NotificationContent::Off);
    }
}
