// One run: its facts, stage graph, timeline, rows per stage, printed output, error and
// events, followed live from `/api/runs/{id}/events`; a cancel button while it runs.

import { api, canOperate, checkSession } from "../api.js";
import { badge, chips, fill, fmtCount, fmtDuration, fmtTime, h, table } from "../dom.js";
import { drawGraph, legend } from "../graph.js";

const ACTIVE = ["queued", "assigned", "running"];

/** What the events of the latest attempt say about each stage. */
function newModel() {
  return { graph: null, attempt: 0, stages: new Map(), outputs: [], events: [], ended: null };
}

function stageOf(model, name) {
  if (!model.stages.has(name)) model.stages.set(name, { name, state: "pending", startedMs: null, elapsedMs: null, rows: null });
  return model.stages.get(name);
}

function apply(model, streamed) {
  model.events.push(streamed);
  const event = streamed;
  switch (event.kind) {
    case "assigned":
      if (event.attempt !== model.attempt) {
        model.attempt = event.attempt;
        model.stages = new Map();
        model.outputs = [];
      }
      break;
    case "planned":
      model.graph = event.graph;
      break;
    case "progress": {
      // A late report of an attempt given up on does not belong to the current one.
      if (model.attempt && event.attempt !== model.attempt) break;
      const progress = event.event;
      if (progress.kind === "stage_started") {
        const stage = stageOf(model, progress.stage);
        stage.state = "running";
        stage.startedMs = streamed.at_ms;
      } else if (progress.kind === "stage_finished") {
        const stage = stageOf(model, progress.stage);
        stage.state = "succeeded";
        stage.rows = progress.rows;
        stage.elapsedMs = progress.elapsed.secs * 1000 + progress.elapsed.nanos / 1e6;
        if (stage.startedMs === null) stage.startedMs = streamed.at_ms - stage.elapsedMs;
      } else if (progress.kind === "stage_output") {
        model.outputs.push({ stage: progress.stage, text: progress.text });
      } else if (progress.kind === "output_written") {
        stageOf(model, progress.stage).written = { path: progress.path, rows: progress.rows };
      }
      break;
    }
    case "ended":
      model.ended = { ...event, at_ms: streamed.at_ms };
      break;
    default:
      break;
  }
}

/**
 * The state each stage of the graph is shown in. A stage that reports nothing of its
 * own (it is computed inside the stages that read it) takes the state of its readers.
 */
function stageStates(model, runState) {
  const states = {};
  for (const [name, stage] of model.stages) states[name] = stage.state;
  const outcome = model.ended && model.ended.outcome;
  if (outcome && outcome.status === "failed" && outcome.stage) states[outcome.stage] = "failed";
  if (model.graph) {
    const stages = model.graph.stages;
    for (let i = stages.length - 1; i >= 0; i--) {
      const name = stages[i].name;
      if (states[name]) continue;
      const readers = stages.filter((stage) => stage.inputs.includes(name)).map((stage) => states[stage.name]);
      if (readers.includes("running")) states[name] = "running";
      else if (readers.includes("succeeded") || readers.includes("failed")) states[name] = "succeeded";
    }
    for (const stage of stages) {
      if (states[stage.name] === "running" || !states[stage.name]) {
        if (runState === "succeeded") states[stage.name] = "succeeded";
        else if (runState === "cancelled" || runState === "failed" || runState === "lost") {
          if (states[stage.name] === "running") states[stage.name] = runState === "failed" ? "failed" : "cancelled";
        }
      }
    }
  }
  return states;
}

/** `show` output as a table when it is one; other output as preformatted text. */
function outputBlocks(text) {
  const blocks = [];
  const header = /^(stage `.*` \(\d+ rows shown\)|schema of stage `.*`|physical plan of stage `.*`|analyzed plan of stage `.*`):$/;
  let current = null;
  for (const line of text.split("\n")) {
    if (header.test(line)) {
      current = { title: line.slice(0, -1), lines: [] };
      blocks.push(current);
    } else {
      if (!current) {
        current = { title: "", lines: [] };
        blocks.push(current);
      }
      current.lines.push(line);
    }
  }
  return blocks.map((block) => {
    const body = block.lines.join("\n").replace(/\s+$/, "");
    const asTable = block.title.includes("rows shown") ? prettyTable(block.lines) : null;
    return h(
      "div",
      { class: "output" },
      block.title ? h("h4", {}, block.title) : null,
      asTable || h("pre", {}, body),
    );
  });
}

/** Parses a table printed with `+---+` borders; `null` when it is not one. */
function prettyTable(lines) {
  const rows = lines.filter((line) => line.startsWith("|")).map((line) => line.slice(1, -1).split("|").map((c) => c.trim()));
  if (rows.length === 0 || !lines.some((line) => line.startsWith("+"))) return null;
  const width = rows[0].length;
  if (rows.some((row) => row.length !== width)) return null;
  return h(
    "div",
    { class: "scroll" },
    table(
      rows[0],
      rows.slice(1).map((row) => h("tr", {}, row.map((cell) => h("td", {}, cell)))),
      { class: "shown" },
    ),
  );
}

function timeline(model, now) {
  // Stages that never finished (failed, cancelled, lost) end with the run.
  if (model.ended) now = Math.min(now, model.ended.at_ms);
  const stages = [...model.stages.values()].filter((stage) => stage.startedMs !== null);
  if (stages.length === 0) return h("p", { class: "muted" }, "No stage has started yet.");
  const start = Math.min(...stages.map((stage) => stage.startedMs));
  const end = Math.max(...stages.map((stage) => stage.startedMs + (stage.elapsedMs ?? now - stage.startedMs)), start + 1);
  const span = end - start;
  return h(
    "div",
    { class: "timeline", id: "timeline" },
    stages.map((stage) => {
      const duration = stage.elapsedMs ?? now - stage.startedMs;
      const left = ((stage.startedMs - start) / span) * 100;
      const width = Math.max(0.5, (duration / span) * 100);
      return h(
        "div",
        { class: "lane", "data-stage": stage.name },
        h("span", { class: "lane-name" }, stage.name),
        h(
          "span",
          { class: "lane-track" },
          h("span", {
            class: `bar state-${stage.state}`,
            style: `left:${left.toFixed(2)}%;width:${Math.min(width, 100 - left).toFixed(2)}%`,
            title: `starts at +${fmtDuration(stage.startedMs - start)}, takes ${fmtDuration(duration)}`,
          }),
        ),
        h("span", { class: "lane-time" }, `+${fmtDuration(stage.startedMs - start) || "0 ms"} · ${fmtDuration(duration)}`),
      );
    }),
  );
}

function describeEvent(event) {
  switch (event.kind) {
    case "queued":
      return `queued at place ${event.position}`;
    case "assigned":
      return `assigned to ${event.executor_id} (attempt ${event.attempt})`;
    case "planned":
      return `compiled: ${event.graph.stages.length} stages`;
    case "started":
      return "started";
    case "progress": {
      const p = event.event;
      if (p.kind === "stage_started") return `stage ${p.stage} started`;
      if (p.kind === "stage_finished") return `stage ${p.stage} finished${p.rows !== null && p.rows !== undefined ? `: ${fmtCount(p.rows)} rows` : ""}`;
      if (p.kind === "stage_output") return `stage ${p.stage} printed output`;
      if (p.kind === "output_written") return `stage ${p.stage} wrote ${fmtCount(p.rows)} rows to ${p.path}`;
      return p.kind;
    }
    case "cancel_requested":
      return "cancel requested";
    case "lost":
      return `executor ${event.executor_id} was lost: ${event.reason}`;
    case "retrying":
      return `waits for attempt ${event.attempt} (not before ${fmtTime(event.not_before_ms)})`;
    case "ended":
      return `ended: ${event.state}`;
    default:
      return event.kind;
  }
}

export function render(main, [id]) {
  const model = newModel();
  let info = null;
  const head = h("div", { class: "run-head" });
  const facts = h("div", { class: "facts" });
  const graphBox = h("div", { class: "graph", id: "graph" });
  const timelineBox = h("div");
  const stagesBox = h("div", { class: "scroll" });
  const outputBox = h("div", { id: "outputs" });
  const errorBox = h("div", { id: "error" });
  const eventsBox = h("ol", { class: "events", id: "events" });
  const problem = h("p", { class: "error" });
  fill(
    main,
    head,
    problem,
    errorBox,
    facts,
    h("section", {}, h("h2", {}, "Stage graph"), legend(), graphBox),
    h("section", {}, h("h2", {}, "Timeline"), timelineBox),
    h("section", {}, h("h2", {}, "Stages"), stagesBox),
    h("section", {}, h("h2", {}, "Output"), outputBox),
    h("section", {}, h("details", {}, h("summary", {}, "Events"), eventsBox)),
  );

  // The heading and the cancel button are made once and updated in place, so that a
  // click never lands on a button that was just replaced.
  const title = h("code", {});
  const stateBox = h("span", { id: "run-state" });
  const cancelButton = h("button", { id: "cancel", class: "danger" }, "Cancel run");
  cancelButton.addEventListener("click", async () => {
    cancelButton.disabled = true;
    try {
      const answer = await api("POST", `/api/runs/${encodeURIComponent(id)}/cancel`);
      problem.textContent = "";
      cancelButton.textContent = answer.state === "cancelled" ? "Cancelled" : "Cancelling…";
    } catch (error) {
      problem.textContent = `Cannot cancel: ${error.message}`;
      cancelButton.disabled = false;
    }
  });
  fill(head, h("h1", {}, "Run ", title, " ", stateBox));

  function drawHead() {
    if (!info) return;
    title.textContent = info.id.slice(0, 8);
    if (stateBox.dataset.state !== info.state) {
      stateBox.dataset.state = info.state;
      fill(stateBox, badge(info.state));
    }
    const running = ACTIVE.includes(info.state);
    // Only operators see it, and only while the run may still be stopped.
    if (canOperate() && running) {
      if (!cancelButton.isConnected) head.append(cancelButton);
      if (info.cancel_requested) {
        cancelButton.disabled = true;
        cancelButton.textContent = "Cancelling…";
      }
    } else if (cancelButton.isConnected) {
      cancelButton.remove();
    }
    const duration = info.started_ms ? (info.ended_ms || Date.now()) - info.started_ms : undefined;
    const outcome = info.outcome;
    const rows = outcome && outcome.status === "succeeded" ? outcome.summary.rows_written : undefined;
    const fact = (name, value) => [h("dt", {}, name), h("dd", {}, value)];
    const params = Object.entries(info.params);
    fill(
      facts,
      h(
        "dl",
        {},
        fact("Run id", h("code", {}, info.id)),
        fact(
          "Pipeline",
          info.pipeline
            ? h("a", { href: `#/pipelines/${encodeURIComponent(info.pipeline)}` }, `${info.pipeline} v${info.pipeline_version}`)
            : h("span", { class: "muted" }, "ad hoc spec"),
        ),
        fact("Trigger", info.trigger),
        fact("Executor", info.executor_id ? h("code", { id: "run-executor" }, info.executor_id) : h("span", { class: "muted" }, "none yet")),
        fact("Attempt", `${info.attempt} of ${info.retries + 1}`),
        fact("Labels", chips(info.labels)),
        fact("Created", fmtTime(info.created_ms)),
        fact("Started", fmtTime(info.started_ms) || h("span", { class: "muted" }, "not yet")),
        fact("Ended", fmtTime(info.ended_ms) || h("span", { class: "muted" }, "not yet")),
        fact("Duration", h("span", { id: "run-duration" }, fmtDuration(duration))),
        fact(
          "Rows written",
          rows === undefined || rows === null ? h("span", { class: "muted" }, "none") : fmtCount(rows),
        ),
        info.queue_position ? fact("Queue place", String(info.queue_position)) : null,
      ),
      h("h3", {}, "Parameters"),
      params.length
        ? table(
            ["Name", "Value"],
            params.map(([name, value]) => h("tr", {}, h("td", {}, h("code", {}, name)), h("td", {}, value))),
            { id: "params" },
          )
        : h("p", { class: "muted" }, "none"),
    );
  }

  function drawError() {
    const outcome = (model.ended && model.ended.outcome) || (info && info.outcome);
    if (!outcome || outcome.status !== "failed") return fill(errorBox);
    fill(
      errorBox,
      h(
        "div",
        { class: "failure" },
        h("h2", {}, outcome.stage ? `Stage ${outcome.stage} failed` : "The run failed"),
        outcome.memory_limit ? h("p", {}, "It ran out of the executor's memory limit.") : null,
        outcome.destination_changed ? h("p", { class: "error" }, "Part of the destination was replaced before the failure.") : null,
        // A stage's failure quoted against the spec when the orchestrator has its text;
        // a spec that did not compile has its diagnostics in the message already.
        h("pre", { class: "diagnostic", id: "diagnostic" }, (info && info.failure_report) || outcome.message),
      ),
    );
  }

  function drawProgress() {
    const runState = info ? info.state : "queued";
    const states = stageStates(model, runState);
    if (model.graph) {
      fill(graphBox, drawGraph(model.graph, states));
    } else {
      fill(
        graphBox,
        h(
          "p",
          { class: "muted" },
          ACTIVE.includes(runState)
            ? "The graph appears when the run is compiled for its executor."
            : "No stage graph: this run was submitted as a compiled artifact, or never compiled.",
        ),
      );
    }
    fill(timelineBox, timeline(model, Date.now()));
    const names = model.graph ? model.graph.stages.map((stage) => stage.name) : [...model.stages.keys()];
    fill(
      stagesBox,
      table(
        ["Stage", "State", "Rows", "Duration", "Written to"],
        names.map((name) => {
          const stage = model.stages.get(name);
          return h(
            "tr",
            { "data-stage": name },
            h("td", {}, h("code", {}, name)),
            h("td", {}, badge(states[name] || "pending")),
            h("td", { class: "num" }, stage && stage.rows !== null ? fmtCount(stage.rows) : ""),
            h("td", {}, stage && stage.elapsedMs !== null ? fmtDuration(stage.elapsedMs) : ""),
            h("td", {}, stage && stage.written ? h("code", {}, stage.written.path) : ""),
          );
        }),
        { id: "stages" },
      ),
    );
    fill(
      outputBox,
      model.outputs.length
        ? model.outputs.map((output) => h("div", { class: "stage-output", "data-stage": output.stage }, outputBlocks(output.text)))
        : h("p", { class: "muted" }, "No stage printed anything (`show`, `explain` and `print_schema` print here)."),
    );
    drawError();
  }

  // Answers may arrive out of order: only the newest request's answer is used.
  let asked = 0;
  let applied = 0;
  async function readInfo() {
    const number = ++asked;
    try {
      const answer = await api("GET", `/api/runs/${encodeURIComponent(id)}`);
      if (number < applied) return;
      applied = number;
      info = answer;
      problem.textContent = "";
      drawHead();
      drawProgress();
    } catch (error) {
      problem.textContent = error.status === 404 ? `There is no run ${id}.` : error.message;
    }
  }

  let source = null;
  let stopped = false;
  const redraw = (() => {
    let pending = false;
    return () => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        drawProgress();
      });
    };
  })();
  readInfo().then(() => {
    if (stopped || !info) return;
    source = new EventSource(`/api/runs/${encodeURIComponent(id)}/events`);
    source.onmessage = (message) => {
      const event = JSON.parse(message.data);
      apply(model, event);
      eventsBox.append(h("li", {}, h("time", {}, fmtTime(event.at_ms)), " ", describeEvent(event)));
      // Facts (state, executor, times) change with these; progress only redraws.
      if (["assigned", "started", "cancel_requested", "lost", "retrying"].includes(event.kind)) readInfo();
      else redraw();
      // A run taken for lost may still get its true outcome: the stream ends with the
      // `ended` that matches the run's recorded state.
      if (event.kind === "ended") {
        readInfo().then(() => {
          if (info && info.state === event.state && source) source.close();
        });
      }
    };
    source.onerror = () => {
      if (info && !ACTIVE.includes(info.state)) source.close();
      else if (source.readyState === EventSource.CLOSED) checkSession();
    };
  });
  const ticking = setInterval(() => {
    if (info && ACTIVE.includes(info.state)) {
      const duration = facts.querySelector("#run-duration");
      if (duration && info.started_ms) duration.textContent = fmtDuration(Date.now() - info.started_ms);
      redraw();
    }
  }, 1000);
  return () => {
    stopped = true;
    if (source) source.close();
    clearInterval(ticking);
  };
}
