//! Whether a vat is running wasm or waiting in a host call: what an upgrade
//! waits for, so that it replaces a vat only while the vat is blocked (in a
//! read, a poll, an accept), never halfway through its own work.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

#[derive(Default)]
pub struct VatActivity {
    in_host: AtomicBool,
    entered_host: Notify,
}

impl VatActivity {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Called from the store's call hook.
    pub(super) fn calling_host(&self) {
        self.in_host.store(true, Ordering::Release);
        self.entered_host.notify_waiters();
    }

    pub(super) fn back_in_wasm(&self) {
        self.in_host.store(false, Ordering::Release);
    }

    /// Whether the vat is inside a host call. Checked after its `run`
    /// future returned pending, this means the vat waits in the host.
    pub fn in_host(&self) -> bool {
        self.in_host.load(Ordering::Acquire)
    }

    /// Resolves at the vat's next host call.
    pub async fn next_host_call(&self) {
        self.entered_host.notified().await;
    }
}
