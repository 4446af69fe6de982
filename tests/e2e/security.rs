//! The attack suite (SECURITY.md): hostile vats, each next to a bystander
//! subcluster in the same host that must keep echoing correctly throughout.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::harness::{Client, Exited, Host, Scratch, single_vat_config, vat};

/// A host running one hostile vat (its own subcluster) and an echo bystander.
struct Attack {
    host: Host,
    attacker: Client,
    bystander: Client,
    sockets: Vec<PathBuf>,
    /// The host's resident memory just before the attack began.
    rss_before_kib: u64,
    scratch: Scratch,
}

impl Attack {
    /// Launches both subclusters, checks the bystander, then tells the
    /// hostile vat to attack.
    fn launch(mode: &str, limits: Value) -> Self {
        Self::launch_with(mode, limits, json!({}), json!({}))
    }

    /// Like `launch`, with more parameters for the vat and more channels
    /// (paths relative to the scratch directory).
    fn launch_with(mode: &str, limits: Value, parameters: Value, channels: Value) -> Self {
        let scratch = Scratch::new();
        let attacker_socket = scratch.path("attacker.sock");
        let bystander_socket = scratch.path("bystander.sock");
        let mut io = json!({ "own": { "type": "socket", "path": attacker_socket } });
        for (name, channel) in channels.as_object().into_iter().flatten() {
            io[name] = channel.clone();
        }
        let mut hostile = single_vat_config(&vat("hostile"), io);
        let mut parameters = parameters;
        parameters["mode"] = json!(mode);
        hostile["vats"]["main"]["parameters"] = parameters;
        hostile["vats"]["main"]["limits"] = limits;
        let bystander = single_vat_config(
            &vat("echo"),
            json!({ "repl": { "type": "socket", "path": bystander_socket } }),
        );
        let host = Host::run(&[
            &scratch.config("hostile", hostile),
            &scratch.config("bystander", bystander),
        ]);
        let mut bystander = Client::connect(&bystander_socket);
        assert_eq!(bystander.exchange("before"), "before");
        let mut attacker = Client::connect(&attacker_socket);
        let rss_before_kib = host.rss_kib();
        attacker.send("go");
        Self {
            host,
            attacker,
            bystander,
            sockets: vec![attacker_socket, bystander_socket],
            rss_before_kib,
            scratch,
        }
    }

    /// The bystander still answers every line, and nothing else reached it.
    fn assert_bystander_unharmed(&mut self) {
        for index in 0..20 {
            let line = format!("after {index}");
            assert_eq!(
                self.bystander.exchange(&line),
                line,
                "log:\n{}",
                self.host.log()
            );
        }
    }

    /// Waits for the hostile vat to be terminated for `cause`.
    fn expect_vat_failure(&mut self, cause: &str) {
        self.host.wait_for_log("vat failed");
        self.host.wait_for_log(cause);
        self.host
            .wait_for_log("bootstrap vat failed: terminating the subcluster");
        // Its subcluster is gone: its channel closed under its client.
        assert_eq!(self.attacker.recv(), None);
    }

    /// Fails unless the host grew by less than `bound` bytes since the
    /// attack began.
    fn assert_host_grew_less_than(&self, bound: u64) {
        let grown = self.host.rss_kib().saturating_sub(self.rss_before_kib) * 1024;
        assert!(
            grown < bound,
            "the host grew by {} KiB, past the bound of {} KiB",
            grown / 1024,
            bound / 1024
        );
        eprintln!(
            "host grew by {} KiB (bound {} KiB)",
            grown / 1024,
            bound / 1024
        );
    }

    /// Stops the host; every socket file is gone.
    fn stop(self) -> Exited {
        let exited = self.host.stop("TERM");
        for socket in &self.sockets {
            assert!(!socket.exists(), "{} left behind", socket.display());
        }
        exited
    }
}

fn assert_run_failed_with(exited: &Exited, cause: &str) {
    assert_eq!(exited.status.code(), Some(1), "{}", exited.log);
    let last = exited
        .log
        .lines()
        .rev()
        .find(|line| line.starts_with("Error:"));
    let last = last.unwrap_or_else(|| panic!("no error line in:\n{}", exited.log));
    assert!(
        last.contains("vat `main`") && last.contains(cause),
        "{last}"
    );
}

#[test]
fn an_infinite_loop_does_not_starve_other_vats_and_can_be_terminated() {
    let mut attack = Attack::launch("spin", json!(null));
    attack.assert_bystander_unharmed();
    let exited = attack.stop();
    // Stopped by the host, not failed: the run succeeds.
    assert!(exited.status.success(), "{}", exited.log);
}

#[test]
fn an_infinite_loop_over_its_cpu_budget_is_terminated() {
    let mut attack = Attack::launch("spin", json!({ "cpu-ms": 300 }));
    attack.expect_vat_failure("CPU budget of 300 ms exceeded");
    attack.assert_bystander_unharmed();
    assert_run_failed_with(&attack.stop(), "CPU budget of 300 ms exceeded");
}

#[test]
fn a_memory_bomb_fails_inside_its_own_vat() {
    let mut attack = Attack::launch("memory-bomb", json!({ "memory": "32MiB" }));
    attack.expect_vat_failure("trapped");
    attack
        .host
        .wait_for_log("memory allocation of 1048576 bytes failed");
    attack.assert_bystander_unharmed();
    assert_run_failed_with(&attack.stop(), "trapped");
}

#[test]
fn unbounded_recursion_is_a_trap_of_that_vat() {
    let mut attack = Attack::launch("recurse", json!(null));
    attack.expect_vat_failure("trapped");
    attack.assert_bystander_unharmed();
    assert_run_failed_with(&attack.stop(), "trapped");
}

#[test]
fn an_explicit_trap_is_logged_with_its_backtrace() {
    let mut attack = Attack::launch("trap", json!(null));
    attack.expect_vat_failure("wasm `unreachable` instruction executed");
    // The guest backtrace points into the vat's own source.
    attack
        .host
        .wait_for_log("vat trapped; error while executing at wasm backtrace:");
    attack.host.wait_for_log("tests/vats/hostile/src/lib.rs:");
    attack.assert_bystander_unharmed();
    assert_run_failed_with(&attack.stop(), "unreachable");
}

#[test]
fn a_forged_resource_handle_is_refused() {
    let mut attack = Attack::launch("forge-handle", json!(null));
    attack.expect_vat_failure("unknown handle index 1000");
    attack.assert_bystander_unharmed();
    assert_run_failed_with(&attack.stop(), "unknown handle index");
}

#[test]
fn a_dropped_resource_handle_cannot_be_used_again() {
    let mut attack = Attack::launch("use-after-drop", json!(null));
    attack.expect_vat_failure("unknown handle index");
    attack.assert_bystander_unharmed();
    assert_run_failed_with(&attack.stop(), "unknown handle index");
}

#[test]
fn no_file_network_environment_arguments_or_stdin() {
    let mut attack = Attack::launch("ambient", json!(null));
    assert_eq!(
        attack.attacker.recv().as_deref(),
        Some("file: denied; dir: denied; tcp: denied; env vars: 0; args: 0; stdin bytes: 0")
    );
    attack.assert_bystander_unharmed();
    assert!(attack.stop().status.success());
}

#[test]
fn megabytes_of_stdout_are_rate_limited_and_the_vat_keeps_running() {
    let mut attack = Attack::launch("flood", json!(null));
    attack.host.wait_for_log("bytes dropped so far");
    // The flooding vat itself still serves its channel.
    assert_eq!(attack.attacker.exchange("still there?"), "still there?");
    attack.assert_bystander_unharmed();
    let exited = attack.stop();
    assert!(exited.status.success(), "{}", exited.log);
    // 10 MiB were printed; the log kept about the burst allowance.
    assert!(
        exited.log.len() < 2 * 1024 * 1024,
        "the host logged {} bytes of a 10 MiB flood",
        exited.log.len()
    );
}

/// SECURITY.md's bound on the host memory one vat can make the host hold,
/// for a vat whose channels are `channels` (each `(queue, max_line)`) and
/// whose listeners are `listeners` (each `(max_clients, queue, max_line)`).
fn host_memory_bound(
    memory: u64,
    handles: u64,
    channels: &[(u64, u64)],
    listeners: &[(u64, u64, u64)],
) -> u64 {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    let per_channel =
        |queue: u64, max_line: u64| (2 * queue + 1) * max_line.max(64 * KIB) + 64 * KIB;
    2 * memory
        + 16 * u64::from(vathost::config::DEFAULT_VAT_TABLE_ELEMENTS)
        + 256 * handles
        + channels
            .iter()
            .map(|&(queue, max_line)| per_channel(queue, max_line))
            .sum::<u64>()
        + listeners
            .iter()
            .map(|&(clients, queue, max_line)| clients * per_channel(queue, max_line))
            .sum::<u64>()
        + MIB
}

const DEFAULT_CHANNEL: (u64, u64) = (256, 64 * 1024);

#[test]
fn stdout_handles_by_the_ten_thousand_share_one_buffer() {
    let handles = 100_000;
    let mut attack = Attack::launch_with(
        "stdout-handles",
        json!({ "memory": "16MiB", "handles": handles }),
        json!({ "count": 99_000 }),
        json!({}),
    );
    attack.host.wait_for_log("vat started");
    assert_eq!(
        attack.attacker.recv().as_deref(),
        Some("done"),
        "log:\n{}",
        attack.host.log()
    );
    attack.assert_host_grew_less_than(host_memory_bound(
        16 * 1024 * 1024,
        handles,
        &[DEFAULT_CHANNEL],
        &[],
    ));
    attack.assert_bystander_unharmed();
    let exited = attack.stop();
    assert!(exited.status.success(), "{}", exited.log);
}

#[test]
fn a_vat_over_its_handle_limit_fails_alone() {
    let mut attack = Attack::launch_with(
        "stdout-handles",
        json!({ "handles": 1000 }),
        json!({ "count": 5000 }),
        json!({}),
    );
    attack.expect_vat_failure("holds more than its 1000 host handles (`limits.handles`)");
    attack.assert_bystander_unharmed();
    assert_run_failed_with(&attack.stop(), "host handles");
}

#[test]
fn connections_a_vat_accepts_and_never_reads_are_bounded_by_max_clients() {
    const CLIENTS: usize = 48;
    const LINE: usize = 64 * 1024 - 1;
    let (max_clients, queue, max_line) = (2, 64, 64 * 1024);
    let mut attack = Attack::launch_with(
        "hoard",
        json!({ "memory": "16MiB" }),
        json!({}),
        json!({ "sessions": {
            "type": "listen", "path": "sessions.sock",
            "max-clients": max_clients, "queue": queue, "max-line": max_line,
        } }),
    );
    let sessions = attack.scratch.path("sessions.sock");
    // Each client sends a little less than its queue holds (so its input is
    // all taken in) and leaves: what its connection holds stays in the
    // host for as long as the vat holds the connection.
    let burst = format!("{}\n", "z".repeat(LINE)).repeat(queue as usize - 2);
    for _ in 0..CLIENTS {
        let mut client = std::os::unix::net::UnixStream::connect(&sessions).unwrap();
        client
            .set_write_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        // A client turned away finds the connection closed under it.
        let _ = std::io::Write::write_all(&mut client, burst.as_bytes());
    }
    attack.assert_host_grew_less_than(host_memory_bound(
        16 * 1024 * 1024,
        u64::from(vathost::config::DEFAULT_VAT_HANDLES),
        &[DEFAULT_CHANNEL],
        &[(max_clients, queue, max_line)],
    ));
    // Clients beyond those the vat holds were turned away with a reason.
    let mut late = Client::connect(&sessions);
    assert_eq!(
        late.recv().as_deref(),
        Some("vathost: listener `sessions` is full: it serves at most 2 clients at once")
    );
    attack.assert_bystander_unharmed();
    let exited = attack.stop();
    assert!(exited.status.success(), "{}", exited.log);
}
