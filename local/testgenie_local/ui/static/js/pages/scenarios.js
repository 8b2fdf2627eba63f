// Scenarios: one row per scenario (last outcome, pass rate, median duration, last 20 outcomes).
import { api } from "../api.js";
import { empty, errorBox, h, loading, replace, row } from "../dom.js";
import { ago, badge, duration, executionLink, percent, scenarioLink, time } from "../format.js";

const HEADERS = ["Scenario", "Last outcome", "When", "Pass rate", "Median", "Last 20", "Flaky phases"];

export function render(main) {
  document.title = "Scenarios · Test Genie";
  const abort = new AbortController();
  const state = { items: [], nextCursor: null, filter: "" };
  const body = h("div", { class: "page-body" }, loading("scenarios"));
  const filter = h("input", {
    type: "search", id: "scenario-filter", placeholder: "name contains…", autocomplete: "off",
    oninput: () => { state.filter = filter.value.trim().toLowerCase(); draw(); },
  });
  replace(
    main,
    h("div", { class: "page-head" },
      h("h1", {}, "Scenarios"),
      h("div", { class: "filters" }, h("label", { for: "scenario-filter" }, "Filter"), filter),
    ),
    body,
  );

  async function load(cursor) {
    try {
      const page = await api("/scenarios", { query: { cursor }, signal: abort.signal });
      state.items.push(...page.items);
      state.nextCursor = page.nextCursor || null;
      draw();
    } catch (err) {
      if (err.name !== "AbortError") replace(body, errorBox(err, () => { replace(body, loading("scenarios")); load(cursor); }));
    }
  }

  function draw() {
    if (!state.items.length) {
      replace(body, empty("No runs recorded yet.",
        h("p", {}, "Queue one from the ", h("a", { href: "#/queue" }, "Queue"), " page, or with ",
          h("code", {}, "testgenie execute <scenario>"), ".")));
      return;
    }
    const sorted = [...state.items].sort((a, b) => activity(b) - activity(a));
    const shown = sorted.filter((s) => s.scenarioName.toLowerCase().includes(state.filter));
    const tbody = h("tbody", {}, shown.map((s) => row(HEADERS, cells(s), { dataset: { scenario: s.scenarioName } })));
    const head = h("thead", {}, h("tr", {}, HEADERS.map((name) => h("th", { scope: "col" }, name))));
    const more = state.nextCursor
      ? h("button", { type: "button", class: "more", onclick: (e) => { e.target.disabled = true; load(state.nextCursor); } }, "Load more scenarios")
      : null;
    replace(body,
      h("p", { class: "muted" }, `${shown.length} of ${state.items.length} scenarios, most recent activity first`),
      shown.length ? h("table", { class: "responsive", id: "scenarios-table" }, head, tbody)
        : empty(`No scenario name contains “${state.filter}”.`),
      more);
  }

  load(null);
  return () => abort.abort();
}

function activity(s) {
  return s.lastExecution ? new Date(s.lastExecution.completedAt).getTime() : 0;
}

function cells(s) {
  const last = s.lastExecution;
  return [
    scenarioLink(s.scenarioName),
    last ? h("span", {}, executionLink(last.executionId, badge(last.outcome))) : "–",
    last ? h("span", {}, time(last.completedAt), h("br"), h("small", { class: "muted" }, ago(last.completedAt))) : "–",
    h("span", {}, percent(s.passRate), h("small", { class: "muted" }, ` of ${s.runs} runs`)),
    duration(s.medianDurationMs),
    sparkline(s.recentOutcomes || []),
    s.flakyPhases ? h("span", { class: "badge s-flaky" }, `≈ ${s.flakyPhases} flaky`) : h("span", { class: "muted" }, "none"),
  ];
}

// Oldest first, one bar per run; the text beside it says the same as the colours.
export function sparkline(outcomes) {
  const passed = outcomes.filter((o) => o === "passed").length;
  const label = `last ${outcomes.length}: ${passed} passed, ${outcomes.length - passed} not passed`;
  return h("span", { class: "spark-wrap" },
    h("span", { class: "spark", role: "img", "aria-label": label, title: label },
      outcomes.map((o) => h("span", { class: `tick s-${o}`, title: o }))),
    h("small", { class: "muted" }, ` ${passed}/${outcomes.length} passed`));
}
