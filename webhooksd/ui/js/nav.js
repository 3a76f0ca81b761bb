// Navigation without importing the router (which imports every screen): screens ask for a
// render with an event that main.js answers, synchronously, as a direct call would.

export const RENDER_EVENT = "webhooksd:render";

/** Draw the current page again (after a change the page shows). */
export function rerender() {
  window.dispatchEvent(new Event(RENDER_EVENT));
}

/** Go to a page; going to the page already shown draws it again. */
export function go(hash) {
  if (location.hash === hash) rerender();
  else location.hash = hash;
}
