//! A blocking client of the control socket, for the CLI verbs.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::ErrorCode;
use super::protocol::{
    ConfigSource, LaunchParams, LogsPage, LogsParams, Response, SubclusterParams, Terminated,
    UpgradeParams, Upgraded, method,
};
use crate::kernel::{Launched, SubclusterId, SubclusterStatus};

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("no daemon is running with home {} (start one with `vathost daemon`)", home.display())]
    NotRunning {
        home: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("lost the connection to the daemon")]
    Io(#[from] std::io::Error),
    #[error("the daemon sent a malformed response: {0}")]
    Protocol(String),
    /// The daemon answered with an error; its causes form the source chain.
    #[error("{message}")]
    Failed {
        code: Option<ErrorCode>,
        message: String,
        #[source]
        cause: Option<Box<RemoteCause>>,
    },
}

/// One cause the daemon reported, linked to the next.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct RemoteCause {
    message: String,
    #[source]
    next: Option<Box<RemoteCause>>,
}

/// How long the daemon may take to answer a call; a `logs` wait is
/// answered within 10 s, and a launch or terminate within its own bounds.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

pub struct ControlClient {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    next_id: u64,
}

impl ControlClient {
    pub fn connect(home: &Path) -> Result<Self, RemoteError> {
        let stream = UnixStream::connect(super::control_socket(home)).map_err(|source| {
            RemoteError::NotRunning {
                home: home.to_path_buf(),
                source,
            }
        })?;
        stream.set_read_timeout(Some(CALL_TIMEOUT))?;
        stream.set_write_timeout(Some(CALL_TIMEOUT))?;
        Ok(Self {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
            next_id: 1,
        })
    }

    /// Launches the config file at `path` (made absolute here).
    /// Launches the config at `path` (absolute), named `name` if given.
    pub fn launch(&mut self, path: &Path, name: Option<&str>) -> Result<Launched, RemoteError> {
        let params = LaunchParams {
            config: ConfigSource::Path(path.to_path_buf()),
            base: None,
            name: name.map(str::to_owned),
        };
        self.call(method::LAUNCH, &params)
    }

    pub fn terminate(&mut self, id: SubclusterId) -> Result<Terminated, RemoteError> {
        self.call(method::TERMINATE, &SubclusterParams { id: Some(id) })
    }

    /// Replaces vat `vat`'s component; `component` is an absolute path.
    pub fn upgrade(
        &mut self,
        id: SubclusterId,
        vat: &str,
        component: PathBuf,
    ) -> Result<Upgraded, RemoteError> {
        self.call(
            method::UPGRADE,
            &UpgradeParams {
                id,
                vat: vat.to_owned(),
                component,
            },
        )
    }

    pub fn list(&mut self) -> Result<Vec<SubclusterStatus>, RemoteError> {
        self.call(method::LIST, &SubclusterParams { id: None })
    }

    /// One subcluster's status, or every subcluster's.
    pub fn status(
        &mut self,
        id: Option<SubclusterId>,
    ) -> Result<Vec<SubclusterStatus>, RemoteError> {
        self.call(method::STATUS, &SubclusterParams { id })
    }

    pub fn logs(&mut self, params: &LogsParams) -> Result<LogsPage, RemoteError> {
        self.call(method::LOGS, params)
    }

    /// Asks the daemon to terminate everything and exit.
    pub fn shutdown(&mut self) -> Result<(), RemoteError> {
        self.call::<Option<()>>(method::SHUTDOWN, &serde_json::Map::new())
            .map(drop)
    }

    /// Calls `method` and waits for its result.
    fn call<T: DeserializeOwned>(
        &mut self,
        method: &str,
        params: &impl Serialize,
    ) -> Result<T, RemoteError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut request =
            json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }).to_string();
        request.push('\n');
        self.writer.write_all(request.as_bytes())?;
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(RemoteError::Protocol(
                "the daemon closed the connection".to_owned(),
            ));
        }
        let response: Response<T> = serde_json::from_str(&line)
            .map_err(|error| RemoteError::Protocol(format!("{error}: {}", line.trim_end())))?;
        if let Some(error) = response.error {
            let data = error.data.unwrap_or_default();
            let cause = data.causes.into_iter().rev().fold(None, |next, message| {
                Some(Box::new(RemoteCause { message, next }))
            });
            return Err(RemoteError::Failed {
                code: ErrorCode::from_code(error.code),
                message: error.message,
                cause,
            });
        }
        // A null result (`shutdown`) reads as `None` for `Option<()>`.
        match response.result {
            Some(result) => Ok(result),
            None => serde_json::from_value(serde_json::Value::Null).map_err(|_| {
                RemoteError::Protocol(format!("a response without a result: {}", line.trim_end()))
            }),
        }
    }
}
