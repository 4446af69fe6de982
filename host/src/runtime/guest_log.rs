//! The recent guest output of one subcluster, kept for `vathost logs`.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use tokio::sync::watch;

/// Lines kept per subcluster; older ones are dropped.
const KEPT_LINES: usize = 2000;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GuestLine {
    /// Position in the subcluster's output, counting from 1.
    pub seq: u64,
    pub vat: String,
    pub stream: String,
    pub text: String,
}

pub struct GuestLog {
    lines: Mutex<VecDeque<GuestLine>>,
    /// The last sequence number written, for followers to wait on.
    last: watch::Sender<u64>,
}

impl Default for GuestLog {
    fn default() -> Self {
        Self {
            lines: Mutex::new(VecDeque::new()),
            last: watch::Sender::new(0),
        }
    }
}

impl GuestLog {
    pub(super) fn push(&self, vat: &str, stream: &str, text: &str) {
        let mut lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        let seq = *self.last.borrow() + 1;
        if lines.len() == KEPT_LINES {
            lines.pop_front();
        }
        lines.push_back(GuestLine {
            seq,
            vat: vat.to_owned(),
            stream: stream.to_owned(),
            text: text.to_owned(),
        });
        self.last.send_replace(seq);
    }

    /// Every kept line after `after`.
    pub fn since(&self, after: u64) -> Vec<GuestLine> {
        let lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        lines
            .iter()
            .filter(|line| line.seq > after)
            .cloned()
            .collect()
    }

    /// Waits until there is a line after `after`.
    pub async fn wait_after(&self, after: u64) {
        let mut last = self.last.subscribe();
        let _ = last.wait_for(|last| *last > after).await;
    }
}
