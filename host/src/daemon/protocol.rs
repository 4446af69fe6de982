//! JSON-RPC 2.0 messages, one per line, and the method table.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::ConfigError;
use crate::kernel::{Kernel, KernelError, LaunchError, Launched, SubclusterId, VatEnd};
use crate::runtime::GuestLine;

/// The largest request line the daemon reads; longer ones are refused.
pub const MAX_REQUEST: u32 = 256 * 1024;
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
    /// Every control connection is in the middle of a call.
    Busy = -32003,
    /// An upgrade was refused (a bad component: nothing changed) or failed.
    UpgradeFailed = -32004,
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
            Self::Busy,
            Self::UpgradeFailed,
        ]
        .into_iter()
        .find(|known| *known as i64 == code)
    }
}

/// The methods, by name on the wire.
pub mod method {
    pub const LAUNCH: &str = "launch";
    pub const TERMINATE: &str = "terminate";
    pub const UPGRADE: &str = "upgrade";
    pub const LIST: &str = "list";
    pub const STATUS: &str = "status";
    pub const LOGS: &str = "logs";
    pub const SHUTDOWN: &str = "shutdown";
}

/// `launch`: a config file (absolute path), or a config object with the
/// absolute directory its relative paths are resolved against.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaunchParams {
    pub config: ConfigSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConfigSource {
    Path(PathBuf),
    Inline(serde_json::Map<String, Value>),
}

/// `terminate` and `logs` name one subcluster; `status` may.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubclusterParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<SubclusterId>,
}

/// `logs`: lines after `after`; with `wait`, the call is held until there is
/// one, the subcluster ends, or 10 s pass.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsParams {
    pub id: SubclusterId,
    #[serde(default)]
    pub after: u64,
    #[serde(default)]
    pub wait: bool,
}

/// `upgrade`: replace one vat's component in a running subcluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpgradeParams {
    pub id: SubclusterId,
    pub vat: String,
    /// The new component: an absolute path.
    pub component: PathBuf,
}

/// `upgrade`'s result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Upgraded {
    pub id: SubclusterId,
    pub vat: String,
    /// The new component's SHA-256, in hex.
    pub digest: String,
}

/// `terminate`'s result: how each vat ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Terminated {
    pub id: SubclusterId,
    pub vats: Vec<VatEndReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VatEndReport {
    pub name: String,
    /// `returned`, `stopped` or `failed: CAUSE`.
    pub end: String,
}

/// `logs`' result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogsPage {
    pub lines: Vec<GuestLine>,
    pub ended: bool,
}

/// An error response's `error` member.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorObject {
    pub code: i64,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<ErrorData>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ErrorData {
    /// The chain of causes, outermost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<String>,
    /// For an invalid config: each problem with its field path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<ProblemReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProblemReport {
    pub field: String,
    pub message: String,
}

/// A response as the client reads it.
#[derive(Debug, Deserialize)]
pub struct Response<T> {
    #[serde(default = "Option::default")]
    pub result: Option<T>,
    #[serde(default)]
    pub error: Option<ErrorObject>,
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
    data: ErrorData,
}

impl Failure {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: ErrorData::default(),
        }
    }

    fn from_error(code: ErrorCode, error: &(dyn std::error::Error + 'static)) -> Self {
        let mut causes = Vec::new();
        let mut cause = error.source();
        while let Some(next) = cause {
            causes.push(next.to_string());
            cause = next.source();
        }
        Self {
            code,
            message: error.to_string(),
            data: ErrorData {
                causes,
                problems: Vec::new(),
            },
        }
    }

    fn invalid_config(error: &ConfigError) -> Self {
        let mut failure = Self::from_error(ErrorCode::InvalidConfig, error);
        failure.data.problems = error
            .problems()
            .into_iter()
            .map(|problem| ProblemReport {
                field: problem.field,
                message: problem.message,
            })
            .collect();
        failure
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
    let after = if request.method == method::SHUTDOWN {
        After::Shutdown
    } else {
        After::Continue
    };
    tracing::debug!(method = %request.method, id = ?request.id, "control request");
    let started = std::time::Instant::now();
    let outcome = dispatch(kernel, &request.method, request.params).await;
    match &outcome {
        Ok(_) => tracing::debug!(
            method = %request.method,
            elapsed_ms = started.elapsed().as_millis(),
            "control request answered"
        ),
        Err(failure) => tracing::debug!(
            method = %request.method,
            elapsed_ms = started.elapsed().as_millis(),
            code = failure.code as i64,
            message = %failure.message,
            "control request failed"
        ),
    }
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
    let has_data = !failure.data.causes.is_empty() || !failure.data.problems.is_empty();
    let error = ErrorObject {
        code: failure.code as i64,
        message: failure.message,
        data: has_data.then_some(failure.data),
    };
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

pub(super) fn busy() -> Value {
    error_response(
        Value::Null,
        Failure::new(
            ErrorCode::Busy,
            "the daemon is busy: every control connection is in the middle of a call",
        ),
    )
}

pub(super) fn not_utf8() -> Value {
    error_response(
        Value::Null,
        Failure::new(ErrorCode::ParseError, "request is not UTF-8"),
    )
}

async fn dispatch(kernel: &Arc<Kernel>, name: &str, params: Value) -> Result<Value, Failure> {
    match name {
        method::LAUNCH => to_value(launch(kernel, params_of(params)?).await?),
        method::TERMINATE => {
            let id = required_id(params_of::<SubclusterParams>(params)?)?;
            let outcome = kernel.terminate(id).await.map_err(kernel_failure)?;
            let vats = outcome
                .vats
                .iter()
                .map(|(vat, end)| VatEndReport {
                    name: vat.clone(),
                    end: describe(end),
                })
                .collect();
            to_value(Terminated { id, vats })
        }
        method::UPGRADE => {
            let UpgradeParams { id, vat, component } = params_of(params)?;
            if !component.is_absolute() {
                return Err(Failure::new(
                    ErrorCode::InvalidParams,
                    "`component` must be an absolute path",
                ));
            }
            let digest =
                kernel
                    .upgrade(id, &vat, &component)
                    .await
                    .map_err(|error| match error {
                        KernelError::UnknownSubcluster(_) => {
                            Failure::from_error(ErrorCode::UnknownSubcluster, &error)
                        }
                        _ => Failure::from_error(ErrorCode::UpgradeFailed, &error),
                    })?;
            to_value(Upgraded {
                id,
                vat,
                digest: digest.0,
            })
        }
        method::LIST => to_value(kernel.list()),
        method::STATUS => match params_of::<SubclusterParams>(params)?.id {
            None => to_value(kernel.list()),
            Some(id) => to_value(vec![kernel.status(id).map_err(kernel_failure)?]),
        },
        method::LOGS => to_value(logs(kernel, params_of(params)?).await?),
        method::SHUTDOWN => Ok(Value::Null),
        other => Err(Failure::new(
            ErrorCode::MethodNotFound,
            format!(
                "unknown method `{other}`; methods: launch, terminate, upgrade, list, status, logs, shutdown"
            ),
        )),
    }
}

/// A method's params, absent params read as `{}`.
fn params_of<T: serde::de::DeserializeOwned>(params: Value) -> Result<T, Failure> {
    let params = if params.is_null() { json!({}) } else { params };
    serde_json::from_value(params)
        .map_err(|error| Failure::new(ErrorCode::InvalidParams, format!("invalid params: {error}")))
}

fn required_id(params: SubclusterParams) -> Result<SubclusterId, Failure> {
    params.id.ok_or_else(|| {
        Failure::new(
            ErrorCode::InvalidParams,
            "`id` must be a subcluster id such as \"s1\"",
        )
    })
}

async fn launch(kernel: &Arc<Kernel>, params: LaunchParams) -> Result<Launched, Failure> {
    let spec = match params.config {
        ConfigSource::Path(path) => {
            if !path.is_absolute() {
                return Err(Failure::new(
                    ErrorCode::InvalidParams,
                    "`config` must be an absolute path",
                ));
            }
            // Reading the file is blocking work, kept off the async workers.
            tokio::task::spawn_blocking(move || crate::config::load(&path))
                .await
                .map_err(|error| Failure::new(ErrorCode::LaunchFailed, error.to_string()))?
        }
        ConfigSource::Inline(inline) => {
            let base = params
                .base
                .filter(|base| base.is_absolute())
                .ok_or_else(|| {
                    Failure::new(
                        ErrorCode::InvalidParams,
                        "an inline `config` needs an absolute `base` directory",
                    )
                })?;
            let name = params.name.as_deref().unwrap_or("inline");
            crate::config::from_json(&Value::Object(inline).to_string(), name, &base)
        }
    };
    let mut spec = spec.map_err(|error| Failure::invalid_config(&error))?;
    if let Some(name) = params.name {
        if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
            return Err(Failure::new(
                ErrorCode::InvalidParams,
                "`name` must be 1 to 64 characters, none of them control characters",
            ));
        }
        spec.name = name;
    }
    if let Some(console) = spec.console_channel() {
        let field = format!("io.{}.type", console.name);
        let problem = crate::config::Problem::new(
            field,
            "the console is for `vathost run` only; a daemon has no terminal",
        );
        return Err(Failure::invalid_config(&ConfigError::Invalid {
            file: spec.source.clone(),
            problems: vec![problem],
        }));
    }
    kernel.launch(spec).await.map_err(|error| match &error {
        LaunchError::Config(config) => Failure::invalid_config(config),
        _ if error.is_config_error() => Failure::from_error(ErrorCode::InvalidConfig, &error),
        _ => Failure::from_error(ErrorCode::LaunchFailed, &error),
    })
}

async fn logs(kernel: &Arc<Kernel>, params: LogsParams) -> Result<LogsPage, Failure> {
    let LogsParams { id, after, wait } = params;
    let log = kernel.guest_log(id).map_err(kernel_failure)?;
    if wait && log.since(after).is_empty() && !kernel.has_ended(id) {
        let outcome = kernel.wait(id);
        tokio::select! {
            () = log.wait_after(after) => {}
            _ = outcome => {}
            () = tokio::time::sleep(LONG_POLL) => {}
        }
    }
    Ok(LogsPage {
        lines: log.since(after),
        ended: kernel.has_ended(id),
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
