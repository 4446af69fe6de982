//! Answers: the promise a sender holds and the resolver its receiver holds.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

use super::{Mailbox, Payload};

/// The reason an answer gets when its resolver is dropped unused by a vat
/// that is still running.
pub const DROPPED: &str = "dropped without an answer";

enum State {
    Pending,
    Settled(Result<Payload, String>),
    Taken,
}

/// The shared state of one answer. The sender's `answer` handle and the
/// receiver's `resolver` (or the queued message) hold it.
pub struct Answer {
    state: Mutex<State>,
    settled: Notify,
    /// Largest value body the asker accepts (its `limits.message`).
    max_value: usize,
    /// The asker's name, for the reason a too-large value gets.
    asker: Arc<str>,
}

impl Answer {
    pub fn new(asker: Arc<str>, max_value: usize) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State::Pending),
            settled: Notify::new(),
            max_value,
            asker,
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Every update is one assignment: a panic cannot leave it half done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Settles the answer unless it already is; the first settlement wins.
    pub fn settle(&self, result: Result<Payload, String>) {
        let result = match result {
            Ok(value) if value.size() > self.max_value => Err(format!(
                "the value is {} bytes, more than `{}`'s limits.message ({})",
                value.size(),
                self.asker,
                self.max_value
            )),
            other => other,
        };
        let displaced = {
            let mut state = self.state();
            if !matches!(*state, State::Pending) {
                return;
            }
            std::mem::replace(&mut *state, State::Settled(result))
        };
        drop(displaced);
        self.settled.notify_waiters();
    }

    pub fn reject(&self, reason: impl Into<String>) {
        self.settle(Err(reason.into()));
    }

    /// The settled result, moved out; `None` while pending.
    pub fn take(&self) -> Option<Result<Payload, String>> {
        let mut state = self.state();
        match std::mem::replace(&mut *state, State::Taken) {
            State::Pending => {
                *state = State::Pending;
                None
            }
            State::Settled(result) => Some(result),
            State::Taken => Some(Err("the answer was already taken".to_owned())),
        }
    }

    pub fn is_settled(&self) -> bool {
        !matches!(*self.state(), State::Pending)
    }

    /// Returns once the answer is settled.
    pub async fn settled(&self) {
        crate::wait::until(&self.settled, || self.is_settled().then_some(())).await;
    }
}

/// The right to settle one answer, held in the deciding vat's table. If it
/// is dropped unsettled, the answer rejects: with how the vat ended if it
/// has, else as dropped without an answer.
pub struct Resolver {
    answer: Arc<Answer>,
    decider: Arc<Mailbox>,
}

impl Resolver {
    pub fn new(answer: Arc<Answer>, decider: Arc<Mailbox>) -> Self {
        Self { answer, decider }
    }

    pub fn fulfill(self, value: Payload) {
        self.answer.settle(Ok(value));
    }

    pub fn reject(self, reason: String) {
        self.answer.reject(reason);
    }
}

impl Drop for Resolver {
    fn drop(&mut self) {
        if self.answer.is_settled() {
            return;
        }
        match self.decider.gone() {
            Some(reason) => self.answer.reject(reason.to_string()),
            None => self.answer.reject(DROPPED),
        }
    }
}
