//! The tasks behind a NATS channel: receiving (a subscription, or a
//! JetStream consumer), forwarding into the channel's queue, and
//! publishing acknowledgements.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use tokio::sync::watch;

use super::backlog::{Backlog, Received};
use super::connection::Connection;
use super::receipts::Receipt;
use super::{NatsPeer, lock};
use crate::io::channel::{Channel, Inbound, InboundSender, LineRun, flush_every_channel};
use crate::io::spec::Unit;

/// Acknowledgements sent after one flush of the host's channels.
const ACKS_AT_ONCE: usize = 1024;

/// Pause before setting up a JetStream consumer again after a failure.
const RETRY_DELAY: Duration = Duration::from_millis(250);

/// Set once the channel receives: its subscription confirmed by the server,
/// or its consumer set up.
#[derive(Clone)]
pub(super) struct Ready(Arc<watch::Sender<bool>>);

impl Default for Ready {
    fn default() -> Self {
        Self(Arc::new(watch::Sender::new(false)))
    }
}

impl Ready {
    fn set(&self) {
        self.0.send_replace(true);
    }

    pub(super) async fn wait(&self) {
        let mut ready = self.0.subscribe();
        let _ = ready.wait_for(|ready| *ready).await;
    }
}

/// Receives the channel's messages into `backlog` for as long as it is open.
pub(super) async fn receive(peer: Arc<NatsPeer>, backlog: Arc<Backlog>, ready: Ready) {
    if peer.spec.jetstream.is_some() {
        consume(&peer, &backlog, &ready).await;
    } else {
        subscribe(&peer, &backlog, &ready).await;
    }
}

/// Core NATS: at most once; a message that does not fit is dropped.
async fn subscribe(peer: &NatsPeer, backlog: &Backlog, ready: &Ready) {
    let client = peer.connection.client();
    let subject = peer.spec.subject.clone();
    let subscribed = match &peer.spec.queue_group {
        Some(group) => client.queue_subscribe(subject, group.clone()).await,
        None => client.subscribe(subject).await,
    };
    let mut subscriber = match subscribed {
        Ok(subscriber) => subscriber,
        Err(error) => {
            tracing::error!(channel = peer.channel_name, subject = peer.spec.subject, %error, "cannot subscribe");
            return;
        }
    };
    // A flush's round trip to the server means it has the subscription.
    if client.flush().await.is_ok() {
        ready.set();
    }
    // What arrived together goes to the backlog together: one lock and one
    // wake-up of the forwarder per batch, not per message.
    let mut batch = Vec::new();
    while let Some(message) = subscriber.next().await {
        batch.push(Received::from(message));
        while batch.len() < peer.batch
            && let Some(Some(message)) = subscriber.next().now_or_never()
        {
            batch.push(Received::from(message));
        }
        backlog.push_or_drop(&mut batch);
    }
}

/// JetStream: a durable pull consumer, set up again whenever it fails
/// (the server restarting, the stream recreated).
async fn consume(peer: &NatsPeer, backlog: &Backlog, ready: &Ready) {
    let mut warned = false;
    loop {
        match consumer_messages(peer).await {
            Ok(mut messages) => {
                ready.set();
                while let Some(message) = messages.next().await {
                    match message {
                        Ok(message) => {
                            backlog
                                .push(Received {
                                    payload: message.message.payload,
                                    reply: message.message.reply,
                                })
                                .await;
                        }
                        Err(error) => {
                            tracing::debug!(channel = peer.channel_name, %error, "JetStream consumer interrupted");
                            break;
                        }
                    }
                }
            }
            Err(error) if !warned => {
                warned = true;
                tracing::warn!(channel = peer.channel_name, %error, "cannot set up the JetStream consumer yet; retrying");
            }
            Err(error) => {
                tracing::debug!(channel = peer.channel_name, %error, "cannot set up the JetStream consumer yet");
            }
        }
        peer.connection.connected().await;
        tokio::time::sleep(RETRY_DELAY).await;
    }
}

async fn consumer_messages(
    peer: &NatsPeer,
) -> Result<async_nats::jetstream::consumer::pull::Stream, String> {
    use async_nats::jetstream::consumer::{AckPolicy, pull};
    let Some(jetstream) = &peer.spec.jetstream else {
        return Err("not a JetStream channel".to_owned());
    };
    peer.ensure_stream().await?;
    let consumer = peer
        .jetstream
        .create_consumer_on_stream(
            pull::Config {
                durable_name: jetstream.durable.clone(),
                filter_subject: peer.spec.subject.clone(),
                ack_policy: AckPolicy::Explicit,
                ack_wait: jetstream.ack_wait,
                ..Default::default()
            },
            jetstream.stream.as_str(),
        )
        .await
        .map_err(|error| error.to_string())?;
    consumer
        .stream()
        .max_messages_per_batch(peer.batch)
        .messages()
        .await
        .map_err(|error| error.to_string())
}

/// Hands what `backlog` receives to the channel, registering each message
/// first when the peer follows them.
pub(super) async fn forward(
    channel: Arc<Channel>,
    inbound: InboundSender,
    peer: Arc<NatsPeer>,
    backlog: Arc<Backlog>,
) {
    let max_line = usize::try_from(channel.max_line()).unwrap_or(usize::MAX);
    let unit = channel.unit();
    loop {
        // What fits the queue at once: a longer run would be split, and
        // each split copies the rest of it.
        let received = backlog.take(peer.batch).await;
        let mut items = Vec::new();
        let mut receipts = Vec::with_capacity(received.len());
        let mut bytes = 0;
        peer.messages_in
            .fetch_add(received.len() as u64, std::sync::atomic::Ordering::Relaxed);
        for message in &received {
            bytes += message.payload.len();
            let framed = framed(&message.payload, unit, max_line);
            receipts.push(Receipt {
                reply: message.reply.clone(),
                request: !matches!(framed, Framed::Error(_)),
            });
            match (items.last_mut(), framed) {
                (Some(Inbound::Lines(run)), Framed::Line(line)) => run.push(line),
                (_, Framed::Line(line)) => items.push(Inbound::Lines(LineRun::of_one(line))),
                (_, Framed::Chunk(chunk)) => items.push(Inbound::Bytes(chunk.to_vec())),
                (_, Framed::Error(item)) => items.push(item),
            }
        }
        if let Some(following) = &peer.receipts {
            lock(following).register(receipts);
        }
        channel.received(bytes);
        if !channel.deliver(&inbound, items).await {
            return;
        }
    }
}

/// One message as the vat reads it.
enum Framed<'a> {
    /// A line, an optional final `\n` dropped.
    Line(&'a str),
    Chunk(&'a [u8]),
    /// What the vat reads instead of a message it cannot take.
    Error(Inbound),
}

fn framed(payload: &[u8], unit: Unit, max_line: usize) -> Framed<'_> {
    if payload.len() > max_line {
        return Framed::Error(Inbound::TooLong);
    }
    if unit == Unit::Bytes {
        return Framed::Chunk(payload);
    }
    let payload = payload.strip_suffix(b"\n").unwrap_or(payload);
    match std::str::from_utf8(payload) {
        Ok(line) if memchr::memchr(b'\n', line.as_bytes()).is_some() => Framed::Error(
            Inbound::InvalidData("a message holds one line; this one holds several".to_owned()),
        ),
        Ok(line) => Framed::Line(line),
        Err(error) => Framed::Error(Inbound::InvalidData(format!(
            "the message is not UTF-8: {error}"
        ))),
    }
}

/// Publishes acknowledgements in the order the vat finished with messages,
/// each once the output the vat wrote before has left the host.
pub(super) async fn acknowledge(
    connection: Arc<Connection>,
    mut acks: tokio::sync::mpsc::UnboundedReceiver<async_nats::Subject>,
) {
    let mut ready = Vec::new();
    while acks.recv_many(&mut ready, ACKS_AT_ONCE).await > 0 {
        flush_every_channel().await;
        for ack in ready.drain(..) {
            if let Err(error) = connection.client().publish(ack, bytes::Bytes::new()).await {
                tracing::debug!(url = connection.url(), %error, "acknowledgement not sent");
            }
        }
    }
}
