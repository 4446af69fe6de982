//! What a message carries: a body and the capabilities it refers to by index.

use std::sync::Arc;

use super::Mailbox;
use crate::io::{ChannelHandle, Listener};

/// An object: one vat's mailbox and the tag that vat gave the object.
/// Identity is the pair; the host keeps no other state per object.
#[derive(Clone)]
pub struct ObjectRef {
    mailbox: Arc<Mailbox>,
    tag: u64,
}

impl ObjectRef {
    pub fn new(mailbox: Arc<Mailbox>, tag: u64) -> Self {
        Self { mailbox, tag }
    }

    pub fn mailbox(&self) -> &Arc<Mailbox> {
        &self.mailbox
    }

    pub fn tag(&self) -> u64 {
        self.tag
    }

    pub fn same_as(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.mailbox, &other.mailbox) && self.tag == other.tag
    }
}

/// A capability in flight. A channel in flight counts as held, so a client
/// session does not end while its channel passes from one vat to another.
pub enum Capability {
    Object(ObjectRef),
    Channel(ChannelHandle),
    Listener(Arc<Listener>),
}

/// A message's arguments or an answer's value.
pub struct Payload {
    pub body: String,
    pub caps: Vec<Capability>,
}

/// What one capability counts against `limits.message`: a message cannot
/// carry more of them than its bytes would allow, even if it names one
/// handle a million times.
pub const CAPABILITY_SIZE: usize = 64;

impl Payload {
    /// What a payload counts against `limits.message`: its body, and
    /// [`CAPABILITY_SIZE`] for each capability.
    pub fn size(&self) -> usize {
        self.body
            .len()
            .saturating_add(self.caps.len().saturating_mul(CAPABILITY_SIZE))
    }
}
