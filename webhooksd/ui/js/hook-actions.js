// What the list and a hook's log can both do to one hook.
import { accountPath, api } from "./api.js";
import { resultText, showAttempt } from "./attempt.js";
import { attempt, toast } from "./messages.js";

/** Fire the hook's sample event and show the attempt; `onAttempt` gets it first. */
export async function sendTest(hook, onAttempt) {
  const reply = await attempt(`Sending a test event to ${hook.name}`,
    () => api("POST", accountPath(`/webhooks/${hook.id}/test`)));
  if (!reply) return;
  const item = reply.data;
  const ok = item.result === "success";
  toast(ok ? `Test event delivered to ${hook.name}.` : `Test event to ${hook.name} failed: ${resultText(item)}.`,
    { failed: !ok });
  if (onAttempt) onAttempt(item);
  showAttempt(item, hook.name);
}

/** Switch back on a hook the server disabled; true when it was. */
export async function reenable(hook) {
  const done = await attempt(`Re-enabling ${hook.name}`,
    () => api("PATCH", accountPath(`/webhooks/${hook.id}`), { data: { enabled: true } }));
  if (done) toast(`${hook.name} was re-enabled.`);
  return Boolean(done);
}
