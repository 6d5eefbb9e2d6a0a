//! Desktop notifications (freedesktop D-Bus through `notify-rust`, pure Rust).
//!
//! Called on a blocking thread of the backend runtime: showing a notification
//! is a D-Bus round trip, never done on the UI thread.

/// Shows a notification; failures (no notification daemon) are only logged.
pub(crate) fn show(summary: &str, body: &str) {
    let result = notify_rust::Notification::new()
        .appname("Cairn")
        .summary(summary)
        .body(body)
        .show();
    if let Err(e) = result {
        tracing::debug!(error = %e, "desktop notification not shown");
    }
}
