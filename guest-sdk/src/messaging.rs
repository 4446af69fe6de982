//! Messages between vats: refs to objects, sends that never wait, answers,
//! and serving an object's methods.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::bindings::vathost::vat::messaging as wit;
use crate::bindings::wasi::io::poll;
use crate::{Channel, Error, Listener, Ready};

/// A reference to an object in some vat of this subcluster: this vat's
/// own (see [`object`]), a root given to the bootstrap vat, or one that
/// arrived in a message or an answer.
#[derive(Debug)]
pub struct Ref {
    inner: wit::Ref,
}

impl Ref {
    pub(crate) fn from_wit(inner: wit::Ref) -> Self {
        Self { inner }
    }

    /// Sends `method` with `args` (serialised as JSON). Never waits.
    pub fn send<A: Serialize + ?Sized>(&self, method: &str, args: &A) -> Answer {
        self.send_with(method, args, &[])
    }

    /// Sends `method` with `args` and capabilities, which the receiver
    /// takes by index ([`Value::take_ref`], [`Value::take_channel`], ...).
    /// This vat keeps its own handles; drop them to hand the capabilities off.
    pub fn send_with<A: Serialize + ?Sized>(
        &self,
        method: &str,
        args: &A,
        caps: &[Cap<'_>],
    ) -> Answer {
        match serde_json::to_string(args) {
            Ok(body) => self.send_raw(method, &body, caps),
            // An argument serde cannot write is the sender's bug; it learns
            // of it the way it learns of any failed send.
            Err(error) => Answer(AnswerState::Failed(format!(
                "cannot encode the arguments: {error}"
            ))),
        }
    }

    /// Sends a body as is (JSON by convention).
    pub fn send_raw(&self, method: &str, body: &str, caps: &[Cap<'_>]) -> Answer {
        // The receiver may act at once: what this vat wrote goes first.
        crate::batching::flush_all();
        let caps: Vec<wit::LentCapability<'_>> = caps.iter().map(Cap::lend).collect();
        Answer(AnswerState::Sent(self.inner.send(method, body, &caps)))
    }

    /// Sends and waits for the answer, decoded as `R`.
    pub fn call<R: DeserializeOwned>(
        &self,
        method: &str,
        args: &(impl Serialize + ?Sized),
    ) -> Result<R, Error> {
        self.send(method, args).get()
    }

    /// Whether `other` designates the same object.
    pub fn same_as(&self, other: &Ref) -> bool {
        self.inner.same_as(&other.inner)
    }

    /// The handle's index in this vat's resource table: only useful to
    /// show that an index is not a capability.
    #[doc(hidden)]
    pub fn raw_handle(&self) -> u32 {
        self.inner.handle()
    }
}

/// A ref to this vat's own object `tag`, to hand out; calls to it arrive
/// with [`Call::target`] `tag`. Tag 0 is the root. The same tag always
/// designates the same object.
pub fn object(tag: u64) -> Ref {
    Ref::from_wit(wit::object(tag))
}

/// A capability lent to a send or a reply.
#[derive(Debug, Clone, Copy)]
pub enum Cap<'a> {
    Object(&'a Ref),
    Channel(&'a Channel),
    Listener(&'a Listener),
}

impl<'a> Cap<'a> {
    fn lend(&self) -> wit::LentCapability<'a> {
        match *self {
            Self::Object(object) => wit::LentCapability::Object(&object.inner),
            Self::Channel(channel) => wit::LentCapability::Channel(channel.lend()),
            Self::Listener(listener) => wit::LentCapability::Listener(listener.wit()),
        }
    }
}

impl<'a> From<&'a Ref> for Cap<'a> {
    fn from(object: &'a Ref) -> Self {
        Self::Object(object)
    }
}

impl<'a> From<&'a Channel> for Cap<'a> {
    fn from(channel: &'a Channel) -> Self {
        Self::Channel(channel)
    }
}

impl<'a> From<&'a Listener> for Cap<'a> {
    fn from(listener: &'a Listener) -> Self {
        Self::Listener(listener)
    }
}

/// A capability received in a message or an answer.
#[derive(Debug)]
pub enum Capability {
    Object(Ref),
    Channel(Channel),
    Listener(Listener),
}

/// A message's arguments or an answer's value: a JSON body and the
/// capabilities it refers to by index.
#[derive(Debug)]
pub struct Value {
    body: String,
    caps: Vec<Option<Capability>>,
}

impl Value {
    fn new(payload: wit::Payload) -> Self {
        Self {
            body: payload.body,
            caps: payload
                .caps
                .into_iter()
                .map(|cap| {
                    Some(match cap {
                        wit::Capability::Object(object) => {
                            Capability::Object(Ref::from_wit(object))
                        }
                        wit::Capability::Channel(channel) => {
                            Capability::Channel(Channel::new(channel))
                        }
                        wit::Capability::Listener(listener) => {
                            Capability::Listener(Listener::new(listener))
                        }
                    })
                })
                .collect(),
        }
    }

    pub fn body(&self) -> &str {
        &self.body
    }

    /// The body decoded as `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_str(&self.body)
            .map_err(|error| Error::from(format!("cannot decode `{}`: {error}", self.body)))
    }

    /// How many capabilities came with the body.
    pub fn caps(&self) -> usize {
        self.caps.len()
    }

    /// Takes capability `index` out.
    pub fn take(&mut self, index: usize) -> Result<Capability, Error> {
        self.caps
            .get_mut(index)
            .and_then(Option::take)
            .ok_or_else(|| Error::from(format!("no capability {index} (or it was taken)")))
    }

    /// Takes capability `index`, which must be a ref.
    pub fn take_ref(&mut self, index: usize) -> Result<Ref, Error> {
        match self.take(index)? {
            Capability::Object(object) => Ok(object),
            other => Err(Error::from(format!(
                "capability {index} is not a ref: {other:?}"
            ))),
        }
    }

    /// Takes capability `index`, which must be a channel.
    pub fn take_channel(&mut self, index: usize) -> Result<Channel, Error> {
        match self.take(index)? {
            Capability::Channel(channel) => Ok(channel),
            other => Err(Error::from(format!(
                "capability {index} is not a channel: {other:?}"
            ))),
        }
    }

    /// Takes capability `index`, which must be a listener.
    pub fn take_listener(&mut self, index: usize) -> Result<Listener, Error> {
        match self.take(index)? {
            Capability::Listener(listener) => Ok(listener),
            other => Err(Error::from(format!(
                "capability {index} is not a listener: {other:?}"
            ))),
        }
    }
}

/// The promise for a message's result. Wait on it alone ([`Answer::wait`])
/// or with channels and the inbox ([`crate::wait_any`]).
#[derive(Debug)]
pub struct Answer(AnswerState);

#[derive(Debug)]
enum AnswerState {
    Sent(wit::Answer),
    /// The send failed before it left this vat.
    Failed(String),
}

impl Answer {
    /// The result if settled, without waiting. The first `Some` moves the
    /// value out; later calls say it was taken.
    pub fn poll(&self) -> Option<Result<Value, Rejected>> {
        match &self.0 {
            AnswerState::Sent(answer) => answer
                .get()
                .map(|result| result.map(Value::new).map_err(Rejected)),
            AnswerState::Failed(reason) => Some(Err(Rejected(reason.clone()))),
        }
    }

    /// Waits until the answer is settled and returns it.
    pub fn wait(self) -> Result<Value, Rejected> {
        if let AnswerState::Sent(answer) = &self.0 {
            crate::batching::settle_all();
            answer.subscribe().block();
        }
        self.poll()
            .unwrap_or_else(|| Err(Rejected("the host woke a pending answer".to_owned())))
    }

    /// Waits, then decodes the value as `R`.
    pub fn get<R: DeserializeOwned>(self) -> Result<R, Error> {
        self.wait()?.decode()
    }
}

impl Ready for Answer {
    fn subscribe(&self) -> Option<poll::Pollable> {
        match &self.0 {
            AnswerState::Sent(answer) => Some(answer.subscribe()),
            // Settled before it left: ready now.
            AnswerState::Failed(_) => None,
        }
    }
}

/// Why an answer was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected(pub String);

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rejected: {}", self.0)
    }
}

impl std::error::Error for Rejected {}

impl From<Rejected> for Error {
    fn from(rejected: Rejected) -> Self {
        Error::from(rejected.to_string())
    }
}

/// Messages sent to this vat's objects.
#[derive(Debug)]
pub struct Inbox {
    inner: wit::Inbox,
}

impl Inbox {
    pub(crate) fn new(inner: wit::Inbox) -> Self {
        Self { inner }
    }

    /// The oldest waiting call, without waiting.
    pub fn next(&self) -> Option<Call> {
        self.inner.next().map(Call::new)
    }

    /// Waits for the next call.
    pub fn wait(&self) -> Call {
        loop {
            if let Some(call) = self.next() {
                return call;
            }
            crate::batching::settle_all();
            self.inner.subscribe().block();
        }
    }

    /// Serves `objects` for the rest of the vat's life: every call goes to
    /// the object it was sent to.
    pub fn serve(&self, objects: &mut Objects) -> ! {
        loop {
            objects.dispatch(self.wait());
        }
    }
}

impl Ready for Inbox {
    fn subscribe(&self) -> Option<poll::Pollable> {
        Some(self.inner.subscribe())
    }
}

/// One message taken from the inbox, with the right to answer it.
#[derive(Debug)]
pub struct Call {
    /// Which of this vat's objects it was sent to: 0 for the root.
    pub target: u64,
    pub method: String,
    pub args: Value,
    resolver: Resolver,
}

impl Call {
    fn new(delivery: wit::Delivery) -> Self {
        Self {
            target: delivery.target,
            method: delivery.method,
            args: Value::new(delivery.args),
            resolver: Resolver(delivery.result),
        }
    }

    /// The arguments decoded as `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.args.decode()
    }

    /// Answers with `value`.
    pub fn reply<T: Serialize + ?Sized>(self, value: &T) {
        self.resolver.fulfill(value);
    }

    /// Answers with `value` and capabilities.
    pub fn reply_with<T: Serialize + ?Sized>(self, value: &T, caps: &[Cap<'_>]) {
        self.resolver.fulfill_with(value, caps);
    }

    /// Rejects the answer with `reason`.
    pub fn reject(self, reason: &str) {
        self.resolver.reject(reason);
    }

    /// Splits the call, to answer later: its arguments and its resolver.
    pub fn defer(self) -> (Value, Resolver) {
        (self.args, self.resolver)
    }
}

/// The right to settle one answer. Dropped unused, it rejects the answer
/// ("dropped without an answer").
#[derive(Debug)]
pub struct Resolver(wit::Resolver);

impl Resolver {
    pub fn fulfill<T: Serialize + ?Sized>(self, value: &T) {
        self.fulfill_with(value, &[]);
    }

    pub fn fulfill_with<T: Serialize + ?Sized>(self, value: &T, caps: &[Cap<'_>]) {
        match serde_json::to_string(value) {
            Ok(body) => {
                let caps: Vec<wit::LentCapability<'_>> = caps.iter().map(Cap::lend).collect();
                wit::Resolver::fulfill(self.0, &body, &caps);
            }
            Err(error) => self.reject(&format!("cannot encode the value: {error}")),
        }
    }

    pub fn reject(self, reason: &str) {
        wit::Resolver::reject(self.0, reason);
    }
}

/// Something that answers calls: an object of this vat.
pub trait Object {
    fn receive(&mut self, call: Call);
}

type Handler<S> = Box<dyn FnMut(&mut S, Call)>;

/// An object served by method name, each method a typed function: no
/// dispatch loop to write.
///
/// ```ignore
/// let counter = Methods::new(0u64)
///     .method("add", |total: &mut u64, n: u64| { *total += n; Ok::<_, String>(*total) })
///     .method("get", |total: &mut u64, (): ()| Ok::<_, String>(*total));
/// ```
pub struct Methods<S> {
    state: S,
    handlers: HashMap<String, Handler<S>>,
}

impl<S> Methods<S> {
    pub fn new(state: S) -> Self {
        Self {
            state,
            handlers: HashMap::new(),
        }
    }

    /// A method whose arguments decode as `A` and whose result is the
    /// answer: `Ok` fulfils it, `Err` rejects it.
    pub fn method<A, R, E, F>(self, name: &str, mut handler: F) -> Self
    where
        A: DeserializeOwned,
        R: Serialize,
        E: std::fmt::Display,
        F: FnMut(&mut S, A) -> Result<R, E> + 'static,
    {
        let method = name.to_owned();
        self.raw_method(name, move |state, call| match call.decode::<A>() {
            Ok(args) => match handler(state, args) {
                Ok(value) => call.reply(&value),
                Err(error) => call.reject(&error.to_string()),
            },
            Err(error) => call.reject(&format!("bad arguments to `{method}`: {error}")),
        })
    }

    /// A method that takes the whole call: for capabilities, or to answer later.
    pub fn raw_method(mut self, name: &str, handler: impl FnMut(&mut S, Call) + 'static) -> Self {
        self.handlers.insert(name.to_owned(), Box::new(handler));
        self
    }

    pub fn state(&self) -> &S {
        &self.state
    }

    pub fn state_mut(&mut self) -> &mut S {
        &mut self.state
    }
}

impl<S> Object for Methods<S> {
    fn receive(&mut self, call: Call) {
        match self.handlers.get_mut(&call.method) {
            Some(handler) => handler(&mut self.state, call),
            None => {
                let reason = format!("no method `{}`", call.method);
                call.reject(&reason);
            }
        }
    }
}

/// This vat's objects by tag, to route each call to the one it was sent to.
#[derive(Default)]
pub struct Objects {
    objects: HashMap<u64, Box<dyn Object>>,
}

impl Objects {
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `object` as tag `tag` (0 for the root) and returns a ref to it.
    pub fn add(&mut self, tag: u64, object: impl Object + 'static) -> Ref {
        self.objects.insert(tag, Box::new(object));
        self::object(tag)
    }

    /// Serves `object` as the root.
    pub fn with_root(mut self, object: impl Object + 'static) -> Self {
        self.objects.insert(0, Box::new(object));
        self
    }

    /// Stops serving tag `tag`; later calls to it reject.
    pub fn remove(&mut self, tag: u64) {
        self.objects.remove(&tag);
    }

    /// Hands `call` to the object it was sent to, or rejects it.
    pub fn dispatch(&mut self, call: Call) {
        match self.objects.get_mut(&call.target) {
            Some(object) => object.receive(call),
            None => {
                let reason = format!("no object {} in this vat", call.target);
                call.reject(&reason);
            }
        }
    }
}
