use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

/// Creates a vat crate that builds with `cargo build` and runs with
/// `vathost run cluster.json` at once.
///
/// The directory gets `Cargo.toml` (depending on vat-sdk by path, release
/// builds keeping line tables so failures name file and line),
/// `src/lib.rs` (a vat that greets each line on its socket),
/// `cluster.json` (runs it, socket `NAME.sock` beside it),
/// `rust-toolchain.toml` and `.cargo/config.toml` (the toolchain and the
/// `wasm32-wasip2` target), and `.gitignore`.
///
/// Example: vathost new hello && cd hello && cargo build && vathost run cluster.json
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 created; 2 the name is not a crate name, the directory exists, or no vat-sdk is found; 1 the files cannot be written."
)]
pub struct NewArgs {
    /// The directory to create; its last component names the crate and
    /// the vat (letters, digits, `-` and `_`, starting with a letter).
    #[arg(value_name = "PATH")]
    path: PathBuf,
    /// The vat-sdk crate to depend on [default: the guest-sdk of the source
    /// tree this vathost was built from].
    #[arg(long, value_name = "DIR")]
    sdk: Option<PathBuf>,
}

/// A problem with what the user asked for (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NewError(String);

/// The SDK beside the host's own sources, as `cargo install --path host`
/// leaves it.
const BUILT_WITH_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../guest-sdk");

pub fn new(args: NewArgs) -> anyhow::Result<ExitCode> {
    let Some(name) = args.path.file_name().and_then(|name| name.to_str()) else {
        return Err(NewError(format!("`{}` does not end in a name", args.path.display())).into());
    };
    if !is_crate_name(name) {
        return Err(NewError(format!(
            "`{name}` is not a vat name: use letters, digits, `-` and `_`, starting with a letter, at most 64"
        ))
        .into());
    }
    if args.path.exists() {
        return Err(NewError(format!("{} already exists", args.path.display())).into());
    }
    let sdk = sdk_dir(args.sdk.as_deref())?;
    let ident = name.replace('-', "_");
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{ident}}", &ident)
            .replace("{{sdk}}", &toml_string(&sdk))
    };
    let files = [
        (
            "Cargo.toml",
            fill(include_str!("../../templates/vat/Cargo.toml.in")),
        ),
        (
            "src/lib.rs",
            fill(include_str!("../../templates/vat/lib.rs.in")),
        ),
        (
            "cluster.json",
            fill(include_str!("../../templates/vat/cluster.json.in")),
        ),
        (
            ".cargo/config.toml",
            include_str!("../../templates/vat/cargo-config.toml").to_owned(),
        ),
        // The toolchain this host and its SDK are tested with, and the target.
        (
            "rust-toolchain.toml",
            include_str!("../../../rust-toolchain.toml").to_owned(),
        ),
        (
            ".gitignore",
            include_str!("../../templates/vat/gitignore").to_owned(),
        ),
    ];
    for (file, text) in files {
        let path = args.path.join(file);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!(
        "created vat `{name}` in {dir}\n\n  cd {dir}\n  cargo build\n  vathost run cluster.json\n\nthen, in another terminal in {dir}: echo world | vathost connect {name}.sock",
        dir = args.path.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn is_crate_name(name: &str) -> bool {
    name.len() <= 64
        && name.starts_with(|first: char| first.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The vat-sdk to depend on, as an absolute path, checked to be one.
fn sdk_dir(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let dir = given.unwrap_or(Path::new(BUILT_WITH_SDK));
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
    if !manifest.contains("name = \"vat-sdk\"") {
        let hint = if given.is_some() {
            ""
        } else {
            " (the source tree this vathost was built from is gone)"
        };
        return Err(NewError(format!(
            "no vat-sdk crate at {}{hint}: pass --sdk DIR, the guest-sdk directory of vathost's sources",
            dir.display()
        ))
        .into());
    }
    // Canonical, so the generated crate builds from wherever it is moved.
    dir.canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))
}

/// A path inside a TOML basic string.
fn toml_string(path: &Path) -> String {
    path.display()
        .to_string()
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
}
