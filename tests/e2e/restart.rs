//! Failed vats restarted and vats upgraded live, with clients connected
//! throughout, against real daemon processes.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::daemon::Daemon;
use crate::harness::{Client, single_vat_config, vat, vathost_output};

/// Launches in `daemon` one vat of `component` with the extra vat fields
/// `vat`, serving the socket `ctl.sock`; returns the socket.
fn launch_one(daemon: &Daemon, component: &Path, vat: Value) -> PathBuf {
    let socket = daemon.scratch.path("ctl.sock");
    let mut config = single_vat_config(
        component,
        json!({ "ctl": { "type": "socket", "path": socket } }),
    );
    for (key, value) in vat.as_object().unwrap() {
        config["vats"]["main"][key] = value.clone();
    }
    daemon.launch(&daemon.scratch.config("one", config));
    socket
}

/// The one vat of subcluster s1, as `status --json` shows it.
fn vat_status(daemon: &Daemon) -> Value {
    let (code, output) = daemon.cli(&["status", "s1", "--json"]);
    assert_eq!(code, Some(0), "{output}");
    let status: Value = serde_json::from_str(&output).unwrap();
    status[0]["vats"][0].clone()
}

#[test]
fn a_failed_vat_restarts_with_its_client_connected_its_state_and_every_line() {
    let daemon = Daemon::start();
    let socket = launch_one(
        &daemon,
        &vat("phoenix"),
        json!({ "restart": "on-failure", "restart-backoff-ms": 20 }),
    );
    let mut client = Client::connect(&socket);
    // Sent all at once: the lines after each crash wait in the channel for
    // the next instance.
    let lines: Vec<String> = (1..=30)
        .map(|n| match n {
            10 => "crash".to_owned(),
            20 => "fail".to_owned(),
            n => format!("line {n}"),
        })
        .collect();
    client.send_raw(format!("{}\n", lines.join("\n")).as_bytes());
    let expected: Vec<String> = lines
        .iter()
        .filter(|line| line.starts_with("line"))
        .enumerate()
        .map(|(count, line)| format!("{} {line}", count + 1))
        .collect();
    let replies: Vec<String> = (0..expected.len())
        .map(|_| client.recv().unwrap())
        .collect();
    assert_eq!(replies, expected);

    let status = vat_status(&daemon);
    assert_eq!(status["state"], "running", "{status}");
    assert_eq!(status["restarts"], 2, "{status}");
    assert_eq!(
        status["last_failure"], "returned an error: asked to fail",
        "{status}"
    );
    let (_, text) = daemon.cli(&["status", "s1"]);
    assert!(
        text.contains("restarts 2 (last: returned an error: asked to fail)"),
        "{text}"
    );
}

#[test]
fn clients_a_restarted_vat_had_accepted_on_a_listener_stay_connected_and_are_served_again() {
    let daemon = Daemon::start();
    let socket = daemon.scratch.path("clients.sock");
    let mut config = single_vat_config(
        &vat("phoenix"),
        json!({ "clients": { "type": "listen", "path": socket } }),
    );
    config["vats"]["main"]["restart"] = json!("on-failure");
    config["vats"]["main"]["restart-backoff-ms"] = json!(20);
    daemon.launch(&daemon.scratch.config("listen", config));
    let mut first = Client::connect(&socket);
    let mut second = Client::connect(&socket);
    assert_eq!(first.exchange("a"), "1 a");
    assert_eq!(second.exchange("b"), "2 b");
    // The first client crashes the vat and sends on; the second sends
    // while the vat is down. Both are answered by the new instance.
    first.send("crash");
    first.send("c");
    second.send("d");
    let (c, d) = (first.recv().unwrap(), second.recv().unwrap());
    // In whichever order the new instance took them: counts 3 and 4.
    let mut counts =
        [c.as_str(), d.as_str()].map(|answer| answer.split(' ').next().unwrap().to_owned());
    counts.sort();
    assert_eq!(counts, ["3", "4"], "{c} / {d}");
    assert!(c.ends_with(" c") && d.ends_with(" d"), "{c} / {d}");
    assert_eq!(vat_status(&daemon)["restarts"], 1);
    assert_eq!(second.exchange("e"), "5 e");
}

#[test]
fn past_its_maximum_of_restarts_a_vat_fails_as_without_a_policy() {
    let daemon = Daemon::start();
    let socket = launch_one(
        &daemon,
        &vat("phoenix"),
        json!({ "restart": "on-failure", "max-restarts": 1, "restart-backoff-ms": 1 }),
    );
    let mut client = Client::connect(&socket);
    client.send("crash");
    client.send("crash");
    // The bootstrap vat failed for good: its subcluster ends, the client
    // is disconnected.
    assert_eq!(client.recv(), None);
    let status = vat_status(&daemon);
    let (_, log) = daemon.cli(&["logs", "s1"]);
    assert_eq!(status["state"], "failed", "{status}\n{log}");
    assert_eq!(status["restarts"], 1, "{status}");
    assert!(
        status["error"].as_str().unwrap().contains("unreachable"),
        "{status}"
    );
}

#[test]
fn an_upgrade_under_a_steady_client_loses_no_line_and_switches_behaviour_once() {
    let daemon = Daemon::start();
    let socket = launch_one(&daemon, &vat("echo"), json!({}));
    let mut client = Client::connect(&socket);
    // Ten lines in flight at all times, from before the upgrade starts
    // (after reply 300) until 300 replies after it has finished.
    let window = 10;
    let (start_upgrade, upgrade_wanted) = std::sync::mpsc::channel::<()>();
    let home = daemon.home.clone();
    let upgrader = std::thread::spawn(move || {
        upgrade_wanted.recv().unwrap();
        let shout = vat("shout");
        vathost_output(
            &["upgrade", "s1", "main", shout.to_str().unwrap()],
            &[("VATHOST_HOME", &home)],
        )
    });
    for n in 0..window {
        client.send(&format!("line {n}"));
    }
    let mut replies = Vec::new();
    let mut total = usize::MAX;
    while replies.len() < total {
        replies.push(client.recv().unwrap());
        let next = replies.len() + window - 1;
        if next < total {
            client.send(&format!("line {next}"));
        }
        if replies.len() == 300 {
            start_upgrade.send(()).unwrap();
        }
        if total == usize::MAX && upgrader.is_finished() {
            total = next + 300;
        }
    }
    let (code, output) = upgrader.join().unwrap();
    assert_eq!(code, Some(0), "{output}");
    assert!(
        output.starts_with("upgraded vat main of s1 to sha256:"),
        "{output}"
    );
    let switched = replies
        .iter()
        .position(|reply| reply.starts_with("LINE"))
        .expect("the new component answered");
    for (n, reply) in replies.iter().enumerate() {
        let line = format!("line {n}");
        let expected = if n < switched {
            line
        } else {
            line.to_uppercase()
        };
        assert_eq!(*reply, expected, "reply {n} (switched at {switched})");
    }
    assert_eq!(vat_status(&daemon)["upgrades"], 1);
}

#[test]
fn an_upgrade_of_a_vat_mid_batch_loses_and_repeats_no_line() {
    const LINES: usize = 10_000;
    let daemon = Daemon::start();
    // Without a restart policy the vat takes its input in batches; it waits
    // in the host for each durable write, in the middle of its batch.
    let socket = launch_one(&daemon, &vat("phoenix"), json!({}));
    let mut client = Client::connect(&socket);
    let sender = client.send_lines_in_background(LINES);
    let mut upgrader = None;
    let mut replies = Vec::with_capacity(LINES);
    for n in 0..LINES {
        replies.push(client.recv().unwrap_or_else(|| panic!("reply {n}")));
        if n == 500 {
            let home = daemon.home.clone();
            upgrader = Some(std::thread::spawn(move || {
                let shout = vat("shout");
                vathost_output(
                    &["upgrade", "s1", "main", shout.to_str().unwrap()],
                    &[("VATHOST_HOME", &home)],
                )
            }));
        }
    }
    sender.join().unwrap().expect("send the burst");
    let (code, output) = upgrader.unwrap().join().unwrap();
    assert_eq!(code, Some(0), "{output}");
    // Every line answered once, in order: counted by the old vat, then
    // upper-cased by the new one.
    let switched = replies
        .iter()
        .position(|reply| reply.starts_with("LINE"))
        .expect("the new component answered");
    for (n, reply) in replies.iter().enumerate() {
        let expected = if n < switched {
            format!("{} line {n}", n + 1)
        } else {
            format!("LINE {n}")
        };
        assert_eq!(*reply, expected, "reply {n} (switched at {switched})");
    }
    assert_eq!(vat_status(&daemon)["upgrades"], 1);
}

#[test]
fn an_upgrade_waits_for_a_vat_that_is_computing_to_finish_its_line() {
    let daemon = Daemon::start();
    let socket = launch_one(&daemon, &vat("phoenix"), json!({}));
    let mut client = Client::connect(&socket);
    client.send("compute 400");
    // The vat now runs wasm for 400 ms: yielded at each epoch tick, never
    // waiting in the host, so the upgrade must wait for it.
    assert_eq!(client.recv().as_deref(), Some("computing"));
    let shout = vat("shout");
    let (code, output) = daemon.cli(&["upgrade", "s1", "main", shout.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{output}");
    assert_eq!(client.recv().as_deref(), Some("1 compute 400"));
    client.send("after");
    assert_eq!(client.recv().as_deref(), Some("AFTER"));
    assert_eq!(vat_status(&daemon)["upgrades"], 1);
}

#[test]
fn an_upgrade_goes_through_while_the_vat_waits_on_a_client_that_does_not_read() {
    const LINES: usize = 200_000;
    let daemon = Daemon::start();
    let socket = launch_one(&daemon, &vat("echo"), json!({}));
    let mut client = Client::connect(&socket);
    // Far more replies than the socket buffers hold: with the client not
    // reading, the vat ends up waiting to write them.
    let sender = client.send_lines_in_background(LINES);
    assert_eq!(client.recv().as_deref(), Some("line 0"));
    let shout = vat("shout");
    let (code, output) = daemon.cli(&["upgrade", "s1", "main", shout.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{output}");
    // What the old vat wrote reaches the client, then the new one's replies.
    let mut switched = None;
    for n in 1..LINES {
        let reply = client.recv().unwrap_or_else(|| panic!("reply {n}"));
        if switched.is_none() && reply.starts_with("LINE") {
            switched = Some(n);
        }
        let expected = format!("line {n}");
        if switched.is_some() {
            assert_eq!(reply, expected.to_uppercase(), "reply {n}");
        } else {
            assert_eq!(reply, expected, "reply {n}");
        }
    }
    sender.join().unwrap().expect("send the burst");
    assert!(switched.is_some(), "the new component answered");
}

#[test]
fn a_bad_component_changes_nothing_and_an_upgrade_outlives_the_daemon() {
    let daemon = Daemon::start();
    let socket = launch_one(&daemon, &vat("echo"), json!({}));
    let not_a_component = daemon.scratch.path("not.wasm");
    std::fs::write(&not_a_component, b"\0asm but not really").unwrap();
    let (code, output) = daemon.cli(&["upgrade", "s1", "main", not_a_component.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("nothing was changed"), "{output}");
    let (code, output) = daemon.cli(&["upgrade", "s1", "nobody", vat("shout").to_str().unwrap()]);
    assert_ne!(code, Some(0), "{output}");
    assert!(
        output.contains("subcluster s1 has no vat `nobody`"),
        "{output}"
    );
    assert_eq!(
        Client::connect(&socket).exchange("still echo"),
        "still echo"
    );

    let (code, output) = daemon.cli(&["upgrade", "s1", "main", vat("shout").to_str().unwrap()]);
    assert_eq!(code, Some(0), "{output}");
    assert_eq!(Client::connect(&socket).exchange("now"), "NOW");
    // The record names the new component: a restarted daemon runs it.
    let daemon = Daemon::start_in(daemon.kill());
    assert_eq!(Client::connect(&socket).exchange("after"), "AFTER");
    drop(daemon);
}
