//! A Unix socket channel: the host listens at the configured path and serves
//! one client at a time, `\n`-framed.
//!
//! The socket file is handled through a capability on its parent directory
//! (cap-std): stat, removal and permissions are relative to that directory,
//! and `bind` goes through `/proc/self/fd/N/NAME` because Linux has no
//! `bindat`. The directory is opened for each of these steps rather than held,
//! so a channel costs one file descriptor (hosts of 10,000 channels run into
//! the open-file limit otherwise). The file is removed on close only if it is
//! still the one this channel bound, so a file someone else put there is
//! never deleted.

use std::ffi::OsString;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use cap_std::fs::{Dir, FileTypeExt, MetadataExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinSet;

use super::channel::{Channel, ClientWriter, InboundSender};
use super::spec::{ChannelSpec, SocketSpec};

/// Why a socket channel could not be created.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("cannot open the directory of socket {}", path.display())]
    Directory {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("socket {} is in use: something is listening on it", path.display())]
    InUse { path: PathBuf },
    #[error("{} exists and is not a socket; it is left alone", path.display())]
    NotASocket { path: PathBuf },
    #[error("cannot listen on socket {}", path.display())]
    Bind {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// How long a connect to an existing socket may take before it counts as live.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// A listening socket channel. Dropping it without [`SocketChannel::close`]
/// leaves the accept task running; the kernel always closes.
pub struct SocketChannel {
    channel: Arc<Channel>,
    path: PathBuf,
    acceptor: tokio::task::JoinHandle<()>,
    file: SocketFile,
}

impl SocketChannel {
    /// Binds the socket and starts accepting clients.
    pub async fn listen(spec: &ChannelSpec, socket: &SocketSpec) -> Result<Self, SocketError> {
        let (file, listener) = SocketFile::bind(socket).await?;
        let (channel, inbound) = Channel::new(spec);
        let acceptor = tokio::spawn(accept_clients(listener, channel.clone(), inbound));
        Ok(Self {
            channel,
            path: socket.path.clone(),
            acceptor,
            file,
        })
    }

    pub fn channel(&self) -> &Arc<Channel> {
        &self.channel
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the channel, disconnects its client, stops listening and
    /// removes the socket file. In-flight calls return `Closed`.
    pub async fn close(self) {
        self.channel.close();
        if let Err(error) = self.acceptor.await {
            tracing::warn!(channel = self.channel.name(), %error, "socket accept task failed");
        }
        self.channel.release().await;
        self.file.remove();
    }
}

/// A socket file this process bound, removed by [`SocketFile::remove`] only
/// while it is still that same file.
pub struct SocketFile {
    name: OsString,
    path: PathBuf,
    /// Device and inode of the socket this channel bound.
    identity: (u64, u64),
}

impl SocketFile {
    /// Binds `spec.path` at `spec.mode`: fails if something listens there or
    /// the path is not a socket; replaces a stale socket file.
    pub async fn bind(spec: &SocketSpec) -> Result<(Self, UnixListener), SocketError> {
        let path = spec.path.clone();
        let name = match path.file_name() {
            Some(name) => name.to_owned(),
            None => {
                return Err(SocketError::Bind {
                    path,
                    source: std::io::ErrorKind::InvalidInput.into(),
                });
            }
        };
        let dir = crate::files::open_dir_of(&path).map_err(|source| SocketError::Directory {
            path: path.clone(),
            source,
        })?;
        let bind_path = via_dir(&dir, &name, &path);

        match dir.symlink_metadata(&name) {
            Ok(metadata) if metadata.file_type().is_socket() => {
                match tokio::time::timeout(PROBE_TIMEOUT, UnixStream::connect(&bind_path)).await {
                    Err(_elapsed) => return Err(SocketError::InUse { path }),
                    Ok(Ok(_live)) => return Err(SocketError::InUse { path }),
                    Ok(Err(error)) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
                        tracing::info!(path = %path.display(), "replacing stale socket file");
                        dir.remove_file(&name).map_err(|source| SocketError::Bind {
                            path: path.clone(),
                            source,
                        })?;
                    }
                    Ok(Err(source)) => return Err(SocketError::Bind { path, source }),
                }
            }
            Ok(_) => return Err(SocketError::NotASocket { path }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(SocketError::Bind { path, source }),
        }

        let bind_error = |source: std::io::Error| SocketError::Bind {
            path: path.clone(),
            source,
        };
        let socket = bind_with_mode(&bind_path, spec.mode).map_err(bind_error)?;
        let metadata = dir.symlink_metadata(&name).map_err(bind_error)?;
        // The fd mode already governs the new file; this restores bits the
        // umask took away from an explicit `mode` (a change of mode keeps
        // the file's identity). Before `listen`: until then a client's
        // connect is refused, so none gets in while the mode is not yet the
        // one asked for.
        if metadata.mode() & 0o7777 != spec.mode {
            dir.set_permissions(
                &name,
                cap_std::fs::Permissions::from_std(std::fs::Permissions::from_mode(spec.mode)),
            )
            .map_err(bind_error)?;
        }
        let listener = listen(socket).map_err(bind_error)?;
        let file = Self {
            name,
            path,
            identity: (metadata.dev(), metadata.ino()),
        };
        Ok((file, listener))
    }

    pub fn remove(&self) {
        let dir = match crate::files::open_dir_of(&self.path) {
            Ok(dir) => dir,
            Err(error) => {
                tracing::warn!(path = %self.path.display(), %error, "cannot open socket directory");
                return;
            }
        };
        match dir.symlink_metadata(&self.name) {
            Ok(metadata) if (metadata.dev(), metadata.ino()) == self.identity => {
                if let Err(error) = dir.remove_file(&self.name) {
                    tracing::warn!(path = %self.path.display(), %error, "cannot remove socket file");
                }
            }
            Ok(_) => tracing::warn!(
                path = %self.path.display(),
                "socket file was replaced by another; leaving it"
            ),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::warn!(path = %self.path.display(), %error, "cannot inspect socket file");
            }
        }
    }
}

/// A path that reaches `name` through the open directory `dir`, so that a
/// directory renamed or replaced after it was opened is not followed.
fn via_dir(dir: &Dir, name: &std::ffi::OsStr, full: &Path) -> PathBuf {
    let through_fd = Path::new("/proc/self/fd")
        .join(dir.as_raw_fd().to_string())
        .join(name);
    // Whether procfs is mounted does not change while the host runs.
    static HAS_PROC_FD: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if through_fd.as_os_str().len() <= super::spec::MAX_SOCKET_PATH
        && *HAS_PROC_FD.get_or_init(|| Path::new("/proc/self/fd").is_dir())
    {
        through_fd
    } else {
        full.to_path_buf()
    }
}

/// Binds with the socket file created at `mode` (minus umask): `fchmod` on
/// an unbound Unix socket sets the mode `bind` gives its file, so the file
/// is never more open than asked, not even for an instant.
fn bind_with_mode(path: &Path, mode: u32) -> std::io::Result<std::os::fd::OwnedFd> {
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    let socket = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    rustix::fs::fchmod(&socket, rustix::fs::Mode::from_raw_mode(mode))?;
    rustix::net::bind(&socket, &SocketAddrUnix::new(path)?)?;
    Ok(socket)
}

/// Starts accepting connections on a bound socket.
fn listen(socket: std::os::fd::OwnedFd) -> std::io::Result<UnixListener> {
    rustix::net::listen(&socket, 128)?;
    UnixListener::from_std(std::os::unix::net::UnixListener::from(socket))
}

async fn accept_clients(listener: UnixListener, channel: Arc<Channel>, inbound: InboundSender) {
    let busy = Arc::new(AtomicBool::new(false));
    let next_client = AtomicU64::new(1);
    let mut sessions = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            () = channel.closed().cancelled() => break,
            accepted = listener.accept() => accepted,
            // Reap finished sessions so the set does not grow.
            Some(_) = sessions.join_next(), if !sessions.is_empty() => continue,
        };
        let stream = match accepted {
            Ok((stream, _address)) => stream,
            Err(error) => {
                // Typically EMFILE: back off instead of spinning.
                tracing::warn!(channel = channel.name(), %error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if busy.swap(true, Ordering::AcqRel) {
            reject_busy(&channel, &stream);
            continue;
        }
        let id = next_client.fetch_add(1, Ordering::Relaxed);
        tracing::info!(channel = channel.name(), client = id, "client connected");
        sessions.spawn(serve_client(
            channel.clone(),
            inbound.clone(),
            stream,
            id,
            busy.clone(),
        ));
    }
    sessions.shutdown().await;
}

fn reject_busy(channel: &Channel, stream: &UnixStream) {
    let notice = format!(
        "vathost: channel `{}` is busy: it serves one client at a time\n",
        channel.name()
    );
    // Best effort: a short notice fits the socket buffer of a fresh connection.
    let _ = stream.try_write(notice.as_bytes());
    tracing::info!(channel = channel.name(), "turned away a second client");
}

async fn serve_client(
    channel: Arc<Channel>,
    inbound: InboundSender,
    stream: UnixStream,
    id: u64,
    busy: Arc<AtomicBool>,
) {
    let (reader, writer) = match super::peer_socket::split(stream) {
        Ok(sides) => sides,
        Err(error) => {
            tracing::warn!(channel = channel.name(), client = id, %error, "cannot serve the client");
            busy.store(false, Ordering::Release);
            return;
        }
    };
    if channel.direction().writable() {
        channel
            .attach_client(ClientWriter::new(id, Box::new(writer)))
            .await;
    }
    let session = super::session::serve_client(&channel, &inbound, reader, id, false, || {
        tracing::info!(channel = channel.name(), client = id, "client gone");
        busy.store(false, Ordering::Release);
    });
    // Output a write left in the buffer goes out within the flush delay.
    // Only a client's session has output to flush: run beside it rather
    // than in a task of the channel's own, which every idle channel kept.
    let flushing = async {
        channel.flush_lagging_output().await;
        // Closed: the session sees it too, and ends the way it should.
        std::future::pending::<()>().await;
    };
    tokio::select! {
        biased;
        () = session => {}
        () = flushing => {}
    }
}
