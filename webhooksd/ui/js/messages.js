// The page's two banners: errors (announced at once) and successes (announced politely).
import { describeError, isUnauthorized } from "./api.js";
import { $, h, replace } from "./dom.js";

const TOAST_MS = 6000;
let toastTimer; // one toast at a time: a newer one restarts the clock

/** A passing message; `failed` paints it red (a failed test send is news, not a success). */
export function toast(message, { failed = false } = {}) {
  const el = $("#toast");
  el.className = failed ? "banner banner-failed" : "banner banner-ok";
  replace(el, message);
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, TOAST_MS);
}

export function showError(err, context) {
  const el = $("#error");
  const text = context ? `${context}: ${describeError(err)}` : describeError(err);
  replace(el, h("span", {}, text), " ",
    h("button", { type: "button", class: "link", onclick: () => { el.hidden = true; } }, "Dismiss"));
  el.hidden = false;
  // eslint-disable-next-line no-console
  console.error(context || "error", err);
}

export function clearError() {
  $("#error").hidden = true;
}

/** Run an action, reporting failure instead of swallowing it; returns undefined on error. */
export async function attempt(context, action) {
  try {
    return await action();
  } catch (err) {
    // a refused token has already sent the tab back to the sign-in form, which says why
    if (!isUnauthorized(err)) showError(err, context);
    return undefined;
  }
}
