//! A vat's inbox as the host holds it: a bounded queue of messages, and the
//! record of how the vat ended once it has.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::Notify;

use super::{Answer, Payload};

/// What a vat's mailbox may hold (`limits.inbox`, `limits.message`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxLimits {
    /// Messages waiting at once.
    pub inbox: u32,
    /// Bytes of one message's method and body.
    pub message: u32,
}

/// One message waiting in an inbox.
pub struct Message {
    /// The receiving vat's tag for the target object.
    pub target: u64,
    pub method: String,
    pub args: Payload,
    pub answer: Arc<Answer>,
    queued: Instant,
}

struct Queue {
    messages: VecDeque<Message>,
    /// How the vat ended, once it has: later sends reject with it.
    ended: Option<Arc<str>>,
    /// The vat dropped its inbox: it takes no more messages.
    refusing: bool,
    /// The vat's instance is being replaced (a restart, an upgrade): why
    /// the answers the old instance owed reject. Messages keep waiting for
    /// the new instance.
    replacing: Option<Arc<str>>,
}

/// The messages sent to one vat's objects.
pub struct Mailbox {
    vat: Arc<str>,
    limits: MailboxLimits,
    queue: Mutex<Queue>,
    arrived: Notify,
}

/// An inbox as `vathost status` shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InboxStatus {
    /// Messages waiting.
    pub depth: u32,
    /// How long the oldest waiting message has waited, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_ms: Option<u64>,
}

impl Mailbox {
    pub fn new(vat: &str, limits: MailboxLimits) -> Arc<Self> {
        Arc::new(Self {
            vat: Arc::from(vat),
            limits,
            queue: Mutex::new(Queue {
                messages: VecDeque::new(),
                ended: None,
                refusing: false,
                replacing: None,
            }),
            arrived: Notify::new(),
        })
    }

    pub fn vat(&self) -> &Arc<str> {
        &self.vat
    }

    pub fn limits(&self) -> MailboxLimits {
        self.limits
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        // Every update is a push, a pop or one assignment: a panic cannot
        // leave the queue half updated.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a message for the object `target` of this vat, or rejects its
    /// answer at once if it cannot be delivered. Never waits.
    pub fn deliver(&self, target: u64, method: String, args: Payload, answer: Arc<Answer>) {
        let size = method.len() + args.size();
        if size > self.limits.message as usize {
            answer.reject(format!(
                "the message is {size} bytes, more than `{}`'s limits.message ({})",
                self.vat, self.limits.message
            ));
            return;
        }
        let refused = {
            let mut queue = self.queue();
            if let Some(reason) = &queue.ended {
                Some((reason.to_string(), args))
            } else if queue.refusing {
                Some((self.refusal(), args))
            } else if queue.messages.len() >= self.limits.inbox as usize {
                Some((
                    format!(
                        "inbox full: `{}` holds {} messages (limits.inbox)",
                        self.vat, self.limits.inbox
                    ),
                    args,
                ))
            } else {
                queue.messages.push_back(Message {
                    target,
                    method,
                    args,
                    answer,
                    queued: Instant::now(),
                });
                self.arrived.notify_waiters();
                return;
            }
        };
        // Outside the lock: dropping the capabilities lets channels go.
        if let Some((reason, args)) = refused {
            drop(args);
            answer.reject(reason);
        }
    }

    /// The oldest waiting message, if any.
    pub fn take(&self) -> Option<Message> {
        self.queue().messages.pop_front()
    }

    /// Returns once a message waits or the vat has ended.
    pub async fn ready(&self) {
        crate::wait::until(&self.arrived, || {
            let queue = self.queue();
            (!queue.messages.is_empty() || queue.ended.is_some()).then_some(())
        })
        .await;
    }

    /// Records how the vat ended (the first reason wins) and rejects every
    /// message still waiting with it; later sends reject at once.
    pub fn end(&self, reason: &str) {
        let (reason, waiting) = {
            let mut queue = self.queue();
            let reason = queue
                .ended
                .get_or_insert_with(|| Arc::from(format!("`{}` {reason}", self.vat)))
                .clone();
            (reason, std::mem::take(&mut queue.messages))
        };
        self.arrived.notify_waiters();
        for message in waiting {
            message.answer.reject(reason.to_string());
        }
    }

    /// The vat's instance is about to be dropped for a new one: answers it
    /// owes reject with `reason`; its inbox handle going is not a refusal.
    pub fn replacing(&self, reason: &str) {
        self.queue().replacing = Some(Arc::from(format!("`{}` {reason}", self.vat)));
    }

    /// The new instance runs.
    pub fn replaced(&self) {
        let mut queue = self.queue();
        queue.replacing = None;
        queue.refusing = false;
    }

    /// Why an answer whose resolver is dropped unused rejects, if not as
    /// dropped: the vat ended, or its instance is being replaced.
    pub fn gone(&self) -> Option<Arc<str>> {
        let queue = self.queue();
        queue.ended.clone().or_else(|| queue.replacing.clone())
    }

    /// The vat dropped its inbox: messages waiting and later sends reject.
    /// An instance being replaced, or a vat that ended, refuses nothing.
    pub fn refuse(&self) {
        let waiting = {
            let mut queue = self.queue();
            if queue.ended.is_some() || queue.replacing.is_some() {
                return;
            }
            queue.refusing = true;
            std::mem::take(&mut queue.messages)
        };
        for message in waiting {
            message.answer.reject(self.refusal());
        }
    }

    fn refusal(&self) -> String {
        format!("`{}` dropped its inbox: it takes no messages", self.vat)
    }

    /// How the vat ended, if it has.
    pub fn ended(&self) -> Option<Arc<str>> {
        self.queue().ended.clone()
    }

    pub fn status(&self) -> InboxStatus {
        let queue = self.queue();
        InboxStatus {
            depth: u32::try_from(queue.messages.len()).unwrap_or(u32::MAX),
            oldest_ms: queue.messages.front().map(|message| {
                u64::try_from(message.queued.elapsed().as_millis()).unwrap_or(u64::MAX)
            }),
        }
    }
}
