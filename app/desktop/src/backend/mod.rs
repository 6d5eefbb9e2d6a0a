//! The background thread: a tokio runtime that owns the client, the relay
//! connections, the built-in relay and all storage.
//!
//! The UI holds a [`Backend`] handle: it sends [`Command`]s without waiting
//! and drains [`Event`]s once per frame. Every event is followed by a call to
//! the waker (in the real app `ctx.request_repaint()`), so the window redraws
//! as soon as a message arrives: the messenger pushes, nothing polls.

mod local_relay;
mod summaries;
mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use cairn_core::profile::kdf::KdfParams;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use crate::clock::Clock;
use crate::commands::{Command, Event};

/// Messages per page of history the UI asks for.
pub const PAGE: usize = 200;

/// Wakes the UI after an event (repaint request).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// Everything the backend needs to know at start.
#[derive(Clone, Debug)]
pub struct BackendConfig {
    /// The profile directory (created on first run).
    pub profile_dir: PathBuf,
    /// Data directory of the built-in relay.
    pub relay_dir: PathBuf,
    /// Argon2id cost for new profiles.
    pub kdf: KdfParams,
    /// Time source for the core.
    pub clock: Clock,
    /// Development: allow `ws://` to loopback relays.
    pub allow_plaintext_loopback: bool,
}

impl BackendConfig {
    /// Production defaults under `data_dir`.
    pub fn new(data_dir: PathBuf, clock: Clock) -> Self {
        Self {
            profile_dir: data_dir.join("profile"),
            relay_dir: data_dir.join("relay"),
            kdf: KdfParams::DEFAULT,
            clock,
            allow_plaintext_loopback: false,
        }
    }
}

/// The UI's end of the backend. Dropping it stops the backend and waits
/// (at most [`CLOSE_WAIT`]) until the profile database is closed: a process
/// that exits while the backend thread is still closing SQLCipher crashes in
/// its codec teardown (seen as a SIGSEGV at the end of the GUI tests).
pub struct Backend {
    commands: Option<UnboundedSender<Command>>,
    events: mpsc::Receiver<Event>,
    closed: Option<mpsc::Receiver<()>>,
}

/// How long dropping the backend waits for it to close the profile.
pub const CLOSE_WAIT: Duration = Duration::from_secs(5);

impl Drop for Backend {
    fn drop(&mut self) {
        // No more commands: the worker closes the messenger and the profile.
        self.commands.take();
        if let Some(closed) = self.closed.take() {
            let _ = closed.recv_timeout(CLOSE_WAIT);
        }
    }
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend").finish_non_exhaustive()
    }
}

impl Backend {
    /// Starts the backend thread (named `cairn-backend`) and its runtime.
    pub fn spawn(config: BackendConfig, waker: Waker) -> std::io::Result<Self> {
        let (cmd_tx, cmd_rx) = unbounded_channel();
        let (event_tx, event_rx) = mpsc::channel();
        let (closed_tx, closed_rx) = mpsc::channel();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("cairn-backend-worker")
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("cairn-backend".into())
            .spawn(move || {
                let worker = worker::Worker::new(config, event_tx, waker);
                runtime.block_on(worker.run(cmd_rx));
                runtime.shutdown_timeout(Duration::from_secs(2));
                let _ = closed_tx.send(());
            })?;
        Ok(Self {
            commands: Some(cmd_tx),
            events: event_rx,
            closed: Some(closed_rx),
        })
    }

    /// Queues a command; never blocks. A stopped backend drops it silently
    /// (the UI then simply sees no answer).
    pub fn send(&self, command: Command) {
        if let Some(commands) = &self.commands {
            let _ = commands.send(command);
        }
    }

    /// The next pending event, if any; never blocks.
    pub fn try_recv(&self) -> Option<Event> {
        self.events.try_recv().ok()
    }
}
