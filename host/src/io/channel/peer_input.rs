//! A socket client's input, read by the vat's own read: when a vat finds
//! the channel's queue empty it reads the client's socket itself, in its
//! own task, instead of waiting for a reader task to hand it a block. A
//! round trip then wakes one task instead of two (the reader's hand-off
//! was a fifth of the host's CPU per round trip), and while the vat is busy
//! the client's input waits in the socket, where the kernel slows the
//! client down as a full queue did. A stream's reader task (`io::session::pump`)
//! reads and frames its peer with the same code and queues what it framed.

use std::cell::RefCell;
use std::collections::VecDeque;
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
    framed: Vec<Inbound>,
}

/// The most items `framed` keeps room for between reads: a read of many
/// short lines broken by invalid ones frames thousands of items, and that
/// room would stay with an idle client.
const FRAMED_KEPT: usize = 8;

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

    /// Moves what the last read framed to the end of `items`; false if it
    /// framed nothing.
    pub(crate) fn take_framed(&mut self, items: &mut VecDeque<Inbound>) -> bool {
        if self.framed.is_empty() {
            return false;
        }
        items.extend(self.framed.drain(..));
        self.framed.shrink_to(FRAMED_KEPT);
        true
    }

    /// Reads what the peer has sent and frames it for
    /// [`PeerInput::take_framed`], as [`PeerInput::read`]; ready with
    /// whether the peer's stream ended.
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
                self.framer.finish(|frame| add_frame(items, frame));
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
            self.framer.push(received, |frame| add_frame(items, frame));
        } else {
            items.push(Inbound::Bytes(received.to_vec()));
        }
        false
    }
}

/// Adds a frame to what goes to the vat: consecutive lines join one run,
/// made with room for its first line and newline (one allocation for a
/// round trip's line; not the read's size, which a client could make a
/// run of one short line hold).
fn add_frame(items: &mut Vec<Inbound>, frame: Frame<'_>) {
    match frame {
        Frame::Line(line) => match items.last_mut() {
            Some(Inbound::Lines(run)) => run.push(line),
            _ => {
                let mut run = LineRun::with_capacity(line.len() + 1);
                run.push(line);
                items.push(Inbound::Lines(run));
            }
        },
        Frame::InvalidUtf8(why) => items.push(Inbound::InvalidData(why)),
        Frame::TooLong => items.push(Inbound::TooLong),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::spec::Direction;

    #[tokio::test]
    async fn a_read_of_many_items_leaves_room_for_few_with_an_idle_client() {
        let (channel, _sender) = Channel::new(&super::super::tests::spec(Direction::InOut));
        let received = b"a\n\xff\n".repeat(1000);
        let mut input = PeerInput::new(&channel, received.as_slice(), None, false);
        let ended = std::future::poll_fn(|context| input.poll_read(context, &channel)).await;
        assert!(!ended);
        let mut items = VecDeque::new();
        assert!(input.take_framed(&mut items));
        assert_eq!(
            items.len(),
            2000,
            "each line and each invalid line is an item"
        );
        assert!(
            input.framed.capacity() <= FRAMED_KEPT,
            "kept room for {} items",
            input.framed.capacity()
        );
        assert!(!input.take_framed(&mut items), "taken twice");
    }
}
