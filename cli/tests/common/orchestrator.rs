//! A real `aqueducts-orchestrator` and managed `aqueducts-executor` processes for the
//! managed-mode tests: started on 127.0.0.1 with free ports, their JSON logs collected,
//! killed when dropped; and a small HTTP client for the API.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const ADMIN_KEY: &str = "admin-key-7f3a9c2e51";
pub const EXECUTOR_KEY: &str = "executor-key-0b8d4f6a";

/// The orchestrator binary, built with the workspace next to `aqueducts`.
pub fn orchestrator_binary() -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_aqueducts")).with_file_name("aqueducts-orchestrator");
    assert!(path.exists(), "{} is missing: build the binaries first (scripts/test.sh does)", path.display());
    path
}

/// A child process whose stderr (JSON logs) is collected.
pub struct Process {
    child: Mutex<Child>,
    logs: Arc<Mutex<String>>,
}

impl Process {
    fn spawn(mut command: Command) -> Process {
        command.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("start a process");
        let logs = Arc::new(Mutex::new(String::new()));
        let (stderr, sink) = (child.stderr.take().unwrap(), logs.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        Process { child: Mutex::new(child), logs }
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

    /// Waits until `count` lines say `message` and satisfy `matching`.
    pub fn wait_for(&self, message: &str, count: usize, matching: impl Fn(&serde_json::Value) -> bool) {
        let started = Instant::now();
        while self.events(message).iter().filter(|e| matching(e)).count() < count {
            if let Ok(Some(status)) = self.child.lock().unwrap().try_wait() {
                panic!("the process exited ({status}) before `{message}`: {}", self.logs());
            }
            assert!(started.elapsed() < Duration::from_secs(60), "no `{message}` in the logs: {}", self.logs());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn kill9(&self) {
        let mut child = self.child.lock().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub struct Orchestrator {
    pub process: Process,
    pub address: String,
    pub data_dir: PathBuf,
    extra: Vec<String>,
}

impl Orchestrator {
    /// Starts an orchestrator on a free port with its database in `data_dir` and a
    /// heartbeat timeout of 2 s.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Orchestrator {
        Orchestrator::start_on(data_dir, "0", extra.iter().map(|s| s.to_string()).collect())
    }

    fn start_on(data_dir: &Path, port: &str, extra: Vec<String>) -> Orchestrator {
        let mut command = Command::new(orchestrator_binary());
        command
            .args(["--host", "127.0.0.1", "--port", port, "--api-key", ADMIN_KEY, "--executor-key", EXECUTOR_KEY])
            .args(["--heartbeat-timeout", "2", "--data-dir"])
            .arg(data_dir)
            .args(&extra)
            .current_dir(data_dir);
        for var in
            ["AQUEDUCTS_API_KEY", "AQUEDUCTS_EXECUTOR_KEY", "AQUEDUCTS_PORT", "AQUEDUCTS_HOST", "AQUEDUCTS_DATABASE"]
        {
            command.env_remove(var);
        }
        let process = Process::spawn(command);
        process.wait_for("listening", 1, |_| true);
        let address = process.events("listening")[0]["fields"]["address"].as_str().unwrap().to_string();
        Orchestrator { process, address, data_dir: data_dir.to_path_buf(), extra }
    }

    /// Kills this orchestrator with SIGKILL and starts another on the same port and
    /// database.
    pub fn crash_and_restart(&mut self) {
        self.process.kill9();
        let port = self.address.rsplit_once(':').unwrap().1.to_string();
        let started = Instant::now();
        // The port is free once the old process is gone.
        let next = loop {
            let attempt =
                std::panic::catch_unwind(|| Orchestrator::start_on(&self.data_dir, &port, self.extra.clone()));
            match attempt {
                Ok(next) => break next,
                Err(_) if started.elapsed() < Duration::from_secs(10) => std::thread::sleep(Duration::from_millis(200)),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        };
        *self = next;
    }

    pub fn register_url(&self) -> String {
        format!("ws://{}/ws/executor/register", self.address)
    }

    /// Waits until executor `id` has registered `count` times in total.
    pub fn wait_registered(&self, id: &str, count: usize) {
        self.process.wait_for("executor registered", count, |e| e["fields"]["executor_id"] == id);
    }

    /// An HTTP request with the admin key; the status and the body as JSON (or text).
    pub fn api(&self, method: &str, path: &str, body: Option<&serde_json::Value>) -> (u16, serde_json::Value) {
        let body = body.map(|b| ("application/json", b.to_string().into_bytes()));
        let (status, text) = http(&self.address, method, path, Some(ADMIN_KEY), body);
        (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
    }

    /// Waits for run `id` to reach a final state; returns it.
    pub fn wait_final(&self, id: &str, limit: Duration) -> serde_json::Value {
        let started = Instant::now();
        loop {
            let (status, run) = self.api("GET", &format!("/api/runs/{id}"), None);
            assert_eq!(status, 200, "{run}");
            if ["succeeded", "failed", "cancelled", "lost"].contains(&run["state"].as_str().unwrap()) {
                return run;
            }
            assert!(started.elapsed() < limit, "run {id} did not end within {limit:?}: {run}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until run `id` is in `state`.
    pub fn wait_state(&self, id: &str, state: &str) -> serde_json::Value {
        let started = Instant::now();
        loop {
            let (_, run) = self.api("GET", &format!("/api/runs/{id}"), None);
            if run["state"] == state {
                return run;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "run {id} never became {state}: {run}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Follows run `id`'s server-sent events to its end; each event's JSON.
    pub fn follow(&self, id: &str, last_event_id: Option<i64>) -> Vec<serde_json::Value> {
        let headers = last_event_id.map(|n| format!("Last-Event-ID: {n}\r\n")).unwrap_or_default();
        let (status, body) =
            http_with(&self.address, "GET", &format!("/api/runs/{id}/events"), Some(ADMIN_KEY), None, &headers);
        assert_eq!(status, 200, "{body}");
        body.lines().filter_map(|l| l.strip_prefix("data: ")).map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

/// A managed executor dialing `orchestrator`.
pub struct ManagedExecutor {
    pub process: Process,
    pub id: String,
}

impl ManagedExecutor {
    /// Starts executor `id` in `dir` (its data directory) with `labels`, and waits
    /// until the orchestrator has registered it.
    pub fn start(dir: &Path, orchestrator: &Orchestrator, id: &str, extra: &[&str]) -> ManagedExecutor {
        let before = orchestrator
            .process
            .events("executor registered")
            .iter()
            .filter(|e| e["fields"]["executor_id"] == id)
            .count();
        let executor = ManagedExecutor::spawn(dir, &orchestrator.register_url(), EXECUTOR_KEY, id, extra);
        orchestrator.wait_registered(id, before + 1);
        executor
    }

    /// Starts executor `id` without waiting for anything.
    pub fn spawn(dir: &Path, url: &str, key: &str, id: &str, extra: &[&str]) -> ManagedExecutor {
        let mut command = Command::new(super::executor::executor_binary());
        command
            .args(["--mode", "managed", "--orchestrator-url", url, "--api-key", key, "--executor-id", id])
            .args(extra)
            .current_dir(dir);
        for var in [
            "AQUEDUCTS_API_KEY",
            "AQUEDUCTS_PORT",
            "AQUEDUCTS_HOST",
            "AQUEDUCTS_EXECUTOR_ID",
            "EXECUTOR_MODE",
            "ORCHESTRATOR_URL",
            "AQUEDUCTS_LABELS",
        ] {
            command.env_remove(var);
        }
        ManagedExecutor { process: Process::spawn(command), id: id.to_string() }
    }
}

/// A plain HTTP/1.1 request; the status and the (de-chunked) body.
pub fn http(
    address: &str,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
) -> (u16, String) {
    http_with(address, method, path, key, body, "")
}

pub fn http_with(
    address: &str,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
    extra_headers: &str,
) -> (u16, String) {
    let (status, _, body) = http_exchange(address, method, path, key, body, extra_headers);
    (status, body)
}

/// [`http_with`], also returning the response's head (status line and headers).
pub fn http_exchange(
    address: &str,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
    extra_headers: &str,
) -> (u16, String, String) {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    let key = key.map(|k| format!("X-API-Key: {k}\r\n")).unwrap_or_default();
    let (content, bytes) = match &body {
        Some((content_type, bytes)) => {
            (format!("Content-Type: {content_type}\r\nContent-Length: {}\r\n", bytes.len()), bytes.as_slice())
        }
        None => ("Content-Length: 0\r\n".to_string(), &[][..]),
    };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\n{key}{content}{extra_headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    stream.write_all(bytes).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8_lossy(&response).to_string();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_string() };
    (status, head.to_string(), body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { break };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].strip_prefix("\r\n").unwrap_or(&rest[size..]);
    }
    out
}
