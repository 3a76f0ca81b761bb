// Labelled form fields and the server's validation errors beside them.
import { $$, h, nextId } from "./dom.js";

/** A label, its control and an optional hint, in a box that field errors can find by name. */
export function field(name, label, control, hint) {
  const id = control.id || nextId(name);
  control.id = id;
  const hintEl = hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field", "data-field": name }, h("label", { for: id }, label), control, hintEl);
}

export function checkbox(name, label, checked) {
  const id = nextId(name);
  return h("div", { class: "check", "data-field": name },
    h("input", { type: "checkbox", id, name, checked }), h("label", { for: id }, label));
}

export const textarea = (name, value, rows = 4) => h("textarea", { name, rows, spellcheck: "false" }, value);

/** Crossbar's error path ("custom_data.action", "uri") → the field that shows it. */
export function fieldError(form, path, message) {
  const candidates = [path, path.split(".")[0]];
  for (const candidate of candidates) {
    const box = form.querySelector(`[data-field="${CSS.escape(candidate)}"]`);
    if (!box) continue;
    const id = nextId("err");
    const control = box.querySelector("input, select, textarea");
    if (control) {
      control.setAttribute("aria-invalid", "true");
      const described = control.getAttribute("aria-describedby");
      control.setAttribute("aria-describedby", described ? `${described} ${id}` : id);
    }
    box.classList.add("has-error");
    box.append(h("p", { class: "field-error", id }, message));
    return true;
  }
  return false;
}

export function clearFieldErrors(form, summary) {
  summary.hidden = true;
  for (const el of $$(".field-error", form)) el.remove();
  for (const el of $$(".has-error", form)) el.classList.remove("has-error");
  for (const el of $$("[aria-invalid]", form)) el.removeAttribute("aria-invalid");
}
