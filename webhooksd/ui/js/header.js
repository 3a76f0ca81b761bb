// The header of a signed-in tab: the main navigation, the account picker, sign out.
import { $, h, nextId, replace } from "./dom.js";
import { clearError } from "./messages.js";
import { go, rerender } from "./nav.js";
import { session } from "./session.js";
import { loadAccounts } from "./sign-in.js";
import { state } from "./state.js";

/** Draw the header; `refresh` also reloads the accounts in the background (each page). */
export function renderTop({ refresh = false } = {}) {
  const top = $("#top");
  top.hidden = false;
  const hash = location.hash || "#/hooks";
  const link = (href, text, active) => h("a", { href, "aria-current": active ? "page" : false }, text);
  replace(top,
    h("a", { class: "brand", href: "#/hooks" }, "webhooksd"),
    h("nav", { "aria-label": "Main" },
      link("#/hooks", "Webhooks", /^#\/hooks/.test(hash) || hash === "#/"),
      link("#/log", "Request log", hash === "#/log"),
      link("#/samples", "Sample payloads", hash.startsWith("#/samples")),
      link("#/alerts", "Alerts", hash === "#/alerts")),
    accountPicker(state.session),
    h("button", { type: "button", class: "link", onclick: signOut }, "Sign out"));
  if (refresh) refreshAccounts();
}

/** The accounts as a tree under the signed-in one: each account's sub-accounts by name,
 * right under it, with their depth. */
export function accountTree(accounts, rootId) {
  const children = new Map();
  for (const account of accounts) {
    if (account.id === rootId) continue;
    const tree = account.tree || [];
    const parent = tree.length ? tree[tree.length - 1] : rootId;
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(account);
  }
  const byName = (a, b) => String(a.name).localeCompare(String(b.name));
  const out = [];
  const seen = new Set();
  const visit = (account, depth) => {
    if (seen.has(account.id)) return;
    seen.add(account.id);
    out.push({ account, depth });
    for (const child of (children.get(account.id) || []).sort(byName)) visit(child, depth + 1);
  };
  const root = accounts.find((a) => a.id === rootId);
  if (root) visit(root, 0);
  // an account whose parent is not listed (it moved meanwhile) still shows, at the top level
  for (const account of accounts.slice().sort(byName)) visit(account, 1);
  return out;
}

function pickerOptions(s) {
  // no-break spaces: a <select> shows no padding, and ordinary spaces would collapse
  return accountTree(s.accounts, s.rootId).map(({ account, depth }) =>
    h("option", { value: account.id, selected: account.id === s.accountId },
      `${"\u00a0\u00a0".repeat(Math.max(0, depth - 1))}${account.id === s.rootId ? `${account.name} (you)` : account.name}`));
}

/** Reload the accounts (a sub-account may have been created since sign-in) and redraw the
 * picker's options in place when they changed, keeping the focus where it is. */
async function refreshAccounts() {
  const s = state.session;
  if (!s || !(await loadAccounts())) return;
  const select = $("#top select.account-select");
  if (select && s.accounts.length > 1) replace(select, pickerOptions(s));
  else renderTop();
}

/** A parent account picks among its descendants; an account without any shows its name. */
function accountPicker(s) {
  if (s.accounts.length <= 1) return h("span", { class: "account-name" }, s.accountName);
  const pickerId = nextId("account");
  const choose = (event) => {
    const chosen = s.accounts.find((a) => a.id === event.target.value);
    s.accountId = chosen.id;
    s.accountName = chosen.name;
    session.save(s);
    clearError();
    go("#/hooks");
  };
  return h("div", { class: "account-picker" },
    h("label", { for: pickerId }, "Account"),
    h("select", { id: pickerId, class: "account-select", onchange: choose, onfocus: refreshAccounts },
      pickerOptions(s)));
}

function signOut() {
  session.clear();
  state.session = null;
  state.catalogue = null;
  location.hash = "";
  rerender();
}
