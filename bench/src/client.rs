//! The load: one client connection, used for every run against a server.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};

pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

/// Round-trip times, fastest first.
pub struct Percentiles {
    sorted: Vec<Duration>,
}

impl Percentiles {
    /// The time at `fraction` of the way from the fastest to the slowest
    /// (0.99: the p99).
    pub fn at(&self, fraction: f64) -> Duration {
        let last = self.sorted.len().saturating_sub(1);
        self.sorted
            .get((last as f64 * fraction) as usize)
            .copied()
            .unwrap_or_default()
    }
}

impl Client {
    pub fn connect(path: &Path) -> anyhow::Result<Self> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(stream) => break stream,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(error) => {
                    return Err(error).with_context(|| format!("connect {}", path.display()));
                }
            }
        };
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Self {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
        })
    }

    /// The write side alone.
    pub fn into_writer(self) -> UnixStream {
        self.writer
    }

    /// Streams `count` 64-byte lines in while reading the echoes back;
    /// lines per second. Each echo is checked against the line sent.
    pub fn throughput(&mut self, count: usize) -> anyhow::Result<f64> {
        stream_lines(self.writer.try_clone()?, &mut self.reader, count)
    }

    /// Streams `total` bytes in 64 KiB writes while reading the echo back;
    /// bytes per second. The echo is checked against what was sent.
    pub fn byte_throughput(&mut self, total: usize) -> anyhow::Result<f64> {
        let mut writer = self.writer.try_clone()?;
        let started = Instant::now();
        let sender = std::thread::spawn(move || -> std::io::Result<()> {
            let mut chunk = vec![0u8; 64 * 1024];
            let mut sent = 0;
            while sent < total {
                let size = chunk.len().min(total - sent);
                for (offset, byte) in chunk[..size].iter_mut().enumerate() {
                    *byte = stream_byte(sent + offset);
                }
                writer.write_all(&chunk[..size])?;
                sent += size;
            }
            Ok(())
        });
        let mut received = 0;
        let mut buffer = vec![0u8; 64 * 1024];
        while received < total {
            let want = buffer.len().min(total - received);
            let read = std::io::Read::read(&mut self.reader, &mut buffer[..want])?;
            ensure!(
                read > 0,
                "the server closed after {received} of {total} bytes"
            );
            for (offset, &byte) in buffer[..read].iter().enumerate() {
                ensure!(
                    byte == stream_byte(received + offset),
                    "byte {} differs",
                    received + offset
                );
            }
            received += read;
        }
        let elapsed = started.elapsed();
        sender
            .join()
            .map_err(|_| anyhow::anyhow!("sender thread panicked"))??;
        Ok(total as f64 / elapsed.as_secs_f64())
    }

    /// Round trips for `duration`, not recorded. A spinning thread starts
    /// on the client's CPU, and until the kernel moves it (about 40 ms
    /// here) every round trip waits about 40 us for the CPU: measured
    /// unwarmed, that decided the p99 of whichever server ran first.
    pub fn warm_up(&mut self, duration: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        while started.elapsed() < duration {
            self.round_trips(100)?;
        }
        Ok(())
    }

    /// One line out, its echo back, `count` times.
    pub fn round_trips(&mut self, count: usize) -> anyhow::Result<Percentiles> {
        let mut samples = Vec::with_capacity(count);
        let mut line = String::new();
        for _ in 0..count {
            let started = Instant::now();
            self.writer.write_all(b"ping\n")?;
            line.clear();
            self.reader.read_line(&mut line)?;
            samples.push(started.elapsed());
            ensure!(line == "ping\n", "echo was {line:?}");
        }
        samples.sort();
        Ok(Percentiles { sorted: samples })
    }
}

/// Writes `count` 64-byte lines to `writer` from a thread of its own while
/// reading them back from `reader` (an echo, or the far end of a pipeline);
/// lines per second. Each line read is checked against the line sent.
pub fn stream_lines(
    writer: UnixStream,
    reader: &mut BufReader<UnixStream>,
    count: usize,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let sender = std::thread::spawn(move || -> std::io::Result<()> {
        let mut writer = BufWriter::with_capacity(64 * 1024, writer);
        let mut line = Vec::with_capacity(64);
        for index in 0..count {
            throughput_line(index, &mut line);
            writer.write_all(&line)?;
        }
        writer.flush()
    });
    let mut received = Vec::with_capacity(64);
    let mut expected = Vec::with_capacity(64);
    for index in 0..count {
        received.clear();
        reader.read_until(b'\n', &mut received)?;
        throughput_line(index, &mut expected);
        ensure!(
            received == expected,
            "line {index} came back as {:?}",
            String::from_utf8_lossy(&received)
        );
    }
    let elapsed = started.elapsed();
    sender
        .join()
        .map_err(|_| anyhow::anyhow!("sender thread panicked"))??;
    Ok(count as f64 / elapsed.as_secs_f64())
}

/// Byte `index` of a byte-stream run: a pattern no shift or drop preserves.
fn stream_byte(index: usize) -> u8 {
    (index % 251) as u8
}

/// Line `index` of a throughput run: 64 bytes with its newline.
fn throughput_line(index: usize, line: &mut Vec<u8>) {
    line.clear();
    let _ = write!(
        line,
        "line {index:08} of the throughput run, padded to 64 bytes"
    );
    line.resize(63, b'.');
    line.push(b'\n');
}

/// A thread that keeps one core busy until dropped: round trips measured
/// with it show latency without the cost of waking an idle CPU, which on
/// this VM is tens of microseconds for whichever server sleeps deepest.
pub struct Spinner {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Spinner {
    pub fn start() -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
