//! The baselines: native tokio line-echo servers doing the same socket work
//! as the echo vat (one client at a time, `\n`-framed lines, each checked
//! as UTF-8), on a current-thread runtime, the fastest way to serve a
//! single client (no cross-thread wake-ups).
//!
//! - [`Flush::PerBatch`], the strong baseline: every complete line of one
//!   read is echoed with one write, as vathost's channels flush when their
//!   input drains.
//! - [`Flush::PerLine`]: a write per line, the naive server.
//!
//! [`serve_bytes`] is the byte-stream baseline: what one read got is
//! written back with one write, as the echo vat does on a `bytes` channel.
//!
//! The strong baselines reach their client's socket as vathost does
//! (`vathost::io::split_peer`): registered for input only, so the client's
//! reading of a reply does not wake the server (tokio's `UnixStream` takes
//! a writable edge each time, and its busy round trip's p50 was about a
//! third longer for it), and reading what is already in the socket before
//! the reactor has seen it. The naive server keeps tokio's stream.

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::UnixListener;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    PerBatch,
    PerLine,
}

impl Flush {
    pub fn flag(self) -> &'static str {
        match self {
            Self::PerBatch => "--flush-per-batch",
            Self::PerLine => "--flush-per-line",
        }
    }

    pub fn from_flag(flag: Option<&str>) -> anyhow::Result<Self> {
        match flag {
            None | Some("--flush-per-batch") => Ok(Self::PerBatch),
            Some("--flush-per-line") => Ok(Self::PerLine),
            Some(other) => anyhow::bail!("unknown flag {other}"),
        }
    }
}

/// Longest line kept, as vathost's default `max-line`.
const MAX_LINE: usize = 64 * 1024;

pub fn serve(socket: &str, flush: Flush) -> anyhow::Result<()> {
    serve_each(socket, |stream| async move {
        match flush {
            Flush::PerBatch => echo_per_batch(stream).await,
            Flush::PerLine => echo_per_line(stream).await,
        }
    })
}

/// The byte-stream echo: one client at a time, each read's bytes written
/// back whole before the next read.
pub fn serve_bytes(socket: &str) -> anyhow::Result<()> {
    serve_each(socket, echo_bytes)
}

/// Serves one client at a time with `echo` on a current-thread runtime.
fn serve_each<Echo, Served>(socket: &str, echo: Echo) -> anyhow::Result<()>
where
    Echo: Fn(tokio::net::UnixStream) -> Served,
    Served: std::future::Future<Output = anyhow::Result<()>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = UnixListener::bind(socket).with_context(|| format!("bind {socket}"))?;
        loop {
            let (stream, _) = listener.accept().await?;
            if let Err(error) = echo(stream).await {
                eprintln!("native echo: {error}");
            }
        }
    })
}

async fn echo_bytes(stream: tokio::net::UnixStream) -> anyhow::Result<()> {
    let (mut reader, mut writer) = vathost::io::split_peer(stream)?;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = reader.read(&mut buffer).await?;
        if read == 0 {
            return Ok(());
        }
        writer.write_all(&buffer[..read]).await?;
        // Through: a wait for room, if there was one, is over.
        writer.flush().await?;
    }
}

/// Reads what the socket has, echoes every complete (valid UTF-8) line in
/// it with one write, keeps the partial line for the next read.
async fn echo_per_batch(stream: tokio::net::UnixStream) -> anyhow::Result<()> {
    let (mut reader, mut writer) = vathost::io::split_peer(stream)?;
    let mut input = vec![0u8; 64 * 1024];
    let mut partial: Vec<u8> = Vec::new();
    let mut output: Vec<u8> = Vec::with_capacity(64 * 1024);
    loop {
        let read = reader.read(&mut input).await?;
        if read == 0 {
            return Ok(());
        }
        let mut chunk = &input[..read];
        while let Some(end) = chunk.iter().position(|&byte| byte == b'\n') {
            let line = if partial.is_empty() {
                &chunk[..end]
            } else {
                partial.extend_from_slice(&chunk[..end]);
                &partial[..]
            };
            if line.len() <= MAX_LINE && std::str::from_utf8(line).is_ok() {
                output.extend_from_slice(line);
                output.push(b'\n');
            }
            partial.clear();
            chunk = &chunk[end + 1..];
        }
        partial.extend_from_slice(chunk);
        writer.write_all(&output).await?;
        writer.flush().await?;
        output.clear();
    }
}

async fn echo_per_line(stream: tokio::net::UnixStream) -> anyhow::Result<()> {
    let (reader, writer) = stream.into_split();
    let mut lines = BufReader::new(reader).lines();
    let mut writer = BufWriter::new(writer);
    while let Some(line) = lines.next_line().await? {
        writer.write_all(line.as_bytes()).await?;
        writer.write_all(b"\n").await?;
        writer.flush().await?;
    }
    Ok(())
}
