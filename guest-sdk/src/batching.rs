//! Lines move between a vat and the host in batches, so a vat pays one host
//! call per batch rather than per line, without asking for it.
//!
//! Input: a read takes every line waiting (`read-lines`) and hands them out
//! one at a time. Lines a vat has not read go back to the host
//! (`give-back`) before it lends the channel in a message, drops its
//! handle, panics or waits for anything, so the next reader gets them:
//! batching never strands a line. (The host hands a vat that may be
//! restarted one line at a time, and replaces a vat only while it holds
//! none, so neither a trap nor an upgrade loses one either.)
//!
//! Output: a line written while lines that arrived with the one being
//! handled are still unread is gathered; the gathered lines go to the host
//! in one call when the vat has read its batch (the next read asks the
//! host, and carries them: `write-then-read-lines`), is about to wait (a
//! read that waits, `wait_any`, an answer, the inbox, a listener), sends a
//! message, lends or drops the channel, panics, or returns; or when they
//! pass [`GATHER_LIMIT`] bytes. A write when no input is in hand goes to
//! the host at once, as it always did: the vat may compute for a long
//! time before it reads again. [`Channel::serve`](crate::Channel::serve)
//! knows it reads next, so its replies always wait for that read. A host
//! error for gathered lines (the client left) is returned by the vat's
//! next write on that channel.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use crate::bindings::vathost::vat::io_channel as wit;
use crate::{newline, IoError};

/// The most input one read asks the host for.
const BATCH_BYTES: u32 = 64 * 1024;

/// Gathered output past which it goes to the host without waiting for the
/// batch to end: a batch's worth, so an echo of a full batch is one write.
const GATHER_LIMIT: usize = 64 * 1024;

thread_local! {
    /// Channels with gathered output or lines in hand, settled before the
    /// vat waits.
    static PENDING: RefCell<Vec<Weak<Batched>>> = const { RefCell::new(Vec::new()) };
}

/// A channel handle with its batches in both directions.
#[derive(Debug)]
pub(crate) struct Batched {
    pub(crate) inner: wit::Channel,
    /// Lines taken from the host, each followed by `\n`, read from `read`.
    input: RefCell<Input>,
    /// Lines written and not yet handed to the host, each followed by `\n`.
    output: RefCell<String>,
    /// A host error for gathered output, for the next write to return.
    deferred: RefCell<Option<IoError>>,
    /// In [`PENDING`].
    listed: Cell<bool>,
}

#[derive(Debug, Default)]
struct Input {
    text: String,
    read: usize,
    /// More than one line: the host counts them as held by this vat until
    /// told they are read.
    batch: bool,
}

impl Input {
    fn is_empty(&self) -> bool {
        self.read == self.text.len()
    }
}

impl Batched {
    pub(crate) fn new(inner: wit::Channel) -> Rc<Self> {
        Rc::new(Self {
            inner,
            input: RefCell::default(),
            output: RefCell::default(),
            deferred: RefCell::new(None),
            listed: Cell::new(false),
        })
    }

    /// Whether lines taken from the host wait to be read.
    pub(crate) fn has_input(&self) -> bool {
        !self.input.borrow().is_empty()
    }

    /// The next line, from the batch in hand or from the host's next batch.
    pub(crate) fn read_line(self: &Rc<Self>) -> Result<Option<String>, IoError> {
        if let Some(line) = self.next_buffered() {
            return Ok(Some(line));
        }
        // About to ask the host, and perhaps to wait: what the batch
        // produced goes out first, this channel's in the same call.
        settle_all_but(self);
        let text = match self.write_then_read() {
            Ok(Some(text)) => text,
            Ok(None) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        let batch = newline::find(text.as_bytes()).is_some_and(|first| {
            text.as_bytes()
                .get(first + 1..)
                .and_then(newline::find)
                .is_some()
        });
        *self.input.borrow_mut() = Input {
            text,
            read: 0,
            batch,
        };
        let line = self.next_buffered();
        if self.has_input() {
            self.list();
        }
        Ok(line)
    }

    /// The host's next batch, with the output gathered for this channel
    /// handed over in the same call: a server's replies and its wait for
    /// the next requests cost one host call, not two.
    fn write_then_read(&self) -> Result<Option<String>, wit::IoError> {
        // Not reentrant (no host call runs the vat's code), so the borrow
        // only fails under the panic hook, which does not read.
        let Ok(mut output) = self.output.try_borrow_mut() else {
            return self.inner.read_lines(BATCH_BYTES);
        };
        if output.is_empty() {
            drop(output);
            return self.inner.read_lines(BATCH_BYTES);
        }
        let (written, read) = self.inner.write_then_read_lines(&output, BATCH_BYTES);
        output.clear();
        drop(output);
        if let Err(error) = written {
            self.defer(error.into());
        }
        read
    }

    /// Gathers a reply of [`Channel::serve`](crate::Channel::serve): it goes
    /// to the host with the next read, which comes straight after unless
    /// lines of the batch are still in hand. A host error is deferred, for
    /// `serve` to look at with the next line.
    pub(crate) fn gather_reply(self: &Rc<Self>, reply: &str) {
        let gathered = {
            let mut output = self.output.borrow_mut();
            output.push_str(reply);
            output.push('\n');
            output.len()
        };
        if gathered >= GATHER_LIMIT {
            self.flush_deferring_errors();
        } else if self.has_input() {
            // Other lines' handling may wait or send a message first.
            self.list();
        }
    }

    /// The host error for gathered output, if any, taken.
    pub(crate) fn take_deferred(&self) -> Option<IoError> {
        self.deferred.try_borrow_mut().ok()?.take()
    }

    fn defer(&self, error: IoError) {
        if let Ok(mut deferred) = self.deferred.try_borrow_mut() {
            *deferred = Some(error);
        }
    }

    /// Puts this channel in [`PENDING`], once.
    fn list(self: &Rc<Self>) {
        if !self.listed.replace(true) {
            PENDING.with(|pending| {
                if let Ok(mut pending) = pending.try_borrow_mut() {
                    pending.push(Rc::downgrade(self));
                }
            });
        }
    }

    fn next_buffered(&self) -> Option<String> {
        let mut input = self.input.borrow_mut();
        // `get`, not indexing: both cuts are next to a `\n`, so never fail,
        // and an index that could panic links in core's slice-error report
        // (its `char` formatting and Unicode tables: 2.9 KiB of the echo
        // vat's 10.1 KiB of data, copied into every instance; one resident
        // page less per idle vat).
        let rest = input.text.get(input.read..)?;
        let end = newline::find(rest.as_bytes())?;
        let line = if input.read == 0 && end + 1 == input.text.len() {
            // The batch is this one line (a request, a round trip): the
            // text is handed over as it came, without a copy; the `\n`
            // is its last byte.
            let mut line = std::mem::take(&mut input.text);
            line.pop();
            line
        } else {
            let line = rest.get(..end)?.to_owned();
            input.read += end + 1;
            line
        };
        if input.is_empty() && std::mem::take(&mut input.batch) {
            drop(input);
            // The batch's last line is the vat's now: the host stops
            // counting the batch as held, so the vat may be upgraded while
            // it sends the replies (which can wait on a slow client).
            let _ = self.inner.give_back(0);
        }
        Some(line)
    }

    /// Writes a line: gathered while input is in hand, else sent now.
    pub(crate) fn write_line(self: &Rc<Self>, line: &str) -> Result<(), IoError> {
        if let Some(error) = self.deferred.borrow_mut().take() {
            return Err(error);
        }
        if !self.has_input() && self.output.borrow().is_empty() {
            return self.inner.write(line).map_err(IoError::from);
        }
        if newline::find(line.as_bytes()).is_some() {
            return Err(IoError::InvalidData(
                "a written line cannot contain a newline: one write is one line".to_owned(),
            ));
        }
        self.list();
        let gathered = {
            let mut output = self.output.borrow_mut();
            output.push_str(line);
            output.push('\n');
            output.len()
        };
        if self.has_input() && gathered < GATHER_LIMIT {
            return Ok(());
        }
        self.flush()
    }

    /// Hands gathered output to the host.
    pub(crate) fn flush(&self) -> Result<(), IoError> {
        // `try_`: this runs from the panic hook too, whatever was borrowed.
        let Ok(mut output) = self.output.try_borrow_mut() else {
            return Ok(());
        };
        if output.is_empty() {
            return Ok(());
        }
        let written = self.inner.write_lines(&output).map_err(IoError::from);
        // Cleared, not replaced: the next batch's replies reuse the room
        // instead of growing a new string through a dozen copies.
        output.clear();
        written
    }

    /// Before another vat may read or write this channel: gathered output
    /// goes out and unread input goes back to the host.
    pub(crate) fn settle(&self) {
        self.flush_deferring_errors();
        let unread = match self.input.try_borrow_mut() {
            Ok(mut input) => std::mem::take(&mut *input),
            Err(_) => return,
        };
        let lines = unread
            .text
            .as_bytes()
            .get(unread.read..)
            .map_or(0, |rest| rest.iter().filter(|&&byte| byte == b'\n').count());
        if lines > 0 {
            // Only fails if the channel is closed, and then no one reads it.
            let _ = self
                .inner
                .give_back(u32::try_from(lines).unwrap_or(u32::MAX));
        }
    }

    fn flush_deferring_errors(&self) {
        if let Err(error) = self.flush() {
            self.defer(error);
        }
    }
}

impl Drop for Batched {
    fn drop(&mut self) {
        self.settle();
    }
}

/// Hands every channel's gathered output to the host: the vat sends a
/// message, which its receiver may act on at once.
pub(crate) fn flush_all() {
    for channel in pending() {
        channel.flush_deferring_errors();
        // Still holding lines: settled when the vat waits.
        if channel.has_input() {
            channel.list();
        }
    }
}

/// Hands every channel's gathered output to the host and gives back the
/// lines not read: the vat is about to wait, or to end.
pub(crate) fn settle_all() {
    for channel in pending() {
        channel.settle();
    }
}

/// [`settle_all`] but for `reader`, about to read: its output goes with
/// the read, and it holds no input (it read all of its batch).
fn settle_all_but(reader: &Rc<Batched>) {
    for channel in pending() {
        if !Rc::ptr_eq(&channel, reader) {
            channel.settle();
        }
    }
}

/// Takes the channels in [`PENDING`] that are still alive.
fn pending() -> Vec<Rc<Batched>> {
    let listed = PENDING.with(|pending| {
        pending
            .try_borrow_mut()
            .map(|mut pending| std::mem::take(&mut *pending))
            .unwrap_or_default()
    });
    listed
        .iter()
        .filter_map(Weak::upgrade)
        .inspect(|channel| channel.listed.set(false))
        .collect()
}
