//! The baseline: an idiomatic tokio line-echo server doing the same socket
//! work as the echo vat (one client at a time, each reply flushed). It runs
//! on a current-thread runtime, which is the fastest way to serve a single
//! client: no cross-thread wakeups (a multi-thread runtime measured about
//! 3x slower round trips here).

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::UnixListener;

pub fn serve(socket: &str) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = UnixListener::bind(socket).with_context(|| format!("bind {socket}"))?;
        loop {
            let (stream, _) = listener.accept().await?;
            let (reader, writer) = stream.into_split();
            let mut lines = BufReader::new(reader).lines();
            let mut writer = BufWriter::new(writer);
            while let Some(line) = lines.next_line().await? {
                writer.write_all(line.as_bytes()).await?;
                writer.write_all(b"\n").await?;
                writer.flush().await?;
            }
        }
    })
}
