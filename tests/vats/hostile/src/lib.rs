//! Test vat that attacks its host as its parameters say: `{"mode": MODE}`.
//! Each mode is one entry of the attack suite listed in SECURITY.md. It
//! waits for a line on its channel first, so a test can set up a bystander.
// Forging a resource handle needs a raw canonical-ABI import.
#![allow(unsafe_code)]

use std::hint::black_box;

use vat_sdk::{Channels, Parameters};

fn hostile(parameters: Parameters, mut channels: Channels) -> vat_sdk::Result {
    let listener = channels.take_listener("sessions").ok();
    let channel = channels.into_first()?;
    channel.read_line()?;
    match parameters.get_str("mode").as_deref() {
        Some("blast") => {
            // Writes until the host stops it, whoever reads (or not).
            let line = "y".repeat(1023);
            loop {
                channel.write_line(&line)?;
            }
        }
        Some("trap-deep") => {
            // Says so, then traps under thousands of frames: the host spends
            // a while on the backtrace, while a terminate may come in.
            channel.write_line("trapping")?;
            let depth = parameters.get_u64("depth").unwrap_or(4000);
            Err(format!("deep returned {}", trap_deep(black_box(depth))).into())
        }
        Some("count") => {
            // Answers only at the end of each client's input.
            let mut count = 0;
            loop {
                match channel.read_line()? {
                    Some(_) => count += 1,
                    None => {
                        channel.write_line(&format!("{count} lines"))?;
                        count = 0;
                    }
                }
            }
        }
        Some("stdout-handles") => {
            // A fresh stdout stream per call, each left holding a partial line.
            let count = parameters.get_u64("count").unwrap_or(99_000);
            for _ in 0..count {
                let stream = get_stdout();
                write_to(stream, b"an unfinished line without its newline");
            }
            channel.write_line("done")?;
            for _ in channel.lines() {}
            Ok(())
        }
        Some("hold-then-drop") => {
            // Greets each client and holds its connection, unread, until
            // told on `own` to let go of it.
            let listener = listener.ok_or("hold-then-drop needs a listener `sessions`")?;
            while let Some(connection) = listener.accept() {
                connection.write_line("welcome")?;
                channel.read_line()?;
                drop(connection);
                channel.write_line("dropped")?;
            }
            Ok(())
        }
        Some("hoard") => {
            // Accepts every client, reads nothing, drops nothing.
            let listener = listener.ok_or("hoard needs a listener `sessions`")?;
            let mut held = Vec::new();
            while let Some(connection) = listener.accept() {
                held.push(connection);
            }
            Ok(())
        }
        Some("spin") => loop {
            black_box(());
        },
        Some("memory-bomb") => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(black_box(vec![1u8; 1 << 20]));
            }
        }
        Some("recurse") => {
            Err(format!("recursion returned {}", recurse(black_box(u64::MAX))).into())
        }
        Some("trap") => trap(),
        Some("forge-handle") => {
            // Not an index of any handle this vat holds.
            let unit = forged_unit(1000);
            Err(format!("a forged handle worked: unit {unit}").into())
        }
        Some("use-after-drop") => {
            let index = channel.raw_handle();
            drop(channel);
            let unit = forged_unit(index);
            Err(format!("a dropped handle worked: unit {unit}").into())
        }
        Some("ambient") => {
            channel.reply(&ambient_authority_report())?;
            for _ in channel.lines() {}
            Ok(())
        }
        Some("flood") => {
            let line = "x".repeat(1023);
            for _ in 0..10 * 1024 {
                println!("{line}");
            }
            for line in channel.lines() {
                channel.reply(&line?)?;
            }
            Ok(())
        }
        other => Err(format!("unknown mode {other:?}").into()),
    }
}

fn trap_deep(depth: u64) -> u64 {
    if depth == 0 {
        trap()
    } else {
        black_box(trap_deep(depth - 1)) + 1
    }
}

fn recurse(depth: u64) -> u64 {
    if depth == 0 {
        0
    } else {
        black_box(recurse(depth - 1)) + 1
    }
}

/// Everything a program would try to reach without being given it.
fn ambient_authority_report() -> String {
    let file = std::fs::read("/etc/passwd").map(|_| "READ".to_owned());
    let dir = std::fs::read_dir(".").map(|_| "LISTED".to_owned());
    let tcp = std::net::TcpStream::connect("127.0.0.1:9").map(|_| "CONNECTED".to_owned());
    let env = std::env::vars().count();
    let args = std::env::args().count();
    let mut stdin = String::new();
    let stdin =
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut stdin).map(|n| n.to_string());
    let denied = |result: std::io::Result<String>| result.unwrap_or_else(|_| "denied".to_owned());
    format!(
        "file: {}; dir: {}; tcp: {}; env vars: {env}; args: {args}; stdin bytes: {}",
        denied(file),
        denied(dir),
        denied(tcp),
        denied(stdin),
    )
}

#[cfg(target_arch = "wasm32")]
fn forged_unit(handle: u32) -> i32 {
    #[link(wasm_import_module = "vathost:vat/io-channel@0.3.0")]
    unsafe extern "C" {
        #[link_name = "[method]channel.unit"]
        fn unit(handle: i32) -> i32;
    }
    // SAFETY: the import's signature matches the WIT; what the host does with
    // a handle that is not ours is exactly what this vat is here to test.
    unsafe { unit(handle as i32) }
}

#[cfg(target_arch = "wasm32")]
fn get_stdout() -> i32 {
    #[link(wasm_import_module = "wasi:cli/stdout@0.2.6")]
    unsafe extern "C" {
        #[link_name = "get-stdout"]
        fn get_stdout() -> i32;
    }
    // SAFETY: matches the WIT `get-stdout: func() -> output-stream`; the
    // handle is deliberately never dropped.
    unsafe { get_stdout() }
}

/// `output-stream.blocking-write-and-flush` on a raw handle.
#[cfg(target_arch = "wasm32")]
fn write_to(stream: i32, bytes: &[u8]) {
    #[link(wasm_import_module = "wasi:io/streams@0.2.6")]
    unsafe extern "C" {
        #[link_name = "[method]output-stream.blocking-write-and-flush"]
        fn blocking_write_and_flush(stream: i32, data: *const u8, len: usize, result: *mut u8);
    }
    // The result: a discriminant and a stream-error payload, ignored.
    let mut result = [0u64; 2];
    // SAFETY: the canonical ABI signature of the WIT method; `result` is
    // large and aligned enough for `result<_, stream-error>`.
    unsafe {
        blocking_write_and_flush(
            stream,
            bytes.as_ptr(),
            bytes.len(),
            result.as_mut_ptr().cast(),
        )
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn get_stdout() -> i32 {
    unreachable!("hostile vats only run as components")
}

#[cfg(not(target_arch = "wasm32"))]
fn write_to(_: i32, _: &[u8]) {
    unreachable!("hostile vats only run as components")
}

#[cfg(target_arch = "wasm32")]
fn trap() -> ! {
    core::arch::wasm32::unreachable()
}

#[cfg(not(target_arch = "wasm32"))]
fn trap() -> ! {
    unreachable!("hostile vats only run as components")
}

#[cfg(not(target_arch = "wasm32"))]
fn forged_unit(_: u32) -> i32 {
    unreachable!("hostile vats only run as components")
}

vat_sdk::entry!(hostile);
