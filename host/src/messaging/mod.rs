//! Messages between the vats of one subcluster: object references, eventual
//! sends, answers (promises) and capabilities passed along.
//!
//! There is no router task. A send appends the message to the target vat's
//! [`Mailbox`] before the sending call returns, under that mailbox's lock; a
//! vat runs one call at a time, so a vat's messages reach each mailbox in the
//! order it sent them, and anything that could only happen after a send (a
//! later send by a vat that learnt of it, the answer the sender then gives)
//! happens after the message is queued. That is E-order without a queue of
//! queues, and a round trip costs two wake-ups, not four.
//!
//! Authority lives in each vat's resource table: a [`ObjectRef`] is minted
//! into a vat's table only by the kernel (roots at launch, `object` for the
//! vat's own objects, and the capabilities of a message or answer it takes).
//! See docs/messaging.md for the model and its mapping to ocap-kernel.

mod answer;
mod handle;
mod mailbox;
mod payload;
#[cfg(test)]
mod tests;

pub use answer::{Answer, Resolver};
pub use handle::{AnswerHandle, InboxHandle, MessagingCtx, MessagingView, add_to_linker};
pub use mailbox::{InboxStatus, Mailbox, MailboxLimits, Message};
pub use payload::{CAPABILITY_SIZE, Capability, ObjectRef, Payload};
