//! The orchestrator's web interface in a real browser: headless Chromium over WebDriver
//! against a real orchestrator with two real managed executors. The tests take the
//! screenshots of `docs/images/` that docs/orchestrator.md shows.

#[path = "web/browser.rs"]
mod browser;
mod common;

use std::time::Duration;

use browser::{Browser, Chromedriver};
use common::orchestrator::{ADMIN_KEY, ManagedExecutor, Orchestrator, http_exchange, http_with};
use common::workspace;
use serde_json::{Value, json};

/// A count as the page writes it (`1,234`).
fn format_count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Sums `value % 7` for `value` in `0..rows`, as the counting stage does.
fn expected_total(rows: u64) -> u64 {
    rows / 7 * 21 + (0..rows % 7).sum::<u64>()
}

/// Two stages: `numbers` (computed inside `total`) and `total`, which shows its row.
fn counting_spec(rows: u64) -> String {
    format!(
        "sources: []
stages:
  - name: numbers
    query: SELECT value FROM range({rows})
  - name: total
    query: SELECT sum(value % 7) AS total, count(*) AS counted FROM numbers
    show: 5
"
    )
}

fn key(dir: &std::path::Path, name: &str, role: &str) -> String {
    let out = std::process::Command::new(common::orchestrator::orchestrator_binary())
        .args(["keys", "create", "--name", name, "--role", role, "--data-dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn submit(orchestrator: &Orchestrator, spec: &str, params: Value, labels: Value) -> String {
    let body =
        json!({"spec": {"text": spec, "format": "yaml", "name": "spec.yml"}, "params": params, "labels": labels});
    let (status, run) = orchestrator.api("POST", "/api/runs", Some(&body));
    assert_eq!(status, 201, "{run}");
    run["id"].as_str().unwrap().to_string()
}

/// Records every state the page shows for the run and for stage `stage` in the graph,
/// so that a test can tell what it went through without reloading.
async fn record_states(browser: &Browser, stage: &str) {
    browser
        .js(&format!(
            "window.__seen = {{ run: [], stage: [] }};
             window.__sameDocument = true;
             const note = (list, value) => {{ if (value && list[list.length - 1] !== value) list.push(value); }};
             const look = () => {{
               const run = document.querySelector('#run-state');
               note(window.__seen.run, run && run.dataset.state);
               const node = document.querySelector('#graph [data-stage={stage}]');
               note(window.__seen.stage, node && node.dataset.state);
             }};
             new MutationObserver(look).observe(document.body, {{ subtree: true, childList: true, attributes: true }});
             look();
             return true;",
            stage = json!(stage)
        ))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_follows_runs_checks_specs_cancels_and_signs_out() {
    let data = workspace();
    let orchestrator_dir = tempfile::tempdir().unwrap();
    let orchestrator = Orchestrator::start(orchestrator_dir.path(), &[]);
    let _a = ManagedExecutor::start(data.path(), &orchestrator, "exec-a", &["--label", "pool=main"]);
    let operator_key = key(orchestrator_dir.path(), "ops", "operator");
    let driver = Chromedriver::start();
    let browser = driver.browser(&format!("http://{}", orchestrator.address), 1280, 900).await;

    // Sign in: a wrong key is refused with the reason; the operator's key opens the page.
    browser.open("").await;
    browser.element("#key").await.send_keys("not-a-key").await.unwrap();
    browser.click("#sign-in-button").await;
    browser.until("document.querySelector('#sign-in-error').textContent.includes('unknown or revoked key')").await;
    browser.screenshot("sign-in").await;
    browser.sign_in(&operator_key).await;
    assert_eq!(browser.text("#who").await, "ops (operator)");
    let cookie = browser.client.get_named_cookie("aq_session").await.unwrap();
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.same_site().map(|s| s.to_string()).as_deref(), Some("Strict"));

    // A run waits in the queue for an executor with its label; the page shows it
    // queued, then (without reloading) compiled, running and succeeded.
    let rows = 400_000_000;
    let watched = submit(&orchestrator, &counting_spec(rows), json!({}), json!({"pool": "late"}));
    browser.go(&format!("#/runs/{watched}")).await;
    browser.until("document.querySelector('#run-state').dataset.state === 'queued'").await;
    record_states(&browser, "total").await;
    let _b = ManagedExecutor::start(data.path(), &orchestrator, "exec-b", &["--label", "pool=late"]);
    browser.until("document.querySelector('#run-state').dataset.state === 'succeeded'").await;
    browser.until("document.querySelector('#graph [data-stage=total]').dataset.state === 'succeeded'").await;
    let seen = browser.js("return window.__seen").await;
    assert_eq!(browser.js("return window.__sameDocument === true").await, json!(true), "the page was not reloaded");
    let run_states: Vec<&str> = seen["run"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert_eq!(run_states.first(), Some(&"queued"), "{seen}");
    assert_eq!(run_states.last(), Some(&"succeeded"), "{seen}");
    let stage_states: Vec<&str> = seen["stage"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert!(stage_states.contains(&"running"), "the stage was drawn running before it succeeded: {seen}");
    assert_eq!(stage_states.last(), Some(&"succeeded"), "{seen}");
    // The stage computed inside `total` takes its color; the graph has the DAG's edge.
    assert_eq!(
        browser.js("return document.querySelector('#graph [data-stage=numbers]').dataset.state").await,
        "succeeded"
    );
    assert!(browser.has("#graph path.edge[data-from='stage:numbers'][data-to='stage:total']").await);
    // `show` output as a table, rows per stage, the executor.
    let shown = browser
        .js("return [...document.querySelectorAll('#outputs table.shown td')].map((td) => td.textContent)")
        .await;
    assert_eq!(shown, json!([expected_total(rows).to_string(), rows.to_string()]), "{shown}");
    assert_eq!(browser.text("#run-executor").await, "exec-b");
    assert!(browser.text("#stages tr[data-stage=total]").await.contains("succeeded"));
    assert!(browser.has("#timeline .lane[data-stage=total] .bar.state-succeeded").await);
    assert!(!browser.has("#cancel").await, "no cancel button once it ended");

    // The shipped example: sources, two stages and a destination.
    let example = std::fs::read_to_string(data.path().join("examples/simple.yml")).unwrap();
    let simple = submit(&orchestrator, &example, json!({"month": "jan", "year": "2024"}), json!({}));
    orchestrator.wait_final(&simple, Duration::from_secs(60));
    browser.go(&format!("#/runs/{simple}")).await;
    browser.until("document.querySelector('#graph [data-stage=enriched]')?.dataset.state === 'succeeded'").await;
    assert!(browser.has("#graph .node.destination").await);
    assert!(browser.has("#graph path.edge[data-from='source:temp_readings'][data-to='stage:aggregated']").await);
    browser.until("document.querySelectorAll('#outputs table.shown tbody tr').length === 10").await;
    // Rows per stage: the final stage's rows went to the destination.
    let written = common::expected_averages(data.path(), "jan").len();
    let row = browser
        .js("return [...document.querySelectorAll('#stages tr[data-stage=enriched] td')].map((td) => td.textContent)")
        .await;
    assert_eq!(row[2], json!(format_count(written)), "{row}");
    browser.screenshot("run").await;

    // A spec with a mistake: its diagnostic appears in the editor at its line.
    browser.go("#/new").await;
    browser.element(".cm-content").await;
    let broken = "sources: []\nstages:\n  - name: first\n    query: SELECT 1 AS one\n  - name: second\n    query: SELECT missing_column FROM first\n    show: 1\n";
    browser
        .js(&format!(
            "const view = AqueductsEditor.EditorView.findFromDOM(document.querySelector('.cm-editor'));
             view.dispatch({{ changes: {{ from: 0, to: view.state.doc.length, insert: {} }} }});
             return true;",
            json!(broken)
        ))
        .await;
    let line = browser
        .until(
            "(() => { const mark = document.querySelector('.cm-lintRange-error');
                      if (!mark) return null;
                      const lines = [...document.querySelectorAll('.cm-content > .cm-line')];
                      return lines.indexOf(mark.closest('.cm-line')) + 1; })()",
        )
        .await;
    assert_eq!(line, json!(6), "the error is drawn on the query's line");
    let listed = browser.text("#diagnostics li.severity-error").await;
    assert!(listed.contains("line 6") && listed.contains("missing_column"), "{listed}");
    assert!(browser.text("#check-status").await.contains("1 error(s)"));
    browser.screenshot("editor").await;
    // Typing the fix clears it.
    browser
        .js("const view = AqueductsEditor.EditorView.findFromDOM(document.querySelector('.cm-editor'));
             const at = view.state.doc.toString().indexOf('missing_column');
             view.dispatch({ changes: { from: at, to: at + 'missing_column'.length, insert: 'one' } });
             return true;")
        .await;
    browser.until("document.querySelector('#check-status').textContent.startsWith('No problems')").await;
    // And submitting it from the page runs it.
    browser.click("#submit-run").await;
    browser.until("location.hash.startsWith('#/runs/') && document.querySelector('#run-state')?.dataset.state === 'succeeded'").await;

    // Cancel from the page stops a running run; its stage turns from running to cancelled.
    let slow = submit(&orchestrator, &counting_spec(30_000_000_000), json!({}), json!({}));
    browser.go(&format!("#/runs/{slow}")).await;
    record_states(&browser, "total").await;
    browser.until("document.querySelector('#graph [data-stage=total]')?.dataset.state === 'running'").await;
    browser.until("document.querySelector('#run-state').dataset.state === 'running'").await;
    browser.click("#cancel").await;
    browser.until("document.querySelector('#run-state').dataset.state === 'cancelled'").await;
    assert_eq!(orchestrator.wait_final(&slow, Duration::from_secs(30))["state"], "cancelled");
    browser.until("document.querySelector('#graph [data-stage=total]').dataset.state === 'cancelled'").await;

    // Pipelines: two versions side by side, and "run now".
    for query in ["SELECT 1 AS one", "SELECT 2 AS two"] {
        let spec = format!("sources: []\nstages:\n  - name: only\n    query: {query}\n    show: 1\n");
        let body = json!({"spec": {"text": spec, "format": "yaml"}, "schedules": [{"cron": "0 6 * * *", "timezone": "Europe/Zurich"}]});
        let (status, answer) = orchestrator.api("PUT", "/api/pipelines/daily", Some(&body));
        assert!(status == 200 || status == 201, "{answer}");
    }
    browser.go("#/pipelines").await;
    browser.element("#pipelines tr[data-pipeline=daily]").await;
    assert!(browser.text("#pipelines tr[data-pipeline=daily]").await.contains("0 6 * * *"));
    browser.screenshot("pipelines").await;
    browser.go("#/pipelines/daily").await;
    browser.until("document.querySelectorAll('#diff td.code.removed').length === 1").await;
    let changed = browser
        .js("return ['removed', 'added'].map((kind) => document.querySelector(`#diff td.code.${kind}`).textContent)")
        .await;
    assert_eq!(changed, json!(["    query: SELECT 1 AS one", "    query: SELECT 2 AS two"]));
    browser.screenshot("pipeline").await;
    browser.click("#run-now").await;
    let ran = browser.until("document.querySelector('#outputs table.shown td')?.textContent").await;
    assert_eq!(ran, "2", "the current version ran");
    browser.until("document.querySelector('#run-state')?.dataset.state === 'succeeded'").await;
    assert_eq!(browser.text("main dl dd:nth-of-type(3)").await, "api", "run from the page like any API run");

    // Runs: filtered by state.
    browser.go("#/runs?state=cancelled").await;
    browser.until("document.querySelectorAll('#runs tr[data-run]').length === 1").await;
    assert!(browser.has(&format!("#runs tr[data-run='{slow}']")).await);
    browser.go("#/runs").await;
    browser.until("document.querySelectorAll('#runs tr[data-run]').length === 5").await;
    browser.screenshot("runs").await;

    // The overview: both executors, the latest runs, live.
    browser.go("#/").await;
    browser.until("document.querySelectorAll('#executors tr[data-executor]').length === 2").await;
    assert!(browser.text("#executors tr[data-executor=exec-b]").await.contains("pool=late"));
    let live = submit(&orchestrator, &counting_spec(1000), json!({}), json!({}));
    browser.until(&format!("document.querySelector('#latest-runs tr[data-run=\"{live}\"]')")).await;
    orchestrator.wait_final(&live, Duration::from_secs(30));
    browser
        .until(&format!(
            "document.querySelector('#latest-runs tr[data-run=\"{live}\"] .badge').textContent === 'succeeded'"
        ))
        .await;
    browser.screenshot("overview").await;

    // Without horizontal scrolling at 1280 px; usable at 800 px.
    for route in ["#/", "#/runs", &format!("#/runs/{simple}"), "#/pipelines", "#/pipelines/daily", "#/new"] {
        browser.go(route).await;
        browser.element("main h1").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (page, window) = browser.fits_width().await;
        assert!(page <= window, "{route} is {page} px wide in a {window} px window");
    }
    browser.client.set_window_size(800, 900).await.unwrap();
    for route in ["#/", &format!("#/runs/{simple}"), "#/new"] {
        browser.go(route).await;
        browser.element("main h1").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (page, window) = browser.fits_width().await;
        assert!(page <= window, "{route} is {page} px wide in a {window} px window");
    }

    // Signing out ends the session: the page asks for a key, and the old cookie opens nothing.
    browser.click("#sign-out").await;
    browser.element("#sign-in").await;
    let (status, _) = browser.fetch("GET", "/api/runs", None).await;
    assert_eq!(status, 401);
    let old_cookie = format!("Cookie: aq_session={}\r\n", cookie.value());
    let (status, body) = http_with(&orchestrator.address, "GET", "/api/runs", None, None, &old_cookie);
    assert_eq!(status, 401, "{body}");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_see_no_controls_and_forged_requests_are_refused() {
    let data = workspace();
    let orchestrator_dir = tempfile::tempdir().unwrap();
    let orchestrator = Orchestrator::start(orchestrator_dir.path(), &[]);
    let _a = ManagedExecutor::start(data.path(), &orchestrator, "exec-a", &[]);
    let _b = ManagedExecutor::start(data.path(), &orchestrator, "exec-b", &[]);
    let operator_key = key(orchestrator_dir.path(), "ops", "operator");
    let viewer_key = key(orchestrator_dir.path(), "watcher", "viewer");
    let running = submit(&orchestrator, &counting_spec(30_000_000_000), json!({"db_password": "hunter2"}), json!({}));
    orchestrator.wait_state(&running, "running");
    let driver = Chromedriver::start();
    let base = format!("http://{}", orchestrator.address);

    // An operator's session: a POST that another site makes the browser send carries the
    // cookie (127.0.0.1 on another port is the same site) but not the session's token.
    let operator = driver.browser(&base, 1280, 900).await;
    operator.sign_in(&operator_key).await;
    let (status, body) = operator.fetch("POST", &format!("/api/runs/{running}/cancel"), None).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"].as_str().unwrap().contains("X-CSRF-Token"), "{body}");
    let attacker = attacker_page(&format!("{base}/api/runs/{running}/cancel"));
    operator.client.goto(&attacker.url).await.unwrap();
    let refused = || orchestrator.process.events("refused a request without its session's CSRF token").len();
    let started = std::time::Instant::now();
    while refused() < 2 {
        assert!(started.elapsed() < Duration::from_secs(30), "{}", orchestrator.process.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, run) = orchestrator.api("GET", &format!("/api/runs/{running}"), None);
    assert_eq!((run["state"].as_str(), run["cancel_requested"].as_bool()), (Some("running"), Some(false)), "{run}");
    operator.close().await;

    // A viewer: no cancel button, no "new run" page; a cancel sent anyway is refused,
    // even with the session's token. Secrets among the parameters are not shown.
    let viewer = driver.browser(&base, 1280, 900).await;
    viewer.sign_in(&viewer_key).await;
    assert_eq!(viewer.text("#who").await, "watcher (viewer)");
    assert!(!viewer.has("[data-nav=new]").await);
    viewer.go(&format!("#/runs/{running}")).await;
    viewer.until("document.querySelector('#graph [data-stage=total]')?.dataset.state === 'running'").await;
    assert!(!viewer.has("#cancel").await, "a viewer sees no cancel button");
    let params = viewer.text("#params").await;
    assert!(params.contains("db_password") && params.contains("***") && !params.contains("hunter2"), "{params}");
    assert!(!viewer.js("return document.documentElement.outerHTML").await.as_str().unwrap().contains("hunter2"));
    let token = viewer
        .js_async(
            "const done = arguments[0]; fetch('/ui/session').then((r) => r.json()).then((s) => done(s.csrf_token));",
        )
        .await;
    let (status, body) =
        viewer.fetch("POST", &format!("/api/runs/{running}/cancel"), Some(token.as_str().unwrap())).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "a viewer key cannot cancel runs");
    // A run that fails on its data: the error is quoted against the stage's query.
    let failing_spec = "sources: []
stages:
  - name: numbers
    query: SELECT value FROM range(5)
  - name: converted
    query: SELECT CAST(concat(value, 'x') AS INT) AS n FROM numbers
    show: 5
";
    let failing = submit(&orchestrator, failing_spec, json!({}), json!({}));
    let failed = orchestrator.wait_final(&failing, Duration::from_secs(60));
    assert_eq!((failed["state"].as_str(), failed["outcome"]["stage"].as_str()), (Some("failed"), Some("converted")));
    viewer.go(&format!("#/runs/{failing}")).await;
    viewer.until("document.querySelector('#graph [data-stage=converted]')?.dataset.state === 'failed'").await;
    let diagnostic = viewer.text("#diagnostic").await;
    assert!(
        diagnostic.contains("run-failed") && diagnostic.contains("stage `converted` failed while running"),
        "{diagnostic}"
    );
    assert!(
        diagnostic.contains("6 │     query: SELECT CAST(concat(value, 'x') AS INT) AS n FROM numbers"),
        "{diagnostic}"
    );
    viewer.screenshot("run-failed").await;
    viewer.go("#/pipelines").await;
    viewer.element("#pipelines").await;
    let (_, run) = orchestrator.api("GET", &format!("/api/runs/{running}"), None);
    assert_eq!(run["state"], "running", "{run}");
    viewer.click("#sign-out").await;
    viewer.element("#sign-in").await;
    viewer.close().await;
    orchestrator.api("POST", &format!("/api/runs/{running}/cancel"), None);
    orchestrator.wait_final(&running, Duration::from_secs(30));
    // The admin key signs in too.
    let admin = driver.browser(&base, 1280, 900).await;
    admin.sign_in(ADMIN_KEY).await;
    assert_eq!(admin.text("#who").await, "admin (admin)");
    admin.close().await;
}

/// A page on another origin whose form posts to `target` as soon as it loads.
struct AttackerPage {
    url: String,
}

fn attacker_page(target: &str) -> AttackerPage {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}/", listener.local_addr().unwrap().port());
    let page = format!(
        "<!doctype html><html><body><form id=f method=POST action=\"{target}\"></form>\
         <script>document.getElementById('f').submit();</script></body></html>"
    );
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    AttackerPage { url }
}

/// The head's value of `name` (case-insensitive), if any.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

#[test]
fn sessions_cookies_and_csrf_tokens_over_plain_http() {
    let orchestrator_dir = tempfile::tempdir().unwrap();
    let orchestrator = Orchestrator::start(orchestrator_dir.path(), &[]);
    let address = orchestrator.address.as_str();
    let operator_key = key(orchestrator_dir.path(), "ops", "operator");
    let json_body = |value: Value| Some(("application/json", value.to_string().into_bytes()));

    // The page and its files, with headers that keep them to this origin.
    let (status, head, page) = http_exchange(address, "GET", "/", None, None, "");
    assert_eq!(status, 200, "{head}");
    assert!(page.contains("/assets/js/app.js"), "{page}");
    assert!(header(&head, "content-security-policy").unwrap().contains("frame-ancestors 'none'"), "{head}");
    assert_eq!(header(&head, "x-frame-options"), Some("DENY"));
    let (status, head, _) = http_exchange(address, "GET", "/assets/vendor/codemirror.js", None, None, "");
    assert_eq!((status, header(&head, "content-type")), (200, Some("text/javascript; charset=utf-8")), "{head}");
    let etag = header(&head, "etag").unwrap().to_string();
    let (status, _, _) = http_exchange(
        address,
        "GET",
        "/assets/vendor/codemirror.js",
        None,
        None,
        &format!("If-None-Match: {etag}\r\n"),
    );
    assert_eq!(status, 304);
    assert_eq!(http_exchange(address, "GET", "/assets/../Cargo.toml", None, None, "").0, 404);

    // Signing in: only as JSON from the page's own origin; wrong keys and the executors'
    // key are refused.
    let form = Some(("text/plain", json!({"key": ADMIN_KEY}).to_string().into_bytes()));
    assert_eq!(http_exchange(address, "POST", "/ui/session", None, form, "").0, 415, "a form cannot sign in");
    let (status, _, body) = http_exchange(
        address,
        "POST",
        "/ui/session",
        None,
        json_body(json!({"key": ADMIN_KEY})),
        "Sec-Fetch-Site: same-site\r\n",
    );
    assert_eq!(status, 403, "another site cannot sign a browser in: {body}");
    let (status, _, body) = http_exchange(address, "POST", "/ui/session", None, json_body(json!({"key": "nope"})), "");
    assert_eq!(status, 401, "{body}");
    let (status, _, body) = http_exchange(
        address,
        "POST",
        "/ui/session",
        None,
        json_body(json!({"key": common::orchestrator::EXECUTOR_KEY})),
        "",
    );
    assert!(status == 401 && body.contains("executors' key"), "{body}");
    let (status, head, body) =
        http_exchange(address, "POST", "/ui/session", None, json_body(json!({"key": operator_key})), "");
    assert_eq!(status, 200, "{body}");
    let session: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((session["name"].as_str(), session["role"].as_str()), (Some("ops"), Some("operator")));
    let set_cookie = header(&head, "set-cookie").unwrap();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    assert!(!set_cookie.contains("Secure"), "no TLS here");
    assert!(!body.contains(&operator_key) && !orchestrator.process.logs().contains(&operator_key));
    let token = set_cookie.split(';').next().unwrap().trim().strip_prefix("aq_session=").unwrap().to_string();
    let cookie = format!("Cookie: aq_session={token}\r\n");
    let csrf = format!("X-CSRF-Token: {}\r\n", session["csrf_token"].as_str().unwrap());

    // The cookie reads; a change needs the token as well.
    assert_eq!(http_with(address, "GET", "/api/runs", None, None, &cookie).0, 200);
    assert_eq!(http_with(address, "GET", "/ui/session", None, None, &cookie).0, 200);
    let check = json!({"spec": {"text": "sources: []\nstages: []\n", "format": "yaml"}});
    let (status, body) = http_with(address, "POST", "/api/check", None, json_body(check.clone()), &cookie);
    assert!(status == 403 && body.contains("X-CSRF-Token"), "{status} {body}");
    let wrong = "X-CSRF-Token: 0000\r\n";
    assert_eq!(
        http_with(address, "POST", "/api/check", None, json_body(check.clone()), &format!("{cookie}{wrong}")).0,
        403
    );
    let (status, body) = http_with(address, "POST", "/api/check", None, json_body(check), &format!("{cookie}{csrf}"));
    assert!(status == 503 && body.contains("no connected executor"), "past the CSRF check: {status} {body}");

    // Revoking the key ends the session.
    let revoked = std::process::Command::new(common::orchestrator::orchestrator_binary())
        .args(["keys", "revoke", "--name", "ops", "--data-dir"])
        .arg(orchestrator_dir.path())
        .output()
        .unwrap();
    assert_eq!(revoked.status.code(), Some(0), "{}", String::from_utf8_lossy(&revoked.stderr));
    let (status, body) = http_with(address, "GET", "/api/runs", None, None, &cookie);
    assert!(status == 401 && body.contains("revoked"), "{body}");
    assert_eq!(http_with(address, "GET", "/api/runs", None, None, &cookie).0, 401);

    // Signing out: the admin's session ends and its cookie is cleared.
    let (_, head, body) = http_exchange(address, "POST", "/ui/session", None, json_body(json!({"key": ADMIN_KEY})), "");
    let admin: Value = serde_json::from_str(&body).unwrap();
    let token = header(&head, "set-cookie").unwrap().split(';').next().unwrap().trim().to_string();
    let cookie = format!("Cookie: {token}\r\n");
    let csrf = format!("X-CSRF-Token: {}\r\n", admin["csrf_token"].as_str().unwrap());
    assert_eq!(http_with(address, "DELETE", "/ui/session", None, None, &cookie).0, 403, "signing out needs the token");
    let (status, head, _) = http_exchange(address, "DELETE", "/ui/session", None, None, &format!("{cookie}{csrf}"));
    assert_eq!(status, 204);
    assert!(header(&head, "set-cookie").unwrap().contains("Max-Age=0"), "{head}");
    assert_eq!(http_with(address, "GET", "/api/runs", None, None, &cookie).0, 401);
}
