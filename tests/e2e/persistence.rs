//! Durable vat state and subclusters restored by the daemon, against real
//! daemon processes killed with SIGKILL and started again on the same home.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::daemon::Daemon;
use crate::harness::{Client, Host, Scratch, single_vat_config, vat};

/// Writes the config `name`: one vat of `component` with `limits`, serving
/// the socket `name.sock`; returns the config and the socket.
fn ctl_config(
    scratch: &Scratch,
    name: &str,
    component: &Path,
    limits: Value,
) -> (PathBuf, PathBuf) {
    let socket = scratch.path(&format!("{name}.sock"));
    let mut config = single_vat_config(
        component,
        json!({ "ctl": { "type": "socket", "path": socket } }),
    );
    config["vats"]["main"]["limits"] = limits;
    (scratch.config(name, config), socket)
}

#[test]
fn the_counter_keeps_its_total_across_a_sigkill_of_the_daemon() {
    let daemon = Daemon::start();
    let (config, socket) = ctl_config(&daemon.scratch, "counter", &vat("counter"), json!({}));
    assert_eq!(daemon.launch(&config), "s1");
    let mut client = Client::connect(&socket);
    assert_eq!(client.exchange("add 5"), "5");
    assert_eq!(client.exchange("add 37"), "42");
    drop(client);
    let scratch = daemon.kill();

    let daemon = Daemon::start_in(scratch);
    let list = daemon.list();
    assert_eq!(list[0]["id"], "s1", "{list}");
    assert_eq!(list[0]["state"], "running", "{list}");
    let mut client = Client::connect(&socket);
    assert_eq!(client.exchange("get"), "42");
    assert_eq!(client.exchange("add 1"), "43");
    let (_, status) = daemon.cli(&["status", "s1"]);
    assert!(
        status.contains("vat main: running, inbox 0, store 7 bytes"),
        "{status}"
    );
    // A new launch does not reuse a restored id.
    let (other, _) = ctl_config(&daemon.scratch, "other", &vat("counter"), json!({}));
    assert_eq!(daemon.launch(&other), "s2");
    drop(client);
    drop(daemon);
}

#[test]
fn every_write_acknowledged_before_a_sigkill_under_load_is_there_after() {
    let daemon = Daemon::start();
    let (config, socket) = ctl_config(&daemon.scratch, "load", &vat("counter"), json!({}));
    daemon.launch(&config);
    // A client adds 1 as fast as the replies come; the daemon is killed
    // in the middle.
    let mut client = Client::connect(&socket);
    let mut acknowledged = 0u64;
    for _ in 0..200 {
        acknowledged = client.exchange("add 1").parse().unwrap();
    }
    let mut writer = client.writer();
    let sender = std::thread::spawn(move || {
        use std::io::Write;
        // Keeps sending until the daemon dies under it.
        while writer.write_all(b"add 1\n").is_ok() {}
    });
    // Replies to the stream of adds, until the connection dies.
    while let Some(reply) = client.recv() {
        acknowledged = reply.parse().unwrap();
        if acknowledged >= 400 {
            break;
        }
    }
    let scratch = daemon.kill();
    sender.join().unwrap();

    let _daemon = Daemon::start_in(scratch);
    let total: u64 = Client::connect(&socket).exchange("get").parse().unwrap();
    assert!(
        total >= acknowledged,
        "{total} after the restart, but {acknowledged} was acknowledged before"
    );
}

#[test]
fn restore_uses_the_recorded_component_even_after_the_file_is_gone() {
    let daemon = Daemon::start();
    let copy = daemon.scratch.path("copied-counter.wasm");
    std::fs::copy(vat("counter"), &copy).unwrap();
    let (config, socket) = ctl_config(&daemon.scratch, "copied", &copy, json!({}));
    daemon.launch(&config);
    assert_eq!(Client::connect(&socket).exchange("add 3"), "3");
    std::fs::remove_file(&copy).unwrap();
    std::fs::write(&config, "not even json").unwrap();
    let scratch = daemon.kill();

    let _daemon = Daemon::start_in(scratch);
    assert_eq!(Client::connect(&socket).exchange("get"), "3");
}

#[test]
fn a_subcluster_that_cannot_be_restored_is_listed_with_why_and_the_others_restore() {
    let daemon = Daemon::start();
    let (good, good_socket) = ctl_config(&daemon.scratch, "good", &vat("counter"), json!({}));
    // Its socket lives in a directory that will be gone at restart.
    let gone_dir = daemon.scratch.path("gone");
    std::fs::create_dir(&gone_dir).unwrap();
    let bad = daemon.scratch.config(
        "bad",
        single_vat_config(
            &vat("counter"),
            json!({ "ctl": { "type": "socket", "path": gone_dir.join("bad.sock") } }),
        ),
    );
    assert_eq!(daemon.launch(&bad), "s1");
    assert_eq!(daemon.launch(&good), "s2");
    assert_eq!(Client::connect(&good_socket).exchange("add 2"), "2");
    let scratch = daemon.kill();
    std::fs::remove_dir_all(&gone_dir).unwrap();

    let daemon = Daemon::start_in(scratch);
    assert_eq!(Client::connect(&good_socket).exchange("get"), "2");
    let list = daemon.list();
    assert_eq!(list[0]["id"], "s1", "{list}");
    assert_eq!(list[0]["state"], "unrestored", "{list}");
    let reason = list[0]["error"].as_str().unwrap();
    assert!(
        reason.contains("io.ctl.path") && reason.contains("gone"),
        "{reason}"
    );
    let (_, table) = daemon.cli(&["list"]);
    assert!(
        table.contains("s1     bad                  unrestored"),
        "{table}"
    );
    assert!(table.contains("cannot restore: "), "{table}");
    let (code, status) = daemon.cli(&["status", "s1"]);
    assert_eq!(code, Some(0));
    assert!(
        status.contains("s1 bad (unrestored)\n  cannot restore: "),
        "{status}"
    );

    // Terminate deletes it: it is no longer listed, nor restored again.
    let (code, output) = daemon.cli(&["terminate", "s1"]);
    assert_eq!(code, Some(0), "{output}");
    let ids: Vec<Value> = daemon
        .list()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].clone())
        .collect();
    assert_eq!(ids, [json!("s2")]);
}

#[test]
fn terminate_deletes_the_state_and_the_record() {
    let daemon = Daemon::start();
    let (config, socket) = ctl_config(&daemon.scratch, "gone", &vat("counter"), json!({}));
    daemon.launch(&config);
    assert_eq!(Client::connect(&socket).exchange("add 9"), "9");
    let (code, output) = daemon.cli(&["terminate", "s1"]);
    assert_eq!(code, Some(0), "{output}");
    let scratch = daemon.kill();

    let daemon = Daemon::start_in(scratch);
    assert_eq!(daemon.list(), json!([]));
    // Nothing of it is left in the state file, as `sqlite3` would show.
    let state = rusqlite::Connection::open(daemon.home.join("state.db")).unwrap();
    let count = |table: &str| -> i64 {
        state
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
                row.get(0)
            })
            .unwrap()
    };
    assert_eq!(
        (
            count("vat_state"),
            count("subclusters"),
            count("components")
        ),
        (0, 0, 0)
    );
}

#[test]
fn a_vat_gets_an_error_it_can_match_on_past_its_store_quota_and_nothing_is_half_written() {
    let daemon = Daemon::start();
    let (config, socket) = ctl_config(
        &daemon.scratch,
        "quota",
        &vat("keeper"),
        json!({ "store": "1KiB" }),
    );
    daemon.launch(&config);
    let mut client = Client::connect(&socket);
    assert_eq!(client.exchange("big a 600"), "ok");
    assert_eq!(
        client.exchange("big b 600"),
        "error: the vat's state would exceed 1024 bytes (`limits.store`)"
    );
    assert_eq!(client.exchange("get b"), "(none)");
    // An atomic write past the quota leaves everything as it was.
    // Deleting `a` in the same atomic write makes room.
    assert_eq!(client.exchange("write c=1 d=2 -a e="), "ok");
    assert_eq!(client.exchange("keys"), "c,d,e");
    assert_eq!(client.exchange("write f=1 -c g=x"), "ok");
    // Past the quota, the delete in the same write does not happen either.
    assert_eq!(
        client.exchange(&format!("write h={} -d", "y".repeat(1100))),
        "error: the vat's state would exceed 1024 bytes (`limits.store`)"
    );
    assert_eq!(client.exchange("keys"), "d,e,f,g");
    assert_eq!(
        client.exchange("long-key"),
        "error: a key is longer than 1024 bytes"
    );
    let (_, status) = daemon.cli(&["status", "s1"]);
    assert!(status.contains("store 7 bytes"), "{status}");
}

#[test]
fn run_with_a_state_file_keeps_the_counter_across_runs() {
    let scratch = Scratch::new();
    let state = scratch.path("state.db");
    let socket = scratch.path("c.sock");
    let config = scratch.config(
        "counter",
        single_vat_config(
            &vat("counter"),
            json!({ "ctl": { "type": "socket", "path": socket } }),
        ),
    );
    let args = ["run", "--state", state.to_str().unwrap()];
    let host = Host::start(&args, &[&config]);
    assert_eq!(Client::connect(&socket).exchange("add 4"), "4");
    assert!(host.stop("TERM").status.success());
    let host = Host::start(&args, &[&config]);
    assert_eq!(Client::connect(&socket).exchange("get"), "4");
    drop(host);
    // Without it, the state is in memory: a new run starts from nothing.
    let host = Host::run(&[&config]);
    assert_eq!(Client::connect(&socket).exchange("get"), "0");
    drop(host);
}

/// The benchmark's writer, small: its writes are durable, then it returns.
#[test]
fn scribe_writes_and_the_run_ends_by_itself() {
    let scratch = Scratch::new();
    let config = scratch.config(
        "scribe",
        json!({
            "bootstrap": "main",
            "vats": { "main": { "component": vat("scribe"), "parameters": { "writes": 50 } } },
        }),
    );
    let state = scratch.path("state.db");
    let exited = Host::start(&["run", "--state", state.to_str().unwrap()], &[&config]).wait();
    assert!(exited.status.success(), "{}", exited.log);
    assert!(exited.log.contains("wrote 50 in "), "{}", exited.log);
    let database = rusqlite::Connection::open(&state).unwrap();
    let keys: i64 = database
        .query_row(
            "SELECT COUNT(*) FROM vat_state WHERE vat = 's1/main'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(keys, 50);
}
