// Hash routing: #/ (scenarios), #/scenarios/<name>, #/executions/<id>, #/queue.
import { api } from "./api.js";
import { errorBox, replace } from "./dom.js";
import * as scenarios from "./pages/scenarios.js";
import * as scenario from "./pages/scenario.js";
import * as execution from "./pages/execution.js";
import * as queue from "./pages/queue.js";

const ROUTES = [
  [/^\/?$/, scenarios, "scenarios"],
  [/^\/scenarios\/(.+)$/, scenario, "scenarios"],
  [/^\/executions\/([^/]+)$/, execution, "scenarios"],
  [/^\/queue$/, queue, "queue"],
];

const main = document.getElementById("main");
let cleanup = null;
let firstRoute = true;

function parseHash() {
  const raw = window.location.hash.replace(/^#/, "") || "/";
  const [path, search = ""] = raw.split("?");
  return { path, query: new URLSearchParams(search) };
}

function route() {
  if (cleanup) cleanup();
  cleanup = null;
  const { path, query } = parseHash();
  const found = ROUTES.map(([re, page, nav]) => [path.match(re), page, nav]).find(([m]) => m);
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.toggleAttribute("aria-current", Boolean(found && link.dataset.nav === found[2]));
  }
  if (!found) {
    document.title = "Not found · Test Genie";
    replace(main, errorBox(new Error(`no page at #${path}`)));
    return;
  }
  const [match, page] = found;
  const params = match.slice(1).map(decodeURIComponent);
  cleanup = page.render(main, params, query) || null;
  // Move focus to the new page for keyboard and screen-reader users (not on first load).
  if (!firstRoute) main.focus({ preventScroll: false });
  firstRoute = false;
}

async function health() {
  const el = document.getElementById("health");
  try {
    const doc = await api("/health");
    const q = doc.queue || {};
    el.textContent = `API ${doc.status} · ${q.queued ?? 0} queued · ${q.running ?? 0} running`;
    el.className = "health ok";
  } catch (err) {
    el.textContent = `API unreachable: ${err.message}`;
    el.className = "health bad";
  }
}

window.addEventListener("hashchange", route);
route();
health();
