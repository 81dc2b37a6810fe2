// The page's shell: sign-in, navigation, and a router over the URL's `#/...` part.
// Each page module renders into the main element and returns a function that stops
// whatever it follows (event streams, timers) when the user leaves it.

import { api, canOperate, currentSession, onSignedOut, setSession } from "./api.js";
import { fill, h } from "./dom.js";
import * as compose from "./pages/compose.js";
import * as overview from "./pages/overview.js";
import * as pipelines from "./pages/pipelines.js";
import * as run from "./pages/run.js";
import * as runs from "./pages/runs.js";

const root = document.getElementById("app");
let leave = () => {};

/** Pages by the first part of the route; `args` are the rest, `query` its parameters. */
function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, search] = hash.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const query = new URLSearchParams(search || "");
  switch (parts[0] || "") {
    case "":
      return { page: overview, args: [], query, nav: "overview" };
    case "runs":
      return parts[1] ? { page: run, args: [parts[1]], query, nav: "runs" } : { page: runs, args: [], query, nav: "runs" };
    case "pipelines":
      return { page: pipelines, args: parts.slice(1), query, nav: "pipelines" };
    case "new":
      return { page: compose, args: [], query, nav: "new" };
    default:
      return { page: overview, args: [], query, nav: "overview" };
  }
}

function navigation(active) {
  const link = (href, name, label) =>
    h("a", { href, class: active === name ? "active" : undefined, "data-nav": name }, label);
  const session = currentSession();
  return h(
    "header",
    { class: "top" },
    h("a", { class: "brand", href: "#/" }, h("img", { src: "/assets/favicon.svg", alt: "" }), "Aqueducts"),
    h(
      "nav",
      {},
      link("#/", "overview", "Overview"),
      link("#/runs", "runs", "Runs"),
      link("#/pipelines", "pipelines", "Pipelines"),
      canOperate() ? link("#/new", "new", "New run / deploy") : null,
    ),
    h(
      "div",
      { class: "who" },
      h("span", { id: "who", title: "signed in as" }, `${session.name} (${session.role})`),
      h("button", { id: "sign-out", class: "quiet", onclick: signOut }, "Sign out"),
    ),
  );
}

async function render() {
  leave();
  leave = () => {};
  if (!currentSession()) return showSignIn();
  let where;
  try {
    where = route();
  } catch {
    where = { page: overview, args: [], query: new URLSearchParams(), nav: "overview" };
  }
  const { page, args, query, nav } = where;
  const main = h("main", { id: "page" });
  fill(root, navigation(nav), main);
  try {
    leave = page.render(main, args, query) || (() => {});
  } catch (error) {
    fill(main, h("p", { class: "error" }, String(error.message || error)));
  }
}

function showSignIn(message) {
  leave();
  leave = () => {};
  const input = h("input", {
    id: "key",
    type: "password",
    name: "key",
    autocomplete: "current-password",
    placeholder: "aq_operator_…",
    required: true,
  });
  const problem = h("p", { class: "error", id: "sign-in-error" }, message || "");
  const form = h(
    "form",
    { class: "sign-in", id: "sign-in" },
    h("h1", {}, "Aqueducts orchestrator"),
    h("label", { for: "key" }, "API key"),
    input,
    h("button", { type: "submit", id: "sign-in-button" }, "Sign in"),
    problem,
    h("p", { class: "muted" }, "Use a key made with `aqueducts-orchestrator keys create`, or the administrators' key."),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.textContent = "";
    try {
      setSession(await api("POST", "/ui/session", { key: input.value }));
      input.value = "";
      render();
    } catch (error) {
      problem.textContent = error.message;
    }
  });
  fill(root, form);
  input.focus();
}

async function signOut() {
  try {
    await api("DELETE", "/ui/session");
  } catch {
    // Signed out either way.
  }
  setSession(null);
  showSignIn("Signed out.");
}

onSignedOut(() => showSignIn("The session has ended; sign in again."));
window.addEventListener("hashchange", render);

(async () => {
  try {
    setSession(await api("GET", "/ui/session"));
  } catch {
    setSession(null);
  }
  render();
})();
