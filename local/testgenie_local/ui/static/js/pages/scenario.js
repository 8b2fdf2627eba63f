// Scenario: duration chart, per-phase health (pass rate, p50/p95, flakiness), filtered run list.
import { api, encode } from "../api.js";
import { durationChart } from "../chart.js";
import { empty, errorBox, h, loading, replace, table } from "../dom.js";
import { OUTCOMES, TRIGGERS, badge, duration, executionLink, percent, time } from "../format.js";

const RUN_HEADERS = ["Completed", "Outcome", "Duration", "Phases", "Trigger", "Preset", "Run"];
const PHASE_HEADERS = ["Phase", "Runs", "Pass rate", "p50", "p95", "Flakiness", "Last failure", "Classifications"];

export function render(main, [name]) {
  document.title = `${name} · Test Genie`;
  const abort = new AbortController();
  const stats = h("section", { "aria-labelledby": "stats-h" }, h("h2", { id: "stats-h" }, "Phases"), loading("phase health"));
  const runs = h("section", { "aria-labelledby": "runs-h" }, h("h2", { id: "runs-h" }, "Runs"));
  const filters = runFilters(() => loadRuns(true));
  const chartBox = h("div", { class: "chart-slot" }, loading("runs"));
  const listBox = h("div", {});
  runs.append(filters.form, chartBox, listBox);
  replace(main,
    h("div", { class: "page-head" },
      h("h1", {}, name),
      h("div", { class: "actions" },
        h("a", { class: "button", href: `#/queue?scenario=${encode(name)}` }, "Queue a run"))),
    h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Scenarios"), " › ", name),
    runs, stats);

  const state = { items: [], nextCursor: null, generation: 0 };

  async function loadStats() {
    try {
      const doc = await api(`/scenarios/${encode(name)}/stats`, { query: { window: 30 }, signal: abort.signal });
      replace(stats, h("h2", { id: "stats-h" }, `Phases (last ${doc.runs} of a ${doc.window}-run window)`), ...statsBody(doc));
    } catch (err) {
      if (err.name === "AbortError") return;
      // 404: no run of this name is recorded at all. One not-found state, not an empty list and an error.
      if (err.status === 404) { abort.abort(); notFound(main, name); return; }
      replace(stats, h("h2", { id: "stats-h" }, "Phases"), errorBox(err, loadStats));
    }
  }

  async function loadRuns(reset) {
    // A newer load (filters changed) wins over one still in flight.
    const generation = reset ? ++state.generation : state.generation;
    if (reset) { state.items = []; state.nextCursor = null; replace(chartBox, loading("runs")); replace(listBox); }
    try {
      const query = { scenario: name, limit: 50, cursor: reset ? null : state.nextCursor, ...filters.values() };
      const page = await api("/executions", { query, signal: abort.signal });
      if (generation !== state.generation) return;
      const known = new Set(state.items.map((r) => r.executionId));
      state.items.push(...page.items.filter((r) => !known.has(r.executionId)));
      state.nextCursor = page.nextCursor || null;
      drawRuns();
    } catch (err) {
      if (err.name !== "AbortError") replace(chartBox, errorBox(err, () => loadRuns(true)));
    }
  }

  function drawRuns() {
    if (!state.items.length) {
      replace(chartBox, empty(filters.active() ? "No run matches these filters." : "No runs of this scenario yet."));
      replace(listBox);
      return;
    }
    replace(chartBox,
      h("h3", {}, "Duration per run"),
      durationChart(state.items, (run) => { window.location.hash = `#/executions/${encode(run.executionId)}`; }));
    const rows = state.items.map((r) => [
      time(r.completedAt), badge(r.outcome), duration(r.durationMs),
      `${r.phaseSummary?.passed ?? 0}/${r.phaseSummary?.total ?? 0} passed`,
      r.trigger || "–", r.preset || "–", executionLink(r.executionId, "open"),
    ]);
    const more = state.nextCursor
      ? h("button", { type: "button", class: "more", onclick: (e) => { e.target.disabled = true; loadRuns(false); } }, "Load older runs")
      : h("p", { class: "muted" }, "No older runs.");
    const count = state.items.length === 1 ? "1 run" : `${state.items.length} runs`;
    replace(listBox, h("p", { class: "muted" }, `${count} shown, newest first`),
      table(RUN_HEADERS, rows, { id: "runs-table" }), more);
  }

  loadRuns(true);
  loadStats();
  return () => abort.abort();
}

function notFound(main, name) {
  document.title = `Not found · Test Genie`;
  replace(main,
    h("div", { class: "page-head" }, h("h1", {}, name)),
    h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Scenarios"), " › ", name),
    empty(`No run of a scenario named “${name}” is recorded.`,
      h("p", {}, "Check the name on the ", h("a", { href: "#/" }, "Scenarios"), " page, or ",
        h("a", { href: `#/queue?scenario=${encode(name)}` }, "queue a run of it"), ".")));
}

function runFilters(onChange) {
  const outcome = select("f-outcome", ["", ...OUTCOMES], "any outcome");
  const trigger = select("f-trigger", ["", ...TRIGGERS], "any trigger");
  const since = h("input", { type: "date", id: "f-since" });
  const until = h("input", { type: "date", id: "f-until" });
  const form = h("form", { class: "filters", "aria-label": "Filter runs", onsubmit: (e) => { e.preventDefault(); onChange(); } },
    labelled("Outcome", outcome), labelled("Trigger", trigger), labelled("Since", since), labelled("Until", until),
    h("button", { type: "submit" }, "Apply"));
  for (const input of [outcome, trigger, since, until]) input.addEventListener("change", onChange);
  const values = () => ({
    outcome: outcome.value || null,
    trigger: trigger.value || null,
    // Dates are the viewer's local days: from local midnight to the end of the `until` day.
    since: since.value ? new Date(`${since.value}T00:00:00`).toISOString() : null,
    until: until.value ? new Date(`${until.value}T23:59:59.999`).toISOString() : null,
  });
  return { form, values, active: () => Object.values(values()).some(Boolean) };
}

function select(id, options, anyLabel) {
  return h("select", { id }, options.map((o) => h("option", { value: o }, o || anyLabel)));
}

function labelled(text, input) {
  return h("span", { class: "field" }, h("label", { for: input.id }, text), input);
}

// When, and why: the first failing test's signature, else the phase's own error (a failed command).
function lastFailure(failure) {
  const why = failure.signature || failure.error;
  return h("span", {}, executionLink(failure.executionId, time(failure.completedAt)),
    why ? h("br") : null,
    why ? h("code", { class: failure.signature ? "signature" : "signature phase-error" }, why) : null);
}

function statsBody(doc) {
  if (!doc.runs) return [empty("No runs in the window yet.")];
  const rows = doc.phases.map((p) => [
    p.name, String(p.runs),
    // Neither passed nor failed in the window: every run skipped it, so there is no rate to show.
    p.passRate === 0 && !p.lastFailure ? h("span", { class: "muted" }, "– (skipped)") : percent(p.passRate),
    duration(p.p50DurationMs), duration(p.p95DurationMs),
    p.flaky ? h("span", { class: "badge s-flaky" }, `≈ flaky ${percent(p.flakiness)}`) : h("span", {}, `stable (${percent(p.flakiness)})`),
    p.lastFailure ? lastFailure(p.lastFailure) : h("span", { class: "muted" }, "none"),
    Object.entries(p.classifications || {}).map(([k, n]) => `${k} ×${n}`).join(", ") || "–",
  ]);
  const parts = [table(PHASE_HEADERS, rows, { id: "phases-table" })];
  if (doc.flakyTests?.length) {
    parts.push(h("h3", {}, "Flaky tests"),
      table(["Phase", "Test", "Passed", "Failed"], doc.flakyTests.map((t) => [t.phase, h("code", {}, t.name), String(t.passed), String(t.failed)])));
  }
  if (doc.days?.length) {
    parts.push(h("h3", {}, "Runs per day"),
      h("ul", { class: "days" }, doc.days.map((d) => h("li", {}, h("span", { class: "day" }, d.date), ` ${d.runs} runs, `,
        h("span", { class: d.failures ? "fail-text" : "" }, `${d.failures} failed`)))));
  }
  return parts;
}
