//! The daemon's metrics: the Prometheus (OpenMetrics) text exposition on
//! `GET /metrics`, built from a status snapshot at each scrape.
//!
//! The HTTP side is a few lines over tokio rather than an HTTP framework:
//! one read-only endpoint, a request head of bounded size read within a
//! bounded time, one response, and the connection closed.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::io::LinkState;
use crate::kernel::{Kernel, SubclusterState, SubclusterStatus, VatState};

/// Scrapes served at once; more connections wait for a slot.
const MAX_SCRAPES: usize = 4;
/// The longest request head read; a scrape's is a few hundred bytes.
const MAX_REQUEST_HEAD: usize = 8 * 1024;
/// How long a client may take to send its request and take the response.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SubclusterLabels {
    subcluster: String,
    name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VatLabels {
    subcluster: String,
    vat: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VatStateLabels {
    subcluster: String,
    vat: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabels {
    subcluster: String,
    channel: String,
}

type Gauges<L> = Family<L, Gauge>;
type Counters<L> = Family<L, Counter>;

/// A family registered under `name`, to be filled below.
fn family<M>(registry: &mut Registry, name: &str, help: &str) -> M
where
    M: Clone + Default + prometheus_client::registry::Metric,
{
    let metric = M::default();
    registry.register(name, help, metric.clone());
    metric
}

/// The exposition of every subcluster the kernel lists. Labels are a fixed
/// set: subcluster id, and vat or channel name (the subcluster's name is
/// on `vathost_subcluster_info` alone).
pub fn encode(subclusters: &[SubclusterStatus]) -> String {
    let mut registry = Registry::with_prefix("vathost");
    let states: Gauges<StateLabels> = family(
        &mut registry,
        "subclusters",
        "Subclusters the daemon lists, by state",
    );
    let info: Gauges<SubclusterLabels> = family(
        &mut registry,
        "subcluster_info",
        "Each subcluster's id and name (always 1)",
    );
    let vat_state: Gauges<VatStateLabels> = family(
        &mut registry,
        "vat_state",
        "1 for the state each vat is in, 0 for the others",
    );
    let cpu_seconds: Family<VatLabels, Counter<f64, AtomicU64>> = family(
        &mut registry,
        "vat_cpu_seconds",
        "CPU time each vat used (its wasm and the host work of its calls), over all its instances",
    );
    let memory: Gauges<VatLabels> = family(
        &mut registry,
        "vat_memory_bytes",
        "Linear memory of each running vat",
    );
    let traps: Counters<VatLabels> = family(
        &mut registry,
        "vat_traps",
        "Failures of each vat that were traps (panics, bad handles, CPU budget)",
    );
    let restarts: Counters<VatLabels> = family(
        &mut registry,
        "vat_restarts",
        "Times each vat was started again after a failure",
    );
    let upgrades: Counters<VatLabels> = family(
        &mut registry,
        "vat_upgrades",
        "Times each vat's component was replaced while it ran",
    );
    let inbox: Gauges<VatLabels> = family(
        &mut registry,
        "vat_inbox_depth",
        "Messages waiting in each vat's inbox",
    );
    let store: Gauges<VatLabels> = family(
        &mut registry,
        "vat_store_bytes",
        "Durable state each vat keeps",
    );
    let lines_in: Counters<ChannelLabels> = family(
        &mut registry,
        "channel_lines_in",
        "Lines the vats read from each channel",
    );
    let bytes_in: Counters<ChannelLabels> = family(
        &mut registry,
        "channel_bytes_in",
        "Bytes the vats read from each channel",
    );
    let lines_out: Counters<ChannelLabels> = family(
        &mut registry,
        "channel_lines_out",
        "Lines the vats wrote to each channel",
    );
    let bytes_out: Counters<ChannelLabels> = family(
        &mut registry,
        "channel_bytes_out",
        "Bytes the vats wrote to each channel",
    );
    let clients: Gauges<ChannelLabels> = family(
        &mut registry,
        "channel_clients",
        "Whether a client is connected to each channel (0 or 1)",
    );
    let clients_served: Counters<ChannelLabels> = family(
        &mut registry,
        "channel_clients_served",
        "Clients each channel has served",
    );
    let messages_in: Counters<ChannelLabels> = family(
        &mut registry,
        "channel_messages_in",
        "Messages each NATS channel received",
    );
    let messages_out: Counters<ChannelLabels> = family(
        &mut registry,
        "channel_messages_out",
        "Messages each NATS channel sent",
    );
    let dropped: Counters<ChannelLabels> = family(
        &mut registry,
        "channel_messages_dropped",
        "Messages each NATS channel dropped because its vat fell behind",
    );
    let link: Gauges<ChannelLabels> = family(
        &mut registry,
        "channel_link_connected",
        "Whether each NATS channel's connection to its server is up (0 or 1)",
    );

    for state in [
        SubclusterState::Running,
        SubclusterState::Ended,
        SubclusterState::Unrestored,
    ] {
        let count = subclusters
            .iter()
            .filter(|subcluster| subcluster.state == state)
            .count();
        states
            .get_or_create(&StateLabels {
                state: state.to_string(),
            })
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }
    for subcluster in subclusters {
        info.get_or_create(&SubclusterLabels {
            subcluster: subcluster.id.clone(),
            name: subcluster.name.clone(),
        })
        .set(1);
        for vat in &subcluster.vats {
            let labels = VatLabels {
                subcluster: subcluster.id.clone(),
                vat: vat.name.clone(),
            };
            for state in [
                VatState::Running,
                VatState::Returned,
                VatState::Failed,
                VatState::Stopped,
            ] {
                vat_state
                    .get_or_create(&VatStateLabels {
                        subcluster: subcluster.id.clone(),
                        vat: vat.name.clone(),
                        state: state.to_string(),
                    })
                    .set(i64::from(vat.state == state));
            }
            cpu_seconds
                .get_or_create(&labels)
                .inc_by(vat.cpu_ms / 1000.0);
            memory.get_or_create(&labels).set(gauge(vat.memory_bytes));
            traps.get_or_create(&labels).inc_by(u64::from(vat.traps));
            restarts
                .get_or_create(&labels)
                .inc_by(u64::from(vat.restarts));
            upgrades
                .get_or_create(&labels)
                .inc_by(u64::from(vat.upgrades));
            inbox.get_or_create(&labels).set(i64::from(vat.inbox.depth));
            store.get_or_create(&labels).set(gauge(vat.store_bytes));
        }
        for channel in &subcluster.channels {
            let labels = ChannelLabels {
                subcluster: subcluster.id.clone(),
                channel: channel.info.name.clone(),
            };
            let stats = &channel.stats;
            lines_in.get_or_create(&labels).inc_by(stats.lines_in);
            bytes_in.get_or_create(&labels).inc_by(stats.bytes_in);
            lines_out.get_or_create(&labels).inc_by(stats.lines_out);
            bytes_out.get_or_create(&labels).inc_by(stats.bytes_out);
            clients
                .get_or_create(&labels)
                .set(i64::from(stats.client_connected));
            clients_served
                .get_or_create(&labels)
                .inc_by(stats.clients_served);
            if let Some(state) = stats.link {
                messages_in.get_or_create(&labels).inc_by(stats.messages_in);
                messages_out
                    .get_or_create(&labels)
                    .inc_by(stats.messages_out);
                dropped.get_or_create(&labels).inc_by(stats.dropped);
                link.get_or_create(&labels)
                    .set(i64::from(state == LinkState::Connected));
            }
        }
    }
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
    text
}

fn gauge(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Serves `GET /metrics` on `listener` until `stop`.
pub async fn serve(listener: TcpListener, kernel: Arc<Kernel>, stop: CancellationToken) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_SCRAPES));
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(%error, "metrics accept failed");
                // Out of descriptors, typically: let some close first.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let kernel = kernel.clone();
        tokio::spawn(async move {
            if let Err(error) = tokio::time::timeout(SCRAPE_TIMEOUT, answer(stream, &kernel)).await
            {
                tracing::debug!(%error, "metrics client too slow");
            }
            drop(slot);
        });
    }
}

async fn answer(mut stream: TcpStream, kernel: &Kernel) {
    let Some(head) = read_head(&mut stream).await else {
        return;
    };
    let request_line = head.lines().next().unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next(), parts.next());
    let (status, content_type, body) = match (method, target) {
        (Some("GET"), Some("/metrics")) => ("200 OK", CONTENT_TYPE, encode(&kernel.list())),
        (Some("GET"), Some(_)) => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "metrics are at /metrics\n".to_owned(),
        ),
        _ => (
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            "GET /metrics only\n".to_owned(),
        ),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(response.as_bytes()).await.is_ok() {
        let _ = stream.shutdown().await;
    }
}

/// The request head, up to the blank line; `None` if the client closed
/// first or sent more than [`MAX_REQUEST_HEAD`] bytes without one.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    loop {
        let read = stream.read(&mut buffer).await.ok()?;
        if read == 0 {
            return None;
        }
        head.extend_from_slice(&buffer[..read]);
        if head.windows(4).any(|window| window == b"\r\n\r\n")
            || head.windows(2).any(|window| window == b"\n\n")
        {
            return Some(String::from_utf8_lossy(&head).into_owned());
        }
        if head.len() > MAX_REQUEST_HEAD {
            return None;
        }
    }
}
