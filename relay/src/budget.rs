//! The relay-wide storage budget: past it, sends get `StorageFull` (502)
//! and nothing already stored is touched.
//!
//! Two limits, each optional: the bytes of stored envelopes (all mailboxes
//! together), and a free-space reserve on the disk holding the SQLite store
//! (so the relay stops taking envelopes before the disk is full, instead of
//! failing writes half-way). The store's totals are re-read every few
//! seconds; bytes appended since are added on the spot, acks only count at
//! the next reading — so the budget errs towards refusing, never towards
//! overfilling.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// How much the relay may store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BudgetConfig {
    /// Most bytes of stored envelopes, all mailboxes together; 0 = no limit.
    pub max_bytes: u64,
    /// Sends are refused while the store's disk has less free space than
    /// this (SQLite store only); 0 = no reserve.
    pub min_free_disk: u64,
}

impl BudgetConfig {
    /// The defaults: no byte limit, and a 1 GiB reserve on the disk.
    pub fn standard() -> Self {
        Self {
            max_bytes: 0,
            min_free_disk: 1 << 30,
        }
    }
}

/// The budget's state, shared by every connection.
#[derive(Debug)]
pub struct StorageBudget {
    config: BudgetConfig,
    /// The directory whose filesystem holds the store (`None`: not a local store).
    disk: Option<PathBuf>,
    /// Stored bytes at the last reading.
    stored: AtomicU64,
    /// Bytes appended since the last reading.
    appended: AtomicU64,
    /// The disk was below its reserve at the last reading.
    disk_low: AtomicBool,
}

impl StorageBudget {
    /// A budget; `disk` is the store's directory when the store is local.
    pub fn new(config: BudgetConfig, disk: Option<PathBuf>) -> Self {
        Self {
            config,
            disk,
            stored: AtomicU64::new(0),
            appended: AtomicU64::new(0),
            disk_low: AtomicBool::new(false),
        }
    }

    /// True if anything needs watching (else no reading is ever taken).
    pub fn enabled(&self) -> bool {
        self.config.max_bytes > 0 || (self.config.min_free_disk > 0 && self.disk.is_some())
    }

    /// Whether an envelope of `len` bytes must be refused now.
    pub fn refuses(&self, len: u64) -> bool {
        if self.disk_low.load(Relaxed) {
            return true;
        }
        let max = self.config.max_bytes;
        max > 0
            && self
                .stored
                .load(Relaxed)
                .saturating_add(self.appended.load(Relaxed))
                .saturating_add(len)
                > max
    }

    /// Counts an envelope just stored.
    pub fn appended(&self, len: u64) {
        self.appended.fetch_add(len, Relaxed);
    }

    /// Takes a reading: the store's total bytes, and the disk's free space
    /// (read here, from the filesystem of the store's directory).
    pub fn refresh(&self, stored: u64) {
        self.stored.store(stored, Relaxed);
        self.appended.store(0, Relaxed);
        let low = match (&self.disk, self.config.min_free_disk) {
            (Some(dir), reserve) if reserve > 0 => free_space(dir).is_some_and(|f| f < reserve),
            _ => false,
        };
        let was = self.disk_low.swap(low, Relaxed);
        if low && !was {
            tracing::warn!(
                reserve = self.config.min_free_disk,
                "disk almost full: refusing new envelopes (StorageFull) until space is freed"
            );
        } else if was && !low {
            tracing::info!("disk space back above the reserve: taking envelopes again");
        }
    }

    /// Whether the disk was below its reserve at the last reading.
    pub fn disk_low(&self) -> bool {
        self.disk_low.load(Relaxed)
    }
}

/// Bytes an unprivileged process may still write on `dir`'s filesystem.
pub fn free_space(dir: &Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(dir).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_budget_counts_appends_until_the_next_reading() {
        let budget = StorageBudget::new(
            BudgetConfig {
                max_bytes: 10_000,
                min_free_disk: 0,
            },
            None,
        );
        assert!(budget.enabled());
        budget.refresh(6_000);
        assert!(!budget.refuses(4_000), "exactly full is allowed");
        budget.appended(3_000);
        assert!(budget.refuses(2_000), "appends count at once");
        assert!(!budget.refuses(1_000));
        budget.refresh(2_000); // acks freed space
        assert!(!budget.refuses(8_000));
    }

    #[test]
    fn a_disk_below_its_reserve_refuses_everything() {
        let dir = tempfile::tempdir().unwrap();
        let free = free_space(dir.path()).unwrap();
        assert!(free > 0);
        let low = StorageBudget::new(
            BudgetConfig {
                max_bytes: 0,
                min_free_disk: u64::MAX,
            },
            Some(dir.path().to_path_buf()),
        );
        low.refresh(0);
        assert!(low.disk_low() && low.refuses(1));
        let fine = StorageBudget::new(
            BudgetConfig {
                max_bytes: 0,
                min_free_disk: 1,
            },
            Some(dir.path().to_path_buf()),
        );
        fine.refresh(0);
        assert!(!fine.refuses(1 << 20));
        let unlimited = StorageBudget::new(BudgetConfig::default(), None);
        assert!(!unlimited.enabled() && !unlimited.refuses(u64::MAX));
    }
}
