//! One task per running subcluster: runs its vats, and when they have all
//! returned, its bootstrap vat failed, or it is told to stop, it closes the
//! channels (vats waiting on them end by themselves), stops the vats that
//! remain, then sends the channels' last output and lets them go.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::registry::Registry;
use super::runner::{Upgrades, VatBlueprint, run_vat};
use super::status::SubclusterInfo;
use crate::io::Endpoint;
use crate::runtime::{VatFailure, VatInstance};

/// How long vats may take to end by themselves once their channels and
/// mailboxes are closed, before they are cut off.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_millis(50);

/// How one vat ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VatEnd {
    Returned,
    Failed(VatFailure),
    /// Stopped by the host while still running.
    Stopped,
}

/// How a subcluster ended, vat by vat in config order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubclusterOutcome {
    pub vats: Vec<(String, VatEnd)>,
}

impl SubclusterOutcome {
    /// The first vat that failed, with its failure.
    pub fn first_failure(&self) -> Option<(&str, &VatFailure)> {
        self.vats.iter().find_map(|(vat, end)| match end {
            VatEnd::Failed(failure) => Some((vat.as_str(), failure)),
            _ => None,
        })
    }
}

type Joined = Result<(tokio::task::Id, Result<(), VatFailure>), tokio::task::JoinError>;

/// Which vat a finished task ran and how it ended; logs the end.
fn vat_end(names: &HashMap<tokio::task::Id, String>, joined: Joined) -> (String, VatEnd) {
    let (vat, end) = match joined {
        Ok((task, result)) => (
            names.get(&task).cloned().unwrap_or_default(),
            match result {
                Ok(()) => VatEnd::Returned,
                Err(failure) => VatEnd::Failed(failure),
            },
        ),
        Err(join_error) => (
            names.get(&join_error.id()).cloned().unwrap_or_default(),
            VatEnd::Failed(VatFailure::Trapped(format!(
                "vat task failed: {join_error}"
            ))),
        ),
    };
    match &end {
        VatEnd::Failed(failure) => tracing::error!(vat = %vat, %failure, "vat failed"),
        _ => tracing::info!(vat = %vat, "vat returned"),
    }
    (vat, end)
}

/// What a supervisor runs and answers to.
pub(super) struct Supervised {
    /// The bootstrap vat's name: of the subcluster's spec, all a running
    /// subcluster needs (each vat's blueprint keeps its own spec), so the
    /// rest is not held for as long as it runs.
    pub bootstrap: String,
    pub runtime: Arc<crate::runtime::Runtime>,
    /// Each vat's blueprint, first instance and upgrade requests.
    pub vats: Vec<((VatBlueprint, VatInstance), Upgrades)>,
    pub channels: Vec<Endpoint>,
    /// Terminate this subcluster.
    pub stop: CancellationToken,
    /// The host is shutting down.
    pub host_closing: CancellationToken,
    /// Whether the subcluster has a record to delete when it ends.
    pub recorded: bool,
    pub registry: Arc<Registry>,
    pub info: Arc<SubclusterInfo>,
    pub outcome: watch::Sender<Option<SubclusterOutcome>>,
}

pub(super) async fn supervise(mut supervised: Supervised) {
    let mut running = JoinSet::new();
    let mut names = HashMap::new();
    for ((blueprint, instance), upgrades) in std::mem::take(&mut supervised.vats) {
        let span = tracing::info_span!("vat", vat = %blueprint.spec.name);
        let name = blueprint.spec.name.clone();
        let runtime = supervised.runtime.clone();
        let info = supervised.info.clone();
        // Spawned as it is: wrapped in an `async` block, the vat's future
        // measured 4,992 bytes instead of 2,136 (the block kept the
        // arguments and the inner future side by side), held per vat for
        // as long as it runs.
        let vat = run_vat(runtime, blueprint, instance, upgrades, info).instrument(span);
        let handle = running.spawn(vat);
        names.insert(handle.id(), name);
    }

    let Supervised {
        bootstrap,
        stop,
        info,
        ..
    } = &supervised;
    loop {
        let joined = tokio::select! {
            biased;
            () = stop.cancelled() => {
                tracing::info!("terminating");
                break;
            }
            joined = running.join_next_with_id() => joined,
        };
        let Some(joined) = joined else { break };
        let (vat, end) = vat_end(&names, joined);
        let bootstrap_failed = vat == *bootstrap && matches!(end, VatEnd::Failed(_));
        info.vat_ended(&vat, end);
        if bootstrap_failed {
            tracing::error!("bootstrap vat failed: terminating the subcluster");
            break;
        }
    }

    // Boxed: inline, the wind-down's waits (the stop grace, the channels'
    // close, the database) sized the task of every running subcluster for
    // them (1,200 bytes instead of 512).
    Box::pin(wind_down(supervised, running, names)).await;
}

/// Stops what is left of a subcluster whose run loop ended, and reports
/// how it ended.
async fn wind_down(
    supervised: Supervised,
    mut running: JoinSet<Result<(), VatFailure>>,
    names: HashMap<tokio::task::Id, String>,
) {
    let Supervised {
        channels,
        stop,
        host_closing,
        recorded,
        registry,
        info,
        outcome,
        ..
    } = supervised;
    // A vat that had already ended when the stop came keeps its own end: a
    // failure that raced with the terminate is still reported.
    while let Some(joined) = running.try_join_next_with_id() {
        let (vat, end) = vat_end(&names, joined);
        info.vat_ended(&vat, end);
    }
    // Mailboxes first: nothing sent from here on waits on a vat about to
    // stop. Then the channels close, and a vat waiting on them ends by
    // itself; one that does not within STOP_GRACE is cut off where it is.
    // (Cutting a vat off in a host call unwinds it as a trap, whose
    // backtrace costs about a millisecond of DWARF parsing per vat.) A vat
    // that returns from here on does so because its channels closed: it is
    // stopped. One that traps had failed on its own (a trap takes a while
    // to report, so it may have begun before the stop): that is kept.
    info.end_mailboxes(super::status::STOPPED);
    for channel in &channels {
        channel.close_now();
    }
    let record_traps = |joined: Joined| {
        let trapped = match &joined {
            Ok((_, result)) => matches!(
                result,
                Err(VatFailure::Trapped(_) | VatFailure::CpuBudget(_))
            ),
            Err(join_error) => !join_error.is_cancelled(),
        };
        if trapped {
            let (vat, end) = vat_end(&names, joined);
            info.vat_ended(&vat, end);
        }
    };
    let _ = tokio::time::timeout(STOP_GRACE, async {
        while let Some(joined) = running.join_next_with_id().await {
            record_traps(joined);
        }
    })
    .await;
    running.abort_all();
    while let Some(joined) = running.join_next_with_id().await {
        record_traps(joined);
    }
    // Then the channels, whose sockets disappear with them; each may take
    // the close grace to send its last output, so all at once.
    let mut closing = JoinSet::new();
    for channel in channels {
        closing.spawn(channel.close());
    }
    closing.join_all().await;
    registry.release_paths(info.id);
    // One stopped by the host shutting down keeps its state and its record,
    // to be restored. A terminated one loses both; one that ended by itself
    // is no longer running, so a recorded one loses both too.
    let terminated = stop.is_cancelled();
    if !host_closing.is_cancelled() && (terminated || recorded) {
        forget(&info.database, info.id).await;
    }

    let vats = info.settle();
    tracing::info!("subcluster ended");
    outcome.send_replace(Some(SubclusterOutcome { vats }));
    registry.forget_old_ended();
}

/// Deletes a subcluster's record and its vats' state.
pub(super) async fn forget(database: &crate::state::Database, id: super::SubclusterId) {
    if let Err(error) = database.unrecord(id.0).await {
        tracing::error!(subcluster = %id, %error, "cannot delete the subcluster's record");
    }
    if let Err(error) = database.forget(id).await {
        tracing::error!(subcluster = %id, %error, "cannot delete the subcluster's vat state");
    }
}
