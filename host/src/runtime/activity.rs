//! Whether a vat is running wasm or waiting in a host call: what an upgrade
//! waits for, so that it replaces a vat only while the vat is blocked (in a
//! read, a poll, an accept, a write), never halfway through its own work:
//! not in a store call, not holding lines it was handed in a batch and has
//! not read (those would be lost with its memory).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

pub struct VatActivity {
    in_host: AtomicBool,
    /// Whether anyone waits for the next host call: only then does a host
    /// call notify, so the common path pays one load.
    watched: AtomicBool,
    entered_host: Notify,
    marks: crate::quiescence::Quiescence,
}

impl VatActivity {
    pub fn new(marks: crate::quiescence::Quiescence) -> Arc<Self> {
        Arc::new(Self {
            in_host: AtomicBool::new(false),
            watched: AtomicBool::new(false),
            entered_host: Notify::new(),
            marks,
        })
    }

    /// Called from the store's call hook.
    pub(super) fn calling_host(&self) {
        self.in_host.store(true, Ordering::Release);
        if self.watched.load(Ordering::Acquire) {
            self.entered_host.notify_waiters();
        }
    }

    pub(super) fn back_in_wasm(&self) {
        self.in_host.store(false, Ordering::Release);
    }

    /// Whether the vat is inside a host call. Checked after its `run`
    /// future returned pending, this means the vat waits in the host.
    pub fn in_host(&self) -> bool {
        self.in_host.load(Ordering::Acquire)
    }

    /// Drives `call` (the vat's `run`) until the vat waits inside a host
    /// call with nothing begun (see [`crate::quiescence`]), or until `call`
    /// ends, which is returned.
    pub async fn until_waiting_in_host<F: Future>(
        &self,
        mut call: std::pin::Pin<&mut F>,
    ) -> Option<F::Output> {
        self.watched.store(true, Ordering::Release);
        self.marks.quiet_down();
        let ended = loop {
            // Registered before `call` is polled again: a host call made
            // during that poll wakes it.
            let entered = self.entered_host.notified();
            tokio::pin!(entered);
            entered.as_mut().enable();
            // `call` has just returned pending: if the vat is in a host
            // call, it waits there; mid-batch or in a store call, it has
            // begun something its next host call may end.
            if self.in_host() && self.marks.is_quiet() {
                break None;
            }
            tokio::select! {
                biased;
                end = call.as_mut() => break Some(end),
                () = entered => {}
            }
        };
        self.watched.store(false, Ordering::Release);
        ended
    }
}
