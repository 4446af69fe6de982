//! Lines move between the host and a vat's SDK in batches (one host call
//! for every line waiting, one for the replies to them). What a batch must
//! not change, checked from a client's side: no line is lost, repeated or
//! reordered when a vat hands its channel to another mid-batch, or is
//! upgraded while lines stream in.

use serde_json::json;

use crate::harness::{Client, Host, Scratch, echo_config, vat};

/// Line `length` of the framing test: `length` characters, among them
/// two-byte ones whose second byte is `\n` with its high bit set (`Ċ` is
/// `c4 8a`), so a search that ignores the high bit finds a false newline.
fn framing_line(length: usize) -> String {
    (0..length)
        .map(|index| match index % 7 {
            3 => 'Ċ',
            5 => ' ',
            _ => char::from(b'a' + (index % 26) as u8),
        })
        .collect()
}

#[test]
fn lines_of_every_length_come_back_whole_alone_and_in_one_batch() {
    // The SDK finds line ends 16 bytes at a time (with a tail of up to 15
    // done 8 and 1 at a time): every length up to 70 characters puts the
    // end in every position of a block, in a batch and alone.
    const LONGEST: usize = 70;
    let scratch = Scratch::new();
    let socket = scratch.path("echo.sock");
    let _host = Host::run(&[&echo_config(&scratch, "echo", &socket)]);
    let mut client = Client::connect(&socket);
    for length in 0..=LONGEST {
        let line = framing_line(length);
        assert_eq!(
            client.exchange(&line),
            line,
            "a line of {length} characters, alone"
        );
    }
    let burst: String = (0..=LONGEST)
        .rev()
        .map(|length| framing_line(length) + "\n")
        .collect();
    client.send_raw(burst.as_bytes());
    for length in (0..=LONGEST).rev() {
        assert_eq!(
            client.recv(),
            Some(framing_line(length)),
            "a line of {length} characters, in a batch"
        );
    }
}

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
