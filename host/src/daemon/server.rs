//! The control socket: accepts many connections at once, each a sequence of
//! JSON-RPC requests, one per line.
//!
//! What connections can hold is bounded: at most [`MAX_CONNECTIONS`] at
//! once, each buffering at most one request of [`MAX_REQUEST`] bytes. When
//! the table is full, the connection idle the longest (not in the middle of
//! a call) is closed to make room, so idle or half-sent connections cannot
//! stop the daemon serving anyone. A client that does not take its response
//! within [`RESPONSE_TIMEOUT`] is disconnected.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio_util::sync::CancellationToken;

use super::protocol::{self, After, MAX_REQUEST};
use super::{DaemonError, control_socket};
use crate::config::SocketSpec;
use crate::io::{LineFramer, OwnedFrame, SocketError, SocketFile};
use crate::kernel::Kernel;

/// Serves `kernel` on the control socket in `home` until a `shutdown`
/// request or `stop` resolves; then terminates every subcluster and removes
/// the control socket.
///
/// `kernel` opens the kernel; it runs only once this daemon holds the home
/// (its control socket), so a second daemon never touches the first one's
/// state.
pub async fn serve(
    home: &Path,
    kernel: impl Future<Output = Result<Kernel, crate::kernel::KernelError>>,
    metrics: Option<std::net::SocketAddr>,
    stop: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    create_home(home)?;
    let spec = SocketSpec {
        path: control_socket(home),
        mode: 0o600,
    };
    let (file, listener) = SocketFile::bind(&spec).await.map_err(|error| match error {
        SocketError::InUse { .. } => DaemonError::AlreadyRunning {
            home: home.to_path_buf(),
        },
        other => DaemonError::Control(other),
    })?;
    // Bound before anything is restored: a bad address fails the start.
    let metrics = match metrics {
        Some(address) => match tokio::net::TcpListener::bind(address).await {
            Ok(listener) => Some(listener),
            Err(source) => {
                file.remove();
                return Err(DaemonError::Metrics { address, source });
            }
        },
        None => None,
    };
    let kernel = match kernel.await {
        Ok(kernel) => Arc::new(kernel),
        Err(error) => {
            file.remove();
            return Err(DaemonError::Kernel(error));
        }
    };
    let shutdown = CancellationToken::new();
    if let Some(listener) = metrics {
        if let Ok(address) = listener.local_addr() {
            tracing::info!("metrics on http://{address}/metrics");
        }
        tokio::spawn(super::metrics::serve(
            listener,
            kernel.clone(),
            shutdown.clone(),
        ));
    }
    tracing::info!(socket = %spec.path.display(), "daemon ready");
    let connections = Arc::new(Mutex::new(Connections::default()));
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let Some(slot) = admit(&connections) else {
                        // Every connection is in the middle of a call.
                        let _ = stream.try_write(format!("{}\n", protocol::busy()).as_bytes());
                        continue;
                    };
                    tokio::spawn(connection(
                        kernel.clone(),
                        stream,
                        shutdown.clone(),
                        connections.clone(),
                        slot,
                    ));
                }
                Err(error) => {
                    tracing::warn!(%error, "control socket accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
        }
    }
    tracing::info!("daemon shutting down");
    drop(listener);
    kernel.shutdown().await;
    file.remove();
    shutdown.cancel();
    Ok(())
}

/// Creates the daemon's home, private to its owner.
pub fn create_home(home: &Path) -> Result<(), DaemonError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(home)
        .map_err(|source| DaemonError::Home {
            path: home.to_path_buf(),
            source,
        })
}

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 32;
/// How long a client may take to read a response before it is disconnected.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
const READ_BUFFER: usize = 16 * 1024;

#[derive(Default)]
struct Connections {
    next: u64,
    live: HashMap<u64, Slot>,
}

struct Slot {
    last_active: Instant,
    in_call: bool,
    evict: CancellationToken,
}

/// A connection's place in the table.
struct Admitted {
    id: u64,
    evict: CancellationToken,
}

/// Makes room for a new connection, closing the one idle the longest if
/// the table is full; `None` if every connection is in a call.
fn admit(connections: &Mutex<Connections>) -> Option<Admitted> {
    let mut table = connections.lock().unwrap_or_else(PoisonError::into_inner);
    if table.live.len() >= MAX_CONNECTIONS {
        let idlest = table
            .live
            .iter()
            .filter(|(_, slot)| !slot.in_call)
            .min_by_key(|(_, slot)| slot.last_active)
            .map(|(id, _)| *id)?;
        if let Some(slot) = table.live.remove(&idlest) {
            tracing::info!("control connections full: closing the one idle the longest");
            slot.evict.cancel();
        }
    }
    table.next += 1;
    let id = table.next;
    let evict = CancellationToken::new();
    table.live.insert(
        id,
        Slot {
            last_active: Instant::now(),
            in_call: false,
            evict: evict.clone(),
        },
    );
    Some(Admitted { id, evict })
}

fn mark(connections: &Mutex<Connections>, id: u64, in_call: bool) {
    let mut table = connections.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(slot) = table.live.get_mut(&id) {
        slot.in_call = in_call;
        slot.last_active = Instant::now();
    }
}

async fn connection(
    kernel: Arc<Kernel>,
    stream: UnixStream,
    shutdown: CancellationToken,
    connections: Arc<Mutex<Connections>>,
    slot: Admitted,
) {
    serve_connection(&kernel, stream, &shutdown, &connections, &slot).await;
    connections
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .live
        .remove(&slot.id);
}

async fn serve_connection(
    kernel: &Arc<Kernel>,
    stream: UnixStream,
    shutdown: &CancellationToken,
    connections: &Mutex<Connections>,
    slot: &Admitted,
) {
    let (mut reader, mut writer) = stream.into_split();
    let mut framer = LineFramer::new(MAX_REQUEST);
    let mut buffer = vec![0u8; READ_BUFFER];
    let mut frames = Vec::new();
    loop {
        let read = tokio::select! {
            () = shutdown.cancelled() => return,
            () = slot.evict.cancelled() => return,
            read = reader.read(&mut buffer) => read,
        };
        let count = match read {
            Ok(0) | Err(_) => return,
            Ok(count) => count,
        };
        framer.push(&buffer[..count], |frame| frames.push(frame.into_owned()));
        for frame in frames.drain(..) {
            mark(connections, slot.id, true);
            let (response, after) = match frame {
                OwnedFrame::Line(line) if line.trim().is_empty() => (None, After::Continue),
                OwnedFrame::Line(line) => protocol::handle_line(kernel, &line).await,
                OwnedFrame::TooLong => (Some(protocol::too_long()), After::Continue),
                OwnedFrame::InvalidUtf8(_) => (Some(protocol::not_utf8()), After::Continue),
            };
            if let Some(response) = response {
                let mut line = response.to_string();
                line.push('\n');
                let sent =
                    tokio::time::timeout(RESPONSE_TIMEOUT, writer.write_all(line.as_bytes()));
                if !matches!(sent.await, Ok(Ok(()))) {
                    return;
                }
            }
            mark(connections, slot.id, false);
            if let After::Shutdown = after {
                shutdown.cancel();
                return;
            }
        }
    }
}
