//! `vat-sdk` as a vat author outside this repository uses it: packaged with
//! `cargo package`, unpacked elsewhere, depended on by path.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::harness::{Client, Host, Scratch, single_vat_config, vathost_output_in};

/// Cargo as a vat author runs it: in their crate, its output in their
/// crate's `target/`.
fn cargo() -> Command {
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    cargo.env_remove("CARGO_TARGET_DIR");
    cargo
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

/// `vathost new` refuses what it cannot make into a vat crate, and makes
/// nothing then. (The README test builds and runs what it makes.)
#[test]
fn new_refuses_an_existing_directory_a_bad_name_and_a_missing_sdk() {
    let scratch = Scratch::new();
    let (code, output) = vathost_output_in(&scratch.path(""), &["new", "hello-vat"]);
    assert_eq!(code, Some(0), "{output}");
    let manifest = std::fs::read_to_string(scratch.path("hello-vat/Cargo.toml")).unwrap();
    assert!(
        manifest.contains("debug = \"line-tables-only\""),
        "{manifest}"
    );
    assert!(manifest.contains("name = \"hello-vat\""), "{manifest}");
    let config = std::fs::read_to_string(scratch.path("hello-vat/cluster.json")).unwrap();
    assert!(
        config.contains("target/wasm32-wasip2/debug/hello_vat.wasm"),
        "{config}"
    );

    let (code, output) = vathost_output_in(&scratch.path(""), &["new", "hello-vat"]);
    assert_eq!(code, Some(2), "{output}");
    assert!(output.contains("already exists"), "{output}");
    let (code, output) = vathost_output_in(&scratch.path(""), &["new", "9lives"]);
    assert_eq!(code, Some(2), "{output}");
    assert!(output.contains("not a vat name"), "{output}");
    let (code, output) = vathost_output_in(
        &scratch.path(""),
        &["new", "other", "--sdk", scratch.path("").to_str().unwrap()],
    );
    assert_eq!(code, Some(2), "{output}");
    assert!(output.contains("no vat-sdk crate"), "{output}");
    assert!(!scratch.path("other").exists());
    assert!(!scratch.path("9lives").exists());
}
