//! `vathost run --watch`: swaps a vat for its rebuilt component.
//!
//! The component files are polled rather than watched through inotify: a
//! build tool replaces a file in several ways (rename over it, hard link,
//! truncate and write), and a poll that sees the same length and
//! modification time twice in a row knows the write has finished, which an
//! event stream would need the same settling for.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use vathost::config::SubclusterSpec;
use vathost::kernel::{Kernel, SubclusterId};

/// How often component files are looked at. A change is acted on once it
/// has looked the same for one more poll.
const POLL: Duration = Duration::from_millis(250);

/// One subcluster that `run` launched, as watched.
pub struct Watched {
    pub config: PathBuf,
    pub id: SubclusterId,
    /// Each vat's component file.
    pub components: Vec<(String, PathBuf)>,
}

/// Each vat's component file.
pub fn components(spec: &SubclusterSpec) -> Vec<(String, PathBuf)> {
    spec.vats
        .iter()
        .map(|vat| (vat.name.clone(), vat.component.clone()))
        .collect()
}

/// What identifies a version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

async fn stamp(path: &Path) -> Option<Stamp> {
    let metadata = tokio::fs::metadata(path).await.ok()?;
    Some(Stamp {
        len: metadata.len(),
        modified: metadata.modified().ok(),
    })
}

/// Watches until cancelled (the caller selects on it with its signals).
/// A changed component upgrades every running vat built from it (its
/// clients stay connected); a subcluster that has ended is launched again
/// from its config, re-read, under a new id.
pub async fn watch(kernel: &Kernel, watched: &mut [Watched]) {
    let mut seen: HashMap<PathBuf, Option<Stamp>> = HashMap::new();
    for subcluster in watched.iter() {
        for (_, path) in &subcluster.components {
            seen.insert(path.clone(), stamp(path).await);
        }
    }
    let mut settling: HashMap<PathBuf, Option<Stamp>> = HashMap::new();
    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        poll.tick().await;
        let paths: Vec<PathBuf> = seen.keys().cloned().collect();
        for path in paths {
            let now = stamp(&path).await;
            if seen.get(&path) == Some(&now) {
                settling.remove(&path);
                continue;
            }
            if settling.get(&path) != Some(&now) {
                // Still being written, perhaps: look again next poll.
                settling.insert(path, now);
                continue;
            }
            settling.remove(&path);
            seen.insert(path.clone(), now);
            if now.is_none() {
                tracing::info!(component = %path.display(), "component removed; keeping the running version");
                continue;
            }
            for subcluster in watched.iter_mut() {
                if subcluster.components.iter().any(|(_, used)| *used == path) {
                    changed(kernel, subcluster, &path).await;
                    // A relaunch re-reads the config, which may name new files.
                    for (_, used) in &subcluster.components {
                        if !seen.contains_key(used) {
                            seen.insert(used.clone(), stamp(used).await);
                        }
                    }
                }
            }
        }
    }
}

async fn changed(kernel: &Kernel, subcluster: &mut Watched, path: &Path) {
    if kernel.has_ended(subcluster.id) {
        relaunch(kernel, subcluster).await;
        return;
    }
    for (vat, _) in subcluster
        .components
        .iter()
        .filter(|(_, used)| used == path)
    {
        match kernel.upgrade(subcluster.id, vat, path).await {
            Ok(digest) => tracing::info!(
                subcluster = %subcluster.id, %vat, component = %path.display(),
                "upgraded to the changed component (sha256:{digest})"
            ),
            Err(error) => tracing::warn!(
                subcluster = %subcluster.id, %vat, component = %path.display(),
                "not upgraded; keeping the running version: {:#}",
                anyhow::Error::new(error)
            ),
        }
    }
}

async fn relaunch(kernel: &Kernel, subcluster: &mut Watched) {
    let config = subcluster.config.display().to_string();
    let spec = match vathost::config::load(&subcluster.config) {
        Ok(spec) => spec,
        Err(error) => {
            tracing::warn!(%config, "not launched again: {error}");
            return;
        }
    };
    let components = components(&spec);
    match kernel.launch(spec).await {
        Ok(launched) => {
            tracing::info!(
                %config, ended = %subcluster.id, subcluster = %launched.id,
                "a component changed: launched the ended subcluster again"
            );
            subcluster.id = launched.id;
            subcluster.components = components;
        }
        Err(error) => tracing::warn!(
            %config,
            "not launched again: {:#}",
            anyhow::Error::new(error)
        ),
    }
}
