// One event's timeline in the dialog: every delivery of the event, grouped per webhook, oldest
// first, each marked first attempt, retry, replay or test, with its time, status, the cause
// of a failure in plain words and its duration.
import { accountPath, api } from "./api.js";
import { resultText, showAttempt } from "./attempt.js";
import { eventName } from "./catalogue.js";
import { openDialog } from "./dialog.js";
import { append, h } from "./dom.js";
import { attempt } from "./messages.js";
import { clock, fromGregorian, isoDay } from "./time.js";

/** "First attempt", "Retry (attempt 3)", "Replay", "Test event". */
export function kindText(item) {
  switch (item.kind) {
    case "retry": return `Retry (attempt ${item.try})`;
    case "replay": return "Replay";
    case "test": return "Test event";
    default: return "First attempt";
  }
}

const duration = (item) => typeof item.duration_ms === "number" ? `${Math.round(item.duration_ms)} ms` : "—";

function entry(item, label) {
  const when = fromGregorian(item.timestamp);
  const failed = item.result !== "success";
  return h("li", { class: `timeline-entry ${failed ? "failed" : "ok"}`, "data-attempt-id": item.id, "data-kind": item.kind },
    h("span", { class: "timeline-kind" }, kindText(item)),
    h("time", { datetime: when.toISOString() }, `${isoDay(when)} ${clock(when)}`),
    h("span", { class: "timeline-status" }, item.resp_status_code ? `HTTP ${item.resp_status_code}` : "No response"),
    h("span", { class: "timeline-result" }, resultText(item)),
    h("span", { class: "timeline-duration" }, duration(item)),
    h("button", { type: "button", class: "small", onclick: () => showAttempt(item, label),
      "aria-label": `Details of the ${kindText(item).toLowerCase()} at ${clock(when)}` }, "Details"));
}

function hookGroup(group) {
  const label = group.deleted ? `Deleted webhook ${group.hook_id}` : group.name || group.hook_id;
  return h("section", { class: "timeline-hook", "data-hook-id": group.hook_id },
    h("h3", {}, label, " ", h("span", { class: "hook-event" }, eventName(group.hook_event) || group.hook_event || "")),
    h("ol", { class: "timeline" }, group.attempts.map((item) => entry(item, label))));
}

function summary(data) {
  const count = `${data.attempts} deliver${data.attempts === 1 ? "y" : "ies"} to ${data.hooks.length} webhook${data.hooks.length === 1 ? "" : "s"}`;
  return h("p", { class: "muted" }, "Event ", h("code", {}, data.event_id),
    data.call_id ? [" of call ", h("code", {}, data.call_id)] : null, `: ${count}`,
    data.truncated ? " (only the first ones are shown)" : "", ".");
}

/** Fetch the event's timeline and open it in the dialog. */
export async function showTimeline(eventId) {
  const path = accountPath(`/webhooks/events/${encodeURIComponent(eventId)}/timeline`);
  const reply = await attempt("Loading the event's timeline", () => api("GET", path));
  if (!reply) return;
  const data = reply.data;
  openDialog("Event timeline", (body, close) => {
    append(body, summary(data),
      data.hooks.length ? data.hooks.map(hookGroup) : h("p", { class: "muted" }, "No delivery of this event was recorded."),
      h("div", { class: "dialog-actions" }, h("button", { type: "button", onclick: close, "data-autofocus": true }, "Close")));
  });
}
