use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

/// Talks to a channel's socket: sends standard input, then shuts down the
/// write side, and prints what comes back until the host closes the
/// connection (what `nc -N -U SOCKET` does).
///
/// Example: printf 'hello\n' | vathost connect /tmp/vathost-echo.sock
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 the host closed the connection; 1 the socket cannot be reached or the connection was lost."
)]
pub struct ConnectArgs {
    /// The socket of a `socket` or `listen` channel.
    #[arg(value_name = "SOCKET")]
    socket: PathBuf,
}

pub fn connect(args: ConnectArgs) -> anyhow::Result<ExitCode> {
    let stream = UnixStream::connect(&args.socket)
        .with_context(|| format!("cannot connect to {}", args.socket.display()))?;
    let mut writer = stream.try_clone()?;
    // Standard input may stay open (a terminal): the sender is not waited
    // for once the host has closed the connection.
    std::thread::spawn(move || {
        let sent = std::io::copy(&mut std::io::stdin().lock(), &mut writer);
        if sent.is_ok() {
            let _ = writer.shutdown(std::net::Shutdown::Write);
        }
    });
    let mut stdout = std::io::stdout().lock();
    std::io::copy(&mut &stream, &mut stdout)
        .with_context(|| format!("lost the connection to {}", args.socket.display()))?;
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}
