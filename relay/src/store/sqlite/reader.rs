//! Read connections: backlog fetches, key and token lookups, stats.
//!
//! WAL mode lets these run on their own connections beside the writer,
//! off the async threads (`spawn_blocking`), from a small pool. At most
//! [`POOL_SIZE`] reads run at once; the rest wait without a thread: ten
//! thousand clients subscribing at once must not mean hundreds of blocking
//! threads each opening its own connection and page cache.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Semaphore;

use super::Synchronous;
use super::schema;
use super::writer::unavailable;
use crate::store::StoreError;

/// Reads running at once, and idle connections kept open for reuse.
const POOL_SIZE: usize = 4;

/// A pool of read connections to one database file.
#[derive(Clone)]
pub(super) struct Readers {
    path: Arc<PathBuf>,
    idle: Arc<Mutex<Vec<Connection>>>,
    running: Arc<Semaphore>,
}

impl Readers {
    pub(super) fn new(path: PathBuf) -> Self {
        Self {
            path: Arc::new(path),
            idle: Arc::default(),
            running: Arc::new(Semaphore::new(POOL_SIZE)),
        }
    }

    /// Runs `f` on a pooled connection in a blocking thread.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let pool = self.clone();
        let permit = Arc::clone(&self.running)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Closed)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = match pool.take() {
                Some(conn) => conn,
                None => schema::open(&pool.path, Synchronous::Normal).map_err(unavailable)?,
            };
            let result = f(&conn).map_err(unavailable);
            pool.give_back(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?
    }

    fn take(&self) -> Option<Connection> {
        self.idle.lock().ok().and_then(|mut idle| idle.pop())
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < POOL_SIZE
        {
            idle.push(conn);
        }
    }
}
