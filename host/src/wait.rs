//! Waiting on a [`Notify`] until a condition holds, without missing the
//! wake-up that comes between looking and waiting: the waiter registers
//! first, then looks, then waits. The host's waits on a `Notify` for a
//! condition (a mailbox, an answer, a progress count, a request slot) go
//! through here. A queue or slot with a single receiver keeps that
//! receiver's waker under its own lock instead ([`register`]).

use std::task::Waker;

use tokio::sync::Notify;

/// Makes `waker` the one `waiting` holds, cloning it only if the one held
/// would not wake the same task: a task looks again at every wake-up, and
/// usually with the waker it left.
pub(crate) fn register(waiting: &mut Option<Waker>, waker: &Waker) {
    if !waiting.as_ref().is_some_and(|held| held.will_wake(waker)) {
        *waiting = Some(waker.clone());
    }
}

/// Resolves with what `check` finds once it finds something, looking again
/// each time `changed` is notified. Whoever makes `check` true must notify
/// `changed` after doing so (`notify_waiters`, or `notify_one` for a single
/// waiter). Cancel-safe if `check` only takes what it returns.
pub(crate) async fn until<R>(changed: &Notify, mut check: impl FnMut() -> Option<R>) -> R {
    loop {
        let notified = changed.notified();
        let mut notified = std::pin::pin!(notified);
        notified.as_mut().enable();
        if let Some(found) = check() {
            return found;
        }
        notified.await;
    }
}
