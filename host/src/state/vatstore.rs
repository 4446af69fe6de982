//! `vatstore` as vats see it: calls on the vat's own state, which the
//! store's key (subcluster and vat) picks; a vat has no way to name
//! another's.

use std::sync::Arc;

use wasmtime::component::HasData;

use super::{Database, StoreError, StoreLimits, VatKey};
use crate::bindings::vatstore as wit;

/// A vat's access to its own state.
#[derive(Clone)]
pub struct VatStoreCtx {
    database: Arc<Database>,
    vat: VatKey,
    limits: StoreLimits,
    /// The instance's marks: a store call is begun work.
    marks: Option<crate::quiescence::Quiescence>,
}

impl VatStoreCtx {
    pub fn new(database: Arc<Database>, vat: VatKey, limits: StoreLimits) -> Self {
        Self {
            database,
            vat,
            limits,
            marks: None,
        }
    }

    /// This context for one instance, whose store calls mark it busy.
    pub fn marked(self, marks: crate::quiescence::Quiescence) -> Self {
        Self {
            marks: Some(marks),
            ..self
        }
    }

    fn busy(&self) -> Option<crate::quiescence::Busy> {
        self.marks.as_ref().map(crate::quiescence::Quiescence::busy)
    }
}

/// What a store must give for `vatstore` to be linked into it.
pub trait VatStoreView: Send {
    fn vatstore(&mut self) -> &mut VatStoreCtx;
}

/// The [`HasData`] marker that links `vatstore` against a view.
pub struct VatStore;

impl HasData for VatStore {
    type Data<'a> = &'a mut VatStoreCtx;
}

/// Adds `vatstore` to a linker whose store data is a [`VatStoreView`].
pub fn add_to_linker<T: VatStoreView + 'static>(
    linker: &mut wasmtime::component::Linker<T>,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, VatStore>(linker, |state: &mut T| state.vatstore())
}

impl From<StoreError> for wit::StoreError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Quota(limit) => Self::Quota(limit),
            StoreError::KeyTooLong(limit) => Self::KeyTooLong(limit),
            StoreError::ValueTooLarge(limit) => Self::ValueTooLarge(limit),
            StoreError::Unavailable(why) => Self::Unavailable(why),
        }
    }
}

impl wit::Host for &mut VatStoreCtx {
    async fn get(
        &mut self,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, wit::StoreError>> {
        let _busy = self.busy();
        Ok(self.database.get(&self.vat, key).await.map_err(Into::into))
    }

    async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), wit::StoreError>> {
        let _busy = self.busy();
        Ok(self
            .database
            .write(&self.vat, self.limits, vec![(key, value)], Vec::new())
            .await
            .map_err(Into::into))
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<(), wit::StoreError>> {
        let _busy = self.busy();
        Ok(self
            .database
            .write(&self.vat, self.limits, Vec::new(), vec![key])
            .await
            .map_err(Into::into))
    }

    async fn keys(
        &mut self,
        prefix: String,
        after: Option<String>,
        limit: u32,
    ) -> wasmtime::Result<Result<Vec<String>, wit::StoreError>> {
        let _busy = self.busy();
        Ok(self
            .database
            .keys(&self.vat, prefix, after, limit)
            .await
            .map_err(Into::into))
    }

    async fn write(
        &mut self,
        sets: Vec<(String, Vec<u8>)>,
        deletes: Vec<String>,
    ) -> wasmtime::Result<Result<(), wit::StoreError>> {
        let _busy = self.busy();
        Ok(self
            .database
            .write(&self.vat, self.limits, sets, deletes)
            .await
            .map_err(Into::into))
    }
}
