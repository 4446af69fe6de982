use std::sync::Arc;

use wasmtime::component::Resource;
use wasmtime::{Engine, Store};

use super::{RuntimeError, VatState};
use crate::bindings::{Vat, VatPre};
use crate::io::{Channel, ChannelHandle};

/// How a vat ended other than by returning `ok`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VatFailure {
    /// `run` returned `err`.
    #[error("returned an error: {0}")]
    Returned(String),
    /// The vat trapped (a panic, a bad resource handle, ...).
    #[error("trapped: {0}")]
    Trapped(String),
}

/// An instantiated vat, not yet running.
pub struct VatInstance {
    store: Store<VatState>,
    bindings: Vat,
    channels: Vec<Resource<ChannelHandle>>,
}

impl VatInstance {
    pub(super) async fn new(
        engine: &Engine,
        pre: &VatPre<VatState>,
        subcluster: &str,
        vat: &str,
    ) -> Result<Self, RuntimeError> {
        let mut store = Store::new(engine, VatState::new(subcluster, vat));
        store.epoch_deadline_async_yield_and_update(1);
        let bindings = pre
            .instantiate_async(&mut store)
            .await
            .map_err(|error| RuntimeError::Instantiate(format!("{error:#}")))?;
        Ok(Self {
            store,
            bindings,
            channels: Vec::new(),
        })
    }

    /// Puts a handle to `channel` into this vat's resource table; it is
    /// passed to the vat's entry point, in grant order.
    pub fn grant(&mut self, channel: Arc<Channel>) -> Result<(), RuntimeError> {
        let handle = self
            .store
            .data_mut()
            .table()
            .push(ChannelHandle::new(channel))
            .map_err(|error| RuntimeError::Instantiate(error.to_string()))?;
        self.channels.push(handle);
        Ok(())
    }

    /// Calls the vat's entry point and runs it until it returns.
    pub async fn run(mut self, parameters: &str) -> Result<(), VatFailure> {
        let channels = std::mem::take(&mut self.channels);
        match self
            .bindings
            .call_run(&mut self.store, parameters, &channels)
            .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(VatFailure::Returned(message)),
            Err(trap) => Err(VatFailure::Trapped(format!("{trap:?}"))),
        }
    }
}
