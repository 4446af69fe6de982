//! The command blocks of README.md, run exactly as written: the test reads
//! them out of README.md itself, so the README cannot drift from what works.

use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use crate::harness::Scratch;

/// Both README blocks use the example config's fixed socket path: one at a time.
static ECHO_SOCKET: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn echo_socket() -> std::sync::MutexGuard<'static, ()> {
    ECHO_SOCKET
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The run block's first line builds the host and the vats: cached by the
/// time the tests run, but cargo may have to wait for its lock.
const BUILD_PATIENCE: std::time::Duration = std::time::Duration::from_secs(600);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The commands of the first ```sh block of README.md that contains
/// `marker`, comments stripped, one per line.
fn readme_block(marker: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("read README.md");
    let mut blocks = readme.split("```sh\n").skip(1).map(|rest| {
        rest.split("```")
            .next()
            .unwrap_or_default()
            .lines()
            .map(|line| match line.find("  #") {
                Some(comment) => line[..comment].trim_end().to_owned(),
                None => line.trim_end().to_owned(),
            })
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
    });
    blocks
        .find(|block| block.iter().any(|line| line.contains(marker)))
        .unwrap_or_else(|| panic!("README.md has no sh block with {marker:?}"))
}

/// Waits until `path` exists: after the block's first line, which builds.
fn wait_for_path(path: &Path) {
    let deadline = Instant::now() + BUILD_PATIENCE;
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Output of a child, read to its end on a thread so the child never blocks.
fn collect(stream: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(stream).read_to_string(&mut text);
        text
    })
}

#[test]
fn the_readme_run_block_works_as_written() {
    let _socket = echo_socket();
    let block = readme_block("vathost run vats/echo/cluster.json &");
    let socket = Path::new("/tmp/vathost-echo.sock");
    // One shell, fed line by line as a user types: `&` and `kill %1` need
    // its job table. Its own process group, so that whatever it started
    // is ended with it even if a line fails.
    let mut shell = Command::new("bash");
    shell
        .arg("-e")
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut shell, 0);
    let mut shell = shell.spawn().expect("start bash");
    let group = ProcessGroup(shell.id());
    let mut input = shell.stdin.take().unwrap();
    let stdout = collect(shell.stdout.take().unwrap());
    let stderr = collect(shell.stderr.take().unwrap());
    for line in &block {
        if line.contains(&socket.display().to_string()) && !line.contains("vathost run") {
            // A user waits for the host to say it listens before talking.
            wait_for_path(socket);
        }
        writeln!(input, "{line}").unwrap();
    }
    // Not a README line: lets the shell end once the host has.
    writeln!(input, "wait").unwrap();
    drop(input);
    let status = wait_child(&mut shell);
    drop(group);
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    assert!(status, "the block failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("vats/echo/cluster.json: ok (1 vats, 1 channels)"),
        "{stdout}"
    );
    assert!(
        stdout.lines().any(|line| line == "hello"),
        "no echo came back:\n{stdout}\n{stderr}"
    );
    assert!(!socket.exists(), "SIGTERM removes the socket");
}

/// Kills a process group when dropped: what a failed block left running
/// would otherwise hold the pipes open.
struct ProcessGroup(u32);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0)])
            .stderr(Stdio::null())
            .status();
    }
}

fn wait_child(child: &mut Child) -> bool {
    let deadline = Instant::now() + BUILD_PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.success();
        }
        assert!(Instant::now() < deadline, "the shell never finished");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A user's environment: a fresh HOME and `vathost` on the PATH, nothing
/// else of ours.
struct User {
    home: PathBuf,
    bin: PathBuf,
    _scratch: Scratch,
}

impl User {
    fn new() -> Self {
        let scratch = Scratch::new();
        let home = scratch.path("home");
        let bin = scratch.path("bin");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_vathost"), bin.join("vathost")).unwrap();
        Self {
            home,
            bin,
            _scratch: scratch,
        }
    }

    /// `line` in bash, run from the repository (where the README's paths
    /// point).
    fn command(&self, line: &str) -> Command {
        self.command_in(line, &root())
    }

    fn command_in(&self, line: &str, dir: &Path) -> Command {
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = Command::new("bash");
        command
            .args(["-c", line])
            .current_dir(dir)
            .env_clear()
            .env("HOME", &self.home)
            .env("PATH", path);
        command
    }

    /// Runs `line` from the repository; its exit code and its output.
    fn run(&self, line: &str) -> (Option<i32>, String) {
        self.output(self.command(line))
    }

    /// Runs `line` from the user's home.
    fn run_at_home(&self, line: &str) -> (Option<i32>, String) {
        self.output(self.command_in(line, &self.home))
    }

    fn output(&self, mut command: Command) -> (Option<i32>, String) {
        let output = command.output().expect("run the line");
        (
            output.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        )
    }
}

/// Stops a detached daemon a test left running, whatever happened.
struct DaemonGuard<'a> {
    user: &'a User,
    stop: &'a str,
}

impl Drop for DaemonGuard<'_> {
    fn drop(&mut self) {
        let _ = self.user.run_at_home(self.stop);
    }
}

#[test]
fn the_readme_daemon_block_works_as_written_with_the_default_home() {
    let _socket = echo_socket();
    let user = User::new();
    let block = readme_block("vathost launch vats/echo/cluster.json");
    let _guard = DaemonGuard {
        user: &user,
        stop: "vathost stop",
    };
    let mut follower: Option<(Child, std::thread::JoinHandle<String>)> = None;
    let mut outputs = Vec::new();
    for line in &block {
        if line.contains("--follow") {
            // Run in another terminal: it keeps going until s1 ends.
            let mut child = user
                .command(line)
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap();
            let (first, lines) = crate::harness::first_line_within(child.stdout.take().unwrap());
            assert!(
                first.contains("[main stdout] echo serving `repl`"),
                "{first}"
            );
            follower = Some((child, collect(lines)));
            continue;
        }
        let (code, output) = user.run(line);
        assert_eq!(code, Some(0), "`{line}`:\n{output}");
        if line.ends_with("vats/echo/cluster.json") {
            // A client talks to the launched echo vat.
            let mut client = crate::harness::Client::connect(Path::new("/tmp/vathost-echo.sock"));
            assert_eq!(client.exchange("through the daemon"), "through the daemon");
        }
        outputs.push((line.clone(), output));
    }
    let said = |start: &str| said(&outputs, start);
    assert!(said("vathost daemon").contains("vathost daemon started (pid "));
    assert!(
        said("vathost daemon").contains(&format!("{}", user.home.join(".vathost").display())),
        "the default home is ~/.vathost"
    );
    assert!(said("vathost launch").starts_with("s1\n"));
    assert!(said("vathost list").contains("running"));
    assert!(said("vathost status s1").contains("channel repl (inout) /tmp/vathost-echo.sock"));
    assert!(said("vathost status s1").contains("vat main: running, inbox 0"));
    assert!(said("vathost status s1").contains(", cpu "));
    assert!(said("vathost terminate s1").contains("main: stopped"));
    assert!(said("vathost stop").contains("daemon stopped"));
    let (mut child, _) = follower.expect("the block follows the logs");
    assert!(wait_child(&mut child), "logs --follow ends with s1");
    assert!(!user.home.join(".vathost/control.sock").exists());
}

#[test]
fn the_daemon_detaches_with_home_given_by_flag_or_environment() {
    let user = User::new();
    for (start, list, stop) in [
        (
            "vathost daemon --home flagged",
            "vathost list --home flagged",
            "vathost stop --home flagged",
        ),
        (
            "VATHOST_HOME=env-home vathost daemon",
            "VATHOST_HOME=env-home vathost list",
            "VATHOST_HOME=env-home vathost stop",
        ),
    ] {
        let _guard = DaemonGuard { user: &user, stop };
        let (code, output) = user.run_at_home(start);
        assert_eq!(code, Some(0), "{start}: {output}");
        let (code, output) = user.run_at_home(list);
        assert_eq!(code, Some(0), "{list}: {output}");
        assert!(output.starts_with("ID "), "{output}");
        let (code, output) = user.run_at_home(stop);
        assert_eq!(code, Some(0), "{stop}: {output}");
    }
}

#[test]
fn a_daemon_that_cannot_start_says_why() {
    let user = User::new();
    let home = user.home.join("broken");
    std::fs::create_dir_all(&home).unwrap();
    // Not a socket: the daemon must not delete it, so it cannot listen.
    std::fs::write(home.join("control.sock"), "a file").unwrap();
    let (code, output) = user.run_at_home("vathost daemon --home broken");
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("before it was ready") && output.contains("exists and is not a socket"),
        "{output}"
    );
    assert_eq!(
        std::fs::read_to_string(home.join("control.sock")).unwrap(),
        "a file"
    );
}

/// The "Writing a vat" block, typed into one shell in a fresh HOME with
/// `vathost` on the PATH; then the loop it describes: an edit, `cargo
/// build`, and the running vat answers the same client differently.
#[test]
fn the_readme_new_vat_block_works_as_written_and_a_rebuild_is_swapped_in() {
    let user = User::new();
    let block = readme_block("vathost new hello");
    let mut shell = user.command_in("bash -e", &user.home);
    // The user's toolchain and crates (a fresh HOME has none); offline:
    // the workspace build fetched every crate the scaffold needs.
    for (name, default) in [("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup")] {
        let value = std::env::var_os(name).unwrap_or_else(|| {
            Path::new(&std::env::var_os("HOME").unwrap())
                .join(default)
                .into_os_string()
        });
        shell.env(name, value);
    }
    shell
        .env("CARGO_NET_OFFLINE", "true")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut shell, 0);
    let mut shell = shell.spawn().expect("start bash");
    let group = ProcessGroup(shell.id());
    let mut input = shell.stdin.take().unwrap();
    // Stdout line by line, to see the block's greeting and its end.
    let (lines_sender, lines) = std::sync::mpsc::channel();
    let shell_stdout = shell.stdout.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut text = String::new();
        for line in std::io::BufRead::lines(BufReader::new(shell_stdout)).map_while(Result::ok) {
            let _ = lines_sender.send(line.clone());
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let stderr = collect(shell.stderr.take().unwrap());
    let crate_dir = user.home.join("hello");
    let socket = crate_dir.join("hello.sock");
    for line in &block {
        if line.contains("vathost connect") {
            // A user waits for the host to say it listens before talking.
            wait_for_path(&socket);
        }
        writeln!(input, "{line}").unwrap();
    }
    // The shell runs one command after another: the mark comes once the
    // block's own client has finished (a socket channel serves one client
    // at a time).
    const BLOCK_DONE: &str = "the readme block is done";
    writeln!(input, "echo '{BLOCK_DONE}'").unwrap();
    let deadline = Instant::now() + BUILD_PATIENCE;
    let mut greeted = false;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(remaining) {
            Ok(line) if line == "hello, world" => greeted = true,
            Ok(line) if line == BLOCK_DONE && greeted => break,
            Ok(_) => {}
            Err(_) => {
                drop(group);
                panic!(
                    "no `hello, world`:\n{}\n{}",
                    stdout.join().unwrap(),
                    stderr.join().unwrap()
                );
            }
        }
    }
    // The loop: an edit and a rebuild reach the client already connected.
    let mut client = crate::harness::Client::connect(&socket);
    assert_eq!(client.exchange("first"), "hello, first");
    let source = crate_dir.join("src/lib.rs");
    let code = std::fs::read_to_string(&source).unwrap();
    let edited = code.replace(
        "format!(\"{greeting}, {line}\")",
        "format!(\"{greeting}, {line}!\")",
    );
    assert_ne!(code, edited, "the scaffold's reply line");
    std::fs::write(&source, edited).unwrap();
    writeln!(input, "cargo build").unwrap();
    let deadline = Instant::now() + BUILD_PATIENCE;
    let mut count = 0;
    loop {
        count += 1;
        let reply = client.exchange(&format!("line {count}"));
        if reply == format!("hello, line {count}!") {
            break;
        }
        if reply != format!("hello, line {count}") || Instant::now() > deadline {
            drop(group);
            panic!(
                "the rebuild was not swapped in (got {reply:?}):\n{}\n{}",
                stdout.join().unwrap(),
                stderr.join().unwrap()
            );
        }
        // The rebuild takes a while: ask again, not in a tight loop.
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    writeln!(input, "kill %1; wait").unwrap();
    drop(input);
    let status = wait_child(&mut shell);
    drop(group);
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    assert!(status, "the block failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.lines().any(|line| line == "hello, world"),
        "{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("upgraded to the changed component"),
        "{stderr}"
    );
}

/// The NATS block, as a user runs it: a `nats-server` in the background on
/// its default port, a detached daemon with the default home, the example
/// configs. Between the lines the test plays the other parties: a client on
/// the shouts socket, a NATS requester.
#[test]
fn the_readme_nats_block_works_as_written() {
    let user = User::new();
    let block = readme_block("nats-server -js &");
    let _guard = DaemonGuard {
        user: &user,
        stop: "vathost stop",
    };
    let mut server: Option<ServerGuard> = None;
    let mut shouts: Option<crate::harness::Client> = None;
    let mut outputs = Vec::new();
    for line in &block {
        if let Some(command) = line.strip_suffix(" &") {
            // `&` in the user's shell: the test keeps the job instead.
            let mut words = command.split_whitespace();
            let program = words.next().unwrap();
            let child = Command::new(program)
                .args(words)
                .current_dir(&user.home)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            server = Some(ServerGuard(child));
            wait_for_nats();
            continue;
        }
        if line == "kill %1" {
            let mut child = server.take().expect("the job `kill %1` ends");
            let status = Command::new("kill")
                .arg(child.0.id().to_string())
                .status()
                .unwrap();
            assert!(status.success());
            // The user's shell would report the job's end; its status is
            // the server's business.
            let _ = child.0.wait();
            continue;
        }
        let (code, output) = user.run(line);
        assert_eq!(code, Some(0), "`{line}`:\n{output}");
        if line.ends_with("vats/echo/nats.json") {
            assert_eq!(nats_request("echo", "hello over NATS"), "hello over NATS");
        }
        if line.ends_with("vats/upper/from-nats.json") {
            // The client that reads the shouts, there before any is published.
            shouts = Some(crate::harness::Client::connect(Path::new(
                "/tmp/vathost-shouts.sock",
            )));
            wait_for_status(&user, "s2", "client connected");
        }
        if line.starts_with("echo hello |") {
            let shouts = shouts.as_mut().expect("the shouts client");
            assert_eq!(shouts.recv().as_deref(), Some("HELLO"));
        }
        outputs.push((line.clone(), output));
    }
    let said = |start: &str| said(&outputs, start);
    let status = said("vathost status s2");
    assert!(
        status.contains(
            "channel in (in) NATS shouts on nats://127.0.0.1:4222: connected, in 1 messages/"
        ),
        "{status}"
    );
    assert!(status.contains("dropped 0"), "{status}");
    assert!(said("vathost stop").contains("daemon stopped"));
}

/// Ends a `nats-server` the test started, whatever happened.
struct ServerGuard(Child);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until a NATS server answers on the default port.
fn wait_for_nats() {
    let deadline = Instant::now() + crate::harness::PATIENCE;
    while std::net::TcpStream::connect("127.0.0.1:4222").is_err() {
        assert!(
            Instant::now() < deadline,
            "nats-server never listened on 4222"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Waits until `vathost status ID` says `needle`.
fn wait_for_status(user: &User, id: &str, needle: &str) {
    let deadline = Instant::now() + crate::harness::PATIENCE;
    loop {
        let (_, output) = user.run(&format!("vathost status {id}"));
        if output.contains(needle) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "status never said {needle:?}:\n{output}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// One request on the default server, answered within the test's patience.
fn nats_request(subject: &str, text: &str) -> String {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = async_nats::connect("nats://127.0.0.1:4222").await.unwrap();
        let reply = tokio::time::timeout(
            crate::harness::PATIENCE,
            client.request(subject.to_owned(), text.to_owned().into()),
        )
        .await
        .unwrap()
        .unwrap();
        String::from_utf8(reply.payload.to_vec()).unwrap()
    })
}

/// What the block's first line starting with `start` printed.
fn said(outputs: &[(String, String)], start: &str) -> String {
    outputs
        .iter()
        .find(|(line, _)| line.starts_with(start))
        .map(|(_, output)| output.clone())
        .unwrap_or_else(|| panic!("no line {start:?} in the block"))
}
