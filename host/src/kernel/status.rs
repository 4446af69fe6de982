//! What the kernel can tell about a subcluster while it runs and after.

use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use super::{ChannelInfo, SubclusterId, VatEnd};
use crate::io::{ChannelStats, Grant};
use crate::messaging::{InboxStatus, Mailbox};
use crate::runtime::{GuestLog, VatUsage};
use crate::state::{Database, VatKey};

/// Why a stopped vat's mailbox refuses messages.
pub(super) const STOPPED: &str = "was stopped: its subcluster is terminating";

/// Live facts about one subcluster, shared by its supervisor and the registry.
pub(super) struct SubclusterInfo {
    pub id: SubclusterId,
    pub name: String,
    pub channels: Vec<(ChannelInfo, Grant)>,
    /// Each vat with how it ended; `None` while it runs.
    vats: Mutex<Vec<(String, Option<VatEnd>)>>,
    /// Each vat's mailbox, in config order.
    pub mailboxes: Vec<Arc<Mailbox>>,
    /// Each vat's time in wasm and memory, in config order (empty for a
    /// subcluster that was not restored).
    usages: Vec<Arc<VatUsage>>,
    pub log: Arc<GuestLog>,
    pub database: Arc<Database>,
    /// Why a recorded subcluster could not be restored, if it could not.
    pub restore_error: Option<String>,
    /// Restarts and upgrades per vat.
    history: Mutex<std::collections::HashMap<String, VatHistory>>,
    /// Where to ask each running vat for an upgrade.
    pub upgrades: Vec<(String, super::runner::UpgradeSender)>,
}

#[derive(Default, Clone)]
struct VatHistory {
    restarts: u32,
    upgrades: u32,
    /// Failures that were traps (a panic, a bad handle, the CPU budget),
    /// restarted or not.
    traps: u32,
    last_failure: Option<String>,
}

impl VatHistory {
    fn failed(&mut self, failure: &crate::runtime::VatFailure) {
        use crate::runtime::VatFailure;
        if matches!(failure, VatFailure::Trapped(_) | VatFailure::CpuBudget(_)) {
            self.traps += 1;
        }
    }
}

impl SubclusterInfo {
    pub fn new(
        id: SubclusterId,
        name: &str,
        vats: Vec<(Arc<Mailbox>, Arc<VatUsage>)>,
        channels: Vec<(ChannelInfo, Grant)>,
        log: Arc<GuestLog>,
        database: Arc<Database>,
        upgrades: Vec<(String, super::runner::UpgradeSender)>,
    ) -> Self {
        let (mailboxes, usages): (Vec<_>, Vec<_>) = vats.into_iter().unzip();
        Self {
            id,
            name: name.to_owned(),
            channels,
            vats: Mutex::new(
                mailboxes
                    .iter()
                    .map(|mailbox| (mailbox.vat().to_string(), None))
                    .collect(),
            ),
            mailboxes,
            usages,
            log,
            database,
            restore_error: None,
            history: Mutex::default(),
            upgrades,
        }
    }

    pub fn vat_restarted(&self, vat: &str, failure: &crate::runtime::VatFailure) {
        let mut history = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = history.entry(vat.to_owned()).or_default();
        entry.restarts += 1;
        entry.failed(failure);
        entry.last_failure = Some(failure.to_string());
    }

    pub fn vat_upgraded(&self, vat: &str) {
        let mut history = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        history.entry(vat.to_owned()).or_default().upgrades += 1;
    }

    /// A recorded subcluster that could not be restored: its vats (when
    /// its config still names them) have failed with `reason`.
    pub fn unrestored(
        id: SubclusterId,
        name: &str,
        vats: Vec<String>,
        reason: &str,
        database: Arc<Database>,
    ) -> Self {
        let failure = VatEnd::Failed(crate::runtime::VatFailure::Returned(format!(
            "cannot restore: {reason}"
        )));
        Self {
            id,
            name: name.to_owned(),
            channels: Vec::new(),
            vats: Mutex::new(
                vats.iter()
                    .map(|vat| (vat.clone(), Some(failure.clone())))
                    .collect(),
            ),
            mailboxes: vats
                .iter()
                .map(|vat| {
                    Mailbox::new(
                        vat,
                        crate::messaging::MailboxLimits {
                            inbox: 0,
                            message: 0,
                        },
                    )
                })
                .collect(),
            usages: Vec::new(),
            log: Arc::new(GuestLog::default()),
            database,
            restore_error: Some(reason.to_owned()),
            history: Mutex::default(),
            upgrades: Vec::new(),
        }
    }

    /// Ends every vat's mailbox that is still open: messages waiting and
    /// later sends reject with `reason`.
    pub fn end_mailboxes(&self, reason: &str) {
        for mailbox in &self.mailboxes {
            mailbox.end(reason);
        }
    }

    pub fn vat_ended(&self, vat: &str, end: VatEnd) {
        // The vat's run already ended its mailbox; a task that panicked did not.
        if let Some(mailbox) = self
            .mailboxes
            .iter()
            .find(|mailbox| &**mailbox.vat() == vat)
        {
            match &end {
                VatEnd::Returned => mailbox.end("returned"),
                VatEnd::Failed(failure) => mailbox.end(&format!("failed: {failure}")),
                VatEnd::Stopped => mailbox.end(STOPPED),
            }
        }
        let mut vats = self.vats.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, slot)) = vats.iter_mut().find(|(name, _)| name == vat)
            && slot.is_none()
        {
            if let VatEnd::Failed(failure) = &end {
                self.history
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry(vat.to_owned())
                    .or_default()
                    .failed(failure);
            }
            *slot = Some(end);
        }
    }

    /// Marks every vat still without an end as stopped, and returns each
    /// vat's end in config order.
    pub fn settle(&self) -> Vec<(String, VatEnd)> {
        let mut vats = self.vats.lock().unwrap_or_else(PoisonError::into_inner);
        vats.iter_mut()
            .map(|(name, end)| (name.clone(), end.get_or_insert(VatEnd::Stopped).clone()))
            .collect()
    }

    pub fn status(&self, ended: bool) -> SubclusterStatus {
        let vats = self.vats.lock().unwrap_or_else(PoisonError::into_inner);
        let history = self
            .history
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        SubclusterStatus {
            id: self.id.to_string(),
            name: self.name.clone(),
            state: if self.restore_error.is_some() {
                SubclusterState::Unrestored
            } else if ended {
                SubclusterState::Ended
            } else {
                SubclusterState::Running
            },
            error: self.restore_error.clone(),
            vats: vats
                .iter()
                .zip(&self.mailboxes)
                .enumerate()
                .map(|(index, ((name, end), mailbox))| VatStatus {
                    name: name.clone(),
                    state: match end {
                        None => VatState::Running,
                        Some(VatEnd::Returned) => VatState::Returned,
                        Some(VatEnd::Failed(_)) => VatState::Failed,
                        Some(VatEnd::Stopped) => VatState::Stopped,
                    },
                    error: match end {
                        Some(VatEnd::Failed(failure)) => Some(failure.to_string()),
                        _ => None,
                    },
                    inbox: mailbox.status(),
                    restarts: history.get(name).map_or(0, |vat| vat.restarts),
                    upgrades: history.get(name).map_or(0, |vat| vat.upgrades),
                    last_failure: history.get(name).and_then(|vat| vat.last_failure.clone()),
                    store_bytes: self.database.usage(&VatKey::new(self.id, name)),
                    traps: history.get(name).map_or(0, |vat| vat.traps),
                    cpu_ms: self
                        .usages
                        .get(index)
                        .map_or(0.0, |usage| usage.cpu_time().as_secs_f64() * 1000.0),
                    memory_bytes: match end {
                        None => self
                            .usages
                            .get(index)
                            .map_or(0, |usage| usage.memory_bytes()),
                        Some(_) => 0,
                    },
                })
                .collect(),
            channels: self
                .channels
                .iter()
                .map(|(info, grant)| ChannelStatus {
                    info: info.clone(),
                    stats: grant.stats(),
                })
                .collect(),
        }
    }
}

/// A subcluster as `vathost status` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubclusterStatus {
    pub id: String,
    pub name: String,
    pub state: SubclusterState,
    /// Why it could not be restored, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub vats: Vec<VatStatus>,
    pub channels: Vec<ChannelStatus>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubclusterState {
    Running,
    Ended,
    /// Recorded by an earlier daemon but not running: it could not be
    /// restored. `terminate` deletes it.
    Unrestored,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VatStatus {
    pub name: String,
    pub state: VatState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Messages waiting in the vat's inbox.
    #[serde(default)]
    pub inbox: InboxStatus,
    /// Bytes of durable state the vat keeps.
    #[serde(default)]
    pub store_bytes: u64,
    /// Times the vat was started again after a failure.
    #[serde(default)]
    pub restarts: u32,
    /// Times its component was replaced while it ran.
    #[serde(default)]
    pub upgrades: u32,
    /// The failure of its last restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<String>,
    /// Failures that were traps, restarted or not.
    #[serde(default)]
    pub traps: u32,
    /// CPU time the vat used (its wasm and the host work of its calls, not
    /// its waits), in milliseconds, over all its instances.
    #[serde(default)]
    pub cpu_ms: f64,
    /// Linear memory of its running instance, in bytes (0 once it ended).
    #[serde(default)]
    pub memory_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VatState {
    Running,
    Returned,
    Failed,
    Stopped,
}

impl std::fmt::Display for SubclusterState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Running => "running",
            Self::Ended => "ended",
            Self::Unrestored => "unrestored",
        })
    }
}

impl std::fmt::Display for VatState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Running => "running",
            Self::Returned => "returned",
            Self::Failed => "failed",
            Self::Stopped => "stopped",
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChannelStatus {
    #[serde(flatten)]
    pub info: ChannelInfo,
    #[serde(flatten)]
    pub stats: ChannelStats,
}
