//! Socket channel semantics over real sockets: framing, clients, ordering,
//! backpressure and readiness.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Client, Host, Scratch, vat};

/// A recorder vat: every event of `in` is reported as a line on `log`.
struct Recorder {
    host: Host,
    input: PathBuf,
    log: Client,
    _scratch: Scratch,
}

impl Recorder {
    fn start(in_options: Value, parameters: Value) -> Self {
        let scratch = Scratch::new();
        let input = scratch.path("in.sock");
        let log_path = scratch.path("log.sock");
        let mut in_channel = json!({ "type": "socket", "path": input, "direction": "in" });
        for (key, value) in in_options.as_object().into_iter().flatten() {
            in_channel[key] = value.clone();
        }
        let config = json!({
            "bootstrap": "main",
            "vats": { "main": { "component": vat("recorder"), "parameters": parameters } },
            "io": {
                "in": in_channel,
                "log": { "type": "socket", "path": log_path },
            },
        });
        let host = Host::run(&[&scratch.config("recorder", config)]);
        let log = Client::connect(&log_path);
        host.wait_for_log("client connected");
        Self {
            host,
            input,
            log,
            _scratch: scratch,
        }
    }

    fn client(&self) -> Client {
        Client::connect(&self.input)
    }

    fn expect(&mut self, events: &[&str]) {
        for event in events {
            assert_eq!(
                self.log.recv().as_deref(),
                Some(*event),
                "log:\n{}",
                self.host.log()
            );
        }
    }
}

#[test]
fn carriage_returns_split_characters_and_partial_last_lines() {
    let mut recorder = Recorder::start(json!({}), json!(null));
    let mut client = recorder.client();
    client.send_raw(b"dos\r\n");
    // "é" is two bytes; send them in separate writes (how reads split them
    // is the kernel's choice; the framer's property test covers every split).
    client.send_raw(b"caf\xC3");
    client.send_raw(b"\xA9\n");
    client.send_raw(b"no newline at the end");
    client.shutdown_write();
    recorder.expect(&["line:dos", "line:café", "line:no newline at the end", "end"]);
}

#[test]
fn invalid_utf8_spoils_one_line_only() {
    let mut recorder = Recorder::start(json!({}), json!(null));
    let mut client = recorder.client();
    client.send_raw(b"before\n\xFF\xFEbad\nafter\n");
    let mut log = Vec::new();
    for _ in 0..3 {
        log.push(recorder.log.recv().expect("an event"));
    }
    assert_eq!(log[0], "line:before");
    assert!(log[1].starts_with("error:InvalidData("), "{log:?}");
    assert_eq!(log[2], "line:after");
}

#[test]
fn a_line_over_max_line_is_skipped_and_the_client_stays() {
    let mut recorder = Recorder::start(json!({ "max-line": 16 }), json!(null));
    let mut client = recorder.client();
    client.send("short");
    client.send(&"x".repeat(100));
    client.send("next");
    recorder.expect(&["line:short", "error:TooLong(16)", "line:next"]);
}

#[test]
fn ten_mebibytes_without_a_newline_is_one_too_long_line() {
    let mut recorder = Recorder::start(json!({}), json!(null));
    let mut client = recorder.client();
    let chunk = vec![b'z'; 1024 * 1024];
    for _ in 0..10 {
        client.send_raw(&chunk);
    }
    client.send_raw(b"\nstill here\n");
    recorder.expect(&["error:TooLong(65536)", "line:still here"]);
}

#[test]
fn every_line_arrives_in_order_then_one_end_then_the_next_clients_lines() {
    let mut recorder = Recorder::start(json!({}), json!(null));
    let mut first = recorder.client();
    for line in ["1", "2", "3"] {
        first.send(line);
    }
    // Vanish mid-line, without a clean shutdown.
    first.send_raw(b"4 (cut");
    drop(first);
    // Until the host has seen the first client go, a newcomer is turned away.
    recorder.host.wait_for_log("client gone");
    let mut second = recorder.client();
    second.send("5");
    recorder.expect(&["line:1", "line:2", "line:3", "line:4 (cut", "end", "line:5"]);
}

#[test]
fn a_second_client_is_told_the_channel_is_busy_and_a_third_gets_in_after_the_first_leaves() {
    let scratch = Scratch::new();
    let socket = scratch.path("e.sock");
    let _host = Host::run(&[&crate::harness::echo_config(&scratch, "echo", &socket)]);
    let mut first = Client::connect(&socket);
    assert_eq!(first.exchange("one"), "one");
    let mut second = Client::connect(&socket);
    assert_eq!(
        second.recv().as_deref(),
        Some("vathost: channel `repl` is busy: it serves one client at a time")
    );
    assert_eq!(second.recv(), None, "the busy client is closed");
    assert_eq!(first.exchange("still mine"), "still mine");
    drop(first);
    // The first client's end is noticed asynchronously: retry until admitted.
    let deadline = std::time::Instant::now() + crate::harness::PATIENCE;
    let mut third = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the first client's session never ended"
        );
        let mut candidate = Client::connect(&socket);
        // A client turned away may find its connection closed under its
        // write (a broken pipe) or its read (reset: its line went unread),
        // or closed with or without the busy notice.
        match candidate
            .try_send("three")
            .and_then(|()| candidate.try_recv())
        {
            Ok(Some(reply)) if reply == "three" => break candidate,
            Ok(Some(reply)) if reply.contains("is busy") => {}
            Ok(None) | Err(_) => {}
            Ok(Some(other)) => panic!("unexpected reply {other:?}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(third.exchange("again"), "again");
}

#[test]
fn a_hundred_thousand_lines_sent_before_the_vat_reads_arrive_complete_and_in_order() {
    const LINES: usize = 100_000;
    let mut recorder = Recorder::start(json!({ "queue": 4 }), json!({ "wait-for": "go" }));
    let client = recorder.client();
    let mut writer = client.writer();
    let mut burst = String::new();
    for index in 0..LINES {
        burst.push_str(&format!("{index}\n"));
    }
    // The queue holds 4 lines and the socket buffers far less than the burst:
    // while the vat reads nothing, the host must stop reading, so a
    // non-blocking sender is refused before the end rather than anything
    // being dropped or piled up in the host.
    writer.set_nonblocking(true).unwrap();
    let mut sent = 0;
    let refused = loop {
        match writer.write(&burst.as_bytes()[sent..]) {
            Ok(count) if sent + count == burst.len() => break false,
            Ok(count) => sent += count,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break true,
            Err(error) => panic!("send failed: {error}"),
        }
    };
    assert!(refused, "the host should have stopped reading the socket");
    writer.set_nonblocking(false).unwrap();
    let sender = std::thread::spawn(move || {
        writer
            .write_all(&burst.as_bytes()[sent..])
            .expect("send the rest of the burst");
    });
    recorder.log.send("go");
    for index in 0..LINES {
        let event = recorder.log.recv().expect("an event");
        assert_eq!(event, format!("line:{index}"));
    }
    sender.join().expect("sender thread");
}

#[test]
fn a_streaming_client_gets_every_echo_back_in_order() {
    const LINES: usize = 100_000;
    let scratch = Scratch::new();
    let socket = scratch.path("e.sock");
    let config = crate::harness::single_vat_config(
        &vat("echo"),
        json!({ "repl": { "type": "socket", "path": socket, "queue": 16 } }),
    );
    let _host = Host::run(&[&scratch.config("echo", config)]);
    let mut client = Client::connect(&socket);
    let mut writer = client.writer();
    let sender = std::thread::spawn(move || {
        for index in 0..LINES {
            writeln!(writer, "line {index}").expect("send");
        }
    });
    for index in 0..LINES {
        assert_eq!(client.recv(), Some(format!("line {index}")));
    }
    sender.join().expect("sender thread");
}

#[test]
fn write_with_no_client_connected_is_no_client() {
    let scratch = Scratch::new();
    let config = json!({
        "bootstrap": "upper",
        "vats": { "upper": { "component": vat("upper") } },
        "io": {
            "in": { "type": "socket", "path": scratch.path("in.sock"), "direction": "in" },
            "out": { "type": "socket", "path": scratch.path("out.sock"), "direction": "out" },
        },
    });
    let host = Host::run(&[&scratch.config("upper", config)]);
    Client::connect(&scratch.path("in.sock")).send("nobody reads this");
    host.wait_for_log("no reader on `out`; dropped a line");
}

#[test]
fn a_wait_on_several_channels_wakes_for_exactly_the_ready_ones() {
    let scratch = Scratch::new();
    let channel =
        |name: &str| json!({ "type": "socket", "path": scratch.path(&format!("{name}.sock")) });
    let config = json!({
        "bootstrap": "main",
        "vats": { "main": { "component": vat("waiter") } },
        "io": { "report": channel("report"), "a": channel("a"), "b": channel("b"), "c": channel("c") },
    });
    let host = Host::run(&[&scratch.config("waiter", config)]);
    let mut report = Client::connect(&scratch.path("report.sock"));
    host.wait_for_log("client connected");
    let mut b = Client::connect(&scratch.path("b.sock"));
    b.send("wake b");
    assert_eq!(report.recv().as_deref(), Some("ready: b"));
    // Lines on a and c; b stays silent. They may wake the vat together or apart.
    let mut a = Client::connect(&scratch.path("a.sock"));
    a.send("wake a");
    let mut c = Client::connect(&scratch.path("c.sock"));
    c.send("wake c");
    let mut woken = Vec::new();
    while woken.len() < 2 {
        let line = report.recv().expect("a report");
        let names = line.strip_prefix("ready: ").expect("a ready report");
        for name in names.split(',') {
            assert_ne!(
                name, "b",
                "b was reported ready with nothing to read: {line}"
            );
            woken.push(name.to_owned());
        }
    }
    woken.sort();
    assert_eq!(woken, ["a", "c"]);
}

/// The echo vat on a `bytes` channel: any bytes (no newlines, not UTF-8)
/// come back exactly, client after client.
#[test]
fn the_echo_vat_echoes_a_byte_stream_exactly_client_after_client() {
    let scratch = Scratch::new();
    let socket = scratch.path("bytes.sock");
    let config = crate::harness::single_vat_config(
        &vat("echo"),
        json!({ "repl": { "type": "socket", "path": socket, "unit": "bytes" } }),
    );
    let host = Host::run(&[&scratch.config("bytes", config)]);
    let sent: Vec<u8> = (0..300_000u32).map(|index| (index % 251) as u8).collect();
    for _client in 0..2 {
        let client = Client::connect(&socket);
        let mut writer = client.writer();
        let to_send = sent.clone();
        let sender = std::thread::spawn(move || {
            writer.write_all(&to_send).unwrap();
            writer.shutdown(std::net::Shutdown::Write).unwrap();
        });
        let mut received = Vec::new();
        let mut reader = client.writer();
        reader
            .set_read_timeout(Some(crate::harness::PATIENCE))
            .unwrap();
        std::io::Read::read_to_end(&mut reader, &mut received).unwrap();
        sender.join().unwrap();
        assert!(
            received == sent,
            "{} of {} bytes came back",
            received.len(),
            sent.len()
        );
    }
    drop(host);
}

#[test]
fn clients_of_a_socket_channel_no_vat_holds_are_closed_and_the_host_keeps_nothing_of_them() {
    let scratch = Scratch::new();
    let control = scratch.path("ctl.sock");
    let dropped = scratch.path("dropped.sock");
    let config = json!({
        "bootstrap": "main",
        "vats": { "main": { "component": vat("probe"), "parameters": { "drop": "dropped" } } },
        "io": {
            "ctl": { "type": "socket", "path": control },
            "dropped": { "type": "socket", "path": dropped },
        },
    });
    let host = Host::run(&[&scratch.config("probe", config)]);
    let mut ctl = Client::connect(&control);
    // Answered after the vat let go of `dropped`.
    assert_eq!(ctl.exchange("hello"), "channels: ctl,dropped");
    let before = host.open_fds();
    for n in 0..200 {
        let mut client = Client::connect(&dropped);
        assert_eq!(client.recv(), None, "client {n} is closed");
    }
    // The last session may still be letting go of its descriptor.
    let after = host.open_fds();
    assert!(
        after <= before + 2,
        "{before} descriptors open before 200 clients came and went, {after} after"
    );
    assert_eq!(ctl.exchange("still there?"), "channels: ctl,dropped");
}
