//! Every channel kind end to end: `listen`, `connect`, `console`, `file`,
//! and the `bytes` unit.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::process::{Command, Stdio};

use serde_json::json;

use crate::harness::{Client, Host, Scratch, single_vat_config, vat};

/// A config running the copy vat from channel `in` to channel `out`.
fn copy_config(
    scratch: &Scratch,
    name: &str,
    input: serde_json::Value,
    output: serde_json::Value,
) -> std::path::PathBuf {
    scratch.config(
        name,
        json!({
            "bootstrap": "main",
            "vats": { "main": { "component": vat("copy") } },
            "io": { "in": input, "out": output },
        }),
    )
}

fn repl_config(scratch: &Scratch, max_clients: u32) -> std::path::PathBuf {
    scratch.config(
        "repl",
        single_vat_config(
            &vat("repl"),
            json!({ "sessions": { "type": "listen", "path": scratch.path("repl.sock"), "max-clients": max_clients } }),
        ),
    )
}

#[test]
fn fifty_concurrent_clients_on_one_listener_each_get_only_their_own_replies() {
    let scratch = Scratch::new();
    let host = Host::run(&[&repl_config(&scratch, 64)]);
    let socket = scratch.path("repl.sock");
    let mut clients: Vec<Client> = (0..50).map(|_| Client::connect(&socket)).collect();
    host.wait_for_log_count("client connected", 50);
    // Interleave: every client sets its own value before any reads it back.
    for (index, client) in clients.iter_mut().enumerate() {
        client.send(&format!("set me client-{index}"));
    }
    for client in &mut clients {
        assert_eq!(client.recv().as_deref(), Some("ok"));
    }
    for round in 0..3 {
        for (index, client) in clients.iter_mut().enumerate() {
            assert_eq!(
                client.exchange("get me"),
                format!("client-{index}"),
                "round {round}"
            );
        }
    }
    // A session's state dies with it; a new client starts empty.
    drop(clients);
    host.wait_for_log_count("client gone", 50);
    assert_eq!(
        Client::connect(&socket).exchange("get me"),
        "`me` is not set"
    );
}

#[test]
fn a_client_beyond_max_clients_is_told_why_and_closed() {
    let scratch = Scratch::new();
    let host = Host::run(&[&repl_config(&scratch, 2)]);
    let socket = scratch.path("repl.sock");
    let mut first = Client::connect(&socket);
    let mut second = Client::connect(&socket);
    assert_eq!(first.exchange("vars"), "");
    assert_eq!(second.exchange("set a 1"), "ok");
    let mut third = Client::connect(&socket);
    assert_eq!(
        third.recv().as_deref(),
        Some("vathost: listener `sessions` is full: it serves at most 2 clients at once")
    );
    assert_eq!(third.recv(), None);
    drop(first);
    host.wait_for_log("client gone");
    assert_eq!(Client::connect(&socket).exchange("vars"), "");
    assert_eq!(second.exchange("get a"), "1");
}

#[test]
fn connect_reaches_an_existing_socket_and_copies_it_to_an_out_channel() {
    let scratch = Scratch::new();
    let upstream_path = scratch.path("upstream.sock");
    let upstream = UnixListener::bind(&upstream_path).unwrap();
    let out = scratch.path("out.sock");
    let config = copy_config(
        &scratch,
        "copy",
        json!({ "type": "connect", "path": upstream_path, "direction": "in" }),
        json!({ "type": "socket", "path": out, "direction": "out" }),
    );
    let host = Host::run(&[&config]);
    let mut reader = Client::connect(&out);
    host.wait_for_log("client connected");
    let (mut peer, _) = upstream.accept().unwrap();
    peer.write_all(b"from upstream\nsecond line\n").unwrap();
    assert_eq!(reader.recv().as_deref(), Some("from upstream"));
    assert_eq!(reader.recv().as_deref(), Some("second line"));
    // The upstream ends: the copy ends, and so does the run.
    drop(peer);
    let exited = host.wait();
    assert!(exited.status.success(), "{}", exited.log);
}

#[test]
fn connect_gives_up_after_its_retries_and_names_the_path() {
    let scratch = Scratch::new();
    let missing = scratch.path("nobody.sock");
    let config = copy_config(
        &scratch,
        "copy",
        json!({ "type": "connect", "path": missing, "retry-attempts": 3, "retry-delay-ms": 10 }),
        json!({ "type": "socket", "path": scratch.path("out.sock"), "direction": "out" }),
    );
    let exited = Host::run(&[&config]).wait();
    assert_eq!(exited.status.code(), Some(1), "{}", exited.log);
    assert!(
        exited.log.contains(&format!(
            "cannot connect to {} after 3 attempts",
            missing.display()
        )),
        "{}",
        exited.log
    );
}

#[test]
fn the_console_is_stdin_and_stdout_for_vathost_run() {
    let scratch = Scratch::new();
    let config = scratch.config(
        "console",
        single_vat_config(&vat("echo"), json!({ "tty": { "type": "console" } })),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_vathost"))
        .args(["run", config.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"a\nb\n").unwrap();
    let stdout = crate::harness::read_all_within(child.stdout.take().unwrap());
    assert!(child.wait().unwrap().success());
    assert_eq!(stdout, "a\nb\n");
}

#[test]
fn a_file_in_is_copied_to_a_file_out_created_private_and_complete() {
    let scratch = Scratch::new();
    let input = scratch.path("input.txt");
    let output = scratch.path("output.txt");
    let lines: Vec<String> = (0..10_000).map(|index| format!("line {index}")).collect();
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let config = copy_config(
        &scratch,
        "files",
        json!({ "type": "file", "path": input, "direction": "in" }),
        json!({ "type": "file", "path": output, "direction": "out" }),
    );
    let exited = Host::run(&[&config]).wait();
    assert!(exited.status.success(), "{}", exited.log);
    assert_eq!(
        std::fs::read_to_string(&output).unwrap(),
        lines.join("\n") + "\n"
    );
    let mode = std::fs::metadata(&output).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // `out` appends: a second run doubles the file.
    let exited = Host::run(&[&config]).wait();
    assert!(exited.status.success(), "{}", exited.log);
    assert_eq!(
        std::fs::read_to_string(&output).unwrap().lines().count(),
        20_000
    );
}

/// Arbitrary binary data, every byte value, in an awkward length.
fn binary(length: usize) -> Vec<u8> {
    let mut state: u32 = 0x9E37_79B9;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

#[test]
fn binary_files_round_trip_through_a_bytes_channel() {
    let scratch = Scratch::new();
    let input = scratch.path("in.bin");
    let output = scratch.path("out.bin");
    let data = binary(3 * 1024 * 1024 + 7);
    std::fs::write(&input, &data).unwrap();
    let config = copy_config(
        &scratch,
        "bytes",
        json!({ "type": "file", "path": input, "direction": "in", "unit": "bytes" }),
        json!({ "type": "file", "path": output, "direction": "out", "unit": "bytes" }),
    );
    let exited = Host::run(&[&config]).wait();
    assert!(exited.status.success(), "{}", exited.log);
    assert!(std::fs::read(&output).unwrap() == data, "the bytes differ");
}

#[test]
fn binary_streams_round_trip_over_sockets() {
    let scratch = Scratch::new();
    let upstream_path = scratch.path("up.sock");
    let upstream = UnixListener::bind(&upstream_path).unwrap();
    let out = scratch.path("out.sock");
    let config = copy_config(
        &scratch,
        "stream",
        json!({ "type": "connect", "path": upstream_path, "direction": "in", "unit": "bytes" }),
        json!({ "type": "socket", "path": out, "direction": "out", "unit": "bytes" }),
    );
    let host = Host::run(&[&config]);
    host.wait_for_log(&format!("listening on {}", out.display()));
    let mut reader = std::os::unix::net::UnixStream::connect(&out).unwrap();
    reader
        .set_read_timeout(Some(crate::harness::PATIENCE))
        .unwrap();
    host.wait_for_log("client connected");
    let (mut peer, _) = upstream.accept().unwrap();
    let data = binary(1024 * 1024 + 13);
    let sent = data.clone();
    let writer = std::thread::spawn(move || {
        peer.write_all(&sent).unwrap();
    });
    let mut received = vec![0u8; data.len()];
    reader.read_exact(&mut received).unwrap();
    writer.join().unwrap();
    assert!(received == data, "the bytes differ");
}

#[test]
fn line_calls_on_a_bytes_channel_are_wrong_unit() {
    let scratch = Scratch::new();
    // `shout` reads lines whatever its channel carries (the echo vat
    // would echo bytes).
    let config = json!({
        "bootstrap": "main",
        "vats": { "main": { "component": vat("shout") } },
        "io": { "raw": { "type": "socket", "path": scratch.path("raw.sock"), "unit": "bytes" } },
    });
    let exited = Host::run(&[&scratch.config("wrong", config)]).wait();
    assert_eq!(exited.status.code(), Some(1), "{}", exited.log);
    assert!(exited.log.contains("wrong unit"), "{}", exited.log);
}
