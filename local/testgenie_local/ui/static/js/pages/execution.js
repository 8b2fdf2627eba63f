// Execution: phases (status, duration bar, classification, remediation, observations, failing
// tests, log tail on demand), compare with the previous run, rerun failed phases or all.
import { api, encode } from "../api.js";
import { empty, errorBox, h, loading, replace, table } from "../dom.js";
import { badge, duration, executionLink, scenarioLink, shortId, time } from "../format.js";

export function render(main, [id]) {
  document.title = `Run ${shortId(id)} · Test Genie`;
  const abort = new AbortController();
  replace(main, h("h1", {}, `Run ${shortId(id)}`), loading("the run"));

  async function load() {
    try {
      const run = await api(`/executions/${encode(id)}`, { signal: abort.signal });
      draw(main, run, abort.signal);
    } catch (err) {
      if (err.name !== "AbortError") replace(main, h("h1", {}, `Run ${shortId(id)}`), errorBox(err, load));
    }
  }
  load();
  return () => abort.abort();
}

function draw(main, run, signal) {
  document.title = `${run.scenarioName} ${shortId(run.executionId)} · Test Genie`;
  const failed = (run.phases || []).filter((p) => p.status === "failed");
  const notice = h("div", { class: "notice", role: "status", "aria-live": "polite" });
  const comparePanel = h("section", { id: "compare", "aria-labelledby": "compare-h", hidden: true });
  const rerun = (failedOnly) => async (event) => {
    event.target.disabled = true;
    replace(notice, loading("a rerun request"));
    try {
      const request = await api(`/executions/${encode(run.executionId)}/rerun`, { method: "POST", body: failedOnly ? { failedOnly: true } : {} });
      window.location.hash = `#/queue?highlight=${encode(request.id)}`;
    } catch (err) {
      replace(notice, errorBox(err));
      event.target.disabled = false;
    }
  };
  const s = run.phaseSummary || {};
  replace(main,
    h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Scenarios"), " › ", scenarioLink(run.scenarioName), ` › run ${shortId(run.executionId)}`),
    h("div", { class: "page-head" },
      h("h1", {}, run.scenarioName, " ", badge(run.outcome)),
      h("div", { class: "actions" },
        h("button", { type: "button", id: "rerun-failed", disabled: !failed.length, title: failed.length ? null : "no phase failed", onclick: rerun(true) },
          `Rerun failed (${failed.length})`),
        h("button", { type: "button", id: "rerun-all", onclick: rerun(false) }, "Rerun all"),
        h("button", { type: "button", id: "compare-previous", onclick: () => compare(run, comparePanel, signal) }, "Compare with previous"))),
    notice,
    h("dl", { class: "facts" },
      fact("Started", time(run.startedAt)), fact("Completed", time(run.completedAt)),
      fact("Duration", duration(durationOf(run))),
      fact("Phases", `${s.passed ?? 0} passed · ${s.failed ?? 0} failed · ${s.skipped ?? 0} skipped of ${s.total ?? 0}`),
      fact("Preset", run.preset || "–"), fact("Trigger", run.trigger || "–"),
      fact("Source", run.sourceDigest ? h("code", { title: run.sourceDigest }, run.sourceDigest.slice(0, 19)) : "–"),
      fact("Request", run.suiteRequestId ? h("a", { href: `#/queue?highlight=${encode(run.suiteRequestId)}` }, shortId(run.suiteRequestId)) : "–"),
      fact("Execution id", h("code", {}, run.executionId))),
    run.warnings?.length ? h("ul", { class: "warnings" }, run.warnings.map((w) => h("li", {}, "⚠ ", w))) : null,
    comparePanel,
    h("section", { "aria-labelledby": "phases-h" },
      h("h2", { id: "phases-h" }, "Phases"),
      run.phases?.length ? phaseList(run) : empty("This run recorded no phases.")));
}

function fact(term, value) {
  return [h("dt", {}, term), h("dd", {}, value)];
}

function durationOf(run) {
  if (typeof run.durationMs === "number") return run.durationMs;
  return new Date(run.completedAt) - new Date(run.startedAt);
}

function phaseList(run) {
  const longest = Math.max(1, ...run.phases.map((p) => p.durationMs || 0));
  return h("ol", { class: "phases" }, run.phases.map((p) => phaseItem(run, p, longest)));
}

function phaseItem(run, phase, longest) {
  const logBox = h("div", { class: "log-slot" });
  const width = Math.max(0.5, ((phase.durationMs || 0) / longest) * 100);
  const t = phase.tests;
  const logButton = h("button", { type: "button", class: "log-button", "aria-expanded": "false",
    onclick: () => toggleLog(run, phase, logBox, logButton) }, "Show log");
  return h("li", { class: `phase s-${phase.status}`, dataset: { phase: phase.name } },
    h("div", { class: "phase-head" },
      h("h3", {}, phase.name), badge(phase.status),
      phase.classification ? h("span", { class: "tag" }, phase.classification) : null,
      h("span", { class: "bar", title: duration(phase.durationMs) },
        h("span", { class: `fill s-${phase.status}`, style: { width: `${width.toFixed(1)}%` } })),
      h("span", { class: "dur" }, duration(phase.durationMs)),
      logButton),
    phase.error ? h("p", { class: "phase-error" }, phase.error) : null,
    phase.remediation ? h("p", { class: "remediation" }, h("strong", {}, "Remediation: "), phase.remediation) : null,
    t ? h("p", { class: "tests" }, `Tests: ${t.total} total · ${t.passed} passed · ${t.failed} failed · ${t.errored} errored · ${t.skipped} skipped`) : null,
    phase.shards?.length ? shardList(run, phase) : null,
    phase.failingTests?.length
      ? h("div", { class: "failing" }, h("h4", {}, "Failing tests"),
        h("ul", {}, phase.failingTests.map((f) => h("li", {}, h("code", {}, f.name), f.signature ? h("div", { class: "signature" }, f.signature) : null))))
      : null,
    phase.observations?.length
      ? h("details", { class: "observations" }, h("summary", {}, `Observations (${phase.observations.length})`),
        h("ul", {}, phase.observations.map((o) => h("li", { class: `obs obs-${(o.prefix || "").toLowerCase()}` },
          o.prefix ? h("span", { class: "obs-prefix" }, `[${o.prefix}]`) : null, " ", o.section ? `${o.section}: ` : "", o.text))))
      : null,
    logBox);
}

// A sharded phase: one bar per shard (its wall time against the longest shard's), its log on demand.
function shardList(run, phase) {
  const longest = Math.max(1, ...phase.shards.map((s) => s.durationMs || 0));
  return h("div", { class: "shards" }, h("h4", {}, `${phase.shards.length} shards`),
    h("ol", { class: "shard-list" }, phase.shards.map((shard) => {
      const logBox = h("div", { class: "log-slot" });
      const width = Math.max(0.5, ((shard.durationMs || 0) / longest) * 100);
      const logButton = h("button", { type: "button", class: "log-button", "aria-expanded": "false",
        onclick: () => toggleLog(run, phase, logBox, logButton, shard.index) }, "Log");
      return h("li", { class: `shard s-${shard.status}`, dataset: { shard: String(shard.index) } },
        h("div", { class: "phase-head" },
          h("span", { class: "shard-name" }, `shard ${shard.index}`), badge(shard.status),
          h("span", { class: "bar", title: duration(shard.durationMs) },
            h("span", { class: `fill s-${shard.status}`, style: { width: `${width.toFixed(1)}%` } })),
          h("span", { class: "dur" }, duration(shard.durationMs)),
          h("span", { class: "muted" }, `${shard.tests} tests${shard.attempts > 1 ? ` · ${shard.attempts} attempts` : ""}`),
          logButton),
        shard.error ? h("p", { class: "phase-error" }, shard.error) : null,
        logBox);
    })));
}

async function toggleLog(run, phase, box, button, shard) {
  if (button.getAttribute("aria-expanded") === "true") {
    replace(box);
    button.setAttribute("aria-expanded", "false");
    button.textContent = "Show log";
    return;
  }
  button.setAttribute("aria-expanded", "true");
  button.textContent = "Hide log";
  replace(box, loading("the log"));
  try {
    const query = shard === undefined ? undefined : { shard };
    const text = await api(`/executions/${encode(run.executionId)}/phases/${encode(phase.name)}/log`, { query });
    const lines = String(text).split("\n");
    const tail = lines.slice(-200).join("\n");
    replace(box,
      h("p", { class: "muted" }, lines.length > 200 ? `last 200 of ${lines.length} lines` : `${lines.length} lines`),
      h("pre", { class: "log", tabindex: "0", "aria-label": `log of ${phase.name}` }, tail));
  } catch (err) {
    replace(box, errorBox(err));
  }
}

async function compare(run, panel, signal) {
  panel.hidden = false;
  replace(panel, h("h2", { id: "compare-h" }, "Compared with the previous run"), loading("the comparison"));
  try {
    const doc = await api(`/executions/${encode(run.executionId)}/compare`, { query: { with: "previous" }, signal });
    replace(panel, h("h2", { id: "compare-h" }, "Compared with ", executionLink(doc.baseExecutionId, `run ${shortId(doc.baseExecutionId)}`)), ...compareBody(doc));
  } catch (err) {
    if (err.name === "AbortError") return;
    const none = err.status === 404;
    replace(panel, h("h2", { id: "compare-h" }, "Compared with the previous run"),
      none ? empty(`Nothing to compare: ${err.message.replace(/^404: /, "")}.`) : errorBox(err, () => compare(run, panel, signal)));
  }
}

function compareBody(doc) {
  const rows = doc.phases.map((p) => [
    p.name, p.before ? badge(p.before) : "–", p.after ? badge(p.after) : "–",
    p.changed ? h("strong", {}, "changed") : "same",
    duration(p.durationMsBefore), duration(p.durationMsAfter),
    typeof p.durationMsDelta === "number" ? `${p.durationMsDelta < 0 ? "−" : "+"}${duration(Math.abs(p.durationMsDelta))}` : "–",
  ]);
  const parts = [
    h("p", {}, doc.sourceDigestChanged ? "The source changed between the two runs." : "Same source in both runs."),
    table(["Phase", "Before", "After", "Status", "Before", "After", "Δ duration"], rows, { id: "compare-table" }),
  ];
  if (doc.newlyFailingTests?.length) {
    parts.push(h("h3", {}, "Newly failing tests"), h("ul", {}, doc.newlyFailingTests.map((t) =>
      h("li", {}, `${t.phase}: `, h("code", {}, t.name), t.signature ? h("div", { class: "signature" }, t.signature) : null))));
  }
  if (doc.newlyFixedTests?.length) {
    parts.push(h("h3", {}, "Newly fixed tests"), h("ul", {}, doc.newlyFixedTests.map((t) => h("li", {}, `${t.phase}: `, h("code", {}, t.name)))));
  }
  return parts;
}
