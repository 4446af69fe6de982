//! JSON-RPC 2.0 messages, one per line, and the method table.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::kernel::{Kernel, KernelError, SubclusterId, VatEnd};

/// The largest request line the daemon reads; longer ones are refused.
pub const MAX_REQUEST: u32 = 1024 * 1024;
/// How long a `logs` call with `wait` may hold the connection.
const LONG_POLL: Duration = Duration::from_secs(10);

/// JSON-RPC error codes: the standard ones, then vathost's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    ParseError = -32700,
    InvalidRequest = -32600,
    MethodNotFound = -32601,
    InvalidParams = -32602,
    /// A launch failed (socket in use, component cannot start, ...).
    LaunchFailed = -32000,
    UnknownSubcluster = -32001,
    /// The config is invalid; `data.problems` lists each problem.
    InvalidConfig = -32002,
}

impl ErrorCode {
    pub fn from_code(code: i64) -> Option<Self> {
        [
            Self::ParseError,
            Self::InvalidRequest,
            Self::MethodNotFound,
            Self::InvalidParams,
            Self::LaunchFailed,
            Self::UnknownSubcluster,
            Self::InvalidConfig,
        ]
        .into_iter()
        .find(|known| *known as i64 == code)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    jsonrpc: String,
    #[serde(default)]
    id: Option<Value>,
    method: String,
    #[serde(default)]
    params: Value,
}

/// An error to send back: code, message, and the chain of causes as data.
pub(super) struct Failure {
    code: ErrorCode,
    message: String,
    data: Value,
}

impl Failure {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: Value::Null,
        }
    }

    fn from_error(code: ErrorCode, error: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = Vec::new();
        let mut cause = error.source();
        while let Some(next) = cause {
            chain.push(next.to_string());
            cause = next.source();
        }
        Self {
            code,
            message: error.to_string(),
            data: json!({ "causes": chain }),
        }
    }
}

/// What the connection should do after answering.
pub(super) enum After {
    Continue,
    Shutdown,
}

/// Handles one request line; `None` for a notification (no reply).
pub(super) async fn handle_line(kernel: &Arc<Kernel>, line: &str) -> (Option<Value>, After) {
    let value: Value = match serde_json::from_str(line) {
        Ok(value) => value,
        Err(error) => {
            let failure = Failure::new(ErrorCode::ParseError, format!("not JSON: {error}"));
            return (Some(error_response(Value::Null, failure)), After::Continue);
        }
    };
    let id_hint = value.get("id").cloned().unwrap_or(Value::Null);
    let request = match serde_json::from_value::<Request>(value) {
        Ok(request) if request.jsonrpc == "2.0" => request,
        Ok(_) => {
            let failure = Failure::new(ErrorCode::InvalidRequest, "`jsonrpc` must be \"2.0\"");
            return (Some(error_response(id_hint, failure)), After::Continue);
        }
        Err(error) => {
            let failure = Failure::new(
                ErrorCode::InvalidRequest,
                format!("not a JSON-RPC request: {error}"),
            );
            return (Some(error_response(id_hint, failure)), After::Continue);
        }
    };
    let after = if request.method == "shutdown" {
        After::Shutdown
    } else {
        After::Continue
    };
    let outcome = dispatch(kernel, &request.method, request.params).await;
    let Some(id) = request.id else {
        return (None, after);
    };
    let response = match outcome {
        Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        Err(failure) => error_response(id, failure),
    };
    (Some(response), after)
}

pub(super) fn error_response(id: Value, failure: Failure) -> Value {
    let mut error = json!({ "code": failure.code as i64, "message": failure.message });
    if !failure.data.is_null() {
        error["data"] = failure.data;
    }
    json!({ "jsonrpc": "2.0", "id": id, "error": error })
}

pub(super) fn too_long() -> Value {
    error_response(
        Value::Null,
        Failure::new(
            ErrorCode::InvalidRequest,
            format!("request longer than {MAX_REQUEST} bytes"),
        ),
    )
}

pub(super) fn not_utf8() -> Value {
    error_response(
        Value::Null,
        Failure::new(ErrorCode::ParseError, "request is not UTF-8"),
    )
}

async fn dispatch(kernel: &Arc<Kernel>, method: &str, params: Value) -> Result<Value, Failure> {
    match method {
        "launch" => launch(kernel, params).await,
        "terminate" => {
            let id = subcluster_id(&params)?;
            let outcome = kernel.terminate(id).await.map_err(kernel_failure)?;
            let vats: Vec<Value> = outcome
                .vats
                .iter()
                .map(|(vat, end)| json!({ "name": vat, "end": describe(end) }))
                .collect();
            Ok(json!({ "id": id.to_string(), "vats": vats }))
        }
        "list" => to_value(kernel.list()),
        "status" => match params.get("id") {
            None | Some(Value::Null) => to_value(kernel.list()),
            Some(_) => to_value(vec![
                kernel
                    .status(subcluster_id(&params)?)
                    .map_err(kernel_failure)?,
            ]),
        },
        "logs" => logs(kernel, &params).await,
        "shutdown" => Ok(Value::Null),
        other => Err(Failure::new(
            ErrorCode::MethodNotFound,
            format!(
                "unknown method `{other}`; methods: launch, terminate, list, status, logs, shutdown"
            ),
        )),
    }
}

/// `{"config": "/abs/path.json"}` or `{"config": {...}, "base": "/abs/dir", "name": "x"}`.
async fn launch(kernel: &Arc<Kernel>, params: Value) -> Result<Value, Failure> {
    let spec = match params.get("config") {
        Some(Value::String(path)) => {
            let path = PathBuf::from(path);
            if !path.is_absolute() {
                return Err(Failure::new(
                    ErrorCode::InvalidParams,
                    "`config` must be an absolute path",
                ));
            }
            crate::config::load(&path)
        }
        Some(inline @ Value::Object(_)) => {
            let base = params
                .get("base")
                .and_then(Value::as_str)
                .map(PathBuf::from)
                .filter(|base| base.is_absolute())
                .ok_or_else(|| {
                    Failure::new(
                        ErrorCode::InvalidParams,
                        "an inline `config` needs an absolute `base` directory",
                    )
                })?;
            let name = params
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("inline");
            crate::config::from_json(&inline.to_string(), name, &base)
        }
        _ => {
            return Err(Failure::new(
                ErrorCode::InvalidParams,
                "`config` must be a path or a config object",
            ));
        }
    };
    let spec = spec.map_err(|error| {
        let mut failure = Failure::from_error(ErrorCode::InvalidConfig, &error);
        let problems: Vec<Value> = error
            .problems()
            .into_iter()
            .map(|problem| json!({ "field": problem.field, "message": problem.message }))
            .collect();
        failure.data["problems"] = Value::Array(problems);
        failure
    })?;
    if let Some(console) = spec.console_channel() {
        let field = format!("io.{}.type", console.name);
        let mut failure = Failure::new(
            ErrorCode::InvalidConfig,
            format!("`{field}`: the console is for `vathost run` only; a daemon has no terminal"),
        );
        failure.data = json!({ "problems": [{ "field": field, "message": "the console is for `vathost run` only" }] });
        return Err(failure);
    }
    match kernel.launch(spec).await {
        Ok(launched) => to_value(launched),
        Err(error) => {
            let code = if error.is_config_error() {
                ErrorCode::InvalidConfig
            } else {
                ErrorCode::LaunchFailed
            };
            Err(Failure::from_error(code, &error))
        }
    }
}

/// `{"id": "s1", "after": 0, "wait": true}`: lines after `after`; with
/// `wait`, holds the call until there is one, the subcluster ends, or 10 s pass.
async fn logs(kernel: &Arc<Kernel>, params: &Value) -> Result<Value, Failure> {
    let id = subcluster_id(params)?;
    let after = params.get("after").and_then(Value::as_u64).unwrap_or(0);
    let wait = params.get("wait").and_then(Value::as_bool).unwrap_or(false);
    let log = kernel.guest_log(id).map_err(kernel_failure)?;
    if wait && log.since(after).is_empty() && !kernel.has_ended(id) {
        let outcome = kernel.wait(id);
        tokio::select! {
            () = log.wait_after(after) => {}
            _ = outcome => {}
            () = tokio::time::sleep(LONG_POLL) => {}
        }
    }
    Ok(json!({ "lines": log.since(after), "ended": kernel.has_ended(id) }))
}

fn subcluster_id(params: &Value) -> Result<SubclusterId, Failure> {
    params
        .get("id")
        .and_then(Value::as_str)
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| {
            Failure::new(
                ErrorCode::InvalidParams,
                "`id` must be a subcluster id such as \"s1\"",
            )
        })
}

fn kernel_failure(error: KernelError) -> Failure {
    let code = match error {
        KernelError::UnknownSubcluster(_) => ErrorCode::UnknownSubcluster,
        _ => ErrorCode::LaunchFailed,
    };
    Failure::from_error(code, &error)
}

fn describe(end: &VatEnd) -> String {
    match end {
        VatEnd::Returned => "returned".to_owned(),
        VatEnd::Stopped => "stopped".to_owned(),
        VatEnd::Failed(failure) => format!("failed: {failure}"),
    }
}

fn to_value(value: impl serde::Serialize) -> Result<Value, Failure> {
    serde_json::to_value(value)
        .map_err(|error| Failure::new(ErrorCode::InvalidRequest, error.to_string()))
}
