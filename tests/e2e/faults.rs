//! Faults found by trying the host from outside (issue 10): replies lost at
//! a client's half-close, terminate held up by a peer that never reads, a
//! failure racing a terminate.

use std::io::Write;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{
    Client, Host, PATIENCE, Scratch, echo_config, single_vat_config, vat, vat_in_mode,
};

/// What `printf ... | nc -N` does: send every line, shut down the write
/// side, then read until the host closes.
fn send_all_then_half_close(client: &mut Client, lines: &[String]) -> Vec<String> {
    let mut burst = String::new();
    for line in lines {
        burst.push_str(line);
        burst.push('\n');
    }
    let mut writer = client.writer();
    let sender = std::thread::spawn(move || {
        writer.write_all(burst.as_bytes()).expect("send the lines");
        writer
            .shutdown(std::net::Shutdown::Write)
            .expect("shut down the write side");
    });
    let replies = client.recv_all();
    sender.join().expect("sender");
    replies
}

fn numbered(count: usize) -> Vec<String> {
    (0..count).map(|index| format!("line {index}")).collect()
}

#[test]
fn a_client_that_half_closes_gets_every_reply_on_a_socket_channel() {
    let scratch = Scratch::new();
    let socket = scratch.path("echo.sock");
    let host = Host::run(&[&echo_config(&scratch, "echo", &socket)]);
    for count in [1, 100, 1000, 20_000] {
        let lines = numbered(count);
        let mut client = Client::connect(&socket);
        let replies = send_all_then_half_close(&mut client, &lines);
        assert_eq!(replies.len(), count, "log:\n{}", host.log());
        assert_eq!(replies, lines);
    }
    // The channel serves the next client as before.
    assert_eq!(Client::connect(&socket).exchange("after"), "after");
}

#[test]
fn a_client_that_half_closes_gets_every_reply_on_a_listen_connection() {
    let scratch = Scratch::new();
    let socket = scratch.path("repl.sock");
    let config = scratch.config(
        "repl",
        single_vat_config(
            &vat("repl"),
            json!({ "sessions": { "type": "listen", "path": socket } }),
        ),
    );
    let host = Host::run(&[&config]);
    for count in [1, 100, 1000] {
        let lines: Vec<String> = (0..count).map(|index| format!("set v{index} x")).collect();
        let mut client = Client::connect(&socket);
        let replies = send_all_then_half_close(&mut client, &lines);
        assert_eq!(replies.len(), count, "log:\n{}", host.log());
        assert!(replies.iter().all(|reply| reply == "ok"), "{replies:?}");
    }
}

#[test]
fn a_reply_written_after_the_end_of_input_still_reaches_a_half_closed_client() {
    // The vat answers only once it has read the end of the client's input.
    let scratch = Scratch::new();
    let socket = scratch.path("count.sock");
    let _host = Host::run(&[&vat_in_mode(
        &scratch,
        "hostile",
        "count",
        json!({ "own": { "type": "socket", "path": socket } }),
    )]);
    let mut client = Client::connect(&socket);
    client.send("go");
    let replies = send_all_then_half_close(&mut client, &numbered(3));
    assert_eq!(replies, ["3 lines"]);
    // The next client is counted on its own.
    let mut next = Client::connect(&socket);
    assert_eq!(
        send_all_then_half_close(&mut next, &numbered(5)),
        ["5 lines"]
    );
}

/// Waits until at least `bytes` sent to `stream` lie unread in its socket
/// buffer: the peer writing to it is then blocked, its output piling up.
pub fn wait_until_unread(stream: &UnixStream, bytes: usize) {
    let deadline = Instant::now() + PATIENCE;
    while rustix::io::ioctl_fionread(stream).expect("FIONREAD") < bytes as u64 {
        assert!(
            Instant::now() < deadline,
            "fewer than {bytes} bytes ever arrived"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sigterm_ends_run_promptly_while_a_client_is_not_reading() {
    let scratch = Scratch::new();
    let socket = scratch.path("blast.sock");
    let host = Host::run(&[&vat_in_mode(
        &scratch,
        "hostile",
        "blast",
        json!({ "own": { "type": "socket", "path": socket } }),
    )]);
    let mut client = Client::connect(&socket);
    client.send("go");
    wait_until_unread(&client.writer(), 64 * 1024);
    let exited = host.stop("TERM");
    assert!(exited.status.success(), "{}", exited.log);
    assert!(
        exited.log.contains("the peer did not take") && exited.log.contains("channel=own"),
        "the dropped output is logged with its channel:\n{}",
        exited.log
    );
    assert!(!socket.exists());
}

#[test]
fn sigterm_ends_run_promptly_while_a_connect_peer_is_not_reading() {
    let scratch = Scratch::new();
    let peer_path = scratch.path("peer.sock");
    let peer = UnixListener::bind(&peer_path).unwrap();
    let host = Host::run(&[&vat_in_mode(
        &scratch,
        "hostile",
        "blast",
        json!({ "up": { "type": "connect", "path": peer_path } }),
    )]);
    let (mut connection, _) = peer.accept().unwrap();
    connection.write_all(b"go\n").unwrap();
    wait_until_unread(&connection, 64 * 1024);
    let exited = host.stop("TERM");
    assert!(exited.status.success(), "{}", exited.log);
    assert!(
        exited.log.contains("the peer did not take") && exited.log.contains("channel=up"),
        "{}",
        exited.log
    );
}

#[test]
fn a_failure_just_before_sigterm_still_fails_the_run() {
    for attempt in 0..3 {
        let scratch = Scratch::new();
        let socket = scratch.path("trap.sock");
        let host = Host::run(&[&vat_in_mode(
            &scratch,
            "hostile",
            "trap-deep",
            json!({ "own": { "type": "socket", "path": socket } }),
        )]);
        let mut client = Client::connect(&socket);
        client.send("go");
        // The vat traps right after saying so, under a deep stack whose
        // backtrace the host takes a while to capture: the SIGTERM lands
        // after the failure, before the host has finished with it.
        assert_eq!(client.recv().as_deref(), Some("trapping"));
        host.signal("TERM");
        let exited = host.wait();
        assert_eq!(
            exited.status.code(),
            Some(1),
            "attempt {attempt}: {}",
            exited.log
        );
        let error = exited
            .log
            .lines()
            .find(|line| line.starts_with("Error:"))
            .unwrap_or_default();
        assert!(
            error.contains("trapped"),
            "attempt {attempt}: {}",
            exited.log
        );
    }
}

#[test]
fn a_connection_the_vat_drops_frees_its_place_even_with_its_queue_full() {
    let scratch = Scratch::new();
    let own = scratch.path("own.sock");
    let sessions = scratch.path("sessions.sock");
    let _host = Host::run(&[&vat_in_mode(
        &scratch,
        "hostile",
        "hold-then-drop",
        json!({
            "own": { "type": "socket", "path": own },
            "sessions": { "type": "listen", "path": sessions, "max-clients": 1, "queue": 4 },
        }),
    )]);
    let mut control = Client::connect(&own);
    control.send("go");
    let mut first = Client::connect(&sessions);
    assert_eq!(first.recv().as_deref(), Some("welcome"));
    // More than the queue holds, unread by the vat; then the client leaves.
    for index in 0..64 {
        first.send(&format!("unread {index}"));
    }
    drop(first);
    let mut turned_away = Client::connect(&sessions);
    assert_eq!(
        turned_away.recv().as_deref(),
        Some("vathost: listener `sessions` is full: it serves at most 1 clients at once")
    );
    // The vat lets go of the first connection: its place comes free (the
    // host notices the drop a moment later, so a client may retry).
    control.send("drop it");
    assert_eq!(control.recv().as_deref(), Some("dropped"));
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut next = Client::connect(&sessions);
        match next.recv().as_deref() {
            Some("welcome") => break,
            Some(full) if full.contains("is full") => {
                assert!(Instant::now() < deadline, "the place never came free");
                std::thread::sleep(Duration::from_millis(20));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
