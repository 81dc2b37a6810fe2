// A new run or deployment: a spec in the editor (checked as it is typed), its
// parameters and labels, then "Run" (POST /api/runs) or "Deploy" (PUT /api/pipelines/{name}).

import { api, canOperate } from "../api.js";
import { fill, h, parsePairs } from "../dom.js";
import { createEditor } from "../editor.js";

const STARTER = `# sources: the tables stages read; stages: SQL, in any order (the graph is inferred);
# destination (optional): where the final stage's result goes.
sources:
  - type: file
    name: readings
    format: { type: csv, options: { has_header: true } }
    location: data/readings.csv
stages:
  - name: daily
    query: SELECT location_id, avg(temperature) AS avg_temperature FROM readings GROUP BY location_id
    show: 10
`;

const EXTENSIONS = { yaml: "yml", json: "json", toml: "toml" };

export function render(main) {
  if (!canOperate()) {
    fill(main, h("h1", {}, "New run / deploy"), h("p", { class: "error" }, "A viewer key cannot submit runs or deploy pipelines."));
    return;
  }
  const format = h("select", { id: "format" }, Object.keys(EXTENSIONS).map((f) => h("option", { value: f }, f.toUpperCase())));
  const fileName = h("input", { id: "spec-name", value: "spec.yml", size: 18 });
  const params = h("textarea", { id: "params", rows: 4, spellcheck: "false", placeholder: "month=jan" });
  const labels = h("textarea", { id: "labels", rows: 2, spellcheck: "false", placeholder: "pool=eu" });
  const status = h("p", { class: "check-status", id: "check-status" }, "Checking as you type…");
  const diagnostics = h("ul", { class: "diagnostics", id: "diagnostics" });
  const problem = h("p", { class: "error", id: "submit-error" });
  const editorBox = h("div", { class: "editor", id: "editor" });
  const pipelineName = h("input", { id: "pipeline-name", placeholder: "daily_report", size: 20 });
  const cron = h("input", { id: "schedule", placeholder: "0 6 * * *  (optional)", size: 18 });
  const timezone = h("input", { id: "timezone", value: "UTC", size: 14 });
  const retries = h("input", { id: "retries", type: "number", min: 0, max: 10, value: 0, size: 3 });

  const spec = () => ({ text: editor.text(), format: format.value, name: fileName.value || undefined });
  const pairs = (element, what) => {
    try {
      return parsePairs(element.value);
    } catch (error) {
      throw new Error(`${what}: ${error.message}`);
    }
  };

  async function check(text) {
    const answer = await api("POST", "/api/check", {
      spec: { text, format: format.value, name: fileName.value || undefined },
      params: pairs(params, "parameters"),
      labels: pairs(labels, "labels"),
    });
    return answer;
  }

  const editor = createEditor(editorBox, {
    text: STARTER,
    format: "yaml",
    check: async (text) => {
      const answer = await check(text);
      status.dataset.executor = answer.executor_id;
      return answer.located;
    },
    onChecked: (located, error) => {
      if (error) {
        // Too many checks at once: the next change checks again.
        if (error.status === 429) return;
        status.className = "check-status warn";
        status.textContent = error.message;
        return;
      }
      const errors = located.filter((d) => d.severity === "error").length;
      const warnings = located.length - errors;
      status.className = `check-status ${errors ? "bad" : "good"}`;
      status.textContent = errors || warnings
        ? `${errors} error(s), ${warnings} warning(s) (checked on executor ${status.dataset.executor})`
        : `No problems (checked on executor ${status.dataset.executor})`;
      fill(
        diagnostics,
        located.map((d) =>
          h(
            "li",
            { class: `severity-${d.severity}`, "data-line": d.line || "", "data-column": d.column || "" },
            h("strong", {}, d.line ? `line ${d.line}, column ${d.column}` : "spec"),
            ` ${d.code}: ${d.message}`,
            d.help ? h("div", { class: "muted" }, `help: ${d.help}`) : null,
          ),
        ),
      );
    },
  });
  format.addEventListener("change", () => {
    fileName.value = fileName.value.replace(/\.[a-z]+$/, "") + `.${EXTENSIONS[format.value]}`;
    editor.setFormat(format.value);
    editor.recheck();
  });

  async function submit(button, action) {
    problem.textContent = "";
    button.disabled = true;
    try {
      await action();
    } catch (error) {
      const located = error.body && error.body.located;
      problem.textContent = located && located.length ? `${error.message}: see the diagnostics in the editor` : error.message;
    } finally {
      button.disabled = false;
    }
  }
  const runButton = h("button", { id: "submit-run", type: "button" }, "Run");
  runButton.addEventListener("click", () =>
    submit(runButton, async () => {
      const run = await api("POST", "/api/runs", {
        spec: spec(),
        params: pairs(params, "parameters"),
        labels: pairs(labels, "labels"),
        retries: Number(retries.value) || 0,
      });
      location.hash = `#/runs/${encodeURIComponent(run.id)}`;
    }),
  );
  const deployButton = h("button", { id: "deploy", type: "button" }, "Deploy");
  deployButton.addEventListener("click", () =>
    submit(deployButton, async () => {
      const name = pipelineName.value.trim();
      if (!name) throw new Error("give the pipeline a name to deploy it");
      const body = {
        spec: spec(),
        params: pairs(params, "parameters"),
        labels: pairs(labels, "labels"),
        retries: Number(retries.value) || 0,
        schedules: cron.value.trim() ? [{ cron: cron.value.trim(), timezone: timezone.value.trim() || "UTC" }] : [],
      };
      await api("PUT", `/api/pipelines/${encodeURIComponent(name)}`, body);
      location.hash = `#/pipelines/${encodeURIComponent(name)}`;
    }),
  );

  fill(
    main,
    h("h1", {}, "New run / deploy"),
    h(
      "div",
      { class: "compose" },
      h("div", { class: "compose-editor" }, h("div", { class: "filters" }, h("label", {}, "Format ", format), h("label", {}, "File name ", fileName)), editorBox, status, diagnostics),
      h(
        "div",
        { class: "compose-side" },
        h("label", { for: "params" }, "Parameters (key=value per line)"),
        params,
        h("label", { for: "labels" }, "Executor labels (key=value per line)"),
        labels,
        h("label", { for: "retries" }, "Retries after a lost executor"),
        retries,
        h("div", { class: "actions" }, runButton),
        h("h3", {}, "Deploy as a pipeline"),
        h("label", { for: "pipeline-name" }, "Pipeline name"),
        pipelineName,
        h("label", { for: "schedule" }, "Cron schedule"),
        cron,
        h("label", { for: "timezone" }, "Time zone"),
        timezone,
        h("div", { class: "actions" }, deployButton),
        problem,
      ),
    ),
  );

  // Parameters and labels change what the spec compiles to: checked again.
  for (const input of [params, labels, fileName]) input.addEventListener("change", () => editor.recheck());
  return () => editor.destroy();
}
