//! The state one declared channel shares between the vats that hold it and the
//! transport (a socket) that feeds it.
//!
//! Inbound data flows through a bounded queue: when it is full the transport
//! stops reading, so a fast client is slowed down, never dropped. Every wait a
//! vat can be in (reading, writing, polling) also waits on the channel's close
//! signal, so closing a channel with calls in flight makes them return
//! [`ChannelError::Closed`] instead of hanging.

use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::sync::{Mutex, mpsc};
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
}

/// What the transport hands the vat side, in arrival order.
#[derive(Debug)]
pub(crate) enum Inbound {
    Line(String),
    InvalidData(String),
    TooLong,
    /// The client that sent the preceding lines has gone.
    EndOfStream,
}

pub struct Channel {
    name: String,
    direction: Direction,
    unit: Unit,
    max_line: u32,
    inbound: Mutex<InboundQueue>,
    client: Mutex<Option<ClientWriter>>,
    closed: CancellationToken,
}

struct InboundQueue {
    receiver: mpsc::Receiver<Inbound>,
    /// An item taken off the queue by a readiness check, not yet read.
    peeked: Option<Inbound>,
}

/// The write side of the connected client.
pub(crate) struct ClientWriter {
    pub id: u64,
    pub stream: Box<dyn tokio::io::AsyncWrite + Send + Unpin>,
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

    /// Closes the channel: every pending and later call returns `Closed`.
    pub fn close(&self) {
        self.closed.cancel();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    pub(crate) fn closed(&self) -> &CancellationToken {
        &self.closed
    }

    /// The next line. `None` marks the end of one client's stream.
    pub async fn read(&self) -> Result<Option<String>, ChannelError> {
        if !self.direction.readable() {
            return Err(ChannelError::NotReadable);
        }
        let item = self
            .until_closed(async {
                let mut queue = self.inbound.lock().await;
                match queue.peeked.take() {
                    Some(item) => Some(item),
                    None => queue.receiver.recv().await,
                }
            })
            .await?;
        match item {
            Some(Inbound::Line(line)) => Ok(Some(line)),
            Some(Inbound::EndOfStream) => Ok(None),
            Some(Inbound::InvalidData(why)) => Err(ChannelError::InvalidData(why)),
            Some(Inbound::TooLong) => Err(ChannelError::TooLong(self.max_line)),
            None => Err(ChannelError::Closed),
        }
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
                    queue.peeked = queue.receiver.recv().await;
                }
            })
            .await;
    }

    /// Writes one line to the connected client, waiting until the socket
    /// has taken all of it.
    pub async fn write(&self, line: &str) -> Result<(), ChannelError> {
        if !self.direction.writable() {
            return Err(ChannelError::NotWritable);
        }
        if line.contains('\n') {
            return Err(ChannelError::InvalidData(
                "a written line cannot contain a newline: one write is one line".to_owned(),
            ));
        }
        self.until_closed(async {
            let mut client = self.client.lock().await;
            let Some(writer) = client.as_mut() else {
                return Err(ChannelError::NoClient);
            };
            let sent = async {
                writer.stream.write_all(line.as_bytes()).await?;
                writer.stream.write_all(b"\n").await?;
                writer.stream.flush().await
            }
            .await;
            if sent.is_err() {
                // The client went away mid-write; the transport will notice too.
                *client = None;
                return Err(ChannelError::NoClient);
            }
            Ok(())
        })
        .await?
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
