//! A slot for requests to a task that almost never gets one: one request at
//! a time, a second sender waiting until the first is taken. Every running
//! vat has one for its upgrades; tokio's bounded channel, which served
//! before, allocates a block of 32 entries and cache-padded state up front
//! (about 800 bytes per idle vat), this one small record.
//!
//! The receiver's waker waits in the slot's own lock rather than on a
//! `Notify`: a running vat's task looks at its slot on every wake-up (each
//! round trip of its client), and a `Notify` takes a second lock for each
//! look.

use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use tokio::sync::Notify;

struct Slot<T> {
    state: Mutex<State<T>>,
    /// The request was taken, or the receiver is gone: for waiting senders.
    freed: Notify,
}

struct State<T> {
    request: Option<T>,
    /// The receiver is gone: no request will be taken.
    closed: bool,
    /// The receiver, waiting for a request.
    receiver: Option<Waker>,
}

impl<T> Slot<T> {
    fn state(&self) -> std::sync::MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Puts requests in the slot.
pub(super) struct SlotSender<T>(Arc<Slot<T>>);

/// Takes requests out of the slot.
pub(super) struct SlotReceiver<T>(Arc<Slot<T>>);

impl<T> Clone for SlotSender<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

/// An empty slot.
pub(super) fn request_slot<T>() -> (SlotSender<T>, SlotReceiver<T>) {
    let slot = Arc::new(Slot {
        state: Mutex::new(State {
            request: None,
            closed: false,
            receiver: None,
        }),
        freed: Notify::new(),
    });
    (SlotSender(slot.clone()), SlotReceiver(slot))
}

impl<T> SlotSender<T> {
    /// Puts `request` in the slot once it is free; gives it back if the
    /// receiver is gone. A request put in but never taken is dropped with
    /// the receiver.
    pub async fn send(&self, request: T) -> Result<(), T> {
        // Taken out only by the look that returns.
        let mut request = Some(request);
        crate::wait::until(&self.0.freed, || {
            let mut state = self.0.state();
            if state.closed {
                return request.take().map(Err);
            }
            if state.request.is_some() {
                return None;
            }
            state.request = request.take();
            let receiver = state.receiver.take();
            // Woken outside the lock, which its poll takes.
            drop(state);
            if let Some(receiver) = receiver {
                receiver.wake();
            }
            Some(Ok(()))
        })
        .await
    }
}

impl<T> SlotReceiver<T> {
    /// The next request, waiting for one. Cancel-safe: a request is taken
    /// only by the call that returns it.
    pub async fn recv(&mut self) -> T {
        std::future::poll_fn(|context| self.poll_recv(context)).await
    }

    fn poll_recv(&mut self, context: &mut Context<'_>) -> Poll<T> {
        let mut state = self.0.state();
        if let Some(request) = state.request.take() {
            drop(state);
            self.0.freed.notify_waiters();
            return Poll::Ready(request);
        }
        crate::wait::register(&mut state.receiver, context.waker());
        Poll::Pending
    }
}

impl<T> Drop for SlotReceiver<T> {
    fn drop(&mut self) {
        let untaken = {
            let mut state = self.0.state();
            state.closed = true;
            state.receiver = None;
            state.request.take()
        };
        // Dropped outside the lock: dropping may tell its sender something.
        drop(untaken);
        self.0.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::soon;

    #[tokio::test]
    async fn a_request_is_taken_and_a_second_waits_until_the_first_is() {
        let (sender, mut receiver) = request_slot();
        assert!(soon(sender.send(1)).await.is_ok());
        let second = tokio::spawn({
            let sender = sender.clone();
            async move { sender.send(2).await }
        });
        // On this single-threaded runtime the second send runs here, and
        // finds the slot full.
        tokio::task::yield_now().await;
        assert!(
            !second.is_finished(),
            "the second request went in before the first was taken"
        );
        assert_eq!(soon(receiver.recv()).await, 1);
        assert_eq!(soon(second).await.ok(), Some(Ok(())));
        assert_eq!(soon(receiver.recv()).await, 2);
    }

    #[tokio::test]
    async fn a_request_never_taken_goes_with_the_receiver_and_later_ones_are_refused() {
        let (sender, receiver) = request_slot();
        let (answer, answered) = tokio::sync::oneshot::channel::<()>();
        assert!(soon(sender.send(answer)).await.is_ok());
        drop(receiver);
        assert!(
            soon(answered).await.is_err(),
            "the untaken request was kept"
        );
        let (late, _) = tokio::sync::oneshot::channel::<()>();
        assert!(
            soon(sender.send(late)).await.is_err(),
            "a request was accepted with no receiver"
        );
    }

    #[tokio::test]
    async fn a_sender_waiting_on_a_full_slot_is_refused_when_the_receiver_goes() {
        let (sender, receiver) = request_slot();
        assert!(soon(sender.send(1)).await.is_ok());
        let waiting = tokio::spawn({
            let sender = sender.clone();
            async move { sender.send(2).await }
        });
        tokio::task::yield_now().await;
        drop(receiver);
        assert_eq!(soon(waiting).await.ok(), Some(Err(2)));
    }
}
