//! The kernel launches subclusters from validated specs and terminates them.
//!
//! Launch is all or nothing: components are compiled and type-checked before
//! anything is created, socket paths are claimed in the host-wide registry,
//! channels are bound, vats are instantiated and granted their channels, and
//! only then do any vats run. A failure at any step undoes every step before
//! it and returns the original error.

mod error;
mod registry;
mod request_slot;
mod runner;
mod status;
mod supervisor;

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::config::{ChannelKind, Direction, SubclusterSpec};
use crate::io::Endpoint;
use crate::messaging::{Mailbox, MailboxLimits, ObjectRef};
use crate::runtime::GuestLog;
use crate::runtime::{PreparedComponent, Runtime, RuntimeOptions, VatInstance};
use crate::state::{Database, StoreLimits, SubclusterRecord, VatKey, VatStoreCtx};
pub use error::{KernelError, LaunchError};
pub use registry::KEPT_ENDED_SUBCLUSTERS;
use registry::Registry;
use runner::VatBlueprint;
use status::SubclusterInfo;
pub use status::{ChannelStatus, SubclusterState, SubclusterStatus, VatState, VatStatus};
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

impl<'de> serde::Deserialize<'de> for SubclusterId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse()
            .map_err(|_| serde::de::Error::custom(format!("`{text}` is not a subcluster id")))
    }
}

impl std::str::FromStr for SubclusterId {
    type Err = std::num::ParseIntError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.strip_prefix('s').unwrap_or(text).parse().map(Self)
    }
}

/// Where a launched subcluster's channel can be reached.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChannelInfo {
    pub name: String,
    /// The config's `type`: `socket`, `listen`, `connect`, `console`,
    /// `file` or `nats`.
    #[serde(rename = "type")]
    pub kind: String,
    pub direction: Direction,
    /// The socket or file; none for the console and NATS.
    pub path: Option<PathBuf>,
    /// A NATS channel's subject and server: `orders on nats://host:4222`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

/// What a caller learns from a successful launch.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Launched {
    pub id: SubclusterId,
    pub name: String,
    pub channels: Vec<ChannelInfo>,
}

pub struct Kernel {
    runtime: Arc<Runtime>,
    /// Every vat's durable state, and the subcluster records.
    database: Arc<Database>,
    /// Whether launches are recorded, to be restored when the host starts
    /// again (the daemon does this).
    recording: bool,
    registry: Arc<Registry>,
    /// Launches in progress, which shutdown waits for.
    launches: TaskTracker,
    /// Set once shutdown has begun: no launch starts or completes after it.
    closing: CancellationToken,
}

impl Kernel {
    /// A kernel whose vats keep their state in memory.
    pub fn new(options: &RuntimeOptions) -> Result<Self, KernelError> {
        Self::with_database(options, Database::open(None)?, false)
    }

    /// A kernel whose vats keep their state in the SQLite file `state`,
    /// where a vat finds what it kept in an earlier run under the same
    /// subcluster id and vat name.
    pub fn with_state(
        options: &RuntimeOptions,
        state: &std::path::Path,
    ) -> Result<Self, KernelError> {
        Self::with_database(options, Database::open(Some(state))?, false)
    }

    /// The daemon's kernel: state and subcluster records in the SQLite file
    /// `state`. Every subcluster recorded there (those running when an
    /// earlier daemon stopped or was killed) is launched again under its
    /// id, its vats with their state; one that cannot be is listed as
    /// unrestored with the reason, and the others are restored regardless.
    pub async fn restoring(
        options: &RuntimeOptions,
        state: &std::path::Path,
    ) -> Result<Self, KernelError> {
        let kernel = Self::with_database(options, Database::open(Some(state))?, true)?;
        // State whose subcluster has no record was left by one that ended
        // while its record was being deleted.
        kernel.database.forget_unrecorded().await?;
        let records = kernel.database.records().await?;
        kernel
            .registry
            .reserve_ids(records.iter().map(|record| record.id).max().unwrap_or(0));
        for record in records {
            let (id, name) = (SubclusterId(record.id), record.name.clone());
            match kernel.restore(record).await {
                Ok(_) => tracing::info!(subcluster = %id, %name, "restored"),
                Err((vats, error)) => {
                    let reason = error_chain(&error);
                    tracing::error!(subcluster = %id, %name, %reason, "cannot restore");
                    kernel.registry.add_unrestored(
                        id,
                        &name,
                        vats,
                        &reason,
                        kernel.database.clone(),
                    );
                }
            }
        }
        Ok(kernel)
    }

    /// Launches a recorded subcluster again; on failure, the names of its
    /// vats (if its config still parses) and why.
    async fn restore(
        &self,
        record: SubclusterRecord,
    ) -> Result<Launched, (Vec<String>, LaunchError)> {
        let spec = crate::config::from_json(&record.config, &record.name, &record.base)
            .map_err(|error| (Vec::new(), LaunchError::Config(error)))?;
        let vats: Vec<String> = spec.vats.iter().map(|vat| vat.name.clone()).collect();
        let fail = |error| (vats.clone(), error);
        let mut components = Vec::new();
        for vat in &spec.vats {
            let component_error = |message: String| LaunchError::Component {
                vat: vat.name.clone(),
                source: crate::runtime::RuntimeError::Instantiate(message),
            };
            let digest = record
                .components
                .iter()
                .find(|(name, _)| *name == vat.name)
                .map(|(_, digest)| digest)
                .ok_or_else(|| fail(component_error("no component was recorded".to_owned())))?;
            if let Some(prepared) = self.runtime.prepared(digest) {
                components.push(prepared);
                continue;
            }
            let bytes = self
                .database
                .component(digest)
                .await
                .map_err(|error| fail(component_error(error.to_string())))?
                .ok_or_else(|| {
                    fail(component_error(format!(
                        "recorded component {digest} is missing"
                    )))
                })?;
            let runtime = self.runtime.clone();
            let label = vat.component.clone();
            let prepared =
                tokio::task::spawn_blocking(move || runtime.prepare_bytes(&label, bytes))
                    .await
                    .map_err(|error| fail(LaunchError::Internal(error.to_string())))?
                    .map_err(|source| {
                        fail(LaunchError::Component {
                            vat: vat.name.clone(),
                            source,
                        })
                    })?;
            components.push(prepared);
        }
        crate::config::preflight_channels(&spec)
            .map_err(|error| fail(LaunchError::Config(error)))?;
        self.launcher()
            .launch_prepared(spec, components, Some(SubclusterId(record.id)))
            .await
            .map_err(fail)
    }

    fn launcher(&self) -> Launcher {
        Launcher {
            runtime: self.runtime.clone(),
            database: self.database.clone(),
            registry: self.registry.clone(),
            closing: self.closing.clone(),
            recording: self.recording,
        }
    }

    fn with_database(
        options: &RuntimeOptions,
        database: Arc<Database>,
        recording: bool,
    ) -> Result<Self, KernelError> {
        Ok(Self {
            runtime: Arc::new(Runtime::new(options)?),
            database,
            recording,
            registry: Arc::new(Registry::default()),
            launches: TaskTracker::new(),
            closing: CancellationToken::new(),
        })
    }

    /// Compiles and type-checks every vat's component without creating
    /// anything: what `vathost check` runs, and launch's first step.
    ///
    /// Blocking (it reads files and compiles): async callers use [`Kernel::launch`].
    pub fn prepare(&self, spec: &SubclusterSpec) -> Result<Vec<PreparedComponent>, LaunchError> {
        compile_all(&self.runtime, spec)
    }

    /// Launches a subcluster; on any failure nothing of it remains.
    ///
    /// The launch runs as a task of its own: a caller that goes away midway
    /// (a control connection that closed) cannot leave half a subcluster
    /// behind, and [`Kernel::shutdown`] waits for it or undoes it.
    pub async fn launch(&self, spec: SubclusterSpec) -> Result<Launched, LaunchError> {
        if self.closing.is_cancelled() {
            return Err(LaunchError::ShuttingDown);
        }
        let launcher = self.launcher();
        self.launches
            .spawn(launcher.launch(spec))
            .await
            .map_err(|error| LaunchError::Internal(format!("the launch task failed: {error}")))?
    }

    /// Terminates a subcluster: stops its vats, then closes its channels and
    /// removes their socket files. Terminating one that already ended returns
    /// how it ended.
    pub async fn terminate(&self, id: SubclusterId) -> Result<SubclusterOutcome, KernelError> {
        if let Some(outcome) = self.registry.take_unrestored(id) {
            supervisor::forget(&self.database, id).await;
            return Ok(outcome);
        }
        let mut outcome = self.registry.stop(id)?;
        wait_for(&mut outcome).await
    }

    /// Replaces the component of vat `vat` in a running subcluster. The new
    /// component is compiled and checked against the vat world first (a bad
    /// one changes nothing); then, once the vat is blocked waiting for
    /// input, its instance is replaced by one of the new component with the
    /// same channels, refs, mailbox and state. What clients send meanwhile
    /// waits in the channels. A recorded subcluster is restored with the new
    /// component from then on. Returns the new component's digest.
    pub async fn upgrade(
        &self,
        id: SubclusterId,
        vat: &str,
        component: &std::path::Path,
    ) -> Result<crate::state::ComponentDigest, KernelError> {
        let info = self.registry.running_info(id)?;
        let sender = info
            .upgrades
            .iter()
            .find(|(name, _)| name == vat)
            .map(|(_, sender)| sender.clone())
            .ok_or_else(|| KernelError::UnknownVat {
                id,
                vat: vat.to_owned(),
            })?;
        let runtime = self.runtime.clone();
        let path = component.to_path_buf();
        let prepared = tokio::task::spawn_blocking(move || runtime.prepare(&path))
            .await
            .map_err(|error| KernelError::UpgradeFailed {
                vat: vat.to_owned(),
                reason: format!("the compile task failed: {error}"),
            })?
            .map_err(|source| KernelError::UpgradeComponent {
                vat: vat.to_owned(),
                source,
            })?;
        let gone = || KernelError::UpgradeFailed {
            vat: vat.to_owned(),
            reason: "the vat has ended".to_owned(),
        };
        let (done, result) = tokio::sync::oneshot::channel();
        sender
            .send(Box::new(runner::Upgrade {
                component: prepared.clone(),
                done,
            }))
            .await
            .map_err(|_| gone())?;
        result
            .await
            .map_err(|_| gone())?
            .map_err(|reason| KernelError::UpgradeFailed {
                vat: vat.to_owned(),
                reason,
            })?;
        if self.recording {
            self.database
                .record_upgrade(
                    id.0,
                    vat,
                    (prepared.digest().clone(), prepared.bytes().clone()),
                )
                .await?;
        }
        Ok(prepared.digest().clone())
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

    /// Terminates every subcluster. Launches in progress are undone first
    /// (or, past their last step, terminated with the rest), and no launch
    /// starts after this.
    pub async fn shutdown(&self) {
        self.closing.cancel();
        self.launches.close();
        self.launches.wait().await;
        // Every supervisor is told first, so the subclusters end side by side.
        let ending: Vec<_> = self
            .registry
            .running()
            .into_iter()
            .filter_map(|id| self.registry.stop(id).ok().map(|outcome| (id, outcome)))
            .collect();
        for (id, mut outcome) in ending {
            if let Err(error) = wait_for(&mut outcome).await {
                tracing::warn!(subcluster = %id, %error, "terminate failed during shutdown");
            }
        }
    }
}

/// Whether [`components`] may compile.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Compile {
    IfNeeded,
    /// Only components compiled earlier, unchanged: `None` if any is not.
    Never,
}

/// Checks the paths the config names, then compiles and type-checks every
/// vat's component (blocking work).
fn compile_all(
    runtime: &Runtime,
    spec: &SubclusterSpec,
) -> Result<Vec<PreparedComponent>, LaunchError> {
    crate::config::preflight(spec)?;
    compile_components(runtime, spec)
}

/// Every vat's component, compiled as needed (blocking work); the paths
/// already checked.
fn compile_components(
    runtime: &Runtime,
    spec: &SubclusterSpec,
) -> Result<Vec<PreparedComponent>, LaunchError> {
    components(runtime, spec, Compile::IfNeeded)?
        .ok_or_else(|| LaunchError::Internal("a component was left uncompiled".to_owned()))
}

/// Every vat's component: compiled as needed, or with [`Compile::Never`]
/// only those this host compiled before (`None` if any is not).
fn components(
    runtime: &Runtime,
    spec: &SubclusterSpec,
    compile: Compile,
) -> Result<Option<Vec<PreparedComponent>>, LaunchError> {
    // Vats of one component share its file: it is opened and checked once
    // per launch, not once per vat.
    let mut prepared: Vec<(&std::path::Path, PreparedComponent)> = Vec::new();
    let mut components = Vec::with_capacity(spec.vats.len());
    for vat in &spec.vats {
        if let Some((_, component)) = prepared.iter().find(|(path, _)| *path == vat.component) {
            components.push(component.clone());
            continue;
        }
        let component = match compile {
            Compile::IfNeeded => runtime.prepare(&vat.component).map(Some),
            Compile::Never => runtime.prepared_if_unchanged(&vat.component),
        };
        let component = match component {
            Ok(Some(component)) => component,
            Ok(None) => return Ok(None),
            Err(source) => {
                return Err(LaunchError::Component {
                    vat: vat.name.clone(),
                    source,
                });
            }
        };
        prepared.push((&vat.component, component.clone()));
        components.push(component);
    }
    Ok(Some(components))
}

/// What one launch task needs of the kernel.
struct Launcher {
    runtime: Arc<Runtime>,
    database: Arc<Database>,
    registry: Arc<Registry>,
    closing: CancellationToken,
    recording: bool,
}

impl Launcher {
    async fn launch(self, spec: SubclusterSpec) -> Result<Launched, LaunchError> {
        // Components this host compiled before need only their files
        // checked (an open and a stat each, as quick as the socket files'
        // own checks below): done here. Reading and compiling a component is
        // blocking work: off the async workers, so that other subclusters
        // and clients are not held up. (The hand-off to the blocking pool
        // and back was a fifth of a warm launch.) The paths are checked
        // once, here, either way.
        crate::config::preflight(&spec)?;
        let (spec, components) = match components(&self.runtime, &spec, Compile::Never)? {
            Some(components) => (spec, components),
            None => tokio::task::spawn_blocking({
                let runtime = self.runtime.clone();
                move || compile_components(&runtime, &spec).map(|components| (spec, components))
            })
            .await
            .map_err(|error| {
                LaunchError::Internal(format!("the compile task failed: {error}"))
            })??,
        };
        self.launch_prepared(spec, components, None).await
    }

    /// Launches with compiled components: as `id` when restoring, as a new
    /// subcluster (recorded, if this kernel records) otherwise.
    async fn launch_prepared(
        self,
        spec: SubclusterSpec,
        components: Vec<PreparedComponent>,
        restoring: Option<SubclusterId>,
    ) -> Result<Launched, LaunchError> {
        // Dropping the claim on an early return releases the socket paths.
        let claim = self.registry.claim(&spec, restoring)?;
        let id = claim.id();
        let record = (self.recording && restoring.is_none()).then(|| {
            let record = SubclusterRecord {
                id: id.0,
                name: spec.name.clone(),
                config: spec.text.clone(),
                base: spec.base.clone(),
                components: spec
                    .vats
                    .iter()
                    .zip(&components)
                    .map(|(vat, component)| (vat.name.clone(), component.digest().clone()))
                    .collect(),
            };
            let bytes = components
                .iter()
                .map(|component| (component.digest().clone(), component.bytes().clone()))
                .collect();
            (record, bytes)
        });
        let span = tracing::info_span!("subcluster", id = %id, name = %spec.name);
        let log = Arc::new(GuestLog::default());
        let mut started = self
            .start(id, &spec, components, &log)
            .instrument(span.clone())
            .await?;
        // Recorded before anyone learns of the launch: a host killed after
        // answering restores what it answered about.
        if let Some((record, bytes)) = record
            && let Err(error) = self.database.record(record, bytes).await
        {
            started.undo().await;
            return Err(LaunchError::State(error));
        }
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
        let (upgrade_senders, upgrade_receivers): (Vec<_>, Vec<_>) = started
            .vats
            .iter()
            .map(|(blueprint, _)| {
                let (sender, receiver) = request_slot::request_slot();
                ((blueprint.spec.name.clone(), sender), receiver)
            })
            .unzip();
        let vats = started
            .vats
            .iter()
            .map(|(blueprint, _)| (blueprint.mailbox.clone(), blueprint.usage.clone()))
            .collect();
        let info = Arc::new(SubclusterInfo::new(
            id,
            &spec.name,
            vats,
            channels,
            log,
            self.database.clone(),
            upgrade_senders,
        ));
        let stop = CancellationToken::new();
        let (outcome_sender, outcome) = watch::channel(None);
        self.registry
            .add_running(claim, stop.clone(), outcome, info.clone());
        let mut endpoints: Vec<Endpoint> = started
            .channels
            .into_iter()
            .map(|(_, endpoint)| endpoint)
            .collect();
        // Collected in place, the Vec keeps the room of the (spec, endpoint)
        // pairs it came from, for as long as the subcluster runs.
        endpoints.shrink_to_fit();
        tokio::spawn(
            supervisor::supervise(supervisor::Supervised {
                bootstrap: spec.bootstrap,
                runtime: self.runtime.clone(),
                vats: started.vats.into_iter().zip(upgrade_receivers).collect(),
                channels: endpoints,
                stop,
                host_closing: self.closing.clone(),
                recorded: self.recording,
                registry: self.registry.clone(),
                info,
                outcome: outcome_sender,
            })
            .instrument(span),
        );
        Ok(launched)
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
            self.check_not_closing()?;
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
        // Every mailbox before any vat: the bootstrap vat's roots point at
        // the others'.
        started.mailboxes = spec
            .vats
            .iter()
            .map(|vat| {
                Mailbox::new(
                    &vat.name,
                    MailboxLimits {
                        inbox: vat.limits.inbox,
                        message: vat.limits.message,
                    },
                )
            })
            .collect();
        let subcluster_label = format!("{id}:{}", spec.name);
        for ((vat, component), mailbox) in spec.vats.iter().zip(components).zip(&started.mailboxes)
        {
            self.check_not_closing()?;
            let vat_error = |source| LaunchError::Vat {
                vat: vat.name.clone(),
                source,
            };
            let roots = if vat.name == spec.bootstrap {
                started
                    .mailboxes
                    .iter()
                    .filter(|other| other.vat() != mailbox.vat())
                    .map(|other| (other.vat().to_string(), ObjectRef::new(other.clone(), 0)))
                    .collect()
            } else {
                Vec::new()
            };
            let grants = vat
                .channels
                .iter()
                .map(|granted| {
                    started
                        .channels
                        .iter()
                        .find(|(spec, _)| spec.name == *granted)
                        .map(|(_, endpoint)| endpoint.grant())
                        .ok_or_else(|| {
                            LaunchError::Internal(format!("channel `{granted}` was not created"))
                        })
                })
                .collect::<Result<_, _>>()?;
            let blueprint = VatBlueprint {
                spec: vat.clone(),
                component,
                label: subcluster_label.clone(),
                log: log.clone(),
                mailbox: mailbox.clone(),
                store: VatStoreCtx::new(
                    self.database.clone(),
                    VatKey::new(id, &vat.name),
                    StoreLimits {
                        total: vat.limits.store,
                    },
                ),
                usage: Arc::default(),
                grants,
                roots,
            };
            let instance = blueprint
                .instantiate(&self.runtime)
                .await
                .map_err(vat_error)?;
            started.vats.push((blueprint, instance));
        }
        self.check_not_closing()
    }

    /// A shutdown that began during this launch ends it: its steps are undone.
    fn check_not_closing(&self) -> Result<(), LaunchError> {
        if self.closing.is_cancelled() {
            Err(LaunchError::ShuttingDown)
        } else {
            Ok(())
        }
    }
}

/// What launch has created so far.
#[derive(Default)]
struct Started {
    channels: Vec<(crate::config::ChannelSpec, Endpoint)>,
    vats: Vec<(VatBlueprint, VatInstance)>,
    /// One per vat, in config order.
    mailboxes: Vec<Arc<Mailbox>>,
}

impl Started {
    fn channel_infos(&self) -> Vec<ChannelInfo> {
        self.channels
            .iter()
            .map(|(spec, endpoint)| ChannelInfo {
                name: spec.name.clone(),
                kind: spec.kind.type_name().to_owned(),
                direction: spec.direction,
                path: endpoint.path().map(std::path::Path::to_path_buf),
                subject: match &spec.kind {
                    ChannelKind::Nats(nats) => Some(format!("{} on {}", nats.subject, nats.url)),
                    _ => None,
                },
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

/// An error and its causes on one line, outermost first.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
