// The history of runs: filtered by pipeline and state, a page at a time (newest first).

import { api, followChanges, throttle } from "../api.js";
import { badge, fill, fmtCount, fmtDuration, fmtTime, h, table } from "../dom.js";

const PAGE = 25;
const STATES = ["queued", "assigned", "running", "succeeded", "failed", "cancelled", "lost"];

export function runLink(id) {
  return h("a", { href: `#/runs/${encodeURIComponent(id)}`, class: "run-link" }, h("code", {}, id.slice(0, 8)));
}

export function runDuration(run) {
  if (!run.started_ms) return undefined;
  return (run.ended_ms || Date.now()) - run.started_ms;
}

export function runRows(run) {
  return run.outcome && run.outcome.status === "succeeded" ? run.outcome.summary.rows_written : undefined;
}

function hashFor(query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value) params.set(key, value);
  const text = params.toString();
  return `#/runs${text ? `?${text}` : ""}`;
}

export function render(main, _args, query) {
  const pipeline = query.get("pipeline") || "";
  const state = query.get("state") || "";
  const before = query.get("before") || "";
  const pipelineSelect = h("select", { id: "filter-pipeline" }, h("option", { value: "" }, "all pipelines"));
  const stateSelect = h(
    "select",
    { id: "filter-state" },
    h("option", { value: "" }, "all states"),
    STATES.map((name) => h("option", { value: name, selected: name === state }, name)),
  );
  const apply = () => {
    location.hash = hashFor({ pipeline: pipelineSelect.value, state: stateSelect.value });
  };
  pipelineSelect.addEventListener("change", apply);
  stateSelect.addEventListener("change", apply);
  const list = h("div", { class: "scroll" });
  const pager = h("div", { class: "pager" });
  const problem = h("p", { class: "error" });
  fill(
    main,
    h("h1", {}, "Runs"),
    h("div", { class: "filters" }, h("label", {}, "Pipeline ", pipelineSelect), h("label", {}, "State ", stateSelect)),
    problem,
    list,
    pager,
  );

  api("GET", "/api/pipelines")
    .then((pipelines) => {
      for (const p of pipelines) pipelineSelect.append(h("option", { value: p.name, selected: p.name === pipeline }, p.name));
      if (pipeline && !pipelines.some((p) => p.name === pipeline)) {
        pipelineSelect.append(h("option", { value: pipeline, selected: true }, pipeline));
      }
    })
    .catch(() => {});

  async function refresh() {
    const params = new URLSearchParams({ limit: String(PAGE) });
    if (pipeline) params.set("pipeline", pipeline);
    if (state) params.set("state", state);
    if (before) params.set("before", before);
    try {
      const page = await api("GET", `/api/runs?${params}`);
      problem.textContent = "";
      fill(
        list,
        table(
          ["Run", "State", "Pipeline", "Trigger", "Executor", "Created", "Duration", "Rows written"],
          page.runs.map((run) =>
            h(
              "tr",
              { "data-run": run.id },
              h("td", {}, runLink(run.id)),
              h("td", {}, badge(run.state)),
              h("td", {}, run.pipeline ? `${run.pipeline} v${run.pipeline_version}` : h("span", { class: "muted" }, "ad hoc")),
              h("td", {}, run.trigger),
              h("td", {}, run.executor_id || ""),
              h("td", {}, fmtTime(run.created_ms)),
              h("td", {}, fmtDuration(runDuration(run))),
              h("td", { class: "num" }, fmtCount(runRows(run))),
            ),
          ),
          { id: "runs" },
        ),
      );
      fill(
        pager,
        before ? h("a", { href: hashFor({ pipeline, state }), id: "newest" }, "← newest") : null,
        page.next_before
          ? h("a", { href: hashFor({ pipeline, state, before: page.next_before }), id: "older" }, "older →")
          : null,
      );
    } catch (error) {
      problem.textContent = error.message;
    }
  }

  refresh();
  // The first page stays current; older pages stay as they were read.
  const stop = before ? () => {} : followChanges(throttle(refresh, 300));
  return stop;
}
