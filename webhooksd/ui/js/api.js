// The client of the public API under /v2: fetch, Crossbar's {"data": …} envelope, its errors.
import { rerender } from "./nav.js";
import { session } from "./session.js";
import { state } from "./state.js";

/** fetch itself failed: the server is down or the network is. */
class NetworkError extends Error {}

export class ApiError extends Error {
  constructor(status, body, message) {
    super(message);
    this.status = status;
    this.body = body;
  }

  /** Crossbar's validation errors: {"field.path": {"rule": {"message": …}}} */
  get fieldErrors() {
    const data = this.body && this.body.data;
    if (!data || typeof data !== "object" || Array.isArray(data)) return {};
    const out = {};
    for (const [field, rules] of Object.entries(data)) {
      if (!rules || typeof rules !== "object") continue;
      const messages = Object.entries(rules).map(([rule, detail]) =>
        detail && typeof detail === "object" && detail.message ? detail.message : rule);
      out[field] = messages.join("; ");
    }
    return out;
  }
}

export const isUnauthorized = (err) => err instanceof ApiError && err.status === 401;

export function describeError(err) {
  if (err instanceof ApiError) {
    const body = err.body || {};
    const fields = err.fieldErrors;
    const detail = Object.keys(fields).length
      ? Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join(", ")
      : body.data && body.data.message ? body.data.message : "";
    const head = `${err.status} ${body.message || err.message}`;
    return detail && detail !== body.message ? `${head} — ${detail}` : head;
  }
  if (err instanceof NetworkError) return `Cannot reach the server (${err.message}). Check that webhooksd is running.`;
  return String(err && err.message ? err.message : err);
}

function request(method, path, options, token) {
  const headers = { Accept: "application/json" };
  if (token) headers["X-Auth-Token"] = token;
  let body;
  if (options.data !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify({ data: options.data });
  }
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(options.query || {})) {
    if (v !== undefined && v !== null && v !== "") query.set(k, typeof v === "object" ? JSON.stringify(v) : v);
  }
  const url = `/v2${path}${query.toString() ? `?${query}` : ""}`;
  return { url, init: { method, headers, body } };
}

/** The token was refused: back to the sign-in form, saying why. */
function endSession() {
  session.clear();
  state.session = null;
  state.signInNotice = "Your session has ended; sign in again.";
  rerender();
}

/** One call; resolves to Crossbar's reply, rejects with a NetworkError or an ApiError. */
export async function api(method, path, options = {}) {
  const current = state.session;
  const { url, init } = request(method, path, options, current && current.token);
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    throw new NetworkError(err && err.message ? err.message : String(err));
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (response.status === 401 && current && path !== "/api_auth") {
    endSession();
    throw new ApiError(401, payload, "unauthorized");
  }
  if (!response.ok || !payload || payload.status !== "success") {
    throw new ApiError(response.status, payload, (payload && payload.message) || response.statusText);
  }
  return payload;
}

/** A path under the account the header's picker has chosen. */
export const accountPath = (suffix = "") => `/accounts/${state.session.accountId}${suffix}`;
