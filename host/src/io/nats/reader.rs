//! The tasks behind a NATS channel: receiving (a subscription, or a
//! JetStream consumer), forwarding into the channel's queue, and
//! publishing acknowledgements.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use tokio::sync::watch;

use super::backlog::{Backlog, Received};
use super::connection::Connection;
use super::pull::Pull;
use super::receipts::Receipt;
use super::{Ack, NatsPeer, lock};
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
    if server_has_read_all_before(client).await {
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

/// Whether the server has read everything the client sent before this call
/// (a subscription, say): a message to a fresh inbox comes back only after
/// it. (`Client::flush` says only that the bytes left the client.)
async fn server_has_read_all_before(client: &async_nats::Client) -> bool {
    let inbox = client.new_inbox();
    let Ok(mut echo) = client.subscribe(inbox.clone()).await else {
        return false;
    };
    if client.publish(inbox, bytes::Bytes::new()).await.is_err() {
        return false;
    }
    echo.next().await.is_some()
}

/// JetStream: a durable pull consumer, set up again whenever it fails
/// (the server restarting, the stream recreated).
async fn consume(peer: &NatsPeer, backlog: &Backlog, ready: &Ready) {
    let mut warned = false;
    loop {
        match pull(peer).await {
            Ok(mut pull) => {
                ready.set();
                loop {
                    match pull.next().await {
                        Ok(message) => backlog.push(Received::from(message)).await,
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

async fn pull(peer: &NatsPeer) -> Result<Pull, String> {
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
                // `max_ack_pending` stays the server's default (1,000): the
                // backlog bounds what the host holds, and it marks all of it
                // in progress.
                ..Default::default()
            },
            jetstream.stream.as_str(),
        )
        .await
        .map_err(|error| error.to_string())?;
    Pull::start(
        peer.connection.client(),
        consumer,
        peer.batch,
        peer.connection.link_changes(),
    )
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
/// each once the output the vat wrote before has left the host. For a
/// JetStream channel, also tells the server every third of `ack-wait` that
/// the messages the host holds are in progress, so that a vat slower than
/// `ack-wait` does not get them again while it still has them.
pub(super) async fn acknowledge(
    peer: Arc<NatsPeer>,
    mut acks: tokio::sync::mpsc::UnboundedReceiver<(async_nats::Subject, Ack)>,
) {
    let connection = &peer.connection;
    let progress_every = peer
        .spec
        .jetstream
        .as_ref()
        .map_or(Duration::MAX, |jetstream| jetstream.ack_wait / 3);
    let mut progress = tokio::time::interval(progress_every.min(Duration::from_secs(3600)));
    progress.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    progress.tick().await;
    let mut ready = Vec::new();
    loop {
        tokio::select! {
            received = acks.recv_many(&mut ready, ACKS_AT_ONCE) => {
                if received == 0 {
                    return;
                }
                flush_every_channel().await;
                for (subject, ack) in ready.drain(..) {
                    publish(connection, subject, ack.payload()).await;
                }
            }
            _ = progress.tick(), if peer.spec.jetstream.is_some() => {
                for held in peer.held() {
                    publish(connection, held, b"+WPI").await;
                }
            }
        }
    }
}

async fn publish(connection: &Connection, subject: async_nats::Subject, payload: &'static [u8]) {
    let payload = bytes::Bytes::from_static(payload);
    if let Err(error) = connection.client().publish(subject, payload).await {
        tracing::debug!(url = connection.url(), %error, "acknowledgement not sent");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(payload: &[u8]) -> Option<&str> {
        match framed(payload, Unit::Line, 16) {
            Framed::Line(line) => Some(line),
            _ => None,
        }
    }

    fn error(payload: &[u8], unit: Unit) -> String {
        match framed(payload, unit, 16) {
            Framed::Error(Inbound::InvalidData(why)) => why,
            Framed::Error(Inbound::TooLong) => "too long".to_owned(),
            _ => "no error".to_owned(),
        }
    }

    #[test]
    fn a_message_is_one_line_its_final_newline_dropped() {
        assert_eq!(line(b"hello"), Some("hello"));
        assert_eq!(line(b"hello\n"), Some("hello"));
        assert_eq!(line(b""), Some(""));
        assert!(error(b"one\ntwo", Unit::Line).contains("holds several"));
        assert!(error(b"\xff\xfe", Unit::Line).contains("not UTF-8"));
        assert_eq!(error(&[b'x'; 17], Unit::Line), "too long");
    }

    #[test]
    fn a_bytes_message_is_one_chunk_as_it_came() {
        assert!(matches!(
            framed(b"\xff\n\n", Unit::Bytes, 16),
            Framed::Chunk(b"\xff\n\n")
        ));
        assert_eq!(error(&[0; 17], Unit::Bytes), "too long");
    }
}
