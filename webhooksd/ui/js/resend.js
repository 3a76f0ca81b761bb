// "Resend failed…": the failed events of one hook or of the account's enabled hooks between
// two times, counted first (a dry run), then resent once each (POST …/replay).
import { accountPath, api } from "./api.js";
import { openDialog } from "./dialog.js";
import { append, h, nextId } from "./dom.js";
import { attempt, toast } from "./messages.js";
import { DAY_MS, isoDay, toGregorian, zoneName } from "./time.js";

const MAX_RANGE_S = 2682000; // the API's widest window (Crossbar's maximum_range)
const pad = (n) => String(n).padStart(2, "0");
/** A Date as <input type="datetime-local"> shows it (local time, to the second). */
const localValue = (d) => `${isoDay(d)}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;

function timeField(label, value) {
  const id = nextId("when");
  const input = h("input", { id, type: "datetime-local", step: "1", value: localValue(value), required: true });
  return { input, element: h("div", { class: "field-inline" }, h("label", { for: id }, `${label} (${zoneName(value)})`), input) };
}

/** The window as created_from/created_to, or the reason it is not one. */
export function windowQuery(fromValue, toValue) {
  const start = new Date(fromValue);
  const end = new Date(toValue);
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime())) return { error: "Choose both times." };
  if (end < start) return { error: "The end is before the start." };
  const from = toGregorian(start.getTime());
  const to = toGregorian(end.getTime());
  if (to - from > MAX_RANGE_S) return { error: "Choose at most 31 days." };
  return { window: { created_from: from, created_to: to } };
}

function countText(data, names) {
  if (!data.count) return "No failed event to resend in this period.";
  const per = Object.entries(data.hooks).map(([id, n]) => `${names.get(id) || id}: ${n}`).join(", ");
  const events = `${data.count} failed event${data.count === 1 ? "" : "s"}`;
  const more = data.truncated ? ` Only the oldest ${data.limit} of ${data.total} go at once; resend again for the rest.` : "";
  return `${events} would be resent (${per}).${more}`;
}

const doneText = (data) => `Resent ${data.sent} event${data.sent === 1 ? "" : "s"}: ${data.succeeded} delivered, ${data.failed} failed.`;

/** Open the dialog for `hook` (or the account when null); `names` maps hook ids to names;
 * `onDone()` runs after a resend. */
export function openResend(hook, names, onDone) {
  const path = accountPath(hook ? `/webhooks/${hook.id}/replay` : "/webhooks/replay");
  const now = new Date();
  const from = timeField("From", new Date(now.getTime() - DAY_MS));
  const to = timeField("To", now);
  const result = h("p", { class: "resend-result", role: "status" });
  const resendButton = h("button", { type: "button", class: "primary", hidden: true }, "Resend");
  const post = (dryRun) => {
    const chosen = windowQuery(from.input.value, to.input.value);
    if (chosen.error) { result.textContent = chosen.error; return null; }
    return attempt(dryRun ? "Counting failed events" : "Resending failed events",
      () => api("POST", path, { data: { ...chosen.window, dry_run: dryRun } }));
  };
  const stale = () => { resendButton.hidden = true; result.textContent = ""; };
  from.input.addEventListener("input", stale);
  to.input.addEventListener("input", stale);
  async function count() {
    const reply = await post(true);
    if (!reply) return;
    result.textContent = countText(reply.data, names);
    resendButton.textContent = `Resend ${reply.data.count} event${reply.data.count === 1 ? "" : "s"}`;
    resendButton.hidden = reply.data.count === 0;
  }
  async function resend() {
    resendButton.disabled = true;
    const reply = await post(false);
    resendButton.disabled = false;
    if (!reply) return;
    resendButton.hidden = true;
    result.textContent = doneText(reply.data);
    toast(doneText(reply.data), { failed: reply.data.failed > 0 });
    if (onDone) onDone();
  }
  resendButton.addEventListener("click", resend);
  openDialog(hook ? `Resend failed events: ${hook.name}` : "Resend failed events", (body, close) => {
    append(body,
      h("p", {}, hook ? "Each event that failed in this period and has not been delivered since goes again, once."
        : "Each event that failed in this period for an enabled webhook of this account, and has not been delivered since, goes again, once."),
      h("div", { class: "toolbar" }, from.element, to.element),
      result,
      h("div", { class: "dialog-actions" },
        h("button", { type: "button", onclick: close }, "Close"),
        h("button", { type: "button", onclick: count, "data-autofocus": true }, "Count"),
        resendButton));
  });
}
