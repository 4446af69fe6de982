//! What a vat has used, read by status and metrics while it runs: time in
//! wasm and linear memory. One per vat, kept across its restarts and
//! upgrades (time adds up; memory is the current instance's).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub struct VatUsage {
    /// Reference point for the timestamps below.
    base: Instant,
    /// Nanoseconds spent in wasm by instances that have left it.
    wasm_nanos: AtomicU64,
    /// When control last entered wasm, in nanoseconds after `base` plus
    /// one; zero while the vat is in the host. Atomics rather than a lock:
    /// every host call passes here twice.
    in_wasm_since: AtomicU64,
    /// Bytes of linear memory of the current instance.
    memory_bytes: AtomicU64,
}

impl Default for VatUsage {
    fn default() -> Self {
        Self {
            base: Instant::now(),
            wasm_nanos: AtomicU64::new(0),
            in_wasm_since: AtomicU64::new(0),
            memory_bytes: AtomicU64::new(0),
        }
    }
}

impl VatUsage {
    fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Control enters wasm.
    pub(super) fn enter_wasm(&self) {
        self.in_wasm_since
            .store(self.now().saturating_add(1), Ordering::Release);
    }

    /// Control leaves wasm (for the host, or yielding to other tasks).
    pub(super) fn leave_wasm(&self) {
        let since = self.in_wasm_since.swap(0, Ordering::AcqRel);
        if since > 0 {
            self.wasm_nanos
                .fetch_add(self.now().saturating_sub(since - 1), Ordering::AcqRel);
        }
    }

    /// Time spent running wasm so far, including a stretch in progress.
    pub fn wasm_time(&self) -> Duration {
        let since = self.in_wasm_since.load(Ordering::Acquire);
        let running = if since > 0 {
            self.now().saturating_sub(since - 1)
        } else {
            0
        };
        Duration::from_nanos(
            self.wasm_nanos
                .load(Ordering::Acquire)
                .saturating_add(running),
        )
    }

    pub(super) fn set_memory(&self, bytes: usize) {
        self.memory_bytes
            .store(u64::try_from(bytes).unwrap_or(u64::MAX), Ordering::Release);
    }

    /// Linear memory of the vat's current instance, in bytes.
    pub fn memory_bytes(&self) -> u64 {
        self.memory_bytes.load(Ordering::Acquire)
    }
}
