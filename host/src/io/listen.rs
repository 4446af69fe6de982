//! A `listen` channel: the host listens on a Unix socket and every client
//! becomes a channel of its own, handed to the vat by `listener.accept`.
//! A connection's channel is reachable only through the handle `accept`
//! returns: it has no name anyone could ask for.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as SyncMutex, PoisonError, Weak};

use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::channel::{Channel, ChannelStats, ClientWriter};
use super::handle::ChannelHandle;
use super::socket::{SocketError, SocketFile};
use super::spec::{ChannelSpec, ListenSpec};

/// The vat's side of a listening socket.
pub struct Listener {
    name: String,
    pending: Mutex<Pending>,
    closed: CancellationToken,
    /// Connections alive: queued, or held by the vat, or with a client.
    /// What they hold is bounded by `max-clients` through this count.
    active: AtomicUsize,
    served: AtomicU64,
    /// Every connection channel still alive, to close with the listener.
    connections: SyncMutex<Vec<Weak<Channel>>>,
    /// Traffic of connections that have ended.
    ended_traffic: SyncMutex<ChannelStats>,
    /// Connections a replaced instance of the vat had accepted, offered
    /// again by `accept` before new clients.
    returned: SyncMutex<std::collections::VecDeque<ChannelHandle>>,
}

struct Pending {
    receiver: mpsc::Receiver<Arc<Channel>>,
    peeked: Option<Arc<Channel>>,
}

impl Listener {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The next client's channel, held for the vat that accepts it; `None`
    /// once the listener is closed.
    pub async fn accept(&self) -> Option<ChannelHandle> {
        if let Some(returned) = self.returned().pop_front() {
            return Some(returned);
        }
        tokio::select! {
            biased;
            () = self.closed.cancelled() => None,
            next = async {
                let mut pending = self.pending.lock().await;
                match pending.peeked.take() {
                    Some(channel) => Some(channel),
                    None => pending.receiver.recv().await,
                }
            } => next.map(ChannelHandle::new),
        }
    }

    fn returned(&self) -> std::sync::MutexGuard<'_, std::collections::VecDeque<ChannelHandle>> {
        self.returned.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A handle to every accepted connection some vat still holds, with
    /// its count of holders (this handle included): a vat's instance about
    /// to be replaced finds, once it is dropped, those it held (their count
    /// fell) and hands them to the next one through
    /// [`Listener::offer_again`], their clients still connected.
    pub fn held_connections(&self) -> Vec<(ChannelHandle, usize)> {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|connection| connection.holders() > 0)
            .map(|connection| {
                let handle = ChannelHandle::new(connection);
                let holders = handle.channel().holders();
                (handle, holders)
            })
            .collect()
    }

    /// Offers connections again: `accept` returns them before new clients.
    pub fn offer_again(&self, connections: Vec<ChannelHandle>) {
        self.returned().extend(connections);
    }

    /// Resolves when `accept` would return without waiting.
    pub async fn ready(&self) {
        if !self.returned().is_empty() {
            return;
        }
        tokio::select! {
            biased;
            () = self.closed.cancelled() => {}
            () = async {
                let mut pending = self.pending.lock().await;
                if pending.peeked.is_none() {
                    pending.peeked = pending.receiver.recv().await;
                }
            } => {}
        }
    }

    /// Whether a client is connected, clients served so far, and the traffic of every
    /// connection, ended or not.
    pub fn stats(&self) -> ChannelStats {
        let mut total = *self
            .ended_traffic
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let connections = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        total.client_connected = false;
        for connection in connections.iter().filter_map(Weak::upgrade) {
            let stats = connection.stats();
            total.add_traffic(&stats);
            total.client_connected |= stats.client_connected;
        }
        total.clients_served = self.served.load(Ordering::Relaxed);
        total
    }

    /// A connection has ended: keep its traffic, forget the connection.
    fn retire(&self, connection: &Arc<Channel>) {
        self.ended_traffic
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .add_traffic(&connection.stats());
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|live| !std::ptr::eq(live.as_ptr(), Arc::as_ptr(connection)));
    }
}

/// A bound `listen` socket and its accept task.
pub struct ListenChannel {
    listener: Arc<Listener>,
    path: PathBuf,
    acceptor: tokio::task::JoinHandle<()>,
    file: SocketFile,
}

impl ListenChannel {
    pub async fn listen(spec: &ChannelSpec, listen: &ListenSpec) -> Result<Self, SocketError> {
        let (file, socket) = SocketFile::bind(&listen.socket).await?;
        let capacity = usize::try_from(listen.max_clients).unwrap_or(1).max(1);
        let (sender, receiver) = mpsc::channel(capacity);
        let listener = Arc::new(Listener {
            name: spec.name.clone(),
            pending: Mutex::new(Pending {
                receiver,
                peeked: None,
            }),
            closed: CancellationToken::new(),
            active: AtomicUsize::new(0),
            served: AtomicU64::new(0),
            connections: SyncMutex::new(Vec::new()),
            ended_traffic: SyncMutex::new(ChannelStats::default()),
            returned: SyncMutex::new(std::collections::VecDeque::new()),
        });
        let acceptor = tokio::spawn(accept_connections(
            socket,
            listener.clone(),
            sender,
            spec.clone(),
            capacity,
        ));
        Ok(Self {
            listener,
            path: listen.socket.path.clone(),
            acceptor,
            file,
        })
    }

    pub fn listener(&self) -> &Arc<Listener> {
        &self.listener
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops accepting and closes every connection now: calls in flight
    /// return `Closed` or `none`. [`ListenChannel::close`] finishes the job.
    pub fn close_now(&self) {
        self.listener.closed.cancel();
        let connections = self
            .listener
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for connection in connections.iter().filter_map(Weak::upgrade) {
            connection.close();
        }
    }

    /// Stops accepting, closes every connection, removes the socket file.
    pub async fn close(self) {
        self.listener.closed.cancel();
        if let Err(error) = self.acceptor.await {
            tracing::warn!(listener = self.listener.name(), %error, "accept task failed");
        }
        let connections = std::mem::take(
            &mut *self
                .listener
                .connections
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        // Each connection may take the close grace to send its last output:
        // all at once, so closing takes one grace, not one per connection.
        let mut releases = JoinSet::new();
        for connection in connections.iter().filter_map(Weak::upgrade) {
            connection.close();
            releases.spawn(async move { connection.release().await });
        }
        releases.join_all().await;
        self.file.remove();
    }
}

async fn accept_connections(
    socket: UnixListener,
    listener: Arc<Listener>,
    pending: mpsc::Sender<Arc<Channel>>,
    spec: ChannelSpec,
    max_clients: usize,
) {
    let mut sessions = JoinSet::new();
    let mut next = 0u64;
    loop {
        let accepted = tokio::select! {
            () = listener.closed.cancelled() => break,
            accepted = socket.accept() => accepted,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => continue,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(listener = listener.name(), %error, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        // A connection the vat has not accepted yet holds a queue slot even
        // if its client has left, so both bounds are checked.
        if listener.active.load(Ordering::Acquire) >= max_clients || pending.capacity() == 0 {
            turn_away(&listener, &stream, max_clients);
            continue;
        }
        let (reader, writer) = match super::peer_socket::split(stream) {
            Ok(sides) => sides,
            Err(error) => {
                tracing::warn!(listener = listener.name(), %error, "cannot serve a client");
                continue;
            }
        };
        next += 1;
        let mut connection_spec = spec.clone();
        // A label for logs and `name()`, not a name anyone can look up.
        connection_spec.name = format!("{}#{next}", spec.name);
        let (channel, inbound) = Channel::new(&connection_spec);
        // Attached before the vat can accept the channel, so that it can
        // greet the client first thing.
        if channel.direction().writable() {
            channel
                .attach_client(ClientWriter::new(next, Box::new(writer)))
                .await;
        }
        // This loop is the queue's only sender and saw room above.
        if pending.try_send(channel.clone()).is_err() {
            continue;
        }
        listener.active.fetch_add(1, Ordering::AcqRel);
        listener.served.fetch_add(1, Ordering::Relaxed);
        listener
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::downgrade(&channel));
        tracing::info!(
            listener = listener.name(),
            connection = next,
            "client connected"
        );
        let listener = listener.clone();
        sessions.spawn(async move {
            tokio::select! {
                // Runs until the channel closes.
                () = channel.flush_lagging_output() => {}
                () = async {
                    super::session::serve_client(&channel, &inbound, reader, next, true, || {
                        tracing::info!(listener = listener.name(), connection = next, "client gone");
                    })
                    .await;
                    // What the connection holds (its queued input, its
                    // output) stays until the vat lets go of it, so it
                    // counts against `max-clients` until then.
                    channel.abandoned().await;
                } => {}
            }
            listener.active.fetch_sub(1, Ordering::AcqRel);
            listener.retire(&channel);
        });
    }
    sessions.shutdown().await;
}

fn turn_away(listener: &Listener, stream: &UnixStream, max_clients: usize) {
    let notice = format!(
        "vathost: listener `{}` is full: it serves at most {max_clients} clients at once\n",
        listener.name()
    );
    let _ = stream.try_write(notice.as_bytes());
    tracing::info!(listener = listener.name(), "turned away a client: full");
}
