//! Managed mode end to end: a real orchestrator and real managed executors on loopback.

mod common;

use std::path::Path;
use std::time::Duration;

use common::orchestrator::{ADMIN_KEY, EXECUTOR_KEY, ManagedExecutor, Orchestrator, http};
use common::{aqueducts, workspace};
use serde_json::json;

/// A pipeline that takes a while (a sum over `rows` generated rows) and writes one
/// number to `out`.
fn counting_spec(rows: u64, out: &str) -> String {
    format!(
        "sources: []
stages:
  - name: counted
    query: SELECT sum(value % 7) AS total FROM range({rows})
destination:
  type: file
  name: out
  location: {out}
  format: {{type: csv, options: {{has_header: false}}}}
"
    )
}

fn expected_total(rows: u64) -> u64 {
    (0..rows).map(|i| i % 7).sum()
}

/// Compiles `spec` (written to `dir/name.yml`) to an artifact with `aqueducts plan`.
fn plan(dir: &Path, name: &str, spec: &str) -> Vec<u8> {
    std::fs::write(dir.join(format!("{name}.yml")), spec).unwrap();
    let out = aqueducts(dir, &["plan", "-f", &format!("{name}.yml"), "--out", &format!("{name}.aqp")]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::read(dir.join(format!("{name}.aqp"))).unwrap()
}

/// Submits an artifact with the admin key; the new run's id.
fn submit_artifact(orchestrator: &Orchestrator, artifact: Vec<u8>, query: &str) -> String {
    let (status, body) = http(
        &orchestrator.address,
        "POST",
        &format!("/api/runs{query}"),
        Some(ADMIN_KEY),
        Some(("application/octet-stream", artifact)),
    );
    assert_eq!(status, 201, "{body}");
    let run: serde_json::Value = serde_json::from_str(&body).unwrap();
    run["id"].as_str().unwrap().to_string()
}

fn submit_spec(
    orchestrator: &Orchestrator,
    spec: &str,
    params: serde_json::Value,
    labels: serde_json::Value,
) -> (u16, serde_json::Value) {
    let body =
        json!({"spec": {"text": spec, "format": "yaml", "name": "spec.yml"}, "params": params, "labels": labels});
    orchestrator.api("POST", "/api/runs", Some(&body))
}

#[test]
fn managed_executors_register_and_run_what_is_submitted() {
    let data = workspace();
    let orchestrator_dir = tempfile::tempdir().unwrap();
    let orchestrator = Orchestrator::start(orchestrator_dir.path(), &[]);
    let a = ManagedExecutor::start(data.path(), &orchestrator, "exec-a", &["--label", "pool=a"]);
    let b = ManagedExecutor::start(data.path(), &orchestrator, "exec-b", &["--label", "pool=b,zone=eu"]);

    let (status, executors) = orchestrator.api("GET", "/api/executors", None);
    assert_eq!(status, 200, "{executors}");
    let executors = executors.as_array().unwrap();
    assert_eq!(executors.len(), 2, "{executors:?}");
    assert_eq!(executors[0]["executor_id"], "exec-a");
    assert_eq!(executors[0]["state"], "idle");
    assert_eq!(executors[0]["labels"], json!({"pool": "a"}));
    assert_eq!(executors[1]["labels"], json!({"pool": "b", "zone": "eu"}));
    assert_eq!(executors[1]["datafusion_version"], executors[0]["datafusion_version"]);
    let (status, one) = orchestrator.api("GET", "/api/executors/exec-b", None);
    assert_eq!((status, one["executor_id"].as_str()), (200, Some("exec-b")));
    assert_eq!(orchestrator.api("GET", "/api/executors/nope", None).0, 404);

    // An artifact compiled by `aqueducts plan`, sent to the executor labelled pool=b.
    let spec = std::fs::read_to_string(data.path().join("examples/simple.yml")).unwrap();
    let spec = spec.replace("${year}", "2024").replace("${month}", "jan");
    let artifact = plan(data.path(), "simple", &spec);
    let id = submit_artifact(&orchestrator, artifact, "?label=pool=b");
    let events = orchestrator.follow(&id, None);
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"queued"), "{kinds:?}");
    assert_eq!(kinds[1], "assigned", "{kinds:?}");
    assert!(kinds.contains(&"started") && kinds.contains(&"progress"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"ended"), "{kinds:?}");
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "events in order: {ids:?}");
    assert_eq!(events.last().unwrap()["state"], "succeeded");
    // Resuming after an event gives only what followed it.
    let tail = orchestrator.follow(&id, Some(ids[ids.len() - 3]));
    assert_eq!(tail.iter().map(|e| e["id"].as_i64().unwrap()).collect::<Vec<_>>(), ids[ids.len() - 2..]);

    let run = orchestrator.wait_final(&id, Duration::from_secs(60));
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["executor_id"], "exec-b");
    assert_eq!(run["attempt"], 1);
    assert!(run["outcome"]["summary"]["stages"].as_u64().unwrap() > 0, "{run}");
    b.process.wait_for("execution ended", 1, |e| e["fields"]["outcome"] == "succeeded");
    assert!(a.process.events("accepted a run").is_empty(), "pool=a never ran it");

    // The same spec run locally writes the same output.
    let written = std::fs::read_dir(data.path().join("examples/output")).ok().map(|d| d.count()).unwrap_or(0);
    assert!(written > 0, "the managed run wrote its output");
    let local = workspace();
    let out =
        aqueducts(local.path(), &["run", "-f", "examples/simple.yml", "-p", "year=2024", "-p", "month=jan", "-q"]);
    assert_eq!(out.status.code(), Some(0));
    for entry in std::fs::read_dir(local.path().join("examples/output")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            let remote = std::fs::read(data.path().join("examples/output").join(entry.file_name())).unwrap();
            assert_eq!(remote, std::fs::read(entry.path()).unwrap(), "{:?}", entry.file_name());
        }
    }

    // A spec: compiled by the orchestrator with the executor's files (the data is only in
    // the executors' directory), with its parameters.
    let (status, run) = submit_spec(&orchestrator, &spec_with_params(), json!({"rows": "1000"}), json!({"pool": "a"}));
    assert_eq!(status, 201, "{run}");
    let run = orchestrator.wait_final(run["id"].as_str().unwrap(), Duration::from_secs(60));
    assert_eq!((run["state"].as_str(), run["executor_id"].as_str()), (Some("succeeded"), Some("exec-a")), "{run}");
    let total = std::fs::read_to_string(data.path().join("out/param_total.csv")).unwrap();
    assert_eq!(total.trim(), expected_total(1000).to_string());

    // A broken spec is refused with its diagnostics, located in its text.
    let (status, refused) =
        submit_spec(&orchestrator, "stages:\n  - name: broken\n    query: SELEC 1\n", json!({}), json!({}));
    assert_eq!(status, 422, "{refused}");
    assert!(refused["diagnostics"].as_str().unwrap().contains("spec.yml:3"), "{refused}");
    let located = refused["located"].as_array().unwrap().iter().find(|d| d["code"] == "sql-syntax").unwrap();
    assert_eq!((located["file"].as_str(), located["line"].as_u64()), (Some("spec.yml"), Some(3)), "{refused}");
    assert_eq!((located["column"].as_u64(), located["severity"].as_str()), (Some(12), Some("error")));

    // History, newest first, filtered by state.
    let (_, list) = orchestrator.api("GET", "/api/runs?state=succeeded&limit=10", None);
    assert_eq!(list["runs"].as_array().unwrap().len(), 2, "{list}");
    let (status, bad) = orchestrator.api("GET", "/api/runs?state=done", None);
    assert_eq!(status, 400, "{bad}");

    // Metrics agree with the API.
    let (status, metrics) = http(&orchestrator.address, "GET", "/metrics", Some(ADMIN_KEY), None);
    assert_eq!(status, 200, "{metrics}");
    let value = |name: &str| -> f64 {
        let line =
            metrics.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{name}: {metrics}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(value("aqueducts_runs{state=\"succeeded\"}"), 2.0);
    assert_eq!(value("aqueducts_queue_length"), 0.0);
    assert_eq!(value("aqueducts_executors{state=\"online\"}"), 2.0);
    assert_eq!(value("aqueducts_runs_finished_total{state=\"succeeded\"}"), 2.0);
    assert_eq!(value("aqueducts_run_duration_seconds_count"), 2.0);
    assert_eq!(http(&orchestrator.address, "GET", "/metrics", None, None).0, 401);
}

fn spec_with_params() -> String {
    "sources:
  - type: file
    name: locations
    format: {type: csv, options: {}}
    location: ./examples/data/location_dict.csv
stages:
  - name: counted
    query: SELECT sum(value % 7) AS total FROM range({{rows}}) CROSS JOIN (SELECT count(*) AS n FROM locations)
destination:
  type: file
  name: out
  location: ./out/param_total.csv
  format: {type: csv, options: {has_header: false}}
"
    .to_string()
}

#[test]
fn keys_open_only_their_own_routes() {
    let dir = tempfile::tempdir().unwrap();
    let orchestrator = Orchestrator::start(dir.path(), &[]);
    let address = &orchestrator.address;
    // Health says only that it is up, to anyone.
    assert_eq!(http(address, "GET", "/api/health", None, None), (200, r#"{"status":"ok"}"#.to_string()));
    let (status, body) = http(address, "GET", "/api/runs", None, None);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("X-API-Key"), "{body}");
    let (status, body) = http(address, "GET", "/api/runs", Some("wrong-key-0000000000"), None);
    assert_eq!((status, body.contains("unknown or revoked key")), (401, true), "{body}");
    // Swapped keys: the executors' key opens no user route, the admin key not the
    // executors' route.
    let (status, body) = http(address, "GET", "/api/runs", Some(EXECUTOR_KEY), None);
    assert_eq!((status, body.contains("executors' key")), (401, true), "{body}");
    let (status, body) = http(address, "GET", "/ws/executor/register", Some(ADMIN_KEY), None);
    assert_eq!((status, body.contains("this route is for executors")), (401, true), "{body}");

    // A viewer reads and cannot write.
    let viewer = std::process::Command::new(common::orchestrator::orchestrator_binary())
        .args(["keys", "create", "--name", "watcher", "--role", "viewer", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(viewer.status.code(), Some(0), "{}", String::from_utf8_lossy(&viewer.stderr));
    let viewer_key = String::from_utf8(viewer.stdout).unwrap().trim().to_string();
    assert_eq!(http(address, "GET", "/api/runs", Some(&viewer_key), None).0, 200);
    let (status, body) =
        http(address, "POST", "/api/runs", Some(&viewer_key), Some(("application/json", b"{}".to_vec())));
    assert_eq!((status, body.contains("a viewer key cannot submit runs")), (403, true), "{body}");
    let (status, _) = http(address, "POST", "/api/runs/x/cancel", Some(&viewer_key), None);
    assert_eq!(status, 403);

    // An executor with a wrong key is refused, and says so, again and again, waiting longer.
    let data = tempfile::tempdir().unwrap();
    let stranger =
        ManagedExecutor::spawn(data.path(), &orchestrator.register_url(), "not-the-executor-key", "stranger", &[]);
    stranger.process.wait_for("the orchestrator refused the executor key", 3, |_| true);
    let waits: Vec<u64> = stranger
        .process
        .events("the orchestrator refused the executor key")
        .iter()
        .map(|e| e["fields"]["retry_in_ms"].as_u64().unwrap())
        .collect();
    assert!(waits[2] > waits[0], "the waits grow: {waits:?}");
    assert!(!stranger.process.logs().contains("not-the-executor-key"), "the key is never logged");
    assert!(orchestrator.process.events("executor registered").is_empty());
}

#[test]
fn an_executor_of_another_release_is_refused_with_the_reason() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let dir = tempfile::tempdir().unwrap();
    let orchestrator = Orchestrator::start(dir.path(), &[]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let answer = runtime.block_on(async {
        let mut request = orchestrator.register_url().into_client_request().unwrap();
        request.headers_mut().insert("X-API-Key", EXECUTOR_KEY.parse().unwrap());
        request.headers_mut().insert("X-Aqueducts-Protocol", aqueducts_protocol::PROTOCOL_VERSION.into());
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let hello = json!({
            "type": "hello", "executor_id": "old-one", "boot_id": "b1", "version": "0.0.1",
            "protocol_version": aqueducts_protocol::PROTOCOL_VERSION, "artifact_format_version": 3,
            "datafusion_version": "0.0.0", "max_memory_bytes": null, "labels": {},
            "features": {"odbc": false, "object_stores": [], "custom_sql": false},
            "working_directory": "/", "max_message_bytes": 1024, "held": []
        });
        socket.send(Message::Text(hello.to_string().into())).await.unwrap();
        let reply = socket.next().await.unwrap().unwrap();
        reply.to_text().unwrap().to_string()
    });
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["type"], "refused", "{answer}");
    assert!(answer["reason"].as_str().unwrap().contains("runs DataFusion 0.0.0"), "{answer}");
    let (_, executors) = orchestrator.api("GET", "/api/executors", None);
    assert_eq!(executors, json!([]));
}

#[test]
fn runs_are_cancelled_while_queued_and_while_running() {
    let data = workspace();
    let orchestrator_dir = tempfile::tempdir().unwrap();
    let orchestrator = Orchestrator::start(orchestrator_dir.path(), &[]);
    let _a = ManagedExecutor::start(data.path(), &orchestrator, "exec-a", &[]);
    let slow = plan(data.path(), "slow", &counting_spec(3_000_000_000, "./out/slow.csv"));
    let running = submit_artifact(&orchestrator, slow.clone(), "");
    orchestrator.wait_state(&running, "running");
    let waiting = submit_artifact(&orchestrator, slow, "");
    let (_, queued) = orchestrator.api("GET", &format!("/api/runs/{waiting}"), None);
    assert_eq!((queued["state"].as_str(), queued["queue_position"].as_u64()), (Some("queued"), Some(1)), "{queued}");

    let (status, answer) = orchestrator.api("POST", &format!("/api/runs/{waiting}/cancel"), None);
    assert_eq!((status, answer["state"].as_str()), (200, Some("cancelled")), "{answer}");
    let (status, answer) = orchestrator.api("POST", &format!("/api/runs/{running}/cancel"), None);
    assert_eq!((status, answer["state"].as_str()), (200, Some("cancelling")), "{answer}");
    let run = orchestrator.wait_final(&running, Duration::from_secs(30));
    assert_eq!(run["state"], "cancelled", "{run}");
    assert_eq!(run["outcome"]["status"], "cancelled", "{run}");
    assert!(!data.path().join("out/slow.csv").exists(), "a cancelled run writes nothing");
    let (status, _) = orchestrator.api("POST", &format!("/api/runs/{running}/cancel"), None);
    assert_eq!(status, 409, "an ended run cannot be cancelled");
    assert_eq!(orchestrator.wait_final(&waiting, Duration::from_secs(5))["state"], "cancelled");
}

#[test]
fn a_run_whose_executor_dies_is_retried_on_another() {
    let data = workspace();
    let orchestrator_dir = tempfile::tempdir().unwrap();
    let orchestrator = Orchestrator::start(orchestrator_dir.path(), &[]);
    let a = ManagedExecutor::start(data.path(), &orchestrator, "exec-a", &[]);
    let rows = 150_000_000;
    let artifact = plan(data.path(), "retried", &counting_spec(rows, "./out/retried.csv"));
    let id = submit_artifact(&orchestrator, artifact.clone(), "?retries=1");
    orchestrator.wait_state(&id, "running");
    let b = ManagedExecutor::start(data.path(), &orchestrator, "exec-b", &[]);
    a.process.kill9();
    let run = orchestrator.wait_final(&id, Duration::from_secs(120));
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!((run["attempt"].as_u64(), run["executor_id"].as_str()), (Some(2), Some("exec-b")), "{run}");
    let written = std::fs::read_to_string(data.path().join("out/retried.csv")).unwrap();
    assert_eq!(written.trim(), expected_total(rows).to_string());
    let events = orchestrator.follow(&id, None);
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"lost") && kinds.contains(&"retrying"), "{kinds:?}");
    drop(b);

    // Without retries, a lost run is lost, and its destination untouched.
    let c = ManagedExecutor::start(data.path(), &orchestrator, "exec-c", &[]);
    let id = submit_artifact(&orchestrator, artifact, "");
    orchestrator.wait_state(&id, "running");
    c.process.kill9();
    let run = orchestrator.wait_final(&id, Duration::from_secs(30));
    assert_eq!(run["state"], "lost", "{run}");
    assert_eq!(
        std::fs::read_to_string(data.path().join("out/retried.csv")).unwrap().trim(),
        expected_total(rows).to_string()
    );
    let (_, executors) = orchestrator.api("GET", "/api/executors", None);
    assert!(executors.as_array().unwrap().iter().all(|e| e["state"] == "offline"), "{executors}");
}

#[test]
fn a_run_survives_an_orchestrator_crash() {
    survives_a_crash(&[]);
}

/// The same on the test command's PostgreSQL server, in a database of its own.
#[test]
fn a_run_survives_an_orchestrator_crash_on_postgresql() {
    let port = common::service_var("AQUEDUCTS_TEST_PG_PORT", "PostgreSQL");
    let password = common::service_var("AQUEDUCTS_TEST_PG_PASSWORD", "PostgreSQL");
    let server = format!("postgres://aqueducts:{password}@127.0.0.1:{port}");
    let database = format!("orchestrator_{}", std::process::id());
    let created = std::process::Command::new("psql")
        .arg(format!("{server}/postgres"))
        .args(["-c", &format!("CREATE DATABASE {database}")])
        .output()
        .expect("psql (installed by the test command with PostgreSQL)");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    survives_a_crash(&["--database", &format!("{server}/{database}")]);
    let _ = std::process::Command::new("psql")
        .arg(format!("{server}/postgres"))
        .args(["-c", &format!("DROP DATABASE {database} WITH (FORCE)")])
        .output();
}

fn survives_a_crash(extra: &[&str]) {
    let data = workspace();
    let orchestrator_dir = tempfile::tempdir().unwrap();
    let mut orchestrator = Orchestrator::start(orchestrator_dir.path(), extra);
    let a = ManagedExecutor::start(data.path(), &orchestrator, "exec-a", &[]);
    let rows = 150_000_000;
    let running = submit_artifact(&orchestrator, plan(data.path(), "long", &counting_spec(rows, "./out/long.csv")), "");
    orchestrator.wait_state(&running, "running");
    let queued = submit_artifact(&orchestrator, plan(data.path(), "next", &counting_spec(1000, "./out/next.csv")), "");
    orchestrator.crash_and_restart();
    a.process.wait_for("lost the orchestrator; runs go on", 1, |_| true);
    orchestrator.wait_registered("exec-a", 1);
    let run = orchestrator.wait_final(&running, Duration::from_secs(120));
    assert_eq!(run["state"], "succeeded", "the true outcome is recorded: {run}");
    assert_eq!(run["attempt"], 1);
    let next = orchestrator.wait_final(&queued, Duration::from_secs(60));
    assert_eq!(next["state"], "succeeded", "{next}");
    assert_eq!(
        std::fs::read_to_string(data.path().join("out/long.csv")).unwrap().trim(),
        expected_total(rows).to_string()
    );
    // Every event once, in order, ending with the outcome.
    let events = orchestrator.follow(&running, None);
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "started").count(), 1, "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"ended"), "{kinds:?}");
    let (_, list) = orchestrator.api("GET", "/api/runs", None);
    assert_eq!(list["runs"].as_array().unwrap().len(), 2, "history intact: {list}");
}

#[test]
fn a_second_executor_with_a_taken_id_is_refused_and_says_why() {
    let data = workspace();
    let orchestrator_dir = tempfile::tempdir().unwrap();
    let orchestrator = Orchestrator::start(orchestrator_dir.path(), &[]);
    let _first = ManagedExecutor::start(data.path(), &orchestrator, "twin", &[]);
    let second = ManagedExecutor::spawn(data.path(), &orchestrator.register_url(), EXECUTOR_KEY, "twin", &[]);
    second.process.wait_for("the orchestrator refused this executor", 1, |e| {
        e["fields"]["reason"].as_str().is_some_and(|r| r.contains("an executor with id `twin` is connected already"))
    });
    assert_eq!(orchestrator.process.events("executor registered").len(), 1);
}

#[test]
fn managed_options_are_checked() {
    let refuse = |args: &[&str]| {
        let out = std::process::Command::new(common::executor::executor_binary())
            .args(args)
            .env_remove("ORCHESTRATOR_URL")
            .env_remove("EXECUTOR_MODE")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let key = ["--api-key", EXECUTOR_KEY];
    assert!(refuse(&[&key[..], &["--mode", "managed"]].concat()).contains("--mode managed needs --orchestrator-url"));
    assert!(
        refuse(&[&key[..], &["--orchestrator-url", "ws://127.0.0.1:1/ws/executor/register"]].concat())
            .contains("--orchestrator-url is only for --mode managed")
    );
    assert!(
        refuse(&[&key[..], &["--mode", "managed", "--orchestrator-url", "ws://o/x", "--label", "a b"]].concat())
            .contains("is not a label")
    );
    let out = std::process::Command::new(common::orchestrator::orchestrator_binary())
        .args(["--api-key", ADMIN_KEY, "--executor-key", ADMIN_KEY])
        .env_remove("AQUEDUCTS_EXECUTOR_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--executor-key must differ from --api-key"));

    // Labels also come from the environment.
    let data = tempfile::tempdir().unwrap();
    let orchestrator = Orchestrator::start(data.path(), &[]);
    let mut command = std::process::Command::new(common::executor::executor_binary());
    command
        .args(["--mode", "managed", "--api-key", EXECUTOR_KEY, "--executor-id", "from-env"])
        .env("ORCHESTRATOR_URL", orchestrator.register_url())
        .env("AQUEDUCTS_LABELS", "pool=eu,gpu=none")
        .current_dir(data.path())
        .stderr(std::process::Stdio::null());
    let mut child = command.spawn().unwrap();
    orchestrator.wait_registered("from-env", 1);
    let (_, info) = orchestrator.api("GET", "/api/executors/from-env", None);
    assert_eq!(info["labels"], json!({"pool": "eu", "gpu": "none"}));
    let _ = child.kill();
    let _ = child.wait();

    // Given a port, a managed executor serves its health there, and nothing else.
    let with_port = ManagedExecutor::spawn(
        data.path(),
        &orchestrator.register_url(),
        EXECUTOR_KEY,
        "with-port",
        &["--host", "127.0.0.1", "--port", "0"],
    );
    with_port.process.wait_for("listening", 1, |_| true);
    let address = with_port.process.events("listening")[0]["fields"]["address"].as_str().unwrap().to_string();
    let (status, body) = http(&address, "GET", "/api/health", Some(EXECUTOR_KEY), None);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"executor_id\":\"with-port\""), "{body}");
    assert_eq!(http(&address, "GET", "/ws/connect", Some(EXECUTOR_KEY), None).0, 404, "no standalone route");
}

/// `aqueducts ARGS --orchestrator ADDRESS --api-key KEY` in `dir`, in the background.
fn cli(dir: &Path, orchestrator: &Orchestrator, key: &str, args: &[&str]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_aqueducts"))
        .args(args)
        .args(["--orchestrator", &orchestrator.address, "--api-key", key])
        .current_dir(dir)
        .env_remove("AQUEDUCTS_API_KEY")
        .env_remove("AQUEDUCTS_ORCHESTRATOR")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn finished(child: std::process::Child) -> (Option<i32>, String, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn the_cli_runs_through_an_orchestrator_as_it_runs_locally() {
    let data = workspace();
    let orchestrator_dir = tempfile::tempdir().unwrap();
    let orchestrator = Orchestrator::start(orchestrator_dir.path(), &[]);
    let _a = ManagedExecutor::start(data.path(), &orchestrator, "exec-a", &["--label", "pool=x"]);
    let _b = ManagedExecutor::start(data.path(), &orchestrator, "exec-b", &["--label", "pool=x"]);
    // The client has the spec only; the data is where the executors are.
    let client = tempfile::tempdir().unwrap();
    let spec = std::fs::read_to_string(data.path().join("examples/simple.yml")).unwrap();
    std::fs::write(client.path().join("simple.yml"), &spec).unwrap();
    let args = ["run", "-f", "simple.yml", "-p", "year=2024", "-p", "month=jan", "--label", "pool=x"];
    let (code, stdout, stderr) = finished(cli(client.path(), &orchestrator, ADMIN_KEY, &args));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.lines().any(|l| l.starts_with("run ") && l.contains(" on orchestrator ")), "{stderr}");
    assert!(stderr.contains("running on executor exec-"), "{stderr}");
    let local = workspace();
    let out = aqueducts(local.path(), &["run", "-f", "examples/simple.yml", "-p", "year=2024", "-p", "month=jan"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout, String::from_utf8_lossy(&out.stdout), "what stages show is the same");
    assert!(stderr.lines().any(|l| l.starts_with("done: ")), "{stderr}");

    // A broken spec: the same diagnostics and message as a local run, exit code 1.
    std::fs::write(
        client.path().join("broken.yml"),
        "sources: []\nstages:\n  - name: s\n    query: SELECT nope FROM nowhere\n",
    )
    .unwrap();
    let (code, _, stderr) = finished(cli(client.path(), &orchestrator, ADMIN_KEY, &["run", "-f", "broken.yml"]));
    assert_eq!(code, Some(1), "{stderr}");
    let local_run = aqueducts(client.path(), &["run", "-f", "broken.yml"]);
    assert_eq!(local_run.status.code(), Some(1));
    assert_eq!(stderr, String::from_utf8_lossy(&local_run.stderr), "diagnostics read as a local run prints them");

    // Twenty at once: all succeed, both executors work, never two runs at once on one.
    std::fs::write(
        client.path().join("count.yml"),
        counting_spec(2_000_000, "./out/count_{{i}}.csv").replace("{{i}}", "${i}"),
    )
    .unwrap();
    let children: Vec<_> = (0..20)
        .map(|i| {
            cli(client.path(), &orchestrator, ADMIN_KEY, &["run", "-q", "-f", "count.yml", "-p", &format!("i={i}")])
        })
        .collect();
    for child in children {
        let (code, _, stderr) = finished(child);
        assert_eq!(code, Some(0), "{stderr}");
    }
    for i in 0..20 {
        let total = std::fs::read_to_string(data.path().join(format!("out/count_{i}.csv"))).unwrap();
        assert_eq!(total.trim(), expected_total(2_000_000).to_string());
    }
    let (_, list) = orchestrator.api("GET", "/api/runs?state=succeeded&limit=100", None);
    let runs = list["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 21);
    for executor in ["exec-a", "exec-b"] {
        let mut spans: Vec<(i64, i64)> = runs
            .iter()
            .filter(|r| r["executor_id"] == executor)
            .map(|r| (r["started_ms"].as_i64().unwrap(), r["ended_ms"].as_i64().unwrap()))
            .collect();
        assert!(!spans.is_empty(), "{executor} ran some");
        spans.sort();
        assert!(spans.windows(2).all(|w| w[0].1 <= w[1].0), "{executor} ran two at once: {spans:?}");
    }

    // History from the CLI.
    let (code, stdout, stderr) =
        finished(cli(client.path(), &orchestrator, ADMIN_KEY, &["runs", "--state", "succeeded", "--limit", "5"]));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout.lines().count(), 6, "a header and five runs: {stdout}");
    assert!(stdout.lines().skip(1).all(|l| l.contains("succeeded")), "{stdout}");
    let id = runs[0]["id"].as_str().unwrap();
    let (code, stdout, stderr) = finished(cli(client.path(), &orchestrator, ADMIN_KEY, &["runs", "show", id]));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains(&format!("run        {id}")) && stdout.contains("outcome    succeeded"), "{stdout}");
    assert!(stderr.contains("counted"), "the stored stage events are replayed: {stderr}");

    // Cancel from the CLI, while it runs.
    std::fs::write(client.path().join("slow.yml"), counting_spec(3_000_000_000, "./out/slow.csv")).unwrap();
    let slow = cli(client.path(), &orchestrator, ADMIN_KEY, &["run", "-f", "slow.yml"]);
    let id = loop {
        let (_, list) = orchestrator.api("GET", "/api/runs?state=running", None);
        if let Some(run) = list["runs"].as_array().unwrap().first() {
            break run["id"].as_str().unwrap().to_string();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (code, stdout, stderr) =
        finished(cli(client.path(), &orchestrator, ADMIN_KEY, &["cancel", "--execution-id", &id]));
    assert_eq!((code, stdout.trim()), (Some(0), format!("cancelled run {id}").as_str()), "{stderr}");
    let (code, _, stderr) = finished(slow);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("cancelled: the run was stopped"), "{stderr}");

    // Ctrl-C cancels the run on the orchestrator.
    let mut interrupted = cli(client.path(), &orchestrator, ADMIN_KEY, &["run", "-f", "slow.yml"]);
    let started = std::time::Instant::now();
    loop {
        let (_, list) = orchestrator.api("GET", "/api/runs?state=running", None);
        if !list["runs"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{list}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::process::Command::new("kill").args(["-INT", &interrupted.id().to_string()]).status();
    let status = interrupted.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(interrupted.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("interrupted: cancelling the run") && stderr.contains("cancelled: the run was stopped"),
        "{stderr}"
    );

    // A viewer reads the history and cannot run.
    let viewer = std::process::Command::new(common::orchestrator::orchestrator_binary())
        .args(["keys", "create", "--name", "viewer", "--role", "viewer", "--data-dir"])
        .arg(orchestrator_dir.path())
        .output()
        .unwrap();
    let viewer = String::from_utf8(viewer.stdout).unwrap().trim().to_string();
    let (code, _, stderr) = finished(cli(client.path(), &orchestrator, &viewer, &["run", "-f", "slow.yml"]));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("a viewer key cannot submit runs"), "{stderr}");
    let (code, _, stderr) = finished(cli(client.path(), &orchestrator, &viewer, &["runs"]));
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn executors_and_clients_reach_a_tls_orchestrator_with_a_private_certificate() {
    let data = workspace();
    let orchestrator_dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = orchestrator_dir.path().join("cert.pem");
    let key = orchestrator_dir.path().join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let orchestrator = Orchestrator::start(orchestrator_dir.path(), &["--tls-cert", cert, "--tls-key", key]);
    let port = orchestrator.address.rsplit(':').next().unwrap().to_string();
    let url = format!("wss://localhost:{port}/ws/executor/register");
    // Without the certificate the executor cannot trust the orchestrator, and says so.
    let untrusting = ManagedExecutor::spawn(data.path(), &url, EXECUTOR_KEY, "untrusting", &[]);
    untrusting.process.wait_for("cannot reach the orchestrator", 1, |e| {
        e["fields"]["error"].as_str().is_some_and(|error| error.to_ascii_lowercase().contains("certificate"))
    });
    drop(untrusting);
    let _trusting = ManagedExecutor::spawn(data.path(), &url, EXECUTOR_KEY, "trusting", &["--ca-cert", cert]);
    orchestrator.wait_registered("trusting", 1);

    let client = tempfile::tempdir().unwrap();
    std::fs::write(client.path().join("count.yml"), counting_spec(500, "./out/tls.csv")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aqueducts"))
        .args(["run", "-q", "-f", "count.yml", "--api-key", ADMIN_KEY, "--ca-cert", cert])
        .args(["--orchestrator", &format!("https://localhost:{port}")])
        .current_dir(client.path())
        .env_remove("AQUEDUCTS_API_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(data.path().join("out/tls.csv")).unwrap().trim(),
        expected_total(500).to_string()
    );

    // The web interface is on the same port and TLS; its session cookie is `Secure` there.
    let pem = std::fs::read(cert).unwrap();
    let (page, cookie) = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
            .build()
            .unwrap();
        let base = format!("https://localhost:{port}");
        let page = client.get(format!("{base}/")).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let signed_in = client
            .post(format!("{base}/ui/session"))
            .header("content-type", "application/json")
            .body(json!({"key": ADMIN_KEY}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(signed_in.status(), 200);
        let cookie = signed_in.headers()["set-cookie"].to_str().unwrap().to_string();
        (page.text().await.unwrap(), cookie)
    });
    assert!(page.contains("/assets/js/app.js"), "{page}");
    assert!(cookie.contains("; Secure") && cookie.contains("HttpOnly"), "{cookie}");
}

#[test]
fn pipelines_are_deployed_in_versions_and_triggered() {
    let data = workspace();
    let orchestrator_dir = tempfile::tempdir().unwrap();
    let orchestrator = Orchestrator::start(orchestrator_dir.path(), &[]);
    let client = tempfile::tempdir().unwrap();
    let spec = "sources: []
stages:
  - name: counted
    query: SELECT sum(value % 7) AS total FROM range(${rows})
destination:
  type: file
  name: out
  location: ./out/${tag}.csv
  format: {type: csv, options: {has_header: false}}
";
    std::fs::write(client.path().join("nightly.yml"), spec).unwrap();
    let deploy = |file: &str, extra: &[&str]| {
        let mut args = vec!["deploy", "-f", file, "--name", "nightly", "-p", "rows=1000", "-p", "tag=default"];
        args.extend_from_slice(extra);
        finished(cli(client.path(), &orchestrator, ADMIN_KEY, &args))
    };
    // Nothing to check it on yet.
    let (code, _, stderr) = deploy("nightly.yml", &[]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("no connected executor fits"), "{stderr}");
    let _a = ManagedExecutor::start(data.path(), &orchestrator, "exec-a", &[]);
    let _b = ManagedExecutor::start(data.path(), &orchestrator, "exec-b", &[]);
    let (code, stdout, stderr) = deploy("nightly.yml", &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.starts_with("deployed nightly version 1 (sha256 ") && stdout.contains("checked on executor exec-"),
        "{stdout}"
    );
    // A broken spec is refused with its diagnostics, as a local run would print them.
    std::fs::write(
        client.path().join("broken.yml"),
        "sources: []\nstages:\n  - name: s\n    query: SELECT nope FROM nowhere\n",
    )
    .unwrap();
    let (code, _, stderr) = deploy("broken.yml", &[]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("unknown table `nowhere`") && stderr.contains("error: broken.yml has errors"), "{stderr}");
    let (code, stdout, stderr) = deploy("nightly.yml", &["--max-concurrent", "1", "-p", "rows=20000000"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.starts_with("deployed nightly version 2 "), "{stdout}");
    let (status, shown) = orchestrator.api("GET", "/api/pipelines/nightly", None);
    assert_eq!(status, 200, "{shown}");
    assert_eq!((shown["version"].as_i64(), shown["params"]["rows"].as_str()), (Some(2), Some("20000000")));
    assert_eq!(shown["versions"].as_array().unwrap().len(), 2);
    let (_, first) = orchestrator.api("GET", "/api/pipelines/nightly?version=1", None);
    assert_eq!(first["params"]["rows"], "1000");

    // Webhooks: parameters over the defaults; one run per Idempotency-Key.
    let trigger = |tag: &str, key: Option<&str>| {
        let headers = key.map(|k| format!("Idempotency-Key: {k}\r\n")).unwrap_or_default();
        let body = json!({"params": {"tag": tag}}).to_string().into_bytes();
        let (status, body) = common::orchestrator::http_with(
            &orchestrator.address,
            "POST",
            "/api/pipelines/nightly/trigger",
            Some(ADMIN_KEY),
            Some(("application/json", body)),
            &headers,
        );
        (status, serde_json::from_str::<serde_json::Value>(&body).unwrap_or(json!(body)))
    };
    let ids: Vec<String> = ["t1", "t2", "t3"]
        .iter()
        .map(|tag| {
            let (status, run) = trigger(tag, Some(&format!("delivery-{tag}")));
            assert_eq!(status, 201, "{run}");
            assert_eq!((run["pipeline"].as_str(), run["pipeline_version"].as_i64()), (Some("nightly"), Some(2)));
            run["id"].as_str().unwrap().to_string()
        })
        .collect();
    let (status, again) = trigger("t1", Some("delivery-t1"));
    assert_eq!(status, 409, "{again}");
    let mut spans = Vec::new();
    for (id, tag) in ids.iter().zip(["t1", "t2", "t3"]) {
        let run = orchestrator.wait_final(id, Duration::from_secs(120));
        assert_eq!(run["state"], "succeeded", "{run}");
        assert_eq!(run["trigger"], "webhook");
        spans.push((run["started_ms"].as_i64().unwrap(), run["ended_ms"].as_i64().unwrap()));
        let total = std::fs::read_to_string(data.path().join(format!("out/{tag}.csv"))).unwrap();
        assert_eq!(total.trim(), expected_total(20_000_000).to_string());
    }
    spans.sort();
    assert!(spans.windows(2).all(|w| w[0].1 <= w[1].0), "max_concurrent 1: runs never overlap: {spans:?}");
    // A run by name over the API, and the history by pipeline.
    let (status, run) = orchestrator.api(
        "POST",
        "/api/runs",
        Some(&json!({"pipeline": "nightly", "params": {"tag": "api", "rows": "10"}})),
    );
    assert_eq!(status, 201, "{run}");
    assert_eq!(orchestrator.wait_final(run["id"].as_str().unwrap(), Duration::from_secs(60))["state"], "succeeded");
    let (code, stdout, _) = finished(cli(client.path(), &orchestrator, ADMIN_KEY, &["runs", "--pipeline", "nightly"]));
    assert_eq!(code, Some(0));
    assert_eq!(stdout.lines().filter(|l| l.contains("nightly")).count(), 4, "{stdout}");

    // Deleted: gone from the list, its history kept.
    assert_eq!(orchestrator.api("DELETE", "/api/pipelines/nightly", None).0, 204);
    assert_eq!(orchestrator.api("GET", "/api/pipelines/nightly", None).0, 404);
    assert_eq!(orchestrator.api("GET", "/api/pipelines", None).1, json!([]));
    assert_eq!(trigger("t4", None).0, 404);
    let (_, history) = orchestrator.api("GET", "/api/runs?pipeline=nightly", None);
    assert_eq!(history["runs"].as_array().unwrap().len(), 4);
}

#[test]
fn schedules_fire_on_their_ticks_and_catch_up_once_after_a_restart() {
    let data = workspace();
    let orchestrator_dir = tempfile::tempdir().unwrap();
    let mut orchestrator = Orchestrator::start(orchestrator_dir.path(), &[]);
    let _a = ManagedExecutor::start(data.path(), &orchestrator, "exec-a", &[]);
    let client = tempfile::tempdir().unwrap();
    std::fs::write(client.path().join("tick.yml"), counting_spec(10, "./out/tick.csv")).unwrap();
    let deploy = |name: &str, extra: &[&str], orchestrator: &Orchestrator| {
        let mut args = vec!["deploy", "-f", "tick.yml", "--name", name];
        args.extend_from_slice(extra);
        let (code, stdout, stderr) = finished(cli(client.path(), orchestrator, ADMIN_KEY, &args));
        assert_eq!(code, Some(0), "{stderr}");
        stdout
    };
    // Every second.
    let stdout = deploy("every-second", &["--schedule", "* * * * * *"], &orchestrator);
    assert!(stdout.contains("schedule `* * * * * *` (UTC): next run "), "{stdout}");
    let started = std::time::Instant::now();
    let scheduled = loop {
        let (_, list) = orchestrator.api("GET", "/api/runs?pipeline=every-second&state=succeeded", None);
        let runs = list["runs"].as_array().unwrap().clone();
        if runs.len() >= 2 {
            break runs;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the schedule did not fire twice: {list}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(scheduled.iter().all(|r| r["trigger"] == "schedule"));
    assert_ne!(scheduled[0]["created_ms"], scheduled[1]["created_ms"]);
    assert_eq!(orchestrator.api("DELETE", "/api/pipelines/every-second", None).0, 204);
    // A bad expression or zone is refused with the reason.
    let (code, _, stderr) = finished(cli(
        client.path(),
        &orchestrator,
        ADMIN_KEY,
        &["deploy", "-f", "tick.yml", "--name", "bad", "--schedule", "61 * * * *"],
    ));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("is not a cron expression"), "{stderr}");

    // Yearly schedules, whose tick is moved into the past while the orchestrator is down.
    deploy("catching-up", &["--schedule", "0 0 1 1 *"], &orchestrator);
    deploy("skipping", &["--schedule", "0 0 1 1 *", "--no-catch-up"], &orchestrator);
    orchestrator.process.kill9();
    let database = orchestrator_dir.path().join("orchestrator.db");
    let past = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() - 60_000;
    let moved = std::process::Command::new("python3")
        .args(["-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('UPDATE schedules SET next_fire_ms = ?', (int(sys.argv[2]),)); c.commit()"])
        .arg(&database)
        .arg(past.to_string())
        .output()
        .unwrap();
    assert!(moved.status.success(), "{}", String::from_utf8_lossy(&moved.stderr));
    orchestrator.crash_and_restart();
    orchestrator.process.wait_for("scheduled run", 1, |e| e["fields"]["pipeline"] == "catching-up");
    orchestrator
        .process
        .wait_for("skipped a missed tick (catch_up: false)", 1, |e| e["fields"]["pipeline"] == "skipping");
    std::thread::sleep(Duration::from_secs(2));
    let (_, caught) = orchestrator.api("GET", "/api/runs?pipeline=catching-up", None);
    assert_eq!(caught["runs"].as_array().unwrap().len(), 1, "one run for the missed tick: {caught}");
    let (_, skipped) = orchestrator.api("GET", "/api/runs?pipeline=skipping", None);
    assert_eq!(skipped["runs"], json!([]), "{skipped}");
    let (_, shown) = orchestrator.api("GET", "/api/pipelines/catching-up", None);
    let next = shown["schedules"][0]["next_fire_ms"].as_i64().unwrap();
    assert!(next as u128 > past + 60_000, "the next tick is in the future: {shown}");
}

#[test]
fn a_new_file_starts_one_run_even_across_a_restart() {
    let data = workspace();
    let orchestrator_dir = tempfile::tempdir().unwrap();
    // Local triggers watch directories under the orchestrator's data directory; the
    // executor (on the same machine here) is allowed to read them.
    let incoming = std::fs::canonicalize(orchestrator_dir.path()).unwrap().join("incoming");
    std::fs::create_dir_all(&incoming).unwrap();
    std::fs::write(incoming.join("old.csv"), "n\n1\n").unwrap();
    let mut orchestrator = Orchestrator::start(orchestrator_dir.path(), &[]);
    let allowed = [data.path().to_str().unwrap(), incoming.to_str().unwrap()];
    let _a = ManagedExecutor::start(
        data.path(),
        &orchestrator,
        "exec-a",
        &["--allow-location", allowed[0], "--allow-location", allowed[1]],
    );
    let client = tempfile::tempdir().unwrap();
    let spec = "sources:
  - type: file
    name: arrived
    format: {type: csv, options: {}}
    location: ${path}
stages:
  - name: summed
    query: SELECT sum(n) AS total FROM arrived
destination:
  type: file
  name: out
  location: ./out/arrived.csv
  format: {type: csv, options: {has_header: false}}
";
    std::fs::write(client.path().join("arrivals.yml"), spec).unwrap();
    let location = "incoming";
    // Outside the data directory: refused.
    let outside = data.path().to_str().unwrap();
    let args = ["deploy", "-f", "arrivals.yml", "--name", "arrivals", "--trigger-files", outside];
    let (code, _, stderr) = finished(cli(client.path(), &orchestrator, ADMIN_KEY, &args));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("outside the orchestrator's data directory"), "{stderr}");
    let args = [
        "deploy",
        "-f",
        "arrivals.yml",
        "--name",
        "arrivals",
        "-p",
        "path=none",
        "--trigger-files",
        location,
        "--trigger-interval",
        "1",
    ];
    // Checked with the default `path`, which does not exist: deployed unchecked instead.
    let (code, _, stderr) = finished(cli(client.path(), &orchestrator, ADMIN_KEY, &args));
    assert_eq!(code, Some(1), "{stderr}");
    std::fs::write(client.path().join("sample.csv"), "n\n0\n").unwrap();
    std::fs::copy(client.path().join("sample.csv"), data.path().join("sample.csv")).unwrap();
    let sample = data.path().join("sample.csv");
    let args = [
        "deploy",
        "-f",
        "arrivals.yml",
        "--name",
        "arrivals",
        "-p",
        &format!("path={}", sample.display()),
        "--trigger-files",
        location,
        "--trigger-interval",
        "1",
    ];
    let (code, _, stderr) = finished(cli(client.path(), &orchestrator, ADMIN_KEY, &args));
    assert_eq!(code, Some(0), "{stderr}");
    orchestrator.process.wait_for("file trigger started", 1, |_| true);

    let runs_of = |orchestrator: &Orchestrator| {
        let (_, list) = orchestrator.api("GET", "/api/runs?pipeline=arrivals", None);
        list["runs"].as_array().unwrap().clone()
    };
    let wait_runs = |orchestrator: &Orchestrator, count: usize| {
        let started = std::time::Instant::now();
        loop {
            let runs = runs_of(orchestrator);
            if runs.len() >= count && runs.iter().all(|r| r["state"] == "succeeded") {
                return runs;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "{runs:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    std::fs::write(incoming.join("a.csv"), "n\n2\n3\n").unwrap();
    let runs = wait_runs(&orchestrator, 1);
    assert_eq!(runs.len(), 1, "the file present before the trigger started no run: {runs:?}");
    assert_eq!(runs[0]["trigger"], "file");
    assert_eq!(runs[0]["params"]["path"], incoming.join("a.csv").to_str().unwrap());
    assert_eq!(std::fs::read_to_string(data.path().join("out/arrived.csv")).unwrap().trim(), "5");

    // The same file written again, across a restart: no run; a new file: one.
    orchestrator.crash_and_restart();
    std::fs::write(incoming.join("a.csv"), "n\n7\n").unwrap();
    std::fs::write(incoming.join("b.csv"), "n\n10\n").unwrap();
    let runs = wait_runs(&orchestrator, 2);
    std::thread::sleep(Duration::from_secs(3));
    let runs_after = runs_of(&orchestrator);
    assert_eq!(runs_after.len(), 2, "{runs_after:?}");
    assert_eq!(runs[0]["params"]["path"], incoming.join("b.csv").to_str().unwrap());
    let (_, shown) = orchestrator.api("GET", "/api/pipelines/arrivals", None);
    assert_eq!(shown["file_trigger"]["location"], location, "{shown}");
}

#[test]
fn a_file_arriving_in_an_s3_bucket_starts_a_run() {
    let var = |name: &str| common::service_var(name, "the object store servers");
    let (endpoint, key_id, secret) = (
        var("AQUEDUCTS_TEST_S3_ENDPOINT"),
        var("AQUEDUCTS_TEST_S3_ACCESS_KEY_ID"),
        var("AQUEDUCTS_TEST_S3_SECRET_ACCESS_KEY"),
    );
    let bucket = format!("trigger-{}", std::process::id());
    let client = format!(
        "import boto3\nclient = boto3.client('s3', endpoint_url={endpoint:?}, aws_access_key_id={key_id:?}, aws_secret_access_key={secret:?}, region_name='us-east-1')"
    );
    common::run_python(
        Path::new("."),
        &format!(
            "{client}\nclient.create_bucket(Bucket={bucket:?})\nclient.put_object(Bucket={bucket:?}, Key='in/old.csv', Body=b'n\\n1\\n')"
        ),
    );
    let data = workspace();
    let orchestrator_dir = tempfile::tempdir().unwrap();
    let orchestrator = Orchestrator::start(orchestrator_dir.path(), &[]);
    let _a = ManagedExecutor::start(data.path(), &orchestrator, "exec-a", &[]);
    let spec = "sources: []\nstages:\n  - name: named\n    query: SELECT '${path}' AS arrived\n";
    let deploy = json!({
        "spec": {"text": spec, "format": "yaml", "name": "s3.yml"},
        "params": {"path": "none"},
        "file_trigger": {
            "location": format!("s3://{bucket}/in/"),
            "interval_seconds": 1,
            "storage_config": {"AWS_ENDPOINT": endpoint, "AWS_ALLOW_HTTP": "true", "aws_access_key_id": key_id, "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": "us-east-1"}
        }
    });
    let (status, deployed) = orchestrator.api("PUT", "/api/pipelines/from-s3", Some(&deploy));
    assert_eq!(status, 200, "{deployed}");
    assert_eq!(deployed["file_trigger"]["storage_config"]["AWS_SECRET_ACCESS_KEY"], "***", "secrets are not shown");
    orchestrator.process.wait_for("file trigger started", 1, |_| true);
    common::run_python(
        Path::new("."),
        &format!("{client}\nclient.put_object(Bucket={bucket:?}, Key='in/new.csv', Body=b'n\\n2\\n')"),
    );
    let started = std::time::Instant::now();
    let runs = loop {
        let (_, list) = orchestrator.api("GET", "/api/runs?pipeline=from-s3&state=succeeded", None);
        let runs = list["runs"].as_array().unwrap().clone();
        if !runs.is_empty() {
            break runs;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no run for the new object: {}",
            orchestrator.process.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    std::thread::sleep(Duration::from_secs(2));
    let (_, all) = orchestrator.api("GET", "/api/runs?pipeline=from-s3", None);
    assert_eq!(all["runs"].as_array().unwrap().len(), 1, "only the new object: {all}");
    assert_eq!(runs[0]["params"]["path"], format!("s3://{bucket}/in/new.csv"));
}
