//! Failed vats restarted and vats upgraded live, with clients connected
//! throughout, against real daemon processes.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::harness::{Client, Host, Scratch, vat, vathost_output};

struct Daemon {
    _host: Host,
    home: PathBuf,
    scratch: Scratch,
}

impl Daemon {
    fn start() -> Self {
        let scratch = Scratch::new();
        Self::start_in(scratch)
    }

    fn start_in(scratch: Scratch) -> Self {
        let home = scratch.path("home");
        let host = Host::start(
            &["daemon", "--foreground", "--home", home.to_str().unwrap()],
            &[],
        );
        host.wait_for_log("daemon ready");
        Self {
            _host: host,
            home,
            scratch,
        }
    }

    fn cli(&self, args: &[&str]) -> (Option<i32>, String) {
        vathost_output(args, &[("VATHOST_HOME", &self.home)])
    }

    /// Launches one vat of `component` with the extra vat fields `vat`,
    /// serving the socket `ctl.sock`; returns its socket.
    fn launch(&self, component: &Path, vat: Value) -> PathBuf {
        let socket = self.scratch.path("ctl.sock");
        let mut main = json!({ "component": component });
        for (key, value) in vat.as_object().unwrap() {
            main[key] = value.clone();
        }
        let config = self.scratch.config(
            "one",
            json!({
                "bootstrap": "main",
                "vats": { "main": main },
                "io": { "ctl": { "type": "socket", "path": socket } },
            }),
        );
        let (code, output) = self.cli(&["launch", config.to_str().unwrap()]);
        assert_eq!(code, Some(0), "{output}");
        socket
    }

    fn vat_status(&self) -> Value {
        let (code, output) = self.cli(&["status", "s1", "--json"]);
        assert_eq!(code, Some(0), "{output}");
        let status: Value = serde_json::from_str(&output).unwrap();
        status[0]["vats"][0].clone()
    }
}

#[test]
fn a_failed_vat_restarts_with_its_client_connected_its_state_and_every_line() {
    let daemon = Daemon::start();
    let socket = daemon.launch(
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

    let status = daemon.vat_status();
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
    let config = daemon.scratch.config(
        "listen",
        json!({
            "bootstrap": "main",
            "vats": { "main": {
                "component": vat("phoenix"),
                "restart": "on-failure",
                "restart-backoff-ms": 20,
            } },
            "io": { "clients": { "type": "listen", "path": socket } },
        }),
    );
    let (code, output) = daemon.cli(&["launch", config.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{output}");
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
    assert_eq!(daemon.vat_status()["restarts"], 1);
    assert_eq!(second.exchange("e"), "5 e");
}

#[test]
fn past_its_maximum_of_restarts_a_vat_fails_as_without_a_policy() {
    let daemon = Daemon::start();
    let socket = daemon.launch(
        &vat("phoenix"),
        json!({ "restart": "on-failure", "max-restarts": 1, "restart-backoff-ms": 1 }),
    );
    let mut client = Client::connect(&socket);
    client.send("crash");
    client.send("crash");
    // The bootstrap vat failed for good: its subcluster ends, the client
    // is disconnected.
    assert_eq!(client.recv(), None);
    let status = daemon.vat_status();
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
    let socket = daemon.launch(&vat("echo"), json!({}));
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
    assert_eq!(daemon.vat_status()["upgrades"], 1);
}

#[test]
fn a_bad_component_changes_nothing_and_an_upgrade_outlives_the_daemon() {
    let daemon = Daemon::start();
    let socket = daemon.launch(&vat("echo"), json!({}));
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
    let Daemon {
        _host: host,
        scratch,
        ..
    } = daemon;
    assert!(!host.stop("KILL").status.success());
    let daemon = Daemon::start_in(scratch);
    assert_eq!(Client::connect(&socket).exchange("after"), "AFTER");
    drop(daemon);
}
