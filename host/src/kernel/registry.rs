//! Host-wide bookkeeping: subcluster ids, which subcluster owns which socket
//! path, and how to stop or await each subcluster.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use std::sync::Arc;

use super::status::{SubclusterInfo, SubclusterStatus};
use super::supervisor::SubclusterOutcome;
use super::{KernelError, LaunchError, SubclusterId};
use crate::config::SubclusterSpec;
use crate::runtime::GuestLog;

/// Ended subclusters kept for `list`, `status` and `logs`; older ones are
/// forgotten, so a long-running daemon's memory does not grow with its
/// history.
pub const KEPT_ENDED_SUBCLUSTERS: usize = 64;

#[derive(Default)]
pub(super) struct Registry {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    /// Socket paths held by launching or running subclusters.
    paths: HashMap<PathBuf, PathOwner>,
    subclusters: BTreeMap<SubclusterId, Entry>,
}

struct PathOwner {
    id: SubclusterId,
    subcluster: String,
    channel: String,
}

struct Entry {
    stop: CancellationToken,
    outcome: watch::Receiver<Option<SubclusterOutcome>>,
    info: Arc<SubclusterInfo>,
}

impl Entry {
    fn ended(&self) -> bool {
        self.outcome.borrow().is_some()
    }
}

/// Socket paths reserved for a launch in progress; released on drop unless
/// the launch succeeds.
pub(super) struct Claim<'a> {
    registry: &'a Registry,
    id: SubclusterId,
    committed: bool,
}

impl Claim<'_> {
    pub(super) fn id(&self) -> SubclusterId {
        self.id
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if !self.committed {
            self.registry.release_paths(self.id);
        }
    }
}

impl Registry {
    fn state(&self) -> MutexGuard<'_, State> {
        // Every update below is a single insert or remove: a panic elsewhere
        // cannot leave the state half-changed.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// New ids start after `highest`: restored subclusters keep theirs.
    pub(super) fn reserve_ids(&self, highest: u64) {
        let mut state = self.state();
        state.next_id = state.next_id.max(highest);
    }

    /// Lists a recorded subcluster that could not be restored, as ended;
    /// terminating it deletes its record and its state.
    pub(super) fn add_unrestored(
        &self,
        id: SubclusterId,
        name: &str,
        vats: Vec<String>,
        reason: &str,
        database: Arc<crate::state::Database>,
    ) {
        let info = Arc::new(SubclusterInfo::unrestored(id, name, vats, reason, database));
        let outcome = SubclusterOutcome {
            vats: info.settle(),
        };
        let (_, receiver) = watch::channel(Some(outcome));
        self.state().subclusters.insert(
            id,
            Entry {
                stop: CancellationToken::new(),
                outcome: receiver,
                info,
            },
        );
    }

    /// Removes an unrestored subcluster's entry; `None` if `id` is not one.
    pub(super) fn take_unrestored(&self, id: SubclusterId) -> Option<SubclusterOutcome> {
        let mut state = self.state();
        let entry = state.subclusters.get(&id)?;
        entry.info.restore_error.as_ref()?;
        let outcome = entry.outcome.borrow().clone();
        state.subclusters.remove(&id);
        outcome
    }

    /// Reserves an id (`restoring`'s, or a new one) and every socket path
    /// of `spec`, or names the subcluster that already holds one of them.
    pub(super) fn claim(
        &self,
        spec: &SubclusterSpec,
        restoring: Option<SubclusterId>,
    ) -> Result<Claim<'_>, LaunchError> {
        let mut state = self.state();
        for channel in &spec.channels {
            let Some(path) = channel.kind.bound_path() else {
                continue;
            };
            if let Some(owner) = state.paths.get(path) {
                return Err(LaunchError::PathClaimed {
                    channel: channel.name.clone(),
                    path: path.to_path_buf(),
                    other: owner.id,
                    other_name: owner.subcluster.clone(),
                    other_channel: owner.channel.clone(),
                });
            }
        }
        let id = match restoring {
            Some(id) => {
                state.next_id = state.next_id.max(id.0);
                id
            }
            None => {
                state.next_id += 1;
                SubclusterId(state.next_id)
            }
        };
        for channel in &spec.channels {
            let Some(path) = channel.kind.bound_path() else {
                continue;
            };
            state.paths.insert(
                path.to_path_buf(),
                PathOwner {
                    id,
                    subcluster: spec.name.clone(),
                    channel: channel.name.clone(),
                },
            );
        }
        Ok(Claim {
            registry: self,
            id,
            committed: false,
        })
    }

    pub(super) fn add_running(
        &self,
        mut claim: Claim<'_>,
        stop: CancellationToken,
        outcome: watch::Receiver<Option<SubclusterOutcome>>,
        info: Arc<SubclusterInfo>,
    ) {
        claim.committed = true;
        self.state().subclusters.insert(
            claim.id,
            Entry {
                stop,
                outcome,
                info,
            },
        );
    }

    pub(super) fn statuses(&self) -> Vec<SubclusterStatus> {
        self.state()
            .subclusters
            .values()
            .map(|entry| entry.info.status(entry.ended()))
            .collect()
    }

    pub(super) fn status(&self, id: SubclusterId) -> Result<SubclusterStatus, KernelError> {
        let state = self.state();
        let entry = state
            .subclusters
            .get(&id)
            .ok_or(KernelError::UnknownSubcluster(id))?;
        Ok(entry.info.status(entry.ended()))
    }

    pub(super) fn has_ended(&self, id: SubclusterId) -> bool {
        self.state().subclusters.get(&id).is_none_or(Entry::ended)
    }

    /// A running subcluster's live facts.
    pub(super) fn running_info(
        &self,
        id: SubclusterId,
    ) -> Result<Arc<SubclusterInfo>, KernelError> {
        let state = self.state();
        let entry = state
            .subclusters
            .get(&id)
            .ok_or(KernelError::UnknownSubcluster(id))?;
        if entry.ended() {
            return Err(KernelError::NotRunning(id));
        }
        Ok(entry.info.clone())
    }

    pub(super) fn guest_log(&self, id: SubclusterId) -> Result<Arc<GuestLog>, KernelError> {
        self.state()
            .subclusters
            .get(&id)
            .map(|entry| entry.info.log.clone())
            .ok_or(KernelError::UnknownSubcluster(id))
    }

    /// Asks a subcluster to stop; returns where its outcome will appear.
    pub(super) fn stop(
        &self,
        id: SubclusterId,
    ) -> Result<watch::Receiver<Option<SubclusterOutcome>>, KernelError> {
        let state = self.state();
        let entry = state
            .subclusters
            .get(&id)
            .ok_or(KernelError::UnknownSubcluster(id))?;
        entry.stop.cancel();
        Ok(entry.outcome.clone())
    }

    pub(super) fn outcome(
        &self,
        id: SubclusterId,
    ) -> Result<watch::Receiver<Option<SubclusterOutcome>>, KernelError> {
        self.state()
            .subclusters
            .get(&id)
            .map(|entry| entry.outcome.clone())
            .ok_or(KernelError::UnknownSubcluster(id))
    }

    /// Subclusters that have not ended.
    pub(super) fn running(&self) -> Vec<SubclusterId> {
        self.state()
            .subclusters
            .iter()
            .filter(|(_, entry)| !entry.ended())
            .map(|(id, _)| *id)
            .collect()
    }

    /// Forgets the oldest ended subclusters beyond [`KEPT_ENDED_SUBCLUSTERS`].
    pub(super) fn forget_old_ended(&self) {
        let mut state = self.state();
        let ended: Vec<SubclusterId> = state
            .subclusters
            .iter()
            // Unrestored ones stay until terminated: they hold a record.
            .filter(|(_, entry)| entry.ended() && entry.info.restore_error.is_none())
            .map(|(id, _)| *id)
            .collect();
        let excess = ended.len().saturating_sub(KEPT_ENDED_SUBCLUSTERS);
        for id in &ended[..excess] {
            state.subclusters.remove(id);
        }
    }

    /// Frees the socket paths of a subcluster whose channels are closed.
    pub(super) fn release_paths(&self, id: SubclusterId) {
        self.state().paths.retain(|_, owner| owner.id != id);
    }
}
