// Rows of key/value inputs (custom data, request headers, renames) with add, remove and a
// duplicate-key warning.
import { $, $$, h, replace } from "./dom.js";

/** `words` names the parts: { key, value, add } ("Header", "Header value", "+ Add header"). */
export function keyValueEditor(name, label, initial, words) {
  const rows = h("div", { class: "kv-rows" });
  // not a .field-error: those are the server's and are cleared on each submit
  const warning = h("p", { class: "kv-warning", role: "alert", hidden: true });
  const check = () => markDuplicates(rows, warning, name);
  const addRow = (key, value) => {
    const row = kvRow(rows, words, check, key, value);
    rows.append(row);
    return row;
  };
  const element = h("div", { class: "kv", "data-field": name, role: "group", "aria-label": label }, rows, warning,
    h("button", { type: "button", class: "small", onclick: () => { const r = addRow("", ""); $("input", r).focus(); } }, words.add));
  for (const [key, val] of Object.entries(initial)) addRow(key, String(val));
  return { element, check, value: () => rowValues(rows) };
}

function kvRow(rows, words, check, key, value) {
  const n = rows.children.length + 1;
  const keyInput = h("input", { type: "text", class: "kv-key", value: key, required: true, maxlength: 256,
    "aria-label": `${words.key} ${n}`, placeholder: words.key, spellcheck: "false" });
  const valueInput = h("input", { type: "text", class: "kv-value", value, "aria-label": `${words.value} ${n}`,
    placeholder: words.value, spellcheck: "false", maxlength: 1024 });
  const row = h("div", { class: "kv-row" }, keyInput, valueInput,
    h("button", {
      type: "button", class: "small", "aria-label": `Remove ${words.key.toLowerCase()} ${n}`,
      onclick: () => { row.remove(); check(); const next = $("input", rows); if (next) next.focus(); },
    }, "Remove"));
  keyInput.addEventListener("input", check);
  return row;
}

/** Marks duplicate keys; returns the editor's name when something is wrong. */
function markDuplicates(rows, warning, name) {
  const seen = new Map();
  const duplicates = new Set();
  for (const input of $$(".kv-key", rows)) {
    const key = input.value.trim();
    input.removeAttribute("aria-invalid");
    if (!key) continue;
    if (seen.has(key)) { duplicates.add(key); input.setAttribute("aria-invalid", "true"); seen.get(key).setAttribute("aria-invalid", "true"); }
    else seen.set(key, input);
  }
  warning.hidden = duplicates.size === 0;
  replace(warning, duplicates.size
    ? `The same key is used twice: ${Array.from(duplicates).join(", ")}. Each key must be different.` : "");
  return duplicates.size ? name : null;
}

/** The rows as an object; rows without a key are left out. */
function rowValues(rows) {
  const out = {};
  for (const row of $$(".kv-row", rows)) {
    const key = $(".kv-key", row).value.trim();
    if (key) out[key] = $(".kv-value", row).value;
  }
  return out;
}
