//! This vat's durable state: keys to bytes, kept by the host. A write is
//! durable when the call returns; the state outlives the vat's instance and
//! is deleted when its subcluster is terminated.
//!
//! ```ignore
//! let total: u64 = vat_sdk::store::get_json("total")?.unwrap_or(0);
//! vat_sdk::store::set_json("total", &(total + 5))?;
//! ```

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::bindings::vathost::vat::vatstore as wit;
use crate::Error;

/// Why a store call failed. Nothing is written by a call that fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The write would take this vat's state past `limits.store` bytes.
    Quota(u64),
    /// A key longer than this many bytes.
    KeyTooLong(u32),
    /// A value larger than this many bytes.
    ValueTooLarge(u32),
    /// The host could not read or write its database.
    Unavailable(String),
}

impl From<wit::StoreError> for StoreError {
    fn from(error: wit::StoreError) -> Self {
        match error {
            wit::StoreError::Quota(limit) => Self::Quota(limit),
            wit::StoreError::KeyTooLong(limit) => Self::KeyTooLong(limit),
            wit::StoreError::ValueTooLarge(limit) => Self::ValueTooLarge(limit),
            wit::StoreError::Unavailable(why) => Self::Unavailable(why),
        }
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Quota(limit) => write!(
                f,
                "the vat's state would exceed {limit} bytes (`limits.store`)"
            ),
            Self::KeyTooLong(limit) => write!(f, "a key is longer than {limit} bytes"),
            Self::ValueTooLarge(limit) => write!(f, "a value is larger than {limit} bytes"),
            Self::Unavailable(why) => write!(f, "the state is unavailable: {why}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        Error::from(error.to_string())
    }
}

pub fn get(key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    wit::get(key).map_err(Into::into)
}

pub fn set(key: &str, value: &[u8]) -> Result<(), StoreError> {
    wit::set(key, value).map_err(Into::into)
}

/// Deleting a key that does not exist is not an error.
pub fn delete(key: &str) -> Result<(), StoreError> {
    wit::delete(key).map_err(Into::into)
}

/// Up to `limit` keys (at most 1,000) that start with `prefix`, in byte
/// order, after `after` if given.
pub fn keys(prefix: &str, after: Option<&str>, limit: u32) -> Result<Vec<String>, StoreError> {
    wit::keys(prefix, after, limit).map_err(Into::into)
}

/// Every key that starts with `prefix`, page by page.
pub fn all_keys(prefix: &str) -> Result<Vec<String>, StoreError> {
    let mut keys: Vec<String> = Vec::new();
    loop {
        let page = self::keys(prefix, keys.last().map(String::as_str), 1000)?;
        if page.is_empty() {
            return Ok(keys);
        }
        keys.extend(page);
    }
}

/// Sets and deletes atomically: all or nothing.
pub fn write(sets: &[(&str, &[u8])], deletes: &[&str]) -> Result<(), StoreError> {
    let sets: Vec<(String, Vec<u8>)> = sets
        .iter()
        .map(|(key, value)| ((*key).to_owned(), value.to_vec()))
        .collect();
    let deletes: Vec<String> = deletes.iter().map(|key| (*key).to_owned()).collect();
    wit::write(&sets, &deletes).map_err(Into::into)
}

/// The value at `key` decoded from JSON.
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, Error> {
    match get(key)? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|error| Error::from(format!("stored `{key}` does not decode: {error}"))),
        None => Ok(None),
    }
}

/// Stores `value` at `key` as JSON.
pub fn set_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<(), Error> {
    let bytes = serde_json::to_vec(value)
        .map_err(|error| Error::from(format!("cannot encode `{key}`: {error}")))?;
    Ok(set(key, &bytes)?)
}
