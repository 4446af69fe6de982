//! The vat's side of a channel's output: a buffer per connected peer that
//! counts what the peer took, flushed when the vat's input drains, when it
//! is about to wait, and within [`FLUSH_DELAY`] in any case; and the end of
//! a peer's output within [`CLOSE_GRACE`], whatever the peer does. On a
//! channel with a message transport (NATS) each write goes to the
//! transport instead, as messages of their own.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::FutureExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::MutexGuard;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{CLOSE_GRACE, Channel, ChannelError, FLUSH_DELAY, MessagePeer};
use crate::io::spec::Unit;

/// The write side of the connected peer, with the output it has not taken
/// yet. Dropped with output unsent (its grace over, or its session's task
/// ended), it logs how much was dropped, unless the peer had gone.
pub(crate) struct ClientWriter {
    id: u64,
    /// The channel's name, for the log; set when attached.
    channel: Arc<str>,
    /// A write failed: the peer is gone, and unsent output is no news.
    peer_gone: bool,
    stream: Box<dyn tokio::io::AsyncWrite + Send + Unpin>,
    buffer: Vec<u8>,
    /// How much of `buffer` the peer has taken.
    sent: usize,
    /// Makes any write to this peer give up (its session's grace is over).
    /// In an `Arc`: a flush holds it while the writer sends, and cloning a
    /// token takes its lock.
    stop: Arc<CancellationToken>,
}

/// Output past which a write is sent at once rather than gathered.
const WRITE_BUFFER: usize = 32 * 1024;

enum FlushError {
    /// The peer is gone.
    Failed,
    /// The session's grace ran out; the output stays for the final count.
    Stopped,
}

impl ClientWriter {
    pub(crate) fn new(id: u64, stream: Box<dyn tokio::io::AsyncWrite + Send + Unpin>) -> Self {
        Self {
            id,
            channel: Arc::from(""),
            peer_gone: false,
            stream,
            buffer: Vec::new(),
            sent: 0,
            stop: Arc::new(CancellationToken::new()),
        }
    }

    fn unsent(&self) -> usize {
        self.buffer.len() - self.sent
    }

    /// Sends the buffered output. Cancel-safe: what was sent is accounted
    /// for after every write, so a cancelled flush can be resumed.
    async fn flush(&mut self) -> Result<(), FlushError> {
        // Most flushes complete at once: they never look at the stop token
        // (each look takes its lock) nor make the select below.
        if let Some(sent) = self.send_buffer().now_or_never() {
            return sent.map_err(|_| FlushError::Failed);
        }
        let stop = Arc::clone(&self.stop);
        // The send first: a write that completes at once never looks at the
        // stop token (each look takes its lock), only one that waits; and a
        // stopped writer's peer is not taking output, so its send waits.
        tokio::select! {
            biased;
            sent = self.send_buffer() => sent.map_err(|_| FlushError::Failed),
            () = stop.cancelled() => Err(FlushError::Stopped),
        }
    }

    async fn send_buffer(&mut self) -> std::io::Result<()> {
        let sent = self.send_unsent().await;
        self.peer_gone |= sent.is_err();
        sent
    }

    async fn send_unsent(&mut self) -> std::io::Result<()> {
        while self.sent < self.buffer.len() {
            let written = self.stream.write(&self.buffer[self.sent..]).await?;
            if written == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            self.sent += written;
        }
        self.buffer.clear();
        self.sent = 0;
        self.stream.flush().await
    }
}

/// A writer taken out of its channel, to be finished within its grace.
pub(crate) struct EndingWriter {
    writer: ClientWriter,
    deadline: Instant,
}

impl EndingWriter {
    /// Sends what is buffered and shuts the peer's write side down, until
    /// the deadline; past it, dropping the writer logs what it drops.
    pub(crate) async fn finish(mut self) {
        let writer = &mut self.writer;
        let sent = tokio::time::timeout_at(self.deadline, async {
            writer.send_buffer().await?;
            writer.stream.shutdown().await
        })
        .await;
        if let Ok(Err(error)) = sent {
            tracing::debug!(channel = &*writer.channel, %error, "peer gone before the last output");
        }
    }
}

impl Drop for ClientWriter {
    fn drop(&mut self) {
        if self.unsent() > 0 && !self.peer_gone {
            tracing::warn!(
                channel = &*self.channel,
                dropped_bytes = self.unsent(),
                "the peer did not take {} bytes of output within {} ms; dropped them",
                self.unsent(),
                CLOSE_GRACE.as_millis()
            );
        }
    }
}

impl Channel {
    /// Writes one line to the connected client, waiting until the socket
    /// has taken all of it.
    pub async fn write(&self, line: &str) -> Result<(), ChannelError> {
        self.check_line(line)?;
        if let Some(peer) = self.peer() {
            let message = bytes::Bytes::copy_from_slice(line.as_bytes());
            self.send_messages(peer, vec![message]).await?;
        } else {
            self.send(&[line.as_bytes(), b"\n"]).await?;
        }
        self.stats.lines_out.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn check_line(&self, line: &str) -> Result<(), ChannelError> {
        self.check_write(Unit::Line)?;
        if line.contains('\n') {
            return Err(ChannelError::InvalidData(
                "a written line cannot contain a newline: one write is one line".to_owned(),
            ));
        }
        Ok(())
    }

    /// Writes several lines at once: `lines` is whole lines, each followed
    /// by `\n` (empty writes nothing). One call, one buffer append.
    pub async fn write_lines(&self, lines: &str) -> Result<(), ChannelError> {
        self.check_write(Unit::Line)?;
        if lines.is_empty() {
            return Ok(());
        }
        if !lines.ends_with('\n') {
            return Err(ChannelError::InvalidData(
                "written lines must each end with a newline, the last one too".to_owned(),
            ));
        }
        let count = memchr::memchr_iter(b'\n', lines.as_bytes()).count();
        if let Some(peer) = self.peer() {
            let text = bytes::Bytes::copy_from_slice(lines.as_bytes());
            let messages = lines
                .split_terminator('\n')
                .scan(0, |start, line| {
                    let message = text.slice(*start..*start + line.len());
                    *start += line.len() + 1;
                    Some(message)
                })
                .collect();
            self.send_messages(peer, messages).await?;
        } else {
            self.send(&[lines.as_bytes()]).await?;
        }
        self.stats
            .lines_out
            .fetch_add(count as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Writes bytes to the connected client, waiting until the socket has
    /// taken all of them.
    pub async fn write_bytes(&self, data: &[u8]) -> Result<(), ChannelError> {
        self.check_write(Unit::Bytes)?;
        match self.peer() {
            Some(peer) => {
                let message = bytes::Bytes::copy_from_slice(data);
                self.send_messages(peer, vec![message]).await
            }
            None => self.send(&[data]).await,
        }
    }

    /// Sends each of `messages` through the message transport, counting
    /// their bytes (their lines are counted by the caller).
    async fn send_messages(
        &self,
        peer: &dyn MessagePeer,
        messages: Vec<bytes::Bytes>,
    ) -> Result<(), ChannelError> {
        let bytes: usize = messages.iter().map(bytes::Bytes::len).sum();
        self.until_closed(peer.send(messages)).await??;
        self.stats
            .bytes_out
            .fetch_add(bytes as u64, Ordering::Relaxed);
        Ok(())
    }

    fn check_write(&self, unit: Unit) -> Result<(), ChannelError> {
        if !self.direction.writable() {
            Err(ChannelError::NotWritable)
        } else if self.unit != unit {
            Err(ChannelError::WrongUnit)
        } else {
            Ok(())
        }
    }

    async fn send(&self, parts: &[&[u8]]) -> Result<(), ChannelError> {
        let mut output = self.lock_output().await?;
        let Some(writer) = output.as_mut() else {
            return Err(ChannelError::NoClient);
        };
        for part in parts {
            writer.buffer.extend_from_slice(part);
        }
        self.output_waiting.store(true, Ordering::Release);
        // More input is waiting: the vat will likely reply again soon, so
        // let replies gather; otherwise send now.
        let flush_now = self.unread.load(Ordering::Acquire) == 0 || writer.unsent() >= WRITE_BUFFER;
        if flush_now {
            let flushed = match writer.flush().now_or_never() {
                Some(flushed) => flushed,
                // The peer takes output slower than the vat writes it.
                // Boxed, as every wait here: inline, the waits would make
                // every write's future (which wasmtime boxes and copies)
                // several times larger.
                None => Box::pin(self.until_closed(writer.flush())).await?,
            };
            match flushed {
                Ok(()) => self.output_waiting.store(false, Ordering::Release),
                // The client went away mid-write; the transport will notice too.
                Err(FlushError::Failed) => {
                    *output = None;
                    return Err(ChannelError::NoClient);
                }
                // Its session is ending; what is left is counted there.
                Err(FlushError::Stopped) => return Err(ChannelError::NoClient),
            }
        } else {
            self.unflushed.notify_one();
        }
        let bytes: usize = parts.iter().map(|part| part.len()).sum();
        self.stats
            .bytes_out
            .fetch_add(bytes as u64, Ordering::Relaxed);
        Ok(())
    }

    /// The output, once no other write holds it; `Closed` once closed.
    async fn lock_output(&self) -> Result<MutexGuard<'_, Option<ClientWriter>>, ChannelError> {
        self.lock_unless_closed(|| self.output.try_lock().ok(), || self.output.lock())
            .await
    }

    /// Whether a write may have left output in the buffer. A read about to
    /// wait flushes first, and usually finds nothing waiting (the write
    /// sent it): then it takes no lock.
    pub(crate) fn output_waiting(&self) -> bool {
        self.output_waiting.load(Ordering::Acquire)
    }

    /// Sends buffered output to the client now.
    pub(crate) async fn flush(&self) {
        if !self.output_waiting() {
            return;
        }
        let mut output = self.output.lock().await;
        self.flush_locked(&mut output).await;
    }

    /// Sends buffered output to the client now, unless a write is under way
    /// (which sends it itself).
    pub(crate) async fn flush_unless_busy(&self) {
        if !self.output_waiting() {
            return;
        }
        if let Ok(mut output) = self.output.try_lock() {
            self.flush_locked(&mut output).await;
        }
    }

    async fn flush_locked(&self, output: &mut Option<ClientWriter>) {
        let Some(writer) = output.as_mut().filter(|writer| writer.unsent() > 0) else {
            self.output_waiting.store(false, Ordering::Release);
            return;
        };
        match writer.flush().await {
            Ok(()) => self.output_waiting.store(false, Ordering::Release),
            Err(FlushError::Failed) => *output = None,
            Err(FlushError::Stopped) => {}
        }
    }

    /// Flushes output that a write left in the buffer within [`FLUSH_DELAY`];
    /// the transport runs this for as long as the channel is open.
    pub(crate) async fn flush_lagging_output(&self) {
        loop {
            let flushed = self
                .until_closed(async {
                    self.unflushed.notified().await;
                    tokio::time::sleep(FLUSH_DELAY).await;
                    self.flush().await;
                })
                .await;
            if flushed.is_err() {
                return;
            }
        }
    }

    /// Ends the output of the attached peer (of `session` only, if given):
    /// what is buffered is sent within [`CLOSE_GRACE`], the rest dropped and
    /// logged, and the peer's write side is shut down. Later writes find no
    /// client.
    pub(crate) async fn end_output(&self, session: Option<u64>) {
        if let Some(ending) = self.detach_writer(session).await {
            ending.finish().await;
        }
    }

    /// Takes the attached writer (of `session` only, if given) out of the
    /// channel, so that a new peer can be attached at once; the caller
    /// finishes it.
    pub(crate) async fn detach_writer(&self, session: Option<u64>) -> Option<EndingWriter> {
        let deadline = Instant::now() + CLOSE_GRACE;
        let stop = self
            .writer_stop
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .filter(|(id, _)| session.is_none_or(|session| session == *id))
            .map(|(_, stop)| stop.clone())?;
        // A write blocked on the peer holds the output; past the deadline it
        // gives up, so this never waits longer than the grace.
        let mut output = tokio::select! {
            output = self.output.lock() => output,
            () = tokio::time::sleep_until(deadline) => {
                stop.cancel();
                self.output.lock().await
            }
        };
        let writer = output.take_if(|writer| session.is_none_or(|session| session == writer.id))?;
        Some(EndingWriter { writer, deadline })
    }

    /// Makes `writer` the peer that writes go to.
    pub(crate) async fn attach_client(&self, mut writer: ClientWriter) {
        writer.channel = Arc::from(self.name.as_str());
        *self
            .writer_stop
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((writer.id, CancellationToken::clone(&writer.stop)));
        *self.output.lock().await = Some(writer);
    }
}
