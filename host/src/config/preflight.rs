//! Checks against the filesystem that need no side effect: what `run` would
//! otherwise only find out while launching. `check` and every launch run
//! them, so a problem they find is a config error in both (exit 2).

use std::path::Path;

use super::spec::{ChannelKind, Direction, NatsAuth, SubclusterSpec};
use super::{ConfigError, Problem};
use crate::files::{open_parent, open_regular};

/// Every problem with the paths `spec` names, each with its field path.
pub fn preflight(spec: &SubclusterSpec) -> Result<(), ConfigError> {
    check(spec, true)
}

/// Every problem with the paths of `spec`'s channels: what a subcluster
/// restored from recorded components needs.
pub fn preflight_channels(spec: &SubclusterSpec) -> Result<(), ConfigError> {
    check(spec, false)
}

fn check(spec: &SubclusterSpec, components: bool) -> Result<(), ConfigError> {
    let mut problems = Vec::new();
    for vat in spec.vats.iter().filter(|_| components) {
        if let Err(error) = readable_file(&vat.component) {
            problems.push(Problem::new(
                format!("vats.{}.component", vat.name),
                format!("cannot read component {}: {error}", vat.component.display()),
            ));
        }
    }
    for channel in &spec.channels {
        let field = format!("io.{}.path", channel.name);
        let problem = match &channel.kind {
            ChannelKind::Socket(socket) => directory_problem(&socket.path),
            ChannelKind::Listen(listen) => directory_problem(&listen.socket.path),
            ChannelKind::File(file) if channel.direction == Direction::In => {
                readable_file(&file.path)
                    .err()
                    .map(|error| format!("cannot read {}: {error}", file.path.display()))
            }
            ChannelKind::File(file) => {
                directory_problem(&file.path).or_else(|| match std::fs::metadata(&file.path) {
                    Ok(metadata) if !metadata.is_file() => Some(format!(
                        "{} exists and is not a regular file",
                        file.path.display()
                    )),
                    _ => None,
                })
            }
            ChannelKind::Nats(nats) => {
                // The server may start after the check (the host reconnects);
                // the secrets it is handed must be readable now.
                let (key, path) = match &nats.auth {
                    NatsAuth::None => continue,
                    NatsAuth::CredsFile(path) => ("credentials", path),
                    NatsAuth::TokenFile(path) => ("token-file", path),
                };
                if let Err(error) = readable_file(path) {
                    problems.push(Problem::new(
                        format!("io.{}.{key}", channel.name),
                        format!("cannot read {}: {error}", path.display()),
                    ));
                }
                None
            }
            // The peer may start after the check; launch retries as configured.
            ChannelKind::Connect(_) | ChannelKind::Console => None,
        };
        if let Some(message) = problem {
            problems.push(Problem::new(field, message));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            file: spec.source.clone(),
            problems,
        })
    }
}

fn readable_file(path: &Path) -> std::io::Result<()> {
    let (dir, name) = open_parent(path)?;
    open_regular(&dir, &name, cap_std::fs::OpenOptions::new().read(true)).map(drop)
}

/// Why the directory that would hold `path` cannot, if it cannot.
fn directory_problem(path: &Path) -> Option<String> {
    let dir = path.parent()?;
    match std::fs::metadata(dir) {
        Ok(metadata) if metadata.is_dir() => None,
        Ok(_) => Some(format!("{} is not a directory", dir.display())),
        Err(error) => Some(format!("directory {}: {error}", dir.display())),
    }
}
