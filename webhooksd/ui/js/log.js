// The request log of one hook or of the whole account: a search bar (search.js), pages of
// attempts, each with its details, its event's timeline (timeline.js) and (when it failed) a
// resend.
import { accountPath, api } from "./api.js";
import { resultText, showAttempt } from "./attempt.js";
import { catalogue, eventName, getHook, listHooks } from "./catalogue.js";
import { copyButton } from "./copy.js";
import { h, nextId } from "./dom.js";
import { reenable, sendTest } from "./hook-actions.js";
import { attempt, clearError, showError, toast } from "./messages.js";
import { go } from "./nav.js";
import { openResend } from "./resend.js";
import { searchForm, searchQuery } from "./search.js";
import { clock, fromGregorian, isoDay } from "./time.js";
import { showTimeline } from "./timeline.js";

const PAGE_SIZE = 50;

export async function logView(hookId) {
  const [hooks] = await Promise.all([listHooks(), catalogue()]);
  const names = new Map(hooks.map((x) => [x.id, x.name]));
  const hook = hookId ? await getHook(hookId) : null;
  const period = searchForm(hookId ? null : hooks);
  const log = attemptLog(hookId, hook, names, period);
  period.element.addEventListener("submit", (event) => { event.preventDefault(); log.load(true, false); });
  const reload = () => log.load(true, false);
  const actions = hook ? hookActions(hook, log.prepend, names, reload) : [resendButton(null, names, reload)];
  await log.load(true, false);
  return h("section", {},
    h("p", {}, h("a", { href: "#/hooks" }, "← Back to webhooks")),
    h("div", { class: "page-head" },
      // "Request log: New calls", not a possessive that names ending in s get wrong
      h("h1", {}, hook ? `Request log: ${hook.name}` : "Request log"),
      h("div", { class: "head-actions" }, actions)),
    hook ? h("p", { class: "muted" }, h("code", {}, hook.uri), " ", copyButton("Copy URL", "The URL", hook.uri),
      " · ", eventName(hook.hook), " · id ", h("code", {}, hook.id), " ", copyButton("Copy id", "The webhook id", hook.id)) : null,
    hook && serverDisabled(hook)
      ? h("p", { class: "notice" }, "Disabled by the server: ", h("strong", {}, hook.disable_reason)) : null,
    period.element,
    h("div", { class: "table-wrap" }, log.table),
    log.status,
    h("div", { class: "toolbar" }, log.more, log.all));
}

const serverDisabled = (hook) => hook.enabled === false && Boolean(hook.disable_reason);

const resendButton = (hook, names, onDone) => h("button", {
  type: "button", onclick: () => openResend(hook, names, onDone),
}, "Resend failed…");

function hookActions(hook, onAttempt, names, onDone) {
  const actions = [
    h("button", { type: "button", class: "primary", "data-autofocus": true, onclick: () => sendTest(hook, onAttempt) }, "Send test event"),
    h("a", { class: "button", href: `#/hooks/${hook.id}` }, "Edit")];
  if (serverDisabled(hook)) {
    actions.push(h("button", {
      type: "button",
      onclick: async () => { if (await reenable(hook)) go("#/hooks"); },
    }, "Re-enable this webhook"));
  } else if (hook.enabled !== false) {
    actions.push(resendButton(hook, names, onDone));
  }
  return actions;
}

/** The table, its status line and paging buttons, and what loads rows into them. */
function attemptLog(hookId, hook, names, period) {
  const tbody = h("tbody");
  const status = h("p", { class: "muted", role: "status" });
  const more = h("button", { type: "button", hidden: true }, "Load more");
  const all = h("button", { type: "button", hidden: true }, "Load all");
  let nextKey = null; // Crossbar's next_start_key, while there is a next page
  let shown = 0;
  const resendAndShow = (item, label) => resend(item, label, prepend);
  const row = (item) => attemptRow(item, hookId, names.get(item.hook_id) || item.hook_id, resendAndShow);

  const updateStatus = () => { status.textContent = statusText(shown, Boolean(nextKey), hook); };

  function prepend(item) {
    tbody.prepend(row(item));
    shown += 1;
    updateStatus();
  }

  async function load(reset, everything) {
    const query = searchQuery(period);
    if (!query) return;
    if (everything) query.paginate = "false";
    else query.page_size = PAGE_SIZE;
    if (!reset && nextKey) query.start_key = nextKey;
    const path = hookId ? `/webhooks/${hookId}/attempts` : "/webhooks/attempts";
    const reply = await attempt("Loading the request log", () => api("GET", accountPath(path), { query }));
    if (!reply) return;
    clearError();
    if (reset) { tbody.replaceChildren(); shown = 0; }
    const items = reply.data.slice().sort((a, b) => b.timestamp - a.timestamp);
    for (const item of items) tbody.append(row(item));
    shown += items.length;
    nextKey = !everything && reply.next_start_key && reply.next_start_key !== reply.start_key ? reply.next_start_key : null;
    more.hidden = all.hidden = !nextKey;
    updateStatus();
  }

  more.addEventListener("click", () => load(false, false));
  all.addEventListener("click", () => load(true, true));
  return { table: logTable(hookId, hook, tbody), status, more, all, load, prepend };
}

function statusText(shown, more, hook) {
  if (shown) return `${shown} attempt${shown === 1 ? "" : "s"} shown${more ? "; more are available" : ""}.`;
  return hook ? "No attempt was recorded for this webhook in this period. Send a test event to see one."
    : "No attempt was recorded in this period.";
}

/** Replay a failed attempt; the new attempt goes on top of the table and opens. */
async function resend(item, label, onAttempt) {
  const reply = await attempt("Resending", () => api("POST", accountPath(`/webhooks/attempts/${item.id}/replay`)));
  if (!reply) return;
  const fresh = reply.data && reply.data.result ? reply.data : null;
  toast(fresh ? `Resent: ${resultText(fresh)}.` : "Resent.", { failed: Boolean(fresh) && fresh.result !== "success" });
  if (fresh) { onAttempt(fresh); showAttempt(fresh, label); }
}

function logTable(hookId, hook, tbody) {
  const columns = ["Date", "Time", hookId ? null : "Webhook", "Event", "Sent", "Received", "Status", "Retries left", "Duration", "Actions"]
    .filter(Boolean);
  return h("table", { class: "log" },
    h("caption", { class: "visually-hidden" }, hook ? `Request log of ${hook.name}` : "Request log of the account"),
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))), tbody);
}

function attemptRow(item, hookId, label, onResend) {
  const when = fromGregorian(item.timestamp);
  const failed = item.result !== "success";
  const actions = h("td", { class: "actions" },
    h("button", { type: "button", class: "small", "aria-label": `Details of the attempt at ${clock(when)}`,
      onclick: () => showAttempt(item, label) }, "Details"),
    item.event_id ? h("button", { type: "button", class: "small", "aria-label": `Timeline of the event of the attempt at ${clock(when)}`,
      onclick: () => showTimeline(item.event_id) }, "Timeline") : null,
    failed && item.id ? h("button", {
      type: "button", class: "small", "aria-label": `Resend the attempt at ${clock(when)}`,
      onclick: () => onResend(item, label),
    }, "Resend") : null);
  // data-label: the column's name, shown beside the value when a phone stacks the cells
  const cell = (column, attrs, ...content) => h("td", { ...attrs, "data-label": column }, ...content);
  return h("tr", { class: failed ? "failed" : "ok", "data-attempt-id": item.id || "" },
    cell("Date", {}, isoDay(when)),
    cell("Time", {}, clock(when)),
    hookId ? null : cell("Webhook", {}, h("a", { href: `#/hooks/${item.hook_id}/log` }, label)),
    cell("Event", {}, eventName(item.hook_event) || ""),
    cell("Sent", {}, String(item.method || "").toUpperCase()),
    cell("Received", { class: "result" }, resultText(item)),
    cell("Status", {}, item.resp_status_code || item.response_code || "—"),
    cell("Retries left", {}, item.retries_left ?? "—"),
    cell("Duration", {}, typeof item.duration_ms === "number" ? `${Math.round(item.duration_ms)} ms` : "—"),
    actions);
}
