// A run's stage graph as SVG: dagre lays out sources and stages left to right, edges
// follow the inferred DAG, and each stage's color says its state.

import { h, s } from "./dom.js";

const NODE_HEIGHT = 34;
const CHAR_WIDTH = 7.4;

function nodeWidth(label) {
  return Math.max(90, Math.min(260, label.length * CHAR_WIDTH + 34));
}

/**
 * Draws `graph` (`{ sources: [{name, kind}], stages: [{name, inputs, writes_destination}] }`)
 * with `states` (stage name → pending, running, succeeded, failed or cancelled).
 */
export function drawGraph(graph, states) {
  const layout = new dagre.graphlib.Graph();
  layout.setGraph({ rankdir: "LR", nodesep: 18, ranksep: 46, marginx: 8, marginy: 8 });
  layout.setDefaultEdgeLabel(() => ({}));
  for (const source of graph.sources) {
    layout.setNode(`source:${source.name}`, { label: source.name, kind: source.kind, width: nodeWidth(source.name), height: NODE_HEIGHT });
  }
  for (const stage of graph.stages) {
    layout.setNode(`stage:${stage.name}`, { label: stage.name, width: nodeWidth(stage.name), height: NODE_HEIGHT });
  }
  const stageNames = new Set(graph.stages.map((stage) => stage.name));
  for (const stage of graph.stages) {
    for (const input of stage.inputs) {
      const from = stageNames.has(input) ? `stage:${input}` : `source:${input}`;
      if (layout.hasNode(from)) layout.setEdge(from, `stage:${stage.name}`);
    }
  }
  const destinations = graph.stages.filter((stage) => stage.writes_destination);
  for (const stage of destinations) {
    layout.setNode("destination", { label: "destination", width: 110, height: NODE_HEIGHT });
    layout.setEdge(`stage:${stage.name}`, "destination");
  }
  dagre.layout(layout);
  const { width, height } = layout.graph();

  const edges = layout.edges().map((edge) => {
    const points = layout.edge(edge).points;
    const d = points.map((p, i) => `${i === 0 ? "M" : "L"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
    return s("path", { class: "edge", d, "marker-end": "url(#arrow)", "data-from": edge.v, "data-to": edge.w });
  });
  const nodes = layout.nodes().map((id) => {
    const node = layout.node(id);
    const [type, ...rest] = id.split(":");
    const name = rest.join(":");
    const state = type === "stage" ? states[name] || "pending" : type;
    const x = node.x - node.width / 2;
    const y = node.y - node.height / 2;
    return s(
      "g",
      {
        class: `node ${type} state-${state}`,
        "data-stage": type === "stage" ? name : undefined,
        "data-state": type === "stage" ? state : undefined,
        transform: `translate(${x.toFixed(1)},${y.toFixed(1)})`,
      },
      s("title", {}, type === "stage" ? `stage ${name}: ${state}` : type === "source" ? `${node.kind} source ${name}` : "the destination"),
      s("rect", { width: node.width, height: node.height, rx: type === "stage" ? 6 : 16 }),
      s("text", { x: node.width / 2, y: node.height / 2 + 4, "text-anchor": "middle" }, node.label),
    );
  });
  return s(
    "svg",
    {
      class: "stage-graph",
      viewBox: `0 0 ${Math.ceil(width)} ${Math.ceil(height)}`,
      width: Math.ceil(width),
      role: "img",
      "aria-label": "stage graph",
    },
    s(
      "defs",
      {},
      s(
        "marker",
        { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
        s("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow" }),
      ),
    ),
    s("g", {}, edges),
    s("g", {}, nodes),
  );
}

/** The legend of stage colors. */
export function legend() {
  return h(
    "div",
    { class: "legend" },
    ["pending", "running", "succeeded", "failed", "cancelled"].map((state) =>
      h("span", {}, h("i", { class: `swatch state-${state}` }), state),
    ),
  );
}
