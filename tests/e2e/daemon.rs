//! `vathost daemon` and the verbs that drive it, as real processes.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::harness::{Client, Exited, Host, Scratch, single_vat_config, vat, vathost_output};

pub(crate) struct Daemon {
    host: Host,
    pub(crate) home: PathBuf,
    pub(crate) scratch: Scratch,
}

impl Daemon {
    pub(crate) fn start() -> Self {
        Self::start_in(Scratch::new())
    }

    /// A daemon whose home is `home` in `scratch`: where an earlier daemon,
    /// killed, left its state.
    pub(crate) fn start_in(scratch: Scratch) -> Self {
        let home = scratch.path("home");
        let host = Host::start(
            &["daemon", "--foreground", "--home", home.to_str().unwrap()],
            &[],
        );
        let daemon = Self {
            host,
            home,
            scratch,
        };
        daemon.host.wait_for_log("daemon ready");
        daemon
    }

    /// What the daemon has logged so far.
    pub(crate) fn log(&self) -> String {
        self.host.log()
    }

    /// Waits until the daemon's log says `needle`.
    pub(crate) fn wait_for_log(&self, needle: &str) {
        self.host.wait_for_log(needle);
    }

    pub(crate) fn control(&self) -> PathBuf {
        self.home.join("control.sock")
    }

    /// Runs a CLI verb against this daemon: exit code and output.
    pub(crate) fn cli(&self, args: &[&str]) -> (Option<i32>, String) {
        vathost_output(args, &[("VATHOST_HOME", &self.home)])
    }

    pub(crate) fn echo_config(&self, name: &str) -> (PathBuf, PathBuf) {
        let socket = self.scratch.path(&format!("{name}.sock"));
        let config = crate::harness::echo_config(&self.scratch, name, &socket);
        (config, socket)
    }

    /// Launches and returns the subcluster id from the first line of output.
    pub(crate) fn launch(&self, config: &Path) -> String {
        let (code, output) = self.cli(&["launch", config.to_str().unwrap()]);
        assert_eq!(code, Some(0), "{output}");
        output.lines().next().unwrap().to_owned()
    }

    pub(crate) fn list(&self) -> Value {
        let (code, output) = self.cli(&["list", "--json"]);
        assert_eq!(code, Some(0), "{output}");
        serde_json::from_str(&output).unwrap()
    }

    pub(crate) fn stop(self) -> Exited {
        self.stop_keeping_files().0
    }

    /// Kills the daemon with SIGKILL, keeping its scratch directory (and so
    /// its home) for [`Daemon::start_in`].
    pub(crate) fn kill(self) -> Scratch {
        let exited = self.host.stop("KILL");
        assert!(!exited.status.success());
        self.scratch
    }

    /// Stops the daemon but keeps its scratch directory (and so its home).
    pub(crate) fn stop_keeping_files(self) -> (Exited, Scratch) {
        let (code, output) = self.cli(&["stop"]);
        assert_eq!(code, Some(0), "{output}");
        let exited = self.host.wait();
        assert!(!self.home.join("control.sock").exists());
        (exited, self.scratch)
    }
}

/// Sends raw bytes on the control socket and returns the response lines.
fn raw_requests(control: &Path, bytes: &[u8], responses: usize) -> Vec<Value> {
    let mut stream = UnixStream::connect(control).unwrap();
    stream
        .set_read_timeout(Some(crate::harness::PATIENCE))
        .unwrap();
    stream.write_all(bytes).unwrap();
    let mut reader = BufReader::new(stream);
    (0..responses)
        .map(|_| {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            serde_json::from_str(&line).unwrap()
        })
        .collect()
}

#[test]
fn two_subclusters_serve_at_once_and_terminating_one_spares_the_other() {
    let daemon = Daemon::start();
    let (first_config, first_socket) = daemon.echo_config("first");
    let (second_config, second_socket) = daemon.echo_config("second");
    let first = daemon.launch(&first_config);
    let second = daemon.launch(&second_config);
    assert_ne!(first, second);
    let mut a = Client::connect(&first_socket);
    let mut b = Client::connect(&second_socket);
    for index in 0..10 {
        assert_eq!(a.exchange(&format!("a{index}")), format!("a{index}"));
        assert_eq!(b.exchange(&format!("b{index}")), format!("b{index}"));
    }

    // Status shows the connected client and the traffic.
    let (code, output) = daemon.cli(&["status", &first, "--json"]);
    assert_eq!(code, Some(0), "{output}");
    let status: Value = serde_json::from_str(&output).unwrap();
    let channel = &status[0]["channels"][0];
    assert_eq!(channel["client_connected"], json!(true));
    assert_eq!(channel["lines_in"], json!(10));
    assert_eq!(channel["lines_out"], json!(10));
    assert_eq!(channel["bytes_out"], json!(30));
    assert_eq!(status[0]["vats"][0]["state"], json!("running"));

    let (code, output) = daemon.cli(&["terminate", &first]);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("main: stopped"), "{output}");
    assert_eq!(
        a.recv(),
        None,
        "the terminated subcluster's client is closed"
    );
    assert!(!first_socket.exists());
    for index in 0..10 {
        assert_eq!(
            b.exchange(&format!("still {index}")),
            format!("still {index}")
        );
    }
    let list = daemon.list();
    let states: Vec<(&str, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        vec![(first.as_str(), "ended"), (second.as_str(), "running")]
    );

    // The table form names both.
    let (_, table) = daemon.cli(&["list"]);
    assert!(table.contains(&first) && table.contains(&second), "{table}");

    // Guest output is kept per subcluster.
    let (code, logs) = daemon.cli(&["logs", &second]);
    assert_eq!(code, Some(0), "{logs}");
    assert!(logs.contains("[main stdout] echo serving `repl`"), "{logs}");

    drop((a, b));
    daemon.stop();
    assert!(!second_socket.exists());
}

#[test]
fn a_bad_config_returns_its_validation_error_and_changes_nothing() {
    let daemon = Daemon::start();
    let config = daemon.scratch.config(
        "bad",
        json!({ "bootstrap": "ghost", "vats": { "main": { "component": vat("echo") } } }),
    );
    let (code, output) = daemon.cli(&["launch", config.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{output}");
    assert!(
        output.contains("`bootstrap`: `ghost` is not a vat"),
        "{output}"
    );
    assert_eq!(daemon.list(), json!([]));

    // A launch that fails after creating a channel leaves nothing either.
    let blocked = daemon.scratch.path("blocked.txt");
    std::fs::write(&blocked, "not a socket").unwrap();
    let own = daemon.scratch.path("own.sock");
    let config = daemon.scratch.config(
        "half",
        single_vat_config(
            &vat("echo"),
            json!({ "a": { "type": "socket", "path": own }, "b": { "type": "socket", "path": blocked } }),
        ),
    );
    let (code, output) = daemon.cli(&["launch", config.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("Caused by: ") && output.contains("exists and is not a socket"),
        "{output}"
    );
    assert!(!own.exists());
    assert_eq!(daemon.list(), json!([]));
    daemon.stop();
}

#[test]
fn a_component_replaced_on_disk_is_compiled_again_for_the_next_launch() {
    let daemon = Daemon::start();
    let component = daemon.scratch.path("component.wasm");
    std::fs::copy(vat("echo"), &component).unwrap();
    let config_for = |name: &str| {
        let socket = daemon.scratch.path(&format!("{name}.sock"));
        let config = daemon.scratch.config(
            name,
            single_vat_config(
                &component,
                json!({ "repl": { "type": "socket", "path": socket } }),
            ),
        );
        (config, socket)
    };
    let (first_config, first_socket) = config_for("first");
    daemon.launch(&first_config);
    assert_eq!(Client::connect(&first_socket).exchange("one"), "one");
    // The same file again (the host's compiled copy, checked unchanged).
    let (second_config, second_socket) = config_for("second");
    daemon.launch(&second_config);
    assert_eq!(Client::connect(&second_socket).exchange("two"), "two");

    // Another component at the same path: the next launch runs it (the
    // crash vat, which without a `mode` fails at once), not the copy
    // compiled from the file that was there before.
    std::fs::copy(vat("crash"), &component).unwrap();
    let (third_config, _) = config_for("third");
    let third = daemon.launch(&third_config);
    daemon.wait_for_log("unknown mode None");
    let (code, output) = daemon.cli(&["status", &third, "--json"]);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("unknown mode None"), "{output}");
    // What runs already is left as it was.
    assert_eq!(Client::connect(&first_socket).exchange("still"), "still");
    daemon.stop();
}

#[test]
fn garbage_on_the_control_socket_gets_errors_and_the_daemon_keeps_serving() {
    let daemon = Daemon::start();
    let responses = raw_requests(
        &daemon.control(),
        b"this is not json\n{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"fly\"}\n{\"id\":8}\n\xff\xfe\n",
        4,
    );
    assert_eq!(responses[0]["error"]["code"], json!(-32700));
    assert_eq!(responses[1]["error"]["code"], json!(-32601));
    assert_eq!(responses[1]["id"], json!(7));
    assert_eq!(responses[2]["error"]["code"], json!(-32600));
    assert_eq!(responses[3]["error"]["code"], json!(-32700));

    let mut oversized = vec![b'x'; 2 * 1024 * 1024];
    oversized.extend_from_slice(b"\n{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"list\"}\n");
    let responses = raw_requests(&daemon.control(), &oversized, 2);
    assert_eq!(responses[0]["error"]["code"], json!(-32600));
    assert!(
        responses[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("longer than")
    );
    assert_eq!(
        responses[1]["result"],
        json!([]),
        "the same connection still works"
    );

    let (code, output) = daemon.cli(&["terminate", "s42"]);
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("no subcluster s42"), "{output}");

    assert_eq!(daemon.list(), json!([]));
    daemon.stop();
}

#[test]
fn stop_terminates_everything_and_leaves_no_socket_files() {
    let daemon = Daemon::start();
    let (config, socket) = daemon.echo_config("one");
    daemon.launch(&config);
    let (config2, socket2) = daemon.echo_config("two");
    daemon.launch(&config2);
    let mut client = Client::connect(&socket);
    assert_eq!(client.exchange("x"), "x");
    let exited = daemon.stop();
    assert!(exited.status.success(), "{}", exited.log);
    assert!(!socket.exists() && !socket2.exists());
    assert_eq!(client.recv(), None);
}

#[test]
fn a_second_daemon_on_the_same_home_is_refused_and_a_stale_socket_replaced() {
    let daemon = Daemon::start();
    let second = Host::start(
        &[
            "daemon",
            "--foreground",
            "--home",
            daemon.home.to_str().unwrap(),
        ],
        &[],
    )
    .wait();
    assert_eq!(second.status.code(), Some(1), "{}", second.log);
    assert!(
        second.log.contains("a daemon is already running"),
        "{}",
        second.log
    );
    // The first is unharmed.
    assert_eq!(daemon.list(), json!([]));
    let home = daemon.home.clone();
    let (_, _scratch) = daemon.stop_keeping_files();

    drop(UnixListener::bind(home.join("control.sock")).unwrap());
    assert!(home.join("control.sock").exists(), "a stale control socket");
    let host = Host::start(
        &["daemon", "--foreground", "--home", home.to_str().unwrap()],
        &[],
    );
    host.wait_for_log("daemon ready");
    let exited = host.stop("TERM");
    assert!(exited.status.success(), "{}", exited.log);
    assert!(!home.join("control.sock").exists());
    let log = std::fs::read_to_string(home.join("daemon.log")).unwrap();
    assert!(
        log.contains("daemon ready"),
        "the daemon logs to its home: {log}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(home.join("daemon.log"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the log holds the vats' output");
}

#[test]
fn subclusters_are_named_after_a_cluster_json_directory_or_as_launch_says() {
    let daemon = Daemon::start();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let counter = root.join("vats/counter/cluster.json");
    let (code, output) = daemon.cli(&["launch", counter.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{output}");
    assert_eq!(daemon.list()[0]["name"], "counter");
    let (code, output) = daemon.cli(&["terminate", "s1"]);
    assert_eq!(code, Some(0), "{output}");
    let (code, output) = daemon.cli(&["launch", "--name", "tally", counter.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{output}");
    assert_eq!(daemon.list()[1]["name"], "tally");
    let (code, output) = daemon.cli(&["launch", "--name", "", counter.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{output}");
    assert!(
        output.contains("`name` must be 1 to 64 characters"),
        "{output}"
    );
    daemon.stop();
}

#[test]
fn the_control_socket_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let daemon = Daemon::start();
    let mode = std::fs::metadata(daemon.control())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    daemon.stop();
}

#[test]
fn logs_follow_streams_until_the_subcluster_ends() {
    let daemon = Daemon::start();
    let socket = daemon.scratch.path("flood.sock");
    let mut config = single_vat_config(
        &vat("hostile"),
        json!({ "own": { "type": "socket", "path": socket } }),
    );
    // Prints only once told to: every line the follower shows arrived after it started.
    config["vats"]["main"]["parameters"] = json!({ "mode": "flood" });
    let id = daemon.launch(&daemon.scratch.config("flood", config));
    let follower = Host::start(
        &[
            "logs",
            &id,
            "--follow",
            "--home",
            daemon.home.to_str().unwrap(),
        ],
        &[],
    );
    let mut client = Client::connect(&socket);
    client.send("go");
    follower.wait_for_log("[main stdout] xxxxxxxx");
    let (code, output) = daemon.cli(&["terminate", &id]);
    assert_eq!(code, Some(0), "{output}");
    let exited = follower.wait();
    assert!(exited.status.success(), "{}", exited.log);
    daemon.stop();
}

#[test]
fn a_daemon_refuses_a_console_channel() {
    let daemon = Daemon::start();
    let config = daemon.scratch.config(
        "console",
        single_vat_config(&vat("echo"), json!({ "tty": { "type": "console" } })),
    );
    let (code, output) = daemon.cli(&["launch", config.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{output}");
    assert!(
        output.contains("`io.tty.type`: the console is for `vathost run` only"),
        "{output}"
    );
    assert_eq!(daemon.list(), json!([]));
    daemon.stop();
}

#[test]
fn launch_takes_an_inline_config_over_the_protocol() {
    let daemon = Daemon::start();
    let socket = daemon.scratch.path("inline.sock");
    let config = single_vat_config(
        &vat("echo"),
        json!({ "repl": { "type": "socket", "path": "inline.sock" } }),
    );
    let request = json!({
        "jsonrpc": "2.0", "id": 1, "method": "launch",
        "params": { "config": config, "base": daemon.scratch.path(""), "name": "inline" },
    });
    let responses = raw_requests(&daemon.control(), format!("{request}\n").as_bytes(), 1);
    let launched = &responses[0]["result"];
    assert_eq!(launched["name"], json!("inline"), "{responses:?}");
    assert_eq!(
        launched["channels"][0]["path"],
        json!(socket),
        "relative to `base`"
    );
    assert_eq!(Client::connect(&socket).exchange("inline"), "inline");

    let relative =
        json!({ "jsonrpc": "2.0", "id": 2, "method": "launch", "params": { "config": config } });
    let responses = raw_requests(&daemon.control(), format!("{relative}\n").as_bytes(), 1);
    assert_eq!(
        responses[0]["error"]["code"],
        json!(-32602),
        "{responses:?}"
    );
    daemon.stop();
}

#[test]
fn status_sums_the_traffic_of_a_listeners_connections() {
    let daemon = Daemon::start();
    let socket = daemon.scratch.path("repl.sock");
    let config = daemon.scratch.config(
        "repl",
        single_vat_config(
            &vat("repl"),
            json!({ "sessions": { "type": "listen", "path": socket } }),
        ),
    );
    let id = daemon.launch(&config);
    let mut first = Client::connect(&socket);
    let mut second = Client::connect(&socket);
    assert_eq!(first.exchange("set a 1"), "ok");
    assert_eq!(second.exchange("set b 2"), "ok");
    assert_eq!(second.exchange("get b"), "2");
    drop(first);
    daemon.host.wait_for_log("client gone");
    let (code, output) = daemon.cli(&["status", &id, "--json"]);
    assert_eq!(code, Some(0), "{output}");
    let status: Value = serde_json::from_str(&output).unwrap();
    let listener = &status[0]["channels"][0];
    assert_eq!(listener["type"], json!("listen"));
    assert_eq!(listener["clients_served"], json!(2));
    assert_eq!(listener["client_connected"], json!(true));
    assert_eq!(
        listener["lines_in"],
        json!(3),
        "the ended connection's line counts too"
    );
    assert_eq!(listener["lines_out"], json!(3));
    drop(second);
    daemon.stop();
}

#[test]
fn control_connections_are_bounded_and_the_daemon_keeps_serving() {
    let daemon = Daemon::start();
    let before = daemon.host.rss_kib();
    let request = vec![b'x'; 250 * 1024];
    let mut held = Vec::new();
    for _ in 0..300 {
        let mut stream = UnixStream::connect(daemon.control()).unwrap();
        stream
            .set_write_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        // An unfinished request; the daemon may close older ones to make room.
        let _ = stream.write_all(&request);
        held.push(stream);
    }
    // Idle connections too, as many again.
    for _ in 0..300 {
        held.push(UnixStream::connect(daemon.control()).unwrap());
    }
    // A script's call still gets through.
    assert_eq!(daemon.list(), json!([]));
    let grown = (daemon.host.rss_kib().saturating_sub(before)) * 1024;
    let bound = vathost::daemon::MAX_CONNECTIONS as u64
        * (u64::from(vathost::daemon::MAX_REQUEST) + 64 * 1024)
        + 16 * 1024 * 1024;
    assert!(
        grown < bound,
        "the daemon grew by {} KiB, past {} KiB",
        grown / 1024,
        bound / 1024
    );
    eprintln!(
        "daemon grew by {} KiB (bound {} KiB)",
        grown / 1024,
        bound / 1024
    );
    drop(held);
    daemon.stop();
}

#[test]
fn a_config_that_would_block_on_open_is_refused_and_the_others_keep_serving() {
    let daemon = Daemon::start();
    let (config, socket) = daemon.echo_config("steady");
    daemon.launch(&config);
    let mut client = Client::connect(&socket);
    let fifo = daemon.scratch.path("fifo.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let (code, output) = daemon.cli(&["launch", fifo.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{output}");
    assert!(output.contains("not a regular file"), "{output}");
    // A component path that is a FIFO: the same.
    let fifo_component = daemon
        .scratch
        .config("fifo-component", single_vat_config(&fifo, json!({})));
    let (code, output) = daemon.cli(&["launch", fifo_component.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{output}");
    assert!(
        output.contains("vats.main.component") && output.contains("not a regular file"),
        "{output}"
    );
    assert_eq!(client.exchange("still here"), "still here");
    drop(client);
    daemon.stop();
}

#[test]
fn stop_during_a_large_launch_leaves_no_socket_files() {
    const VATS: usize = 1500;
    let daemon = Daemon::start();
    let sockets = daemon.scratch.path("sockets");
    std::fs::create_dir(&sockets).unwrap();
    let mut vats = serde_json::Map::new();
    let mut io = serde_json::Map::new();
    for index in 0..VATS {
        vats.insert(format!("v{index}"), json!({ "component": vat("echo") }));
        io.insert(
            format!("c{index}"),
            json!({ "type": "socket", "path": sockets.join(format!("{index}.sock")) }),
        );
    }
    let config = daemon.scratch.config(
        "large",
        json!({ "bootstrap": "v0", "vats": vats, "io": io }),
    );
    let mut launching = UnixStream::connect(daemon.control()).unwrap();
    launching
        .set_read_timeout(Some(crate::harness::PATIENCE))
        .unwrap();
    let request = json!({
        "jsonrpc": "2.0", "id": 1, "method": "launch", "params": { "config": config },
    });
    launching
        .write_all(format!("{request}\n").as_bytes())
        .unwrap();
    // Stop as soon as the launch has begun creating sockets.
    let deadline = std::time::Instant::now() + crate::harness::PATIENCE;
    while std::fs::read_dir(&sockets).unwrap().next().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the launch never began"
        );
        std::thread::yield_now();
    }
    let (code, output) = daemon.cli(&["stop"]);
    assert_eq!(code, Some(0), "{output}");
    let exited = daemon.host.wait();
    assert!(exited.status.success(), "{}", exited.log);
    let mut reply = String::new();
    let _ = BufReader::new(&launching).read_line(&mut reply);
    assert!(
        !reply.contains("\"result\""),
        "the launch finished before the stop; the test needs a slower launch: {reply}"
    );
    let left: Vec<_> = std::fs::read_dir(&sockets).unwrap().collect();
    assert!(left.is_empty(), "{} socket files left behind", left.len());
}

#[test]
fn ended_subclusters_are_kept_to_a_bounded_history() {
    let daemon = Daemon::start();
    let (config, _socket) = daemon.echo_config("cycled");
    let mut stream = UnixStream::connect(daemon.control()).unwrap();
    stream
        .set_read_timeout(Some(crate::harness::PATIENCE))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut call = |method: &str, params: Value| -> Value {
        let request = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        stream.write_all(format!("{request}\n").as_bytes()).unwrap();
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let response: Value = serde_json::from_str(&line).unwrap();
        assert!(response.get("error").is_none(), "{response}");
        response["result"].clone()
    };
    let cycles = vathost::kernel::KEPT_ENDED_SUBCLUSTERS + 36;
    let mut last = String::new();
    for _ in 0..cycles {
        let launched = call("launch", json!({ "config": config }));
        last = launched["id"].as_str().unwrap().to_owned();
        call("terminate", json!({ "id": last }));
    }
    let listed = daemon.list();
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|subcluster| subcluster["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids.len(),
        vathost::kernel::KEPT_ENDED_SUBCLUSTERS,
        "{ids:?}"
    );
    assert_eq!(ids.last(), Some(&last.as_str()), "the newest are kept");
    daemon.stop();
}

#[test]
fn terminate_and_stop_finish_while_a_client_is_not_reading() {
    let daemon = Daemon::start();
    let socket = daemon.scratch.path("blast.sock");
    let config = crate::harness::vat_in_mode(
        &daemon.scratch,
        "hostile",
        "blast",
        json!({ "own": { "type": "socket", "path": socket } }),
    );
    let id = daemon.launch(&config);
    let mut client = Client::connect(&socket);
    client.send("go");
    crate::faults::wait_until_unread(&client.writer(), 64 * 1024);
    let (code, output) = daemon.cli(&["terminate", &id]);
    assert_eq!(code, Some(0), "{output}");
    assert_eq!(daemon.list()[0]["state"], json!("ended"));
    assert!(!socket.exists());
    daemon.host.wait_for_log("the peer did not take");
    // A second one, left running for `stop` to end.
    let id = daemon.launch(&config);
    let mut client = Client::connect(&socket);
    client.send("go");
    crate::faults::wait_until_unread(&client.writer(), 64 * 1024);
    let exited = daemon.stop();
    assert!(exited.status.success(), "{id}: {}", exited.log);
}

/// `RUST_LOG=vathost=debug` shows each control request and how it went,
/// besides the channel and vat lifecycle logged at `info`.
#[test]
fn debug_logging_shows_control_requests_and_the_lifecycle() {
    let scratch = Scratch::new();
    let home = scratch.path("home");
    let mut daemon = std::process::Command::new(env!("CARGO_BIN_EXE_vathost"))
        .args(["daemon", "--foreground", "--home", home.to_str().unwrap()])
        .env("RUST_LOG", "vathost=debug")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = daemon.stderr.take().unwrap();
    let cli = |args: &[&str]| vathost_output(args, &[("VATHOST_HOME", &home)]);
    // The daemon is ready once it answers.
    let deadline = std::time::Instant::now() + crate::harness::PATIENCE;
    while cli(&["list"]).0 != Some(0) {
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon never answered"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let socket = scratch.path("e.sock");
    let config = crate::harness::echo_config(&scratch, "e", &socket);
    assert_eq!(cli(&["launch", config.to_str().unwrap()]).0, Some(0));
    assert_eq!(cli(&["terminate", "s9"]).0, Some(1));
    assert_eq!(cli(&["stop"]).0, Some(0));
    let log = crate::harness::read_all_within(stderr);
    assert!(daemon.wait().unwrap().success(), "{log}");
    for expected in [
        "control request method=launch",
        "control request answered method=launch",
        "control request failed method=terminate",
        "no subcluster s9",
        "vat started",
        "channel open channel=repl",
    ] {
        assert!(log.contains(expected), "no {expected:?} in:\n{log}");
    }
}
