//! One NATS connection per distinct server and credentials in a host,
//! shared by every channel that names them. The connection outlives the
//! server going away: the client reconnects by itself, and the link state
//! it reports is what channels wait on and what status shows.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Weak};
use std::time::Duration;

use tokio::sync::watch;

use crate::io::channel::LinkState;
use crate::io::spec::NatsAuth;

/// Messages the client library holds for one subscription before it drops
/// them (its own default). The channel's reader drains the subscription as
/// it arrives (its own bound is the channel's `max-pending`), so this only
/// absorbs a burst that arrives while the reader is not scheduled: 4,096
/// lost half of a 30,000-message burst to a debug build.
const SUBSCRIPTION_BUFFER: usize = 65_536;

/// The longest pause between two reconnect attempts.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error("cannot read the NATS credentials file {}", path.display())]
    Credentials {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the NATS token file {}", path.display())]
    Token {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    url: String,
    auth: NatsAuth,
}

/// A client connection and what it reports.
pub(crate) struct Connection {
    client: async_nats::Client,
    url: String,
    link: watch::Receiver<LinkState>,
    /// Messages the client library dropped for a subscription that did not
    /// keep up. It does not say which subscription, so each channel on the
    /// connection counts them.
    dropped: Arc<AtomicU64>,
}

static POOL: LazyLock<tokio::sync::Mutex<HashMap<Key, Weak<Connection>>>> =
    LazyLock::new(Default::default);

impl Connection {
    /// The host's connection to `url` with `auth`, made on first use. It
    /// does not wait for the server: one that is down is retried until it
    /// is up.
    pub(crate) async fn shared(url: &str, auth: &NatsAuth) -> Result<Arc<Self>, NatsError> {
        let key = Key {
            url: url.to_owned(),
            auth: auth.clone(),
        };
        let mut pool = POOL.lock().await;
        pool.retain(|_, connection| connection.strong_count() > 0);
        if let Some(connection) = pool.get(&key).and_then(Weak::upgrade) {
            return Ok(connection);
        }
        let connection = Arc::new(Self::connect(url, auth).await?);
        pool.insert(key, Arc::downgrade(&connection));
        Ok(connection)
    }

    async fn connect(url: &str, auth: &NatsAuth) -> Result<Self, NatsError> {
        let mut options = match auth {
            NatsAuth::None => async_nats::ConnectOptions::new(),
            NatsAuth::CredsFile(path) => async_nats::ConnectOptions::with_credentials_file(path)
                .await
                .map_err(|source| NatsError::Credentials {
                    path: path.clone(),
                    source,
                })?,
            NatsAuth::TokenFile(path) => async_nats::ConnectOptions::with_token(read_token(path)?),
        };
        let (link_sender, link) = watch::channel(LinkState::Connecting);
        let dropped = Arc::new(AtomicU64::new(0));
        let events = Arc::new(EventSink {
            url: url.to_owned(),
            credentials: match auth {
                NatsAuth::None => "none".to_owned(),
                NatsAuth::CredsFile(path) | NatsAuth::TokenFile(path) => path.display().to_string(),
            },
            warned: std::sync::atomic::AtomicBool::new(false),
            link: link_sender,
            dropped: dropped.clone(),
        });
        options = options
            .name("vathost")
            .retry_on_initial_connect()
            .max_reconnects(None)
            .subscription_capacity(SUBSCRIPTION_BUFFER)
            .reconnect_delay_callback(|attempts| {
                let millis = 50u64.saturating_mul(u64::try_from(attempts).unwrap_or(u64::MAX));
                Duration::from_millis(millis).min(MAX_RECONNECT_DELAY)
            })
            .event_callback(move |event| {
                let events = events.clone();
                async move { events.record(event) }
            });
        let client = options
            .connect(url)
            .await
            .map_err(|error| NatsError::Connect {
                url: url.to_owned(),
                reason: error.to_string(),
            })?;
        Ok(Self {
            client,
            url: url.to_owned(),
            link,
            dropped,
        })
    }

    pub(crate) fn client(&self) -> &async_nats::Client {
        &self.client
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn link(&self) -> LinkState {
        *self.link.borrow()
    }

    /// Follows the link's state from now on.
    pub(crate) fn link_changes(&self) -> watch::Receiver<LinkState> {
        let mut link = self.link.clone();
        link.mark_unchanged();
        link
    }

    /// Resolves once the client is connected; at once if it is.
    pub(crate) async fn connected(&self) {
        if self.link() == LinkState::Connected {
            return;
        }
        let mut link = self.link.clone();
        let _ = link.wait_for(|state| *state == LinkState::Connected).await;
    }

    pub(crate) fn library_drops(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

fn read_token(path: &Path) -> Result<String, NatsError> {
    std::fs::read_to_string(path)
        .map(|token| token.trim().to_owned())
        .map_err(|source| NatsError::Token {
            path: path.to_owned(),
            source,
        })
}

/// Where the client's events go: the link state and the drop count.
struct EventSink {
    url: String,
    /// Where the credentials come from, for the log: `none` or a path.
    credentials: String,
    /// The first connection's failure was logged.
    warned: std::sync::atomic::AtomicBool,
    link: watch::Sender<LinkState>,
    dropped: Arc<AtomicU64>,
}

impl EventSink {
    fn record(&self, event: async_nats::Event) {
        match event {
            async_nats::Event::Connected => {
                tracing::info!(url = %self.url, "connected to NATS");
                self.link.send_replace(LinkState::Connected);
            }
            async_nats::Event::Disconnected => {
                tracing::warn!(url = %self.url, "disconnected from NATS; reconnecting");
                self.link.send_replace(LinkState::Disconnected);
            }
            async_nats::Event::SlowConsumer(_) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            // Each failed attempt while the server is away: said once, at
            // the first connection's first failure.
            async_nats::Event::ClientError(error) => {
                let first = !self.warned.swap(true, Ordering::Relaxed);
                if first && *self.link.borrow() == LinkState::Connecting {
                    tracing::warn!(
                        url = %self.url,
                        credentials = %self.credentials,
                        "cannot connect to the NATS server yet ({error}); retrying"
                    );
                } else {
                    tracing::debug!(url = %self.url, %error, "NATS client error");
                }
            }
            other => tracing::info!(url = %self.url, event = %other, "NATS event"),
        }
    }
}
