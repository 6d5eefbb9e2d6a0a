//! Read connections: backlog fetches, key and token lookups, stats.
//!
//! WAL mode lets these run on their own connections beside the writer,
//! off the async threads (`spawn_blocking`), from a small pool.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use super::Synchronous;
use super::schema;
use super::writer::unavailable;
use crate::store::StoreError;

/// Idle connections kept open for reuse.
const POOL_SIZE: usize = 4;

/// A pool of read connections to one database file.
#[derive(Clone)]
pub(super) struct Readers {
    path: Arc<PathBuf>,
    idle: Arc<Mutex<Vec<Connection>>>,
}

impl Readers {
    pub(super) fn new(path: PathBuf) -> Self {
        Self {
            path: Arc::new(path),
            idle: Arc::default(),
        }
    }

    /// Runs `f` on a pooled connection in a blocking thread.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
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
