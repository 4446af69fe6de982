//! Pulling messages from a JetStream consumer, keeping count here of the
//! messages asked for and not yet come.
//!
//! Why not async-nats's `Consumer::stream().messages()`: it adds a pull
//! request's messages to its count only once the task that sent the
//! request reports back, and a message that arrives before that report is
//! subtracted from zero (a saturating subtraction, so lost). The count then
//! stays above what the server owes; above half a batch the stream asks for
//! no more and waits for messages that will not come. Seen under load: the
//! server holding no request of the host's and 4,184 messages pending, the
//! channel silent for 30 s. Here a request is counted before it is sent.

use std::time::Duration;

use async_nats::StatusCode;
use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::consumer::pull::BatchConfig;
use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::io::channel::LinkState;

/// How long the server keeps one pull request waiting for messages.
const EXPIRES: Duration = Duration::from_secs(30);

/// The server tells a waiting request it is still there this often.
const HEARTBEAT: Duration = Duration::from_secs(2);

/// Nothing heard for this long: the server holds no request of ours (it
/// would have sent a heartbeat), so what we counted as owed is not.
const SILENCE: Duration = Duration::from_secs(5);

/// Why a pull cannot go on; the consumer is set up again.
#[derive(Debug, thiserror::Error)]
pub(super) enum PullError {
    #[error("cannot subscribe to the pull inbox: {0}")]
    Subscribe(String),
    #[error("cannot send a pull request: {0}")]
    Request(String),
    #[error("the pull inbox's subscription ended")]
    Ended,
    #[error("the server refused the pull: {status} {description}")]
    Refused {
        status: StatusCode,
        description: String,
    },
}

/// A pull consumer's messages, asked for a batch at a time, the next batch
/// asked for when half of the last is left, so that the server always has
/// a request to fill.
pub(super) struct Pull {
    consumer: PullConsumer,
    inbox: async_nats::Subject,
    subscriber: async_nats::Subscriber,
    /// The connection's state, while it reports one.
    link: Option<watch::Receiver<LinkState>>,
    batch: usize,
    /// Messages asked for that have neither come nor been let go of by the
    /// server ending their request.
    owed: usize,
    /// When the inbox last heard from the server (or a request was sent).
    heard: Instant,
}

impl Pull {
    pub(super) async fn start(
        client: &async_nats::Client,
        consumer: PullConsumer,
        batch: usize,
        link: watch::Receiver<LinkState>,
    ) -> Result<Self, PullError> {
        let inbox = async_nats::Subject::from(client.new_inbox());
        let subscriber = client
            .subscribe(inbox.clone())
            .await
            .map_err(|error| PullError::Subscribe(error.to_string()))?;
        Ok(Self {
            consumer,
            inbox,
            subscriber,
            link: Some(link),
            batch: batch.max(1),
            owed: 0,
            heard: Instant::now(),
        })
    }

    /// The next message, its reply subject the acknowledgement's.
    pub(super) async fn next(&mut self) -> Result<async_nats::Message, PullError> {
        loop {
            if self.owed <= self.batch / 2 {
                self.request().await?;
            }
            tokio::select! {
                biased;
                message = self.subscriber.next() => {
                    let message = message.ok_or(PullError::Ended)?;
                    self.heard = Instant::now();
                    if let Some(message) = self.heard_from_server(message)? {
                        return Ok(message);
                    }
                }
                connected = reconnected(&mut self.link), if self.link.is_some() => {
                    // Requests do not outlive the connection they came on.
                    if connected {
                        tracing::debug!("pull: reconnected; asking again");
                        self.owed = 0;
                    }
                }
                () = tokio::time::sleep_until(self.heard + SILENCE) => {
                    tracing::debug!(owed = self.owed, "pull: the server holds no request; asking again");
                    self.owed = 0;
                }
            }
        }
    }

    async fn request(&mut self) -> Result<(), PullError> {
        let request = BatchConfig {
            batch: self.batch,
            expires: Some(EXPIRES),
            idle_heartbeat: HEARTBEAT,
            ..Default::default()
        };
        // Counted first: the messages may come before `request_batch` returns.
        self.owed += self.batch;
        self.heard = Instant::now();
        self.consumer
            .request_batch(request, self.inbox.clone())
            .await
            .map_err(|error| PullError::Request(error.to_string()))
    }

    /// A message on the inbox: one of the stream's, or the server's word
    /// on a request.
    fn heard_from_server(
        &mut self,
        message: async_nats::Message,
    ) -> Result<Option<async_nats::Message>, PullError> {
        let status = message.status.unwrap_or(StatusCode::OK);
        if status == StatusCode::OK {
            self.owed = self.owed.saturating_sub(1);
            return Ok(Some(message));
        }
        if status == StatusCode::IDLE_HEARTBEAT {
            return Ok(None);
        }
        let description = message.description.clone().unwrap_or_default();
        let request_ended = status == StatusCode::TIMEOUT
            || status == StatusCode::NOT_FOUND
            || (status == StatusCode::REQUEST_TERMINATED && !ends_the_pull(&description));
        if !request_ended {
            return Err(PullError::Refused {
                status,
                description,
            });
        }
        // The server says how many of the request's messages it lets go of;
        // an older server does not, and then the whole batch is assumed: at
        // worst one request more than needed.
        let released = message
            .headers
            .as_ref()
            .and_then(|headers| headers.get("Nats-Pending-Messages"))
            .and_then(|pending| pending.as_str().parse().ok())
            .unwrap_or(self.batch);
        self.owed = self.owed.saturating_sub(released);
        Ok(None)
    }
}

/// Whether the link's next change is to connected; `None` once the
/// connection no longer reports.
async fn reconnected(link: &mut Option<watch::Receiver<LinkState>>) -> bool {
    let Some(receiver) = link else {
        return false;
    };
    if receiver.changed().await.is_err() {
        *link = None;
        return false;
    }
    *receiver.borrow_and_update() == LinkState::Connected
}

/// 409s after which asking again cannot help: the consumer is gone or not
/// a pull consumer, or a request exceeds its limits.
fn ends_the_pull(description: &str) -> bool {
    description == "Consumer Deleted"
        || description == "Consumer is push based"
        || description.starts_with("Exceeded MaxRequest")
}
