//! `vathost check`, `--help`, and launch errors: clear messages naming the
//! field at fault, exit code 2 for input errors.

use std::path::Path;

use serde_json::json;

use crate::harness::{Host, Scratch, echo_config, single_vat_config, vat, vathost_output};

fn vathost(args: &[&str], configs: &[&Path]) -> (Option<i32>, String) {
    let configs: Vec<&str> = configs
        .iter()
        .map(|config| config.to_str().unwrap())
        .collect();
    vathost_output(&[args, &configs].concat(), &[])
}

#[test]
fn help_documents_run_and_check() {
    let (code, help) = vathost(&["--help"], &[]);
    assert_eq!(code, Some(0));
    assert!(help.contains("run") && help.contains("check"), "{help}");
    let (code, help) = vathost(&["run", "--help"], &[]);
    assert_eq!(code, Some(0));
    assert!(
        help.contains("SIGTERM") && help.contains("Example"),
        "{help}"
    );
}

#[test]
fn check_accepts_the_example_configs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for example in [
        "vats/echo/cluster.json",
        "vats/upper/cluster.json",
        "vats/bridge/cluster.json",
        "vats/repl/cluster.json",
        "vats/copy/cluster.json",
        "vats/chat/cluster.json",
        "vats/workers/cluster.json",
        "vats/counter/cluster.json",
        "vats/echo/nats.json",
        "vats/upper/from-nats.json",
        "vats/copy/to-nats.json",
    ] {
        let (code, output) = vathost(&["check"], &[&root.join(example)]);
        assert_eq!(code, Some(0), "{example}: {output}");
        assert!(output.contains(": ok ("), "{output}");
    }
}

#[test]
fn check_names_an_unknown_field_by_its_path() {
    let scratch = Scratch::new();
    let mut config = single_vat_config(&vat("echo"), json!({}));
    config["vats"]["main"]["colour"] = json!("blue");
    let (code, output) = vathost(&["check"], &[&scratch.config("c", config)]);
    assert_eq!(code, Some(2), "{output}");
    assert!(
        output.contains("`vats.main.colour`: unknown field `colour`"),
        "{output}"
    );
}

#[test]
fn check_reports_every_semantic_problem_with_its_path() {
    let scratch = Scratch::new();
    let config = json!({
        "bootstrap": "nobody",
        "vats": { "main": { "component": vat("echo"), "io": ["missing"] } },
        "io": { "repl": { "type": "socket", "path": scratch.path("r.sock"), "direction": "sideways" } },
    });
    let (code, output) = vathost(&["check"], &[&scratch.config("c", config)]);
    assert_eq!(code, Some(2), "{output}");
    for expected in [
        "`bootstrap`: `nobody` is not a vat",
        "`vats.main.io[0]`: channel `missing` is not declared",
        "`io.repl.direction`: unknown direction `sideways`",
    ] {
        assert!(
            output.contains(expected),
            "missing {expected:?} in:\n{output}"
        );
    }
}

#[test]
fn check_rejects_a_missing_component() {
    let scratch = Scratch::new();
    let config = single_vat_config(&scratch.path("nowhere.wasm"), json!({}));
    let (code, output) = vathost(&["check"], &[&scratch.config("c", config)]);
    assert_eq!(code, Some(2), "{output}");
    assert!(output.contains("vats.main.component"), "{output}");
    assert!(output.contains("cannot read component"), "{output}");
}

#[test]
fn check_rejects_a_file_that_is_not_a_component() {
    let scratch = Scratch::new();
    let garbage = scratch.path("garbage.wasm");
    std::fs::write(&garbage, b"\0asm but not really").expect("write file");
    let (code, output) = vathost(
        &["check"],
        &[&scratch.config("c", single_vat_config(&garbage, json!({})))],
    );
    assert_eq!(code, Some(2), "{output}");
    assert!(
        output.contains("is not a valid WebAssembly component"),
        "{output}"
    );
}

#[test]
fn check_rejects_a_component_of_another_world() {
    let scratch = Scratch::new();
    let config = single_vat_config(&vat("wrong-world"), json!({}));
    let (code, output) = vathost(&["check"], &[&scratch.config("c", config)]);
    assert_eq!(code, Some(2), "{output}");
    assert!(
        output.contains("does not implement the `vathost:vat/vat` world"),
        "{output}"
    );
}

#[test]
fn run_refuses_a_socket_path_another_subcluster_holds_and_leaves_nothing() {
    let scratch = Scratch::new();
    let shared = scratch.path("shared.sock");
    let own = scratch.path("own.sock");
    let first = echo_config(&scratch, "first", &shared);
    let second = scratch.config(
        "second",
        single_vat_config(
            &vat("echo"),
            json!({
                "own": { "type": "socket", "path": own },
                "repl": { "type": "socket", "path": shared },
            }),
        ),
    );
    let exited = Host::run(&[&first, &second]).wait();
    assert_eq!(exited.status.code(), Some(2), "{}", exited.log);
    assert!(
        exited
            .log
            .contains("already used by channel `repl` of subcluster s1 (first)"),
        "{}",
        exited.log
    );
    assert!(
        !shared.exists() && !own.exists(),
        "a socket was left behind"
    );
}

#[test]
fn check_and_run_reject_a_socket_in_a_missing_directory_alike() {
    let scratch = Scratch::new();
    let socket = scratch.path("no-such-dir/echo.sock");
    let config = echo_config(&scratch, "c", &socket);
    for verb in ["check", "run"] {
        let (code, output) = vathost(&[verb], &[&config]);
        assert_eq!(code, Some(2), "{verb}: {output}");
        assert!(
            output.contains("`io.repl.path`: directory") && output.contains("no-such-dir"),
            "{verb}: {output}"
        );
    }
}

#[test]
fn check_reports_parse_problems_all_at_once() {
    let scratch = Scratch::new();
    let mut config = single_vat_config(
        &vat("echo"),
        json!({ "repl": { "type": "socket", "path": scratch.path("r.sock"), "directon": "in" } }),
    );
    config["vats"]["main"]["limits"] = json!({ "memory": true });
    let (code, output) = vathost(&["check"], &[&scratch.config("c", config)]);
    assert_eq!(code, Some(2), "{output}");
    assert!(
        output.contains("`io.repl.directon`: unknown field `directon`; did you mean `direction`?"),
        "{output}"
    );
    assert!(output.contains("`vats.main.limits.memory`"), "{output}");
}

#[test]
fn check_and_run_take_a_config_named_relative_to_the_working_directory() {
    let scratch = Scratch::new();
    let config = echo_config(&scratch, "here", &scratch.path("here.sock"));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_vathost"))
        .args(["check", "here.json"])
        .current_dir(config.parent().unwrap())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains("here.json: ok (1 vats, 1 channels)"),
        "{text}"
    );
}

#[test]
fn an_invalid_rust_log_is_reported_not_silently_replaced() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_vathost"))
        .args(["check", "/nonexistent.json"])
        .env("RUST_LOG", "vathost=loud")
        .output()
        .expect("run vathost");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("RUST_LOG=\"vathost=loud\" is not a valid filter"),
        "{stderr}"
    );
}

#[test]
fn check_explain_prints_each_vats_exact_authority() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let (code, output) = vathost(
        &["check", "--explain"],
        &[&root.join("vats/chat/cluster.json")],
    );
    assert_eq!(code, Some(0), "{output}");
    for expected in [
        "vat gateway (bootstrap): ",
        "  clients (listener: each client a channel of its own, at most 64 at once): /tmp/vathost-chat.sock, inout lines",
        "  references: the roots of room; no files, network, environment or arguments",
        "vat room: ",
        "  channels: none",
        "  references: none at start (only what messages bring)",
        "  limits: memory 134217728 bytes, table elements 20000, handles 10000, cpu unbounded, inbox 1024, message 65536 bytes, store 67108864 bytes",
        "  restart: never",
    ] {
        assert!(output.contains(expected), "no {expected:?} in:\n{output}");
    }
}

#[test]
fn completions_are_printed_for_a_shell() {
    let (code, script) = vathost(&["completions", "bash"], &[]);
    assert_eq!(code, Some(0), "{script}");
    assert!(
        script.contains("_vathost()") && script.contains("upgrade"),
        "{script}"
    );
    let (code, output) = vathost(&["completions", "tcsh"], &[]);
    assert_eq!(code, Some(2), "{output}");
}

#[test]
fn schema_prints_the_schema_in_docs_and_the_configs_may_name_it() {
    let (code, printed) = vathost(&["schema"], &[]);
    assert_eq!(code, Some(0), "{printed}");
    let printed: serde_json::Value = serde_json::from_str(&printed).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("docs/cluster.schema.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(printed, committed);
    assert_eq!(printed["additionalProperties"], json!(false));

    // A config naming its schema for an editor is still a valid config.
    let scratch = Scratch::new();
    let mut config = single_vat_config(
        &vat("echo"),
        json!({ "repl": { "type": "socket", "path": scratch.path("e.sock") } }),
    );
    config["$schema"] = json!("https://example.invalid/cluster.schema.json");
    let config = scratch.config("named", config);
    let (code, output) = vathost(&["check"], &[&config]);
    assert_eq!(code, Some(0), "{output}");
}
