//! One task per vat: runs its instance, starts a new one after a failure
//! when its restart policy allows, and swaps in a new component on an
//! upgrade. Across a restart or an upgrade the vat keeps its channels (held
//! meanwhile, so clients stay connected and what they send waits), its
//! mailbox (messages wait for the new instance), the refs it was granted
//! and its state.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::oneshot;

use super::request_slot::{SlotReceiver, SlotSender};
use super::status::SubclusterInfo;
use crate::config::{RestartPolicy, VatSpec};
use crate::io::{ChannelHandle, Grant};
use crate::messaging::{Mailbox, ObjectRef};
use crate::runtime::{
    GuestLog, InstanceContext, PreparedComponent, Runtime, RuntimeError, VatFailure, VatInstance,
    VatUsage,
};
use crate::state::VatStoreCtx;

/// Everything that makes one of a vat's instances: at launch, at a
/// restart, at an upgrade.
pub(super) struct VatBlueprint {
    pub spec: VatSpec,
    pub component: PreparedComponent,
    /// The subcluster, for the vat's log lines.
    pub label: String,
    pub log: Arc<GuestLog>,
    pub mailbox: Arc<Mailbox>,
    pub store: VatStoreCtx,
    /// Time in wasm and memory, across every instance of the vat.
    pub usage: Arc<VatUsage>,
    pub grants: Vec<Grant>,
    /// For the bootstrap vat, the other vats' roots.
    pub roots: Vec<(String, ObjectRef)>,
}

impl VatBlueprint {
    pub async fn instantiate(&self, runtime: &Runtime) -> Result<VatInstance, RuntimeError> {
        let context = InstanceContext {
            subcluster: self.label.clone(),
            log: self.log.clone(),
            mailbox: self.mailbox.clone(),
            store: self.store.clone(),
            usage: self.usage.clone(),
        };
        let mut instance = runtime
            .instantiate(&self.component, &self.spec, context)
            .await?;
        for (vat, root) in &self.roots {
            instance.grant_root(vat, root.clone())?;
        }
        for grant in &self.grants {
            instance.grant(grant.clone())?;
        }
        Ok(instance)
    }

    /// Handles to the vat's channels, which keep each client's session
    /// while no instance holds them.
    fn hold_channels(&self) -> Vec<ChannelHandle> {
        self.grants
            .iter()
            .filter_map(|grant| match grant {
                Grant::Channel(channel) => Some(ChannelHandle::new(channel.clone())),
                Grant::Listener(_) => None,
            })
            .collect()
    }

    /// Each granted listener with the connections held on it, and how many
    /// holders each had.
    fn hold_connections(&self) -> Vec<ListenerHolds> {
        self.grants
            .iter()
            .filter_map(|grant| match grant {
                Grant::Listener(listener) => Some((listener.clone(), listener.held_connections())),
                Grant::Channel(_) => None,
            })
            .collect()
    }
}

/// A listener and the connections held on it, each with its count of
/// holders when it was taken.
type ListenerHolds = (Arc<crate::io::Listener>, Vec<(ChannelHandle, usize)>);

/// Where a vat's upgrades come from.
pub(super) type Upgrades = SlotReceiver<Box<Upgrade>>;
pub(super) type UpgradeSender = SlotSender<Box<Upgrade>>;

/// A request to replace a running vat's component.
pub(super) struct Upgrade {
    pub component: PreparedComponent,
    pub done: oneshot::Sender<Result<(), String>>,
}

enum Driven {
    Ended(Result<(), VatFailure>),
    Upgrade(Box<Upgrade>),
}

/// Runs the vat until it ends for good: returns, fails past its restart
/// policy, or cannot be started again.
pub(super) async fn run_vat(
    runtime: Arc<Runtime>,
    mut blueprint: VatBlueprint,
    mut instance: VatInstance,
    mut upgrades: Upgrades,
    info: Arc<SubclusterInfo>,
) -> Result<(), VatFailure> {
    tracing::info!("vat started");
    let parameters = blueprint.spec.parameters.clone();
    let mut recent_restarts: VecDeque<Instant> = VecDeque::new();
    // A vat that may be restarted keeps its clients even if it drops its
    // channels on the way to failing (an error returned unwinds them).
    let _held = matches!(blueprint.spec.restart, RestartPolicy::OnFailure { .. })
        .then(|| blueprint.hold_channels());
    loop {
        match drive(&mut instance, &parameters, &mut upgrades).await {
            Driven::Ended(end) => {
                let Err(failure) = &end else {
                    instance.finish(&end);
                    return end;
                };
                let RestartPolicy::OnFailure {
                    max,
                    window,
                    backoff,
                } = blueprint.spec.restart
                else {
                    instance.finish(&end);
                    return end;
                };
                recent_restarts.retain(|at| at.elapsed() < window);
                if recent_restarts.len() >= max as usize {
                    tracing::error!(%failure, "vat failed {max} times within {window:?}: not restarted");
                    instance.finish(&end);
                    return end;
                }
                recent_restarts.push_back(Instant::now());
                let attempt = u32::try_from(recent_restarts.len()).unwrap_or(u32::MAX);
                let delay = backoff.saturating_mul(2u32.saturating_pow(attempt - 1));
                tracing::warn!(%failure, ?delay, "vat failed: restarting");
                info.vat_restarted(&blueprint.spec.name, failure);
                let reason = format!("failed: {failure} (restarting)");
                instance =
                    Box::pin(replace(&runtime, &blueprint, instance, &reason, delay)).await?;
            }
            Driven::Upgrade(upgrade) => {
                tracing::info!(digest = %upgrade.component.digest(), "upgrading the vat");
                let previous = std::mem::replace(&mut blueprint.component, upgrade.component);
                match Box::pin(replace(
                    &runtime,
                    &blueprint,
                    instance,
                    "was upgraded",
                    std::time::Duration::ZERO,
                ))
                .await
                {
                    Ok(next) => {
                        instance = next;
                        info.vat_upgraded(&blueprint.spec.name);
                        let _ = upgrade.done.send(Ok(()));
                    }
                    Err(failure) => {
                        blueprint.component = previous;
                        let _ = upgrade.done.send(Err(failure.to_string()));
                        return Err(failure);
                    }
                }
            }
        }
    }
}

/// Drops `instance` for a new one from `blueprint` after `delay`, the
/// vat's channels held and its messages kept meanwhile.
///
/// Callers box it: instantiating takes a large future, and inline it would
/// size every idle vat's task for it (3.9 KiB instead of 1.1).
async fn replace(
    runtime: &Runtime,
    blueprint: &VatBlueprint,
    instance: VatInstance,
    reason: &str,
    delay: std::time::Duration,
) -> Result<VatInstance, VatFailure> {
    let held = blueprint.hold_channels();
    // Connections the vat accepted stay connected and are accepted again
    // by the new instance.
    let connections = blueprint.hold_connections();
    blueprint.mailbox.replacing(reason);
    drop(instance);
    // Those the old instance held lost holders as it went; those only other
    // vats hold stay theirs alone.
    let connections: Vec<_> = connections
        .into_iter()
        .map(|(listener, held)| {
            let its_own: Vec<ChannelHandle> = held
                .into_iter()
                .filter(|(handle, holders)| handle.channel().holders() < *holders)
                .map(|(handle, _)| handle)
                .collect();
            (listener, its_own)
        })
        .collect();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match blueprint.instantiate(runtime).await {
        Ok(next) => {
            blueprint.mailbox.replaced();
            for (listener, its_own) in connections {
                listener.offer_again(its_own);
            }
            drop(held);
            Ok(next)
        }
        Err(error) => {
            let failure = VatFailure::Trapped(format!("cannot start a new instance: {error}"));
            blueprint.mailbox.end(&format!("failed: {failure}"));
            Err(failure)
        }
    }
}

/// Runs the instance until it ends or an upgrade is asked for; an upgrade
/// waits until the vat is blocked in a host call (a read, a poll), so no
/// work it has begun is cut off.
async fn drive(instance: &mut VatInstance, parameters: &str, upgrades: &mut Upgrades) -> Driven {
    let activity = instance.activity().clone();
    // Pinned where it is made: `tokio::pin!` moved it into a second slot
    // of this future (1,560 bytes instead of 840, held per running vat).
    let mut call = std::pin::pin!(instance.call(parameters));
    // Biased, the vat first: an unbiased select draws a random number on
    // every wake-up of the vat.
    let upgrade = tokio::select! {
        biased;
        end = &mut call => return Driven::Ended(end),
        upgrade = upgrades.recv() => upgrade,
    };
    match activity.until_waiting_in_host(call.as_mut()).await {
        None => Driven::Upgrade(upgrade),
        Some(end) => {
            let _ = upgrade
                .done
                .send(Err("the vat ended before it could be replaced".to_owned()));
            Driven::Ended(end)
        }
    }
}
