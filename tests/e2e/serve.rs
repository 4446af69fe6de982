//! `Channel::serve`: a reply goes to the host with the wait for the next
//! request (`write-then-read-lines`, one host call). What a client of a
//! served vat must see: each request answered in order with none, one or
//! several lines, pipelined requests too, and a client that leaves before
//! its answers costs the next client nothing.

use serde_json::json;

use crate::harness::{Client, Host, Scratch, single_vat_config, vat};

/// Runs the `answer` test vat on a socket channel; its config sets
/// `max-line` to 64 bytes.
fn answering(scratch: &Scratch) -> (Host, std::path::PathBuf) {
    let socket = scratch.path("answer.sock");
    let config = scratch.config(
        "answer",
        single_vat_config(
            &vat("answer"),
            json!({ "client": { "type": "socket", "path": socket, "max-line": 64 } }),
        ),
    );
    (Host::run(&[&config]), socket)
}

#[test]
fn each_request_gets_its_answer_of_no_one_or_several_lines_and_errors_are_answered_too() {
    let scratch = Scratch::new();
    let (_host, socket) = answering(&scratch);
    let mut client = Client::connect(&socket);
    assert_eq!(client.exchange("hello"), "you said: hello");
    // No answer to `quiet`: the next line is the next request's answer.
    client.send("quiet");
    assert_eq!(client.exchange("still there?"), "you said: still there?");
    client.send("count 3");
    let answer: Vec<String> = (0..3)
        .map(|_| client.recv().expect("a line of the answer"))
        .collect();
    assert_eq!(answer, ["1", "2", "3"]);
    client.send_raw(b"\xff\xfe not UTF-8\n");
    let refused = client.recv().expect("an answer to the bad line");
    assert!(refused.starts_with("error: invalid data"), "{refused}");
    client.send(&"x".repeat(100));
    assert_eq!(
        client.recv().as_deref(),
        Some("error: line longer than 64 bytes"),
        "a line over max-line"
    );
    assert_eq!(client.exchange("after them"), "you said: after them");
}

#[test]
fn pipelined_requests_are_answered_in_order_in_full() {
    const REQUESTS: usize = 20_000;
    let scratch = Scratch::new();
    let (_host, socket) = answering(&scratch);
    let mut client = Client::connect(&socket);
    // All at once, mixed: batches of many lines, some answered with
    // nothing and some with three lines.
    let burst: String = (0..REQUESTS)
        .map(|n| match n % 10 {
            3 => "quiet\n".to_owned(),
            7 => "count 3\n".to_owned(),
            _ => format!("request {n}\n"),
        })
        .collect();
    let mut writer = client.writer();
    let sender = std::thread::spawn(move || {
        use std::io::Write;
        writer.write_all(burst.as_bytes())
    });
    for n in 0..REQUESTS {
        match n % 10 {
            3 => {}
            7 => {
                for count in ["1", "2", "3"] {
                    assert_eq!(client.recv().as_deref(), Some(count), "request {n}");
                }
            }
            _ => assert_eq!(
                client.recv(),
                Some(format!("you said: request {n}")),
                "request {n}"
            ),
        }
    }
    sender.join().unwrap().unwrap();
    assert_eq!(client.exchange("last"), "you said: last");
}

#[test]
fn a_client_that_leaves_before_its_answers_costs_the_next_client_nothing() {
    let scratch = Scratch::new();
    let (host, socket) = answering(&scratch);
    let mut first = Client::connect(&socket);
    assert_eq!(first.exchange("first"), "you said: first");
    // Many requests, then gone without reading a single answer.
    first
        .send_lines_in_background(5_000)
        .join()
        .unwrap()
        .unwrap();
    drop(first);
    host.wait_for_log("client gone");
    // The first client's end is noticed asynchronously: retry until
    // admitted (a newcomer meanwhile is told the channel is busy).
    let deadline = std::time::Instant::now() + crate::harness::PATIENCE;
    let mut second = loop {
        let mut client = Client::connect(&socket);
        client.send("second");
        match client.recv() {
            Some(answer) if answer == "you said: second" => break client,
            other => assert!(
                std::time::Instant::now() < deadline,
                "the second client still not served: {other:?}"
            ),
        }
    };
    assert_eq!(second.exchange("count 2"), "1");
    assert_eq!(second.recv().as_deref(), Some("2"));
}
