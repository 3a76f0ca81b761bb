// What several screens read: the event catalogue (cached per tab) and the account's hooks.
import { accountPath, api } from "./api.js";
import { state } from "./state.js";

const ALL_EVENTS = { id: "all", name: "All events", description: "Every event of every type, now and in the future" };

/** GET /v2/webhooks, sorted by name, with the "all" pseudo-event last. */
export async function catalogue() {
  if (!state.catalogue) {
    const reply = await api("GET", "/webhooks");
    const events = reply.data.slice().sort((a, b) => String(a.name).localeCompare(String(b.name)));
    events.push({ ...ALL_EVENTS });
    state.catalogue = events;
  }
  return state.catalogue;
}

export function eventName(id) {
  const found = (state.catalogue || []).find((e) => e.id === id);
  return found ? found.name : id;
}

/** The names the hook modules use as modifiers (stored inside custom_data by Kazoo). */
export function modifierNames(events) {
  const names = new Set();
  for (const event of events) for (const name of Object.keys(event.modifiers || {})) names.add(name);
  return names;
}

export async function listHooks() {
  const reply = await api("GET", accountPath("/webhooks"), { query: { paginate: "false" } });
  return reply.data;
}

export async function getHook(hookId) {
  const reply = await api("GET", accountPath(`/webhooks/${hookId}`));
  return reply.data;
}

export function hookState(hook) {
  if (hook.enabled !== false) return "active";
  return hook.disable_reason ? "failing" : "disabled";
}
