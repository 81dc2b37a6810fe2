// Deployed pipelines: the list with schedules, triggers and last outcomes; one
// pipeline with its settings, "run now" with parameters, and two versions side by side.

import { api, canOperate } from "../api.js";
import { ago, badge, chips, fill, fmtTime, h, pairsText, parsePairs, table } from "../dom.js";
import { runLink } from "./runs.js";

function schedulesText(pipeline) {
  if (!pipeline.schedules.length) return h("span", { class: "muted" }, "none");
  return h(
    "ul",
    { class: "plain" },
    pipeline.schedules.map((schedule) =>
      h("li", {}, h("code", {}, schedule.cron), ` (${schedule.timezone}) next `, h("time", { title: fmtTime(schedule.next_fire_ms) }, fmtTime(schedule.next_fire_ms))),
    ),
  );
}

function triggerText(pipeline) {
  const trigger = pipeline.file_trigger;
  if (!trigger) return h("span", { class: "muted" }, "none");
  return h("span", {}, "files in ", h("code", {}, trigger.location), ` every ${trigger.interval_seconds} s → `, h("code", {}, trigger.param));
}

async function lastRun(name) {
  const page = await api("GET", `/api/runs?pipeline=${encodeURIComponent(name)}&limit=1`);
  return page.runs[0] || null;
}

function renderList(main) {
  const list = h("div", { class: "scroll" });
  const problem = h("p", { class: "error" });
  fill(main, h("h1", {}, "Pipelines"), problem, list);
  (async () => {
    try {
      const pipelines = await api("GET", "/api/pipelines");
      const last = await Promise.all(pipelines.map((p) => lastRun(p.name).catch(() => null)));
      fill(
        list,
        table(
          ["Pipeline", "Version", "Schedules (next run)", "File trigger", "Labels", "Last run", "Deployed"],
          pipelines.map((pipeline, i) =>
            h(
              "tr",
              { "data-pipeline": pipeline.name },
              h("td", {}, h("a", { href: `#/pipelines/${encodeURIComponent(pipeline.name)}` }, pipeline.name)),
              h("td", {}, `v${pipeline.version}`),
              h("td", {}, schedulesText(pipeline)),
              h("td", {}, triggerText(pipeline)),
              h("td", {}, chips(pipeline.labels)),
              h("td", {}, last[i] ? [badge(last[i].state), " ", runLink(last[i].id), " ", h("span", { class: "muted" }, ago(last[i].created_ms))] : h("span", { class: "muted" }, "never run")),
              h("td", {}, `${fmtTime(pipeline.deployed_ms)} by ${pipeline.deployed_by}`),
            ),
          ),
          { id: "pipelines" },
        ),
      );
    } catch (error) {
      problem.textContent = error.message;
    }
  })();
}

/** Two texts side by side, changed lines marked (jsdiff's line diff). */
function sideBySide(before, after) {
  const rows = [];
  let left = 1;
  let right = 1;
  const parts = Diff.diffLines(before, after);
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    const lines = part.value.replace(/\n$/, "").split("\n");
    if (part.removed && parts[i + 1] && parts[i + 1].added) {
      const added = parts[i + 1].value.replace(/\n$/, "").split("\n");
      for (let k = 0; k < Math.max(lines.length, added.length); k++) {
        const l = k < lines.length ? [left++, lines[k]] : null;
        const r = k < added.length ? [right++, added[k]] : null;
        rows.push(diffRow(l, "removed", r, "added"));
      }
      i += 1;
    } else if (part.removed) {
      for (const line of lines) rows.push(diffRow([left++, line], "removed", null, ""));
    } else if (part.added) {
      for (const line of lines) rows.push(diffRow(null, "", [right++, line], "added"));
    } else {
      for (const line of lines) rows.push(diffRow([left++, line], "same", [right++, line], "same"));
    }
  }
  return h("div", { class: "scroll" }, h("table", { class: "diff", id: "diff" }, h("tbody", {}, rows)));
}

function diffRow(left, leftClass, right, rightClass) {
  const cells = (side, kind) =>
    side
      ? [h("td", { class: `ln ${kind}` }, side[0]), h("td", { class: `code ${kind}` }, side[1])]
      : [h("td", { class: "ln empty" }), h("td", { class: "code empty" })];
  return h("tr", {}, cells(left, leftClass), cells(right, rightClass));
}

function renderOne(main, name) {
  const problem = h("p", { class: "error" });
  const body = h("div");
  fill(main, h("h1", {}, "Pipeline ", h("code", {}, name)), problem, body);
  (async () => {
    let current;
    try {
      current = await api("GET", `/api/pipelines/${encodeURIComponent(name)}`);
    } catch (error) {
      problem.textContent = error.message;
      return;
    }
    const fact = (label, value) => [h("dt", {}, label), h("dd", {}, value)];
    const runNow = canOperate() ? runNowForm(current, problem) : null;
    const versions = current.versions.map((v) => v.version).sort((a, b) => a - b);
    const pick = (id, selected) =>
      h("select", { id }, versions.map((v) => h("option", { value: v, selected: v === selected }, `v${v}`)));
    const older = pick("diff-from", versions.length > 1 ? versions[versions.length - 2] : versions[0]);
    const newer = pick("diff-to", versions[versions.length - 1]);
    const diffBox = h("div");
    async function showDiff() {
      try {
        const [a, b] = await Promise.all(
          [older.value, newer.value].map((v) => api("GET", `/api/pipelines/${encodeURIComponent(name)}?version=${v}`)),
        );
        fill(
          diffBox,
          h("div", { class: "diff-heads" }, h("span", {}, `v${a.version} · ${fmtTime(a.deployed_ms)} by ${a.deployed_by}`), h("span", {}, `v${b.version} · ${fmtTime(b.deployed_ms)} by ${b.deployed_by}`)),
          sideBySide(a.spec.text, b.spec.text),
        );
      } catch (error) {
        fill(diffBox, h("p", { class: "error" }, error.message));
      }
    }
    older.addEventListener("change", showDiff);
    newer.addEventListener("change", showDiff);
    fill(
      body,
      h(
        "dl",
        { class: "facts" },
        fact("Version", `v${current.version} (${current.spec_hash.slice(0, 12)})`),
        fact("Deployed", `${fmtTime(current.deployed_ms)} by ${current.deployed_by}`),
        fact("Spec", `${current.spec.name || ""} (${current.spec.format})`),
        fact("Schedules", schedulesText(current)),
        fact("Catch up missed ticks", current.catch_up ? "yes" : "no"),
        fact("File trigger", triggerText(current)),
        fact("Labels", chips(current.labels)),
        fact("Retries", String(current.retries)),
        fact("At once at most", current.max_concurrent ? String(current.max_concurrent) : "no limit"),
        fact("Checked on", current.checked_on || h("span", { class: "muted" }, "no executor was connected")),
        fact("Runs", h("a", { href: `#/runs?pipeline=${encodeURIComponent(name)}` }, "history")),
      ),
      runNow,
      h("section", {}, h("h2", {}, "Versions"), h("div", { class: "filters" }, h("label", {}, "From ", older), h("label", {}, "to ", newer)), diffBox),
    );
    showDiff();
  })();
}

function runNowForm(pipeline, problem) {
  const params = h("textarea", { id: "run-params", rows: 4, spellcheck: "false" }, pairsText(pipeline.params));
  const button = h("button", { id: "run-now", type: "submit" }, "Run now");
  const form = h(
    "form",
    { class: "run-now" },
    h("h2", {}, "Run now"),
    h("label", { for: "run-params" }, "Parameters (key=value per line; defaults shown, masked values are kept unless replaced)"),
    params,
    button,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      const given = parsePairs(params.value);
      // A masked default is not sent back: the deployed value applies.
      for (const [key, value] of Object.entries(given)) if (value === "***") delete given[key];
      const run = await api("POST", "/api/runs", { pipeline: pipeline.name, params: given });
      location.hash = `#/runs/${encodeURIComponent(run.id)}`;
    } catch (error) {
      problem.textContent = `Cannot run: ${error.message}`;
      button.disabled = false;
    }
  });
  return form;
}

export function render(main, args) {
  if (args[0]) renderOne(main, args[0]);
  else renderList(main);
}
