//! Durable vat state: writes per second from many vats at once, and the
//! time a daemon takes to restore many subclusters when it starts.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use vathost::kernel::Kernel;
use vathost::runtime::RuntimeOptions;

use crate::servers::{component, echo_component};

/// `vats` vats of the `scribe` test vat in one subcluster, each making
/// `writes` durable writes one after another; the rate over the slowest.
pub fn durable_writes(dir: &Path, vats: usize, writes: u64) -> anyhow::Result<f64> {
    let scribe = component("scribe")?;
    let mut config = serde_json::json!({ "bootstrap": "w0", "vats": {} });
    for n in 0..vats {
        config["vats"][format!("w{n}")] =
            serde_json::json!({ "component": scribe, "parameters": { "writes": writes } });
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let state = dir.join("writes.db");
        let kernel = Kernel::with_state(&RuntimeOptions { cache_dir: None }, &state)?;
        let spec = vathost::config::from_json(&config.to_string(), "writes", dir)?;
        let launched = kernel.launch(spec).await?;
        let outcome = kernel.wait(launched.id).await?;
        ensure!(
            outcome.first_failure().is_none(),
            "a writer failed: {outcome:?}"
        );
        let slowest = kernel
            .guest_log(launched.id)?
            .since(0)
            .into_iter()
            .filter_map(|line| {
                line.text
                    .strip_prefix("wrote ")
                    .and_then(|rest| rest.split_whitespace().nth(2))
                    .and_then(|ns| ns.parse::<u64>().ok())
            })
            .max()
            .context("no `wrote` line in the vats' output")?;
        Ok((vats as u64 * writes) as f64 / Duration::from_nanos(slowest).as_secs_f64())
    })
}

/// A daemon's kernel records `subclusters` one-vat subclusters (an echo
/// vat each, on its own socket) and stops; a new one restores them all.
/// The time from opening the state file to every subcluster running.
pub fn restore_time(dir: &Path, subclusters: usize) -> anyhow::Result<Duration> {
    let echo = echo_component()?;
    let state = dir.join("restore.db");
    let options = RuntimeOptions {
        cache_dir: Some(dir.join("restore-cache")),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let kernel = Kernel::restoring(&options, &state).await?;
        for n in 0..subclusters {
            let config = serde_json::json!({
                "bootstrap": "main",
                "vats": { "main": { "component": echo } },
                "io": { "ctl": { "type": "socket", "path": dir.join(format!("r{n}.sock")) } },
            });
            let spec = vathost::config::from_json(&config.to_string(), "restore", dir)?;
            kernel.launch(spec).await?;
        }
        // A daemon stopping keeps its records, as one killed does.
        kernel.shutdown().await;
        drop(kernel);
        let started = Instant::now();
        let kernel = Kernel::restoring(&options, &state).await?;
        let elapsed = started.elapsed();
        let running = kernel.list().len();
        ensure!(
            running == subclusters,
            "restored {running} of {subclusters}"
        );
        kernel.shutdown().await;
        Ok(elapsed)
    })
}

/// The same writes without vats: `tasks` tokio tasks, each making `writes`
/// durable writes one after another through the same group-committing
/// SQLite writer (WAL, `synchronous=NORMAL`), as a native program that
/// batches its commits would.
pub fn native_writes(dir: &Path, tasks: usize, writes: u64) -> anyhow::Result<f64> {
    use vathost::state::{Database, StoreLimits, VatKey};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let database = Database::open(Some(&dir.join("native-writes.db")))?;
        let started = Instant::now();
        let mut writers = tokio::task::JoinSet::new();
        for n in 0..tasks {
            let database = database.clone();
            writers.spawn(async move {
                let vat = VatKey::new("s1", &format!("w{n}"));
                let limits = StoreLimits { total: u64::MAX };
                for key in 0..writes {
                    database
                        .write(
                            &vat,
                            limits,
                            vec![(format!("key {key}"), b"sixteen bytes ok".to_vec())],
                            Vec::new(),
                        )
                        .await?;
                }
                anyhow::Ok(())
            });
        }
        while let Some(joined) = writers.join_next().await {
            joined??;
        }
        Ok((tasks as u64 * writes) as f64 / started.elapsed().as_secs_f64())
    })
}
