//! What a vat has used, read by status and metrics while it runs: CPU time
//! and linear memory. One per vat, kept across its restarts and upgrades
//! (time adds up; memory is the current instance's).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Default)]
pub struct VatUsage {
    /// Nanoseconds the vat's task ran: its wasm and the host work of its
    /// calls, not the time it waited.
    cpu_nanos: AtomicU64,
    /// Bytes of linear memory of the current instance.
    memory_bytes: AtomicU64,
}

impl VatUsage {
    /// The vat's task ran for `elapsed` (one poll of its `run`).
    pub(super) fn ran(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.cpu_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// CPU time so far, up to the vat's last wait or epoch yield (at most
    /// one epoch tick, 10 ms, behind a vat that is computing).
    pub fn cpu_time(&self) -> Duration {
        Duration::from_nanos(self.cpu_nanos.load(Ordering::Relaxed))
    }

    pub(super) fn set_memory(&self, bytes: usize) {
        self.memory_bytes
            .store(u64::try_from(bytes).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Linear memory of the vat's current instance, in bytes.
    pub fn memory_bytes(&self) -> u64 {
        self.memory_bytes.load(Ordering::Relaxed)
    }
}
