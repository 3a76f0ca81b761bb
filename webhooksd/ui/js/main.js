// webhooksd web UI: configure hooks and find out why one does not fire.
//
// A client of the public Crossbar-compatible API under /v2 and nothing else, so anything done
// here can be done by a script. No build step: native ES modules (ES2020), no dependencies.
// Every value that comes from the server is put into the page as text (never as HTML).
//
// This module is the router: it maps the location's hash to a screen and draws it.
import { alertsView } from "./alerts.js";
import { $, h, replace } from "./dom.js";
import { renderTop } from "./header.js";
import { formView } from "./hook-form.js";
import { listView } from "./hook-list.js";
import { logView } from "./log.js";
import { attempt, clearError, showError } from "./messages.js";
import { RENDER_EVENT } from "./nav.js";
import { samplesView } from "./samples.js";
import { signInView } from "./sign-in.js";
import { state } from "./state.js";

const routes = [
  [/^#?\/?$/, () => listView()],
  [/^#\/hooks\/?$/, () => listView()],
  [/^#\/hooks\/new$/, () => formView(null)],
  [/^#\/hooks\/([0-9a-zA-Z_-]+)\/log$/, (m) => logView(m[1])],
  [/^#\/hooks\/([0-9a-zA-Z_-]+)$/, (m) => formView(m[1])],
  [/^#\/log$/, () => logView(null)],
  [/^#\/samples(?:\/([a-z0-9_]+))?$/, (m) => samplesView(m[1] || null)],
  [/^#\/alerts$/, () => alertsView()],
];

let renderSeq = 0; // which render is the latest: a slower, older one must not draw over it

async function render() {
  const seq = ++renderSeq;
  const main = $("#main");
  if (!state.session) {
    $("#top").hidden = true;
    signInView(main);
    return;
  }
  renderTop({ refresh: true });
  const hash = location.hash || "#/hooks";
  const route = routes.find(([pattern]) => pattern.test(hash));
  const view = route ? await attempt("Loading the page", () => route[1](hash.match(route[0])))
    : notFoundView();
  if (seq !== renderSeq || !view) return; // a newer navigation won
  replace(main, view);
  const focus = $("[data-autofocus]", main) || $("h1", main);
  if (focus) {
    if (focus.tagName === "H1") focus.setAttribute("tabindex", "-1");
    focus.focus();
  }
}

function notFoundView() {
  return h("section", {}, h("h1", {}, "Not found"),
    h("p", {}, "There is no such page. ", h("a", { href: "#/hooks" }, "Back to webhooks")));
}

window.addEventListener(RENDER_EVENT, render);
window.addEventListener("hashchange", () => { clearError(); render(); });
window.addEventListener("unhandledrejection", (event) => showError(event.reason, "Unexpected error"));
document.addEventListener("DOMContentLoaded", render);
