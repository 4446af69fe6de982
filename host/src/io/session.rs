//! One peer's session on a channel: its input framed (or chunked) into the
//! channel's queue, its output taken from the channel's writes.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::sync::mpsc;

use super::channel::{Channel, ClientWriter, Inbound};
use super::framing::{Frame, LineFramer};
use crate::config::Unit;

const READ_CHUNK: usize = 16 * 1024;

/// How a session ends when its peer's input does.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum AtEnd {
    /// The peer has gone (a socket client): stop writing to it too.
    Detach,
    /// Only the input ended (stdin, a half-closed connection): output goes on.
    KeepWriting,
}

/// Serves one peer until its input ends or the channel closes. At the end of
/// its input the vat is told (`read` returns `none` once); nothing the peer
/// sent is lost.
pub(crate) async fn pump(
    channel: &Arc<Channel>,
    inbound: &mpsc::Sender<Inbound>,
    mut reader: impl AsyncRead + Unpin,
    writer: Option<Box<dyn AsyncWrite + Send + Unpin>>,
    id: u64,
    at_end: AtEnd,
) {
    channel.client_connected(true);
    if let Some(writer) = writer.filter(|_| channel.direction().writable()) {
        channel.attach_client(ClientWriter::new(id, writer)).await;
    }
    let readable = channel.direction().readable();
    let lines = channel.unit() == Unit::Line;
    let mut framer = LineFramer::new(channel.max_line());
    let mut buffer = vec![0u8; READ_CHUNK];
    let mut frames = Vec::new();
    'stream: loop {
        let read = tokio::select! {
            () = channel.closed().cancelled() => return,
            read = reader.read(&mut buffer) => read,
        };
        let count = match read {
            Ok(0) => break,
            Ok(count) => count,
            Err(error) => {
                tracing::debug!(channel = channel.name(), client = id, %error, "peer read failed");
                break;
            }
        };
        channel.received(count);
        if !readable {
            continue;
        }
        if !lines {
            if !channel
                .deliver(inbound, Inbound::Bytes(buffer[..count].to_vec()))
                .await
            {
                break 'stream;
            }
            continue;
        }
        framer.push(&buffer[..count], |frame| frames.push(frame));
        for frame in frames.drain(..) {
            if !channel.deliver(inbound, frame.into()).await {
                break 'stream;
            }
        }
    }
    if readable {
        let last = if lines {
            framer.finish().map(Inbound::from)
        } else {
            None
        };
        for item in last.into_iter().chain([Inbound::EndOfStream]) {
            if !channel.deliver(inbound, item).await {
                break;
            }
        }
    }
    if at_end == AtEnd::Detach {
        channel.detach_client(id).await;
        channel.client_connected(false);
    }
}

impl From<Frame> for Inbound {
    fn from(frame: Frame) -> Self {
        match frame {
            Frame::Line(line) => Self::Line(line),
            Frame::InvalidUtf8(why) => Self::InvalidData(why),
            Frame::TooLong => Self::TooLong,
        }
    }
}
