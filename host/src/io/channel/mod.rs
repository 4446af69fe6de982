//! The state one declared channel shares between the vats that hold it and the
//! transport (a socket, a file, NATS) that feeds it.
//!
//! Inbound data flows through a bounded queue: when it is full the transport
//! stops reading, so a fast client is slowed down, never dropped. A socket
//! client's input skips the queue's hand-off: the vat's read reads the
//! socket itself when the queue is empty (`peer_input`). Every wait a
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

mod barrier;
mod close_signal;
mod delivery_queue;
mod inbound;
mod line_run;
mod output;
mod peer;
mod peer_input;
mod stats;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::spec::{ChannelSpec, Direction, Unit};
pub(crate) use barrier::flush_every_channel;
use close_signal::CloseSignal;
use delivery_queue::QueueWaker;
pub(crate) use inbound::InboundSender;
use inbound::{Delivery, InboundQueue};
pub(crate) use line_run::LineRun;
pub(crate) use output::ClientWriter;
pub(crate) use peer::{MessagePeer, Published};
pub(crate) use peer_input::PeerInput;
use stats::Counters;
pub use stats::{ChannelStats, LinkState};

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
    /// Lines that arrived together (never empty).
    Lines(LineRun),
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
    /// Behind `futures-util`'s async mutex, whose uncontended lock and
    /// unlock are one atomic each (tokio's takes its waiter list's lock on
    /// every unlock), taken on every read. Not fair, which readers can
    /// afford: the input they compete for is bounded by the queue.
    inbound: futures_util::lock::Mutex<InboundQueue>,
    /// Ends a read's wait for input on close.
    inbound_wake: QueueWaker<Delivery>,
    /// Items the transport may still queue: the channel's `queue` less what
    /// waits unread (whole blocks: a block's room returns once it is read).
    inbound_room: tokio::sync::Semaphore,
    /// The most items one block may hold: the `queue` itself.
    queue_room: usize,
    /// Behind tokio's fair mutex: a session ending after its grace must
    /// get the writer from a vat that keeps writing to a stopped peer.
    output: tokio::sync::Mutex<Option<ClientWriter>>,
    /// A write may have left output in the buffer: set by each write,
    /// cleared once a flush has sent everything. Looked at without the
    /// output lock.
    output_waiting: AtomicBool,
    /// The stop signal of the attached writer, reachable without the output
    /// lock (which a write blocked on the peer holds).
    writer_stop: std::sync::Mutex<Option<(u64, CancellationToken)>>,
    closed: CloseSignal,
    /// Items handed to the queue and not yet read.
    unread: AtomicUsize,
    /// Signalled when a write leaves output in the buffer.
    unflushed: Notify,
    /// The last session whose end of stream the vat has read and moved past.
    sessions_done: crate::progress::Progress,
    /// Vat handles to this channel.
    holders: AtomicUsize,
    /// Fired when the last vat handle to this channel is dropped.
    abandoned: CancellationToken,
    stats: Counters,
    /// A message transport (NATS): told which messages the vat has taken
    /// and is done with, and sent each write as a message of its own.
    peer: std::sync::OnceLock<Arc<dyn MessagePeer>>,
}

impl Channel {
    /// A new open channel and the sender its transport feeds it with.
    pub(crate) fn new(spec: &ChannelSpec) -> (Arc<Self>, InboundSender) {
        let room = usize::try_from(spec.queue).unwrap_or(1).max(1);
        let (sender, receiver) = delivery_queue::delivery_queue();
        let inbound_wake = receiver.waker();
        let channel = Arc::new(Self {
            name: spec.name.clone(),
            direction: spec.direction,
            unit: spec.unit,
            max_line: spec.max_line,
            inbound: futures_util::lock::Mutex::new(InboundQueue::new(receiver)),
            inbound_wake,
            inbound_room: tokio::sync::Semaphore::new(room),
            queue_room: room,
            output: tokio::sync::Mutex::new(None),
            output_waiting: AtomicBool::new(false),
            writer_stop: std::sync::Mutex::new(None),
            closed: CloseSignal::default(),
            unread: AtomicUsize::new(0),
            unflushed: Notify::new(),
            sessions_done: crate::progress::Progress::default(),
            holders: AtomicUsize::new(0),
            abandoned: CancellationToken::new(),
            stats: Counters::default(),
            peer: std::sync::OnceLock::new(),
        });
        barrier::register(&channel);
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

    /// A vat now holds a handle to this channel.
    pub(crate) fn held(&self) {
        self.holders.fetch_add(1, Ordering::AcqRel);
    }

    /// A vat dropped its handle; when none is left, the channel's client
    /// sessions end (no vat will read or write for them any more).
    pub(crate) fn let_go(&self) {
        if let Some(peer) = self.peer() {
            peer.released();
        }
        if self.holders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.abandoned.cancel();
        }
    }

    /// How many handles to this channel exist: in vats, in messages in flight.
    pub(crate) fn holders(&self) -> usize {
        self.holders.load(Ordering::Acquire)
    }

    /// Whether every vat handle to this channel has been dropped (no vat
    /// will ever hold it again).
    pub(crate) fn is_abandoned(&self) -> bool {
        self.abandoned.is_cancelled()
    }

    /// Resolves once every vat handle to this channel has been dropped.
    pub(crate) async fn abandoned(&self) {
        self.abandoned.cancelled().await;
    }

    /// Closes the channel: every pending and later call returns `Closed`.
    pub fn close(&self) {
        self.closed.close();
        self.inbound_wake.wake();
    }

    /// After close: sends what the vats wrote within [`CLOSE_GRACE`], lets
    /// go of the peer's connection and of any input no vat will read. The
    /// channel's statistics remain readable.
    pub(crate) async fn release(&self) {
        self.end_output(None).await;
        self.inbound.lock().await.clear();
        self.stats.client_connected.store(false, Ordering::Relaxed);
    }

    pub fn is_closed(&self) -> bool {
        self.closed.is_closed()
    }

    pub(crate) fn closed(&self) -> &CancellationToken {
        self.closed.token()
    }

    /// Resolves once the vat has read the end of `session`'s stream and
    /// moved on (read again, or waited for input).
    pub(crate) async fn session_done(&self, session: u64) {
        self.sessions_done.reached(session).await;
    }

    /// A lock's guard: taken at once if free (`now`), else waited for
    /// (`wait`) until the channel closes; `Closed` once closed. The wait is
    /// boxed: it is rare, and inline it would make every call's future
    /// (which wasmtime boxes and copies) the larger.
    async fn lock_unless_closed<G, W: Future<Output = G>>(
        &self,
        now: impl FnOnce() -> Option<G>,
        wait: impl FnOnce() -> W,
    ) -> Result<G, ChannelError> {
        if self.closed.is_closed() {
            return Err(ChannelError::Closed);
        }
        match now() {
            Some(guard) => Ok(guard),
            None => Box::pin(self.until_closed(wait())).await,
        }
    }

    async fn until_closed<T>(&self, work: impl Future<Output = T>) -> Result<T, ChannelError> {
        if self.closed.is_closed() {
            return Err(ChannelError::Closed);
        }
        // The work first: work that completes at once never registers with
        // the close token (which costs a lock), only work that waits.
        tokio::select! {
            biased;
            result = work => Ok(result),
            () = self.closed.token().cancelled() => Err(ChannelError::Closed),
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
