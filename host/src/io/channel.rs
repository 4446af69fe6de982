//! The state one declared channel shares between the vats that hold it and the
//! transport (a socket) that feeds it.
//!
//! Inbound data flows through a bounded queue: when it is full the transport
//! stops reading, so a fast client is slowed down, never dropped. Every wait a
//! vat can be in (reading, writing, polling) also waits on the channel's close
//! signal, so closing a channel with calls in flight makes them return
//! [`ChannelError::Closed`] instead of hanging.
//!
//! Output is buffered and flushed when the vat has no more input waiting on
//! the channel (an echo-style vat then sends a burst of replies in one
//! syscall), when it is about to wait for input, and in any case within
//! [`FLUSH_DELAY`], so output never lingers in the buffer.
//!
//! A client's session on a socket outlives the end of its input: a client that
//! shuts down its write side (`nc -N`, `socat`) still gets every reply. The
//! session's output ends when the vat has read the end of that client's
//! stream and comes back for more (or lets go of the channel); then what is
//! buffered is sent within [`CLOSE_GRACE`] and the connection is shut down.
//! Output a peer does not take within the grace is dropped with a log line,
//! so ending a session or closing a channel never waits on a peer.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::{Mutex, Notify, mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{ChannelSpec, Direction, Unit};

/// Why a channel call failed; mirrors the WIT `io-error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    #[error("channel is not readable (direction `out`)")]
    NotReadable,
    #[error("channel is not writable (direction `in`)")]
    NotWritable,
    #[error("channel is closed")]
    Closed,
    #[error("no client is connected")]
    NoClient,
    #[error("invalid data: {0}")]
    InvalidData(String),
    #[error("line longer than {0} bytes")]
    TooLong(u32),
    #[error("a line call on a bytes channel, or a bytes call on a line channel")]
    WrongUnit,
}

/// The longest a written line waits in the buffer before it is flushed.
pub const FLUSH_DELAY: Duration = Duration::from_millis(1);

/// How long output may take to reach a peer once its session or channel
/// ends. What the peer has not taken by then is dropped (and logged), so a
/// peer that stops reading cannot hold up a terminate.
pub const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// What the transport hands the vat side, in arrival order.
#[derive(Debug)]
pub(crate) enum Inbound {
    Line(String),
    /// A chunk of a `bytes` channel's stream.
    Bytes(Vec<u8>),
    InvalidData(String),
    TooLong,
    /// The peer that sent the preceding lines has no more to send. With a
    /// session, that client's output ends once the vat has moved past this.
    EndOfStream {
        session: Option<u64>,
    },
    /// No more input will ever come (a file's end, a connection's end):
    /// every later read returns `Closed`. Never consumed.
    Finished,
}

pub struct Channel {
    name: String,
    direction: Direction,
    unit: Unit,
    max_line: u32,
    inbound: Mutex<InboundQueue>,
    output: Mutex<Option<ClientWriter>>,
    /// The stop signal of the attached writer, reachable without the output
    /// lock (which a write blocked on the peer holds).
    writer_stop: std::sync::Mutex<Option<(u64, CancellationToken)>>,
    closed: CancellationToken,
    /// Items handed to the queue and not yet read (a peeked one included).
    unread: AtomicUsize,
    /// Signalled when a write leaves output in the buffer.
    unflushed: Notify,
    /// The last session whose end of stream the vat has read and moved past.
    sessions_done: watch::Sender<u64>,
    /// Vat handles to this channel.
    holders: AtomicUsize,
    /// Fired when the last vat handle to this channel is dropped.
    abandoned: CancellationToken,
    stats: Counters,
}

/// Traffic on a channel since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChannelStats {
    pub client_connected: bool,
    pub clients_served: u64,
    pub lines_in: u64,
    pub bytes_in: u64,
    pub lines_out: u64,
    pub bytes_out: u64,
}

impl ChannelStats {
    /// Adds another channel's lines and bytes to these.
    pub fn add_traffic(&mut self, other: &ChannelStats) {
        self.lines_in += other.lines_in;
        self.bytes_in += other.bytes_in;
        self.lines_out += other.lines_out;
        self.bytes_out += other.bytes_out;
    }
}

#[derive(Default)]
struct Counters {
    client_connected: std::sync::atomic::AtomicBool,
    clients_served: std::sync::atomic::AtomicU64,
    lines_in: std::sync::atomic::AtomicU64,
    bytes_in: std::sync::atomic::AtomicU64,
    lines_out: std::sync::atomic::AtomicU64,
    bytes_out: std::sync::atomic::AtomicU64,
}

struct InboundQueue {
    receiver: mpsc::Receiver<Inbound>,
    /// An item taken off the queue by a readiness check, not yet read.
    peeked: Option<Inbound>,
    /// A session whose end of stream the vat has read; it is done with that
    /// client when it next reads or waits for input.
    ending: Option<u64>,
}

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
    stop: CancellationToken,
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
            stop: CancellationToken::new(),
        }
    }

    fn unsent(&self) -> usize {
        self.buffer.len() - self.sent
    }

    /// Sends the buffered output. Cancel-safe: what was sent is accounted
    /// for after every write, so a cancelled flush can be resumed.
    async fn flush(&mut self) -> Result<(), FlushError> {
        let stop = self.stop.clone();
        if stop.is_cancelled() {
            return Err(FlushError::Stopped);
        }
        // The send first: a write that completes at once never registers
        // with the stop token (which costs a lock), only one that waits.
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
    /// A new open channel and the sender its transport feeds it with.
    pub(crate) fn new(spec: &ChannelSpec) -> (Arc<Self>, mpsc::Sender<Inbound>) {
        let capacity = usize::try_from(spec.queue).unwrap_or(1).max(1);
        let (sender, receiver) = mpsc::channel(capacity);
        let channel = Arc::new(Self {
            name: spec.name.clone(),
            direction: spec.direction,
            unit: spec.unit,
            max_line: spec.max_line,
            inbound: Mutex::new(InboundQueue {
                receiver,
                peeked: None,
                ending: None,
            }),
            output: Mutex::new(None),
            writer_stop: std::sync::Mutex::new(None),
            closed: CancellationToken::new(),
            unread: AtomicUsize::new(0),
            unflushed: Notify::new(),
            sessions_done: watch::Sender::new(0),
            holders: AtomicUsize::new(0),
            abandoned: CancellationToken::new(),
            stats: Counters::default(),
        });
        (channel, sender)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn direction(&self) -> Direction {
        self.direction
    }

    pub fn unit(&self) -> Unit {
        self.unit
    }

    pub fn max_line(&self) -> u32 {
        self.max_line
    }

    pub fn stats(&self) -> ChannelStats {
        let counters = &self.stats;
        ChannelStats {
            client_connected: counters.client_connected.load(Ordering::Relaxed),
            clients_served: counters.clients_served.load(Ordering::Relaxed),
            lines_in: counters.lines_in.load(Ordering::Relaxed),
            bytes_in: counters.bytes_in.load(Ordering::Relaxed),
            lines_out: counters.lines_out.load(Ordering::Relaxed),
            bytes_out: counters.bytes_out.load(Ordering::Relaxed),
        }
    }

    /// The transport reports a client's arrival and departure.
    pub(crate) fn client_connected(&self, connected: bool) {
        self.stats
            .client_connected
            .store(connected, Ordering::Relaxed);
        if connected {
            self.stats.clients_served.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The transport reports bytes received from the client.
    pub(crate) fn received(&self, bytes: usize) {
        self.stats
            .bytes_in
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// A vat now holds a handle to this channel.
    pub(crate) fn held(&self) {
        self.holders.fetch_add(1, Ordering::AcqRel);
    }

    /// A vat dropped its handle; when none is left, the channel's client
    /// sessions end (no vat will read or write for them any more).
    pub(crate) fn let_go(&self) {
        if self.holders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.abandoned.cancel();
        }
    }

    /// How many handles to this channel exist: in vats, in messages in flight.
    pub(crate) fn holders(&self) -> usize {
        self.holders.load(Ordering::Acquire)
    }

    /// Resolves once every vat handle to this channel has been dropped.
    pub(crate) async fn abandoned(&self) {
        self.abandoned.cancelled().await;
    }

    /// Closes the channel: every pending and later call returns `Closed`.
    pub fn close(&self) {
        self.closed.cancel();
    }

    /// After close: sends what the vats wrote within [`CLOSE_GRACE`], lets
    /// go of the peer's connection and of any input no vat will read. The
    /// channel's statistics remain readable.
    pub(crate) async fn release(&self) {
        self.end_output(None).await;
        let mut queue = self.inbound.lock().await;
        queue.peeked = None;
        while queue.receiver.try_recv().is_ok() {}
        self.stats.client_connected.store(false, Ordering::Relaxed);
    }

    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    pub(crate) fn closed(&self) -> &CancellationToken {
        &self.closed
    }

    /// Resolves once the vat has read the end of `session`'s stream and
    /// moved on (read again, or waited for input).
    pub(crate) async fn session_done(&self, session: u64) {
        let mut done = self.sessions_done.subscribe();
        let _ = done.wait_for(|done| *done >= session).await;
    }

    /// The next line. `None` marks the end of one client's stream.
    pub async fn read(&self) -> Result<Option<String>, ChannelError> {
        self.check_read(Unit::Line)?;
        match self.take(usize::MAX).await? {
            Inbound::Line(line) => Ok(Some(line)),
            Inbound::EndOfStream { .. } => Ok(None),
            Inbound::InvalidData(why) => Err(ChannelError::InvalidData(why)),
            Inbound::TooLong => Err(ChannelError::TooLong(self.max_line)),
            Inbound::Bytes(_) | Inbound::Finished => Err(ChannelError::Closed),
        }
    }

    /// Up to `max` bytes of the stream. `None` marks the end of one client's stream.
    pub async fn read_bytes(&self, max: u32) -> Result<Option<Vec<u8>>, ChannelError> {
        self.check_read(Unit::Bytes)?;
        let max = usize::try_from(max).unwrap_or(usize::MAX).max(1);
        match self.take(max).await? {
            Inbound::Bytes(chunk) => Ok(Some(chunk)),
            Inbound::EndOfStream { .. } => Ok(None),
            _ => Err(ChannelError::Closed),
        }
    }

    fn check_read(&self, unit: Unit) -> Result<(), ChannelError> {
        if !self.direction.readable() {
            Err(ChannelError::NotReadable)
        } else if self.unit != unit {
            Err(ChannelError::WrongUnit)
        } else {
            Ok(())
        }
    }

    /// The vat is back for input: a session whose end it has read is over.
    fn move_past_ended_session(&self, queue: &mut InboundQueue) {
        if let Some(session) = queue.ending.take() {
            self.sessions_done.send_replace(session);
        }
    }

    /// Takes the next item, waiting for one. A byte chunk longer than
    /// `max_bytes` is split and its rest stays first in line; `Finished`
    /// stays queued for every later caller.
    async fn take(&self, max_bytes: usize) -> Result<Inbound, ChannelError> {
        self.until_closed(async {
            let mut queue = self.inbound.lock().await;
            self.move_past_ended_session(&mut queue);
            let item = match queue.peeked.take() {
                Some(item) => Some(item),
                None => {
                    if queue.receiver.is_empty() {
                        // About to wait: the client should see our replies first.
                        self.flush().await;
                    }
                    queue.receiver.recv().await
                }
            };
            match item {
                None | Some(Inbound::Finished) => {
                    queue.peeked = item;
                    Err(ChannelError::Closed)
                }
                Some(Inbound::Bytes(mut chunk)) if chunk.len() > max_bytes => {
                    let rest = chunk.split_off(max_bytes);
                    queue.peeked = Some(Inbound::Bytes(rest));
                    Ok(Inbound::Bytes(chunk))
                }
                Some(item) => {
                    self.unread.fetch_sub(1, Ordering::AcqRel);
                    if let Inbound::EndOfStream {
                        session: Some(session),
                    } = item
                    {
                        queue.ending = Some(session);
                    }
                    Ok(item)
                }
            }
        })
        .await?
    }

    /// Resolves when `read` would return without waiting.
    pub async fn readable(&self) {
        if !self.direction.readable() {
            return;
        }
        let _ = self
            .until_closed(async {
                let mut queue = self.inbound.lock().await;
                self.move_past_ended_session(&mut queue);
                if queue.peeked.is_none() {
                    if queue.receiver.is_empty() {
                        self.flush().await;
                    }
                    queue.peeked = queue.receiver.recv().await;
                }
            })
            .await;
    }

    /// Writes one line to the connected client, waiting until the socket
    /// has taken all of it.
    pub async fn write(&self, line: &str) -> Result<(), ChannelError> {
        self.check_write(Unit::Line)?;
        if line.contains('\n') {
            return Err(ChannelError::InvalidData(
                "a written line cannot contain a newline: one write is one line".to_owned(),
            ));
        }
        self.send(&[line.as_bytes(), b"\n"]).await?;
        self.stats.lines_out.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Writes bytes to the connected client, waiting until the socket has
    /// taken all of them.
    pub async fn write_bytes(&self, data: &[u8]) -> Result<(), ChannelError> {
        self.check_write(Unit::Bytes)?;
        self.send(&[data]).await
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
        self.until_closed(async {
            let mut output = self.output.lock().await;
            let Some(writer) = output.as_mut() else {
                return Err(ChannelError::NoClient);
            };
            for part in parts {
                writer.buffer.extend_from_slice(part);
            }
            // More input is waiting: the vat will likely reply again soon, so
            // let replies gather; otherwise send now.
            let flush_now =
                self.unread.load(Ordering::Acquire) == 0 || writer.unsent() >= WRITE_BUFFER;
            if flush_now {
                match writer.flush().await {
                    Ok(()) => {}
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
        })
        .await?
    }

    /// Queues the mark that no more input will come.
    pub(crate) async fn finish(&self, sender: &mpsc::Sender<Inbound>) {
        self.deliver(sender, Inbound::Finished).await;
    }

    /// Sends buffered output to the client now.
    pub(crate) async fn flush(&self) {
        let mut output = self.output.lock().await;
        if let Some(writer) = output.as_mut().filter(|writer| writer.unsent() > 0)
            && let Err(FlushError::Failed) = writer.flush().await
        {
            *output = None;
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
    /// Queues an item for the vat, waiting while the queue is full (that
    /// wait is what stops the transport reading). False once closed.
    pub(crate) async fn deliver(&self, sender: &mpsc::Sender<Inbound>, item: Inbound) -> bool {
        match item {
            Inbound::Line(_) => {
                self.stats.lines_in.fetch_add(1, Ordering::Relaxed);
                self.unread.fetch_add(1, Ordering::AcqRel);
            }
            // Never consumed, so never counted as waiting input.
            Inbound::Finished => {}
            _ => {
                self.unread.fetch_add(1, Ordering::AcqRel);
            }
        }
        tokio::select! {
            () = self.closed.cancelled() => false,
            sent = sender.send(item) => sent.is_ok(),
        }
    }

    /// Makes `writer` the peer that writes go to.
    pub(crate) async fn attach_client(&self, mut writer: ClientWriter) {
        writer.channel = Arc::from(self.name.as_str());
        *self
            .writer_stop
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((writer.id, writer.stop.clone()));
        *self.output.lock().await = Some(writer);
    }

    async fn until_closed<T>(&self, work: impl Future<Output = T>) -> Result<T, ChannelError> {
        if self.closed.is_cancelled() {
            return Err(ChannelError::Closed);
        }
        // The work first: work that completes at once never registers with
        // the close token (which costs a lock), only work that waits.
        tokio::select! {
            biased;
            result = work => Ok(result),
            () = self.closed.cancelled() => Err(ChannelError::Closed),
        }
    }
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("name", &self.name)
            .field("direction", &self.direction)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{ChannelKind, SocketSpec};

    fn spec(direction: Direction) -> ChannelSpec {
        ChannelSpec {
            name: "test".to_owned(),
            direction,
            unit: Unit::Line,
            max_line: 1024,
            queue: 2,
            kind: ChannelKind::Socket(SocketSpec {
                path: "/unused".into(),
                mode: 0o600,
            }),
        }
    }

    /// Fails the test instead of hanging when `work` does not finish.
    async fn soon<T>(work: impl Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(10), work)
            .await
            .expect("finished in time")
    }

    #[tokio::test]
    async fn close_ends_a_pending_read_with_closed() {
        let (channel, _sender) = Channel::new(&spec(Direction::InOut));
        let reader = tokio::spawn({
            let channel = channel.clone();
            async move { channel.read().await }
        });
        tokio::task::yield_now().await;
        channel.close();
        assert_eq!(
            soon(reader).await.expect("no panic"),
            Err(ChannelError::Closed)
        );
        assert_eq!(channel.read().await, Err(ChannelError::Closed));
    }

    #[tokio::test]
    async fn close_ends_a_write_blocked_on_a_client_that_does_not_read() {
        let (channel, _sender) = Channel::new(&spec(Direction::Out));
        let (ours, _theirs) = tokio::net::UnixStream::pair().expect("socket pair");
        channel
            .attach_client(ClientWriter::new(1, Box::new(ours)))
            .await;
        // Far more than the socket buffers hold: this write cannot finish.
        let line = "x".repeat(16 * 1024 * 1024);
        let writer = tokio::spawn({
            let channel = channel.clone();
            async move { channel.write(&line).await }
        });
        // Once bytes arrive the write is under way, and it is blocked: the
        // peer reads nothing.
        soon(async {
            while rustix::io::ioctl_fionread(&_theirs).unwrap_or(0) == 0 {
                tokio::task::yield_now().await;
            }
        })
        .await;
        channel.close();
        assert_eq!(
            soon(writer).await.expect("no panic"),
            Err(ChannelError::Closed)
        );
    }

    #[tokio::test]
    async fn output_held_back_for_pending_input_is_flushed_soon_anyway() {
        use tokio::io::AsyncReadExt;
        let (channel, sender) = Channel::new(&spec(Direction::InOut));
        let (ours, mut theirs) = tokio::net::UnixStream::pair().expect("socket pair");
        channel
            .attach_client(ClientWriter::new(1, Box::new(ours)))
            .await;
        let flusher = tokio::spawn({
            let channel = channel.clone();
            async move { channel.flush_lagging_output().await }
        });
        // Input the vat has not read yet: the reply is held back...
        assert!(
            channel
                .deliver(&sender, Inbound::Line("unread".to_owned()))
                .await
        );
        channel.write("reply").await.expect("write");
        // ...but reaches the client without the vat doing anything more.
        let mut received = [0u8; 6];
        soon(theirs.read_exact(&mut received)).await.expect("read");
        assert_eq!(&received, b"reply\n");
        channel.close();
        soon(flusher).await.expect("flusher ends on close");
    }

    #[tokio::test]
    async fn close_wakes_a_pending_readiness_wait() {
        let (channel, _sender) = Channel::new(&spec(Direction::In));
        let waiter = tokio::spawn({
            let channel = channel.clone();
            async move { channel.readable().await }
        });
        tokio::task::yield_now().await;
        channel.close();
        soon(waiter).await.expect("no panic");
    }

    #[tokio::test]
    async fn readiness_does_not_consume_the_line() {
        let (channel, sender) = Channel::new(&spec(Direction::InOut));
        sender
            .send(Inbound::Line("one".to_owned()))
            .await
            .expect("send");
        soon(channel.readable()).await;
        soon(channel.readable()).await;
        assert_eq!(channel.read().await, Ok(Some("one".to_owned())));
    }

    #[tokio::test]
    async fn direction_and_newlines_are_checked_before_anything_else() {
        let (out, _) = Channel::new(&spec(Direction::Out));
        assert_eq!(out.read().await, Err(ChannelError::NotReadable));
        // An unreadable channel is "ready": `read` returns at once.
        soon(out.readable()).await;
        let (input, _) = Channel::new(&spec(Direction::In));
        assert_eq!(input.write("x").await, Err(ChannelError::NotWritable));
        let (both, _) = Channel::new(&spec(Direction::InOut));
        assert!(matches!(
            both.write("a\nb").await,
            Err(ChannelError::InvalidData(_))
        ));
        assert_eq!(both.write("a").await, Err(ChannelError::NoClient));
    }
}
