//! Whether a vat may be replaced (upgraded) now without losing anything it
//! has begun: it must be waiting in the host, in no call whose effect would
//! be lost or half done if cut off (a store call, a give-back), and holding
//! no lines it was handed in a batch and has not read (its SDK may keep
//! those in memory only). A write may be cut off: what it wrote is already
//! in the channel's buffer, which outlives the vat. The host calls of `io`
//! and `state` keep these marks; the runtime reads them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// One vat instance's marks, shared by its host calls and its runner.
#[derive(Debug, Clone)]
pub struct Quiescence(Arc<Marks>);

#[derive(Debug)]
struct Marks {
    /// Whether this vat takes lines in batches at all: a vat restarted
    /// after a trap takes one at a time, so a trap loses no line it had not
    /// begun.
    batches: bool,
    /// An upgrade waits: lines go one at a time, so the vat soon holds none.
    quieting: AtomicBool,
    in_hand: AtomicUsize,
    busy: AtomicUsize,
}

impl Quiescence {
    pub fn new(batches: bool) -> Self {
        Self(Arc::new(Marks {
            batches,
            quieting: AtomicBool::new(false),
            in_hand: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
        }))
    }

    /// Whether a read may hand over more than one line.
    pub fn batches(&self) -> bool {
        self.0.batches && !self.0.quieting.load(Ordering::Acquire)
    }

    /// Lines were handed to the vat in a batch.
    pub fn hold(&self, lines: usize) {
        self.0.in_hand.fetch_add(lines, Ordering::AcqRel);
    }

    /// Lines of a batch were read for good, or given back.
    pub fn release(&self, lines: usize) {
        self.0.in_hand.fetch_sub(lines, Ordering::AcqRel);
    }

    /// Lines handed in batches and not yet read for good.
    pub fn lines_in_hand(&self) -> usize {
        self.0.in_hand.load(Ordering::Acquire)
    }

    /// Marks a host call with effects until the guard is dropped.
    pub fn busy(&self) -> Busy {
        self.0.busy.fetch_add(1, Ordering::AcqRel);
        Busy(self.clone())
    }

    /// An upgrade is waiting for the vat: hand it lines one at a time.
    pub fn quiet_down(&self) {
        self.0.quieting.store(true, Ordering::Release);
    }

    /// Whether an upgrade waits for this vat.
    pub fn quieting(&self) -> bool {
        self.0.quieting.load(Ordering::Acquire)
    }

    /// No call with effects runs and no batched line is in hand.
    pub fn is_quiet(&self) -> bool {
        self.0.busy.load(Ordering::Acquire) == 0 && self.lines_in_hand() == 0
    }
}

/// A host call with effects in progress; see [`Quiescence::busy`].
pub struct Busy(Quiescence);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_only_with_nothing_in_hand_and_no_call_with_effects() {
        let marks = Quiescence::new(true);
        assert!(marks.is_quiet());
        marks.hold(3);
        assert!(!marks.is_quiet());
        marks.release(3);
        let busy = marks.busy();
        assert!(!marks.is_quiet());
        drop(busy);
        assert!(marks.is_quiet());
    }

    #[test]
    fn quieting_down_ends_batches() {
        let marks = Quiescence::new(true);
        assert!(marks.batches());
        marks.quiet_down();
        assert!(!marks.batches());
        assert!(!Quiescence::new(false).batches());
    }
}
