//! `messaging` as vats see it. Every ref, answer, resolver and inbox a vat
//! holds is an entry in its own resource table; a capability passed in a
//! message is read from the sender's table and minted anew in the
//! receiver's when it takes the message, so an index never means anything
//! outside the table it came from.

use std::sync::Arc;

use wasmtime::component::{HasData, Resource, ResourceTable};
use wasmtime_wasi::p2::{DynPollable, Pollable};

use super::{Answer, Capability, Mailbox, Message, ObjectRef, Payload, Resolver};
use crate::bindings::messaging as wit;
use crate::io::ListenerHandle;

/// A vat's handle to an answer.
pub struct AnswerHandle(Arc<Answer>);

#[wasmtime_wasi::async_trait]
impl Pollable for AnswerHandle {
    async fn ready(&mut self) {
        self.0.settled().await;
    }
}

/// A vat's handle to its own inbox.
pub struct InboxHandle(Arc<Mailbox>);

impl InboxHandle {
    pub fn new(mailbox: Arc<Mailbox>) -> Self {
        Self(mailbox)
    }
}

/// A vat that drops its inbox (an IO-only vat) takes no messages: its
/// senders learn it at once instead of when the inbox is full.
impl Drop for InboxHandle {
    fn drop(&mut self) {
        self.0.refuse();
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for InboxHandle {
    async fn ready(&mut self) {
        self.0.ready().await;
    }
}

/// What a store must give for `messaging` to be linked into it.
pub trait MessagingView: Send {
    /// The vat's resource table and its own mailbox.
    fn messaging(&mut self) -> MessagingCtx<'_>;
}

/// The [`HasData`] marker that links `messaging` against a view.
pub struct Messaging;

impl HasData for Messaging {
    type Data<'a> = MessagingCtx<'a>;
}

/// Borrowed view the generated bindings call into.
pub struct MessagingCtx<'a> {
    table: &'a mut ResourceTable,
    mailbox: &'a Arc<Mailbox>,
}

impl<'a> MessagingCtx<'a> {
    pub fn new(table: &'a mut ResourceTable, mailbox: &'a Arc<Mailbox>) -> Self {
        Self { table, mailbox }
    }

    /// Reads the capabilities a vat lends into host values; a bad index
    /// traps the vat.
    fn lent(&self, caps: Vec<wit::LentCapability>) -> wasmtime::Result<Vec<Capability>> {
        caps.into_iter()
            .map(|cap| {
                Ok(match cap {
                    wit::LentCapability::Object(handle) => {
                        Capability::Object(self.table.get(&handle)?.clone())
                    }
                    wit::LentCapability::Channel(handle) => {
                        Capability::Channel(self.table.get(&handle)?.share())
                    }
                    wit::LentCapability::Listener(handle) => {
                        Capability::Listener(self.table.get(&handle)?.listener().clone())
                    }
                })
            })
            .collect()
    }

    /// Mints handles for a payload's capabilities in this vat's table.
    fn mint(&mut self, payload: Payload) -> wasmtime::Result<wit::Payload> {
        let caps = payload
            .caps
            .into_iter()
            .map(|cap| {
                Ok(match cap {
                    Capability::Object(object) => wit::Capability::Object(self.table.push(object)?),
                    Capability::Channel(channel) => {
                        wit::Capability::Channel(self.table.push(channel)?)
                    }
                    Capability::Listener(listener) => {
                        wit::Capability::Listener(self.table.push(ListenerHandle::new(listener))?)
                    }
                })
            })
            .collect::<wasmtime::Result<_>>()?;
        Ok(wit::Payload {
            body: payload.body,
            caps,
        })
    }
}

/// Adds `messaging` to a linker whose store data is a [`MessagingView`].
pub fn add_to_linker<T: MessagingView + 'static>(
    linker: &mut wasmtime::component::Linker<T>,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, Messaging>(linker, |state: &mut T| state.messaging())
}

impl wit::Host for MessagingCtx<'_> {
    async fn object(&mut self, tag: u64) -> wasmtime::Result<Resource<ObjectRef>> {
        Ok(self.table.push(ObjectRef::new(self.mailbox.clone(), tag))?)
    }
}

impl wit::HostRef for MessagingCtx<'_> {
    async fn same_as(
        &mut self,
        handle: Resource<ObjectRef>,
        other: Resource<ObjectRef>,
    ) -> wasmtime::Result<bool> {
        Ok(self.table.get(&handle)?.same_as(self.table.get(&other)?))
    }

    async fn send(
        &mut self,
        handle: Resource<ObjectRef>,
        method: String,
        body: String,
        caps: Vec<wit::LentCapability>,
    ) -> wasmtime::Result<Resource<AnswerHandle>> {
        let target = self.table.get(&handle)?.clone();
        let caps = self.lent(caps)?;
        let limits = self.mailbox.limits();
        let answer = Answer::new(self.mailbox.vat().clone(), limits.message as usize);
        // The handle first: a vat at its handle cap traps before anything is sent.
        let handle = self.table.push(AnswerHandle(answer.clone()))?;
        target
            .mailbox()
            .deliver(target.tag(), method, Payload { body, caps }, answer);
        Ok(handle)
    }

    async fn drop(&mut self, handle: Resource<ObjectRef>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

impl wit::HostAnswer for MessagingCtx<'_> {
    async fn subscribe(
        &mut self,
        handle: Resource<AnswerHandle>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        wasmtime_wasi::p2::subscribe(self.table, handle)
    }

    async fn get(
        &mut self,
        handle: Resource<AnswerHandle>,
    ) -> wasmtime::Result<Option<Result<wit::Payload, String>>> {
        let answer = self.table.get(&handle)?.0.clone();
        match answer.take() {
            None => Ok(None),
            Some(Ok(value)) => Ok(Some(Ok(self.mint(value)?))),
            Some(Err(reason)) => Ok(Some(Err(reason))),
        }
    }

    async fn drop(&mut self, handle: Resource<AnswerHandle>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

impl wit::HostResolver for MessagingCtx<'_> {
    async fn fulfill(
        &mut self,
        handle: Resource<Resolver>,
        body: String,
        caps: Vec<wit::LentCapability>,
    ) -> wasmtime::Result<()> {
        let caps = self.lent(caps)?;
        self.table.delete(handle)?.fulfill(Payload { body, caps });
        Ok(())
    }

    async fn reject(&mut self, handle: Resource<Resolver>, reason: String) -> wasmtime::Result<()> {
        self.table.delete(handle)?.reject(reason);
        Ok(())
    }

    async fn drop(&mut self, handle: Resource<Resolver>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

impl wit::HostInbox for MessagingCtx<'_> {
    async fn subscribe(
        &mut self,
        handle: Resource<InboxHandle>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        wasmtime_wasi::p2::subscribe(self.table, handle)
    }

    async fn next(
        &mut self,
        handle: Resource<InboxHandle>,
    ) -> wasmtime::Result<Option<wit::Delivery>> {
        let mailbox = self.table.get(&handle)?.0.clone();
        let Some(Message {
            target,
            method,
            args,
            answer,
            ..
        }) = mailbox.take()
        else {
            return Ok(None);
        };
        // The resolver first: if the vat cannot hold it, dropping it here
        // rejects the answer and the vat traps on its handle cap.
        let result = self.table.push(Resolver::new(answer, mailbox.clone()))?;
        let args = self.mint(args)?;
        Ok(Some(wit::Delivery {
            target,
            method,
            args,
            result,
        }))
    }

    async fn drop(&mut self, handle: Resource<InboxHandle>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}
