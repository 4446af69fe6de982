//! What the host's unit tests share.

use std::time::Duration;

/// Fails the test instead of hanging when `work` does not finish.
pub(crate) async fn soon<T>(work: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .expect("finished in time")
}
