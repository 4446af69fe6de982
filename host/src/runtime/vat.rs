use wasmtime::component::{Resource, ResourceTableError};
use wasmtime::{Engine, Store};

use super::limits::CpuBudgetExceeded;
use super::{RuntimeError, VatState};
use crate::bindings::{Vat, VatPre};
use crate::io::{ChannelHandle, Grant, ListenerHandle};
use crate::messaging::{InboxHandle, Mailbox, ObjectRef};

/// How a vat ended other than by returning `ok`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VatFailure {
    /// `run` returned `err`.
    #[error("returned an error: {0}")]
    Returned(String),
    /// The vat trapped (a panic, a bad resource handle, memory exhausted, ...).
    #[error("trapped: {0}")]
    Trapped(String),
    /// The vat ran wasm for longer than its CPU budget.
    #[error("stopped: {0}")]
    CpuBudget(String),
}

/// An instantiated vat, not yet running.
pub struct VatInstance {
    store: Store<VatState>,
    bindings: Vat,
    channels: Vec<Resource<ChannelHandle>>,
    listeners: Vec<Resource<ListenerHandle>>,
    inbox: Resource<InboxHandle>,
    roots: Vec<(String, Resource<ObjectRef>)>,
    handle_limit: u32,
    activity: std::sync::Arc<super::VatActivity>,
    usage: std::sync::Arc<super::VatUsage>,
}

impl VatInstance {
    pub(super) async fn new(
        engine: &Engine,
        pre: &VatPre<VatState>,
        vat: &crate::config::VatSpec,
        context: super::InstanceContext,
    ) -> Result<Self, RuntimeError> {
        let limits = &vat.limits;
        let mailbox = context.mailbox.clone();
        let usage = context.usage.clone();
        // A vat that is restarted after a trap reads line by line: its SDK
        // then never holds lines the trap would lose.
        let batches = matches!(vat.restart, crate::config::RestartPolicy::Never);
        let marks = crate::quiescence::Quiescence::new(batches);
        let activity = super::VatActivity::new(marks.clone());
        let mut store = Store::new(engine, VatState::new(&vat.name, limits, context, marks));
        store.limiter(|state| &mut state.limits);
        super::limits::enforce_cpu(&mut store, limits.cpu, activity.clone());
        let bindings = pre
            .instantiate_async(&mut store)
            .await
            .map_err(|error| RuntimeError::Instantiate(format!("{error:#}")))?;
        let inbox = store
            .data_mut()
            .table()
            .push(InboxHandle::new(mailbox))
            .map_err(|error| RuntimeError::Instantiate(error.to_string()))?;
        Ok(Self {
            store,
            bindings,
            channels: Vec::new(),
            listeners: Vec::new(),
            inbox,
            roots: Vec::new(),
            handle_limit: limits.handles,
            activity,
            usage,
        })
    }

    /// Gives this (bootstrap) vat a ref to another vat's root object.
    pub fn grant_root(&mut self, vat: &str, root: ObjectRef) -> Result<(), RuntimeError> {
        let handle = self
            .store
            .data_mut()
            .table()
            .push(root)
            .map_err(|error| RuntimeError::Instantiate(error.to_string()))?;
        self.roots.push((vat.to_owned(), handle));
        Ok(())
    }

    /// Puts a handle to a channel or listener into this vat's resource
    /// table; it is passed to the vat's entry point, in grant order.
    pub fn grant(&mut self, grant: Grant) -> Result<(), RuntimeError> {
        let table = self.store.data_mut().table();
        let pushed = match grant {
            Grant::Channel(channel) => table
                .push(ChannelHandle::new(channel))
                .map(|handle| self.channels.push(handle)),
            Grant::Listener(listener) => table
                .push(ListenerHandle::new(listener))
                .map(|handle| self.listeners.push(handle)),
        };
        pushed.map_err(|error| RuntimeError::Instantiate(error.to_string()))
    }

    /// Calls the vat's entry point and runs it until it returns. Before the
    /// vat's store (and every handle in it) is dropped, its mailbox records
    /// how it ended: what its unsettled answers and later sends reject with.
    pub async fn run(mut self, parameters: &str) -> Result<(), VatFailure> {
        let end = self.call(parameters).await;
        self.finish(&end);
        end
    }

    /// Ends the vat's mailbox with how it ended, then drops the instance.
    pub fn finish(self, end: &Result<(), VatFailure>) {
        let mailbox = self.mailbox().clone();
        match end {
            Ok(()) => mailbox.end("returned"),
            Err(failure) => mailbox.end(&format!("failed: {failure}")),
        }
    }

    pub fn mailbox(&self) -> &std::sync::Arc<Mailbox> {
        self.store.data().mailbox()
    }

    /// Whether the vat is running wasm or waiting in a host call.
    pub fn activity(&self) -> &std::sync::Arc<super::VatActivity> {
        &self.activity
    }

    /// Calls the vat's entry point and runs it until it returns; the
    /// instance is left as the vat left it. Call it once.
    pub async fn call(&mut self, parameters: &str) -> Result<(), VatFailure> {
        let channels = std::mem::take(&mut self.channels);
        let listeners = std::mem::take(&mut self.listeners);
        let roots = std::mem::take(&mut self.roots);
        // The inbox resource moves to the vat; `run` may be called once.
        let inbox = Resource::new_own(self.inbox.rep());
        let usage = self.usage.clone();
        let ran = {
            let mut run = std::pin::pin!(self.bindings.call_run(
                &mut self.store,
                parameters,
                &channels,
                &listeners,
                inbox,
                &roots,
            ));
            // Each poll runs the vat's wasm and its host calls until it
            // waits (or yields at an epoch tick): timing polls, not host
            // calls, costs two clock reads per wake-up instead of per call.
            std::future::poll_fn(|context| {
                let started = std::time::Instant::now();
                let poll = run.as_mut().poll(context);
                usage.ran(started.elapsed());
                poll
            })
            .await
        };
        match ran {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(VatFailure::Returned(message)),
            Err(trap) => {
                if let Some(exceeded) = trap.downcast_ref::<CpuBudgetExceeded>() {
                    return Err(VatFailure::CpuBudget(exceeded.to_string()));
                }
                if matches!(
                    trap.downcast_ref::<ResourceTableError>(),
                    Some(ResourceTableError::Full)
                ) {
                    return Err(VatFailure::Trapped(format!(
                        "holds more than its {} host handles (`limits.handles`)",
                        self.handle_limit
                    )));
                }
                // The cause on one line for the user; the guest backtrace,
                // which spans many, goes to the log.
                if let Some(backtrace) = trap.downcast_ref::<wasmtime::WasmBacktrace>() {
                    tracing::error!("vat trapped; {backtrace}");
                }
                // A Rust panic traps with `unreachable`; its message and
                // place, which the SDK wrote to stderr, say more.
                match self.store.data().panics.take() {
                    Some(panic) => Err(VatFailure::Trapped(panic)),
                    None => Err(VatFailure::Trapped(trap.root_cause().to_string())),
                }
            }
        }
    }
}
