// Copy buttons: the clipboard when the browser lets the page write to it, else the text in
// a selected box beside the button for Ctrl+C (no permission, or not a secure context).
import { h } from "./dom.js";
import { toast } from "./messages.js";

/** The box shown in place of the clipboard (one per button, reused). */
function fallbackBox(button, text, what) {
  let box = button.nextElementSibling;
  if (!box || !box.classList.contains("copy-fallback")) {
    box = h("textarea", { class: "copy-fallback", readonly: true, rows: Math.min(8, text.split("\n").length),
      "aria-label": `${what} (select and copy)` });
    button.after(box);
  }
  box.value = text;
  box.focus();
  box.select();
}

/** Put `text` on the clipboard, saying so; the selected box when that is refused. */
export async function copyText(button, text, what) {
  try {
    if (!navigator.clipboard) throw new Error("no clipboard");
    await navigator.clipboard.writeText(text);
    toast(`${what} copied to the clipboard.`);
  } catch {
    fallbackBox(button, text, what);
    toast(`${what}: the browser refused the clipboard; press Ctrl+C to copy the selected text.`);
  }
}

/** A small button copying `text` (or what `text()` returns when it is a function). */
export function copyButton(label, what, text, attrs = {}) {
  const button = h("button", {
    type: "button", class: "small copy", ...attrs,
    onclick: () => copyText(button, typeof text === "function" ? text() : text, what),
  }, label);
  return button;
}
