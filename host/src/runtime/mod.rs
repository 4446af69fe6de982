//! The wasmtime side: one engine per host, compiled components cached by
//! file, and one store per vat holding nothing but an empty WASI context and
//! the channel and object handles the kernel grants.

mod activity;
mod guest_log;
mod guest_output;
mod limits;
mod state;
mod usage;
mod vat;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};

use crate::bindings::VatPre;
pub use activity::VatActivity;
pub use guest_log::{GuestLine, GuestLog};
pub use limits::CpuBudgetExceeded;
pub use state::VatState;
pub use usage::VatUsage;
pub use vat::{VatFailure, VatInstance};

/// How often running wasm is interrupted to yield to the async executor, so
/// that a vat computing without pause cannot starve other vats or socket IO.
const EPOCH_TICK: Duration = Duration::from_millis(10);

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot set up the WebAssembly engine: {0}")]
    Engine(String),
    #[error("cannot read component {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a valid WebAssembly component: {message}", path.display())]
    Compile { path: PathBuf, message: String },
    #[error("{} does not implement the `vathost:vat/vat` world: {message}", path.display())]
    World { path: PathBuf, message: String },
    #[error("cannot instantiate: {0}")]
    Instantiate(String),
}

/// How the runtime is set up.
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    /// Where compiled components are kept across processes, so that a
    /// second start of the host does not compile them again. `None` keeps
    /// compiled code in memory only.
    pub cache_dir: Option<PathBuf>,
}

impl RuntimeOptions {
    /// The per-user default cache: `$XDG_CACHE_HOME/vathost` or `~/.cache/vathost`.
    pub fn default_cache_dir() -> Option<PathBuf> {
        std::env::var_os("XDG_CACHE_HOME")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
            .map(|dir| dir.join("vathost"))
    }
}

/// What each instance of a vat is given, and what the vat keeps from one
/// instance to the next (a restart, an upgrade): its log, its mailbox, its
/// durable state, the meter of its usage.
#[derive(Clone)]
pub struct InstanceContext {
    /// The subcluster, for the vat's log lines.
    pub subcluster: String,
    pub log: Arc<GuestLog>,
    pub mailbox: Arc<crate::messaging::Mailbox>,
    pub store: crate::state::VatStoreCtx,
    pub usage: Arc<VatUsage>,
}

/// A compiled, type-checked component, ready to instantiate any number of
/// times, with the bytes it was compiled from (what the daemon records).
#[derive(Clone)]
pub struct PreparedComponent {
    pre: VatPre<VatState>,
    bytes: Arc<[u8]>,
    digest: crate::state::ComponentDigest,
}

impl PreparedComponent {
    pub fn bytes(&self) -> &Arc<[u8]> {
        &self.bytes
    }

    pub fn digest(&self) -> &crate::state::ComponentDigest {
        &self.digest
    }
}

pub struct Runtime {
    engine: Engine,
    linker: Linker<VatState>,
    components: Mutex<HashMap<PathBuf, (FileStamp, PreparedComponent)>>,
    /// Compiled components by content, for recorded ones: a daemon that
    /// restores a thousand subclusters of one component compiles it once.
    by_digest: Mutex<HashMap<crate::state::ComponentDigest, PreparedComponent>>,
    ticker: EpochTicker,
}

/// What must be unchanged for a cached compilation of a file to be reused.
#[derive(Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
}

impl Runtime {
    pub fn new(options: &RuntimeOptions) -> Result<Self, RuntimeError> {
        let engine_error = |error: wasmtime::Error| RuntimeError::Engine(format!("{error:#}"));
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .wasm_backtrace_details(wasmtime::WasmBacktraceDetails::Enable);
        // Copy-on-write memory images cost two extra memory mappings per vat
        // (6.2 instead of 4.2, measured), and Linux caps a process at 65,530
        // mappings by default: without this a host holds ~9,400 vats, with
        // it over 10,000. Copying a vat's small data segments instead costs
        // no resident memory and ~0.1 ms per launch (BENCHMARKS.md).
        config.memory_init_cow(false);
        if let Some(dir) = &options.cache_dir {
            let mut cache = wasmtime::CacheConfig::new();
            cache.with_directory(dir);
            config.cache(Some(wasmtime::Cache::new(cache).map_err(engine_error)?));
        }
        let engine = Engine::new(&config).map_err(engine_error)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .and_then(|()| crate::io::add_to_linker(&mut linker))
            .and_then(|()| crate::messaging::add_to_linker(&mut linker))
            .and_then(|()| crate::state::add_to_linker(&mut linker))
            .map_err(engine_error)?;
        let ticker = EpochTicker::start(engine.clone());
        Ok(Self {
            engine,
            linker,
            components: Mutex::new(HashMap::new()),
            by_digest: Mutex::new(HashMap::new()),
            ticker,
        })
    }

    /// Reads, compiles and type-checks the component at `path` against the
    /// vat world. Unchanged files are compiled once per host.
    pub fn prepare(&self, path: &Path) -> Result<PreparedComponent, RuntimeError> {
        let (file, stamp, compiled) = self.open_component(path)?;
        if let Some(prepared) = compiled {
            return Ok(prepared);
        }
        let read_error = |source| RuntimeError::Read {
            path: path.to_path_buf(),
            source,
        };
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut &file, &mut bytes).map_err(read_error)?;
        let digest = crate::state::ComponentDigest::of(&bytes);
        let prepared = self.compile(path, bytes, digest)?;
        self.cache()
            .insert(path.to_path_buf(), (stamp, prepared.clone()));
        Ok(prepared)
    }

    /// The component at `path` if this host compiled it and the file has
    /// not changed since (its length and modification time), else `None`:
    /// a few quick system calls (open, stat), never a compile.
    pub fn prepared_if_unchanged(
        &self,
        path: &Path,
    ) -> Result<Option<PreparedComponent>, RuntimeError> {
        Ok(self.open_component(path)?.2)
    }

    /// Opens the component at `path` (a regular file, reached through its
    /// directory) and looks it up among those compiled from that path.
    fn open_component(
        &self,
        path: &Path,
    ) -> Result<(std::fs::File, FileStamp, Option<PreparedComponent>), RuntimeError> {
        let read_error = |source| RuntimeError::Read {
            path: path.to_path_buf(),
            source,
        };
        let (dir, name) = crate::files::open_parent(path).map_err(read_error)?;
        let file =
            crate::files::open_regular(&dir, &name, cap_std::fs::OpenOptions::new().read(true))
                .map_err(read_error)?;
        let metadata = file.metadata().map_err(read_error)?;
        let stamp = FileStamp {
            len: metadata.len(),
            modified: metadata.modified().ok(),
        };
        let compiled = self
            .cache()
            .get(path)
            .filter(|(cached, _)| *cached == stamp)
            .map(|(_, prepared)| prepared.clone());
        Ok((file, stamp, compiled))
    }

    /// Compiles and type-checks component bytes (a recorded component);
    /// `label` names it in errors.
    pub fn prepare_bytes(
        &self,
        label: &Path,
        bytes: Vec<u8>,
    ) -> Result<PreparedComponent, RuntimeError> {
        let digest = crate::state::ComponentDigest::of(&bytes);
        if let Some(prepared) = self.prepared(&digest) {
            return Ok(prepared);
        }
        let prepared = self.compile(label, bytes, digest.clone())?;
        self.by_digest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(digest, prepared.clone());
        Ok(prepared)
    }

    /// A recorded component compiled earlier in this host, by digest.
    pub fn prepared(&self, digest: &crate::state::ComponentDigest) -> Option<PreparedComponent> {
        self.by_digest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(digest)
            .cloned()
    }

    fn compile(
        &self,
        path: &Path,
        bytes: Vec<u8>,
        digest: crate::state::ComponentDigest,
    ) -> Result<PreparedComponent, RuntimeError> {
        let component =
            Component::new(&self.engine, &bytes).map_err(|error| RuntimeError::Compile {
                path: path.to_path_buf(),
                message: format!("{error:#}"),
            })?;
        let world_error = |error: wasmtime::Error| RuntimeError::World {
            path: path.to_path_buf(),
            message: format!("{error:#}"),
        };
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(world_error)?;
        let pre = VatPre::new(instance_pre).map_err(world_error)?;
        Ok(PreparedComponent {
            pre,
            digest,
            bytes: Arc::from(bytes),
        })
    }

    /// Creates a fresh store for a vat and instantiates the component in it.
    pub async fn instantiate(
        &self,
        component: &PreparedComponent,
        vat: &crate::config::VatSpec,
        context: InstanceContext,
    ) -> Result<VatInstance, RuntimeError> {
        VatInstance::new(&self.engine, &component.pre, vat, context).await
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, (FileStamp, PreparedComponent)>> {
        // A panic while holding this lock cannot leave the map half-updated.
        self.components
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker.stop();
    }
}

/// Advances the engine's epoch on a timer thread.
struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let spawned = std::thread::Builder::new()
            .name("vathost-epoch".to_owned())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            });
        if let Err(error) = spawned {
            tracing::error!(%error, "cannot start the epoch thread: busy vats will not yield");
        }
        Self { stop }
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
