//! A channel's close, asked about on every read and write.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio_util::sync::CancellationToken;

/// A cancellation token whose "closed yet?" is one atomic load:
/// `CancellationToken::is_cancelled` takes the token's lock, and every call
/// a vat makes on a channel asks it at least once.
#[derive(Default)]
pub(crate) struct CloseSignal {
    closed: AtomicBool,
    token: CancellationToken,
}

impl CloseSignal {
    /// Closes: set before the token fires, so whoever the token wakes, or
    /// finds fired, also reads it closed.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.token.cancel();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The token that fires on close, to wait on.
    pub(crate) fn token(&self) -> &CancellationToken {
        &self.token
    }
}

#[cfg(test)]
mod tests {
    use super::CloseSignal;

    #[tokio::test]
    async fn a_waiter_wakes_on_close_and_reads_it_closed() {
        let signal = std::sync::Arc::new(CloseSignal::default());
        assert!(!signal.is_closed());
        let waiter = tokio::spawn({
            let signal = signal.clone();
            async move {
                signal.token().cancelled().await;
                signal.is_closed()
            }
        });
        signal.close();
        assert!(matches!(waiter.await, Ok(true)));
        assert!(signal.is_closed());
    }
}
