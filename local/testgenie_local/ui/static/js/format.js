// Formatting shared by the pages: times (local zone, UTC on hover), durations, outcome badges.
import { h } from "./dom.js";

const MARKS = {
  passed: "✔", completed: "✔", failed: "✘", errored: "⚠", timeout: "⏱", cancelled: "⊘",
  skipped: "–", running: "▶", queued: "…", delegated: "…", pending: "·", cancelling: "⊘",
};

// Colour is never the only signal: every badge has a mark and its word.
export function badge(status, extra = "") {
  const word = status || "unknown";
  return h("span", { class: `badge s-${word}`, title: extra || null }, `${MARKS[word] || "?"} ${word}`);
}

export function time(iso) {
  if (!iso) return h("span", { class: "muted" }, "–");
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return h("span", {}, String(iso));
  const local = date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
  const utc = date.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  return h("time", { datetime: iso, title: utc }, local);
}

export function ago(iso) {
  if (!iso) return "";
  const seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return "just now";
  const units = [["d", 86400], ["h", 3600], ["min", 60]];
  for (const [unit, size] of units) if (seconds >= size) return `${Math.floor(seconds / size)} ${unit} ago`;
  return "";
}

export function duration(ms) {
  if (typeof ms !== "number" || Number.isNaN(ms)) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${String(Math.round(s - m * 60)).padStart(2, "0")} s`;
}

export function percent(ratio) {
  return typeof ratio === "number" ? `${Math.round(ratio * 100)}%` : "–";
}

export function shortId(id) {
  return id ? String(id).slice(0, 8) : "–";
}

export function executionLink(id, text) {
  return h("a", { href: `#/executions/${encodeURIComponent(id)}` }, text || shortId(id));
}

export function scenarioLink(name) {
  return h("a", { href: `#/scenarios/${encodeURIComponent(name)}` }, name);
}

export const OUTCOMES = ["passed", "failed", "errored", "timeout", "cancelled"];
export const TRIGGERS = ["api", "queue", "schedule", "rerun"];
export const TERMINAL = new Set(["completed", "failed", "cancelled"]);
