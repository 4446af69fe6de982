//! `vathost daemon --metrics ADDR`: Prometheus text over real HTTP, its
//! values checked against traffic the test generated.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::harness::{Client, Scratch, http_get, single_vat_config, vat, vathost_output};

/// A detached daemon, stopped when dropped.
struct DetachedDaemon {
    home: PathBuf,
}

impl DetachedDaemon {
    fn cli(&self, args: &[&str]) -> (Option<i32>, String) {
        vathost_output(args, &[("VATHOST_HOME", &self.home)])
    }
}

impl Drop for DetachedDaemon {
    fn drop(&mut self) {
        let _ = self.cli(&["stop"]);
    }
}

/// A loopback address free a moment ago.
fn free_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Each sample as `name{labels}` -> value.
fn samples(body: &str) -> BTreeMap<String, f64> {
    body.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            (series.to_owned(), value.parse().unwrap())
        })
        .collect()
}

fn sample(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no {series} in {samples:#?}"))
}

fn launch(daemon: &DetachedDaemon, config: &Path) {
    let (code, output) = daemon.cli(&["launch", config.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{output}");
}

#[test]
fn metrics_are_served_over_http_and_match_the_traffic() {
    let scratch = Scratch::new();
    let daemon = DetachedDaemon {
        home: scratch.path("home"),
    };
    let address = free_address();
    let (code, output) = daemon.cli(&["daemon", "--metrics", &address.to_string()]);
    assert_eq!(code, Some(0), "{output}");
    assert!(
        output.contains(&format!("metrics http://{address}/metrics")),
        "{output}"
    );

    let echo = scratch.path("echo.sock");
    launch(
        &daemon,
        &scratch.config(
            "echo",
            single_vat_config(
                &vat("echo"),
                json!({ "repl": { "type": "socket", "path": echo } }),
            ),
        ),
    );
    let phoenix = scratch.path("phoenix.sock");
    let mut config = single_vat_config(
        &vat("phoenix"),
        json!({ "repl": { "type": "socket", "path": phoenix } }),
    );
    config["vats"]["main"]["restart"] = json!("on-failure");
    config["vats"]["main"]["restart-backoff-ms"] = json!(1);
    launch(&daemon, &scratch.config("phoenix", config));

    let mut client = Client::connect(&echo);
    for line in ["a", "bb", "ccc"] {
        assert_eq!(client.exchange(line), line);
    }
    // A trap, restarted: the same client is answered by the new instance.
    let mut crashing = Client::connect(&phoenix);
    crashing.send("crash");
    assert_eq!(crashing.exchange("again"), "1 again");

    let (status, body) = http_get(address, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    assert!(body.ends_with("# EOF\n"), "{body}");
    let samples = samples(&body);
    let vat = |subcluster: &str, name: &str| {
        sample(
            &samples,
            &format!("{name}{{subcluster=\"{subcluster}\",vat=\"main\"}}"),
        )
    };
    let channel = |name: &str| {
        sample(
            &samples,
            &format!("{name}{{subcluster=\"s1\",channel=\"repl\"}}"),
        )
    };
    assert_eq!(
        sample(&samples, "vathost_subclusters{state=\"running\"}"),
        2.0
    );
    assert_eq!(
        sample(
            &samples,
            "vathost_subcluster_info{subcluster=\"s1\",name=\"echo\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(
            &samples,
            "vathost_vat_state{subcluster=\"s1\",vat=\"main\",state=\"running\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(
            &samples,
            "vathost_vat_state{subcluster=\"s1\",vat=\"main\",state=\"failed\"}"
        ),
        0.0
    );
    assert_eq!(channel("vathost_channel_lines_in_total"), 3.0);
    assert_eq!(channel("vathost_channel_lines_out_total"), 3.0);
    assert_eq!(
        channel("vathost_channel_bytes_in_total"),
        9.0,
        "a\\n bb\\n ccc\\n"
    );
    assert_eq!(channel("vathost_channel_bytes_out_total"), 9.0);
    assert_eq!(channel("vathost_channel_clients"), 1.0);
    assert_eq!(channel("vathost_channel_clients_served_total"), 1.0);
    assert!(vat("s1", "vathost_vat_memory_bytes") >= 64.0 * 1024.0);
    assert!(vat("s1", "vathost_vat_cpu_seconds_total") > 0.0);
    assert_eq!(vat("s1", "vathost_vat_traps_total"), 0.0);
    assert_eq!(vat("s2", "vathost_vat_traps_total"), 1.0);
    assert_eq!(vat("s2", "vathost_vat_restarts_total"), 1.0);
    assert_eq!(vat("s1", "vathost_vat_inbox_depth"), 0.0);

    // The label set is fixed, whatever the configs say.
    for series in samples.keys() {
        let labels = series.split_once('{').map_or("", |(_, labels)| labels);
        for label in labels
            .trim_end_matches('}')
            .split(',')
            .filter(|l| !l.is_empty())
        {
            let name = label.split('=').next().unwrap();
            assert!(
                ["subcluster", "name", "vat", "channel", "state"].contains(&name),
                "{series}"
            );
        }
    }

    // `status` tells the same.
    let (code, output) = daemon.cli(&["status", "s2", "--json"]);
    assert_eq!(code, Some(0), "{output}");
    let status: serde_json::Value = serde_json::from_str(&output).unwrap();
    assert_eq!(status[0]["vats"][0]["traps"], 1, "{status}");

    let (status, _) = http_get(address, "/");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
}

#[test]
fn a_daemon_that_cannot_serve_metrics_says_so_and_does_not_start() {
    let scratch = Scratch::new();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let home = scratch.path("home");
    let (code, output) = vathost_output(
        &["daemon", "--metrics", &address],
        &[("VATHOST_HOME", &home)],
    );
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains(&format!("cannot serve metrics on {address}")),
        "{output}"
    );
    assert!(!home.join("control.sock").exists());
    let (code, output) = vathost_output(&["daemon", "--metrics", "nowhere"], &[]);
    assert_eq!(code, Some(2), "{output}");
}

/// A NATS channel's link and messages, scraped: three requests answered.
#[test]
fn a_nats_channel_shows_its_link_and_messages() {
    let scratch = Scratch::new();
    let server = crate::nats::NatsServer::start(&scratch);
    let daemon = DetachedDaemon {
        home: scratch.path("home"),
    };
    let address = free_address();
    let (code, output) = daemon.cli(&["daemon", "--metrics", &address.to_string()]);
    assert_eq!(code, Some(0), "{output}");
    let config = scratch.config(
        "service",
        single_vat_config(
            &vat("echo"),
            json!({ "service": { "type": "nats", "url": server.url(), "subject": "scraped" } }),
        ),
    );
    launch(&daemon, &config);
    crate::nats::ask_each(&server.url(), "scraped", &["a", "b", "c"]);
    let (status, body) = http_get(address, "/metrics");
    assert!(status.contains("200"), "{status}");
    let samples = samples(&body);
    let labels = r#"{subcluster="s1",channel="service"}"#;
    assert_eq!(
        sample(&samples, &format!("vathost_channel_link_connected{labels}")),
        1.0
    );
    assert_eq!(
        sample(
            &samples,
            &format!("vathost_channel_messages_in_total{labels}")
        ),
        3.0
    );
    assert_eq!(
        sample(
            &samples,
            &format!("vathost_channel_messages_out_total{labels}")
        ),
        3.0
    );
    assert_eq!(
        sample(
            &samples,
            &format!("vathost_channel_messages_dropped_total{labels}")
        ),
        0.0
    );
}
