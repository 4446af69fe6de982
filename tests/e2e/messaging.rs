//! Messages between vats: the `messenger` test vat's driver runs one
//! scenario per line on its `ctl` socket against peers in the same
//! subcluster, and answers with what it saw.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::harness::{Client, Host, PATIENCE, Scratch, vat};

/// The subcluster the scenarios run in: `a` drives, `b` and `c` are peers
/// (`b` takes messages of at most 4 KiB), `deaf` never reads its inbox of
/// 16, `io` is an IO-only vat.
fn messenger_config(scratch: &Scratch, name: &str) -> (PathBuf, PathBuf) {
    let ctl = scratch.path(&format!("{name}-ctl.sock"));
    let messenger = vat("messenger");
    let config = scratch.config(
        name,
        json!({
            "bootstrap": "a",
            "vats": {
                "a": {
                    "component": messenger,
                    "parameters": { "role": "driver" },
                    "limits": { "handles": 30000 },
                    "io": ["ctl"],
                },
                "b": {
                    "component": messenger,
                    "parameters": { "role": "peer" },
                    "limits": { "message": "4KiB", "inbox": 20000 },
                },
                "c": { "component": messenger, "parameters": { "role": "peer" } },
                "deaf": {
                    "component": messenger,
                    "parameters": { "role": "deaf" },
                    "limits": { "inbox": 16 },
                },
                "io": { "component": vat("echo"), "io": ["e"] },
            },
            "io": {
                "ctl": { "type": "socket", "path": ctl },
                "e": { "type": "socket", "path": scratch.path(&format!("{name}-e.sock")) },
            },
        }),
    );
    (config, ctl)
}

struct Messengers {
    host: Host,
    ctl: Client,
    _scratch: Scratch,
}

impl Messengers {
    fn start() -> Self {
        let scratch = Scratch::new();
        let (config, ctl) = messenger_config(&scratch, "m");
        let host = Host::run(&[&config]);
        let ctl = Client::connect(&ctl);
        Self {
            host,
            ctl,
            _scratch: scratch,
        }
    }

    fn ask(&mut self, command: &str) -> String {
        self.ctl.exchange(command)
    }
}

#[test]
fn the_bootstrap_vat_gets_the_root_of_every_other_vat_of_its_subcluster_only() {
    let scratch = Scratch::new();
    let (first, first_ctl) = messenger_config(&scratch, "first");
    let (second, second_ctl) = messenger_config(&scratch, "second");
    let _host = Host::run(&[&first, &second]);
    // Each driver sees the four other vats of its own subcluster: the same
    // names in both, but each designates its own subcluster's vat.
    let mut first = Client::connect(&first_ctl);
    let mut second = Client::connect(&second_ctl);
    assert_eq!(first.exchange("roots"), "b,c,deaf,io");
    assert_eq!(second.exchange("roots"), "b,c,deaf,io");
    assert!(
        first
            .exchange("owed")
            .starts_with("held: rejected `b` failed")
    );
    assert!(first.exchange("echo b").starts_with("rejected `b` failed"));
    assert_eq!(second.exchange("echo b"), "fulfilled \"hi\"");
}

#[test]
fn a_channel_passed_in_a_message_is_the_same_channel() {
    let mut m = Messengers::start();
    // `b` writes on the driver's own `ctl`, which it received in a message.
    m.ctl.send("lend");
    assert_eq!(m.ctl.recv().as_deref(), Some("written by b"));
    assert_eq!(m.ctl.recv().as_deref(), Some("fulfilled null"));
}

#[test]
fn ten_thousand_pipelined_sends_arrive_in_order_and_are_all_answered() {
    let mut m = Messengers::start();
    assert_eq!(
        m.ask("order 10000"),
        "seen 10000 sum 49995000 out-of-order 0"
    );
}

#[test]
fn a_ref_passed_on_keeps_order_and_a_resolution_never_overtakes_its_senders_messages() {
    let mut m = Messengers::start();
    // A sends 0..99 to X, passes X to C, which sends 100 and then answers;
    // A, having seen the answer, sends 101. X must see 0..=101 in order.
    assert_eq!(m.ask("three 100"), "seen 102 out-of-order ");
}

#[test]
fn facets_arrive_tagged_and_identity_survives_a_round_trip_through_another_vat() {
    let mut m = Messengers::start();
    assert_eq!(
        m.ask("identity"),
        "facet 7; 7=7 true; 7=8 false; 7=b false; bounced true"
    );
}

#[test]
fn a_vat_called_back_while_it_waits_serves_the_call_and_nothing_deadlocks() {
    let mut m = Messengers::start();
    assert_eq!(m.ask("cycle"), "cycle \"pong\"");
}

#[test]
fn unknown_methods_bad_arguments_and_dropped_resolvers_reject_with_a_reason() {
    let mut m = Messengers::start();
    let unknown = m.ask("unknown");
    assert!(
        unknown.starts_with("rejected no method `no-such` | rejected bad arguments to `seq`"),
        "{unknown}"
    );
    assert_eq!(m.ask("dropped"), "rejected dropped without an answer");
}

#[test]
fn a_message_over_the_receivers_limit_rejects_at_once() {
    let mut m = Messengers::start();
    assert_eq!(
        m.ask("big 5000"),
        "rejected the message is 5006 bytes, more than `b`'s limits.message (4096)"
    );
    assert_eq!(
        m.ask("big 100"),
        format!("fulfilled \"{}\"", "x".repeat(100))
    );
}

#[test]
fn an_io_only_vat_takes_no_messages_and_its_senders_learn_it_at_once() {
    let mut m = Messengers::start();
    assert_eq!(
        m.ask("io-only"),
        "rejected `io` dropped its inbox: it takes no messages"
    );
}

#[test]
fn when_a_vat_fails_what_it_owes_rejects_later_sends_reject_at_once_and_others_run_on() {
    let mut m = Messengers::start();
    let trapped =
        "rejected `b` failed: trapped: wasm trap: wasm `unreachable` instruction executed";
    assert_eq!(
        m.ask("owed"),
        format!(
            "held: {trapped} | trap: {trapped} | queued: {trapped} | later: {trapped} | c: fulfilled \"alive\""
        )
    );
    // The subcluster goes on: only `b` ended.
    assert_eq!(m.ask("echo c"), "fulfilled \"hi\"");
    m.host.wait_for_log("vat failed vat=b");
}

#[test]
fn a_restarted_vat_keeps_its_refs_and_queued_messages_and_rejects_what_the_old_instance_owed() {
    let scratch = Scratch::new();
    let (config, ctl) = messenger_config(&scratch, "restarting");
    let mut text: Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    text["vats"]["b"]["restart"] = json!("on-failure");
    std::fs::write(&config, text.to_string()).unwrap();
    let _host = Host::run(&[&config]);
    let mut ctl = Client::connect(&ctl);
    let trapped = "rejected `b` failed: trapped: wasm trap: wasm `unreachable` instruction executed (restarting)";
    // The message queued behind the trap and the later one reach the new
    // instance through the same root ref.
    assert_eq!(
        ctl.exchange("owed"),
        format!(
            "held: {trapped} | trap: {trapped} | queued: fulfilled \"queued\" | later: fulfilled \"later\" | c: fulfilled \"alive\""
        )
    );
    assert_eq!(ctl.exchange("echo b"), "fulfilled \"hi\"");
}

#[test]
fn a_forged_or_stale_ref_handle_traps_that_vat_alone() {
    for (command, index) in [("forge", "1000"), ("stale", "")] {
        let mut m = Messengers::start();
        let reply = m.ask(command);
        assert!(
            reply.starts_with("rejected `c` failed: trapped: unknown handle index"),
            "{command}: {reply}"
        );
        assert!(reply.contains(index), "{command}: {reply}");
        assert_eq!(m.ask("echo b"), "fulfilled \"hi\"", "{command}");
        assert_eq!(
            m.ask("echo c").split(':').next(),
            Some("rejected `c` failed")
        );
    }
}

#[test]
fn a_vat_that_never_reads_its_inbox_holds_host_memory_flat_and_blocks_no_one() {
    let mut m = Messengers::start();
    // The first flood fills the inbox: 16 wait, the rest reject at once.
    assert_eq!(m.ask("flood 100 1024"), "pending 16 full 84 other 0");
    let before = m.host.rss_kib();
    // 100,000 more sends of 1 KiB each: 100 MB if the inbox grew.
    for _ in 0..20 {
        assert_eq!(m.ask("flood 5000 1024"), "pending 0 full 5000 other 0");
    }
    let grown = m.host.rss_kib().saturating_sub(before);
    assert!(grown < 16 * 1024, "host grew {grown} KiB under the flood");
    // The sender was never blocked, and the others still answer.
    assert_eq!(m.ask("echo b"), "fulfilled \"hi\"");
}

/// `vathost status` against a daemon: each vat's inbox depth and the age
/// of its oldest message; terminate does not wait on the full inbox.
#[test]
fn status_shows_each_inbox_and_terminate_does_not_wait_on_pending_messages() {
    let daemon = crate::daemon::Daemon::start();
    let (config, ctl) = messenger_config(&daemon.scratch, "status");
    let id = daemon.launch(&config);
    let mut ctl = Client::connect(&ctl);
    assert_eq!(ctl.exchange("flood 20 10"), "pending 16 full 4 other 0");

    let (code, output) = daemon.cli(&["status", &id, "--json"]);
    assert_eq!(code, Some(0), "{output}");
    let status: Value = serde_json::from_str(&output).unwrap();
    let inbox = |vat: &str| -> Value {
        status[0]["vats"]
            .as_array()
            .unwrap()
            .iter()
            .find(|entry| entry["name"] == vat)
            .unwrap()["inbox"]
            .clone()
    };
    assert_eq!(inbox("deaf")["depth"], 16, "{output}");
    assert!(inbox("deaf")["oldest_ms"].is_u64(), "{output}");
    assert_eq!(inbox("b")["depth"], 0, "{output}");
    assert!(inbox("b").get("oldest_ms").is_none(), "{output}");

    let (code, output) = daemon.cli(&["status", &id]);
    assert_eq!(code, Some(0), "{output}");
    assert!(
        output.contains("vat deaf: running, inbox 16 (oldest "),
        "{output}"
    );
    assert!(
        output.contains("vat b: running, inbox 0, store 0 bytes, cpu "),
        "{output}"
    );

    let started = std::time::Instant::now();
    let (code, output) = daemon.cli(&["terminate", &id]);
    assert_eq!(code, Some(0), "{output}");
    assert!(
        started.elapsed() < PATIENCE,
        "terminate took {:?}",
        started.elapsed()
    );
    daemon.stop();
}

/// Runs an example's `cluster.json` as it is, from its own directory.
fn run_example(example: &str) -> Host {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let config = root.join(format!("vats/{example}/cluster.json"));
    Host::run(&[&config])
}

#[test]
fn chat_example_broadcasts_each_clients_lines_in_order_to_every_other_client() {
    let host = run_example("chat");
    let socket = Path::new("/tmp/vathost-chat.sock");
    let mut clients: Vec<Client> = (1..=3)
        .map(|n| {
            let mut client = Client::connect(socket);
            assert_eq!(
                client.recv().as_deref(),
                Some(format!("* you are c{n}").as_str())
            );
            client
        })
        .collect();
    for n in 0..20 {
        clients[0].send(&format!("one {n}"));
        clients[1].send(&format!("two {n}"));
    }
    let expect = |from: &str, word: &str| -> Vec<String> {
        (0..20).map(|n| format!("{from}: {word} {n}")).collect()
    };
    // c3 hears both, each in its sender's order; c1 and c2 hear each other.
    let mut heard: Vec<String> = (0..40).map(|_| clients[2].recv().unwrap()).collect();
    let from_c1: Vec<String> = heard
        .iter()
        .filter(|l| l.starts_with("c1:"))
        .cloned()
        .collect();
    heard.retain(|line| line.starts_with("c2:"));
    assert_eq!(from_c1, expect("c1", "one"));
    assert_eq!(heard, expect("c2", "two"));
    let c1_heard: Vec<String> = (0..20).map(|_| clients[0].recv().unwrap()).collect();
    assert_eq!(c1_heard, expect("c2", "two"));
    let c2_heard: Vec<String> = (0..20).map(|_| clients[1].recv().unwrap()).collect();
    assert_eq!(c2_heard, expect("c1", "one"));
    // A client that leaves is no longer written to; the others go on.
    drop(clients.remove(0));
    clients[0].send("still here");
    assert_eq!(clients[1].recv().as_deref(), Some("c2: still here"));
    host.stop("TERM");
}

#[test]
fn workers_example_hands_each_client_to_the_next_worker_in_turn() {
    let host = run_example("workers");
    let socket = Path::new("/tmp/vathost-workers.sock");
    let mut clients = Vec::new();
    for n in 0..6 {
        let mut client = Client::connect(socket);
        // Each client is served by worker 1, 2, 3, 1, 2, 3, directly.
        assert_eq!(
            client.exchange(&format!("hello {n}")),
            format!("worker {}: HELLO {n}", n % 3 + 1)
        );
        clients.push(client);
    }
    // Every client keeps its worker, all served at once.
    for (n, client) in clients.iter_mut().enumerate() {
        assert_eq!(
            client.exchange("again"),
            format!("worker {}: AGAIN", n % 3 + 1)
        );
    }
    host.stop("TERM");
}

/// The benchmark's vats, small: the pinger's timings are printed and the
/// subcluster ends by itself once the ponger is told to stop.
#[test]
fn pingpong_round_trips_complete_and_the_subcluster_ends_by_itself() {
    let scratch = Scratch::new();
    let pingpong = vat("pingpong");
    let config = scratch.config(
        "pingpong",
        json!({
            "bootstrap": "pinger",
            "vats": {
                "pinger": {
                    "component": pingpong,
                    "parameters": { "role": "pinger", "rounds": 3000, "window": 100, "pings": 100 },
                },
                "ponger": { "component": pingpong, "parameters": { "role": "ponger" } },
            },
        }),
    );
    let exited = Host::run(&[&config]).wait();
    assert!(exited.status.success(), "{}", exited.log);
    assert!(exited.log.contains("pipelined 3000 in "), "{}", exited.log);
    assert!(exited.log.contains("latency p50 "), "{}", exited.log);
}
