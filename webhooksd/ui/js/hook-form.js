// Adding and editing a hook: one fieldset per concern, then a submit that checks what the
// browser can, sends the document, and puts the server's refusals beside their fields.
import { ApiError, accountPath, api, describeError, isUnauthorized } from "./api.js";
import { catalogue, getHook, listHooks, modifierNames } from "./catalogue.js";
import { $, $$, append, h, nextId, replace } from "./dom.js";
import { checkbox, clearFieldErrors, field, fieldError, textarea } from "./form-fields.js";
import { keyValueEditor } from "./kv-editor.js";
import { attempt, toast } from "./messages.js";
import { go } from "./nav.js";
import { samplePayload } from "./samples.js";
import { state } from "./state.js";

const MAX_RETRIES = 4;
const NEW_HOOK = { http_verb: "post", format: "form-data", retries: 2, include_internal_legs: true, enabled: true };
const NEW_GROUP = "__new__"; // the group picker's "+ Create a new group"

export async function formView(hookId) {
  const [events, hooks, doc] = await Promise.all([
    catalogue(),
    listHooks(),
    hookId ? getHook(hookId) : Promise.resolve(null),
  ]);
  const editing = Boolean(doc);
  const current = doc || { ...NEW_HOOK };
  const storedData = current.custom_data && typeof current.custom_data === "object" ? current.custom_data : {};
  const parts = {
    event: eventPart(events, current, editing, storedData),
    request: requestPart(current),
    customData: customDataPart(storedData, modifierNames(events)),
    headers: keyValueEditor("custom_request_headers", "Custom request headers", current.custom_request_headers || {},
      { key: "Header", value: "Header value", add: "+ Add header" }),
    group: groupPart(hooks, current),
    secret: secretPart(current),
    version: versionPart(current),
    advanced: advancedPart(current),
  };
  const form = h("form", { class: "hook-form", novalidate: true });
  const summary = h("div", { class: "form-error", role: "alert", hidden: true });
  append(form, summary, ...fieldsets(current, parts), formActions(editing, hookId));
  // what the form says before the user touches it: an edit sends only what differs from it,
  // so fields the form does not show (or shows differently) are never rewritten or lost
  const initial = editing ? hookData(form, parts, parseQuietly(parts.advanced)) : null;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(form, summary, parts, editing ? { hookId, initial } : null);
  });
  return h("section", {},
    h("div", { class: "page-head" },
      h("h1", {}, editing ? `Edit ${current.name}` : "Create a new webhook"),
      editing && current.disable_reason && current.enabled === false
        ? h("p", { class: "notice" }, "Disabled by the server: ", h("strong", {}, current.disable_reason)) : null),
    form);
}

function fieldsets(current, { event, request, customData, headers, group, secret, version, advanced }) {
  return [
    h("fieldset", {}, h("legend", {}, "Name the webhook and choose the event that triggers it"),
      field("name", "Name", h("input", { name: "name", type: "text", required: true, value: current.name || "",
        placeholder: "New calls", "data-autofocus": true })),
      event.elements,
      h("div", { class: "checks" },
        checkbox("include_subaccounts", "Include sub-accounts' events", Boolean(current.include_subaccounts)),
        checkbox("include_internal_legs", "Include internal call legs", current.include_internal_legs !== false),
        checkbox("enabled", "Enabled", current.enabled !== false))),
    h("fieldset", {}, h("legend", {}, "Where and how to send it"), request.elements),
    h("fieldset", {}, h("legend", {}, "Custom data (optional)"),
      h("p", { class: "hint" }, "Added to every event sent; a key here overrides the event's own field."),
      customData.elements),
    h("fieldset", {}, h("legend", {}, "Custom request headers (optional)"), headers.element),
    h("fieldset", {}, h("legend", {}, "Group (optional)"), group.elements),
    h("fieldset", {}, h("legend", {}, "Signing (optional)"), secret.elements),
    h("fieldset", {}, h("legend", {}, "Payload version (Kazoo 5)"), version.elements),
    advanced.element,
  ];
}

function formActions(editing, hookId) {
  return h("div", { class: "form-actions" },
    h("button", { type: "submit", class: "primary" }, editing ? "Update webhook" : "Create webhook"),
    h("a", { class: "button", href: "#/hooks" }, "Cancel"),
    editing ? h("a", { class: "button", href: `#/hooks/${hookId}/log` }, "Request log") : null);
}

// ------------------------------------------------------------------ the event and its modifiers

function eventPart(events, current, editing, storedData) {
  const select = h("select", { name: "hook", required: true, "data-autofocus": false },
    events.map((e) => h("option", { value: e.id, selected: e.id === current.hook, title: e.description || "" }, e.name)));
  if (!editing) select.value = events.some((e) => e.id === "channel_create") ? "channel_create" : events[0].id;
  if (editing && !events.some((e) => e.id === current.hook)) {
    select.append(h("option", { value: current.hook, selected: true }, `${current.hook} (not installed)`));
  }
  const description = h("p", { class: "hint", id: nextId("event-desc"), "aria-live": "polite" });
  const modifiersBox = h("div", { class: "modifiers" });
  const sample = sampleBox(() => select.value);
  const renderModifiers = () => {
    const event = events.find((e) => e.id === select.value) || {};
    replace(description, event.description || "");
    select.setAttribute("aria-describedby", description.id);
    replace(modifiersBox, modifierFields(event, storedData));
    sample.reset();
  };
  select.addEventListener("change", renderModifiers);
  const elements = [field("hook", "Event", select), description, modifiersBox, sample.element];
  renderModifiers();
  const modifiers = () => Object.fromEntries($$("[data-modifier]", modifiersBox).map((s) => [s.dataset.modifier, s.value]));
  return { select, elements, modifiers };
}

/** One required choice per modifier of the event, preselected from the stored custom_data. */
function modifierFields(event, storedData) {
  return Object.entries(event.modifiers || {}).map(([name, spec]) => {
    const select = h("select", { name: `modifier:${name}`, required: true, "data-modifier": name },
      h("option", { value: "" }, "Choose…"));
    const items = spec.items || [];
    const options = Array.isArray(items)
      ? items.map((item) => [item, item, ""])
      : Object.entries(items).map(([key, meta]) => [key, (meta && meta.friendly_name) || key, (meta && meta.description) || ""]);
    for (const [value, label, title] of options) {
      select.append(h("option", { value, title, selected: storedData[name] === value }, label));
    }
    return field(`custom_data.${name}`, `${name} (required)`, select, spec.description || "");
  });
}

/** The event's sample payload, fetched when the box is opened. */
function sampleBox(eventId) {
  const placeholder = "Open to load the sample…";
  const pre = h("pre", { class: "json" }, placeholder);
  const element = h("details", { class: "sample" }, h("summary", {}, "What your server will receive (sample payload)"), pre);
  element.addEventListener("toggle", async () => {
    if (!element.open) return;
    const sample = await attempt("Loading the sample payload", () => samplePayload(eventId()));
    replace(pre, sample === undefined ? "Could not load the sample." : sample === null ? "No sample for this event." : JSON.stringify(sample, null, 2));
  });
  const reset = () => { element.open = false; replace(pre, placeholder); };
  return { element, reset };
}

// ------------------------------------------------------------------ the request

function requestPart(current) {
  const verb = h("select", { name: "http_verb", required: true },
    ["get", "post", "put"].map((v) => h("option", { value: v, selected: (current.http_verb || "post") === v }, v.toUpperCase())));
  const format = h("select", { name: "format" },
    h("option", { value: "form-data", selected: current.format !== "json" }, "Form data (application/x-www-form-urlencoded)"),
    h("option", { value: "json", selected: current.format === "json" }, "JSON"));
  const formatField = field("format", "Body format", format);
  // a GET sends the fields in the query string, so it has no body format to choose
  const syncVerb = () => { formatField.hidden = verb.value === "get"; };
  verb.addEventListener("change", syncVerb);
  syncVerb();
  const uri = h("input", { name: "uri", type: "url", required: true, value: current.uri || "", maxlength: 8192,
    placeholder: "https://example.com/hooks/call-started", spellcheck: "false", autocomplete: "url" });
  uri.addEventListener("input", () => uri.setCustomValidity(""));
  const retries = h("select", { name: "retries" },
    Array.from({ length: MAX_RETRIES + 1 }, (_, n) => h("option", { value: String(n), selected: Number(current.retries ?? 2) === n }, String(n))));
  const elements = [
    field("uri", "URL", uri, "http:// or https:// — the address your server listens on"),
    h("div", { class: "row" },
      field("http_verb", "Method", verb),
      formatField,
      field("retries", "Retries", retries, "extra attempts after a failure (0–4)"))];
  return { elements, uri, verb, format, retries };
}

// ------------------------------------------------------------------ custom data, group, secret

/** Custom data minus the modifiers; non-strings, which the form cannot edit, are not shown
 * but kept (sent back as they are) unless the user ticks the box that removes them. */
function customDataPart(storedData, protectedKeys) {
  const skipped = [];
  const editable = {};
  for (const [key, value] of Object.entries(storedData)) {
    if (protectedKeys.has(key)) continue;
    if (typeof value === "string") editable[key] = value;
    else skipped.push(key);
  }
  const editor = keyValueEditor("custom_data", "Custom data", editable, { key: "Key", value: "Value", add: "+ Add data row" });
  const one = skipped.length === 1;
  const remove = checkbox("remove_non_text", "Remove these values when saving", false);
  const skippedNotice = skipped.length
    ? h("div", { class: "notice", role: "note" },
      h("p", {}, `Not shown: ${one ? "a value" : "values"} that ${one ? "is" : "are"} not text: `,
        skipped.map((k, i) => [i ? ", " : "", h("code", {}, k), ` (${typeOfValue(storedData[k])})`]),
        `. The form edits text values only; ${one ? "it is" : "they are"} kept when you save.`),
      remove)
    : null;
  const removing = () => Boolean(skipped.length) && $("input", remove).checked;
  const value = () => {
    const kept = removing() ? {} : Object.fromEntries(skipped.map((k) => [k, storedData[k]]));
    return { ...kept, ...editor.value() };
  };
  return { elements: [skippedNotice, editor.element], check: editor.check, value };
}

function typeOfValue(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/** An existing group of the account's hooks, or a new one, or none. */
function groupPart(hooks, current) {
  const groups = Array.from(new Set(hooks.map((x) => x.group).filter(Boolean))).sort((a, b) => a.localeCompare(b));
  const select = h("select", { name: "group_choice" },
    h("option", { value: "" }, "Do not group"),
    groups.length ? h("optgroup", { label: "Existing groups" }, groups.map((g) => h("option", { value: g, selected: g === current.group }, g))) : null,
    h("option", { value: NEW_GROUP }, "+ Create a new group"));
  const newGroup = h("input", { name: "group_new", type: "text", maxlength: 128 });
  const newGroupField = field("group_new", "New group name", newGroup);
  newGroupField.hidden = true;
  select.addEventListener("change", () => {
    newGroupField.hidden = select.value !== NEW_GROUP;
    newGroup.required = !newGroupField.hidden;
    if (!newGroupField.hidden) newGroup.focus();
  });
  const value = () => (select.value === NEW_GROUP ? newGroup.value.trim() : select.value);
  return { elements: [field("group", "Group", select), newGroupField], value };
}

function secretPart(current) {
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
  const elements = [
    field("secret", "Signing secret", secret,
      "Standard Webhooks signature (webhook-signature header). At least 24 characters, or whsec_… ; " +
      "shown masked once saved — leave it as is to keep it, empty it to stop signing."),
    generate];
  return { elements, value: () => secret.value.trim() };
}

/** Kazoo 5's ``version`` and ``security_settings.sha256_key``: the key is shown masked as the
 * server sends it, and an unchanged field is not sent, so the stored key is kept. Other keys
 * of ``security_settings`` (set through the API) are kept as they are. */
function versionPart(current) {
  const select = h("select", { name: "version" },
    h("option", { value: "v1" }, "v1: Kazoo's payload (default)"),
    h("option", { value: "v2" }, "v2: Kazoo 5's envelope (action, name, data, timestamp, hmac)"));
  select.value = current.version === "v2" ? "v2" : "v1";
  const settings = current.security_settings && typeof current.security_settings === "object"
    ? current.security_settings : {};
  const key = h("input", { name: "sha256_key", type: "text", autocomplete: "off", spellcheck: "false", maxlength: 512,
    value: typeof settings.sha256_key === "string" ? settings.sha256_key : "" });
  const elements = [
    field("version", "Payload version", select,
      "v2 sends the event in Kazoo 5's envelope; choose the JSON body format to let receivers check its HMAC."),
    field("security_settings.sha256_key", "HMAC key (SHA-256)", key,
      "v2 only: the hmac field is HMAC-SHA256 of timestamp + data with this key; " +
      "shown masked once saved — leave it as is to keep it, empty it to stop signing."),
  ];
  const securitySettings = () => {
    const others = Object.fromEntries(Object.entries(settings).filter(([name]) => name !== "sha256_key"));
    const value = key.value.trim();
    const merged = value ? { ...others, sha256_key: value } : others;
    return Object.keys(merged).length ? merged : undefined;
  };
  return { elements, value: () => select.value, securitySettings };
}

// ------------------------------------------------------------------ advanced: shaping and auth

const ADVANCED_KEYS = ["filter", "fields", "map", "body_template", "auth"];

function advancedPart(current) {
  const filter = textarea("filter", current.filter === undefined ? "" : JSON.stringify(current.filter, null, 2));
  const fields = textarea("fields", (current.fields || []).join("\n"), 3);
  const map = keyValueEditor("map", "Rename fields", current.map || {}, { key: "From path", value: "To path", add: "+ Add rename" });
  const template = textarea("body_template", current.body_template || "", 5);
  const auth = textarea("auth", current.auth === undefined ? "" : JSON.stringify(current.auth, null, 2));
  const element = h("details", { class: "advanced", open: ADVANCED_KEYS.some((k) => current[k] !== undefined) },
    h("summary", {}, "Advanced: filter, fields, renames, body template, authentication"),
    field("filter", "Filter (JSON)", filter, 'All conditions must hold, e.g. [{"field": "call_direction", "eq": "inbound"}]'),
    field("fields", "Keep only these fields (one path per line)", fields),
    h("div", { class: "field", "data-field": "map" }, h("span", { class: "label" }, "Rename fields"), map.element),
    field("body_template", "Body template", template, "${path} placeholders, replaces the generated body (POST and PUT)"),
    field("auth", "Authentication (JSON)", auth,
      'e.g. {"type": "bearer", "token": "…"}; secrets are shown masked and kept when left unchanged'));
  return { element, filter, fields, map, template, auth };
}

// ------------------------------------------------------------------ submit

/** The filter and auth JSON as the form holds them, without reporting (for the snapshot). */
function parseQuietly(advanced) {
  const parsed = {};
  for (const [name, el] of [["filter", advanced.filter], ["auth", advanced.auth]]) {
    if (!el.value.trim()) continue;
    try { parsed[name] = JSON.parse(el.value); } catch { /* checked on submit */ }
  }
  return parsed;
}

/** JSON with its keys sorted, so that equal documents compare equal. */
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** A PATCH of what the user changed: new values, and null for what the form cleared. */
function changes(initial, current) {
  const patch = {};
  for (const key of new Set([...Object.keys(initial), ...Object.keys(current)])) {
    if (!(key in current)) patch[key] = null;
    else if (!(key in initial) || canonical(initial[key]) !== canonical(current[key])) patch[key] = current[key];
  }
  return patch;
}

async function submit(form, summary, parts, edit) {
  clearFieldErrors(form, summary);
  const parsed = checkForm(form, parts);
  if (!parsed) {
    form.reportValidity();
    replace(summary, "Please correct the highlighted fields.");
    summary.hidden = false;
    return;
  }
  const button = $("button[type=submit]", form);
  button.disabled = true;
  try {
    const data = hookData(form, parts, parsed);
    await save(edit ? changes(edit.initial, data) : data, edit && edit.hookId);
  } catch (err) {
    if (isUnauthorized(err)) return;
    showRefusal(form, summary, err);
  } finally {
    button.disabled = false;
  }
}

/** What the browser can check; the filter and auth JSON parsed, or null when a field is wrong. */
function checkForm(form, { request, customData, headers, advanced }) {
  const uri = request.uri.value.trim();
  if (uri && !/^https?:\/\/[^\s/]+/i.test(uri)) request.uri.setCustomValidity("Use an http:// or https:// URL.");
  const problems = [customData.check(), headers.check(), advanced.map.check()].filter(Boolean);
  const parsed = {};
  for (const [name, el] of [["filter", advanced.filter], ["auth", advanced.auth]]) {
    if (!el.value.trim()) continue;
    try {
      parsed[name] = JSON.parse(el.value);
    } catch (err) {
      problems.push(name);
      fieldError(form, name, `Not valid JSON: ${err.message}`);
    }
  }
  return form.checkValidity() && !problems.length ? parsed : null;
}

/** The hook document the form describes; optional parts only when they are set. */
function hookData(form, { event, request, customData, headers, group, secret, version, advanced }, parsed) {
  const { elements } = form;
  const data = {
    name: elements.name.value.trim(),
    hook: event.select.value,
    uri: request.uri.value.trim(),
    http_verb: request.verb.value,
    retries: Number(request.retries.value),
    include_subaccounts: elements.include_subaccounts.checked,
    include_internal_legs: elements.include_internal_legs.checked,
    enabled: elements.enabled.checked,
    version: version.value(),
  };
  if (request.verb.value !== "get") data.format = request.format.value;
  const custom = { ...event.modifiers(), ...customData.value() };
  const fields = advanced.fields.value.split("\n").map((s) => s.trim()).filter(Boolean);
  const optional = {
    custom_data: Object.keys(custom).length ? custom : undefined,
    custom_request_headers: nonEmpty(headers.value()),
    group: group.value() || undefined,
    secret: secret.value() || undefined,
    security_settings: version.securitySettings(),
    filter: parsed.filter,
    auth: parsed.auth,
    fields: fields.length ? fields : undefined,
    map: nonEmpty(advanced.map.value()),
    body_template: advanced.template.value || undefined,
  };
  for (const [key, value] of Object.entries(optional)) if (value !== undefined) data[key] = value;
  return data;
}

const nonEmpty = (object) => (Object.keys(object).length ? object : undefined);

async function save(data, hookId) {
  const reply = hookId
    ? await api("PATCH", accountPath(`/webhooks/${hookId}`), { data })
    : await api("PUT", accountPath("/webhooks"), { data });
  state.highlight = reply.data.id;
  toast(hookId ? `You have successfully changed ${reply.data.name}.` : `You have successfully added ${reply.data.name}.`);
  go("#/hooks");
}

/** The server's validation errors beside their fields; the rest in the summary. */
function showRefusal(form, summary, err) {
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
}
