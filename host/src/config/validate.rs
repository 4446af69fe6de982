//! Checks serde cannot make, each reported with its field path, all at once.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use super::raw::{RawChannel, RawCluster, RawLimits, RawVat};
use super::spec::{
    ChannelKind, ChannelSpec, ConnectSpec, DEFAULT_MAX_LINE, DEFAULT_MAX_RESTARTS,
    DEFAULT_QUEUE_LINES, DEFAULT_RESTART_BACKOFF, DEFAULT_RESTART_WINDOW, Direction, FileSpec,
    JetStreamSpec, ListenSpec, NatsAuth, NatsSpec, RestartPolicy, SocketSpec, SubclusterSpec, Unit,
    VatLimits, VatSpec,
};
use super::{ConfigError, Problem};

use crate::io::MAX_SOCKET_PATH;
const DEFAULT_SOCKET_MODE: u32 = 0o600;
/// Lines longer than this would let one client pin a lot of host memory per
/// queued line.
const MAX_MAX_LINE: u64 = 16 * 1024 * 1024;
const MAX_QUEUE_LINES: u32 = 65_536;
const DEFAULT_MAX_CLIENTS: u32 = 16;
const MAX_MAX_CLIENTS: u32 = 10_000;
const DEFAULT_RETRY_ATTEMPTS: u32 = 10;
const DEFAULT_RETRY_DELAY_MS: u64 = 100;
const MAX_RETRY_ATTEMPTS: u32 = 1_000;
const MAX_RETRY_DELAY_MS: u64 = 60_000;
const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";
const DEFAULT_NATS_WRITE_TIMEOUT_MS: u64 = 10_000;
/// JetStream's own default.
const DEFAULT_ACK_WAIT_MS: u64 = 30_000;
const MAX_NATS_WAIT_MS: u64 = 3_600_000;
const DEFAULT_NATS_MAX_PENDING: u64 = 16 * 1024 * 1024;
const MAX_NATS_MAX_PENDING: u64 = 1024 * 1024 * 1024;
/// The most a wasm32 linear memory can address.
const MAX_VAT_MEMORY: u64 = 4 * 1024 * 1024 * 1024;
/// Handles: enough for a few channels and their pollables, and at most what
/// keeps the host's share per vat small (SECURITY.md).
const MIN_VAT_HANDLES: u32 = 16;
const MAX_VAT_HANDLES: u32 = 1_000_000;
const MAX_VAT_INBOX: u32 = 1_000_000;
const MIN_VAT_MESSAGE: u64 = 1024;
const MAX_VAT_MESSAGE: u64 = 64 * 1024 * 1024;
const MAX_VAT_STORE: u64 = 1024 * 1024 * 1024 * 1024;
/// Smallest memory limit: one wasm page.
const MIN_VAT_MEMORY: u64 = 64 * 1024;

pub(super) fn validate(
    raw: RawCluster,
    name: &str,
    base: &Path,
) -> Result<SubclusterSpec, ConfigError> {
    let mut problems = Vec::new();

    if raw.vats.is_empty() {
        problems.push(Problem::new("vats", "a subcluster needs at least one vat"));
    }
    let bootstrap = raw.bootstrap.clone().unwrap_or_default();
    match &raw.bootstrap {
        None => problems.push(Problem::new(
            "bootstrap",
            "missing: name the vat that receives every channel",
        )),
        Some(bootstrap) if !raw.vats.contains_key(bootstrap) => problems.push(Problem::new(
            "bootstrap",
            format!(
                "`{bootstrap}` is not a vat of this config (vats: {})",
                names(raw.vats.keys())
            ),
        )),
        Some(_) => {}
    }
    for (index, service) in raw.services.iter().enumerate() {
        problems.push(Problem::new(
            format!("services[{index}]"),
            format!("unknown service `{service}`: vathost offers no kernel services yet"),
        ));
    }

    // Exact capacities: a running subcluster keeps its spec, and a grown
    // Vec's spare room would be held as long (up to 1 KiB per vat).
    let mut channels = Vec::with_capacity(raw.io.len());
    let mut used_paths: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut console: Option<&str> = None;
    for (channel_name, channel) in &raw.io {
        let field = format!("io.{channel_name}");
        if let Some(spec) = channel_spec(channel_name, channel, &field, base, &mut problems) {
            // Two channels on one path would fight over it: two listeners,
            // or a writer appending to a file another channel reads.
            if let Some(path) = spec
                .kind
                .path()
                .filter(|_| !matches!(spec.kind, ChannelKind::Connect(_)))
            {
                if let Some(first) = used_paths.get(path) {
                    problems.push(Problem::new(
                        format!("{field}.path"),
                        format!(
                            "{} is already the path of channel `{first}`",
                            path.display()
                        ),
                    ));
                } else {
                    used_paths.insert(path.to_path_buf(), channel_name.clone());
                }
            }
            if matches!(spec.kind, ChannelKind::Console) {
                if let Some(first) = console {
                    problems.push(Problem::new(
                        format!("{field}.type"),
                        format!("the console is already channel `{first}`; there is one console"),
                    ));
                }
                console = Some(channel_name);
            }
            channels.push(spec);
        }
    }

    let mut vats = Vec::with_capacity(raw.vats.len());
    for (vat_name, vat) in &raw.vats {
        let field = format!("vats.{vat_name}");
        if !is_simple_name(vat_name) {
            problems.push(Problem::new(
                &field,
                "a vat name must be 1 to 64 of the characters A-Z a-z 0-9 _ - .",
            ));
        }
        let component = vat.component.as_deref().unwrap_or_default();
        if component.trim().is_empty() {
            problems.push(Problem::new(
                format!("{field}.component"),
                "must name a component file",
            ));
        }
        let mut granted = BTreeSet::new();
        for (index, channel) in vat.io.iter().enumerate() {
            let entry = format!("{field}.io[{index}]");
            if !raw.io.contains_key(channel) {
                problems.push(Problem::new(
                    entry,
                    format!(
                        "channel `{channel}` is not declared under `io` (declared: {})",
                        names(raw.io.keys())
                    ),
                ));
            } else if !granted.insert(channel.as_str()) {
                problems.push(Problem::new(
                    entry,
                    format!("channel `{channel}` is listed twice"),
                ));
            }
        }
        // The bootstrap vat holds every channel of its subcluster; any other
        // vat exactly those its own `io` list names.
        let channels = if *vat_name == bootstrap {
            raw.io.keys().cloned().collect()
        } else {
            vat.io.clone()
        };
        let parameters = vat
            .parameters
            .as_ref()
            .map(serde_json::Value::to_string)
            .unwrap_or_else(|| "null".to_owned());
        let limits = vat_limits(vat.limits.as_ref(), &field, &mut problems);
        let restart = restart_policy(vat, &field, &mut problems);
        vats.push(VatSpec {
            name: vat_name.clone(),
            component: base.join(component),
            parameters,
            channels,
            limits,
            restart,
        });
    }

    if problems.is_empty() {
        Ok(SubclusterSpec {
            name: name.to_owned(),
            source: None,
            text: String::new(),
            base: base.to_path_buf(),
            bootstrap,
            vats,
            channels,
        })
    } else {
        Err(ConfigError::Invalid {
            file: None,
            problems,
        })
    }
}

fn restart_policy(vat: &RawVat, field: &str, problems: &mut Vec<Problem>) -> RestartPolicy {
    match vat.restart.as_deref() {
        None | Some("never") => {
            for (name, set) in [
                ("max-restarts", vat.max_restarts.is_some()),
                ("restart-window-ms", vat.restart_window_ms.is_some()),
                ("restart-backoff-ms", vat.restart_backoff_ms.is_some()),
            ] {
                if set {
                    problems.push(Problem::new(
                        format!("{field}.{name}"),
                        "only applies with `\"restart\": \"on-failure\"`",
                    ));
                }
            }
            RestartPolicy::Never
        }
        Some("on-failure") => {
            if vat.restart_window_ms == Some(0) {
                problems.push(Problem::new(
                    format!("{field}.restart-window-ms"),
                    "a restart window must be at least 1 ms",
                ));
            }
            RestartPolicy::OnFailure {
                max: vat.max_restarts.unwrap_or(DEFAULT_MAX_RESTARTS),
                window: vat
                    .restart_window_ms
                    .map_or(DEFAULT_RESTART_WINDOW, std::time::Duration::from_millis),
                backoff: vat
                    .restart_backoff_ms
                    .map_or(DEFAULT_RESTART_BACKOFF, std::time::Duration::from_millis),
            }
        }
        Some(other) => {
            problems.push(Problem::new(
                format!("{field}.restart"),
                format!("unknown restart policy `{other}`: `never` or `on-failure`"),
            ));
            RestartPolicy::Never
        }
    }
}

fn vat_limits(raw: Option<&RawLimits>, field: &str, problems: &mut Vec<Problem>) -> VatLimits {
    let mut limits = VatLimits::default();
    let Some(raw) = raw else { return limits };
    let limit = |name: &str| format!("{field}.limits.{name}");
    limits.memory = Bounds::bytes(MIN_VAT_MEMORY..=MAX_VAT_MEMORY, "64KiB to 4GiB").setting(
        raw.memory.map(|memory| memory.0),
        limits.memory,
        limit("memory"),
        problems,
    );
    if let Some(elements) = raw.table_elements {
        limits.table_elements = elements;
    }
    limits.handles = Bounds::count(MIN_VAT_HANDLES..=MAX_VAT_HANDLES).setting(
        raw.handles,
        limits.handles,
        limit("handles"),
        problems,
    );
    match raw.cpu_ms {
        Some(0) => problems.push(Problem::new(
            format!("{field}.limits.cpu-ms"),
            "a CPU budget must be at least 1 ms",
        )),
        Some(ms) => limits.cpu = Some(std::time::Duration::from_millis(ms)),
        None => {}
    }
    limits.inbox =
        Bounds::count(1..=MAX_VAT_INBOX).setting(raw.inbox, limits.inbox, limit("inbox"), problems);
    let message = Bounds::bytes(MIN_VAT_MESSAGE..=MAX_VAT_MESSAGE, "1KiB to 64MiB").setting(
        raw.message.map(|message| message.0),
        u64::from(limits.message),
        limit("message"),
        problems,
    );
    limits.message = u32::try_from(message).unwrap_or(u32::MAX);
    match raw.store {
        Some(store) if store.0 <= MAX_VAT_STORE => limits.store = store.0,
        Some(store) => problems.push(Problem::new(
            format!("{field}.limits.store"),
            format!("{} bytes is more than 1TiB", store.0),
        )),
        None => {}
    }
    limits
}

fn channel_spec(
    name: &str,
    raw: &RawChannel,
    field: &str,
    base: &Path,
    problems: &mut Vec<Problem>,
) -> Option<ChannelSpec> {
    let before = problems.len();
    let Some(kind) = raw.kind.as_deref() else {
        problems.push(Problem::new(
            format!("{field}.type"),
            "missing: one of `socket`, `listen`, `connect`, `console`, `file`, `nats`",
        ));
        return None;
    };
    if !is_simple_name(name) {
        problems.push(Problem::new(
            field,
            "a channel name must be 1 to 64 of the characters A-Z a-z 0-9 _ - .",
        ));
    }
    let direction = match raw.direction.as_deref() {
        None | Some("inout") => Direction::InOut,
        Some("in") => Direction::In,
        Some("out") => Direction::Out,
        Some(other) => {
            problems.push(Problem::new(
                format!("{field}.direction"),
                format!("unknown direction `{other}`; expected `in`, `out` or `inout`"),
            ));
            Direction::InOut
        }
    };
    let unit = match raw.unit.as_deref() {
        None | Some("line") => Unit::Line,
        Some("bytes") if kind == "console" => {
            problems.push(Problem::new(
                format!("{field}.unit"),
                "the console carries lines only",
            ));
            Unit::Line
        }
        Some("bytes") => Unit::Bytes,
        Some(other) => {
            problems.push(Problem::new(
                format!("{field}.unit"),
                format!("unsupported unit `{other}`; supported: `line`, `bytes`"),
            ));
            Unit::Line
        }
    };
    let only_for = |key: &str, present: bool, kind: &str, problems: &mut Vec<Problem>| {
        if present && raw.kind.as_deref() != Some(kind) {
            problems.push(Problem::new(
                format!("{field}.{key}"),
                format!("`{key}` applies to `{kind}` channels only"),
            ));
        }
    };
    only_for("max-clients", raw.max_clients.is_some(), "listen", problems);
    only_for(
        "retry-attempts",
        raw.retry_attempts.is_some(),
        "connect",
        problems,
    );
    only_for(
        "retry-delay-ms",
        raw.retry_delay_ms.is_some(),
        "connect",
        problems,
    );
    for (key, present) in [
        ("url", raw.url.is_some()),
        ("credentials", raw.credentials.is_some()),
        ("token-file", raw.token_file.is_some()),
        ("subject", raw.subject.is_some()),
        ("queue-group", raw.queue_group.is_some()),
        ("stream", raw.stream.is_some()),
        ("durable", raw.durable.is_some()),
        ("ack-wait-ms", raw.ack_wait_ms.is_some()),
        ("write-timeout-ms", raw.write_timeout_ms.is_some()),
        ("max-pending", raw.max_pending.is_some()),
    ] {
        only_for(key, present, "nats", problems);
    }
    if raw.mode.is_some() && !matches!(kind, "socket" | "listen") {
        problems.push(Problem::new(
            format!("{field}.mode"),
            "`mode` applies to the sockets the host creates (`socket`, `listen`)",
        ));
    }
    let max_line = Bounds::bytes(1..=MAX_MAX_LINE, "1 byte to 16MiB").setting(
        raw.max_line.map(|bytes| bytes.0),
        u64::from(DEFAULT_MAX_LINE),
        format!("{field}.max-line"),
        problems,
    );
    let max_line = u32::try_from(max_line).unwrap_or(DEFAULT_MAX_LINE);
    let queue = Bounds::of(1..=MAX_QUEUE_LINES, " lines").setting(
        raw.queue,
        DEFAULT_QUEUE_LINES,
        format!("{field}.queue"),
        problems,
    );
    let kind = match kind {
        "socket" => socket_spec(raw, field, base, problems).map(ChannelKind::Socket),
        "listen" => listen_spec(raw, field, base, problems).map(ChannelKind::Listen),
        "connect" => connect_spec(raw, field, base, problems).map(ChannelKind::Connect),
        "file" => file_spec(raw, direction, field, base, problems).map(ChannelKind::File),
        "nats" => nats_spec(raw, direction, field, base, problems).map(ChannelKind::Nats),
        "console" => {
            if raw.path.is_some() {
                problems.push(Problem::new(
                    format!("{field}.path"),
                    "the console is the host's stdin and stdout; it has no path",
                ));
            }
            Some(ChannelKind::Console)
        }
        other => {
            problems.push(Problem::new(
                format!("{field}.type"),
                format!(
                    "unsupported channel type `{other}`; supported: `socket`, `listen`, `connect`, `console`, `file`, `nats`"
                ),
            ));
            None
        }
    };
    let kind = kind?;
    (problems.len() == before).then(|| ChannelSpec {
        name: name.to_owned(),
        direction,
        unit,
        max_line,
        queue,
        kind,
    })
}

fn listen_spec(
    raw: &RawChannel,
    field: &str,
    base: &Path,
    problems: &mut Vec<Problem>,
) -> Option<ListenSpec> {
    let max_clients = Bounds::count(1..=MAX_MAX_CLIENTS).setting(
        raw.max_clients,
        DEFAULT_MAX_CLIENTS,
        format!("{field}.max-clients"),
        problems,
    );
    let socket = socket_spec(raw, field, base, problems)?;
    Some(ListenSpec {
        socket,
        max_clients,
    })
}

fn connect_spec(
    raw: &RawChannel,
    field: &str,
    base: &Path,
    problems: &mut Vec<Problem>,
) -> Option<ConnectSpec> {
    let path = socket_path(raw, field, base, problems)?;
    let attempts = Bounds::count(1..=MAX_RETRY_ATTEMPTS).setting(
        raw.retry_attempts,
        DEFAULT_RETRY_ATTEMPTS,
        format!("{field}.retry-attempts"),
        problems,
    );
    let delay = raw.retry_delay_ms.unwrap_or(DEFAULT_RETRY_DELAY_MS);
    if delay > MAX_RETRY_DELAY_MS {
        problems.push(Problem::new(
            format!("{field}.retry-delay-ms"),
            format!("{delay} ms is more than {MAX_RETRY_DELAY_MS}"),
        ));
        return None;
    }
    Some(ConnectSpec {
        path,
        attempts,
        delay: std::time::Duration::from_millis(delay),
    })
}

fn file_spec(
    raw: &RawChannel,
    direction: Direction,
    field: &str,
    base: &Path,
    problems: &mut Vec<Problem>,
) -> Option<FileSpec> {
    if direction == Direction::InOut {
        problems.push(Problem::new(
            format!("{field}.direction"),
            "a file channel is `in` (read the file) or `out` (append to it); set one",
        ));
        return None;
    }
    let Some(path) = raw.path.as_deref().filter(|path| !path.is_empty()) else {
        problems.push(Problem::new(
            format!("{field}.path"),
            "a file channel needs a `path`",
        ));
        return None;
    };
    let path = normalize(&base.join(path));
    if path.file_name().is_none() {
        problems.push(Problem::new(
            format!("{field}.path"),
            format!("{} does not name a file", path.display()),
        ));
        return None;
    }
    Some(FileSpec { path })
}

fn nats_spec(
    raw: &RawChannel,
    direction: Direction,
    field: &str,
    base: &Path,
    problems: &mut Vec<Problem>,
) -> Option<NatsSpec> {
    let before = problems.len();
    if raw.path.is_some() {
        problems.push(Problem::new(
            format!("{field}.path"),
            "a nats channel has a `url` and a `subject`, not a `path`",
        ));
    }
    let url = raw
        .url
        .clone()
        .unwrap_or_else(|| DEFAULT_NATS_URL.to_owned());
    if let Err(why) = nats_url(&url) {
        problems.push(Problem::new(format!("{field}.url"), why));
    }
    let file = |key: &str, path: Option<&String>, problems: &mut Vec<Problem>| {
        let path = path?;
        if path.is_empty() {
            problems.push(Problem::new(format!("{field}.{key}"), "empty path"));
            return None;
        }
        Some(normalize(&base.join(path)))
    };
    let credentials = file("credentials", raw.credentials.as_ref(), problems);
    let token = file("token-file", raw.token_file.as_ref(), problems);
    let auth = match (credentials, token) {
        (Some(_), Some(_)) => {
            problems.push(Problem::new(
                format!("{field}.token-file"),
                "give `credentials` or `token-file`, not both",
            ));
            NatsAuth::None
        }
        (Some(creds), None) => NatsAuth::CredsFile(creds),
        (None, Some(token)) => NatsAuth::TokenFile(token),
        (None, None) => NatsAuth::None,
    };
    let subject = raw.subject.clone().unwrap_or_default();
    let wildcards = direction != Direction::Out;
    if raw.subject.is_none() {
        problems.push(Problem::new(
            format!("{field}.subject"),
            "a nats channel needs a `subject`",
        ));
    } else if let Err(why) = nats_subject(&subject, wildcards) {
        problems.push(Problem::new(format!("{field}.subject"), why));
    }
    if let Some(group) = &raw.queue_group {
        if direction == Direction::Out {
            problems.push(Problem::new(
                format!("{field}.queue-group"),
                "a queue group shares what is read; an `out` channel reads nothing",
            ));
        } else if raw.stream.is_some() {
            problems.push(Problem::new(
                format!("{field}.queue-group"),
                "a durable consumer is already shared by every host that names it; drop `queue-group`",
            ));
        } else if group.is_empty() || group.chars().any(char::is_whitespace) {
            problems.push(Problem::new(
                format!("{field}.queue-group"),
                format!("`{group}` is not a queue group name (non-empty, no spaces)"),
            ));
        }
    }
    let jetstream = jetstream_spec(raw, direction, field, problems);
    let write_timeout = Bounds::of(1..=MAX_NATS_WAIT_MS, " ms").setting(
        raw.write_timeout_ms,
        DEFAULT_NATS_WRITE_TIMEOUT_MS,
        format!("{field}.write-timeout-ms"),
        problems,
    );
    let max_pending = match raw.max_pending {
        None => DEFAULT_NATS_MAX_PENDING,
        Some(_) if direction == Direction::Out => {
            problems.push(Problem::new(
                format!("{field}.max-pending"),
                "an `out` channel receives nothing to keep",
            ));
            DEFAULT_NATS_MAX_PENDING
        }
        Some(bytes) => Bounds::bytes(1..=MAX_NATS_MAX_PENDING, "1 byte to 1GiB").setting(
            Some(bytes.0),
            DEFAULT_NATS_MAX_PENDING,
            format!("{field}.max-pending"),
            problems,
        ),
    };
    (problems.len() == before).then(|| NatsSpec {
        url,
        auth,
        subject,
        queue_group: raw.queue_group.clone(),
        jetstream,
        write_timeout: std::time::Duration::from_millis(write_timeout),
        max_pending,
    })
}

fn jetstream_spec(
    raw: &RawChannel,
    direction: Direction,
    field: &str,
    problems: &mut Vec<Problem>,
) -> Option<JetStreamSpec> {
    // The settings of a durable consumer.
    let consumer_keys = [
        ("durable", raw.durable.is_some()),
        ("ack-wait-ms", raw.ack_wait_ms.is_some()),
    ];
    let refuse = |why: &str, problems: &mut Vec<Problem>| {
        for (key, _) in consumer_keys.iter().filter(|(_, present)| *present) {
            problems.push(Problem::new(
                format!("{field}.{key}"),
                format!("`{key}` applies to {why}"),
            ));
        }
    };
    let Some(stream) = &raw.stream else {
        refuse("JetStream channels only: set `stream` too", problems);
        return None;
    };
    if !is_jetstream_name(stream) {
        problems.push(Problem::new(
            format!("{field}.stream"),
            format!("`{stream}` is not a stream name (letters, digits, `-` and `_`)"),
        ));
    }
    match direction {
        Direction::InOut => problems.push(Problem::new(
            format!("{field}.stream"),
            "a JetStream channel is `in` (a durable consumer) or `out` (acknowledged publishes); set `direction`",
        )),
        Direction::In => match &raw.durable {
            None => problems.push(Problem::new(
                format!("{field}.durable"),
                "an `in` channel on a stream needs a `durable` consumer name",
            )),
            Some(durable) if !is_jetstream_name(durable) => problems.push(Problem::new(
                format!("{field}.durable"),
                format!("`{durable}` is not a consumer name (letters, digits, `-` and `_`)"),
            )),
            Some(_) => {}
        },
        Direction::Out => refuse("`in` channels only", problems),
    }
    let ack_wait = Bounds::of(100..=MAX_NATS_WAIT_MS, " ms").setting(
        raw.ack_wait_ms,
        DEFAULT_ACK_WAIT_MS,
        format!("{field}.ack-wait-ms"),
        problems,
    );
    Some(JetStreamSpec {
        stream: stream.clone(),
        durable: raw.durable.clone(),
        ack_wait: std::time::Duration::from_millis(ack_wait),
    })
}

/// The range a numeric setting must fall in, and how an error puts it.
struct Bounds<T> {
    range: RangeInclusive<T>,
    /// Follows the value in an error: " ms", " lines", " bytes", or nothing.
    unit: &'static str,
    /// The range as the user reads it: "1 to 65536", "1 byte to 16MiB".
    words: String,
}

impl<T: PartialOrd + Display + Copy> Bounds<T> {
    fn of(range: RangeInclusive<T>, unit: &'static str) -> Self {
        let words = format!("{} to {}", range.start(), range.end());
        Self { range, unit, words }
    }

    /// A plain count: "{n} is outside 1 to N".
    fn count(range: RangeInclusive<T>) -> Self {
        Self::of(range, "")
    }

    /// A size, its range in the units a config writes sizes in.
    fn bytes(range: RangeInclusive<T>, words: &str) -> Self {
        Self {
            range,
            unit: " bytes",
            words: words.to_owned(),
        }
    }

    /// The configured `value`, or `default` when it is absent. Out of
    /// range, it is a problem naming `field`, and `default` stands in so
    /// that the other checks go on and every problem is reported at once.
    fn setting(
        &self,
        value: Option<T>,
        default: T,
        field: String,
        problems: &mut Vec<Problem>,
    ) -> T {
        match value {
            None => default,
            Some(value) if self.range.contains(&value) => value,
            Some(value) => {
                problems.push(Problem::new(
                    field,
                    format!("{value}{} is outside {}", self.unit, self.words),
                ));
                default
            }
        }
    }
}

/// Why `url` is not one NATS server address, if it is not.
fn nats_url(url: &str) -> Result<(), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("`{url}` is not a URL like nats://127.0.0.1:4222"))?;
    if !matches!(scheme, "nats" | "tls") {
        return Err(format!(
            "`{url}`: the scheme is `nats` or `tls`, not `{scheme}`"
        ));
    }
    if rest.is_empty() || rest.contains(',') || rest.contains('/') {
        return Err(format!(
            "`{url}` is not one server address like nats://127.0.0.1:4222"
        ));
    }
    url.parse::<async_nats::ServerAddr>()
        .map(drop)
        .map_err(|error| format!("`{url}` is not a NATS server address: {error}"))
}

/// Why `subject` is not a NATS subject, if it is not: dot-separated
/// non-empty tokens without spaces; `*` (one token) and `>` (the rest,
/// last) only where `wildcards` are allowed.
fn nats_subject(subject: &str, wildcards: bool) -> Result<(), String> {
    let tokens: Vec<&str> = subject.split('.').collect();
    for (index, token) in tokens.iter().enumerate() {
        if token.is_empty() || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "`{subject}` is not a subject: tokens separated by `.`, each non-empty, without spaces"
            ));
        }
        let wildcard = *token == "*" || *token == ">";
        if wildcard && !wildcards {
            return Err(format!(
                "`{subject}`: an `out` channel publishes to one subject; wildcards are for reading"
            ));
        }
        if *token == ">" && index + 1 != tokens.len() {
            return Err(format!("`{subject}`: `>` must be the last token"));
        }
    }
    Ok(())
}

fn is_jetstream_name(name: &str) -> bool {
    (1..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
}

fn socket_spec(
    raw: &RawChannel,
    field: &str,
    base: &Path,
    problems: &mut Vec<Problem>,
) -> Option<SocketSpec> {
    let path = socket_path(raw, field, base, problems)?;
    let mode = match raw.mode.as_deref() {
        None => DEFAULT_SOCKET_MODE,
        Some(text) => match u32::from_str_radix(text.trim_start_matches("0o"), 8) {
            Ok(mode) if mode <= 0o777 => mode,
            _ => {
                problems.push(Problem::new(
                    format!("{field}.mode"),
                    format!("`{text}` is not an octal file mode such as \"0600\""),
                ));
                return None;
            }
        },
    };
    Some(SocketSpec { path, mode })
}

/// A socket path, resolved against the config's directory and within the
/// OS limit.
fn socket_path(
    raw: &RawChannel,
    field: &str,
    base: &Path,
    problems: &mut Vec<Problem>,
) -> Option<PathBuf> {
    let Some(path) = raw.path.as_deref().filter(|path| !path.is_empty()) else {
        problems.push(Problem::new(
            format!("{field}.path"),
            format!(
                "a {} channel needs a `path`",
                raw.kind.as_deref().unwrap_or("")
            ),
        ));
        return None;
    };
    let path = normalize(&base.join(path));
    let length = path.as_os_str().len();
    if length > MAX_SOCKET_PATH {
        problems.push(Problem::new(
            format!("{field}.path"),
            format!(
                "{} is {length} bytes; Unix socket paths are limited to {MAX_SOCKET_PATH}",
                path.display()
            ),
        ));
        return None;
    }
    if path.file_name().is_none() {
        problems.push(Problem::new(
            format!("{field}.path"),
            format!("{} does not name a file", path.display()),
        ));
        return None;
    }
    Some(path)
}

/// Resolves `.` and `..` lexically, so that two spellings of one path compare
/// equal when duplicates are checked.
fn normalize(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    normal
}

fn is_simple_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn names<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let listed: Vec<String> = names.map(|name| format!("`{name}`")).collect();
    if listed.is_empty() {
        "none".to_owned()
    } else {
        listed.join(", ")
    }
}
