//! Message round trips between two vats (the `pingpong` test vat, timed
//! inside the vat) against the same exchange between two native tokio tasks
//! of one process: a bounded inbox channel and a oneshot answer per message,
//! which is what a host of this kind does without isolation.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use tokio::sync::{mpsc, oneshot};
use vathost::kernel::Kernel;
use vathost::runtime::RuntimeOptions;

use crate::servers::component;

pub struct RoundTrips {
    /// Pipelined round trips per second.
    pub pipelined: f64,
    pub p50: Duration,
    pub p99: Duration,
}

/// Pipelined window: how many answers are outstanding at once.
const WINDOW: u64 = 1000;

pub fn vats(dir: &Path, rounds: u64, pings: u64) -> anyhow::Result<RoundTrips> {
    let pingpong = component("pingpong")?;
    let config = serde_json::json!({
        "bootstrap": "pinger",
        "vats": {
            "pinger": {
                "component": pingpong,
                "parameters": { "role": "pinger", "rounds": rounds, "window": WINDOW, "pings": pings },
            },
            "ponger": {
                "component": pingpong,
                "parameters": { "role": "ponger" },
                "limits": { "inbox": WINDOW },
            },
        },
    })
    .to_string();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let kernel = Kernel::new(&RuntimeOptions { cache_dir: None })?;
        let spec = vathost::config::from_json(&config, "pingpong", dir)?;
        let launched = kernel.launch(spec).await?;
        let outcome = kernel.wait(launched.id).await?;
        ensure!(
            outcome.first_failure().is_none(),
            "pingpong failed: {outcome:?}"
        );
        let log = kernel.guest_log(launched.id)?;
        let lines: Vec<String> = log.since(0).into_iter().map(|line| line.text).collect();
        let number = |prefix: &str, index: usize| -> anyhow::Result<u64> {
            lines
                .iter()
                .find_map(|line| line.strip_prefix(prefix))
                .and_then(|rest| rest.split_whitespace().nth(index))
                .and_then(|word| word.parse().ok())
                .with_context(|| format!("no `{prefix}` line in the vat's output: {lines:?}"))
        };
        let elapsed = Duration::from_nanos(number("pipelined ", 2)?);
        Ok(RoundTrips {
            pipelined: rounds as f64 / elapsed.as_secs_f64(),
            p50: Duration::from_nanos(number("latency p50 ", 0)?),
            p99: Duration::from_nanos(number("latency p50 ", 2)?),
        })
    })
}

/// A message as the native baseline carries it: a method, a JSON body (as
/// the vats' are) and the answer's sender.
struct Message {
    method: &'static str,
    body: String,
    answer: oneshot::Sender<String>,
}

pub fn native(rounds: u64, pings: u64) -> anyhow::Result<RoundTrips> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (inbox, mut messages) = mpsc::channel::<Message>(WINDOW as usize);
        let ponger = tokio::spawn(async move {
            while let Some(message) = messages.recv().await {
                if message.method == "ping" {
                    let n: u64 = serde_json::from_str(&message.body).unwrap_or(u64::MAX);
                    let _ = message
                        .answer
                        .send(serde_json::to_string(&n).unwrap_or_default());
                }
            }
        });
        let pinger = tokio::spawn(async move {
            let call = |n: u64| {
                let (answer, answered) = oneshot::channel();
                let message = Message {
                    method: "ping",
                    body: serde_json::to_string(&n).unwrap_or_default(),
                    answer,
                };
                (message, answered)
            };
            let started = Instant::now();
            let mut done = 0;
            while done < rounds {
                let batch = WINDOW.min(rounds - done);
                let mut answers = Vec::with_capacity(batch as usize);
                for n in done..done + batch {
                    let (message, answered) = call(n);
                    inbox.send(message).await?;
                    answers.push(answered);
                }
                for answered in answers {
                    let _: u64 = serde_json::from_str(&answered.await?)?;
                }
                done += batch;
            }
            let elapsed = started.elapsed();
            let mut latencies = Vec::with_capacity(pings as usize);
            for n in 0..pings {
                let sent = Instant::now();
                let (message, answered) = call(n);
                inbox.send(message).await?;
                let _: u64 = serde_json::from_str(&answered.await?)?;
                latencies.push(sent.elapsed());
            }
            latencies.sort_unstable();
            let at = |fraction: f64| latencies[((latencies.len() - 1) as f64 * fraction) as usize];
            anyhow::Ok(RoundTrips {
                pipelined: rounds as f64 / elapsed.as_secs_f64(),
                p50: at(0.5),
                p99: at(0.99),
            })
        });
        let result = pinger.await??;
        ponger.abort();
        Ok(result)
    })
}
