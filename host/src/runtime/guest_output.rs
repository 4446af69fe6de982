//! A vat's stdout and stderr, forwarded to the host's log one line at a time
//! with the subcluster and vat names.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// A line longer than this is logged in pieces, so a vat cannot make the
/// host buffer without bound by never writing a newline.
const MAX_LOG_LINE: usize = 4096;

#[derive(Clone)]
pub(super) struct GuestOutput {
    subcluster: Arc<str>,
    vat: Arc<str>,
    stream: &'static str,
}

impl GuestOutput {
    pub(super) fn new(subcluster: &str, vat: &str, stream: &'static str) -> Self {
        Self {
            subcluster: subcluster.into(),
            vat: vat.into(),
            stream,
        }
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineLogger {
            target: self.clone(),
            pending: Vec::new(),
        })
    }
}

struct LineLogger {
    target: GuestOutput,
    pending: Vec<u8>,
}

impl LineLogger {
    fn emit(&self, line: &[u8]) {
        let line = String::from_utf8_lossy(line);
        tracing::info!(
            target: "vathost::guest",
            subcluster = &*self.target.subcluster,
            vat = &*self.target.vat,
            stream = self.target.stream,
            "{line}"
        );
    }
}

impl AsyncWrite for LineLogger {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        for &byte in bytes {
            if byte == b'\n' {
                this.emit(&this.pending);
                this.pending.clear();
            } else {
                this.pending.push(byte);
                if this.pending.len() >= MAX_LOG_LINE {
                    this.emit(&this.pending);
                    this.pending.clear();
                }
            }
        }
        Poll::Ready(Ok(bytes.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.emit(&rest);
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for LineLogger {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            self.emit(&self.pending);
        }
    }
}
