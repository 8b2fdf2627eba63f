// The one way the pages talk to the API (same origin: the local stack or `testgenie ui`).

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function api(path, { method = "GET", query, body, signal } = {}) {
  const url = new URL(`/api/v1${path}`, window.location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value === undefined || value === null || value === "") continue;
    url.searchParams.set(key, String(value));
  }
  const init = { method, signal, headers: { accept: "application/json" } };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let answer;
  try {
    answer = await fetch(url, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, `cannot reach the API (${err.message})`);
  }
  const text = await answer.text();
  if (!answer.ok) throw new ApiError(answer.status, `${answer.status}: ${errorText(text, answer.statusText)}`);
  const type = answer.headers.get("content-type") || "";
  return type.includes("json") ? JSON.parse(text || "null") : text;
}

function errorText(text, fallback) {
  try {
    const doc = JSON.parse(text);
    return doc.error || doc.message || doc.Message || fallback;
  } catch {
    return text.slice(0, 300) || fallback;
  }
}

export function encode(segment) {
  return encodeURIComponent(segment);
}
