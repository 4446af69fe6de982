//! Test vat that attacks its host as its parameters say: `{"mode": MODE}`.
//! Each mode is one entry of the attack suite listed in SECURITY.md. It
//! waits for a line on its channel first, so a test can set up a bystander.
// Forging a resource handle needs a raw canonical-ABI import.
#![allow(unsafe_code)]

use std::hint::black_box;

use vat_sdk::{Channels, Parameters};

fn hostile(parameters: Parameters, channels: Channels) -> vat_sdk::Result {
    let channel = channels.into_first()?;
    channel.read_line()?;
    match parameters.get_str("mode").as_deref() {
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
    #[link(wasm_import_module = "vathost:vat/io-channel@0.1.0")]
    unsafe extern "C" {
        #[link_name = "[method]channel.unit"]
        fn unit(handle: i32) -> i32;
    }
    // SAFETY: the import's signature matches the WIT; what the host does with
    // a handle that is not ours is exactly what this vat is here to test.
    unsafe { unit(handle as i32) }
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
