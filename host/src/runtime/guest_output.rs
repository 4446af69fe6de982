//! A vat's stdout and stderr, forwarded to the host's log one line at a time
//! with the subcluster and vat names, within a rate budget so that a chatty
//! vat cannot flood the host's log.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::AsyncWrite;

use super::GuestLog;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// A line longer than this is logged in pieces, so a vat cannot make the
/// host buffer without bound by never writing a newline.
const MAX_LOG_LINE: usize = 4096;
/// Sustained output a vat may log, in bytes per second, stdout and stderr together.
pub const OUTPUT_BYTES_PER_SECOND: u64 = 64 * 1024;
/// Output a vat may log at once after a quiet spell.
const OUTPUT_BURST: u64 = 256 * 1024;
/// The most one `write` may pass; it is taken at once whatever its size.
const WRITE_PERMIT: usize = 64 * 1024;
/// At most one "output dropped" notice per vat this often.
const DROP_NOTICE_INTERVAL: Duration = Duration::from_secs(1);

/// The line `vat-sdk`'s panic hook writes to stderr before the vat traps:
/// `vat panicked at src/lib.rs:10:5: the message`.
pub const PANIC_LINE: &str = "vat panicked at ";

/// The last panic line a vat wrote: the trap that follows is reported with
/// it, so the user reads the panic's message and place, not `unreachable`.
#[derive(Clone, Default)]
pub(super) struct PanicNote(Arc<Mutex<Option<String>>>);

impl PanicNote {
    pub(super) fn take(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    fn record(&self, line: &[u8]) {
        if line.starts_with(PANIC_LINE.as_bytes()) {
            let line = String::from_utf8_lossy(&line[..line.len().min(1024)]);
            *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(line.into_owned());
        }
    }
}

/// One vat's stdout or stderr. Every stream handle the vat obtains for it
/// (each `get-stdout` call makes one) shares this one line buffer and writes
/// into it at once, without a task or a buffer of its own: however many
/// handles a vat takes, the host holds one partial line per stream.
#[derive(Clone)]
pub(super) struct GuestOutput {
    logger: Arc<Mutex<LineLogger>>,
}

impl GuestOutput {
    pub(super) fn new(
        subcluster: &str,
        vat: &str,
        stream: &'static str,
        budget: OutputBudget,
        log: Arc<GuestLog>,
        panics: Option<PanicNote>,
    ) -> Self {
        let target = Target {
            subcluster: subcluster.into(),
            vat: vat.into(),
            stream,
            budget,
            log,
            panics,
        };
        Self {
            logger: Arc::new(Mutex::new(LineLogger {
                target,
                pending: Vec::new(),
            })),
        }
    }

    fn write(&self, bytes: &[u8]) {
        self.logger
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write(bytes);
    }
}

/// Where a vat's lines go.
struct Target {
    subcluster: Arc<str>,
    vat: Arc<str>,
    stream: &'static str,
    budget: OutputBudget,
    log: Arc<GuestLog>,
    /// Set on stderr: where its panic line is noted.
    panics: Option<PanicNote>,
}

/// A token bucket of log bytes, shared by one vat's stdout and stderr.
/// Output over budget is dropped (the vat is not slowed down), with a notice.
#[derive(Clone)]
pub(super) struct OutputBudget(Arc<Mutex<Bucket>>);

struct Bucket {
    tokens: u64,
    refilled: Instant,
    dropped: u64,
    noticed: Option<Instant>,
}

enum Admission {
    Log,
    Drop { notice: Option<u64> },
}

impl OutputBudget {
    pub(super) fn new() -> Self {
        Self(Arc::new(Mutex::new(Bucket {
            tokens: OUTPUT_BURST,
            refilled: Instant::now(),
            dropped: 0,
            noticed: None,
        })))
    }

    fn admit(&self, bytes: usize) -> Admission {
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        let mut bucket = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let elapsed = now.duration_since(bucket.refilled);
        let earned = elapsed.as_micros() * u128::from(OUTPUT_BYTES_PER_SECOND) / 1_000_000;
        if earned > 0 {
            let earned = u64::try_from(earned).unwrap_or(u64::MAX);
            bucket.tokens = bucket.tokens.saturating_add(earned).min(OUTPUT_BURST);
            bucket.refilled = now;
        }
        if bucket.tokens >= bytes {
            bucket.tokens -= bytes;
            return Admission::Log;
        }
        bucket.dropped = bucket.dropped.saturating_add(bytes);
        let due = bucket
            .noticed
            .is_none_or(|noticed| now.duration_since(noticed) >= DROP_NOTICE_INTERVAL);
        let notice = due.then(|| {
            bucket.noticed = Some(now);
            bucket.dropped
        });
        Admission::Drop { notice }
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

/// Writes are taken whole and at once: the stream is always ready.
impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        GuestOutput::write(self, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_PERMIT)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl AsyncWrite for GuestOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.write(bytes);
        Poll::Ready(Ok(bytes.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Splits output into lines of at most [`MAX_LOG_LINE`] bytes.
struct LineLogger {
    target: Target,
    pending: Vec<u8>,
}

impl LineLogger {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if byte == b'\n' {
                self.emit_pending();
            } else {
                self.pending.push(byte);
                if self.pending.len() >= MAX_LOG_LINE {
                    self.emit_pending();
                }
            }
        }
    }

    fn emit_pending(&mut self) {
        self.emit(&self.pending);
        self.pending.clear();
    }

    fn emit(&self, line: &[u8]) {
        let target = &self.target;
        // Noted even when the output budget drops the line.
        if let Some(panics) = &target.panics {
            panics.record(line);
        }
        match target.budget.admit(line.len() + 1) {
            Admission::Log => {
                let line = String::from_utf8_lossy(line);
                target.log.push(&target.vat, target.stream, &line);
                tracing::info!(
                    target: "vathost::guest",
                    subcluster = &*target.subcluster,
                    vat = &*target.vat,
                    stream = target.stream,
                    "{line}"
                );
            }
            Admission::Drop {
                notice: Some(dropped),
            } => tracing::warn!(
                subcluster = &*target.subcluster,
                vat = &*target.vat,
                "vat output over {OUTPUT_BYTES_PER_SECOND} bytes/s: {dropped} bytes dropped so far"
            ),
            Admission::Drop { notice: None } => {}
        }
    }
}

/// A partial last line is logged when the vat's store goes.
impl Drop for LineLogger {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            self.emit(&self.pending);
        }
    }
}
