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

pub struct Percentiles {
    pub p50: Duration,
    pub p99: Duration,
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

    /// Streams `count` lines in while reading the echoes back; lines per second.
    pub fn throughput(&mut self, count: usize) -> anyhow::Result<f64> {
        let writer = self.writer.try_clone()?;
        let started = Instant::now();
        let sender = std::thread::spawn(move || -> std::io::Result<()> {
            let mut writer = BufWriter::new(writer);
            for index in 0..count {
                writeln!(writer, "line {index:08} of the throughput run")?;
            }
            writer.flush()
        });
        let mut line = String::new();
        for index in 0..count {
            line.clear();
            self.reader.read_line(&mut line)?;
            ensure!(
                line.starts_with(&format!("line {index:08} ")),
                "echo {index} was {line:?}"
            );
        }
        let elapsed = started.elapsed();
        sender
            .join()
            .map_err(|_| anyhow::anyhow!("sender thread panicked"))??;
        Ok(count as f64 / elapsed.as_secs_f64())
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
        let at = |fraction: f64| samples[((samples.len() - 1) as f64 * fraction) as usize];
        Ok(Percentiles {
            p50: at(0.50),
            p99: at(0.99),
        })
    }
}
