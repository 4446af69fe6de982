//! `vathost run`: launching, talking to vats, and how the process ends.

use serde_json::json;

use crate::harness::{Client, Host, Scratch, echo_config, single_vat_config, vat};

#[test]
fn echo_vat_echoes_lines_and_sigterm_removes_the_socket() {
    let scratch = Scratch::new();
    let socket = scratch.path("echo.sock");
    let config = echo_config(&scratch, "echo", &socket);
    let host = Host::run(&[&config]);
    let mut client = Client::connect(&socket);
    assert_eq!(client.exchange("hello"), "hello");
    assert_eq!(client.exchange("héllo → wörld"), "héllo → wörld");
    assert_eq!(client.exchange(""), "");
    host.wait_for_log(&format!("listening on {}", socket.display()));

    let exited = host.stop("TERM");
    assert!(
        exited.status.success(),
        "exit {:?}; log:\n{}",
        exited.status,
        exited.log
    );
    assert!(!socket.exists(), "socket file left behind");
    // The vat's stdout reached the log with its name.
    assert!(exited.log.contains("echo serving `repl`"), "{}", exited.log);
    assert!(exited.log.contains("vat=\"main\""), "{}", exited.log);
}

#[test]
fn sigint_terminates_cleanly() {
    let scratch = Scratch::new();
    let socket = scratch.path("echo.sock");
    let config = echo_config(&scratch, "echo", &socket);
    let host = Host::run(&[&config]);
    let mut client = Client::connect(&socket);
    assert_eq!(client.exchange("ping"), "ping");
    let exited = host.stop("INT");
    assert!(exited.status.success(), "{}", exited.log);
    assert!(!socket.exists());
    // The connected client sees the channel close.
    assert_eq!(client.recv(), None);
}

#[test]
fn exits_0_when_every_vat_returns() {
    let scratch = Scratch::new();
    let socket = scratch.path("s.sock");
    let mut config = single_vat_config(
        &vat("crash"),
        json!({ "s": { "type": "socket", "path": socket } }),
    );
    config["vats"]["main"]["parameters"] = json!({ "mode": "return" });
    let exited = Host::run(&[&scratch.config("c", config)]).wait();
    assert!(exited.status.success(), "{}", exited.log);
    assert!(
        !socket.exists(),
        "channels are closed when the subcluster ends"
    );
}

/// Runs the crash vat in `mode`: it fails at once; the run exits 1 and the
/// log names the vat and `causes`.
fn crash_run(mode: &str, causes: &[&str]) {
    let scratch = Scratch::new();
    let mut config = single_vat_config(&vat("crash"), json!({}));
    config["vats"]["main"]["parameters"] = json!({ "mode": mode });
    let exited = Host::run(&[&scratch.config("c", config)]).wait();
    assert_eq!(exited.status.code(), Some(1), "{}", exited.log);
    for cause in ["vat `main`"].iter().chain(causes) {
        assert!(
            exited.log.contains(cause),
            "no {cause:?} in:\n{}",
            exited.log
        );
    }
}

#[test]
fn exits_1_with_the_error_a_vat_returned() {
    crash_run("error", &["the vat gave up on purpose"]);
}

#[test]
fn a_panicking_vat_fails_the_run_with_its_panic_message() {
    // On one line: the place and the message, not `unreachable`.
    crash_run(
        "panic",
        &[
            "trapped: vat panicked at tests/vats/crash/src/lib.rs:10:26: the vat panicked on purpose",
        ],
    );
}

#[test]
fn upper_reads_in_and_writes_out() {
    let scratch = Scratch::new();
    let input = scratch.path("in.sock");
    let output = scratch.path("out.sock");
    let config = json!({
        "bootstrap": "upper",
        "vats": { "upper": { "component": vat("upper") } },
        "io": {
            "in": { "type": "socket", "path": input, "direction": "in" },
            "out": { "type": "socket", "path": output, "direction": "out" },
        },
    });
    let host = Host::run(&[&scratch.config("upper", config)]);
    let mut reader = Client::connect(&output);
    // The reader must be attached before lines flow, or upper drops them.
    host.wait_for_log("client connected");
    let mut writer = Client::connect(&input);
    for line in ["hello", "mixed Case", "ß straße"] {
        writer.send(line);
        assert_eq!(reader.recv().as_deref(), Some(line.to_uppercase().as_str()));
    }
    drop(host);
}

#[test]
fn bridge_joins_two_channels_waiting_on_both() {
    let scratch = Scratch::new();
    let left = scratch.path("l.sock");
    let right = scratch.path("r.sock");
    let config = json!({
        "bootstrap": "bridge",
        "vats": { "bridge": { "component": vat("bridge") } },
        "io": {
            "left": { "type": "socket", "path": left },
            "right": { "type": "socket", "path": right },
        },
    });
    let host = Host::run(&[&scratch.config("bridge", config)]);
    let mut l = Client::connect(&left);
    // Alone, the bridge says nobody is on the other side.
    assert_eq!(l.exchange("anyone?"), "nobody is on `right`");
    let mut r = Client::connect(&right);
    host.wait_for_log_count("client connected", 2);
    l.send("from left");
    assert_eq!(r.recv().as_deref(), Some("from left"));
    r.send("from right");
    assert_eq!(l.recv().as_deref(), Some("from right"));
    r.send("again");
    assert_eq!(l.recv().as_deref(), Some("again"));
}

#[test]
fn direction_is_enforced_on_every_call_without_trapping() {
    let scratch = Scratch::new();
    let config = json!({
        "bootstrap": "main",
        "vats": { "main": { "component": vat("directions") } },
        "io": {
            "report": { "type": "socket", "path": scratch.path("report.sock") },
            "in-only": { "type": "socket", "path": scratch.path("in.sock"), "direction": "in" },
            "out-only": { "type": "socket", "path": scratch.path("out.sock"), "direction": "out" },
        },
    });
    let host = Host::run(&[&scratch.config("directions", config)]);
    let mut report = Client::connect(&scratch.path("report.sock"));
    let mut in_client = Client::connect(&scratch.path("in.sock"));
    host.wait_for_log_count("client connected", 2);
    for _ in 0..3 {
        assert_eq!(
            report.exchange("try"),
            "read out-only: NotReadable; write in-only: NotWritable; write newline: InvalidData"
        );
    }
    // Nothing was written to the `in` channel's client.
    in_client.shutdown_write();
    drop(host);
    assert_eq!(in_client.recv(), None);
}
