//! Launch is all or nothing, terminate is clean and idempotent, and socket
//! files are only ever removed when they are the ones the host created.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::time::Duration;

use serde_json::json;
use vathost::kernel::{Kernel, VatEnd};

use crate::harness::{Client, Host, Scratch, echo_config, single_vat_config, vat};

#[test]
fn a_live_socket_at_the_path_fails_the_launch_and_is_left_alone() {
    let scratch = Scratch::new();
    let socket = scratch.path("live.sock");
    let listener = UnixListener::bind(&socket).expect("bind");
    let exited = Host::run(&[&echo_config(&scratch, "echo", &socket)]).wait();
    assert_eq!(exited.status.code(), Some(1), "{}", exited.log);
    assert!(
        exited
            .log
            .contains("is in use: something is listening on it"),
        "{}",
        exited.log
    );
    assert!(exited.log.contains("channel `repl`"), "{}", exited.log);
    // Still ours, still working.
    let _client = std::os::unix::net::UnixStream::connect(&socket).expect("connect to our socket");
    listener.set_nonblocking(false).expect("blocking");
    listener.accept().expect("accept our client");
}

#[test]
fn a_stale_socket_file_is_replaced() {
    let scratch = Scratch::new();
    let socket = scratch.path("stale.sock");
    drop(UnixListener::bind(&socket).expect("bind"));
    assert!(
        socket.exists(),
        "the stale file stays after its listener is gone"
    );
    let host = Host::run(&[&echo_config(&scratch, "echo", &socket)]);
    assert_eq!(Client::connect(&socket).exchange("fresh"), "fresh");
    host.wait_for_log("replacing stale socket file");
}

#[test]
fn a_path_that_is_not_a_socket_is_never_deleted() {
    let scratch = Scratch::new();
    let path = scratch.path("precious.txt");
    std::fs::write(&path, "keep me").expect("write");
    let exited = Host::run(&[&echo_config(&scratch, "echo", &path)]).wait();
    assert_eq!(exited.status.code(), Some(1), "{}", exited.log);
    assert!(
        exited.log.contains("exists and is not a socket"),
        "{}",
        exited.log
    );
    assert_eq!(
        std::fs::read_to_string(&path).expect("still there"),
        "keep me"
    );
}

#[test]
fn a_failed_launch_closes_the_channels_it_had_created() {
    let scratch = Scratch::new();
    let created_first = scratch.path("a.sock");
    let blocked = scratch.path("b.txt");
    std::fs::write(&blocked, "not a socket").expect("write");
    let config = scratch.config(
        "rollback",
        single_vat_config(
            &vat("echo"),
            json!({
                "a": { "type": "socket", "path": created_first },
                "b": { "type": "socket", "path": blocked },
            }),
        ),
    );
    let exited = Host::run(&[&config]).wait();
    assert_eq!(exited.status.code(), Some(1), "{}", exited.log);
    assert!(
        exited.log.contains("channel `b`"),
        "the error names the failing channel: {}",
        exited.log
    );
    assert!(
        exited.log.contains("channel open channel=a"),
        "a was created first: {}",
        exited.log
    );
    assert!(
        !created_first.exists(),
        "channel a's socket was left behind"
    );
}

#[test]
fn a_component_that_fails_to_link_creates_nothing() {
    use std::os::unix::fs::MetadataExt;
    let scratch = Scratch::new();
    // A stale socket file: opening the channel would replace it (and the
    // rollback remove it), so finding it untouched shows it never opened.
    let socket = scratch.path("never.sock");
    drop(UnixListener::bind(&socket).unwrap());
    let inode = std::fs::metadata(&socket).unwrap().ino();
    let config = scratch.config(
        "wrong",
        single_vat_config(
            &vat("wrong-world"),
            json!({ "repl": { "type": "socket", "path": socket } }),
        ),
    );
    let exited = Host::run(&[&config]).wait();
    assert_eq!(exited.status.code(), Some(2), "{}", exited.log);
    assert!(
        exited
            .log
            .contains("does not implement the `vathost:vat/vat` world"),
        "{}",
        exited.log
    );
    assert_eq!(std::fs::metadata(&socket).unwrap().ino(), inode);
}

#[test]
fn socket_files_get_mode_0600_unless_the_config_says_otherwise() {
    let scratch = Scratch::new();
    let private = scratch.path("private.sock");
    let shared = scratch.path("shared.sock");
    let config = scratch.config(
        "modes",
        single_vat_config(
            &vat("echo"),
            json!({
                "a": { "type": "socket", "path": private },
                "b": { "type": "socket", "path": shared, "mode": "0660" },
            }),
        ),
    );
    let _host = Host::run(&[&config]);
    Client::connect(&private);
    Client::connect(&shared);
    let mode = |path: &std::path::Path| {
        let metadata = std::fs::symlink_metadata(path).expect("stat");
        assert!(metadata.file_type().is_socket());
        metadata.permissions().mode() & 0o777
    };
    assert_eq!(mode(&private), 0o600);
    assert_eq!(mode(&shared), 0o660);
}

fn spec(scratch: &Scratch, name: &str) -> vathost::config::SubclusterSpec {
    let path = echo_config(scratch, name, &scratch.path(&format!("{name}.sock")));
    vathost::config::load(&path).expect("valid config")
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work)
        .await
        .expect("blocking task")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_during_a_blocked_read_is_prompt_idempotent_and_spares_other_subclusters() {
    let scratch = Scratch::new();
    let kernel = Kernel::new(&Default::default()).expect("kernel");
    let doomed = kernel
        .launch(spec(&scratch, "doomed"))
        .await
        .expect("launch");
    let neighbour = kernel
        .launch(spec(&scratch, "neighbour"))
        .await
        .expect("launch");
    let doomed_socket = doomed.channels[0].path.clone().unwrap();
    let neighbour_socket = neighbour.channels[0].path.clone().unwrap();

    // A connected client that says nothing: the echo vat is blocked in `read`.
    let (idle, mut talker) = blocking({
        let (doomed_socket, neighbour_socket) = (doomed_socket.clone(), neighbour_socket.clone());
        move || {
            let idle = Client::connect(&doomed_socket);
            let mut talker = Client::connect(&neighbour_socket);
            assert_eq!(talker.exchange("before"), "before");
            (idle, talker)
        }
    })
    .await;

    let outcome = tokio::time::timeout(Duration::from_secs(10), kernel.terminate(doomed.id))
        .await
        .expect("terminate is prompt")
        .expect("terminate");
    assert_eq!(outcome.vats, vec![("main".to_owned(), VatEnd::Stopped)]);
    assert!(!doomed_socket.exists(), "socket file removed");
    let again = kernel
        .terminate(doomed.id)
        .await
        .expect("terminating twice is harmless");
    assert_eq!(again, outcome);

    let talker = blocking(move || {
        let mut idle = idle;
        assert_eq!(idle.recv(), None, "the idle client sees its channel close");
        assert_eq!(talker.exchange("after"), "after");
        talker
    })
    .await;
    drop(talker);
    kernel.shutdown().await;
    assert!(!neighbour_socket.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_file_replaced_while_running_is_not_removed_on_terminate() {
    let scratch = Scratch::new();
    let kernel = Kernel::new(&Default::default()).expect("kernel");
    let launched = kernel
        .launch(spec(&scratch, "moved"))
        .await
        .expect("launch");
    let socket = launched.channels[0].path.clone().unwrap();
    std::fs::remove_file(&socket).expect("remove");
    std::fs::write(&socket, "someone else's file").expect("write");
    kernel.terminate(launched.id).await.expect("terminate");
    assert_eq!(
        std::fs::read_to_string(&socket).expect("kept"),
        "someone else's file"
    );
}

#[test]
fn a_vat_that_fails_to_start_rolls_back_the_whole_launch() {
    let scratch = Scratch::new();
    let socket = scratch.path("r.sock");
    let input = scratch.path("in.txt");
    let output = scratch.path("out.txt");
    std::fs::write(&input, "copied only if a vat ran\n").unwrap();
    let config = json!({
        "bootstrap": "a-first",
        "vats": {
            // Copies `in` to `out` the moment it runs.
            "a-first": { "component": vat("copy") },
            // Below the component's initial memory: instantiation fails.
            "b-second": { "component": vat("echo"), "limits": { "memory": "64KiB" } },
        },
        "io": {
            "repl": { "type": "socket", "path": socket },
            "in": { "type": "file", "path": input, "direction": "in" },
            "out": { "type": "file", "path": output, "direction": "out" },
        },
    });
    let exited = Host::run(&[&scratch.config("startup", config)]).wait();
    assert_eq!(exited.status.code(), Some(1), "{}", exited.log);
    assert!(
        exited.log.contains("vat `b-second`"),
        "names the vat: {}",
        exited.log
    );
    assert!(exited.log.contains("cannot instantiate"), "{}", exited.log);
    assert!(
        exited.log.contains("channel open channel=repl"),
        "{}",
        exited.log
    );
    let copied = std::fs::read_to_string(&output).unwrap_or_default();
    assert_eq!(copied, "", "no vat may run");
    assert!(!socket.exists(), "the channel was not closed");
}
