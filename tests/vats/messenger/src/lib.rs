//! Test vat for messages between vats. Its `role` parameter picks what it is:
//!
//! - `driver` (the bootstrap vat): reads commands on its channel `ctl`, runs
//!   each scenario against the other vats and answers with one line.
//! - `peer`: serves a root object whose methods the scenarios use, and
//!   facets (tags other than 0) that answer with their tag.
//! - `deaf`: keeps its inbox but never reads it.
#![allow(unsafe_code)] // raw imports, to forge handles

use vat_sdk::{Answer, Call, Cap, Methods, Objects, Ready, Ref, Resolver, Vat, object, wait_any};

fn messenger(vat: Vat) -> vat_sdk::Result {
    match vat.parameters.get_str("role").as_deref() {
        Some("driver") => driver(vat),
        Some("peer") => peer(vat),
        Some("deaf") => loop {
            // Holds the inbox and never reads it.
            let _keep = &vat.inbox;
            std::thread::sleep(std::time::Duration::from_secs(3600));
        },
        other => Err(format!("unknown role {other:?}").into()),
    }
}

/// What a peer's root remembers.
#[derive(Default)]
struct PeerState {
    /// Per sequence: the next `seq` number expected, and those that came
    /// out of order.
    sequences: std::collections::HashMap<String, (u64, Vec<String>)>,
    /// Answers it holds without settling.
    held: Vec<Resolver>,
}

fn peer(vat: Vat) -> vat_sdk::Result {
    let root = Methods::new(PeerState::default())
        .method("echo", |_, value: serde_json::Value| Ok::<_, String>(value))
        .method(
            "seq",
            |state: &mut PeerState, (sequence, n): (String, u64)| {
                let (expected, wrong) = state.sequences.entry(sequence).or_default();
                if n != *expected {
                    wrong.push(format!("{n} (expected {expected})"));
                }
                *expected = n + 1;
                Ok::<_, String>(n)
            },
        )
        .method("seen", |state: &mut PeerState, sequence: String| {
            Ok::<_, String>(state.sequences.get(&sequence).cloned().unwrap_or_default())
        })
        .method("facet", |_, tag: u64| Ok::<_, String>(tag))
        .raw_method("facet-ref", |_, call: Call| {
            let tag: u64 = call.decode().unwrap_or(1);
            let facet = object(tag);
            call.reply_with(&tag, &[Cap::Object(&facet)]);
        })
        .raw_method("hold", |state: &mut PeerState, call: Call| {
            let (_, resolver) = call.defer();
            state.held.push(resolver);
        })
        .raw_method("drop", |_, call: Call| drop(call.defer()))
        .raw_method("relay", |_, call: Call| {
            // Sends `seq` to the ref it was given, then answers: the
            // resolution must not overtake that send.
            let (mut args, resolver) = call.defer();
            let result = args
                .decode::<(String, u64)>()
                .and_then(|(from, n)| Ok((from, n, args.take_ref(0)?)));
            match result {
                Ok((from, n, target)) => {
                    drop(target.send("seq", &(from, n)));
                    resolver.fulfill(&n);
                }
                Err(error) => resolver.reject(&error.to_string()),
            }
        })
        .raw_method("write-to", |_, call: Call| {
            // Writes a line to the channel it was given: the same channel.
            let (mut args, resolver) = call.defer();
            let written = args
                .take_channel(0)
                .and_then(|channel| Ok(channel.write_line("written by b")?));
            match written {
                Ok(()) => resolver.fulfill(&()),
                Err(error) => resolver.reject(&error.to_string()),
            }
        })
        .raw_method("bounce", |_, call: Call| {
            // Passes the ref it was given straight back.
            let (mut args, resolver) = call.defer();
            match args.take_ref(0) {
                Ok(object) => resolver.fulfill_with(&(), &[Cap::Object(&object)]),
                Err(error) => resolver.reject(&error.to_string()),
            }
        })
        .raw_method("call-back", |_, call: Call| {
            // Calls the ref it was given and answers with that answer: a
            // cycle when the ref is the caller's.
            let (mut args, resolver) = call.defer();
            match args.take_ref(0) {
                Ok(caller) => match caller.send("ping", &()).get::<String>() {
                    Ok(pong) => resolver.fulfill(&pong),
                    Err(error) => resolver.reject(&error.to_string()),
                },
                Err(error) => resolver.reject(&error.to_string()),
            }
        })
        .method("trap", |_, (): ()| -> Result<(), String> {
            std::process::abort();
        })
        .method("forge", |_, handle: u32| {
            Ok::<_, String>(forged_same_as(handle))
        })
        .method("stale", |_, (): ()| {
            let facet = object(9);
            let handle = facet.raw_handle();
            drop(facet);
            Ok::<_, String>(forged_same_as(handle))
        });
    let mut objects = Objects::new().with_root(root);
    // Every other tag is a facet that answers with its tag.
    loop {
        let call = vat.inbox.wait();
        if call.target == 0 {
            objects.dispatch(call);
        } else {
            let tag = call.target;
            call.reply(&format!("facet {tag}"));
        }
    }
}

/// `ref.same-as` on a raw handle index, which the host must refuse by
/// trapping this vat.
fn forged_same_as(handle: u32) -> bool {
    #[link(wasm_import_module = "vathost:vat/messaging@0.3.0")]
    unsafe extern "C" {
        #[link_name = "[method]ref.same-as"]
        fn same_as(handle: i32, other: i32) -> i32;
    }
    // SAFETY: the canonical ABI signature of the WIT method; what the host
    // does with a handle that is not ours is what this vat is here to test.
    unsafe { same_as(handle as i32, handle as i32) != 0 }
}

/// The bootstrap vat: one scenario per command line.
fn driver(mut vat: Vat) -> vat_sdk::Result {
    let ctl = vat.channels.take("ctl")?;
    let mut roots = std::collections::BTreeMap::new();
    for (name, root) in std::mem::take(&mut vat.roots) {
        roots.insert(name, root);
    }
    // Serves its own facet 1 while it waits on answers (the cycle scenario).
    let mut mine = Objects::new();
    mine.add(
        1,
        Methods::new(()).method("ping", |_, (): ()| Ok::<_, String>("pong".to_owned())),
    );
    for line in ctl.lines() {
        let line = line?;
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() == Some(&"lend") {
            // Lends `ctl` itself to `b`, which writes on it.
            let lent = root(&roots, "b")?.send_with("write-to", &(), &[Cap::Channel(&ctl)]);
            ctl.reply(&reason(lent))?;
            continue;
        }
        let reply = match run(&words, &roots, &vat, &mut mine) {
            Ok(reply) => reply,
            Err(error) => format!("error: {error}"),
        };
        ctl.reply(&reply)?;
    }
    Ok(())
}

fn root<'a>(
    roots: &'a std::collections::BTreeMap<String, Ref>,
    name: &str,
) -> Result<&'a Ref, String> {
    roots.get(name).ok_or_else(|| format!("no vat `{name}`"))
}

/// Waits for `answer` while serving this vat's own objects.
fn settle(answer: Answer, vat: &Vat, mine: &mut Objects) -> Result<vat_sdk::Value, String> {
    loop {
        if wait_any(&[&answer as &dyn Ready, &vat.inbox]).contains(&0) {
            return answer.wait().map_err(|rejected| rejected.0);
        }
        while let Some(call) = vat.inbox.next() {
            mine.dispatch(call);
        }
    }
}

fn reason(answer: Answer) -> String {
    match answer.wait() {
        Ok(value) => format!("fulfilled {}", value.body()),
        Err(rejected) => format!("rejected {}", rejected.0),
    }
}

fn run(
    words: &[&str],
    roots: &std::collections::BTreeMap<String, Ref>,
    vat: &Vat,
    mine: &mut Objects,
) -> Result<String, String> {
    let count = |index: usize| -> u64 {
        words
            .get(index)
            .and_then(|word| word.parse().ok())
            .unwrap_or(1)
    };
    match words.first().copied() {
        // The names of the roots this vat was given.
        Some("roots") => Ok(roots.keys().cloned().collect::<Vec<_>>().join(",")),
        // N numbered sends to `b`, pipelined; then what `b` saw.
        Some("order") => {
            let b = root(roots, "b")?;
            let answers: Vec<Answer> = (0..count(1))
                .map(|n| b.send("seq", &("order", n)))
                .collect();
            let mut sum = 0u64;
            for answer in answers {
                sum += answer.get::<u64>().map_err(|error| error.to_string())?;
            }
            let (seen, wrong): (u64, Vec<String>) =
                b.call("seen", "order").map_err(|error| error.to_string())?;
            Ok(format!(
                "seen {seen} sum {sum} out-of-order {}",
                wrong.len()
            ))
        }
        // A sends N to X (b's root), then passes X to C, which sends one
        // more: it must arrive after A's. Then A sends again: after C's.
        Some("three") => {
            let b = root(roots, "b")?;
            let c = root(roots, "c")?;
            let n = count(1);
            for i in 0..n {
                drop(b.send("seq", &("three", i)));
            }
            let relayed = c.send_with("relay", &("three", n), &[Cap::Object(b)]);
            relayed.get::<u64>().map_err(|error| error.to_string())?;
            drop(b.send("seq", &("three", n + 1)));
            let (seen, wrong): (u64, Vec<String>) =
                b.call("seen", "three").map_err(|error| error.to_string())?;
            Ok(format!("seen {seen} out-of-order {}", wrong.join("; ")))
        }
        // Facets and identity, including a ref that went to C and back.
        Some("identity") => {
            let b = root(roots, "b")?;
            let c = root(roots, "c")?;
            let facet = |tag: u64| -> Result<Ref, String> {
                let mut value = b
                    .send("facet-ref", &tag)
                    .wait()
                    .map_err(|rejected| rejected.0)?;
                value.take_ref(0).map_err(|error| error.to_string())
            };
            let seven = facet(7)?;
            let again = facet(7)?;
            let eight = facet(8)?;
            let greeting: String = seven.call("anything", &()).map_err(|e| e.to_string())?;
            let mut back = c
                .send_with("bounce", &(), &[Cap::Object(&seven)])
                .wait()
                .map_err(|rejected| rejected.0)?;
            let returned = back.take_ref(0).map_err(|error| error.to_string())?;
            Ok(format!(
                "{greeting}; 7=7 {}; 7=8 {}; 7=b {}; bounced {}",
                seven.same_as(&again),
                seven.same_as(&eight),
                seven.same_as(b),
                seven.same_as(&returned)
            ))
        }
        // B calls back into this vat while this vat waits for B.
        Some("cycle") => {
            let b = root(roots, "b")?;
            let mine_ref = object(1);
            let answer = b.send_with("call-back", &(), &[Cap::Object(&mine_ref)]);
            let value = settle(answer, vat, mine)?;
            Ok(format!("cycle {}", value.body()))
        }
        // A method the object does not have, and bad arguments.
        Some("unknown") => {
            let b = root(roots, "b")?;
            Ok(format!(
                "{} | {}",
                reason(b.send("no-such", &())),
                reason(b.send("seq", &"not a pair"))
            ))
        }
        Some("dropped") => Ok(reason(root(roots, "b")?.send("drop", &()))),
        // N sends (of SIZE bytes) to the vat that never reads: how many stay
        // pending.
        Some("flood") => {
            let deaf = root(roots, "deaf")?;
            let body = "x".repeat(usize::try_from(count(2)).unwrap_or(0));
            let answers: Vec<Answer> = (0..count(1)).map(|_| deaf.send("echo", &body)).collect();
            let mut pending = 0;
            let mut full = 0;
            let mut other = Vec::new();
            for answer in &answers {
                match answer.poll() {
                    None => pending += 1,
                    Some(Err(rejected)) if rejected.0.contains("inbox full") => full += 1,
                    Some(result) => other.push(format!("{result:?}")),
                }
            }
            // The pending ones stay in the deaf vat's inbox.
            drop(answers);
            Ok(format!(
                "pending {pending} full {full} other {}",
                other.len()
            ))
        }
        // A body larger than the receiver's `limits.message`.
        Some("big") => {
            let b = root(roots, "b")?;
            let body = "x".repeat(usize::try_from(count(1)).unwrap_or(0));
            Ok(reason(b.send("echo", &body)))
        }
        // B holds an answer, then traps: the held answer and a message
        // queued behind the trap reject with how B ended, a later send
        // rejects at once, and C still answers.
        Some("owed") => {
            let b = root(roots, "b")?;
            let c = root(roots, "c")?;
            let held = b.send("hold", &());
            let trap = b.send("trap", &());
            let queued = b.send("echo", &"queued");
            let held = reason(held);
            let trap = reason(trap);
            let queued = reason(queued);
            let later = reason(b.send("echo", &"later"));
            let alive = reason(c.send("echo", &"alive"));
            Ok(format!(
                "held: {held} | trap: {trap} | queued: {queued} | later: {later} | c: {alive}"
            ))
        }
        // C tries a forged or a stale ref handle.
        Some("forge") => {
            let c = root(roots, "c")?;
            Ok(reason(c.send("forge", &1000u32)))
        }
        Some("stale") => Ok(reason(root(roots, "c")?.send("stale", &()))),
        // A message to a vat that dropped its inbox.
        Some("io-only") => Ok(reason(root(roots, "io")?.send("echo", &1))),
        Some("echo") => Ok(reason(
            root(roots, words.get(1).copied().unwrap_or("b"))?.send("echo", &"hi"),
        )),
        other => Err(format!("unknown command {other:?}")),
    }
}

vat_sdk::entry!(messenger);
