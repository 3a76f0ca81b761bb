// The request log's search bar: a period (days in the browser's time zone, which it names),
// call id, event id, webhook, status code and result, as the attempt listing's query.
import { h, nextId } from "./dom.js";
import { showError } from "./messages.js";
import { DAY_MS, isoDay, parseDay, toGregorian, zoneName } from "./time.js";

const MAX_RANGE_DAYS = 31; // the API refuses wider windows (Crossbar's maximum_range)
const DEFAULT_DAYS = 6; // the last week, today included
const STATUS = /^[1-5](\d\d|xx)$/i; // as the API checks it: 503, or a class such as 5xx
const MAX_ID = 128;
const MAX_CALL_ID = 256;

/** A labelled input in the bar. */
function field(label, control) {
  control.id = nextId("search");
  return h("div", { class: "field-inline" }, h("label", { for: control.id }, label), control);
}

function textInput(name, maxlength, placeholder) {
  return h("input", { type: "search", name, maxlength, placeholder, spellcheck: "false", autocomplete: "off" });
}

/** The webhook picker: every hook of the account by name (the hook's own log has none). */
function hookPicker(hooks) {
  const sorted = hooks.slice().sort((a, b) => String(a.name).localeCompare(String(b.name)));
  return h("select", { name: "hook_id" }, h("option", { value: "" }, "All webhooks"),
    sorted.map((x) => h("option", { value: x.id }, x.name || x.id)));
}

function resultPicker() {
  return h("select", { name: "result" },
    h("option", { value: "" }, "All results"),
    h("option", { value: "failure" }, "Failures only"),
    h("option", { value: "success" }, "Successes only"));
}

/** The bar; `hooks` is null on one hook's log. The submit listener is the caller's. */
export function searchForm(hooks) {
  const today = new Date();
  const controls = {
    from: h("input", { type: "date", name: "from", value: isoDay(new Date(today.getTime() - DEFAULT_DAYS * DAY_MS)), required: true }),
    to: h("input", { type: "date", name: "to", value: isoDay(today), required: true }),
    call_id: textInput("call_id", MAX_CALL_ID, "Call-ID"),
    event_id: textInput("event_id", MAX_ID, "10 hex digits"),
    hook_id: hooks ? hookPicker(hooks) : null,
    status: h("input", { type: "text", name: "status", maxlength: 3, size: 4, placeholder: "503 or 5xx", inputmode: "numeric" }),
    result: resultPicker(),
  };
  const element = h("form", { class: "toolbar search", role: "search", "aria-label": "Search the request log" },
    field("From", controls.from),
    field("To", controls.to),
    h("span", { class: "muted zone" }, `Days and times in ${zoneName(today)}`),
    field("Call id", controls.call_id),
    field("Event id", controls.event_id),
    controls.hook_id ? field("Webhook", controls.hook_id) : null,
    field("Status code", controls.status),
    field("Result", controls.result),
    h("button", { type: "submit" }, "Search"));
  return { element, controls };
}

const refuse = (message) => { showError(new Error(message), "Request log"); return null; };

/** The period as Crossbar's created_from/created_to, or null (and why) when it is not one. */
function periodQuery({ from, to }) {
  const start = parseDay(from.value, false);
  const end = parseDay(to.value, true);
  if (!start || !end) return refuse("Choose both dates.");
  if (end < start) return refuse("The end date is before the start date.");
  if ((end - start) / DAY_MS > MAX_RANGE_DAYS) return refuse(`Choose at most ${MAX_RANGE_DAYS} days.`);
  return { created_from: toGregorian(start.getTime()), created_to: toGregorian(end.getTime()) };
}

/** The listing's query for the bar, or null (and why, in the error banner) when a value
 * cannot be searched for; the server checks every value again. */
export function searchQuery({ controls }) {
  const query = periodQuery(controls);
  if (!query) return null;
  const status = controls.status.value.trim();
  if (status && !STATUS.test(status)) return refuse("The status code is a number from 100 to 599, or a class such as 5xx.");
  for (const name of ["call_id", "event_id"]) {
    const value = controls[name].value.trim();
    if (/\s/.test(value)) return refuse(`The ${name.replace("_", " ")} has no spaces.`);
    if (value) query[name] = value;
  }
  if (status) query.status = status;
  if (controls.hook_id && controls.hook_id.value) query.hook_id = controls.hook_id.value;
  if (controls.result.value) query.result = controls.result.value;
  return query;
}
