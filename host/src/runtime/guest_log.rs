//! The recent guest output of one subcluster, kept for `vathost logs`.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

/// Output kept per subcluster, in bytes (text plus a fixed cost per line, so
/// that empty lines count too); older lines are dropped.
pub const KEPT_LOG_BYTES: usize = 256 * 1024;
/// What a kept line costs beyond its text: its record and its names.
const LINE_COST: usize = 128;

fn cost(line: &GuestLine) -> usize {
    LINE_COST + line.text.len() + line.vat.len()
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GuestLine {
    /// Position in the subcluster's output, counting from 1.
    pub seq: u64,
    pub vat: String,
    pub stream: String,
    pub text: String,
}

#[derive(Default)]
pub struct GuestLog {
    lines: Mutex<Kept>,
    /// The last sequence number written, for followers to wait on.
    last: crate::progress::Progress,
}

#[derive(Default)]
struct Kept {
    lines: VecDeque<GuestLine>,
    /// What `lines` cost, by [`cost`].
    bytes: usize,
}

impl GuestLog {
    pub(super) fn push(&self, vat: &str, stream: &str, text: &str) {
        let mut kept = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        let seq = self.last.get() + 1;
        let line = GuestLine {
            seq,
            vat: vat.to_owned(),
            stream: stream.to_owned(),
            text: text.to_owned(),
        };
        kept.bytes += cost(&line);
        kept.lines.push_back(line);
        while kept.bytes > KEPT_LOG_BYTES
            && let Some(oldest) = kept.lines.pop_front()
        {
            kept.bytes -= cost(&oldest);
        }
        self.last.advance_to(seq);
    }

    /// Every kept line after `after`.
    pub fn since(&self, after: u64) -> Vec<GuestLine> {
        let kept = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        kept.lines
            .iter()
            .filter(|line| line.seq > after)
            .cloned()
            .collect()
    }

    /// Waits until there is a line after `after`.
    pub async fn wait_after(&self, after: u64) {
        self.last.reached(after.saturating_add(1)).await;
    }
}
