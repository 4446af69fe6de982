//! A connected peer's Unix socket, split into a read side registered with
//! the reactor for input only and a write side that registers only while a
//! write waits for room.
//!
//! Why not tokio's `UnixStream`: it registers for readable and writable
//! edges together, and on a Unix socket every read the peer makes of our
//! output frees room and fires a writable edge. In an exchange of requests
//! and replies that is one wake-up of a parked worker per reply, for
//! nothing, since no write was waiting (BENCHMARKS.md, issue 13's sixth
//! session). Here a write goes straight to the socket; one that
//! finds it full registers a duplicate descriptor for writable edges and
//! waits, and that registration is dropped when the flush is through.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

/// Splits a connected stream into its two sides; the socket closes when
/// both are dropped, and dropping the write side shuts down the peer's
/// input (as tokio's write half does).
pub fn split(stream: tokio::net::UnixStream) -> io::Result<(PeerReader, PeerWriter)> {
    let socket = Arc::new(register(stream.into_std()?, Interest::READABLE)?);
    Ok((
        PeerReader {
            socket: socket.clone(),
        },
        PeerWriter { socket, room: None },
    ))
}

/// A duplicate of `socket`'s descriptor registered for `interest` alone:
/// its edges, apart from whatever else watches the socket. Registering
/// reports the socket's state at once, so a change that came before it
/// still wakes.
pub(crate) fn watch_duplicate(
    socket: impl AsFd,
    interest: Interest,
) -> io::Result<AsyncFd<OwnedFd>> {
    register(rustix::io::fcntl_dupfd_cloexec(socket, 0)?, interest)
}

/// Registers `owned` with the reactor for `interest`.
fn register<T: AsRawFd>(owned: T, interest: Interest) -> io::Result<AsyncFd<T>> {
    // Deprecated for descriptors the AsyncFd does not own; it owns this
    // one, which therefore cannot close while registered.
    #[allow(deprecated)]
    AsyncFd::with_interest(owned, interest)
}

/// The peer's input.
pub struct PeerReader {
    socket: Arc<AsyncFd<UnixStream>>,
}

impl PeerReader {
    /// A read while the reactor has not seen the socket readable: the
    /// waker is registered, so input that comes after this read still
    /// wakes, and input already there is taken now. In an exchange of
    /// requests and replies the next request is often in the socket
    /// before the reactor has looked (the client ran while the reply was
    /// sent); the reactor learns of it only when its worker parks, so
    /// waiting for it costs a park, a wake-up and a resumed vat (BENCHMARKS.md,
    /// issue 13's eighth session). An input taken this way leaves no edge
    /// behind: epoll reports an edge only if the socket is still readable.
    ///
    /// Such a read spends the task's budget as the reactor's reads do, so a
    /// vat whose input never runs dry still yields its worker every so
    /// many reads, not only at an epoch tick.
    fn read_ahead_of_the_edge(
        &self,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let budget = ready!(tokio::task::coop::poll_proceed(context));
        match self.socket.get_ref().read(buffer.initialize_unfilled()) {
            Ok(count) => {
                budget.made_progress();
                buffer.advance(count);
                Poll::Ready(Ok(()))
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
            Err(error) => Poll::Ready(Err(error)),
        }
    }
}

impl AsyncRead for PeerReader {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut ready = match self.socket.poll_read_ready(context) {
                Poll::Ready(ready) => ready?,
                Poll::Pending => return self.read_ahead_of_the_edge(context, buffer),
            };
            let unfilled = buffer.initialize_unfilled();
            let wanted = unfilled.len();
            match ready.try_io(|socket| socket.get_ref().read(unfilled)) {
                Ok(Ok(count)) => {
                    // A short read emptied the socket: the next read waits
                    // for the next edge instead of finding it empty (as
                    // tokio's own streams do). Not at the end, which stays.
                    if count > 0 && count < wanted {
                        ready.clear_ready();
                    }
                    buffer.advance(count);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(error)) => return Poll::Ready(Err(error)),
                // Not readable after all: readiness is cleared, wait again.
                Err(_would_block) => {}
            }
        }
    }
}

impl AsFd for PeerReader {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.get_ref().as_fd()
    }
}

/// The peer's output.
pub struct PeerWriter {
    socket: Arc<AsyncFd<UnixStream>>,
    /// A duplicate of the socket registered for writable edges, while a
    /// write waits for room.
    room: Option<AsyncFd<OwnedFd>>,
}

impl PeerWriter {
    fn watch_room(&mut self) -> io::Result<&AsyncFd<OwnedFd>> {
        // Room freed between the full write and the registration still
        // wakes (see `watch_duplicate`).
        let room = match self.room.take() {
            Some(room) => room,
            None => watch_duplicate(self.socket.get_ref(), Interest::WRITABLE)?,
        };
        Ok(self.room.insert(room))
    }
}

impl AsyncWrite for PeerWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            match self.socket.get_ref().write(data) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                written => return Poll::Ready(written),
            }
            // Cleared before the next try: an edge after it wakes us, and
            // room freed before it lets that try through.
            ready!(self.watch_room()?.poll_write_ready(context))?.clear_ready();
        }
    }

    /// Writes are not buffered here; the wait for room, if any, is over.
    fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.room = None;
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.room = None;
        Poll::Ready(self.socket.get_ref().shutdown(Shutdown::Write))
    }
}

impl Drop for PeerWriter {
    fn drop(&mut self) {
        // The peer sees the end of our output even if the socket stays open
        // for its input; it may be gone already.
        let _ = self.socket.get_ref().shutdown(Shutdown::Write);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::test_support::soon;

    fn pair() -> (PeerReader, PeerWriter, UnixStream) {
        let (ours, theirs) = UnixStream::pair().expect("socket pair");
        ours.set_nonblocking(true).expect("non-blocking");
        theirs
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        let stream = tokio::net::UnixStream::from_std(ours).expect("registered");
        let (reader, writer) = split(stream).expect("split");
        (reader, writer, theirs)
    }

    /// One poll of a read, as a task polls it between two turns of the
    /// reactor.
    fn poll_once(reader: &mut PeerReader, received: &mut [u8]) -> Poll<usize> {
        let mut context = Context::from_waker(std::task::Waker::noop());
        let mut buffer = ReadBuf::new(received);
        match Pin::new(reader).poll_read(&mut context, &mut buffer) {
            Poll::Ready(read) => {
                read.expect("read");
                Poll::Ready(buffer.filled().len())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    #[tokio::test]
    async fn input_already_in_the_socket_is_read_before_the_reactor_sees_it() {
        let (mut reader, _writer, mut theirs) = pair();
        let mut received = [0u8; 16];
        assert!(
            poll_once(&mut reader, &mut received).is_pending(),
            "nothing sent yet"
        );
        theirs.write_all(b"ping\n").expect("send");
        // No await in between: the reactor has not looked at the socket.
        assert_eq!(poll_once(&mut reader, &mut received), Poll::Ready(5));
        assert_eq!(&received[..5], b"ping\n");
        assert!(
            poll_once(&mut reader, &mut received).is_pending(),
            "all read"
        );
    }

    #[tokio::test]
    async fn reads_ahead_of_the_reactor_spend_the_tasks_budget() {
        let (mut reader, _writer, mut theirs) = pair();
        theirs.write_all(&[b'x'; 1000]).expect("send");
        // One byte at a time, all within one poll of this task: input is
        // always there, and the budget still runs out.
        let mut received = [0u8; 1];
        let reads = (0..1000)
            .take_while(|_| poll_once(&mut reader, &mut received).is_ready())
            .count();
        assert!(reads < 1000, "never yielded");
        assert!(reads > 0, "never read ahead");
    }

    #[tokio::test]
    async fn reads_what_the_peer_sends_and_its_end() {
        let (mut reader, _writer, mut theirs) = pair();
        let mut received = [0u8; 16];
        let peer = std::thread::spawn(move || {
            theirs.write_all(b"hello")?;
            theirs.shutdown(Shutdown::Write)
        });
        let mut got = Vec::new();
        loop {
            let count = soon(reader.read(&mut received)).await.expect("read");
            if count == 0 {
                break;
            }
            got.extend_from_slice(&received[..count]);
        }
        assert_eq!(got, b"hello");
        assert!(matches!(peer.join(), Ok(Ok(()))));
    }

    /// The writer fills the socket while the peer reads nothing, waits for
    /// room, and every byte arrives in order once the peer reads.
    #[tokio::test]
    async fn a_write_to_a_full_socket_waits_for_room_and_loses_nothing() {
        let (_reader, mut writer, mut theirs) = pair();
        let sent: Vec<u8> = (0..4 * 1024 * 1024)
            .map(|index| (index % 251) as u8)
            .collect();
        let expected = sent.clone();
        // Writes until the socket is full and the writer has to wait.
        let mut written = 0;
        let waited = std::future::poll_fn(|context| {
            while written < sent.len() {
                match Pin::new(&mut writer).poll_write(context, &sent[written..]) {
                    Poll::Ready(Ok(count)) => written += count,
                    Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                    Poll::Pending => return Poll::Ready(Ok(true)),
                }
            }
            Poll::Ready(Ok(false))
        })
        .await
        .expect("written");
        assert!(waited, "4 MiB went into the socket without a wait");
        assert!(writer.room.is_some(), "the waiting writer watches for room");
        let peer = std::thread::spawn(move || {
            let mut received = Vec::new();
            theirs.read_to_end(&mut received).map(|_| received)
        });
        soon(async {
            writer.write_all(&sent[written..]).await?;
            writer.flush().await?;
            writer.shutdown().await
        })
        .await
        .expect("written");
        assert!(
            writer.room.is_none(),
            "the wait for room outlived the flush"
        );
        match peer.join() {
            Ok(Ok(received)) => assert!(received == expected, "the stream arrived altered"),
            other => panic!("peer: {other:?}"),
        }
    }

    #[tokio::test]
    async fn dropping_the_writer_ends_the_peers_input() {
        let (_reader, writer, mut theirs) = pair();
        drop(writer);
        let mut received = Vec::new();
        let read = theirs.read_to_end(&mut received);
        assert!(matches!(read, Ok(0)), "the peer read {read:?}");
    }
}
