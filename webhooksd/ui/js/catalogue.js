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

/** The catalogue's name of an event ("Channel Create"), also for the upper-case ids attempt
 * records keep for channel events (CHANNEL_CREATE), so that every screen says it one way. */
export function eventName(id) {
  const key = String(id || "").toLowerCase();
  const found = (state.catalogue || []).find((e) => e.id === key);
  return found ? found.name : id;
}

/** GET …/webhooks/health: each hook's recent deliveries, by hook id (empty if it fails). */
export async function hookHealth() {
  const reply = await api("GET", accountPath("/webhooks/health"));
  return new Map(reply.data.map((item) => [item.id, item]));
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
