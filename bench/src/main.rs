//! `vathost-bench [--quick]`: runs vathost and a native tokio echo server side
//! by side in one run and prints a table of medians and ratios.
//!
//! `vathost-bench native-echo SOCKET [--flush-per-batch | --flush-per-line]`
//! and `vathost-bench native-echo-bytes SOCKET` are the baseline servers
//! themselves, each run as its own process like vathost.

mod client;
mod messaging;
mod native;
mod nats;
mod report;
mod servers;
mod state;
mod subclusters;

use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use report::{Row, Table};

/// How much work each measurement does.
struct Scale {
    lines: usize,
    /// Bytes streamed through each byte-echo run.
    stream_bytes: usize,
    throughput_runs: usize,
    pings: usize,
    launches: usize,
    density_vats: usize,
    /// Message round trips between vats: pipelined, then one at a time.
    message_rounds: u64,
    message_pings: u64,
    /// Durable writes per vat, ten vats at once.
    writes_per_vat: u64,
    restored_subclusters: usize,
}

const FULL: Scale = Scale {
    lines: 200_000,
    stream_bytes: 256 * 1024 * 1024,
    throughput_runs: 5,
    pings: 20_000,
    launches: 50,
    density_vats: 10_000,
    message_rounds: 500_000,
    message_pings: 20_000,
    writes_per_vat: 20_000,
    restored_subclusters: 1000,
};

const QUICK: Scale = Scale {
    lines: 20_000,
    stream_bytes: 8 * 1024 * 1024,
    throughput_runs: 3,
    pings: 1_000,
    launches: 5,
    density_vats: 50,
    message_rounds: 5_000,
    message_pings: 500,
    writes_per_vat: 200,
    restored_subclusters: 20,
};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("native-echo") => native::serve(
            args.get(1)
                .context("native-echo SOCKET [--flush-per-batch | --flush-per-line]")?,
            native::Flush::from_flag(args.get(2).map(String::as_str))?,
        ),
        // Round trips with a core busy against any echo server, alone: to
        // profile a server (`perf stat -p PID -- vathost-bench round-trips ...`).
        Some("round-trips") => {
            let socket = args.get(1).context("round-trips SOCKET COUNT")?;
            let count = args.get(2).context("round-trips SOCKET COUNT")?.parse()?;
            let _spinner = client::Spinner::start();
            let mut client = client::Client::connect(std::path::Path::new(socket))?;
            client.warm_up(WARM_UP)?;
            let trips = client.round_trips(count)?;
            let at = |fraction| micros(trips.at(fraction));
            println!(
                "p50 {:.1} us, p90 {:.1} us, p99 {:.1} us, p99.9 {:.1} us",
                at(0.5),
                at(0.9),
                at(0.99),
                at(0.999)
            );
            Ok(())
        }
        // Echo throughput against any echo server, alone: to profile it.
        Some("throughput") => {
            let socket = args.get(1).context("throughput SOCKET COUNT")?;
            let count = args.get(2).context("throughput SOCKET COUNT")?.parse()?;
            let lines_per_second =
                client::Client::connect(std::path::Path::new(socket))?.throughput(count)?;
            println!("{lines_per_second:.0} lines/s");
            Ok(())
        }
        Some(role @ ("native-to-nats" | "native-from-nats")) => {
            let usage = "native-to-nats|native-from-nats SOCKET URL SUBJECT";
            let socket = args.get(1).context(usage)?;
            let url = args.get(2).context(usage)?;
            let subject = args.get(3).context(usage)?;
            if role == "native-to-nats" {
                nats::to_nats(socket, url, subject)
            } else {
                nats::from_nats(socket, url, subject)
            }
        }
        Some("native-echo-bytes") => {
            native::serve_bytes(args.get(1).context("native-echo-bytes SOCKET")?)
        }
        _ => {
            let mut scale = (&FULL, "full");
            let mut only: Option<Vec<&str>> = None;
            let mut args = args.iter().map(String::as_str);
            while let Some(arg) = args.next() {
                match arg {
                    "--quick" => scale = (&QUICK, "quick"),
                    "--only" => only = Some(args.next().context(USAGE)?.split(',').collect()),
                    other => anyhow::bail!("unknown argument {other}; {USAGE}"),
                }
            }
            if let Some(unknown) = only
                .iter()
                .flatten()
                .find(|section| !SECTIONS.iter().any(|(name, _)| name == *section))
            {
                anyhow::bail!("no section {unknown}; {USAGE}");
            }
            run(scale.0, scale.1, &|section| {
                only.as_ref().is_none_or(|only| only.contains(&section))
            })
        }
    }
}

const USAGE: &str = "usage: vathost-bench [--quick] [--only SECTION[,SECTION...]] \
     (sections: echo, bytes, messaging, state, launch, density, nats)";

/// One part of the table.
type Section = fn(&Scale, &Path, &mut Table) -> anyhow::Result<()>;

/// The parts of the table in the order they run, each of which `--only`
/// can name.
const SECTIONS: [(&str, Section); 7] = [
    ("echo", echo),
    ("bytes", bytes),
    ("messaging", vat_to_vat),
    ("state", durable_state),
    ("launch", launch),
    ("density", density),
    ("nats", through_nats),
];

/// Lines from a socket on one host to a socket on another through NATS.
fn through_nats(scale: &Scale, scratch: &Path, table: &mut Table) -> anyhow::Result<()> {
    let (ours, theirs) = nats::throughput(scratch, scale.lines, scale.throughput_runs)?;
    table.push(Row::compared(
        "socket to NATS to socket (lines/s)",
        ours,
        theirs,
        "",
    ));
    Ok(())
}

fn run(scale: &Scale, mode: &str, wanted: &dyn Fn(&str) -> bool) -> anyhow::Result<()> {
    raise_fd_limit();
    let scratch = tempfile::Builder::new().prefix("vb").tempdir_in("/tmp")?;
    let scratch = scratch.path();
    let mut table = Table::new(mode);
    for (name, section) in SECTIONS {
        if wanted(name) {
            section(scale, scratch, &mut table)?;
        }
    }
    table.print();
    Ok(())
}

/// Lines through the echo vat against native echo servers: throughput and
/// round trips.
fn echo(scale: &Scale, scratch: &Path, table: &mut Table) -> anyhow::Result<()> {
    let vathost = servers::Server::vathost(scratch)?;
    let native = servers::Server::native(scratch, native::Flush::PerBatch)?;
    let per_line = servers::Server::native(scratch, native::Flush::PerLine)?;
    let mut vathost_client = client::Client::connect(vathost.socket())?;
    let mut native_client = client::Client::connect(native.socket())?;
    let mut per_line_client = client::Client::connect(per_line.socket())?;

    let ours = median((0..scale.throughput_runs).map(|_| vathost_client.throughput(scale.lines)))?;
    let theirs = median((0..scale.throughput_runs).map(|_| native_client.throughput(scale.lines)))?;
    let naive =
        median((0..scale.throughput_runs).map(|_| per_line_client.throughput(scale.lines)))?;
    table.push(Row::compared(
        "echo throughput (lines/s)",
        ours,
        theirs,
        ">= 0.5x native",
    ));
    table.push(Row::compared(
        "  vs a write per line (lines/s)",
        ours,
        naive,
        "",
    ));

    for (load, busy) in [("idle", false), ("one core busy", true)] {
        let _spinner = busy.then(client::Spinner::start);
        vathost_client.warm_up(WARM_UP)?;
        native_client.warm_up(WARM_UP)?;
        // Rounds that alternate the servers, each percentile the median of
        // its rounds: one run's p99 swings threefold on this VM.
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        for _ in 0..scale.throughput_runs {
            ours.push(vathost_client.round_trips(scale.pings)?);
            theirs.push(native_client.round_trips(scale.pings)?);
        }
        let at = |rounds: &[client::Percentiles], fraction: f64| {
            median(rounds.iter().map(|round| Ok(micros(round.at(fraction)))))
        };
        let target = if busy { "<= 1.5x native" } else { "" };
        table.push(Row::compared(
            &format!("round trip p50, {load} (us)"),
            at(&ours, 0.50)?,
            at(&theirs, 0.50)?,
            target,
        ));
        table.push(Row::compared(
            &format!("round trip p99, {load} (us)"),
            at(&ours, 0.99)?,
            at(&theirs, 0.99)?,
            target,
        ));
    }
    Ok(())
}

/// A byte stream through the echo vat against a native byte echo.
fn bytes(scale: &Scale, scratch: &Path, table: &mut Table) -> anyhow::Result<()> {
    let vathost_bytes = servers::Server::vathost_bytes(scratch)?;
    let native_bytes = servers::Server::native_bytes(scratch)?;
    let mut ours_client = client::Client::connect(vathost_bytes.socket())?;
    let mut theirs_client = client::Client::connect(native_bytes.socket())?;
    let ours = median(
        (0..scale.throughput_runs).map(|_| ours_client.byte_throughput(scale.stream_bytes)),
    )?;
    let theirs = median(
        (0..scale.throughput_runs).map(|_| theirs_client.byte_throughput(scale.stream_bytes)),
    )?;
    table.push(Row::compared(
        "byte-stream echo (MB/s)",
        ours / 1e6,
        theirs / 1e6,
        ">= 0.5x native",
    ));
    Ok(())
}

/// Messages between two vats against two native tasks.
fn vat_to_vat(scale: &Scale, scratch: &Path, table: &mut Table) -> anyhow::Result<()> {
    let ours = messaging::vats(scratch, scale.message_rounds, scale.message_pings)?;
    let theirs = messaging::native(scale.message_rounds, scale.message_pings)?;
    table.push(Row::compared(
        "vat-to-vat round trips, pipelined (/s)",
        ours.pipelined,
        theirs.pipelined,
        ">= 200,000/s",
    ));
    table.push(Row::compared(
        "vat-to-vat round trip p50 (us)",
        micros(ours.p50),
        micros(theirs.p50),
        "<= 20 us",
    ));
    table.push(Row::compared(
        "vat-to-vat round trip p99 (us)",
        micros(ours.p99),
        micros(theirs.p99),
        "",
    ));
    Ok(())
}

/// Durable writes against native writers, and restoring subclusters.
fn durable_state(scale: &Scale, scratch: &Path, table: &mut Table) -> anyhow::Result<()> {
    let writes = state::durable_writes(scratch, 10, scale.writes_per_vat)?;
    let native_writes = state::native_writes(scratch, 10, scale.writes_per_vat)?;
    table.push(Row::compared(
        "durable writes, 10 writers at once (/s)",
        writes,
        native_writes,
        ">= 50,000/s",
    ));
    let restore = state::restore_time(scratch, scale.restored_subclusters)?;
    table.push(Row::alone(
        &format!(
            "daemon start restoring {} subclusters (ms)",
            scale.restored_subclusters
        ),
        millis(restore),
        "",
    ));
    Ok(())
}

/// Launch times, in process and as a whole `vathost check` process.
fn launch(scale: &Scale, scratch: &Path, table: &mut Table) -> anyhow::Result<()> {
    let launch = subclusters::launch_times(scratch, scale.launches)?;
    table.push(Row::alone(
        "launch 3 vats, compiling (ms)",
        millis(launch.compiling),
        "",
    ));
    table.push(Row::alone(
        "launch 3 vats, from disk cache (ms)",
        millis(launch.disk_cache),
        "",
    ));
    table.push(Row::alone(
        "launch 3 vats, warm (ms)",
        millis(launch.warm),
        "<= 1 ms",
    ));
    let check = subclusters::process_start(scratch)?;
    table.push(Row::alone(
        "`vathost check` process, no cache (ms)",
        millis(check.cold),
        "",
    ));
    table.push(Row::alone(
        "`vathost check` process, disk cache (ms)",
        millis(check.cached),
        "reuses compiled code",
    ));
    Ok(())
}

/// Idle vats one host holds, and what each costs.
fn density(scale: &Scale, scratch: &Path, table: &mut Table) -> anyhow::Result<()> {
    let density = subclusters::density(scratch, scale.density_vats)?;
    table.push(Row::alone(
        &format!("idle vats held: {}, RSS per vat (KiB)", density.vats),
        density.rss_per_vat_kib,
        "10,000 at <= 1024 KiB",
    ));
    table.push(Row::alone(
        "memory mappings per idle vat",
        density.maps_per_vat,
        "",
    ));
    Ok(())
}

fn median(samples: impl Iterator<Item = anyhow::Result<f64>>) -> anyhow::Result<f64> {
    let mut samples = samples.collect::<anyhow::Result<Vec<f64>>>()?;
    samples.sort_by(f64::total_cmp);
    samples
        .get(samples.len() / 2)
        .copied()
        .context("no samples")
}

/// Round trips before those measured (see `Client::warm_up`).
const WARM_UP: Duration = Duration::from_millis(200);

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// Many idle vats need many sockets: lift the soft fd limit to the hard one.
fn raise_fd_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let raised = rustix::process::Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    if let Err(error) = setrlimit(Resource::Nofile, raised) {
        eprintln!("cannot raise the open-file limit: {error}");
    }
}
