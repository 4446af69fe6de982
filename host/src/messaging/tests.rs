//! The mailbox and answer rules without wasm: what the end-to-end tests
//! show through vats, checked here case by case.

use std::sync::Arc;

use super::*;

fn mailbox(inbox: u32, message: u32) -> Arc<Mailbox> {
    Mailbox::new("b", MailboxLimits { inbox, message })
}

fn body(text: &str) -> Payload {
    Payload {
        body: text.to_owned(),
        caps: Vec::new(),
    }
}

fn send(to: &Mailbox, text: &str) -> Arc<Answer> {
    let answer = Answer::new(Arc::from("a"), 1 << 20);
    to.deliver(0, "m".to_owned(), body(text), answer.clone());
    answer
}

fn rejection(answer: &Answer) -> Option<String> {
    match answer.take() {
        Some(Err(reason)) => Some(reason),
        _ => None,
    }
}

#[test]
fn messages_are_taken_in_the_order_sent() {
    let to = mailbox(100, 1024);
    for n in 0..10 {
        send(&to, &n.to_string());
    }
    let taken: Vec<String> = std::iter::from_fn(|| to.take())
        .map(|message| message.args.body)
        .collect();
    assert_eq!(taken, (0..10).map(|n| n.to_string()).collect::<Vec<_>>());
}

#[test]
fn a_full_inbox_rejects_at_once_and_holds_no_more() {
    let to = mailbox(2, 1024);
    let first = send(&to, "1");
    send(&to, "2");
    let third = send(&to, "3");
    assert!(!first.is_settled());
    assert_eq!(
        rejection(&third).as_deref(),
        Some("inbox full: `b` holds 2 messages (limits.inbox)")
    );
    assert_eq!(to.status().depth, 2);
}

#[test]
fn a_message_counts_its_method_body_and_capabilities_against_the_limit() {
    let to = mailbox(10, 1024);
    let answer = Answer::new(Arc::from("a"), 1 << 20);
    let object = ObjectRef::new(to.clone(), 1);
    let caps = (0..16)
        .map(|_| Capability::Object(object.clone()))
        .collect();
    to.deliver(
        0,
        "m".to_owned(),
        Payload {
            body: String::new(),
            caps,
        },
        answer.clone(),
    );
    assert_eq!(
        rejection(&answer).as_deref(),
        Some("the message is 1025 bytes, more than `b`'s limits.message (1024)")
    );
}

#[test]
fn ending_rejects_waiting_and_later_messages_with_how_the_vat_ended() {
    let to = mailbox(10, 1024);
    let waiting = send(&to, "1");
    to.end("failed: trapped: boom");
    to.end("returned");
    let later = send(&to, "2");
    let reason = "`b` failed: trapped: boom";
    assert_eq!(rejection(&waiting).as_deref(), Some(reason));
    assert_eq!(rejection(&later).as_deref(), Some(reason));
    assert_eq!(to.status().depth, 0);
}

#[test]
fn a_resolver_dropped_unused_rejects_and_the_first_settlement_wins() {
    let decider = mailbox(10, 1024);
    let answer = Answer::new(Arc::from("a"), 1 << 20);
    drop(Resolver::new(answer.clone(), decider.clone()));
    assert_eq!(
        rejection(&answer).as_deref(),
        Some(answer::DROPPED),
        "dropped while the vat runs"
    );

    let answer = Answer::new(Arc::from("a"), 1 << 20);
    let resolver = Resolver::new(answer.clone(), decider.clone());
    decider.end("returned");
    drop(resolver);
    assert_eq!(rejection(&answer).as_deref(), Some("`b` returned"));

    let answer = Answer::new(Arc::from("a"), 1 << 20);
    Resolver::new(answer.clone(), decider).fulfill(body("1"));
    answer.reject("too late");
    assert_eq!(
        answer.take().map(|value| value.map(|v| v.body)),
        Some(Ok("1".to_owned()))
    );
    assert_eq!(
        rejection(&answer).as_deref(),
        Some("the answer was already taken")
    );
}

#[test]
fn a_value_larger_than_the_askers_limit_rejects_its_answer() {
    let answer = Answer::new(Arc::from("a"), 4);
    answer.settle(Ok(body("12345")));
    assert_eq!(
        rejection(&answer).as_deref(),
        Some("the value is 5 bytes, more than `a`'s limits.message (4)")
    );
}
