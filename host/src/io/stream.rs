//! Channels over one stream the host opens itself: a connection to an
//! existing socket (`connect`), its own stdin and stdout (`console`), or a
//! file (`file`). When the stream's input ends the vat reads `none` once,
//! then `closed`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::UnixStream;

use super::channel::{Channel, ClientWriter};
use super::spec::{ChannelSpec, ConnectSpec, Direction, FileSpec};

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("cannot connect to {} after {attempts} attempts", path.display())]
    Connect {
        path: PathBuf,
        attempts: u32,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open file {}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub struct StreamChannel {
    channel: Arc<Channel>,
    path: Option<PathBuf>,
    task: tokio::task::JoinHandle<()>,
    /// A file written to, synced to disk at close.
    sync: Option<std::fs::File>,
}

impl StreamChannel {
    /// Connects to `connect.path`, retrying as configured.
    pub async fn connect(spec: &ChannelSpec, connect: &ConnectSpec) -> Result<Self, StreamError> {
        let mut attempt = 1;
        let stream = loop {
            match UnixStream::connect(&connect.path).await {
                Ok(stream) => break stream,
                Err(source) if attempt >= connect.attempts => {
                    return Err(StreamError::Connect {
                        path: connect.path.clone(),
                        attempts: connect.attempts,
                        source,
                    });
                }
                Err(_) => {
                    attempt += 1;
                    tokio::time::sleep(connect.delay).await;
                }
            }
        };
        let (reader, writer) =
            super::peer_socket::split(stream).map_err(|source| StreamError::Connect {
                path: connect.path.clone(),
                attempts: attempt,
                source,
            })?;
        Ok(Self::start(
            spec,
            Some(connect.path.clone()),
            Some(reader),
            Some(Box::new(writer)),
            None,
        )
        .await)
    }

    /// The host's stdin and stdout; `start` uses what the direction allows.
    pub async fn console(spec: &ChannelSpec) -> Self {
        let stdout: Box<dyn AsyncWrite + Send + Unpin> = Box::new(tokio::io::stdout());
        Self::start(spec, None, Some(tokio::io::stdin()), Some(stdout), None).await
    }

    /// `in`: the file's contents, then the end; `out`: appends, creating the
    /// file with mode 0600. Opened through a capability on its directory.
    pub async fn file(spec: &ChannelSpec, file: &FileSpec) -> Result<Self, StreamError> {
        let error = |source| StreamError::File {
            path: file.path.clone(),
            source,
        };
        let name = file
            .path
            .file_name()
            .ok_or_else(|| error(std::io::ErrorKind::InvalidInput.into()))?;
        let dir = crate::files::open_dir_of(&file.path).map_err(error)?;
        let path = Some(file.path.clone());
        if spec.direction == Direction::In {
            let opened =
                crate::files::open_regular(&dir, name, cap_std::fs::OpenOptions::new().read(true))
                    .map_err(error)?;
            let reader = tokio::fs::File::from_std(opened);
            return Ok(Self::start::<tokio::fs::File>(spec, path, Some(reader), None, None).await);
        }
        let mut options = cap_std::fs::OpenOptions::new();
        options.append(true).create(true);
        cap_std::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let opened = crate::files::open_regular(&dir, name, &mut options).map_err(error)?;
        let sync = opened.try_clone().map_err(error)?;
        let writer = Box::new(tokio::fs::File::from_std(opened));
        Ok(Self::start::<tokio::fs::File>(spec, path, None, Some(writer), Some(sync)).await)
    }

    async fn start<R: AsyncRead + Unpin + Send + 'static>(
        spec: &ChannelSpec,
        path: Option<PathBuf>,
        reader: Option<R>,
        writer: Option<Box<dyn AsyncWrite + Send + Unpin>>,
        sync: Option<std::fs::File>,
    ) -> Self {
        let (channel, inbound) = Channel::new(spec);
        // Attached before any vat holds the channel, so a vat that writes
        // first thing finds its peer there.
        if let Some(writer) = writer.filter(|_| spec.direction.writable()) {
            channel.attach_client(ClientWriter::new(1, writer)).await;
            channel.client_connected(true);
        }
        // A write-only channel leaves the input alone (the host's stdin, say).
        let reader = reader.filter(|_| spec.direction.readable());
        let task = tokio::spawn({
            let channel = channel.clone();
            async move {
                match reader {
                    Some(reader) => {
                        tokio::select! {
                            () = channel.flush_lagging_output() => {}
                            () = async {
                                super::session::pump(&channel, &inbound, reader, None).await;
                                channel.finish(&inbound).await;
                            } => {}
                        }
                    }
                    None => {
                        drop(inbound);
                        channel.flush_lagging_output().await;
                    }
                }
            }
        });
        Self {
            channel,
            path,
            task,
            sync,
        }
    }

    pub fn channel(&self) -> &Arc<Channel> {
        &self.channel
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Closes the channel: output is sent within the close grace, and a file
    /// written to is synced.
    pub async fn close(self) {
        self.channel.close();
        if let Err(error) = self.task.await {
            tracing::warn!(channel = self.channel.name(), %error, "stream task failed");
        }
        self.channel.release().await;
        if let Some(file) = self.sync {
            let synced = tokio::task::spawn_blocking(move || file.sync_all()).await;
            if !matches!(synced, Ok(Ok(()))) {
                tracing::warn!(
                    channel = self.channel.name(),
                    "cannot sync the file to disk"
                );
            }
        }
    }
}
