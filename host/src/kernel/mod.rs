//! The kernel launches subclusters from validated specs and terminates them.
//!
//! Launch is all or nothing: components are compiled and type-checked before
//! anything is created, socket paths are claimed in the host-wide registry,
//! channels are bound, vats are instantiated and granted their channels, and
//! only then do any vats run. A failure at any step undoes every step before
//! it and returns the original error.

mod error;
mod registry;
mod status;
mod supervisor;

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::config::{Direction, SubclusterSpec};
use crate::io::Endpoint;
use crate::runtime::GuestLog;
use crate::runtime::{PreparedComponent, Runtime, RuntimeOptions, VatInstance};
pub use error::{KernelError, LaunchError};
use registry::Registry;
use status::SubclusterInfo;
pub use status::{ChannelStatus, SubclusterStatus, VatStatus};
pub use supervisor::{SubclusterOutcome, VatEnd};

/// Identifies a subcluster within one host. Never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubclusterId(u64);

impl std::fmt::Display for SubclusterId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s{}", self.0)
    }
}

impl serde::Serialize for SubclusterId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl std::str::FromStr for SubclusterId {
    type Err = std::num::ParseIntError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.strip_prefix('s').unwrap_or(text).parse().map(Self)
    }
}

/// Where a launched subcluster's channel can be reached.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChannelInfo {
    pub name: String,
    /// The config's `type`: `socket`, `listen`, `connect`, `console` or `file`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub direction: Direction,
    /// The socket or file; none for the console.
    pub path: Option<PathBuf>,
}

/// What a caller learns from a successful launch.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Launched {
    pub id: SubclusterId,
    pub name: String,
    pub channels: Vec<ChannelInfo>,
}

pub struct Kernel {
    runtime: Runtime,
    registry: Arc<Registry>,
}

impl Kernel {
    pub fn new(options: &RuntimeOptions) -> Result<Self, KernelError> {
        Ok(Self {
            runtime: Runtime::new(options)?,
            registry: Arc::new(Registry::default()),
        })
    }

    /// Compiles and type-checks every vat's component without creating
    /// anything: what `vathost check` runs, and launch's first step.
    pub fn prepare(&self, spec: &SubclusterSpec) -> Result<Vec<PreparedComponent>, LaunchError> {
        spec.vats
            .iter()
            .map(|vat| {
                self.runtime
                    .prepare(&vat.component)
                    .map_err(|source| LaunchError::Component {
                        vat: vat.name.clone(),
                        source,
                    })
            })
            .collect()
    }

    /// Launches a subcluster; on any failure nothing of it remains.
    pub async fn launch(&self, spec: SubclusterSpec) -> Result<Launched, LaunchError> {
        let components = self.prepare(&spec)?;
        // Dropping the claim on an early return releases the socket paths.
        let claim = self.registry.claim(&spec)?;
        let id = claim.id();
        let span = tracing::info_span!("subcluster", id = %id, name = %spec.name);
        let log = Arc::new(GuestLog::default());
        let started = self
            .start(id, &spec, components, &log)
            .instrument(span.clone())
            .await?;
        let launched = Launched {
            id,
            name: spec.name.clone(),
            channels: started.channel_infos(),
        };
        let channels = launched
            .channels
            .iter()
            .cloned()
            .zip(
                started
                    .channels
                    .iter()
                    .map(|(_, endpoint)| endpoint.grant()),
            )
            .collect();
        let info = Arc::new(SubclusterInfo::new(
            id,
            &spec.name,
            spec.vats.iter().map(|vat| vat.name.clone()),
            channels,
            log,
        ));
        let stop = CancellationToken::new();
        let (outcome_sender, outcome) = watch::channel(None);
        self.registry
            .add_running(claim, stop.clone(), outcome, info.clone());
        tokio::spawn(
            supervisor::supervise(
                spec,
                started.vats,
                started
                    .channels
                    .into_iter()
                    .map(|(_, endpoint)| endpoint)
                    .collect(),
                stop,
                self.registry.clone(),
                info,
                outcome_sender,
            )
            .instrument(span),
        );
        Ok(launched)
    }

    /// Terminates a subcluster: stops its vats, then closes its channels and
    /// removes their socket files. Terminating one that already ended returns
    /// how it ended.
    pub async fn terminate(&self, id: SubclusterId) -> Result<SubclusterOutcome, KernelError> {
        let mut outcome = self.registry.stop(id)?;
        wait_for(&mut outcome).await
    }

    /// Waits until the subcluster ends by itself (every vat returned, or its
    /// bootstrap vat failed) or is terminated.
    pub async fn wait(&self, id: SubclusterId) -> Result<SubclusterOutcome, KernelError> {
        let mut outcome = self.registry.outcome(id)?;
        wait_for(&mut outcome).await
    }

    /// Every subcluster this host has launched, running or ended, by id.
    pub fn list(&self) -> Vec<SubclusterStatus> {
        self.registry.statuses()
    }

    pub fn status(&self, id: SubclusterId) -> Result<SubclusterStatus, KernelError> {
        self.registry.status(id)
    }

    /// Whether the subcluster has ended; an unknown one counts as ended.
    pub fn has_ended(&self, id: SubclusterId) -> bool {
        self.registry.has_ended(id)
    }

    /// The recent stdout and stderr lines of a subcluster's vats.
    pub fn guest_log(&self, id: SubclusterId) -> Result<Arc<GuestLog>, KernelError> {
        self.registry.guest_log(id)
    }

    /// Terminates every subcluster.
    pub async fn shutdown(&self) {
        for id in self.registry.running() {
            if let Err(error) = self.terminate(id).await {
                tracing::warn!(subcluster = %id, %error, "terminate failed during shutdown");
            }
        }
    }

    /// Instantiates the vats and creates the channels; undoes it all on failure.
    async fn start(
        &self,
        id: SubclusterId,
        spec: &SubclusterSpec,
        components: Vec<PreparedComponent>,
        log: &Arc<GuestLog>,
    ) -> Result<Started, LaunchError> {
        let mut started = Started::default();
        if let Err(error) = self
            .start_into(&mut started, id, spec, components, log)
            .await
        {
            started.undo().await;
            return Err(error);
        }
        Ok(started)
    }

    async fn start_into(
        &self,
        started: &mut Started,
        id: SubclusterId,
        spec: &SubclusterSpec,
        components: Vec<PreparedComponent>,
        log: &Arc<GuestLog>,
    ) -> Result<(), LaunchError> {
        for channel in &spec.channels {
            let endpoint =
                Endpoint::open(channel)
                    .await
                    .map_err(|source| LaunchError::Channel {
                        channel: channel.name.clone(),
                        source,
                    })?;
            match endpoint.path() {
                Some(path) => tracing::info!(
                    channel = %channel.name,
                    kind = channel.kind.type_name(),
                    path = %path.display(),
                    "channel open"
                ),
                None => {
                    tracing::info!(channel = %channel.name, kind = channel.kind.type_name(), "channel open")
                }
            }
            started.channels.push((channel.clone(), endpoint));
        }
        let subcluster_label = format!("{id}:{}", spec.name);
        for (vat, component) in spec.vats.iter().zip(&components) {
            let mut instance = self
                .runtime
                .instantiate(component, &subcluster_label, vat, log)
                .await
                .map_err(|source| LaunchError::Vat {
                    vat: vat.name.clone(),
                    source,
                })?;
            for granted in &vat.channels {
                let (_, endpoint) = started
                    .channels
                    .iter()
                    .find(|(spec, _)| spec.name == *granted)
                    .ok_or_else(|| {
                        LaunchError::Internal(format!("channel `{granted}` was not created"))
                    })?;
                instance
                    .grant(endpoint.grant())
                    .map_err(|source| LaunchError::Vat {
                        vat: vat.name.clone(),
                        source,
                    })?;
            }
            started.vats.push((vat.clone(), instance));
        }
        Ok(())
    }
}

/// What launch has created so far.
#[derive(Default)]
struct Started {
    channels: Vec<(crate::config::ChannelSpec, Endpoint)>,
    vats: Vec<(crate::config::VatSpec, VatInstance)>,
}

impl Started {
    fn channel_infos(&self) -> Vec<ChannelInfo> {
        self.channels
            .iter()
            .map(|(spec, endpoint)| ChannelInfo {
                name: spec.name.clone(),
                kind: spec.kind.type_name(),
                direction: spec.direction,
                path: endpoint.path().map(std::path::Path::to_path_buf),
            })
            .collect()
    }

    /// Drops the instantiated vats (none runs yet), then closes the channels.
    async fn undo(&mut self) {
        self.vats.clear();
        for (_, endpoint) in self.channels.drain(..) {
            endpoint.close().await;
        }
    }
}

async fn wait_for(
    outcome: &mut watch::Receiver<Option<SubclusterOutcome>>,
) -> Result<SubclusterOutcome, KernelError> {
    match outcome.wait_for(Option::is_some).await {
        Ok(ended) => ended.clone().ok_or(KernelError::SupervisorLost),
        Err(_closed) => Err(KernelError::SupervisorLost),
    }
}
