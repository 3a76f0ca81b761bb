// The page's one modal <dialog>; focus goes back to whatever opened it.
import { $, h, replace } from "./dom.js";

/** Open the dialog titled `title`; `fill(body, close)` puts the content in. */
export function openDialog(title, fill) {
  const dialog = $("#dialog");
  const opener = document.activeElement;
  const close = () => { if (dialog.open) dialog.close(); };
  const body = h("div", { class: "dialog-body" });
  replace(dialog,
    h("div", { class: "dialog-head" },
      h("h2", { id: "dialog-title" }, title),
      h("button", { type: "button", class: "link", "aria-label": "Close dialog", onclick: close }, "✕")),
    body);
  fill(body, close);
  dialog.addEventListener("close", () => { if (opener && opener.focus) opener.focus(); }, { once: true });
  dialog.showModal();
  // the focus goes to the action (often at the bottom) but the reader starts at the top
  const focus = $("[data-autofocus]", dialog);
  if (focus) focus.focus({ preventScroll: true });
  dialog.scrollTop = 0;
}
