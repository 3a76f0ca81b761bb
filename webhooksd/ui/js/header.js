// The header of a signed-in tab: the main navigation, the account picker, sign out.
import { $, h, nextId, replace } from "./dom.js";
import { clearError } from "./messages.js";
import { go, rerender } from "./nav.js";
import { session } from "./session.js";
import { state } from "./state.js";

export function renderTop() {
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
    h("select", { id: pickerId, onchange: choose },
      s.accounts.map((a) => h("option", { value: a.id, selected: a.id === s.accountId },
        a.id === s.rootId ? `${a.name} (you)` : a.name))));
}

function signOut() {
  session.clear();
  state.session = null;
  state.catalogue = null;
  location.hash = "";
  rerender();
}
