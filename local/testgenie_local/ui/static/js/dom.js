// Small DOM helpers: build elements without innerHTML (API text is never parsed as HTML).

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style") Object.assign(el.style, value); // CSSOM, allowed by the page's CSP
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export function loading(what = "") {
  return h("p", { class: "loading", role: "status" }, `Loading${what ? " " + what : ""}…`);
}

export function errorBox(err, retry) {
  const box = h("div", { class: "error", role: "alert" }, h("strong", {}, "Error: "), err.message || String(err));
  if (retry) box.append(" ", h("button", { type: "button", onclick: retry }, "Retry"));
  return box;
}

export function empty(text, ...more) {
  return h("div", { class: "empty" }, h("p", {}, text), ...more);
}

// A table whose cells carry their column name, so narrow screens can show rows as cards.
export function table(headers, rows, attrs = {}) {
  const head = h("thead", {}, h("tr", {}, headers.map((name) => h("th", { scope: "col" }, name))));
  const body = h("tbody", {}, rows.map((cells) => row(headers, cells)));
  return h("table", { class: "responsive", ...attrs }, head, body);
}

export function row(headers, cells, attrs = {}) {
  return h(
    "tr",
    attrs,
    cells.map((cell, i) => h("td", { "data-label": headers[i] }, cell)),
  );
}
