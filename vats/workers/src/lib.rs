//! Work spread over vats, with authority handed out at run time. One
//! component, two roles (the `role` parameter):
//!
//! - `dispatcher`, the bootstrap vat, holds the listener `clients` and the
//!   roots of every other vat. It accepts each client and hands the client's
//!   channel to the next worker in turn (round robin) in a `serve` message,
//!   then lets go of it: from then on only that worker can reach the client.
//! - `worker` (parameter `n`) serves the clients it was handed, answering
//!   each line with `worker <n>: <LINE>`, while it keeps taking new clients
//!   from its inbox.
use vat_sdk::{Cap, Channel, IoError, Ready, Vat, wait_any};

fn workers(vat: Vat) -> vat_sdk::Result {
    match vat.parameters.get_str("role").as_deref() {
        Some("dispatcher") => dispatcher(vat),
        Some("worker") => worker(vat),
        other => Err(format!("`role` must be `dispatcher` or `worker`, not {other:?}").into()),
    }
}

fn dispatcher(mut vat: Vat) -> vat_sdk::Result {
    let listener = vat.channels.take_listener("clients")?;
    let workers: Vec<_> = std::mem::take(&mut vat.roots)
        .into_iter()
        .map(|(_, root)| root)
        .collect();
    if workers.is_empty() {
        return Err("no worker vats: add vats with `\"role\": \"worker\"`".into());
    }
    for next in (0..workers.len()).cycle() {
        let Some(client) = listener.accept() else {
            return Ok(());
        };
        drop(workers[next].send_with("serve", &(), &[Cap::Channel(&client)]));
        // The dispatcher's handle goes; the worker's stays.
        drop(client);
    }
    Ok(())
}

fn worker(vat: Vat) -> vat_sdk::Result {
    let n = vat.parameters.get_u64("n").unwrap_or(0);
    let mut clients: Vec<Channel> = Vec::new();
    loop {
        let ready = {
            let mut waiting: Vec<&dyn Ready> = vec![&vat.inbox];
            waiting.extend(clients.iter().map(|channel| channel as &dyn Ready));
            wait_any(&waiting)
        };
        let mut gone = Vec::new();
        for index in ready {
            let Some(client) = index.checked_sub(1).and_then(|i| clients.get(i)) else {
                while let Some(call) = vat.inbox.next() {
                    let (mut args, resolver) = call.defer();
                    match args.take_channel(0) {
                        Ok(client) => {
                            clients.push(client);
                            resolver.fulfill(&());
                        }
                        Err(error) => resolver.reject(&error.to_string()),
                    }
                }
                continue;
            };
            let reply = match client.read_line() {
                Ok(Some(line)) => format!("worker {n}: {}", line.to_uppercase()),
                Ok(None) | Err(IoError::Closed) => {
                    gone.push(index - 1);
                    continue;
                }
                Err(error) => format!("error: {error}"),
            };
            if client.reply(&reply).is_err() {
                gone.push(index - 1);
            }
        }
        gone.sort_unstable();
        gone.dedup();
        for index in gone.into_iter().rev() {
            clients.remove(index);
        }
    }
}

vat_sdk::entry!(workers);
