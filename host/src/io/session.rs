//! One peer's session on a channel: its input framed (or chunked) into the
//! channel's queue (a stream's; a socket client's input the vat reads
//! itself, see `channel::peer_input`), and, for a socket client, how long
//! its output lives.

use std::sync::Arc;

use tokio::io::AsyncRead;

use super::channel::{Channel, InboundSender, PeerInput};
use super::peer_socket::PeerReader;

/// Reads one peer's input into the channel until it ends or the channel
/// closes; at its end the vat is told (`read` returns `none` once). Nothing
/// the peer sent is lost. `session` names a socket client whose output ends
/// once the vat has moved past that end; a stream channel's only peer has
/// none. On a channel the vat does not read, the input is read and dropped.
pub(crate) async fn pump(
    channel: &Arc<Channel>,
    inbound: &InboundSender,
    reader: impl AsyncRead + Unpin,
    session: Option<u64>,
) {
    let mut input = PeerInput::new(channel, reader, session, false);
    // One wait on the close for the whole stream, polled only when the read
    // waits: registering a fresh one per read cost each read two locks.
    let closed = channel.closed().cancelled();
    tokio::pin!(closed);
    loop {
        if channel.is_closed() {
            return;
        }
        let (items, ended) = tokio::select! {
            biased;
            read = input.read(channel) => read,
            () = &mut closed => return,
        };
        // What one read framed goes to the vat as one block.
        if !items.is_empty() && !channel.deliver(inbound, items).await {
            return;
        }
        if ended {
            return;
        }
    }
}

/// Serves one socket client (a `socket` channel's current client or a
/// `listen` connection) whose writer the caller has attached. The end of
/// the client's input is not the end of its output: the session lasts
/// until the vat has read the end of this client's stream and moved on, or
/// no vat holds the channel any more, or (on a channel the vat only writes)
/// the client hangs up. Then the buffered output is sent within the close
/// grace and the connection is shut down. With `only_client` (a `listen`
/// connection) the channel has no input after this client's. `released`
/// is called as soon as the channel is free for another client: before the
/// last output is sent, so a client that has seen its end of stream finds
/// the channel free.
pub(crate) async fn serve_client(
    channel: &Arc<Channel>,
    inbound: &InboundSender,
    mut reader: PeerReader,
    session: u64,
    only_client: bool,
    released: impl FnOnce(),
) {
    channel.client_connected(true);
    // A vat that lets go of the channel ends the session wherever it is.
    let session_runs = async {
        if channel.direction().readable() {
            // The vat's reads take this client's input from its socket, and
            // the session lasts until the vat has read its end and moved on.
            // Once no vat holds the channel none ever will: the input is not
            // handed over, so clients of an abandoned channel pile up nowhere.
            if !channel.is_abandoned() {
                let input = PeerInput::new(channel, reader, Some(session), only_client);
                if channel.attach_input(inbound, input) {
                    channel.session_done(session).await;
                }
            }
        } else {
            // What the client sends is read and dropped; its session lasts
            // until it hangs up.
            pump(channel, inbound, &mut reader, Some(session)).await;
            if only_client {
                channel.finish(inbound).await;
            }
            hung_up(&reader).await;
        }
    };
    tokio::select! {
        // The channel's release sends what is left, within the grace.
        () = channel.closed().cancelled() => {
            released();
            return;
        }
        () = channel.abandoned() => {}
        () = session_runs => {}
    }
    let ending = channel.detach_writer(Some(session)).await;
    channel.client_connected(false);
    released();
    if let Some(ending) = ending {
        ending.finish().await;
    }
}

/// Resolves once the peer of `stream` has closed both directions. Its input
/// has already ended, so readiness alone says nothing; a duplicate of the
/// descriptor, registered for edges, wakes on each change and `poll` tells
/// whether it was the hang-up.
async fn hung_up(stream: &impl std::os::fd::AsFd) {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let watched: std::io::Result<()> = async {
        let probe = super::peer_socket::watch_duplicate(stream, tokio::io::Interest::READABLE)?;
        loop {
            let mut ready = probe.readable().await?;
            let mut fds = [PollFd::new(ready.get_inner(), PollFlags::empty())];
            let now = Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            rustix::event::poll(&mut fds, Some(&now))?;
            if fds[0].revents().intersects(PollFlags::HUP | PollFlags::ERR) {
                return Ok(());
            }
            ready.clear_ready();
        }
    }
    .await;
    if let Err(error) = watched {
        // Cannot watch: the session then ends with the channel or its vats.
        tracing::debug!(%error, "cannot watch a client for hang-up");
        std::future::pending::<()>().await;
    }
}
