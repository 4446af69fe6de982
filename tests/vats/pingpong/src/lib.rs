//! Message round trips between two vats, timed inside the vat (send,
//! receive, fulfil, answer seen). The `role` parameter picks the side:
//!
//! - `pinger` (bootstrap): `rounds` round trips pipelined `window` at a
//!   time, then `pings` one at a time; prints
//!   `pipelined <rounds> in <ns> ns` and `latency p50 <ns> p99 <ns>`, then
//!   stops the ponger and returns, which ends the subcluster.
//! - `ponger`: answers `ping` with its argument until told `stop`.
use std::time::Instant;

use vat_sdk::{Answer, Methods, Objects, Vat};

fn pingpong(vat: Vat) -> vat_sdk::Result {
    match vat.parameters.get_str("role").as_deref() {
        Some("pinger") => pinger(vat),
        Some("ponger") => ponger(vat),
        other => Err(format!("`role` must be `pinger` or `ponger`, not {other:?}").into()),
    }
}

fn pinger(mut vat: Vat) -> vat_sdk::Result {
    let ponger = vat.roots.take("ponger")?;
    let rounds = vat.parameters.get_u64("rounds").unwrap_or(100_000);
    let window = vat.parameters.get_u64("window").unwrap_or(1000).max(1);
    let pings = vat.parameters.get_u64("pings").unwrap_or(10_000).max(1);

    let started = Instant::now();
    let mut done = 0;
    while done < rounds {
        let batch = window.min(rounds - done);
        let answers: Vec<Answer> = (done..done + batch)
            .map(|n| ponger.send("ping", &n))
            .collect();
        for (answer, n) in answers.into_iter().zip(done..) {
            let echoed: u64 = answer.get()?;
            if echoed != n {
                return Err(format!("ping {n} was answered with {echoed}").into());
            }
        }
        done += batch;
    }
    println!("pipelined {rounds} in {} ns", started.elapsed().as_nanos());

    let mut latencies: Vec<u128> = (0..pings)
        .map(|n| {
            let sent = Instant::now();
            ponger
                .send("ping", &n)
                .get::<u64>()
                .map(|_| sent.elapsed().as_nanos())
        })
        .collect::<Result<_, _>>()?;
    latencies.sort_unstable();
    let at = |fraction: f64| latencies[((latencies.len() - 1) as f64 * fraction) as usize];
    println!("latency p50 {} p99 {}", at(0.5), at(0.99));
    ponger.send("stop", &()).wait()?;
    Ok(())
}

fn ponger(vat: Vat) -> vat_sdk::Result {
    let mut objects =
        Objects::new().with_root(Methods::new(()).method("ping", |_, n: u64| Ok::<_, String>(n)));
    loop {
        let call = vat.inbox.wait();
        if call.method == "stop" {
            call.reply(&());
            return Ok(());
        }
        objects.dispatch(call);
    }
}

vat_sdk::entry!(pingpong);
