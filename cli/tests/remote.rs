//! Remote runs: a real `aqueducts-executor` process on loopback (random port), driven by
//! the `aqueducts` binary and, for malformed input, by a raw WebSocket client.

mod common;

use common::executor::{Client, Executor, KEY, executor_binary, raw_connect, raw_session, remote};
use common::{aqueducts, text, workspace};

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A pipeline that counts for as long as `rows` makes it, writing one number.
fn counting_spec(rows: u64, out: &str) -> String {
    format!(
        "sources:
  - type: file
    name: locations
    format: {{type: csv, options: {{}}}}
    location: ./examples/data/location_dict.csv
stages:
  - name: counted
    query: SELECT sum(value % 7) AS total FROM range({rows}) CROSS JOIN (SELECT count(*) AS n FROM locations)
destination:
  type: file
  name: out
  location: {out}
  format: {{type: csv, options: {{has_header: false}}}}
"
    )
}

/// The sum of `i % 7` for `i` in `0..rows`.
fn expected_total(rows: u64) -> u64 {
    (0..rows).map(|i| i % 7).sum()
}

/// A directory holding only `spec.yml`: the client has none of the data.
fn client_dir(spec: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spec.yml"), spec).unwrap();
    dir
}

#[test]
fn a_remote_run_writes_what_a_local_run_writes() {
    let executor_dir = workspace();
    let executor = Executor::start(executor_dir.path(), &[]);
    // The data exists only in the executor's working directory.
    let spec = std::fs::read_to_string(executor_dir.path().join("examples/simple.yml")).unwrap();
    let client = client_dir(&spec);
    let out = remote(client.path(), &executor, &["run", "-f", "spec.yml", "-p", "month=jan", "-p", "year=2024"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.lines().any(|l| l.starts_with("execution ") && l.contains(" on executor ")), "{stderr}");
    assert!(stderr.contains("wrote 84 rows to"), "{stderr}");
    assert!(text(&out.stdout).contains("stage `enriched` (10 rows shown)"), "{}", text(&out.stdout));
    assert!(!client.path().join("examples").exists());

    let local = workspace();
    let out = aqueducts(local.path(), &["run", "-f", "examples/simple.yml", "-p", "month=jan", "-p", "year=2024"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let output = "examples/output/daily_jan_2024.parquet";
    let remote_bytes = std::fs::read(executor_dir.path().join(output)).unwrap();
    assert_eq!(remote_bytes, std::fs::read(local.path().join(output)).unwrap(), "same output bytes");

    // An artifact compiled beforehand runs the same way.
    let plan = executor_dir.path().join("jan.aqp");
    let compiled = aqueducts(
        executor_dir.path(),
        &["plan", "-f", "examples/simple.yml", "-p", "month=jan", "-p", "year=2024", "--out", plan.to_str().unwrap()],
    );
    assert_eq!(compiled.status.code(), Some(0), "{}", text(&compiled.stderr));
    std::fs::remove_file(executor_dir.path().join(output)).unwrap();
    let out = remote(client.path(), &executor, &["run", "--plan", plan.to_str().unwrap(), "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(executor_dir.path().join(output)).unwrap(), remote_bytes);
    assert!(!executor.logs().contains(KEY), "the key is never logged");
}

#[test]
fn keys_are_checked_and_health_without_the_key_says_only_ok() {
    let dir = workspace();
    let executor = Executor::start(dir.path(), &["--executor-id", "exec-a"]);
    // Without the key (or with a wrong one) the health reply says nothing but its status.
    for key in [None, Some("wrong")] {
        let (status, body) = executor.get("/api/health", key);
        assert_eq!(status, 200, "{body}");
        let json = body.lines().find(|l| l.starts_with('{')).unwrap();
        assert_eq!(serde_json::from_str::<serde_json::Value>(json).unwrap(), serde_json::json!({"status": "ok"}));
    }
    let health = executor.health();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["executor_id"], "exec-a");
    assert_eq!(health["running"], 0);
    assert_eq!(health["queued"], 0);
    assert!(health["version"].is_string());

    assert_eq!(executor.get("/ws/connect", None).0, 401);
    assert_eq!(executor.get("/ws/connect", Some("wrong")).0, 401);
    assert_eq!(executor.get("/ws/connect", Some("")).0, 401);

    let spec = counting_spec(10, "./out/n.csv");
    let client = client_dir(&spec);
    let run = |key: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_aqueducts"));
        command.args(["run", "-f", "spec.yml", "--executor", &executor.address]).current_dir(client.path());
        command.env_remove("AQUEDUCTS_API_KEY");
        if let Some(key) = key {
            command.args(["--api-key", key]);
        }
        command.output().unwrap()
    };
    let wrong = run(Some("wrong-key"));
    assert_eq!(wrong.status.code(), Some(1));
    assert!(text(&wrong.stderr).contains("the executor refused the API key (HTTP 401)"), "{}", text(&wrong.stderr));
    for missing in [None, Some("")] {
        let out = run(missing);
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out.stderr).contains("--api-key is needed with --executor"), "{}", text(&out.stderr));
    }
    let logs = executor.logs();
    assert!(!logs.contains("wrong-key") && !logs.contains(KEY), "keys never appear in logs: {logs}");
}

#[test]
fn clients_of_another_protocol_version_are_refused_with_the_reason() {
    use aqueducts_protocol::{PROTOCOL_HEADER, PROTOCOL_VERSION};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let dir = workspace();
    let executor = Executor::start(dir.path(), &[]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for (offered, reason) in [(Some("999"), "the client 999"), (None, "did not say which protocol it speaks")] {
        let mut request = format!("ws://{}/ws/connect", executor.address).into_client_request().unwrap();
        request.headers_mut().insert("X-API-Key", KEY.parse().unwrap());
        if let Some(version) = offered {
            request.headers_mut().insert(PROTOCOL_HEADER, version.parse().unwrap());
        }
        match runtime.block_on(tokio_tungstenite::connect_async(request)) {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status().as_u16(), 400);
                let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).into_owned();
                assert!(body.contains(reason), "{body}");
                assert!(
                    body.contains(&format!("speaks protocol version {PROTOCOL_VERSION}"))
                        || body.contains(&format!("speaks version {PROTOCOL_VERSION}")),
                    "{body}"
                );
            }
            Ok(_) => panic!("a client offering {offered:?} was let in"),
            Err(other) => panic!("unexpected failure: {other}"),
        }
    }
    // The health reply says which version the executor speaks.
    assert_eq!(executor.health()["protocol_version"], PROTOCOL_VERSION);
}

/// A store request on a raw connection, and the executor's reply to it.
fn store_request(executor: &Executor, operation: serde_json::Value) -> serde_json::Value {
    use tokio_tungstenite::tungstenite::Message;
    let request = serde_json::json!({"type": "store", "request": 7, "operation": operation});
    let replies = raw_session(executor, vec![Message::Text(request.to_string().into())], |r| !r.is_empty());
    serde_json::from_str(&replies[0]).unwrap()
}

#[test]
fn an_executor_without_allow_location_keeps_to_its_data_directory() {
    let dir = workspace();
    let executor = Executor::start(dir.path(), &[]);
    // A key holder can neither read the machine's files nor list them.
    let passwd =
        store_request(&executor, serde_json::json!({"op": "get", "path": "/etc/passwd", "start": 0, "end": 64}));
    assert_eq!(passwd["answer"]["kind"], "refused", "{passwd}");
    let root = store_request(&executor, serde_json::json!({"op": "list", "prefix": "/", "recursive": false}));
    assert_eq!(root["answer"]["kind"], "refused", "{root}");
    let inside = dir.path().join("examples/data/location_dict.csv");
    let head = store_request(&executor, serde_json::json!({"op": "head", "path": inside.to_str().unwrap()}));
    assert_eq!(head["answer"]["kind"], "file", "{head}");
    // Nor write over a file elsewhere.
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("authorized_keys");
    std::fs::write(&target, "ssh-ed25519 AAAA mine\n").unwrap();
    let client = client_dir(&counting_spec(10, target.to_str().unwrap()));
    let out = remote(client.path(), &executor, &["run", "-f", "spec.yml"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("outside the locations this executor allows"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "ssh-ed25519 AAAA mine\n");
    // Nor replace the data directory itself (its staging would sit outside it).
    let whole = counting_spec(10, "./out/n.csv")
        .replace("location: ./out/n.csv", &format!("location: {}\n  single_file: false", dir.path().display()));
    let client = client_dir(&whole);
    let out = remote(client.path(), &executor, &["run", "-f", "spec.yml"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("which is an allowed location itself"), "{stderr}");
    assert!(dir.path().join("examples/data/location_dict.csv").exists());
    // Inside its data directory a plan runs as before.
    let client = client_dir(&counting_spec(10, "./out/n.csv"));
    let out = remote(client.path(), &executor, &["run", "-f", "spec.yml", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // `*` allows everything, and says so at start.
    let open = Executor::start(dir.path(), &["--allow-location", "*"]);
    // Logged just after `listening`, which is what `start` waits for.
    open.wait_for_log(
        "every location is allowed (--allow-location '*'): a key holder can read and write whatever this process can",
        1,
    );
    let client = client_dir(&counting_spec(10, target.to_str().unwrap()));
    let out = remote(client.path(), &open, &["run", "-f", "spec.yml", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_ne!(std::fs::read_to_string(&target).unwrap(), "ssh-ed25519 AAAA mine\n");
    // A separate data directory is what relative locations mean, and all that is allowed.
    let data = tempfile::tempdir().unwrap();
    let scoped = Executor::start(dir.path(), &["--data-dir", data.path().to_str().unwrap()]);
    let client = client_dir(
        &counting_spec(10, "./out/n.csv").replace("./examples/data/location_dict.csv", inside.to_str().unwrap()),
    );
    let out = remote(client.path(), &scoped, &["run", "-f", "spec.yml"]);
    assert_eq!(out.status.code(), Some(1), "reads outside the data directory are refused: {}", text(&out.stderr));
    std::fs::create_dir_all(data.path().join("examples/data")).unwrap();
    std::fs::copy(&inside, data.path().join("examples/data/location_dict.csv")).unwrap();
    let client = client_dir(&counting_spec(10, "./out/n.csv"));
    let out = remote(client.path(), &scoped, &["run", "-f", "spec.yml", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(data.path().join("out/n.csv").exists());
}

/// An executor in `dir` that allows its data directory and databases, with `env`.
fn database_executor(dir: &Path, env: &[(&str, &str)]) -> Executor {
    let data = dir.to_str().unwrap();
    let args = ["--host", "127.0.0.1", "--port", "0", "--api-key", KEY];
    let allowed = ["--allow-location", "odbc://", "--allow-location", data];
    Executor::spawn(dir, &[&args[..], &allowed[..]].concat(), env)
}

/// A spec reading a database with a declared schema (so it compiles without one).
fn database_spec(connection_string: &str, destination: &str) -> String {
    format!(
        "sources:
  - type: odbc
    name: db
    connection_string: '{connection_string}'
    load_query: SELECT 1 AS one
    schema:
      - {{ name: one, data_type: int32 }}
stages:
  - name: result
    query: SELECT one FROM db
    show: 1
{destination}"
    )
}

#[test]
fn driver_libraries_and_custom_sql_need_the_executors_consent() {
    use tokio_tungstenite::tungstenite::Message;
    let dir = workspace();
    let data = dir.path().to_str().unwrap();
    let executor = Executor::start(dir.path(), &["--allow-location", "odbc://", "--allow-location", data]);
    let plan = |spec: &str| {
        std::fs::write(dir.path().join("db.yml"), spec).unwrap();
        let out = aqueducts(dir.path(), &["plan", "-f", "db.yml", "--out", "db.aqp"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        Message::Binary(std::fs::read(dir.path().join("db.aqp")).unwrap().into())
    };
    let first_reply = |executor: &Executor, artifact: Message| {
        raw_session(executor, vec![artifact], |r| !r.is_empty()).into_iter().next().unwrap_or_default()
    };
    // A driver given by its path would be loaded into the executor: refused.
    let library = plan(&database_spec("Driver=/tmp/libevil.so;Server=db", ""));
    let reply = first_reply(&executor, library);
    assert!(reply.contains("not registered in this executor's odbcinst.ini"), "{reply}");
    assert!(!reply.contains("libevil"), "{reply}");
    let file_dsn = plan(&database_spec("FILEDSN=/tmp/evil.dsn", ""));
    assert!(first_reply(&executor, file_dsn).contains("`filedsn`"));
    // A registered driver passes the gate (the run then fails to connect: nothing listens).
    let registered = "Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=1";
    let accepted = first_reply(&executor, plan(&database_spec(registered, "")));
    assert!(accepted.contains("\"accepted\""), "{accepted}");
    // Custom SQL runs only where the executor allows it.
    let custom = format!(
        "destination:
  type: odbc
  name: t
  connection_string: '{registered}'
  write_mode:
    operation: custom
    transaction:
      insert: INSERT INTO t VALUES (?)
"
    );
    let reply = first_reply(&executor, plan(&database_spec(registered, &custom)));
    assert!(reply.contains("--allow-custom-sql"), "{reply}");
    let consenting =
        Executor::start(dir.path(), &["--allow-location", "odbc://", "--allow-location", data, "--allow-custom-sql"]);
    let reply = first_reply(&consenting, plan(&database_spec(registered, &custom)));
    assert!(reply.contains("\"accepted\""), "{reply}");
}

/// A file of `mib` MiB in `dir`, for large `get` replies.
fn big_file(dir: &Path, mib: usize) -> std::path::PathBuf {
    let path = dir.join("big.bin");
    std::fs::write(&path, vec![7u8; mib * 1024 * 1024]).unwrap();
    path
}

/// `count` store requests for 4 MiB of `path`, as text frames.
fn get_requests(path: &Path, count: u64) -> Vec<tokio_tungstenite::tungstenite::Message> {
    (1..=count)
        .map(|request| {
            let operation =
                serde_json::json!({"op": "get", "path": path.to_str().unwrap(), "start": 0, "end": 4 * 1024 * 1024});
            let message = serde_json::json!({"type": "store", "request": request, "operation": operation});
            tokio_tungstenite::tungstenite::Message::Text(message.to_string().into())
        })
        .collect()
}

#[test]
fn a_client_that_does_not_read_holds_back_only_itself() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let dir = workspace();
    let executor = Executor::start(dir.path(), &[]);
    let file = big_file(dir.path(), 4);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        // 150 requests of 4 MiB, and nothing read for a while: before, the executor
        // queued every reply (600 MiB and more).
        let mut socket = raw_connect(&executor).await;
        for request in get_requests(&file, 150) {
            socket.send(request).await.unwrap();
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        // Another client is served meanwhile.
        let mut other = raw_connect(&executor).await;
        other.send(Message::Text(r#"{"type":"cancel","execution_id":"none"}"#.into())).await.unwrap();
        let reply = tokio::time::timeout(Duration::from_secs(10), other.next()).await.unwrap().unwrap().unwrap();
        assert!(reply.to_text().unwrap().contains("cancel_reply"), "{reply:?}");
        // Every reply arrives, in order, once the client reads.
        let mut next = 1u64;
        while next <= 150 {
            match tokio::time::timeout(Duration::from_secs(30), socket.next()).await.unwrap().unwrap().unwrap() {
                Message::Binary(frame) => {
                    assert_eq!(u64::from_le_bytes(frame[..8].try_into().unwrap()), next);
                    assert_eq!(frame.len(), 8 + 4 * 1024 * 1024);
                    next += 1;
                }
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    });
    let peak = executor.peak_rss_mib();
    eprintln!("executor peak RSS with 150 unread 4 MiB replies: {peak} MiB");
    assert!(peak < 200, "the executor held {peak} MiB for one client's unread replies");
}

#[test]
fn oversized_control_messages_and_half_sent_requests_are_cut_short() {
    use std::io::{Read, Write};
    use tokio_tungstenite::tungstenite::Message;
    let dir = workspace();
    let executor = Executor::start(dir.path(), &["--max-connections", "2"]);
    // A 24 MiB text message is refused without being parsed (parsing it cost 420 MB).
    let text =
        format!(r#"{{"type":"store","request":1,"operation":{{"op":"head","path":"{}"}}}}"#, "x".repeat(24 << 20));
    let replies = raw_session(&executor, vec![Message::Text(text.into())], |r| !r.is_empty());
    assert!(
        replies[0].contains("control messages are at most 1048576 bytes"),
        "{}",
        &replies[0][..200.min(replies[0].len())]
    );
    let peak = executor.peak_rss_mib();
    eprintln!("executor peak RSS after a 24 MiB text message: {peak} MiB");
    assert!(peak < 200, "{peak} MiB");
    // Requests whose headers never end are closed after the header timeout.
    let mut half_sent: Vec<std::net::TcpStream> = (0..200)
        .map(|_| {
            let mut stream = std::net::TcpStream::connect(&executor.address).unwrap();
            stream.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n").unwrap();
            stream
        })
        .collect();
    let started = Instant::now();
    for stream in &mut half_sent {
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut buf = [0u8; 256];
        let read = stream.read(&mut buf).unwrap_or(0);
        assert!(
            read == 0 || String::from_utf8_lossy(&buf[..read]).contains("408"),
            "{}",
            String::from_utf8_lossy(&buf[..read])
        );
    }
    assert!(started.elapsed() < Duration::from_secs(25), "closed after {:?}", started.elapsed());
    // A wrong key waits before its refusal; a guesser is also throttled in the log.
    let started = Instant::now();
    for _ in 0..5 {
        assert_eq!(executor.get("/ws/connect", Some("guess")).0, 401);
    }
    assert!(started.elapsed() >= Duration::from_millis(2000), "{:?}", started.elapsed());
    assert!(executor.events("refused a connection: wrong or missing API key").len() < 5, "{}", executor.logs());
    // Past --max-connections a client is refused until one leaves.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let first = raw_connect(&executor).await;
        let second = raw_connect(&executor).await;
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{}/ws/connect", executor.address).into_client_request().unwrap();
        request.headers_mut().insert("X-API-Key", KEY.parse().unwrap());
        request.headers_mut().insert("X-Aqueducts-Protocol", "1".parse().unwrap());
        match tokio_tungstenite::connect_async(request).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status().as_u16(), 503),
            other => panic!("a third connection was not refused: {:?}", other.map(|_| ())),
        }
        drop((first, second));
    });
}

#[test]
fn a_run_over_the_executors_time_limit_is_stopped() {
    let dir = workspace();
    let executor = Executor::start(dir.path(), &["--max-run-duration", "1"]);
    let client = client_dir(&counting_spec(200_000_000, "./out/slow.csv"));
    let started = Instant::now();
    let out = remote(client.path(), &executor, &["run", "-f", "spec.yml"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("took longer than this executor allows (1 s"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(!dir.path().join("out/slow.csv").exists());
}

#[test]
fn fifty_clients_at_once_are_all_answered() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let dir = workspace();
    let executor = Executor::start(dir.path(), &["--max-queue", "64"]);
    let file = big_file(dir.path(), 4);
    // 16 runs through the CLI, 24 raw clients reading files, 10 cancelling.
    let runs: Vec<(Client, tempfile::TempDir)> = (0..16)
        .map(|i| {
            let client = client_dir(&counting_spec(1000, &format!("./out/load_{i}.csv")));
            (Client::start(client.path(), &executor, &["run", "-f", "spec.yml", "-q"]), client)
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let answered = runtime.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..34 {
            let (executor, file) = (&executor, file.clone());
            let mut socket = raw_connect(executor).await;
            tasks.push(async move {
                if i < 24 {
                    for request in get_requests(&file, 8) {
                        socket.send(request).await.unwrap();
                    }
                    let mut next = 1u64;
                    while next <= 8 {
                        if let Message::Binary(frame) = socket.next().await.unwrap().unwrap() {
                            assert_eq!(u64::from_le_bytes(frame[..8].try_into().unwrap()), next, "in order");
                            next += 1;
                        }
                    }
                } else {
                    let cancel = format!(r#"{{"type":"cancel","execution_id":"gone-{i}"}}"#);
                    socket.send(Message::Text(cancel.into())).await.unwrap();
                    let reply = socket.next().await.unwrap().unwrap();
                    assert!(reply.to_text().unwrap().contains("\"unknown\""), "{reply:?}");
                }
                1
            });
        }
        futures::future::join_all(tasks).await.into_iter().sum::<usize>()
    });
    assert_eq!(answered, 34);
    for (client, _dir) in runs {
        let (code, stderr) = client.finish(Duration::from_secs(180));
        assert_eq!(code, Some(0), "{stderr}");
    }
    assert_eq!(std::fs::read_dir(dir.path().join("out")).unwrap().count(), 16);
    let peak = executor.peak_rss_mib();
    eprintln!("executor peak RSS with 50 clients at once: {peak} MiB");
    assert!(peak < 768, "{peak} MiB");
    // The next client is served normally.
    executor.wait_idle();
    let client = client_dir(&counting_spec(10, "./out/after.csv"));
    let out = remote(client.path(), &executor, &["run", "-f", "spec.yml", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// An artifact of one stage: `plan` as what it shows, `write` as its write.
fn crafted_artifact(
    plan: Option<std::sync::Arc<dyn datafusion::physical_plan::ExecutionPlan>>,
    write: Option<aqueducts_runtime::output::Write>,
) -> Vec<u8> {
    let stage = aqueducts_runtime::StagePlans {
        name: "s".into(),
        plan,
        show: Some(1),
        print_schema: false,
        explain: false,
        explain_analyze: false,
        write,
        materialize: None,
    };
    aqueducts_runtime::artifact::encode(&aqueducts_runtime::ExecutablePipeline { stages: vec![stage], stores: vec![] })
        .unwrap()
}

#[test]
fn artifacts_that_hide_a_write_are_refused() {
    use datafusion::datasource::file_format::csv::CsvSink;
    use datafusion::datasource::physical_plan::FileSink;
    use datafusion::datasource::sink::DataSinkExec;
    use datafusion::execution::object_store::ObjectStoreUrl;
    use tokio_tungstenite::tungstenite::Message;
    let dir = workspace();
    let executor = Executor::start(dir.path(), &[]);
    // A sink inside the plan a stage shows, aimed inside the data directory: it would
    // write there unstaged, outside the write the compiler made.
    let target = dir.path().join("hidden.csv");
    let ctx = datafusion::prelude::SessionContext::new();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let copy = runtime.block_on(async {
        let sql = format!("COPY (SELECT 1 AS a) TO '{}' STORED AS CSV", target.display());
        ctx.sql(&sql).await.unwrap().create_physical_plan().await.unwrap()
    });
    let nested = crafted_artifact(Some(copy.clone()), None);
    let replies = raw_session(&executor, vec![Message::Binary(nested.into())], |r| !r.is_empty());
    assert!(replies[0].contains("outside its compiled write"), "{replies:?}");
    assert!(!target.exists());
    // A write whose path is in the data directory but whose store is another bucket.
    let exec = copy.as_ref().downcast_ref::<DataSinkExec>().unwrap();
    let csv = exec.sink().downcast_ref::<CsvSink>().unwrap();
    let mut config = csv.config().clone();
    config.object_store_url = ObjectStoreUrl::parse("s3://other").unwrap();
    let sink = std::sync::Arc::new(CsvSink::new(config, csv.writer_options().clone()));
    let redirected = std::sync::Arc::new(DataSinkExec::new(exec.input().clone(), sink, None));
    let write = aqueducts_runtime::output::Write::from_plan(redirected).unwrap();
    let elsewhere = crafted_artifact(None, Some(write));
    let replies = raw_session(&executor, vec![Message::Binary(elsewhere.into())], |r| !r.is_empty());
    assert!(replies[0].contains("through the store `s3://other/`"), "{replies:?}");
}

#[test]
fn a_secret_outside_a_credential_never_reaches_the_driver() {
    use aqueducts_runtime::access::secrets::reference;
    use aqueducts_runtime::io::odbc::{ConnectionString, OdbcScanExec};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use tokio_tungstenite::tungstenite::Message;
    let dir = workspace();
    let secret = "s3cr3t-value-that-must-not-travel";
    let executor = database_executor(dir.path(), &[("AQ_TEST_SECRET_IN_SERVER", secret)]);
    // Built past the compiler, which refuses it: a secret where a driver would echo it.
    let connection = format!("Driver={{PostgreSQL Unicode}};Server={};Port=1", reference("AQ_TEST_SECRET_IN_SERVER"));
    let schema = std::sync::Arc::new(Schema::new(vec![Field::new("one", DataType::Int32, true)]));
    let scan = OdbcScanExec::new(ConnectionString::new(connection), "SELECT 1 AS one".into(), schema, None).unwrap();
    let artifact = crafted_artifact(Some(std::sync::Arc::new(scan)), None);
    let replies = raw_session(&executor, vec![Message::Binary(artifact.into())], |r| {
        r.iter().any(|m| m.contains("\"finished\"") || m.contains("\"error\""))
    });
    let finished = replies.iter().find(|m| m.contains("\"finished\"")).expect("the run ends");
    assert!(finished.contains("may only stand in a credential of a connection string"), "{finished}");
    assert!(replies.iter().all(|m| !m.contains(secret)), "{replies:?}");
    assert!(!executor.logs().contains(secret));
}

#[test]
fn executor_options_come_from_flags_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let refuse = |args: &[&str]| {
        let out = Command::new(executor_binary()).args(args).env_remove("AQUEDUCTS_API_KEY").output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        text(&out.stderr)
    };
    assert!(refuse(&["--api-key", ""]).contains("the API key must not be empty"));
    assert!(refuse(&[]).contains("--api-key"));
    assert!(refuse(&["--api-key", KEY, "--mode", "managed"]).contains("--mode managed needs --orchestrator-url"));
    assert!(refuse(&["--api-key", KEY, "--mode", "cluster"]).contains("`cluster` is not a mode"));
    assert!(refuse(&["--api-key", "change-me"]).contains("use at least 16"));

    let env = [
        ("AQUEDUCTS_API_KEY", KEY),
        ("AQUEDUCTS_HOST", "127.0.0.1"),
        ("AQUEDUCTS_PORT", "0"),
        ("AQUEDUCTS_EXECUTOR_ID", "from-env"),
        ("AQUEDUCTS_MAX_QUEUE", "3"),
    ];
    let from_env = Executor::spawn(dir.path(), &[], &env);
    assert_eq!(from_env.health()["executor_id"], "from-env");
    let flags_win = Executor::spawn(dir.path(), &["--executor-id", "from-flag"], &env);
    assert_eq!(flags_win.health()["executor_id"], "from-flag");
    assert!(from_env.events("listening")[0]["fields"]["max_queue"] == 3);
}

#[test]
fn five_clients_at_once_run_one_at_a_time_in_order() {
    let dir = workspace();
    let executor = Executor::start(dir.path(), &[]);
    let rows = 400_000;
    let clients: Vec<(Client, tempfile::TempDir)> = (0..5)
        .map(|i| {
            let client = client_dir(&counting_spec(rows, &format!("./out/total_{i}.csv")));
            (Client::start(client.path(), &executor, &["run", "-f", "spec.yml"]), client)
        })
        .collect();
    let mut saw_queue = false;
    for (client, _dir) in clients {
        let (code, stderr) = client.finish(Duration::from_secs(120));
        assert_eq!(code, Some(0), "{stderr}");
        saw_queue |= stderr.lines().any(|l| l.starts_with("queued: position ") && !l.contains("position 1 "));
    }
    assert!(saw_queue, "some client waited behind others and saw its position change");
    for i in 0..5 {
        let written = std::fs::read_to_string(dir.path().join(format!("out/total_{i}.csv"))).unwrap();
        assert_eq!(written.trim(), expected_total(rows).to_string());
    }
    // Never two runs at once: starts and ends alternate in the log.
    executor.wait_for_log("execution ended", 5);
    let order: Vec<&str> = executor
        .logs()
        .lines()
        .filter_map(|l| {
            if l.contains("\"execution started\"") {
                Some("start")
            } else if l.contains("\"execution ended\"") {
                Some("end")
            } else {
                None
            }
        })
        .collect();
    assert_eq!(order.len(), 10, "{order:?}");
    assert!(order.chunks(2).all(|pair| pair == ["start", "end"]), "one at a time: {order:?}");
}

#[test]
fn cancel_a_queued_and_a_running_execution() {
    let dir = workspace();
    let executor = Executor::start(dir.path(), &[]);
    let forever = client_dir(&counting_spec(1_000_000_000_000, "./out/forever.csv"));
    let running = Client::start(forever.path(), &executor, &["run", "-f", "spec.yml"]);
    let running_id = running.execution_id();
    executor.wait_for_log("execution started", 1);
    let queued = Client::start(forever.path(), &executor, &["run", "-f", "spec.yml"]);
    let queued_id = queued.execution_id();

    let cancel = |id: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_aqueducts"))
            .args(["cancel", "--executor", &executor.address, "--api-key", KEY, "--execution-id", id])
            .env_remove("AQUEDUCTS_API_KEY")
            .output()
            .unwrap();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let (code, stdout, stderr) = cancel(&queued_id);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains(&format!("cancelled execution {queued_id}")), "{stdout}");
    let (code, stderr) = queued.finish(Duration::from_secs(20));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("cancelled: the execution was stopped"), "{stderr}");

    let started = Instant::now();
    let (code, _, stderr) = cancel(&running_id);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stderr) = running.finish(Duration::from_secs(20));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("cancelled"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10), "a running execution stops promptly");
    executor.wait_idle();
    assert!(!dir.path().join("out").exists() || std::fs::read_dir(dir.path().join("out")).unwrap().count() == 0);

    let started = Instant::now();
    let (code, _, stderr) = cancel("no-such-execution");
    assert_eq!(code, Some(1));
    assert!(stderr.contains("has no queued or running execution `no-such-execution`"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(5), "an unknown id is answered promptly");
}

#[test]
fn a_client_that_disconnects_cancels_its_execution() {
    let dir = workspace();
    let executor = Executor::start(dir.path(), &[]);
    let forever = client_dir(&counting_spec(1_000_000_000_000, "./out/forever.csv"));
    let mut client = Client::start(forever.path(), &executor, &["run", "-f", "spec.yml"]);
    client.execution_id();
    executor.wait_for_log("execution started", 1);
    client.child.kill().unwrap(); // SIGKILL: the connection just drops
    let _ = client.child.wait();
    executor.wait_for_log("execution ended", 1);
    assert_eq!(executor.events("execution ended")[0]["fields"]["outcome"], "cancelled");
    executor.wait_idle();
    // The executor serves the next client normally.
    let next = client_dir(&counting_spec(1000, "./out/next.csv"));
    let out = remote(next.path(), &executor, &["run", "-f", "spec.yml", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/next.csv")).unwrap().trim(),
        expected_total(1000).to_string()
    );
}

/// An artifact with `header` (magic, format and DataFusion version) and one stage `x`
/// whose plan bytes are `plan`, under a valid hash.
fn artifact_with_plan(header: &[u8], plan: &[u8]) -> Vec<u8> {
    let mut body = vec![0, 0, 0, 0, 1, 0, 0, 0, 1, 0, b'x', 0];
    body.extend_from_slice(&0u64.to_le_bytes());
    body.extend_from_slice(&(plan.len() as u32).to_le_bytes());
    body.extend_from_slice(plan);
    body.extend_from_slice(&[0; 12]);
    let mut artifact = header.to_vec();
    artifact.extend_from_slice(&<sha2::Sha256 as sha2::Digest>::digest(&body));
    artifact.extend_from_slice(&body);
    artifact
}

/// A well-formed datafusion-proto plan that DataFusion 55.2 panics on while decoding:
/// an unnest whose recursion option names no column (`unnest.rs` unwraps it).
fn plan_that_panics_while_decoding() -> Vec<u8> {
    use datafusion_proto::protobuf::physical_plan_node::PhysicalPlanType;
    use datafusion_proto::protobuf::{
        EmptyExecNode, PhysicalPlanNode, RecursionUnnestOption, Schema, UnnestExecNode, UnnestOptions,
    };
    use prost::Message;
    let schema = Schema { columns: vec![], metadata: Default::default() };
    let empty = PhysicalPlanNode {
        physical_plan_type: Some(PhysicalPlanType::Empty(EmptyExecNode {
            schema: Some(schema.clone()),
            partitions: 1,
        })),
    };
    let recursion = RecursionUnnestOption { input_column: None, output_column: None, depth: 0 };
    let unnest = UnnestExecNode {
        input: Some(Box::new(empty)),
        schema: Some(schema),
        list_type_columns: vec![],
        struct_type_columns: vec![],
        options: Some(UnnestOptions { null_handling: 0, recursions: vec![recursion] }),
    };
    PhysicalPlanNode { physical_plan_type: Some(PhysicalPlanType::Unnest(Box::new(unnest))) }.encode_to_vec()
}

#[test]
fn bad_input_gets_an_error_reply_and_the_next_client_is_served() {
    use tokio_tungstenite::tungstenite::Message;
    let dir = workspace();
    let executor = Executor::start(dir.path(), &["--max-message-mb", "1"]);

    let oversized = raw_session(&executor, vec![Message::Binary(vec![0u8; 2 * 1024 * 1024].into())], |r| !r.is_empty());
    assert!(oversized.first().is_some_and(|r| r.contains("message too large")), "{oversized:?}");

    let replies = raw_session(
        &executor,
        vec![
            Message::Binary(b"not an artifact at all".to_vec().into()),
            Message::Text(r#"{"type":"launch","what":"rockets"}"#.into()),
            Message::Text("{{{ not json".into()),
        ],
        |r| r.len() >= 3,
    );
    assert!(replies[0].contains("refused the plan artifact: this is not an Aqueducts plan artifact"), "{replies:?}");
    assert!(replies[1].contains("unknown message type `launch`"), "{replies:?}");
    assert!(replies[2].contains("malformed message"), "{replies:?}");

    // A real artifact, then one from another DataFusion version and one whose plan bytes
    // are garbage under a valid hash (the decoder fails on them).
    let spec = dir.path().join("count.yml");
    std::fs::write(&spec, counting_spec(1000, "./out/after.csv")).unwrap();
    let plan = dir.path().join("count.aqp");
    let out = aqueducts(dir.path(), &["plan", "-f", "count.yml", "--out", plan.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let artifact = std::fs::read(&plan).unwrap();
    let version = aqueducts_runtime::DATAFUSION_VERSION.as_bytes();
    let at = artifact.windows(version.len()).position(|w| w == version).unwrap();
    let mut other_version = artifact.clone();
    other_version[at..at + version.len()].copy_from_slice(&b"99.9.9999"[..version.len()]);
    let header = &artifact[..at + version.len()];
    let junk: Vec<u8> = (0..64u32).map(|i| (i.wrapping_mul(2654435761) >> 7) as u8).collect();
    let garbage_plan = artifact_with_plan(header, &junk);
    let panicking_plan = artifact_with_plan(header, &plan_that_panics_while_decoding());
    let replies = raw_session(
        &executor,
        vec![
            Message::Binary(other_version.into()),
            Message::Binary(garbage_plan.into()),
            Message::Binary(panicking_plan.into()),
        ],
        |r| r.len() >= 3,
    );
    assert!(replies[0].contains("compiled with DataFusion 99.9.9"), "{replies:?}");
    assert!(replies[1].contains("cannot be decoded"), "{replies:?}");
    assert!(replies[2].contains("cannot be decoded: the decoder failed on these bytes"), "{replies:?}");
    let panics = executor.events("caught a panic");
    assert!(panics.iter().any(|e| e.to_string().contains("unnest.rs")), "{}", executor.logs());

    let out = remote(dir.path(), &executor, &["run", "--plan", plan.to_str().unwrap(), "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/after.csv")).unwrap().trim(),
        expected_total(1000).to_string()
    );
}

#[test]
fn a_run_over_the_memory_limit_fails_and_the_executor_keeps_serving() {
    let dir = workspace();
    let executor = Executor::start(dir.path(), &["--max-memory", "0.001"]);
    // An aggregate into one list cannot spill: it needs more than 1 MiB.
    let spec = counting_spec(10, "./out/big.csv").replace(
        "SELECT sum(value % 7) AS total FROM range(10)",
        "SELECT array_length(array_agg(value)) AS total FROM range(2000000)",
    );
    let client = client_dir(&spec);
    let out = remote(client.path(), &executor, &["run", "-f", "spec.yml"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Resources exhausted"), "{stderr}");
    assert!(stderr.contains("help: this stage needs more memory than the executor's --max-memory"), "{stderr}");
    let small = client_dir(&counting_spec(100, "./out/small.csv"));
    let out = remote(small.path(), &executor, &["run", "-f", "spec.yml", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/small.csv")).unwrap().trim(),
        expected_total(100).to_string()
    );
}

#[test]
fn plans_outside_the_allowed_locations_are_refused() {
    let dir = workspace();
    let allowed = dir.path().join("examples/data");
    let executor =
        Executor::start(dir.path(), &["--allow-location", allowed.to_str().unwrap(), "--allow-location", "out"]);
    let client = client_dir(&counting_spec(10, "./elsewhere/n.csv"));
    let out = remote(client.path(), &executor, &["run", "-f", "spec.yml"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("outside the locations this executor allows"), "{stderr}");
    assert!(stderr.contains("elsewhere/n.csv"), "{stderr}");
    assert!(!dir.path().join("elsewhere").exists());
    // Reading outside is refused while compiling already.
    let outside = counting_spec(10, "./out/n.csv").replace("./examples/data/location_dict.csv", "/etc/hostname");
    let client = client_dir(&outside);
    let out = remote(client.path(), &executor, &["run", "-f", "spec.yml"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("cannot read `/etc/hostname`") && stderr.contains("is outside the locations"), "{stderr}");
    // Inside, it runs.
    let inside = client_dir(&counting_spec(10, "./out/n.csv"));
    let out = remote(inside.path(), &executor, &["run", "-f", "spec.yml", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // A plan that scans a file under an allowed prefix runs too.
    let scan = counting_spec(10, "./out/names.csv").replace(
        "SELECT sum(value % 7) AS total FROM range(10) CROSS JOIN (SELECT count(*) AS n FROM locations)",
        "SELECT location_name FROM locations ORDER BY 1",
    );
    let client = client_dir(&scan);
    let out = remote(client.path(), &executor, &["run", "-f", "spec.yml", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(dir.path().join("out/names.csv")).unwrap(), "Graz\nLinz\nVienna\n");
}

#[test]
fn a_wss_run_with_a_self_signed_certificate() {
    let dir = workspace();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let executor =
        Executor::start(dir.path(), &["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]);
    let port = executor.address.rsplit(':').next().unwrap().to_string();
    let client = client_dir(&counting_spec(500, "./out/tls.csv"));
    let url = format!("wss://localhost:{port}");
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "-f", "spec.yml", "-q", "--executor", &url, "--api-key", KEY];
        args.extend_from_slice(extra);
        let out =
            Command::new(env!("CARGO_BIN_EXE_aqueducts")).args(&args).current_dir(client.path()).output().unwrap();
        (out.status.code(), text(&out.stderr))
    };
    let (code, stderr) = run(&[]);
    assert_eq!(code, Some(1), "an unknown certificate is refused");
    assert!(stderr.contains("cannot connect to the executor"), "{stderr}");
    let (code, stderr) = run(&["--ca-cert", cert.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/tls.csv")).unwrap().trim(),
        expected_total(500).to_string()
    );
}

#[test]
fn ctrl_c_in_the_client_cancels_the_remote_execution() {
    let dir = workspace();
    let executor = Executor::start(dir.path(), &[]);
    let forever = client_dir(&counting_spec(1_000_000_000_000, "./out/forever.csv"));
    let client = Client::start(forever.path(), &executor, &["run", "-f", "spec.yml"]);
    client.execution_id();
    executor.wait_for_log("execution started", 1);
    let _ = Command::new("kill").args(["-INT", &client.child.id().to_string()]).status();
    let (code, stderr) = client.finish(Duration::from_secs(20));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("interrupted: cancelling the execution on the executor"), "{stderr}");
    assert!(stderr.contains("cancelled: the execution was stopped"), "{stderr}");
    executor.wait_for_log("execution ended", 1);
    assert_eq!(executor.events("execution ended")[0]["fields"]["outcome"], "cancelled");
    executor.wait_idle();
}

#[test]
fn messages_of_an_execution_arrive_in_order_and_finished_is_last() {
    use tokio_tungstenite::tungstenite::Message;
    let dir = workspace();
    let executor = Executor::start(dir.path(), &[]);
    // A slow run, then a quick one on the same connection: the quick one waits.
    let mut artifacts = Vec::new();
    for (name, rows) in [("slow", 2_000_000), ("quick", 1000)] {
        std::fs::write(dir.path().join(format!("{name}.yml")), counting_spec(rows, &format!("./out/{name}.csv")))
            .unwrap();
        let plan = dir.path().join(format!("{name}.aqp"));
        let out = aqueducts(dir.path(), &["plan", "-f", &format!("{name}.yml"), "--out", plan.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        artifacts.push(Message::Binary(std::fs::read(&plan).unwrap().into()));
    }
    let replies =
        raw_session(&executor, artifacts, |r| r.iter().filter(|m| m.contains("\"type\":\"finished\"")).count() == 2);
    let parsed: Vec<serde_json::Value> = replies.iter().map(|r| serde_json::from_str(r).unwrap()).collect();
    let ids: Vec<String> = parsed
        .iter()
        .filter(|m| m["type"] == "accepted")
        .map(|m| m["execution_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2, "{replies:?}");
    for id in &ids {
        let kinds: Vec<&str> =
            parsed.iter().filter(|m| m["execution_id"] == id.as_str()).map(|m| m["type"].as_str().unwrap()).collect();
        let rank = |kind: &str| {
            ["accepted", "queued", "started", "progress", "finished"].iter().position(|k| *k == kind).unwrap()
        };
        assert!(kinds.windows(2).all(|w| rank(w[0]) <= rank(w[1])), "in order: {kinds:?}");
        assert_eq!(kinds.first(), Some(&"accepted"));
        assert_eq!(kinds.last(), Some(&"finished"), "{kinds:?}");
        assert_eq!(kinds.iter().filter(|k| **k == "finished").count(), 1);
        assert!(kinds.contains(&"progress"), "{kinds:?}");
    }
    let second: Vec<&serde_json::Value> = parsed.iter().filter(|m| m["execution_id"] == ids[1].as_str()).collect();
    assert!(second.iter().any(|m| m["type"] == "queued" && m["position"] == 1), "the second run waited: {replies:?}");
    let finished: Vec<&serde_json::Value> = parsed.iter().filter(|m| m["type"] == "finished").collect();
    assert!(finished.iter().all(|m| m["outcome"]["status"] == "succeeded"), "{finished:?}");
}

/// Needs the PostgreSQL that `scripts/test.sh` starts.
#[test]
fn a_remote_run_takes_the_database_password_from_the_executor_environment() {
    let var = |name: &str| common::service_var(name, "PostgreSQL");
    // The executor loads only drivers registered in its odbcinst.ini, by name.
    let (port, password) = (var("AQUEDUCTS_TEST_PG_PORT"), var("AQUEDUCTS_TEST_PG_PASSWORD"));
    let dir = workspace();
    let executor = database_executor(dir.path(), &[("AQ_EXECUTOR_PG_PASSWORD", &password)]);
    let spec = format!(
        "sources:
  - type: odbc
    name: db
    connection_string: 'Driver={{PostgreSQL Unicode}};Server=127.0.0.1;Port={port};Database=aqueducts_test;Uid=aqueducts;Pwd={{{{ env(\"AQ_EXECUTOR_PG_PASSWORD\") }}}};'
    load_query: SELECT 6 * 7 AS answer
stages:
  - name: result
    query: SELECT answer FROM db
destination:
  type: file
  name: out
  location: ./out/answer.csv
  format: {{type: csv, options: {{has_header: false}}}}
"
    );
    // The client has no such variable: only the executor resolves it, both to describe
    // the query (no `schema:` declared) while the client compiles and to run the plan.
    let client = client_dir(&spec);
    let out = remote(client.path(), &executor, &["run", "-f", "spec.yml", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(dir.path().join("out/answer.csv")).unwrap().trim(), "42");
    assert!(!executor.logs().contains(&password), "the password never reaches the logs");

    // A query the database rejects is a located diagnostic, as in a local compile.
    let client = client_dir(&spec.replace("SELECT 6 * 7 AS answer", "SELECT answer FROM no_such_table"));
    let out = remote(client.path(), &executor, &["run", "-f", "spec.yml", "-q"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the database rejected the query of source `db`"), "{stderr}");
    assert!(stderr.contains("no_such_table"), "{stderr}");
    assert!(stderr.contains("spec.yml:5:"), "{stderr}");
}

#[test]
fn a_remote_run_reads_and_writes_s3_with_the_executors_secret() {
    let var = |name| common::service_var(name, "the object store servers");
    let endpoint = var("AQUEDUCTS_TEST_S3_ENDPOINT");
    let writer = [var("AQUEDUCTS_TEST_S3_ACCESS_KEY_ID"), var("AQUEDUCTS_TEST_S3_SECRET_ACCESS_KEY")];
    let executor_env = [("AQ_S3_SECRET", writer[1].as_str())];
    let client_env = [("AQ_S3_SECRET", writer[1].as_str())];
    let bucket = format!("remote-{}", std::process::id());
    let client_code = format!(
        "import boto3, io
client = boto3.client('s3', endpoint_url={endpoint:?}, aws_access_key_id={:?}, aws_secret_access_key={:?}, region_name='us-east-1')
",
        writer[0], writer[1]
    );
    common::run_python(
        Path::new("."),
        &format!(
            "{client_code}client.create_bucket(Bucket={bucket:?})
client.put_object(Bucket={bucket:?}, Key='in/people.csv', Body=b'id,name\\n1,ann\\n2,bob\\n')"
        ),
    );
    let executor_dir = tempfile::tempdir().unwrap();
    // The bucket and the endpoint it is reached at, named as an executor must name them.
    let bucket_url = format!("s3://{bucket}");
    let args = [
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--api-key",
        KEY,
        "--allow-location",
        &bucket_url,
        "--allow-location",
        &endpoint,
    ];
    let config = format!(
        "{{ aws_endpoint: '{endpoint}', aws_allow_http: 'true', aws_access_key_id: {}, aws_secret_access_key: '{{{{ env(\"AQ_S3_SECRET\") }}}}', aws_region: us-east-1 }}",
        writer[0]
    );
    let spec = format!(
        "sources:
  - {{ type: file, name: people, format: {{ type: csv, options: {{}} }}, location: 's3://{bucket}/in/people.csv', storage_config: {config} }}
stages:
  - name: upper
    query: SELECT id, upper(name) AS name FROM people ORDER BY id
destination:
  type: file
  name: out
  format: {{ type: parquet, options: {{}} }}
  location: 's3://{bucket}/out/upper.parquet'
  storage_config: {config}
"
    );
    let client = client_dir(&spec);
    // The client lists the bucket while compiling (with its own key); the executor builds
    // its stores from its own environment.
    let client_run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_aqueducts"))
            .args(args)
            .current_dir(client.path())
            .env_remove("AQUEDUCTS_API_KEY")
            .envs(client_env)
            .output()
            .unwrap()
    };
    // An executor without the variable cannot run the plan, though the client has it:
    // the secret is resolved where the plan runs, never sent with it.
    let without_secret = Executor::spawn(executor_dir.path(), &args, &[]);
    let out = client_run(&["run", "-f", "spec.yml", "--executor", &without_secret.address, "--api-key", KEY]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("AQ_S3_SECRET"), "{stderr}");
    assert!(!stderr.contains(&writer[1]) && !without_secret.logs().contains(&writer[1]), "{stderr}");
    let executor = Executor::spawn(executor_dir.path(), &args, &executor_env);
    let out = client_run(&["run", "-f", "spec.yml", "--executor", &executor.address, "--api-key", KEY]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains(&format!("wrote 2 rows to s3://{bucket}/out/upper.parquet")), "{stderr}");
    let rows = common::run_python(
        Path::new("."),
        &format!(
            "{client_code}import pyarrow.parquet as pq
body = client.get_object(Bucket={bucket:?}, Key='out/upper.parquet')['Body'].read()
print(pq.read_table(io.BytesIO(body)).to_pylist())"
        ),
    );
    assert_eq!(rows.trim(), "[{'id': 1, 'name': 'ANN'}, {'id': 2, 'name': 'BOB'}]");

    // With an allow-list, the endpoint a plan's store talks to must be allowed too: the
    // executor would otherwise send its credentials wherever a plan says.
    let run_on = |allowed: &[&str]| {
        let mut args = vec!["--host", "127.0.0.1", "--port", "0", "--api-key", KEY];
        for prefix in allowed {
            args.extend(["--allow-location", prefix]);
        }
        let executor = Executor::spawn(executor_dir.path(), &args, &executor_env);
        let out = client_run(&["run", "-f", "spec.yml", "-q", "--executor", &executor.address, "--api-key", KEY]);
        (out.status.code(), text(&out.stderr))
    };
    let bucket_only = format!("s3://{bucket}");
    let (code, stderr) = run_on(&[&bucket_only]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("sets `aws_endpoint`"), "{stderr}");
    assert!(stderr.contains("does not allow"), "{stderr}");
    let (code, stderr) = run_on(&[&bucket_only, &endpoint]);
    assert_eq!(code, Some(0), "{stderr}");
}
