// Signing in with an account's API key, and the accounts the header can switch between.
import { api, describeError, isUnauthorized } from "./api.js";
import { h, nextId, replace } from "./dom.js";
import { attempt, clearError } from "./messages.js";
import { go } from "./nav.js";
import { session } from "./session.js";
import { state } from "./state.js";

/** The sign-in form replaces the page; it says why when a session has just ended. */
export function signInView(main) {
  const keyId = nextId("api-key");
  const status = h("p", { class: "form-error", role: "alert", hidden: !state.signInNotice }, state.signInNotice || "");
  state.signInNotice = null;
  const form = h("form", { class: "card sign-in", "aria-labelledby": "sign-in-title" },
    h("h1", { id: "sign-in-title" }, "Sign in to webhooksd"),
    h("p", { class: "muted" }, "Use an account's API key. The session is kept for this tab only."),
    h("label", { for: keyId }, "API key"),
    h("input", { id: keyId, name: "api_key", type: "password", autocomplete: "off", required: true,
      spellcheck: "false", "data-autofocus": true }),
    status,
    h("button", { type: "submit", class: "primary" }, "Sign in"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    signIn(form.elements.api_key.value.trim(), status);
  });
  main.replaceChildren(form);
  form.elements.api_key.focus();
}

async function signIn(key, status) {
  status.hidden = true;
  try {
    const reply = await api("PUT", "/api_auth", { data: { api_key: key } });
    state.session = {
      token: reply.auth_token,
      rootId: reply.data.account_id,
      rootName: reply.data.account_name || reply.data.account_id,
      accountId: reply.data.account_id,
      accountName: reply.data.account_name || reply.data.account_id,
      accounts: [],
    };
    session.save(state.session);
    await loadAccounts();
    clearError();
    go("#/hooks");
  } catch (err) {
    replace(status, isUnauthorized(err) ? "That API key was not accepted." : describeError(err));
    status.hidden = false;
  }
}

/** The signed-in account and its descendants (with their ancestors, `tree`), for the
 * header's account picker; true when the list changed since the last load. */
export async function loadAccounts() {
  const s = state.session;
  const reply = await attempt("Listing sub-accounts",
    () => api("GET", `/accounts/${s.rootId}/descendants`, { query: { paginate: "false" } }));
  if (!reply || state.session !== s) return false; // failed (and said so), or signed out meanwhile
  const accounts = [{ id: s.rootId, name: s.rootName, tree: [] }].concat(
    (reply.data || []).map((a) => ({ id: a.id, name: a.name || a.id, tree: a.tree || [] })));
  const changed = JSON.stringify(accounts) !== JSON.stringify(s.accounts);
  s.accounts = accounts;
  session.save(s);
  return changed;
}
