//! Launch times and density, measured on an in-process kernel (the host as a
//! library), plus whole-process starts with and without the disk cache.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use vathost::config::SubclusterSpec;
use vathost::kernel::Kernel;
use vathost::runtime::RuntimeOptions;

use crate::servers::{echo_component, vathost_binary};

pub struct LaunchTimes {
    /// A fresh host with an empty disk cache: includes compiling.
    pub compiling: Duration,
    /// A fresh host whose disk cache holds the compiled component.
    pub disk_cache: Duration,
    /// Median of later launches in the same host.
    pub warm: Duration,
}

/// A subcluster of three echo vats, one channel each, from config text to
/// every vat instantiated and started.
fn three_vats(dir: &Path, tag: &str) -> anyhow::Result<String> {
    let echo = echo_component()?;
    let socket = |name: &str| dir.join(format!("{tag}-{name}.sock"));
    Ok(serde_json::json!({
        "bootstrap": "a",
        "vats": {
            "a": { "component": echo },
            "b": { "component": echo, "io": ["b"] },
            "c": { "component": echo, "io": ["c"] },
        },
        "io": {
            "a": { "type": "socket", "path": socket("a") },
            "b": { "type": "socket", "path": socket("b") },
            "c": { "type": "socket", "path": socket("c") },
        },
    })
    .to_string())
}

fn parse(text: &str, dir: &Path) -> anyhow::Result<SubclusterSpec> {
    Ok(vathost::config::from_json(text, "bench", dir)?)
}

async fn timed_launch(kernel: &Kernel, text: &str, dir: &Path) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let launched = kernel.launch(parse(text, dir)?).await?;
    let elapsed = started.elapsed();
    kernel.terminate(launched.id).await?;
    Ok(elapsed)
}

pub fn launch_times(dir: &Path, launches: usize) -> anyhow::Result<LaunchTimes> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let options = RuntimeOptions {
            cache_dir: Some(dir.join("launch-cache")),
        };
        let text = three_vats(dir, "launch")?;
        let compiling = timed_launch(&Kernel::new(&options)?, &text, dir).await?;
        let kernel = Kernel::new(&options)?;
        let disk_cache = timed_launch(&kernel, &text, dir).await?;
        let mut warm = Vec::new();
        for _ in 0..launches {
            warm.push(timed_launch(&kernel, &text, dir).await?);
        }
        warm.sort();
        Ok(LaunchTimes {
            compiling,
            disk_cache,
            warm: warm[warm.len() / 2],
        })
    })
}

pub struct ProcessStart {
    pub cold: Duration,
    pub cached: Duration,
}

/// `vathost check` as a whole process: with an empty cache directory it
/// compiles; the second time it must load the compiled code instead.
pub fn process_start(dir: &Path) -> anyhow::Result<ProcessStart> {
    let config = dir.join("check.json");
    std::fs::write(&config, three_vats(dir, "check")?)?;
    let cache = dir.join("check-cache");
    let check = || -> anyhow::Result<Duration> {
        let started = Instant::now();
        let status = Command::new(vathost_binary()?)
            .arg("check")
            .arg("--cache-dir")
            .arg(&cache)
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .status()
            .context("run vathost check")?;
        ensure!(status.success(), "vathost check failed");
        Ok(started.elapsed())
    };
    let cold = check()?;
    let cached = check()?;
    Ok(ProcessStart { cold, cached })
}

pub struct Density {
    pub vats: usize,
    pub rss_per_vat_kib: f64,
    /// Memory mappings per vat: what `vm.max_map_count` bounds.
    pub maps_per_vat: f64,
}

/// Launches `count` one-vat subclusters, each with its own socket channel and
/// an idle echo vat blocked in `read`, and divides the growth of this
/// process's resident memory by their number.
pub fn density(dir: &Path, count: usize) -> anyhow::Result<Density> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let kernel = Kernel::new(&RuntimeOptions {
            cache_dir: Some(dir.join("launch-cache")),
        })?;
        let echo = echo_component()?;
        let sockets = dir.join("density");
        std::fs::create_dir_all(&sockets)?;
        let spec = |index: usize| {
            let text = serde_json::json!({
                "bootstrap": "v",
                "vats": { "v": { "component": echo } },
                "io": { "c": { "type": "socket", "path": sockets.join(format!("{index}.sock")) } },
            })
            .to_string();
            parse(&text, dir)
        };
        // Compile and warm up before the baseline.
        let warmup = kernel.launch(spec(usize::MAX)?).await?;
        kernel.terminate(warmup.id).await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let before = resident_bytes()?;
        let maps_before = mappings()?;
        for index in 0..count {
            kernel
                .launch(spec(index)?)
                .await
                .with_context(|| format!("launching idle vat {} of {count}", index + 1))?;
        }
        let maps_per_vat = mappings()?.saturating_sub(maps_before) as f64 / count as f64;
        // Let every vat reach its blocking read.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = resident_bytes()?;
        kernel.shutdown().await;
        Ok(Density {
            vats: count,
            rss_per_vat_kib: after.saturating_sub(before) as f64 / count as f64 / 1024.0,
            maps_per_vat,
        })
    })
}

fn resident_bytes() -> anyhow::Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .context("statm has no resident field")?
        .parse()?;
    Ok(pages * rustix::param::page_size() as u64)
}

fn mappings() -> anyhow::Result<usize> {
    Ok(std::fs::read_to_string("/proc/self/maps")?.lines().count())
}
