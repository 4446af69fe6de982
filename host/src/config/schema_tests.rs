//! The JSON Schema (`vathost schema`) agrees with the parser: same fields,
//! same verdicts on structure, and the copy in `docs/` is current.

use std::path::Path;

use serde_json::{Value, json};

use super::raw::{RawChannel, RawCluster, RawLimits, RawVat, fields};
use super::*;

fn repo_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&json_schema()).expect("the schema is itself valid")
}

/// Whether the parser takes the config: structure and enum values, not the
/// checks a schema cannot make (components exist, paths, references).
fn parser_accepts(config: &Value) -> Result<(), String> {
    match from_json(&config.to_string(), "test", Path::new("/base")) {
        Ok(_) => Ok(()),
        Err(error) => Err(error.to_string()),
    }
}

fn full() -> Value {
    json!({
        "$schema": "./cluster.schema.json",
        "bootstrap": "main",
        "services": [],
        "vats": {
            "main": {
                "component": "main.wasm",
                "parameters": { "greeting": "hi", "n": [1, 2] },
                "limits": {
                    "memory": "64MiB", "table-elements": 10000, "handles": 100,
                    "cpu-ms": 5000, "inbox": 10, "message": 65536, "store": "1 MB"
                },
                "restart": "on-failure", "max-restarts": 3,
                "restart-window-ms": 1000, "restart-backoff-ms": 10
            },
            "aux": { "component": "aux.wasm", "io": ["out"], "restart": null }
        },
        "io": {
            "repl": { "type": "socket", "path": "r.sock", "direction": "inout",
                      "unit": "line", "mode": "0660", "max-line": "1KiB", "queue": 8 },
            "many": { "type": "listen", "path": "l.sock", "max-clients": 4, "unit": "bytes" },
            "out": { "type": "connect", "path": "c.sock", "direction": "out",
                     "retry-attempts": 3, "retry-delay-ms": 50 },
            "log": { "type": "file", "path": "log.txt", "direction": "out" },
            "tty": { "type": "console", "direction": null }
        }
    })
}

#[test]
fn the_schema_in_docs_is_the_one_the_host_prints() {
    let path = repo_root().join("docs/cluster.schema.json");
    let text = std::fs::read_to_string(&path).expect("docs/cluster.schema.json");
    let committed: Value = serde_json::from_str(&text).expect("valid JSON");
    assert!(
        committed == json_schema(),
        "docs/cluster.schema.json is stale: run `vathost schema > docs/cluster.schema.json`"
    );
}

#[test]
fn every_field_the_parser_takes_is_in_the_schema_and_no_other() {
    let schema = json_schema();
    for (definition, parsed) in [
        (None, fields::<RawCluster>()),
        (Some("Vat"), fields::<RawVat>()),
        (Some("Limits"), fields::<RawLimits>()),
        (Some("Channel"), fields::<RawChannel>()),
    ] {
        let object = match definition {
            None => &schema,
            Some(name) => &schema["$defs"][name],
        };
        assert_eq!(
            object["additionalProperties"],
            json!(false),
            "{definition:?}"
        );
        let mut in_schema: Vec<&str> = object["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .map(String::as_str)
            .collect();
        let mut parsed = parsed.to_vec();
        in_schema.sort_unstable();
        parsed.sort_unstable();
        assert_eq!(in_schema, parsed, "{definition:?}");
    }
}

#[test]
fn the_example_configs_and_a_config_of_every_field_satisfy_both() {
    let validator = validator();
    let mut configs = vec![("every field".to_owned(), full())];
    for entry in std::fs::read_dir(repo_root().join("vats")).expect("vats/") {
        let config = entry.expect("entry").path().join("cluster.json");
        if let Ok(text) = std::fs::read_to_string(&config) {
            let value = serde_json::from_str(&text).expect("JSON");
            configs.push((config.display().to_string(), value));
        }
    }
    assert!(configs.len() > 5, "the examples were found");
    for (name, config) in configs {
        let errors: Vec<String> = validator
            .iter_errors(&config)
            .map(|error| format!("{} at {}", error, error.instance_path))
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
        parser_accepts(&config).unwrap_or_else(|error| panic!("{name}: {error}"));
    }
}

#[test]
fn what_the_parser_rejects_for_its_shape_the_schema_rejects_too() {
    let validator = validator();
    type Change = fn(&mut Value);
    let cases: Vec<(&str, Change)> = vec![
        ("unknown top-level field", |c| c["extra"] = json!(1)),
        ("unknown vat field", |c| {
            c["vats"]["main"]["colour"] = json!(1)
        }),
        ("unknown limit", |c| {
            c["vats"]["main"]["limits"]["disk"] = json!(1)
        }),
        ("unknown channel field", |c| {
            c["io"]["repl"]["colour"] = json!(1)
        }),
        ("channel type", |c| c["io"]["repl"]["type"] = json!("pipe")),
        ("direction", |c| {
            c["io"]["repl"]["direction"] = json!("sideways")
        }),
        ("unit", |c| c["io"]["repl"]["unit"] = json!("words")),
        ("restart", |c| {
            c["vats"]["main"]["restart"] = json!("always")
        }),
        ("io as a string", |c| c["vats"]["aux"]["io"] = json!("out")),
        ("vats as a list", |c| c["vats"] = json!(["main"])),
        ("bootstrap a number", |c| c["bootstrap"] = json!(1)),
        ("queue a string", |c| {
            c["io"]["repl"]["queue"] = json!("ten")
        }),
        ("negative byte count", |c| {
            c["io"]["repl"]["max-line"] = json!(-1)
        }),
        ("handles a fraction", |c| {
            c["vats"]["main"]["limits"]["handles"] = json!(1.5)
        }),
        ("a channel that is not an object", |c| {
            c["io"]["log"] = json!("log.txt")
        }),
    ];
    for (name, change) in cases {
        let mut config = full();
        change(&mut config);
        assert!(parser_accepts(&config).is_err(), "the parser took: {name}");
        assert!(!validator.is_valid(&config), "the schema took: {name}");
    }
}
