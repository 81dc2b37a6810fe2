//! A real `aqueducts-executor` process for the tests that run remotely: started on
//! 127.0.0.1 with a free port and the test key, its JSON logs collected, killed when
//! dropped; a client started in the background; and a raw WebSocket client for the
//! messages the CLI never sends.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aqueducts_protocol::{PROTOCOL_HEADER, PROTOCOL_VERSION};

pub const KEY: &str = "test-key-5d1c0b7e";

/// The executor binary, built with the workspace next to `aqueducts`.
pub fn executor_binary() -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_aqueducts")).with_file_name("aqueducts-executor");
    assert!(
        path.exists(),
        "{} is missing: build the binaries first (`cargo build --workspace --bins`; scripts/test.sh does)",
        path.display()
    );
    path
}

/// A running executor; killed when dropped.
pub struct Executor {
    child: Child,
    pub address: String,
    logs: Arc<Mutex<String>>,
}

impl Executor {
    /// Starts an executor in `dir` on 127.0.0.1 with a free port and the test key.
    pub fn start(dir: &Path, extra: &[&str]) -> Executor {
        let mut args = vec!["--host", "127.0.0.1", "--port", "0", "--api-key", KEY];
        args.extend_from_slice(extra);
        Executor::spawn(dir, &args, &[])
    }

    pub fn spawn(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Executor {
        let mut command = Command::new(executor_binary());
        command.args(args).current_dir(dir).stdout(Stdio::null()).stderr(Stdio::piped());
        for var in ["AQUEDUCTS_API_KEY", "AQUEDUCTS_PORT", "AQUEDUCTS_HOST", "AQUEDUCTS_EXECUTOR_ID", "EXECUTOR_MODE"] {
            command.env_remove(var);
        }
        command.envs(env.iter().copied());
        let mut child = command.spawn().expect("start aqueducts-executor");
        let logs = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let started = Instant::now();
        loop {
            let address = logs.lock().unwrap().lines().find_map(|line| {
                let json: serde_json::Value = serde_json::from_str(line).ok()?;
                (json["fields"]["message"] == "listening")
                    .then(|| json["fields"]["address"].as_str().unwrap().to_string())
            });
            if let Some(address) = address {
                return Executor { child, address, logs };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the executor exited ({status}): {}", logs.lock().unwrap());
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the executor did not start: {}",
                logs.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The most memory the executor process has held (VmHWM), in MiB.
    pub fn peak_rss_mib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() / 1024
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// Log lines (JSON) whose message is `message`.
    pub fn events(&self, message: &str) -> Vec<serde_json::Value> {
        self.logs()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|j| j["fields"]["message"] == message)
            .collect()
    }

    pub fn wait_for_log(&self, message: &str, count: usize) {
        let started = Instant::now();
        while self.events(message).len() < count {
            assert!(started.elapsed() < Duration::from_secs(30), "no `{message}` in the logs: {}", self.logs());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A plain HTTP GET; returns the status code and the body.
    pub fn get(&self, path: &str, key: Option<&str>) -> (u16, String) {
        let mut stream = std::net::TcpStream::connect(&self.address).unwrap();
        let key = key.map(|k| format!("X-API-Key: {k}\r\n")).unwrap_or_default();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {}\r\n{key}Connection: close\r\n\r\n", self.address).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response.split(' ').nth(1).unwrap().parse().unwrap();
        let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        (status, body)
    }

    pub fn health(&self) -> serde_json::Value {
        let (status, body) = self.get("/api/health", Some(KEY));
        assert_eq!(status, 200, "{body}");
        // The body may be chunked; the JSON object is the line that starts with `{`.
        let json = body.lines().find(|l| l.starts_with('{')).unwrap();
        serde_json::from_str(json).unwrap()
    }

    pub fn wait_idle(&self) {
        let started = Instant::now();
        loop {
            let health = self.health();
            if health["running"] == 0 && health["queued"] == 0 {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "still busy: {health}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `aqueducts ARGS --executor ADDRESS --api-key KEY` in `dir`.
pub fn remote(dir: &Path, executor: &Executor, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend(["--executor", &executor.address, "--api-key", KEY]);
    Command::new(env!("CARGO_BIN_EXE_aqueducts"))
        .args(&all)
        .current_dir(dir)
        .env_remove("AQUEDUCTS_API_KEY")
        .output()
        .expect("run aqueducts")
}

/// A client started in the background; its stderr is collected as it comes.
pub struct Client {
    pub child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Client {
    pub fn start(dir: &Path, executor: &Executor, args: &[&str]) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aqueducts"))
            .args(args)
            .args(["--executor", &executor.address, "--api-key", KEY])
            .current_dir(dir)
            .env_remove("AQUEDUCTS_API_KEY")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (pipe, sink) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        Client { child, stderr }
    }

    /// The execution id, once the executor accepted the run.
    pub fn execution_id(&self) -> String {
        let started = Instant::now();
        loop {
            let stderr = self.stderr.lock().unwrap().clone();
            if let Some(line) = stderr.lines().find(|l| l.starts_with("execution ")) {
                return line.split_whitespace().nth(1).unwrap().to_string();
            }
            assert!(started.elapsed() < Duration::from_secs(30), "no execution id: {stderr}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the client to exit (at most `limit`); returns its exit code and stderr.
    pub fn finish(mut self, limit: Duration) -> (Option<i32>, String) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(50)); // the reader thread catches up
                return (status.code(), self.stderr.lock().unwrap().clone());
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                panic!("the client did not finish within {limit:?}: {}", self.stderr.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Sends frames on a raw WebSocket connection and returns the executor's text replies
/// after the welcome, until `done` says so or the connection closed.
pub fn raw_session(
    executor: &Executor,
    frames: Vec<tokio_tungstenite::tungstenite::Message>,
    done: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut socket = raw_connect(executor).await;
        for frame in frames {
            if socket.send(frame).await.is_err() {
                break;
            }
        }
        let mut out: Vec<String> = Vec::new();
        while !done(&out) {
            match tokio::time::timeout(Duration::from_secs(20), socket.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => out.push(text.to_string()),
                Ok(Some(Ok(_))) => {}
                _ => break,
            }
        }
        out
    })
}

/// Opens a raw WebSocket to the executor (key and protocol version sent) and reads the
/// welcome.
pub async fn raw_connect(
    executor: &Executor,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{}/ws/connect", executor.address).into_client_request().unwrap();
    request.headers_mut().insert("X-API-Key", KEY.parse().unwrap());
    request.headers_mut().insert(PROTOCOL_HEADER, PROTOCOL_VERSION.into());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let welcome = socket.next().await.unwrap().unwrap();
    assert!(welcome.to_text().unwrap().contains("\"welcome\""));
    socket
}
