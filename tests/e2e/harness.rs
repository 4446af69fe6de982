//! Real processes, real sockets: start `vathost`, connect as a client, talk.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long any single wait in a test may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The component built from the test or example vat `name`.
pub fn vat(name: &str) -> PathBuf {
    let dir = std::env::var_os("VATHOST_VATS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("wasm32-wasip2/release"));
    let path = dir.join(format!("{}.wasm", name.replace('-', "_")));
    assert!(
        path.is_file(),
        "{} is missing: build the vats with `cargo xtask build-vats` (`cargo xtask test` does it)",
        path.display()
    );
    path
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// A short-named temporary directory (socket paths must stay under 108 bytes).
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("vh")
            .tempdir_in("/tmp")
            .expect("create a scratch directory");
        Self { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a cluster config and returns its path.
    pub fn config(&self, name: &str, config: serde_json::Value) -> PathBuf {
        let path = self.path(&format!("{name}.json"));
        std::fs::write(
            &path,
            serde_json::to_vec_pretty(&config).expect("serialise config"),
        )
        .expect("write config");
        path
    }
}

/// A config with one bootstrap vat holding the given socket channels.
pub fn single_vat_config(component: &Path, channels: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "bootstrap": "main",
        "vats": { "main": { "component": component } },
        "io": channels,
    })
}

/// Writes the config `name`: one vat of `component` (a test vat taking a
/// `mode` parameter, such as `hostile` or `crash`) in `mode`, holding
/// `channels`.
pub fn vat_in_mode(
    scratch: &Scratch,
    component: &str,
    mode: &str,
    channels: serde_json::Value,
) -> PathBuf {
    let mut config = single_vat_config(&vat(component), channels);
    config["vats"]["main"]["parameters"] = serde_json::json!({ "mode": mode });
    scratch.config(mode, config)
}

/// Writes the config `name`: one echo vat serving a socket channel `repl`
/// at `socket`.
pub fn echo_config(scratch: &Scratch, name: &str, socket: &Path) -> PathBuf {
    scratch.config(
        name,
        single_vat_config(
            &vat("echo"),
            serde_json::json!({ "repl": { "type": "socket", "path": socket } }),
        ),
    )
}

/// Runs `vathost` to completion: its exit code and its stdout and stderr together.
pub fn vathost_output(args: &[&str], envs: &[(&str, &Path)]) -> (Option<i32>, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vathost"));
    command.args(args).envs(envs.iter().copied());
    command_output(command)
}

/// Runs `vathost ARGS` to completion in the directory `dir`, as a user
/// there would.
pub fn vathost_output_in(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vathost"));
    command.args(args).current_dir(dir);
    command_output(command)
}

fn command_output(mut command: Command) -> (Option<i32>, String) {
    let output = command.output().expect("run vathost");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

/// A running `vathost` process; killed if the test ends without waiting.
pub struct Host {
    child: Child,
    log: Arc<Mutex<String>>,
    /// The threads copying stdout and stderr into `log`; they end with the process.
    readers: Vec<std::thread::JoinHandle<()>>,
}

pub struct Exited {
    pub status: ExitStatus,
    pub log: String,
}

impl Host {
    pub fn start(args: &[&str], configs: &[&Path]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_vathost"));
        command.args(args).args(configs);
        Self::spawn(command)
    }

    fn spawn(mut command: Command) -> Self {
        let mut child = command
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start vathost");
        let log = Arc::new(Mutex::new(String::new()));
        let mut readers = Vec::new();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let log = log.clone();
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut log = log.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            }));
        }
        Self {
            child,
            log,
            readers,
        }
    }

    pub fn run(configs: &[&Path]) -> Self {
        Self::start(&["run"], configs)
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log contains `needle`.
    pub fn wait_for_log(&self, needle: &str) {
        self.wait_for_log_count(needle, 1);
    }

    /// Waits until the log contains `needle` at least `count` times.
    pub fn wait_for_log_count(&self, needle: &str, count: usize) {
        let deadline = Instant::now() + PATIENCE;
        while self.log().matches(needle).count() < count {
            assert!(
                Instant::now() < deadline,
                "log never said {needle:?} {count} times; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits for the process to exit by itself.
    pub fn wait(mut self) -> Exited {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for vathost") {
                // The pipes close with the process: the readers finish.
                for reader in self.readers.drain(..) {
                    reader.join().expect("log reader");
                }
                return Exited {
                    status,
                    log: self.log(),
                };
            }
            assert!(
                Instant::now() < deadline,
                "vathost did not exit; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process's resident memory, in KiB.
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.child.id())
    }

    /// How many file descriptors the host has open.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .expect("list /proc fds")
            .count()
    }

    pub fn stop(self, signal: &str) -> Exited {
        self.signal(signal);
        self.wait()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Everything `stream` (a child's pipe) yields until it closes, failing
/// the test if that takes longer than [`PATIENCE`].
pub fn read_all_within(stream: impl Read + Send + 'static) -> String {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let read = BufReader::new(stream).read_to_string(&mut text);
        let _ = sender.send(read.map(|_| text));
    });
    receiver
        .recv_timeout(PATIENCE)
        .expect("the output ended in time")
        .expect("read the output")
}

/// The first line `stream` (a child's pipe) yields, within [`PATIENCE`];
/// the reader is handed back for the rest.
pub fn first_line_within<R: Read + Send + 'static>(stream: R) -> (String, BufReader<R>) {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        let read = reader.read_line(&mut line);
        let _ = sender.send(read.map(|_| (line, reader)));
    });
    receiver
        .recv_timeout(PATIENCE)
        .expect("a line came in time")
        .expect("read a line")
}

/// A process's resident memory, in KiB, from `/proc`.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc status")
}

/// A client of a socket channel.
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    /// Connects, retrying while the host is still starting.
    pub fn connect(path: &Path) -> Self {
        let deadline = Instant::now() + PATIENCE;
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(stream) => break stream,
                Err(error) => {
                    assert!(
                        Instant::now() < deadline,
                        "cannot connect to {}: {error}",
                        path.display()
                    );
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        };
        stream
            .set_read_timeout(Some(PATIENCE))
            .expect("set timeout");
        let writer = stream.try_clone().expect("clone stream");
        Self {
            reader: BufReader::new(stream),
            writer,
        }
    }

    pub fn send(&mut self, line: &str) {
        self.try_send(line).expect("send a line");
    }

    /// Sends a line, returning the error of a connection the host closed.
    pub fn try_send(&mut self, line: &str) -> std::io::Result<()> {
        self.writer.write_all(format!("{line}\n").as_bytes())
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("send bytes");
    }

    /// The next line, or `None` when the host closed the connection.
    pub fn recv(&mut self) -> Option<String> {
        self.try_recv().expect("receive a line")
    }

    /// The next line, `None` when the host closed the connection, or the
    /// error of one it reset (closed with input unread).
    pub fn try_recv(&mut self) -> std::io::Result<Option<String>> {
        let mut line = String::new();
        Ok(match self.reader.read_line(&mut line)? {
            0 => None,
            _ => Some(line.trim_end_matches('\n').to_owned()),
        })
    }

    pub fn exchange(&mut self, line: &str) -> String {
        self.send(line);
        self.recv().expect("a reply before the connection closed")
    }

    pub fn writer(&self) -> UnixStream {
        self.writer.try_clone().expect("clone stream")
    }

    /// Sends `line 0` to `line {count - 1}` as one write, from a thread of
    /// its own (the host may stop reading until this client reads).
    pub fn send_lines_in_background(
        &self,
        count: usize,
    ) -> std::thread::JoinHandle<std::io::Result<()>> {
        let mut writer = self.writer();
        std::thread::spawn(move || {
            let burst: String = (0..count).map(|n| format!("line {n}\n")).collect();
            writer.write_all(burst.as_bytes())
        })
    }

    /// Every line until the host closes the connection.
    pub fn recv_all(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.recv()).collect()
    }

    pub fn shutdown_write(&self) {
        self.writer
            .shutdown(std::net::Shutdown::Write)
            .expect("shut down the write side");
    }
}

/// One HTTP GET, the connection closed after the answer: the status line
/// and the body.
pub fn http_get(address: std::net::SocketAddr, target: &str) -> (String, String) {
    let mut stream = std::net::TcpStream::connect_timeout(&address, PATIENCE).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}
