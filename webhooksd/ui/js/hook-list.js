// The hook list: counters, search and state filter, hooks grouped by `group`, and each
// hook's switch, re-enable, test and delete.
import { accountPath, api } from "./api.js";
import { resultText } from "./attempt.js";
import { catalogue, eventName, hookHealth, hookState, listHooks } from "./catalogue.js";
import { openDialog } from "./dialog.js";
import { $$, append, h, nextId } from "./dom.js";
import { reenable, sendTest } from "./hook-actions.js";
import { attempt, toast } from "./messages.js";
import { go, rerender } from "./nav.js";
import { state } from "./state.js";
import { clock, fromGregorian, isoDay } from "./time.js";

export async function listView() {
  const [hooks, , health] = await Promise.all([listHooks(), catalogue(),
    attempt("Loading the webhooks' health", hookHealth)]);
  const healthOf = health || new Map(); // the list still shows when the health cannot load
  const header = h("div", { class: "page-head" },
    h("h1", {}, "Webhooks"),
    h("a", { class: "button primary", href: "#/hooks/new" }, "+ New webhook"));
  if (!hooks.length) return h("section", {}, header, emptyState());

  const counts = { active: 0, unhealthy: 0, disabled: 0, failing: 0 };
  for (const hook of hooks) {
    hook.health = healthOf.get(hook.id) || null;
    counts[hookState(hook)] += 1;
    if (isUnhealthy(hook)) counts.unhealthy += 1;
  }
  const counters = counterGroup(counts, (kind) => filters.show(kind));
  const { grid, rows } = groupedList(hooks, counts, () => counters.update());
  const filters = listFilters(grid, rows);
  flashSaved(rows);
  return h("section", {}, header, counters.element,
    h("div", { class: "toolbar" }, filters.fields, reenableAllButton(counts)),
    grid, filters.nothing);
}

function emptyState() {
  return h("div", { class: "card empty-state" },
    h("h2", {}, "No webhooks yet"),
    h("p", {}, "A webhook sends an HTTP request to a URL you choose whenever an event happens " +
      "in this account: a call starts, is answered or ends, a document changes, a notification " +
      "goes out, a call is parked, an SMS arrives."),
    h("p", {}, "Your server receives the event's fields (as a form, JSON or a query string) " +
      "plus any custom data you add, and every attempt is kept in the request log so you can see " +
      "what was sent and what came back."),
    h("p", {}, h("a", { class: "button primary", href: "#/hooks/new" }, "Create your first webhook"), " ",
      h("a", { href: "#/samples" }, "See what the events look like")));
}

/** The active / disabled / failing counters; a click shows only that kind. */
function counterGroup(counts, onPick) {
  const numbers = {};
  const counter = (kind, label) => {
    numbers[kind] = h("span", { class: "count" }, String(counts[kind]));
    return h("button", {
      type: "button", class: `counter counter-${kind}`, "data-count": kind, onclick: () => onPick(kind),
    }, numbers[kind], h("span", {}, label));
  };
  const element = h("div", { class: "counters", role: "group", "aria-label": "Counters" },
    counter("active", "Active"), counter("unhealthy", "Failing deliveries"), counter("disabled", "Disabled"),
    counter("failing", "Disabled by the server"));
  const update = () => {
    for (const kind of Object.keys(counts)) numbers[kind].textContent = String(counts[kind]);
  };
  return { element, update };
}

function reenableAllButton(counts) {
  return h("button", {
    type: "button", disabled: counts.failing === 0,
    title: "Only hooks the server disabled are re-enabled; hooks switched off by hand stay off.",
    onclick: async () => {
      const done = await attempt("Re-enabling failing webhooks",
        () => api("PATCH", accountPath("/webhooks"), { data: { "re-enable": true } }));
      if (done) { toast("Failing webhooks were re-enabled."); rerender(); }
    },
  }, "Re-enable all failing webhooks");
}

/** One box per group; `rows` keeps each row with its hook for the filters. */
function groupedList(hooks, counts, onCounts) {
  const grid = h("div", { class: "groups" });
  const rows = [];
  for (const [group, members] of groupHooks(hooks)) {
    const list = h("ul", { class: "hook-list" });
    const box = h("section", { class: "group", "aria-label": group ? `Group ${group}` : "Not grouped" },
      h("h2", {}, group || "Not grouped"), list);
    for (const hook of members) {
      const row = hookRow(hook, counts, onCounts);
      rows.push({ row, hook });
      list.append(row);
    }
    grid.append(box);
  }
  return { grid, rows };
}

/** Groups by name, then the ungrouped; rows by name inside each (MonsterUI's order). */
function groupHooks(hooks) {
  const byName = (a, b) => String(a.name || "").localeCompare(String(b.name || ""));
  const groups = new Map();
  for (const hook of hooks) {
    const key = hook.group || "";
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(hook);
  }
  const names = Array.from(groups.keys()).filter((g) => g).sort((a, b) => a.localeCompare(b));
  if (groups.has("")) names.push("");
  return names.map((name) => [name, groups.get(name).sort(byName)]);
}

/** Search (name or URL) and state filter; hides rows, empty groups, and says when none match. */
function listFilters(grid, rows) {
  const searchId = nextId("search");
  const filterId = nextId("filter");
  const search = h("input", { id: searchId, type: "search", placeholder: "Name or URL", "data-autofocus": true,
    autocomplete: "off" });
  const filter = h("select", { id: filterId },
    h("option", { value: "all" }, "All webhooks"),
    h("option", { value: "active" }, "Active"),
    h("option", { value: "unhealthy" }, "Failing deliveries"),
    h("option", { value: "disabled" }, "Disabled"),
    h("option", { value: "failing" }, "Disabled by the server"));
  const nothing = h("p", { class: "empty", hidden: true }, "No webhook matches your search.");

  function apply() {
    const needle = search.value.trim().toLowerCase();
    const wanted = filter.value;
    let shown = 0;
    for (const { row, hook } of rows) {
      const text = `${hook.name || ""} ${hook.uri || ""}`.toLowerCase();
      const kind = wanted === "unhealthy" ? (isUnhealthy(hook) ? "unhealthy" : "") : hookState(hook);
      const visible = (!needle || text.includes(needle)) && (wanted === "all" || kind === wanted);
      row.hidden = !visible;
      if (visible) shown += 1;
    }
    for (const box of $$(".group", grid)) box.hidden = !$$(".hook-row", box).some((r) => !r.hidden);
    nothing.hidden = shown > 0;
  }

  search.addEventListener("input", apply);
  filter.addEventListener("change", apply);
  const fields = [
    h("div", { class: "field-inline" }, h("label", { for: searchId }, "Search"), search),
    h("div", { class: "field-inline" }, h("label", { for: filterId }, "Show"), filter),
  ];
  return { fields, nothing, show: (kind) => { filter.value = kind; apply(); } };
}

/** The row of the hook just saved flashes once. */
function flashSaved(rows) {
  if (!state.highlight) return;
  const flashed = rows.find((r) => r.hook.id === state.highlight);
  if (flashed) flashed.row.classList.add("flash");
  state.highlight = null;
}

/** Enabled, and its newest delivery failed: not healthy, whatever the switch says. */
const isUnhealthy = (hook) => hookState(hook) === "active" && Boolean(hook.health) && hook.health.state === "failing";

const rowClass = (hook) => `hook-row state-${hookState(hook)}${isUnhealthy(hook) ? " health-failing" : ""}`;

const percent = (part, whole) => `${Math.round((100 * part) / whole)}%`;

function rate(window, label) {
  return window.attempts ? `${percent(window.successes, window.attempts)} of ${window.attempts} in the last ${label}`
    : `none in the last ${label}`;
}

/** Last delivery, success rates, "failing: N of the last M", the next retry. */
function healthLine(hook) {
  const health = hook.health;
  if (!health) return null;
  const last = health.last_attempt;
  if (!last) return h("p", { class: "health muted" }, "No delivery in the last 24 hours.");
  const when = fromGregorian(last.timestamp);
  const outcome = last.result === "success" ? `delivered (HTTP ${last.status_code || "2xx"})` : resultText(last);
  const recent = health.recent;
  return h("p", { class: "health" },
    recent.failures && hookState(hook) !== "failing"
      ? h("strong", { class: "health-bad" }, `Failing: ${recent.failures} of the last ${recent.attempts}`) : null,
    recent.failures && hookState(hook) !== "failing" ? " · " : null,
    h("span", {}, "Last delivery ", h("time", { datetime: when.toISOString() }, `${isoDay(when)} ${clock(when)}`), ": ",
      h("span", { class: last.result === "success" ? "health-ok" : "health-bad" }, outcome)),
    " · ", h("span", {}, `${rate(health.last_hour, "hour")}, ${rate(health.last_day, "day")}`),
    health.next_retry ? [" · ", h("span", {}, `next retry due ${clock(fromGregorian(health.next_retry))}`)] : null);
}

function hookRow(hook, counts, onCounts) {
  const kind = hookState(hook);
  const row = h("li", { class: rowClass(hook), "data-hook-id": hook.id });
  const status = kind === "failing" ? failingStatus(hook) : enabledSwitch(hook, row, counts, onCounts);
  return append(row,
    h("div", { class: "hook-main" },
      h("span", { class: "dot", "aria-hidden": "true" }),
      h("a", { class: "hook-name", href: `#/hooks/${hook.id}` }, hook.name || "(no name)"),
      h("span", { class: "hook-event", title: hook.hook }, eventName(hook.hook))),
    h("code", { class: "hook-uri" }, hook.uri || ""),
    healthLine(hook),
    status,
    rowActions(hook));
}

/** A hook the server disabled: why, and a button to switch it back on. */
function failingStatus(hook) {
  return h("div", { class: "server-disabled" },
    h("span", { class: "warn-icon", "aria-hidden": "true" }, "!"),
    h("span", {}, "Disabled by the server: ", h("strong", {}, hook.disable_reason)),
    h("button", {
      type: "button",
      onclick: async () => { if (await reenable(hook)) rerender(); },
    }, "Re-enable"));
}

/** The On/Off switch: saved at once, put back when the server refuses. */
function enabledSwitch(hook, row, counts, onCounts) {
  const kind = hookState(hook);
  const toggle = h("input", {
    type: "checkbox", role: "switch", checked: kind === "active", "aria-label": `Enabled: ${hook.name}`,
  });
  const switchLabel = h("span", { "aria-hidden": "true" }, kind === "active" ? "On" : "Off");
  let busy = false; // not `disabled` while saving: a disabled control drops the focus
  toggle.addEventListener("change", async () => {
    const wanted = toggle.checked;
    if (busy) { toggle.checked = !wanted; return; }
    busy = true;
    toggle.setAttribute("aria-busy", "true");
    const done = await attempt(`${wanted ? "Enabling" : "Disabling"} ${hook.name}`,
      () => api("PATCH", accountPath(`/webhooks/${hook.id}`), { data: { enabled: wanted } }));
    busy = false;
    toggle.removeAttribute("aria-busy");
    if (!done) { toggle.checked = !wanted; return; }
    const wasUnhealthy = isUnhealthy(hook);
    hook.enabled = wanted;
    row.className = rowClass(hook);
    counts.unhealthy += (isUnhealthy(hook) ? 1 : 0) - (wasUnhealthy ? 1 : 0);
    counts.active += wanted ? 1 : -1;
    counts.disabled += wanted ? -1 : 1;
    switchLabel.textContent = wanted ? "On" : "Off";
    onCounts();
  });
  return h("label", { class: "switch" }, toggle, switchLabel);
}

function rowActions(hook) {
  return h("div", { class: "row-actions" },
    h("a", { class: "button small", href: `#/hooks/${hook.id}`, "aria-label": `Edit ${hook.name}` }, "Edit"),
    h("a", { class: "button small", href: `#/hooks/${hook.id}/log`, "aria-label": `Request log of ${hook.name}` }, "Log"),
    h("button", {
      type: "button", class: "small", "aria-label": `Send a test event to ${hook.name}`,
      onclick: () => sendTest(hook),
    }, "Test"),
    h("button", {
      type: "button", class: "small danger", "aria-label": `Delete ${hook.name}`,
      onclick: () => confirmDelete(hook),
    }, "Delete"));
}

function confirmDelete(hook) {
  openDialog("Delete this webhook?", (body, close) => {
    append(body,
      h("p", {}, "Are you sure you want to delete ", h("strong", {}, hook.name), "? Events stop being sent " +
        "to it at once; its request log is kept until it expires."),
      h("div", { class: "dialog-actions" },
        h("button", { type: "button", onclick: close, "data-autofocus": true }, "Cancel"),
        h("button", {
          type: "button", class: "danger",
          onclick: async () => {
            const reply = await attempt(`Deleting ${hook.name}`,
              () => api("DELETE", accountPath(`/webhooks/${hook.id}`)));
            close();
            if (reply) {
              toast(`You have successfully deleted ${(reply.data && reply.data.name) || hook.name}.`);
              go("#/hooks");
            }
          },
        }, "Delete")));
  });
}
