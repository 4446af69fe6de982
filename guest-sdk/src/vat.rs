//! What a vat receives at launch.

use crate::bindings::vathost::vat::{io_channel, messaging as wit};
use crate::messaging::Inbox;
use crate::{Channels, Error, Parameters, Ref};

/// Everything the host hands a vat when it starts.
#[derive(Debug)]
pub struct Vat {
    /// The config's `parameters`.
    pub parameters: Parameters,
    /// The channels and listeners granted to this vat.
    pub channels: Channels,
    /// Messages sent to this vat's objects.
    pub inbox: Inbox,
    /// For the bootstrap vat, every other vat's root object by vat name;
    /// empty for the others.
    pub roots: Roots,
}

impl Vat {
    #[doc(hidden)]
    pub fn __new(
        parameters: String,
        channels: Vec<io_channel::Channel>,
        listeners: Vec<io_channel::Listener>,
        inbox: wit::Inbox,
        roots: Vec<(String, wit::Ref)>,
    ) -> Self {
        Self {
            parameters: Parameters::new(parameters),
            channels: Channels::new(channels, listeners),
            inbox: Inbox::new(inbox),
            roots: Roots(
                roots
                    .into_iter()
                    .map(|(name, root)| (name, Ref::from_wit(root)))
                    .collect(),
            ),
        }
    }
}

/// The other vats' root objects, by vat name, in config order.
#[derive(Debug, Default)]
pub struct Roots(Vec<(String, Ref)>);

impl Roots {
    /// Takes the root of vat `name` out of the set.
    pub fn take(&mut self, name: &str) -> Result<Ref, Error> {
        let index = self
            .0
            .iter()
            .position(|(vat, _)| vat == name)
            .ok_or_else(|| {
                Error::from(format!(
                    "no vat `{name}` in this subcluster (others: {})",
                    self.names().join(", ")
                ))
            })?;
        Ok(self.0.remove(index).1)
    }

    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name.as_str()).collect()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl IntoIterator for Roots {
    type Item = (String, Ref);
    type IntoIter = std::vec::IntoIter<(String, Ref)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// A vat's entry point: `fn(Parameters, Channels) -> vat_sdk::Result` or
/// `fn(Vat) -> vat_sdk::Result`. `Args` only tells the two apart.
pub trait Entry<Args> {
    fn enter(self, vat: Vat) -> crate::Result;
}

/// An IO-only vat: it drops its inbox, so messages to it reject at once.
impl<F: FnOnce(Parameters, Channels) -> crate::Result> Entry<(Parameters, Channels)> for F {
    fn enter(self, vat: Vat) -> crate::Result {
        let Vat {
            parameters,
            channels,
            inbox,
            roots,
        } = vat;
        // Dropped before the vat runs, not after it returns.
        drop((inbox, roots));
        self(parameters, channels)
    }
}

impl<F: FnOnce(Vat) -> crate::Result> Entry<Vat> for F {
    fn enter(self, vat: Vat) -> crate::Result {
        self(vat)
    }
}
