// What the list and a hook's log can both do to one hook.
import { accountPath, api } from "./api.js";
import { resultText, showAttempt } from "./attempt.js";
import { h } from "./dom.js";
import { attempt, toast } from "./messages.js";
import { openResend } from "./resend.js";
import { openTestEditor } from "./test-event.js";

/** Open the test event editor (the sample to edit), then show the attempt sent; `onAttempt`
 * gets it first. */
export function sendTest(hook, onAttempt) {
  return openTestEditor(hook, (item) => {
    const ok = item.result === "success";
    toast(ok ? `Test event delivered to ${hook.name}.` : `Test event to ${hook.name} failed: ${resultText(item)}.`,
      { failed: !ok });
    if (onAttempt) onAttempt(item);
    showAttempt(item, hook.name);
  });
}

/** Switch back on a hook the server disabled; true when it was. */
export async function reenable(hook) {
  const done = await attempt(`Re-enabling ${hook.name}`,
    () => api("PATCH", accountPath(`/webhooks/${hook.id}`), { data: { enabled: true } }));
  // the events that failed while it was off are one click away (the dialog counts first)
  if (done) {
    toast(h("span", {}, `${hook.name} was re-enabled. `, h("button", {
      type: "button", class: "link", onclick: () => openResend(hook, new Map([[hook.id, hook.name]])),
    }, "Resend failed events…")));
  }
  return Boolean(done);
}
