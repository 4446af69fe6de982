//! A count that only grows, and tasks waiting for it to reach a mark: which
//! client sessions a channel's vat is done with, how far a subcluster's log
//! has come. A tokio `watch` channel did this before; each one allocates
//! its shared state with an eight-way sharded list of waiters (about 370
//! bytes), and every idle vat had two. This is a number and one `Notify`.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;

#[derive(Debug, Default)]
pub struct Progress {
    reached: AtomicU64,
    advanced: Notify,
}

impl Progress {
    /// How far it has come.
    pub fn get(&self) -> u64 {
        self.reached.load(Ordering::Acquire)
    }

    /// Moves on to `mark` (never back) and wakes whoever waits.
    pub fn advance_to(&self, mark: u64) {
        self.reached.fetch_max(mark, Ordering::AcqRel);
        self.advanced.notify_waiters();
    }

    /// Resolves once it has reached `mark`.
    pub async fn reached(&self, mark: u64) {
        crate::wait::until(&self.advanced, || (self.get() >= mark).then_some(())).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn a_waiter_wakes_when_its_mark_is_reached_and_not_before() {
        let progress = Arc::new(Progress::default());
        let waiter = tokio::spawn({
            let progress = progress.clone();
            async move { progress.reached(2).await }
        });
        // On this single-threaded runtime the waiter runs at each yield.
        tokio::task::yield_now().await;
        progress.advance_to(1);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "woke before its mark");
        progress.advance_to(2);
        assert!(waiter.await.is_ok());
        // A mark already passed resolves at once; the count never goes back.
        progress.advance_to(1);
        assert_eq!(progress.get(), 2);
        progress.reached(1).await;
    }
}
