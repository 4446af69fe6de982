//! A chat room over a `listen` channel, in two vats of one component (the
//! `role` parameter picks which):
//!
//! - `gateway`, the bootstrap vat, accepts clients on the listener `clients`,
//!   names them `c1`, `c2`, ..., hands each client's channel to the room in
//!   a `join` message and forwards every line a client sends as `say`.
//! - `room` holds every member's channel (a capability it received in a
//!   message) and writes each line to every other member as `<id>: <line>`.
//!
//! Messages from the gateway to the room arrive in the order sent, so each
//! client's lines reach the others in the order that client sent them.
use vat_sdk::{Call, Cap, Channel, IoError, Methods, Objects, Ready, Vat, wait_any};

fn chat(vat: Vat) -> vat_sdk::Result {
    match vat.parameters.get_str("role").as_deref() {
        Some("gateway") => gateway(vat),
        Some("room") => room(vat),
        other => Err(format!("`role` must be `gateway` or `room`, not {other:?}").into()),
    }
}

fn gateway(mut vat: Vat) -> vat_sdk::Result {
    let room = vat.roots.take("room")?;
    let listener = vat.channels.take_listener("clients")?;
    let mut clients: Vec<(String, Channel)> = Vec::new();
    let mut joined = 0u64;
    loop {
        let ready = {
            let mut waiting: Vec<&dyn Ready> = vec![&listener];
            waiting.extend(clients.iter().map(|(_, channel)| channel as &dyn Ready));
            wait_any(&waiting)
        };
        let mut gone = Vec::new();
        for index in ready {
            let Some((id, channel)) = index.checked_sub(1).and_then(|i| clients.get(i)) else {
                let Some(channel) = listener.accept() else {
                    return Ok(());
                };
                joined += 1;
                let id = format!("c{joined}");
                // Fire and forget: the room answers, nobody needs to wait.
                drop(room.send_with("join", &id, &[Cap::Channel(&channel)]));
                clients.push((id, channel));
                continue;
            };
            match channel.read_line() {
                Ok(Some(line)) => drop(room.send("say", &(id, line))),
                Ok(None) | Err(IoError::Closed) => {
                    drop(room.send("leave", id));
                    gone.push(index - 1);
                }
                // A line too long or not UTF-8: skipped, the client stays.
                Err(_) => {}
            }
        }
        for index in gone.into_iter().rev() {
            clients.remove(index);
        }
    }
}

#[derive(Default)]
struct Room {
    members: Vec<(String, Channel)>,
}

impl Room {
    fn join(&mut self, call: Call) {
        let (mut args, resolver) = call.defer();
        let joined = args
            .decode::<String>()
            .and_then(|id| Ok((id, args.take_channel(0)?)));
        match joined {
            Ok((id, channel)) => {
                let _ = channel.write_line(&format!("* you are {id}"));
                self.members.push((id, channel));
                resolver.fulfill(&());
            }
            Err(error) => resolver.reject(&error.to_string()),
        }
    }

    fn say(&mut self, (from, line): (String, String)) {
        let text = format!("{from}: {line}");
        for (id, channel) in &self.members {
            if *id != from {
                // A member whose client has gone is removed on `leave`.
                let _ = channel.write_line(&text);
            }
        }
    }
}

fn room(vat: Vat) -> vat_sdk::Result {
    let room = Methods::new(Room::default())
        .raw_method("join", Room::join)
        .method("say", |room: &mut Room, said: (String, String)| {
            room.say(said);
            Ok::<_, String>(())
        })
        .method("leave", |room: &mut Room, id: String| {
            room.members.retain(|(member, _)| *member != id);
            Ok::<_, String>(())
        });
    vat.inbox.serve(&mut Objects::new().with_root(room))
}

vat_sdk::entry!(chat);
