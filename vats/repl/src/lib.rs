//! A multi-session REPL over a `listen` channel named `sessions`: every
//! client gets a session with variables of its own.
//! Commands: `set NAME VALUE`, `get NAME`, `vars`.
use std::collections::BTreeMap;

use vat_sdk::{Channel, Channels, IoError, Parameters, Ready, wait_any};

struct Session {
    channel: Channel,
    vars: BTreeMap<String, String>,
}

impl Session {
    fn eval(&mut self, line: &str) -> String {
        let mut words = line.splitn(3, ' ');
        match (words.next(), words.next(), words.next()) {
            (Some("set"), Some(name), Some(value)) => {
                self.vars.insert(name.to_owned(), value.to_owned());
                "ok".to_owned()
            }
            (Some("get"), Some(name), None) => match self.vars.get(name) {
                Some(value) => value.clone(),
                None => format!("`{name}` is not set"),
            },
            (Some("vars"), None, None) => self.vars.keys().cloned().collect::<Vec<_>>().join(" "),
            _ => "commands: set NAME VALUE | get NAME | vars".to_owned(),
        }
    }
}

fn repl(_: Parameters, mut channels: Channels) -> vat_sdk::Result {
    let listener = channels.take_listener("sessions")?;
    let mut sessions: Vec<Session> = Vec::new();
    loop {
        let ready = {
            let mut waiting: Vec<&dyn Ready> = vec![&listener];
            waiting.extend(
                sessions
                    .iter()
                    .map(|session| &session.channel as &dyn Ready),
            );
            wait_any(&waiting)
        };
        let mut gone = Vec::new();
        for index in ready {
            let Some(session) = index
                .checked_sub(1)
                .and_then(|index| sessions.get_mut(index))
            else {
                match listener.accept() {
                    Some(channel) => sessions.push(Session {
                        channel,
                        vars: BTreeMap::new(),
                    }),
                    None => return Ok(()),
                }
                continue;
            };
            let reply = match session.channel.read_line() {
                Ok(Some(line)) => session.eval(&line),
                Ok(None) | Err(IoError::Closed) => {
                    gone.push(index - 1);
                    continue;
                }
                Err(error) => format!("error: {error}"),
            };
            if session.channel.reply(&reply).is_err() {
                gone.push(index - 1);
            }
        }
        gone.sort_unstable();
        gone.dedup();
        for index in gone.into_iter().rev() {
            sessions.remove(index);
        }
    }
}

vat_sdk::entry!(repl);
