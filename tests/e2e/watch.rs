//! `vathost run --watch`: a rebuilt component replaces the running vat
//! with its clients connected; an ended subcluster comes back.

use serde_json::json;

use crate::harness::{Client, Host, Scratch, single_vat_config, vat};

/// A config whose vat runs the component file `vat.wasm` in the scratch
/// directory, first a copy of `first`.
fn watched_vat(scratch: &Scratch, first: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let component = scratch.path("vat.wasm");
    std::fs::copy(vat(first), &component).unwrap();
    let socket = scratch.path("w.sock");
    let config = scratch.config(
        "watched",
        single_vat_config(
            &component,
            json!({ "repl": { "type": "socket", "path": socket } }),
        ),
    );
    (config, component)
}

#[test]
fn a_rebuilt_component_replaces_the_vat_with_its_client_connected() {
    let scratch = Scratch::new();
    let (config, component) = watched_vat(&scratch, "echo");
    let host = Host::start(&["run", "--watch"], &[&config]);
    host.wait_for_log("watching the components");
    let mut client = Client::connect(&scratch.path("w.sock"));
    assert_eq!(client.exchange("one"), "one");

    // Written in place, as `cp` or a build tool that copies would.
    std::fs::copy(vat("shout"), &component).unwrap();
    host.wait_for_log("upgraded to the changed component");
    assert_eq!(
        client.exchange("two"),
        "TWO",
        "the same connection, new code"
    );

    // A broken build changes nothing: the running version keeps serving.
    std::fs::write(&component, b"\0asm not really a component").unwrap();
    host.wait_for_log("not upgraded; keeping the running version");
    assert_eq!(client.exchange("three"), "THREE");

    let exited = host.stop("TERM");
    assert!(exited.status.success(), "{}", exited.log);
}

#[test]
fn a_subcluster_that_failed_is_launched_again_when_its_component_changes() {
    let scratch = Scratch::new();
    // phoenix traps on `crash`; without a restart policy its subcluster ends.
    let (config, component) = watched_vat(&scratch, "phoenix");
    let host = Host::start(&["run", "--watch"], &[&config]);
    host.wait_for_log("watching the components");
    let mut client = Client::connect(&scratch.path("w.sock"));
    client.send("crash");
    assert_eq!(client.recv(), None, "the failed vat's client is let go");
    host.wait_for_log("subcluster ended");

    // `run --watch` stays up; the fixed build brings the subcluster back.
    std::fs::copy(vat("echo"), &component).unwrap();
    host.wait_for_log("launched the ended subcluster again");
    let mut client = Client::connect(&scratch.path("w.sock"));
    assert_eq!(client.exchange("back"), "back");

    // The subcluster running at the end did not fail: exit 0.
    let exited = host.stop("TERM");
    assert!(exited.status.success(), "{}", exited.log);
}
