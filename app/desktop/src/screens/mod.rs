//! One module per screen or pane; each draws from plain data and returns what
//! the user asked for, so the app decides which command to send.

pub mod add_contact;
pub mod contacts;
pub mod onboarding;
pub mod settings;
pub mod verify;
