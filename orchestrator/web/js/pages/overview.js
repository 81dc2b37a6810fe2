// The overview: executors, the queue and the latest runs, kept current from
// `/api/events`.

import { api, followChanges, throttle } from "../api.js";
import { ago, badge, chips, fill, fmtBytes, fmtCount, fmtDuration, fmtTime, h, table } from "../dom.js";
import { runDuration, runLink, runRows } from "./runs.js";

const LATEST = 15;

/** The state an operator reads: connected idle executors are online. */
function executorState(state) {
  return { idle: "online", busy: "busy", disconnected: "offline", offline: "offline" }[state] || state;
}

export function executorsTable(executors) {
  return table(
    ["Executor", "State", "Labels", "Memory limit", "Current run", "Last heartbeat"],
    executors.map((executor) =>
      h(
        "tr",
        { "data-executor": executor.executor_id },
        h("td", {}, h("code", {}, executor.executor_id)),
        h("td", {}, h("span", { class: `badge executor-${executorState(executor.state)}` }, executorState(executor.state))),
        h("td", {}, chips(executor.labels)),
        h("td", {}, fmtBytes(executor.max_memory_bytes)),
        h("td", {}, executor.running && executor.running.run_id ? runLink(executor.running.run_id) : h("span", { class: "muted" }, "none")),
        h("td", { title: fmtTime(executor.last_heard_ms), class: "ago", "data-ms": executor.last_heard_ms }, ago(executor.last_heard_ms)),
      ),
    ),
    { id: "executors" },
  );
}

export function render(main) {
  const counts = h("p", { class: "counts", id: "executor-counts" });
  const executors = h("div", { class: "scroll" });
  const queue = h("div", { class: "scroll" });
  const latest = h("div", { class: "scroll" });
  const problem = h("p", { class: "error" });
  fill(
    main,
    h("h1", {}, "Overview"),
    problem,
    h("section", {}, h("h2", {}, "Executors"), counts, executors),
    h("section", {}, h("h2", {}, "Queue"), queue),
    h("section", {}, h("h2", {}, "Latest runs ", h("a", { href: "#/runs", class: "small" }, "all runs")), latest),
  );

  async function refresh() {
    try {
      const [executorList, queued, recent] = await Promise.all([
        api("GET", "/api/executors"),
        api("GET", "/api/runs?state=queued&limit=100"),
        api("GET", `/api/runs?limit=${LATEST}`),
      ]);
      problem.textContent = "";
      const by = (state) => executorList.filter((e) => executorState(e.state) === state).length;
      counts.textContent = `${by("online")} online, ${by("busy")} busy, ${by("offline")} offline`;
      fill(executors, executorsTable(executorList));
      const waiting = queued.runs.slice().sort((a, b) => (a.queue_position || 0) - (b.queue_position || 0));
      fill(
        queue,
        table(
          ["Place", "Run", "Pipeline", "Labels", "Queued"],
          waiting.map((run) =>
            h(
              "tr",
              { "data-run": run.id },
              h("td", {}, run.queue_position),
              h("td", {}, runLink(run.id)),
              h("td", {}, run.pipeline || h("span", { class: "muted" }, "ad hoc")),
              h("td", {}, chips(run.labels)),
              h("td", { class: "ago", "data-ms": run.created_ms, title: fmtTime(run.created_ms) }, ago(run.created_ms)),
            ),
          ),
          { id: "queue" },
        ),
      );
      fill(
        latest,
        table(
          ["Run", "State", "Pipeline", "Trigger", "Started", "Duration", "Rows written"],
          recent.runs.map((run) =>
            h(
              "tr",
              { "data-run": run.id },
              h("td", {}, runLink(run.id)),
              h("td", {}, badge(run.state)),
              h("td", {}, run.pipeline || h("span", { class: "muted" }, "ad hoc")),
              h("td", {}, run.trigger),
              h("td", {}, fmtTime(run.started_ms || run.created_ms)),
              h("td", {}, fmtDuration(runDuration(run))),
              h("td", { class: "num" }, fmtCount(runRows(run))),
            ),
          ),
          { id: "latest-runs" },
        ),
      );
    } catch (error) {
      problem.textContent = `Cannot read the orchestrator: ${error.message}`;
    }
  }

  const soon = throttle(refresh, 250);
  refresh();
  const stop = followChanges(() => soon());
  // Heartbeats are not changes: "last heartbeat" ages here, and is read again now and then.
  const tick = setInterval(() => {
    for (const cell of main.querySelectorAll(".ago[data-ms]")) cell.textContent = ago(Number(cell.dataset.ms));
  }, 1000);
  const reread = setInterval(soon, 15000);
  return () => {
    stop();
    clearInterval(tick);
    clearInterval(reread);
  };
}
