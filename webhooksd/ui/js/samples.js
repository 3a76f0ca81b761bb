// Sample payloads: what a receiver gets for each event, on its own page and in the form.
import { ApiError, api } from "./api.js";
import { catalogue } from "./catalogue.js";
import { h, nextId, replace } from "./dom.js";
import { go } from "./nav.js";
import { state } from "./state.js";

/** The event's sample, or null when it has none (cached per tab either way). */
export async function samplePayload(eventId) {
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

export async function samplesView(selected) {
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
