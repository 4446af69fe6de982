//! Lines move between the host and a vat's SDK in batches (one host call
//! for every line waiting, one for the replies to them). What a batch must
//! not change, checked from a client's side: no line is lost, repeated or
//! reordered when a vat hands its channel to another mid-batch, or is
//! upgraded while lines stream in.

use serde_json::json;

use crate::harness::{Client, Host, Scratch, vat};

#[test]
fn a_channel_lent_mid_batch_gives_its_unread_lines_to_the_next_vat() {
    const LINES: usize = 5_000;
    let scratch = Scratch::new();
    let socket = scratch.path("relay.sock");
    let relay = vat("relay");
    let config = scratch.config(
        "relay",
        json!({
            "bootstrap": "first",
            "vats": {
                "first": { "component": relay, "parameters": { "role": "first" } },
                "second": { "component": relay, "parameters": { "role": "second" } },
            },
            "io": { "client": { "type": "socket", "path": socket } },
        }),
    );
    let _host = Host::run(&[&config]);
    let mut client = Client::connect(&socket);
    // All at once: the first vat's batch holds many lines when it has read
    // one and lends the channel.
    let sender = client.send_lines_in_background(LINES);
    assert_eq!(client.recv().as_deref(), Some("first: line 0"));
    for n in 1..LINES {
        assert_eq!(
            client.recv(),
            Some(format!("second: line {n}")),
            "reply {n}"
        );
    }
    sender.join().unwrap().expect("send the burst");
}
