use std::rc::Rc;

use crate::batching::{self, Batched};
use crate::bindings::vathost::vat::io_channel as wit;
use crate::bindings::wasi::io::poll;
use crate::{Error, IoError};

/// Which way data may flow, seen from the vat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
    InOut,
}

/// What a channel carries: lines (`read_line`, `write_line`) or bytes
/// (`read_bytes`, `write_bytes`, and `std::io::Read`/`Write` on `&Channel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Line,
    Bytes,
}

/// Something a vat can wait on with [`wait_any`]: channels, listeners,
/// answers and the inbox.
pub trait Ready {
    /// A pollable for it, or `None` if it is ready now.
    #[doc(hidden)]
    fn subscribe(&self) -> Option<poll::Pollable>;
}

/// A channel granted to this vat. Reads and writes whole lines, moved to
/// and from the host in batches (see [`Channel::read_line`] and
/// [`Channel::write_line`]), or bytes.
#[derive(Debug)]
pub struct Channel {
    batched: Rc<Batched>,
    name: String,
    direction: Direction,
    unit: Unit,
}

impl Channel {
    /// The handle, to lend in a message: another vat may read or write the
    /// channel from now on, so gathered output goes out and unread lines go
    /// back to the host first.
    pub(crate) fn lend(&self) -> &wit::Channel {
        self.batched.settle();
        &self.batched.inner
    }

    pub(crate) fn new(inner: wit::Channel) -> Self {
        let name = inner.name();
        let direction = match inner.direction() {
            wit::Direction::In => Direction::In,
            wit::Direction::Out => Direction::Out,
            wit::Direction::Inout => Direction::InOut,
        };
        let unit = match inner.unit() {
            wit::Unit::Line => Unit::Line,
            wit::Unit::Bytes => Unit::Bytes,
        };
        Self {
            batched: Batched::new(inner),
            name,
            direction,
            unit,
        }
    }

    pub fn unit(&self) -> Unit {
        self.unit
    }

    /// Waits for up to `max` bytes. `Ok(None)` marks the end of one
    /// client's stream.
    pub fn read_bytes(&self, max: usize) -> Result<Option<Vec<u8>>, IoError> {
        let max = u32::try_from(max).unwrap_or(u32::MAX);
        batching::settle_all();
        self.batched.inner.read_bytes(max).map_err(IoError::from)
    }

    /// Writes all of `data`.
    pub fn write_bytes(&self, data: &[u8]) -> Result<(), IoError> {
        self.batched.inner.write_bytes(data).map_err(IoError::from)
    }

    /// The name the config gave this channel.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The handle's index in this vat's resource table. Only useful for
    /// showing that an index is not a capability: the host checks every
    /// index against the handles it granted this vat.
    #[doc(hidden)]
    pub fn raw_handle(&self) -> u32 {
        self.batched.inner.handle()
    }

    /// Waits for the next line. `Ok(None)` marks the end of one client's
    /// stream; the next call waits for the next client.
    ///
    /// Lines come from the host in batches: every line waiting when the
    /// batch is taken, one host call for all of them.
    pub fn read_line(&self) -> Result<Option<String>, IoError> {
        self.batched.read_line()
    }

    /// Writes one line (without its newline) to the connected client.
    ///
    /// While lines of the batch being read are still unread, the replies
    /// gather and go to the host together once the batch is read, or the
    /// vat waits, sends a message, or ends; otherwise the line goes at once.
    /// An error for gathered lines comes from the next write.
    pub fn write_line(&self, line: &str) -> Result<(), IoError> {
        if self.direction == Direction::In {
            return Err(IoError::NotWritable);
        }
        if self.unit == Unit::Bytes {
            return Err(IoError::WrongUnit);
        }
        self.batched.write_line(line)
    }

    /// Sends gathered lines to the host now (see [`Channel::write_line`]).
    pub fn flush(&self) -> Result<(), IoError> {
        self.batched.flush()
    }

    /// Writes a line back to whoever sent the last one; a client that has
    /// already gone is not an error, since there is no one left to answer.
    pub fn reply(&self, line: &str) -> Result<(), IoError> {
        match self.write_line(line) {
            Err(IoError::NoClient) => Ok(()),
            other => other,
        }
    }

    /// Every line from every client in turn, ending when the host closes the
    /// channel. Errors that concern one line are yielded and the stream goes on.
    pub fn lines(&self) -> Lines<'_> {
        Lines {
            channel: self,
            done: false,
        }
    }

    /// Serves a request-response protocol: calls `handle` with each line
    /// from each client in turn and writes back what it returns (`None`:
    /// no reply; a reply of several lines separates them with `\n`), until
    /// the host closes the channel. Errors that concern one line go to
    /// `handle` too, and serving goes on.
    ///
    /// What `lines()` and `reply` do, for half the host calls: a reply
    /// goes to the host together with the wait for the next line (one
    /// call, as a microkernel's reply-and-receive), since nothing can
    /// happen between the two. A reply to a client that has gone is
    /// dropped, as with [`Channel::reply`].
    pub fn serve(
        &self,
        mut handle: impl FnMut(Result<String, IoError>) -> Option<String>,
    ) -> Result<(), IoError> {
        if self.direction != Direction::InOut {
            return Err(if self.direction == Direction::In {
                IoError::NotWritable
            } else {
                IoError::NotReadable
            });
        }
        loop {
            let request = match self.read_line() {
                Ok(Some(line)) => Ok(line),
                // One client left; serve the next.
                Ok(None) => continue,
                Err(IoError::Closed) => return Ok(()),
                Err(error) if error.is_line_error() => Err(error),
                Err(error) => return Err(error),
            };
            match self.batched.take_deferred() {
                // A reply to a client that has gone.
                None | Some(IoError::NoClient) => {}
                Some(error) => return Err(error),
            }
            if let Some(reply) = handle(request) {
                self.batched.gather_reply(&reply);
            }
        }
    }
}

/// Iterator over a channel's lines; see [`Channel::lines`].
pub struct Lines<'a> {
    channel: &'a Channel,
    done: bool,
}

impl Iterator for Lines<'_> {
    type Item = Result<String, IoError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            match self.channel.read_line() {
                Ok(Some(line)) => return Some(Ok(line)),
                // One client left; keep serving the next.
                Ok(None) => {}
                Err(IoError::Closed) => self.done = true,
                Err(error) if error.is_line_error() => return Some(Err(error)),
                Err(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
            }
        }
        None
    }
}

/// Blocks until at least one of `channels` is readable and returns the
/// indices of those that are: a read on them returns without waiting.
pub fn wait_readable(channels: &[&Channel]) -> Vec<usize> {
    let ready: Vec<&dyn Ready> = channels
        .iter()
        .map(|channel| *channel as &dyn Ready)
        .collect();
    wait_any(&ready)
}

/// Blocks until at least one of `items` (channels, listeners) is ready and
/// returns the indices of those that are.
pub fn wait_any(items: &[&dyn Ready]) -> Vec<usize> {
    let pollables: Vec<Option<poll::Pollable>> =
        items.iter().map(|item| item.subscribe()).collect();
    let ready_now: Vec<usize> = pollables
        .iter()
        .enumerate()
        .filter_map(|(index, pollable)| pollable.is_none().then_some(index))
        .collect();
    if !ready_now.is_empty() {
        return ready_now;
    }
    // About to wait: no channel's batch is left half done meanwhile.
    batching::settle_all();
    let waiting: Vec<&poll::Pollable> = pollables.iter().flatten().collect();
    poll::poll(&waiting)
        .into_iter()
        .filter_map(|index| usize::try_from(index).ok())
        .collect()
}

impl Ready for Channel {
    fn subscribe(&self) -> Option<poll::Pollable> {
        // Lines in hand: a read returns at once.
        if self.batched.has_input() {
            return None;
        }
        Some(self.batched.inner.subscribe())
    }
}

/// A listener granted to this vat: every client is a new [`Channel`].
#[derive(Debug)]
pub struct Listener {
    inner: wit::Listener,
    name: String,
}

impl Listener {
    pub(crate) fn wit(&self) -> &wit::Listener {
        &self.inner
    }

    pub(crate) fn new(inner: wit::Listener) -> Self {
        let name = inner.name();
        Self { inner, name }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Waits for the next client; `None` once the listener is closed.
    pub fn accept(&self) -> Option<Channel> {
        batching::settle_all();
        self.inner.accept().map(Channel::new)
    }
}

impl Ready for Listener {
    fn subscribe(&self) -> Option<poll::Pollable> {
        Some(self.inner.subscribe())
    }
}

/// `read` waits for the next chunk; 0 at the end of a client's stream or
/// once the channel is closed.
impl std::io::Read for &Channel {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        // `Read` allows an empty buffer; the host would send a byte anyway.
        if buffer.is_empty() {
            return Ok(0);
        }
        match self.read_bytes(buffer.len()) {
            Ok(Some(chunk)) => {
                buffer[..chunk.len()].copy_from_slice(&chunk);
                Ok(chunk.len())
            }
            Ok(None) | Err(IoError::Closed) => Ok(0),
            Err(error) => Err(std::io::Error::other(error)),
        }
    }
}

impl std::io::Write for &Channel {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.write_bytes(data).map_err(std::io::Error::other)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        // Bytes are never gathered: each write reaches the host.
        Ok(())
    }
}

/// The channels and listeners granted to this vat at launch, in the host's order.
#[derive(Debug)]
pub struct Channels {
    channels: Vec<Channel>,
    listeners: Vec<Listener>,
}

impl Channels {
    pub(crate) fn new(handles: Vec<wit::Channel>, listeners: Vec<wit::Listener>) -> Self {
        Self {
            channels: handles.into_iter().map(Channel::new).collect(),
            listeners: listeners.into_iter().map(Listener::new).collect(),
        }
    }

    /// Takes the listener named `name` out of the set.
    pub fn take_listener(&mut self, name: &str) -> Result<Listener, Error> {
        let index = self
            .listeners
            .iter()
            .position(|listener| listener.name() == name)
            .ok_or_else(|| Error::from(format!("no listener `{name}` was granted to this vat")))?;
        Ok(self.listeners.remove(index))
    }

    /// Takes the channel named `name` out of the set.
    pub fn take(&mut self, name: &str) -> Result<Channel, Error> {
        let index = self
            .channels
            .iter()
            .position(|channel| channel.name() == name)
            .ok_or_else(|| {
                Error::from(format!(
                    "no channel `{name}` was granted to this vat (granted: {})",
                    self.names().join(", ")
                ))
            })?;
        Ok(self.channels.remove(index))
    }

    /// The first granted channel, for vats that serve exactly one.
    pub fn into_first(self) -> Result<Channel, Error> {
        self.channels
            .into_iter()
            .next()
            .ok_or_else(|| Error::from("no channel was granted to this vat"))
    }

    pub fn names(&self) -> Vec<&str> {
        self.channels.iter().map(Channel::name).collect()
    }

    pub fn len(&self) -> usize {
        self.channels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }
}

impl IntoIterator for Channels {
    type Item = Channel;
    type IntoIter = std::vec::IntoIter<Channel>;

    fn into_iter(self) -> Self::IntoIter {
        self.channels.into_iter()
    }
}
