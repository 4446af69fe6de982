//! Channels carried by NATS (`type: nats`): the same `io-channel` a socket
//! gives, so an unchanged vat can serve a socket on one host and a subject
//! shared by many hosts.
//!
//! - `in`: each message on the subject is one line (or chunk) to read;
//!   with `stream` and `durable`, a JetStream durable consumer whose
//!   messages are acknowledged once the vat comes back for the next one.
//! - `out`: each write is one message published on the subject; with
//!   `stream`, the write returns once JetStream has stored it.
//! - `inout`: a service: each write answers the oldest request read and not
//!   yet answered, on its reply subject.
//!
//! Each message's way: the client library's subscription, the reader task
//! (into the [`Backlog`], bounded in bytes), the forwarder task (into the
//! channel's queue, bounded in lines, after registering its [`Receipt`]),
//! the vat.

mod backlog;
mod connection;
mod pull;
mod reader;
mod receipts;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;

use super::channel::{Channel, ChannelError, LinkState, MessagePeer, Published};
use super::spec::{ChannelSpec, Direction, NatsSpec};
use backlog::Backlog;
use connection::Connection;
pub use connection::NatsError;
use receipts::{Answer, Receipts};

/// How long opening a channel waits for the server to confirm its
/// subscription (or to set up its stream) before it goes on without: a
/// server that is down does not hold up a launch.
const SETUP_WAIT: Duration = Duration::from_secs(5);

/// How long opening a channel waits for a first connection to the server.
const CONNECT_WAIT: Duration = Duration::from_secs(1);

/// What the server is told about a JetStream message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ack {
    /// The vat is done with it.
    Done,
    /// The vat let go of it unfinished: deliver it again now.
    Again,
}

impl Ack {
    fn payload(self) -> &'static [u8] {
        match self {
            Self::Done => b"",
            Self::Again => b"-NAK",
        }
    }
}

/// How long closing a channel waits for its last acknowledgements to reach
/// the server.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

pub struct NatsChannel {
    channel: Arc<Channel>,
    peer: Arc<NatsPeer>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// The channel's side of the connection: what it publishes, and what it
/// knows about the messages it handed the vat.
struct NatsPeer {
    connection: Arc<Connection>,
    channel_name: String,
    spec: NatsSpec,
    /// `spec.subject`, made once: each message published shares it.
    subject: async_nats::Subject,
    direction: Direction,
    /// Present when messages need following: requests (`inout`) or
    /// acknowledgements (JetStream `in`).
    receipts: Option<Mutex<Receipts>>,
    /// Acknowledgements to publish, in order.
    acks: tokio::sync::mpsc::UnboundedSender<(async_nats::Subject, Ack)>,
    backlog: Option<Arc<Backlog>>,
    jetstream: async_nats::jetstream::Context,
    /// Messages a JetStream consumer asks for at a time: the channel's queue.
    batch: usize,
    messages_in: AtomicU64,
    messages_out: AtomicU64,
}

impl NatsChannel {
    pub async fn open(spec: &ChannelSpec, nats: &NatsSpec) -> Result<Self, NatsError> {
        let connection = Connection::shared(&nats.url, &nats.auth).await?;
        let (channel, inbound) = Channel::new(spec);
        let readable = spec.direction.readable();
        let requests = spec.direction == Direction::InOut;
        let follows = requests || (readable && nats.jetstream.is_some());
        // Requests a vat has read and not answered: as many as its queue
        // holds, twice over (one batch in hand, one queued).
        let max_unanswered = usize::try_from(spec.queue)
            .unwrap_or(usize::MAX)
            .saturating_mul(2);
        let backlog = readable.then(|| {
            Arc::new(Backlog::new(
                usize::try_from(nats.max_pending).unwrap_or(usize::MAX),
            ))
        });
        let (acks, ack_queue) = tokio::sync::mpsc::unbounded_channel();
        let peer = Arc::new(NatsPeer {
            jetstream: async_nats::jetstream::new(connection.client().clone()),
            connection,
            channel_name: spec.name.clone(),
            spec: nats.clone(),
            subject: async_nats::Subject::from(nats.subject.as_str()),
            direction: spec.direction,
            receipts: follows.then(|| Mutex::new(Receipts::new(requests, max_unanswered))),
            acks,
            backlog: backlog.clone(),
            batch: usize::try_from(spec.queue).unwrap_or(usize::MAX),
            messages_in: AtomicU64::new(0),
            messages_out: AtomicU64::new(0),
        });
        channel.set_peer(peer.clone());
        let mut tasks = vec![tokio::spawn(reader::acknowledge(peer.clone(), ack_queue))];
        // Launch waits a moment for the server, so that what is published
        // once the launch returns reaches the vat; a server that is not
        // there does not hold the launch up.
        let reachable = tokio::time::timeout(CONNECT_WAIT, peer.connection.connected())
            .await
            .is_ok();
        if let Some(backlog) = backlog {
            let ready = reader::Ready::default();
            tasks.push(tokio::spawn(reader::receive(
                peer.clone(),
                backlog.clone(),
                ready.clone(),
            )));
            tasks.push(tokio::spawn(reader::forward(
                channel.clone(),
                inbound,
                peer.clone(),
                backlog,
            )));
            if !reachable
                || tokio::time::timeout(SETUP_WAIT, ready.wait())
                    .await
                    .is_err()
            {
                tracing::warn!(
                    channel = spec.name,
                    url = nats.url,
                    "not receiving from NATS yet; the channel will read once it can"
                );
            }
        } else if let Some(jetstream) = &nats.jetstream {
            let stream = if reachable {
                tokio::time::timeout(SETUP_WAIT, peer.ensure_stream())
                    .await
                    .unwrap_or_else(|_| Err("no answer".to_owned()))
            } else {
                Err("the server is not reachable".to_owned())
            };
            if let Err(why) = stream {
                tracing::warn!(
                    channel = spec.name,
                    stream = jetstream.stream,
                    %why,
                    "JetStream stream not set up yet; writes wait for it"
                );
            }
        }
        Ok(Self {
            channel,
            peer,
            tasks,
        })
    }

    pub fn channel(&self) -> &Arc<Channel> {
        &self.channel
    }

    /// Closes the channel: messages the vat took are acknowledged (a clean
    /// close), those it did not go back to the server for redelivery.
    pub async fn close(self) {
        self.channel.close();
        for task in &self.tasks {
            task.abort();
        }
        // What the vat wrote for the messages acknowledged here leaves first.
        super::channel::flush_every_channel().await;
        if let Some(receipts) = &self.peer.receipts
            && self.peer.spec.jetstream.is_some()
        {
            let (acks, naks) = {
                let mut receipts = lock(receipts);
                (receipts.finish(), receipts.untaken())
            };
            let client = self.peer.connection.client();
            let _ = tokio::time::timeout(CLOSE_WAIT, async {
                let done = acks.into_iter().map(|subject| (subject, Ack::Done));
                let again = naks.into_iter().map(|subject| (subject, Ack::Again));
                for (subject, ack) in done.chain(again) {
                    let _ = client
                        .publish(subject, Bytes::from_static(ack.payload()))
                        .await;
                }
                let _ = client.flush().await;
            })
            .await;
        }
        self.channel.release().await;
    }
}

fn lock(receipts: &Mutex<Receipts>) -> MutexGuard<'_, Receipts> {
    receipts.lock().unwrap_or_else(PoisonError::into_inner)
}

impl NatsPeer {
    /// The stream this channel names, created over its subject if missing.
    async fn ensure_stream(&self) -> Result<(), String> {
        let Some(jetstream) = &self.spec.jetstream else {
            return Ok(());
        };
        self.jetstream
            .get_or_create_stream(async_nats::jetstream::stream::Config {
                name: jetstream.stream.clone(),
                subjects: vec![self.spec.subject.clone()],
                ..Default::default()
            })
            .await
            .map(drop)
            .map_err(|error| error.to_string())
    }

    /// Publishes `messages`: answers (`inout`), stored messages (JetStream
    /// `out`) or plain messages.
    async fn publish(&self, messages: Vec<Bytes>) -> Result<(), ChannelError> {
        self.connection.connected().await;
        let client = self.connection.client();
        let mut result = Ok(());
        if self.direction == Direction::InOut {
            for message in messages {
                let answer = match &self.receipts {
                    Some(receipts) => lock(receipts).answer(),
                    None => Answer::Nobody,
                };
                match answer {
                    Answer::To(reply) => self.count_out(client.publish(reply, message)).await?,
                    Answer::Nobody => result = Err(ChannelError::NoClient),
                }
            }
            return result;
        }
        let subject = &self.subject;
        if self.spec.jetstream.is_none() {
            for message in messages {
                self.count_out(client.publish(subject.clone(), message))
                    .await?;
            }
            return Ok(());
        }
        self.publish_stored(subject, messages).await
    }

    /// Publishes one message, counted as sent before the client may send
    /// it: the peer can see it (and read the metrics) before `publish`
    /// returns here. Uncounted again if the client refuses it.
    async fn count_out<E>(
        &self,
        publish: impl Future<Output = Result<(), E>>,
    ) -> Result<(), ChannelError> {
        self.messages_out.fetch_add(1, Ordering::Relaxed);
        let published = publish.await;
        if published.is_err() {
            self.messages_out.fetch_sub(1, Ordering::Relaxed);
        }
        published.map_err(|_| ChannelError::Closed)
    }

    /// Publishes to the stream and waits for every acknowledgement. Each
    /// message carries an id, so one sent again after a lost acknowledgement
    /// is stored once.
    async fn publish_stored(
        &self,
        subject: &async_nats::Subject,
        messages: Vec<Bytes>,
    ) -> Result<(), ChannelError> {
        let ids: Vec<String> = messages
            .iter()
            .map(|_| self.connection.client().new_inbox())
            .collect();
        let mut pending: Vec<usize> = (0..messages.len()).collect();
        loop {
            let mut acks = Vec::with_capacity(pending.len());
            for &index in &pending {
                let publish = async_nats::jetstream::message::PublishMessage::build()
                    .payload(messages[index].clone())
                    .message_id(&ids[index]);
                acks.push((
                    index,
                    self.jetstream.send_publish(subject.clone(), publish).await,
                ));
            }
            let mut failed = Vec::new();
            for (index, ack) in acks {
                let stored = match ack {
                    Ok(ack) => ack.await.map(drop).map_err(|error| error.to_string()),
                    Err(error) => Err(error.to_string()),
                };
                match stored {
                    Ok(()) => {
                        self.messages_out.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(error) => {
                        tracing::debug!(channel = self.channel_name, %error, "JetStream publish failed; sending again");
                        failed.push(index);
                    }
                }
            }
            if failed.is_empty() {
                return Ok(());
            }
            pending = failed;
            // The stream may be missing (deleted, or the server was down
            // when the channel opened), or the server just came back.
            self.connection.connected().await;
            let _ = self.ensure_stream().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl NatsPeer {
    /// The acknowledgement subjects of the messages the host holds and the
    /// vat has not finished with: in its queue, in its hand, in the backlog.
    fn held(&self) -> Vec<async_nats::Subject> {
        let mut held = match &self.receipts {
            Some(receipts) => lock(receipts).unfinished(),
            None => Vec::new(),
        };
        if let Some(backlog) = &self.backlog {
            held.extend(backlog.replies());
        }
        held
    }
}

impl MessagePeer for NatsPeer {
    fn taken(&self, count: usize) {
        if let Some(receipts) = &self.receipts {
            lock(receipts).taken(count);
        }
    }

    fn given_back(&self, count: usize) {
        if let Some(receipts) = &self.receipts {
            lock(receipts).given_back(count);
        }
    }

    fn done(&self) {
        if let Some(receipts) = &self.receipts {
            for ack in lock(receipts).finish() {
                let _ = self.acks.send((ack, Ack::Done));
            }
        }
    }

    fn released(&self) {
        // Only JetStream takes a message back; a request the vat did not
        // answer is its requester's to time out.
        if let Some(receipts) = &self.receipts
            && self.spec.jetstream.is_some()
        {
            for nak in lock(receipts).take_back_unfinished() {
                let _ = self.acks.send((nak, Ack::Again));
            }
        }
    }

    fn send(&self, messages: Vec<Bytes>) -> Published<'_> {
        Box::pin(async move {
            tokio::time::timeout(self.spec.write_timeout, self.publish(messages))
                .await
                .unwrap_or(Err(ChannelError::NoClient))
        })
    }

    fn link(&self) -> LinkState {
        self.connection.link()
    }

    fn dropped(&self) -> u64 {
        self.backlog.as_ref().map_or(0, |backlog| {
            backlog.dropped() + self.connection.library_drops()
        })
    }

    fn messages(&self) -> (u64, u64) {
        (
            self.messages_in.load(Ordering::Relaxed),
            self.messages_out.load(Ordering::Relaxed),
        )
    }
}
