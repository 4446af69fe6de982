//! `vat-sdk` as a vat author outside this repository uses it: packaged with
//! `cargo package`, unpacked elsewhere, depended on by path.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::harness::{Client, Host, Scratch, single_vat_config};

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
}

fn succeed(command: &mut Command) {
    let output = command.output().expect("run cargo");
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_vat_outside_the_workspace_builds_against_the_packaged_sdk_and_runs() {
    let scratch = Scratch::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    succeed(
        cargo()
            .current_dir(&root)
            .args([
                "package",
                "-p",
                "vat-sdk",
                "--no-verify",
                "--allow-dirty",
                "--offline",
            ])
            .arg("--target-dir")
            .arg(scratch.path("package")),
    );
    let unpacked = scratch.path("vendor");
    std::fs::create_dir(&unpacked).unwrap();
    succeed(
        Command::new("tar")
            .arg("xzf")
            .arg(scratch.path("package/package/vat-sdk-0.1.0.crate"))
            .arg("-C")
            .arg(&unpacked),
    );
    let vat = scratch.path("myvat");
    std::fs::create_dir_all(vat.join("src")).unwrap();
    // As a vat author's crate would: the toolchain and its wasm target named.
    std::fs::copy(
        root.join("rust-toolchain.toml"),
        vat.join("rust-toolchain.toml"),
    )
    .unwrap();
    std::fs::write(
        vat.join("Cargo.toml"),
        format!(
            r#"[package]
name = "myvat"
version = "0.1.0"
edition = "2021"

[lib]
crate-type = ["cdylib"]

[dependencies]
vat-sdk = {{ path = "{}" }}

[workspace]
"#,
            unpacked.join("vat-sdk-0.1.0").display()
        ),
    )
    .unwrap();
    std::fs::write(
        vat.join("src/lib.rs"),
        r#"use vat_sdk::{Channels, Parameters};

fn shout(_: Parameters, channels: Channels) -> vat_sdk::Result {
    let channel = channels.into_first()?;
    for line in channel.lines() {
        channel.reply(&format!("{}!", line?))?;
    }
    Ok(())
}

vat_sdk::entry!(shout);
"#,
    )
    .unwrap();
    succeed(cargo().current_dir(&vat).args([
        "build",
        "--release",
        "--offline",
        "--target",
        "wasm32-wasip2",
    ]));
    let component = vat.join("target/wasm32-wasip2/release/myvat.wasm");
    let socket = scratch.path("my.sock");
    let config = scratch.config(
        "myvat",
        single_vat_config(
            &component,
            json!({ "ctl": { "type": "socket", "path": socket } }),
        ),
    );
    let host = Host::run(&[&config]);
    assert_eq!(Client::connect(&socket).exchange("hello"), "hello!");
    drop(host);
}
