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
    _scratch: Scratch,
}

impl Attack {
    /// Launches both subclusters, checks the bystander, then tells the
    /// hostile vat to attack.
    fn launch(mode: &str, limits: Value) -> Self {
        let scratch = Scratch::new();
        let attacker_socket = scratch.path("attacker.sock");
        let bystander_socket = scratch.path("bystander.sock");
        let mut hostile = single_vat_config(
            &vat("hostile"),
            json!({ "own": { "type": "socket", "path": attacker_socket } }),
        );
        hostile["vats"]["main"]["parameters"] = json!({ "mode": mode });
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
        attacker.send("go");
        Self {
            host,
            attacker,
            bystander,
            sockets: vec![attacker_socket, bystander_socket],
            _scratch: scratch,
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
