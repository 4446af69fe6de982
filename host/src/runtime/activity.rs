//! Whether a vat is waiting in a host call or was stopped halfway through
//! its own work: what an upgrade waits for, so that it replaces a vat only
//! while the vat is blocked (in a read, a poll, an accept, a write), never
//! halfway through its own work: not in a store call, not holding lines it
//! was handed in a batch and has not read (those would be lost with its
//! memory).
//!
//! A vat's `run` returns pending for one of two reasons: a host call waits,
//! or the vat was made to yield at an epoch tick while running wasm. Only
//! the second is marked (by the epoch callback, see `limits`), so host calls
//! pay nothing for it: a call hook, which would see every move between wasm
//! and the host, takes wasmtime's slow path on each of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;

pub struct VatActivity {
    /// The vat is suspended at an epoch tick, in the middle of its work.
    yielding: AtomicBool,
    marks: crate::quiescence::Quiescence,
}

impl VatActivity {
    pub fn new(marks: crate::quiescence::Quiescence) -> Arc<Self> {
        Arc::new(Self {
            yielding: AtomicBool::new(false),
            marks,
        })
    }

    /// Called by the epoch callback around a yield of running wasm.
    pub(super) fn set_yielding(&self, yielding: bool) {
        self.yielding.store(yielding, Ordering::Release);
    }

    /// Checked after the vat's `run` future returned pending: whether the
    /// vat waits in a host call (rather than having yielded mid-work).
    pub fn waits_in_host(&self) -> bool {
        !self.yielding.load(Ordering::Acquire)
    }

    /// Drives `call` (the vat's `run`, which has just returned pending)
    /// until the vat waits inside a host call with nothing begun (see
    /// [`crate::quiescence`]), or until `call` ends, which is returned.
    pub async fn until_waiting_in_host<F: Future>(
        &self,
        mut call: std::pin::Pin<&mut F>,
    ) -> Option<F::Output> {
        self.marks.quiet_down();
        let quiet = || self.waits_in_host() && self.marks.is_quiet();
        if quiet() {
            return None;
        }
        std::future::poll_fn(|context| match call.as_mut().poll(context) {
            Poll::Ready(end) => Poll::Ready(Some(end)),
            // Mid-batch or in a store call, the vat has begun something its
            // next host call may end; at an epoch tick, it is computing.
            Poll::Pending if quiet() => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        })
        .await
    }
}
