//! The control socket: accepts many connections at once, each a sequence of
//! JSON-RPC requests, one per line.

use std::path::Path;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio_util::sync::CancellationToken;

use super::protocol::{self, After, MAX_REQUEST};
use super::{DaemonError, control_socket};
use crate::config::SocketSpec;
use crate::io::{Frame, LineFramer, SocketError, SocketFile};
use crate::kernel::Kernel;

/// Serves `kernel` on the control socket in `home` until a `shutdown`
/// request or `stop` resolves; then terminates every subcluster and removes
/// the control socket.
pub async fn serve(
    home: &Path,
    kernel: Arc<Kernel>,
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
    tracing::info!(socket = %spec.path.display(), "daemon ready");
    let shutdown = CancellationToken::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(connection(kernel.clone(), stream, shutdown.clone()));
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

fn create_home(home: &Path) -> Result<(), DaemonError> {
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

async fn connection(kernel: Arc<Kernel>, stream: UnixStream, shutdown: CancellationToken) {
    let (mut reader, mut writer) = stream.into_split();
    let mut framer = LineFramer::new(MAX_REQUEST);
    let mut buffer = vec![0u8; 64 * 1024];
    let mut frames = Vec::new();
    loop {
        let read = tokio::select! {
            () = shutdown.cancelled() => return,
            read = reader.read(&mut buffer) => read,
        };
        let count = match read {
            Ok(0) | Err(_) => return,
            Ok(count) => count,
        };
        framer.push(&buffer[..count], |frame| frames.push(frame));
        for frame in frames.drain(..) {
            let (response, after) = match frame {
                Frame::Line(line) if line.trim().is_empty() => continue,
                Frame::Line(line) => protocol::handle_line(&kernel, &line).await,
                Frame::TooLong => (Some(protocol::too_long()), After::Continue),
                Frame::InvalidUtf8(_) => (Some(protocol::not_utf8()), After::Continue),
            };
            if let Some(response) = response {
                let mut line = response.to_string();
                line.push('\n');
                if writer.write_all(line.as_bytes()).await.is_err() {
                    return;
                }
            }
            if let After::Shutdown = after {
                shutdown.cancel();
                return;
            }
        }
    }
}
