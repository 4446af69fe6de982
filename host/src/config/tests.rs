use std::path::Path;

use serde_json::json;

use super::*;
use crate::io::NatsAuth;

fn parse(config: serde_json::Value) -> Result<SubclusterSpec, ConfigError> {
    from_json(&config.to_string(), "test", Path::new("/base"))
}

fn problems(config: serde_json::Value) -> Vec<Problem> {
    parse(config)
        .expect_err("config should be rejected")
        .problems()
}

/// Asserts that the config is rejected with a problem at `field` whose
/// message contains `message`.
fn assert_rejects(config: serde_json::Value, field: &str, message: &str) {
    let problems = problems(config);
    assert!(
        problems
            .iter()
            .any(|problem| problem.field == field && problem.message.contains(message)),
        "expected `{field}`: ...{message}... in {problems:#?}"
    );
}

fn minimal() -> serde_json::Value {
    json!({
        "bootstrap": "main",
        "vats": { "main": { "component": "main.wasm" } },
        "io": { "repl": { "type": "socket", "path": "/tmp/r.sock" } },
    })
}

#[test]
fn applies_defaults_and_resolves_paths_against_the_config_directory() {
    let spec = parse(json!({
        "bootstrap": "main",
        "vats": { "main": { "component": "vats/main.wasm" } },
        "io": { "repl": { "type": "socket", "path": "run/./x/../r.sock" } },
    }))
    .expect("valid");
    assert_eq!(spec.vats[0].component, Path::new("/base/vats/main.wasm"));
    assert_eq!(spec.vats[0].parameters, "null");
    let channel = &spec.channels[0];
    assert_eq!(channel.direction, Direction::InOut);
    assert_eq!(channel.unit, Unit::Line);
    assert_eq!(channel.max_line, DEFAULT_MAX_LINE);
    assert_eq!(channel.queue, DEFAULT_QUEUE_LINES);
    let ChannelKind::Socket(socket) = &channel.kind else {
        panic!("a socket channel: {:?}", channel.kind)
    };
    assert_eq!(socket.path, Path::new("/base/run/r.sock"));
    assert_eq!(socket.mode, 0o600);
}

#[test]
fn bootstrap_holds_every_channel_and_other_vats_only_their_own() {
    let spec = parse(json!({
        "bootstrap": "main",
        "vats": {
            "main": { "component": "a.wasm", "parameters": { "greeting": "hi" } },
            "aux": { "component": "b.wasm", "io": ["out"] },
            "idle": { "component": "c.wasm" },
        },
        "io": {
            "repl": { "type": "socket", "path": "/tmp/a.sock" },
            "out": { "type": "socket", "path": "/tmp/b.sock", "direction": "out" },
        },
    }))
    .expect("valid");
    let granted = |name: &str| {
        spec.vats
            .iter()
            .find(|vat| vat.name == name)
            .map(|vat| vat.channels.clone())
            .expect("vat exists")
    };
    assert_eq!(granted("main"), vec!["out", "repl"]);
    assert_eq!(granted("aux"), vec!["out"]);
    assert!(granted("idle").is_empty());
    let main = spec
        .vats
        .iter()
        .find(|vat| vat.name == "main")
        .expect("main");
    assert_eq!(main.parameters, r#"{"greeting":"hi"}"#);
}

#[test]
fn accepts_explicit_mode_max_line_and_queue() {
    let spec = parse(json!({
        "bootstrap": "main",
        "vats": { "main": { "component": "main.wasm" } },
        "io": { "repl": {
            "type": "socket", "path": "/tmp/r.sock", "mode": "0660",
            "max-line": "1KiB", "queue": 8, "direction": "in", "unit": "line",
        } },
    }))
    .expect("valid");
    let channel = &spec.channels[0];
    let ChannelKind::Socket(socket) = &channel.kind else {
        panic!("a socket channel: {:?}", channel.kind)
    };
    assert_eq!(socket.mode, 0o660);
    assert_eq!(channel.max_line, 1024);
    assert_eq!(channel.queue, 8);
    assert_eq!(channel.direction, Direction::In);
}

#[test]
fn rejects_unknown_fields_at_every_level() {
    let mut config = minimal();
    config["extra"] = json!(1);
    assert_rejects(config, "extra", "unknown field `extra`");
    let mut config = minimal();
    config["io"]["repl"]["colour"] = json!("red");
    assert_rejects(config, "io.repl.colour", "unknown field `colour`");
}

#[test]
fn rejects_malformed_json_and_wrong_types() {
    let error = from_json("{ \"bootstrap\": ", "t", Path::new("/")).expect_err("malformed");
    assert!(error.to_string().contains("EOF"), "{error}");
    let mut config = minimal();
    config["vats"]["main"]["io"] = json!("repl");
    assert_rejects(config, "vats.main.io", "expected a sequence");
}

#[test]
fn rejects_a_bootstrap_that_is_not_a_vat() {
    let mut config = minimal();
    config["bootstrap"] = json!("ghost");
    assert_rejects(
        config,
        "bootstrap",
        "`ghost` is not a vat of this config (vats: `main`)",
    );
}

#[test]
fn rejects_an_undeclared_or_repeated_io_entry() {
    let mut config = minimal();
    config["vats"]["aux"] = json!({ "component": "b.wasm", "io": ["repl", "nope", "repl"] });
    let problems = problems(config);
    assert!(problems.iter().any(|p| {
        p.field == "vats.aux.io[1]"
            && p.message
                .contains("`nope` is not declared under `io` (declared: `repl`)")
    }));
    assert!(
        problems
            .iter()
            .any(|p| p.field == "vats.aux.io[2]" && p.message.contains("listed twice"))
    );
}

#[test]
fn rejects_unsupported_type_unit_and_direction() {
    let mut config = minimal();
    config["io"]["repl"]["type"] = json!("carrier-pigeon");
    assert_rejects(
        config,
        "io.repl.type",
        "unsupported channel type `carrier-pigeon`",
    );
    let mut config = minimal();
    config["io"]["repl"]["unit"] = json!("words");
    assert_rejects(config, "io.repl.unit", "unsupported unit `words`");
    let mut config = minimal();
    config["io"]["repl"]["direction"] = json!("up");
    assert_rejects(config, "io.repl.direction", "unknown direction `up`");
}

#[test]
fn rejects_socket_paths_over_the_os_limit_and_accepts_the_limit() {
    let at_limit = format!("/{}", "s".repeat(MAX_SOCKET_PATH - 1));
    let mut config = minimal();
    config["io"]["repl"]["path"] = json!(at_limit);
    parse(config).expect("a path of exactly the limit fits");
    let mut config = minimal();
    config["io"]["repl"]["path"] = json!(format!("{at_limit}s"));
    assert_rejects(
        config,
        "io.repl.path",
        "Unix socket paths are limited to 107",
    );
}

#[test]
fn rejects_a_missing_socket_path() {
    let mut config = minimal();
    config["io"]["repl"] = json!({ "type": "socket" });
    assert_rejects(config, "io.repl.path", "needs a `path`");
}

#[test]
fn rejects_duplicate_socket_paths_however_spelled() {
    let mut config = minimal();
    config["io"]["other"] = json!({ "type": "socket", "path": "/tmp/x/../r.sock" });
    assert_rejects(
        config,
        "io.repl.path",
        "already the path of channel `other`",
    );
}

#[test]
fn rejects_bad_mode_max_line_queue_and_services() {
    let mut config = minimal();
    config["io"]["repl"]["mode"] = json!("rw-------");
    assert_rejects(config, "io.repl.mode", "not an octal file mode");
    let mut config = minimal();
    config["io"]["repl"]["max-line"] = json!(0);
    assert_rejects(config, "io.repl.max-line", "outside 1 byte to 16MiB");
    let mut config = minimal();
    config["io"]["repl"]["max-line"] = json!("lots");
    assert_rejects(config, "io.repl.max-line", "not a byte count");
    let mut config = minimal();
    config["io"]["repl"]["queue"] = json!(0);
    assert_rejects(config, "io.repl.queue", "outside 1 to 65536");
    let mut config = minimal();
    config["services"] = json!(["timer"]);
    assert_rejects(config, "services[0]", "unknown service `timer`");
}

#[test]
fn rejects_odd_names_and_an_empty_cluster() {
    let mut config = minimal();
    config["vats"]["bad name"] = json!({ "component": "x.wasm" });
    assert_rejects(config, "vats.bad name", "a vat name must be");
    assert_rejects(
        json!({ "bootstrap": "main", "vats": {} }),
        "vats",
        "at least one vat",
    );
}

#[test]
fn reports_every_problem_at_once() {
    let config = json!({
        "bootstrap": "ghost",
        "vats": { "main": { "component": "m.wasm", "io": ["nope"] } },
        "io": { "repl": { "type": "socket", "path": "/tmp/r.sock", "unit": "words" } },
    });
    let fields: Vec<String> = problems(config).into_iter().map(|p| p.field).collect();
    assert_eq!(fields, vec!["bootstrap", "io.repl.unit", "vats.main.io[0]"]);
}

#[test]
fn load_names_the_file_in_its_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.json");
    std::fs::write(&path, r#"{ "bootstrap": "x", "vats": {} }"#).expect("write");
    let message = load(&path).expect_err("invalid").to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    let missing = load(&dir.path().join("missing.json")).expect_err("missing");
    assert!(matches!(missing, ConfigError::Read { .. }));
}

#[test]
fn vat_limits_default_and_parse() {
    let spec = parse(minimal()).expect("valid");
    assert_eq!(spec.vats[0].limits, VatLimits::default());
    let mut config = minimal();
    config["vats"]["main"]["limits"] =
        json!({ "memory": "8MiB", "cpu-ms": 250, "table-elements": 100 });
    let limits = parse(config).expect("valid").vats[0].limits;
    assert_eq!(limits.memory, 8 * 1024 * 1024);
    assert_eq!(limits.table_elements, 100);
    assert_eq!(limits.cpu, Some(std::time::Duration::from_millis(250)));
}

#[test]
fn rejects_bad_vat_limits() {
    let mut config = minimal();
    config["vats"]["main"]["limits"] = json!({ "memory": "1KiB" });
    assert_rejects(config, "vats.main.limits.memory", "outside 64KiB to 4GiB");
    let mut config = minimal();
    config["vats"]["main"]["limits"] = json!({ "cpu-ms": 0 });
    assert_rejects(config, "vats.main.limits.cpu-ms", "at least 1 ms");
    let mut config = minimal();
    config["vats"]["main"]["limits"] = json!({ "fuel": 10 });
    assert_rejects(config, "vats.main.limits.fuel", "unknown field `fuel`");
}

#[test]
fn accepts_every_channel_kind_with_its_own_fields() {
    let spec = parse(json!({
        "bootstrap": "main",
        "vats": { "main": { "component": "m.wasm" } },
        "io": {
            "many": { "type": "listen", "path": "l.sock", "max-clients": 50, "unit": "bytes" },
            "peer": { "type": "connect", "path": "/tmp/peer.sock", "retry-attempts": 3, "retry-delay-ms": 10 },
            "term": { "type": "console" },
            "input": { "type": "file", "path": "in.txt", "direction": "in" },
            "output": { "type": "file", "path": "out.txt", "direction": "out", "unit": "bytes" },
        },
    }))
    .expect("valid");
    let kind = |name: &str| {
        spec.channels
            .iter()
            .find(|channel| channel.name == name)
            .map(|channel| channel.kind.clone())
            .expect("channel")
    };
    assert!(
        matches!(kind("many"), ChannelKind::Listen(listen) if listen.max_clients == 50
        && listen.socket.path == Path::new("/base/l.sock"))
    );
    assert!(
        matches!(kind("peer"), ChannelKind::Connect(connect) if connect.attempts == 3
        && connect.delay == std::time::Duration::from_millis(10))
    );
    assert!(matches!(kind("term"), ChannelKind::Console));
    assert!(
        matches!(kind("input"), ChannelKind::File(file) if file.path == Path::new("/base/in.txt"))
    );
    assert!(spec.console_channel().is_some());
}

#[test]
fn rejects_fields_that_do_not_belong_to_a_kind() {
    let mut config = minimal();
    config["io"]["repl"]["max-clients"] = json!(3);
    assert_rejects(
        config,
        "io.repl.max-clients",
        "applies to `listen` channels only",
    );
    let mut config = minimal();
    config["io"]["repl"]["retry-attempts"] = json!(3);
    assert_rejects(
        config,
        "io.repl.retry-attempts",
        "applies to `connect` channels only",
    );
    let mut config = minimal();
    config["io"]["repl"] =
        json!({ "type": "file", "path": "/tmp/f", "direction": "out", "mode": "0644" });
    assert_rejects(
        config,
        "io.repl.mode",
        "applies to the sockets the host creates",
    );
}

#[test]
fn rejects_bad_file_console_and_listen_channels() {
    let mut config = minimal();
    config["io"]["repl"] = json!({ "type": "file", "path": "/tmp/f" });
    assert_rejects(config, "io.repl.direction", "a file channel is `in`");
    let mut config = minimal();
    config["io"]["repl"] = json!({ "type": "console", "path": "/dev/tty" });
    assert_rejects(config, "io.repl.path", "it has no path");
    let mut config = minimal();
    config["io"]["repl"] = json!({ "type": "console", "unit": "bytes" });
    assert_rejects(config, "io.repl.unit", "the console carries lines only");
    let mut config = minimal();
    config["io"]["other"] = json!({ "type": "console" });
    config["io"]["repl"] = json!({ "type": "console" });
    assert_rejects(config, "io.repl.type", "there is one console");
    let mut config = minimal();
    config["io"]["repl"] = json!({ "type": "listen", "path": "/tmp/l.sock", "max-clients": 0 });
    assert_rejects(config, "io.repl.max-clients", "outside 1 to 10000");
    let mut config = minimal();
    config["io"]["repl"] = json!({ "type": "connect" });
    assert_rejects(config, "io.repl.path", "a connect channel needs a `path`");
}

#[test]
fn reports_every_parse_problem_at_once_with_the_nearest_known_field() {
    let config = json!({
        "bootstrap": "main",
        "vats": { "main": {
            "component": 7,
            "limits": { "memry": "16MiB", "cpu-ms": "soon" },
        } },
        "io": {
            "repl": { "type": "socket", "path": "/tmp/r.sock", "directon": "in" },
            "other": { "type": "socket", "path": "/tmp/o.sock", "queue": -1 },
        },
        "servics": [],
    });
    let problems = problems(config);
    let found = |field: &str, message: &str| {
        problems
            .iter()
            .any(|problem| problem.field == field && problem.message.contains(message))
    };
    assert!(
        found("servics", "did you mean `services`?"),
        "{problems:#?}"
    );
    assert!(
        found("io.repl.directon", "did you mean `direction`?"),
        "{problems:#?}"
    );
    assert!(
        found("vats.main.limits.memry", "did you mean `memory`?"),
        "{problems:#?}"
    );
    assert!(
        found("vats.main.component", "invalid type"),
        "{problems:#?}"
    );
    assert!(
        found("vats.main.limits.cpu-ms", "invalid type"),
        "{problems:#?}"
    );
    assert!(found("io.other.queue", "invalid value"), "{problems:#?}");
    // One problem per field: a malformed value is not also called missing.
    assert_eq!(problems.len(), 6, "{problems:#?}");
}

#[test]
fn an_unknown_field_far_from_any_known_one_lists_them_all() {
    let mut config = minimal();
    config["io"]["repl"]["zzzzzzzz"] = json!(1);
    assert_rejects(config, "io.repl.zzzzzzzz", "expected one of `type`, `path`");
}

#[test]
fn required_fields_are_reported_with_the_rest() {
    let config = json!({
        "vats": { "main": {} },
        "io": { "repl": { "path": "/tmp/r.sock" } },
    });
    let fields: Vec<String> = problems(config).into_iter().map(|p| p.field).collect();
    assert_eq!(
        fields,
        vec!["bootstrap", "io.repl.type", "vats.main.component"]
    );
}

#[test]
fn preflight_names_every_path_that_cannot_serve() {
    let dir = tempfile::tempdir().expect("tempdir");
    let component = dir.path().join("vat.wasm");
    std::fs::write(&component, b"not checked here").expect("write");
    let config = json!({
        "bootstrap": "main",
        "vats": {
            "main": { "component": component },
            "ghost": { "component": dir.path().join("ghost.wasm") },
        },
        "io": {
            "sock": { "type": "socket", "path": dir.path().join("no-dir/s.sock") },
            "ear": { "type": "listen", "path": dir.path().join("vat.wasm/l.sock") },
            "input": { "type": "file", "direction": "in", "path": dir.path().join("absent.txt") },
            "output": { "type": "file", "direction": "out", "path": dir.path() },
            "fine": { "type": "file", "direction": "out", "path": dir.path().join("new.txt") },
        },
    });
    let spec = from_json(&config.to_string(), "t", dir.path()).expect("valid as written");
    let problems = preflight(&spec).expect_err("paths at fault").problems();
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        vec![
            "vats.ghost.component",
            "io.ear.path",
            "io.input.path",
            "io.output.path",
            "io.sock.path",
        ],
        "{problems:#?}"
    );
    assert!(
        problems[1].message.contains("is not a directory"),
        "{problems:#?}"
    );
}

#[test]
fn reads_restart_policies_and_message_and_store_limits() {
    let mut config = minimal();
    config["vats"]["main"]["restart"] = json!("on-failure");
    config["vats"]["main"]["max-restarts"] = json!(3);
    config["vats"]["main"]["limits"] = json!({ "inbox": 8, "message": "2KiB", "store": "1MiB" });
    let spec = parse(config).expect("valid");
    let vat = &spec.vats[0];
    assert_eq!(
        vat.restart,
        crate::config::RestartPolicy::OnFailure {
            max: 3,
            window: std::time::Duration::from_secs(60),
            backoff: std::time::Duration::from_millis(100),
        }
    );
    assert_eq!(
        (vat.limits.inbox, vat.limits.message, vat.limits.store),
        (8, 2048, 1024 * 1024)
    );
    assert_eq!(
        parse(minimal()).expect("valid").vats[0].restart,
        crate::config::RestartPolicy::Never
    );
}

#[test]
fn rejects_bad_restart_policies_and_messaging_limits() {
    let mut config = minimal();
    config["vats"]["main"]["restart"] = json!("always");
    assert_rejects(
        config,
        "vats.main.restart",
        "unknown restart policy `always`",
    );
    let mut config = minimal();
    config["vats"]["main"]["max-restarts"] = json!(3);
    assert_rejects(config, "vats.main.max-restarts", "only applies with");
    let mut config = minimal();
    config["vats"]["main"]["limits"] = json!({ "inbox": 0 });
    assert_rejects(config, "vats.main.limits.inbox", "outside 1 to 1000000");
    let mut config = minimal();
    config["vats"]["main"]["limits"] = json!({ "message": 10 });
    assert_rejects(config, "vats.main.limits.message", "outside 1KiB to 64MiB");
}

fn with_channel(channel: serde_json::Value) -> serde_json::Value {
    let mut config = minimal();
    config["io"]["repl"] = channel;
    config
}

#[test]
fn a_nats_channel_takes_its_defaults_and_resolves_its_secrets() {
    let spec = parse(with_channel(json!({
        "type": "nats", "subject": "orders.>", "queue-group": "workers",
        "credentials": "secrets/host.creds"
    })))
    .expect("valid");
    let ChannelKind::Nats(nats) = &spec.channels[0].kind else {
        panic!("a nats channel: {:?}", spec.channels[0].kind);
    };
    assert_eq!(nats.url, "nats://127.0.0.1:4222");
    assert_eq!(nats.subject, "orders.>");
    assert_eq!(nats.queue_group.as_deref(), Some("workers"));
    assert_eq!(
        nats.auth,
        NatsAuth::CredsFile(Path::new("/base/secrets/host.creds").to_owned())
    );
    assert_eq!(nats.jetstream, None);
    assert_eq!(nats.max_pending, 16 * 1024 * 1024);
    assert_eq!(spec.channels[0].kind.path(), None);

    let spec = parse(with_channel(json!({
        "type": "nats", "url": "tls://nats.example.com:4443", "subject": "jobs",
        "direction": "in", "stream": "JOBS", "durable": "workers", "ack-wait-ms": 500,
        "token-file": "/run/token", "max-pending": "1MiB"
    })))
    .expect("valid");
    let ChannelKind::Nats(nats) = &spec.channels[0].kind else {
        panic!("a nats channel");
    };
    let jetstream = nats.jetstream.as_ref().expect("JetStream");
    assert_eq!(jetstream.stream, "JOBS");
    assert_eq!(jetstream.durable.as_deref(), Some("workers"));
    assert_eq!(jetstream.ack_wait, std::time::Duration::from_millis(500));
    assert_eq!(nats.auth, NatsAuth::TokenFile("/run/token".into()));
    assert_eq!(nats.max_pending, 1024 * 1024);
}

#[test]
fn rejects_each_bad_nats_field_by_name() {
    let nats = |extra: serde_json::Value| {
        let mut channel = json!({ "type": "nats", "subject": "a.b" });
        for (key, value) in extra.as_object().expect("object") {
            channel[key] = value.clone();
        }
        with_channel(channel)
    };
    assert_rejects(
        with_channel(json!({ "type": "nats" })),
        "io.repl.subject",
        "needs a `subject`",
    );
    for (extra, field, message) in [
        (
            json!({ "url": "http://x:1" }),
            "url",
            "the scheme is `nats` or `tls`",
        ),
        (
            json!({ "url": "nats://a:1,nats://b:2" }),
            "url",
            "one server address",
        ),
        (json!({ "subject": "a..b" }), "subject", "is not a subject"),
        (json!({ "subject": "a b" }), "subject", "is not a subject"),
        (
            json!({ "subject": "a.>.b" }),
            "subject",
            "`>` must be the last token",
        ),
        (
            json!({ "subject": "a.*", "direction": "out" }),
            "subject",
            "wildcards are for reading",
        ),
        (
            json!({ "queue-group": "g", "direction": "out" }),
            "queue-group",
            "reads nothing",
        ),
        (
            json!({ "queue-group": "a b" }),
            "queue-group",
            "not a queue group name",
        ),
        (
            json!({ "stream": "S" }),
            "stream",
            "is `in` (a durable consumer) or `out`",
        ),
        (
            json!({ "stream": "S", "direction": "in" }),
            "durable",
            "needs a `durable`",
        ),
        (
            json!({ "stream": "S.x", "direction": "out" }),
            "stream",
            "not a stream name",
        ),
        (
            json!({ "stream": "S", "direction": "out", "durable": "d" }),
            "durable",
            "`in` channels only",
        ),
        (
            json!({ "durable": "d", "direction": "in" }),
            "durable",
            "set `stream` too",
        ),
        (
            json!({ "stream": "S", "direction": "in", "durable": "d", "ack-wait-ms": 1 }),
            "ack-wait-ms",
            "outside 100",
        ),
        (
            json!({ "write-timeout-ms": 0 }),
            "write-timeout-ms",
            "outside 1",
        ),
        (
            json!({ "max-pending": 5, "direction": "out" }),
            "max-pending",
            "receives nothing",
        ),
        (
            json!({ "credentials": "c", "token-file": "t" }),
            "token-file",
            "not both",
        ),
        (json!({ "path": "/tmp/x" }), "path", "not a `path`"),
    ] {
        assert_rejects(nats(extra), &format!("io.repl.{field}"), message);
    }
    let mut config = minimal();
    config["io"]["repl"]["subject"] = json!("a");
    assert_rejects(config, "io.repl.subject", "applies to `nats` channels only");
}

/// Every bounded number names its field, the value with its unit and the
/// range, and all of them are reported at once.
#[test]
fn each_bounded_setting_names_its_value_unit_and_range() {
    let config = json!({
        "bootstrap": "main",
        "vats": { "main": { "component": "main.wasm",
            "limits": { "memory": "1KiB", "handles": 2, "inbox": 0, "message": "1GiB" } } },
        "io": {
            "repl": { "type": "socket", "path": "/tmp/r.sock", "max-line": "32MiB", "queue": 0 },
            "many": { "type": "listen", "path": "/tmp/l.sock", "max-clients": 0 },
            "peer": { "type": "connect", "path": "/tmp/p.sock", "retry-attempts": 0 },
            "bus": { "type": "nats", "subject": "s", "direction": "in", "stream": "S",
                     "durable": "d", "ack-wait-ms": 99, "write-timeout-ms": 0, "max-pending": 0 },
        },
    });
    let problems = problems(config);
    for (field, message) in [
        (
            "vats.main.limits.memory",
            "1024 bytes is outside 64KiB to 4GiB",
        ),
        ("vats.main.limits.handles", "2 is outside 16 to 1000000"),
        ("vats.main.limits.inbox", "0 is outside 1 to 1000000"),
        (
            "vats.main.limits.message",
            "1073741824 bytes is outside 1KiB to 64MiB",
        ),
        (
            "io.repl.max-line",
            "33554432 bytes is outside 1 byte to 16MiB",
        ),
        ("io.repl.queue", "0 lines is outside 1 to 65536"),
        ("io.many.max-clients", "0 is outside 1 to 10000"),
        ("io.peer.retry-attempts", "0 is outside 1 to 1000"),
        ("io.bus.ack-wait-ms", "99 ms is outside 100 to 3600000"),
        ("io.bus.write-timeout-ms", "0 ms is outside 1 to 3600000"),
        ("io.bus.max-pending", "0 bytes is outside 1 byte to 1GiB"),
    ] {
        assert!(
            problems
                .iter()
                .any(|problem| problem.field == field && problem.message == message),
            "expected `{field}`: {message} in {problems:#?}"
        );
    }
}
