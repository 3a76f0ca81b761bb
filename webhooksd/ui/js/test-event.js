// The test event editor: the hook type's sample (or a minimal payload) as JSON to edit,
// checked in the browser before it goes to POST …/webhooks/{id}/test as data.payload.
import { ApiError, accountPath, api } from "./api.js";
import { openDialog } from "./dialog.js";
import { append, h, nextId } from "./dom.js";
import { eventName } from "./catalogue.js";
import { attempt, showError } from "./messages.js";
import { samplePayload } from "./samples.js";
import { state } from "./state.js";
import { toGregorian } from "./time.js";

/** What the server sends when no payload is given: the sample (channel_create's for "all")
 * with the account's id, or the minimal payload of a type without samples. */
async function startingPayload(hook) {
  const accountId = state.session.accountId;
  const sample = await samplePayload(hook.hook === "all" ? "channel_create" : hook.hook);
  if (sample) return { ...sample, account_id: accountId };
  return { hook_event: hook.hook, account_id: accountId, timestamp: toGregorian(Date.now()), test: true };
}

/** The payload in `text`, or the reason it is not one (a JSON object). */
export function parsePayload(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { error: `Not valid JSON: ${err.message}` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { error: "The payload must be a JSON object ({…})." };
  }
  return { payload: value };
}

function editor(start) {
  const id = nextId("payload");
  const box = h("textarea", { id, rows: 18, spellcheck: "false", "aria-describedby": `${id}-error`, "data-autofocus": true },
    JSON.stringify(start, null, 2));
  const error = h("p", { class: "field-error", id: `${id}-error`, role: "alert" });
  const check = () => {
    const parsed = parsePayload(box.value);
    error.textContent = parsed.error || "";
    box.toggleAttribute("aria-invalid", Boolean(parsed.error));
    return parsed.payload;
  };
  box.addEventListener("input", check);
  return { id, box, error, check };
}

/** Send `payload`; field errors of the server go beside the editor, others to the banner. */
async function send(hook, payload, error) {
  try {
    return (await api("POST", accountPath(`/webhooks/${hook.id}/test`), { data: { payload } })).data;
  } catch (err) {
    const said = err instanceof ApiError ? err.fieldErrors : {};
    const mine = said.payload || said.data;
    if (mine) error.textContent = `The server refused the payload: ${mine}`;
    else showError(err, `Sending a test event to ${hook.name}`);
    return null;
  }
}

/** Open the editor; `onSent(attempt)` gets the recorded attempt once the event went. */
export async function openTestEditor(hook, onSent) {
  const start = await attempt("Loading the sample payload", () => startingPayload(hook));
  if (!start) return;
  openDialog(`Test event: ${hook.name}`, (body, close) => {
    const edit = editor(start);
    const sendButton = h("button", { type: "submit", class: "primary" }, "Send this event");
    const form = h("form", { class: "test-event" },
      h("p", { class: "hint" }, `Starts from the sample of ${eventName(hook.hook) || hook.hook}; `,
        "the hook's custom data is added when it is sent, as for real events."),
      h("div", { class: "field" }, h("label", { for: edit.id }, "Payload (JSON)"), edit.box, edit.error),
      h("div", { class: "dialog-actions" },
        h("button", { type: "button", onclick: () => { edit.box.value = JSON.stringify(start, null, 2); edit.check(); } },
          "Reset to the sample"),
        h("button", { type: "button", onclick: close }, "Cancel"),
        sendButton));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const payload = edit.check();
      if (!payload) { edit.box.focus(); return; }
      sendButton.disabled = true;
      const item = await send(hook, payload, edit.error);
      sendButton.disabled = false;
      if (!item) return;
      close();
      onSent(item);
    });
    append(body, form);
  });
}
