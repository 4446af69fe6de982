//! The vat's side of a channel's input: the transport hands over blocks of
//! items (what one read of the peer framed), bounded in items by the
//! channel's `queue` (the transport's wait for room is what slows a fast
//! client), and the vat reads them a line, a batch of lines or a chunk at a
//! time, with the end of each client's stream marking its session. Blocks
//! rather than single items: each hand-off between the reader's thread and
//! the vat's wakes the other side, and the wake-ups were a quarter of the
//! echo path's time.
//!
//! A batch of lines (`read_lines`) stays at the front of the queue, marked
//! handed, until the vat's next call on the input: a vat that hands the
//! channel on before using all of a batch gives the rest back
//! (`give_back`), and the next reader gets those lines first. So batching
//! never strands lines in a vat that no longer reads the channel.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};

use futures_util::lock::MutexGuard;

use super::delivery_queue::{QueueReceiver, QueueSender};
use super::line_run::tail_bytes;
use super::peer_input::PeerInput;
use super::{Channel, ChannelError, Inbound};
use crate::io::spec::Unit;
use crate::quiescence::Quiescence;

/// What a transport hands a channel's vat side, in order.
pub(crate) enum Delivery {
    /// Items handed to the vat together, in arrival order; never empty.
    Block(Vec<Inbound>),
    /// A socket client whose input the vat's reads take from its socket
    /// themselves, after everything queued before it. Boxed: it is held
    /// as the channel's `peer` once it arrives.
    Peer(Box<PeerInput>),
}

/// Where a transport hands a channel its input.
pub(crate) type InboundSender = QueueSender<Delivery>;

pub(super) struct InboundQueue {
    pub(super) receiver: QueueReceiver<Delivery>,
    /// The client whose socket reads take input from once the queue is empty.
    pub(super) peer: Option<Box<PeerInput>>,
    /// What is left of the block being read; its front may have been
    /// looked at by a readiness check.
    pub(super) current: VecDeque<Inbound>,
    /// Room the current block took in the queue, given back once it is read.
    pub(super) current_room: usize,
    /// A session whose end of stream the vat has read; it is done with that
    /// client when it next reads or waits for input.
    pub(super) ending: Option<u64>,
    /// The first lines of the front run, handed out by `read_lines` and read
    /// for good at the next call on the input.
    pub(super) handed: Handed,
}

#[derive(Debug, Default)]
pub(super) struct Handed {
    bytes: usize,
    lines: usize,
    /// The marks of the vat they were handed to, for a batch of more than
    /// one line (a single line is begun work as soon as it is handed).
    holder: Option<Quiescence>,
}

impl Handed {
    /// Fewer lines are in the holder's hand: read for good, or given back.
    fn release(&mut self, bytes: usize, lines: usize) {
        self.bytes -= bytes;
        self.lines -= lines;
        if let Some(holder) = &self.holder {
            holder.release(lines);
        }
    }
}

impl InboundQueue {
    pub(super) fn new(receiver: QueueReceiver<Delivery>) -> Self {
        Self {
            receiver,
            peer: None,
            current: VecDeque::new(),
            current_room: 0,
            ending: None,
            handed: Handed::default(),
        }
    }

    pub(super) fn clear(&mut self) {
        self.current.clear();
        self.peer = None;
        let mut handed = std::mem::take(&mut self.handed);
        let (bytes, lines) = (handed.bytes, handed.lines);
        handed.release(bytes, lines);
        while self.receiver.try_recv().is_some() {}
    }
}

/// What a read asks for.
#[derive(Clone, Copy)]
enum Want<'a> {
    Line,
    /// Whole lines, up to this many bytes (at least one line), for the
    /// vat with these marks.
    Lines(usize, &'a Quiescence),
    /// Up to this many bytes of a byte stream.
    Bytes(usize),
}

/// What a read got.
enum Taken {
    Line(String),
    Lines(String),
    Bytes(Vec<u8>),
    /// The end of one client's stream.
    End,
    Failed(ChannelError),
}

impl Inbound {
    /// The room this item takes in the queue.
    fn weight(&self) -> usize {
        match self {
            Inbound::Lines(run) => run.len(),
            _ => 1,
        }
    }
}

impl Channel {
    /// The next line. `None` marks the end of one client's stream.
    pub async fn read(&self) -> Result<Option<String>, ChannelError> {
        self.check_read(Unit::Line)?;
        match self.take(Want::Line).await? {
            Taken::Line(line) => Ok(Some(line)),
            taken => taken.into_end_or_error(),
        }
    }

    /// The lines waiting, at least one (waiting for it), together at most
    /// `max_bytes` unless the first alone is longer: each followed by `\n`.
    /// `None` marks the end of one client's stream. A line error comes on
    /// its own, from the call after the lines before it. One line at a
    /// time when the reading vat's `marks` say so.
    pub async fn read_lines(
        &self,
        max_bytes: u32,
        marks: &Quiescence,
    ) -> Result<Option<String>, ChannelError> {
        self.check_read(Unit::Line)?;
        let max = if marks.batches() {
            usize::try_from(max_bytes).unwrap_or(usize::MAX)
        } else {
            // The first line comes alone, however long.
            0
        };
        match self.take(Want::Lines(max, marks)).await? {
            Taken::Lines(text) => Ok(Some(text)),
            taken => taken.into_end_or_error(),
        }
    }

    /// Up to `max` bytes of the stream. `None` marks the end of one client's stream.
    pub async fn read_bytes(&self, max: u32) -> Result<Option<Vec<u8>>, ChannelError> {
        self.check_read(Unit::Bytes)?;
        let max = usize::try_from(max).unwrap_or(usize::MAX).max(1);
        match self.take(Want::Bytes(max)).await? {
            Taken::Bytes(chunk) => Ok(Some(chunk)),
            taken => taken.into_end_or_error(),
        }
    }

    /// The last `lines` lines of the last `read_lines` batch were not used:
    /// they stay first in line for the channel's next read, by this vat or
    /// one it hands the channel to; the others are read for good now. Never
    /// more than that batch held.
    pub async fn give_back(&self, lines: u32) -> Result<(), ChannelError> {
        self.check_read(Unit::Line)?;
        let lines = usize::try_from(lines).unwrap_or(usize::MAX);
        let mut guard = self.lock_inbound().await?;
        let queue = &mut *guard;
        let lines = lines.min(queue.handed.lines);
        let Some(Inbound::Lines(run)) = queue.current.front() else {
            return Ok(());
        };
        let returned = tail_bytes(&run.unread()[..queue.handed.bytes], lines);
        queue.handed.release(returned, lines);
        self.unread.fetch_add(lines, Ordering::AcqRel);
        if let Some(peer) = self.peer()
            && lines > 0
        {
            peer.given_back(lines);
        }
        self.read_handed(queue);
        Ok(())
    }

    /// The channel's input, once no other call holds it; `Closed` once
    /// closed.
    async fn lock_inbound(&self) -> Result<MutexGuard<'_, InboundQueue>, ChannelError> {
        self.lock_unless_closed(|| self.inbound.try_lock(), || self.inbound.lock())
            .await
    }

    /// The vat is back for input (see [`Channel::read_lines`]), before
    /// it reads.
    pub(crate) async fn back_for_input_now(&self) {
        let mut queue = self.inbound.lock().await;
        self.back_for_input(&mut queue);
    }

    fn check_read(&self, unit: Unit) -> Result<(), ChannelError> {
        if !self.direction.readable() {
            Err(ChannelError::NotReadable)
        } else if self.unit != unit {
            Err(ChannelError::WrongUnit)
        } else {
            Ok(())
        }
    }

    /// The vat is back for input: a session whose end it has read is over,
    /// and the lines it was handed are read for good.
    fn back_for_input(&self, queue: &mut InboundQueue) {
        if let Some(session) = queue.ending.take() {
            self.sessions_done.advance_to(session);
        }
        self.read_handed(queue);
        if let Some(peer) = self.peer() {
            peer.done();
        }
    }

    fn tell_peer_taken(&self, count: usize) {
        if let Some(peer) = self.peer() {
            peer.taken(count);
        }
    }

    /// The lines handed out are read for good.
    fn read_handed(&self, queue: &mut InboundQueue) {
        let mut handed = std::mem::take(&mut queue.handed);
        let (bytes, lines) = (handed.bytes, handed.lines);
        handed.release(bytes, lines);
        if lines > 0
            && let Some(Inbound::Lines(run)) = queue.current.front_mut()
        {
            run.consume(bytes, lines);
            if run.is_empty() {
                queue.current.pop_front();
            }
        }
        self.return_room_if_read(queue);
    }

    /// Once nothing of the current block is left to hand out, its room goes
    /// back to the transport.
    fn return_room_if_read(&self, queue: &mut InboundQueue) {
        let handed = queue.handed.lines;
        let left = match queue.current.front() {
            None => true,
            Some(Inbound::Lines(run)) => queue.current.len() == 1 && run.len() == handed,
            Some(_) => false,
        };
        if left {
            self.inbound_room
                .add_permits(std::mem::take(&mut queue.current_room));
        }
    }

    /// Takes what `want` asks for, waiting for input. A byte chunk longer
    /// than asked is split and its rest stays first in line; `Finished`
    /// stays queued for every later caller.
    async fn take(&self, want: Want<'_>) -> Result<Taken, ChannelError> {
        let mut guard = self.lock_inbound().await?;
        let queue = &mut *guard;
        self.back_for_input(queue);
        if !self.next_block(queue).await {
            return Err(ChannelError::Closed);
        }
        Ok(self.take_from_block(queue, want))
    }

    /// Takes what `want` asks for from the block being read (see
    /// [`Channel::take`]).
    fn take_from_block(&self, queue: &mut InboundQueue, want: Want<'_>) -> Taken {
        let taken = match (queue.current.front_mut(), want) {
            (None | Some(Inbound::Finished), _) => return Taken::Failed(ChannelError::Closed),
            (Some(Inbound::Bytes(chunk)), Want::Bytes(max)) if chunk.len() > max => {
                let rest = chunk.split_off(max);
                return Taken::Bytes(std::mem::replace(chunk, rest));
            }
            (Some(Inbound::Lines(run)), Want::Line) => {
                let line = run.pop_line().unwrap_or_default();
                if run.is_empty() {
                    queue.current.pop_front();
                }
                self.unread.fetch_sub(1, Ordering::AcqRel);
                self.tell_peer_taken(1);
                Taken::Line(line)
            }
            (Some(Inbound::Lines(run)), Want::Lines(max, holder)) => {
                let (bytes, lines) = run.front(max);
                let text = run.unread()[..bytes].to_owned();
                let holder = (lines > 1).then(|| {
                    holder.hold(lines);
                    holder.clone()
                });
                queue.handed = Handed {
                    bytes,
                    lines,
                    holder,
                };
                self.unread.fetch_sub(lines, Ordering::AcqRel);
                self.tell_peer_taken(lines);
                Taken::Lines(text)
            }
            (Some(_), _) => {
                let Some(item) = queue.current.pop_front() else {
                    return Taken::Failed(ChannelError::Closed);
                };
                self.unread.fetch_sub(1, Ordering::AcqRel);
                self.taken_item(queue, item)
            }
        };
        self.return_room_if_read(queue);
        taken
    }

    /// What a whole item taken from the queue gives the reader.
    fn taken_item(&self, queue: &mut InboundQueue, item: Inbound) -> Taken {
        if matches!(
            item,
            Inbound::Bytes(_) | Inbound::InvalidData(_) | Inbound::TooLong
        ) {
            self.tell_peer_taken(1);
        }
        match item {
            Inbound::Bytes(chunk) => Taken::Bytes(chunk),
            Inbound::EndOfStream { session } => {
                queue.ending = session;
                Taken::End
            }
            Inbound::InvalidData(why) => Taken::Failed(ChannelError::InvalidData(why)),
            Inbound::TooLong => Taken::Failed(ChannelError::TooLong(self.max_line)),
            // Lines asked for as bytes cannot happen (units are checked).
            Inbound::Lines(_) | Inbound::Finished => Taken::Failed(ChannelError::Closed),
        }
    }

    /// Makes sure a block is being read, waiting for the next one if the
    /// last is used up: from the queue, or read from the client's socket.
    /// False once no more will come, or once the channel is closed.
    async fn next_block(&self, queue: &mut InboundQueue) -> bool {
        if !queue.current.is_empty() {
            return true;
        }
        if queue.receiver.is_empty() && self.output_waiting() {
            // About to wait: the client should see our replies first. Boxed:
            // a round trip's write has usually sent them, and inline this
            // wait would make every read's future (which wasmtime boxes
            // and copies) the larger.
            if Box::pin(self.until_closed(self.flush())).await.is_err() {
                return false;
            }
        }
        std::future::poll_fn(|context| self.poll_next_block(queue, context)).await
    }

    /// One look for the next block. The wait is one waker in the queue
    /// (woken by a delivery, the transport's end and the channel's close)
    /// and, with a client attached, its socket's readiness: no close token
    /// or `Notify` to register with on every round trip.
    fn poll_next_block(&self, queue: &mut InboundQueue, context: &mut Context<'_>) -> Poll<bool> {
        loop {
            if self.closed.is_closed() {
                return Poll::Ready(false);
            }
            let InboundQueue {
                receiver,
                peer,
                current,
                current_room,
                ..
            } = &mut *queue;
            match receiver.poll_recv(context) {
                Poll::Ready(Some(Delivery::Block(items))) => {
                    *current_room = items.iter().map(Inbound::weight).sum();
                    *current = items.into();
                    return Poll::Ready(true);
                }
                // A new client: the last one's input, if unread, is moot.
                Poll::Ready(Some(Delivery::Peer(input))) => {
                    *peer = Some(input);
                    continue;
                }
                Poll::Ready(None) => return Poll::Ready(false),
                Poll::Pending => {}
            }
            // The waker is in the queue now: a close from here on wakes it.
            if self.closed.is_closed() {
                return Poll::Ready(false);
            }
            let Some(input) = peer else {
                return Poll::Pending;
            };
            let ended = ready!(input.poll_read(context, self));
            // `current` is empty here (see `next_block`).
            let framed = input.take_framed(current);
            if ended {
                *peer = None;
            }
            if framed {
                let (front, back) = current.as_slices();
                self.count_in(front);
                self.count_in(back);
                // Read by the vat itself: it took no room in the queue.
                *current_room = 0;
                return Poll::Ready(true);
            }
        }
    }

    /// Counts items handed to the vat as its unread input.
    fn count_in(&self, items: &[Inbound]) {
        for item in items {
            match item {
                Inbound::Lines(run) => {
                    self.stats
                        .lines_in
                        .fetch_add(run.len() as u64, Ordering::Relaxed);
                    self.unread.fetch_add(run.len(), Ordering::AcqRel);
                }
                // Never consumed, so never counted as waiting input.
                Inbound::Finished => {}
                _ => {
                    self.unread.fetch_add(1, Ordering::AcqRel);
                }
            }
        }
    }

    /// Resolves when a read would return without waiting. Waiting for input
    /// means the lines last handed out were used.
    pub async fn readable(&self) {
        if !self.direction.readable() {
            return;
        }
        if let Ok(mut queue) = self.lock_inbound().await {
            self.back_for_input(&mut queue);
            self.next_block(&mut queue).await;
        }
    }

    /// Makes `input` the client the vat's reads take input from, after
    /// what is queued now. False once closed.
    pub(crate) fn attach_input(&self, sender: &InboundSender, input: PeerInput) -> bool {
        !self.closed.is_closed() && sender.send(Delivery::Peer(Box::new(input))).is_ok()
    }

    /// Queues the mark that no more input will come.
    pub(crate) async fn finish(&self, sender: &InboundSender) {
        self.deliver(sender, vec![Inbound::Finished]).await;
    }

    /// Queues items for the vat, in blocks of at most the queue's room
    /// (a run of lines longer than that is split), each waiting until the
    /// vat has read enough (that wait is what stops the transport reading).
    /// False once closed.
    pub(crate) async fn deliver(&self, sender: &InboundSender, items: Vec<Inbound>) -> bool {
        let weight = items.iter().map(Inbound::weight).sum();
        if weight <= self.queue_room {
            return self.deliver_block(sender, items, weight).await;
        }
        let mut items = VecDeque::from(items);
        while !items.is_empty() {
            let (block, weight) = self.next_block_of(&mut items);
            if !self.deliver_block(sender, block, weight).await {
                return false;
            }
        }
        true
    }

    /// Queues one block that fits the queue's room, once there is room for
    /// it. False once closed.
    async fn deliver_block(
        &self,
        sender: &InboundSender,
        block: Vec<Inbound>,
        weight: usize,
    ) -> bool {
        if self.closed.is_closed() {
            return false;
        }
        let count = u32::try_from(weight).unwrap_or(u32::MAX);
        // Room is usually there: waiting (and registering with the close
        // signal) only when it is not.
        let room = match self.inbound_room.try_acquire_many(count) {
            Ok(room) => Ok(room),
            Err(tokio::sync::TryAcquireError::Closed) => return false,
            Err(tokio::sync::TryAcquireError::NoPermits) => tokio::select! {
                () = self.closed.token().cancelled() => return false,
                room = self.inbound_room.acquire_many(count) => room,
            },
        };
        match room {
            // Given back when the vat has read the block.
            Ok(room) => room.forget(),
            Err(_) => return false,
        }
        self.count_in(&block);
        sender.send(Delivery::Block(block)).is_ok()
    }

    /// The first items of `items` that fit in the queue's room, and the
    /// room they take (at least 1).
    fn next_block_of(&self, items: &mut VecDeque<Inbound>) -> (Vec<Inbound>, usize) {
        let mut block = Vec::new();
        let mut weight = 0;
        while let Some(item) = items.pop_front() {
            let room = self.queue_room - weight;
            match item {
                Inbound::Lines(mut run) if run.len() > room => {
                    if room > 0 {
                        let head = run.split_to(room);
                        weight += head.len();
                        block.push(Inbound::Lines(head));
                    }
                    items.push_front(Inbound::Lines(run));
                    break;
                }
                item if item.weight() > room => {
                    items.push_front(item);
                    break;
                }
                item => {
                    weight += item.weight();
                    block.push(item);
                }
            }
        }
        (block, weight)
    }
}

impl Taken {
    /// A read's result when it did not get what it asked for.
    fn into_end_or_error<T>(self) -> Result<Option<T>, ChannelError> {
        match self {
            Taken::End => Ok(None),
            Taken::Failed(error) => Err(error),
            Taken::Line(_) | Taken::Lines(_) | Taken::Bytes(_) => Err(ChannelError::Closed),
        }
    }
}
