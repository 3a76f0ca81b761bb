// webhooksd web UI: configure hooks and find out why one does not fire.
//
// A client of the public Crossbar-compatible API under /v2 and nothing else, so anything done
// here can be done by a script. No build step: plain ES2020, no dependencies. Every value that
// comes from the server is put into the page as text (never as HTML).
"use strict";

(() => {
  const GREGORIAN_OFFSET = 62167219200; // seconds from 0000-01-01 to 1970-01-01 (Kazoo's clock)
  const SESSION_KEY = "webhooksd.session"; // sessionStorage: the token lives for this tab only
  const PAGE_SIZE = 50;
  const DAY_MS = 86400000;
  const MAX_RANGE_DAYS = 31; // the API refuses wider windows (Crossbar's maximum_range)
  const MAX_RETRIES = 4;

  // ------------------------------------------------------------------ DOM helpers

  /** An element: attributes (on* are listeners, true/false toggles), then children. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith("on") && typeof value === "function") {
        el.addEventListener(name.slice(2), value);
      } else if (name === "class") {
        el.className = value;
      } else if (name === "value") {
        el.value = value;
      } else if (name === "checked" || name === "selected") {
        el[name] = Boolean(value);
      } else {
        el.setAttribute(name, value === true ? "" : String(value));
      }
    }
    append(el, ...children);
    return el;
  }

  function append(el, ...children) {
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  function replace(el, ...children) {
    el.replaceChildren();
    return append(el, ...children);
  }

  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

  let uid = 0;
  const nextId = (prefix) => `${prefix}-${++uid}`;

  // ------------------------------------------------------------------ session

  const session = {
    load() {
      try {
        return JSON.parse(sessionStorage.getItem(SESSION_KEY)) || null;
      } catch {
        return null;
      }
    },
    save(value) {
      sessionStorage.setItem(SESSION_KEY, JSON.stringify(value));
    },
    clear() {
      sessionStorage.removeItem(SESSION_KEY);
    },
  };

  // ------------------------------------------------------------------ API client

  /** fetch itself failed: the server is down or the network is. */
  class NetworkError extends Error {}

  class ApiError extends Error {
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

  function describeError(err) {
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

  async function api(method, path, options = {}) {
    const current = state.session;
    const headers = { Accept: "application/json" };
    if (current && current.token) headers["X-Auth-Token"] = current.token;
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
    let response;
    try {
      response = await fetch(url, { method, headers, body });
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
      session.clear();
      state.session = null;
      state.signInNotice = "Your session has ended; sign in again.";
      render();
      throw new ApiError(401, payload, "unauthorized");
    }
    if (!response.ok || !payload || payload.status !== "success") {
      throw new ApiError(response.status, payload, (payload && payload.message) || response.statusText);
    }
    return payload;
  }

  const accountPath = (suffix = "") => `/accounts/${state.session.accountId}${suffix}`;

  // ------------------------------------------------------------------ messages

  let toastTimer;
  function toast(message) {
    const el = $("#toast");
    replace(el, message);
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { el.hidden = true; }, 6000);
  }

  function showError(err, context) {
    const el = $("#error");
    const text = context ? `${context}: ${describeError(err)}` : describeError(err);
    replace(el, h("span", {}, text), " ",
      h("button", { type: "button", class: "link", onclick: () => { el.hidden = true; } }, "Dismiss"));
    el.hidden = false;
    // eslint-disable-next-line no-console
    console.error(context || "error", err);
  }

  function clearError() {
    $("#error").hidden = true;
  }

  /** Run an action, reporting failure instead of swallowing it; returns undefined on error. */
  async function attempt(context, action) {
    try {
      return await action();
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) showError(err, context);
      return undefined;
    }
  }

  // ------------------------------------------------------------------ shared state

  const state = {
    session: session.load(),
    catalogue: null, // GET /v2/webhooks, cached per tab
    samples: new Map(),
    highlight: null, // id of the row to flash after a save
    signInNotice: null,
  };

  async function catalogue() {
    if (!state.catalogue) {
      const reply = await api("GET", "/webhooks");
      const events = reply.data.slice().sort((a, b) => String(a.name).localeCompare(String(b.name)));
      events.push({ id: "all", name: "All events", description: "Every event of every type, now and in the future" });
      state.catalogue = events;
    }
    return state.catalogue;
  }

  function eventName(id) {
    const found = (state.catalogue || []).find((e) => e.id === id);
    return found ? found.name : id;
  }

  /** The names the hook modules use as modifiers (stored inside custom_data by Kazoo). */
  function modifierNames(events) {
    const names = new Set();
    for (const event of events) for (const name of Object.keys(event.modifiers || {})) names.add(name);
    return names;
  }

  async function listHooks() {
    const reply = await api("GET", accountPath("/webhooks"), { query: { paginate: "false" } });
    return reply.data;
  }

  function hookState(hook) {
    if (hook.enabled !== false) return "active";
    return hook.disable_reason ? "failing" : "disabled";
  }

  // ------------------------------------------------------------------ time

  const toGregorian = (ms) => Math.floor(ms / 1000) + GREGORIAN_OFFSET;
  const fromGregorian = (seconds) => new Date((seconds - GREGORIAN_OFFSET) * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  const isoDay = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const clock = (d) => `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;

  function parseDay(value, endOfDay) {
    const [y, m, d] = value.split("-").map(Number);
    if (!y || !m || !d) return null;
    return endOfDay ? new Date(y, m - 1, d, 23, 59, 59) : new Date(y, m - 1, d, 0, 0, 0);
  }

  // ------------------------------------------------------------------ router

  const routes = [
    [/^#?\/?$/, () => listView()],
    [/^#\/hooks\/?$/, () => listView()],
    [/^#\/hooks\/new$/, () => formView(null)],
    [/^#\/hooks\/([0-9a-zA-Z_-]+)\/log$/, (m) => logView(m[1])],
    [/^#\/hooks\/([0-9a-zA-Z_-]+)$/, (m) => formView(m[1])],
    [/^#\/log$/, () => logView(null)],
    [/^#\/samples(?:\/([a-z0-9_]+))?$/, (m) => samplesView(m[1] || null)],
  ];

  function go(hash) {
    if (location.hash === hash) render();
    else location.hash = hash;
  }

  let renderSeq = 0;
  async function render() {
    const seq = ++renderSeq;
    const main = $("#main");
    if (!state.session) {
      $("#top").hidden = true;
      signInView(main);
      return;
    }
    renderTop();
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

  // ------------------------------------------------------------------ sign in and header

  function signInView(main) {
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
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      status.hidden = true;
      const key = form.elements.api_key.value.trim();
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
        const message = err instanceof ApiError && err.status === 401
          ? "That API key was not accepted." : describeError(err);
        replace(status, message);
        status.hidden = false;
      }
    });
    $("#main").replaceChildren(form);
    form.elements.api_key.focus();
  }

  async function loadAccounts() {
    const s = state.session;
    const reply = await attempt("Listing sub-accounts",
      () => api("GET", `/accounts/${s.rootId}/descendants`, { query: { paginate: "false" } }));
    s.accounts = [{ id: s.rootId, name: s.rootName }].concat(
      ((reply && reply.data) || []).map((a) => ({ id: a.id, name: a.name || a.id })));
    session.save(s);
  }

  function renderTop() {
    const s = state.session;
    const top = $("#top");
    top.hidden = false;
    const hash = location.hash || "#/hooks";
    const link = (href, text, active) => h("a", { href, "aria-current": active ? "page" : false }, text);
    const pickerId = nextId("account");
    const picker = s.accounts.length > 1
      ? h("div", { class: "account-picker" },
        h("label", { for: pickerId }, "Account"),
        h("select", {
          id: pickerId,
          onchange: (event) => {
            const chosen = s.accounts.find((a) => a.id === event.target.value);
            s.accountId = chosen.id;
            s.accountName = chosen.name;
            session.save(s);
            clearError();
            go("#/hooks");
          },
        }, s.accounts.map((a) => h("option", { value: a.id, selected: a.id === s.accountId },
          a.id === s.rootId ? `${a.name} (you)` : a.name))))
      : h("span", { class: "account-name" }, s.accountName);
    replace(top,
      h("a", { class: "brand", href: "#/hooks" }, "webhooksd"),
      h("nav", { "aria-label": "Main" },
        link("#/hooks", "Webhooks", /^#\/hooks/.test(hash) || hash === "#/"),
        link("#/log", "Request log", hash === "#/log"),
        link("#/samples", "Sample payloads", hash.startsWith("#/samples"))),
      picker,
      h("button", {
        type: "button",
        class: "link",
        onclick: () => { session.clear(); state.session = null; state.catalogue = null; location.hash = ""; render(); },
      }, "Sign out"));
  }

  // ------------------------------------------------------------------ list

  async function listView() {
    const [hooks] = await Promise.all([listHooks(), catalogue()]);
    const counts = { active: 0, disabled: 0, failing: 0 };
    for (const hook of hooks) counts[hookState(hook)] += 1;

    const searchId = nextId("search");
    const filterId = nextId("filter");
    const search = h("input", { id: searchId, type: "search", placeholder: "Name or URL", "data-autofocus": true,
      autocomplete: "off" });
    const filter = h("select", { id: filterId },
      h("option", { value: "all" }, "All webhooks"),
      h("option", { value: "active" }, "Active"),
      h("option", { value: "disabled" }, "Disabled"),
      h("option", { value: "failing" }, "Disabled by the server"));
    const grid = h("div", { class: "groups" });
    const nothing = h("p", { class: "empty", hidden: true }, "No webhook matches your search.");

    const counter = (kind, label) => h("button", {
      type: "button", class: `counter counter-${kind}`, "data-count": kind,
      onclick: () => { filter.value = kind; applyFilter(); },
    }, h("span", { class: "count" }, String(counts[kind])), h("span", {}, label));

    const reenableAll = h("button", {
      type: "button", disabled: counts.failing === 0,
      title: "Only hooks the server disabled are re-enabled; hooks switched off by hand stay off.",
      onclick: async () => {
        const done = await attempt("Re-enabling failing webhooks",
          () => api("PATCH", accountPath("/webhooks"), { data: { "re-enable": true } }));
        if (done) { toast("Failing webhooks were re-enabled."); render(); }
      },
    }, "Re-enable all failing webhooks");

    const header = h("div", { class: "page-head" },
      h("h1", {}, "Webhooks"),
      h("a", { class: "button primary", href: "#/hooks/new" }, "+ New webhook"));

    if (!hooks.length) {
      return h("section", {}, header, emptyState());
    }

    const rows = [];
    for (const [group, members] of groupHooks(hooks)) {
      const list = h("ul", { class: "hook-list" });
      const box = h("section", { class: "group", "aria-label": group ? `Group ${group}` : "Not grouped" },
        h("h2", {}, group || "Not grouped"), list);
      for (const hook of members) {
        const row = hookRow(hook, counts, () => applyCounters());
        rows.push({ row, hook, box });
        list.append(row);
      }
      grid.append(box);
    }

    function applyCounters() {
      for (const kind of Object.keys(counts)) $(`[data-count=${kind}] .count`, view).textContent = String(counts[kind]);
    }

    function applyFilter() {
      const needle = search.value.trim().toLowerCase();
      const wanted = filter.value;
      let shown = 0;
      for (const { row, hook } of rows) {
        const text = `${hook.name || ""} ${hook.uri || ""}`.toLowerCase();
        const visible = (!needle || text.includes(needle)) && (wanted === "all" || hookState(hook) === wanted);
        row.hidden = !visible;
        if (visible) shown += 1;
      }
      for (const box of $$(".group", grid)) box.hidden = !$$(".hook-row", box).some((r) => !r.hidden);
      nothing.hidden = shown > 0;
    }

    search.addEventListener("input", applyFilter);
    filter.addEventListener("change", applyFilter);

    const view = h("section", {}, header,
      h("div", { class: "counters", role: "group", "aria-label": "Counters" },
        counter("active", "Active"), counter("disabled", "Disabled"), counter("failing", "Failing")),
      h("div", { class: "toolbar" },
        h("div", { class: "field-inline" }, h("label", { for: searchId }, "Search"), search),
        h("div", { class: "field-inline" }, h("label", { for: filterId }, "Show"), filter),
        reenableAll),
      grid, nothing);
    if (state.highlight) {
      const flashed = rows.find((r) => r.hook.id === state.highlight);
      if (flashed) flashed.row.classList.add("flash");
      state.highlight = null;
    }
    return view;
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

  function hookRow(hook, counts, onCounts) {
    const kind = hookState(hook);
    const row = h("li", { class: `hook-row state-${kind}`, "data-hook-id": hook.id });
    let status;
    if (kind === "failing") {
      status = h("div", { class: "server-disabled" },
        h("span", { class: "warn-icon", "aria-hidden": "true" }, "!"),
        h("span", {}, "Disabled by the server: ", h("strong", {}, hook.disable_reason)),
        h("button", {
          type: "button",
          onclick: async () => {
            const done = await attempt(`Re-enabling ${hook.name}`,
              () => api("PATCH", accountPath(`/webhooks/${hook.id}`), { data: { enabled: true } }));
            if (done) { toast(`${hook.name} was re-enabled.`); render(); }
          },
        }, "Re-enable"));
    } else {
      const toggle = h("input", {
        type: "checkbox", role: "switch", checked: kind === "active", "aria-label": `Enabled: ${hook.name}`,
      });
      toggle.addEventListener("change", async () => {
        const wanted = toggle.checked;
        toggle.disabled = true;
        const done = await attempt(`${wanted ? "Enabling" : "Disabling"} ${hook.name}`,
          () => api("PATCH", accountPath(`/webhooks/${hook.id}`), { data: { enabled: wanted } }));
        toggle.disabled = false;
        if (!done) { toggle.checked = !wanted; return; }
        hook.enabled = wanted;
        row.className = `hook-row state-${wanted ? "active" : "disabled"}`;
        counts.active += wanted ? 1 : -1;
        counts.disabled += wanted ? -1 : 1;
        switchLabel.textContent = wanted ? "On" : "Off";
        onCounts();
      });
      const switchLabel = h("span", { "aria-hidden": "true" }, kind === "active" ? "On" : "Off");
      status = h("label", { class: "switch" }, toggle, switchLabel);
    }
    append(row,
      h("div", { class: "hook-main" },
        h("span", { class: "dot", "aria-hidden": "true" }),
        h("a", { class: "hook-name", href: `#/hooks/${hook.id}` }, hook.name || "(no name)"),
        h("span", { class: "hook-event", title: hook.hook }, eventName(hook.hook))),
      h("code", { class: "hook-uri" }, hook.uri || ""),
      status,
      h("div", { class: "row-actions" },
        h("a", { class: "button small", href: `#/hooks/${hook.id}`, "aria-label": `Edit ${hook.name}` }, "Edit"),
        h("a", { class: "button small", href: `#/hooks/${hook.id}/log`, "aria-label": `Request log of ${hook.name}` }, "Log"),
        h("button", {
          type: "button", class: "small", "aria-label": `Send a test event to ${hook.name}`,
          onclick: () => sendTest(hook),
        }, "Test"),
        h("button", {
          type: "button", class: "small danger", "aria-label": `Delete ${hook.name}`,
          onclick: () => confirmDelete(hook),
        }, "Delete")));
    return row;
  }

  async function sendTest(hook, onAttempt) {
    const reply = await attempt(`Sending a test event to ${hook.name}`,
      () => api("POST", accountPath(`/webhooks/${hook.id}/test`)));
    if (!reply) return;
    const item = reply.data;
    toast(item.result === "success" ? `Test event delivered to ${hook.name}.` : `Test event to ${hook.name} failed: ${resultText(item)}.`);
    if (onAttempt) onAttempt(item);
    showAttempt(item, hook.name);
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

  // ------------------------------------------------------------------ dialog

  function openDialog(title, fill) {
    const dialog = $("#dialog");
    const opener = document.activeElement;
    const close = () => { if (dialog.open) dialog.close(); };
    const body = h("div", { class: "dialog-body" });
    replace(dialog,
      h("div", { class: "dialog-head" },
        h("h2", { id: "dialog-title" }, title),
        h("button", { type: "button", class: "link", "aria-label": "Close dialog", onclick: close }, "✕")),
      body);
    fill(body, close);
    dialog.addEventListener("close", () => { if (opener && opener.focus) opener.focus(); }, { once: true });
    dialog.showModal();
    const focus = $("[data-autofocus]", dialog);
    if (focus) focus.focus();
  }

  // ------------------------------------------------------------------ add / edit

  async function formView(hookId) {
    const [events, hooks, doc] = await Promise.all([
      catalogue(),
      listHooks(),
      hookId ? api("GET", accountPath(`/webhooks/${hookId}`)).then((r) => r.data) : Promise.resolve(null),
    ]);
    const editing = Boolean(doc);
    const current = doc || { http_verb: "post", format: "form-data", retries: 2, include_internal_legs: true, enabled: true };
    const protectedKeys = modifierNames(events);
    const groups = Array.from(new Set(hooks.map((x) => x.group).filter(Boolean))).sort((a, b) => a.localeCompare(b));

    const form = h("form", { class: "hook-form", novalidate: true });
    const summary = h("div", { class: "form-error", role: "alert", hidden: true });
    const field = (name, label, control, hint) => {
      const id = control.id || nextId(name);
      control.id = id;
      const hintEl = hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null;
      if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
      return h("div", { class: "field", "data-field": name }, h("label", { for: id }, label), control, hintEl);
    };

    // -- event and its modifiers
    const hookSelect = h("select", { name: "hook", required: true, "data-autofocus": false },
      events.map((e) => h("option", { value: e.id, selected: e.id === current.hook, title: e.description || "" }, e.name)));
    if (!editing) hookSelect.value = events.some((e) => e.id === "channel_create") ? "channel_create" : events[0].id;
    if (editing && !events.some((e) => e.id === current.hook)) {
      hookSelect.append(h("option", { value: current.hook, selected: true }, `${current.hook} (not installed)`));
    }
    const description = h("p", { class: "hint", id: nextId("event-desc"), "aria-live": "polite" });
    const modifiersBox = h("div", { class: "modifiers" });
    const samplesBox = h("details", { class: "sample" }, h("summary", {}, "What your server will receive (sample payload)"),
      h("pre", { class: "json" }, "Open to load the sample…"));

    const storedData = current.custom_data && typeof current.custom_data === "object" ? current.custom_data : {};
    function renderModifiers() {
      const event = events.find((e) => e.id === hookSelect.value) || {};
      replace(description, event.description || "");
      hookSelect.setAttribute("aria-describedby", description.id);
      modifiersBox.replaceChildren();
      for (const [name, spec] of Object.entries(event.modifiers || {})) {
        const select = h("select", { name: `modifier:${name}`, required: true, "data-modifier": name },
          h("option", { value: "" }, "Choose…"));
        const items = spec.items || [];
        const options = Array.isArray(items)
          ? items.map((item) => [item, item, ""])
          : Object.entries(items).map(([key, meta]) => [key, (meta && meta.friendly_name) || key, (meta && meta.description) || ""]);
        for (const [value, label, title] of options) {
          select.append(h("option", { value, title, selected: storedData[name] === value }, label));
        }
        modifiersBox.append(field(`custom_data.${name}`, `${name} (required)`, select, spec.description || ""));
      }
      samplesBox.open = false;
      replace($("pre", samplesBox), "Open to load the sample…");
    }
    hookSelect.addEventListener("change", renderModifiers);
    samplesBox.addEventListener("toggle", async () => {
      if (!samplesBox.open) return;
      const pre = $("pre", samplesBox);
      const sample = await attempt("Loading the sample payload", () => samplePayload(hookSelect.value));
      replace(pre, sample === undefined ? "Could not load the sample." : sample === null ? "No sample for this event." : JSON.stringify(sample, null, 2));
    });

    // -- request
    const verb = h("select", { name: "http_verb", required: true },
      ["get", "post", "put"].map((v) => h("option", { value: v, selected: (current.http_verb || "post") === v }, v.toUpperCase())));
    const format = h("select", { name: "format" },
      h("option", { value: "form-data", selected: current.format !== "json" }, "Form data (application/x-www-form-urlencoded)"),
      h("option", { value: "json", selected: current.format === "json" }, "JSON"));
    const formatField = field("format", "Body format", format);
    const syncVerb = () => { formatField.hidden = verb.value === "get"; };
    verb.addEventListener("change", syncVerb);
    const uri = h("input", { name: "uri", type: "url", required: true, value: current.uri || "", maxlength: 2048,
      placeholder: "https://example.com/hooks/call-started", spellcheck: "false", autocomplete: "url" });
    uri.addEventListener("input", () => uri.setCustomValidity(""));
    const retries = h("select", { name: "retries" },
      Array.from({ length: MAX_RETRIES + 1 }, (_, n) => h("option", { value: String(n), selected: Number(current.retries ?? 2) === n }, String(n))));

    // -- custom data (minus modifiers, minus non-strings, which the form cannot edit)
    const skipped = [];
    const editable = {};
    for (const [key, value] of Object.entries(storedData)) {
      if (protectedKeys.has(key)) continue;
      if (typeof value === "string") editable[key] = value;
      else skipped.push(key);
    }
    const customData = keyValueEditor("custom_data", "Custom data", editable, { key: "Key", value: "Value", add: "+ Add data row" });
    const skippedNotice = skipped.length
      ? h("p", { class: "notice", role: "note" },
        `Skipped ${skipped.length === 1 ? "a value" : "values"} that ${skipped.length === 1 ? "is" : "are"} not text: `,
        skipped.map((k, i) => [i ? ", " : "", h("code", {}, k), ` (${typeOfValue(storedData[k])})`]),
        ". Only text values are supported; saving removes them.")
      : null;
    const headers = keyValueEditor("custom_request_headers", "Custom request headers", current.custom_request_headers || {},
      { key: "Header", value: "Header value", add: "+ Add header" });

    // -- group
    const groupSelect = h("select", { name: "group_choice" },
      h("option", { value: "" }, "Do not group"),
      groups.length ? h("optgroup", { label: "Existing groups" }, groups.map((g) => h("option", { value: g, selected: g === current.group }, g))) : null,
      h("option", { value: "__new__" }, "+ Create a new group"));
    const newGroup = h("input", { name: "group_new", type: "text", maxlength: 128 });
    const newGroupField = field("group_new", "New group name", newGroup);
    newGroupField.hidden = true;
    groupSelect.addEventListener("change", () => {
      newGroupField.hidden = groupSelect.value !== "__new__";
      newGroup.required = !newGroupField.hidden;
      if (!newGroupField.hidden) newGroup.focus();
    });

    // -- security and shaping
    const secret = h("input", { name: "secret", type: "text", value: current.secret || "", autocomplete: "off", spellcheck: "false",
      maxlength: 512 });
    const generate = h("button", {
      type: "button", class: "small",
      onclick: () => {
        const bytes = crypto.getRandomValues(new Uint8Array(32));
        secret.value = `whsec_${btoa(String.fromCharCode(...bytes))}`;
        secret.dispatchEvent(new Event("input"));
      },
    }, "Generate");
    const textarea = (name, value, rows = 4) => h("textarea", { name, rows, spellcheck: "false" }, value);
    const filterText = textarea("filter", current.filter === undefined ? "" : JSON.stringify(current.filter, null, 2));
    const fieldsText = textarea("fields", (current.fields || []).join("\n"), 3);
    const mapEditor = keyValueEditor("map", "Rename fields", current.map || {}, { key: "From path", value: "To path", add: "+ Add rename" });
    const templateText = textarea("body_template", current.body_template || "", 5);
    const authText = textarea("auth", current.auth === undefined ? "" : JSON.stringify(current.auth, null, 2));
    const advancedUsed = ["filter", "fields", "map", "body_template", "auth"].some((k) => current[k] !== undefined);

    append(form,
      summary,
      h("fieldset", {}, h("legend", {}, "Name the webhook and choose the event that triggers it"),
        field("name", "Name", h("input", { name: "name", type: "text", required: true, value: current.name || "", maxlength: 256,
          placeholder: "New calls", "data-autofocus": true })),
        field("hook", "Event", hookSelect),
        description,
        modifiersBox,
        samplesBox,
        h("div", { class: "checks" },
          checkbox("include_subaccounts", "Include sub-accounts' events", Boolean(current.include_subaccounts)),
          checkbox("include_internal_legs", "Include internal call legs", current.include_internal_legs !== false),
          checkbox("enabled", "Enabled", current.enabled !== false))),
      h("fieldset", {}, h("legend", {}, "Where and how to send it"),
        field("uri", "URL", uri, "http:// or https:// — the address your server listens on"),
        h("div", { class: "row" },
          field("http_verb", "Method", verb),
          formatField,
          field("retries", "Retries", retries, "extra attempts after a failure (0–4)"))),
      h("fieldset", {}, h("legend", {}, "Custom data (optional)"),
        h("p", { class: "hint" }, "Added to every event sent; a key here overrides the event's own field."),
        skippedNotice, customData.element),
      h("fieldset", {}, h("legend", {}, "Custom request headers (optional)"), headers.element),
      h("fieldset", {}, h("legend", {}, "Group (optional)"),
        field("group", "Group", groupSelect), newGroupField),
      h("fieldset", {}, h("legend", {}, "Signing (optional)"),
        field("secret", "Signing secret", secret,
          "Standard Webhooks signature (webhook-signature header). At least 24 characters, or whsec_… ; " +
          "shown masked once saved — leave it as is to keep it, empty it to stop signing."),
        generate),
      h("details", { class: "advanced", open: advancedUsed },
        h("summary", {}, "Advanced: filter, fields, renames, body template, authentication"),
        field("filter", "Filter (JSON)", filterText, 'All conditions must hold, e.g. [{"field": "call_direction", "eq": "inbound"}]'),
        field("fields", "Keep only these fields (one path per line)", fieldsText),
        h("div", { class: "field", "data-field": "map" }, h("span", { class: "label" }, "Rename fields"), mapEditor.element),
        field("body_template", "Body template", templateText, "${path} placeholders, replaces the generated body (POST and PUT)"),
        field("auth", "Authentication (JSON)", authText,
          'e.g. {"type": "bearer", "token": "…"}; secrets are shown masked and kept when left unchanged')),
      h("div", { class: "form-actions" },
        h("button", { type: "submit", class: "primary" }, editing ? "Update webhook" : "Create webhook"),
        h("a", { class: "button", href: "#/hooks" }, "Cancel"),
        editing ? h("a", { class: "button", href: `#/hooks/${hookId}/log` }, "Request log") : null));

    renderModifiers();
    syncVerb();

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearFieldErrors(form, summary);
      const uriValue = uri.value.trim();
      if (uriValue && !/^https?:\/\/[^\s/]+/i.test(uriValue)) uri.setCustomValidity("Use an http:// or https:// URL.");
      const problems = [customData.check(), headers.check(), mapEditor.check()].filter(Boolean);
      const parsed = {};
      for (const [name, el] of [["filter", filterText], ["auth", authText]]) {
        if (!el.value.trim()) continue;
        try {
          parsed[name] = JSON.parse(el.value);
        } catch (err) {
          problems.push(name);
          fieldError(form, name, `Not valid JSON: ${err.message}`);
        }
      }
      if (!form.checkValidity() || problems.length) {
        form.reportValidity();
        replace(summary, "Please correct the highlighted fields.");
        summary.hidden = false;
        return;
      }
      const data = {
        name: form.elements.name.value.trim(),
        hook: hookSelect.value,
        uri: uriValue,
        http_verb: verb.value,
        retries: Number(retries.value),
        include_subaccounts: form.elements.include_subaccounts.checked,
        include_internal_legs: form.elements.include_internal_legs.checked,
        enabled: form.elements.enabled.checked,
      };
      if (verb.value !== "get") data.format = format.value;
      const custom = {};
      for (const select of $$("[data-modifier]", modifiersBox)) custom[select.dataset.modifier] = select.value;
      Object.assign(custom, customData.value());
      if (Object.keys(custom).length) data.custom_data = custom;
      const headerValues = headers.value();
      if (Object.keys(headerValues).length) data.custom_request_headers = headerValues;
      const group = groupSelect.value === "__new__" ? newGroup.value.trim() : groupSelect.value;
      if (group) data.group = group;
      if (secret.value.trim()) data.secret = secret.value.trim();
      if (parsed.filter !== undefined) data.filter = parsed.filter;
      if (parsed.auth !== undefined) data.auth = parsed.auth;
      const fields = fieldsText.value.split("\n").map((s) => s.trim()).filter(Boolean);
      if (fields.length) data.fields = fields;
      const renames = mapEditor.value();
      if (Object.keys(renames).length) data.map = renames;
      if (templateText.value) data.body_template = templateText.value;
      const button = $("button[type=submit]", form);
      button.disabled = true;
      try {
        const reply = editing
          ? await api("POST", accountPath(`/webhooks/${hookId}`), { data })
          : await api("PUT", accountPath("/webhooks"), { data });
        state.highlight = reply.data.id;
        toast(editing ? `You have successfully changed ${reply.data.name}.` : `You have successfully added ${reply.data.name}.`);
        go("#/hooks");
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) return;
        const fields = err instanceof ApiError ? err.fieldErrors : {};
        const unplaced = [];
        for (const [path, message] of Object.entries(fields)) {
          if (!fieldError(form, path, message)) unplaced.push(`${path}: ${message}`);
        }
        replace(summary, Object.keys(fields).length
          ? ["The server refused the webhook. ", unplaced.length ? unplaced.join("; ") : "See the highlighted fields."]
          : describeError(err));
        summary.hidden = false;
        summary.scrollIntoView({ block: "center" });
      } finally {
        button.disabled = false;
      }
    });

    return h("section", {},
      h("div", { class: "page-head" },
        h("h1", {}, editing ? `Edit ${current.name}` : "Create a new webhook"),
        editing && current.disable_reason && current.enabled === false
          ? h("p", { class: "notice" }, "Disabled by the server: ", h("strong", {}, current.disable_reason)) : null),
      form);
  }

  function typeOfValue(value) {
    if (value === null) return "null";
    if (Array.isArray(value)) return "a list";
    return typeof value === "object" ? "an object" : `a ${typeof value}`;
  }

  function checkbox(name, label, checked) {
    const id = nextId(name);
    return h("div", { class: "check", "data-field": name },
      h("input", { type: "checkbox", id, name, checked }), h("label", { for: id }, label));
  }

  /** Crossbar's error path ("custom_data.action", "uri") → the field that shows it. */
  function fieldError(form, path, message) {
    const candidates = [path, path.split(".")[0]];
    for (const candidate of candidates) {
      const box = form.querySelector(`[data-field="${CSS.escape(candidate)}"]`);
      if (!box) continue;
      const id = nextId("err");
      const control = box.querySelector("input, select, textarea");
      if (control) {
        control.setAttribute("aria-invalid", "true");
        const described = control.getAttribute("aria-describedby");
        control.setAttribute("aria-describedby", described ? `${described} ${id}` : id);
      }
      box.classList.add("has-error");
      box.append(h("p", { class: "field-error", id }, message));
      return true;
    }
    return false;
  }

  function clearFieldErrors(form, summary) {
    summary.hidden = true;
    for (const el of $$(".field-error", form)) el.remove();
    for (const el of $$(".has-error", form)) el.classList.remove("has-error");
    for (const el of $$("[aria-invalid]", form)) el.removeAttribute("aria-invalid");
  }

  /** Rows of key/value inputs with add, remove and a duplicate-key warning. */
  function keyValueEditor(name, label, initial, words) {
    const rows = h("div", { class: "kv-rows" });
    // not a .field-error: those are the server's and are cleared on each submit
    const warning = h("p", { class: "kv-warning", role: "alert", hidden: true });
    const element = h("div", { class: "kv", "data-field": name, role: "group", "aria-label": label }, rows, warning,
      h("button", { type: "button", class: "small", onclick: () => { const r = addRow("", ""); $("input", r).focus(); } }, words.add));

    function addRow(key, value) {
      const n = rows.children.length + 1;
      const keyInput = h("input", { type: "text", class: "kv-key", value: key, required: true, maxlength: 256,
        "aria-label": `${words.key} ${n}`, placeholder: words.key, spellcheck: "false" });
      const valueInput = h("input", { type: "text", class: "kv-value", value, "aria-label": `${words.value} ${n}`,
        placeholder: words.value, spellcheck: "false", maxlength: 1024 });
      const row = h("div", { class: "kv-row" }, keyInput, valueInput,
        h("button", {
          type: "button", class: "small", "aria-label": `Remove ${words.key.toLowerCase()} ${n}`,
          onclick: () => { row.remove(); check(); const next = $("input", rows); if (next) next.focus(); },
        }, "Remove"));
      keyInput.addEventListener("input", check);
      rows.append(row);
      return row;
    }

    /** Marks duplicate keys; returns the editor's name when something is wrong. */
    function check() {
      const seen = new Map();
      const duplicates = new Set();
      for (const input of $$(".kv-key", rows)) {
        const key = input.value.trim();
        input.removeAttribute("aria-invalid");
        if (!key) continue;
        if (seen.has(key)) { duplicates.add(key); input.setAttribute("aria-invalid", "true"); seen.get(key).setAttribute("aria-invalid", "true"); }
        else seen.set(key, input);
      }
      warning.hidden = duplicates.size === 0;
      replace(warning, duplicates.size
        ? `The same key is used twice: ${Array.from(duplicates).join(", ")}. Each key must be different.` : "");
      return duplicates.size ? name : null;
    }

    function value() {
      const out = {};
      for (const row of $$(".kv-row", rows)) {
        const key = $(".kv-key", row).value.trim();
        if (key) out[key] = $(".kv-value", row).value;
      }
      return out;
    }

    for (const [key, val] of Object.entries(initial)) addRow(key, String(val));
    return { element, check, value };
  }

  // ------------------------------------------------------------------ samples

  async function samplePayload(eventId) {
    if (state.samples.has(eventId)) return state.samples.get(eventId);
    let sample = null;
    if (eventId !== "all") {
      try {
        const reply = await api("GET", `/webhooks/samples/webhooks_${eventId}`);
        sample = Array.isArray(reply.data) ? reply.data[0] || null : reply.data;
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) throw err;
      }
    }
    state.samples.set(eventId, sample);
    return sample;
  }

  async function samplesView(selected) {
    const [events, reply] = await Promise.all([catalogue(), api("GET", "/webhooks/samples")]);
    const available = new Set((reply.data || []).map((id) => String(id).replace(/^webhooks_/, "")));
    const withSamples = events.filter((e) => available.has(e.id));
    const chosen = selected && available.has(selected) ? selected : (withSamples[0] || {}).id;
    const pickerId = nextId("sample");
    const pre = h("pre", { class: "json", tabindex: "0", "aria-label": "Sample payload" });
    const desc = h("p", { class: "hint" });
    const picker = h("select", { id: pickerId, "data-autofocus": true, onchange: () => go(`#/samples/${picker.value}`) },
      withSamples.map((e) => h("option", { value: e.id, selected: e.id === chosen }, e.name)));
    if (chosen) {
      const sample = await samplePayload(chosen);
      replace(pre, sample ? JSON.stringify(sample, null, 2) : "No sample for this event.");
      replace(desc, (events.find((e) => e.id === chosen) || {}).description || "");
    }
    return h("section", {},
      h("div", { class: "page-head" }, h("h1", {}, "Sample payloads")),
      h("p", {}, "What your server receives for each event, before your custom data is added. " +
        "Form-data and GET hooks receive the same fields flattened; JSON hooks receive this document."),
      h("div", { class: "field-inline" }, h("label", { for: pickerId }, "Event"), picker),
      desc, pre);
  }

  // ------------------------------------------------------------------ request log

  function resultText(item) {
    if (item.result === "success") return "success";
    const reason = item.reason || "failure";
    const status = item.resp_status_code || item.response_code;
    return status && reason === "bad response code" ? `${reason} (${status})` : reason;
  }

  async function logView(hookId) {
    const [hooks] = await Promise.all([listHooks(), catalogue()]);
    const names = new Map(hooks.map((x) => [x.id, x.name]));
    const hook = hookId ? await api("GET", accountPath(`/webhooks/${hookId}`)).then((r) => r.data) : null;
    const today = new Date();
    const fromId = nextId("from");
    const toId = nextId("to");
    const resultId = nextId("result");
    const from = h("input", { id: fromId, type: "date", value: isoDay(new Date(today.getTime() - 6 * DAY_MS)), required: true });
    const to = h("input", { id: toId, type: "date", value: isoDay(today), required: true });
    const only = h("select", { id: resultId },
      h("option", { value: "" }, "All results"),
      h("option", { value: "failure" }, "Failures only"),
      h("option", { value: "success" }, "Successes only"));
    const tbody = h("tbody");
    const status = h("p", { class: "muted", role: "status" });
    const more = h("button", { type: "button", hidden: true }, "Load more");
    const all = h("button", { type: "button", hidden: true }, "Load all");
    let nextKey = null;
    let shown = 0;

    const columns = ["Date", "Time", hookId ? null : "Webhook", "Event", "Sent", "Received", "Status", "Retries left", "Duration", "Actions"]
      .filter(Boolean);
    const table = h("table", { class: "log" },
      h("caption", { class: "visually-hidden" }, hook ? `Request log of ${hook.name}` : "Request log of the account"),
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))), tbody);

    function row(item) {
      const when = fromGregorian(item.timestamp);
      const failed = item.result !== "success";
      const label = names.get(item.hook_id) || item.hook_id;
      const actions = h("td", { class: "actions" },
        h("button", { type: "button", class: "small", "aria-label": `Details of the attempt at ${clock(when)}`,
          onclick: () => showAttempt(item, label) }, "Details"),
        failed && item.id ? h("button", {
          type: "button", class: "small", "aria-label": `Resend the attempt at ${clock(when)}`,
          onclick: () => resend(item, label),
        }, "Resend") : null);
      return h("tr", { class: failed ? "failed" : "ok", "data-attempt-id": item.id || "" },
        h("td", {}, isoDay(when)),
        h("td", {}, clock(when)),
        hookId ? null : h("td", {}, h("a", { href: `#/hooks/${item.hook_id}/log` }, label)),
        h("td", {}, item.hook_event || ""),
        h("td", {}, String(item.method || "").toUpperCase()),
        h("td", { class: "result" }, resultText(item)),
        h("td", {}, item.resp_status_code || item.response_code || "—"),
        h("td", {}, item.retries_left ?? "—"),
        h("td", {}, typeof item.duration_ms === "number" ? `${Math.round(item.duration_ms)} ms` : "—"),
        actions);
    }

    function prepend(item) {
      tbody.prepend(row(item));
      shown += 1;
      updateStatus();
    }

    async function resend(item, label) {
      const reply = await attempt("Resending", () => api("POST", accountPath(`/webhooks/attempts/${item.id}/replay`)));
      if (!reply) return;
      const fresh = reply.data && reply.data.result ? reply.data : null;
      toast(fresh ? `Resent: ${resultText(fresh)}.` : "Resent.");
      if (fresh) { prepend(fresh); showAttempt(fresh, label); }
    }

    function updateStatus() {
      status.textContent = shown ? `${shown} attempt${shown === 1 ? "" : "s"} shown${nextKey ? "; more are available" : ""}.`
        : hook ? "No attempt was recorded for this webhook in this period. Send a test event to see one."
          : "No attempt was recorded in this period.";
    }

    async function load(reset, everything) {
      const start = parseDay(from.value, false);
      const end = parseDay(to.value, true);
      if (!start || !end) { showError(new Error("Choose both dates."), "Request log"); return; }
      if (end < start) { showError(new Error("The end date is before the start date."), "Request log"); return; }
      if ((end - start) / DAY_MS > MAX_RANGE_DAYS) { showError(new Error(`Choose at most ${MAX_RANGE_DAYS} days.`), "Request log"); return; }
      const query = { created_from: toGregorian(start.getTime()), created_to: toGregorian(end.getTime()) };
      if (everything) query.paginate = "false";
      else query.page_size = PAGE_SIZE;
      if (!reset && nextKey) query.start_key = nextKey;
      if (only.value) query.filter_result = only.value;
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
    const filterForm = h("form", { class: "toolbar", "aria-label": "Period" },
      h("div", { class: "field-inline" }, h("label", { for: fromId }, "From"), from),
      h("div", { class: "field-inline" }, h("label", { for: toId }, "To"), to),
      h("div", { class: "field-inline" }, h("label", { for: resultId }, "Result"), only),
      h("button", { type: "submit" }, "Filter"));
    filterForm.addEventListener("submit", (event) => { event.preventDefault(); load(true, false); });

    const headerActions = [];
    if (hook) {
      headerActions.push(
        h("button", { type: "button", class: "primary", "data-autofocus": true, onclick: () => sendTest(hook, prepend) }, "Send test event"),
        h("a", { class: "button", href: `#/hooks/${hook.id}` }, "Edit"));
      if (hook.enabled === false && hook.disable_reason) {
        headerActions.push(h("button", {
          type: "button",
          onclick: async () => {
            const done = await attempt(`Re-enabling ${hook.name}`,
              () => api("PATCH", accountPath(`/webhooks/${hook.id}`), { data: { enabled: true } }));
            if (done) { toast(`${hook.name} was re-enabled.`); go("#/hooks"); }
          },
        }, "Re-enable this webhook"));
      }
    }
    await load(true, false);
    return h("section", {},
      h("p", {}, h("a", { href: "#/hooks" }, "← Back to webhooks")),
      h("div", { class: "page-head" },
        h("h1", {}, hook ? `${hook.name}'s request log` : "Request log"),
        h("div", { class: "head-actions" }, headerActions)),
      hook ? h("p", { class: "muted" }, h("code", {}, hook.uri), " · ", eventName(hook.hook)) : null,
      hook && hook.enabled === false && hook.disable_reason
        ? h("p", { class: "notice" }, "Disabled by the server: ", h("strong", {}, hook.disable_reason)) : null,
      filterForm,
      h("div", { class: "table-wrap" }, table),
      status,
      h("div", { class: "toolbar" }, more, all));
  }

  // ------------------------------------------------------------------ attempt details

  function showAttempt(item, hookLabel) {
    openDialog("Attempt details", (body, close) => {
      const when = fromGregorian(item.timestamp);
      const kv = (pairs) => h("dl", { class: "kv-list" },
        pairs.filter(([, v]) => v !== undefined && v !== null && v !== "")
          .map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
      const headerTable = (headers) => headers && Object.keys(headers).length
        ? h("table", { class: "headers" }, h("tbody", {}, Object.entries(headers).map(([k, v]) =>
          h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, String(v))))))
        : h("p", { class: "muted" }, "No headers.");
      const bodyBlock = (text, headers) => text ? h("pre", { class: "json", tabindex: "0" }, prettyBody(text, headers))
        : h("p", { class: "muted" }, "Empty body.");
      append(body,
        h("p", { class: `attempt-result ${item.result === "success" ? "ok" : "failed"}` },
          item.result === "success" ? "Delivered" : "Failed", ": ", resultText(item)),
        kv([["Webhook", hookLabel], ["Event", item.hook_event], ["Event id", item.event_id], ["When", `${isoDay(when)} ${clock(when)}`],
          ["Try", item.try], ["Retries left", item.retries_left], ["Duration", typeof item.duration_ms === "number" ? `${item.duration_ms} ms` : null]]),
        h("h3", {}, "Request"),
        kv([["Method", String(item.method || "").toUpperCase()], ["URL", h("code", {}, item.uri || "")]]),
        h("h4", {}, "Headers"), headerTable(item.req_headers),
        h("h4", {}, "Body"), bodyBlock(item.req_body, item.req_headers),
        h("h3", {}, "Response"),
        item.client_error
          ? h("p", { class: "notice" }, "No response: ", h("code", {}, item.client_error))
          : [kv([["Status", item.resp_status_code || item.response_code]]),
            h("h4", {}, "Headers"), headerTable(item.resp_headers),
            h("h4", {}, "Body"), bodyBlock(item.resp_body, item.resp_headers)],
        h("details", {}, h("summary", {}, "Raw attempt (JSON)"),
          h("pre", { class: "json" }, JSON.stringify(item, null, 2))),
        h("div", { class: "dialog-actions" }, h("button", { type: "button", onclick: close, "data-autofocus": true }, "Close")));
    });
  }

  function prettyBody(text, headers) {
    const type = String((headers && (headers["content-type"] || headers["Content-Type"])) || "");
    if (type.includes("json")) {
      try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
    }
    if (type.includes("x-www-form-urlencoded")) {
      const pairs = Array.from(new URLSearchParams(text).entries());
      return pairs.map(([k, v]) => `${k} = ${v}`).join("\n");
    }
    return text;
  }

  // ------------------------------------------------------------------ start

  window.addEventListener("hashchange", () => { clearError(); render(); });
  window.addEventListener("unhandledrejection", (event) => showError(event.reason, "Unexpected error"));
  document.addEventListener("DOMContentLoaded", render);
})();
