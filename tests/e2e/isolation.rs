//! A vat holds exactly the channels its config grants: no more, not those of
//! another vat, and not those of another subcluster in the same host.

use serde_json::json;

use crate::harness::{Client, Host, Scratch, vat};

#[test]
fn a_vat_receives_exactly_the_channels_its_io_list_names() {
    let scratch = Scratch::new();
    let config = json!({
        "bootstrap": "boot",
        "vats": {
            // echo serves the first of the channels the bootstrap holds (`a`).
            "boot": { "component": vat("echo") },
            "aux": { "component": vat("probe"), "io": ["b"] },
        },
        "io": {
            "a": { "type": "socket", "path": scratch.path("a.sock") },
            "b": { "type": "socket", "path": scratch.path("b.sock") },
            "c": { "type": "socket", "path": scratch.path("c.sock") },
        },
    });
    let _host = Host::run(&[&scratch.config("grants", config)]);
    assert_eq!(
        Client::connect(&scratch.path("b.sock")).exchange("?"),
        "channels: b"
    );
    assert_eq!(
        Client::connect(&scratch.path("a.sock")).exchange("echo"),
        "echo"
    );
}

#[test]
fn the_bootstrap_vat_holds_every_channel_and_no_other_subclusters() {
    let scratch = Scratch::new();
    let first = scratch.config(
        "first",
        json!({
            "bootstrap": "main",
            "vats": { "main": { "component": vat("probe") } },
            "io": {
                "a": { "type": "socket", "path": scratch.path("a.sock") },
                "b": { "type": "socket", "path": scratch.path("b.sock") },
            },
        }),
    );
    let second = scratch.config(
        "second",
        json!({
            "bootstrap": "main",
            "vats": { "main": { "component": vat("probe") } },
            "io": { "x": { "type": "socket", "path": scratch.path("x.sock") } },
        }),
    );
    let host = Host::run(&[&first, &second]);
    assert_eq!(
        Client::connect(&scratch.path("a.sock")).exchange("?"),
        "channels: a,b"
    );
    assert_eq!(
        Client::connect(&scratch.path("b.sock")).exchange("?"),
        "channels: a,b"
    );
    assert_eq!(
        Client::connect(&scratch.path("x.sock")).exchange("?"),
        "channels: x"
    );
    let exited = host.stop("TERM");
    assert!(exited.status.success(), "{}", exited.log);
    for socket in ["a.sock", "b.sock", "x.sock"] {
        assert!(!scratch.path(socket).exists(), "{socket} left behind");
    }
}
