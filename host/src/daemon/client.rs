//! A blocking client of the control socket, for the CLI verbs.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::ErrorCode;

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
        Ok(Self {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
            next_id: 1,
        })
    }

    /// Calls `method` and waits for its result.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, RemoteError> {
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
        let mut response: Value = serde_json::from_str(&line)
            .map_err(|error| RemoteError::Protocol(error.to_string()))?;
        if let Some(error) = response.get("error") {
            let causes: Vec<String> = error["data"]["causes"]
                .as_array()
                .map(|causes| {
                    causes
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            let cause = causes.into_iter().rev().fold(None, |next, message| {
                Some(Box::new(RemoteCause { message, next }))
            });
            return Err(RemoteError::Failed {
                code: error["code"].as_i64().and_then(ErrorCode::from_code),
                message: error["message"]
                    .as_str()
                    .unwrap_or("unknown error")
                    .to_owned(),
                cause,
            });
        }
        Ok(response["result"].take())
    }
}
