//! The two servers under test, each its own process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, ensure};

pub struct Server {
    child: Child,
    socket: PathBuf,
}

/// The echo vat's component, built by `cargo xtask build-vats`.
pub fn echo_component() -> anyhow::Result<PathBuf> {
    component("echo")
}

/// The component built from the vat crate `name` (in `vats/` or `tests/vats/`).
pub fn component(name: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::var_os("VATHOST_VATS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasm32-wasip2/release")
        });
    let path = dir.join(format!("{name}.wasm"));
    ensure!(
        path.is_file(),
        "{} is missing: run `cargo xtask build-vats`",
        path.display()
    );
    Ok(path)
}

/// The `vathost` binary built next to this one.
pub fn vathost_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe.with_file_name("vathost");
    ensure!(
        path.is_file(),
        "{} is missing: build it with `cargo build -p vathost`",
        path.display()
    );
    Ok(path)
}

/// Writes `json` to `config` and starts `vathost run` on it, with the
/// run's component cache in `dir`.
pub fn run_vathost(dir: &Path, config: &Path, json: &serde_json::Value) -> anyhow::Result<Child> {
    std::fs::write(config, serde_json::to_vec(json)?)?;
    Command::new(vathost_binary()?)
        .arg("run")
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .context("start vathost")
}

impl Server {
    /// The echo vat serving lines.
    pub fn vathost(dir: &Path) -> anyhow::Result<Self> {
        Self::echo_vat(dir, "line")
    }

    /// The same echo vat on a `bytes` channel.
    pub fn vathost_bytes(dir: &Path) -> anyhow::Result<Self> {
        Self::echo_vat(dir, "bytes")
    }

    fn echo_vat(dir: &Path, unit: &str) -> anyhow::Result<Self> {
        let socket = dir.join(format!("vathost-{unit}.sock"));
        let config = dir.join(format!("echo-{unit}.json"));
        let json = serde_json::json!({
            "bootstrap": "main",
            "vats": { "main": { "component": echo_component()? } },
            "io": { "repl": { "type": "socket", "path": socket, "unit": unit } },
        });
        let child = run_vathost(dir, &config, &json)?;
        Ok(Self { child, socket })
    }

    pub fn native(dir: &Path, flush: crate::native::Flush) -> anyhow::Result<Self> {
        let socket = dir.join(format!("native{}.sock", flush.flag()));
        let child = Command::new(std::env::current_exe()?)
            .arg("native-echo")
            .arg(&socket)
            .arg(flush.flag())
            .spawn()
            .context("start the native server")?;
        Ok(Self { child, socket })
    }

    pub fn native_bytes(dir: &Path) -> anyhow::Result<Self> {
        let socket = dir.join("native-bytes.sock");
        let child = Command::new(std::env::current_exe()?)
            .arg("native-echo-bytes")
            .arg(&socket)
            .spawn()
            .context("start the native byte server")?;
        Ok(Self { child, socket })
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
