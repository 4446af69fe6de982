//! Any declared channel, whatever its kind: opened at launch, granted to
//! vats, closed at terminate.

use std::path::Path;
use std::sync::Arc;

use super::channel::{Channel, ChannelStats};
use super::listen::{ListenChannel, Listener};
use super::nats::{NatsChannel, NatsError};
use super::socket::{SocketChannel, SocketError};
use super::spec::{ChannelKind, ChannelSpec};
use super::stream::{StreamChannel, StreamError};

/// What a vat is handed for a channel.
#[derive(Clone)]
pub enum Grant {
    Channel(Arc<Channel>),
    Listener(Arc<Listener>),
}

impl Grant {
    pub fn stats(&self) -> ChannelStats {
        match self {
            Self::Channel(channel) => channel.stats(),
            Self::Listener(listener) => listener.stats(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error(transparent)]
    Socket(#[from] SocketError),
    #[error(transparent)]
    Stream(#[from] StreamError),
    #[error(transparent)]
    Nats(#[from] NatsError),
}

pub enum Endpoint {
    Socket(SocketChannel),
    Listen(ListenChannel),
    Stream(StreamChannel),
    Nats(NatsChannel),
}

impl Endpoint {
    pub async fn open(spec: &ChannelSpec) -> Result<Self, EndpointError> {
        Ok(match &spec.kind {
            ChannelKind::Socket(socket) => Self::Socket(SocketChannel::listen(spec, socket).await?),
            ChannelKind::Listen(listen) => Self::Listen(ListenChannel::listen(spec, listen).await?),
            ChannelKind::Connect(connect) => {
                Self::Stream(StreamChannel::connect(spec, connect).await?)
            }
            ChannelKind::File(file) => Self::Stream(StreamChannel::file(spec, file).await?),
            ChannelKind::Console => Self::Stream(StreamChannel::console(spec).await),
            ChannelKind::Nats(nats) => Self::Nats(NatsChannel::open(spec, nats).await?),
        })
    }

    pub fn grant(&self) -> Grant {
        match self {
            Self::Socket(socket) => Grant::Channel(socket.channel().clone()),
            Self::Listen(listen) => Grant::Listener(listen.listener().clone()),
            Self::Stream(stream) => Grant::Channel(stream.channel().clone()),
            Self::Nats(nats) => Grant::Channel(nats.channel().clone()),
        }
    }

    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::Socket(socket) => Some(socket.path()),
            Self::Listen(listen) => Some(listen.path()),
            Self::Stream(stream) => stream.path(),
            Self::Nats(_) => None,
        }
    }

    /// Closes the channel now: calls in flight and later return `Closed`
    /// (a listener's `accept`, `none`). What is buffered is sent by
    /// [`Endpoint::close`].
    pub fn close_now(&self) {
        match self {
            Self::Socket(socket) => socket.channel().close(),
            Self::Listen(listen) => listen.close_now(),
            Self::Stream(stream) => stream.channel().close(),
            Self::Nats(nats) => nats.channel().close(),
        }
    }

    pub async fn close(self) {
        match self {
            Self::Socket(socket) => socket.close().await,
            Self::Listen(listen) => listen.close().await,
            Self::Stream(stream) => stream.close().await,
            Self::Nats(nats) => nats.close().await,
        }
    }
}
