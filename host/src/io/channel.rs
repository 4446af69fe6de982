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

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::{Mutex, Notify, mpsc};
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

/// What the transport hands the vat side, in arrival order.
#[derive(Debug)]
pub(crate) enum Inbound {
    Line(String),
    /// A chunk of a `bytes` channel's stream.
    Bytes(Vec<u8>),
    InvalidData(String),
    TooLong,
    /// The client that sent the preceding lines has gone.
    EndOfStream,
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
    client: Mutex<Option<ClientWriter>>,
    closed: CancellationToken,
    /// Items handed to the queue and not yet read (a peeked one included).
    unread: AtomicUsize,
    /// Signalled when a write leaves output in the buffer.
    unflushed: Notify,
    stats: Counters,
}

/// Traffic on a channel since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
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
}

/// The write side of the connected client.
pub(crate) struct ClientWriter {
    id: u64,
    stream: tokio::io::BufWriter<Box<dyn tokio::io::AsyncWrite + Send + Unpin>>,
    /// Written but not flushed.
    dirty: bool,
}

/// Bytes of output held before a flush is forced regardless.
const WRITE_BUFFER: usize = 32 * 1024;

impl ClientWriter {
    pub(crate) fn new(id: u64, stream: Box<dyn tokio::io::AsyncWrite + Send + Unpin>) -> Self {
        Self {
            id,
            stream: tokio::io::BufWriter::with_capacity(WRITE_BUFFER, stream),
            dirty: false,
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
            }),
            client: Mutex::new(None),
            closed: CancellationToken::new(),
            unread: AtomicUsize::new(0),
            unflushed: Notify::new(),
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

    /// Closes the channel: every pending and later call returns `Closed`.
    pub fn close(&self) {
        self.closed.cancel();
    }

    /// After close: lets go of the client's connection and of any input no
    /// vat will read, while the channel's statistics remain readable.
    pub(crate) async fn release(&self) {
        *self.client.lock().await = None;
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

    /// The next line. `None` marks the end of one client's stream.
    pub async fn read(&self) -> Result<Option<String>, ChannelError> {
        self.check_read(Unit::Line)?;
        match self.take(usize::MAX).await? {
            Inbound::Line(line) => Ok(Some(line)),
            Inbound::EndOfStream => Ok(None),
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
            Inbound::EndOfStream => Ok(None),
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

    /// Takes the next item, waiting for one. A byte chunk longer than
    /// `max_bytes` is split and its rest stays first in line; `Finished`
    /// stays queued for every later caller.
    async fn take(&self, max_bytes: usize) -> Result<Inbound, ChannelError> {
        self.until_closed(async {
            let mut queue = self.inbound.lock().await;
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
            let mut client = self.client.lock().await;
            let Some(writer) = client.as_mut() else {
                return Err(ChannelError::NoClient);
            };
            // More input is waiting: the vat will likely reply again soon, so
            // let replies gather; otherwise send now.
            let flush_now = self.unread.load(Ordering::Acquire) == 0;
            let sent = async {
                for part in parts {
                    writer.stream.write_all(part).await?;
                }
                if flush_now {
                    writer.stream.flush().await?;
                }
                Ok::<_, std::io::Error>(())
            }
            .await;
            writer.dirty = !flush_now;
            if !flush_now {
                self.unflushed.notify_one();
            }
            if sent.is_err() {
                // The client went away mid-write; the transport will notice too.
                *client = None;
                return Err(ChannelError::NoClient);
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
        let mut client = self.client.lock().await;
        if let Some(writer) = client.as_mut().filter(|writer| writer.dirty) {
            writer.dirty = false;
            if writer.stream.flush().await.is_err() {
                *client = None;
            }
        }
    }

    /// Flushes output that a write left in the buffer within [`FLUSH_DELAY`];
    /// the transport runs this for as long as the channel is open.
    pub(crate) async fn flush_lagging_output(&self) {
        loop {
            let woken = self
                .until_closed(async {
                    self.unflushed.notified().await;
                    tokio::time::sleep(FLUSH_DELAY).await;
                })
                .await;
            if woken.is_err() {
                return;
            }
            self.flush().await;
        }
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

    pub(crate) async fn attach_client(&self, writer: ClientWriter) {
        *self.client.lock().await = Some(writer);
    }

    pub(crate) async fn detach_client(&self, id: u64) {
        let mut client = self.client.lock().await;
        if client.as_ref().is_some_and(|writer| writer.id == id) {
            *client = None;
        }
    }

    async fn until_closed<T>(&self, work: impl Future<Output = T>) -> Result<T, ChannelError> {
        if self.closed.is_cancelled() {
            return Err(ChannelError::Closed);
        }
        tokio::select! {
            biased;
            () = self.closed.cancelled() => Err(ChannelError::Closed),
            result = work => Ok(result),
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
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !writer.is_finished(),
            "the write should be waiting for the client"
        );
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
