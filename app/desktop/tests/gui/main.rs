//! Every GUI test in one binary (one link of the egui stack instead of one per
//! file). Each module drives the real app through egui_kittest on a temp profile.

mod backup;
mod chat_layout;
mod connections;
mod contact_list;
mod conversation;
mod glyphs;
mod home_relay;
mod invites;
mod key_change;
mod onboarding;
mod outage;
mod paging;
mod screenshot_coords;
mod settings;
mod small_window;
mod support;
