// Queue: suite requests with live progress (polling), Cancel, and a form to queue a run.
import { api, encode } from "../api.js";
import { empty, errorBox, h, loading, replace, row } from "../dom.js";
import { TERMINAL, badge, executionLink, shortId, time } from "../format.js";

const HEADERS = ["Created", "Scenario", "Plan", "Trigger", "Status", "Progress", "Run", ""];
const STATUSES = ["", "queued", "running", "completed", "failed", "cancelled"];
const PRESETS = ["quick", "smoke", "comprehensive"];
const FAST_POLL_MS = 1000;
const SLOW_POLL_MS = 5000;

export function render(main, _params, query) {
  document.title = "Queue · Test Genie";
  const abort = new AbortController();
  const state = { items: new Map(), older: [], nextCursor: null, status: "", highlight: query.get("highlight"), timer: null, loaded: false };
  const listBox = h("div", { class: "page-body" }, loading("suite requests"));
  const statusFilter = h("select", { id: "q-status", onchange: () => { state.status = statusFilter.value; state.items.clear(); state.older = []; state.loaded = false; replace(listBox, loading("suite requests")); poll(); } },
    STATUSES.map((s) => h("option", { value: s }, s || "any status")));
  replace(main,
    h("div", { class: "page-head" }, h("h1", {}, "Queue"),
      h("div", { class: "filters" }, h("label", { for: "q-status" }, "Status"), statusFilter)),
    queueForm(query.get("scenario") || "", abort.signal, (request) => {
      state.highlight = request.id;
      state.items.set(request.id, request);
      draw();
      poll();
    }),
    h("section", { "aria-labelledby": "requests-h" }, h("h2", { id: "requests-h" }, "Suite requests"), listBox));

  async function poll() {
    clearTimeout(state.timer);
    try {
      const page = await api("/suite-requests", { query: { status: state.status, limit: 50 }, signal: abort.signal });
      state.items = new Map(page.items.map((r) => [r.id, r]));
      if (!state.loaded) state.nextCursor = page.nextCursor || null;
      state.loaded = true;
      draw();
    } catch (err) {
      if (err.name === "AbortError") return;
      replace(listBox, errorBox(err, poll));
    }
    const active = [...state.items.values()].some((r) => !TERMINAL.has(r.status));
    state.timer = setTimeout(() => (document.hidden ? null : poll()), active ? FAST_POLL_MS : SLOW_POLL_MS);
  }

  async function loadOlder(button) {
    button.disabled = true;
    try {
      const page = await api("/suite-requests", { query: { status: state.status, limit: 50, cursor: state.nextCursor }, signal: abort.signal });
      state.older.push(...page.items);
      state.nextCursor = page.nextCursor || null;
      draw();
    } catch (err) {
      if (err.name !== "AbortError") button.replaceWith(errorBox(err));
    }
  }

  async function cancel(request, button) {
    button.disabled = true;
    try {
      const updated = await api(`/suite-requests/${encode(request.id)}/cancel`, { method: "POST", body: {} });
      state.items.set(updated.id, updated);
      draw();
      poll();
    } catch (err) {
      button.disabled = false;
      button.closest("td").append(errorBox(err));
    }
  }

  function draw() {
    const all = [...state.items.values(), ...state.older.filter((r) => !state.items.has(r.id))];
    if (!all.length) {
      replace(listBox, empty(state.status ? `No ${state.status} suite requests.` : "Nothing queued yet: use the form above."));
      return;
    }
    const existing = listBox.querySelector("tbody");
    const focused = document.activeElement?.closest?.("tr[data-request]")?.dataset.request;
    const rows = all.map((r) => requestRow(r, state.highlight === r.id, cancel));
    const tbody = h("tbody", {}, rows);
    if (existing) {
      existing.replaceWith(tbody);
    } else {
      const head = h("thead", {}, h("tr", {}, HEADERS.map((name) => h("th", { scope: "col" }, name || h("span", { class: "sr-only" }, "Actions")))));
      replace(listBox, h("table", { class: "responsive", id: "requests-table" }, head, tbody));
    }
    listBox.querySelector(".more, .end")?.remove();
    listBox.append(state.nextCursor
      ? h("button", { type: "button", class: "more", onclick: (e) => loadOlder(e.target) }, "Load older requests")
      : h("p", { class: "muted end" }, `${all.length} requests; refreshing while any is queued or running.`));
    // Keep keyboard focus where it was when the rows are rebuilt by polling.
    if (focused) tbody.querySelector(`tr[data-request="${CSS.escape(focused)}"] button, tr[data-request="${CSS.escape(focused)}"] a`)?.focus();
    const marked = tbody.querySelector("tr.highlight");
    if (marked && !state.scrolled) {
      state.scrolled = true;
      marked.scrollIntoView({ block: "nearest" });
    }
  }

  poll();
  const wake = () => { if (!document.hidden) poll(); };
  document.addEventListener("visibilitychange", wake);
  return () => { abort.abort(); clearTimeout(state.timer); document.removeEventListener("visibilitychange", wake); };
}

function requestRow(r, highlighted, cancel) {
  const canCancel = !TERMINAL.has(r.status) && !r.cancelRequested;
  const cancelCell = canCancel
    ? h("button", { type: "button", class: "cancel", onclick: (e) => cancel(r, e.target), "aria-label": `Cancel request ${shortId(r.id)}` }, "Cancel")
    : r.cancelRequested && !TERMINAL.has(r.status) ? h("span", { class: "muted" }, "cancelling") : "";
  return row(HEADERS, [
    time(r.createdAt),
    h("a", { href: `#/scenarios/${encode(r.scenarioName)}` }, r.scenarioName),
    plan(r),
    r.rerunOf ? h("span", {}, "rerun of ", executionLink(r.rerunOf)) : r.trigger || "–",
    badge(shownStatus(r)),
    progress(r),
    r.executionId ? executionLink(r.executionId, "open") : "–",
    cancelCell,
  ], { class: highlighted ? "highlight" : null, dataset: { request: r.id, status: r.status } });
}

// A running request whose cancel is under way (its durable execution not yet stopped) is "cancelling".
function shownStatus(r) {
  return r.status === "running" && r.cancelRequested ? "cancelling" : r.status;
}

function plan(r) {
  if (r.phases?.length) return r.phases.join(", ");
  if (r.preset) return `preset ${r.preset}`;
  return "all phases";
}

function progress(r) {
  const p = r.progress;
  if (!p) return h("span", { class: "muted" }, r.status === "queued" ? `waiting (~${r.estimatedQueueTimeSeconds ?? "?"} s)` : "–");
  const done = p.completedPhases ?? (p.phases || []).length;
  const total = p.totalPhases ?? done;
  const failed = (p.phases || []).filter((x) => x.status === "failed").length;
  const label = `${done}/${total} phases${failed ? `, ${failed} failed` : ""}${p.currentPhase && !TERMINAL.has(r.status) ? ` · now ${p.currentPhase}` : ""}`;
  return h("span", { class: "progress" },
    h("progress", { max: String(Math.max(total, 1)), value: String(done), "aria-label": `progress of ${shortId(r.id)}` }),
    h("span", { class: "progress-text" }, label));
}

function queueForm(scenario, signal, onQueued) {
  const notice = h("div", { class: "notice", role: "status", "aria-live": "polite" });
  const name = h("input", { id: "qf-scenario", name: "scenario", required: true, value: scenario, list: "qf-scenarios", autocomplete: "off", placeholder: "e.g. hello-python" });
  const names = h("datalist", { id: "qf-scenarios" });
  const usePreset = h("input", { type: "radio", name: "mode", id: "qf-mode-preset", value: "preset", checked: true });
  const usePhases = h("input", { type: "radio", name: "mode", id: "qf-mode-phases", value: "phases" });
  const preset = h("select", { id: "qf-preset" }, h("option", { value: "" }, "all phases (no preset)"), PRESETS.map((p) => h("option", { value: p }, p)));
  const phaseBox = h("fieldset", { class: "phase-picks", disabled: true }, h("legend", {}, "Phases"), loading("phases"));
  const failFast = h("input", { type: "checkbox", id: "qf-failfast" });
  const submit = h("button", { type: "submit", id: "qf-submit" }, "Queue run");
  const syncMode = () => { phaseBox.disabled = !usePhases.checked; preset.disabled = usePhases.checked; };
  usePreset.addEventListener("change", syncMode);
  usePhases.addEventListener("change", syncMode);
  syncMode();

  const form = h("form", { class: "queue-form", "aria-labelledby": "qf-h", onsubmit: async (event) => {
    event.preventDefault();
    const body = { scenarioName: name.value.trim(), failFast: failFast.checked };
    if (usePhases.checked) {
      body.phases = [...phaseBox.querySelectorAll("input:checked")].map((i) => i.value);
      if (!body.phases.length) { replace(notice, errorBox(new Error("pick at least one phase"))); return; }
    } else if (preset.value) {
      body.preset = preset.value;
    }
    submit.disabled = true;
    replace(notice, loading("the request"));
    try {
      const request = await api("/suite-requests", { method: "POST", body });
      replace(notice, h("p", { class: "ok-text" }, `✔ Queued request ${shortId(request.id)} for ${request.scenarioName}.`));
      onQueued(request);
    } catch (err) {
      replace(notice, errorBox(err));
    } finally {
      submit.disabled = false;
    }
  } },
  h("h2", { id: "qf-h" }, "Queue a run"),
  h("div", { class: "form-row" }, h("span", { class: "field" }, h("label", { for: "qf-scenario" }, "Scenario"), name, names)),
  h("div", { class: "form-row" },
    h("span", { class: "field inline" }, usePreset, h("label", { for: "qf-mode-preset" }, "Preset")), preset,
    h("span", { class: "field inline" }, usePhases, h("label", { for: "qf-mode-phases" }, "Pick phases"))),
  phaseBox,
  h("div", { class: "form-row" }, h("span", { class: "field inline" }, failFast, h("label", { for: "qf-failfast" }, "Stop at the first failed phase")), submit),
  notice);

  api("/phases", { signal }).then((doc) => {
    replace(phaseBox, h("legend", {}, "Phases"), doc.items.map((p) => h("span", { class: "field inline", title: p.description },
      h("input", { type: "checkbox", id: `qf-phase-${p.name}`, value: p.name }), h("label", { for: `qf-phase-${p.name}` }, p.name))));
  }).catch((err) => { if (err.name !== "AbortError") replace(phaseBox, h("legend", {}, "Phases"), errorBox(err)); });
  offerScenarios(names, notice, signal);
  return form;
}

// Every scenario the service can run (its source) and every one with runs (history), each once:
// one list alone would miss a scenario never run, or one whose bundle has since gone.
async function offerScenarios(names, notice, signal) {
  const lists = await Promise.allSettled([api("/scenarios/available", { signal }), api("/scenarios", { signal })]);
  const failed = lists.find((l) => l.status === "rejected");
  if (failed?.reason.name === "AbortError") return;
  const found = lists.flatMap((l) => (l.status === "fulfilled" ? l.value.items.map((s) => s.scenarioName) : []));
  replace(names, [...new Set(found)].sort().map((name) => h("option", { value: name })));
  if (failed) replace(notice, errorBox(new Error(`scenario names: ${failed.reason.message}`)));
}
