//! A socket client's input, read by the vat's own read: when a vat finds
//! the channel's queue empty it reads the client's socket itself, in its
//! own task, instead of waiting for a reader task to hand it a block. A
//! round trip then wakes one task instead of two (the reader's hand-off
//! was a fifth of the host's CPU per round trip), and while the vat is busy
//! the client's input waits in the socket, where the kernel slows the
//! client down as a full queue did. A stream's reader task (`io::session::pump`)
//! reads and frames its peer with the same code and queues what it framed.

use std::cell::RefCell;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, ReadBuf};

use super::{Channel, Inbound, LineRun};
use crate::io::framing::{Frame, LineFramer};
use crate::io::peer_socket::PeerReader;
use crate::io::spec::Unit;

/// How much one read of a peer takes: as much as the SDK asks for in one
/// batch, so a fast client's lines cost one read, one hand-over to the vat
/// and one write back per 64 KiB (16 KiB reads cost about twice the
/// system time per line, BENCHMARKS.md).
const READ_CHUNK: usize = 64 * 1024;

thread_local! {
    /// Where a peer's bytes land before they are framed: one per thread,
    /// not one per peer, since a read and its framing happen in one poll
    /// (a connected client holds no read buffer of its own).
    static READ_BUFFER: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_CHUNK].into_boxed_slice());
}

/// One peer's input, with its framing state, waiting to be read: a socket
/// client's, read by the vat; a stream's, read by its reader task.
pub(crate) struct PeerInput<R = PeerReader> {
    reader: R,
    /// The vat reads the channel: otherwise the input is read and dropped.
    kept: bool,
    lines: bool,
    framer: LineFramer,
    /// The client's session, marked on its end of stream.
    session: Option<u64>,
    /// No input follows this peer's (a `listen` connection).
    only_client: bool,
    /// What the last read framed, taken by the caller; kept between reads
    /// so a round trip allocates no list for its one line.
    pub(crate) framed: Vec<Inbound>,
}

impl<R: AsyncRead + Unpin> PeerInput<R> {
    pub(crate) fn new(
        channel: &Channel,
        reader: R,
        session: Option<u64>,
        only_client: bool,
    ) -> Self {
        Self {
            reader,
            kept: channel.direction().readable(),
            lines: channel.unit() == Unit::Line,
            framer: LineFramer::new(channel.max_line()),
            session,
            only_client,
            framed: Vec::new(),
        }
    }

    /// Reads what the peer has sent (waiting for it) and frames it; at the
    /// peer's end, the end of its stream follows what it sent, and the
    /// second value is true. Nothing is framed on a channel the vat does
    /// not read. Cancel-safe: nothing is read unless it returns.
    pub(crate) async fn read(&mut self, channel: &Channel) -> (Vec<Inbound>, bool) {
        let ended = std::future::poll_fn(|context| self.poll_read(context, channel)).await;
        (std::mem::take(&mut self.framed), ended)
    }

    /// Reads what the peer has sent and frames it into `framed` (which the
    /// caller empties), as [`PeerInput::read`]; ready with whether the
    /// peer's stream ended.
    pub(crate) fn poll_read(&mut self, context: &mut Context<'_>, channel: &Channel) -> Poll<bool> {
        READ_BUFFER.with_borrow_mut(|buffer| {
            let mut read = ReadBuf::new(buffer);
            let count = match ready!(Pin::new(&mut self.reader).poll_read(context, &mut read)) {
                Ok(()) => read.filled().len(),
                Err(error) => {
                    let session = self.session;
                    tracing::debug!(channel = channel.name(), ?session, %error, "peer read failed");
                    0
                }
            };
            Poll::Ready(self.frame(buffer.get(..count).unwrap_or_default(), channel))
        })
    }

    /// Frames `received`, one read's bytes (none: the end), into `framed`;
    /// whether the peer's stream ended.
    fn frame(&mut self, received: &[u8], channel: &Channel) -> bool {
        let items = &mut self.framed;
        if !self.kept {
            channel.received(received.len());
            return received.is_empty();
        }
        if received.is_empty() {
            if self.lines {
                self.framer.finish(|frame| add_frame(items, frame, 0));
            }
            items.push(Inbound::EndOfStream {
                session: self.session,
            });
            if self.only_client {
                items.push(Inbound::Finished);
            }
            return true;
        }
        channel.received(received.len());
        if self.lines {
            self.framer
                .push(received, |frame| add_frame(items, frame, received.len()));
        } else {
            items.push(Inbound::Bytes(received.to_vec()));
        }
        false
    }
}

/// Adds a frame to what goes to the vat: consecutive lines join one run,
/// made with room for the `read` bytes they came in (one allocation).
fn add_frame(items: &mut Vec<Inbound>, frame: Frame<'_>, read: usize) {
    match frame {
        Frame::Line(line) => match items.last_mut() {
            Some(Inbound::Lines(run)) => run.push(line),
            _ => {
                let mut run = LineRun::with_capacity(read.max(line.len() + 1));
                run.push(line);
                items.push(Inbound::Lines(run));
            }
        },
        Frame::InvalidUtf8(why) => items.push(Inbound::InvalidData(why)),
        Frame::TooLong => items.push(Inbound::TooLong),
    }
}
